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
 *   both:         dw = sum over rows of dy xh, db = sum over rows of dy */
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

kiln_status grad_norm(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int layer = n->op == KILN_OP_LAYER_NORM;
    double eps = n->attrs[0].f;
    kiln_dtype t = n->dtype;
    kiln_value x = c->x[0], gy = c->gy;
    kiln_value w = c->nx > 1 ? c->x[1] : KILN_NONE;
    kiln_value xc = layer ? g_sub(c, x, g_reduce_last(c, KILN_OP_REDUCE_MEAN, x)) : x;
    kiln_value var = g_reduce_last(c, KILN_OP_REDUCE_MEAN, g_mul(c, xc, xc));
    kiln_value r = g_un(c, KILN_OP_RSQRT, g_add(c, var, g_scalar(c, t, eps)));
    kiln_value xh = g_mul(c, xc, r);
    if (c->need[0]) {
        kiln_value g = w != KILN_NONE ? g_mul(c, gy, w) : gy;
        kiln_value proj = g_mul(c, xh, g_reduce_last(c, KILN_OP_REDUCE_MEAN, g_mul(c, g, xh)));
        kiln_value inner = layer ? g_sub(c, g_sub(c, g, g_reduce_last(c, KILN_OP_REDUCE_MEAN, g)), proj) : g_sub(c, g, proj);
        c->gx[0] = g_mul(c, r, inner);
    }
    if (c->nx > 1 && c->need[1]) c->gx[1] = g_to_input(c, 1, g_mul(c, gy, xh));
    if (c->nx > 2 && c->need[2]) c->gx[2] = g_to_input(c, 2, gy);
    return c->s;
}
