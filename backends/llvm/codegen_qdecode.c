/* Decoding block-quantized weights in vector registers, 32 at a time.
 *
 * Every type splits into groups of 32 consecutive weights that decode on
 * their own: q8_0 and q4_0 blocks are one group; a q4_K block is 8 groups
 * (one nibble half of 32 bytes with its 6-bit scale and min); a q6_K block
 * is 8 groups (32 low nibbles, 32 two-bit fields, two int8 scales).
 * Each weight takes the f32 operations of ir/quant_dequant.c in the same
 * order (the block scale times the integer, then minus the min for q4_K),
 * and LLVM never contracts them (no fast-math flags), so the weights are
 * bit-identical to kiln_dequantize's. Loads are unaligned byte loads: GGUF
 * blocks sit at any offset. */
#include "codegen_qmatmul.h"
#include "kiln/quant.h"

int cgq_supported(uint32_t qtype) {
    return qtype == KILN_GGML_Q8_0 || qtype == KILN_GGML_Q4_0 || qtype == KILN_GGML_Q4_K || qtype == KILN_GGML_Q6_K;
}

static LLVMValueRef at(kiln_ir *ir, LLVMValueRef blk, int64_t off) {
    LLVMValueRef o = kiln_ir_i64c(ir, off);
    return LLVMBuildInBoundsGEP2(ir->b, ir->i8, blk, &o, 1, "");
}

/* n bytes at blk + off as <n x i8> (n > 1) or i8. */
static LLVMValueRef bytes(kiln_ir *ir, LLVMValueRef blk, int64_t off, int n) {
    LLVMValueRef v = LLVMBuildLoad2(ir->b, kiln_ir_vec_t(ir, ir->i8, n), at(ir, blk, off), "q");
    LLVMSetAlignment(v, 1);
    return v;
}

/* The little-endian IEEE half at blk + off, as f32 (exact). */
static LLVMValueRef half_at(kiln_ir *ir, LLVMValueRef blk, int64_t off) {
    LLVMTypeRef i16 = LLVMInt16TypeInContext(ir->ctx), h = LLVMHalfTypeInContext(ir->ctx);
    LLVMValueRef v = LLVMBuildLoad2(ir->b, i16, at(ir, blk, off), "d");
    LLVMSetAlignment(v, 1);
    return LLVMBuildFPExt(ir->b, LLVMBuildBitCast(ir->b, v, h, ""), ir->f32, "");
}

/* The half at blk + off in all n lanes, as f32: splatting the half and
 * widening the vector (vpbroadcastw + vcvtph2ps on x86) rather than
 * widening a scalar and splatting it (four instructions); exact either way. */
static LLVMValueRef half_splat(kiln_ir *ir, LLVMValueRef blk, int64_t off, int n) {
    LLVMTypeRef i16 = LLVMInt16TypeInContext(ir->ctx), h = LLVMHalfTypeInContext(ir->ctx);
    LLVMValueRef v = LLVMBuildLoad2(ir->b, i16, at(ir, blk, off), "d");
    LLVMSetAlignment(v, 1);
    LLVMValueRef hv = kiln_ir_splat(ir, LLVMBuildBitCast(ir->b, v, h, ""), n);
    return LLVMBuildFPExt(ir->b, hv, LLVMVectorType(ir->f32, (unsigned)n), "");
}

static LLVMValueRef splat_i8(kiln_ir *ir, int v, int n) {
    return kiln_ir_splat(ir, LLVMConstInt(ir->i8, (unsigned long long)v, 0), n);
}

static LLVMValueRef shuffle_const(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b, const int *idx, int n) {
    LLVMValueRef m[32];
    for (int i = 0; i < n; i++) m[i] = kiln_ir_i32c(ir, idx[i]);
    return LLVMBuildShuffleVector(ir->b, a, b, LLVMConstVector(m, (unsigned)n), "");
}

