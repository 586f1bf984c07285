/* llama2.c checkpoints: header validation, exact file size, per-layer
 * slices in run.c's order under HF names, and agreement with the GGUF
 * conversion of the same model (stories260K). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/gguf.h"
#include "kiln/llama2c.h"

static double num(const kiln_json *cfg, const char *key) {
    const kiln_json *v = kiln_json_get(cfg, key);
    CHECK(v && v->type == KILN_JSON_NUMBER);
    return v && v->type == KILN_JSON_NUMBER ? v->number : NAN;
}

static int flag(const kiln_json *cfg, const char *key) {
    const kiln_json *v = kiln_json_get(cfg, key);
    CHECK(v && v->type == KILN_JSON_BOOL);
    return v && v->type == KILN_JSON_BOOL ? v->boolean : -1;
}

static int shape_is(const kiln_tensor *t, int rank, int64_t d0, int64_t d1) {
    return t && t->rank == rank && t->shape[0] == d0 && (rank < 2 || t->shape[1] == d1);
}

static float first(const kiln_tensor *t) { return t ? ((const float *)t->data)[0] : NAN; }

/* ---- stories260K.bin ---- */

static void test_stories(void) {
    char path[1024], gpath[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", test_shared_dir());
    snprintf(gpath, sizeof gpath, "%s/models/stories260K/stories260K.gguf", test_shared_dir());
    kiln_json *cfg = NULL;
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_llama2c_load(path, &cfg, &m));
    if (!cfg || !m) return;
    /* Header read with Python's struct.unpack('7i'): 64 172 5 8 4 512 512. */
    CHECK(num(cfg, "vocab_size") == 512 && num(cfg, "hidden_size") == 64);
    CHECK(num(cfg, "intermediate_size") == 172 && num(cfg, "num_hidden_layers") == 5);
    CHECK(num(cfg, "num_attention_heads") == 8 && num(cfg, "num_key_value_heads") == 4);
    CHECK(num(cfg, "head_dim") == 8 && num(cfg, "max_position_embeddings") == 512);
    CHECK(num(cfg, "rms_norm_eps") == 1e-5 && num(cfg, "rope_theta") == 10000);
    CHECK(num(cfg, "bos_token_id") == 1 && num(cfg, "eos_token_id") == 2);
    CHECK(flag(cfg, "tie_word_embeddings") == 1 && flag(cfg, "rope_interleaved") == 1);
    /* 5 layers x 9 + embedding + norm; tied, so no lm_head. */
    CHECK(kiln_tensor_map_count(m) == 47);
    CHECK(kiln_tensor_map_get(m, "lm_head.weight") == NULL);
    const kiln_tensor *e = kiln_tensor_map_get(m, "model.embed_tokens.weight");
    CHECK(shape_is(e, 2, 512, 64) && !e->owns_data);
    /* numpy: weights[0] = -0.29474878, weights[512*64] (first rms_att) = 0.97224295 */
    CHECK(first(e) == -0.29474878f);
    CHECK(first(kiln_tensor_map_get(m, "model.layers.0.input_layernorm.weight")) == 0.97224295f);
    CHECK(shape_is(kiln_tensor_map_get(m, "model.layers.4.self_attn.k_proj.weight"), 2, 32, 64));

    /* Every tensor equals the GGUF file's tensor of the same HF name; the
     * GGUF's separate lm_head.weight equals the .bin's shared embedding. */
    kiln_gguf *g = NULL;
    kiln_tensor_map *gm = NULL;
    CHECK_OK(kiln_gguf_open(gpath, &g));
    if (g) CHECK_OK(kiln_gguf_llama_weights(g, &gm));
    kiln_gguf_close(g);
    if (gm) {
        int same = 0;
        for (int i = 0; i < kiln_tensor_map_count(m); i++) {
            const char *name = kiln_tensor_map_name(m, i);
            const kiln_tensor *a = kiln_tensor_map_at(m, i), *b = kiln_tensor_map_get(gm, name);
            int eq = b && a->rank == b->rank && a->nbytes == b->nbytes && memcmp(a->shape, b->shape, sizeof a->shape) == 0 &&
                     memcmp(a->data, b->data, a->nbytes) == 0;
            if (!eq) fprintf(stderr, "%s differs between stories260K.bin and .gguf\n", name);
            same += eq;
        }
        CHECK(same == 47);
        const kiln_tensor *lm = kiln_tensor_map_get(gm, "lm_head.weight");
        CHECK(lm && e && memcmp(lm->data, e->data, e->nbytes) == 0);
        kiln_tensor_map_free(gm);
    }
    kiln_json_free(cfg);
    kiln_tensor_map_free(m);
}

