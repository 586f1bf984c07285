/* topk as two counting reductions, so that it runs as REDUCE kernels on
 * every backend (there is no sort template):
 *
 *   rank[i]   = #{ r : r comes before i }            (reduce_sum over r)
 *   index[j]  = sum over i of (rank[i] == j ? i : 0)  (reduce_sum over i)
 *
 * "r comes before i" is the order of docs/ops.md: the better value first
 * (NaN larger than every number), ties by the lower position. The ranks
 * are a permutation of 0..n-1, so exactly one i has rank j. Quadratic in
 * the axis length, like cumsum's kernels; a sort template would be
 * n log n. Values stay integer or exact comparisons, so the result equals
 * the reference's merge sort exactly. */
#include <string.h>

#include "decompose.h"

/* x with a size-1 axis inserted at `at` (x has rank R, axis a of size n). */
static kiln_value unsqueeze(dctx *d, kiln_value x, int at) {
    const kiln_node *n = d_node(d, x);
    if (!n) return KILN_NONE;
    kiln_dim dims[KILN_MAX_RANK];
    int R = n->shape.rank;
    if (R + 1 > KILN_MAX_RANK) {
        d_fail(d, KILN_ERR_LIMIT, "rank too large to decompose");
        return KILN_NONE;
    }
    for (int i = 0, o = 0; i <= R; i++) dims[i] = i == at ? 1 : n->shape.dims[o++];
    return d_reshape(d, x, R + 1, dims);
}

kiln_status decompose_topk(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    const kiln_node *x = d_node(d, in[0]);
    /* copied: adding nodes may move the destination graph's node array */
    kiln_shape xs = x->shape;
    int axis = (int)n->attrs[1].i, largest = (int)n->attrs[2].i, R = xs.rank, is_float = kiln_dtype_is_float(x->dtype);
    if (R + 1 > KILN_MAX_RANK) return d_fail(d, KILN_ERR_LIMIT, "rank too large to decompose");
    kiln_dim len = xs.dims[axis], k = n->attrs[0].i;

    /* pairwise space [.., i, r, ..]: xi varies along axis, xr along axis + 1 */
    kiln_value xi = unsqueeze(d, in[0], axis + 1), xr = unsqueeze(d, in[0], axis);
    kiln_dim pair[KILN_MAX_RANK];
    for (int j = 0; j <= R; j++) pair[j] = j <= axis ? xs.dims[j] : j == axis + 1 ? len : xs.dims[j - 1];
    kiln_value pos_i = d_iota(d, R + 1, pair, axis, 0), pos_r = d_iota(d, R + 1, pair, axis + 1, 0);

    kiln_value better = d_bin(d, largest ? KILN_OP_GT : KILN_OP_LT, xr, xi);
    kiln_value same = d_bin(d, KILN_OP_EQ, xr, xi);
    if (is_float) {
        /* NaN is larger than every number, and NaNs tie with each other */
        kiln_value nan = d_bin(d, KILN_OP_NE, in[0], in[0]);
        kiln_value nan_i = unsqueeze(d, nan, axis + 1), nan_r = unsqueeze(d, nan, axis);
        kiln_value nan_wins = largest ? d_bin(d, KILN_OP_AND, nan_r, d_un(d, KILN_OP_NOT, nan_i))
                                      : d_bin(d, KILN_OP_AND, nan_i, d_un(d, KILN_OP_NOT, nan_r));
        better = d_bin(d, KILN_OP_OR, better, nan_wins);
        same = d_bin(d, KILN_OP_OR, same, d_bin(d, KILN_OP_AND, nan_r, nan_i));
    }
    kiln_value before = d_bin(d, KILN_OP_OR, better, d_bin(d, KILN_OP_AND, same, d_bin(d, KILN_OP_LT, pos_r, pos_i)));
    kiln_value rank = d_reduce(d, KILN_OP_REDUCE_SUM, d_cast(d, before, KILN_I64), axis + 1); /* [.., n, 1, ..] */

    /* selection space [.., j, i, ..]: j < k along axis, i along axis + 1 */
    kiln_dim sel[KILN_MAX_RANK];
    for (int j = 0; j <= R; j++) sel[j] = j < axis ? xs.dims[j] : j == axis ? k : j == axis + 1 ? len : xs.dims[j - 1];
    kiln_value rank_i = unsqueeze(d, d_reshape(d, rank, R, xs.dims), axis);
    kiln_value want = d_iota(d, R + 1, sel, axis, 0), at = d_iota(d, R + 1, sel, axis + 1, 0);
    kiln_value pick = d_where(d, d_bin(d, KILN_OP_EQ, rank_i, want), at, d_scalar(d, KILN_I64, 0));
    kiln_value idx = d_reduce(d, KILN_OP_REDUCE_SUM, pick, axis + 1); /* [.., k, 1, ..] */
    kiln_dim shape[KILN_MAX_RANK];
    memcpy(shape, n->shape.dims, sizeof(kiln_dim) * (size_t)R);
    *out = d_reshape(d, idx, R, shape);
    return d->s;
}
