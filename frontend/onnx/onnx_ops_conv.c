/* Convolution and pooling through patch extraction: the padded input is
 * sliced once per kernel offset (start k*dilation, step stride), the
 * slices are stacked into [N, C, K, out...], and then
 *   Conv          contracts C/group x K with the weights (one matmul),
 *   MaxPool       takes the max over K (padding is -inf),
 *   AveragePool   sums over K and divides by the count of counted
 *                 positions (a mask pooled the same way),
 *   LpPool        (sum |x|^p over K)^(1/p).
 * ConvTranspose inserts stride-1 zeros between input elements, pads by
 * (k-1)*dilation and convolves with the flipped, transposed kernel, then
 * crops (or zero-extends) to the requested output. Spatial dims must be
 * constant; the batch may be symbolic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

#define MAX_SP 3

typedef struct geom {
    int nsp;
    int64_t in[MAX_SP], k[MAX_SP], s[MAX_SP], d[MAX_SP], pb[MAX_SP], pe[MAX_SP], out[MAX_SP];
    int64_t extra[MAX_SP]; /* padding past pe that ceil_mode windows reach (not counted) */
} geom;

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }

/* An ints attribute of exactly `want` entries, or the default. */
static kiln_status ints_attr(ox_ctx *c, const onnx_node *n, const char *name, int want, int64_t dflt, int64_t *out) {
    const int64_t *list;
    int k = ox_attr_ints(n, name, &list);
    for (int i = 0; i < want; i++) out[i] = dflt;
    if (k < 0 || (k == 0 && strcmp(name, "pads") != 0)) return KILN_OK;
    if (k != want) return ox_invalid(c, "attribute '%s' has %d entries, expected %d", name, k, want);
    for (int i = 0; i < want; i++) {
        if (list[i] < 0 || list[i] > OX_MAX_DIM) return ox_invalid(c, "attribute '%s' holds %lld", name, (long long)list[i]);
        out[i] = list[i];
    }
    return KILN_OK;
}

/* Geometry of a conv/pool window over x; kernel from `kshape` (nsp). */
static kiln_status geometry(ox_ctx *c, const onnx_node *n, ox_id x, const int64_t *kshape, int ceil_mode, geom *g) {
    kiln_shape s = OV(c, x)->shape;
    g->nsp = s.rank - 2;
    if (g->nsp < 1 || g->nsp > MAX_SP) return ox_unsupported(c, "%d spatial dims (kiln handles 1 to %d)", g->nsp, MAX_SP);
    for (int i = 0; i < g->nsp; i++) {
        if (!kiln_dim_is_const(s.dims[i + 2])) return ox_unsupported(c, "symbolic spatial dims");
        g->in[i] = s.dims[i + 2];
        g->k[i] = kshape[i];
        if (g->k[i] < 1) return ox_invalid(c, "kernel size %lld", (long long)g->k[i]);
    }
    if (!kiln_dim_is_const(s.dims[1])) return ox_unsupported(c, "a symbolic channel count");
    int64_t pads[2 * MAX_SP];
    KILN_TRY(ints_attr(c, n, "strides", g->nsp, 1, g->s));
    KILN_TRY(ints_attr(c, n, "dilations", g->nsp, 1, g->d));
    KILN_TRY(ints_attr(c, n, "pads", 2 * g->nsp, 0, pads));
    const char *ap = ox_attr_s(n, "auto_pad", "NOTSET");
    for (int i = 0; i < g->nsp; i++) {
        if (g->s[i] < 1 || g->d[i] < 1) return ox_invalid(c, "strides and dilations must be positive");
        int64_t span = (g->k[i] - 1) * g->d[i] + 1;
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            g->out[i] = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t total = (g->out[i] - 1) * g->s[i] + span - g->in[i];
            if (total < 0) total = 0;
            int upper = strcmp(ap, "SAME_UPPER") == 0;
            g->pb[i] = upper ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
        } else {
            if (strcmp(ap, "VALID") == 0) g->pb[i] = g->pe[i] = 0;
            else if (strcmp(ap, "NOTSET") == 0) {
                g->pb[i] = pads[i];
                g->pe[i] = pads[i + g->nsp];
            } else {
                return ox_invalid(c, "unknown auto_pad '%s'", ap);
            }
            int64_t room = g->in[i] + g->pb[i] + g->pe[i] - span;
            if (room < 0) return ox_invalid(c, "the window is larger than the padded input");
            g->out[i] = (ceil_mode ? (room + g->s[i] - 1) / g->s[i] : room / g->s[i]) + 1;
            /* a last window starting in the end padding is dropped */
            if (ceil_mode && (g->out[i] - 1) * g->s[i] >= g->in[i] + g->pb[i]) g->out[i]--;
        }
        int64_t reach = (g->out[i] - 1) * g->s[i] + span;
        g->extra[i] = reach > g->in[i] + g->pb[i] + g->pe[i] ? reach - (g->in[i] + g->pb[i] + g->pe[i]) : 0;
    }
    return KILN_OK;
}

