/* Neural-network ops: MatMul, Gemm, Softmax/LogSoftmax/Hardmax, the
 * normalizations (Layer, RMS, Batch, Instance, Group, Lp, MVN), global
 * pools, Attention and RotaryEmbedding. The IR's composites (softmax,
 * layer_norm, rms_norm, attention) are used where their contract covers
 * the ONNX case; other cases are written with primitives. */
#include <math.h>
#include <string.h>

#include "onnx_import.h"

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }
static int wants(const onnx_node *n, int nout, int i) { return i < nout && n->outputs[i][0]; }

/* ---- MatMul, Gemm ------------------------------------------------------------------ */
/* numpy matmul: a 1-D operand gets a unit dim that is removed again. */
OX_CONV(conv_matmul) {
    (void)n;
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    int ra = ox_rank(c, a), rb = ox_rank(c, b);
    if (ra == 0 || rb == 0) return ox_invalid(c, "inputs must not be scalars");
    int64_t ax0 = 0, axm1 = 1;
    if (ra == 1) KILN_TRY(ox_unsqueeze(c, a, 1, &ax0, &a));
    if (rb == 1) KILN_TRY(ox_unsqueeze(c, b, 1, &axm1, &b));
    ox_id y;
    KILN_TRY(ox_matmul(c, a, b, &y));
    int ry = ox_rank(c, y);
    if (rb == 1) {
        int64_t ax = ry - 1;
        KILN_TRY(ox_squeeze(c, y, 1, &ax, &y));
        ry--;
    }
    if (ra == 1) {
        int64_t ax = ry - 2 + (rb == 1);
        KILN_TRY(ox_squeeze(c, y, 1, &ax, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* alpha * A' B' + beta * C, A' and B' optionally transposed (2-D). */
OX_CONV(conv_gemm) {
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    ox_id cc = ox_in(in, nin, 2), y;
    if (ox_rank(c, a) != 2 || ox_rank(c, b) != 2) return ox_invalid(c, "A and B must be 2-D");
    int64_t swap[2] = {1, 0};
    if (ox_attr_i(n, "transA", 0)) KILN_TRY(ox_transpose(c, a, 2, swap, &a));
    if (ox_attr_i(n, "transB", 0)) {
        ox_id ab[2] = {a, b};
        kiln_named_attr tb = kiln_a_bool("trans_b", 1);
        KILN_TRY(ox_op(c, KILN_OP_MATMUL, 2, ab, 1, &tb, &y));
    } else {
        KILN_TRY(ox_matmul(c, a, b, &y));
    }
    double alpha = ox_attr_f(n, "alpha", 1.0), beta = ox_attr_f(n, "beta", 1.0);
    if (alpha != 1.0) KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, alpha, &y));
    if (cc != OX_NONE && beta != 0.0) {
        if (beta != 1.0) KILN_TRY(ox_binary_s(c, KILN_OP_MUL, cc, beta, &cc));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, y, cc, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* ---- softmax family ---------------------------------------------------------------- */
/* Before opset 13 these ops flatten x to 2-D at `axis` and work on the
 * second dim; from 13 on they work along `axis` itself. */
static kiln_status coerce_2d(ox_ctx *c, ox_id x, int axis, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    kiln_dim a = 1, b = 1;
    for (int i = 0; i < s.rank; i++) {
        if (i < axis) a = kiln_dim_mul(c->g, a, s.dims[i]);
        else b = kiln_dim_mul(c->g, b, s.dims[i]);
    }
    if (a == KILN_DIM_INVALID || b == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
    kiln_dim d[2] = {a, b};
    return ox_reshape(c, x, 2, d, out);
}

static kiln_status hardmax(ox_ctx *c, ox_id x, int axis, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    kiln_named_attr a[2] = {kiln_a_int("axis", axis), kiln_a_bool("keepdims", 1)};
    ox_id am, iota, hot;
    KILN_TRY(ox_op(c, KILN_OP_ARGMAX, 1, &x, 2, a, &am));
    kiln_dim ishape[KILN_MAX_RANK];
    for (int i = 0; i < s.rank; i++) ishape[i] = i == axis ? s.dims[i] : 1;
    KILN_TRY(ox_iota(c, s.rank, ishape, axis, 0, &iota));
    KILN_TRY(ox_binary(c, KILN_OP_EQ, am, iota, &hot));
    return ox_cast(c, hot, ox_dtype(c, x), out);
}

OX_CONV(conv_softmax) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    int old = c->opset < 13, axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", old ? 1 : -1), s.rank, "axis", &axis));
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs a floating-point input");
    ox_id y = x;
    if (old) {
        KILN_TRY(coerce_2d(c, x, axis, &y));
        axis = 1;
    }
    if (is_op(n, "Hardmax")) KILN_TRY(hardmax(c, y, axis, &y));
    else {
        kiln_named_attr a = kiln_a_int("axis", axis);
        KILN_TRY(ox_op(c, is_op(n, "Softmax") ? KILN_OP_SOFTMAX : KILN_OP_LOG_SOFTMAX, 1, &y, 1, &a, &y));
    }
    if (old) KILN_TRY(ox_reshape(c, y, s.rank, s.dims, &y));
    out[0] = y;
    return KILN_OK;
}

/* ---- normalizations ------------------------------------------------------------------- */
/* Product of dims [from, rank). */
static kiln_dim tail_size(ox_ctx *c, const kiln_shape *s, int from) {
    kiln_dim d = 1;
    for (int i = from; i < s->rank; i++) d = kiln_dim_mul(c->g, d, s->dims[i]);
    return d;
}

static int is_vector_of(ox_ctx *c, ox_id w, kiln_dim d) {
    return w == OX_NONE || (ox_rank(c, w) == 1 && OV(c, w)->shape.dims[0] == d);
}

/* Layer/RMS normalization over dims [axis, rank): the IR op with weight
 * and bias when they are plain [D] vectors on the last axis, else the op
 * on x reshaped to [..., D'] followed by the broadcast scale and bias. */
static kiln_status normalize(ox_ctx *c, int rms, ox_id x, ox_id scale, ox_id bias, int axis, double eps, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    kiln_named_attr a = kiln_a_float("eps", eps);
    kiln_op op = rms ? KILN_OP_RMS_NORM : KILN_OP_LAYER_NORM;
    kiln_dtype dt = ox_dtype(c, x);
    if (scale != OX_NONE && ox_dtype(c, scale) != dt) KILN_TRY(ox_cast(c, scale, dt, &scale));
    if (bias != OX_NONE && ox_dtype(c, bias) != dt) KILN_TRY(ox_cast(c, bias, dt, &bias));
    if (axis == s.rank - 1 && is_vector_of(c, scale, s.dims[axis]) && is_vector_of(c, bias, s.dims[axis])) {
        ox_id ins[3] = {x, scale, bias};
        return ox_op(c, op, rms ? 2 : 3, ins, 1, &a, out);
    }
    kiln_dim flat[KILN_MAX_RANK];
    for (int i = 0; i < axis; i++) flat[i] = s.dims[i];
    flat[axis] = tail_size(c, &s, axis);
    if (flat[axis] == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
    ox_id y;
    KILN_TRY(ox_reshape(c, x, axis + 1, flat, &y));
    ox_id none[3] = {y, OX_NONE, OX_NONE};
    KILN_TRY(ox_op(c, op, 1, none, 1, &a, &y));
    KILN_TRY(ox_reshape(c, y, s.rank, s.dims, &y));
    if (scale != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_MUL, y, scale, &y));
    if (bias != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_ADD, y, bias, &y));
    *out = y;
    return KILN_OK;
}

OX_CONV(conv_layer_norm) {
    OX_REQ(x, 0);
    int rank = ox_rank(c, x), axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", -1), rank, "axis", &axis));
    double eps = ox_attr_f(n, "epsilon", 1e-5);
    int rms = is_op(n, "RMSNormalization");
    ox_id scale = ox_in(in, nin, 1), bias = rms ? OX_NONE : ox_in(in, nin, 2);
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs a floating-point input");
    KILN_TRY(normalize(c, rms, x, scale, bias, axis, eps, &out[0]));
    if (rms || (!wants(n, nout, 1) && !wants(n, nout, 2))) return KILN_OK;
    /* Mean and InvStdDev outputs: statistics over the normalized dims */
    int64_t axes[KILN_MAX_RANK];
    for (int i = axis; i < rank; i++) axes[i - axis] = i;
    ox_id mean, d, var;
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MEAN, x, rank - axis, axes, 1, &mean));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, x, mean, &d));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, d, d, &d));
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MEAN, d, rank - axis, axes, 1, &var));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, var, eps, &var));
    if (nout > 1) out[1] = mean;
    if (nout > 2) KILN_TRY(ox_unary(c, KILN_OP_RSQRT, var, &out[2]));
    return KILN_OK;
}

