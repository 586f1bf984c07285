/* Attention (opsets 23/24) and RotaryEmbedding (23), following the ONNX
 * reference semantics:
 *  - 3-D Q/K/V [B, S, H*D] are split into heads with q_num_heads and
 *    kv_num_heads; the result goes back to [B, S, H*Dv];
 *  - past_key/past_value are concatenated in front of K/V (and returned as
 *    present_key/present_value);
 *  - is_causal masks key j for query i unless j <= i + offset, with offset
 *    the past length (or nonpad_kv_seqlen[b] - S); nonpad_kv_seqlen also
 *    masks keys j >= nonpad_kv_seqlen[b]; an attn_mask shorter than the
 *    keys is padded with "masked";
 *  - a query row with every key masked gives zeros.
 * The IR's attention op covers these when there is no softcap and the
 * intermediate scores are not requested; otherwise the computation is
 * spelled out with matmul and softmax. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

static int wants(const onnx_node *n, int nout, int i) { return i < nout && n->outputs[i][0]; }

/* [B, S, H*D] -> [B, H, S, D] */
static kiln_status split_heads(ox_ctx *c, ox_id x, int64_t heads, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    if (heads <= 0) return ox_invalid(c, "3-D inputs need q_num_heads and kv_num_heads");
    kiln_dim d;
    kiln_status st = kiln_dim_div(c->g, s.dims[2], heads, &d);
    if (st) {
        kiln_status_free(st);
        return ox_invalid(c, "hidden size does not divide into %lld heads", (long long)heads);
    }
    kiln_dim d4[4] = {s.dims[0], s.dims[1], heads, d};
    int64_t perm[4] = {0, 2, 1, 3};
    KILN_TRY(ox_reshape(c, x, 4, d4, &x));
    return ox_transpose(c, x, 4, perm, out);
}

/* where(ok, 0, -inf) in dtype dt */
static kiln_status bias_from_bool(ox_ctx *c, ox_id ok, kiln_dtype dt, ox_id *out) {
    ox_id zero, ninf;
    KILN_TRY(ox_scalar(c, dt, 0, &zero));
    KILN_TRY(ox_scalar(c, dt, -INFINITY, &ninf));
    return ox_where(c, ok, zero, ninf, out);
}

static kiln_status add_bias(ox_ctx *c, ox_id *bias, ox_id b) {
    if (*bias == OX_NONE) {
        *bias = b;
        return KILN_OK;
    }
    return ox_binary(c, KILN_OP_ADD, *bias, b, bias);
}