/* x padded with b before and e after along axis, by the scalar v. */
static kiln_status pad_axis(ox_ctx *c, ox_id x, int axis, int64_t b, int64_t e, ox_id v, ox_id *out) {
    ox_id parts[3];
    int k = 0;
    kiln_shape s = OV(c, x)->shape;
    if (b > 0) {
        s.dims[axis] = b;
        KILN_TRY(ox_expand(c, v, s.rank, s.dims, &parts[k++]));
    }
    parts[k++] = x;
    if (e > 0) {
        s.dims[axis] = e;
        KILN_TRY(ox_expand(c, v, s.rank, s.dims, &parts[k++]));
    }
    return ox_concat(c, k, parts, axis, out);
}

/* x (already padded) -> [N, C, K, out...], K the kernel offsets in
 * row-major order. */
static kiln_status patches(ox_ctx *c, ox_id x, const geom *g, ox_id *out) {
    int64_t K = 1;
    for (int i = 0; i < g->nsp; i++) K *= g->k[i];
    if (K > 4096) return ox_unsupported(c, "a kernel of %lld positions", (long long)K);
    ox_id *parts = malloc(sizeof(ox_id) * (size_t)K);
    if (!parts) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    int64_t two = 2;
    for (int64_t idx = 0; idx < K && !st; idx++) {
        int64_t rem = idx, off[MAX_SP];
        for (int i = g->nsp - 1; i >= 0; i--) {
            off[i] = rem % g->k[i];
            rem /= g->k[i];
        }
        ox_id y = x;
        for (int i = 0; i < g->nsp && !st; i++) {
            int64_t start = off[i] * g->d[i];
            st = ox_slice(c, y, i + 2, start, start + (g->out[i] - 1) * g->s[i] + 1, g->s[i], &y);
        }
        if (!st) st = ox_unsqueeze(c, y, 1, &two, &parts[idx]);
    }
    if (!st) st = ox_concat(c, (int)K, parts, 2, out);
    free(parts);
    return st;
}

static kiln_status pad_all(ox_ctx *c, ox_id x, const geom *g, ox_id v, int with_extra, ox_id *out) {
    for (int i = 0; i < g->nsp; i++)
        KILN_TRY(pad_axis(c, x, i + 2, g->pb[i], g->pe[i] + (with_extra ? g->extra[i] : 0), v, &x));
    *out = x;
    return KILN_OK;
}

/* y = conv(x, w) for a computed geometry; w [M, C/group, k...]. */
static kiln_status conv_core(ox_ctx *c, ox_id x, ox_id w, int64_t group, const geom *g, ox_id *out) {
    kiln_shape xs = OV(c, x)->shape, ws = OV(c, w)->shape;
    int64_t C = xs.dims[1], M = ws.dims[0], K = 1, P = 1;
    for (int i = 0; i < g->nsp; i++) K *= g->k[i], P *= g->out[i];
    if (group < 1 || C % group || M % group || ws.dims[1] != C / group)
        return ox_invalid(c, "channels %lld and weights [%lld, %lld, ...] do not fit group %lld", (long long)C,
                          (long long)M, (long long)ws.dims[1], (long long)group);
    ox_id zero, xp, pt;
    KILN_TRY(ox_like(c, x, 0, &zero));
    KILN_TRY(pad_all(c, x, g, zero, 0, &xp));
    KILN_TRY(patches(c, xp, g, &pt));
    kiln_dim p4[4] = {xs.dims[0], group, C / group * K, P}, w3[3] = {group, M / group, C / group * K};
    ox_id wr, y;
    KILN_TRY(ox_reshape(c, pt, 4, p4, &pt));
    KILN_TRY(ox_reshape(c, w, 3, w3, &wr));
    KILN_TRY(ox_matmul(c, wr, pt, &y)); /* [N, G, M/G, P] */
    kiln_dim os[2 + MAX_SP];
    os[0] = xs.dims[0];
    os[1] = M;
    for (int i = 0; i < g->nsp; i++) os[i + 2] = g->out[i];
    return ox_reshape(c, y, 2 + g->nsp, os, out);
}

