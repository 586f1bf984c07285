/* activation(x, name): Hugging Face activation names (transformers'
 * ACT2FN) mapped to IR ops. Only exact equivalents are listed. */
#include <string.h>

#include "lang_internal.h"

static kiln_status unary(eval *ev, kiln_op op, kiln_value x, kiln_value *out) {
    return ev_build(ev, op, 1, &x, 0, NULL, out);
}

static kiln_status with_scalar(eval *ev, kiln_op op, kiln_value x, double c, int scalar_first, kiln_value *out) {
    kiln_value s;
    KILN_TRY(ev_scalar(ev, v_float(c), kiln_graph_node(ev->g, x)->dtype, &s));
    kiln_value in[2] = {scalar_first ? s : x, scalar_first ? x : s};
    return ev_build(ev, op, 2, in, 0, NULL, out);
}

static kiln_status mul(eval *ev, kiln_value a, kiln_value b, kiln_value *out) {
    return ev_build(ev, KILN_OP_MUL, 2, (kiln_value[]){a, b}, 0, NULL, out);
}

static const char *const known =
    "gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_python_tanh, gelu_fast, gelu_10, quick_gelu, relu, relu2, "
    "relu6, leaky_relu, silu, swish, mish, hardswish, tanh, sigmoid, linear, identity";

kiln_status ev_activation(eval *ev, kiln_value x, const char *name, kiln_value *out) {
    kiln_value t, u;
    if (!kiln_dtype_is_float(kiln_graph_node(ev->g, x)->dtype))
        return ev_error(ev, KILN_ERR_TYPE, "activation('%s') needs a floating-point tensor", name);
    if (!strcmp(name, "gelu") || !strcmp(name, "gelu_python")) return unary(ev, KILN_OP_GELU, x, out);
    /* gelu_fast writes the same tanh formula as 0.79788456 * x * (1 + 0.044715 x^2) */
    if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh") || !strcmp(name, "gelu_python_tanh") ||
        !strcmp(name, "gelu_fast"))
        return unary(ev, KILN_OP_GELU_TANH, x, out);
    if (!strcmp(name, "gelu_10")) { /* clip(gelu(x), -10, 10) */
        KILN_TRY(unary(ev, KILN_OP_GELU, x, &t));
        KILN_TRY(with_scalar(ev, KILN_OP_MAX, t, -10, 0, &u));
        return with_scalar(ev, KILN_OP_MIN, u, 10, 0, out);
    }
    if (!strcmp(name, "quick_gelu")) { /* x * sigmoid(1.702 x) */
        KILN_TRY(with_scalar(ev, KILN_OP_MUL, x, 1.702, 0, &t));
        KILN_TRY(unary(ev, KILN_OP_SIGMOID, t, &u));
        return mul(ev, x, u, out);
    }
    if (!strcmp(name, "relu")) return unary(ev, KILN_OP_RELU, x, out);
    if (!strcmp(name, "relu2")) { /* relu(x)^2 */
        KILN_TRY(unary(ev, KILN_OP_RELU, x, &t));
        return mul(ev, t, t, out);
    }
    if (!strcmp(name, "relu6")) {
        KILN_TRY(unary(ev, KILN_OP_RELU, x, &t));
        return with_scalar(ev, KILN_OP_MIN, t, 6, 0, out);
    }
    if (!strcmp(name, "leaky_relu")) { /* torch's default slope 0.01: max(x, 0.01 x) */
        KILN_TRY(with_scalar(ev, KILN_OP_MUL, x, 0.01, 0, &t));
        return ev_build(ev, KILN_OP_MAX, 2, (kiln_value[]){x, t}, 0, NULL, out);
    }
    if (!strcmp(name, "silu") || !strcmp(name, "swish")) return unary(ev, KILN_OP_SILU, x, out);
    if (!strcmp(name, "mish")) { /* x * tanh(log(1 + exp(x))) */
        KILN_TRY(unary(ev, KILN_OP_EXP, x, &t));
        KILN_TRY(with_scalar(ev, KILN_OP_ADD, t, 1, 0, &u));
        KILN_TRY(unary(ev, KILN_OP_LOG, u, &t));
        KILN_TRY(unary(ev, KILN_OP_TANH, t, &u));
        return mul(ev, x, u, out);
    }
    if (!strcmp(name, "hardswish")) { /* x * relu6(x + 3) / 6 */
        KILN_TRY(with_scalar(ev, KILN_OP_ADD, x, 3, 0, &t));
        KILN_TRY(unary(ev, KILN_OP_RELU, t, &u));
        KILN_TRY(with_scalar(ev, KILN_OP_MIN, u, 6, 0, &t));
        KILN_TRY(mul(ev, x, t, &u));
        return with_scalar(ev, KILN_OP_DIV, u, 6, 0, out);
    }
    if (!strcmp(name, "tanh")) return unary(ev, KILN_OP_TANH, x, out);
    if (!strcmp(name, "sigmoid")) return unary(ev, KILN_OP_SIGMOID, x, out);
    if (!strcmp(name, "linear") || !strcmp(name, "identity") || !strcmp(name, "none")) {
        *out = x;
        return KILN_OK;
    }
    return ev_error(ev, KILN_ERR_UNSUPPORTED, "unknown activation '%s' (known: %s)", name, known);
}
