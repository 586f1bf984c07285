/* Vector math for kernels, on f32 scalars or vectors of any width. Everything
 * derives from one exp: polynomial on a reduced argument, scaled by 2^n built
 * from exponent bits. Coefficients are the classic Cephes single-precision
 * minimax fits (documented constants, not code). */
#include "llvm_internal.h"

static LLVMValueRef c(kiln_ir *ir, float v, LLVMValueRef like) { return kiln_ir_f32c(ir, v, kiln_ir_width(like)); }

static LLVMValueRef fmul(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(ir->b, a, b, ""); }
static LLVMValueRef fadd(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(ir->b, a, b, ""); }
static LLVMValueRef fsub(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(ir->b, a, b, ""); }
static LLVMValueRef fdiv(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(ir->b, a, b, ""); }
static LLVMValueRef fcmp(kiln_ir *ir, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(ir->b, p, a, b, "");
}
static LLVMValueRef sel(kiln_ir *ir, LLVMValueRef m, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(ir->b, m, a, b, "");
}
static LLVMValueRef unary(kiln_ir *ir, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    return kiln_ir_intrinsic(ir, name, &t, 1, &x, 1);
}
/* Horner evaluation of coef[0]*x^(n-1) + ... + coef[n-1]. */
static LLVMValueRef horner(kiln_ir *ir, LLVMValueRef x, const float *coef, int n) {
    LLVMValueRef p = c(ir, coef[0], x);
    for (int i = 1; i < n; i++)
        p = kiln_ir_fma(ir, p, x, c(ir, coef[i], x));
    return p;
}

/* 2^n for an integer-valued float n in [-64, 64]: exponent bits. */
static LLVMValueRef pow2(kiln_ir *ir, LLVMValueRef n) {
    int w = kiln_ir_width(n);
    LLVMTypeRef it = kiln_ir_vec_t(ir, ir->i32, w);
    LLVMValueRef ni = LLVMBuildFPToSI(ir->b, n, it, "");
    LLVMValueRef lanes[64];
    LLVMValueRef bias = LLVMConstInt(ir->i32, 127, 0), shift = LLVMConstInt(ir->i32, 23, 0);
    for (int i = 0; i < w; i++)
        lanes[i] = bias;
    LLVMValueRef vb = w == 1 ? bias : LLVMConstVector(lanes, (unsigned)w);
    for (int i = 0; i < w; i++)
        lanes[i] = shift;
    LLVMValueRef vs = w == 1 ? shift : LLVMConstVector(lanes, (unsigned)w);
    LLVMValueRef bits = LLVMBuildShl(ir->b, LLVMBuildAdd(ir->b, ni, vb, ""), vs, "");
    return LLVMBuildBitCast(ir->b, bits, LLVMTypeOf(n), "pow2");
}

LLVMValueRef kiln_ir_exp(kiln_ir *ir, LLVMValueRef x) {
    const float hi = 88.72283935546875f; /* largest x with finite exp(x) */
    const float lo = -103.972084045410f; /* below this exp(x) rounds to 0 */
    LLVMValueRef args[2] = {x, c(ir, hi, x)};
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef xc = kiln_ir_intrinsic(ir, "llvm.minnum", &t, 1, args, 2);
    args[0] = xc;
    args[1] = c(ir, lo, x);
    xc = kiln_ir_intrinsic(ir, "llvm.maxnum", &t, 1, args, 2);

    /* x = n ln2 + r, |r| <= ln2/2; ln2 split in two for an exact n*ln2_hi. */
    LLVMValueRef n = unary(ir, "llvm.rint", fmul(ir, xc, c(ir, 1.44269504088896341f, x)));
    LLVMValueRef r = kiln_ir_fma(ir, n, c(ir, -0.693359375f, x), xc);
    r = kiln_ir_fma(ir, n, c(ir, 2.12194440e-4f, x), r);
    static const float p[] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f,
                              4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};
    LLVMValueRef poly = horner(ir, r, p, 6);
    LLVMValueRef r2 = fmul(ir, r, r);
    LLVMValueRef e = fadd(ir, kiln_ir_fma(ir, poly, r2, r), c(ir, 1.0f, x));

    /* n is in [-150, 128]: scale by 2^(n/2) twice so each factor is a normal float. */
    LLVMValueRef half = unary(ir, "llvm.floor", fmul(ir, n, c(ir, 0.5f, x)));
    e = fmul(ir, fmul(ir, e, pow2(ir, half)), pow2(ir, fsub(ir, n, half)));

    e = sel(ir, fcmp(ir, LLVMRealOGT, x, c(ir, hi, x)), c(ir, __builtin_inff(), x), e);
    e = sel(ir, fcmp(ir, LLVMRealOLT, x, c(ir, lo, x)), c(ir, 0.0f, x), e);
    return sel(ir, fcmp(ir, LLVMRealUNO, x, x), x, e);
}