static kiln_status add_bias(ox_ctx *c, ox_id y, ox_id b, ox_id *out) {
    if (b == OX_NONE) {
        *out = y;
        return KILN_OK;
    }
    int rank = ox_rank(c, y);
    kiln_dim d[KILN_MAX_RANK];
    d[0] = OV(c, b)->shape.dims[0];
    for (int i = 1; i < rank - 1; i++) d[i] = 1;
    KILN_TRY(ox_reshape(c, b, rank - 1, d, &b));
    return ox_binary(c, KILN_OP_ADD, y, b, out);
}

static kiln_status kernel_of(ox_ctx *c, const onnx_node *n, ox_id w, int nsp, int64_t *k) {
    const int64_t *list;
    int nk = ox_attr_ints(n, "kernel_shape", &list);
    kiln_shape ws = OV(c, w)->shape;
    if (ws.rank != nsp + 2) return ox_invalid(c, "weights of rank %d for %d spatial dims", ws.rank, nsp);
    for (int i = 0; i < ws.rank; i++)
        if (!kiln_dim_is_const(ws.dims[i])) return ox_unsupported(c, "symbolic weight dims");
    for (int i = 0; i < nsp; i++) {
        k[i] = ws.dims[i + 2];
        if (nk == nsp && list[i] != k[i]) return ox_invalid(c, "kernel_shape disagrees with the weights");
    }
    return KILN_OK;
}

kiln_status ox_conv_apply(ox_ctx *c, const onnx_node *n, ox_id x, ox_id w, ox_id *out) {
    int nsp = ox_rank(c, x) - 2;
    int64_t k[MAX_SP];
    if (nsp < 1 || nsp > MAX_SP) return ox_unsupported(c, "%d spatial dims", nsp);
    KILN_TRY(kernel_of(c, n, w, nsp, k));
    geom g;
    KILN_TRY(geometry(c, n, x, k, 0, &g));
    return conv_core(c, x, w, ox_attr_i(n, "group", 1), &g, out);
}

OX_CONV(conv_conv) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(w, 1);
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs floating-point input");
    ox_id y;
    KILN_TRY(ox_conv_apply(c, n, x, w, &y));
    return add_bias(c, y, ox_in(in, nin, 2), &out[0]);
}

