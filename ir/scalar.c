/* Scalar op semantics shared by the reference interpreter and the kernel
 * evaluator (include/kiln/scalar.h). */
#include <math.h>
#include <string.h>

#include "kiln/scalar.h"

static int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

kiln_scalar kiln_scalar_load(const void *data, kiln_dtype t, size_t i) {
    kiln_scalar v = {0, 0};
    if (t == KILN_BOOL) v.i = ((const uint8_t *)data)[i] != 0;
    else if (kiln_dtype_is_float(t)) v.f = kiln_load_f64(data, t, i);
    else v.i = kiln_load_i64(data, t, i);
    return v;
}

void kiln_scalar_store(void *data, kiln_dtype t, size_t i, kiln_scalar v) {
    if (t == KILN_BOOL) ((uint8_t *)data)[i] = v.i != 0;
    else if (kiln_dtype_is_float(t)) kiln_store_f64(data, t, i, v.f);
    else kiln_store_i64(data, t, i, v.i);
}

kiln_scalar kiln_scalar_round(kiln_dtype t, kiln_scalar v) {
    unsigned char tmp[8];
    if (t == KILN_F64) return v;
    kiln_scalar_store(tmp, t, 0, v);
    return kiln_scalar_load(tmp, t, 0);
}

double kiln_scalar_as_double(kiln_dtype t, kiln_scalar v) {
    if (kiln_dtype_is_float(t)) return v.f;
    if (t == KILN_U64) return (double)(uint64_t)v.i;
    return (double)v.i;
}

int64_t kiln_scalar_f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static double half_even(double x) {
    double r = floor(x), frac = x - r;
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return r == 0.0 ? copysign(0.0, x) : r;
}

static double unary_f(kiln_op op, double x) {
    switch (op) {
    case KILN_OP_NEG: return -x;
    case KILN_OP_ABS: return fabs(x);
    case KILN_OP_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case KILN_OP_EXP: return exp(x);
    case KILN_OP_LOG: return log(x);
    case KILN_OP_SQRT: return sqrt(x);
    case KILN_OP_RSQRT: return 1.0 / sqrt(x);
    case KILN_OP_RECIP: return 1.0 / x;
    case KILN_OP_TANH: return tanh(x);
    case KILN_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case KILN_OP_ERF: return erf(x);
    case KILN_OP_SIN: return sin(x);
    case KILN_OP_COS: return cos(x);
    case KILN_OP_FLOOR: return floor(x);
    case KILN_OP_CEIL: return ceil(x);
    case KILN_OP_ROUND: return half_even(x);
    case KILN_OP_RELU: return x > 0 ? x : (x != x ? x : 0.0);
    case KILN_OP_SILU: return x * (1.0 / (1.0 + exp(-x)));
    case KILN_OP_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case KILN_OP_TAN: return tan(x);
    case KILN_OP_ASIN: return asin(x);
    case KILN_OP_ACOS: return acos(x);
    case KILN_OP_ATAN: return atan(x);
    case KILN_OP_SINH: return sinh(x);
    case KILN_OP_COSH: return cosh(x);
    case KILN_OP_ASINH: return asinh(x);
    case KILN_OP_ACOSH: return acosh(x);
    case KILN_OP_ATANH: return atanh(x);
    case KILN_OP_GELU_TANH: {
        double u = sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x);
        return 0.5 * x * (1.0 + tanh(u));
    }
    default: return x;
    }
}

kiln_scalar kiln_scalar_unary(kiln_op op, kiln_dtype t, kiln_scalar x) {
    kiln_scalar r = {0, 0};
    if (op == KILN_OP_NOT) {
        r.i = !x.i;
        return r;
    }
    if (kiln_dtype_is_float(t)) {
        r.f = unary_f(op, x.f);
        return kiln_scalar_round(t, r);
    }
    switch (op) {
    case KILN_OP_NEG: r.i = wsub(0, x.i); break;
    case KILN_OP_ABS: r.i = x.i < 0 ? wsub(0, x.i) : x.i; break;
    case KILN_OP_SIGN: r.i = (x.i > 0) - (x.i < 0); break;
    case KILN_OP_RELU: r.i = x.i > 0 ? x.i : 0; break;
    case KILN_OP_BITNOT: r.i = ~x.i; break;
    default: r.i = x.i; break;
    }
    return kiln_scalar_round(t, r);
}

static int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    int64_t r = 1;
    for (; e; e >>= 1) {
        if (e & 1) r = wmul(r, base);
        base = wmul(base, base);
    }
    return r;
}

