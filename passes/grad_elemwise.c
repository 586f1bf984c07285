/* Gradient rules of elementwise ops: unary math, activations, casts.
 * Each multiplies the adjoint gy by the derivative, written in terms of
 * the input x or (where cheaper) the output y, so the backward kernels
 * fuse with the forward values they read. */
#include <math.h>

#include "grad.h"

#define PI 3.14159265358979323846

kiln_status grad_none(kiln_grad_ctx *c) {
    (void)c;
    return KILN_OK;
}

/* d y / d x for y = op(x), as a value of x's shape */
static kiln_value derivative(kiln_grad_ctx *c, kiln_op op, kiln_value x, kiln_value y, kiln_dtype t) {
    kiln_value one = g_scalar(c, t, 1.0);
    switch (op) {
    case KILN_OP_ABS: return g_un(c, KILN_OP_SIGN, x);
    case KILN_OP_EXP: return y;
    case KILN_OP_LOG: return g_un(c, KILN_OP_RECIP, x);
    case KILN_OP_SQRT: return g_div(c, g_scalar(c, t, 0.5), y);                                 /* 1 / (2 sqrt x) */
    case KILN_OP_RSQRT: return g_mul(c, g_scalar(c, t, -0.5), g_mul(c, y, g_mul(c, y, y)));   /* -x^-3/2 / 2 */
    case KILN_OP_RECIP: return g_un(c, KILN_OP_NEG, g_mul(c, y, y));                            /* -1 / x^2 */
    case KILN_OP_TANH: return g_sub(c, one, g_mul(c, y, y));
    case KILN_OP_ERF: /* 2 / sqrt(pi) exp(-x^2) */
        return g_mul(c, g_scalar(c, t, 2.0 / sqrt(PI)), g_un(c, KILN_OP_EXP, g_un(c, KILN_OP_NEG, g_mul(c, x, x))));
    case KILN_OP_SIN: return g_un(c, KILN_OP_COS, x);
    case KILN_OP_COS: return g_un(c, KILN_OP_NEG, g_un(c, KILN_OP_SIN, x));
    case KILN_OP_TAN: return g_add(c, one, g_mul(c, y, y));
    case KILN_OP_ASIN: return g_un(c, KILN_OP_RSQRT, g_sub(c, one, g_mul(c, x, x)));
    case KILN_OP_ACOS: return g_un(c, KILN_OP_NEG, g_un(c, KILN_OP_RSQRT, g_sub(c, one, g_mul(c, x, x))));
    case KILN_OP_ATAN: return g_un(c, KILN_OP_RECIP, g_add(c, one, g_mul(c, x, x)));
    case KILN_OP_SINH: return g_un(c, KILN_OP_COSH, x);
    case KILN_OP_COSH: return g_un(c, KILN_OP_SINH, x);
    case KILN_OP_ASINH: return g_un(c, KILN_OP_RSQRT, g_add(c, g_mul(c, x, x), one));
    case KILN_OP_ACOSH: return g_un(c, KILN_OP_RSQRT, g_sub(c, g_mul(c, x, x), one));
    case KILN_OP_ATANH: return g_un(c, KILN_OP_RECIP, g_sub(c, one, g_mul(c, x, x)));
    case KILN_OP_SIGMOID: return g_mul(c, y, g_sub(c, one, y));
    case KILN_OP_SILU: { /* s (1 + x (1 - s)), s = sigmoid(x) */
        kiln_value s = g_un(c, KILN_OP_SIGMOID, x);
        return g_mul(c, s, g_add(c, one, g_mul(c, x, g_sub(c, one, s))));
    }
    case KILN_OP_GELU: { /* Phi(x) + x phi(x) */
        kiln_value half = g_scalar(c, t, 0.5);
        kiln_value cdf = g_mul(c, half, g_add(c, one, g_un(c, KILN_OP_ERF, g_mul(c, x, g_scalar(c, t, 1.0 / sqrt(2.0))))));
        kiln_value pdf = g_mul(c, g_scalar(c, t, 1.0 / sqrt(2.0 * PI)),
                               g_un(c, KILN_OP_EXP, g_mul(c, g_scalar(c, t, -0.5), g_mul(c, x, x))));
        return g_add(c, cdf, g_mul(c, x, pdf));
    }
    case KILN_OP_GELU_TANH: { /* u = k (x + a x^3): 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) k (1 + 3 a x^2) */
        double k = sqrt(2.0 / PI), a = 0.044715;
        kiln_value half = g_scalar(c, t, 0.5), x2 = g_mul(c, x, x);
        kiln_value u = g_mul(c, g_scalar(c, t, k), g_add(c, x, g_mul(c, g_scalar(c, t, a), g_mul(c, x2, x))));
        kiln_value th = g_un(c, KILN_OP_TANH, u);
        kiln_value du = g_mul(c, g_scalar(c, t, k), g_add(c, one, g_mul(c, g_scalar(c, t, 3 * a), x2)));
        kiln_value left = g_mul(c, half, g_add(c, one, th));
        kiln_value right = g_mul(c, g_mul(c, half, x), g_mul(c, g_sub(c, one, g_mul(c, th, th)), du));
        return g_add(c, left, right);
    }
    default: g_fail(c, KILN_ERR_INTERNAL, "no derivative for this op"); return KILN_NONE;
    }
}

