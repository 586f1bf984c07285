/* matmul: a [..., M, K] @ b [..., K, N] with numpy broadcasting of the
 * batch dims; with trans_b, b is [..., N, K] (a weight kept as [out, in]).
 * Sums accumulate in double (floats) or wrapping int64. */
#include <stdlib.h>

#include "ref_internal.h"

/* The batch dims of t as a tensor of matrices, for broadcasting. */
static kiln_tensor batch_view(const kiln_tensor *t) {
    return kiln_tensor_view(t->dtype, t->rank - 2, t->shape, NULL);
}

REF_KERNEL(ref_matmul) {
    const kiln_tensor *a = in[0], *b = in[1];
    if (a->rank < 2 || b->rank < 2 || out->rank < 2) return ref_error(c, KILN_ERR_SHAPE, "inputs need rank >= 2");
    int tb = c->n->attrs[0].kind == KILN_ATTR_BOOL && c->n->attrs[0].i;
    int64_t M = a->shape[a->rank - 2], K = a->shape[a->rank - 1], N = b->shape[b->rank - (tb ? 2 : 1)];
    /* element (k, n) of b's matrix sits at k * bk + n * bn */
    int64_t bk = tb ? 1 : N, bn = tb ? K : 1;
    if (b->shape[b->rank - (tb ? 1 : 2)] != K || out->shape[out->rank - 2] != M || out->shape[out->rank - 1] != N)
        return ref_error(c, KILN_ERR_SHAPE, "inner or outer dimensions do not agree");
    if (a->dtype != b->dtype || a->dtype == KILN_BOOL) return ref_error(c, KILN_ERR_TYPE, "needs two numeric inputs of one dtype");
    kiln_tensor ba = batch_view(a), bb = batch_view(b);
    ref_iter it;
    ref_iter_init(&it, out->rank - 2, out->shape);
    KILN_TRY(ref_iter_broadcast(c, &it, 0, &ba));
    KILN_TRY(ref_iter_broadcast(c, &it, 1, &bb));
    int as_float = kiln_dtype_is_float(a->dtype);
    double *fa = NULL, *fb = NULL;
    if (as_float) {
        fa = ref_load_all(a);
        fb = ref_load_all(b);
        if (!fa || !fb) {
            free(fa);
            free(fb);
            return ref_error(c, KILN_ERR_NOMEM, "out of memory");
        }
    }
    for (int64_t batch = 0; it.remaining; batch++) {
        int64_t abase = it.off[0] * M * K, bbase = it.off[1] * K * N, obase = batch * M * N;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                size_t o = (size_t)(obase + m * N + n);
                if (as_float) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++) s += fa[abase + m * K + k] * fb[bbase + k * bk + n * bn];
                    kiln_store_f64(out->data, out->dtype, o, s);
                } else {
                    int64_t s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s = ref_wadd(s, ref_wmul(kiln_load_i64(a->data, a->dtype, (size_t)(abase + m * K + k)),
                                                 kiln_load_i64(b->data, b->dtype, (size_t)(bbase + k * bk + n * bn))));
                    kiln_store_i64(out->data, out->dtype, o, s);
                }
            }
        ref_iter_next(&it);
    }
    free(fa);
    free(fb);
    return KILN_OK;
}
