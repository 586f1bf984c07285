/* Scatter ops with indices known at import time: ScatterElements,
 * ScatterND, Scatter (the old name) and TensorScatter. The indices fix
 * which update lands on which data element, so the scatter becomes a
 * gather from the flattened updates through a constant table:
 *   reduction none   out = where(written, updates[last writer], data)
 *   add/mul/max/min  out = data (op) reduce(updates[writers], padded with
 *                    the reduction's identity)
 * Data and updates may be computed at run time; indices computed at run
 * time are not supported (the written positions would be unknown). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static kiln_status reduction_of(ox_ctx *c, const onnx_node *n, int *out) {
    const char *r = ox_attr_s(n, "reduction", "none");
    static const char *names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (strcmp(r, names[i]) == 0) {
            *out = i;
            return KILN_OK;
        }
    return ox_invalid(c, "unknown reduction '%s'", r);
}

static int static_dims(ox_ctx *c, ox_id x, int64_t *dims) {
    kiln_shape s = OV(c, x)->shape;
    for (int i = 0; i < s.rank; i++) {
        if (!kiln_dim_is_const(s.dims[i])) return 0;
        dims[i] = s.dims[i];
    }
    return 1;
}

static double identity(kiln_dtype t, int red) {
    if (red == RED_ADD) return 0;
    if (red == RED_MUL) return 1;
    if (kiln_dtype_is_float(t)) return red == RED_MAX ? -INFINITY : INFINITY;
    int bits = (int)kiln_dtype_size(t) * 8;
    int is_unsigned = t == KILN_U8 || t == KILN_U16 || t == KILN_U32 || t == KILN_U64;
    if (red == RED_MAX) return is_unsigned ? 0 : -ldexp(1.0, bits - 1);
    return is_unsigned ? ldexp(1.0, bits) - 1 : ldexp(1.0, bits - 1) - 1;
}

/* data with update u written to data element tgt[u] (updates in row-major order) */
static kiln_status scatter_flat(ox_ctx *c, ox_id data, ox_id updates, const int64_t *tgt, int64_t nu, int red, ox_id *out) {
    int64_t ds[KILN_MAX_RANK];
    if (!static_dims(c, data, ds)) return ox_unsupported(c, "scattering into a tensor of symbolic shape");
    kiln_shape dshape = OV(c, data)->shape;
    int64_t nd = kiln_shape_numel(dshape.rank, ds);
    if (nd > (1 << 22)) return ox_unsupported(c, "scattering into %lld elements", (long long)nd);
    kiln_dtype dt = ox_dtype(c, data);
    if (ox_dtype(c, updates) != dt) return ox_invalid(c, "updates and data differ in type");
    int64_t *count = calloc((size_t)(nd ? nd : 1), sizeof(int64_t));
    if (!count) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int64_t depth = 0;
    for (int64_t u = 0; u < nu; u++)
        if (++count[tgt[u]] > depth) depth = count[tgt[u]];
    if (red == RED_NONE && depth > 1) depth = 1; /* the last write wins */
    kiln_status st = KILN_OK;
    kiln_dim fd = nd, fu = nu;
    ox_id dflat, uflat, y;
    st = ox_reshape(c, data, 1, &fd, &dflat);
    if (!st) st = ox_reshape(c, updates, 1, &fu, &uflat);
    if (!st && depth == 0) y = dflat;
    else if (!st && red == RED_NONE) {
        kiln_tensor idx, mask;
        st = kiln_tensor_alloc(&idx, KILN_I64, 1, &nd);
        if (!st && (st = kiln_tensor_alloc(&mask, KILN_BOOL, 1, &nd))) kiln_tensor_release(&idx);
        if (!st) {
            for (int64_t u = 0; u < nu; u++) {
                ((int64_t *)idx.data)[tgt[u]] = u;
                ((uint8_t *)mask.data)[tgt[u]] = 1;
            }
            ox_id iv, mv, g;
            st = ox_from_tensor(c, &idx, &iv);
            if (!st) st = ox_from_tensor(c, &mask, &mv);
            else kiln_tensor_release(&mask);
            if (!st) st = ox_gather(c, uflat, iv, 0, &g);
            if (!st) st = ox_where(c, mv, g, dflat, &y);
        }
    } else if (!st) {
        /* table [nd, depth] of writers, the identity at index nu */
        kiln_tensor tab;
        int64_t ts[2] = {nd, depth};
        int64_t *fill = calloc((size_t)(nd ? nd : 1), sizeof(int64_t));
        st = fill ? kiln_tensor_alloc(&tab, KILN_I64, 2, ts) : kiln_error(KILN_ERR_NOMEM, "out of memory");
        if (!st) {
            int64_t *t = tab.data;
            for (int64_t i = 0; i < nd * depth; i++) t[i] = nu;
            for (int64_t u = 0; u < nu; u++) t[tgt[u] * depth + fill[tgt[u]]++] = u;
            ox_id tv, idn, parts[2], padded, g, r;
            int64_t one = 1;
            kiln_dim d1 = 1;
            st = ox_from_tensor(c, &tab, &tv);
            if (!st) st = ox_scalar(c, dt, identity(dt, red), &idn);
            if (!st) st = ox_reshape(c, idn, 1, &d1, &parts[1]);
            parts[0] = uflat;
            if (!st) st = ox_concat(c, 2, parts, 0, &padded);
            if (!st) st = ox_gather(c, padded, tv, 0, &g);
            kiln_op rop = red == RED_ADD ? KILN_OP_REDUCE_SUM : red == RED_MUL ? KILN_OP_REDUCE_PROD
                          : red == RED_MAX ? KILN_OP_REDUCE_MAX : KILN_OP_REDUCE_MIN;
            kiln_op cop = red == RED_ADD ? KILN_OP_ADD : red == RED_MUL ? KILN_OP_MUL : red == RED_MAX ? KILN_OP_MAX : KILN_OP_MIN;
            if (!st) st = ox_reduce(c, rop, g, 1, &one, 0, &r);
            if (!st) st = ox_binary(c, cop, dflat, r, &y);
        }
        free(fill);
    }
    free(count);
    KILN_TRY(st);
    return ox_reshape(c, y, dshape.rank, dshape.dims, out);
}