OX_CONV(conv_attention) {
    OX_REQ(q, 0);
    OX_REQ(k, 1);
    OX_REQ(v, 2);
    ox_id mask = ox_in(in, nin, 3), past_k = ox_in(in, nin, 4), past_v = ox_in(in, nin, 5), nonpad = ox_in(in, nin, 6);
    if (ox_attr_i(n, "left_window_size", -1) >= 0 || ox_attr_i(n, "right_window_size", -1) >= 0)
        return ox_unsupported(c, "sliding-window attention");
    if ((past_k == OX_NONE) != (past_v == OX_NONE)) return ox_invalid(c, "past_key and past_value go together");
    kiln_dtype dt = ox_dtype(c, q);
    if (!kiln_dtype_is_float(dt)) return ox_invalid(c, "needs floating-point Q, K, V");
    int three_d = ox_rank(c, q) == 3;
    if (three_d) {
        int64_t hq = ox_attr_i(n, "q_num_heads", 0), hk = ox_attr_i(n, "kv_num_heads", 0);
        KILN_TRY(split_heads(c, q, hq, &q));
        KILN_TRY(split_heads(c, k, hk, &k));
        KILN_TRY(split_heads(c, v, hk, &v));
    } else if (ox_rank(c, q) != 4 || ox_rank(c, k) != 4 || ox_rank(c, v) != 4) {
        return ox_invalid(c, "Q, K, V must all be 3-D or 4-D");
    }
    int64_t past_len = 0;
    if (past_k != OX_NONE) {
        kiln_dim pl = OV(c, past_k)->shape.dims[2];
        ox_id pk[2] = {past_k, k}, pv[2] = {past_v, v};
        KILN_TRY(ox_concat(c, 2, pk, 2, &k));
        KILN_TRY(ox_concat(c, 2, pv, 2, &v));
        if (!kiln_dim_is_const(pl)) past_len = -1;
        else past_len = pl;
    }
    if (nout > 1) out[1] = k;
    if (nout > 2) out[2] = v;
    kiln_shape qs = OV(c, q)->shape, ks = OV(c, k)->shape;
    kiln_dim S = qs.dims[2], T = ks.dims[2], D = qs.dims[3];
    double scale;
    if (ox_has_attr(n, "scale")) scale = ox_attr_f(n, "scale", 1.0);
    else {
        if (!kiln_dim_is_const(D)) return ox_unsupported(c, "a symbolic head size");
        scale = 1.0 / sqrt((double)D);
    }
    double softcap = ox_attr_f(n, "softcap", 0.0);
    int causal = (int)ox_attr_i(n, "is_causal", 0), mode = (int)ox_attr_i(n, "qk_matmul_output_mode", 0);
    if (nonpad != OX_NONE && past_k != OX_NONE) return ox_invalid(c, "nonpad_kv_seqlen with a past cache");

    /* the mask: bool or additive, padded with "masked" up to T keys */
    ox_id bias = OX_NONE, bool_mask = OX_NONE;
    if (mask != OX_NONE) {
        kiln_shape ms = OV(c, mask)->shape;
        if (ms.rank < 1) return ox_invalid(c, "attn_mask must have rank >= 1");
        kiln_dim mt = ms.dims[ms.rank - 1];
        if (mt != T) {
            kiln_dim pad = kiln_dim_sub(c->g, T, mt);
            if (!kiln_dim_is_const(pad) || pad < 0) return ox_invalid(c, "attn_mask is longer than the keys");
            ox_id fill, parts[2];
            KILN_TRY(ox_scalar(c, ox_dtype(c, mask), ox_dtype(c, mask) == KILN_BOOL ? 0 : -INFINITY, &fill));
            ms.dims[ms.rank - 1] = pad;
            KILN_TRY(ox_expand(c, fill, ms.rank, ms.dims, &parts[1]));
            parts[0] = mask;
            KILN_TRY(ox_concat(c, 2, parts, ms.rank - 1, &mask));
        }
        if (ox_dtype(c, mask) == KILN_BOOL) bool_mask = mask;
        else KILN_TRY(ox_cast(c, mask, dt, &bias));
    }
    /* The IR op's causal flag aligns queries to the last S keys: right
     * when the offset is the past length and K adds exactly S keys. */
    int ir_causal = causal && nonpad == OX_NONE && past_len >= 0 && kiln_dim_sub(c->g, T, S) == past_len;
    if (causal && !ir_causal) {
        if (past_len < 0) return ox_unsupported(c, "causal attention with a symbolic past length");
        kiln_dim rs[2] = {S, 1}, cs[2] = {1, T};
        ox_id row, col, lim, ok;
        KILN_TRY(ox_iota(c, 2, rs, 0, 0, &row));
        KILN_TRY(ox_iota(c, 2, cs, 1, 0, &col));
        if (nonpad != OX_NONE) { /* per batch: offset = nonpad[b] - S */
            ox_id np;
            kiln_dim b4[4] = {OV(c, nonpad)->shape.dims[0], 1, 1, 1};
            KILN_TRY(ox_cast(c, nonpad, KILN_I64, &np));
            KILN_TRY(ox_reshape(c, np, 4, b4, &np));
            ox_id sdim;
            KILN_TRY(ox_from_dims(c, KILN_I64, 0, NULL, &S, &sdim));
            KILN_TRY(ox_binary(c, KILN_OP_SUB, np, sdim, &np));
            KILN_TRY(ox_binary(c, KILN_OP_ADD, row, np, &lim));
        } else {
            KILN_TRY(ox_binary_s(c, KILN_OP_ADD, row, (double)past_len, &lim));
        }
        KILN_TRY(ox_binary(c, KILN_OP_LE, col, lim, &ok));
        if (bool_mask != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_AND, bool_mask, ok, &bool_mask));
        else if (bias != OX_NONE) {
            ox_id cb;
            KILN_TRY(bias_from_bool(c, ok, dt, &cb));
            KILN_TRY(add_bias(c, &bias, cb));
        } else {
            bool_mask = ok;
        }
    }
    if (nonpad != OX_NONE) { /* keys j >= nonpad[b] are padding */
        kiln_dim b4[4] = {OV(c, nonpad)->shape.dims[0], 1, 1, 1}, cs[4] = {1, 1, 1, T};
        ox_id np, col, ok;
        KILN_TRY(ox_cast(c, nonpad, KILN_I64, &np));
        KILN_TRY(ox_reshape(c, np, 4, b4, &np));
        KILN_TRY(ox_iota(c, 4, cs, 3, 0, &col));
        KILN_TRY(ox_binary(c, KILN_OP_LT, col, np, &ok));
        if (bool_mask != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_AND, bool_mask, ok, &bool_mask));
        else if (bias != OX_NONE) {
            ox_id pb;
            KILN_TRY(bias_from_bool(c, ok, dt, &pb));
            KILN_TRY(add_bias(c, &bias, pb));
        } else {
            bool_mask = ok;
        }
    }
    if (bool_mask != OX_NONE && bias != OX_NONE) {
        ox_id bb;
        KILN_TRY(bias_from_bool(c, bool_mask, dt, &bb));
        KILN_TRY(add_bias(c, &bias, bb));
        bool_mask = OX_NONE;
    }
    ox_id m = bias != OX_NONE ? bias : bool_mask;
    int want_qk = wants(n, nout, 3);
    ox_id y;
    if (softcap <= 0 && !want_qk) {
        ox_id ins[4] = {q, k, v, m};
        kiln_named_attr a[2] = {kiln_a_bool("causal", ir_causal), kiln_a_float("scale", scale)};
        KILN_TRY(ox_op(c, KILN_OP_ATTENTION, m != OX_NONE ? 4 : 3, ins, 2, a, &y));
    } else {
        /* spelled out: scores, softcap, mask, softmax, fully-masked rows */
        kiln_dim H = qs.dims[1], Hk = ks.dims[1];
        if (H != Hk) { /* grouped query heads: repeat each kv head */
            kiln_dim r;
            kiln_status st = kiln_dim_div(c->g, H, Hk, &r);
            if (st) {
                kiln_status_free(st);
                return ox_invalid(c, "q heads are not a multiple of kv heads");
            }
            ox_id kv[2] = {k, v};
            for (int i = 0; i < 2; i++) {
                kiln_shape s = OV(c, kv[i])->shape;
                kiln_dim d5[5] = {s.dims[0], Hk, 1, s.dims[2], s.dims[3]}, e5[5] = {s.dims[0], Hk, r, s.dims[2], s.dims[3]};
                kiln_dim d4[4] = {s.dims[0], H, s.dims[2], s.dims[3]};
                KILN_TRY(ox_reshape(c, kv[i], 5, d5, &kv[i]));
                KILN_TRY(ox_expand(c, kv[i], 5, e5, &kv[i]));
                KILN_TRY(ox_reshape(c, kv[i], 4, d4, &kv[i]));
            }
            k = kv[0];
            v = kv[1];
        }
        int64_t perm[4] = {0, 1, 3, 2};
        ox_id kt, sc, qk_out;
        KILN_TRY(ox_transpose(c, k, 4, perm, &kt));
        KILN_TRY(ox_matmul(c, q, kt, &sc));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, sc, scale, &sc));
        if (softcap > 0) {
            KILN_TRY(ox_binary_s(c, KILN_OP_DIV, sc, softcap, &sc));
            KILN_TRY(ox_unary(c, KILN_OP_TANH, sc, &sc));
            KILN_TRY(ox_binary_s(c, KILN_OP_MUL, sc, softcap, &sc));
        }
        qk_out = sc;
        ox_id full_bias = OX_NONE;
        if (ir_causal) { /* the IR op would have applied it */
            kiln_dim rs[2] = {S, 1}, cs[2] = {1, T};
            ox_id row, col, ok;
            KILN_TRY(ox_iota(c, 2, rs, 0, 0, &row));
            KILN_TRY(ox_iota(c, 2, cs, 1, 0, &col));
            KILN_TRY(ox_binary_s(c, KILN_OP_ADD, row, (double)past_len, &row));
            KILN_TRY(ox_binary(c, KILN_OP_LE, col, row, &ok));
            KILN_TRY(bias_from_bool(c, ok, dt, &full_bias));
        }
        if (m != OX_NONE) {
            ox_id mb = m;
            if (ox_dtype(c, m) == KILN_BOOL) KILN_TRY(bias_from_bool(c, m, dt, &mb));
            KILN_TRY(add_bias(c, &full_bias, mb));
        }
        if (full_bias != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_ADD, sc, full_bias, &sc));
        if (mode == 2) qk_out = sc;
        kiln_named_attr sa = kiln_a_int("axis", -1);
        ox_id p;
        KILN_TRY(ox_op(c, KILN_OP_SOFTMAX, 1, &sc, 1, &sa, &p));
        if (full_bias != OX_NONE) { /* rows whose every key is masked give 0 */
            int64_t last = -1;
            ox_id mx, dead, zero;
            KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MAX, full_bias, 1, &last, 1, &mx));
            KILN_TRY(ox_binary_s(c, KILN_OP_EQ, mx, -INFINITY, &dead));
            KILN_TRY(ox_like(c, p, 0, &zero));
            KILN_TRY(ox_where(c, dead, zero, p, &p));
        }
        if (mode == 3) qk_out = p;
        if (mode < 0 || mode > 3) return ox_invalid(c, "qk_matmul_output_mode %d", mode);
        KILN_TRY(ox_matmul(c, p, v, &y));
        if (want_qk) out[3] = qk_out;
    }
    if (three_d) { /* [B, H, S, Dv] -> [B, S, H*Dv] */
        kiln_shape ys = OV(c, y)->shape;
        int64_t perm[4] = {0, 2, 1, 3};
        kiln_dim hd = kiln_dim_mul(c->g, ys.dims[1], ys.dims[3]);
        kiln_dim d3[3] = {ys.dims[0], ys.dims[2], hd};
        KILN_TRY(ox_transpose(c, y, 4, perm, &y));
        KILN_TRY(ox_reshape(c, y, 3, d3, &y));
    }
    out[0] = y;
    return KILN_OK;
}

