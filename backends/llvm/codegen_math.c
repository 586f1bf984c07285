/* MATH ops of the kernel IR on register values (scalars or vectors), with
 * the semantics of docs/ops.md as passes/kernel_scalar.c implements them:
 * floats in their register type and rounded to the expression's type, ints
 * in wrapping i64 and truncated to their width, division by zero giving 0. */
#include <math.h>

#include "codegen_internal.h"
#include "kiln/scalar.h"

#define B (ir->b)

static LLVMValueRef fc(kiln_ir *ir, double v, LLVMValueRef like) {
    LLVMTypeRef t = LLVMTypeOf(like);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) t = LLVMGetElementType(t);
    return cg_const_f(ir, t, v, kiln_ir_width(like));
}
static LLVMValueRef ic(kiln_ir *ir, int64_t v, LLVMValueRef like) { return cg_const_i(ir, v, kiln_ir_width(like)); }
static LLVMValueRef intr1(kiln_ir *ir, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    return kiln_ir_intrinsic(ir, name, &t, 1, &x, 1);
}
static LLVMValueRef intr2(kiln_ir *ir, const char *name, LLVMValueRef x, LLVMValueRef y) {
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef a[2] = {x, y};
    return kiln_ir_intrinsic(ir, name, &t, 1, a, 2);
}
static LLVMValueRef fsel(kiln_ir *ir, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(B, c, a, b, ""); }
static LLVMValueRef fcmp(kiln_ir *ir, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFCmp(B, p, a, b, ""); }
static LLVMValueRef icmp(kiln_ir *ir, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(B, p, a, b, ""); }

static LLVMValueRef fsigmoid(kiln_ir *ir, LLVMValueRef x) {
    if (!cg_is_f64(x)) return kiln_ir_sigmoid(ir, x);
    LLVMValueRef e = cg_fexp(ir, LLVMBuildFNeg(B, x, ""));
    return LLVMBuildFDiv(B, fc(ir, 1, x), LLVMBuildFAdd(B, fc(ir, 1, x), e, ""), "");
}

