/* Elementwise ONNX ops: math, comparisons, logic, activations, Cast,
 * Where, Clip, and the variadic Sum/Mean/Max/Min. Activations without an
 * IR op of their own are written with primitives, following the formulas
 * in the ONNX operator documentation. */
#include <math.h>
#include <string.h>

#include "onnx_import.h"

/* ---- direct unary ops --------------------------------------------------------- */
static const struct {
    const char *name;
    kiln_op op;
} unary_map[] = {
    {"Abs", KILN_OP_ABS},       {"Neg", KILN_OP_NEG},       {"Sign", KILN_OP_SIGN},   {"Exp", KILN_OP_EXP},
    {"Log", KILN_OP_LOG},       {"Sqrt", KILN_OP_SQRT},     {"Reciprocal", KILN_OP_RECIP}, {"Tanh", KILN_OP_TANH},
    {"Sigmoid", KILN_OP_SIGMOID}, {"Erf", KILN_OP_ERF},     {"Sin", KILN_OP_SIN},     {"Cos", KILN_OP_COS},
    {"Floor", KILN_OP_FLOOR},   {"Ceil", KILN_OP_CEIL},     {"Round", KILN_OP_ROUND}, {"Relu", KILN_OP_RELU},
    {"Not", KILN_OP_NOT},       {"Tan", KILN_OP_TAN},       {"Asin", KILN_OP_ASIN},   {"Acos", KILN_OP_ACOS},
    {"Atan", KILN_OP_ATAN},     {"Sinh", KILN_OP_SINH},     {"Cosh", KILN_OP_COSH},   {"Asinh", KILN_OP_ASINH},
    {"Acosh", KILN_OP_ACOSH},   {"Atanh", KILN_OP_ATANH},   {"BitwiseNot", KILN_OP_BITNOT},
};

OX_CONV(conv_unary) {
    (void)nout;
    OX_REQ(x, 0);
    for (size_t i = 0; i < sizeof unary_map / sizeof unary_map[0]; i++)
        if (strcmp(unary_map[i].name, n->op_type) == 0) return ox_unary(c, unary_map[i].op, x, &out[0]);
    return ox_unsupported(c, "no unary op for %s", n->op_type);
}

/* ---- direct binary ops (numpy broadcasting) ----------------------------------- */
static const struct {
    const char *name;
    kiln_op op;
} binary_map[] = {
    {"Add", KILN_OP_ADD},           {"Sub", KILN_OP_SUB},           {"Mul", KILN_OP_MUL},
    {"Div", KILN_OP_DIV},           {"Equal", KILN_OP_EQ},          {"Less", KILN_OP_LT},
    {"LessOrEqual", KILN_OP_LE},    {"Greater", KILN_OP_GT},        {"GreaterOrEqual", KILN_OP_GE},
    {"And", KILN_OP_AND},           {"Or", KILN_OP_OR},             {"Xor", KILN_OP_XOR},
    {"BitwiseAnd", KILN_OP_BITAND}, {"BitwiseOr", KILN_OP_BITOR},   {"BitwiseXor", KILN_OP_BITXOR},
};

OX_CONV(conv_binary) {
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    for (size_t i = 0; i < sizeof binary_map / sizeof binary_map[0]; i++)
        if (strcmp(binary_map[i].name, n->op_type) == 0) return ox_binary(c, binary_map[i].op, a, b, &out[0]);
    return ox_unsupported(c, "no binary op for %s", n->op_type);
}

/* Pow(X, Y): Y may have another numeric type; the result has X's. */
OX_CONV(conv_pow) {
    (void)n;
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    KILN_TRY(ox_cast(c, b, ox_dtype(c, a), &b));
    return ox_binary(c, KILN_OP_POW, a, b, &out[0]);
}

/* Mod: fmod=0 takes the divisor's sign (integers only), fmod=1 the
 * dividend's (C fmod). */