/* [C] parameters as [C, 1, ...] to broadcast over NC... */
static kiln_status per_channel(ox_ctx *c, ox_id p, int rank, ox_id *out) {
    kiln_dim d[KILN_MAX_RANK];
    if (ox_rank(c, p) != 1) return ox_invalid(c, "per-channel parameters must be 1-D");
    d[0] = OV(c, p)->shape.dims[0];
    for (int i = 1; i < rank - 1; i++) d[i] = 1;
    return ox_reshape(c, p, rank - 1, d, out);
}

/* (x - mean) / sqrt(var + eps) * scale + bias, parameters per channel */
static kiln_status affine_norm(ox_ctx *c, ox_id x, ox_id mean, ox_id var, double eps, ox_id scale, ox_id bias, ox_id *out) {
    ox_id y, den;
    KILN_TRY(ox_binary(c, KILN_OP_SUB, x, mean, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, var, eps, &den));
    KILN_TRY(ox_unary(c, KILN_OP_SQRT, den, &den));
    KILN_TRY(ox_binary(c, KILN_OP_DIV, y, den, &y));
    if (scale != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_MUL, y, scale, &y));
    if (bias != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_ADD, y, bias, &y));
    *out = y;
    return KILN_OK;
}

OX_CONV(conv_batch_norm) {
    OX_REQ(x, 0);
    OX_REQ(scale, 1);
    OX_REQ(bias, 2);
    OX_REQ(mean, 3);
    OX_REQ(var, 4);
    int rank = ox_rank(c, x);
    if (rank < 2) return ox_invalid(c, "needs rank >= 2");
    int training = c->opset >= 14 ? ox_attr_i(n, "training_mode", 0) != 0 : c->opset < 7 ? !ox_attr_i(n, "is_test", 0) : nout > 1;
    kiln_dtype dt = ox_dtype(c, x);
    ox_id p[4] = {scale, bias, mean, var};
    for (int i = 0; i < 4; i++) {
        KILN_TRY(ox_cast(c, p[i], dt, &p[i]));
        KILN_TRY(per_channel(c, p[i], rank, &p[i]));
    }
    double eps = ox_attr_f(n, "epsilon", 1e-5);
    if (!training) return affine_norm(c, x, p[2], p[3], eps, p[0], p[1], &out[0]);
    /* training: normalise by the batch statistics (population variance over
     * every axis but 1) and blend them into the running ones by momentum */
    if (c->opset < 14) return ox_unsupported(c, "training mode before opset 14");
    int64_t axes[KILN_MAX_RANK];
    int na = 0;
    for (int i = 0; i < rank; i++)
        if (i != 1) axes[na++] = i;
    ox_id bm, bv, d;
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MEAN, x, na, axes, 1, &bm));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, x, bm, &d));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, d, d, &d));
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MEAN, d, na, axes, 1, &bv));
    KILN_TRY(affine_norm(c, x, bm, bv, eps, p[0], p[1], &out[0]));
    double mom = ox_attr_f(n, "momentum", 0.9);
    ox_id stats[2] = {mean, var}, batch[2] = {bm, bv};
    for (int i = 0; i < 2 && i + 1 < nout; i++) {
        ox_id run, cur;
        kiln_dim cdim = OV(c, stats[i])->shape.dims[0];
        KILN_TRY(ox_cast(c, stats[i], dt, &run));
        KILN_TRY(ox_reshape(c, batch[i], 1, &cdim, &cur));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, run, mom, &run));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, cur, 1 - mom, &cur));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, run, cur, &out[i + 1]));
    }
    return KILN_OK;
}

