/* The metadata of a GGUF llama file written by kiln quantize: the model's
 * hyperparameters (read from the config the description actually used)
 * as llama.* keys, and its tokenizer as tokenizer.ggml.* keys. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quantize.h"

/* ---- the config as used: "name = value" lines of m->config_text ---- */

/* The value text of `name` (up to the end of its line), or NULL. */
static const char *cfg_find(const char *text, const char *name, size_t *len) {
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if ((size_t)(end - line) > n + 3 && strncmp(line, name, n) == 0 && strncmp(line + n, " = ", 3) == 0) {
            *len = (size_t)(end - line) - n - 3;
            return line + n + 3;
        }
        line = *end ? end + 1 : NULL;
    }
    return NULL;
}

static int cfg_is(const char *text, const char *name, const char *want) {
    size_t len;
    const char *v = cfg_find(text, name, &len);
    return v && len == strlen(want) && strncmp(v, want, len) == 0;
}

/* An integer entry; `none_ok` lets "none" through as -1. */
static kiln_status cfg_int(const kiln_model *m, const char *name, int none_ok, int64_t *out) {
    size_t len;
    const char *v = cfg_find(m->config_text, name, &len);
    if (v && none_ok && len == 4 && strncmp(v, "none", 4) == 0) {
        *out = -1;
        return KILN_OK;
    }
    char buf[64] = {0}, *end = NULL;
    if (v && len < sizeof buf) memcpy(buf, v, len);
    errno = 0;
    long long x = v ? strtoll(buf, &end, 10) : 0;
    if (!v || errno || !end || *end || x < 1 || x > ((int64_t)1 << 40))
        return kiln_error(KILN_ERR_FORMAT, "%s: config entry '%s' is %s, expected a positive integer", m->path, name,
                          v ? buf : "missing");
    *out = x;
    return KILN_OK;
}

static kiln_status cfg_float(const kiln_model *m, const char *name, double *out) {
    size_t len;
    const char *v = cfg_find(m->config_text, name, &len);
    char buf[64] = {0}, *end = NULL;
    if (v && len < sizeof buf) memcpy(buf, v, len);
    double x = v ? strtod(buf, &end) : NAN;
    if (!v || !end || *end || !(x > 0) || !isfinite(x))
        return kiln_error(KILN_ERR_FORMAT, "%s: config entry '%s' is %s, expected a positive number", m->path, name,
                          v ? buf : "missing");
    *out = x;
    return KILN_OK;
}

/* A token id from config.json: a number, or the first of a list. */
static int64_t json_id(const kiln_json *cfg, const char *key) {
    const kiln_json *j = kiln_json_get(cfg, key);
    if (j && j->type == KILN_JSON_ARRAY && j->count > 0) j = &j->items[0];
    return j && j->type == KILN_JSON_NUMBER && j->is_integer && j->integer >= 0 ? j->integer : -1;
}

kiln_status quant_read_hparams(const kiln_model *m, llama_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    const kiln_json *mt = kiln_json_get(m->config, "model_type");
    if (!m->config || !m->config_text || !mt || mt->type != KILN_JSON_STRING || strcmp(mt->string, "llama") != 0)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: kiln quantize writes GGUF llama files and needs a Llama model (a GGUF llama file, a "
                          "llama2.c checkpoint or a Hugging Face Llama folder)",
                          m->path);
    const char *t = m->config_text;
    if (!cfg_is(t, "hidden_act", "\"silu\"") || !cfg_is(t, "rope_type", "\"default\"") ||
        !cfg_is(t, "attention_bias", "false") || !cfg_is(t, "mlp_bias", "false"))
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: GGUF llama needs silu, default RoPE and no attention/MLP biases (see 'kiln dump %s --config')",
                          m->path, m->path);
    KILN_TRY(cfg_int(m, "vocab_size", 0, &hp->vocab));
    KILN_TRY(cfg_int(m, "hidden_size", 0, &hp->hidden));
    KILN_TRY(cfg_int(m, "intermediate_size", 0, &hp->inter));
    KILN_TRY(cfg_int(m, "num_hidden_layers", 0, &hp->layers));
    KILN_TRY(cfg_int(m, "num_attention_heads", 0, &hp->heads));
    KILN_TRY(cfg_int(m, "num_key_value_heads", 1, &hp->kv_heads));
    KILN_TRY(cfg_int(m, "head_dim", 1, &hp->head_dim));
    KILN_TRY(cfg_int(m, "max_position_embeddings", 0, &hp->ctx));
    KILN_TRY(cfg_float(m, "rms_norm_eps", &hp->eps));
    KILN_TRY(cfg_float(m, "rope_theta", &hp->theta));
    if (hp->kv_heads < 0) hp->kv_heads = hp->heads;
    if (hp->head_dim < 0) hp->head_dim = hp->hidden / hp->heads;
    if (hp->heads % hp->kv_heads || hp->head_dim % 2)
        return kiln_error(KILN_ERR_FORMAT, "%s: %lld heads, %lld kv heads, head dim %lld do not form a Llama model", m->path,
                          (long long)hp->heads, (long long)hp->kv_heads, (long long)hp->head_dim);
    hp->interleaved = cfg_is(t, "rope_interleaved", "true");
    hp->tied = cfg_is(t, "tie_word_embeddings", "true");
    hp->bos = json_id(m->config, "bos_token_id");
    hp->eos = json_id(m->config, "eos_token_id");
    const kiln_json *rs = kiln_json_get(m->config, "rope_scaling");
    if (rs && rs->type == KILN_JSON_OBJECT) {
        const kiln_json *kind = kiln_json_get(rs, "rope_type");
        if (!kind) kind = kiln_json_get(rs, "type");
        const kiln_json *factor = kiln_json_get(rs, "factor");
        if (!kind || kind->type != KILN_JSON_STRING || strcmp(kind->string, "linear") != 0 || !factor ||
            factor->type != KILN_JSON_NUMBER || !(factor->number > 0))
            return kiln_error(KILN_ERR_UNSUPPORTED, "%s: only linear RoPE scaling can be written to GGUF", m->path);
        hp->rope_linear = factor->number;
    }
    return KILN_OK;
}

