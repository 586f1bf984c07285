/* Builders for gradient rules (grad.h): thin wrappers over kiln_build that
 * keep the first error, plus the broadcasting and shape helpers every
 * family of rules needs. */
#include <stdarg.h>
#include <stdio.h>

#include "grad.h"

const kiln_node *gnode(kiln_grad_ctx *c, kiln_value v) { return kiln_graph_node(c->g, v); }

static const char *what(kiln_grad_ctx *c, char *buf, size_t cap) {
    const kiln_node *n = kiln_graph_node(c->g, c->y);
    char loc[256];
    const char *l = n ? kiln_loc_str(n->loc, loc, sizeof loc) : "";
    snprintf(buf, cap, "gradient of %s %%%d%s%s", n ? kiln_op_name(n->op) : "?", (int)c->y, *l ? " at " : "", l);
    return buf;
}

kiln_status g_fail(kiln_grad_ctx *c, kiln_code code, const char *fmt, ...) {
    if (c->s) return c->s;
    char msg[512], w[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->s = kiln_error(code, "%s: %s", what(c, w, sizeof w), msg);
    return c->s;
}

kiln_value g_op(kiln_grad_ctx *c, kiln_op op, int n, const kiln_value *ins, int na, const kiln_named_attr *a) {
    if (c->s) return KILN_NONE;
    for (int i = 0; i < n; i++)
        if (ins[i] == KILN_NONE) return KILN_NONE; /* an earlier step failed */
    kiln_value v = KILN_NONE;
    kiln_status s = kiln_build(c->g, op, n, ins, na, a, &v);
    if (s) {
        char w[384];
        c->s = kiln_error_wrap(s, "%s", what(c, w, sizeof w));
        return KILN_NONE;
    }
    return v;
}

kiln_value g_un(kiln_grad_ctx *c, kiln_op op, kiln_value x) { return g_op(c, op, 1, &x, 0, NULL); }

kiln_value g_bin(kiln_grad_ctx *c, kiln_op op, kiln_value a, kiln_value b) {
    kiln_value in[2] = {a, b};
    return g_op(c, op, 2, in, 0, NULL);
}

kiln_value g_add(kiln_grad_ctx *c, kiln_value a, kiln_value b) { return g_bin(c, KILN_OP_ADD, a, b); }
kiln_value g_sub(kiln_grad_ctx *c, kiln_value a, kiln_value b) { return g_bin(c, KILN_OP_SUB, a, b); }
kiln_value g_mul(kiln_grad_ctx *c, kiln_value a, kiln_value b) { return g_bin(c, KILN_OP_MUL, a, b); }
kiln_value g_div(kiln_grad_ctx *c, kiln_value a, kiln_value b) { return g_bin(c, KILN_OP_DIV, a, b); }

kiln_value g_where(kiln_grad_ctx *c, kiln_value cond, kiln_value a, kiln_value b) {
    kiln_value in[3] = {cond, a, b};
    return g_op(c, KILN_OP_WHERE, 3, in, 0, NULL);
}

kiln_value g_scalar(kiln_grad_ctx *c, kiln_dtype t, double v) {
    if (c->s) return KILN_NONE;
    kiln_value out = KILN_NONE;
    c->s = kiln_graph_add_scalar(c->g, t, v, &out);
    return c->s ? KILN_NONE : out;
}

kiln_value g_cast(kiln_grad_ctx *c, kiln_value x, kiln_dtype t) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    if (gnode(c, x)->dtype == t) return x;
    kiln_named_attr a = kiln_a_dtype("dtype", t);
    return g_op(c, KILN_OP_CAST, 1, &x, 1, &a);
}

kiln_value g_reshape(kiln_grad_ctx *c, kiln_value x, int rank, const kiln_dim *dims) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    const kiln_node *n = gnode(c, x);
    int same = n->shape.rank == rank;
    for (int i = 0; same && i < rank; i++) same = n->shape.dims[i] == dims[i];
    if (same) return x;
    kiln_named_attr a = kiln_a_dims("shape", rank, dims);
    return g_op(c, KILN_OP_RESHAPE, 1, &x, 1, &a);
}

kiln_value g_reshape_like(kiln_grad_ctx *c, kiln_value x, const kiln_shape *s) {
    kiln_shape copy = *s; /* s may point into the node array */
    return g_reshape(c, x, copy.rank, copy.dims);
}

kiln_value g_transpose(kiln_grad_ctx *c, kiln_value x, int rank, const int64_t *perm) {
    kiln_named_attr a = kiln_a_ints("perm", rank, perm);
    return g_op(c, KILN_OP_TRANSPOSE, 1, &x, 1, &a);
}