/* ---- a small untied checkpoint whose floats are their own indices ---- */

/* dim 8, hidden 12, 2 layers, 2 heads (head size 4), 1 kv head (kv dim 4),
 * vocab -5 (untied), seq_len 4. Element counts in run.c's order:
 * embedding 5*8 = 40, rms_att 2*8 = 16, wq 2*8*8 = 128, wk 2*8*4 = 64,
 * wv 64, wo 128, rms_ffn 16, w1 2*12*8 = 192, w2 192, w3 192,
 * rms_final 8, freq_cis_real 4*4/2 = 8, freq_cis_imag 8, wcls 40. */
enum { S_EMB = 0, S_RMS_ATT = 40, S_WQ = 56, S_WK = 184, S_WV = 248, S_WO = 312, S_RMS_FFN = 440, S_W1 = 456,
       S_W2 = 648, S_W3 = 840, S_RMS_FINAL = 1032, S_FREQ = 1040, S_WCLS = 1056, S_END = 1096 };

static uint8_t *make_ckpt(const int32_t hdr[7], size_t nfloats, size_t *size) {
    *size = 28 + 4 * nfloats;
    uint8_t *p = malloc(*size);
    memcpy(p, hdr, 28);
    for (size_t i = 0; i < nfloats; i++) {
        float f = (float)i;
        memcpy(p + 28 + 4 * i, &f, 4);
    }
    return p;
}

