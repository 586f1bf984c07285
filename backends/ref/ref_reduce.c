/* Reductions over a set of axes, and argmax/argmin along one axis. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

/* Output strides with 0 on reduced dims, after checking that the output
 * shape is what the axes and keepdims make of the input shape. */
static kiln_status reduce_layout(const ref_ctx *c, const kiln_tensor *x, const kiln_tensor *out, int64_t *ostride,
                                 int64_t *count) {
    const kiln_attr *axes = &c->n->attrs[0];
    int keep = (int)c->n->attrs[1].i, reduced[KILN_MAX_RANK] = {0};
    for (int i = 0; i < axes->n; i++) {
        int64_t a = axes->list[i];
        if (a < 0 || a >= x->rank || reduced[a])
            return ref_error(c, KILN_ERR_SHAPE, "axis %lld is invalid for rank %d", (long long)a, x->rank);
        reduced[a] = 1;
    }
    int64_t oshape[KILN_MAX_RANK], ostr[KILN_MAX_RANK];
    int orank = 0;
    *count = 1;
    for (int d = 0; d < x->rank; d++) {
        if (!reduced[d]) oshape[orank++] = x->shape[d];
        else {
            *count *= x->shape[d];
            if (keep) oshape[orank++] = 1;
        }
    }
    int ok = orank == out->rank;
    for (int d = 0; ok && d < orank; d++) ok = oshape[d] == out->shape[d];
    if (!ok) return ref_error(c, KILN_ERR_SHAPE, "result shape does not follow from the input shape");
    ref_strides(orank, oshape, ostr);
    for (int d = 0, o = 0; d < x->rank; d++) {
        if (!reduced[d]) ostride[d] = ostr[o++];
        else {
            ostride[d] = 0;
            if (keep) o++;
        }
    }
    return KILN_OK;
}

static kiln_status reduce_float(const ref_ctx *c, const kiln_tensor *x, kiln_tensor *out, ref_iter *it, int64_t count) {
    kiln_op op = c->n->op;
    size_t n = (size_t)kiln_tensor_numel(out);
    double *acc = malloc((n ? n : 1) * sizeof *acc);
    if (!acc) return ref_error(c, KILN_ERR_NOMEM, "out of memory");
    double init = op == KILN_OP_REDUCE_PROD ? 1.0 : op == KILN_OP_REDUCE_MAX ? -INFINITY
                                                  : op == KILN_OP_REDUCE_MIN ? INFINITY : 0.0;
    for (size_t i = 0; i < n; i++) acc[i] = init;
    while (it->remaining) {
        double v = kiln_load_f64(x->data, x->dtype, (size_t)it->off[0]);
        double *a = &acc[it->off[1]];
        switch (op) {
        case KILN_OP_REDUCE_PROD: *a *= v; break;
        case KILN_OP_REDUCE_MAX: *a = (*a != *a || v != v) ? NAN : v > *a ? v : *a; break;
        case KILN_OP_REDUCE_MIN: *a = (*a != *a || v != v) ? NAN : v < *a ? v : *a; break;
        default: *a += v; break;
        }
        ref_iter_next(it);
    }
    for (size_t i = 0; i < n; i++)
        kiln_store_f64(out->data, out->dtype, i, op == KILN_OP_REDUCE_MEAN ? acc[i] / (double)count : acc[i]);
    free(acc);
    return KILN_OK;
}

static kiln_status reduce_int(const ref_ctx *c, const kiln_tensor *x, kiln_tensor *out, ref_iter *it, int64_t count) {
    kiln_op op = c->n->op;
    size_t n = (size_t)kiln_tensor_numel(out);
    int64_t *acc = malloc((n ? n : 1) * sizeof *acc);
    if (!acc) return ref_error(c, KILN_ERR_NOMEM, "out of memory");
    /* an empty max/min gives the type's lowest/highest value, as in ONNX */
    int64_t init = op == KILN_OP_REDUCE_PROD ? 1 : op == KILN_OP_REDUCE_MAX ? ref_int_min(x->dtype)
                                                : op == KILN_OP_REDUCE_MIN ? ref_int_max(x->dtype) : 0;
    for (size_t i = 0; i < n; i++) acc[i] = init;
    while (it->remaining) {
        int64_t v = kiln_load_i64(x->data, x->dtype, (size_t)it->off[0]);
        int64_t *a = &acc[it->off[1]];
        switch (op) {
        case KILN_OP_REDUCE_PROD: *a = ref_wmul(*a, v); break;
        case KILN_OP_REDUCE_MAX: *a = v > *a ? v : *a; break;
        case KILN_OP_REDUCE_MIN: *a = v < *a ? v : *a; break;
        default: *a = ref_wadd(*a, v); break;
        }
        ref_iter_next(it);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t v = acc[i];
        if (op == KILN_OP_REDUCE_MEAN) v = count > 0 ? v / count : 0; /* truncates toward zero */
        kiln_store_i64(out->data, out->dtype, i, v);
    }
    free(acc);
    return KILN_OK;
}

REF_KERNEL(ref_reduce) {
    const kiln_tensor *x = in[0];
    if (!kiln_dtype_is_float(x->dtype) && !kiln_dtype_is_int(x->dtype))
        return ref_error(c, KILN_ERR_TYPE, "does not take %s input", kiln_dtype_name(x->dtype));
    int64_t ostride[KILN_MAX_RANK], xstride[KILN_MAX_RANK], count = 0;
    KILN_TRY(reduce_layout(c, x, out, ostride, &count));
    ref_strides(x->rank, x->shape, xstride);
    ref_iter it;
    ref_iter_init(&it, x->rank, x->shape);
    ref_iter_operand(&it, 0, xstride, 0);
    ref_iter_operand(&it, 1, ostride, 0);
    return kiln_dtype_is_float(x->dtype) ? reduce_float(c, x, out, &it, count) : reduce_int(c, x, out, &it, count);
}

/* First occurrence wins; NaN is skipped unless the whole lane is NaN. */
REF_KERNEL(ref_argreduce) {
    const kiln_tensor *x = in[0];
    int axis = (int)c->n->attrs[0].i, want_max = c->n->op == KILN_OP_ARGMAX;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    int64_t outer, len, inner;
    ref_split_axis(x, axis, &outer, &len, &inner);
    if (kiln_tensor_numel(out) != outer * inner) return ref_error(c, KILN_ERR_SHAPE, "result has the wrong size");
    if (len == 0 && outer * inner > 0) return ref_error(c, KILN_ERR_SHAPE, "axis %d is empty: no index to return", axis);
    int as_float = kiln_dtype_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = -1;
            double bf = 0;
            int64_t bi = 0;
            for (int64_t k = 0; k < len; k++) {
                size_t at = (size_t)((o * len + k) * inner + i);
                if (as_float) {
                    double v = kiln_load_f64(x->data, x->dtype, at);
                    if (v != v) continue;
                    if (best < 0 || (want_max ? v > bf : v < bf)) {
                        best = k;
                        bf = v;
                    }
                } else {
                    int64_t v = kiln_load_i64(x->data, x->dtype, at);
                    if (best < 0 || (want_max ? v > bi : v < bi)) {
                        best = k;
                        bi = v;
                    }
                }
            }
            kiln_store_i64(out->data, KILN_I64, (size_t)(o * inner + i), best < 0 ? 0 : best);
        }
    return KILN_OK;
}