static LLVMValueRef unary_float(kiln_ir *ir, kiln_op op, LLVMValueRef x) {
    int f32 = !cg_is_f64(x);
    switch (op) {
    case KILN_OP_NEG: return LLVMBuildFNeg(B, x, "");
    case KILN_OP_ABS: return intr1(ir, "llvm.fabs", x);
    case KILN_OP_SIGN: {
        LLVMValueRef pos = fcmp(ir, LLVMRealOGT, x, fc(ir, 0, x)), neg = fcmp(ir, LLVMRealOLT, x, fc(ir, 0, x));
        return fsel(ir, pos, fc(ir, 1, x), fsel(ir, neg, fc(ir, -1, x), x));
    }
    case KILN_OP_EXP: return cg_fexp(ir, x);
    case KILN_OP_LOG: return intr1(ir, "llvm.log", x);
    case KILN_OP_SQRT: return intr1(ir, "llvm.sqrt", x);
    case KILN_OP_RSQRT: return LLVMBuildFDiv(B, fc(ir, 1, x), intr1(ir, "llvm.sqrt", x), "");
    case KILN_OP_RECIP: return LLVMBuildFDiv(B, fc(ir, 1, x), x, "");
    case KILN_OP_TANH: return f32 ? kiln_ir_tanh(ir, x) : cg_libm(ir, "tanhf", "tanh", x);
    case KILN_OP_SIGMOID: return fsigmoid(ir, x);
    case KILN_OP_ERF: return f32 ? kiln_ir_erf(ir, x) : cg_libm(ir, "erff", "erf", x);
    case KILN_OP_SIN: return intr1(ir, "llvm.sin", x);
    case KILN_OP_COS: return intr1(ir, "llvm.cos", x);
    case KILN_OP_FLOOR: return intr1(ir, "llvm.floor", x);
    case KILN_OP_CEIL: return intr1(ir, "llvm.ceil", x);
    case KILN_OP_ROUND: return intr1(ir, "llvm.roundeven", x);
    case KILN_OP_RELU: return fsel(ir, fcmp(ir, LLVMRealOLT, x, fc(ir, 0, x)), fc(ir, 0, x), x);
    case KILN_OP_GELU:
        if (f32) return kiln_ir_gelu_erf(ir, x);
        return LLVMBuildFMul(B, LLVMBuildFMul(B, x, fc(ir, 0.5, x), ""),
                             LLVMBuildFAdd(B, fc(ir, 1, x), cg_libm(ir, "erff", "erf", LLVMBuildFMul(B, x, fc(ir, M_SQRT1_2, x), "")), ""), "");
    case KILN_OP_GELU_TANH: {
        if (f32) return kiln_ir_gelu_tanh(ir, x);
        LLVMValueRef x3 = LLVMBuildFMul(B, LLVMBuildFMul(B, x, x, ""), x, "");
        LLVMValueRef u = LLVMBuildFMul(B, fc(ir, sqrt(2.0 / M_PI), x), LLVMBuildFAdd(B, x, LLVMBuildFMul(B, fc(ir, 0.044715, x), x3, ""), ""), "");
        LLVMValueRef t = cg_libm(ir, "tanhf", "tanh", u);
        return LLVMBuildFMul(B, LLVMBuildFMul(B, fc(ir, 0.5, x), x, ""), LLVMBuildFAdd(B, fc(ir, 1, x), t, ""), "");
    }
    case KILN_OP_SILU: return f32 ? kiln_ir_silu(ir, x) : LLVMBuildFMul(B, x, fsigmoid(ir, x), "");
    case KILN_OP_TAN: return cg_libm(ir, "tanf", "tan", x);
    case KILN_OP_ASIN: return cg_libm(ir, "asinf", "asin", x);
    case KILN_OP_ACOS: return cg_libm(ir, "acosf", "acos", x);
    case KILN_OP_ATAN: return cg_libm(ir, "atanf", "atan", x);
    case KILN_OP_SINH: return cg_libm(ir, "sinhf", "sinh", x);
    case KILN_OP_COSH: return cg_libm(ir, "coshf", "cosh", x);
    case KILN_OP_ASINH: return cg_libm(ir, "asinhf", "asinh", x);
    case KILN_OP_ACOSH: return cg_libm(ir, "acoshf", "acosh", x);
    case KILN_OP_ATANH: return cg_libm(ir, "atanhf", "atanh", x);
    default: return x;
    }
}

static LLVMValueRef unary_int(kiln_ir *ir, kiln_op op, LLVMValueRef x) {
    LLVMValueRef zero = ic(ir, 0, x);
    switch (op) {
    case KILN_OP_NEG: return LLVMBuildSub(B, zero, x, "");
    case KILN_OP_ABS: return fsel(ir, icmp(ir, LLVMIntSLT, x, zero), LLVMBuildSub(B, zero, x, ""), x);
    case KILN_OP_SIGN:
        return LLVMBuildSub(B, cg_from_i1(ir, icmp(ir, LLVMIntSGT, x, zero)), cg_from_i1(ir, icmp(ir, LLVMIntSLT, x, zero)), "");
    case KILN_OP_RELU: return fsel(ir, icmp(ir, LLVMIntSGT, x, zero), x, zero);
    case KILN_OP_BITNOT: return LLVMBuildNot(B, x, "");
    default: return x;
    }
}

LLVMValueRef cg_math_unary(kiln_ir *ir, kiln_op op, kiln_dtype t, LLVMValueRef x) {
    if (op == KILN_OP_NOT) return cg_from_i1(ir, icmp(ir, LLVMIntEQ, x, ic(ir, 0, x)));
    if (kiln_dtype_is_float(t)) return cg_round(ir, t, unary_float(ir, op, x));
    return cg_round(ir, t, unary_int(ir, op, x));
}

/* ---- binary ---- */