/* RotaryEmbedding(x, cos_cache, sin_cache, position_ids?): x is
 * [B, H, S, D] or [B, S, H*D]; the caches are [max_pos, R/2] gathered by
 * position_ids, or [B, S, R/2] already. Pairs (i, i + R/2), or (2i, 2i+1)
 * when interleaved, rotate by the cached angle; dims >= R pass through. */
OX_CONV(conv_rotary) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(cosc, 1);
    OX_REQ(sinc, 2);
    ox_id pos = ox_in(in, nin, 3);
    int interleaved = (int)ox_attr_i(n, "interleaved", 0);
    int64_t R = ox_attr_i(n, "rotary_embedding_dim", 0), heads = ox_attr_i(n, "num_heads", 0);
    kiln_shape xs = OV(c, x)->shape;
    ox_id y = x; /* as [B, S, H, D] */
    if (xs.rank == 4) {
        int64_t perm[4] = {0, 2, 1, 3};
        KILN_TRY(ox_transpose(c, x, 4, perm, &y));
    } else if (xs.rank == 3) {
        if (heads <= 0) return ox_invalid(c, "3-D input needs num_heads");
        kiln_dim d;
        kiln_status st = kiln_dim_div(c->g, xs.dims[2], heads, &d);
        if (st) {
            kiln_status_free(st);
            return ox_invalid(c, "hidden size does not divide into num_heads");
        }
        kiln_dim d4[4] = {xs.dims[0], xs.dims[1], heads, d};
        KILN_TRY(ox_reshape(c, x, 4, d4, &y));
    } else {
        return ox_invalid(c, "input must be 3-D or 4-D");
    }
    kiln_shape ys = OV(c, y)->shape;
    kiln_dim D = ys.dims[3];
    if (!kiln_dim_is_const(D)) return ox_unsupported(c, "a symbolic head size");
    if (R == 0) R = D;
    if (R % 2 || R > D) return ox_invalid(c, "rotary_embedding_dim %lld", (long long)R);
    int64_t half = R / 2;
    if (pos != OX_NONE) {
        KILN_TRY(ox_gather(c, cosc, pos, 0, &cosc));
        KILN_TRY(ox_gather(c, sinc, pos, 0, &sinc));
    }
    if (ox_rank(c, cosc) != 3 || OV(c, cosc)->shape.dims[2] != half)
        return ox_invalid(c, "the caches must be [batch, seq, %lld]", (long long)half);
    int64_t two = 2;
    KILN_TRY(ox_unsqueeze(c, cosc, 1, &two, &cosc)); /* [B, S, 1, R/2] */
    KILN_TRY(ox_unsqueeze(c, sinc, 1, &two, &sinc));
    ox_id rot, pass = OX_NONE, x1, x2;
    KILN_TRY(ox_slice(c, y, 3, 0, R, 1, &rot));
    if (R < D) KILN_TRY(ox_slice(c, y, 3, R, D, 1, &pass));
    if (interleaved) {
        KILN_TRY(ox_slice(c, rot, 3, 0, R, 2, &x1));
        KILN_TRY(ox_slice(c, rot, 3, 1, R, 2, &x2));
    } else {
        KILN_TRY(ox_slice(c, rot, 3, 0, half, 1, &x1));
        KILN_TRY(ox_slice(c, rot, 3, half, R, 1, &x2));
    }
    ox_id a, b, re, im;
    KILN_TRY(ox_binary(c, KILN_OP_MUL, cosc, x1, &a));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, sinc, x2, &b));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, a, b, &re));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, sinc, x1, &a));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, cosc, x2, &b));
    KILN_TRY(ox_binary(c, KILN_OP_ADD, a, b, &im));
    ox_id parts[2];
    if (interleaved) { /* [..., half, 2] -> [..., R] */
        int64_t last = 4;
        KILN_TRY(ox_unsqueeze(c, re, 1, &last, &parts[0]));
        KILN_TRY(ox_unsqueeze(c, im, 1, &last, &parts[1]));
        KILN_TRY(ox_concat(c, 2, parts, 4, &rot));
        kiln_dim d4[4] = {ys.dims[0], ys.dims[1], ys.dims[2], R};
        KILN_TRY(ox_reshape(c, rot, 4, d4, &rot));
    } else {
        parts[0] = re;
        parts[1] = im;
        KILN_TRY(ox_concat(c, 2, parts, 3, &rot));
    }
    if (pass != OX_NONE) {
        parts[0] = rot;
        parts[1] = pass;
        KILN_TRY(ox_concat(c, 2, parts, 3, &rot));
    }
    if (xs.rank == 4) {
        int64_t perm[4] = {0, 2, 1, 3};
        return ox_transpose(c, rot, 4, perm, &out[0]);
    }
    return ox_reshape(c, rot, 3, xs.dims, &out[0]);
}

