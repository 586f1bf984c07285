/* Gradient rules of attention and rope.
 *
 * attention(q, k, v, mask?) recomputes the probabilities P with a softmax
 * node (the forward node is one opaque kernel whose P is not kept) and
 * then, with s the scale:
 *   dV = P^T dO,  dP = dO V^T,  dS = P (dP - sum(dP P)),
 *   dQ = s dS K,  dK = s dS^T Q,  dmask = dS (a float mask only).
 * Grouped-query heads go through the [B, Hk, G, ...] view the
 * decomposition uses; dK and dV then sum over the G query heads of each
 * kv head.
 *
 * rope rotates each pair of features by the angle pos * freq; the
 * transpose of a rotation is the rotation by the opposite angle, so
 * dx = rope(dy, -pos). */
#include <math.h>

#include "grad.h"

/* x [B, H, R, C] as [B, Hk, G, R, C]; identity when not grouped */
static kiln_value group(kiln_grad_ctx *c, kiln_value x, kiln_dim hk, kiln_dim g, int grouped) {
    if (!grouped || x == KILN_NONE || c->s) return x;
    const kiln_dim *s = gnode(c, x)->shape.dims;
    kiln_dim dims[5] = {s[0], hk, g, s[2], s[3]};
    return g_reshape(c, x, 5, dims);
}

static kiln_value ungroup(kiln_grad_ctx *c, kiln_value x, kiln_dim h, int grouped) {
    if (!grouped || x == KILN_NONE || c->s) return x;
    const kiln_dim *s = gnode(c, x)->shape.dims;
    kiln_dim dims[4] = {s[0], h, s[3], s[4]};
    return g_reshape(c, x, 4, dims);
}

/* sum over the G axis of a grouped [B, Hk, G, R, C] */
static kiln_value sum_groups(kiln_grad_ctx *c, kiln_value x, int grouped) {
    int64_t ax = 2;
    return grouped ? g_reduce(c, KILN_OP_REDUCE_SUM, x, 1, &ax, 0) : x;
}

kiln_status grad_attention(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int causal = (int)n->attrs[0].i, has_scale = n->attrs[1].kind == KILN_ATTR_FLOAT;
    double scale = n->attrs[1].f;
    kiln_dtype t = n->dtype;
    kiln_value q = c->x[0], k = c->x[1], v = c->x[2], mask = c->nx > 3 ? c->x[3] : KILN_NONE;
    kiln_shape qs = gnode(c, q)->shape, ks = gnode(c, k)->shape;
    kiln_dim H = qs.dims[1], Hk = ks.dims[1], S = qs.dims[2], T = ks.dims[2], D = qs.dims[3];
    int grouped = H != Hk;
    kiln_dim G = 1;
    if (grouped) {
        if (!kiln_dim_is_const(H) || !kiln_dim_is_const(Hk) || Hk <= 0)
            return g_fail(c, KILN_ERR_UNSUPPORTED, "grouped heads need constant head counts");
        G = H / Hk;
    }
    if (!has_scale) {
        if (!kiln_dim_is_const(D)) return g_fail(c, KILN_ERR_UNSUPPORTED, "no scale and a symbolic head size");
        scale = 1.0 / sqrt((double)D);
    }
    kiln_value qg = group(c, q, Hk, G, grouped), kg = group(c, k, Hk, 1, grouped), vg = group(c, v, Hk, 1, grouped);

    /* P, as the forward computed it */
    kiln_value scores = g_mul(c, ungroup(c, g_matmul(c, qg, kg, 1), H, grouped), g_scalar(c, t, scale));
    kiln_value neg_inf = g_scalar(c, t, -INFINITY);
    int may_empty = 0; /* a row whose keys are all excluded: the forward gives zeros */
    if (mask != KILN_NONE) {
        if (gnode(c, mask)->dtype == KILN_BOOL) {
            scores = g_where(c, mask, scores, neg_inf);
            may_empty = 1;
        } else {
            scores = g_add(c, scores, mask);
        }
    }
    if (causal) { /* key j visible from query i when j <= i + (T - S) */
        kiln_dim qcol[2] = {S, 1}, krow[2] = {1, T};
        kiln_dim past = kiln_dim_sub(c->g, T, S);
        if (past == KILN_DIM_INVALID) return g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
        kiln_value visible = g_bin(c, KILN_OP_LE, g_iota(c, 2, krow, 1, 0, KILN_I64), g_iota(c, 2, qcol, 0, past, KILN_I64));
        scores = g_where(c, visible, scores, neg_inf);
        if (T != S) may_empty = 1;
    }
    kiln_named_attr last = kiln_a_int("axis", -1);
    kiln_value p = g_op(c, KILN_OP_SOFTMAX, 1, &scores, 1, &last);
    if (may_empty) p = g_where(c, g_bin(c, KILN_OP_NE, p, p), g_scalar(c, t, 0.0), p); /* NaN rows -> 0 */

    kiln_value dog = group(c, c->gy, Hk, G, grouped), pg = group(c, p, Hk, G, grouped);
    if (c->need[2]) c->gx[2] = sum_groups(c, g_matmul(c, g_swap_last2(c, pg), dog, 0), grouped);
    if (!c->need[0] && !c->need[1] && !(c->nx > 3 && c->need[3])) return c->s;
    kiln_value dp = ungroup(c, g_matmul(c, dog, vg, 1), H, grouped);
    kiln_value ds = g_mul(c, p, g_sub(c, dp, g_reduce_last(c, KILN_OP_REDUCE_SUM, g_mul(c, dp, p))));
    if (c->nx > 3 && c->need[3]) c->gx[3] = g_to_input(c, 3, ds);
    kiln_value dsg = group(c, g_mul(c, ds, g_scalar(c, t, scale)), Hk, G, grouped);
    if (c->need[0]) c->gx[0] = ungroup(c, g_matmul(c, dsg, kg, 0), H, grouped);
    if (c->need[1]) c->gx[1] = sum_groups(c, g_matmul(c, g_swap_last2(c, dsg), qg, 0), grouped);
    return c->s;
}

kiln_status grad_rope(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    kiln_named_attr a[3] = {kiln_a_float("theta", n->attrs[0].f), kiln_a_bool("interleaved", (int)n->attrs[1].i),
                            kiln_a_int("rotary_dim", n->attrs[2].i)};
    kiln_value in[2] = {c->gy, g_un(c, KILN_OP_NEG, c->x[1])};
    c->gx[0] = g_op(c, KILN_OP_ROPE, 2, in, 3, a);
    return c->s;
}
