/* GGUF llama models as Hugging Face Llama: config keys, weight names and
 * shapes, dequantized and viewed tensors, tokenizer metadata, and the
 * errors for files that are not what they claim. Uses the shared
 * stories260K.gguf and small files made with the writer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/gguf.h"

static double num(const kiln_json *cfg, const char *key) {
    const kiln_json *v = kiln_json_get(cfg, key);
    if (!v || v->type != KILN_JSON_NUMBER) {
        fprintf(stderr, "config key %s missing or not a number\n", key);
        test_failures++;
        return NAN;
    }
    return v->number;
}

static int flag(const kiln_json *cfg, const char *key) {
    const kiln_json *v = kiln_json_get(cfg, key);
    if (!v || v->type != KILN_JSON_BOOL) {
        fprintf(stderr, "config key %s missing or not a bool\n", key);
        test_failures++;
        return -1;
    }
    return v->boolean;
}

static int shape_is(const kiln_tensor *t, int rank, int64_t d0, int64_t d1) {
    return t && t->rank == rank && t->shape[0] == d0 && (rank < 2 || t->shape[1] == d1);
}

/* ---- stories260K.gguf ---- */

/* Reference numbers below were read with gguf-py's GGUFReader: metadata
 * llama.embedding_length 64, feed_forward_length 172, block_count 5,
 * head_count 8, head_count_kv 4, context_length 2048, rms epsilon float32
 * 1e-5, no rope.freq_base; token_embd.weight ne [64, 512]; output.weight
 * present (equal to token_embd.weight); tokenizer bos 1, eos 2, unk 0,
 * padding 0xffffffff. */
static void test_stories_config(kiln_gguf *g) {
    kiln_json *cfg = NULL;
    CHECK_OK(kiln_gguf_llama_config(g, &cfg));
    if (!cfg) return;
    CHECK(num(cfg, "vocab_size") == 512);
    CHECK(num(cfg, "hidden_size") == 64);
    CHECK(num(cfg, "intermediate_size") == 172);
    CHECK(num(cfg, "num_hidden_layers") == 5);
    CHECK(num(cfg, "num_attention_heads") == 8);
    CHECK(num(cfg, "num_key_value_heads") == 4);
    CHECK(num(cfg, "head_dim") == 8);
    CHECK(num(cfg, "rms_norm_eps") == 1e-5); /* float32 1e-5 written as 1e-05, not 9.99999975e-06 */
    CHECK(num(cfg, "rope_theta") == 10000);
    CHECK(num(cfg, "max_position_embeddings") == 2048);
    CHECK(num(cfg, "bos_token_id") == 1);
    CHECK(num(cfg, "eos_token_id") == 2);
    CHECK(flag(cfg, "tie_word_embeddings") == 0);
    CHECK(flag(cfg, "rope_interleaved") == 1);
    const kiln_json *act = kiln_json_get(cfg, "hidden_act");
    CHECK(act && act->type == KILN_JSON_STRING && strcmp(act->string, "silu") == 0);
    kiln_json_free(cfg);
}

