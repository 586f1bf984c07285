/* GGUF "llama" models as Hugging Face Llama: a config object with HF keys
 * and the weights under HF names. GGUF llama files keep q_proj/k_proj rows
 * in Meta's interleaved-pair RoPE order (llama.cpp's converter permutes HF
 * checkpoints into it), so the config says "rope_interleaved": true rather
 * than undoing the permutation here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf_llama_config.h"
#include "kiln/gguf.h"

typedef struct llama_params {
    int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim, ctx;
    double eps, theta, rope_factor; /* rope_factor 0: no scaling */
    int64_t bos, eos;               /* -1: absent */
    int tied;
} llama_params;

static kiln_status need_int(const kiln_gguf *g, const char *key, int64_t *out) {
    KILN_TRY(kiln_gguf_get_int(g, key, out));
    if (*out <= 0 || *out > ((int64_t)1 << 24))
        return kiln_error(KILN_ERR_FORMAT, "%s: key '%s' is %lld, expected 1..%d", kiln_gguf_name(g), key,
                          (long long)*out, 1 << 24);
    return KILN_OK;
}

static kiln_status opt_int(const kiln_gguf *g, const char *key, int64_t dflt, int64_t *out) {
    if (!kiln_gguf_find(g, key)) {
        *out = dflt;
        return KILN_OK;
    }
    return need_int(g, key, out);
}