/* ---- tokenizers ---- */

static kiln_status copy_gguf_tokenizer(kiln_gguf_writer *w, const char *path, int *copied) {
    kiln_gguf *g = NULL;
    KILN_TRY(kiln_gguf_open(path, &g));
    kiln_status s = KILN_OK;
    *copied = 0;
    for (int i = 0; i < kiln_gguf_kv_count(g) && !s; i++) {
        const char *key = kiln_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0) continue;
        s = kiln_gguf_writer_add_value(w, key, kiln_gguf_kv_value(g, i));
        (*copied)++;
    }
    kiln_gguf_close(g);
    return s;
}

/* llama2.c's export wrote SentencePiece pieces with U+2581 turned into
 * spaces and BOS/EOS as "\n<s>\n" / "\n</s>\n"; GGUF keeps the
 * SentencePiece spelling (what llama.cpp's converter writes, and what
 * stories260K.gguf holds). */
static char *gguf_piece(int64_t id, const char *s, size_t len, size_t *out_len) {
    if (id == 1 || id == 2) {
        const char *fixed = id == 1 ? "<s>" : "</s>";
        *out_len = strlen(fixed);
        return strdup(fixed);
    }
    char *r = malloc(3 * len + 1);
    if (!r) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(r + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            r[o++] = s[i];
        }
    }
    r[o] = 0;
    *out_len = o;
    return r;
}

static int is_byte_piece(const char *s, size_t len) {
    return len == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>';
}

/* tok<vocab>.bin: i32 max_len, then per token f32 score, i32 length, bytes. */
static kiln_status convert_llama2c_tokenizer(kiln_gguf_writer *w, const char *path, int64_t vocab) {
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot open the tokenizer", path);
    kiln_gguf_string *pieces = calloc((size_t)vocab + 1, sizeof *pieces);
    float *scores = malloc(((size_t)vocab + 1) * sizeof *scores);
    int32_t *types = malloc(((size_t)vocab + 1) * sizeof *types);
    kiln_status s = pieces && scores && types ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    int32_t max_len;
    if (!s && fread(&max_len, 4, 1, f) != 1) s = kiln_error(KILN_ERR_FORMAT, "%s: truncated header", path);
    char *buf = NULL;
    for (int64_t i = 0; i < vocab && !s; i++) {
        int32_t len;
        if (fread(&scores[i], 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1 || len < 0 || len > (1 << 16)) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %lld is truncated or malformed", path, (long long)i);
            break;
        }
        free(buf);
        buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            s = kiln_error(KILN_ERR_FORMAT, "%s: token %lld is truncated", path, (long long)i);
            break;
        }
        size_t plen;
        char *p = gguf_piece(i, buf, (size_t)len, &plen);
        if (!p) {
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            break;
        }
        pieces[i] = (kiln_gguf_string){p, plen};
        types[i] = i == 0 ? 2 : i <= 2 ? 3 : is_byte_piece(p, plen) ? 6 : 1; /* unknown, control, byte, normal */
    }
    free(buf);
    fclose(f);
    if (!s) {
        kiln_gguf_value tok = {.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_STRING, .count = (uint64_t)vocab,
                               .v.strs = pieces};
        s = kiln_gguf_writer_add_string(w, "tokenizer.ggml.model", "llama");
        if (!s) s = kiln_gguf_writer_add_value(w, "tokenizer.ggml.tokens", &tok);
        if (!s) s = kiln_gguf_writer_add_array(w, "tokenizer.ggml.scores", KILN_GGUF_FLOAT32, scores, (uint64_t)vocab);
        if (!s) s = kiln_gguf_writer_add_array(w, "tokenizer.ggml.token_type", KILN_GGUF_INT32, types, (uint64_t)vocab);
        if (!s) s = kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.unknown_token_id", 0);
        if (!s) s = kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.bos_token_id", 1);
        if (!s) s = kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.eos_token_id", 2);
    }
    for (int64_t i = 0; pieces && i < vocab; i++) free((void *)pieces[i].str);
    free(pieces);
    free(scores);
    free(types);
    return s;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Where kiln generate finds a llama2.c checkpoint's tokenizer. */
