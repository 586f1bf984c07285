/* Shape and data-movement ops: Shape, Size, Reshape, Flatten, Squeeze,
 * Unsqueeze, Concat, Split, Slice, Gather, GatherElements, GatherND,
 * Transpose, Expand, Tile, Pad, ConstantOfShape, Constant, Range, Trilu,
 * OneHot, EyeLike, DepthToSpace, SpaceToDepth, Compress, NonZero. Shape
 * arguments (Reshape's shape, Slice's starts, ...) must be known at import
 * time; they may hold symbolic dims. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }

/* Bounds beyond this are "to the end" (exporters use INT64_MAX/MIN). */
#define BIG_BOUND (INT64_C(1) << 40)

/* A dims-valued input (shape, starts, ...); error naming it when unknown. */
static kiln_status need_dims(ox_ctx *c, ox_id id, const char *what, kiln_dim *out, int max, int *count) {
    int k = ox_dims(c, id, out, max);
    if (k < 0) {
        if (id != OX_NONE && !OV(c, id)->known && !OV(c, id)->sym)
            return ox_unsupported(c, "%s is computed at run time (kiln needs it when the graph is built)", what);
        return ox_unsupported(c, "%s is not a small integer tensor", what);
    }
    *count = k;
    return KILN_OK;
}

/* Sizes (a shape to reshape or expand to) must be within OX_MAX_DIM. */
static kiln_status need_sizes(ox_ctx *c, ox_id id, const char *what, kiln_dim *out, int max, int *count) {
    KILN_TRY(need_dims(c, id, what, out, max, count));
    for (int i = 0; i < *count; i++)
        if (kiln_dim_is_const(out[i]) && (out[i] > OX_MAX_DIM || out[i] < -OX_MAX_DIM))
            return ox_invalid(c, "%s holds %lld, out of range", what, (long long)out[i]);
    return KILN_OK;
}

static kiln_status need_ints(ox_ctx *c, ox_id id, const char *what, int64_t *out, int max, int *count) {
    int k = ox_const_ints(c, id, out, max);
    if (k < 0) return ox_unsupported(c, "%s must be constant integers", what);
    *count = k;
    return KILN_OK;
}

/* Axes from an attribute (old opsets) or an input (new ones); -1 absent. */
static kiln_status axes_arg(ox_ctx *c, const onnx_node *n, const ox_id *in, int nin, int input_from_opset, int index,
                            int64_t *axes, int *count) {
    *count = -1;
    if (c->opset >= input_from_opset) {
        ox_id a = ox_in(in, nin, index);
        if (a != OX_NONE) KILN_TRY(need_ints(c, a, "axes", axes, KILN_MAX_RANK * 2, count));
        return KILN_OK;
    }
    const int64_t *list;
    int k = ox_attr_ints(n, "axes", &list);
    if (k > KILN_MAX_RANK * 2) return ox_invalid(c, "too many axes");
    for (int i = 0; i < k; i++) axes[i] = list[i];
    *count = k;
    return KILN_OK;
}

/* ---- Shape, Size ------------------------------------------------------------------ */
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

OX_CONV(conv_shape) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    int64_t r = s.rank, start = ox_attr_i(n, "start", 0), end = ox_attr_i(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = clamp64(start, 0, r);
    end = clamp64(end, 0, r);
    int64_t len = end > start ? end - start : 0;
    return ox_from_dims(c, KILN_I64, 1, &len, s.dims + start, &out[0]);
}

OX_CONV(conv_size) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    kiln_dim d = kiln_shape_numel_dim(c->g, &s);
    if (d == KILN_DIM_INVALID) return ox_unsupported(c, "element count too complex");
    return ox_from_dims(c, KILN_I64, 0, NULL, &d, &out[0]);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze --------------------------------------- */
OX_CONV(conv_reshape) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_dim want[KILN_MAX_RANK];
    int k = 0;
    if (c->opset < 5) {
        const int64_t *list;
        k = ox_attr_ints(n, "shape", &list);
        if (k < 0 || k > KILN_MAX_RANK) return ox_invalid(c, "attribute 'shape' is missing or too long");
        for (int i = 0; i < k; i++) want[i] = ox_clamp_dim(list[i]);
        for (int i = 0; i < k; i++)
            if (want[i] > OX_MAX_DIM || want[i] < -OX_MAX_DIM) return ox_invalid(c, "shape entry out of range");
    } else {
        OX_REQ(sh, 1);
        KILN_TRY(need_sizes(c, sh, "the target shape", want, KILN_MAX_RANK, &k));
    }
    kiln_shape xs = OV(c, x)->shape;
    int allowzero = (int)ox_attr_i(n, "allowzero", 0), infer = -1;
    kiln_dim known = 1;
    for (int i = 0; i < k; i++) {
        if (want[i] == 0 && !allowzero) {
            if (i >= xs.rank) return ox_invalid(c, "shape entry %d is 0 but the input has rank %d", i, xs.rank);
            want[i] = xs.dims[i];
        }
        if (want[i] == -1) {
            if (infer >= 0) return ox_invalid(c, "more than one -1 in the target shape");
            infer = i;
            continue;
        }
        if (kiln_dim_is_const(want[i]) && want[i] < 0) return ox_invalid(c, "shape entry %lld", (long long)want[i]);
        known = kiln_dim_mul(c->g, known, want[i]);
    }
    if (infer >= 0) {
        kiln_dim total = kiln_shape_numel_dim(c->g, &xs);
        if (known == KILN_DIM_INVALID || total == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
        if (known == 0) want[infer] = 0;
        else {
            kiln_status s = kiln_dim_div(c->g, total, known, &want[infer]);
            if (s) {
                kiln_status_free(s);
                char b1[128], b2[128];
                return ox_invalid(c, "cannot infer the -1 dimension: %s elements do not divide by %s",
                                  kiln_dim_str(c->g, total, b1, sizeof b1), kiln_dim_str(c->g, known, b2, sizeof b2));
            }
        }
    }
    return ox_reshape(c, x, k, want, &out[0]);
}

