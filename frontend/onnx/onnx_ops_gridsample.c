/* GridSample: X [N, C, spatial...] sampled at grid [N, out..., nsp] (x
 * first, i.e. the last spatial dim). Following the ONNX reference: grid
 * values are denormalized per dim (align_corners), coordinates outside the
 * borders are clamped (border) or reflected (reflection); then nearest
 * (round half to even), linear (2 taps per dim) or cubic (4 taps, Keys
 * a = -0.75) interpolation reads pixels, out-of-range taps giving 0
 * (zeros), the clamped pixel (border) or the reflected one (reflection).
 * Each tap is a gather_elements from X flattened over its spatial dims. */
#include <math.h>
#include <string.h>

#include "onnx_import.h"

enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECT };

/* reflect x into [lo, hi] (the reference's repeated mirroring) */
static kiln_status reflect(ox_ctx *c, ox_id x, double lo, double hi, ox_id *out) {
    double rng = hi - lo;
    if (rng <= 0) return ox_binary_s(c, KILN_OP_MUL, x, 0, out); /* a single position */
    ox_id below, above, dxl, dxh, rl, rh, evl, evh, fl, fh, t;
    /* below lo: dx = lo - x, n = floor(dx / rng), r = dx - n rng -> even n: lo + r, odd: hi - r */
    KILN_TRY(ox_binary_s(c, KILN_OP_LT, x, lo, &below));
    KILN_TRY(ox_binary_s(c, KILN_OP_GT, x, hi, &above));
    KILN_TRY(ox_unary(c, KILN_OP_NEG, x, &dxl));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, dxl, lo, &dxl));
    KILN_TRY(ox_binary_s(c, KILN_OP_SUB, x, hi, &dxh));
    ox_id d[2] = {dxl, dxh}, nn[2], rr[2], ev[2];
    for (int i = 0; i < 2; i++) {
        KILN_TRY(ox_binary_s(c, KILN_OP_DIV, d[i], rng, &t));
        KILN_TRY(ox_unary(c, KILN_OP_FLOOR, t, &nn[i]));
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, nn[i], rng, &t));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, d[i], t, &rr[i]));
        KILN_TRY(ox_binary_s(c, KILN_OP_MOD, nn[i], 2, &t));
        KILN_TRY(ox_binary_s(c, KILN_OP_EQ, t, 0, &ev[i]));
    }
    rl = rr[0], rh = rr[1], evl = ev[0], evh = ev[1];
    ox_id lo_r, hi_r;
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, rl, lo, &lo_r)); /* lo + r */
    KILN_TRY(ox_unary(c, KILN_OP_NEG, rl, &hi_r));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, hi_r, hi, &hi_r)); /* hi - r */
    KILN_TRY(ox_where(c, evl, lo_r, hi_r, &fl));
    ox_id hi_r2, lo_r2;
    KILN_TRY(ox_unary(c, KILN_OP_NEG, rh, &hi_r2));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, hi_r2, hi, &hi_r2));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, rh, lo, &lo_r2));
    KILN_TRY(ox_where(c, evh, hi_r2, lo_r2, &fh));
    KILN_TRY(ox_where(c, above, fh, x, &t));
    return ox_where(c, below, fl, t, out);
}

/* cubic weights for tap k (0..3) at fractional t */
static kiln_status cubic_weight(ox_ctx *c, ox_id t, int k, ox_id *out) {
    const double A = -0.75;
    ox_id x, y, z;
    /* distances from the taps: 1 + t, t, 1 - t, 2 - t */
    if (k == 0) KILN_TRY(ox_binary_s(c, KILN_OP_ADD, t, 1, &x));
    else if (k == 1) x = t;
    else {
        KILN_TRY(ox_unary(c, KILN_OP_NEG, t, &x));
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, x, k == 2 ? 1 : 2, &x));
    }
    if (k == 1 || k == 2) { /* ((A + 2) x - (A + 3)) x x + 1 */
        KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, A + 2, &y));
        KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, A + 3, &y));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, y, x, &y));
        KILN_TRY(ox_binary(c, KILN_OP_MUL, y, x, &y));
        return ox_binary_s(c, KILN_OP_ADD, y, 1, out);
    }
    /* ((A x - 5 A) x + 8 A) x - 4 A */
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, x, A, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_SUB, y, 5 * A, &y));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, y, x, &y));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, y, 8 * A, &z));
    KILN_TRY(ox_binary(c, KILN_OP_MUL, z, x, &z));
    return ox_binary_s(c, KILN_OP_SUB, z, 4 * A, out);
}