/* ConvTranspose(X [N, C, in...], W [C, M/group, k...], B?) */
OX_CONV(conv_conv_transpose) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(w, 1);
    kiln_shape xs = OV(c, x)->shape, ws = OV(c, w)->shape;
    int nsp = xs.rank - 2;
    if (nsp < 1 || nsp > MAX_SP) return ox_unsupported(c, "%d spatial dims", nsp);
    int64_t k[MAX_SP], s[MAX_SP], d[MAX_SP], op[MAX_SP], pads[2 * MAX_SP], oshape[MAX_SP];
    KILN_TRY(kernel_of(c, n, w, nsp, k));
    for (int i = 0; i < nsp; i++)
        if (!kiln_dim_is_const(xs.dims[i + 2])) return ox_unsupported(c, "symbolic spatial dims");
    if (!kiln_dim_is_const(xs.dims[1])) return ox_unsupported(c, "a symbolic channel count");
    KILN_TRY(ints_attr(c, n, "strides", nsp, 1, s));
    KILN_TRY(ints_attr(c, n, "dilations", nsp, 1, d));
    KILN_TRY(ints_attr(c, n, "output_padding", nsp, 0, op));
    int has_pads = ox_has_attr(n, "pads"), has_os = ox_has_attr(n, "output_shape");
    KILN_TRY(ints_attr(c, n, "pads", 2 * nsp, 0, pads));
    if (has_os) KILN_TRY(ints_attr(c, n, "output_shape", nsp, 0, oshape));
    const char *ap = ox_attr_s(n, "auto_pad", "NOTSET");
    int same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
    int64_t group = ox_attr_i(n, "group", 1), C = xs.dims[1];
    if (group < 1 || C % group || ws.dims[0] != C) return ox_invalid(c, "weights do not fit the input channels");
    int64_t M = ws.dims[1] * group, full[MAX_SP], pb[MAX_SP], out_n[MAX_SP];
    for (int i = 0; i < nsp; i++) {
        int64_t in = xs.dims[i + 2], span = (k[i] - 1) * d[i] + 1;
        if (s[i] < 1 || d[i] < 1) return ox_invalid(c, "strides and dilations must be positive");
        full[i] = s[i] * (in - 1) + span;
        if (!has_pads && same) { /* pads from the output shape (default in * stride) */
            int64_t want = has_os ? oshape[i] : in * s[i];
            int64_t total = full[i] + op[i] - want;
            if (total < 0) total = 0;
            pb[i] = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
            out_n[i] = want;
        } else {
            pb[i] = pads[i];
            out_n[i] = has_os ? oshape[i] : full[i] + op[i] - pads[i] - pads[i + nsp];
        }
        if (out_n[i] < 1) return ox_invalid(c, "output size %lld", (long long)out_n[i]);
    }
    /* 1. zeros between input elements along each spatial axis */
    ox_id y = x, zero;
    KILN_TRY(ox_like(c, x, 0, &zero));
    for (int i = 0; i < nsp; i++) {
        if (s[i] == 1) continue;
        kiln_shape ys = OV(c, y)->shape;
        int64_t ax = i + 3, in = xs.dims[i + 2];
        ox_id parts[2], z;
        KILN_TRY(ox_unsqueeze(c, y, 1, &ax, &parts[0]));
        kiln_dim zd[KILN_MAX_RANK];
        for (int j = 0, q = 0; j < ys.rank + 1; j++) zd[j] = j == ax ? s[i] - 1 : ys.dims[q++];
        KILN_TRY(ox_expand(c, zero, ys.rank + 1, zd, &z));
        parts[1] = z;
        KILN_TRY(ox_concat(c, 2, parts, (int)ax, &y));
        ys.dims[i + 2] = in * s[i];
        KILN_TRY(ox_reshape(c, y, ys.rank, ys.dims, &y));
        KILN_TRY(ox_slice(c, y, i + 2, 0, (in - 1) * s[i] + 1, 1, &y));
    }
    /* 2. the kernel flipped, as [M, C/group, k...] */
    ox_id wf = w;
    for (int i = 0; i < nsp; i++) KILN_TRY(ox_slice(c, wf, i + 2, -1, -k[i] - 1, -1, &wf));
    kiln_dim g5[2 + 2 + MAX_SP];
    g5[0] = group;
    g5[1] = C / group;
    g5[2] = M / group;
    for (int i = 0; i < nsp; i++) g5[3 + i] = k[i];
    KILN_TRY(ox_reshape(c, wf, 3 + nsp, g5, &wf));
    int64_t perm[3 + MAX_SP] = {0, 2, 1, 3, 4, 5};
    KILN_TRY(ox_transpose(c, wf, 3 + nsp, perm, &wf));
    kiln_dim wd[2 + MAX_SP];
    wd[0] = M;
    wd[1] = C / group;
    for (int i = 0; i < nsp; i++) wd[2 + i] = k[i];
    KILN_TRY(ox_reshape(c, wf, 2 + nsp, wd, &wf));
    /* 3. the full transposed convolution: stride 1, padding (k-1)*dilation */
    geom g;
    g.nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        g.in[i] = (xs.dims[i + 2] - 1) * s[i] + 1;
        g.k[i] = k[i];
        g.s[i] = 1;
        g.d[i] = d[i];
        g.pb[i] = g.pe[i] = (k[i] - 1) * d[i];
        g.out[i] = full[i];
        g.extra[i] = 0;
    }
    KILN_TRY(conv_core(c, y, wf, group, &g, &y));
    /* 4. the requested window [pb, pb + out) of the full result, zeros past it */
    for (int i = 0; i < nsp; i++) {
        int64_t lo = pb[i] < full[i] ? pb[i] : full[i], hi = pb[i] + out_n[i] < full[i] ? pb[i] + out_n[i] : full[i];
        KILN_TRY(ox_slice(c, y, i + 2, lo, hi, 1, &y));
        if (out_n[i] > hi - lo) KILN_TRY(pad_axis(c, y, i + 2, 0, out_n[i] - (hi - lo), zero, &y));
    }
    return add_bias(c, y, ox_in(in, nin, 2), &out[0]);
}