static int is_unsigned(kiln_dtype t) { return t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_U64; }

/* Shifts by a count outside [0, bits) give 0 (shr of a negative signed
 * value: -1); shr is logical on unsigned types, arithmetic on signed. */
static int64_t shift(kiln_op op, kiln_dtype t, int64_t a, int64_t b) {
    int bits = (int)kiln_dtype_size(t) * 8;
    uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    if (op == KILN_OP_SHL) return b < 0 || b >= bits ? 0 : (int64_t)((uint64_t)a << b);
    if (is_unsigned(t)) return b < 0 || b >= bits ? 0 : (int64_t)(((uint64_t)a & mask) >> b);
    if (b < 0 || b >= bits) return a < 0 ? -1 : 0;
    return a < 0 ? ~((~a) >> b) : a >> b;
}

static double binary_f(kiln_op op, double a, double b) {
    switch (op) {
    case KILN_OP_ADD: return a + b;
    case KILN_OP_SUB: return a - b;
    case KILN_OP_MUL: return a * b;
    case KILN_OP_DIV: return a / b;
    case KILN_OP_POW: return pow(a, b);
    case KILN_OP_MOD: {
        double r = fmod(a, b);
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    case KILN_OP_FMOD: return fmod(a, b);
    case KILN_OP_MAX: return a != a || b != b ? NAN : a > b ? a : b;
    case KILN_OP_MIN: return a != a || b != b ? NAN : a < b ? a : b;
    case KILN_OP_EQ: return a == b;
    case KILN_OP_NE: return a != b;
    case KILN_OP_LT: return a < b;
    case KILN_OP_LE: return a <= b;
    case KILN_OP_GT: return a > b;
    case KILN_OP_GE: return a >= b;
    default: return 0;
    }
}

static int64_t binary_i(kiln_op op, int64_t a, int64_t b) {
    switch (op) {
    case KILN_OP_ADD: return wadd(a, b);
    case KILN_OP_SUB: return wsub(a, b);
    case KILN_OP_MUL: return wmul(a, b);
    case KILN_OP_DIV: return b == 0 ? 0 : b == -1 ? wsub(0, a) : a / b;
    case KILN_OP_POW: return ipow(a, b);
    case KILN_OP_MOD: {
        if (b == 0 || b == -1) return 0;
        int64_t r = a % b;
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }
    case KILN_OP_FMOD: return b == 0 || b == -1 ? 0 : a % b;
    case KILN_OP_BITAND: return a & b;
    case KILN_OP_BITOR: return a | b;
    case KILN_OP_BITXOR: return a ^ b;
    case KILN_OP_MAX: return a > b ? a : b;
    case KILN_OP_MIN: return a < b ? a : b;
    case KILN_OP_EQ: return a == b;
    case KILN_OP_NE: return a != b;
    case KILN_OP_LT: return a < b;
    case KILN_OP_LE: return a <= b;
    case KILN_OP_GT: return a > b;
    case KILN_OP_GE: return a >= b;
    case KILN_OP_AND: return (a != 0) & (b != 0);
    case KILN_OP_OR: return (a != 0) | (b != 0);
    case KILN_OP_XOR: return (a != 0) ^ (b != 0);
    default: return 0;
    }
}

kiln_scalar kiln_scalar_binary(kiln_op op, kiln_dtype in, kiln_dtype out, kiln_scalar a, kiln_scalar b) {
    kiln_scalar r = {0, 0};
    if (kiln_dtype_is_float(in)) {
        double v = binary_f(op, a.f, b.f);
        if (out == KILN_BOOL) r.i = v != 0;
        else r.f = v;
    } else if (op == KILN_OP_SHL || op == KILN_OP_SHR) {
        r.i = shift(op, in, a.i, b.i);
    } else {
        r.i = binary_i(op, a.i, b.i);
    }
    return kiln_scalar_round(out, r);
}

kiln_scalar kiln_scalar_cast(kiln_dtype from, kiln_dtype to, kiln_scalar x) {
    kiln_scalar r = {0, 0};
    if (to == KILN_BOOL) {
        r.i = kiln_dtype_is_float(from) ? x.f != 0.0 : x.i != 0;
        return r;
    }
    if (kiln_dtype_is_float(to)) {
        r.f = kiln_scalar_as_double(from, x);
        return kiln_scalar_round(to, r);
    }
    if (!kiln_dtype_is_float(from)) {
        r.i = x.i;
        return kiln_scalar_round(to, r); /* ints wrap */
    }
    /* float -> int truncates toward zero and saturates at the target range */
    double v = x.f;
    if (to == KILN_U64) {
        uint64_t u = v != v || v <= 0 ? 0 : v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
        memcpy(&r.i, &u, sizeof u);
        return r;
    }
    int64_t lo, hi;
    switch (to) {
    case KILN_I8: lo = INT8_MIN, hi = INT8_MAX; break;
    case KILN_I16: lo = INT16_MIN, hi = INT16_MAX; break;
    case KILN_I32: lo = INT32_MIN, hi = INT32_MAX; break;
    case KILN_U8: lo = 0, hi = UINT8_MAX; break;
    case KILN_U16: lo = 0, hi = UINT16_MAX; break;
    case KILN_U32: lo = 0, hi = UINT32_MAX; break;
    default: lo = INT64_MIN, hi = INT64_MAX; break;
    }
    int64_t i = kiln_scalar_f64_to_i64(v);
    r.i = i < lo ? lo : i > hi ? hi : i;
    return r;
}

/* The bit pattern of x (of type t) in the low bits of a uint64. Float
 * values of f16/bf16 type are exactly representable, so narrowing them
 * back gives their bits. */
static uint64_t bits_of(kiln_dtype t, kiln_scalar x) {
    switch (t) {
    case KILN_F16: return kiln_f32_to_f16((float)x.f);
    case KILN_BF16: return kiln_f32_to_bf16((float)x.f);
    case KILN_F32: {
        float f = (float)x.f;
        uint32_t u;
        memcpy(&u, &f, 4);
        return u;
    }
    case KILN_F64: {
        uint64_t u;
        memcpy(&u, &x.f, 8);
        return u;
    }
    default: return (uint64_t)x.i;
    }
}

kiln_scalar kiln_scalar_bitcast(kiln_dtype from, kiln_dtype to, kiln_scalar x) {
    kiln_scalar r = {0, 0};
    int bits = (int)kiln_dtype_size(from) * 8;
    uint64_t u = bits_of(from, x) & (bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1);
    switch (to) {
    case KILN_F16: r.f = kiln_f16_to_f32((uint16_t)u); break;
    case KILN_BF16: r.f = kiln_bf16_to_f32((uint16_t)u); break;
    case KILN_F32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        r.f = f;
        break;
    }
    case KILN_F64: memcpy(&r.f, &u, 8); break;
    default:
        r.i = (int64_t)u;
        r = kiln_scalar_round(to, r); /* sign-extends the signed types */
        break;
    }
    return r;
}