/* mean and population variance over `axes` (kept) */
static kiln_status moments(ox_ctx *c, ox_id x, int naxes, const int64_t *axes, ox_id *mean, ox_id *var) {
    ox_id d;
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MEAN, x, naxes, axes, 1, mean));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, x, *mean, &d));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, d, d, &d));
    return ox_reduce(c, KILN_OP_REDUCE_MEAN, d, naxes, axes, 1, var);
}

OX_CONV(conv_instance_norm) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(scale, 1);
    OX_REQ(bias, 2);
    int rank = ox_rank(c, x);
    if (rank < 3) return ox_invalid(c, "needs rank >= 3");
    int64_t axes[KILN_MAX_RANK];
    for (int i = 2; i < rank; i++) axes[i - 2] = i;
    ox_id mean, var;
    KILN_TRY(moments(c, x, rank - 2, axes, &mean, &var));
    KILN_TRY(per_channel(c, scale, rank, &scale));
    KILN_TRY(per_channel(c, bias, rank, &bias));
    return affine_norm(c, x, mean, var, ox_attr_f(n, "epsilon", 1e-5), scale, bias, &out[0]);
}

/* GroupNormalization: statistics over each group of C/G channels and the
 * spatial dims; scale and bias per channel (opset 21) or per group (18). */