OX_CONV(conv_grid_sample) {
    (void)nin;
    (void)nout;
    OX_REQ(X, 0);
    OX_REQ(grid, 1);
    kiln_shape xs = OV(c, X)->shape, gs = OV(c, grid)->shape;
    int nsp = xs.rank - 2;
    if (nsp < 1 || nsp > 3 || gs.rank != nsp + 2 || gs.dims[gs.rank - 1] != nsp)
        return ox_invalid(c, "X [N, C, spatial...] and grid [N, out..., %d] do not fit", nsp);
    for (int i = 1; i < xs.rank; i++)
        if (!kiln_dim_is_const(xs.dims[i])) return ox_unsupported(c, "symbolic channel or spatial dims");
    const char *mode = ox_attr_s(n, "mode", c->opset >= 20 ? "linear" : "bilinear");
    const char *pm = ox_attr_s(n, "padding_mode", "zeros");
    int ac = (int)ox_attr_i(n, "align_corners", 0);
    int interp = !strcmp(mode, "nearest") ? 0 : (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) ? 1
               : (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic")) ? 2 : -1;
    int pad = !strcmp(pm, "zeros") ? PAD_ZEROS : !strcmp(pm, "border") ? PAD_BORDER : !strcmp(pm, "reflection") ? PAD_REFLECT : -1;
    if (interp < 0 || pad < 0) return ox_invalid(c, "mode '%s' or padding_mode '%s'", mode, pm);
    kiln_dtype dt = ox_dtype(c, X);
    if (!kiln_dtype_is_float(dt)) return ox_invalid(c, "needs floating-point input");
    int64_t dims[3], S = 1;
    for (int i = 0; i < nsp; i++) S *= dims[i] = xs.dims[2 + i];
    /* coordinates per spatial dim d (grid component nsp-1-d), [N, P] */
    kiln_dim P = 1;
    for (int i = 1; i < gs.rank - 1; i++) P = kiln_dim_mul(c->g, P, gs.dims[i]);
    if (P == KILN_DIM_INVALID) return ox_unsupported(c, "shapes too complex");
    kiln_dim g3[3] = {gs.dims[0], P, nsp};
    ox_id gf, coord[3];
    KILN_TRY(ox_cast(c, grid, KILN_F64, &gf));
    KILN_TRY(ox_reshape(c, gf, 3, g3, &gf));
    for (int d = 0; d < nsp; d++) {
        ox_id v;
        int64_t two = 2;
        int comp = nsp - 1 - d;
        KILN_TRY(ox_slice(c, gf, 2, comp, comp + 1, 1, &v));
        KILN_TRY(ox_squeeze(c, v, 1, &two, &v));
        double L = (double)dims[d];
        /* align_corners: (v + 1) / 2 (L - 1); else ((v + 1) L - 1) / 2 */
        KILN_TRY(ox_binary_s(c, KILN_OP_ADD, v, 1, &v));
        if (ac) KILN_TRY(ox_binary_s(c, KILN_OP_MUL, v, (L - 1) / 2, &v));
        else {
            KILN_TRY(ox_binary_s(c, KILN_OP_MUL, v, L, &v));
            KILN_TRY(ox_binary_s(c, KILN_OP_SUB, v, 1, &v));
            KILN_TRY(ox_binary_s(c, KILN_OP_DIV, v, 2, &v));
        }
        if (interp == 0) KILN_TRY(ox_unary(c, KILN_OP_ROUND, v, &v));
        double lo = ac ? 0 : -0.5, hi = ac ? L - 1 : L - 0.5;
        if (pad == PAD_BORDER) { /* outside the borders: clamp to [0, L - 1] */
            KILN_TRY(ox_binary_s(c, KILN_OP_MAX, v, 0, &v));
            KILN_TRY(ox_binary_s(c, KILN_OP_MIN, v, L - 1, &v));
        } else if (pad == PAD_REFLECT) {
            ox_id out_lo, out_hi, any, r;
            KILN_TRY(ox_binary_s(c, KILN_OP_LT, v, lo, &out_lo));
            KILN_TRY(ox_binary_s(c, KILN_OP_GT, v, hi, &out_hi));
            KILN_TRY(ox_binary(c, KILN_OP_OR, out_lo, out_hi, &any));
            KILN_TRY(reflect(c, v, lo, hi, &r));
            KILN_TRY(ox_where(c, any, r, v, &v));
        }
        coord[d] = v;
    }
    /* taps per dim: nearest 1, linear 2, cubic 4 */
    int ntap = interp == 0 ? 1 : interp == 1 ? 2 : 4, total = 1;
    for (int d = 0; d < nsp; d++) total *= ntap;
    ox_id base[3], frac[3];
    for (int d = 0; d < nsp; d++) {
        KILN_TRY(ox_unary(c, KILN_OP_FLOOR, coord[d], &base[d]));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, coord[d], base[d], &frac[d]));
    }
    kiln_dim x3[3] = {xs.dims[0], xs.dims[1], S}, i3[3] = {gs.dims[0], 1, P}, e3[3] = {gs.dims[0], xs.dims[1], P};
    ox_id xflat, acc = OX_NONE;
    KILN_TRY(ox_reshape(c, X, 3, x3, &xflat));
    for (int tap = 0; tap < total; tap++) {
        int rem = tap;
        ox_id flat = OX_NONE, w = OX_NONE, valid = OX_NONE;
        for (int d = nsp - 1; d >= 0; d--) {
            int k = rem % ntap;
            rem /= ntap;
            ox_id idx, wd;
            /* tap position: nearest = the rounded coordinate; linear floor + k; cubic floor - 1 + k */
            if (interp == 0) idx = coord[d];
            else KILN_TRY(ox_binary_s(c, KILN_OP_ADD, base[d], interp == 1 ? k : k - 1, &idx));
            double L = (double)dims[d];
            if (pad == PAD_REFLECT) { /* the reflected pixel, as the reference: int(reflect(i)) */
                double lo = ac ? 0 : -0.5, hi = ac ? L - 1 : L - 0.5;
                ox_id r;
                KILN_TRY(reflect(c, idx, lo, hi, &r));
                KILN_TRY(ox_cast(c, r, KILN_I64, &r)); /* truncation toward zero */
                KILN_TRY(ox_cast(c, r, KILN_F64, &idx));
            }
            if (pad != PAD_ZEROS) { /* border (and any reflection rounding): clamp */
                KILN_TRY(ox_binary_s(c, KILN_OP_MAX, idx, 0, &idx));
                KILN_TRY(ox_binary_s(c, KILN_OP_MIN, idx, L - 1, &idx));
            } else {
                ox_id a, b, inb, cl;
                KILN_TRY(ox_binary_s(c, KILN_OP_GE, idx, 0, &a));
                KILN_TRY(ox_binary_s(c, KILN_OP_LT, idx, L, &b));
                KILN_TRY(ox_binary(c, KILN_OP_AND, a, b, &inb));
                if (valid == OX_NONE) valid = inb;
                else KILN_TRY(ox_binary(c, KILN_OP_AND, valid, inb, &valid));
                KILN_TRY(ox_binary_s(c, KILN_OP_MAX, idx, 0, &cl));
                KILN_TRY(ox_binary_s(c, KILN_OP_MIN, cl, L - 1, &idx));
            }
            /* flat index over the spatial dims (d = 0 slowest) */
            double stride = 1;
            for (int e = d + 1; e < nsp; e++) stride *= (double)dims[e];
            ox_id part;
            KILN_TRY(ox_binary_s(c, KILN_OP_MUL, idx, stride, &part));
            if (flat == OX_NONE) flat = part;
            else KILN_TRY(ox_binary(c, KILN_OP_ADD, flat, part, &flat));
            if (interp == 1) { /* 1 - t or t */
                if (k == 0) {
                    KILN_TRY(ox_unary(c, KILN_OP_NEG, frac[d], &wd));
                    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, wd, 1, &wd));
                } else {
                    wd = frac[d];
                }
            } else if (interp == 2) {
                KILN_TRY(cubic_weight(c, frac[d], k, &wd));
            } else {
                wd = OX_NONE;
            }
            if (wd != OX_NONE) {
                if (w == OX_NONE) w = wd;
                else KILN_TRY(ox_binary(c, KILN_OP_MUL, w, wd, &w));
            }
        }
        ox_id fi, val;
        KILN_TRY(ox_cast(c, flat, KILN_I64, &fi));
        KILN_TRY(ox_reshape(c, fi, 3, i3, &fi));
        KILN_TRY(ox_expand(c, fi, 3, e3, &fi));
        ox_id pair[2] = {xflat, fi};
        kiln_named_attr ga = kiln_a_int("axis", 2);
        KILN_TRY(ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &ga, &val)); /* [N, C, P] */
        KILN_TRY(ox_cast(c, val, KILN_F64, &val));
        if (w != OX_NONE) {
            ox_id w3;
            KILN_TRY(ox_reshape(c, w, 3, i3, &w3));
            KILN_TRY(ox_binary(c, KILN_OP_MUL, val, w3, &val));
        }
        if (valid != OX_NONE) {
            ox_id v3, zero;
            KILN_TRY(ox_reshape(c, valid, 3, i3, &v3));
            KILN_TRY(ox_like(c, val, 0, &zero));
            KILN_TRY(ox_where(c, v3, val, zero, &val));
        }
        if (acc == OX_NONE) acc = val;
        else KILN_TRY(ox_binary(c, KILN_OP_ADD, acc, val, &acc));
    }
    kiln_dim od[5];
    od[0] = xs.dims[0];
    od[1] = xs.dims[1];
    for (int i = 1; i < gs.rank - 1; i++) od[1 + i] = gs.dims[i];
    KILN_TRY(ox_reshape(c, acc, gs.rank, od, &acc));
    return ox_cast(c, acc, dt, &out[0]);
}

const ox_converter ox_gridsample_ops[] = {
    {"GridSample", conv_grid_sample},
    {NULL, NULL},
};
