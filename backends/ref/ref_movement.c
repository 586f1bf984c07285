/* Data movement: gather, concat, slice, reshape, transpose, expand. These
 * copy elements bytewise, so every dtype moves exactly. */
#include <string.h>

#include "ref_internal.h"

/* Copy through a strided view of x laid over out's shape. */
static void strided_copy(const kiln_tensor *x, kiln_tensor *out, const int64_t *stride, int64_t base) {
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    ref_iter_operand(&it, 0, stride, base);
    size_t size = kiln_dtype_size(out->dtype);
    for (int64_t i = 0; it.remaining; i++) {
        ref_copy_elem(out->data, i, x->data, it.off[0], size);
        ref_iter_next(&it);
    }
}

REF_KERNEL(ref_gather) {
    const kiln_tensor *x = in[0], *idx = in[1];
    int axis = (int)c->n->attrs[0].i;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    if (!kiln_dtype_is_int(idx->dtype)) return ref_error(c, KILN_ERR_TYPE, "indices must be integers");
    int64_t outer, len, inner, count = kiln_tensor_numel(idx);
    ref_split_axis(x, axis, &outer, &len, &inner);
    if (kiln_tensor_numel(out) != outer * count * inner || out->dtype != x->dtype)
        return ref_error(c, KILN_ERR_SHAPE, "result has the wrong size");
    size_t size = kiln_dtype_size(x->dtype);
    for (int64_t j = 0; j < count; j++) {
        int64_t k = kiln_load_i64(idx->data, idx->dtype, (size_t)j);
        int64_t at = k < 0 ? k + len : k; /* negative indices count from the end */
        if (at < 0 || at >= len)
            return ref_error(c, KILN_ERR_INVALID, "index %lld (element %lld of the indices) is out of range for axis %d of size %lld",
                             (long long)k, (long long)j, axis, (long long)len);
        for (int64_t o = 0; o < outer; o++) {
            unsigned char *dst = (unsigned char *)out->data + (size_t)((o * count + j) * inner) * size;
            const unsigned char *src = (const unsigned char *)x->data + (size_t)((o * len + at) * inner) * size;
            memcpy(dst, src, (size_t)inner * size);
        }
    }
    return KILN_OK;
}