OX_CONV(conv_mod) {
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    int fm = (int)ox_attr_i(n, "fmod", 0);
    if (!fm && kiln_dtype_is_float(ox_dtype(c, a)))
        return ox_invalid(c, "fmod must be 1 for floating-point inputs");
    return ox_binary(c, fm ? KILN_OP_FMOD : KILN_OP_MOD, a, b, &out[0]);
}

/* BitShift(X, Y; direction): unsigned integers. */
OX_CONV(conv_bitshift) {
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    const char *dir = ox_attr_s(n, "direction", "");
    if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")) return ox_invalid(c, "direction must be LEFT or RIGHT");
    return ox_binary(c, strcmp(dir, "LEFT") == 0 ? KILN_OP_SHL : KILN_OP_SHR, a, b, &out[0]);
}

/* Sum, Mean, Max, Min over any number of inputs, broadcast together. */
OX_CONV(conv_variadic) {
    (void)nout;
    kiln_op op = strcmp(n->op_type, "Max") == 0 ? KILN_OP_MAX : strcmp(n->op_type, "Min") == 0 ? KILN_OP_MIN : KILN_OP_ADD;
    OX_REQ(acc, 0);
    int count = 1;
    for (int i = 1; i < nin; i++) {
        if (in[i] == OX_NONE) continue;
        KILN_TRY(ox_binary(c, op, acc, in[i], &acc));
        count++;
    }
    if (strcmp(n->op_type, "Mean") == 0 && count > 1) KILN_TRY(ox_binary_s(c, KILN_OP_DIV, acc, count, &acc));
    out[0] = acc;
    return KILN_OK;
}

OX_CONV(conv_identity) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    out[0] = x;
    return KILN_OK;
}

OX_CONV(conv_where) {
    (void)n;
    (void)nout;
    OX_REQ(cond, 0);
    OX_REQ(a, 1);
    OX_REQ(b, 2);
    if (ox_dtype(c, cond) != KILN_BOOL) KILN_TRY(ox_cast(c, cond, KILN_BOOL, &cond));
    return ox_where(c, cond, a, b, &out[0]);
}

/* ---- casts -------------------------------------------------------------------------- */
OX_CONV(conv_cast) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_dtype to;
    if (strcmp(n->op_type, "CastLike") == 0) {
        OX_REQ(like, 1);
        to = ox_dtype(c, like);
    } else {
        if (!ox_has_attr(n, "to")) return ox_invalid(c, "attribute 'to' is required");
        kiln_status s = onnx_to_kiln_dtype((int)ox_attr_i(n, "to", 0), &to);
        if (s) return s;
    }
    return ox_cast(c, x, to, &out[0]);
}

/* ---- activations ---------------------------------------------------------------------- */
/* where(x < 0, neg, x) */
static kiln_status where_negative(ox_ctx *c, ox_id x, ox_id neg, ox_id *out) {
    ox_id zero, lt;
    KILN_TRY(ox_like(c, x, 0, &zero));
    KILN_TRY(ox_binary(c, KILN_OP_LT, x, zero, &lt));
    return ox_where(c, lt, neg, x, out);
}

/* max(x, 0) + log(1 + exp(-|x|)): log(1 + exp(x)) without overflow */
static kiln_status softplus(ox_ctx *c, ox_id x, ox_id *out) {
    ox_id zero, pos, ax, e, l;
    KILN_TRY(ox_like(c, x, 0, &zero));
    KILN_TRY(ox_binary(c, KILN_OP_MAX, x, zero, &pos));
    KILN_TRY(ox_unary(c, KILN_OP_ABS, x, &ax));
    KILN_TRY(ox_unary(c, KILN_OP_NEG, ax, &ax));
    KILN_TRY(ox_unary(c, KILN_OP_EXP, ax, &e));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, e, 1, &e));
    KILN_TRY(ox_unary(c, KILN_OP_LOG, e, &l));
    return ox_binary(c, KILN_OP_ADD, pos, l, out);
}

/* max(0, min(1, alpha*x + beta)) */
static kiln_status hard_sigmoid(ox_ctx *c, ox_id x, double alpha, double beta, ox_id *out) {
    ox_id y;
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, alpha, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, y, beta, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_MIN, y, 1, &y));
    return ox_binary_s(c, KILN_OP_MAX, y, 0, out);
}

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }

