/* Gradient rules of data movement: each routes the adjoint back to the
 * elements it came from. Scatters (gather, gather_elements, strided
 * slices) are written as one-hot products with primitives every backend
 * already runs, so no backend needs a scatter-add kernel. */
#include "grad.h"

kiln_status grad_reshape(kiln_grad_ctx *c) {
    kiln_shape xs = gnode(c, c->x[0])->shape;
    c->gx[0] = g_reshape_like(c, c->gy, &xs);
    return c->s;
}

kiln_status grad_transpose(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int rank = n->shape.rank;
    int64_t inv[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) inv[n->attrs[0].list[i]] = i;
    c->gx[0] = g_transpose(c, c->gy, rank, inv);
    return c->s;
}

kiln_status grad_expand(kiln_grad_ctx *c) {
    c->gx[0] = g_to_input(c, 0, c->gy);
    return c->s;
}

/* concat: each input's adjoint is its slice of gy */
kiln_status grad_concat(kiln_grad_ctx *c) {
    int axis = (int)gnode(c, c->y)->attrs[0].i;
    kiln_dim at = 0;
    for (int i = 0; i < c->nx && !c->s; i++) {
        kiln_dim len = gnode(c, c->x[i])->shape.dims[axis];
        kiln_dim end = kiln_dim_add(c->g, at, len);
        if (end == KILN_DIM_INVALID) return g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
        if (c->need[i]) c->gx[i] = g_slice(c, c->gy, axis, at, end);
        at = end;
    }
    return c->s;
}

/* x [.., n, ..] with `len` zeros before and `after` zeros after on axis */
static kiln_value pad(kiln_grad_ctx *c, kiln_value v, int axis, kiln_dim before, kiln_dim after) {
    if (v == KILN_NONE || c->s) return KILN_NONE;
    kiln_shape s = gnode(c, v)->shape;
    kiln_dtype t = gnode(c, v)->dtype;
    kiln_value parts[3];
    int np = 0;
    if (!(kiln_dim_is_const(before) && before == 0)) {
        s.dims[axis] = before;
        parts[np++] = g_zeros(c, t, &s);
    }
    parts[np++] = v;
    if (!(kiln_dim_is_const(after) && after == 0)) {
        s.dims[axis] = after;
        parts[np++] = g_zeros(c, t, &s);
    }
    return g_concat(c, np, parts, axis);
}

/* An adjoint v [.., n, ..] scattered along axis into [.., size, ..] by a
 * one-hot matrix hot [n, size] (bool): moved to the last axis, multiplied,
 * moved back. */
static kiln_value scatter_axis(kiln_grad_ctx *c, kiln_value v, int axis, kiln_value hot) {
    if (v == KILN_NONE || c->s) return KILN_NONE;
    int rank = gnode(c, v)->shape.rank;
    kiln_dtype t = gnode(c, v)->dtype;
    int64_t to_last[KILN_MAX_RANK], back[KILN_MAX_RANK];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (i != axis) to_last[k++] = i;
    to_last[k] = axis;
    for (int i = 0; i < rank; i++) back[to_last[i]] = i;
    kiln_value moved = axis == rank - 1 ? v : g_transpose(c, v, rank, to_last);
    kiln_value r = g_matmul(c, moved, g_cast(c, hot, t), 0);
    return axis == rank - 1 ? r : g_transpose(c, r, rank, back);
}

kiln_status grad_slice(kiln_grad_ctx *c) {
    const kiln_node *n = gnode(c, c->y);
    int axis = (int)n->attrs[0].i;
    kiln_dim start = n->attrs[1].i;
    int64_t step = n->attrs[3].i;
    kiln_shape xs = gnode(c, c->x[0])->shape;
    kiln_dim size = xs.dims[axis], len = n->shape.dims[axis];
    if (step == 1) { /* zeros, gy, zeros; the shape rule left start in [0, size] */
        if (kiln_dim_is_const(start) && start < 0) start = 0; /* an empty slice before index 0 */
        kiln_dim after = kiln_dim_sub(c->g, kiln_dim_sub(c->g, size, start), len);
        if (after == KILN_DIM_INVALID) return g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
        c->gx[0] = pad(c, c->gy, axis, start, after);
        return c->s;
    }
    /* other steps have constant bounds: element i came from start + i*step
     * (a start stored as -size-1 means just before index 0) */
    if (start < 0) start += size;
    if (start < 0) start = -1;
    kiln_dim col[2] = {len, 1}, row[2] = {1, size};
    kiln_value from = g_add(c, g_mul(c, g_iota(c, 2, col, 0, 0, KILN_I64), g_scalar(c, KILN_I64, (double)step)),
                            g_scalar(c, KILN_I64, (double)start));
    kiln_value hot = g_bin(c, KILN_OP_EQ, from, g_iota(c, 2, row, 1, 0, KILN_I64));
    c->gx[0] = scatter_axis(c, c->gy, axis, hot);
    return c->s;
}

