/* GGML tensor element types: the block layouts used by GGUF files,
 * dequantization to f32 and quantization from f32.
 *
 * A quantized row of n elements is n / block_size blocks laid out one after
 * the other; every block stores its own scale(s). Scales are IEEE half
 * floats stored as raw uint16_t bits (read them with kiln_f16_to_f32). */
#ifndef KILN_QUANT_H
#define KILN_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

/* Type ids as stored in GGUF tensor infos (ggml's enum ggml_type). */
typedef enum kiln_ggml_type {
    KILN_GGML_F32 = 0,
    KILN_GGML_F16 = 1,
    KILN_GGML_Q4_0 = 2,
    KILN_GGML_Q4_1 = 3,
    KILN_GGML_Q5_0 = 6,
    KILN_GGML_Q5_1 = 7,
    KILN_GGML_Q8_0 = 8,
    KILN_GGML_Q8_1 = 9,
    KILN_GGML_Q2_K = 10,
    KILN_GGML_Q3_K = 11,
    KILN_GGML_Q4_K = 12,
    KILN_GGML_Q5_K = 13,
    KILN_GGML_Q6_K = 14,
    KILN_GGML_Q8_K = 15,
    KILN_GGML_IQ2_XXS = 16,
    KILN_GGML_IQ2_XS = 17,
    KILN_GGML_IQ3_XXS = 18,
    KILN_GGML_IQ1_S = 19,
    KILN_GGML_IQ4_NL = 20,
    KILN_GGML_IQ3_S = 21,
    KILN_GGML_IQ2_S = 22,
    KILN_GGML_IQ4_XS = 23,
    KILN_GGML_I8 = 24,
    KILN_GGML_I16 = 25,
    KILN_GGML_I32 = 26,
    KILN_GGML_I64 = 27,
    KILN_GGML_F64 = 28,
    KILN_GGML_IQ1_M = 29,
    KILN_GGML_BF16 = 30,
    KILN_GGML_TQ1_0 = 34,
    KILN_GGML_TQ2_0 = 35,
    KILN_GGML_MXFP4 = 39,
} kiln_ggml_type;

#define KILN_QK8_0 32
#define KILN_QK4_0 32
#define KILN_QK_K 256

/* Q8_0: 32 weights x[i] = d * qs[i]. 34 bytes. */
typedef struct kiln_block_q8_0 {
    uint16_t d;             /* f16 scale */
    int8_t qs[KILN_QK8_0];
} kiln_block_q8_0;

/* Q4_0: 32 weights; byte j holds x[j] in its low nibble and x[j + 16] in
 * its high nibble, x = d * (nibble - 8). 18 bytes. */
typedef struct kiln_block_q4_0 {
    uint16_t d;
    uint8_t qs[KILN_QK4_0 / 2];
} kiln_block_q4_0;

/* Q4_K: 256 weights in 8 sub-blocks of 32, each with a 6-bit scale and a
 * 6-bit min packed into scales[12]; x = d*sc*q - dmin*m, q a 4-bit value.
 * Sub-blocks 2j and 2j+1 are the low and high nibbles of qs[32j .. 32j+31].
 * 144 bytes. */
typedef struct kiln_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[KILN_QK_K / 2];
} kiln_block_q4_k;

/* Q6_K: 256 weights in 16 sub-blocks of 16 with int8 scales;
 * x = d * scales[s] * (q - 32), q a 6-bit value whose low 4 bits are in ql
 * and high 2 bits in qh. 210 bytes. */
typedef struct kiln_block_q6_k {
    uint8_t ql[KILN_QK_K / 2];
    uint8_t qh[KILN_QK_K / 4];
    int8_t scales[KILN_QK_K / 16];
    uint16_t d;
} kiln_block_q6_k;

typedef struct kiln_ggml_type_info {
    const char *name;     /* "f32", "q8_0", "q4_K", ... as ggml names them */
    int block_size;       /* elements per block (1 for plain types) */
    int type_size;        /* bytes per block */
    int can_dequantize;   /* kiln_dequantize supports it */
    int can_quantize;     /* kiln_quantize supports it */
} kiln_ggml_type_info;

/* Info for a type id, or NULL when the id is not a known ggml type. */
const kiln_ggml_type_info *kiln_ggml_type_get(uint32_t type);
/* Name, or "unknown" for an unknown id. */
const char *kiln_ggml_type_name(uint32_t type);

/* Bytes taken by n elements of `type`. Fails when the type is unknown, n is
 * negative or not a multiple of the block size, or the size overflows. */
kiln_status kiln_ggml_nbytes(uint32_t type, int64_t n, size_t *out);

/* Converts n elements of `type` at src (src_bytes long, any alignment) to
 * f32. Supports f32, f16, bf16, q8_0, q4_0, q4_K and q6_K. */
kiln_status kiln_dequantize(uint32_t type, const void *src, size_t src_bytes, float *dst, int64_t n);

/* Converts n f32 values to `type` into dst (dst_bytes long, any alignment),
 * the way ggml's reference quantizers do (round to nearest, same scale
 * choice), so the bytes equal what ggml/gguf-py produce. Supports f32, f16,
 * bf16, q8_0 and q4_0. */
kiln_status kiln_quantize(uint32_t type, const float *src, int64_t n, void *dst, size_t dst_bytes);

/* ---- block-quantized tensors (ir/quant_tensor.c) ----
 * A kiln_tensor with quant set holds raw blocks: dtype u8, shape
 * [..., row_bytes], the logical f32 shape being [..., quant_cols]
 * (tensor.h). The types a graph can dequantize are the block types with
 * can_dequantize: q8_0, q4_0, q4_K and q6_K. */

/* Type id of a ggml type name as ggml spells it ("q8_0", "q4_K"); the
 * lowercase spelling "q4_k" is accepted too. KILN_ERR_NOT_FOUND when the
 * name is not a ggml type. */
kiln_status kiln_ggml_type_parse(const char *name, uint32_t *out);

/* 1 when `type` is a block type (block size > 1) that kiln dequantizes. */
int kiln_ggml_type_is_block(uint32_t type);

/* A non-owning quantized tensor over `nbytes` of raw blocks holding a
 * logical [shape] of `type` (the last dim a whole number of blocks).
 * Fails when the bytes do not match the shape exactly. */
kiln_status kiln_quant_tensor_view(uint32_t type, int rank, const int64_t *logical_shape, const void *data,
                                   size_t nbytes, kiln_tensor *out);

/* Checks a quantized tensor's fields against each other: a block type
 * kiln dequantizes, u8, rank >= 1, last dim = the bytes of quant_cols
 * elements, nbytes = the whole raw shape. `name` names it in errors. */
kiln_status kiln_quant_tensor_check(const kiln_tensor *t, const char *name);

/* The logical shape of t (its shape, with the last dim quant_cols when
 * t is quantized). */
void kiln_tensor_logical_shape(const kiln_tensor *t, int64_t *shape);

/* An owned f32 copy: quantized tensors dequantized exactly (as
 * kiln_dequantize), float tensors converted. Integer and bool tensors are
 * refused. */
kiln_status kiln_tensor_dequantize(const kiln_tensor *t, kiln_tensor *out);

#endif