static kiln_status read_params(const kiln_gguf *g, llama_params *p) {
    const char *name = kiln_gguf_name(g);
    kiln_gguf_string arch;
    KILN_TRY(kiln_gguf_get_string(g, "general.architecture", &arch));
    if (strcmp(arch.str, "llama") != 0)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: general.architecture is '%s', only 'llama' is supported", name,
                          arch.str);
    KILN_TRY(need_int(g, "llama.embedding_length", &p->hidden));
    KILN_TRY(need_int(g, "llama.feed_forward_length", &p->inter));
    KILN_TRY(need_int(g, "llama.block_count", &p->layers));
    KILN_TRY(need_int(g, "llama.attention.head_count", &p->heads));
    KILN_TRY(need_int(g, "llama.context_length", &p->ctx));
    KILN_TRY(opt_int(g, "llama.attention.head_count_kv", p->heads, &p->kv_heads));
    if (p->heads % p->kv_heads)
        return kiln_error(KILN_ERR_FORMAT, "%s: %lld attention heads is not a multiple of %lld key/value heads", name,
                          (long long)p->heads, (long long)p->kv_heads);
    int64_t dflt_head = p->hidden % p->heads ? 0 : p->hidden / p->heads;
    KILN_TRY(opt_int(g, "llama.attention.key_length", dflt_head, &p->head_dim));
    if (p->head_dim == 0)
        return kiln_error(KILN_ERR_FORMAT, "%s: embedding length %lld is not a multiple of %lld heads", name,
                          (long long)p->hidden, (long long)p->heads);
    int64_t v_len, rope_dims;
    KILN_TRY(opt_int(g, "llama.attention.value_length", p->head_dim, &v_len));
    if (v_len != p->head_dim)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: key length %lld differs from value length %lld", name,
                          (long long)p->head_dim, (long long)v_len);
    KILN_TRY(opt_int(g, "llama.rope.dimension_count", p->head_dim, &rope_dims));
    if (rope_dims != p->head_dim)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: RoPE on %lld of %lld head dimensions is not supported", name,
                          (long long)rope_dims, (long long)p->head_dim);
    if (p->head_dim % 2)
        return kiln_error(KILN_ERR_FORMAT, "%s: head dimension %lld is odd, RoPE needs pairs", name,
                          (long long)p->head_dim);
    KILN_TRY(kiln_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &p->eps));
    p->theta = 10000.0;
    if (kiln_gguf_find(g, "llama.rope.freq_base")) KILN_TRY(kiln_gguf_get_float(g, "llama.rope.freq_base", &p->theta));
    if (!(p->eps > 0 && p->eps < 1) || !(p->theta > 0 && isfinite(p->theta)))
        return kiln_error(KILN_ERR_FORMAT, "%s: implausible rms epsilon %g or rope base %g", name, p->eps, p->theta);
    p->rope_factor = 0;
    if (kiln_gguf_find(g, "llama.rope.scaling.type")) {
        kiln_gguf_string type;
        KILN_TRY(kiln_gguf_get_string(g, "llama.rope.scaling.type", &type));
        if (strcmp(type.str, "linear") == 0) {
            KILN_TRY(kiln_gguf_get_float(g, "llama.rope.scaling.factor", &p->rope_factor));
            if (!(p->rope_factor > 0 && isfinite(p->rope_factor)))
                return kiln_error(KILN_ERR_FORMAT, "%s: rope scaling factor %g", name, p->rope_factor);
        } else if (strcmp(type.str, "none") != 0) {
            return kiln_error(KILN_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported", name, type.str);
        }
    }
    if (kiln_gguf_tensor_find(g, "rope_freqs.weight"))
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: per-frequency RoPE factors (rope_freqs.weight) are not supported",
                          name);

    const kiln_gguf_tensor *embd = kiln_gguf_tensor_find(g, "token_embd.weight");
    if (!embd) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no tensor 'token_embd.weight'", name);
    if (embd->n_dims != 2 || embd->shape[0] <= 0)
        return kiln_error(KILN_ERR_SHAPE, "%s: token_embd.weight has %d dims, expected [vocab, %lld]", name,
                          embd->n_dims, (long long)p->hidden);
    p->vocab = embd->shape[0];
    int64_t v;
    KILN_TRY(opt_int(g, "llama.vocab_size", p->vocab, &v));
    if (v != p->vocab)
        return kiln_error(KILN_ERR_FORMAT, "%s: llama.vocab_size %lld but token_embd.weight has %lld rows", name,
                          (long long)v, (long long)p->vocab);
    const kiln_gguf_value *tokens = kiln_gguf_find(g, "tokenizer.ggml.tokens");
    if (tokens && tokens->type == KILN_GGUF_ARRAY && tokens->count > (uint64_t)p->vocab)
        return kiln_error(KILN_ERR_FORMAT, "%s: %llu tokenizer tokens but only %lld embedding rows", name,
                          (unsigned long long)tokens->count, (long long)p->vocab);
    p->tied = kiln_gguf_tensor_find(g, "output.weight") == NULL;
    p->bos = p->eos = -1;
    if (kiln_gguf_find(g, "tokenizer.ggml.bos_token_id"))
        KILN_TRY(kiln_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &p->bos));
    if (kiln_gguf_find(g, "tokenizer.ggml.eos_token_id"))
        KILN_TRY(kiln_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &p->eos));
    if (p->bos >= p->vocab || p->eos >= p->vocab)
        return kiln_error(KILN_ERR_FORMAT, "%s: bos/eos token id (%lld/%lld) outside the vocabulary of %lld", name,
                          (long long)p->bos, (long long)p->eos, (long long)p->vocab);
    return KILN_OK;
}

kiln_status kiln_gguf_llama_config(const kiln_gguf *g, kiln_json **out) {
    *out = NULL;
    llama_params p;
    KILN_TRY(read_params(g, &p));
    kiln_llama_config c = {
        .vocab_size = p.vocab, .hidden_size = p.hidden, .intermediate_size = p.inter,
        .num_hidden_layers = p.layers, .num_attention_heads = p.heads, .num_key_value_heads = p.kv_heads,
        .head_dim = p.head_dim, .max_position_embeddings = p.ctx, .rms_norm_eps = p.eps,
        .rms_norm_eps_is_f32 = 1, .rope_theta = p.theta, .rope_linear_factor = p.rope_factor,
        .tie_word_embeddings = p.tied, .bos_token_id = p.bos, .eos_token_id = p.eos,
    };
    return kiln_llama_config_json(&c, kiln_gguf_name(g), out);
}

