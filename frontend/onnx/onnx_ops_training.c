/* The optimizer ops of ai.onnx.preview.training (Adagrad, Adam, Momentum)
 * and two ai.onnx.ml ops (Binarizer, ArrayFeatureExtractor), with the
 * update formulas of the ONNX operator documentation. Several tensors may
 * be optimized by one node: inputs are R, T, then the Xs, Gs, (Vs,) Hs. */
#include <string.h>

#include "onnx_import.h"

static kiln_status scalar_f(ox_ctx *c, ox_id like, double v, ox_id *out) { return ox_like(c, like, v, out); }

/* r, t as x's dtype; t > 0 as a bool */
static kiln_status rt(ox_ctx *c, ox_id r, ox_id t, ox_id x, ox_id *rf, ox_id *tf, ox_id *tpos) {
    KILN_TRY(ox_cast(c, r, ox_dtype(c, x), rf));
    KILN_TRY(ox_reshape(c, *rf, 0, NULL, rf));
    KILN_TRY(ox_cast(c, t, ox_dtype(c, x), tf));
    KILN_TRY(ox_reshape(c, *tf, 0, NULL, tf));
    return ox_binary_s(c, KILN_OP_GT, *tf, 0, tpos);
}

/* norm_coefficient x + g */
static kiln_status regularized(ox_ctx *c, ox_id x, ox_id g, double norm, ox_id *out) {
    ox_id y;
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, norm, &y));
    return ox_binary(c, KILN_OP_ADD, y, g, out);
}

OX_CONV(conv_adagrad) {
    OX_REQ(r, 0);
    OX_REQ(t, 1);
    int k = (nin - 2) / 3;
    if (k < 1 || nin != 2 + 3 * k || nout != 2 * k) return ox_invalid(c, "inputs R, T, X..., G..., H...");
    double decay = ox_attr_f(n, "decay_factor", 0), eps = ox_attr_f(n, "epsilon", 0), norm = ox_attr_f(n, "norm_coefficient", 0);
    for (int i = 0; i < k; i++) {
        ox_id x = in[2 + i], g = in[2 + k + i], h = in[2 + 2 * k + i], rf, tf, tp, gr, h2, den, step, x2;
        if (x == OX_NONE || g == OX_NONE || h == OX_NONE) return ox_invalid(c, "missing input");
        KILN_TRY(rt(c, r, t, x, &rf, &tf, &tp));
        /* r / (1 + t decay) */
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, tf, decay, &den));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, den, 1, &den));
        KILN_TRY(ox_binary(c, KILN_OP_DIV, rf, den, &rf));
        KILN_TRY(regularized(c, x, g, norm, &gr));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, gr, gr, &h2));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, h, h2, &h2));
        KILN_TRY(ox_unary(c, KILN_OP_SQRT, h2, &den));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, den, eps, &den));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, rf, gr, &step));
        KILN_TRY(ox_binary(c, KILN_OP_DIV, step, den, &step));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, x, step, &x2));
        out[i] = x2;
        out[k + i] = h2;
    }
    return KILN_OK;
}

OX_CONV(conv_adam) {
    OX_REQ(r, 0);
    OX_REQ(t, 1);
    int k = (nin - 2) / 4;
    if (k < 1 || nin != 2 + 4 * k || nout != 3 * k) return ox_invalid(c, "inputs R, T, X..., G..., V..., H...");
    double alpha = ox_attr_f(n, "alpha", 0.9), beta = ox_attr_f(n, "beta", 0.999), eps = ox_attr_f(n, "epsilon", 0);
    double norm = ox_attr_f(n, "norm_coefficient", 0), post = ox_attr_f(n, "norm_coefficient_post", 0);
    for (int i = 0; i < k; i++) {
        ox_id x = in[2 + i], g = in[2 + k + i], v = in[2 + 2 * k + i], h = in[2 + 3 * k + i];
        if (x == OX_NONE || g == OX_NONE || v == OX_NONE || h == OX_NONE) return ox_invalid(c, "missing input");
        ox_id rf, tf, tp, gr, v2, h2, a, b, den, radj, pb, pa, num, x2;
        KILN_TRY(rt(c, r, t, x, &rf, &tf, &tp));
        KILN_TRY(regularized(c, x, g, norm, &gr));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, v, alpha, &a));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, gr, 1 - alpha, &b));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, a, b, &v2));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, h, beta, &a));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, gr, gr, &b));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, b, 1 - beta, &b));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, a, b, &h2));
        KILN_TRY(ox_unary(c, KILN_OP_SQRT, h2, &den));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, den, eps, &den));
        /* r sqrt(1 - beta^t) / (1 - alpha^t) when t > 0 */
        ox_id bc, ac;
        KILN_TRY(scalar_f(c, tf, beta, &bc));
        KILN_TRY(scalar_f(c, tf, alpha, &ac));
        KILN_TRY(ox_binary(c, KILN_OP_POW, bc, tf, &pb));
        KILN_TRY(ox_binary(c, KILN_OP_POW, ac, tf, &pa));
        KILN_TRY(ox_unary(c, KILN_OP_NEG, pb, &pb));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, pb, 1, &pb));
        KILN_TRY(ox_unary(c, KILN_OP_SQRT, pb, &pb));
        KILN_TRY(ox_unary(c, KILN_OP_NEG, pa, &pa));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, pa, 1, &pa));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, rf, pb, &num));
        KILN_TRY(ox_binary(c, KILN_OP_DIV, num, pa, &num));
        KILN_TRY(ox_where(c, tp, num, rf, &radj));
        KILN_TRY(ox_binary(c, KILN_OP_DIV, v2, den, &a));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, radj, a, &a));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, x, a, &x2));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x2, 1 - post, &x2));
        out[i] = x2;
        out[k + i] = v2;
        out[2 * k + i] = h2;
    }
    return KILN_OK;
}