/* a max/min that propagates NaN from either side, else a > b ? a : b. */
static LLVMValueRef fmaxmin(kiln_ir *ir, int is_max, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef pick = fcmp(ir, is_max ? LLVMRealOGT : LLVMRealOLT, a, b);
    LLVMValueRef r = fsel(ir, pick, a, b);
    LLVMValueRef nan = fcmp(ir, LLVMRealUNO, a, b);
    return fsel(ir, nan, LLVMBuildFAdd(B, a, b, ""), r); /* NaN + anything = NaN */
}

static LLVMValueRef binary_float(kiln_ir *ir, kiln_op op, LLVMValueRef a, LLVMValueRef b) {
    switch (op) {
    case KILN_OP_ADD: return LLVMBuildFAdd(B, a, b, "");
    case KILN_OP_SUB: return LLVMBuildFSub(B, a, b, "");
    case KILN_OP_MUL: return LLVMBuildFMul(B, a, b, "");
    case KILN_OP_DIV: return LLVMBuildFDiv(B, a, b, "");
    case KILN_OP_POW: return intr2(ir, "llvm.pow", a, b);
    case KILN_OP_FMOD: return LLVMBuildFRem(B, a, b, "");
    case KILN_OP_MOD: {
        LLVMValueRef r = LLVMBuildFRem(B, a, b, "");
        LLVMValueRef zero = fc(ir, 0, a);
        LLVMValueRef fix = LLVMBuildAnd(B, fcmp(ir, LLVMRealUNE, r, zero),
                                        LLVMBuildXor(B, fcmp(ir, LLVMRealOLT, r, zero), fcmp(ir, LLVMRealOLT, b, zero), ""), "");
        /* UNE is true for NaN: NaN + b stays NaN */
        return fsel(ir, fix, LLVMBuildFAdd(B, r, b, ""), r);
    }
    case KILN_OP_MAX: return fmaxmin(ir, 1, a, b);
    case KILN_OP_MIN: return fmaxmin(ir, 0, a, b);
    case KILN_OP_EQ: return cg_from_i1(ir, fcmp(ir, LLVMRealOEQ, a, b));
    case KILN_OP_NE: return cg_from_i1(ir, fcmp(ir, LLVMRealUNE, a, b));
    case KILN_OP_LT: return cg_from_i1(ir, fcmp(ir, LLVMRealOLT, a, b));
    case KILN_OP_LE: return cg_from_i1(ir, fcmp(ir, LLVMRealOLE, a, b));
    case KILN_OP_GT: return cg_from_i1(ir, fcmp(ir, LLVMRealOGT, a, b));
    case KILN_OP_GE: return cg_from_i1(ir, fcmp(ir, LLVMRealOGE, a, b));
    default: return fc(ir, 0, a);
    }
}

/* b^e with wrapping multiplication; e < 0 gives 1 for b = 1, +-1 for
 * b = -1 and 0 otherwise. A loop over the exponent's 64 bits. */
static LLVMValueRef ipow(kiln_ir *ir, LLVMValueRef base, LLVMValueRef e) {
    LLVMValueRef one = ic(ir, 1, base), zero = ic(ir, 0, base);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), kiln_ir_i64c(ir, 64), kiln_ir_i64c(ir, 1), "ipow");
    LLVMValueRef r = kiln_ir_loop_carry(ir, &l, one);
    LLVMValueRef bb = kiln_ir_loop_carry(ir, &l, base);
    LLVMValueRef ee = kiln_ir_loop_carry(ir, &l, e);
    LLVMValueRef bit = icmp(ir, LLVMIntNE, LLVMBuildAnd(B, ee, one, ""), zero);
    kiln_ir_loop_set_next(&l, r, fsel(ir, bit, LLVMBuildMul(B, r, bb, ""), r));
    kiln_ir_loop_set_next(&l, bb, LLVMBuildMul(B, bb, bb, ""));
    kiln_ir_loop_set_next(&l, ee, LLVMBuildLShr(B, ee, one, ""));
    kiln_ir_loop_end(ir, &l);
    LLVMValueRef neg_e = icmp(ir, LLVMIntSLT, e, zero);
    LLVMValueRef odd = icmp(ir, LLVMIntNE, LLVMBuildAnd(B, e, one, ""), zero);
    LLVMValueRef m1 = ic(ir, -1, base);
    LLVMValueRef neg_r = fsel(ir, icmp(ir, LLVMIntEQ, base, one), one,
                              fsel(ir, icmp(ir, LLVMIntEQ, base, m1), fsel(ir, odd, m1, one), zero));
    return fsel(ir, neg_e, neg_r, r);
}

