/* Integer quantization ops written with casts and arithmetic:
 *   DequantizeLinear   y = (x - zero_point) * scale         (in float32)
 *   QuantizeLinear     y = clamp(round_half_even(x / scale) + zero_point)
 *   DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul,
 *   QLinearConv built from those.
 * Scales and zero points are per tensor, per axis (1-D along `axis`) or
 * blocked (each entry repeated block_size times along `axis`). 8- and
 * 16-bit integer types; float8/int4 types are not kiln dtypes. */
#include <math.h>
#include <string.h>

#include "onnx_import.h"

/* scale or zero point made broadcastable to x's shape */
static kiln_status quant_param(ox_ctx *c, ox_id p, const kiln_shape *xs, int64_t raw_axis, int64_t block, ox_id *out) {
    kiln_shape ps = OV(c, p)->shape;
    int64_t numel = 1;
    for (int i = 0; i < ps.rank; i++) numel = kiln_dim_is_const(ps.dims[i]) ? numel * ps.dims[i] : -1;
    if (ps.rank == 0 || numel == 1) return ox_reshape(c, p, 0, NULL, out);
    int axis; /* only per-axis and blocked parameters use the axis */
    KILN_TRY(ox_axis(c, raw_axis, xs->rank, "axis", &axis));
    if (!block) {
        if (ps.rank != 1 || ps.dims[0] != xs->dims[axis]) return ox_invalid(c, "a per-axis parameter must be [%s]", "axis size");
        kiln_dim d[KILN_MAX_RANK];
        for (int i = 0; i < xs->rank; i++) d[i] = i == axis ? ps.dims[0] : 1;
        return ox_reshape(c, p, xs->rank, d, out);
    }
    /* blocked: repeat along axis, cut to x's size */
    if (ps.rank != xs->rank || !kiln_dim_is_const(ps.dims[axis]) || !kiln_dim_is_const(xs->dims[axis]))
        return ox_invalid(c, "a blocked parameter must have x's rank");
    if (block < 0 || block > OX_MAX_DIM) return ox_invalid(c, "block_size %lld", (long long)block);
    kiln_dim ins[KILN_MAX_RANK + 1], big[KILN_MAX_RANK + 1], merged[KILN_MAX_RANK];
    if (xs->rank + 1 > KILN_MAX_RANK) return ox_unsupported(c, "rank %d", xs->rank);
    for (int i = 0, j = 0; i < ps.rank; i++) {
        ins[j] = ps.dims[i];
        big[j++] = ps.dims[i];
        if (i == axis) {
            ins[j] = 1;
            big[j++] = block;
        }
        merged[i] = i == axis ? ps.dims[i] * block : ps.dims[i];
    }
    ox_id y;
    KILN_TRY(ox_reshape(c, p, ps.rank + 1, ins, &y));
    KILN_TRY(ox_expand(c, y, ps.rank + 1, big, &y));
    KILN_TRY(ox_reshape(c, y, ps.rank, merged, &y));
    if (merged[axis] < xs->dims[axis]) return ox_invalid(c, "blocks do not cover the axis");
    return ox_slice(c, y, axis, 0, xs->dims[axis], 1, out);
}

static void int_range(kiln_dtype t, double *lo, double *hi) {
    switch (t) {
    case KILN_U8: *lo = 0, *hi = 255; break;
    case KILN_I8: *lo = -128, *hi = 127; break;
    case KILN_U16: *lo = 0, *hi = 65535; break;
    case KILN_I16: *lo = -32768, *hi = 32767; break;
    case KILN_I32: *lo = -2147483648.0, *hi = 2147483647.0; break;
    case KILN_U32: *lo = 0, *hi = 4294967295.0; break;
    default: *lo = -9.2e18, *hi = 9.2e18; break;
    }
}

/* (x - zp) * scale, computed in float32, returned as `to` */
static kiln_status dequantize(ox_ctx *c, ox_id x, ox_id scale, ox_id zp, int64_t axis, int64_t block, kiln_dtype to, ox_id *out) {
    kiln_shape xs = OV(c, x)->shape;
    ox_id y, s;
    KILN_TRY(ox_cast(c, x, KILN_F32, &y));
    if (zp != OX_NONE) {
        ox_id z;
        KILN_TRY(quant_param(c, zp, &xs, axis, block, &z));
        KILN_TRY(ox_cast(c, z, KILN_F32, &z));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, y, z, &y));
    }
    KILN_TRY(quant_param(c, scale, &xs, axis, block, &s));
    KILN_TRY(ox_cast(c, s, KILN_F32, &s));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, y, s, &y));
    return ox_cast(c, y, to, out);
}