static kiln_status known_indices(ox_ctx *c, ox_id idx, int64_t **out, int64_t *n) {
    if (!ox_is_known(c, idx)) return ox_unsupported(c, "indices computed at run time");
    const kiln_tensor *t = &OV(c, idx)->k;
    if (!kiln_dtype_is_int(t->dtype)) return ox_invalid(c, "indices must be integers");
    *n = kiln_tensor_numel(t);
    *out = malloc(sizeof(int64_t) * (size_t)(*n ? *n : 1));
    if (!*out) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < *n; i++) (*out)[i] = kiln_load_i64(t->data, t->dtype, (size_t)i);
    return KILN_OK;
}

/* ScatterElements / Scatter: update at index p goes to p with its `axis`
 * coordinate replaced by indices[p]. */
OX_CONV(conv_scatter_elements) {
    (void)nout;
    OX_REQ(data, 0);
    OX_REQ(idx, 1);
    OX_REQ(upd, 2);
    int red = RED_NONE;
    if (strcmp(n->op_type, "ScatterElements") == 0) KILN_TRY(reduction_of(c, n, &red));
    int64_t ds[KILN_MAX_RANK], is[KILN_MAX_RANK];
    int rank = ox_rank(c, data), axis;
    if (!static_dims(c, data, ds) || !static_dims(c, idx, is)) return ox_unsupported(c, "symbolic shapes");
    if (ox_rank(c, idx) != rank || !kiln_shape_equal(&OV(c, idx)->shape, &OV(c, upd)->shape))
        return ox_invalid(c, "indices and updates must have the data's rank and one shape");
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), rank, "axis", &axis));
    for (int d = 0; d < rank; d++)
        if (d != axis && is[d] > ds[d]) return ox_invalid(c, "indices exceed the data on axis %d", d);
    int64_t *iv, ni;
    KILN_TRY(known_indices(c, idx, &iv, &ni));
    int64_t *tgt = malloc(sizeof(int64_t) * (size_t)(ni ? ni : 1));
    kiln_status st = tgt ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int64_t p = 0; !st && p < ni; p++) {
        int64_t rem = p, coord[KILN_MAX_RANK], flat = 0;
        for (int d = rank - 1; d >= 0; d--) {
            coord[d] = rem % is[d];
            rem /= is[d];
        }
        int64_t k = iv[p] < 0 ? iv[p] + ds[axis] : iv[p];
        if (k < 0 || k >= ds[axis]) {
            st = ox_invalid(c, "index %lld is out of range for axis %d of size %lld", (long long)iv[p], axis, (long long)ds[axis]);
            break;
        }
        coord[axis] = k;
        for (int d = 0; d < rank; d++) flat = flat * ds[d] + coord[d];
        tgt[p] = flat;
    }
    if (!st) st = scatter_flat(c, data, upd, tgt, ni, red, &out[0]);
    free(iv);
    free(tgt);
    return st;
}

