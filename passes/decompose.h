/* Decompositions of composite ops into primitives, built into a rewriter's
 * destination graph. Helpers keep the first error in d->s and then return
 * KILN_NONE, so a decomposition reads like the formula it implements. */
#ifndef KILN_PASSES_DECOMPOSE_H
#define KILN_PASSES_DECOMPOSE_H

#include "rewrite.h"

typedef struct dctx {
    rewriter *r;
    kiln_value like; /* the src node being decomposed: location, errors */
    kiln_status s;
} dctx;

kiln_value d_op(dctx *d, kiln_op op, int n, const kiln_value *ins, int na, const kiln_named_attr *a);
kiln_value d_un(dctx *d, kiln_op op, kiln_value x);
kiln_value d_bin(dctx *d, kiln_op op, kiln_value a, kiln_value b);
kiln_value d_where(dctx *d, kiln_value c, kiln_value a, kiln_value b);
kiln_value d_scalar(dctx *d, kiln_dtype t, double v);
kiln_value d_cast(dctx *d, kiln_value x, kiln_dtype t);
/* reduce over one axis (negative counts from the end), keeping it as 1 */
kiln_value d_reduce(dctx *d, kiln_op op, kiln_value x, int axis);
kiln_value d_reshape(dctx *d, kiln_value x, int rank, const kiln_dim *dims);
kiln_value d_transpose(dctx *d, kiln_value x, int rank, const int64_t *perm);
kiln_value d_slice(dctx *d, kiln_value x, int axis, kiln_dim start, kiln_dim end);
kiln_value d_concat(dctx *d, int n, const kiln_value *xs, int axis);
kiln_value d_iota(dctx *d, int rank, const kiln_dim *shape, int axis, kiln_dim start);
kiln_value d_matmul(dctx *d, kiln_value a, kiln_value b);
const kiln_node *d_node(dctx *d, kiln_value v); /* a dst node */
kiln_status d_fail(dctx *d, kiln_code code, const char *msg);

/* Decompose src node `like` (inputs mapped in `in`) into *out. */
kiln_status decompose_norm(dctx *d, const kiln_value *in, kiln_value *out);       /* softmax, log_softmax, layer_norm, rms_norm */
kiln_status decompose_activation(dctx *d, const kiln_value *in, kiln_value *out); /* gelu, gelu_tanh, silu */
kiln_status decompose_attention(dctx *d, const kiln_value *in, kiln_value *out);
kiln_status decompose_rope(dctx *d, const kiln_value *in, kiln_value *out);
kiln_status decompose_rel_pos_bucket(dctx *d, const kiln_value *in, kiln_value *out);
kiln_status decompose_topk(dctx *d, const kiln_value *in, kiln_value *out); /* two reduce_sums (quadratic) */

#endif