/* clamp(round(x / scale) + zp) as dtype `to` */
static kiln_status quantize(ox_ctx *c, ox_id x, ox_id scale, ox_id zp, int64_t axis, int64_t block, kiln_dtype to, ox_id *out) {
    if (!kiln_dtype_is_int(to)) return ox_unsupported(c, "quantizing to %s", kiln_dtype_name(to));
    kiln_shape xs = OV(c, x)->shape;
    ox_id s, y;
    KILN_TRY(quant_param(c, scale, &xs, axis, block, &s));
    KILN_TRY(ox_cast(c, s, ox_dtype(c, x), &s));
    KILN_TRY(ox_binary(c, KILN_OP_DIV, x, s, &y));
    KILN_TRY(ox_unary(c, KILN_OP_ROUND, y, &y));
    KILN_TRY(ox_cast(c, y, KILN_F64, &y));
    if (zp != OX_NONE) {
        ox_id z;
        KILN_TRY(quant_param(c, zp, &xs, axis, block, &z));
        KILN_TRY(ox_cast(c, z, KILN_F64, &z));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, y, z, &y));
    }
    double lo, hi;
    int_range(to, &lo, &hi);
    KILN_TRY(ox_binary_s(c, KILN_OP_MAX, y, lo, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_MIN, y, hi, &y));
    return ox_cast(c, y, to, out);
}

static kiln_status out_dtype(const onnx_node *n, kiln_dtype dflt, kiln_dtype *out) {
    *out = dflt;
    if (ox_has_attr(n, "output_dtype") && ox_attr_i(n, "output_dtype", 0) != 0)
        return onnx_to_kiln_dtype((int)ox_attr_i(n, "output_dtype", 0), out);
    return KILN_OK;
}

OX_CONV(conv_dequantize) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(scale, 1);
    int64_t axis = ox_attr_i(n, "axis", 1);
    kiln_dtype to;
    KILN_TRY(out_dtype(n, ox_dtype(c, scale), &to));
    if (!kiln_dtype_is_int(ox_dtype(c, x))) return ox_unsupported(c, "dequantizing %s", kiln_dtype_name(ox_dtype(c, x)));
    return dequantize(c, x, scale, ox_in(in, nin, 2), axis, ox_attr_i(n, "block_size", 0), to, &out[0]);
}

OX_CONV(conv_quantize) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(scale, 1);
    ox_id zp = ox_in(in, nin, 2);
    int64_t axis = ox_attr_i(n, "axis", 1);
    kiln_dtype to;
    KILN_TRY(out_dtype(n, zp != OX_NONE ? ox_dtype(c, zp) : KILN_U8, &to));
    if (ox_has_attr(n, "precision") && ox_attr_i(n, "precision", 0))
        return ox_unsupported(c, "the precision attribute");
    return quantize(c, x, scale, zp, axis, ox_attr_i(n, "block_size", 0), to, &out[0]);
}

/* DynamicQuantizeLinear(x) -> uint8 y, scale, zero point over [min(x, 0), max(x, 0)] */
OX_CONV(conv_dynamic_quantize) {
    (void)n;
    (void)nin;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x);
    int64_t axes[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) axes[i] = i;
    ox_id mn, mx, scale, zp, zpq, y;
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MIN, x, rank, axes, 0, &mn));
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MAX, x, rank, axes, 0, &mx));
    KILN_TRY(ox_binary_s(c, KILN_OP_MIN, mn, 0, &mn));
    KILN_TRY(ox_binary_s(c, KILN_OP_MAX, mx, 0, &mx));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, mx, mn, &scale));
    KILN_TRY(ox_binary_s(c, KILN_OP_DIV, scale, 255, &scale));
    /* zero point: clamp(round(-min / scale), 0, 255) */
    KILN_TRY(ox_unary(c, KILN_OP_NEG, mn, &zp));
    KILN_TRY(ox_binary(c, KILN_OP_DIV, zp, scale, &zp));
    KILN_TRY(ox_unary(c, KILN_OP_ROUND, zp, &zp));
    KILN_TRY(ox_binary_s(c, KILN_OP_MAX, zp, 0, &zp));
    KILN_TRY(ox_binary_s(c, KILN_OP_MIN, zp, 255, &zp));
    KILN_TRY(ox_cast(c, zp, KILN_U8, &zpq));
    KILN_TRY(quantize(c, x, scale, zpq, 0, 0, KILN_U8, &y));
    out[0] = y;
    if (nout > 1) out[1] = scale;
    if (nout > 2) out[2] = zpq;
    return KILN_OK;
}

/* x - zp in int32; a [M] zero point of a matrix's rows needs [M, 1] */
static kiln_status minus_zp(ox_ctx *c, ox_id x, ox_id zp, int row_zp, ox_id *out) {
    KILN_TRY(ox_cast(c, x, KILN_I32, &x));
    if (zp == OX_NONE) {
        *out = x;
        return KILN_OK;
    }
    KILN_TRY(ox_cast(c, zp, KILN_I32, &zp));
    kiln_shape zs = OV(c, zp)->shape;
    if (row_zp && zs.rank == 1 && zs.dims[0] != 1) {
        kiln_dim d[2] = {zs.dims[0], 1};
        KILN_TRY(ox_reshape(c, zp, 2, d, &zp));
    }
    return ox_binary(c, KILN_OP_SUB, x, zp, out);
}