/* LinearAttention (opset 27): a recurrent state S [B, Hkv, dk, dv] updated
 * per time step, unrolled over the constant sequence length:
 *   gated:  S *= exp(decay_t)
 *   delta:  v_t = beta_t (v_t - k_t S)
 *   S += k_t^T v_t;  out_t = scale q_t S (kv heads repeated for GQA)
 * computed in float32 like the reference. */
static kiln_status heads4(ox_ctx *c, ox_id x, int64_t heads, ox_id *out) {
    KILN_TRY(ox_cast(c, x, KILN_F32, &x));
    return split_heads(c, x, heads, out);
}

OX_CONV(conv_linear_attention) {
    OX_REQ(q, 0);
    OX_REQ(k, 1);
    OX_REQ(v, 2);
    ox_id past = ox_in(in, nin, 3), decay = ox_in(in, nin, 4), beta = ox_in(in, nin, 5);
    const char *rule = ox_attr_s(n, "update_rule", "gated_delta");
    int gating = !strcmp(rule, "gated") || !strcmp(rule, "gated_delta");
    int delta = !strcmp(rule, "delta") || !strcmp(rule, "gated_delta");
    if (!gating && !delta && strcmp(rule, "linear")) return ox_invalid(c, "unknown update_rule '%s'", rule);
    if (gating != (decay != OX_NONE) || delta != (beta != OX_NONE))
        return ox_invalid(c, "update_rule '%s' does not match the decay and beta inputs", rule);
    int64_t hq = ox_attr_i(n, "q_num_heads", 0), hk = ox_attr_i(n, "kv_num_heads", 0);
    if (hq <= 0 || hk <= 0 || hq % hk) return ox_invalid(c, "q_num_heads must be a positive multiple of kv_num_heads");
    kiln_dtype out_dt = ox_dtype(c, q);
    if (ox_rank(c, q) != 3 || ox_rank(c, k) != 3 || ox_rank(c, v) != 3) return ox_invalid(c, "query, key, value must be rank 3");
    kiln_shape qs = OV(c, q)->shape;
    if (!kiln_dim_is_const(qs.dims[1])) return ox_unsupported(c, "a symbolic sequence length");
    int64_t T = qs.dims[1];
    if (T > 4096) return ox_unsupported(c, "unrolling %lld steps", (long long)T);
    ox_id q4, k4, v4;
    KILN_TRY(heads4(c, q, hq, &q4));
    KILN_TRY(heads4(c, k, hk, &k4));
    KILN_TRY(heads4(c, v, hk, &v4));
    kiln_shape k4s = OV(c, k4)->shape, v4s = OV(c, v4)->shape;
    kiln_dim B = k4s.dims[0], dk = k4s.dims[3], dv = v4s.dims[3];
    double scale = ox_attr_f(n, "scale", 0);
    if (scale == 0) {
        if (!kiln_dim_is_const(dk)) return ox_unsupported(c, "a symbolic head size");
        scale = 1.0 / sqrt((double)dk);
    }
    ox_id d4 = OX_NONE, b4 = OX_NONE, S;
    int64_t perm[4] = {0, 2, 1, 3};
    if (decay != OX_NONE) { /* [B, T, Hkv] -> [B, Hkv, T, 1], or [B, T, Hkv*dk] -> [B, Hkv, T, dk] */
        kiln_dim last = OV(c, decay)->shape.dims[2];
        if (last == hk) {
            kiln_dim r4[4] = {B, T, hk, 1};
            KILN_TRY(ox_cast(c, decay, KILN_F32, &d4));
            KILN_TRY(ox_reshape(c, d4, 4, r4, &d4));
            KILN_TRY(ox_transpose(c, d4, 4, perm, &d4));
        } else {
            KILN_TRY(heads4(c, decay, hk, &d4));
        }
    }
    if (beta != OX_NONE) { /* [B, T, Hkv or 1] -> [B, Hkv or 1, T, 1] */
        kiln_dim last = OV(c, beta)->shape.dims[2];
        kiln_dim r4[4] = {B, T, last, 1};
        KILN_TRY(ox_cast(c, beta, KILN_F32, &b4));
        KILN_TRY(ox_reshape(c, b4, 4, r4, &b4));
        KILN_TRY(ox_transpose(c, b4, 4, perm, &b4));
    }
    kiln_dim ss[4] = {B, hk, dk, dv};
    if (past != OX_NONE) KILN_TRY(ox_cast(c, past, KILN_F32, &S));
    else {
        ox_id z;
        KILN_TRY(ox_scalar(c, KILN_F32, 0, &z));
        KILN_TRY(ox_expand(c, z, 4, ss, &S));
    }
    ox_id *outs = malloc(sizeof(ox_id) * (size_t)(T ? T : 1));
    if (!outs) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    int64_t two = 2, three = 3;
    int64_t g = hq / hk;
    for (int64_t t = 0; t < T && !st; t++) {
        ox_id qt, vt, kcol, krow, outer, Sr, o;
        st = ox_slice(c, q4, 2, t, t + 1, 1, &qt);            /* [B, Hq, 1, dk] */
        if (!st) st = ox_slice(c, k4, 2, t, t + 1, 1, &krow); /* [B, Hkv, 1, dk] */
        if (!st) st = ox_slice(c, v4, 2, t, t + 1, 1, &vt);   /* [B, Hkv, 1, dv] */
        if (!st && d4 != OX_NONE) { /* S *= exp(decay_t) over dk (and dv) */
            ox_id dt;
            st = ox_slice(c, d4, 2, t, t + 1, 1, &dt); /* [B, Hkv, 1, 1 or dk] */
            if (!st) st = ox_unary(c, KILN_OP_EXP, dt, &dt);
            if (!st) st = ox_squeeze(c, dt, 1, &two, &dt);
            if (!st) st = ox_unsqueeze(c, dt, 1, &three, &dt); /* [B, Hkv, 1 or dk, 1] */
            if (!st) st = ox_binary(c, KILN_OP_MUL, S, dt, &S);
        }
        if (!st && b4 != OX_NONE) { /* v_t = beta_t (v_t - k_t S) */
            ox_id ret, bt;
            st = ox_matmul(c, krow, S, &ret); /* [B, Hkv, 1, dv] */
            if (!st) st = ox_binary(c, KILN_OP_SUB, vt, ret, &vt);
            if (!st) st = ox_slice(c, b4, 2, t, t + 1, 1, &bt);
            if (!st) st = ox_binary(c, KILN_OP_MUL, bt, vt, &vt);
        }
        if (!st) { /* S += k_t^T v_t */
            int64_t p4[4] = {0, 1, 3, 2};
            st = ox_transpose(c, krow, 4, p4, &kcol); /* [B, Hkv, dk, 1] */
            if (!st) st = ox_matmul(c, kcol, vt, &outer);
            if (!st) st = ox_binary(c, KILN_OP_ADD, S, outer, &S);
        }
        Sr = S;
        if (!st && g > 1) { /* query head h reads kv head h / g */
            kiln_dim r5[5] = {B, hk, 1, dk, dv}, e5[5] = {B, hk, g, dk, dv}, r4[4] = {B, hq, dk, dv};
            st = ox_reshape(c, S, 5, r5, &Sr);
            if (!st) st = ox_expand(c, Sr, 5, e5, &Sr);
            if (!st) st = ox_reshape(c, Sr, 4, r4, &Sr);
        }
        if (!st) st = ox_matmul(c, qt, Sr, &o); /* [B, Hq, 1, dv] */
        if (!st) st = ox_binary_s(c, KILN_OP_MUL, o, scale, &outs[t]);
    }
    ox_id y = OX_NONE;
    if (!st) st = ox_concat(c, (int)T, outs, 2, &y); /* [B, Hq, T, dv] */
    free(outs);
    KILN_TRY(st);
    kiln_dim o3[3] = {B, T, kiln_dim_mul(c->g, hq, dv)};
    if (o3[2] == KILN_DIM_INVALID) return ox_unsupported(c, "shapes too complex");
    KILN_TRY(ox_transpose(c, y, 4, perm, &y));
    KILN_TRY(ox_reshape(c, y, 3, o3, &y));
    KILN_TRY(ox_cast(c, y, out_dt, &out[0]));
    if (nout > 1) KILN_TRY(ox_cast(c, S, past != OX_NONE ? ox_dtype(c, past) : out_dt, &out[1]));
    return KILN_OK;
}