OX_CONV(conv_group_norm) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(scale, 1);
    OX_REQ(bias, 2);
    kiln_shape s = OV(c, x)->shape;
    int64_t G = ox_attr_i(n, "num_groups", 0);
    if (s.rank < 3 || G <= 0 || !kiln_dim_is_const(s.dims[1]) || s.dims[1] % G)
        return ox_invalid(c, "channels must divide into num_groups");
    int64_t C = s.dims[1];
    kiln_dim g3[3] = {s.dims[0], G, kiln_dim_mul(c->g, C / G, tail_size(c, &s, 2))};
    if (g3[2] == KILN_DIM_INVALID) return ox_unsupported(c, "shape too complex");
    ox_id y, mean, var;
    int64_t ax = 2;
    KILN_TRY(ox_reshape(c, x, 3, g3, &y));
    KILN_TRY(moments(c, y, 1, &ax, &mean, &var));
    KILN_TRY(affine_norm(c, y, mean, var, ox_attr_f(n, "epsilon", 1e-5), OX_NONE, OX_NONE, &y));
    KILN_TRY(ox_reshape(c, y, s.rank, s.dims, &y));
    kiln_dim pc = OV(c, scale)->shape.dims[0];
    if (ox_rank(c, scale) == 1 && pc == G && G != C) { /* per group: repeat each C/G times */
        kiln_dim d2[2] = {G, 1}, e2[2] = {G, C / G}, flat = C;
        ox_id p[2] = {scale, bias};
        for (int i = 0; i < 2; i++) {
            KILN_TRY(ox_reshape(c, p[i], 2, d2, &p[i]));
            KILN_TRY(ox_expand(c, p[i], 2, e2, &p[i]));
            KILN_TRY(ox_reshape(c, p[i], 1, &flat, &p[i]));
        }
        scale = p[0];
        bias = p[1];
    }
    KILN_TRY(per_channel(c, scale, s.rank, &scale));
    KILN_TRY(per_channel(c, bias, s.rank, &bias));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, y, scale, &y));
    return ox_binary(c, KILN_OP_ADD, y, bias, &out[0]);
}

OX_CONV(conv_lp_norm) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    int axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", -1), ox_rank(c, x), "axis", &axis));
    int64_t p = ox_attr_i(n, "p", 2), ax = axis;
    ox_id norm;
    if (p == 1) KILN_TRY(ox_unary(c, KILN_OP_ABS, x, &norm));
    else if (p == 2) KILN_TRY(ox_binary(c, KILN_OP_MUL, x, x, &norm));
    else return ox_invalid(c, "p must be 1 or 2");
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, norm, 1, &ax, 1, &norm));
    if (p == 2) KILN_TRY(ox_unary(c, KILN_OP_SQRT, norm, &norm));
    ox_id y, zero, is0; /* a zero norm gives 0, not 0/0 */
    KILN_TRY(ox_binary(c, KILN_OP_DIV, x, norm, &y));
    KILN_TRY(ox_like(c, x, 0, &zero));
    KILN_TRY(ox_binary(c, KILN_OP_EQ, norm, zero, &is0));
    return ox_where(c, is0, zero, y, &out[0]);
}

