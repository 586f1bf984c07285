/* Building blocks for decompositions (decompose.h). */
#include "decompose.h"

const kiln_node *d_node(dctx *d, kiln_value v) { return kiln_graph_node(d->r->dst, v); }

kiln_status d_fail(dctx *d, kiln_code code, const char *msg) {
    if (!d->s) {
        const kiln_node *n = kiln_graph_node(d->r->src, d->like);
        d->s = kiln_error(code, "decomposing %s %%%d: %s", n ? kiln_op_name(n->op) : "?", (int)d->like, msg);
    }
    return d->s;
}

kiln_value d_op(dctx *d, kiln_op op, int n, const kiln_value *ins, int na, const kiln_named_attr *a) {
    if (d->s) return KILN_NONE;
    for (int i = 0; i < n; i++)
        if (ins[i] == KILN_NONE) return KILN_NONE; /* an earlier step failed */
    kiln_value v = KILN_NONE;
    kiln_status s = rw_build(d->r, d->like, op, n, ins, na, a, &v);
    if (s) {
        const kiln_node *src = kiln_graph_node(d->r->src, d->like);
        d->s = kiln_error_wrap(s, "decomposing %s %%%d", kiln_op_name(src->op), (int)d->like);
        return KILN_NONE;
    }
    return v;
}

kiln_value d_un(dctx *d, kiln_op op, kiln_value x) { return d_op(d, op, 1, &x, 0, NULL); }

kiln_value d_bin(dctx *d, kiln_op op, kiln_value a, kiln_value b) {
    kiln_value in[2] = {a, b};
    return d_op(d, op, 2, in, 0, NULL);
}

kiln_value d_where(dctx *d, kiln_value c, kiln_value a, kiln_value b) {
    kiln_value in[3] = {c, a, b};
    return d_op(d, KILN_OP_WHERE, 3, in, 0, NULL);
}

kiln_value d_scalar(dctx *d, kiln_dtype t, double v) {
    if (d->s) return KILN_NONE;
    const kiln_node *src = kiln_graph_node(d->r->src, d->like);
    kiln_graph_set_loc(d->r->dst, src->loc);
    kiln_value out = KILN_NONE;
    d->s = kiln_graph_add_scalar(d->r->dst, t, v, &out);
    return d->s ? KILN_NONE : out;
}

kiln_value d_cast(dctx *d, kiln_value x, kiln_dtype t) {
    if (x == KILN_NONE || d->s) return KILN_NONE;
    if (d_node(d, x)->dtype == t) return x;
    kiln_named_attr a = kiln_a_dtype("dtype", t);
    return d_op(d, KILN_OP_CAST, 1, &x, 1, &a);
}

kiln_value d_reduce(dctx *d, kiln_op op, kiln_value x, int axis) {
    int64_t ax = axis;
    kiln_named_attr a[2] = {kiln_a_ints("axes", 1, &ax), kiln_a_bool("keepdims", 1)};
    return d_op(d, op, 1, &x, 2, a);
}

kiln_value d_reshape(dctx *d, kiln_value x, int rank, const kiln_dim *dims) {
    kiln_named_attr a = kiln_a_dims("shape", rank, dims);
    return d_op(d, KILN_OP_RESHAPE, 1, &x, 1, &a);
}

kiln_value d_transpose(dctx *d, kiln_value x, int rank, const int64_t *perm) {
    kiln_named_attr a = kiln_a_ints("perm", rank, perm);
    return d_op(d, KILN_OP_TRANSPOSE, 1, &x, 1, &a);
}

kiln_value d_slice(dctx *d, kiln_value x, int axis, kiln_dim start, kiln_dim end) {
    kiln_named_attr a[3] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end)};
    return d_op(d, KILN_OP_SLICE, 1, &x, 3, a);
}

kiln_value d_concat(dctx *d, int n, const kiln_value *xs, int axis) {
    kiln_named_attr a = kiln_a_int("axis", axis);
    return d_op(d, KILN_OP_CONCAT, n, xs, 1, &a);
}

kiln_value d_iota(dctx *d, int rank, const kiln_dim *shape, int axis, kiln_dim start) {
    kiln_named_attr a[3] = {kiln_a_dims("shape", rank, shape), kiln_a_int("axis", axis), kiln_a_dim("start", start)};
    return d_op(d, KILN_OP_IOTA, 0, NULL, 3, a);
}

kiln_value d_matmul(dctx *d, kiln_value a, kiln_value b) { return d_bin(d, KILN_OP_MATMUL, a, b); }
