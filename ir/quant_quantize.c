/* f32 to GGML types, choosing scales and rounding exactly like ggml's
 * reference quantizers (quantize_row_*_ref), so kiln-written files carry the
 * same bytes ggml or gguf-py would write. Every step is a separate float
 * operation (C11 without FP contraction) to keep results bit-exact. */
#include <math.h>
#include <string.h>

#include "kiln/dtype.h"
#include "kiln/quant.h"

/* Float to int without undefined behaviour on NaN, infinities or values
 * out of range; finite in-range values convert exactly as a cast would. */
static int to_int_clamped(float v, int lo, int hi) {
    if (!(v == v)) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

/* Q8_0: d = max|x| / 127, q = round-half-away(x / d). The reciprocal is
 * taken of the f32 scale before it is narrowed to f16, as ggml does. */
static void quant_q8_0(const float *x, uint8_t *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        const float *xb = x + b * KILN_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < KILN_QK8_0; j++) {
            float a = fabsf(xb[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        kiln_block_q8_0 blk;
        blk.d = kiln_f32_to_f16(d);
        for (int j = 0; j < KILN_QK8_0; j++) {
            float v = xb[j] * id;
            blk.qs[j] = (int8_t)to_int_clamped(roundf(v), -128, 127);
        }
        memcpy(dst + b * sizeof blk, &blk, sizeof blk);
    }
}

/* Q4_0: the element of largest magnitude (first one on ties) keeps its
 * sign and maps to -8, so d = max / -8; q = trunc(x / d + 8.5) clamped to
 * 15. */
static void quant_q4_0(const float *x, uint8_t *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        const float *xb = x + b * KILN_QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < KILN_QK4_0; j++) {
            if (fabsf(xb[j]) > amax) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        kiln_block_q4_0 blk;
        blk.d = kiln_f32_to_f16(d);
        for (int j = 0; j < KILN_QK4_0 / 2; j++) {
            float v0 = xb[j] * id, v1 = xb[j + KILN_QK4_0 / 2] * id;
            float s0 = v0 + 8.5f, s1 = v1 + 8.5f;
            int q0 = to_int_clamped(s0, 0, 15), q1 = to_int_clamped(s1, 0, 15); /* truncates */
            blk.qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
        memcpy(dst + b * sizeof blk, &blk, sizeof blk);
    }
}

kiln_status kiln_quantize(uint32_t type, const float *src, int64_t n, void *dst, size_t dst_bytes) {
    size_t need;
    KILN_TRY(kiln_ggml_nbytes(type, n, &need));
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    if (!ti->can_quantize)
        return kiln_error(KILN_ERR_UNSUPPORTED, "quantizing to ggml type %s is not supported (only f32, f16, bf16, q8_0, q4_0)",
                          ti->name);
    if (dst_bytes < need)
        return kiln_error(KILN_ERR_INVALID, "%lld %s elements need %zu bytes, only %zu given", (long long)n,
                          ti->name, need, dst_bytes);
    if (n == 0) return KILN_OK;
    if (!src || !dst) return kiln_error(KILN_ERR_INVALID, "kiln_quantize: NULL buffer");
    uint8_t *d = dst;
    int64_t nblocks = n / ti->block_size;
    switch (type) {
    case KILN_GGML_F32: memcpy(d, src, need); break;
    case KILN_GGML_F16:
    case KILN_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = type == KILN_GGML_F16 ? kiln_f32_to_f16(src[i]) : kiln_f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        break;
    case KILN_GGML_Q8_0: quant_q8_0(src, d, nblocks); break;
    case KILN_GGML_Q4_0: quant_q4_0(src, d, nblocks); break;
    default: return kiln_error(KILN_ERR_INTERNAL, "quantize: %s flagged but not handled", ti->name);
    }
    return KILN_OK;
}
