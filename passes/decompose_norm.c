/* Row-wise composites and activations as primitives. Each step rounds to
 * the tensor dtype where the reference computes the composite in double,
 * so results agree to a few ulp, not bit for bit. */
#include <math.h>

#include "decompose.h"

/* softmax = exp(x - max) / sum(exp(x - max)); log_softmax = (x - max) - log(sum(exp(x - max))) */
static kiln_value softmax(dctx *d, const kiln_node *n, kiln_value x) {
    int axis = (int)n->attrs[0].i;
    kiln_value z = d_bin(d, KILN_OP_SUB, x, d_reduce(d, KILN_OP_REDUCE_MAX, x, axis));
    kiln_value e = d_un(d, KILN_OP_EXP, z);
    kiln_value sum = d_reduce(d, KILN_OP_REDUCE_SUM, e, axis);
    if (n->op == KILN_OP_LOG_SOFTMAX) return d_bin(d, KILN_OP_SUB, z, d_un(d, KILN_OP_LOG, sum));
    return d_bin(d, KILN_OP_DIV, e, sum);
}

/* layer_norm: (x - mean) * rsqrt(var + eps) * w + b (population variance);
 * rms_norm: x * rsqrt(mean(x^2) + eps) * w; both over the last axis */
static kiln_value norm(dctx *d, const kiln_node *n, const kiln_value *in) {
    kiln_value x = in[0];
    kiln_dtype t = n->dtype;
    kiln_value eps = d_scalar(d, t, n->attrs[0].f);
    kiln_value centered = x;
    if (n->op == KILN_OP_LAYER_NORM) centered = d_bin(d, KILN_OP_SUB, x, d_reduce(d, KILN_OP_REDUCE_MEAN, x, -1));
    kiln_value var = d_reduce(d, KILN_OP_REDUCE_MEAN, d_bin(d, KILN_OP_MUL, centered, centered), -1);
    kiln_value y = d_bin(d, KILN_OP_MUL, centered, d_un(d, KILN_OP_RSQRT, d_bin(d, KILN_OP_ADD, var, eps)));
    if (n->ninputs > 1 && in[1] != KILN_NONE) y = d_bin(d, KILN_OP_MUL, y, in[1]);
    if (n->ninputs > 2 && in[2] != KILN_NONE) y = d_bin(d, KILN_OP_ADD, y, in[2]);
    return y;
}

kiln_status decompose_norm(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    *out = n->op == KILN_OP_SOFTMAX || n->op == KILN_OP_LOG_SOFTMAX ? softmax(d, n, in[0]) : norm(d, n, in);
    return d->s;
}

kiln_status decompose_activation(dctx *d, const kiln_value *in, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(d->r->src, d->like);
    kiln_value x = in[0];
    kiln_dtype t = n->dtype;
    kiln_value one = d_scalar(d, t, 1.0), half = d_scalar(d, t, 0.5);
    switch (n->op) {
    case KILN_OP_GELU: /* 0.5 x (1 + erf(x / sqrt 2)) */
        *out = d_bin(d, KILN_OP_MUL, d_bin(d, KILN_OP_MUL, half, x),
                     d_bin(d, KILN_OP_ADD, one, d_un(d, KILN_OP_ERF, d_bin(d, KILN_OP_DIV, x, d_scalar(d, t, sqrt(2.0))))));
        break;
    case KILN_OP_GELU_TANH: { /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        kiln_value x3 = d_bin(d, KILN_OP_MUL, d_bin(d, KILN_OP_MUL, x, x), x);
        kiln_value inner = d_bin(d, KILN_OP_ADD, x, d_bin(d, KILN_OP_MUL, d_scalar(d, t, 0.044715), x3));
        kiln_value th = d_un(d, KILN_OP_TANH, d_bin(d, KILN_OP_MUL, d_scalar(d, t, sqrt(2.0 / 3.14159265358979323846)), inner));
        *out = d_bin(d, KILN_OP_MUL, d_bin(d, KILN_OP_MUL, half, x), d_bin(d, KILN_OP_ADD, one, th));
        break;
    }
    default: /* silu: x * sigmoid(x) */
        *out = d_bin(d, KILN_OP_MUL, x, d_un(d, KILN_OP_SIGMOID, x));
        break;
    }
    return d->s;
}