/* ---- pooling --------------------------------------------------------------------------- */
static double lowest(kiln_dtype t) {
    switch (t) {
    case KILN_U8: case KILN_U16: case KILN_U32: case KILN_U64: return 0;
    case KILN_I8: return -128;
    case KILN_I16: return -32768;
    case KILN_I32: return -2147483648.0;
    case KILN_I64: return -9223372036854775808.0;
    default: return -INFINITY;
    }
}

/* MaxPool's Indices: the flat index (n, c, spatial; spatial row-major, or
 * column-major with storage_order 1) of each window's first maximum. A
 * table [K, out...] maps (kernel offset, output position) to the spatial
 * index; the argmax over K picks the entry. */
static kiln_status max_indices(ox_ctx *c, ox_id pt, const geom *g, int col_major, kiln_shape xs, ox_id *out) {
    int64_t K = 1, P = 1, HW = 1;
    for (int i = 0; i < g->nsp; i++) K *= g->k[i], P *= g->out[i], HW *= g->in[i];
    if ((double)K * (double)P > (double)(1 << 24)) return ox_unsupported(c, "an index table of %lld x %lld", (long long)K, (long long)P);
    kiln_tensor t;
    int64_t ts[1 + MAX_SP];
    ts[0] = K;
    for (int i = 0; i < g->nsp; i++) ts[1 + i] = g->out[i];
    KILN_TRY(kiln_tensor_alloc(&t, KILN_I64, 1 + g->nsp, ts));
    for (int64_t kk = 0; kk < K; kk++)
        for (int64_t p = 0; p < P; p++) {
            int64_t krem = kk, prem = p, pos[MAX_SP], flat = 0;
            for (int i = g->nsp - 1; i >= 0; i--) {
                int64_t ko = krem % g->k[i], po = prem % g->out[i];
                krem /= g->k[i];
                prem /= g->out[i];
                pos[i] = po * g->s[i] + ko * g->d[i] - g->pb[i];
                if (pos[i] < 0 || pos[i] >= g->in[i]) pos[i] = 0; /* padding never holds the max */
            }
            if (col_major)
                for (int i = g->nsp - 1; i >= 0; i--) flat = flat * g->in[i] + pos[i];
            else
                for (int i = 0; i < g->nsp; i++) flat = flat * g->in[i] + pos[i];
            ((int64_t *)t.data)[kk * P + p] = flat;
        }
    ox_id table, am, idx;
    KILN_TRY(ox_from_tensor(c, &t, &table));
    int64_t zero = 0, two = 2;
    KILN_TRY(ox_unsqueeze(c, table, 1, &zero, &table));
    KILN_TRY(ox_unsqueeze(c, table, 1, &zero, &table));
    kiln_shape ps = OV(c, pt)->shape;
    KILN_TRY(ox_expand(c, table, ps.rank, ps.dims, &table));
    kiln_named_attr a[2] = {kiln_a_int("axis", 2), kiln_a_bool("keepdims", 1)};
    KILN_TRY(ox_op(c, KILN_OP_ARGMAX, 1, &pt, 2, a, &am));
    ox_id pair[2] = {table, am};
    kiln_named_attr ga = kiln_a_int("axis", 2);
    KILN_TRY(ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &ga, &idx));
    KILN_TRY(ox_squeeze(c, idx, 1, &two, &idx));
    /* + (n C + c) HW */
    int rank = xs.rank;
    kiln_dim ns[KILN_MAX_RANK], cs[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) ns[i] = cs[i] = 1;
    ns[0] = xs.dims[0];
    cs[1] = xs.dims[1];
    ox_id ni, ci, base;
    KILN_TRY(ox_iota(c, rank, ns, 0, 0, &ni));
    KILN_TRY(ox_iota(c, rank, cs, 1, 0, &ci));
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, ni, (double)xs.dims[1], &base));
    KILN_TRY(ox_binary(c, KILN_OP_ADD, base, ci, &base));
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, base, (double)HW, &base));
    return ox_binary(c, KILN_OP_ADD, idx, base, out);
}

