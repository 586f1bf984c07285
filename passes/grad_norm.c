/* Direct gradient rules of the row-wise composites. Written in closed form
 * rather than through their decompositions: one row reduction each for
 * softmax, two for the norms, and elementwise work that fuses into them.
 *
 *   softmax:      dx = y (dy - sum(dy y))
 *   log_softmax:  dx = dy - exp(y) sum(dy)
 *   layer_norm:   xh = (x - mean) r, r = rsqrt(var + eps), g = dy w
 *                 dx = r (g - mean(g) - xh mean(g xh))
 *   rms_norm:     xh = x r, r = rsqrt(mean(x^2) + eps)
 *                 dx = r (g - xh mean(g xh))
 *   both:         dw = sum over rows of dy xh, db = sum over rows of dy
 * dx is evaluated as (r w) dy - r (mean(g) + xh mean(g xh)). */
#include "grad.h"

kiln_status grad_softmax(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    kiln_op op = n->op;
    int64_t axis = n->attrs[0].i;
    kiln_value y = c->y, gy = c->gy;
    if (op == KILN_OP_SOFTMAX) {
        kiln_value dot = g_reduce(c, KILN_OP_REDUCE_SUM, g_mul(c, gy, y), 1, &axis, 1);
        c->gx[0] = g_mul(c, y, g_sub(c, gy, dot));
    } else {
        kiln_value sum = g_reduce(c, KILN_OP_REDUCE_SUM, gy, 1, &axis, 1);
        c->gx[0] = g_sub(c, gy, g_mul(c, g_un(c, KILN_OP_EXP, y), sum));
    }
    return c->s;
}

/* The norms' backward is written for the fusion pass. xh is the norm op
 * itself without weight (bit for bit what the forward normalized); p =
 * dy xh is written once: dw sums it over rows, and the row statistics read
 * it (a row sum over an expression, rather than a load, takes a strided
 * path on the cpu backend, 10x slower). g = dy w is never written: the
 * statistics read it as w (dy, p) stacked on a new axis, one mean over C
 * giving mean(g) and mean(g xh) together, and dx reads it as (r w) dy, a
 * distinct node on purpose. Per layer_norm: mean, r, xh, p, the stacked
 * statistics, dx, dw, db: 8 kernels where the textbook form took 11. */
kiln_status grad_norm(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int layer = n->op == KILN_OP_LAYER_NORM;
    double eps = n->attrs[0].f;
    kiln_dtype t = n->dtype;
    kiln_shape xs = n->shape;
    int rank = xs.rank;
    kiln_value x = c->x[0], gy = c->gy;
    kiln_value w = c->nx > 1 ? c->x[1] : KILN_NONE;
    kiln_named_attr ea = kiln_a_float("eps", eps);
    kiln_value xh = g_op(c, n->op, 1, &x, 1, &ea);
    kiln_value p = g_mul(c, gy, xh);
    if (c->need[0]) {
        kiln_value xc = layer ? g_sub(c, x, g_reduce_last(c, KILN_OP_REDUCE_MEAN, x)) : x;
        kiln_value r = g_un(c, KILN_OP_RSQRT,
                            g_add(c, g_reduce_last(c, KILN_OP_REDUCE_MEAN, g_mul(c, xc, xc)), g_scalar(c, t, eps)));
        kiln_value rg = w != KILN_NONE ? g_mul(c, g_mul(c, r, w), gy) : g_mul(c, r, gy);
        kiln_value proj;
        if (layer) {
            kiln_shape s1 = xs, row = xs;
            s1.rank = rank + 1;
            s1.dims[rank] = xs.dims[rank - 1];
            s1.dims[rank - 1] = 1;
            row.dims[rank - 1] = 1;
            kiln_value pair[2] = {g_reshape_like(c, gy, &s1), g_reshape_like(c, p, &s1)};
            kiln_value both = g_concat(c, 2, pair, rank - 1); /* [.., 2, C] */
            if (w != KILN_NONE) both = g_mul(c, both, w);
            both = g_reduce_last(c, KILN_OP_REDUCE_MEAN, both);
            kiln_value mg = g_reshape_like(c, g_slice(c, both, rank - 1, 0, 1), &row);
            kiln_value mgx = g_reshape_like(c, g_slice(c, both, rank - 1, 1, 2), &row);
            proj = g_add(c, mg, g_mul(c, xh, mgx));
        } else {
            proj = g_mul(c, xh, g_reduce_last(c, KILN_OP_REDUCE_MEAN, w != KILN_NONE ? g_mul(c, p, w) : p));
        }
        c->gx[0] = g_sub(c, rg, g_mul(c, r, proj));
    }
    if (c->nx > 1 && c->need[1]) c->gx[1] = g_to_input(c, 1, p);
    if (c->nx > 2 && c->need[2]) c->gx[2] = g_to_input(c, 2, gy);
    return c->s;
}