static void test_stories_weights(kiln_gguf *g) {
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_gguf_llama_weights(g, &m));
    if (!m) return;
    /* 5 layers x 9 tensors + embedding + final norm + lm_head */
    CHECK(kiln_tensor_map_count(m) == 48);
    const kiln_tensor *e = kiln_tensor_map_get(m, "model.embed_tokens.weight");
    CHECK(shape_is(e, 2, 512, 64) && e->dtype == KILN_F32 && !e->owns_data);
    if (e) {
        const float *x = e->data;
        CHECK(x[0] == -0.29474878311157227f && x[2] == 0.1754225343465805f);
        CHECK(x[511 * 64 + 63] == -0.424032598733902f);
    }
    /* ne [172, 64] -> [out 64, in 172]; value [63][171] from gguf-py. */
    const kiln_tensor *d = kiln_tensor_map_get(m, "model.layers.4.mlp.down_proj.weight");
    CHECK(shape_is(d, 2, 64, 172));
    if (d) CHECK(((const float *)d->data)[63 * 172 + 171] == -0.0035068716388195753f);
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.0.self_attn.q_proj.weight"), 2, 64, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.3.self_attn.k_proj.weight"), 2, 32, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.3.self_attn.v_proj.weight"), 2, 32, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.2.self_attn.o_proj.weight"), 2, 64, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.1.mlp.gate_proj.weight"), 2, 172, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.1.mlp.up_proj.weight"), 2, 172, 64));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.4.input_layernorm.weight"), 1, 64, 0));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.4.post_attention_layernorm.weight"), 1, 64, 0));
    CHECK(shape_is(kiln_tensor_map_get(m, "model.norm.weight"), 1, 64, 0));
    const kiln_tensor *lm = kiln_tensor_map_get(m, "lm_head.weight");
    CHECK(shape_is(lm, 2, 512, 64));
    /* The file stores the tied classifier as a separate copy. */
    if (lm && e) CHECK(memcmp(lm->data, e->data, e->nbytes) == 0);
    CHECK(strcmp(kiln_tensor_map_origin(m), kiln_gguf_name(g)) == 0);
    kiln_tensor_map_free(m);
}

static void test_stories_tokenizer(kiln_gguf *g) {
    kiln_gguf_tokenizer t;
    CHECK_OK(kiln_gguf_tokenizer_get(g, &t));
    CHECK(t.model && strcmp(t.model, "llama") == 0);
    CHECK(t.n_tokens == 512);
    if (t.n_tokens == 512) {
        CHECK(strcmp(t.tokens[0].str, "<unk>") == 0 && strcmp(t.tokens[1].str, "<s>") == 0);
        CHECK(strcmp(t.tokens[3].str, "<0x00>") == 0);
        CHECK(strcmp(t.tokens[300].str, "\xe2\x96\x81ha") == 0); /* "▁ha" */
    }
    CHECK(t.scores && t.scores[300] == -41.0f && t.scores[511] == -252.0f);
    CHECK(t.token_type && t.token_type[0] == 2 && t.token_type[1] == 3 && t.token_type[3] == 6);
    CHECK(t.merges == NULL && t.n_merges == 0);
    CHECK(t.bos_id == 1 && t.eos_id == 2 && t.unk_id == 0 && t.pad_id == -1);
    CHECK(t.add_bos == -1 && t.pre == NULL);
    kiln_gguf_tokenizer_release(&t);
    /* The same data through the plain getters. */
    const kiln_gguf_string *toks;
    uint64_t n;
    CHECK_OK(kiln_gguf_get_strings(g, "tokenizer.ggml.tokens", &toks, &n));
    CHECK(n == 512);
    int64_t *types = NULL;
    CHECK_OK(kiln_gguf_get_ints(g, "tokenizer.ggml.token_type", &types, &n));
    CHECK(n == 512 && types[4] == 6);
    free(types);
}

static void test_stories(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", test_shared_dir());
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open(path, &g));
    if (!g) return;
    CHECK(kiln_gguf_version(g) == 3 && kiln_gguf_tensor_count(g) == 48 && kiln_gguf_kv_count(g) == 19);
    test_stories_config(g);
    test_stories_weights(g);
    test_stories_tokenizer(g);
    kiln_gguf_close(g);
}

/* ---- small synthetic llama files ---- */

enum { VOCAB = 8, HID = 32, INTER = 64, HEADS = 4, KV = 2, HD = 8 };

typedef struct knobs {
    const char *arch;
    int skip_up;         /* leave out blk.0.ffn_up.weight */
    int k_rows;          /* rows of attn_k (KV * HD normally) */
    int extra_bias;      /* add blk.0.attn_q.bias */
    int layer1;          /* add blk.1.attn_norm.weight with block_count 1 */
    int no_hidden_key;
    uint32_t norm_type;  /* ggml type of the norms */
    int rope_dims;
    int kv_heads;
    int untied;
} knobs;