OX_CONV(conv_pool) {
    OX_REQ(x, 0);
    int want_idx = nout > 1 && n->outputs[1][0];
    if (want_idx && !is_op(n, "MaxPool")) return ox_invalid(c, "only MaxPool has an Indices output");
    int nsp = ox_rank(c, x) - 2;
    if (nsp < 1 || nsp > MAX_SP) return ox_unsupported(c, "%d spatial dims", nsp);
    int64_t k[MAX_SP];
    const int64_t *list;
    if (ox_attr_ints(n, "kernel_shape", &list) != nsp) return ox_invalid(c, "kernel_shape must have %d entries", nsp);
    for (int i = 0; i < nsp; i++) k[i] = list[i];
    int col_major = ox_attr_i(n, "storage_order", 0) != 0;
    geom g;
    int ceil_mode = (int)ox_attr_i(n, "ceil_mode", 0);
    KILN_TRY(geometry(c, n, x, k, ceil_mode, &g));
    ox_id y, pt;
    int64_t two = 2;
    if (is_op(n, "MaxPool")) {
        ox_id lo;
        KILN_TRY(ox_like(c, x, lowest(ox_dtype(c, x)), &lo));
        KILN_TRY(pad_all(c, x, &g, lo, 1, &y));
        KILN_TRY(patches(c, y, &g, &pt));
        KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MAX, pt, 1, &two, 0, &out[0]));
        return want_idx ? max_indices(c, pt, &g, col_major, OV(c, x)->shape, &out[1]) : KILN_OK;
    }
    if (!kiln_dtype_is_float(ox_dtype(c, x))) return ox_invalid(c, "needs floating-point input");
    ox_id zero;
    KILN_TRY(ox_like(c, x, 0, &zero));
    if (is_op(n, "LpPool")) { /* (sum |x|^p)^(1/p), pads as zeros */
        double p = (double)ox_attr_i(n, "p", 2);
        ox_id a, pw;
        KILN_TRY(ox_unary(c, KILN_OP_ABS, x, &a));
        KILN_TRY(ox_like(c, x, p, &pw));
        KILN_TRY(ox_binary(c, KILN_OP_POW, a, pw, &a));
        KILN_TRY(pad_all(c, a, &g, zero, 1, &y));
        KILN_TRY(patches(c, y, &g, &pt));
        KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, pt, 1, &two, 0, &y));
        KILN_TRY(ox_like(c, x, 1.0 / p, &pw));
        return ox_binary(c, KILN_OP_POW, y, pw, &out[0]);
    }
    /* AveragePool: the sum over the window divided by the positions that
     * count -- the input's, plus the explicit pads with count_include_pad
     * (never the extra reach of ceil_mode windows). */
    KILN_TRY(pad_all(c, x, &g, zero, 1, &y));
    KILN_TRY(patches(c, y, &g, &pt));
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, pt, 1, &two, 0, &y));
    int incl = (int)ox_attr_i(n, "count_include_pad", 0);
    kiln_tensor mask;
    int64_t ms[2 + MAX_SP] = {1, 1};
    double mcount = 1;
    for (int i = 0; i < nsp; i++) mcount *= (double)(ms[2 + i] = g.in[i] + g.pb[i] + g.pe[i] + g.extra[i]);
    if (mcount > (double)(1 << 24)) return ox_unsupported(c, "a pooling window mask of %g elements", mcount);
    KILN_TRY(kiln_tensor_alloc(&mask, ox_dtype(c, x), 2 + nsp, ms));
    int64_t total = kiln_tensor_numel(&mask);
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, counted = 1;
        for (int a = nsp - 1; a >= 0; a--) {
            int64_t pos = rem % ms[2 + a];
            rem /= ms[2 + a];
            int64_t lo = incl ? 0 : g.pb[a], hi = incl ? g.pb[a] + g.in[a] + g.pe[a] : g.pb[a] + g.in[a];
            counted &= pos >= lo && pos < hi;
        }
        kiln_store_f64(mask.data, mask.dtype, (size_t)i, (double)counted);
    }
    ox_id m, cnt;
    KILN_TRY(ox_from_tensor(c, &mask, &m));
    KILN_TRY(patches(c, m, &g, &cnt)); /* the mask has the padded shape already */
    KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, cnt, 1, &two, 0, &cnt));
    return ox_binary(c, KILN_OP_DIV, y, cnt, &out[0]);
}

