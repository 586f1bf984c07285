/* DFT and STFT as matrix products: along the transformed axis, the real
 * and imaginary parts are multiplied by cosine and sine matrices built at
 * import time (the transform length is known), which covers dft_length
 * padding and truncation, one-sided spectra, the inverse transform and the
 * one-sided inverse (Hermitian reconstruction, numpy's irfft). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

enum { DFT_FORWARD, DFT_INVERSE, DFT_IRFFT };

static double dft_entry(int64_t r, int64_t col, int64_t L, int which) {
    /* which: 0 cos, 1 sin (forward: r = n, col = k; inverse: r = k, col = n) */
    double a = 2 * M_PI * (double)((r * col) % L) / (double)L;
    return which ? sin(a) : cos(a);
}

static kiln_status const_matrix(ox_ctx *c, kiln_dtype dt, int64_t rows, int64_t cols, int mode, int part, int64_t L,
                                int64_t valid_rows, ox_id *out) {
    kiln_tensor t;
    int64_t shape[2] = {rows, cols};
    KILN_TRY(kiln_tensor_alloc(&t, dt, 2, shape));
    for (int64_t r = 0; r < rows && r < valid_rows; r++)
        for (int64_t k = 0; k < cols; k++) {
            double v;
            if (mode == DFT_FORWARD) /* re: +cos, from im: +sin; im: -sin, from im: +cos */
                v = part == 0 ? dft_entry(r, k, L, 0) : part == 1 ? dft_entry(r, k, L, 1)
                  : part == 2 ? -dft_entry(r, k, L, 1) : dft_entry(r, k, L, 0);
            else if (mode == DFT_INVERSE)
                v = (part == 0 ? dft_entry(r, k, L, 0) : part == 1 ? -dft_entry(r, k, L, 1)
                   : part == 2 ? dft_entry(r, k, L, 1) : dft_entry(r, k, L, 0)) / (double)L;
            else { /* irfft: frequency r of the one-sided spectrum, weight 2 but at 0 and L/2 */
                double w = (r == 0 || (L % 2 == 0 && r == L / 2)) ? 1 : 2;
                v = w * (part == 0 ? dft_entry(r, k, L, 0) : -dft_entry(r, k, L, 1)) / (double)L;
            }
            kiln_store_f64(t.data, dt, (size_t)(r * cols + k), v);
        }
    return ox_from_tensor(c, &t, out);
}

/* x [..., N, c] (c = 1 real, 2 complex), transformed along `axis` (not the
 * last) to [..., K, 2] (or [..., L, 1] for irfft). */
static kiln_status dft(ox_ctx *c, ox_id x, int axis, int64_t L, int inverse, int onesided, ox_id *out) {
    kiln_shape s = OV(c, x)->shape;
    int rank = s.rank;
    if (rank < 2 || axis == rank - 1) return ox_invalid(c, "the transformed axis must not be the last (real/imaginary) axis");
    kiln_dim cdim = s.dims[rank - 1], N = s.dims[axis];
    if (!kiln_dim_is_const(N) || (cdim != 1 && cdim != 2)) return ox_unsupported(c, "a symbolic length or last dim not 1 or 2");
    if (L < 1 || L > (1 << 14) || N > (1 << 14)) return ox_unsupported(c, "a transform of length %lld over %lld samples", (long long)L, (long long)N);
    int mode = !inverse ? DFT_FORWARD : onesided ? DFT_IRFFT : DFT_INVERSE;
    int64_t K = mode == DFT_FORWARD && onesided ? L / 2 + 1 : L;
    int64_t valid = mode == DFT_IRFFT ? (N < L / 2 + 1 ? N : L / 2 + 1) : (N < L ? N : L);
    kiln_dtype dt = ox_dtype(c, x);
    /* move axis to the end of [..., N] */
    ox_id re, im = OX_NONE;
    int64_t last = rank - 1;
    KILN_TRY(ox_slice(c, x, rank - 1, 0, 1, 1, &re));
    KILN_TRY(ox_squeeze(c, re, 1, &last, &re));
    if (cdim == 2) {
        KILN_TRY(ox_slice(c, x, rank - 1, 1, 2, 1, &im));
        KILN_TRY(ox_squeeze(c, im, 1, &last, &im));
    }
    int r1 = rank - 1;
    int64_t perm[KILN_MAX_RANK], inv[KILN_MAX_RANK];
    for (int i = 0, k = 0; i < r1; i++)
        if (i != axis) perm[k++] = i;
    perm[r1 - 1] = axis;
    for (int i = 0; i < r1; i++) inv[perm[i]] = i;
    KILN_TRY(ox_transpose(c, re, r1, perm, &re));
    if (im != OX_NONE) KILN_TRY(ox_transpose(c, im, r1, perm, &im));
    ox_id parts[2];
    int nparts = mode == DFT_IRFFT ? 1 : 2;
    for (int p = 0; p < nparts; p++) {
        ox_id m_re, y;
        KILN_TRY(const_matrix(c, dt, N, K, mode, mode == DFT_IRFFT ? 0 : 2 * p, L, valid, &m_re));
        KILN_TRY(ox_matmul(c, re, m_re, &y));
        if (im != OX_NONE) {
            ox_id m_im, yi;
            KILN_TRY(const_matrix(c, dt, N, K, mode, mode == DFT_IRFFT ? 1 : 2 * p + 1, L, valid, &m_im));
            KILN_TRY(ox_matmul(c, im, m_im, &yi));
            KILN_TRY(ox_binary(c, KILN_OP_ADD, y, yi, &y));
        }
        KILN_TRY(ox_transpose(c, y, r1, inv, &y));
        KILN_TRY(ox_unsqueeze(c, y, 1, &last, &parts[p]));
    }
    return ox_concat(c, nparts, parts, rank - 1, out);
}