/* indices with negative entries counted from the end, as gather reads them */
static kiln_value wrap_indices(kiln_grad_ctx *c, kiln_value idx, kiln_dim size) {
    kiln_dtype it = gnode(c, idx)->dtype;
    kiln_value zero = g_scalar(c, it, 0.0);
    return g_where(c, g_bin(c, KILN_OP_LT, idx, zero), g_add(c, idx, g_dim_value(c, size, it)), idx);
}

/* A table of at least this many rows takes the deduplicated form below:
 * a step looks up far fewer ids than a vocabulary holds (GPT-2: 50257). */
enum { DEDUP_MIN_ROWS = 4096 };

/* d table [V, Q] for n lookups idx [1, n] (wrapped) of adjoint gy2 [n, Q],
 * without the V x n x Q product of the one-hot form:
 *   same [n, n] = (idx_i == idx_j), dsum = same @ gy2: each lookup's row
 *     gets the sum over every lookup of its id (n x n x Q);
 *   last [V] = the last lookup i of each id, -1 for none: a max over the
 *     V x n tests, in t (exact for n < 2^24 in f32);
 *   d table[v] = dsum[last[v]] where last[v] >= 0, else 0.
 * Each sum still runs over all n lookups in order, as the one-hot product
 * does. Cheaper while n < V. */
static kiln_value scatter_dedup(kiln_grad_ctx *c, kiln_value idx, kiln_value gy2, kiln_dim V, kiln_dim n) {
    kiln_dtype t = gnode(c, gy2)->dtype, it = gnode(c, idx)->dtype;
    kiln_dim ncol[2] = {n, 1}, vcol[2] = {V, 1}, nrow[2] = {1, n};
    kiln_value same = g_cast(c, g_bin(c, KILN_OP_EQ, g_reshape(c, idx, 2, ncol), idx), t);
    kiln_value dsum = g_matmul(c, same, gy2, 0);
    kiln_value hot = g_bin(c, KILN_OP_EQ, g_iota(c, 2, vcol, 0, 0, it), idx);
    kiln_value at = g_where(c, hot, g_iota(c, 2, nrow, 1, 0, t), g_scalar(c, t, -1.0));
    kiln_value last = g_reduce_last(c, KILN_OP_REDUCE_MAX, at); /* [V, 1] */
    kiln_value hit = g_bin(c, KILN_OP_GE, last, g_scalar(c, t, 0.0));
    kiln_named_attr ax0 = kiln_a_int("axis", 0);
    kiln_value rows[2] = {dsum, g_reshape(c, g_cast(c, last, KILN_I64), 1, &V)};
    kiln_value picked = g_op(c, KILN_OP_GATHER, 2, rows, 1, &ax0); /* -1 reads the last row; masked below */
    return g_where(c, hit, picked, g_scalar(c, t, 0.0));
}

/* gather(table [pre.., V, post..], idx [I..]) -> [pre.., I.., post..]:
 * hot [V, n] = (iota == idx) over the n = |I| lookups, and
 * d table = hot @ gy viewed as [P, n, Q] -> [P, V, Q]. Repeated indices
 * add up, which is the scatter-add the rule needs. A large table read
 * along its first axis (an embedding) takes scatter_dedup instead. */