OX_CONV(conv_activation) {
    (void)nout;
    OX_REQ(x, 0);
    ox_id y, t;
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs a floating-point input");
    if (is_op(n, "LeakyRelu")) {
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, ox_attr_f(n, "alpha", 0.01), &y));
        return where_negative(c, x, y, &out[0]);
    }
    if (is_op(n, "Elu")) { /* alpha (exp(x) - 1) for x < 0 */
        KILN_TRY(ox_unary(c, KILN_OP_EXP, x, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, 1, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, ox_attr_f(n, "alpha", 1.0), &y));
        return where_negative(c, x, y, &out[0]);
    }
    if (is_op(n, "Selu")) { /* gamma (alpha exp(x) - alpha) for x <= 0, gamma x above */
        double alpha = ox_attr_f(n, "alpha", 1.67326319217681884765625);
        double gamma = ox_attr_f(n, "gamma", 1.05070102214813232421875);
        ox_id pos, le, zero;
        KILN_TRY(ox_unary(c, KILN_OP_EXP, x, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, gamma, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, gamma, &pos));
        KILN_TRY(ox_like(c, x, 0, &zero));
        KILN_TRY(ox_binary(c, KILN_OP_LE, x, zero, &le));
        return ox_where(c, le, y, pos, &out[0]);
    }
    if (is_op(n, "Celu")) { /* max(0, x) + min(0, alpha (exp(x / alpha) - 1)) */
        double alpha = ox_attr_f(n, "alpha", 1.0);
        ox_id pos;
        KILN_TRY(ox_binary_s(c, KILN_OP_DIV, x, alpha, &y));
        KILN_TRY(ox_unary(c, KILN_OP_EXP, y, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, 1, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MIN, y, 0, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MAX, x, 0, &pos));
        return ox_binary(c, KILN_OP_ADD, pos, y, &out[0]);
    }
    if (is_op(n, "HardSigmoid")) return hard_sigmoid(c, x, ox_attr_f(n, "alpha", 0.2), ox_attr_f(n, "beta", 0.5), &out[0]);
    if (is_op(n, "HardSwish")) {
        KILN_TRY(hard_sigmoid(c, x, 1.0 / 6.0, 0.5, &y));
        return ox_binary(c, KILN_OP_MUL, x, y, &out[0]);
    }
    if (is_op(n, "Softplus")) return softplus(c, x, &out[0]);
    if (is_op(n, "Softsign")) { /* x / (1 + |x|) */
        KILN_TRY(ox_unary(c, KILN_OP_ABS, x, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, y, 1, &y));
        return ox_binary(c, KILN_OP_DIV, x, y, &out[0]);
    }
    if (is_op(n, "ThresholdedRelu")) { /* x where x > alpha, else 0 */
        ox_id zero, gt;
        KILN_TRY(ox_binary_s(c, KILN_OP_GT, x, ox_attr_f(n, "alpha", 1.0), &gt));
        KILN_TRY(ox_like(c, x, 0, &zero));
        return ox_where(c, gt, x, zero, &out[0]);
    }
    if (is_op(n, "Mish")) { /* x tanh(softplus(x)) */
        KILN_TRY(softplus(c, x, &y));
        KILN_TRY(ox_unary(c, KILN_OP_TANH, y, &y));
        return ox_binary(c, KILN_OP_MUL, x, y, &out[0]);
    }
    if (is_op(n, "Gelu")) {
        const char *approx = ox_attr_s(n, "approximate", "none");
        if (strcmp(approx, "none") == 0) return ox_unary(c, KILN_OP_GELU, x, &out[0]);
        if (strcmp(approx, "tanh") == 0) return ox_unary(c, KILN_OP_GELU_TANH, x, &out[0]);
        return ox_invalid(c, "approximate must be 'none' or 'tanh', got '%s'", approx);
    }
    if (is_op(n, "Swish")) { /* x sigmoid(alpha x) */
        double alpha = ox_attr_f(n, "alpha", 1.0);
        if (alpha == 1.0) return ox_unary(c, KILN_OP_SILU, x, &out[0]);
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, alpha, &y));
        KILN_TRY(ox_unary(c, KILN_OP_SIGMOID, y, &y));
        return ox_binary(c, KILN_OP_MUL, x, y, &out[0]);
    }
    if (is_op(n, "Shrink")) { /* x + bias below -lambd, x - bias above lambd, else 0 */
        double bias = ox_attr_f(n, "bias", 0.0), lambd = ox_attr_f(n, "lambd", 0.5);
        ox_id lo, hi, add, sub, zero;
        KILN_TRY(ox_binary_s(c, KILN_OP_LT, x, -lambd, &lo));
        KILN_TRY(ox_binary_s(c, KILN_OP_GT, x, lambd, &hi));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, x, bias, &add));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, x, bias, &sub));
        KILN_TRY(ox_like(c, x, 0, &zero));
        KILN_TRY(ox_where(c, hi, sub, zero, &t));
        return ox_where(c, lo, add, t, &out[0]);
    }
    return ox_unsupported(c, "no activation %s", n->op_type);
}

