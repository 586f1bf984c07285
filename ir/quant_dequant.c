/* Block-quantized and 16-bit GGML data to f32. The arithmetic order follows
 * ggml's reference dequantizers (all in float, no fused multiply-add), so
 * results are bit-identical to ggml and gguf-py. Blocks are copied out with
 * memcpy because tensor data in a GGUF file need not be aligned. */
#include <string.h>

#include "kiln/dtype.h"
#include "kiln/quant.h"

static void dequant_q8_0(const uint8_t *src, float *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        kiln_block_q8_0 blk;
        memcpy(&blk, src + b * sizeof blk, sizeof blk);
        float d = kiln_f16_to_f32(blk.d);
        for (int j = 0; j < KILN_QK8_0; j++) dst[b * KILN_QK8_0 + j] = (float)blk.qs[j] * d;
    }
}

static void dequant_q4_0(const uint8_t *src, float *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        kiln_block_q4_0 blk;
        memcpy(&blk, src + b * sizeof blk, sizeof blk);
        float d = kiln_f16_to_f32(blk.d);
        float *y = dst + b * KILN_QK4_0;
        for (int j = 0; j < KILN_QK4_0 / 2; j++) {
            y[j] = (float)((blk.qs[j] & 0x0f) - 8) * d;
            y[j + KILN_QK4_0 / 2] = (float)((blk.qs[j] >> 4) - 8) * d;
        }
    }
}

/* The 12 scale bytes of a Q4_K block hold eight 6-bit scales and eight
 * 6-bit mins: sub-blocks 0-3 use the low 6 bits of bytes 0-3 (scale) and
 * 4-7 (min); sub-blocks 4-7 take their low 4 bits from bytes 8-11 and
 * their top 2 bits from the spare high bits of bytes 0-7. */
static void q4_k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dequant_q4_k(const uint8_t *src, float *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        kiln_block_q4_k blk;
        memcpy(&blk, src + b * sizeof blk, sizeof blk);
        float d = kiln_f16_to_f32(blk.d), dmin = kiln_f16_to_f32(blk.dmin);
        float *y = dst + b * KILN_QK_K;
        for (int chunk = 0; chunk < 4; chunk++) { /* 64 outputs from 32 bytes */
            const uint8_t *q = blk.qs + 32 * chunk;
            uint8_t sc, m;
            q4_k_scale_min(2 * chunk, blk.scales, &sc, &m);
            float d_lo = d * (float)sc, m_lo = dmin * (float)m;
            q4_k_scale_min(2 * chunk + 1, blk.scales, &sc, &m);
            float d_hi = d * (float)sc, m_hi = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float lo = d_lo * (float)(q[l] & 0x0f);
                float hi = d_hi * (float)(q[l] >> 4);
                y[64 * chunk + l] = lo - m_lo;
                y[64 * chunk + 32 + l] = hi - m_hi;
            }
        }
    }
}

static void dequant_q6_k(const uint8_t *src, float *dst, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; b++) {
        kiln_block_q6_k blk;
        memcpy(&blk, src + b * sizeof blk, sizeof blk);
        float d = kiln_f16_to_f32(blk.d);
        float *y = dst + b * KILN_QK_K;
        /* Two halves of 128 outputs; each half reads 64 ql bytes (low
         * nibbles then high nibbles), 32 qh bytes (2 bits per output) and
         * 8 scales (one per 16 outputs). */
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = blk.ql + 64 * half, *qh = blk.qh + 32 * half;
            const int8_t *sc = blk.scales + 8 * half;
            float *o = y + 128 * half;
            for (int l = 0; l < 32; l++) {
                int s = l / 16;
                int q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                float s1 = d * (float)sc[s], s2 = d * (float)sc[s + 2];
                float s3 = d * (float)sc[s + 4], s4 = d * (float)sc[s + 6];
                o[l] = s1 * (float)q1;
                o[l + 32] = s2 * (float)q2;
                o[l + 64] = s3 * (float)q3;
                o[l + 96] = s4 * (float)q4;
            }
        }
    }
}

kiln_status kiln_dequantize(uint32_t type, const void *src, size_t src_bytes, float *dst, int64_t n) {
    size_t need;
    KILN_TRY(kiln_ggml_nbytes(type, n, &need));
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    if (!ti->can_dequantize)
        return kiln_error(KILN_ERR_UNSUPPORTED, "dequantizing ggml type %s is not supported", ti->name);
    if (src_bytes < need)
        return kiln_error(KILN_ERR_INVALID, "%lld %s elements need %zu bytes, only %zu given", (long long)n,
                          ti->name, need, src_bytes);
    if (n == 0) return KILN_OK;
    if (!src || !dst) return kiln_error(KILN_ERR_INVALID, "kiln_dequantize: NULL buffer");
    const uint8_t *s = src;
    int64_t nblocks = n / ti->block_size;
    switch (type) {
    case KILN_GGML_F32: memcpy(dst, s, need); break;
    case KILN_GGML_F16:
    case KILN_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = type == KILN_GGML_F16 ? kiln_f16_to_f32(h) : kiln_bf16_to_f32(h);
        }
        break;
    case KILN_GGML_Q8_0: dequant_q8_0(s, dst, nblocks); break;
    case KILN_GGML_Q4_0: dequant_q4_0(s, dst, nblocks); break;
    case KILN_GGML_Q4_K: dequant_q4_k(s, dst, nblocks); break;
    case KILN_GGML_Q6_K: dequant_q6_k(s, dst, nblocks); break;
    default: return kiln_error(KILN_ERR_INTERNAL, "dequantize: %s flagged but not handled", ti->name);
    }
    return KILN_OK;
}