LLVMValueRef cgq_piece(kiln_ir *ir, LLVMValueRef v32, int p, int w) {
    if (w >= 32) return v32;
    int idx[32];
    for (int i = 0; i < w; i++) idx[i] = p * w + i;
    return shuffle_const(ir, v32, LLVMGetPoison(LLVMTypeOf(v32)), idx, w);
}

/* <32 x float>: lanes 0-15 a, lanes 16-31 b */
static LLVMValueRef two_halves(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    LLVMTypeRef v2 = LLVMVectorType(ir->f32, 2);
    LLVMValueRef p = LLVMBuildInsertElement(ir->b, LLVMGetPoison(v2), a, kiln_ir_i32c(ir, 0), "");
    p = LLVMBuildInsertElement(ir->b, p, b, kiln_ir_i32c(ir, 1), "");
    int idx[32];
    for (int i = 0; i < 32; i++) idx[i] = i < 16 ? 0 : 1;
    return shuffle_const(ir, p, LLVMGetPoison(v2), idx, 32);
}

static LLVMValueRef to_f32x32(kiln_ir *ir, LLVMValueRef q, int is_signed) {
    LLVMTypeRef ft = LLVMVectorType(ir->f32, 32);
    return is_signed ? LLVMBuildSIToFP(ir->b, q, ft, "") : LLVMBuildUIToFP(ir->b, q, ft, "");
}

static LLVMValueRef u8_to_f32(kiln_ir *ir, LLVMValueRef x) { return LLVMBuildUIToFP(ir->b, x, ir->f32, ""); }

/* q8_0: x = (float)qs[j] * d */
static LLVMValueRef q8_0(kiln_ir *ir, LLVMValueRef blk) {
    return LLVMBuildFMul(ir->b, to_f32x32(ir, bytes(ir, blk, 2, 32), 1), half_splat(ir, blk, 0, 32), "w");
}

/* q4_0: byte j holds x[j] (low nibble) and x[j+16] (high); x = (float)(q - 8) * d */
static LLVMValueRef q4_0(kiln_ir *ir, LLVMValueRef blk) {
    LLVMValueRef d = half_at(ir, blk, 0);
    LLVMValueRef b = bytes(ir, blk, 2, 16);
    LLVMValueRef lo = LLVMBuildAnd(ir->b, b, splat_i8(ir, 15, 16), "");
    LLVMValueRef hi = LLVMBuildLShr(ir->b, b, splat_i8(ir, 4, 16), "");
    int idx[32];
    for (int i = 0; i < 32; i++) idx[i] = i;
    LLVMValueRef q = shuffle_const(ir, lo, hi, idx, 32);
    q = LLVMBuildSub(ir->b, q, splat_i8(ir, 8, 32), "");
    return LLVMBuildFMul(ir->b, to_f32x32(ir, q, 1), kiln_ir_splat(ir, d, 32), "w");
}

/* q4_K group g: sub-block g's 6-bit scale and min (ir/quant_dequant.c
 * q4_k_scale_min), nibble half g % 2 of qs[32 (g / 2) ..]; x = d*sc*q - dmin*m */