int kiln_scalar_supported(kiln_op op, int arity) {
    static const kiln_op unary[] = {
        KILN_OP_NEG, KILN_OP_ABS, KILN_OP_SIGN, KILN_OP_EXP, KILN_OP_LOG, KILN_OP_SQRT, KILN_OP_RSQRT, KILN_OP_RECIP,
        KILN_OP_TANH, KILN_OP_SIGMOID, KILN_OP_ERF, KILN_OP_SIN, KILN_OP_COS, KILN_OP_FLOOR, KILN_OP_CEIL,
        KILN_OP_ROUND, KILN_OP_RELU, KILN_OP_GELU, KILN_OP_GELU_TANH, KILN_OP_SILU, KILN_OP_NOT, KILN_OP_TAN,
        KILN_OP_ASIN, KILN_OP_ACOS, KILN_OP_ATAN, KILN_OP_SINH, KILN_OP_COSH, KILN_OP_ASINH, KILN_OP_ACOSH,
        KILN_OP_ATANH, KILN_OP_BITNOT};
    static const kiln_op binary[] = {
        KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL, KILN_OP_DIV, KILN_OP_POW, KILN_OP_MOD, KILN_OP_MAX, KILN_OP_MIN,
        KILN_OP_EQ, KILN_OP_NE, KILN_OP_LT, KILN_OP_LE, KILN_OP_GT, KILN_OP_GE, KILN_OP_AND, KILN_OP_OR,
        KILN_OP_XOR, KILN_OP_FMOD, KILN_OP_BITAND, KILN_OP_BITOR, KILN_OP_BITXOR, KILN_OP_SHL, KILN_OP_SHR};
    const kiln_op *list = arity == 1 ? unary : binary;
    size_t n = arity == 1 ? sizeof unary / sizeof unary[0] : sizeof binary / sizeof binary[0];
    if (arity != 1 && arity != 2) return 0;
    for (size_t i = 0; i < n; i++)
        if (list[i] == op) return 1;
    return 0;
}