OX_CONV(conv_flatten) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape xs = OV(c, x)->shape;
    int64_t axis = ox_attr_i(n, "axis", 1);
    if (axis < 0) axis += xs.rank;
    if (axis < 0 || axis > xs.rank) return ox_invalid(c, "axis %lld out of range", (long long)ox_attr_i(n, "axis", 1));
    kiln_dim a = 1, b = 1;
    for (int i = 0; i < xs.rank; i++) {
        if (i < axis) a = kiln_dim_mul(c->g, a, xs.dims[i]);
        else b = kiln_dim_mul(c->g, b, xs.dims[i]);
    }
    if (a == KILN_DIM_INVALID || b == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
    kiln_dim dims[2] = {a, b};
    return ox_reshape(c, x, 2, dims, &out[0]);
}

OX_CONV(conv_squeeze) {
    (void)nout;
    OX_REQ(x, 0);
    int64_t axes[KILN_MAX_RANK * 2];
    int k = 0;
    KILN_TRY(axes_arg(c, n, in, nin, 13, 1, axes, &k));
    kiln_shape xs = OV(c, x)->shape;
    if (k < 0) { /* every dim of size 1 */
        k = 0;
        for (int i = 0; i < xs.rank; i++) {
            if (xs.dims[i] == 1) axes[k++] = i;
            else if (!kiln_dim_is_const(xs.dims[i])) return ox_unsupported(c, "squeezing a symbolic dimension");
        }
    }
    return ox_squeeze(c, x, k, axes, &out[0]);
}

OX_CONV(conv_unsqueeze) {
    (void)nout;
    OX_REQ(x, 0);
    int64_t axes[KILN_MAX_RANK * 2];
    int k = 0;
    KILN_TRY(axes_arg(c, n, in, nin, 13, 1, axes, &k));
    if (k < 0) return ox_invalid(c, "axes are required");
    return ox_unsqueeze(c, x, k, axes, &out[0]);
}

/* ---- Concat, Split, Slice ----------------------------------------------------------- */
OX_CONV(conv_concat) {
    (void)nout;
    ox_id *xs = malloc(sizeof(ox_id) * (size_t)(nin ? nin : 1));
    if (!xs) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < nin; i++)
        if (in[i] != OX_NONE) xs[k++] = in[i];
    kiln_status s = KILN_OK;
    int axis = 0;
    if (!k) s = ox_invalid(c, "no inputs");
    if (!s) s = ox_axis(c, ox_attr_i(n, "axis", 0), ox_rank(c, xs[0]), "axis", &axis);
    if (!s) s = ox_concat(c, k, xs, axis, &out[0]);
    free(xs);
    return s;
}

OX_CONV(conv_split) {
    OX_REQ(x, 0);
    kiln_shape xs = OV(c, x)->shape;
    int axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), xs.rank, "axis", &axis));
    kiln_dim d = xs.dims[axis];
    int64_t sizes[4096];
    int k = -1;
    if (c->opset >= 13) {
        ox_id sp = ox_in(in, nin, 1);
        if (sp != OX_NONE) KILN_TRY(need_ints(c, sp, "split", sizes, 4096, &k));
    } else {
        const int64_t *list;
        k = ox_attr_ints(n, "split", &list);
        if (k > 4096) return ox_unsupported(c, "too many parts");
        for (int i = 0; i < k; i++) sizes[i] = list[i];
    }
    int parts = nout;
    if (k < 0 && ox_has_attr(n, "num_outputs")) parts = (int)ox_attr_i(n, "num_outputs", nout);
    if (k >= 0 && k != nout) return ox_invalid(c, "split has %d sizes for %d outputs", k, nout);
    if (parts != nout) return ox_invalid(c, "num_outputs is %d but the node has %d outputs", parts, nout);
    kiln_dim start = 0;
    for (int i = 0; i < nout; i++) {
        kiln_dim len;
        if (k >= 0) {
            len = sizes[i];
            if (len < 0 || len > OX_MAX_DIM) return ox_invalid(c, "split size %lld is out of range", (long long)len);
        }
        else if (!kiln_dim_is_const(d)) {
            kiln_status s = kiln_dim_div(c->g, d, nout, &len);
            if (s) {
                kiln_status_free(s);
                return ox_unsupported(c, "splitting a symbolic dimension into %d parts", nout);
            }
        } else { /* equal parts; opset 18 lets the last one be smaller */
            int64_t each = (d + nout - 1) / nout;
            if (c->opset < 18 && d % nout) return ox_invalid(c, "%lld does not split into %d equal parts", (long long)d, nout);
            len = d - (int64_t)i * each < each ? d - (int64_t)i * each : each;
            if (len < 0) len = 0;
        }
        kiln_dim end = kiln_dim_add(c->g, start, len);
        if (end == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
        KILN_TRY(ox_slice(c, x, axis, start, end, 1, &out[i]));
        start = end;
    }
    if (k >= 0 && start != d) return ox_invalid(c, "split sizes do not add up to the axis size");
    return KILN_OK;
}