/* CausalConvWithState(input [B, C, L], weight [C, 1, k], bias?, past_state?
 * [B, C, k-1]; activation): a depthwise convolution over past_state
 * (zeros when absent) followed by the input; present_state is the last
 * k - 1 positions of that sequence. */
OX_CONV(conv_causal_conv) {
    OX_REQ(x, 0);
    OX_REQ(w, 1);
    ox_id bias = ox_in(in, nin, 2), past = ox_in(in, nin, 3);
    kiln_shape xs = OV(c, x)->shape, ws = OV(c, w)->shape;
    if (xs.rank != 3 || ws.rank != 3) return ox_invalid(c, "input and weight must be rank 3");
    if (!kiln_dim_is_const(xs.dims[1]) || !kiln_dim_is_const(xs.dims[2]) || !kiln_dim_is_const(ws.dims[2]))
        return ox_unsupported(c, "symbolic channel, length or kernel size");
    int64_t C = xs.dims[1], L = xs.dims[2], k = ws.dims[2];
    if (k < 1 || ws.dims[0] != C || ws.dims[1] != 1) return ox_invalid(c, "weight must be [channels, 1, k]");
    ox_id seq = x;
    if (k > 1) {
        ox_id parts[2];
        if (past != OX_NONE) parts[0] = past;
        else {
            ox_id zero;
            kiln_dim pd[3] = {xs.dims[0], C, k - 1};
            KILN_TRY(ox_like(c, x, 0, &zero));
            KILN_TRY(ox_expand(c, zero, 3, pd, &parts[0]));
        }
        parts[1] = x;
        KILN_TRY(ox_concat(c, 2, parts, 2, &seq));
    }
    geom g = {1, {L + k - 1}, {k}, {1}, {1}, {0}, {0}, {L}, {0}};
    ox_id y;
    KILN_TRY(conv_core(c, seq, w, C, &g, &y));
    KILN_TRY(add_bias(c, y, bias, &y));
    const char *act = ox_attr_s(n, "activation", "none");
    if (!strcmp(act, "silu") || !strcmp(act, "swish")) KILN_TRY(ox_unary(c, KILN_OP_SILU, y, &y));
    else if (strcmp(act, "none")) return ox_invalid(c, "unknown activation '%s'", act);
    out[0] = y;
    if (nout > 1) {
        if (k > 1) KILN_TRY(ox_slice(c, seq, 2, L, L + k - 1, 1, &out[1]));
        else { /* an empty state */
            kiln_dim pd[3] = {xs.dims[0], C, 0};
            ox_id zero;
            KILN_TRY(ox_like(c, x, 0, &zero));
            KILN_TRY(ox_expand(c, zero, 3, pd, &out[1]));
        }
    }
    return KILN_OK;
}

const ox_converter ox_conv_ops[] = {
    {"CausalConvWithState", conv_causal_conv},
    {"Conv", conv_conv},       {"ConvTranspose", conv_conv_transpose}, {"MaxPool", conv_pool},
    {"AveragePool", conv_pool}, {"LpPool", conv_pool},
    {NULL, NULL},
};