kiln_value g_swap_last2(kiln_grad_ctx *c, kiln_value x) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    int rank = gnode(c, x)->shape.rank;
    int64_t perm[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) perm[i] = i;
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return g_transpose(c, x, rank, perm);
}

kiln_value g_expand(kiln_grad_ctx *c, kiln_value x, const kiln_shape *s) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape copy = *s;
    if (kiln_shape_equal(&gnode(c, x)->shape, &copy)) return x;
    kiln_named_attr a = kiln_a_dims("shape", copy.rank, copy.dims);
    return g_op(c, KILN_OP_EXPAND, 1, &x, 1, &a);
}

kiln_value g_slice(kiln_grad_ctx *c, kiln_value x, int axis, kiln_dim start, kiln_dim end) {
    kiln_named_attr a[3] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end)};
    return g_op(c, KILN_OP_SLICE, 1, &x, 3, a);
}

kiln_value g_concat(kiln_grad_ctx *c, int n, const kiln_value *xs, int axis) {
    if (n == 1) return xs[0];
    kiln_named_attr a = kiln_a_int("axis", axis);
    return g_op(c, KILN_OP_CONCAT, n, xs, 1, &a);
}

kiln_value g_iota(kiln_grad_ctx *c, int rank, const kiln_dim *shape, int axis, kiln_dim start, kiln_dtype t) {
    kiln_named_attr a[4] = {kiln_a_dims("shape", rank, shape), kiln_a_int("axis", axis), kiln_a_dim("start", start),
                            kiln_a_dtype("dtype", t)};
    return g_op(c, KILN_OP_IOTA, 0, NULL, 4, a);
}

kiln_value g_matmul(kiln_grad_ctx *c, kiln_value a, kiln_value b, int trans_b) {
    kiln_value in[2] = {a, b};
    kiln_named_attr t = kiln_a_bool("trans_b", 1);
    return g_op(c, KILN_OP_MATMUL, 2, in, trans_b ? 1 : 0, &t);
}

kiln_value g_reduce(kiln_grad_ctx *c, kiln_op op, kiln_value x, int naxes, const int64_t *axes, int keepdims) {
    if (naxes == 0) return x;
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keepdims)};
    return g_op(c, op, 1, &x, 2, a);
}

kiln_value g_reduce_last(kiln_grad_ctx *c, kiln_op op, kiln_value x) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    int64_t ax = gnode(c, x)->shape.rank - 1;
    return g_reduce(c, op, x, 1, &ax, 1);
}

kiln_value g_zeros(kiln_grad_ctx *c, kiln_dtype t, const kiln_shape *s) {
    kiln_shape copy = *s;
    kiln_value z = g_scalar(c, t, 0.0);
    return copy.rank == 0 ? z : g_expand(c, z, &copy);
}

kiln_value g_dim_value(kiln_grad_ctx *c, kiln_dim d, kiln_dtype t) {
    if (kiln_dim_is_const(d)) return g_scalar(c, t, (double)d);
    /* iota's start may be symbolic: a one-element iota holds the dim */
    kiln_dim one = 1;
    return g_reshape(c, g_iota(c, 1, &one, 0, d, t), 0, NULL);
}

kiln_value g_unbroadcast(kiln_grad_ctx *c, kiln_value v, const kiln_shape *target) {
    if (v == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape s = gnode(c, v)->shape, t = *target;
    if (kiln_shape_equal(&s, &t)) return v;
    int lead = s.rank - t.rank;
    if (lead < 0) {
        g_fail(c, KILN_ERR_INTERNAL, "adjoint has lower rank than its operand");
        return KILN_NONE;
    }
    int64_t axes[KILN_MAX_RANK];
    for (int i = 0; i < lead; i++) axes[i] = i;
    v = g_reduce(c, KILN_OP_REDUCE_SUM, v, lead, axes, 0);
    int n = 0;
    for (int i = 0; i < t.rank; i++)
        if (t.dims[i] != s.dims[lead + i]) {
            if (t.dims[i] != 1) {
                g_fail(c, KILN_ERR_INTERNAL, "adjoint does not broadcast back to its operand on axis %d", i);
                return KILN_NONE;
            }
            axes[n++] = i;
        }
    return g_reduce(c, KILN_OP_REDUCE_SUM, v, n, axes, 1);
}

kiln_value g_to_input(kiln_grad_ctx *c, int i, kiln_value v) {
    if (v == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape s = gnode(c, c->x[i])->shape;
    return g_unbroadcast(c, v, &s);
}