/* One axis of Slice with ONNX's clamping, in the form the IR's slice
 * takes (a bound before index 0 of a reversed slice is -size-1). */
static kiln_status slice_axis(ox_ctx *c, ox_id x, int axis, kiln_dim s, kiln_dim e, int64_t step, ox_id *out) {
    kiln_dim d = OV(c, x)->shape.dims[axis];
    if (step == 0) return ox_invalid(c, "step must not be 0");
    step = clamp64(step, -BIG_BOUND, BIG_BOUND); /* bounds are within +-2^40: same slice */
    if (kiln_dim_is_const(d) && kiln_dim_is_const(s) && kiln_dim_is_const(e)) {
        s = clamp64(s, -BIG_BOUND, BIG_BOUND);
        e = clamp64(e, -BIG_BOUND, BIG_BOUND);
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (step > 0) {
            s = clamp64(s, 0, d);
            e = clamp64(e, 0, d);
        } else {
            s = clamp64(s, -1, d - 1);
            e = clamp64(e, -1, d - 1);
        }
        if (step == 1 && s == 0 && e == d) {
            *out = x;
            return KILN_OK;
        }
        if (s == -1) s = -d - 1;
        if (e == -1) e = -d - 1;
        return ox_slice(c, x, axis, s, e, step, out);
    }
    /* symbolic dimension or bounds: the bounds must be in range when the
     * graph runs (the IR's slice checks); constant ones are normalised */
    if (step != 1) return ox_unsupported(c, "a step of %lld with symbolic sizes", (long long)step);
    int dconst = kiln_dim_is_const(d);
    if (kiln_dim_is_const(s)) {
        if (s >= BIG_BOUND) return ox_unsupported(c, "an empty slice of a symbolic dimension");
        if (s <= -BIG_BOUND) s = 0;
        else if (s < 0) s = dconst ? clamp64(d + s, 0, d) : kiln_dim_add(c->g, d, s);
        else if (dconst) s = clamp64(s, 0, d);
    }
    if (kiln_dim_is_const(e)) {
        if (e >= BIG_BOUND) e = d;
        else if (e <= -BIG_BOUND) return ox_unsupported(c, "an empty slice of a symbolic dimension");
        else if (e < 0) e = dconst ? clamp64(d + e, 0, d) : kiln_dim_add(c->g, d, e);
        else if (dconst) e = clamp64(e, 0, d);
    }
    if (s == KILN_DIM_INVALID || e == KILN_DIM_INVALID) return ox_unsupported(c, "bounds too complex");
    if (s == 0 && e == d) {
        *out = x;
        return KILN_OK;
    }
    return ox_slice(c, x, axis, s, e, 1, out);
}

OX_CONV(conv_slice) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    kiln_dim starts[16], ends[16];
    int64_t axes[16], steps[16];
    int ns = 0, ne = 0, na = -1, nst = -1;
    if (c->opset < 10) {
        const int64_t *l;
        ns = ox_attr_ints(n, "starts", &l);
        if (ns < 0 || ns > 16) return ox_invalid(c, "attribute 'starts' is missing or too long");
        for (int i = 0; i < ns; i++) starts[i] = l[i];
        ne = ox_attr_ints(n, "ends", &l);
        if (ne < 0 || ne > 16) return ox_invalid(c, "attribute 'ends' is missing or too long");
        for (int i = 0; i < ne; i++) ends[i] = l[i];
        na = ox_attr_ints(n, "axes", &l);
        for (int i = 0; i < na && i < 16; i++) axes[i] = l[i];
    } else {
        OX_REQ(st, 1);
        OX_REQ(en, 2);
        KILN_TRY(need_dims(c, st, "starts", starts, 16, &ns));
        KILN_TRY(need_dims(c, en, "ends", ends, 16, &ne));
        if (ox_in(in, nin, 3) != OX_NONE) KILN_TRY(need_ints(c, in[3], "axes", axes, 16, &na));
        if (ox_in(in, nin, 4) != OX_NONE) KILN_TRY(need_ints(c, in[4], "steps", steps, 16, &nst));
    }
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns) || ns > rank)
        return ox_invalid(c, "starts, ends, axes and steps differ in length");
    ox_id y = x;
    int seen[KILN_MAX_RANK] = {0};
    for (int i = 0; i < ns; i++) {
        int axis;
        KILN_TRY(ox_axis(c, na >= 0 ? axes[i] : i, rank, "axis", &axis));
        if (seen[axis]) return ox_invalid(c, "axis %d repeated", axis);
        seen[axis] = 1;
        KILN_TRY(slice_axis(c, y, axis, starts[i], ends[i], nst >= 0 ? steps[i] : 1, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* ---- Gather family, Transpose, Expand, Tile --------------------------------------------- */
OX_CONV(conv_gather) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(idx, 1);
    int axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), ox_rank(c, x), "axis", &axis));
    if (!kiln_dtype_is_int(ox_dtype(c, idx))) return ox_invalid(c, "indices must be integers");
    if (is_op(n, "GatherElements")) {
        ox_id pair[2] = {x, idx};
        kiln_named_attr a = kiln_a_int("axis", axis);
        return ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &a, &out[0]);
    }
    return ox_gather(c, x, idx, axis, &out[0]);
}