static LLVMValueRef shift(kiln_ir *ir, kiln_op op, kiln_dtype t, LLVMValueRef a, LLVMValueRef b) {
    int bits = (int)kiln_dtype_size(t) * 8;
    LLVMValueRef zero = ic(ir, 0, a);
    LLVMValueRef out = LLVMBuildOr(B, icmp(ir, LLVMIntSLT, b, zero), icmp(ir, LLVMIntSGE, b, ic(ir, bits, a)), "");
    LLVMValueRef sb = fsel(ir, out, zero, b); /* a shift by >= 64 is poison in LLVM */
    if (op == KILN_OP_SHL) return fsel(ir, out, zero, LLVMBuildShl(B, a, sb, ""));
    int uns = t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_U64;
    if (uns) {
        LLVMValueRef v = a;
        if (bits < 64) v = LLVMBuildAnd(B, a, ic(ir, (int64_t)((UINT64_C(1) << bits) - 1), a), "");
        return fsel(ir, out, zero, LLVMBuildLShr(B, v, sb, ""));
    }
    LLVMValueRef sat = fsel(ir, icmp(ir, LLVMIntSLT, a, zero), ic(ir, -1, a), zero);
    return fsel(ir, out, sat, LLVMBuildAShr(B, a, sb, ""));
}

static LLVMValueRef binary_int(kiln_ir *ir, kiln_op op, kiln_dtype in, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef zero = ic(ir, 0, a), m1 = ic(ir, -1, a);
    switch (op) {
    case KILN_OP_ADD: return LLVMBuildAdd(B, a, b, "");
    case KILN_OP_SUB: return LLVMBuildSub(B, a, b, "");
    case KILN_OP_MUL: return LLVMBuildMul(B, a, b, "");
    case KILN_OP_DIV:
    case KILN_OP_MOD:
    case KILN_OP_FMOD: {
        /* b = 0 -> 0; b = -1 -> -a (div) or 0; never a trapping division */
        LLVMValueRef bz = icmp(ir, LLVMIntEQ, b, zero), bm1 = icmp(ir, LLVMIntEQ, b, m1);
        LLVMValueRef safe = fsel(ir, LLVMBuildOr(B, bz, bm1, ""), ic(ir, 1, a), b);
        if (op == KILN_OP_DIV)
            return fsel(ir, bz, zero, fsel(ir, bm1, LLVMBuildSub(B, zero, a, ""), LLVMBuildSDiv(B, a, safe, "")));
        LLVMValueRef r = LLVMBuildSRem(B, a, safe, "");
        if (op == KILN_OP_MOD) {
            LLVMValueRef fix = LLVMBuildAnd(B, icmp(ir, LLVMIntNE, r, zero),
                                            LLVMBuildXor(B, icmp(ir, LLVMIntSLT, r, zero), icmp(ir, LLVMIntSLT, b, zero), ""), "");
            r = fsel(ir, fix, LLVMBuildAdd(B, r, b, ""), r);
        }
        return fsel(ir, LLVMBuildOr(B, bz, bm1, ""), zero, r);
    }
    case KILN_OP_POW: return ipow(ir, a, b);
    case KILN_OP_BITAND: return LLVMBuildAnd(B, a, b, "");
    case KILN_OP_BITOR: return LLVMBuildOr(B, a, b, "");
    case KILN_OP_BITXOR: return LLVMBuildXor(B, a, b, "");
    case KILN_OP_SHL:
    case KILN_OP_SHR: return shift(ir, op, in, a, b);
    case KILN_OP_MAX: return fsel(ir, icmp(ir, LLVMIntSGT, a, b), a, b);
    case KILN_OP_MIN: return fsel(ir, icmp(ir, LLVMIntSLT, a, b), a, b);
    case KILN_OP_EQ: return cg_from_i1(ir, icmp(ir, LLVMIntEQ, a, b));
    case KILN_OP_NE: return cg_from_i1(ir, icmp(ir, LLVMIntNE, a, b));
    case KILN_OP_LT: return cg_from_i1(ir, icmp(ir, LLVMIntSLT, a, b));
    case KILN_OP_LE: return cg_from_i1(ir, icmp(ir, LLVMIntSLE, a, b));
    case KILN_OP_GT: return cg_from_i1(ir, icmp(ir, LLVMIntSGT, a, b));
    case KILN_OP_GE: return cg_from_i1(ir, icmp(ir, LLVMIntSGE, a, b));
    case KILN_OP_AND: return cg_from_i1(ir, LLVMBuildAnd(B, cg_to_i1(ir, a), cg_to_i1(ir, b), ""));
    case KILN_OP_OR: return cg_from_i1(ir, LLVMBuildOr(B, cg_to_i1(ir, a), cg_to_i1(ir, b), ""));
    case KILN_OP_XOR: return cg_from_i1(ir, LLVMBuildXor(B, cg_to_i1(ir, a), cg_to_i1(ir, b), ""));
    default: return zero;
    }
}

