/* Gradient rules of reductions and scans. A reduction's adjoint is spread
 * back over the reduced axes: reshaped to keep them as 1, then broadcast. */
#include "grad.h"

/* v (shaped like the reduction's output) with the reduced axes kept as 1 */
static kiln_value keep_axes(kiln_grad_ctx *c, kiln_value v) {
    const kiln_node *n = gnode(c, c->y);
    if (n->attrs[1].i) return v; /* keepdims */
    kiln_shape xs = gnode(c, c->x[0])->shape, k = xs;
    for (int i = 0; i < n->attrs[0].n; i++) k.dims[n->attrs[0].list[i]] = 1;
    return g_reshape_like(c, v, &k);
}

/* the number of elements each output element reduces, as a scalar */
static kiln_value count(kiln_grad_ctx *c, kiln_dtype t) {
    const kiln_node *n = gnode(c, c->y);
    const kiln_shape *xs = &gnode(c, c->x[0])->shape;
    kiln_dim cnt = 1;
    for (int i = 0; i < n->attrs[0].n && cnt != KILN_DIM_INVALID; i++)
        cnt = kiln_dim_mul(c->g, cnt, xs->dims[n->attrs[0].list[i]]);
    if (cnt == KILN_DIM_INVALID) {
        g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
        return KILN_NONE;
    }
    return g_dim_value(c, cnt, t);
}

kiln_status grad_reduce(kiln_grad_ctx *c) {
    kiln_op op = gnode(c, c->y)->op;
    kiln_dtype t = gnode(c, c->y)->dtype;
    kiln_shape xs = gnode(c, c->x[0])->shape;
    kiln_value g = keep_axes(c, c->gy);
    switch (op) {
    case KILN_OP_REDUCE_SUM: c->gx[0] = g_expand(c, g, &xs); break;
    case KILN_OP_REDUCE_MEAN: c->gx[0] = g_expand(c, g_div(c, g, count(c, t)), &xs); break;
    case KILN_OP_REDUCE_PROD: /* prod / x: defined where x is not 0 */
        c->gx[0] = g_div(c, g_expand(c, g_mul(c, g, keep_axes(c, c->y)), &xs), c->x[0]);
        break;
    default: { /* max / min: shared equally among the elements equal to the result */
        const kiln_node *n = gnode(c, c->y);
        int naxes = n->attrs[0].n;
        int64_t axes[KILN_MAX_RANK];
        for (int i = 0; i < naxes; i++) axes[i] = n->attrs[0].list[i];
        kiln_value hit = g_bin(c, KILN_OP_EQ, c->x[0], keep_axes(c, c->y));
        kiln_value ties = g_reduce(c, KILN_OP_REDUCE_SUM, g_cast(c, hit, t), naxes, axes, 1);
        kiln_value share = g_expand(c, g_div(c, g, ties), &xs);
        c->gx[0] = g_where(c, hit, share, g_scalar(c, t, 0.0));
        break;
    }
    }
    return c->s;
}

/* cumsum: each input element feeds every later (earlier, reversed) output,
 * so the adjoint is the cumsum of gy the other way round, exclusive when
 * the forward was. cumprod: the same over gy * y, divided by x (x != 0). */
kiln_status grad_cumulative(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    kiln_op op = n->op;
    kiln_named_attr a[3] = {kiln_a_int("axis", n->attrs[0].i), kiln_a_bool("exclusive", (int)n->attrs[1].i),
                            kiln_a_bool("reverse", !n->attrs[2].i)};
    kiln_value g = op == KILN_OP_CUMSUM ? c->gy : g_mul(c, c->gy, c->y);
    kiln_value back = g_op(c, KILN_OP_CUMSUM, 1, &g, 3, a);
    c->gx[0] = op == KILN_OP_CUMSUM ? back : g_div(c, back, c->x[0]);
    return c->s;
}
