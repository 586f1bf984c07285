/* Source ops: constants (copied out of the graph), iota. INPUT and PARAM
 * get their data from the binding in kiln_ref_run_bound, never here. */
#include <string.h>

#include "ref_internal.h"

REF_KERNEL(ref_source) {
    (void)in;
    const kiln_node *n = c->n;
    if (n->op != KILN_OP_CONST)
        return ref_error(c, KILN_ERR_INVALID, "'%s' has no data outside a run (bind it with kiln_bind_%s)",
                         n->name ? n->name : "?", n->op == KILN_OP_PARAM ? "params" : "inputs");
    if (n->value.dtype != out->dtype || n->value.nbytes != out->nbytes || (!n->value.data && out->nbytes))
        return ref_error(c, KILN_ERR_INVALID, "constant data does not match its type");
    if (out->nbytes) memcpy(out->data, n->value.data, out->nbytes);
    return KILN_OK;
}

/* value = start + index[axis] */
REF_KERNEL(ref_iota) {
    (void)in;
    const kiln_node *n = c->n;
    int axis = (int)n->attrs[1].i;
    if (axis < 0 || axis >= (out->rank ? out->rank : 1))
        return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range for rank %d", axis, out->rank);
    int64_t start;
    kiln_status s = kiln_dim_eval(c->g, n->attrs[2].i, c->symvals, &start);
    if (s) return kiln_error_wrap(s, "iota start");
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    int is_float = kiln_dtype_is_float(out->dtype);
    for (int64_t i = 0; it.remaining; i++) {
        int64_t v = ref_wadd(start, out->rank ? it.idx[axis] : 0);
        if (is_float) kiln_store_f64(out->data, out->dtype, (size_t)i, (double)v);
        else kiln_store_i64(out->data, out->dtype, (size_t)i, v);
        ref_iter_next(&it);
    }
    return KILN_OK;
}