static void test_layout(void) {
    const int32_t hdr[7] = {8, 12, 2, 2, 1, -5, 4};
    size_t size;
    uint8_t *p = make_ckpt(hdr, S_END, &size);
    kiln_llama2c_header h;
    CHECK_OK(kiln_llama2c_header_read(p, size, "tiny.bin", &h));
    CHECK(h.expected_bytes == 28 + 4 * S_END && !h.tied && h.vocab_size == -5);
    kiln_json *cfg = NULL;
    kiln_tensor_map *m = NULL;
    CHECK_OK(kiln_llama2c_load_memory(p, size, "tiny.bin", &cfg, &m));
    if (cfg) {
        CHECK(num(cfg, "vocab_size") == 5 && flag(cfg, "tie_word_embeddings") == 0);
        CHECK(num(cfg, "head_dim") == 4 && num(cfg, "num_key_value_heads") == 1);
        kiln_json_free(cfg);
    }
    if (m) {
        CHECK(kiln_tensor_map_count(m) == 2 * 9 + 3);
        const char *L = "model.layers.";
        char n[128];
#define T(name) kiln_tensor_map_get(m, name)
#define LT(l, suffix) (snprintf(n, sizeof n, "%s%d.%s", L, l, suffix), kiln_tensor_map_get(m, n))
        CHECK(shape_is(T("model.embed_tokens.weight"), 2, 5, 8) && first(T("model.embed_tokens.weight")) == S_EMB);
        CHECK(first(LT(1, "input_layernorm.weight")) == S_RMS_ATT + 8);
        CHECK(shape_is(LT(1, "self_attn.q_proj.weight"), 2, 8, 8) && first(LT(1, "self_attn.q_proj.weight")) == S_WQ + 64);
        CHECK(shape_is(LT(1, "self_attn.k_proj.weight"), 2, 4, 8) && first(LT(1, "self_attn.k_proj.weight")) == S_WK + 32);
        CHECK(shape_is(LT(0, "self_attn.v_proj.weight"), 2, 4, 8) && first(LT(0, "self_attn.v_proj.weight")) == S_WV);
        CHECK(first(LT(1, "self_attn.v_proj.weight")) == S_WV + 32);
        CHECK(first(LT(1, "self_attn.o_proj.weight")) == S_WO + 64);
        CHECK(first(LT(1, "post_attention_layernorm.weight")) == S_RMS_FFN + 8);
        CHECK(shape_is(LT(1, "mlp.gate_proj.weight"), 2, 12, 8) && first(LT(1, "mlp.gate_proj.weight")) == S_W1 + 96);
        CHECK(shape_is(LT(1, "mlp.down_proj.weight"), 2, 8, 12) && first(LT(1, "mlp.down_proj.weight")) == S_W2 + 96);
        CHECK(shape_is(LT(1, "mlp.up_proj.weight"), 2, 12, 8) && first(LT(1, "mlp.up_proj.weight")) == S_W3 + 96);
        const kiln_tensor *up = LT(1, "mlp.up_proj.weight");
        CHECK(up && ((const float *)up->data)[95] == S_W3 + 96 + 95); /* last element of the slice */
        CHECK(shape_is(T("model.norm.weight"), 1, 8, 0) && first(T("model.norm.weight")) == S_RMS_FINAL);
        CHECK(shape_is(T("lm_head.weight"), 2, 5, 8) && first(T("lm_head.weight")) == S_WCLS);
        const kiln_tensor *lm = T("lm_head.weight");
        CHECK(lm && ((const float *)lm->data)[39] == S_END - 1);
#undef T
#undef LT
        kiln_tensor_map_free(m);
    }
    /* Only the config, or only the weights. */
    CHECK_OK(kiln_llama2c_load_memory(p, size, "tiny.bin", &cfg, NULL));
    kiln_json_free(cfg);
    CHECK_OK(kiln_llama2c_load_memory(p, size, "tiny.bin", NULL, &m));
    kiln_tensor_map_free(m);

    /* Misaligned bytes (possible only from memory) are copied, not viewed. */
    uint8_t *odd = malloc(size + 1);
    memcpy(odd + 1, p, size);
    CHECK_OK(kiln_llama2c_load_memory(odd + 1, size, "odd.bin", NULL, &m));
    const kiln_tensor *w = m ? kiln_tensor_map_get(m, "lm_head.weight") : NULL;
    CHECK(w && w->owns_data && first(w) == S_WCLS);
    kiln_tensor_map_free(m);
    free(odd);

    /* The same bytes tied (vocab +5) are 40 floats too long. */
    int32_t tied[7] = {8, 12, 2, 2, 1, 5, 4};
    memcpy(p, tied, 28);
    CHECK_ERR(kiln_llama2c_load_memory(p, size, "tied.bin", &cfg, &m),
              "implies 4252 bytes, the file has 4412"); /* 28 + 4 * 1056 vs 28 + 4 * 1096 */
    CHECK(cfg == NULL && m == NULL);
    CHECK_OK(kiln_llama2c_load_memory(p, size - 160, "tied.bin", NULL, &m));
    CHECK(m && kiln_tensor_map_count(m) == 20 && kiln_tensor_map_get(m, "lm_head.weight") == NULL);
    kiln_tensor_map_free(m);
    free(p);
}

static void expect_header_error(const int32_t hdr[7], size_t extra, const char *needle, int line) {
    size_t size = 28 + extra;
    uint8_t *p = calloc(1, size);
    memcpy(p, hdr, 28);
    kiln_json *cfg = NULL;
    kiln_tensor_map *m = NULL;
    kiln_status s = kiln_llama2c_load_memory(p, size, "bad.bin", &cfg, &m);
    if (!s || !strstr(kiln_status_message(s), needle) || !strstr(kiln_status_message(s), "bad.bin")) {
        fprintf(stderr, "line %d: got \"%s\", expected \"%s\"\n", line, kiln_status_message(s), needle);
        test_failures++;
    }
    CHECK(!cfg && !m);
    kiln_status_free(s);
    free(p);
}