LLVMValueRef cg_math_binary(kiln_ir *ir, kiln_op op, kiln_dtype in, kiln_dtype out, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef r = kiln_dtype_is_float(in) ? binary_float(ir, op, a, b) : binary_int(ir, op, in, a, b);
    return cg_round(ir, out, r);
}

/* The CPU emits every op of kiln's scalar semantics (ir/scalar.c). */
int cg_math_supported(kiln_op op, int arity) { return kiln_scalar_supported(op, arity); }

/* ---- reductions ---- */

LLVMValueRef cg_combine(kiln_ir *ir, cg_rop op, int is_float, LLVMValueRef a, LLVMValueRef b) {
    if (is_float) {
        switch (op) {
        case CG_RADD: return LLVMBuildFAdd(B, a, b, "");
        case CG_RMUL: return LLVMBuildFMul(B, a, b, "");
        case CG_RMAX: return fmaxmin(ir, 1, a, b);
        case CG_RMIN: return fmaxmin(ir, 0, a, b);
        }
    }
    switch (op) {
    case CG_RADD: return LLVMBuildAdd(B, a, b, "");
    case CG_RMUL: return LLVMBuildMul(B, a, b, "");
    case CG_RMAX: return fsel(ir, icmp(ir, LLVMIntSGT, a, b), a, b);
    case CG_RMIN: return fsel(ir, icmp(ir, LLVMIntSLT, a, b), a, b);
    }
    return a;
}

/* Halves the vector until one lane is left (a tree: the same partial sums
 * whatever the machine's vector width). */
LLVMValueRef cg_hreduce(kiln_ir *ir, cg_rop op, int is_float, LLVMValueRef v) {
    int w = kiln_ir_width(v);
    while (w > 1) {
        int h = w / 2;
        LLVMValueRef lo[32], hi[32];
        for (int i = 0; i < h; i++) {
            lo[i] = kiln_ir_i32c(ir, i);
            hi[i] = kiln_ir_i32c(ir, i + h);
        }
        LLVMValueRef poison = LLVMGetPoison(LLVMTypeOf(v));
        LLVMValueRef a = LLVMBuildShuffleVector(B, v, poison, LLVMConstVector(lo, (unsigned)h), "");
        LLVMValueRef b = LLVMBuildShuffleVector(B, v, poison, LLVMConstVector(hi, (unsigned)h), "");
        if (h == 1) {
            a = LLVMBuildExtractElement(B, a, kiln_ir_i32c(ir, 0), "");
            b = LLVMBuildExtractElement(B, b, kiln_ir_i32c(ir, 0), "");
        }
        v = cg_combine(ir, op, is_float, a, b);
        w = h;
    }
    return v;
}