OX_CONV(conv_matmul_integer) {
    (void)n;
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(b, 1);
    ox_id ai, bi;
    KILN_TRY(minus_zp(c, a, ox_in(in, nin, 2), 1, &ai));
    KILN_TRY(minus_zp(c, b, ox_in(in, nin, 3), 0, &bi));
    return ox_matmul(c, ai, bi, &out[0]);
}

/* QLinearMatMul: quantize(dequantize(a) @ dequantize(b)) */
OX_CONV(conv_qlinear_matmul) {
    (void)n;
    (void)nout;
    OX_REQ(a, 0);
    OX_REQ(as, 1);
    OX_REQ(az, 2);
    OX_REQ(b, 3);
    OX_REQ(bs, 4);
    OX_REQ(bz, 5);
    OX_REQ(ys, 6);
    ox_id yz = ox_in(in, nin, 7), af, bf, y;
    KILN_TRY(dequantize(c, a, as, az, ox_rank(c, a) - 2, 0, KILN_F32, &af));
    KILN_TRY(dequantize(c, b, bs, bz, ox_rank(c, b) - 1, 0, KILN_F32, &bf));
    KILN_TRY(ox_matmul(c, af, bf, &y));
    return quantize(c, y, ys, yz, ox_rank(c, y) - 1, 0, yz != OX_NONE ? ox_dtype(c, yz) : KILN_U8, &out[0]);
}

/* ConvInteger: int32 convolution of zero-point-shifted inputs */
OX_CONV(conv_conv_integer) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(w, 1);
    ox_id xi, wi, wz = ox_in(in, nin, 3);
    KILN_TRY(minus_zp(c, x, ox_in(in, nin, 2), 0, &xi));
    KILN_TRY(ox_cast(c, w, KILN_I32, &wi));
    if (wz != OX_NONE) { /* per output channel: [M] -> [M, 1, ...] */
        ox_id z;
        kiln_shape ws = OV(c, w)->shape, zs = OV(c, wz)->shape;
        KILN_TRY(ox_cast(c, wz, KILN_I32, &z));
        if (zs.rank == 1 && zs.dims[0] != 1) {
            kiln_dim d[KILN_MAX_RANK];
            d[0] = zs.dims[0];
            for (int i = 1; i < ws.rank; i++) d[i] = 1;
            KILN_TRY(ox_reshape(c, z, ws.rank, d, &z));
        }
        KILN_TRY(ox_binary(c, KILN_OP_SUB, wi, z, &wi));
    }
    return ox_conv_apply(c, n, xi, wi, &out[0]);
}

/* QLinearConv: quantize(conv(dequantize(x), dequantize(w)) + bias * x_scale * w_scale) */
OX_CONV(conv_qlinear_conv) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(xs, 1);
    OX_REQ(xz, 2);
    OX_REQ(w, 3);
    OX_REQ(ws, 4);
    OX_REQ(wz, 5);
    OX_REQ(ys, 6);
    ox_id yz = ox_in(in, nin, 7), bias = ox_in(in, nin, 8), xf, wf, y;
    KILN_TRY(dequantize(c, x, xs, xz, 1, 0, KILN_F32, &xf));
    KILN_TRY(dequantize(c, w, ws, wz, 0, 0, KILN_F32, &wf));
    KILN_TRY(ox_conv_apply(c, n, xf, wf, &y));
    if (bias != OX_NONE) { /* int32 bias in units of x_scale * w_scale */
        ox_id bf, sc, wsr;
        kiln_shape bs = OV(c, bias)->shape;
        KILN_TRY(ox_cast(c, bias, KILN_F32, &bf));
        KILN_TRY(ox_cast(c, xs, KILN_F32, &sc));
        KILN_TRY(ox_cast(c, ws, KILN_F32, &wsr));
        KILN_TRY(ox_reshape(c, sc, 0, NULL, &sc));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, bf, sc, &bf));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, bf, wsr, &bf));
        int rank = ox_rank(c, y);
        kiln_dim d[KILN_MAX_RANK];
        d[0] = bs.dims[0];
        for (int i = 1; i < rank - 1; i++) d[i] = 1;
        KILN_TRY(ox_reshape(c, bf, rank - 1, d, &bf));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, y, bf, &y));
    }
    return quantize(c, y, ys, yz, 1, 0, yz != OX_NONE ? ox_dtype(c, yz) : KILN_U8, &out[0]);
}

const ox_converter ox_quant_ops[] = {
    {"DequantizeLinear", conv_dequantize},
    {"QuantizeLinear", conv_quantize},
    {"DynamicQuantizeLinear", conv_dynamic_quantize},
    {"MatMulInteger", conv_matmul_integer},
    {"QLinearMatMul", conv_qlinear_matmul},
    {"ConvInteger", conv_conv_integer},
    {"QLinearConv", conv_qlinear_conv},
    {NULL, NULL},
};
