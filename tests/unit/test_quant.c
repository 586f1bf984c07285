/* GGML block types: (de)quantization compared bit for bit with gguf-py
 * (reference vectors from tests/tools/gguf_quant_vectors.py) plus blocks
 * worked out by hand from the layout descriptions. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "kiln/gguf.h"
#include "kiln/quant.h"

static uint16_t h16(float f) { return kiln_f32_to_f16(f); }

/* ---- hand-made blocks ---- */

static void test_q8_0_by_hand(void) {
    /* max |x| = 127, so d = 1 and q = round-half-away-from-zero(x). */
    float x[32] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 63.5f};
    for (int i = 8; i < 32; i++) x[i] = 0.25f * (float)(i - 8);
    kiln_block_q8_0 b;
    CHECK_OK(kiln_quantize(KILN_GGML_Q8_0, x, 32, &b, sizeof b));
    CHECK(b.d == 0x3c00); /* 1.0 in f16 */
    const int8_t want[8] = {127, 1, 2, 3, -1, -2, -3, 64};
    for (int i = 0; i < 8; i++) CHECK(b.qs[i] == want[i]);
    CHECK(b.qs[8 + 2] == 1);  /* 0.5 -> 1 */
    CHECK(b.qs[8 + 6] == 2);  /* 1.5 -> 2 */
    CHECK(b.qs[8 + 23] == 6); /* 5.75 -> 6 */
    float y[32];
    CHECK_OK(kiln_dequantize(KILN_GGML_Q8_0, &b, sizeof b, y, 32));
    CHECK(y[0] == 127.0f && y[4] == -1.0f && y[7] == 64.0f);
}

static void test_q4_0_by_hand(void) {
    /* The largest magnitude is -8 (negative), so d = -8 / -8 = 1 and
     * q = trunc(x + 8.5) clamped to 15: x = 7 -> 15, x = 7.5 -> 15 (16 clamped),
     * x = -8 -> 0, x = 0.4 -> 8, x = 0.6 -> 9, x = -0.6 -> 7. */
    float x[32] = {0};
    x[0] = -8, x[1] = 7, x[2] = 7.5f, x[3] = 0.4f, x[4] = 0.6f, x[5] = -0.6f;
    x[16] = 3, x[17] = -3;
    kiln_block_q4_0 b;
    CHECK_OK(kiln_quantize(KILN_GGML_Q4_0, x, 32, &b, sizeof b));
    CHECK(b.d == 0x3c00);
    CHECK(b.qs[0] == (0 | (11 << 4)));  /* x[0] = -8 -> 0, x[16] = 3 -> 11 */
    CHECK(b.qs[1] == (15 | (5 << 4)));  /* x[1] = 7 -> 15, x[17] = -3 -> 5 */
    CHECK((b.qs[2] & 15) == 15 && (b.qs[3] & 15) == 8 && (b.qs[4] & 15) == 9 && (b.qs[5] & 15) == 7);
    float y[32];
    CHECK_OK(kiln_dequantize(KILN_GGML_Q4_0, &b, sizeof b, y, 32));
    CHECK(y[0] == -8 && y[1] == 7 && y[16] == 3 && y[17] == -3 && y[4] == 1 && y[31] == 0);
}

static void test_q4_k_by_hand(void) {
    kiln_block_q4_k b;
    memset(&b, 0, sizeof b);
    b.d = h16(0.5f);
    b.dmin = h16(0.25f);
    /* Sub-block 0: scale = scales[0] & 63, min = scales[4] & 63.
     * Sub-block 5: scale = (scales[9] & 15) | (scales[1] >> 6) << 4,
     *              min   = (scales[9] >> 4) | (scales[5] >> 6) << 4. */
    b.scales[0] = 3;
    b.scales[4] = 2;
    b.scales[1] = 0x80;  /* top bits 2 -> scale of sub-block 5 gains 2 << 4 = 32 */
    b.scales[9] = 0x71;  /* low nibble 1 -> scale 33; high nibble 7 -> min 7 */
    b.scales[5] = 0x40;  /* top bits 1 -> min of sub-block 5 = 7 + 16 = 23 */
    b.qs[0] = 0x0a;      /* element 0 (sub-block 0, low nibble) = 10 */
    b.qs[2 * 32 + 4] = 0x90; /* element 64*2 + 32 + 4 = 164 (sub-block 5, high nibble) = 9 */
    float y[256];
    CHECK_OK(kiln_dequantize(KILN_GGML_Q4_K, &b, sizeof b, y, 256));
    CHECK(y[0] == 0.5f * 3 * 10 - 0.25f * 2);   /* 14.5 */
    CHECK(y[1] == -0.25f * 2);                   /* q = 0 */
    CHECK(y[164] == 0.5f * 33 * 9 - 0.25f * 23); /* 142.75 */
    CHECK(y[165] == -0.25f * 23);
}

