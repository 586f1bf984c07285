/* RNN, GRU and LSTM unrolled over a constant sequence length: the input
 * projection X W^T + Wb is one matmul for all steps, then each step adds
 * H R^T + Rb and applies the gate equations of the ONNX operator
 * documentation (gate order: GRU z, r, h; LSTM i, o, f, c). Directions
 * forward, reverse and bidirectional; layout 0 and 1; clip; the listed
 * activation functions; sequence_lens masks finished steps (forward only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

typedef struct act {
    char name[24];
    double alpha, beta;
} act;

static kiln_status apply_act(ox_ctx *c, const act *a, ox_id x, ox_id *out) {
    ox_id y, t;
    const char *n = a->name;
    if (!strcmp(n, "Sigmoid")) return ox_unary(c, KILN_OP_SIGMOID, x, out);
    if (!strcmp(n, "Tanh")) return ox_unary(c, KILN_OP_TANH, x, out);
    if (!strcmp(n, "Relu")) return ox_unary(c, KILN_OP_RELU, x, out);
    if (!strcmp(n, "Affine")) {
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, a->alpha, &y));
        return ox_binary_s(c, KILN_OP_ADD, y, a->beta, out);
    }
    if (!strcmp(n, "LeakyRelu")) {
        ox_id neg;
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, a->alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_LT, x, 0, &neg));
        return ox_where(c, neg, y, x, out);
    }
    if (!strcmp(n, "ThresholdedRelu")) {
        ox_id gt, zero;
        KILN_TRY(ox_binary_s(c, KILN_OP_GT, x, a->alpha, &gt));
        KILN_TRY(ox_like(c, x, 0, &zero));
        return ox_where(c, gt, x, zero, out);
    }
    if (!strcmp(n, "ScaledTanh")) {
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, a->beta, &y));
        KILN_TRY(ox_unary(c, KILN_OP_TANH, y, &y));
        return ox_binary_s(c, KILN_OP_MUL, y, a->alpha, out);
    }
    if (!strcmp(n, "HardSigmoid")) {
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, a->alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, y, a->beta, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MIN, y, 1, &y));
        return ox_binary_s(c, KILN_OP_MAX, y, 0, out);
    }
    if (!strcmp(n, "Elu")) {
        ox_id neg;
        KILN_TRY(ox_unary(c, KILN_OP_EXP, x, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, 1, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, y, a->alpha, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_LT, x, 0, &neg));
        return ox_where(c, neg, y, x, out);
    }
    if (!strcmp(n, "Softsign")) {
        KILN_TRY(ox_unary(c, KILN_OP_ABS, x, &t));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, t, 1, &t));
        return ox_binary(c, KILN_OP_DIV, x, t, out);
    }
    if (!strcmp(n, "Softplus")) {
        KILN_TRY(ox_unary(c, KILN_OP_EXP, x, &t));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, t, 1, &t));
        return ox_unary(c, KILN_OP_LOG, t, out);
    }
    return ox_unsupported(c, "activation '%s'", n);
}

/* clip(x) then the activation */
static kiln_status gate(ox_ctx *c, const act *a, double clip, ox_id x, ox_id *out) {
    if (clip > 0) {
        KILN_TRY(ox_binary_s(c, KILN_OP_MAX, x, -clip, &x));
        KILN_TRY(ox_binary_s(c, KILN_OP_MIN, x, clip, &x));
    }
    return apply_act(c, a, x, out);
}

/* columns [k*H, (k+1)*H) of x's last axis */
static kiln_status part(ox_ctx *c, ox_id x, int k, int64_t H, ox_id *out) {
    return ox_slice(c, x, ox_rank(c, x) - 1, k * H, (k + 1) * H, 1, out);
}

enum { K_RNN, K_GRU, K_LSTM };