/* PRelu(x, slope): slope broadcasts to x. */
OX_CONV(conv_prelu) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(slope, 1);
    ox_id y;
    KILN_TRY(ox_binary(c, KILN_OP_MUL, x, slope, &y));
    return where_negative(c, x, y, &out[0]);
}

/* SwiGLU(a, b; alpha): a sigmoid(alpha a) b */
OX_CONV(conv_swiglu) {
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    double alpha = ox_attr_f(n, "alpha", 1.0);
    ox_id y;
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, a, alpha, &y));
    KILN_TRY(ox_unary(c, KILN_OP_SIGMOID, y, &y));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, a, y, &y));
    return ox_binary(c, KILN_OP_MUL, y, b, &out[0]);
}

/* Clip: bounds as attributes before opset 11, optional inputs after. */
OX_CONV(conv_clip) {
    (void)nout;
    OX_REQ(x, 0);
    ox_id lo = ox_in(in, nin, 1), hi = ox_in(in, nin, 2), y = x;
    if (c->opset < 11) {
        if (ox_has_attr(n, "min")) KILN_TRY(ox_like(c, x, ox_attr_f(n, "min", 0), &lo));
        if (ox_has_attr(n, "max")) KILN_TRY(ox_like(c, x, ox_attr_f(n, "max", 0), &hi));
    }
    if (lo != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_MAX, y, lo, &y));
    if (hi != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_MIN, y, hi, &y));
    out[0] = y;
    return KILN_OK;
}

OX_CONV(conv_isnan) {
    (void)n;
    (void)nout;
    OX_REQ(x, 0);
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs a floating-point input");
    return ox_binary(c, KILN_OP_NE, x, x, &out[0]);
}

OX_CONV(conv_isinf) {
    (void)nout;
    OX_REQ(x, 0);
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs a floating-point input");
    int neg = (int)ox_attr_i(n, "detect_negative", 1), pos = (int)ox_attr_i(n, "detect_positive", 1);
    ox_id a = OX_NONE, b = OX_NONE;
    if (pos) KILN_TRY(ox_binary_s(c, KILN_OP_EQ, x, INFINITY, &a));
    if (neg) KILN_TRY(ox_binary_s(c, KILN_OP_EQ, x, -INFINITY, &b));
    if (a != OX_NONE && b != OX_NONE) return ox_binary(c, KILN_OP_OR, a, b, &out[0]);
    if (a != OX_NONE || b != OX_NONE) {
        out[0] = a != OX_NONE ? a : b;
        return KILN_OK;
    }
    ox_id f; /* neither sign detected: all false */
    kiln_shape xs = OV(c, x)->shape;
    KILN_TRY(ox_scalar(c, KILN_BOOL, 0, &f));
    return ox_expand(c, f, xs.rank, xs.dims, &out[0]);
}

