/* attention(q [B,H,S,D], k [B,Hk,T,D], v [B,Hk,T,Dv], mask?) -> [B,H,S,Dv]
 *
 * Plain two-pass softmax per query row, in double. Query head h reads kv
 * head h / (H / Hk) (grouped-query attention). A key is excluded by the
 * causal rule (t > s + T - S, bottom-right aligned for a KV cache), by a
 * false bool mask entry, or by a score that is -inf after a float mask is
 * added; a row with every key excluded gives zeros rather than NaN. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

typedef struct att_dims {
    int64_t B, H, Hk, S, T, D, Dv;
} att_dims;

static kiln_status check_dims(const ref_ctx *c, const kiln_tensor *const *in, const kiln_tensor *out, att_dims *d) {
    const kiln_tensor *q = in[0], *k = in[1], *v = in[2];
    if (q->rank != 4 || k->rank != 4 || v->rank != 4 || out->rank != 4)
        return ref_error(c, KILN_ERR_SHAPE, "q, k, v must have rank 4");
    *d = (att_dims){q->shape[0], q->shape[1], k->shape[1], q->shape[2], k->shape[2], q->shape[3], v->shape[3]};
    int ok = k->shape[0] == d->B && v->shape[0] == d->B && v->shape[1] == d->Hk && v->shape[2] == d->T &&
             k->shape[3] == d->D && d->Hk > 0 && d->H % d->Hk == 0 && out->shape[0] == d->B && out->shape[1] == d->H &&
             out->shape[2] == d->S && out->shape[3] == d->Dv;
    if (!ok) return ref_error(c, KILN_ERR_SHAPE, "q, k, v and the result do not agree");
    if (!kiln_dtype_is_float(q->dtype)) return ref_error(c, KILN_ERR_TYPE, "needs floating-point q, k, v");
    return KILN_OK;
}

REF_KERNEL(ref_attention) {
    const kiln_tensor *q = in[0], *k = in[1], *v = in[2];
    const kiln_tensor *mask = c->n->ninputs > 3 ? in[3] : NULL;
    att_dims d = {0, 0, 0, 0, 0, 0, 0};
    KILN_TRY(check_dims(c, in, out, &d));
    int64_t mstride[KILN_MAX_RANK] = {0};
    if (mask) {
        /* strides of the mask broadcast over the scores [B, H, S, T] */
        int64_t scores[4] = {d.B, d.H, d.S, d.T};
        ref_iter it;
        ref_iter_init(&it, 4, scores);
        KILN_TRY(ref_iter_broadcast(c, &it, 0, mask));
        for (int i = 0; i < 4; i++) mstride[i] = it.stride[0][i];
        if (mask->dtype != KILN_BOOL && !kiln_dtype_is_float(mask->dtype))
            return ref_error(c, KILN_ERR_TYPE, "mask must be bool or float");
    }
    const kiln_attr *sa = &c->n->attrs[1];
    double scale = sa->kind == KILN_ATTR_FLOAT ? sa->f : 1.0 / sqrt((double)d.D);
    int causal = (int)c->n->attrs[0].i;
    int64_t group = d.H / d.Hk;
    double *score = malloc((size_t)(d.T ? d.T : 1) * sizeof *score);
    unsigned char *keep = malloc((size_t)(d.T ? d.T : 1));
    double *acc = malloc((size_t)(d.Dv ? d.Dv : 1) * sizeof *acc);
    if (!score || !keep || !acc) {
        free(score);
        free(keep);
        free(acc);
        return ref_error(c, KILN_ERR_NOMEM, "out of memory");
    }
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.H; h++) {
            int64_t hk = h / group;
            for (int64_t s = 0; s < d.S; s++) {
                size_t qbase = (size_t)(((b * d.H + h) * d.S + s) * d.D);
                double mx = -INFINITY;
                for (int64_t t = 0; t < d.T; t++) {
                    size_t kbase = (size_t)(((b * d.Hk + hk) * d.T + t) * d.D);
                    keep[t] = !(causal && t > s + (d.T - d.S));
                    double dot = 0;
                    for (int64_t i = 0; i < d.D; i++)
                        dot += kiln_load_f64(q->data, q->dtype, qbase + (size_t)i) *
                               kiln_load_f64(k->data, k->dtype, kbase + (size_t)i);
                    score[t] = dot * scale;
                    if (mask) {
                        size_t m = (size_t)(b * mstride[0] + h * mstride[1] + s * mstride[2] + t * mstride[3]);
                        if (mask->dtype == KILN_BOOL) keep[t] &= ((const uint8_t *)mask->data)[m] != 0;
                        else score[t] += kiln_load_f64(mask->data, mask->dtype, m);
                    }
                    if (score[t] == -INFINITY) keep[t] = 0;
                    if (keep[t] && (score[t] > mx || score[t] != score[t])) mx = score[t];
                }
                double sum = 0;
                int64_t kept = 0;
                for (int64_t j = 0; j < d.Dv; j++) acc[j] = 0;
                for (int64_t t = 0; t < d.T; t++) {
                    if (!keep[t]) continue;
                    kept++;
                    double p = exp(score[t] - mx);
                    size_t vbase = (size_t)(((b * d.Hk + hk) * d.T + t) * d.Dv);
                    sum += p;
                    for (int64_t j = 0; j < d.Dv; j++) acc[j] += p * kiln_load_f64(v->data, v->dtype, vbase + (size_t)j);
                }
                size_t obase = (size_t)(((b * d.H + h) * d.S + s) * d.Dv);
                for (int64_t j = 0; j < d.Dv; j++)
                    kiln_store_f64(out->data, out->dtype, obase + (size_t)j, kept ? acc[j] / sum : 0.0);
            }
        }
    free(score);
    free(keep);
    free(acc);
    return KILN_OK;
}