static LLVMValueRef q4_k(kiln_ir *ir, LLVMValueRef blk, int g) {
    LLVMValueRef d = half_at(ir, blk, 0), dmin = half_at(ir, blk, 2);
    const int S = 4; /* scales[12] start */
    LLVMValueRef c63 = LLVMConstInt(ir->i8, 63, 0), c15 = LLVMConstInt(ir->i8, 15, 0);
    LLVMValueRef c4 = LLVMConstInt(ir->i8, 4, 0), c6 = LLVMConstInt(ir->i8, 6, 0);
    LLVMValueRef sc, m;
    if (g < 4) {
        sc = LLVMBuildAnd(ir->b, bytes(ir, blk, S + g, 1), c63, "");
        m = LLVMBuildAnd(ir->b, bytes(ir, blk, S + g + 4, 1), c63, "");
    } else {
        LLVMValueRef a = bytes(ir, blk, S + g + 4, 1), lo = bytes(ir, blk, S + g - 4, 1), hi = bytes(ir, blk, S + g, 1);
        sc = LLVMBuildOr(ir->b, LLVMBuildAnd(ir->b, a, c15, ""), LLVMBuildShl(ir->b, LLVMBuildLShr(ir->b, lo, c6, ""), c4, ""), "");
        m = LLVMBuildOr(ir->b, LLVMBuildLShr(ir->b, a, c4, ""), LLVMBuildShl(ir->b, LLVMBuildLShr(ir->b, hi, c6, ""), c4, ""), "");
    }
    LLVMValueRef dg = LLVMBuildFMul(ir->b, d, u8_to_f32(ir, sc), "dsc");
    LLVMValueRef mg = LLVMBuildFMul(ir->b, dmin, u8_to_f32(ir, m), "dm");
    LLVMValueRef q = bytes(ir, blk, 16 + 32 * (g / 2), 32);
    q = g % 2 ? LLVMBuildLShr(ir->b, q, splat_i8(ir, 4, 32), "") : LLVMBuildAnd(ir->b, q, splat_i8(ir, 15, 32), "");
    LLVMValueRef w = LLVMBuildFMul(ir->b, kiln_ir_splat(ir, dg, 32), to_f32x32(ir, q, 0), "");
    return LLVMBuildFSub(ir->b, w, kiln_ir_splat(ir, mg, 32), "w");
}

/* q6_K group g = 4 half + gg: outputs 128 half + 32 gg + l (l < 32) take
 * ql[64 half + 32 (gg & 1) + l] (nibble gg >> 1), bits 2gg of
 * qh[32 half + l], scale 8 half + 2 gg + l / 16; x = d*sc*(q - 32) */
static LLVMValueRef q6_k(kiln_ir *ir, LLVMValueRef blk, int g) {
    int half = g / 4, gg = g % 4;
    LLVMValueRef d = half_at(ir, blk, 208);
    LLVMValueRef ql = bytes(ir, blk, 64 * half + 32 * (gg & 1), 32);
    LLVMValueRef qh = bytes(ir, blk, 128 + 32 * half, 32);
    LLVMValueRef nib = gg >> 1 ? LLVMBuildLShr(ir->b, ql, splat_i8(ir, 4, 32), "") : LLVMBuildAnd(ir->b, ql, splat_i8(ir, 15, 32), "");
    LLVMValueRef hb = LLVMBuildAnd(ir->b, LLVMBuildLShr(ir->b, qh, splat_i8(ir, 2 * gg, 32), ""), splat_i8(ir, 3, 32), "");
    LLVMValueRef q = LLVMBuildOr(ir->b, nib, LLVMBuildShl(ir->b, hb, splat_i8(ir, 4, 32), ""), "");
    q = LLVMBuildSub(ir->b, q, splat_i8(ir, 32, 32), "");
    int so = 192 + 8 * half + 2 * gg;
    LLVMValueRef s0 = LLVMBuildFMul(ir->b, d, LLVMBuildSIToFP(ir->b, bytes(ir, blk, so, 1), ir->f32, ""), "s0");
    LLVMValueRef s1 = LLVMBuildFMul(ir->b, d, LLVMBuildSIToFP(ir->b, bytes(ir, blk, so + 1, 1), ir->f32, ""), "s1");
    return LLVMBuildFMul(ir->b, two_halves(ir, s0, s1), to_f32x32(ir, q, 1), "w");
}

LLVMValueRef cgq_decode32(kiln_ir *ir, uint32_t qtype, LLVMValueRef blk, int g) {
    switch (qtype) {
    case KILN_GGML_Q8_0: return q8_0(ir, blk);
    case KILN_GGML_Q4_0: return q4_0(ir, blk);
    case KILN_GGML_Q4_K: return q4_k(ir, blk, g);
    case KILN_GGML_Q6_K: return q6_k(ir, blk, g);
    default: return kiln_ir_f32c(ir, 0.0f, 32); /* cgq_supported keeps other types off this path */
    }
}