static knobs defaults(void) {
    return (knobs){.arch = "llama", .k_rows = KV * HD, .norm_type = KILN_GGML_F32, .rope_dims = HD, .kv_heads = KV};
}

/* Weights whose values survive q8_0 exactly: each 32-block holds multiples
 * of 0.25 with largest magnitude 31.75 = 127 * 0.25, so d = 0.25 (exact in
 * f16) and every q = x / d is an integer. */
static float exact_q8(int i) { return i % 32 == 0 ? 31.75f : (float)((i * 37) % 255 - 127) * 0.25f; }

typedef struct store {
    void *p[32];
    int n;
} store;

static void *keep(store *s, void *p) {
    s->p[s->n++] = p;
    return p;
}

static void add(kiln_gguf_writer *w, store *s, const char *name, uint32_t type, int64_t rows, int64_t cols) {
    int rank = cols ? 2 : 1;
    int64_t shape[2] = {rows, cols}, n = rows * (cols ? cols : 1);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = exact_q8((int)i);
    size_t nbytes = 0;
    CHECK_OK(kiln_ggml_nbytes(type, n, &nbytes));
    void *data = keep(s, calloc(1, nbytes));
    if (kiln_ggml_type_get(type)->can_quantize) CHECK_OK(kiln_quantize(type, x, n, data, nbytes));
    free(x);
    CHECK_OK(kiln_gguf_writer_add_tensor(w, name, type, rank, shape, data, nbytes));
}

static kiln_status make_model(const knobs *k, void **mem, size_t *size) {
    kiln_gguf_writer *w = NULL;
    store s = {0};
    CHECK_OK(kiln_gguf_writer_new(&w));
    CHECK_OK(kiln_gguf_writer_add_string(w, "general.architecture", k->arch));
    if (!k->no_hidden_key) CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.embedding_length", HID));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.feed_forward_length", INTER));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.block_count", 1));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.attention.head_count", HEADS));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.attention.head_count_kv", (uint32_t)k->kv_heads));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.rope.dimension_count", (uint32_t)k->rope_dims));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "llama.context_length", 128));
    CHECK_OK(kiln_gguf_writer_add_float32(w, "llama.attention.layer_norm_rms_epsilon", 1e-6f));
    CHECK_OK(kiln_gguf_writer_add_float32(w, "llama.rope.freq_base", 500000.0f));
    CHECK_OK(kiln_gguf_writer_add_uint32(w, "tokenizer.ggml.eos_token_id", 7));
    add(w, &s, "token_embd.weight", KILN_GGML_Q8_0, VOCAB, HID);
    add(w, &s, "output_norm.weight", k->norm_type, HID, 0);
    if (k->untied) add(w, &s, "output.weight", KILN_GGML_F16, VOCAB, HID);
    add(w, &s, "blk.0.attn_q.weight", KILN_GGML_F16, HEADS * HD, HID);
    add(w, &s, "blk.0.attn_k.weight", KILN_GGML_BF16, k->k_rows, HID);
    add(w, &s, "blk.0.attn_v.weight", KILN_GGML_Q4_0, KV * HD, HID);
    add(w, &s, "blk.0.attn_output.weight", KILN_GGML_F32, HID, HEADS * HD);
    add(w, &s, "blk.0.attn_norm.weight", k->norm_type, HID, 0);
    add(w, &s, "blk.0.ffn_norm.weight", k->norm_type, HID, 0);
    add(w, &s, "blk.0.ffn_gate.weight", KILN_GGML_Q8_0, INTER, HID);
    if (!k->skip_up) add(w, &s, "blk.0.ffn_up.weight", KILN_GGML_Q8_0, INTER, HID);
    add(w, &s, "blk.0.ffn_down.weight", KILN_GGML_Q8_0, HID, INTER);
    if (k->extra_bias) add(w, &s, "blk.0.attn_q.bias", KILN_GGML_F32, HEADS * HD, 0);
    if (k->layer1) add(w, &s, "blk.1.attn_norm.weight", KILN_GGML_F32, HID, 0);
    kiln_status st = kiln_gguf_writer_write_memory(w, mem, size);
    for (int i = 0; i < s.n; i++) free(s.p[i]);
    kiln_gguf_writer_free(w);
    return st;
}

