/* Position ops: rotary embeddings and T5 relative-position buckets. Both
 * follow the float32 arithmetic of the Hugging Face implementations step by
 * step, because models are checked against those bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

REF_KERNEL(ref_rope) {
    const kiln_tensor *x = in[0], *pos = in[1];
    const kiln_node *n = c->n;
    if (x->rank < 2 || pos->rank != 1 || !kiln_dtype_is_int(pos->dtype))
        return ref_error(c, KILN_ERR_SHAPE, "needs x [..., S, D] and integer positions [S]");
    int64_t S = x->shape[x->rank - 2], D = x->shape[x->rank - 1];
    int64_t R = n->attrs[2].i ? n->attrs[2].i : D, half = R / 2;
    int interleaved = (int)n->attrs[1].i;
    if (pos->shape[0] != S) return ref_error(c, KILN_ERR_SHAPE, "%lld positions for %lld rows", (long long)pos->shape[0], (long long)S);
    if (R < 0 || R > D || R % 2) return ref_error(c, KILN_ERR_SHAPE, "rotary_dim %lld does not fit head size %lld", (long long)R, (long long)D);
    /* cos/sin per (row, pair), in float32 like HF's inv_freq and freqs */
    size_t tab = (size_t)(S * half);
    float *cs = malloc((tab ? tab : 1) * sizeof *cs), *sn = malloc((tab ? tab : 1) * sizeof *sn);
    if (!cs || !sn) {
        free(cs);
        free(sn);
        return ref_error(c, KILN_ERR_NOMEM, "out of memory");
    }
    for (int64_t s = 0; s < S; s++) {
        float p = (float)kiln_load_i64(pos->data, pos->dtype, (size_t)s);
        for (int64_t i = 0; i < half; i++) {
            float inv_freq = 1.0f / powf((float)n->attrs[0].f, (float)(2 * i) / (float)R);
            float angle = p * inv_freq;
            cs[s * half + i] = cosf(angle);
            sn[s * half + i] = sinf(angle);
        }
    }
    int64_t rows = kiln_tensor_numel(x) / (D ? D : 1);
    for (int64_t r = 0; r < rows && D; r++) {
        int64_t s = r % S;
        size_t base = (size_t)(r * D);
        for (int64_t k = R; k < D; k++)
            kiln_store_f64(out->data, out->dtype, base + (size_t)k, kiln_load_f64(x->data, x->dtype, base + (size_t)k));
        for (int64_t i = 0; i < half; i++) {
            size_t ia = base + (size_t)(interleaved ? 2 * i : i), ib = base + (size_t)(interleaved ? 2 * i + 1 : i + half);
            double a = kiln_load_f64(x->data, x->dtype, ia), b = kiln_load_f64(x->data, x->dtype, ib);
            double co = cs[s * half + i], si = sn[s * half + i];
            kiln_store_f64(out->data, out->dtype, ia, a * co - b * si);
            kiln_store_f64(out->data, out->dtype, ib, b * co + a * si);
        }
    }
    free(cs);
    free(sn);
    return KILN_OK;
}

/* T5's bucket of a relative position, as transformers computes it. */
static int64_t t5_bucket(int64_t rel, int bidirectional, int64_t nb, int64_t max_distance) {
    int64_t ret = 0;
    uint64_t n;
    if (bidirectional) {
        nb /= 2;
        ret = rel > 0 ? nb : 0;
        n = rel < 0 ? 0 - (uint64_t)rel : (uint64_t)rel;
    } else {
        n = rel < 0 ? 0 - (uint64_t)rel : 0;
    }
    int64_t max_exact = nb / 2;
    if (n < (uint64_t)max_exact) return ret + (int64_t)n;
    float l = logf((float)n / (float)max_exact);
    l = l / (float)log((double)max_distance / (double)max_exact);
    l = l * (float)(nb - max_exact);
    int64_t large = ref_wadd(max_exact, ref_f64_to_i64((double)l));
    return ret + (large < nb - 1 ? large : nb - 1);
}

REF_KERNEL(ref_rel_pos_bucket) {
    const kiln_tensor *q = in[0], *k = in[1];
    const kiln_node *n = c->n;
    if (q->rank != 1 || k->rank != 1 || out->rank != 2 || out->shape[0] != q->shape[0] || out->shape[1] != k->shape[0])
        return ref_error(c, KILN_ERR_SHAPE, "needs positions [S] and [T] and gives [S, T]");
    int bidirectional = (int)n->attrs[0].i;
    int64_t nb = n->attrs[1].i, md = n->attrs[2].i;
    if (nb < 2 || md < 1 || (bidirectional && nb < 4))
        return ref_error(c, KILN_ERR_INVALID, "num_buckets %lld / max_distance %lld out of range", (long long)nb, (long long)md);
    int64_t S = q->shape[0], T = k->shape[0];
    for (int64_t s = 0; s < S; s++) {
        int64_t qp = kiln_load_i64(q->data, q->dtype, (size_t)s);
        for (int64_t t = 0; t < T; t++) {
            int64_t rel = ref_wsub(kiln_load_i64(k->data, k->dtype, (size_t)t), qp);
            kiln_store_i64(out->data, KILN_I64, (size_t)(s * T + t), t5_bucket(rel, bidirectional, nb, md));
        }
    }
    return KILN_OK;
}
