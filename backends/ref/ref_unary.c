/* Elementwise unary ops and cast: plain loops over the shared scalar
 * semantics (include/kiln/scalar.h), with the dtype checks the ops need. */
#include "kiln/scalar.h"
#include "ref_internal.h"
#include "ref_more.h"

/* Integer inputs are accepted by these only; the rest need floats. */
static int takes_int(kiln_op op) {
    return op == KILN_OP_NEG || op == KILN_OP_ABS || op == KILN_OP_SIGN || op == KILN_OP_RELU ||
           op == KILN_OP_BITNOT;
}

static void map_unary(kiln_op op, const kiln_tensor *x, kiln_tensor *out) {
    size_t count = (size_t)kiln_tensor_numel(out);
    for (size_t i = 0; i < count; i++)
        kiln_scalar_store(out->data, out->dtype, i, kiln_scalar_unary(op, x->dtype, kiln_scalar_load(x->data, x->dtype, i)));
}

REF_KERNEL(ref_unary) {
    const kiln_tensor *x = in[0];
    kiln_op op = c->n->op;
    if (op == KILN_OP_NOT) {
        if (x->dtype != KILN_BOOL) return ref_error(c, KILN_ERR_TYPE, "needs bool input");
    } else if (op == KILN_OP_BITNOT) {
        if (!kiln_dtype_is_int(x->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs integer inputs");
    } else if (!kiln_dtype_is_float(x->dtype) && !(kiln_dtype_is_int(x->dtype) && takes_int(op))) {
        return ref_error(c, KILN_ERR_TYPE, "does not take %s input", kiln_dtype_name(x->dtype));
    }
    map_unary(op, x, out);
    return KILN_OK;
}

/* tan asin acos atan sinh cosh asinh acosh atanh */
REF_KERNEL(ref_unary_more) {
    if (!kiln_dtype_is_float(in[0]->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs a floating-point input");
    map_unary(c->n->op, in[0], out);
    return KILN_OK;
}

REF_KERNEL(ref_cast) {
    (void)c;
    const kiln_tensor *x = in[0];
    size_t count = (size_t)kiln_tensor_numel(out);
    for (size_t i = 0; i < count; i++)
        kiln_scalar_store(out->data, out->dtype, i,
                          kiln_scalar_cast(x->dtype, out->dtype, kiln_scalar_load(x->data, x->dtype, i)));
    return KILN_OK;
}