/* ---- weights ---- */

typedef struct name_rule {
    const char *gguf;   /* suffix after "blk.N." */
    const char *hf;     /* suffix after "model.layers.N." */
} name_rule;

static const name_rule layer_rules[] = {
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_norm.weight", "input_layernorm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};
#define N_LAYER_RULES ((int)(sizeof layer_rules / sizeof layer_rules[0]))

/* Expected kiln shape of a layer tensor (rank 1 or 2). */
static int layer_shape(const llama_params *p, int rule, int64_t shape[2]) {
    int64_t q = p->heads * p->head_dim, kv = p->kv_heads * p->head_dim;
    switch (rule) {
    case 0: shape[0] = q, shape[1] = p->hidden; return 2;
    case 1: case 2: shape[0] = kv, shape[1] = p->hidden; return 2;
    case 3: shape[0] = p->hidden, shape[1] = q; return 2;
    case 4: case 5: shape[0] = p->hidden; return 1;
    case 6: case 7: shape[0] = p->inter, shape[1] = p->hidden; return 2;
    default: shape[0] = p->hidden, shape[1] = p->inter; return 2;
    }
}

/* HF name and expected shape for a GGUF tensor name; 0 when unknown. */
static int map_name(const llama_params *p, const char *name, char *hf, size_t cap, int64_t shape[2], int *rank,
                    int64_t *layer, int *rule) {
    *layer = -1;
    *rule = -1;
    if (strcmp(name, "token_embd.weight") == 0) {
        snprintf(hf, cap, "model.embed_tokens.weight");
        shape[0] = p->vocab, shape[1] = p->hidden, *rank = 2;
        return 1;
    }
    if (strcmp(name, "output_norm.weight") == 0) {
        snprintf(hf, cap, "model.norm.weight");
        shape[0] = p->hidden, *rank = 1;
        return 1;
    }
    if (strcmp(name, "output.weight") == 0) {
        snprintf(hf, cap, "lm_head.weight");
        shape[0] = p->vocab, shape[1] = p->hidden, *rank = 2;
        return 1;
    }
    if (strncmp(name, "blk.", 4) != 0) return 0;
    const char *s = name + 4;
    int64_t n = 0;
    if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9')) return 0;
    while (*s >= '0' && *s <= '9') {
        n = n * 10 + (*s++ - '0');
        if (n > p->layers) return 0;
    }
    if (*s++ != '.' || n >= p->layers) return 0;
    for (int r = 0; r < N_LAYER_RULES; r++)
        if (strcmp(s, layer_rules[r].gguf) == 0) {
            snprintf(hf, cap, "model.layers.%lld.%s", (long long)n, layer_rules[r].hf);
            *rank = layer_shape(p, r, shape);
            *layer = n;
            *rule = r;
            return 1;
        }
    return 0;
}

static void release_reader(void *ctx) { kiln_gguf_close(ctx); }

/* A view when the bytes can be used as they are (block-quantized tensors
 * too: raw blocks the graph dequantizes), else an owned copy. */