OX_CONV(conv_dft) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x), axis;
    int64_t a = c->opset >= 20 ? -2 : ox_attr_i(n, "axis", 1), L;
    if (c->opset >= 20 && ox_in(in, nin, 2) != OX_NONE && ox_const_ints(c, in[2], &a, 1) != 1)
        return ox_unsupported(c, "an axis computed at run time");
    KILN_TRY(ox_axis(c, a, rank, "axis", &axis));
    int inverse = (int)ox_attr_i(n, "inverse", 0), onesided = (int)ox_attr_i(n, "onesided", 0);
    kiln_dim N = OV(c, x)->shape.dims[axis];
    if (!kiln_dim_is_const(N)) return ox_unsupported(c, "a symbolic signal length");
    ox_id dl = ox_in(in, nin, 1);
    if (dl != OX_NONE) {
        if (ox_const_ints(c, dl, &L, 1) != 1) return ox_unsupported(c, "dft_length computed at run time");
    } else {
        L = inverse && onesided ? 2 * (N - 1) : N;
    }
    return dft(c, x, axis, L, inverse, onesided, &out[0]);
}

/* STFT(signal [B, len, 1 or 2], frame_step, window?, frame_length?) ->
 * [B, frames, K, 2]: windowed frames, each transformed. */
OX_CONV(conv_stft) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(stp, 1);
    ox_id win = ox_in(in, nin, 2), fl = ox_in(in, nin, 3);
    int64_t step, L = -1;
    if (ox_const_ints(c, stp, &step, 1) != 1 || step < 1) return ox_unsupported(c, "frame_step computed at run time");
    if (fl != OX_NONE && ox_const_ints(c, fl, &L, 1) != 1) return ox_unsupported(c, "frame_length computed at run time");
    if (win != OX_NONE) {
        kiln_dim wl = OV(c, win)->shape.dims[0];
        if (!kiln_dim_is_const(wl)) return ox_unsupported(c, "a symbolic window");
        if (L < 0) L = wl;
    }
    kiln_shape s = OV(c, x)->shape;
    if (s.rank != 3 || !kiln_dim_is_const(s.dims[1])) return ox_invalid(c, "signal must be [batch, length, 1 or 2]");
    if (L < 1 || L > s.dims[1]) return ox_invalid(c, "frame_length %lld", (long long)L);
    int64_t frames = (s.dims[1] - L) / step + 1;
    if (frames > 4096) return ox_unsupported(c, "%lld frames", (long long)frames);
    ox_id *fr = malloc(sizeof(ox_id) * (size_t)frames);
    if (!fr) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    int64_t one = 1;
    for (int64_t f = 0; f < frames && !st; f++) {
        st = ox_slice(c, x, 1, f * step, f * step + L, 1, &fr[f]);
        if (!st) st = ox_unsqueeze(c, fr[f], 1, &one, &fr[f]);
    }
    ox_id y = OX_NONE;
    if (!st) st = ox_concat(c, (int)frames, fr, 1, &y); /* [B, frames, L, c] */
    free(fr);
    KILN_TRY(st);
    if (win != OX_NONE) {
        ox_id w;
        kiln_dim wd[2] = {L, 1};
        KILN_TRY(ox_cast(c, win, ox_dtype(c, x), &w));
        KILN_TRY(ox_reshape(c, w, 2, wd, &w));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, y, w, &y));
    }
    return dft(c, y, 2, L, 0, (int)ox_attr_i(n, "onesided", 1), &out[0]);
}

const ox_converter ox_dft_ops[] = {
    {"DFT", conv_dft},
    {"STFT", conv_stft},
    {NULL, NULL},
};
