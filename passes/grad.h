/* Reverse-mode autodiff internals: the context a gradient rule sees and
 * the builders rules share (passes/grad_util.c).
 *
 * Everything lives in one graph: the autodiff pass copies the forward graph
 * and appends the backward nodes to it, so a rule reads the forward node's
 * inputs and output as ordinary values and builds with kiln_build. Builders
 * keep the first error in c->s and then return KILN_NONE, so a rule reads
 * like the formula it implements. */
#ifndef KILN_PASSES_GRAD_H
#define KILN_PASSES_GRAD_H

#include "kiln/ir.h"

struct kiln_grad_ctx {
    kiln_graph *g;
    kiln_value y;            /* the forward node */
    kiln_value gy;           /* the adjoint of its output (same shape and dtype) */
    int nx;
    const kiln_value *x;     /* its inputs (KILN_NONE: an omitted optional input) */
    const unsigned char *need; /* need[i]: input i wants an adjoint */
    kiln_value *gx;          /* out: adjoint of input i, KILN_NONE for none */
    const unsigned char *req; /* per value: depends on a differentiated tensor (rules that sweep again read it) */
    kiln_status s;           /* the first error */
};

/* Rules named in include/kiln/ops.def. */
#define KILN_OP(id, nm, mi, ma, fc, rule, attrs, grad) kiln_status grad(kiln_grad_ctx *c);
#include "kiln/ops.def"
#undef KILN_OP

/* The reverse sweep over values lo..hi of c->g: seeds hi with `seed`,
 * visits nodes from hi down to lo and accumulates adjoints (sums) into
 * adj[], which has room for hi + 1 values (KILN_NONE: no adjoint yet).
 * req[v] says whether value v depends on a differentiated tensor; only
 * such inputs get adjoints. Values below lo are not visited but do
 * receive adjoints. */
kiln_status grad_sweep(kiln_graph *g, kiln_value lo, kiln_value hi, kiln_value seed, const unsigned char *req,
                       kiln_value *adj);
/* *out = a + b, two adjoints of one value (grad_accumulate.c): zero-padded
 * concats along one axis (a split's slices) are summed piece by piece. */
kiln_status grad_accumulate(kiln_graph *g, kiln_value a, kiln_value b, kiln_value *out);
/* req[v] for v in lo..hi from the inputs' req (values below lo given):
 * set where the node is float, differentiable and has an input with req. */
void grad_mark_required(const kiln_graph *g, kiln_value lo, kiln_value hi, unsigned char *req);

/* ---- builders (grad_util.c) ------------------------------------------ */
const kiln_node *gnode(kiln_grad_ctx *c, kiln_value v); /* never keep it across a build */
kiln_value g_op(kiln_grad_ctx *c, kiln_op op, int n, const kiln_value *ins, int na, const kiln_named_attr *a);
kiln_value g_un(kiln_grad_ctx *c, kiln_op op, kiln_value x);
kiln_value g_bin(kiln_grad_ctx *c, kiln_op op, kiln_value a, kiln_value b);
kiln_value g_add(kiln_grad_ctx *c, kiln_value a, kiln_value b);
kiln_value g_sub(kiln_grad_ctx *c, kiln_value a, kiln_value b);
kiln_value g_mul(kiln_grad_ctx *c, kiln_value a, kiln_value b);
kiln_value g_div(kiln_grad_ctx *c, kiln_value a, kiln_value b);
kiln_value g_where(kiln_grad_ctx *c, kiln_value cond, kiln_value a, kiln_value b);
kiln_value g_scalar(kiln_grad_ctx *c, kiln_dtype t, double v);
kiln_value g_cast(kiln_grad_ctx *c, kiln_value x, kiln_dtype t);
kiln_value g_reshape(kiln_grad_ctx *c, kiln_value x, int rank, const kiln_dim *dims);
kiln_value g_reshape_like(kiln_grad_ctx *c, kiln_value x, const kiln_shape *s);
kiln_value g_transpose(kiln_grad_ctx *c, kiln_value x, int rank, const int64_t *perm);
kiln_value g_swap_last2(kiln_grad_ctx *c, kiln_value x);
kiln_value g_expand(kiln_grad_ctx *c, kiln_value x, const kiln_shape *s);
kiln_value g_slice(kiln_grad_ctx *c, kiln_value x, int axis, kiln_dim start, kiln_dim end);
kiln_value g_concat(kiln_grad_ctx *c, int n, const kiln_value *xs, int axis);
kiln_value g_iota(kiln_grad_ctx *c, int rank, const kiln_dim *shape, int axis, kiln_dim start, kiln_dtype t);
kiln_value g_matmul(kiln_grad_ctx *c, kiln_value a, kiln_value b, int trans_b);
/* reduce over the given (sorted, normalised) axes */
kiln_value g_reduce(kiln_grad_ctx *c, kiln_op op, kiln_value x, int naxes, const int64_t *axes, int keepdims);
kiln_value g_reduce_last(kiln_grad_ctx *c, kiln_op op, kiln_value x); /* last axis, kept as 1 */
/* zeros of a shape (symbolic dims allowed) */
kiln_value g_zeros(kiln_grad_ctx *c, kiln_dtype t, const kiln_shape *s);
/* a dim's value as a scalar tensor of type t (an iota for symbolic dims) */
kiln_value g_dim_value(kiln_grad_ctx *c, kiln_dim d, kiln_dtype t);
/* sum v (an adjoint of a broadcast result) back to shape s: reduce_sum
 * over the leading axes s lacks and over axes where s has 1 */
kiln_value g_unbroadcast(kiln_grad_ctx *c, kiln_value v, const kiln_shape *s);
/* g * d(y)/d(x) for elementwise rules: unbroadcast to input i's shape */
kiln_value g_to_input(kiln_grad_ctx *c, int i, kiln_value v);
kiln_status g_fail(kiln_grad_ctx *c, kiln_code code, const char *fmt, ...) KILN_PRINTF(3, 4);

#endif