/* GatherND(data, indices[..., k]; batch_dims): the k indexed dims are
 * flattened into one, the index tuples into linear offsets, then a plain
 * gather on axis 0 of [batch * P, rest...]. */
OX_CONV(conv_gather_nd) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(idx, 1);
    kiln_shape xs = OV(c, x)->shape, is = OV(c, idx)->shape;
    int b = (int)ox_attr_i(n, "batch_dims", 0);
    if (is.rank < 1 || b < 0 || b >= is.rank || b >= xs.rank) return ox_invalid(c, "batch_dims %d out of range", b);
    kiln_dim kd = is.dims[is.rank - 1];
    if (!kiln_dim_is_const(kd) || kd < 1 || b + kd > xs.rank) return ox_invalid(c, "bad index tuple length");
    int k = (int)kd;
    for (int i = 0; i < b + k; i++)
        if (!kiln_dim_is_const(xs.dims[i])) return ox_unsupported(c, "symbolic indexed dimensions");
    ox_id lin = OX_NONE;
    int64_t stride = 1, batch = 1, P = 1;
    for (int i = 0; i < b; i++) batch *= xs.dims[i];
    for (int j = k - 1; j >= 0; j--) {
        int64_t dim = xs.dims[b + j];
        ox_id comp, neg, wrapped;
        KILN_TRY(ox_cast(c, idx, KILN_I64, &comp));
        KILN_TRY(ox_slice(c, comp, is.rank - 1, j, j + 1, 1, &comp));
        KILN_TRY(ox_binary_s(c, KILN_OP_LT, comp, 0, &neg));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, comp, (double)dim, &wrapped));
        KILN_TRY(ox_where(c, neg, wrapped, comp, &comp));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, comp, (double)stride, &comp));
        if (lin == OX_NONE) lin = comp;
        else KILN_TRY(ox_binary(c, KILN_OP_ADD, lin, comp, &lin));
        stride *= dim;
    }
    P = stride;
    /* lin: [batch..., M..., 1] -> [batch..., M...] plus each batch's offset */
    int64_t last = is.rank - 1;
    KILN_TRY(ox_squeeze(c, lin, 1, &last, &lin));
    if (b > 0) {
        kiln_dim bd[KILN_MAX_RANK];
        int lr = ox_rank(c, lin);
        for (int i = 0; i < lr; i++) bd[i] = i < b ? is.dims[i] : 1;
        ox_id boff;
        kiln_dim bshape = batch;
        KILN_TRY(ox_iota(c, 1, &bshape, 0, 0, &boff));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, boff, (double)P, &boff));
        KILN_TRY(ox_reshape(c, boff, lr, bd, &boff));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, lin, boff, &lin));
    }
    kiln_dim flat[KILN_MAX_RANK];
    int fr = 0;
    flat[fr++] = batch * P;
    for (int i = b + k; i < xs.rank; i++) flat[fr++] = xs.dims[i];
    ox_id data;
    KILN_TRY(ox_reshape(c, x, fr, flat, &data));
    return ox_gather(c, data, lin, 0, &out[0]);
}

OX_CONV(conv_transpose) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    int64_t perm[KILN_MAX_RANK];
    const int64_t *list;
    int k = ox_attr_ints(n, "perm", &list);
    if (k < 0) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    } else {
        if (k != rank) return ox_invalid(c, "perm has %d entries for rank %d", k, rank);
        for (int i = 0; i < k; i++) perm[i] = list[i] < 0 ? list[i] + rank : list[i];
    }
    return ox_transpose(c, x, rank, perm, &out[0]);
}

OX_CONV(conv_expand) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(sh, 1);
    kiln_dim dims[KILN_MAX_RANK];
    int k = 0;
    KILN_TRY(need_sizes(c, sh, "the target shape", dims, KILN_MAX_RANK, &k));
    return ox_expand(c, x, k, dims, &out[0]);
}