kiln_status grad_unary(kiln_grad_ctx *c) {
    kiln_op op = gnode(c, c->y)->op;
    kiln_dtype t = gnode(c, c->y)->dtype;
    if (op == KILN_OP_NEG) c->gx[0] = g_un(c, KILN_OP_NEG, c->gy);
    else c->gx[0] = g_mul(c, c->gy, derivative(c, op, c->x[0], c->y, t));
    return c->s;
}

kiln_status grad_activation(kiln_grad_ctx *c) {
    kiln_op op = gnode(c, c->y)->op;
    kiln_dtype t = gnode(c, c->y)->dtype;
    if (op == KILN_OP_RELU) /* the kink at 0 takes the left derivative, 0 */
        c->gx[0] = g_where(c, g_bin(c, KILN_OP_GT, c->x[0], g_scalar(c, t, 0.0)), c->gy, g_scalar(c, t, 0.0));
    else c->gx[0] = g_mul(c, c->gy, derivative(c, op, c->x[0], c->y, t));
    return c->s;
}

/* A cast between float types passes the adjoint back in the input's type;
 * from or to an integer or bool type nothing flows (the autodiff pass
 * never asks, as such values carry no gradient). */
kiln_status grad_cast(kiln_grad_ctx *c) {
    kiln_dtype from = gnode(c, c->x[0])->dtype;
    if (kiln_dtype_is_float(from)) c->gx[0] = g_cast(c, c->gy, from);
    return c->s;
}

/* Binary ops with numpy broadcasting: each adjoint is summed back over
 * the axes its operand was broadcast along. */
kiln_status grad_binary(kiln_grad_ctx *c) {
    kiln_op op = gnode(c, c->y)->op;
    kiln_dtype t = gnode(c, c->y)->dtype;
    kiln_value a = c->x[0], b = c->x[1], y = c->y, gy = c->gy, ga = KILN_NONE, gb = KILN_NONE;
    kiln_value zero = KILN_NONE;
    switch (op) {
    case KILN_OP_ADD:
        ga = gy;
        gb = gy;
        break;
    case KILN_OP_SUB:
        ga = gy;
        if (c->need[1]) gb = g_un(c, KILN_OP_NEG, gy);
        break;
    case KILN_OP_MUL:
        if (c->need[0]) ga = g_mul(c, gy, b);
        if (c->need[1]) gb = g_mul(c, gy, a);
        break;
    case KILN_OP_DIV: /* d/da = 1/b, d/db = -a/b^2 = -y/b */
        if (c->need[0]) ga = g_div(c, gy, b);
        if (c->need[1]) gb = g_un(c, KILN_OP_NEG, g_div(c, g_mul(c, gy, y), b));
        break;
    case KILN_OP_POW: /* d/da = b a^(b-1), d/db = y ln a */
        if (c->need[0]) ga = g_mul(c, gy, g_mul(c, b, g_bin(c, KILN_OP_POW, a, g_sub(c, b, g_scalar(c, t, 1.0)))));
        if (c->need[1]) gb = g_mul(c, gy, g_mul(c, y, g_un(c, KILN_OP_LOG, a)));
        break;
    case KILN_OP_MOD:
    case KILN_OP_FMOD: /* y = a - q b with q = floor (mod) or trunc (fmod) of a / b, constant between jumps */
        ga = gy;
        if (c->need[1]) gb = g_un(c, KILN_OP_NEG, g_mul(c, gy, g_div(c, g_sub(c, a, y), b)));
        break;
    case KILN_OP_MAX:
    case KILN_OP_MIN: { /* the adjoint goes to the chosen operand; a tie goes to a */
        kiln_value pick_a = g_bin(c, op == KILN_OP_MAX ? KILN_OP_GE : KILN_OP_LE, a, b);
        zero = g_scalar(c, t, 0.0);
        if (c->need[0]) ga = g_where(c, pick_a, gy, zero);
        if (c->need[1]) gb = g_where(c, pick_a, zero, gy);
        break;
    }
    default: return g_fail(c, KILN_ERR_INTERNAL, "not a differentiable binary op");
    }
    if (c->need[0]) c->gx[0] = g_to_input(c, 0, g_expand(c, ga, &gnode(c, y)->shape));
    if (c->need[1]) c->gx[1] = g_to_input(c, 1, g_expand(c, gb, &gnode(c, y)->shape));
    return c->s;
}

kiln_status grad_where(kiln_grad_ctx *c) {
    kiln_dtype t = gnode(c, c->y)->dtype;
    kiln_value zero = g_scalar(c, t, 0.0);
    if (c->need[1]) c->gx[1] = g_to_input(c, 1, g_where(c, c->x[0], c->gy, zero));
    if (c->need[2]) c->gx[2] = g_to_input(c, 2, g_where(c, c->x[0], zero, c->gy));
    return c->s;
}