static void test_q6_k_by_hand(void) {
    kiln_block_q6_k b;
    memset(&b, 0, sizeof b);
    b.d = h16(0.5f);
    /* Element 128 + 64 + 17 = 209: second half, third quarter (ql high
     * nibble of ql[64 + 17], qh bits 4-5 of qh[32 + 17]), scale index
     * 8 + 1 + 4 = 13. */
    b.ql[64 + 17] = 0xb0;  /* high nibble 11 */
    b.qh[32 + 17] = 0x20;  /* bits 4-5 = 2 -> q = 11 | 2 << 4 = 43 */
    b.scales[13] = -3;
    /* Element 5: ql[5] low nibble, qh[5] bits 0-1, scale 0. */
    b.ql[5] = 0x07;
    b.qh[5] = 0x01;        /* q = 7 | 1 << 4 = 23 */
    b.scales[0] = 4;
    float y[256];
    CHECK_OK(kiln_dequantize(KILN_GGML_Q6_K, &b, sizeof b, y, 256));
    CHECK(y[209] == 0.5f * -3 * (43 - 32));  /* -16.5 */
    CHECK(y[5] == 0.5f * 4 * (23 - 32));     /* -18 */
    CHECK(y[6] == 0.5f * 4 * -32);           /* q = 0 */
}

static void test_errors(void) {
    float x[64] = {0}, y[64];
    uint8_t buf[256];
    size_t n = 0;
    CHECK_ERR(kiln_ggml_nbytes(99, 32, &n), "unknown ggml type 99");
    CHECK_ERR(kiln_ggml_nbytes(KILN_GGML_Q8_0, 33, &n), "not a whole number of q8_0 blocks");
    CHECK_OK(kiln_ggml_nbytes(KILN_GGML_Q6_K, 512, &n));
    CHECK(n == 420);
    CHECK_ERR(kiln_quantize(KILN_GGML_Q8_0, x, 64, buf, 67), "need 68 bytes");
    CHECK_ERR(kiln_dequantize(KILN_GGML_Q4_0, buf, 17, y, 32), "need 18 bytes");
    CHECK_ERR(kiln_quantize(KILN_GGML_Q4_K, x, 256, buf, sizeof buf), "not supported");
    CHECK_ERR(kiln_dequantize(KILN_GGML_Q5_K, buf, sizeof buf, y, 256), "not supported");
    CHECK(strcmp(kiln_ggml_type_name(KILN_GGML_Q6_K), "q6_K") == 0);
    CHECK(strcmp(kiln_ggml_type_name(4), "unknown") == 0);
    /* Non-finite input must not crash (values are unspecified but stay in range). */
    float bad[32];
    for (int i = 0; i < 32; i++) bad[i] = i % 3 ? NAN : INFINITY;
    CHECK_OK(kiln_quantize(KILN_GGML_Q8_0, bad, 32, buf, sizeof buf));
    CHECK_OK(kiln_quantize(KILN_GGML_Q4_0, bad, 32, buf, sizeof buf));
}

/* ---- gguf-py reference vectors ---- */

static const kiln_gguf_tensor *need(const kiln_gguf *g, const char *name) {
    const kiln_gguf_tensor *t = kiln_gguf_tensor_find(g, name);
    if (!t) {
        fprintf(stderr, "reference tensor %s missing\n", name);
        test_failures++;
    }
    return t;
}

/* Dequantizing NAME.q must give NAME.deq exactly (gguf-py computes in
 * float32 with the same operation order); quantizing NAME.src, when there
 * is one, must give NAME.q byte for byte. */
static void check_case(const kiln_gguf *g, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "%s.q", name);
    const kiln_gguf_tensor *q = need(g, key);
    snprintf(key, sizeof key, "%s.deq", name);
    const kiln_gguf_tensor *deq = need(g, key);
    if (!q || !deq) return;
    CHECK(q->numel == deq->numel);
    float *y = malloc((size_t)deq->numel * sizeof *y);
    CHECK_OK(kiln_dequantize(q->ggml_type, q->data, q->nbytes, y, q->numel));
    int diff = memcmp(y, deq->data, deq->nbytes) != 0;
    if (diff) fprintf(stderr, "%s: dequantization differs from gguf-py\n", name);
    CHECK(!diff);
    free(y);
    snprintf(key, sizeof key, "%s.src", name);
    const kiln_gguf_tensor *src = kiln_gguf_tensor_find(g, key);
    if (!src) return;
    uint8_t *bytes = malloc(q->nbytes);
    CHECK_OK(kiln_quantize(q->ggml_type, src->data, src->numel, bytes, q->nbytes));
    size_t first = q->nbytes;
    for (size_t i = 0; i < q->nbytes; i++)
        if (bytes[i] != ((const uint8_t *)q->data)[i]) {
            first = i;
            break;
        }
    if (first < q->nbytes) fprintf(stderr, "%s: quantized byte %zu differs from gguf-py\n", name, first);
    CHECK(first == q->nbytes);
    free(bytes);
}

static void test_reference_vectors(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/gguf/quant_vectors.gguf", src ? src : ".");
    kiln_gguf *g = NULL;
    CHECK_OK(kiln_gguf_open(path, &g));
    if (!g) return;
    const char *cases[] = {"q8_0", "q4_0", "f16", "bf16", "q4_K", "q6_K"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(g, cases[i]);
    kiln_gguf_close(g);
}

int main(void) {
    test_q8_0_by_hand();
    test_q4_0_by_hand();
    test_q4_k_by_hand();
    test_q6_k_by_hand();
    test_errors();
    test_reference_vectors();
    return test_finish("test_quant");
}
