/* Elementwise unary ops and cast. */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

/* Round half to even without depending on the FPU rounding mode. */
static double round_half_even(double x) {
    double r = floor(x), frac = x - r;
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return r == 0.0 ? copysign(0.0, x) : r;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double unary_f(kiln_op op, double x) {
    switch (op) {
    case KILN_OP_NEG: return -x;
    case KILN_OP_ABS: return fabs(x);
    case KILN_OP_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x; /* keeps +-0 and NaN */
    case KILN_OP_EXP: return exp(x);
    case KILN_OP_LOG: return log(x);
    case KILN_OP_SQRT: return sqrt(x);
    case KILN_OP_RSQRT: return 1.0 / sqrt(x);
    case KILN_OP_RECIP: return 1.0 / x;
    case KILN_OP_TANH: return tanh(x);
    case KILN_OP_SIGMOID: return sigmoid(x);
    case KILN_OP_ERF: return erf(x);
    case KILN_OP_SIN: return sin(x);
    case KILN_OP_COS: return cos(x);
    case KILN_OP_FLOOR: return floor(x);
    case KILN_OP_CEIL: return ceil(x);
    case KILN_OP_ROUND: return round_half_even(x);
    case KILN_OP_RELU: return x > 0 ? x : (x != x ? x : 0.0);
    case KILN_OP_SILU: return x * sigmoid(x);
    case KILN_OP_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case KILN_OP_GELU_TANH: {
        const double k = sqrt(2.0 / 3.14159265358979323846);
        return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
    }
    default: return x;
    }
}

/* neg, abs, sign, relu on integers; wrap-around like two's complement. */
static int64_t unary_i(kiln_op op, int64_t x) {
    switch (op) {
    case KILN_OP_NEG: return ref_wsub(0, x);
    case KILN_OP_ABS: return x < 0 ? ref_wsub(0, x) : x;
    case KILN_OP_SIGN: return (x > 0) - (x < 0);
    case KILN_OP_RELU: return x > 0 ? x : 0;
    default: return x;
    }
}

REF_KERNEL(ref_unary) {
    const kiln_tensor *x = in[0];
    kiln_op op = c->n->op;
    size_t count = (size_t)kiln_tensor_numel(out);
    if (op == KILN_OP_NOT) {
        if (x->dtype != KILN_BOOL) return ref_error(c, KILN_ERR_TYPE, "needs bool input");
        for (size_t i = 0; i < count; i++) ((uint8_t *)out->data)[i] = !((const uint8_t *)x->data)[i];
        return KILN_OK;
    }
    if (kiln_dtype_is_float(x->dtype)) {
        for (size_t i = 0; i < count; i++)
            kiln_store_f64(out->data, out->dtype, i, unary_f(op, kiln_load_f64(x->data, x->dtype, i)));
        return KILN_OK;
    }
    if (!kiln_dtype_is_int(x->dtype) ||
        (op != KILN_OP_NEG && op != KILN_OP_ABS && op != KILN_OP_SIGN && op != KILN_OP_RELU))
        return ref_error(c, KILN_ERR_TYPE, "does not take %s input", kiln_dtype_name(x->dtype));
    for (size_t i = 0; i < count; i++)
        kiln_store_i64(out->data, out->dtype, i, unary_i(op, kiln_load_i64(x->data, x->dtype, i)));
    return KILN_OK;
}

/* float -> integer: truncate toward zero, NaN -> 0, saturate at the
 * target's range (u64 included, which int64 alone cannot hold). */
static void store_float_as_int(void *data, kiln_dtype t, size_t i, double v) {
    if (t == KILN_U64) {
        uint64_t u = v != v || v <= 0 ? 0 : v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
        ((uint64_t *)data)[i] = u;
        return;
    }
    int64_t x = ref_f64_to_i64(v), lo = ref_int_min(t), hi = ref_int_max(t);
    kiln_store_i64(data, t, i, x < lo ? lo : x > hi ? hi : x);
}

REF_KERNEL(ref_cast) {
    (void)c;
    const kiln_tensor *x = in[0];
    kiln_dtype from = x->dtype, to = out->dtype;
    size_t count = (size_t)kiln_tensor_numel(out);
    for (size_t i = 0; i < count; i++) {
        if (to == KILN_BOOL) {
            int nz = kiln_dtype_is_float(from) ? kiln_load_f64(x->data, from, i) != 0.0
                                               : kiln_load_i64(x->data, from, i) != 0;
            ((uint8_t *)out->data)[i] = (uint8_t)nz;
        } else if (kiln_dtype_is_float(to)) {
            kiln_store_f64(out->data, to, i, kiln_load_f64(x->data, from, i));
        } else if (kiln_dtype_is_float(from)) {
            store_float_as_int(out->data, to, i, kiln_load_f64(x->data, from, i));
        } else {
            kiln_store_i64(out->data, to, i, kiln_load_i64(x->data, from, i)); /* ints wrap */
        }
    }
    return KILN_OK;
}
