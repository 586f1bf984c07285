/* Gradient rule of matmul: C = A B (B read as [..., N, K] with trans_b).
 *   dA = dC B^T            (trans_b: dC B)
 *   dB = A^T dC            (trans_b: dC^T A)
 * each summed back over broadcast batch dims. When B is a plain 2-D
 * weight and A has batch dims (every linear layer), the batch and row
 * dims are folded into one so dB is a single 2-D GEMM instead of a
 * batched product reduced afterwards. */
#include "grad.h"

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

kiln_status grad_matmul(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int tb = n->attrs[0].kind == KILN_ATTR_BOOL && n->attrs[0].i;
    kiln_value a = c->x[0], b = c->x[1], gy = c->gy;
    int ra = gnode(c, a)->shape.rank, rb = gnode(c, b)->shape.rank;
    if (c->need[0]) c->gx[0] = g_to_input(c, 0, tb ? g_matmul(c, gy, b, 0) : g_matmul(c, gy, b, 1));
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