/* (x - mean) / std over `axes` (default N, H, W) */
OX_CONV(conv_mvn) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    int64_t axes[KILN_MAX_RANK] = {0, 2, 3};
    int na = 3;
    const int64_t *list;
    int k = ox_attr_ints(n, "axes", &list);
    if (k > KILN_MAX_RANK) return ox_invalid(c, "too many axes");
    if (k >= 0) {
        na = k;
        for (int i = 0; i < k; i++) axes[i] = list[i] < 0 ? list[i] + rank : list[i];
    }
    ox_id mean, var, y, sd;
    KILN_TRY(moments(c, x, na, axes, &mean, &var));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, x, mean, &y));
    KILN_TRY(ox_unary(c, KILN_OP_SQRT, var, &sd));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, sd, 1e-9, &sd));
    return ox_binary(c, KILN_OP_DIV, y, sd, &out[0]);
}

OX_CONV(conv_global_pool) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    if (rank < 3) return ox_invalid(c, "needs rank >= 3");
    int64_t axes[KILN_MAX_RANK];
    for (int i = 2; i < rank; i++) axes[i - 2] = i;
    return ox_reduce(c, is_op(n, "GlobalMaxPool") ? KILN_OP_REDUCE_MAX : KILN_OP_REDUCE_MEAN, x, rank - 2, axes, 1,
                     &out[0]);
}

/* ---- scans and top-k ------------------------------------------------------------------- */
OX_CONV(conv_cumulative) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(ax, 1);
    int64_t a;
    if (ox_const_ints(c, ax, &a, 1) != 1) return ox_unsupported(c, "axis computed at run time");
    int axis;
    KILN_TRY(ox_axis(c, a, ox_rank(c, x), "axis", &axis));
    kiln_named_attr at[3] = {kiln_a_int("axis", axis), kiln_a_bool("exclusive", (int)ox_attr_i(n, "exclusive", 0)),
                             kiln_a_bool("reverse", (int)ox_attr_i(n, "reverse", 0))};
    return ox_op(c, is_op(n, "CumSum") ? KILN_OP_CUMSUM : KILN_OP_CUMPROD, 1, &x, 3, at, &out[0]);
}

OX_CONV(conv_topk) {
    (void)nout;
    OX_REQ(x, 0);
    int64_t k = ox_attr_i(n, "k", -1);
    if (c->opset >= 10) {
        OX_REQ(kin, 1);
        if (ox_const_ints(c, kin, &k, 1) != 1) return ox_unsupported(c, "K computed at run time");
    }
    int axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", -1), ox_rank(c, x), "axis", &axis));
    kiln_dim len = OV(c, x)->shape.dims[axis];
    if (k < 0 || (kiln_dim_is_const(len) && k > len) || k > (INT64_C(1) << 40))
        return ox_invalid(c, "K %lld is out of range for the axis", (long long)k);
    kiln_named_attr a[3] = {kiln_a_dim("k", k), kiln_a_int("axis", axis),
                            kiln_a_bool("largest", (int)ox_attr_i(n, "largest", 1))};
    ox_id idx, pair[2];
    KILN_TRY(ox_op(c, KILN_OP_TOPK, 1, &x, 3, a, &idx));
    pair[0] = x;
    pair[1] = idx;
    kiln_named_attr ga = kiln_a_int("axis", axis);
    KILN_TRY(ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &ga, &out[0]));
    if (nout > 1) out[1] = idx;
    return KILN_OK;
}

/* ---- losses ------------------------------------------------------------------------------ */
/* NegativeLogLikelihoodLoss on x [N, C, d...] (log-probabilities) and
 * target [N, d...]: -x[n, target, d...], weighted, ignoring ignore_index. */