static void test_bad_headers(void) {
    const int32_t zero_dim[7] = {0, 12, 2, 2, 1, 5, 4};
    expect_header_error(zero_dim, 64, "offset 0: header field dim is 0", __LINE__);
    const int32_t neg_layers[7] = {8, 12, -2, 2, 1, 5, 4};
    expect_header_error(neg_layers, 64, "offset 8: header field n_layers is -2", __LINE__);
    const int32_t huge_vocab[7] = {8, 12, 2, 2, 1, INT32_MIN, 4};
    expect_header_error(huge_vocab, 64, "header field vocab_size is -2147483648", __LINE__);
    const int32_t indivisible[7] = {10, 12, 2, 4, 1, 5, 4};
    expect_header_error(indivisible, 64, "heads must divide dim", __LINE__);
    const int32_t kv_mismatch[7] = {8, 12, 2, 2, 3, 5, 4};
    expect_header_error(kv_mismatch, 64, "kv heads must divide heads", __LINE__);
    const int32_t odd_head[7] = {6, 12, 2, 2, 1, 5, 4}; /* head size 3: RoPE needs pairs */
    expect_header_error(odd_head, 64, "even head sizes", __LINE__);
    /* Largest accepted fields: the implied size is astronomically large
     * (computed without overflow) and cannot match. */
    const int32_t giant[7] = {1 << 24, 1 << 24, 1 << 24, 1 << 10, 1 << 10, 1 << 24, 1 << 24};
    expect_header_error(giant, 64, "more than 2^64 bytes", __LINE__);
    const int32_t big[7] = {1 << 16, 1 << 16, 64, 1 << 10, 1 << 10, 1 << 16, 1 << 10};
    expect_header_error(big, 64, "the file has 92", __LINE__);
    const int32_t ak42[7] = {0x616b3432, 1, 0, 0, 0, 0, 0};
    expect_header_error(ak42, 200, "export version 1 file", __LINE__);
    kiln_tensor_map *m = NULL;
    CHECK_ERR(kiln_llama2c_load_memory("\1\0\0\0", 4, "short.bin", NULL, &m), "short.bin: 4 bytes is too short");
}

static void test_files(void) {
    kiln_tensor_map *m = NULL;
    kiln_json *cfg = NULL;
    CHECK_ERR(kiln_llama2c_load("/nonexistent/model.bin", &cfg, &m), "/nonexistent/model.bin: cannot open");
    /* A stories260K.bin cut 4 bytes short names both sizes. */
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", test_shared_dir());
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    uint8_t *buf = malloc(1056540);
    size_t n = fread(buf, 1, 1056540, f);
    fclose(f);
    CHECK(n == 1056540);
    char tmp[] = "/tmp/kiln_llama2cXXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0 && write(fd, buf, n - 4) == (ssize_t)(n - 4));
    close(fd);
    CHECK_ERR(kiln_llama2c_load(tmp, &cfg, &m), "implies 1056540 bytes, the file has 1056536");
    CHECK(cfg == NULL && m == NULL);
    /* Every truncation point of the header itself fails cleanly. */
    for (size_t k = 0; k < 28; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        memcpy(copy, buf, k);
        kiln_status s = kiln_llama2c_load_memory(copy, k, "cut.bin", &cfg, &m);
        CHECK(s != NULL);
        kiln_status_free(s);
        free(copy);
    }
    unlink(tmp);
    free(buf);
}

int main(void) {
    test_stories();
    test_layout();
    test_bad_headers();
    test_files();
    return test_finish("test_llama2c");
}
