/* gather_elements (numpy take_along_axis) and topk (indices of the k
 * largest or smallest elements along an axis, in order). */
#include <stdlib.h>
#include <string.h>

#include "ref_more.h"

REF_KERNEL(ref_gather_elements) {
    const kiln_tensor *x = in[0], *idx = in[1];
    int axis = (int)c->n->attrs[0].i;
    if (axis < 0 || axis >= x->rank || idx->rank != x->rank || out->rank != x->rank)
        return ref_error(c, KILN_ERR_SHAPE, "axis %d or ranks out of range", axis);
    for (int d = 0; d < x->rank; d++)
        if (d != axis && idx->shape[d] > x->shape[d])
            return ref_error(c, KILN_ERR_SHAPE, "indices exceed the data on axis %d", d);
    int64_t xstride[KILN_MAX_RANK];
    ref_strides(x->rank, x->shape, xstride);
    size_t size = kiln_dtype_size(x->dtype);
    int64_t len = x->shape[axis], count = kiln_tensor_numel(idx);
    int64_t pos[KILN_MAX_RANK] = {0};
    for (int64_t j = 0; j < count; j++) {
        int64_t k = kiln_load_i64(idx->data, idx->dtype, (size_t)j);
        int64_t at = k < 0 ? k + len : k;
        if (at < 0 || at >= len)
            return ref_error(c, KILN_ERR_INVALID, "index %lld (element %lld of the indices) is out of range for axis %d of size %lld",
                             (long long)k, (long long)j, axis, (long long)len);
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++) off += (d == axis ? at : pos[d]) * xstride[d];
        ref_copy_elem(out->data, j, x->data, off, size);
        for (int d = x->rank - 1; d >= 0; d--) { /* next index of the indices tensor */
            if (++pos[d] < idx->shape[d]) break;
            pos[d] = 0;
        }
    }
    return KILN_OK;
}

/* One lane's keys; ordering puts the wanted elements first, ties broken
 * by the lower index (NaN counts as larger than every number). */
typedef struct topk_key {
    double f;
    int64_t i;
    int64_t pos;
} topk_key;

static int key_before(const topk_key *a, const topk_key *b, int as_float, int largest) {
    if (as_float) {
        int an = a->f != a->f, bn = b->f != b->f;
        if (an != bn) return largest ? an : bn;
        if (!an && a->f != b->f) return largest ? a->f > b->f : a->f < b->f;
    } else if (a->i != b->i) {
        return largest ? a->i > b->i : a->i < b->i;
    }
    return a->pos < b->pos;
}

static void merge_sort(topk_key *k, topk_key *tmp, int64_t n, int as_float, int largest) {
    if (n < 2) return;
    int64_t h = n / 2;
    merge_sort(k, tmp, h, as_float, largest);
    merge_sort(k + h, tmp, n - h, as_float, largest);
    int64_t i = 0, j = h, o = 0;
    while (i < h && j < n) tmp[o++] = key_before(&k[j], &k[i], as_float, largest) ? k[j++] : k[i++];
    while (i < h) tmp[o++] = k[i++];
    while (j < n) tmp[o++] = k[j++];
    memcpy(k, tmp, sizeof *k * (size_t)n);
}

REF_KERNEL(ref_topk) {
    const kiln_tensor *x = in[0];
    int axis = (int)c->n->attrs[1].i, largest = (int)c->n->attrs[2].i;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    int64_t outer, len, inner;
    ref_split_axis(x, axis, &outer, &len, &inner);
    int64_t k = out->shape[axis];
    if (k > len) return ref_error(c, KILN_ERR_SHAPE, "k %lld exceeds the axis size %lld", (long long)k, (long long)len);
    topk_key *keys = malloc(sizeof *keys * (size_t)(len ? 2 * len : 1));
    if (!keys) return ref_error(c, KILN_ERR_NOMEM, "out of memory");
    int as_float = kiln_dtype_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t s = 0; s < len; s++) {
                size_t at = (size_t)((o * len + s) * inner + i);
                keys[s].pos = s;
                if (as_float) keys[s].f = kiln_load_f64(x->data, x->dtype, at);
                else keys[s].i = kiln_load_i64(x->data, x->dtype, at);
            }
            merge_sort(keys, keys + len, len, as_float, largest);
            for (int64_t s = 0; s < k; s++) ((int64_t *)out->data)[(o * k + s) * inner + i] = keys[s].pos;
        }
    }
    free(keys);
    return KILN_OK;
}