/* Tile: per axis, insert a size-`repeat` dim before it, broadcast, merge. */
OX_CONV(conv_tile) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(r, 1);
    int64_t reps[KILN_MAX_RANK];
    int k = 0;
    KILN_TRY(need_ints(c, r, "repeats", reps, KILN_MAX_RANK, &k));
    int rank = ox_rank(c, x);
    if (k != rank) return ox_invalid(c, "%d repeats for rank %d", k, rank);
    ox_id y = x;
    for (int a = 0; a < rank; a++) {
        if (reps[a] < 0 || reps[a] > OX_MAX_DIM) return ox_invalid(c, "repeat %lld is out of range", (long long)reps[a]);
        if (reps[a] == 1) continue;
        if (rank + 1 > KILN_MAX_RANK) return ox_unsupported(c, "rank %d", rank);
        kiln_shape s = OV(c, y)->shape;
        kiln_dim ins[KILN_MAX_RANK], big[KILN_MAX_RANK], merged[KILN_MAX_RANK];
        for (int i = 0, j = 0; i < rank; i++) {
            if (i == a) {
                ins[j] = 1;
                big[j++] = reps[a];
            }
            ins[j] = s.dims[i];
            big[j++] = s.dims[i];
            merged[i] = i == a ? kiln_dim_mul(c->g, s.dims[i], reps[a]) : s.dims[i];
        }
        if (merged[a] == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
        KILN_TRY(ox_reshape(c, y, rank + 1, ins, &y));
        KILN_TRY(ox_expand(c, y, rank + 1, big, &y));
        KILN_TRY(ox_reshape(c, y, rank, merged, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* ---- Pad -------------------------------------------------------------------------------- */
/* Padding of `p` elements before (or after) x along axis. */
static kiln_status pad_block(ox_ctx *c, ox_id x, int axis, int64_t p, int after, const char *mode, ox_id value,
                             ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    kiln_dim d = s.dims[axis];
    if (strcmp(mode, "constant") == 0) {
        s.dims[axis] = p;
        return ox_expand(c, value, s.rank, s.dims, out);
    }
    if (!kiln_dim_is_const(d)) return ox_unsupported(c, "%s padding of a symbolic dimension", mode);
    if (d == 0) return ox_invalid(c, "%s padding of an empty dimension", mode);
    if (strcmp(mode, "edge") == 0) {
        ox_id e;
        KILN_TRY(ox_slice(c, x, axis, after ? d - 1 : 0, after ? d : 1, 1, &e));
        s.dims[axis] = p;
        return ox_expand(c, e, s.rank, s.dims, out);
    }
    if (strcmp(mode, "reflect") == 0) { /* mirror without repeating the edge */
        if (p > d - 1) return ox_invalid(c, "reflect padding of %lld exceeds the dimension %lld - 1", (long long)p, (long long)d);
        if (!after) return ox_slice(c, x, axis, p, 0, -1, out);
        return ox_slice(c, x, axis, d - 2, d - 2 - p == -1 ? -d - 1 : d - 2 - p, -1, out);
    }
    if (strcmp(mode, "wrap") == 0) {
        if (p > d) return ox_unsupported(c, "wrap padding larger than the dimension");
        return after ? ox_slice(c, x, axis, 0, p, 1, out) : ox_slice(c, x, axis, d - p, d, 1, out);
    }
    return ox_invalid(c, "unknown pad mode '%s'", mode);
}

OX_CONV(conv_pad) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    int64_t pads[2 * KILN_MAX_RANK], axes[KILN_MAX_RANK];
    int np = 0, na = -1;
    const char *mode = ox_attr_s(n, "mode", "constant");
    ox_id value = OX_NONE;
    if (c->opset < 11) {
        const int64_t *l;
        np = ox_attr_ints(n, "pads", &l);
        if (np < 0 || np > 2 * KILN_MAX_RANK) return ox_invalid(c, "attribute 'pads' is missing or too long");
        for (int i = 0; i < np; i++) pads[i] = l[i];
        KILN_TRY(ox_like(c, x, ox_attr_f(n, "value", 0.0), &value));
    } else {
        OX_REQ(p, 1);
        KILN_TRY(need_ints(c, p, "pads", pads, 2 * KILN_MAX_RANK, &np));
        ox_id v = ox_in(in, nin, 2);
        if (v != OX_NONE) {
            kiln_shape vs = OV(c, v)->shape;
            if (vs.rank > 1 || (vs.rank == 1 && vs.dims[0] != 1)) return ox_invalid(c, "constant_value must be a scalar");
            KILN_TRY(ox_reshape(c, v, 0, NULL, &value));
            KILN_TRY(ox_cast(c, value, ox_dtype(c, x), &value));
        } else {
            KILN_TRY(ox_like(c, x, 0, &value));
        }
        if (ox_in(in, nin, 3) != OX_NONE) KILN_TRY(need_ints(c, in[3], "axes", axes, KILN_MAX_RANK, &na));
    }
    int count = na >= 0 ? na : rank;
    if (np != 2 * count) return ox_invalid(c, "%d pads for %d axes", np, count);
    ox_id y = x;
    for (int i = 0; i < count; i++) {
        int axis;
        KILN_TRY(ox_axis(c, na >= 0 ? axes[i] : i, rank, "axis", &axis));
        int64_t before = pads[i], after = pads[i + count];
        if (before > OX_MAX_DIM || before < -OX_MAX_DIM || after > OX_MAX_DIM || after < -OX_MAX_DIM)
            return ox_invalid(c, "pads out of range");
        kiln_dim d = OV(c, y)->shape.dims[axis];
        if (before < 0 || after < 0) { /* negative pads crop */
            kiln_dim s = before < 0 ? -before : 0;
            kiln_dim e = after < 0 ? kiln_dim_add(c->g, d, after) : d;
            KILN_TRY(ox_slice(c, y, axis, s, e, 1, &y));
        }
        ox_id parts[3];
        int k = 0;
        if (before > 0) KILN_TRY(pad_block(c, y, axis, before, 0, mode, value, &parts[k++]));
        parts[k++] = y;
        if (after > 0) KILN_TRY(pad_block(c, y, axis, after, 1, mode, value, &parts[k++]));
        if (k > 1) KILN_TRY(ox_concat(c, k, parts, axis, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* ---- constants -------------------------------------------------------------------------- */
OX_CONV(conv_constant) {
    (void)in;
    (void)nin;
    (void)nout;
    const onnx_attr *a = n->nattrs ? &n->attrs[0] : NULL;
    if (!a || n->nattrs != 1) return ox_invalid(c, "needs exactly one value attribute");
    kiln_tensor t;
    if (strcmp(a->name, "value") == 0 && a->t) {
        KILN_TRY(onnx_tensor_data(a->t, NULL, NULL, &t));
        if (!t.owns_data) return ox_from_view(c, &t, &out[0]) ? kiln_error(KILN_ERR_NOMEM, "out of memory")
                                                              : ox_cast(c, out[0], t.dtype, &out[0]);
        return ox_from_tensor(c, &t, &out[0]);
    }
    if (strcmp(a->name, "value_float") == 0) return ox_scalar(c, KILN_F32, a->f, &out[0]);
    if (strcmp(a->name, "value_int") == 0) return ox_scalar_i(c, KILN_I64, a->i, &out[0]);
    if (strcmp(a->name, "value_ints") == 0) return ox_ints(c, KILN_I64, (int)a->n_ints, a->ints, &out[0]);
    if (strcmp(a->name, "value_floats") == 0) {
        int64_t len = (int64_t)a->n_floats;
        KILN_TRY(kiln_tensor_alloc(&t, KILN_F32, 1, &len));
        memcpy(t.data, a->floats, sizeof(float) * a->n_floats);
        return ox_from_tensor(c, &t, &out[0]);
    }
    return ox_unsupported(c, "constant attribute '%s'", a->name);
}

OX_CONV(conv_constant_of_shape) {
    (void)nout;
    OX_REQ(sh, 0);
    kiln_dim dims[KILN_MAX_RANK];
    int k = 0;
    KILN_TRY(need_sizes(c, sh, "the shape", dims, KILN_MAX_RANK, &k));
    ox_id v;
    const onnx_attr *a = onnx_node_attr(n, "value");
    if (a && a->t) {
        kiln_tensor t;
        KILN_TRY(onnx_tensor_data(a->t, NULL, NULL, &t));
        kiln_status s = kiln_tensor_numel(&t) == 1 ? KILN_OK : ox_invalid(c, "value must hold one element");
        if (!s) {
            kiln_tensor one;
            s = kiln_tensor_alloc(&one, t.dtype, 0, NULL);
            if (!s) {
                memcpy(one.data, t.data, kiln_dtype_size(t.dtype));
                s = ox_from_tensor(c, &one, &v);
            }
        }
        kiln_tensor_release(&t);
        KILN_TRY(s);
    } else {
        KILN_TRY(ox_scalar(c, KILN_F32, 0, &v));
    }
    return ox_expand(c, v, k, dims, &out[0]);
}

/* Range(start, limit, delta): n = max(ceil((limit - start) / delta), 0)
 * elements start + i delta. */
OX_CONV(conv_range) {
    (void)n;
    (void)nout;
    OX_REQ(st, 0);
    OX_REQ(li, 1);
    OX_REQ(de, 2);
    kiln_dtype dt = ox_dtype(c, st);
    kiln_dim s, l, d;
    int ks = ox_dims(c, st, &s, 1), kl = ox_dims(c, li, &l, 1), kd = ox_dims(c, de, &d, 1);
    ox_id idx;
    if (kiln_dtype_is_float(dt)) {
        double fs, fl, fd;
        if (!ox_const_f64(c, st, &fs) || !ox_const_f64(c, li, &fl) || !ox_const_f64(c, de, &fd))
            return ox_unsupported(c, "a floating-point Range with bounds computed at run time");
        if (fd == 0) return ox_invalid(c, "delta is 0");
        double cnt = ceil((fl - fs) / fd);
        if (cnt > 1e9 || cnt != cnt) return ox_unsupported(c, "a Range of %g elements", cnt);
        kiln_dim count = cnt > 0 ? (kiln_dim)cnt : 0;
        ox_id fdelta, fstart;
        KILN_TRY(ox_iota(c, 1, &count, 0, 0, &idx));
        KILN_TRY(ox_cast(c, idx, dt, &idx));
        KILN_TRY(ox_cast(c, de, dt, &fdelta));
        KILN_TRY(ox_cast(c, st, dt, &fstart));
        KILN_TRY(ox_reshape(c, fdelta, 0, NULL, &fdelta));
        KILN_TRY(ox_reshape(c, fstart, 0, NULL, &fstart));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, idx, fdelta, &idx));
        return ox_binary(c, KILN_OP_ADD, idx, fstart, &out[0]);
    }
    if (ks != 1 || kl != 1 || kd != 1) return ox_unsupported(c, "Range bounds computed at run time");
    if ((kiln_dim_is_const(s) && (s > OX_MAX_DIM || s < -OX_MAX_DIM)) ||
        (kiln_dim_is_const(l) && (l > OX_MAX_DIM || l < -OX_MAX_DIM)))
        return ox_invalid(c, "Range bounds out of range");
    if (!kiln_dim_is_const(d)) return ox_unsupported(c, "a symbolic Range delta");
    if (d == 0) return ox_invalid(c, "delta is 0");
    kiln_dim count;
    if (kiln_dim_is_const(s) && kiln_dim_is_const(l)) {
        int64_t span = l - s;
        count = d > 0 ? (span > 0 ? (span + d - 1) / d : 0) : (span < 0 ? (-span + (-d) - 1) / (-d) : 0);
    } else if (d == 1 || d == -1) {
        count = d == 1 ? kiln_dim_sub(c->g, l, s) : kiln_dim_sub(c->g, s, l);
        if (count == KILN_DIM_INVALID) return ox_unsupported(c, "bounds too complex");
    } else {
        return ox_unsupported(c, "a symbolic Range with delta %lld", (long long)d);
    }
    if (d == 1) { /* iota starts where Range does */
        KILN_TRY(ox_iota(c, 1, &count, 0, s, &idx));
        return ox_cast(c, idx, dt, &out[0]);
    }
    KILN_TRY(ox_iota(c, 1, &count, 0, 0, &idx));
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, idx, (double)d, &idx));
    ox_id s64;
    KILN_TRY(ox_from_dims(c, KILN_I64, 0, NULL, &s, &s64));
    KILN_TRY(ox_binary(c, KILN_OP_ADD, idx, s64, &idx));
    return ox_cast(c, idx, dt, &out[0]);
}

/* ---- masks and index patterns ---------------------------------------------------------- */
/* col - row over the last two dims of shape s (i64, broadcastable). */
static kiln_status col_minus_row(ox_ctx *c, const kiln_shape *s, ox_id *out) {
    kiln_dim rows = s->dims[s->rank - 2], cols = s->dims[s->rank - 1];
    kiln_dim rshape[2] = {rows, 1}, cshape[2] = {1, cols};
    ox_id r, col;
    KILN_TRY(ox_iota(c, 2, rshape, 0, 0, &r));
    KILN_TRY(ox_iota(c, 2, cshape, 1, 0, &col));
    return ox_binary(c, KILN_OP_SUB, col, r, out);
}

OX_CONV(conv_trilu) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    if (s.rank < 2) return ox_invalid(c, "needs rank >= 2");
    int64_t k = 0;
    ox_id kin = ox_in(in, nin, 1);
    if (kin != OX_NONE && ox_const_ints(c, kin, &k, 1) != 1) return ox_unsupported(c, "k computed at run time");
    ox_id diff, keep, zero;
    KILN_TRY(col_minus_row(c, &s, &diff));
    int upper = (int)ox_attr_i(n, "upper", 1);
    KILN_TRY(ox_binary_s(c, upper ? KILN_OP_GE : KILN_OP_LE, diff, (double)k, &keep));
    KILN_TRY(ox_like(c, x, 0, &zero));
    return ox_where(c, keep, x, zero, &out[0]);
}

OX_CONV(conv_eye_like) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    if (s.rank != 2) return ox_invalid(c, "needs a 2-D input");
    kiln_dtype dt = ox_dtype(c, x);
    if (ox_has_attr(n, "dtype")) KILN_TRY(onnx_to_kiln_dtype((int)ox_attr_i(n, "dtype", 1), &dt));
    ox_id diff, on;
    KILN_TRY(col_minus_row(c, &s, &diff));
    KILN_TRY(ox_binary_s(c, KILN_OP_EQ, diff, (double)ox_attr_i(n, "k", 0), &on));
    return ox_cast(c, on, dt, &out[0]);
}

/* OneHot(indices, depth, values[off, on]; axis): a new axis of size depth. */
OX_CONV(conv_one_hot) {
    (void)nout;
    OX_REQ(idx, 0);
    OX_REQ(dep, 1);
    OX_REQ(vals, 2);
    double depth_f;
    if (!ox_const_f64(c, dep, &depth_f)) return ox_unsupported(c, "depth computed at run time");
    if (!(depth_f >= 1 && depth_f <= (double)OX_MAX_DIM)) return ox_invalid(c, "depth %g is out of range", depth_f);
    int64_t depth = (int64_t)depth_f;
    kiln_shape is = OV(c, idx)->shape;
    int rank = is.rank + 1, axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", -1), rank, "axis", &axis));
    ox_id i64, neg, wrapped, off, on, hot;
    KILN_TRY(ox_cast(c, idx, KILN_I64, &i64));
    KILN_TRY(ox_binary_s(c, KILN_OP_LT, i64, 0, &neg));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, i64, (double)depth, &wrapped));
    KILN_TRY(ox_where(c, neg, wrapped, i64, &i64));
    int64_t ax = axis;
    KILN_TRY(ox_unsqueeze(c, i64, 1, &ax, &i64));
    kiln_dim ishape[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) ishape[i] = i == axis ? depth : 1;
    ox_id iota;
    KILN_TRY(ox_iota(c, rank, ishape, axis, 0, &iota));
    KILN_TRY(ox_binary(c, KILN_OP_EQ, i64, iota, &hot));
    KILN_TRY(ox_reshape(c, vals, 1, (kiln_dim[]){2}, &vals));
    KILN_TRY(ox_slice(c, vals, 0, 0, 1, 1, &off));
    KILN_TRY(ox_slice(c, vals, 0, 1, 2, 1, &on));
    KILN_TRY(ox_reshape(c, off, 0, NULL, &off));
    KILN_TRY(ox_reshape(c, on, 0, NULL, &on));
    return ox_where(c, hot, on, off, &out[0]);
}