static int llama2c_tokenizer_beside(const kiln_model *m, int64_t vocab, char *out, size_t cap) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", m->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    snprintf(out, cap, "%s/tok%lld.bin", dir, (long long)vocab);
    if (is_file(out)) return 1;
    snprintf(out, cap, "%s/tokenizer.bin", dir);
    return is_file(out);
}

/* ---- all keys ---- */

kiln_status quant_write_metadata(kiln_gguf_writer *w, const kiln_model *m, const llama_hparams *hp, uint32_t file_type,
                                 int quantized, const char *tok_path, const char **tokenizer_note) {
    *tokenizer_note = NULL;
    KILN_TRY(kiln_gguf_writer_add_string(w, "general.architecture", "llama"));
    KILN_TRY(kiln_gguf_writer_add_string(w, "general.name", m->name ? m->name : "llama"));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "general.file_type", file_type));
    if (quantized) KILN_TRY(kiln_gguf_writer_add_uint32(w, "general.quantization_version", 2));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.vocab_size", (uint32_t)hp->vocab));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.context_length", (uint32_t)hp->ctx));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.embedding_length", (uint32_t)hp->hidden));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.feed_forward_length", (uint32_t)hp->inter));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.block_count", (uint32_t)hp->layers));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.attention.head_count", (uint32_t)hp->heads));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.attention.head_count_kv", (uint32_t)hp->kv_heads));
    KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.rope.dimension_count", (uint32_t)hp->head_dim));
    if (hp->head_dim * hp->heads != hp->hidden) {
        KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.attention.key_length", (uint32_t)hp->head_dim));
        KILN_TRY(kiln_gguf_writer_add_uint32(w, "llama.attention.value_length", (uint32_t)hp->head_dim));
    }
    KILN_TRY(kiln_gguf_writer_add_float32(w, "llama.attention.layer_norm_rms_epsilon", (float)hp->eps));
    KILN_TRY(kiln_gguf_writer_add_float32(w, "llama.rope.freq_base", (float)hp->theta));
    if (hp->rope_linear > 0) {
        KILN_TRY(kiln_gguf_writer_add_string(w, "llama.rope.scaling.type", "linear"));
        KILN_TRY(kiln_gguf_writer_add_float32(w, "llama.rope.scaling.factor", (float)hp->rope_linear));
    }
    const char *format = m->format ? m->format : "";
    char beside[4300];
    if (tok_path) {
        size_t n = strlen(tok_path);
        if (n > 5 && strcmp(tok_path + n - 5, ".gguf") == 0) {
            int copied;
            KILN_TRY(copy_gguf_tokenizer(w, tok_path, &copied));
            if (!copied) *tokenizer_note = "the --tokenizer GGUF file has no tokenizer keys";
            return KILN_OK;
        }
        return convert_llama2c_tokenizer(w, tok_path, hp->vocab);
    }
    if (strcmp(format, "gguf") == 0) {
        int copied;
        KILN_TRY(copy_gguf_tokenizer(w, m->path, &copied));
        if (!copied) *tokenizer_note = "the source GGUF file has no tokenizer";
        return KILN_OK;
    }
    if (strcmp(format, "llama2c") == 0 && llama2c_tokenizer_beside(m, hp->vocab, beside, sizeof beside))
        return convert_llama2c_tokenizer(w, beside, hp->vocab);
    *tokenizer_note = "no tokenizer written (give --tokenizer with a llama2.c tokenizer .bin or a GGUF file)";
    if (hp->bos >= 0) KILN_TRY(kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.bos_token_id", (uint32_t)hp->bos));
    if (hp->eos >= 0) KILN_TRY(kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.eos_token_id", (uint32_t)hp->eos));
    return KILN_OK;
}