static kiln_status nll(ox_ctx *c, const onnx_node *n, ox_id x, ox_id target, ox_id weight, ox_id *out) {
    if (ox_rank(c, x) < 2) return ox_invalid(c, "input needs rank >= 2");
    const char *red = ox_attr_s(n, "reduction", "mean");
    int has_ii = ox_has_attr(n, "ignore_index");
    int64_t ii = ox_attr_i(n, "ignore_index", 0);
    ox_id t, ign = OX_NONE, zero_i, g, loss, w = OX_NONE, zero;
    KILN_TRY(ox_cast(c, target, KILN_I64, &t));
    if (has_ii) {
        KILN_TRY(ox_binary_s(c, KILN_OP_EQ, t, (double)ii, &ign));
        KILN_TRY(ox_like(c, t, 0, &zero_i));
        KILN_TRY(ox_where(c, ign, zero_i, t, &t));
    }
    int64_t one = 1;
    ox_id t1, pair[2];
    KILN_TRY(ox_unsqueeze(c, t, 1, &one, &t1));
    pair[0] = x;
    pair[1] = t1;
    kiln_named_attr ga = kiln_a_int("axis", 1);
    KILN_TRY(ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &ga, &g));
    KILN_TRY(ox_squeeze(c, g, 1, &one, &g));
    KILN_TRY(ox_unary(c, KILN_OP_NEG, g, &loss));
    KILN_TRY(ox_like(c, x, 0, &zero));
    if (weight != OX_NONE) KILN_TRY(ox_gather(c, weight, t, 0, &w));
    else if (has_ii) {
        kiln_shape ts = OV(c, t)->shape;
        ox_id onev;
        KILN_TRY(ox_like(c, x, 1, &onev));
        KILN_TRY(ox_expand(c, onev, ts.rank, ts.dims, &w));
    }
    if (ign != OX_NONE) {
        KILN_TRY(ox_where(c, ign, zero, loss, &loss));
        KILN_TRY(ox_where(c, ign, zero, w, &w));
    }
    if (w != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_MUL, loss, w, &loss));
    int rank = ox_rank(c, loss);
    int64_t axes[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) axes[i] = i;
    if (strcmp(red, "none") == 0) {
        *out = loss;
        return KILN_OK;
    }
    if (strcmp(red, "sum") == 0) return ox_reduce(c, KILN_OP_REDUCE_SUM, loss, rank, axes, 0, out);
    if (strcmp(red, "mean") != 0) return ox_invalid(c, "unknown reduction '%s'", red);
    if (w == OX_NONE) return ox_reduce(c, KILN_OP_REDUCE_MEAN, loss, rank, axes, 0, out);
    ox_id sl, sw;
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, loss, rank, axes, 0, &sl));
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, w, rank, axes, 0, &sw));
    return ox_binary(c, KILN_OP_DIV, sl, sw, out);
}

OX_CONV(conv_nll) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(t, 1);
    return nll(c, n, x, t, ox_in(in, nin, 2), &out[0]);
}

OX_CONV(conv_sce) {
    OX_REQ(x, 0);
    OX_REQ(t, 1);
    if (ox_rank(c, x) < 2) return ox_invalid(c, "input needs rank >= 2");
    kiln_named_attr a = kiln_a_int("axis", 1);
    ox_id lp;
    KILN_TRY(ox_op(c, KILN_OP_LOG_SOFTMAX, 1, &x, 1, &a, &lp));
    KILN_TRY(nll(c, n, lp, t, ox_in(in, nin, 2), &out[0]));
    if (nout > 1) out[1] = lp;
    return KILN_OK;
}


const ox_converter ox_nn_ops[] = {
    {"MatMul", conv_matmul},
    {"Gemm", conv_gemm},
    {"Softmax", conv_softmax},
    {"LogSoftmax", conv_softmax},
    {"Hardmax", conv_softmax},
    {"LayerNormalization", conv_layer_norm},
    {"RMSNormalization", conv_layer_norm},
    {"BatchNormalization", conv_batch_norm},
    {"InstanceNormalization", conv_instance_norm},
    {"GroupNormalization", conv_group_norm},
    {"LpNormalization", conv_lp_norm},
    {"MeanVarianceNormalization", conv_mvn},
    {"GlobalAveragePool", conv_global_pool},
    {"GlobalMaxPool", conv_global_pool},
    {"CumSum", conv_cumulative},
    {"CumProd", conv_cumulative},
    {"TopK", conv_topk},
    {"NegativeLogLikelihoodLoss", conv_nll},
    {"SoftmaxCrossEntropyLoss", conv_sce},
    {NULL, NULL},
};
