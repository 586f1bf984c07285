/* Row-wise composites: softmax, log_softmax (over an axis), layer_norm and
 * rms_norm (over the last axis). Each row is computed in double and
 * rounded once when stored. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

REF_KERNEL(ref_softmax) {
    const kiln_tensor *x = in[0];
    int axis = (int)c->n->attrs[0].i, log_form = c->n->op == KILN_OP_LOG_SOFTMAX;
    if (axis < 0 || axis >= x->rank) return ref_error(c, KILN_ERR_SHAPE, "axis %d is out of range", axis);
    if (!kiln_dtype_is_float(x->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs floating-point input");
    int64_t outer, len, inner;
    ref_split_axis(x, axis, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
#define AT(k) ((size_t)((o * len + (k)) * inner + i))
            double mx = -INFINITY, sum = 0;
            for (int64_t k = 0; k < len; k++) {
                double v = kiln_load_f64(x->data, x->dtype, AT(k));
                if (v > mx || v != v) mx = v;
                if (mx != mx) break;
            }
            for (int64_t k = 0; k < len; k++) sum += exp(kiln_load_f64(x->data, x->dtype, AT(k)) - mx);
            for (int64_t k = 0; k < len; k++) {
                double z = kiln_load_f64(x->data, x->dtype, AT(k)) - mx;
                kiln_store_f64(out->data, out->dtype, AT(k), log_form ? z - log(sum) : exp(z) / sum);
            }
#undef AT
        }
    return KILN_OK;
}

/* Shared by both norms: x rows of length D plus optional weight / bias. */
static kiln_status norm_rows(const ref_ctx *c, const kiln_tensor *const *in, kiln_tensor *out, int rms) {
    const kiln_tensor *x = in[0];
    const kiln_node *n = c->n;
    const kiln_tensor *w = n->ninputs > 1 ? in[1] : NULL, *b = n->ninputs > 2 ? in[2] : NULL;
    if (x->rank < 1 || !kiln_dtype_is_float(x->dtype)) return ref_error(c, KILN_ERR_SHAPE, "needs float input of rank >= 1");
    int64_t D = x->shape[x->rank - 1], rows = D ? kiln_tensor_numel(x) / D : 0;
    if ((w && (w->rank != 1 || w->shape[0] != D)) || (b && (b->rank != 1 || b->shape[0] != D)))
        return ref_error(c, KILN_ERR_SHAPE, "weight and bias must have shape [%lld]", (long long)D);
    double eps = n->attrs[0].f;
    for (int64_t r = 0; r < rows; r++) {
        size_t base = (size_t)(r * D);
        double mean = 0, var = 0;
        for (int64_t k = 0; k < D; k++) {
            double v = kiln_load_f64(x->data, x->dtype, base + (size_t)k);
            mean += v;
            var += v * v;
        }
        if (rms) {
            mean = 0;
            var /= (double)D; /* mean of squares */
        } else {
            mean /= (double)D;
            var = 0; /* two passes: numerically safer than E[x^2] - E[x]^2 */
            for (int64_t k = 0; k < D; k++) {
                double d = kiln_load_f64(x->data, x->dtype, base + (size_t)k) - mean;
                var += d * d;
            }
            var /= (double)D; /* population variance */
        }
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t k = 0; k < D; k++) {
            double y = (kiln_load_f64(x->data, x->dtype, base + (size_t)k) - mean) * inv;
            if (w) y *= kiln_load_f64(w->data, w->dtype, (size_t)k);
            if (b) y += kiln_load_f64(b->data, b->dtype, (size_t)k);
            kiln_store_f64(out->data, out->dtype, base + (size_t)k, y);
        }
    }
    return KILN_OK;
}

/* (x - mean) / sqrt(var + eps) * w + b over the last axis */
REF_KERNEL(ref_layer_norm) { return norm_rows(c, in, out, 0); }

/* x / sqrt(mean(x^2) + eps) * w over the last axis */
REF_KERNEL(ref_rms_norm) { return norm_rows(c, in, out, 1); }
