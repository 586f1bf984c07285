/* Resize (and the older Upsample) as a product of per-axis interpolation
 * matrices. Resizing is separable: along each resized axis, output
 * position j is a weighted sum of a few input positions, with weights that
 * depend only on the sizes, the scale and the attributes. Those weights are
 * computed here, at import time, into a matrix R [out, in] following the
 * ONNX reference semantics (coordinate transformation modes, nearest
 * rounding, linear and cubic kernels, antialiasing, exclude_outside, edge
 * clamping, tf_crop_and_resize extrapolation); the graph then applies
 * x @ R^T along that axis. Scales, sizes and roi must be known. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

typedef struct resize_opts {
    const char *mode, *coord, *nearest;
    double cubic_a, extrapolation;
    int exclude_outside, antialias;
} resize_opts;

/* Interpolation weights for a fractional position `ratio` in (0, 1]
 * (1 when the source coordinate is an integer); returns the tap count. */
static int coeffs(const resize_opts *o, double ratio, double scale, double *w, int cap) {
    if (strcmp(o->mode, "nearest") == 0) {
        int hi;
        if (ratio == floor(ratio)) hi = 1;
        else if (strcmp(o->nearest, "round_prefer_ceil") == 0) hi = ratio >= 0.5;
        else if (strcmp(o->nearest, "floor") == 0) hi = 0;
        else if (strcmp(o->nearest, "ceil") == 0) hi = 1;
        else hi = ratio > 0.5; /* round_prefer_floor */
        w[0] = !hi;
        w[1] = hi;
        return 2;
    }
    if (strcmp(o->mode, "linear") == 0 && !o->antialias) {
        w[0] = 1 - ratio;
        w[1] = ratio;
        return 2;
    }
    if (strcmp(o->mode, "cubic") == 0 && !o->antialias) {
        double A = o->cubic_a, r = ratio, s = 1 - ratio;
        w[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
        w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
        w[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
        w[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
        return 4;
    }
    /* antialiased: the kernel stretched by 1/scale when downsampling */
    double sc = scale < 1 ? scale : 1, sum = 0;
    int cubic = strcmp(o->mode, "cubic") == 0;
    double lo = floor((cubic ? -2.0 : -1.0) / sc) + 1;
    if (lo < -(double)cap) return -1;
    int start = (int)lo, n = 2 - 2 * start; /* taps start .. 1 - start */
    if (n > cap) return -1;
    for (int i = 0; i < n; i++) {
        double x = fabs(((double)(start + i) - ratio) * sc), v;
        if (cubic) {
            double A = o->cubic_a;
            v = x <= 1 ? (A + 2) * x * x * x - (A + 3) * x * x + 1 : x < 2 ? A * x * x * x - 5 * A * x * x + 8 * A * x - 4 * A : 0;
        } else {
            v = 1 - x;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        w[i] = v;
        sum += v;
    }
    for (int i = 0; i < n; i++) w[i] = sum != 0 ? w[i] / sum : 0;
    return n;
}

/* R [out, in] and the extrapolated rows for one axis. */
static kiln_status axis_matrix(ox_ctx *c, const resize_opts *o, int64_t in, int64_t out, double scale,
                               const double *roi, double *R, unsigned char *extra) {
    double out_w = scale * (double)in;
    for (int64_t j = 0; j < out; j++) {
        double y = (double)j, x;
        extra[j] = 0;
        const char *m = o->coord;
        if (strcmp(m, "align_corners") == 0) x = out_w == 1 ? 0 : y * (double)(in - 1) / (out_w - 1);
        else if (strcmp(m, "asymmetric") == 0) x = y / scale;
        else if (strcmp(m, "tf_crop_and_resize") == 0) {
            x = out_w == 1 ? (roi[1] - roi[0]) * (double)(in - 1) / 2 : y * (roi[1] - roi[0]) * (double)(in - 1) / (out_w - 1);
            x += roi[0] * (double)(in - 1);
            extra[j] = x < 0 || x > (double)(in - 1);
        } else if (strcmp(m, "pytorch_half_pixel") == 0) x = out_w == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
        else if (strcmp(m, "half_pixel") == 0) x = (y + 0.5) / scale - 0.5;
        else if (strcmp(m, "half_pixel_symmetric") == 0) {
            double adjustment = (double)out / out_w, center = (double)in / 2;
            x = center * (1 - adjustment) + (y + 0.5) / scale - 0.5;
        } else {
            return ox_invalid(c, "unknown coordinate_transformation_mode '%s'", m);
        }
        double xf = floor(x), ratio = x == xf ? 1.0 : x - xf, w[64];
        int n = coeffs(o, ratio, scale, w, 64);
        if (n < 0) return ox_unsupported(c, "an antialiasing kernel wider than 64 taps");
        /* the n nearest positions, clamped to the edges */
        int64_t pad = (n + 1) / 2;
        double xp = x + (double)pad, p = floor(xp), frac = xp - p, off;
        if (n % 2 == 0) off = frac == 0 ? -(n / 2) : -(n / 2) + 1;
        else off = frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1;
        int64_t start = (int64_t)p + (int64_t)off - pad;
        if (o->exclude_outside) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                int64_t idx = start + i;
                if (idx < 0 || idx >= in) w[i] = 0;
                sum += w[i];
            }
            if (sum == 0) sum = 1;
            for (int i = 0; i < n; i++) w[i] /= sum;
        }
        double *row = R + j * in;
        for (int64_t i = 0; i < in; i++) row[i] = 0;
        if (extra[j]) continue;
        for (int i = 0; i < n; i++) {
            int64_t idx = start + i;
            idx = idx < 0 ? 0 : idx >= in ? in - 1 : idx;
            row[idx] += w[i];
        }
    }
    return KILN_OK;
}

/* x resized along `axis` to `out` elements. */
static kiln_status resize_axis(ox_ctx *c, const resize_opts *o, ox_id x, int axis, int64_t out, double scale,
                               const double *roi, ox_id *res) {
    kiln_shape s = OV(c, x)->shape;
    int rank = s.rank;
    int64_t in = s.dims[axis];
    if ((double)in * (double)out > 1 << 24) return ox_unsupported(c, "a resize matrix of %lld x %lld", (long long)out, (long long)in);
    kiln_dtype dt = ox_dtype(c, x);
    kiln_tensor R;
    int64_t rs[2] = {in, out};
    KILN_TRY(kiln_tensor_alloc(&R, dt, 2, rs)); /* R^T: [in, out] */
    double *m = malloc(sizeof(double) * (size_t)(in * out > 0 ? in * out : 1));
    unsigned char *extra = malloc((size_t)(out ? out : 1));
    kiln_status st = m && extra ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!st) st = axis_matrix(c, o, in, out, scale, roi, m, extra);
    int any_extra = 0;
    for (int64_t j = 0; !st && j < out; j++) {
        any_extra |= extra[j];
        for (int64_t i = 0; i < in; i++) kiln_store_f64(R.data, dt, (size_t)(i * out + j), m[j * in + i]);
    }
    ox_id r = OX_NONE, e = OX_NONE;
    if (!st) st = ox_from_tensor(c, &R, &r);
    else kiln_tensor_release(&R);
    if (!st && any_extra) { /* extrapolated positions take extrapolation_value */
        kiln_tensor E;
        st = kiln_tensor_alloc(&E, dt, 1, &out);
        for (int64_t j = 0; !st && j < out; j++) kiln_store_f64(E.data, dt, (size_t)j, extra[j] ? o->extrapolation : 0);
        if (!st) st = ox_from_tensor(c, &E, &e);
    }
    free(m);
    free(extra);
    KILN_TRY(st);
    int64_t perm[KILN_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        if (i != axis) perm[k++] = i;
    perm[rank - 1] = axis;
    ox_id y;
    KILN_TRY(ox_transpose(c, x, rank, perm, &y));
    KILN_TRY(ox_matmul(c, y, r, &y));
    if (e != OX_NONE) KILN_TRY(ox_binary(c, KILN_OP_ADD, y, e, &y));
    int64_t inv[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) inv[perm[i]] = i;
    return ox_transpose(c, y, rank, inv, res);
}

static int known_f64s(ox_ctx *c, ox_id id, double *out, int max) {
    if (id == OX_NONE || !ox_is_known(c, id)) return -1;
    const kiln_tensor *t = &OV(c, id)->k;
    int64_t n = kiln_tensor_numel(t);
    if (n > max) return -1;
    for (int64_t i = 0; i < n; i++) out[i] = kiln_load_f64(t->data, t->dtype, (size_t)i);
    return (int)n;
}

OX_CONV(conv_resize) {
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape xs = OV(c, x)->shape;
    int rank = xs.rank;
    resize_opts o;
    o.mode = ox_attr_s(n, "mode", "nearest");
    o.coord = ox_attr_s(n, "coordinate_transformation_mode", "half_pixel");
    o.nearest = ox_attr_s(n, "nearest_mode", "round_prefer_floor");
    o.cubic_a = ox_attr_f(n, "cubic_coeff_a", -0.75);
    o.extrapolation = ox_attr_f(n, "extrapolation_value", 0.0);
    o.exclude_outside = (int)ox_attr_i(n, "exclude_outside", 0);
    o.antialias = (int)ox_attr_i(n, "antialias", 0);
    ox_id roi_in = OX_NONE, scales_in, sizes_in = OX_NONE;
    int upsample = strcmp(n->op_type, "Upsample") == 0 || c->opset < 11;
    if (upsample) { /* Upsample and Resize-10: (X, scales), asymmetric coordinates */
        o.coord = "asymmetric";
        if (strcmp(o.mode, "nearest") == 0) o.nearest = "floor";
        scales_in = ox_in(in, nin, 1);
    } else {
        roi_in = ox_in(in, nin, 1);
        scales_in = ox_in(in, nin, 2);
        sizes_in = ox_in(in, nin, 3);
    }
    if (strcmp(o.mode, "nearest") && strcmp(o.mode, "linear") && strcmp(o.mode, "cubic"))
        return ox_invalid(c, "unknown mode '%s'", o.mode);
    if (strcmp(o.mode, "nearest") == 0) o.antialias = 0;
    int axes[KILN_MAX_RANK], naxes = rank;
    const int64_t *list;
    int k = ox_attr_ints(n, "axes", &list);
    if (k > rank) return ox_invalid(c, "too many axes");
    if (k >= 0) naxes = k;
    for (int i = 0; i < naxes; i++) KILN_TRY(ox_axis(c, k >= 0 ? list[i] : i, rank, "axis", &axes[i]));
    double scales[KILN_MAX_RANK], roi[2 * KILN_MAX_RANK];
    int64_t sizes[KILN_MAX_RANK];
    int ns = scales_in == OX_NONE ? 0 : known_f64s(c, scales_in, scales, KILN_MAX_RANK);
    int nz = sizes_in == OX_NONE ? 0 : ox_const_ints(c, sizes_in, sizes, KILN_MAX_RANK);
    int nr = roi_in == OX_NONE ? 0 : known_f64s(c, roi_in, roi, 2 * KILN_MAX_RANK);
    if (ns < 0 || nz < 0 || nr < 0) return ox_unsupported(c, "scales, sizes or roi computed at run time");
    if ((ns > 0) == (nz > 0)) return ox_invalid(c, "exactly one of scales and sizes must be given");
    if ((ns && ns != naxes) || (nz && nz != naxes) || (nr && nr != 2 * naxes))
        return ox_invalid(c, "scales, sizes or roi do not match %d axes", naxes);
    for (int i = 0; i < naxes; i++)
        if (!kiln_dim_is_const(xs.dims[axes[i]])) return ox_unsupported(c, "resizing a symbolic dimension");
    double axis_scale[KILN_MAX_RANK];
    int64_t axis_out[KILN_MAX_RANK];
    if (nz) {
        const char *policy = ox_attr_s(n, "keep_aspect_ratio_policy", "stretch");
        double pick = 0;
        for (int i = 0; i < naxes; i++) {
            if (sizes[i] < 0 || sizes[i] > OX_MAX_DIM || xs.dims[axes[i]] < 1) return ox_invalid(c, "size %lld", (long long)sizes[i]);
            double s = (double)sizes[i] / (double)xs.dims[axes[i]];
            axis_scale[i] = s;
            axis_out[i] = sizes[i];
            if (i == 0 || (strcmp(policy, "not_larger") == 0 ? s < pick : s > pick)) pick = s;
        }
        if (strcmp(policy, "stretch") != 0) {
            if (strcmp(policy, "not_larger") && strcmp(policy, "not_smaller"))
                return ox_invalid(c, "unknown keep_aspect_ratio_policy '%s'", policy);
            for (int i = 0; i < naxes; i++) {
                axis_scale[i] = pick;
                axis_out[i] = (int64_t)(pick * (double)xs.dims[axes[i]] + 0.5);
            }
        }
    } else {
        for (int i = 0; i < naxes; i++) {
            if (!(scales[i] > 0) || scales[i] * (double)xs.dims[axes[i]] > (double)OX_MAX_DIM)
                return ox_invalid(c, "scale %g is out of range", scales[i]);
            axis_scale[i] = scales[i];
            axis_out[i] = (int64_t)(scales[i] * (double)xs.dims[axes[i]]);
        }
    }
    ox_id y = x;
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_unsupported(c, "resizing %s data", kiln_dtype_name(ox_dtype(c, x)));
    for (int i = 0; i < naxes; i++) {
        double r2[2] = {nr ? roi[i] : 0.0, nr ? roi[i + naxes] : 1.0};
        int64_t inn = xs.dims[axes[i]];
        if (fabs(axis_scale[i] - 1.0) < 1e-9 && axis_out[i] == inn && fabs(r2[0]) < 1e-9 && fabs(r2[1] - 1) < 1e-9)
            continue;
        if (axis_out[i] < 0 || axis_out[i] > OX_MAX_DIM) return ox_invalid(c, "output size %lld", (long long)axis_out[i]);
        KILN_TRY(resize_axis(c, &o, y, axes[i], axis_out[i], axis_scale[i], r2, &y));
    }
    out[0] = y;
    return KILN_OK;
}

const ox_converter ox_resize_ops[] = {
    {"Resize", conv_resize},
    {"Upsample", conv_resize},
    {NULL, NULL},
};