/* DepthToSpace / SpaceToDepth on NCHW through a rank-6 transpose. */
OX_CONV(conv_depth_space) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    if (s.rank != 4) return ox_invalid(c, "needs a 4-D NCHW input");
    int64_t b = ox_attr_i(n, "blocksize", 0);
    if (b <= 0) return ox_invalid(c, "blocksize must be positive");
    for (int i = 1; i < 4; i++)
        if (!kiln_dim_is_const(s.dims[i])) return ox_unsupported(c, "symbolic channel or spatial dims");
    kiln_dim N = s.dims[0];
    int64_t C = s.dims[1], H = s.dims[2], W = s.dims[3];
    ox_id y;
    if (is_op(n, "DepthToSpace")) {
        if (C % (b * b)) return ox_invalid(c, "channels %lld do not divide by blocksize^2", (long long)C);
        int crd = strcmp(ox_attr_s(n, "mode", "DCR"), "CRD") == 0;
        kiln_dim d6[6], o4[4] = {N, C / (b * b), H * b, W * b};
        int64_t perm_dcr[6] = {0, 3, 4, 1, 5, 2}, perm_crd[6] = {0, 1, 4, 2, 5, 3};
        if (crd) memcpy(d6, (kiln_dim[]){N, C / (b * b), b, b, H, W}, sizeof d6);
        else memcpy(d6, (kiln_dim[]){N, b, b, C / (b * b), H, W}, sizeof d6);
        KILN_TRY(ox_reshape(c, x, 6, d6, &y));
        KILN_TRY(ox_transpose(c, y, 6, crd ? perm_crd : perm_dcr, &y));
        return ox_reshape(c, y, 4, o4, &out[0]);
    }
    if (H % b || W % b) return ox_invalid(c, "spatial dims do not divide by blocksize");
    kiln_dim d6[6] = {N, C, H / b, b, W / b, b}, o4[4] = {N, C * b * b, H / b, W / b};
    int64_t perm[6] = {0, 3, 5, 1, 2, 4};
    KILN_TRY(ox_reshape(c, x, 6, d6, &y));
    KILN_TRY(ox_transpose(c, y, 6, perm, &y));
    return ox_reshape(c, y, 4, o4, &out[0]);
}

