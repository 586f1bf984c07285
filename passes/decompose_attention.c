/* attention(q [B,H,S,D], k [B,Hk,T,D], v [B,Hk,T,Dv], mask?) as
 *   p = masked softmax(q k^T * scale) over keys;  out = p v
 * Grouped-query heads go through a [B, Hk, H/Hk, ...] view so every query
 * head of a group meets its kv head by batch broadcasting. A row whose
 * keys are all excluded gives zeros, as the reference does: its max is
 * replaced by 0 and its sum of zeros by 1. */
#include <math.h>

#include "decompose.h"

/* x [B, H, rows, cols] viewed as [B, Hk, G, rows, cols] (G = 1 for kv). */
static kiln_value group_view(dctx *d, kiln_value x, kiln_dim hk, kiln_dim g) {
    if (x == KILN_NONE) return KILN_NONE;
    const kiln_dim *s = d_node(d, x)->shape.dims;
    kiln_dim dims[5] = {s[0], hk, g, s[2], s[3]};
    return d_reshape(d, x, 5, dims);
}

static kiln_value ungroup(dctx *d, kiln_value x, kiln_dim h) {
    if (x == KILN_NONE) return KILN_NONE;
    const kiln_dim *s = d_node(d, x)->shape.dims;
    kiln_dim dims[4] = {s[0], h, s[3], s[4]};
    return d_reshape(d, x, 4, dims);
}

kiln_status decompose_attention(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    kiln_value q = in[0], k = in[1], v = in[2], mask = n->ninputs > 3 ? in[3] : KILN_NONE;
    const kiln_node *qn = d_node(d, q), *kn = d_node(d, k);
    kiln_dtype t = n->dtype;
    kiln_dim H = qn->shape.dims[1], Hk = kn->shape.dims[1], S = qn->shape.dims[2], T = kn->shape.dims[2];
    kiln_dim D = qn->shape.dims[3];
    int grouped = H != Hk;
    kiln_dim G = 1;
    if (grouped) {
        if (!kiln_dim_is_const(H) || !kiln_dim_is_const(Hk) || Hk <= 0)
            return d_fail(d, KILN_ERR_UNSUPPORTED, "grouped heads need constant head counts");
        G = H / Hk;
    }
    double scale;
    if (n->attrs[1].kind == KILN_ATTR_FLOAT) scale = n->attrs[1].f;
    else if (kiln_dim_is_const(D)) scale = 1.0 / sqrt((double)D);
    else return d_fail(d, KILN_ERR_UNSUPPORTED, "no scale and a symbolic head size");

    int64_t swap4[4] = {0, 1, 3, 2}, swap5[5] = {0, 1, 2, 4, 3};
    kiln_value scores;
    if (grouped) {
        kiln_value kt = d_transpose(d, group_view(d, k, Hk, 1), 5, swap5);
        scores = ungroup(d, d_matmul(d, group_view(d, q, Hk, G), kt), H);
    } else {
        scores = d_matmul(d, q, d_transpose(d, k, 4, swap4));
    }
    scores = d_bin(d, KILN_OP_MUL, scores, d_scalar(d, t, scale));
    kiln_value neg_inf = d_scalar(d, t, -INFINITY);
    if (mask != KILN_NONE) {
        if (d_node(d, mask)->dtype == KILN_BOOL) scores = d_where(d, mask, scores, neg_inf);
        else scores = d_bin(d, KILN_OP_ADD, scores, mask);
    }
    if (n->attrs[0].i) { /* key t visible from query s when t <= s + (T - S) */
        kiln_dim qs[2] = {S, 1}, ks[2] = {1, T};
        kiln_dim past = kiln_dim_sub(d->r->dst, T, S);
        if (past == KILN_DIM_INVALID) return d_fail(d, KILN_ERR_LIMIT, "symbolic dimension too complex");
        kiln_value visible = d_bin(d, KILN_OP_LE, d_iota(d, 2, ks, 1, 0), d_iota(d, 2, qs, 0, past));
        scores = d_where(d, visible, scores, neg_inf);
    }
    kiln_value mx = d_reduce(d, KILN_OP_REDUCE_MAX, scores, -1);
    mx = d_where(d, d_bin(d, KILN_OP_EQ, mx, neg_inf), d_scalar(d, t, 0.0), mx);
    kiln_value e = d_un(d, KILN_OP_EXP, d_bin(d, KILN_OP_SUB, scores, mx));
    kiln_value sum = d_reduce(d, KILN_OP_REDUCE_SUM, e, -1);
    sum = d_where(d, d_bin(d, KILN_OP_EQ, sum, d_scalar(d, t, 0.0)), d_scalar(d, t, 1.0), sum);
    kiln_value p = d_bin(d, KILN_OP_DIV, e, sum);
    if (grouped) *out = ungroup(d, d_matmul(d, group_view(d, p, Hk, G), group_view(d, v, Hk, 1)), H);
    else *out = d_matmul(d, p, v);
    return d->s;
}