REF_KERNEL(ref_concat) {
    const kiln_node *n = c->n;
    int axis = (int)n->attrs[0].i;
    if (axis < 0 || axis >= out->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    int64_t outer, len, inner, total = 0;
    ref_split_axis(out, axis, &outer, &len, &inner);
    for (int i = 0; i < n->ninputs; i++) {
        const kiln_tensor *x = in[i];
        int ok = x->rank == out->rank && x->dtype == out->dtype;
        for (int d = 0; ok && d < x->rank; d++) ok = d == axis || x->shape[d] == out->shape[d];
        if (!ok) return ref_error(c, KILN_ERR_SHAPE, "input %d does not fit the result", i);
        total += x->shape[axis];
    }
    if (total != len) return ref_error(c, KILN_ERR_SHAPE, "inputs add up to %lld on axis %d, not %lld", (long long)total, axis, (long long)len);
    size_t size = kiln_dtype_size(out->dtype);
    int64_t at = 0;
    for (int i = 0; i < n->ninputs; i++) {
        const kiln_tensor *x = in[i];
        size_t chunk = (size_t)(x->shape[axis] * inner) * size;
        for (int64_t o = 0; o < outer && chunk; o++)
            memcpy((unsigned char *)out->data + (size_t)((o * len + at) * inner) * size,
                   (const unsigned char *)x->data + (size_t)o * chunk, chunk);
        at += x->shape[axis];
    }
    return KILN_OK;
}

/* Python-style clamp of an evaluated bound, as infer_slice does for constants. */
static int64_t clamp_bound(int64_t v, int64_t size, int64_t step) {
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? size : size - 1;
    if (v < 0) v += size;
    return v < lo ? lo : v > hi ? hi : v;
}

REF_KERNEL(ref_slice) {
    const kiln_tensor *x = in[0];
    const kiln_node *n = c->n;
    int axis = (int)n->attrs[0].i;
    int64_t step = n->attrs[3].i, start, end;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    if (step == 0) return ref_error(c, KILN_ERR_INVALID, "step must not be 0");
    kiln_status s = kiln_dim_eval(c->g, n->attrs[1].i, c->symvals, &start);
    if (!s) s = kiln_dim_eval(c->g, n->attrs[2].i, c->symvals, &end);
    if (s) return kiln_error_wrap(s, "slice bounds");
    int64_t size = x->shape[axis], len = out->shape[axis];
    int ok = out->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++) ok = d == axis || out->shape[d] == x->shape[d];
    if (!ok) return ref_error(c, KILN_ERR_SHAPE, "result shape does not follow from the input");
    start = clamp_bound(start, size, step);
    if (step > 0) {
        /* a symbolic bound can land outside the dim at run time: the
         * clamped length must still be what the graph promised */
        int64_t e = clamp_bound(end, size, step);
        int64_t got = e > start ? (e - start + step - 1) / step : 0;
        if (got != len)
            return ref_error(c, KILN_ERR_SHAPE, "bounds %lld:%lld:%lld on a dim of size %lld give %lld elements, the graph expects %lld",
                             (long long)start, (long long)end, (long long)step, (long long)size, (long long)got, (long long)len);
    }
    /* (for step < 0 every bound is constant and the shape rule has already
     * clamped them; end may be its -1 "before the first element" marker,
     * so only the start and the recorded length are used) */
    if (len > 0) {
        int64_t last = start + (len - 1) * step;
        if (start < 0 || start >= size || last < 0 || last >= size)
            return ref_error(c, KILN_ERR_SHAPE, "slice of %lld elements from %lld by %lld leaves the dim of size %lld",
                             (long long)len, (long long)start, (long long)step, (long long)size);
    }
    int64_t stride[KILN_MAX_RANK];
    ref_strides(x->rank, x->shape, stride);
    int64_t base = len > 0 ? start * stride[axis] : 0;
    stride[axis] *= step;
    strided_copy(x, out, stride, base);
    return KILN_OK;
}

REF_KERNEL(ref_reshape) {
    const kiln_tensor *x = in[0];
    if (x->nbytes != out->nbytes || x->dtype != out->dtype)
        return ref_error(c, KILN_ERR_SHAPE, "element counts differ");
    if (out->nbytes) memcpy(out->data, x->data, out->nbytes);
    return KILN_OK;
}

REF_KERNEL(ref_transpose) {
    const kiln_tensor *x = in[0];
    const kiln_attr *perm = &c->n->attrs[0];
    if (perm->n != x->rank || out->rank != x->rank) return ref_error(c, KILN_ERR_SHAPE, "perm does not match the rank");
    int64_t xs[KILN_MAX_RANK], stride[KILN_MAX_RANK];
    int seen[KILN_MAX_RANK] = {0};
    ref_strides(x->rank, x->shape, xs);
    for (int i = 0; i < x->rank; i++) {
        int64_t p = perm->list[i];
        if (p < 0 || p >= x->rank || seen[p] || out->shape[i] != x->shape[p])
            return ref_error(c, KILN_ERR_SHAPE, "perm is not a permutation matching the result");
        seen[p] = 1;
        stride[i] = xs[p]; /* out dim i walks in dim perm[i] */
    }
    strided_copy(x, out, stride, 0);
    return KILN_OK;
}

/* The result shape is the node's (the broadcast of input and target). */
REF_KERNEL(ref_expand) {
    const kiln_tensor *x = in[0];
    ref_iter it;
    ref_iter_init(&it, out->rank, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, x));
    size_t size = kiln_dtype_size(out->dtype);
    for (int64_t i = 0; it.remaining; i++) {
        ref_copy_elem(out->data, i, x->data, it.off[0], size);
        ref_iter_next(&it);
    }
    return KILN_OK;
}
