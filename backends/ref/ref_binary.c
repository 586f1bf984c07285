/* Elementwise binary ops with numpy broadcasting, and where(). */
#include <math.h>

#include "ref_internal.h"

static double binary_f(kiln_op op, double a, double b) {
    switch (op) {
    case KILN_OP_ADD: return a + b;
    case KILN_OP_SUB: return a - b;
    case KILN_OP_MUL: return a * b;
    case KILN_OP_DIV: return a / b;
    case KILN_OP_POW: return pow(a, b);
    case KILN_OP_MOD: {
        /* the result takes the divisor's sign, like numpy and Python */
        double r = fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
    /* NaN propagates, like numpy.maximum / torch.maximum */
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

/* Integer power by squaring, wrapping on overflow. A negative exponent
 * gives 0 except for bases 1 and -1, whose powers stay integers. */
static int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) {
        if (base == 1) return 1;
        if (base == -1) return (e & 1) ? -1 : 1;
        return 0;
    }
    int64_t r = 1;
    while (e) {
        if (e & 1) r = ref_wmul(r, base);
        base = ref_wmul(base, base);
        e >>= 1;
    }
    return r;
}

static int64_t binary_i(kiln_op op, int64_t a, int64_t b) {
    switch (op) {
    case KILN_OP_ADD: return ref_wadd(a, b);
    case KILN_OP_SUB: return ref_wsub(a, b);
    case KILN_OP_MUL: return ref_wmul(a, b);
    case KILN_OP_DIV: /* truncates toward zero; x/0 is 0, never a trap */
        if (b == 0) return 0;
        if (b == -1) return ref_wsub(0, a); /* INT64_MIN / -1 would trap */
        return a / b;
    case KILN_OP_POW: return ipow(a, b);
    case KILN_OP_MOD: {
        if (b == 0 || b == -1) return 0;
        int64_t r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
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

static int is_logic(kiln_op op) { return op == KILN_OP_AND || op == KILN_OP_OR || op == KILN_OP_XOR; }
static int is_compare(kiln_op op) { return op >= KILN_OP_EQ && op <= KILN_OP_GE; }

REF_KERNEL(ref_binary) {
    const kiln_tensor *a = in[0], *b = in[1];
    kiln_op op = c->n->op;
    if (a->dtype != b->dtype)
        return ref_error(c, KILN_ERR_TYPE, "input dtypes differ: %s and %s", kiln_dtype_name(a->dtype),
                         kiln_dtype_name(b->dtype));
    if (is_logic(op) ? a->dtype != KILN_BOOL : (a->dtype == KILN_BOOL && !is_compare(op)))
        return ref_error(c, KILN_ERR_TYPE, "does not take %s inputs", kiln_dtype_name(a->dtype));
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, a));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, b));
    int as_float = kiln_dtype_is_float(a->dtype);
    for (size_t i = 0; it.remaining; i++) {
        size_t ia = (size_t)it.off[0], ib = (size_t)it.off[1];
        if (as_float)
            kiln_store_f64(out->data, out->dtype, i,
                           binary_f(op, kiln_load_f64(a->data, a->dtype, ia), kiln_load_f64(b->data, b->dtype, ib)));
        else
            kiln_store_i64(out->data, out->dtype, i,
                           binary_i(op, kiln_load_i64(a->data, a->dtype, ia), kiln_load_i64(b->data, b->dtype, ib)));
        ref_iter_next(&it);
    }
    return KILN_OK;
}

REF_KERNEL(ref_where) {
    const kiln_tensor *cond = in[0], *a = in[1], *b = in[2];
    if (cond->dtype != KILN_BOOL || a->dtype != out->dtype || b->dtype != out->dtype)
        return ref_error(c, KILN_ERR_TYPE, "needs a bool condition and two %s values", kiln_dtype_name(out->dtype));
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, cond));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, a));
    KILN_TRY(ref_iter_broadcast(c, &it, 2, b));
    size_t size = kiln_dtype_size(out->dtype);
    for (int64_t i = 0; it.remaining; i++) {
        int pick_a = ((const uint8_t *)cond->data)[it.off[0]] != 0;
        ref_copy_elem(out->data, i, pick_a ? a->data : b->data, pick_a ? it.off[1] : it.off[2], size);
        ref_iter_next(&it);
    }
    return KILN_OK;
}