/* FlexAttention (ai.onnx.preview): scores = scale Q K^T (kv heads repeated
 * for GQA), then the score_mod subgraph on the whole score tensor,
 * softmax over the keys, the prob_mod subgraph, and the product with V;
 * float16 computes in float32 like the reference. */
static kiln_status apply_mod(ox_ctx *c, const onnx_node *n, const char *name, ox_id *x) {
    const onnx_attr *a = onnx_node_attr(n, name);
    if (!a) return KILN_OK;
    if (!a->g) return ox_invalid(c, "attribute '%s' must be a graph", name);
    int mark = ox_scope_begin(c);
    kiln_status s = ox_inline_graph(c, a->g, 1, x, x, 1);
    ox_scope_end(c, mark);
    return s;
}

static kiln_status repeat_heads(ox_ctx *c, ox_id x, kiln_dim h, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    if (s.dims[1] == h) {
        *out = x;
        return KILN_OK;
    }
    kiln_dim r;
    kiln_status st = kiln_dim_div(c->g, h, s.dims[1], &r);
    if (st) {
        kiln_status_free(st);
        return ox_invalid(c, "q heads are not a multiple of kv heads");
    }
    kiln_dim d5[5] = {s.dims[0], s.dims[1], 1, s.dims[2], s.dims[3]}, e5[5] = {s.dims[0], s.dims[1], r, s.dims[2], s.dims[3]};
    kiln_dim d4[4] = {s.dims[0], h, s.dims[2], s.dims[3]};
    KILN_TRY(ox_reshape(c, x, 5, d5, &x));
    KILN_TRY(ox_expand(c, x, 5, e5, &x));
    return ox_reshape(c, x, 4, d4, out);
}