kiln_status grad_gather(kiln_grad_ctx *c) {
    int axis = (int)gnode(c, c->y)->attrs[0].i;
    kiln_shape xs = gnode(c, c->x[0])->shape, is = gnode(c, c->x[1])->shape;
    kiln_dtype t = gnode(c, c->y)->dtype, it = gnode(c, c->x[1])->dtype;
    kiln_dim P = 1, Q = 1, n = 1, V = xs.dims[axis];
    for (int i = 0; i < axis; i++) P = kiln_dim_mul(c->g, P, xs.dims[i]);
    for (int i = axis + 1; i < xs.rank; i++) Q = kiln_dim_mul(c->g, Q, xs.dims[i]);
    for (int i = 0; i < is.rank; i++) n = kiln_dim_mul(c->g, n, is.dims[i]);
    if (P == KILN_DIM_INVALID || Q == KILN_DIM_INVALID || n == KILN_DIM_INVALID)
        return g_fail(c, KILN_ERR_LIMIT, "symbolic dimension too complex");
    kiln_dim flat[2] = {1, n}, col[2] = {V, 1}, g3[3] = {P, n, Q};
    kiln_value idx = g_reshape(c, wrap_indices(c, c->x[1], V), 2, flat);
    int single = kiln_dim_is_const(P) && P == 1;
    int dedup = single && kiln_dim_is_const(V) && V >= DEDUP_MIN_ROWS && !(kiln_dim_is_const(n) && n >= V);
    kiln_dim g2[2] = {n, Q}, h3[3] = {1, V, n};
    kiln_value sum;
    if (dedup) {
        sum = scatter_dedup(c, idx, g_reshape(c, c->gy, 2, g2), V, n);
    } else {
        kiln_value hot = g_cast(c, g_bin(c, KILN_OP_EQ, g_iota(c, 2, col, 0, 0, it), idx), t);
        if (single) sum = g_matmul(c, hot, g_reshape(c, c->gy, 2, g2), 0);
        else sum = g_matmul(c, g_reshape(c, hot, 3, h3), g_reshape(c, c->gy, 3, g3), 0); /* [V, n] broadcast over P */
    }
    c->gx[0] = g_reshape_like(c, sum, &xs);
    return c->s;
}

/* gather_elements(x, idx, axis): out[..i..] = x[..idx[..i..]..] on axis.
 * d x[..j..] = sum over i of gy[..i..] where idx[..i..] == j: the one-hot
 * test over a new axis after `axis`, reduced over `axis`. Where idx is
 * smaller than x off the axis, the rest of x gets zeros. */
kiln_status grad_gather_elements(kiln_grad_ctx *c) {
    int axis = (int)gnode(c, c->y)->attrs[0].i;
    kiln_shape xs = gnode(c, c->x[0])->shape, is = gnode(c, c->x[1])->shape;
    kiln_dtype t = gnode(c, c->y)->dtype, it = gnode(c, c->x[1])->dtype;
    int rank = xs.rank;
    if (rank + 1 > KILN_MAX_RANK) return g_fail(c, KILN_ERR_UNSUPPORTED, "rank %d is the maximum", rank);
    kiln_dim D = xs.dims[axis];
    kiln_shape wide, hot_s;
    wide.rank = hot_s.rank = rank + 1;
    for (int i = 0, k = 0; i <= rank; i++) {
        if (i == axis + 1) {
            wide.dims[i] = 1;
            hot_s.dims[i] = D;
            continue;
        }
        wide.dims[i] = is.dims[k];
        hot_s.dims[i] = i == axis ? 1 : is.dims[k];
        k++;
    }
    kiln_value idx = g_reshape_like(c, wrap_indices(c, c->x[1], D), &wide);
    kiln_value iota = g_iota(c, hot_s.rank, hot_s.dims, axis + 1, 0, it);
    kiln_value hit = g_bin(c, KILN_OP_EQ, idx, iota);
    kiln_value spread = g_where(c, hit, g_reshape_like(c, c->gy, &wide), g_scalar(c, t, 0.0));
    int64_t ax = axis;
    kiln_value gx = g_reduce(c, KILN_OP_REDUCE_SUM, spread, 1, &ax, 0);
    for (int i = 0; i < rank && !c->s; i++) {
        if (i == axis || is.dims[i] == xs.dims[i]) continue;
        gx = pad(c, gx, i, 0, kiln_dim_sub(c->g, xs.dims[i], is.dims[i]));
    }
    c->gx[0] = gx;
    return c->s;
}
