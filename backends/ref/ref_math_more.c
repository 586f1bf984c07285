/* More elementwise math (inverse and hyperbolic trig), C fmod, and bitwise
 * ops on integers. */
#include <math.h>

#include "ref_more.h"

static double unary_more(kiln_op op, double x) {
    switch (op) {
    case KILN_OP_TAN: return tan(x);
    case KILN_OP_ASIN: return asin(x);
    case KILN_OP_ACOS: return acos(x);
    case KILN_OP_ATAN: return atan(x);
    case KILN_OP_SINH: return sinh(x);
    case KILN_OP_COSH: return cosh(x);
    case KILN_OP_ASINH: return asinh(x);
    case KILN_OP_ACOSH: return acosh(x);
    case KILN_OP_ATANH: return atanh(x);
    default: return NAN;
    }
}

REF_KERNEL(ref_unary_more) {
    const kiln_tensor *x = in[0];
    if (!kiln_dtype_is_float(x->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs a floating-point input");
    size_t count = (size_t)kiln_tensor_numel(out);
    for (size_t i = 0; i < count; i++)
        kiln_store_f64(out->data, out->dtype, i, unary_more(c->n->op, kiln_load_f64(x->data, x->dtype, i)));
    return KILN_OK;
}

/* The remainder of truncating division: its sign is the dividend's
 * (C fmod). Integers: x fmod 0 = 0, like div. */
REF_KERNEL(ref_fmod) {
    const kiln_tensor *a = in[0], *b = in[1];
    if (a->dtype != b->dtype || a->dtype == KILN_BOOL) return ref_error(c, KILN_ERR_TYPE, "needs two numeric inputs of one dtype");
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, a));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, b));
    int as_float = kiln_dtype_is_float(a->dtype);
    for (size_t i = 0; it.remaining; i++) {
        size_t ia = (size_t)it.off[0], ib = (size_t)it.off[1];
        if (as_float) {
            kiln_store_f64(out->data, out->dtype, i, fmod(kiln_load_f64(a->data, a->dtype, ia), kiln_load_f64(b->data, b->dtype, ib)));
        } else {
            int64_t x = kiln_load_i64(a->data, a->dtype, ia), y = kiln_load_i64(b->data, b->dtype, ib);
            kiln_store_i64(out->data, out->dtype, i, y == 0 || y == -1 ? 0 : x % y);
        }
        ref_iter_next(&it);
    }
    return KILN_OK;
}

static int is_unsigned(kiln_dtype t) { return t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_U64; }

/* Shifts by a count outside [0, bits) give 0 (shr of a negative signed
 * value gives -1: the sign fills every bit). shr is logical on unsigned
 * types and arithmetic on signed ones. */
static int64_t bitwise(kiln_op op, kiln_dtype t, int64_t a, int64_t b) {
    int bits = (int)kiln_dtype_size(t) * 8;
    uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    switch (op) {
    case KILN_OP_BITAND: return a & b;
    case KILN_OP_BITOR: return a | b;
    case KILN_OP_BITXOR: return a ^ b;
    case KILN_OP_SHL:
        if (b < 0 || b >= bits) return 0;
        return (int64_t)((uint64_t)a << b);
    case KILN_OP_SHR:
        if (is_unsigned(t)) {
            if (b < 0 || b >= bits) return 0;
            return (int64_t)(((uint64_t)a & mask) >> b);
        }
        if (b < 0 || b >= bits) return a < 0 ? -1 : 0;
        return a < 0 ? ~((~a) >> b) : a >> b;
    default: return 0;
    }
}

REF_KERNEL(ref_bitwise) {
    const kiln_tensor *a = in[0];
    kiln_op op = c->n->op;
    if (!kiln_dtype_is_int(a->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs integer inputs");
    if (op == KILN_OP_BITNOT) {
        size_t count = (size_t)kiln_tensor_numel(out);
        for (size_t i = 0; i < count; i++) kiln_store_i64(out->data, out->dtype, i, ~kiln_load_i64(a->data, a->dtype, i));
        return KILN_OK;
    }
    const kiln_tensor *b = in[1];
    if (b->dtype != a->dtype) return ref_error(c, KILN_ERR_TYPE, "input dtypes differ");
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, a));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, b));
    for (size_t i = 0; it.remaining; i++) {
        int64_t x = kiln_load_i64(a->data, a->dtype, (size_t)it.off[0]), y = kiln_load_i64(b->data, b->dtype, (size_t)it.off[1]);
        kiln_store_i64(out->data, out->dtype, i, bitwise(op, a->dtype, x, y));
        ref_iter_next(&it);
    }
    return KILN_OK;
}