/* Compress(x, condition; axis?) with a known condition: a gather. */
OX_CONV(conv_compress) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(cond, 1);
    if (!ox_is_known(c, cond)) return ox_unsupported(c, "a condition computed at run time (data-dependent shape)");
    const kiln_tensor *ct = &OV(c, cond)->k;
    int64_t nc = kiln_tensor_numel(ct);
    ox_id data = x;
    int axis = 0;
    if (ox_has_attr(n, "axis")) KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), ox_rank(c, x), "axis", &axis));
    else {
        kiln_shape s = OV(c, x)->shape;
        kiln_dim total = kiln_shape_numel_dim(c->g, &s);
        KILN_TRY(ox_reshape(c, x, 1, &total, &data));
    }
    int64_t *keep = malloc(sizeof(int64_t) * (size_t)(nc ? nc : 1));
    if (!keep) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int kept = 0;
    for (int64_t i = 0; i < nc; i++)
        if (kiln_load_f64(ct->data, ct->dtype, (size_t)i) != 0) keep[kept++] = i;
    ox_id idx;
    kiln_status s = ox_ints(c, KILN_I64, kept, keep, &idx);
    free(keep);
    KILN_TRY(s);
    return ox_gather(c, data, idx, axis, &out[0]);
}

/* NonZero of a known tensor: [rank, count] indices. */
OX_CONV(conv_nonzero) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    if (!ox_is_known(c, x)) return ox_unsupported(c, "NonZero of data computed at run time (data-dependent shape)");
    const kiln_tensor *t = &OV(c, x)->k;
    int64_t count = 0, total = kiln_tensor_numel(t);
    for (int64_t i = 0; i < total; i++) count += kiln_load_f64(t->data, t->dtype, (size_t)i) != 0;
    kiln_tensor r;
    int64_t shape[2] = {t->rank, count};
    KILN_TRY(kiln_tensor_alloc(&r, KILN_I64, 2, shape));
    for (int64_t i = 0, k = 0; i < total; i++) {
        if (kiln_load_f64(t->data, t->dtype, (size_t)i) == 0) continue;
        int64_t rem = i;
        for (int d = t->rank - 1; d >= 0; d--) {
            ((int64_t *)r.data)[d * count + k] = rem % t->shape[d];
            rem /= t->shape[d];
        }
        k++;
    }
    return ox_from_tensor(c, &r, &out[0]);
}

const ox_converter ox_shape_ops[] = {
    {"Shape", conv_shape},         {"Size", conv_size},           {"Reshape", conv_reshape},
    {"Flatten", conv_flatten},     {"Squeeze", conv_squeeze},     {"Unsqueeze", conv_unsqueeze},
    {"Concat", conv_concat},       {"Split", conv_split},         {"Slice", conv_slice},
    {"Gather", conv_gather},       {"GatherElements", conv_gather}, {"GatherND", conv_gather_nd},
    {"Transpose", conv_transpose}, {"Expand", conv_expand},       {"Tile", conv_tile},
    {"Pad", conv_pad},             {"Constant", conv_constant},   {"ConstantOfShape", conv_constant_of_shape},
    {"Range", conv_range},         {"Trilu", conv_trilu},         {"EyeLike", conv_eye_like},
    {"OneHot", conv_one_hot},      {"DepthToSpace", conv_depth_space}, {"SpaceToDepth", conv_depth_space},
    {"Compress", conv_compress},   {"NonZero", conv_nonzero},
    {NULL, NULL},
};