OX_CONV(conv_flex_attention) {
    (void)nin;
    (void)nout;
    OX_REQ(q, 0);
    OX_REQ(k, 1);
    OX_REQ(v, 2);
    if (ox_rank(c, q) != 4 || ox_rank(c, k) != 4 || ox_rank(c, v) != 4) return ox_invalid(c, "Q, K, V must be rank 4");
    kiln_dim E = OV(c, q)->shape.dims[3], H = OV(c, q)->shape.dims[1];
    double scale = ox_has_attr(n, "scale") ? ox_attr_f(n, "scale", 1) : -1;
    if (scale < 0) {
        if (!kiln_dim_is_const(E)) return ox_unsupported(c, "a symbolic head size");
        scale = 1.0 / sqrt((double)E);
    }
    kiln_dtype dt = ox_dtype(c, q), cd = dt == KILN_F16 || dt == KILN_BF16 ? KILN_F32 : dt;
    if (ox_has_attr(n, "softmax_precision")) KILN_TRY(onnx_to_kiln_dtype((int)ox_attr_i(n, "softmax_precision", 1), &cd));
    ox_id kt, sc, p, vv;
    int64_t perm[4] = {0, 1, 3, 2};
    KILN_TRY(repeat_heads(c, k, H, &k));
    KILN_TRY(repeat_heads(c, v, H, &v));
    KILN_TRY(ox_transpose(c, k, 4, perm, &kt));
    KILN_TRY(ox_matmul(c, q, kt, &sc));
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, sc, scale, &sc));
    KILN_TRY(ox_cast(c, sc, cd, &sc));
    KILN_TRY(apply_mod(c, n, "score_mod", &sc));
    kiln_named_attr sa = kiln_a_int("axis", -1);
    KILN_TRY(ox_op(c, KILN_OP_SOFTMAX, 1, &sc, 1, &sa, &p));
    KILN_TRY(apply_mod(c, n, "prob_mod", &p));
    KILN_TRY(ox_cast(c, v, ox_dtype(c, p), &vv));
    KILN_TRY(ox_matmul(c, p, vv, &p));
    return ox_cast(c, p, ox_dtype(c, v), &out[0]);
}

const ox_domain_converter ox_preview_ops[] = {
    {"ai.onnx.preview", "FlexAttention", conv_flex_attention},
    {NULL, NULL, NULL},
};

const ox_converter ox_more_ops[] = {
    {"LinearAttention", conv_linear_attention},
    {"Attention", conv_attention},
    {"RotaryEmbedding", conv_rotary},
    {NULL, NULL},
};