/* ScatterND: indices [..., k] address slices data[i0..ik-1, ...]. */
OX_CONV(conv_scatter_nd) {
    (void)nout;
    OX_REQ(data, 0);
    OX_REQ(idx, 1);
    OX_REQ(upd, 2);
    int red = RED_NONE;
    KILN_TRY(reduction_of(c, n, &red));
    int64_t ds[KILN_MAX_RANK], is[KILN_MAX_RANK];
    int rank = ox_rank(c, data), irank = ox_rank(c, idx);
    if (!static_dims(c, data, ds) || !static_dims(c, idx, is)) return ox_unsupported(c, "symbolic shapes");
    if (irank < 1 || is[irank - 1] < 1 || is[irank - 1] > rank) return ox_invalid(c, "bad index tuple length");
    int k = (int)is[irank - 1];
    int64_t slice = 1, m = 1;
    for (int d = k; d < rank; d++) slice *= ds[d];
    for (int d = 0; d < irank - 1; d++) m *= is[d];
    int64_t *iv, ni;
    KILN_TRY(known_indices(c, idx, &iv, &ni));
    int64_t *tgt = malloc(sizeof(int64_t) * (size_t)(m * slice > 0 ? m * slice : 1));
    kiln_status st = tgt ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; !st && r < m; r++) {
        int64_t base = 0;
        for (int j = 0; j < k; j++) {
            int64_t v = iv[r * k + j];
            if (v < 0) v += ds[j];
            if (v < 0 || v >= ds[j]) {
                st = ox_invalid(c, "index %lld is out of range for axis %d", (long long)iv[r * k + j], j);
                break;
            }
            base = base * ds[j] + v;
        }
        for (int64_t s = 0; !st && s < slice; s++) tgt[r * slice + s] = base * slice + s;
    }
    if (!st) {
        int64_t us[KILN_MAX_RANK];
        if (!static_dims(c, upd, us) || kiln_shape_numel(ox_rank(c, upd), us) != m * slice)
            st = ox_invalid(c, "updates do not match the indexed slices");
    }
    if (!st) st = scatter_flat(c, data, upd, tgt, m * slice, red, &out[0]);
    free(iv);
    free(tgt);
    return st;
}

/* TensorScatter(past_cache, update, write_indices?; axis, mode): update's
 * sequence positions j go to write_indices[b] + j (mod the cache length
 * when circular) along axis, per batch entry b. */
OX_CONV(conv_tensor_scatter) {
    (void)nout;
    OX_REQ(cache, 0);
    OX_REQ(upd, 1);
    ox_id wi = ox_in(in, nin, 2);
    int64_t cs[KILN_MAX_RANK], us[KILN_MAX_RANK];
    int rank = ox_rank(c, cache), axis;
    if (!static_dims(c, cache, cs) || !static_dims(c, upd, us) || ox_rank(c, upd) != rank)
        return ox_unsupported(c, "symbolic or mismatched shapes");
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", -2), rank, "axis", &axis));
    if (axis == 0) return ox_invalid(c, "axis must not be the batch axis");
    const char *mode = ox_attr_s(n, "mode", "linear");
    int circular = strcmp(mode, "circular") == 0;
    if (!circular && strcmp(mode, "linear")) return ox_invalid(c, "unknown mode '%s'", mode);
    for (int d = 0; d < rank; d++)
        if (d != axis ? us[d] != cs[d] : us[d] > cs[d]) return ox_invalid(c, "update does not fit the cache");
    int64_t *w = NULL, nw = 0;
    if (wi != OX_NONE) KILN_TRY(known_indices(c, wi, &w, &nw));
    if (w && nw != cs[0]) {
        free(w);
        return ox_invalid(c, "write_indices needs one entry per batch");
    }
    int64_t nu = kiln_shape_numel(rank, us);
    int64_t *tgt = malloc(sizeof(int64_t) * (size_t)(nu ? nu : 1));
    kiln_status st = tgt ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int64_t u = 0; !st && u < nu; u++) {
        int64_t rem = u, coord[KILN_MAX_RANK], flat = 0;
        for (int d = rank - 1; d >= 0; d--) {
            coord[d] = rem % us[d];
            rem /= us[d];
        }
        int64_t pos = (w ? w[coord[0]] : 0) + coord[axis];
        if (circular) pos = ((pos % cs[axis]) + cs[axis]) % cs[axis];
        if (pos < 0 || pos >= cs[axis]) {
            st = ox_invalid(c, "write position %lld is outside the cache", (long long)pos);
            break;
        }
        coord[axis] = pos;
        for (int d = 0; d < rank; d++) flat = flat * cs[d] + coord[d];
        tgt[u] = flat;
    }
    if (!st) st = scatter_flat(c, cache, upd, tgt, nu, RED_NONE, &out[0]);
    free(w);
    free(tgt);
    return st;
}

const ox_converter ox_scatter_ops[] = {
    {"ScatterElements", conv_scatter_elements},
    {"Scatter", conv_scatter_elements},
    {"ScatterND", conv_scatter_nd},
    {"TensorScatter", conv_tensor_scatter},
    {NULL, NULL},
};