static void test_synthetic(void) {
    knobs k = defaults();
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(make_model(&k, &mem, &size));
    /* Through a file so the weights map must keep the mapping alive after
     * the reader is closed. */
    char path[] = "/tmp/kiln_gguf_llamaXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, mem, size) == (ssize_t)size);
    close(fd);
    free(mem);
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open(path, &g));
    unlink(path);
    if (!g) return;
    kiln_json *cfg = NULL;
    CHECK_OK(kiln_gguf_llama_config(g, &cfg));
    if (cfg) {
        CHECK(num(cfg, "vocab_size") == VOCAB && num(cfg, "head_dim") == HD);
        CHECK(num(cfg, "num_key_value_heads") == KV && num(cfg, "max_position_embeddings") == 128);
        CHECK(num(cfg, "rms_norm_eps") == 1e-6 && num(cfg, "rope_theta") == 500000);
        CHECK(flag(cfg, "tie_word_embeddings") == 1);
        const kiln_json *bos = kiln_json_get(cfg, "bos_token_id");
        CHECK(bos && bos->type == KILN_JSON_NULL); /* absent in the file */
        CHECK(num(cfg, "eos_token_id") == 7);
        kiln_json_free(cfg);
    }
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_gguf_llama_weights(g, &m));
    kiln_gguf_close(g); /* the map holds its own reference */
    if (!m) return;
    CHECK(kiln_tensor_map_count(m) == 11);
    CHECK(kiln_tensor_map_get(m, "lm_head.weight") == NULL);
    const kiln_tensor *e = kiln_tensor_map_get(m, "model.embed_tokens.weight");
    /* block-quantized tensors stay raw blocks (u8 [rows, row_bytes] views) */
    CHECK(e && e->quant == KILN_GGML_Q8_0 && e->dtype == KILN_U8 && !e->owns_data && e->quant_cols == HID);
    CHECK(shape_is(e, 2, VOCAB, HID / 32 * 34));
    kiln_tensor ef = {0};
    if (e) CHECK_OK(kiln_tensor_dequantize(e, &ef));
    int exact = ef.data != NULL;
    for (int i = 0; ef.data && i < VOCAB * HID; i++) exact &= ((const float *)ef.data)[i] == exact_q8(i);
    CHECK(exact);
    kiln_tensor_release(&ef);
    const kiln_tensor *q = kiln_tensor_map_get(m, "model.layers.0.self_attn.q_proj.weight");
    CHECK(shape_is(q, 2, HEADS * HD, HID) && q->dtype == KILN_F16 && !q->owns_data); /* a view */
    if (q) CHECK(kiln_f16_to_f32(((const uint16_t *)q->data)[5]) == exact_q8(5));
    const kiln_tensor *kk = kiln_tensor_map_get(m, "model.layers.0.self_attn.k_proj.weight");
    CHECK(shape_is(kk, 2, KV * HD, HID) && kk->dtype == KILN_BF16);
    const kiln_tensor *v = kiln_tensor_map_get(m, "model.layers.0.self_attn.v_proj.weight");
    CHECK(shape_is(v, 2, KV * HD, HID / 32 * 18) && v->quant == KILN_GGML_Q4_0 && v->quant_cols == HID);
    const kiln_tensor *down = kiln_tensor_map_get(m, "model.layers.0.mlp.down_proj.weight");
    CHECK(down && down->quant == KILN_GGML_Q8_0 && down->quant_cols == INTER);
    kiln_tensor df = {0};
    if (down) CHECK_OK(kiln_tensor_dequantize(down, &df));
    CHECK(shape_is(&df, 2, HID, INTER));
    exact = df.data != NULL;
    for (int i = 0; df.data && i < HID * INTER; i++) exact &= ((const float *)df.data)[i] == exact_q8(i);
    CHECK(exact);
    kiln_tensor_release(&df);
    kiln_tensor_map_free(m);
}