OX_CONV(conv_momentum) {
    OX_REQ(r, 0);
    OX_REQ(t, 1);
    int k = (nin - 2) / 3;
    if (k < 1 || nin != 2 + 3 * k || nout != 2 * k) return ox_invalid(c, "inputs R, T, X..., G..., V...");
    double alpha = ox_attr_f(n, "alpha", 0), beta = ox_attr_f(n, "beta", 0), norm = ox_attr_f(n, "norm_coefficient", 0);
    const char *mode = ox_attr_s(n, "mode", "standard");
    int nesterov = !strcmp(mode, "nesterov");
    if (!nesterov && strcmp(mode, "standard")) return ox_invalid(c, "mode '%s'", mode);
    for (int i = 0; i < k; i++) {
        ox_id x = in[2 + i], g = in[2 + k + i], v = in[2 + 2 * k + i];
        if (x == OX_NONE || g == OX_NONE || v == OX_NONE) return ox_invalid(c, "missing input");
        ox_id rf, tf, tp, gr, badj, bc, one, v2, a, x2;
        KILN_TRY(rt(c, r, t, x, &rf, &tf, &tp));
        KILN_TRY(regularized(c, x, g, norm, &gr));
        KILN_TRY(scalar_f(c, tf, beta, &bc));
        KILN_TRY(scalar_f(c, tf, 1, &one));
        KILN_TRY(ox_where(c, tp, bc, one, &badj)); /* beta, or 1 on the first step */
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, v, alpha, &v2));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, badj, gr, &a));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, v2, a, &v2));
        if (nesterov) { /* x - r (g + alpha v') */
            KILN_TRY(ox_binary_s(c, KILN_OP_MUL, v2, alpha, &a));
            KILN_TRY(ox_binary(c, KILN_OP_ADD, gr, a, &a));
        } else {
            a = v2;
        }
        KILN_TRY(ox_binary(c, KILN_OP_MUL, rf, a, &a));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, x, a, &x2));
        out[i] = x2;
        out[k + i] = v2;
    }
    return KILN_OK;
}

/* Binarizer: x > threshold ? 1 : 0, in x's type */
OX_CONV(conv_binarizer) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    ox_id gt;
    KILN_TRY(ox_binary_s(c, KILN_OP_GT, x, ox_attr_f(n, "threshold", 0), &gt));
    return ox_cast(c, gt, ox_dtype(c, x), &out[0]);
}

/* ArrayFeatureExtractor(X, Y): X[..., Y] on the last axis (Y flattened) */
OX_CONV(conv_array_feature_extractor) {
    (void)n;
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(idx, 1);
    kiln_shape is = OV(c, idx)->shape;
    kiln_dim total = kiln_shape_numel_dim(c->g, &is);
    if (total == KILN_DIM_INVALID) return ox_unsupported(c, "shapes too complex");
    ox_id flat;
    KILN_TRY(ox_reshape(c, idx, 1, &total, &flat));
    int rank = ox_rank(c, x);
    if (rank < 1) return ox_invalid(c, "X must have rank >= 1");
    return ox_gather(c, x, flat, rank - 1, &out[0]);
}

const ox_domain_converter ox_domain_ops[] = {
    {"ai.onnx.preview.training", "Adagrad", conv_adagrad},
    {"ai.onnx.preview.training", "Adam", conv_adam},
    {"ai.onnx.preview.training", "Momentum", conv_momentum},
    {"ai.onnx.ml", "Binarizer", conv_binarizer},
    {"ai.onnx.ml", "ArrayFeatureExtractor", conv_array_feature_extractor},
    {NULL, NULL, NULL},
};
