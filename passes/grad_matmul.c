/* Gradient rule of matmul: C = A B (B read as [..., N, K] with trans_b).
 *   dA = dC B^T            (trans_b: dC B)
 *   dB = A^T dC            (trans_b: dC^T A)
 * each summed back over broadcast batch dims. When B is a plain 2-D
 * weight and A has batch dims (every linear layer), the batch and row
 * dims are folded into one so dB is a single 2-D GEMM instead of a
 * batched product reduced afterwards.
 *
 * dA contracts over the forward's output columns N, which is the
 * vocabulary (50257 for GPT-2) for an LM head. Backends accumulate one
 * f32 sum per output along the contraction; over tens of thousands of
 * terms its rounding error (~1e-5 relative) shows in the gradients of
 * every layer below. A constant contraction longer than SPLIT_MIN is
 * therefore cut into chunks of SPLIT_CHUNK (zero-padded to a multiple):
 * one batched matmul gives a partial product per chunk and a reduce_sum
 * adds the partials, so no single f32 sum runs longer than a chunk. */
#include "grad.h"

#define SPLIT_MIN 4096
#define SPLIT_CHUNK 1024

/* x [..., R, C] as [prod(...) * R, C] */
static kiln_value fold_rows(kiln_grad_ctx *c, kiln_value x) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape s = gnode(c, x)->shape;
    kiln_dim rows = 1;
    for (int i = 0; i < s.rank - 1 && rows != KILN_DIM_INVALID; i++) rows = kiln_dim_mul(c->g, rows, s.dims[i]);
    if (rows == KILN_DIM_INVALID) {
        g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
        return KILN_NONE;
    }
    kiln_dim d[2] = {rows, s.dims[s.rank - 1]};
    return g_reshape(c, x, 2, d);
}

/* x zero-padded on `axis` to length `to` */
static kiln_value pad_axis(kiln_grad_ctx *c, kiln_value x, int axis, int64_t to) {
    if (x == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape s = gnode(c, x)->shape;
    int64_t have = s.dims[axis];
    if (have == to) return x;
    s.dims[axis] = to - have;
    kiln_value parts[2] = {x, g_zeros(c, gnode(c, x)->dtype, &s)};
    return g_concat(c, 2, parts, axis);
}

/* x [.., M, K] @ w (w [K, D], or [D, K] with trans) with K long and
 * constant, in chunks of SPLIT_CHUNK along K (see the top). */
static kiln_value split_matmul(kiln_grad_ctx *c, kiln_value x, kiln_value w, int trans) {
    kiln_shape xs = gnode(c, x)->shape, ws = gnode(c, w)->shape;
    int64_t K = xs.dims[xs.rank - 1], m = (K + SPLIT_CHUNK - 1) / SPLIT_CHUNK, Kp = m * SPLIT_CHUNK;
    kiln_dim D = ws.dims[trans ? 0 : 1];
    kiln_value x2 = fold_rows(c, x);
    if (x2 == KILN_NONE) return KILN_NONE;
    kiln_dim P = gnode(c, x2)->shape.dims[0];
    static const int64_t swap01[3] = {1, 0, 2};
    /* x: [P, Kp] -> [P, m, chunk] -> [m, P, chunk] */
    kiln_dim x3[3] = {P, m, SPLIT_CHUNK};
    kiln_value xc = g_transpose(c, g_reshape(c, pad_axis(c, x2, 1, Kp), 3, x3), 3, swap01);
    kiln_value wc;
    if (trans) { /* [D, Kp] -> [D, m, chunk] -> [m, D, chunk] */
        kiln_dim w3[3] = {D, m, SPLIT_CHUNK};
        wc = g_transpose(c, g_reshape(c, pad_axis(c, w, 1, Kp), 3, w3), 3, swap01);
    } else { /* [Kp, D] -> [m, chunk, D] */
        kiln_dim w3[3] = {m, SPLIT_CHUNK, D};
        wc = g_reshape(c, pad_axis(c, w, 0, Kp), 3, w3);
    }
    int64_t first = 0;
    kiln_value sum = g_reduce(c, KILN_OP_REDUCE_SUM, g_matmul(c, xc, wc, trans), 1, &first, 0); /* [P, D] */
    kiln_shape out = xs;
    out.dims[out.rank - 1] = D;
    return g_reshape_like(c, sum, &out);
}

/* x @ w (trans: x @ w^T) for dA, split when the contraction is long */
static kiln_value grad_a(kiln_grad_ctx *c, kiln_value x, kiln_value w, int trans) {
    kiln_shape xs = gnode(c, x)->shape;
    int64_t K = xs.dims[xs.rank - 1];
    if (gnode(c, w)->shape.rank == 2 && kiln_dim_is_const(K) && K > SPLIT_MIN) return split_matmul(c, x, w, trans);
    return g_matmul(c, x, w, trans);
}

kiln_status grad_matmul(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int tb = n->attrs[0].kind == KILN_ATTR_BOOL && n->attrs[0].i;
    kiln_value a = c->x[0], b = c->x[1], gy = c->gy;
    int ra = gnode(c, a)->shape.rank, rb = gnode(c, b)->shape.rank;
    if (c->need[0]) c->gx[0] = g_to_input(c, 0, grad_a(c, gy, b, !tb));
    if (c->need[1]) {
        kiln_value gb;
        if (rb == 2 && ra > 2) {
            kiln_value a2 = fold_rows(c, a), g2 = fold_rows(c, gy);
            gb = tb ? g_matmul(c, g_swap_last2(c, g2), a2, 0) : g_matmul(c, g_swap_last2(c, a2), g2, 0);
        } else {
            gb = tb ? g_matmul(c, g_swap_last2(c, gy), a, 0) : g_matmul(c, g_swap_last2(c, a), gy, 0);
        }
        c->gx[1] = g_to_input(c, 1, gb);
    }
    return c->s;
}