/* Runs config + weights on a model with knobs and expects `needle`. */
static void expect_fail(const knobs *k, int in_config, const char *needle, int line) {
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(make_model(k, &mem, &size));
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open_memory(mem, size, "bad.gguf", &g));
    if (g) {
        kiln_json *cfg = NULL;
        kiln_tensor_map *m = NULL;
        kiln_status s = kiln_gguf_llama_config(g, &cfg);
        if (!in_config) {
            if (s) fprintf(stderr, "line %d: config failed early: %s\n", line, kiln_status_message(s)), test_failures++;
            kiln_status_free(s);
            s = kiln_gguf_llama_weights(g, &m);
        }
        if (!s || !strstr(kiln_status_message(s), needle) || !strstr(kiln_status_message(s), "bad.gguf")) {
            fprintf(stderr, "line %d: got \"%s\", expected \"%s\"\n", line, kiln_status_message(s), needle);
            test_failures++;
        }
        CHECK(m == NULL);
        kiln_status_free(s);
        kiln_json_free(cfg);
        kiln_gguf_close(g);
    }
    free(mem);
}

static void test_errors(void) {
    knobs k = defaults();
    k.arch = "gpt2";
    expect_fail(&k, 1, "general.architecture is 'gpt2', only 'llama'", __LINE__);
    k = defaults();
    k.no_hidden_key = 1;
    expect_fail(&k, 1, "no key 'llama.embedding_length'", __LINE__);
    k = defaults();
    k.rope_dims = 4;
    expect_fail(&k, 1, "RoPE on 4 of 8 head dimensions", __LINE__);
    k = defaults();
    k.kv_heads = 3;
    k.k_rows = 3 * HD;
    expect_fail(&k, 1, "4 attention heads is not a multiple of 3", __LINE__);
    k = defaults();
    k.skip_up = 1;
    expect_fail(&k, 0, "no tensor 'blk.0.ffn_up.weight'", __LINE__);
    k = defaults();
    k.k_rows = HEADS * HD;
    expect_fail(&k, 0, "tensor 'blk.0.attn_k.weight' has shape [32, 32], expected [16, 32]", __LINE__);
    k = defaults();
    k.extra_bias = 1;
    expect_fail(&k, 0, "tensor 'blk.0.attn_q.bias' is not part of a llama model", __LINE__);
    k = defaults();
    k.layer1 = 1;
    expect_fail(&k, 0, "tensor 'blk.1.attn_norm.weight' is not part", __LINE__);
    k = defaults();
    k.norm_type = KILN_GGML_I32;
    expect_fail(&k, 0, "has type i32, which kiln cannot decode", __LINE__);
    /* Untied: lm_head comes from output.weight. */
    k = defaults();
    k.untied = 1;
    void *mem = NULL;
    size_t size = 0;
    CHECK_OK(make_model(&k, &mem, &size));
    kiln_gguf *g = NULL;
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_gguf_open_memory(mem, size, "untied.gguf", &g));
    if (g) CHECK_OK(kiln_gguf_llama_weights(g, &m));
    CHECK(m && kiln_tensor_map_count(m) == 12 && shape_is(kiln_tensor_map_get(m, "lm_head.weight"), 2, VOCAB, HID));
    kiln_tensor_map_free(m);
    kiln_gguf_close(g);
    free(mem);
}

int main(void) {
    test_stories();
    test_synthetic();
    test_errors();
    return test_finish("test_gguf_llama");
}
