/* Elementwise binary ops with numpy broadcasting, and where(): plain loops
 * over the shared scalar semantics (include/kiln/scalar.h). */
#include "kiln/scalar.h"
#include "ref_internal.h"
#include "ref_more.h"

static int is_logic(kiln_op op) { return op == KILN_OP_AND || op == KILN_OP_OR || op == KILN_OP_XOR; }
static int is_compare(kiln_op op) { return op >= KILN_OP_EQ && op <= KILN_OP_GE; }
static int is_bitwise(kiln_op op) {
    return op == KILN_OP_BITAND || op == KILN_OP_BITOR || op == KILN_OP_BITXOR || op == KILN_OP_SHL ||
           op == KILN_OP_SHR;
}

REF_KERNEL(ref_binary) {
    const kiln_tensor *a = in[0], *b = in[1];
    kiln_op op = c->n->op;
    if (a->dtype != b->dtype)
        return ref_error(c, KILN_ERR_TYPE, "input dtypes differ: %s and %s", kiln_dtype_name(a->dtype),
                         kiln_dtype_name(b->dtype));
    int ok = is_logic(op) ? a->dtype == KILN_BOOL
             : is_bitwise(op) ? kiln_dtype_is_int(a->dtype)
                              : a->dtype != KILN_BOOL || is_compare(op);
    if (!ok) return ref_error(c, KILN_ERR_TYPE, "does not take %s inputs", kiln_dtype_name(a->dtype));
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, a));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, b));
    for (size_t i = 0; it.remaining; i++) {
        kiln_scalar x = kiln_scalar_load(a->data, a->dtype, (size_t)it.off[0]);
        kiln_scalar y = kiln_scalar_load(b->data, b->dtype, (size_t)it.off[1]);
        kiln_scalar_store(out->data, out->dtype, i, kiln_scalar_binary(op, a->dtype, out->dtype, x, y));
        ref_iter_next(&it);
    }
    return KILN_OK;
}

/* fmod and the bitwise ops share the broadcasting loop; bitnot is unary. */
REF_KERNEL(ref_fmod) { return ref_binary(c, in, out); }

REF_KERNEL(ref_bitwise) {
    if (c->n->op == KILN_OP_BITNOT) return ref_unary(c, in, out);
    return ref_binary(c, in, out);
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
