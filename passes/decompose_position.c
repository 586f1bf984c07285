/* rope and rel_pos_bucket as primitives, following the float32 steps the
 * reference (and Hugging Face) takes: the frequency table is computed here
 * with the same powf expression, angles are f32 products, and T5's bucket
 * arithmetic is a chain of f32 ops. */
#include <math.h>
#include <stdlib.h>

#include "decompose.h"

/* 1 / theta^(2i/R) for i < R/2, in float32 like the reference. */
static kiln_value inv_freq(dctx *d, double theta, int64_t R) {
    if (d->s) return KILN_NONE;
    int64_t half = R / 2;
    kiln_tensor t;
    d->s = kiln_tensor_alloc(&t, KILN_F32, 1, &half);
    if (d->s) return KILN_NONE;
    for (int64_t i = 0; i < half; i++)
        ((float *)t.data)[i] = 1.0f / powf((float)theta, (float)(2 * i) / (float)R);
    kiln_graph_set_loc(d->r->dst, kiln_graph_node(d->r->src, d->like)->loc);
    kiln_value v = KILN_NONE;
    d->s = kiln_graph_add_const(d->r->dst, &t, &v);
    kiln_tensor_release(&t);
    return d->s ? KILN_NONE : v;
}

/* a' = a c - b s, b' = b c + a s */
static void rotate(dctx *d, kiln_value a, kiln_value b, kiln_value c, kiln_value s, kiln_value *ra, kiln_value *rb) {
    *ra = d_bin(d, KILN_OP_SUB, d_bin(d, KILN_OP_MUL, a, c), d_bin(d, KILN_OP_MUL, b, s));
    *rb = d_bin(d, KILN_OP_ADD, d_bin(d, KILN_OP_MUL, b, c), d_bin(d, KILN_OP_MUL, a, s));
}

kiln_status decompose_rope(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    /* a copy: building nodes below may move the new graph's node array */
    const kiln_shape xs = d_node(d, in[0])->shape;
    int rank = xs.rank;
    kiln_dim S = xs.dims[rank - 2], D = xs.dims[rank - 1];
    int64_t R = n->attrs[2].i ? n->attrs[2].i : D, half = R / 2;
    int interleaved = (int)n->attrs[1].i;
    if (interleaved && rank + 1 > KILN_MAX_RANK) return d_fail(d, KILN_ERR_UNSUPPORTED, "interleaved rope at the maximum rank");
    /* the reference keeps tables in f32 and the rotation in double: compute
     * in f32 (f64 for f64 input) and round once at the end */
    kiln_dtype ct = n->dtype == KILN_F64 ? KILN_F64 : KILN_F32;
    kiln_dim col[2] = {S, 1};
    kiln_value pos = d_reshape(d, d_cast(d, in[1], KILN_F32), 2, col);
    kiln_value angle = d_bin(d, KILN_OP_MUL, pos, inv_freq(d, n->attrs[0].f, R)); /* [S, half] */
    kiln_value c = d_cast(d, d_un(d, KILN_OP_COS, angle), ct), s = d_cast(d, d_un(d, KILN_OP_SIN, angle), ct);
    kiln_value x = d_cast(d, in[0], ct), parts[3];
    int np = 0;
    if (!interleaved) {
        kiln_value a = d_slice(d, x, rank - 1, 0, half), b = d_slice(d, x, rank - 1, half, R);
        rotate(d, a, b, c, s, &parts[0], &parts[1]);
        np = 2;
    } else {
        kiln_dim pairs[KILN_MAX_RANK];
        for (int i = 0; i < rank - 1; i++) pairs[i] = xs.dims[i];
        pairs[rank - 1] = half;
        pairs[rank] = 2;
        kiln_value xr = d_reshape(d, d_slice(d, x, rank - 1, 0, R), rank + 1, pairs);
        kiln_dim tab[3] = {S, half, 1};
        kiln_value a = d_slice(d, xr, rank, 0, 1), b = d_slice(d, xr, rank, 1, 2), ra, rb;
        rotate(d, a, b, d_reshape(d, c, 3, tab), d_reshape(d, s, 3, tab), &ra, &rb);
        kiln_value both[2] = {ra, rb};
        kiln_dim back[KILN_MAX_RANK];
        for (int i = 0; i < rank - 1; i++) back[i] = xs.dims[i];
        back[rank - 1] = R;
        parts[np++] = d_reshape(d, d_concat(d, 2, both, rank), rank, back);
    }
    if (R < D) parts[np++] = d_slice(d, x, rank - 1, R, D);
    kiln_value y = np == 1 ? parts[0] : d_concat(d, np, parts, rank - 1);
    *out = d_cast(d, y, n->dtype);
    return d->s;
}

kiln_status decompose_rel_pos_bucket(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    int bidirectional = (int)n->attrs[0].i;
    int64_t nb = n->attrs[1].i, md = n->attrs[2].i;
    kiln_dim S = d_node(d, in[0])->shape.dims[0], T = d_node(d, in[1])->shape.dims[0];
    kiln_dim row[2] = {1, T}, col[2] = {S, 1};
    kiln_value kp = d_reshape(d, d_cast(d, in[1], KILN_I64), 2, row);
    kiln_value qp = d_reshape(d, d_cast(d, in[0], KILN_I64), 2, col);
    kiln_value rel = d_bin(d, KILN_OP_SUB, kp, qp), zero = d_scalar(d, KILN_I64, 0), ret = zero, dist;
    if (bidirectional) {
        nb /= 2;
        ret = d_where(d, d_bin(d, KILN_OP_GT, rel, zero), d_scalar(d, KILN_I64, (double)nb), zero);
        dist = d_un(d, KILN_OP_ABS, rel);
    } else {
        dist = d_bin(d, KILN_OP_MAX, d_un(d, KILN_OP_NEG, rel), zero);
    }
    int64_t max_exact = nb / 2;
    /* logf(n / max_exact) / logf-table constant * (nb - max_exact), in f32 */
    kiln_value l = d_un(d, KILN_OP_LOG, d_bin(d, KILN_OP_DIV, d_cast(d, dist, KILN_F32), d_scalar(d, KILN_F32, (double)(float)max_exact)));
    l = d_bin(d, KILN_OP_DIV, l, d_scalar(d, KILN_F32, (double)(float)log((double)md / (double)max_exact)));
    l = d_bin(d, KILN_OP_MUL, l, d_scalar(d, KILN_F32, (double)(float)(nb - max_exact)));
    kiln_value large = d_bin(d, KILN_OP_ADD, d_scalar(d, KILN_I64, (double)max_exact), d_cast(d, l, KILN_I64));
    large = d_bin(d, KILN_OP_MIN, large, d_scalar(d, KILN_I64, (double)(nb - 1)));
    kiln_value small = d_bin(d, KILN_OP_LT, dist, d_scalar(d, KILN_I64, (double)max_exact));
    *out = d_bin(d, KILN_OP_ADD, ret, d_where(d, small, dist, large));
    return d->s;
}