/* Dropout at inference: the identity, and an all-true mask. Training mode
 * with a non-zero ratio draws random numbers, which kiln does not. */
OX_CONV(conv_dropout) {
    OX_REQ(x, 0);
    double ratio = 0.5;
    int training = 0;
    if (c->opset >= 12) {
        ox_id r = ox_in(in, nin, 1), t = ox_in(in, nin, 2);
        if (r != OX_NONE && !ox_const_f64(c, r, &ratio)) return ox_unsupported(c, "ratio computed at run time");
        double tv = 0;
        if (t != OX_NONE && !ox_const_f64(c, t, &tv)) return ox_unsupported(c, "training_mode computed at run time");
        training = tv != 0;
    } else {
        ratio = ox_attr_f(n, "ratio", 0.5);
        training = c->opset < 7 && !ox_attr_i(n, "is_test", 0);
    }
    if (training && ratio != 0) return ox_unsupported(c, "training-mode dropout is random");
    out[0] = x;
    if (nout > 1) {
        ox_id t;
        kiln_shape xs = OV(c, x)->shape;
        KILN_TRY(ox_scalar(c, KILN_BOOL, 1, &t));
        KILN_TRY(ox_expand(c, t, xs.rank, xs.dims, &out[1]));
    }
    return KILN_OK;
}

const ox_converter ox_elementwise_ops[] = {
    {"Abs", conv_unary},          {"Neg", conv_unary},         {"Sign", conv_unary},       {"Exp", conv_unary},
    {"Log", conv_unary},          {"Sqrt", conv_unary},        {"Reciprocal", conv_unary}, {"Tanh", conv_unary},
    {"Sigmoid", conv_unary},      {"Erf", conv_unary},         {"Sin", conv_unary},        {"Cos", conv_unary},
    {"Floor", conv_unary},        {"Ceil", conv_unary},        {"Round", conv_unary},      {"Relu", conv_unary},
    {"Not", conv_unary},          {"Tan", conv_unary},         {"Asin", conv_unary},       {"Acos", conv_unary},
    {"Atan", conv_unary},         {"Sinh", conv_unary},        {"Cosh", conv_unary},       {"Asinh", conv_unary},
    {"Acosh", conv_unary},        {"Atanh", conv_unary},       {"BitwiseNot", conv_unary},
    {"Add", conv_binary},         {"Sub", conv_binary},        {"Mul", conv_binary},       {"Div", conv_binary},
    {"Equal", conv_binary},       {"Less", conv_binary},       {"LessOrEqual", conv_binary},
    {"Greater", conv_binary},     {"GreaterOrEqual", conv_binary},
    {"And", conv_binary},         {"Or", conv_binary},         {"Xor", conv_binary},
    {"BitwiseAnd", conv_binary},  {"BitwiseOr", conv_binary},  {"BitwiseXor", conv_binary},
    {"BitShift", conv_bitshift},  {"Pow", conv_pow},           {"Mod", conv_mod},
    {"Sum", conv_variadic},       {"Mean", conv_variadic},     {"Max", conv_variadic},     {"Min", conv_variadic},
    {"Identity", conv_identity},  {"Where", conv_where},       {"Cast", conv_cast},        {"CastLike", conv_cast},
    {"LeakyRelu", conv_activation}, {"Elu", conv_activation},  {"Selu", conv_activation},  {"Celu", conv_activation},
    {"HardSigmoid", conv_activation}, {"HardSwish", conv_activation}, {"Softplus", conv_activation},
    {"Softsign", conv_activation}, {"ThresholdedRelu", conv_activation}, {"Mish", conv_activation},
    {"Gelu", conv_activation},    {"Swish", conv_activation},  {"Shrink", conv_activation},
    {"PRelu", conv_prelu},        {"SwiGLU", conv_swiglu},     {"Clip", conv_clip},        {"IsNaN", conv_isnan},
    {"IsInf", conv_isinf},        {"Dropout", conv_dropout},
    {NULL, NULL},
};