LLVMValueRef kiln_ir_sigmoid(kiln_ir *ir, LLVMValueRef x) {
    LLVMValueRef e = kiln_ir_exp(ir, LLVMBuildFNeg(ir->b, x, ""));
    return fdiv(ir, c(ir, 1.0f, x), fadd(ir, c(ir, 1.0f, x), e));
}

LLVMValueRef kiln_ir_tanh(kiln_ir *ir, LLVMValueRef x) {
    LLVMValueRef ax = unary(ir, "llvm.fabs", x);
    /* Small |x|: odd polynomial (no cancellation). */
    static const float p[] = {-5.70498872745E-3f, 2.06390887954E-2f, -5.37397155531E-2f, 1.33314422036E-1f,
                              -3.33332819422E-1f};
    LLVMValueRef x2 = fmul(ir, x, x);
    LLVMValueRef small = kiln_ir_fma(ir, fmul(ir, horner(ir, x2, p, 5), x2), x, x);
    /* Large |x|: 1 - 2/(e^{2|x|} + 1), sign restored. */
    LLVMValueRef e = kiln_ir_exp(ir, fmul(ir, ax, c(ir, 2.0f, x)));
    LLVMValueRef big = fsub(ir, c(ir, 1.0f, x), fdiv(ir, c(ir, 2.0f, x), fadd(ir, e, c(ir, 1.0f, x))));
    LLVMValueRef args[2] = {big, x};
    LLVMTypeRef t = LLVMTypeOf(x);
    big = kiln_ir_intrinsic(ir, "llvm.copysign", &t, 1, args, 2);
    return sel(ir, fcmp(ir, LLVMRealOLT, ax, c(ir, 0.625f, x)), small, big);
}

LLVMValueRef kiln_ir_erf(kiln_ir *ir, LLVMValueRef x) {
    /* Abramowitz & Stegun 7.1.26 on |x|, sign restored. */
    LLVMValueRef ax = unary(ir, "llvm.fabs", x);
    LLVMValueRef t = fdiv(ir, c(ir, 1.0f, x), kiln_ir_fma(ir, ax, c(ir, 0.3275911f, x), c(ir, 1.0f, x)));
    static const float a[] = {1.061405429f, -1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f, 0.0f};
    LLVMValueRef poly = horner(ir, t, a, 6);
    LLVMValueRef e = kiln_ir_exp(ir, LLVMBuildFNeg(ir->b, fmul(ir, ax, ax), ""));
    LLVMValueRef y = fsub(ir, c(ir, 1.0f, x), fmul(ir, poly, e));
    LLVMValueRef args[2] = {y, x};
    LLVMTypeRef ty = LLVMTypeOf(x);
    return kiln_ir_intrinsic(ir, "llvm.copysign", &ty, 1, args, 2);
}

LLVMValueRef kiln_ir_gelu_tanh(kiln_ir *ir, LLVMValueRef x) {
    /* 0.5 x (1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3):
     * one exp, no cancellation, and exact 0 / x at the extremes. */
    LLVMValueRef x3 = fmul(ir, fmul(ir, x, x), x);
    LLVMValueRef u = fmul(ir, kiln_ir_fma(ir, x3, c(ir, 0.044715f, x), x), c(ir, 2.0f * 0.7978845608028654f, x));
    return fmul(ir, x, kiln_ir_sigmoid(ir, u));
}

LLVMValueRef kiln_ir_gelu_erf(kiln_ir *ir, LLVMValueRef x) {
    LLVMValueRef e = kiln_ir_erf(ir, fmul(ir, x, c(ir, 0.70710678118654752f, x)));
    return fmul(ir, fmul(ir, x, c(ir, 0.5f, x)), fadd(ir, e, c(ir, 1.0f, x)));
}

LLVMValueRef kiln_ir_silu(kiln_ir *ir, LLVMValueRef x) { return fmul(ir, x, kiln_ir_sigmoid(ir, x)); }

LLVMValueRef kiln_ir_relu(kiln_ir *ir, LLVMValueRef x) {
    /* select keeps NaN (maxnum would turn it into 0). */
    return sel(ir, fcmp(ir, LLVMRealOLT, x, c(ir, 0.0f, x)), c(ir, 0.0f, x), x);
}