OX_CONV(conv_rnn) {
    int kind = !strcmp(n->op_type, "GRU") ? K_GRU : !strcmp(n->op_type, "LSTM") ? K_LSTM : K_RNN;
    int G = kind == K_RNN ? 1 : kind == K_GRU ? 3 : 4, nacts = kind == K_RNN ? 1 : kind == K_GRU ? 2 : 3;
    OX_REQ(X, 0);
    OX_REQ(W, 1);
    OX_REQ(R, 2);
    ox_id B = ox_in(in, nin, 3), lens = ox_in(in, nin, 4), h0 = ox_in(in, nin, 5);
    ox_id c0 = kind == K_LSTM ? ox_in(in, nin, 6) : OX_NONE, P = kind == K_LSTM ? ox_in(in, nin, 7) : OX_NONE;
    int64_t H = ox_attr_i(n, "hidden_size", 0);
    int layout = (int)ox_attr_i(n, "layout", 0);
    double clip = ox_attr_f(n, "clip", 0);
    const char *dir = ox_attr_s(n, "direction", "forward");
    int ndir = !strcmp(dir, "bidirectional") ? 2 : 1, reverse_only = !strcmp(dir, "reverse");
    if (ndir == 1 && strcmp(dir, "forward") && strcmp(dir, "reverse")) return ox_invalid(c, "direction '%s'", dir);
    if (kind == K_LSTM && ox_attr_i(n, "input_forget", 0)) return ox_unsupported(c, "input_forget");
    if (!kiln_dtype_is_float(ox_dtype(c, X)) || ox_rank(c, X) != 3) return ox_invalid(c, "X must be a 3-D float tensor");
    if (layout) { /* [batch, seq, in] -> [seq, batch, in] */
        int64_t perm[3] = {1, 0, 2};
        KILN_TRY(ox_transpose(c, X, 3, perm, &X));
    }
    kiln_shape xs = OV(c, X)->shape;
    if (!kiln_dim_is_const(xs.dims[0])) return ox_unsupported(c, "a symbolic sequence length");
    int64_t T = xs.dims[0];
    if (T > 4096) return ox_unsupported(c, "unrolling %lld steps", (long long)T);
    kiln_dim batch = xs.dims[1];
    if (H <= 0) H = OV(c, R)->shape.dims[2];
    if (!kiln_dim_is_const(H) || H <= 0 || H > OX_MAX_DIM) return ox_invalid(c, "hidden_size");
    /* activations: defaults per op, or the attribute's list per direction */
    act acts[6];
    static const char *dflt[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    const onnx_attr *aa = onnx_node_attr(n, "activations"), *al = onnx_node_attr(n, "activation_alpha"),
                    *ab = onnx_node_attr(n, "activation_beta");
    if (aa && (int)aa->n_strings != nacts * ndir) return ox_invalid(c, "%zu activations, expected %d", aa->n_strings, nacts * ndir);
    for (int i = 0; i < nacts * ndir; i++) {
        const char *nm = aa ? aa->strings[i] : dflt[kind][i % nacts];
        snprintf(acts[i].name, sizeof acts[i].name, "%s", nm);
        /* defaults from the ONNX operator docs */
        acts[i].alpha = !strcmp(nm, "LeakyRelu") ? 0.01 : !strcmp(nm, "HardSigmoid") ? 0.2 : 1.0;
        acts[i].beta = !strcmp(nm, "HardSigmoid") ? 0.5 : !strcmp(nm, "Affine") ? 0 : 1.0;
        if (al && (size_t)i < al->n_floats) acts[i].alpha = al->floats[i];
        if (ab && (size_t)i < ab->n_floats) acts[i].beta = ab->floats[i];
    }
    int lbr = kind == K_GRU && ox_attr_i(n, "linear_before_reset", 0);
    ox_id ys[2], yh[2], yc[2];
    int64_t perm_t[2] = {1, 0};
    for (int d = 0; d < ndir; d++) {
        int backward = reverse_only || d == 1;
        ox_id Wd, Rd, Wt, Rt, xw, rb = OX_NONE, h, cst = OX_NONE, pi = OX_NONE, po = OX_NONE, pf = OX_NONE;
        KILN_TRY(ox_slice(c, W, 0, d, d + 1, 1, &Wd));
        KILN_TRY(ox_slice(c, R, 0, d, d + 1, 1, &Rd));
        kiln_dim w2[2] = {G * H, OV(c, W)->shape.dims[2]}, r2[2] = {G * H, H};
        KILN_TRY(ox_reshape(c, Wd, 2, w2, &Wd));
        KILN_TRY(ox_reshape(c, Rd, 2, r2, &Rd));
        KILN_TRY(ox_transpose(c, Wd, 2, perm_t, &Wt));
        KILN_TRY(ox_transpose(c, Rd, 2, perm_t, &Rt));
        KILN_TRY(ox_matmul(c, X, Wt, &xw)); /* [T, batch, G*H] */
        if (B != OX_NONE) {
            ox_id bd, wb;
            kiln_dim b1 = 2 * G * H;
            KILN_TRY(ox_slice(c, B, 0, d, d + 1, 1, &bd));
            KILN_TRY(ox_reshape(c, bd, 1, &b1, &bd));
            KILN_TRY(ox_slice(c, bd, 0, 0, G * H, 1, &wb));
            KILN_TRY(ox_slice(c, bd, 0, G * H, 2 * G * H, 1, &rb));
            KILN_TRY(ox_binary(c, KILN_OP_ADD, xw, wb, &xw));
        }
        kiln_dim hs[2] = {batch, H};
        if (h0 != OX_NONE) {
            KILN_TRY(ox_slice(c, h0, 0, d, d + 1, 1, &h));
            KILN_TRY(ox_reshape(c, h, 2, hs, &h));
        } else {
            ox_id z;
            KILN_TRY(ox_like(c, X, 0, &z));
            KILN_TRY(ox_expand(c, z, 2, hs, &h));
        }
        if (kind == K_LSTM) {
            if (c0 != OX_NONE) {
                KILN_TRY(ox_slice(c, c0, 0, d, d + 1, 1, &cst));
                KILN_TRY(ox_reshape(c, cst, 2, hs, &cst));
            } else {
                ox_id z;
                KILN_TRY(ox_like(c, X, 0, &z));
                KILN_TRY(ox_expand(c, z, 2, hs, &cst));
            }
            if (P != OX_NONE) {
                ox_id pd;
                kiln_dim p1 = 3 * H;
                KILN_TRY(ox_slice(c, P, 0, d, d + 1, 1, &pd));
                KILN_TRY(ox_reshape(c, pd, 1, &p1, &pd));
                KILN_TRY(part(c, pd, 0, H, &pi));
                KILN_TRY(part(c, pd, 1, H, &po));
                KILN_TRY(part(c, pd, 2, H, &pf));
            }
        }
        ox_id lens_b = OX_NONE;
        if (lens != OX_NONE) {
            if (backward) return ox_unsupported(c, "sequence_lens with a reverse direction");
            kiln_dim b2[2] = {batch, 1};
            KILN_TRY(ox_cast(c, lens, KILN_I64, &lens_b));
            KILN_TRY(ox_reshape(c, lens_b, 2, b2, &lens_b));
        }
        const act *fa = &acts[d * nacts];
        ox_id *steps = malloc(sizeof(ox_id) * (size_t)T);
        if (!steps) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        kiln_status st = KILN_OK;
        for (int64_t s = 0; s < T && !st; s++) {
            int64_t t = backward ? T - 1 - s : s;
            ox_id xt, hr, g, hn, cn = OX_NONE;
            kiln_dim x2[2] = {batch, G * H};
            st = ox_slice(c, xw, 0, t, t + 1, 1, &xt);
            if (!st) st = ox_reshape(c, xt, 2, x2, &xt);
            if (!st) st = ox_matmul(c, h, Rt, &hr);
            if (!st && rb != OX_NONE) st = ox_binary(c, KILN_OP_ADD, hr, rb, &hr);
            if (st) break;
            if (kind == K_RNN) {
                st = ox_binary(c, KILN_OP_ADD, xt, hr, &g);
                if (!st) st = gate(c, &fa[0], clip, g, &hn);
            } else if (kind == K_GRU) {
                ox_id xz, xr, xh, hz, hrr, hh, z, r, hc, one;
                st = part(c, xt, 0, H, &xz);
                if (!st) st = part(c, xt, 1, H, &xr);
                if (!st) st = part(c, xt, 2, H, &xh);
                if (!st) st = part(c, hr, 0, H, &hz);
                if (!st) st = part(c, hr, 1, H, &hrr);
                if (!st) st = ox_binary(c, KILN_OP_ADD, xz, hz, &z);
                if (!st) st = gate(c, &fa[0], clip, z, &z);
                if (!st) st = ox_binary(c, KILN_OP_ADD, xr, hrr, &r);
                if (!st) st = gate(c, &fa[0], clip, r, &r);
                if (!st && lbr) { /* r * (H Rh^T + Rbh) */
                    st = part(c, hr, 2, H, &hh);
                    if (!st) st = ox_binary(c, KILN_OP_MUL, r, hh, &hh);
                } else if (!st) { /* (r * H) Rh^T + Rbh */
                    ox_id rh, Rh;
                    st = ox_binary(c, KILN_OP_MUL, r, h, &rh);
                    if (!st) st = part(c, Rt, 2, H, &Rh);
                    if (!st) st = ox_matmul(c, rh, Rh, &hh);
                    if (!st && rb != OX_NONE) {
                        ox_id rbh;
                        st = part(c, rb, 2, H, &rbh);
                        if (!st) st = ox_binary(c, KILN_OP_ADD, hh, rbh, &hh);
                    }
                }
                if (!st) st = ox_binary(c, KILN_OP_ADD, xh, hh, &hc);
                if (!st) st = gate(c, &fa[1], clip, hc, &hc);
                /* (1 - z) hc + z h */
                if (!st) st = ox_like(c, z, 1, &one);
                ox_id omz, a1, a2;
                if (!st) st = ox_binary(c, KILN_OP_SUB, one, z, &omz);
                if (!st) st = ox_binary(c, KILN_OP_MUL, omz, hc, &a1);
                if (!st) st = ox_binary(c, KILN_OP_MUL, z, h, &a2);
                if (!st) st = ox_binary(c, KILN_OP_ADD, a1, a2, &hn);
            } else {
                ox_id sum, gi, go, gf, gc, t1;
                st = ox_binary(c, KILN_OP_ADD, xt, hr, &sum);
                if (!st) st = part(c, sum, 0, H, &gi);
                if (!st) st = part(c, sum, 1, H, &go);
                if (!st) st = part(c, sum, 2, H, &gf);
                if (!st) st = part(c, sum, 3, H, &gc);
                if (!st && pi != OX_NONE) {
                    st = ox_binary(c, KILN_OP_MUL, pi, cst, &t1);
                    if (!st) st = ox_binary(c, KILN_OP_ADD, gi, t1, &gi);
                    if (!st) st = ox_binary(c, KILN_OP_MUL, pf, cst, &t1);
                    if (!st) st = ox_binary(c, KILN_OP_ADD, gf, t1, &gf);
                }
                if (!st) st = gate(c, &fa[0], clip, gi, &gi);
                if (!st) st = gate(c, &fa[0], clip, gf, &gf);
                if (!st) st = gate(c, &fa[1], clip, gc, &gc);
                ox_id a1, a2;
                if (!st) st = ox_binary(c, KILN_OP_MUL, gf, cst, &a1);
                if (!st) st = ox_binary(c, KILN_OP_MUL, gi, gc, &a2);
                if (!st) st = ox_binary(c, KILN_OP_ADD, a1, a2, &cn);
                if (!st && po != OX_NONE) {
                    st = ox_binary(c, KILN_OP_MUL, po, cn, &t1);
                    if (!st) st = ox_binary(c, KILN_OP_ADD, go, t1, &go);
                }
                if (!st) st = gate(c, &fa[0], clip, go, &go);
                ox_id hc;
                if (!st) st = apply_act(c, &fa[2], cn, &hc);
                if (!st) st = ox_binary(c, KILN_OP_MUL, go, hc, &hn);
            }
            if (!st && lens_b != OX_NONE) { /* finished sequences keep their state and output 0 */
                ox_id live, zero, yo;
                st = ox_binary_s(c, KILN_OP_GT, lens_b, (double)t, &live);
                if (!st) st = ox_like(c, hn, 0, &zero);
                if (!st) st = ox_where(c, live, hn, zero, &yo);
                if (!st) st = ox_where(c, live, hn, h, &hn);
                if (!st && cn != OX_NONE) st = ox_where(c, live, cn, cst, &cn);
                if (!st) steps[t] = yo;
            } else if (!st) {
                steps[t] = hn;
            }
            h = hn;
            if (cn != OX_NONE) cst = cn;
        }
        /* Y for this direction: [T, 1, batch, H] */
        if (!st) {
            int64_t ax[2] = {0, 1};
            for (int64_t t = 0; t < T && !st; t++) st = ox_unsqueeze(c, steps[t], 2, ax, &steps[t]);
            if (!st) st = ox_concat(c, (int)T, steps, 0, &ys[d]);
        }
        free(steps);
        KILN_TRY(st);
        int64_t zero_ax = 0;
        KILN_TRY(ox_unsqueeze(c, h, 1, &zero_ax, &yh[d]));
        if (kind == K_LSTM) KILN_TRY(ox_unsqueeze(c, cst, 1, &zero_ax, &yc[d]));
    }
    ox_id Y, Yh, Yc = OX_NONE;
    KILN_TRY(ox_concat(c, ndir, ys, 1, &Y));
    KILN_TRY(ox_concat(c, ndir, yh, 0, &Yh));
    if (kind == K_LSTM) KILN_TRY(ox_concat(c, ndir, yc, 0, &Yc));
    if (layout) { /* Y [batch, T, dirs, H]; states [batch, dirs, H] */
        int64_t py[4] = {2, 0, 1, 3}, ph[3] = {1, 0, 2};
        KILN_TRY(ox_transpose(c, Y, 4, py, &Y));
        KILN_TRY(ox_transpose(c, Yh, 3, ph, &Yh));
        if (Yc != OX_NONE) KILN_TRY(ox_transpose(c, Yc, 3, ph, &Yc));
    }
    if (nout > 0) out[0] = Y;
    if (nout > 1) out[1] = Yh;
    if (nout > 2) out[2] = Yc;
    return KILN_OK;
}

const ox_converter ox_rnn_ops[] = {
    {"RNN", conv_rnn},
    {"GRU", conv_rnn},
    {"LSTM", conv_rnn},
    {NULL, NULL},
};