static kiln_status tensor_for(const kiln_gguf *g, const kiln_gguf_tensor *t, kiln_tensor *out) {
    kiln_dtype dt = KILN_F32;
    size_t es = 4;
    switch (t->ggml_type) {
    case KILN_GGML_F32: break;
    case KILN_GGML_F16: dt = KILN_F16, es = 2; break;
    case KILN_GGML_BF16: dt = KILN_BF16, es = 2; break;
    default: break;
    }
    int plain = t->ggml_type == KILN_GGML_F32 || t->ggml_type == KILN_GGML_F16 || t->ggml_type == KILN_GGML_BF16;
    if (plain && (uintptr_t)t->data % es == 0) {
        *out = kiln_tensor_view(dt, t->n_dims, t->shape, (void *)t->data);
        return KILN_OK;
    }
    if (plain) { /* misaligned (alignment < element size): copy the bytes */
        KILN_TRY(kiln_tensor_alloc(out, dt, t->n_dims, t->shape));
        memcpy(out->data, t->data, t->nbytes);
        return KILN_OK;
    }
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(t->ggml_type);
    if (!ti->can_dequantize)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which kiln cannot decode yet",
                          kiln_gguf_name(g), t->name, ti->name);
    kiln_status s = kiln_quant_tensor_view(t->ggml_type, t->n_dims, t->shape, t->data, t->nbytes, out);
    return s ? kiln_error_wrap(s, "%s: tensor '%s'", kiln_gguf_name(g), t->name) : KILN_OK;
}

static kiln_status build_weights(kiln_gguf *g, const llama_params *p, kiln_tensor_map *m) {
    const char *name = kiln_gguf_name(g);
    int64_t n_needed = 2 + (p->tied ? 0 : 1) + p->layers * N_LAYER_RULES, n_found = 0;
    for (int i = 0; i < kiln_gguf_tensor_count(g); i++) {
        const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, i);
        char hf[128];
        int64_t shape[2], layer;
        int rank, rule;
        if (!map_name(p, t->name, hf, sizeof hf, shape, &rank, &layer, &rule))
            return kiln_error(KILN_ERR_UNSUPPORTED, "%s: tensor '%s' is not part of a llama model kiln knows", name,
                              t->name);
        int ok = t->n_dims == rank;
        for (int d = 0; ok && d < rank; d++) ok = t->shape[d] == shape[d];
        if (!ok) {
            kiln_tensor tmp = {.rank = t->n_dims};
            for (int d = 0; d < t->n_dims; d++) tmp.shape[d] = t->shape[d];
            char got[96];
            kiln_tensor_shape_str(&tmp, got, sizeof got);
            return kiln_error(KILN_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%lld%s%lld]", name, t->name,
                              strchr(got, '[') ? strchr(got, '[') : got, (long long)shape[0], rank == 2 ? ", " : "",
                              rank == 2 ? (long long)shape[1] : 0LL);
        }
        kiln_tensor x;
        KILN_TRY(tensor_for(g, t, &x));
        kiln_status s = kiln_tensor_map_put(m, hf, x);
        if (s) {
            kiln_tensor_release(&x);
            return s;
        }
        n_found++;
    }
    if (n_found != n_needed) { /* names are unique, so some tensor is missing: name it */
        const char *top[3] = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
        const char *gg[3] = {"token_embd.weight", "output_norm.weight", "output.weight"};
        for (int i = 0; i < (p->tied ? 2 : 3); i++)
            if (!kiln_tensor_map_get(m, top[i]))
                return kiln_error(KILN_ERR_NOT_FOUND, "%s: no tensor '%s'", name, gg[i]);
        for (int64_t l = 0; l < p->layers; l++)
            for (int r = 0; r < N_LAYER_RULES; r++) {
                char hf[128];
                snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, layer_rules[r].hf);
                if (!kiln_tensor_map_get(m, hf))
                    return kiln_error(KILN_ERR_NOT_FOUND, "%s: no tensor 'blk.%lld.%s'", name, (long long)l,
                                      layer_rules[r].gguf);
            }
    }
    return KILN_OK;
}

kiln_status kiln_gguf_llama_weights(kiln_gguf *g, kiln_tensor_map **out) {
    *out = NULL;
    llama_params p;
    KILN_TRY(read_params(g, &p));
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_tensor_map_set_origin(m, kiln_gguf_name(g));
    kiln_status s = kiln_tensor_map_hold(m, kiln_gguf_retain(g), release_reader);
    if (!s) s = build_weights(g, &p, m);
    if (s) {
        kiln_tensor_map_free(m);
        return s;
    }
    *out = m;
    return KILN_OK;
}
