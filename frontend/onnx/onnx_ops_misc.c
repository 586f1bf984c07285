/* Assorted ONNX ops written with IR primitives: window functions,
 * CenterCropPad, LRN, Einsum, AffineGrid, Col2Im, MaxUnpool, Det,
 * ReverseSequence, and BitCast / Unique of data known at import time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }

/* outer / axis / inner extents of t split at axis */
static void ref_split_dims(const kiln_tensor *t, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= t->shape[i];
    *len = t->shape[axis];
    for (int i = axis + 1; i < t->rank; i++) *inner *= t->shape[i];
}

/* ---- windows ---------------------------------------------------------------------------- */
OX_CONV(conv_window) {
    (void)nin;
    (void)nout;
    OX_REQ(sz, 0);
    int64_t size;
    if (ox_const_ints(c, sz, &size, 1) != 1) return ox_unsupported(c, "a window size computed at run time");
    if (size < 0 || size > (1 << 24)) return ox_invalid(c, "window size %lld", (long long)size);
    kiln_dtype dt;
    KILN_TRY(onnx_to_kiln_dtype((int)ox_attr_i(n, "output_datatype", 1), &dt));
    double N = ox_attr_i(n, "periodic", 1) ? (double)size : (double)size - 1;
    kiln_tensor t;
    KILN_TRY(kiln_tensor_alloc(&t, dt, 1, &size));
    for (int64_t i = 0; i < size; i++) {
        double x = 2 * M_PI * (double)i / N, v;
        if (is_op(n, "HannWindow")) v = 0.5 - 0.5 * cos(x);
        else if (is_op(n, "HammingWindow")) v = 25.0 / 46.0 - (1 - 25.0 / 46.0) * cos(x);
        else v = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x);
        kiln_store_f64(t.data, dt, (size_t)i, v);
    }
    return ox_from_tensor(c, &t, &out[0]);
}

/* ---- CenterCropPad ---------------------------------------------------------------------- */
OX_CONV(conv_center_crop_pad) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(sh, 1);
    int rank = ox_rank(c, x), axes[KILN_MAX_RANK], na = rank;
    int64_t want[KILN_MAX_RANK];
    int k = ox_const_ints(c, sh, want, KILN_MAX_RANK);
    if (k < 0) return ox_unsupported(c, "the shape is computed at run time");
    const int64_t *list;
    int ka = ox_attr_ints(n, "axes", &list);
    if (ka > rank) return ox_invalid(c, "too many axes");
    if (ka >= 0) na = ka;
    for (int i = 0; i < na; i++) KILN_TRY(ox_axis(c, ka >= 0 ? list[i] : i, rank, "axis", &axes[i]));
    if (k != na) return ox_invalid(c, "shape has %d entries for %d axes", k, na);
    ox_id y = x, zero;
    KILN_TRY(ox_like(c, x, 0, &zero));
    for (int i = 0; i < na; i++) {
        kiln_dim d = OV(c, y)->shape.dims[axes[i]];
        if (!kiln_dim_is_const(d)) return ox_unsupported(c, "a symbolic dimension");
        if (want[i] < 0 || want[i] > OX_MAX_DIM) return ox_invalid(c, "size %lld", (long long)want[i]);
        if (want[i] < d) { /* crop: the extra element of an odd difference comes off the end */
            int64_t b = (d - want[i]) / 2;
            KILN_TRY(ox_slice(c, y, axes[i], b, b + want[i], 1, &y));
        } else if (want[i] > d) {
            int64_t b = (want[i] - d) / 2, e = want[i] - d - b;
            kiln_shape s = OV(c, y)->shape;
            ox_id parts[3];
            int np = 0;
            if (b) {
                s.dims[axes[i]] = b;
                KILN_TRY(ox_expand(c, zero, s.rank, s.dims, &parts[np++]));
            }
            parts[np++] = y;
            if (e) {
                s.dims[axes[i]] = e;
                KILN_TRY(ox_expand(c, zero, s.rank, s.dims, &parts[np++]));
            }
            KILN_TRY(ox_concat(c, np, parts, axes[i], &y));
        }
    }
    out[0] = y;
    return KILN_OK;
}

/* ---- LRN: x / (bias + alpha/size * sum of x^2 over nearby channels)^beta --------------- */
OX_CONV(conv_lrn) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    int64_t size = ox_attr_i(n, "size", 0);
    if (size < 1 || size > 4096) return ox_invalid(c, "size %lld", (long long)size);
    kiln_shape s = OV(c, x)->shape;
    if (s.rank < 3 || !kiln_dim_is_const(s.dims[1])) return ox_unsupported(c, "needs rank >= 3 and a constant channel count");
    double alpha = ox_attr_f(n, "alpha", 1e-4), beta = ox_attr_f(n, "beta", 0.75), bias = ox_attr_f(n, "bias", 1.0);
    int64_t C = s.dims[1], lo = (size - 1) / 2, hi = size - 1 - lo;
    ox_id sq, zero, parts[3], padded, sum = OX_NONE;
    KILN_TRY(ox_binary(c, KILN_OP_MUL, x, x, &sq));
    KILN_TRY(ox_like(c, x, 0, &zero));
    int np = 0;
    kiln_shape ps = s;
    if (lo) {
        ps.dims[1] = lo;
        KILN_TRY(ox_expand(c, zero, ps.rank, ps.dims, &parts[np++]));
    }
    parts[np++] = sq;
    if (hi) {
        ps.dims[1] = hi;
        KILN_TRY(ox_expand(c, zero, ps.rank, ps.dims, &parts[np++]));
    }
    KILN_TRY(ox_concat(c, np, parts, 1, &padded));
    for (int64_t k = 0; k < size; k++) { /* channel c sums padded channels c .. c + size - 1 */
        ox_id sl;
        KILN_TRY(ox_slice(c, padded, 1, k, k + C, 1, &sl));
        if (sum == OX_NONE) sum = sl;
        else KILN_TRY(ox_binary(c, KILN_OP_ADD, sum, sl, &sum));
    }
    ox_id den;
    KILN_TRY(ox_binary_s(c, KILN_OP_MUL, sum, alpha / (double)size, &den));
    KILN_TRY(ox_binary_s(c, KILN_OP_ADD, den, bias, &den));
    ox_id b;
    KILN_TRY(ox_like(c, x, beta, &b));
    KILN_TRY(ox_binary(c, KILN_OP_POW, den, b, &den));
    return ox_binary(c, KILN_OP_DIV, x, den, &out[0]);
}

/* ---- Einsum ---------------------------------------------------------------------------------- */
#define EIN_MAX 8

typedef struct ein_term {
    int n;
    char l[EIN_MAX]; /* letters; '.' positions expanded to '0'..'7' for ellipsis dims */
} ein_term;

/* Parses one operand's letters; `ell` ellipsis dims stand for the dims
 * the letters leave over (from the operand's rank). */
static kiln_status ein_parse(ox_ctx *c, const char *s, size_t len, int rank, int *ell_rank, ein_term *t) {
    int letters = 0, has_ell = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' || has_ell) return ox_invalid(c, "bad ellipsis");
            has_ell = 1;
            i += 2;
        } else if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
            letters++;
        } else if (s[i] != ' ') {
            return ox_invalid(c, "unexpected '%c' in the equation", s[i]);
        }
    }
    int e = has_ell ? rank - letters : 0;
    if (e < 0 || (!has_ell && letters != rank) || letters + e > EIN_MAX)
        return ox_invalid(c, "the equation does not match an operand of rank %d", rank);
    if (has_ell) {
        if (*ell_rank >= 0 && *ell_rank != e) return ox_invalid(c, "ellipses of different ranks");
        *ell_rank = e;
    }
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            for (int k = 0; k < e; k++) t->l[t->n++] = (char)('0' + k);
            i += 2;
        } else if (s[i] != ' ') {
            t->l[t->n++] = s[i];
        }
    }
    return KILN_OK;
}

static int ein_find(const ein_term *t, char ch) {
    for (int i = 0; i < t->n; i++)
        if (t->l[i] == ch) return i;
    return -1;
}

/* Removes a repeated letter of one operand by taking the diagonal:
 * multiply by the identity over the two dims and sum the second away. */
static kiln_status ein_diagonal(ox_ctx *c, ox_id *x, ein_term *t) {
    for (int i = 0; i < t->n; i++)
        for (int j = i + 1; j < t->n; j++) {
            if (t->l[i] != t->l[j]) continue;
            kiln_shape s = OV(c, *x)->shape;
            if (s.dims[i] != s.dims[j]) return ox_invalid(c, "a repeated index over dims of different sizes");
            kiln_dim a[KILN_MAX_RANK], b[KILN_MAX_RANK];
            for (int k = 0; k < s.rank; k++) a[k] = b[k] = 1;
            a[i] = s.dims[i];
            b[j] = s.dims[j];
            ox_id ia, ib, eye, y;
            KILN_TRY(ox_iota(c, s.rank, a, i, 0, &ia));
            KILN_TRY(ox_iota(c, s.rank, b, j, 0, &ib));
            KILN_TRY(ox_binary(c, KILN_OP_EQ, ia, ib, &eye));
            KILN_TRY(ox_cast(c, eye, ox_dtype(c, *x), &eye));
            KILN_TRY(ox_binary(c, KILN_OP_MUL, *x, eye, &y));
            int64_t ax = j;
            KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, y, 1, &ax, 0, x));
            memmove(&t->l[j], &t->l[j + 1], (size_t)(t->n - j - 1));
            t->n--;
            j--;
        }
    return KILN_OK;
}

/* Sums away the letters of t that are not in `keep` (another operand or the output). */
static kiln_status ein_sum_unused(ox_ctx *c, ox_id *x, ein_term *t, const ein_term *o1, const ein_term *o2) {
    int64_t axes[EIN_MAX];
    int na = 0;
    ein_term kept = {0, {0}};
    for (int i = 0; i < t->n; i++) {
        if (ein_find(o1, t->l[i]) < 0 && (!o2 || ein_find(o2, t->l[i]) < 0)) axes[na++] = i;
        else kept.l[kept.n++] = t->l[i];
    }
    if (na) KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, *x, na, axes, 0, x));
    *t = kept;
    return KILN_OK;
}

/* Transposes x (letters t) into the order of letters `order` (all present). */
static kiln_status ein_permute(ox_ctx *c, ox_id *x, ein_term *t, const char *order, int n) {
    int64_t perm[EIN_MAX];
    for (int i = 0; i < n; i++) perm[i] = ein_find(t, order[i]);
    KILN_TRY(ox_transpose(c, *x, n, perm, x));
    memcpy(t->l, order, (size_t)n);
    return KILN_OK;
}

static kiln_dim dim_of(ox_ctx *c, ox_id x, const ein_term *t, char ch) { return OV(c, x)->shape.dims[ein_find(t, ch)]; }

OX_CONV(conv_einsum) {
    (void)nout;
    const char *eq = ox_attr_s(n, "equation", NULL);
    if (!eq) return ox_invalid(c, "attribute 'equation' is required");
    if (nin < 1 || nin > 2) return ox_unsupported(c, "einsum over %d operands", nin);
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    ein_term t[2], o;
    ox_id x[2];
    int ell = -1, k = 0;
    const char *p = eq;
    for (int i = 0; i < nin; i++) {
        OX_REQ(xi, i);
        x[i] = xi;
        const char *comma = memchr(p, ',', lhs_len - (size_t)(p - eq));
        size_t len = comma ? (size_t)(comma - p) : lhs_len - (size_t)(p - eq);
        if ((comma != NULL) != (i + 1 < nin)) return ox_invalid(c, "the equation names %s operands than given", comma ? "more" : "fewer");
        KILN_TRY(ein_parse(c, p, len, ox_rank(c, xi), &ell, &t[i]));
        p = comma ? comma + 1 : p + len;
        k++;
    }
    /* the output: explicit, or (implicit) the ellipsis then letters used once, sorted */
    if (arrow) {
        const char *q = arrow + 2;
        o.n = 0;
        for (; *q; q++) {
            if (*q == '.') {
                for (int e = 0; e < (ell > 0 ? ell : 0); e++) o.l[o.n++] = (char)('0' + e);
                q += 2;
            } else if (*q != ' ') {
                if (o.n == EIN_MAX) return ox_invalid(c, "too many output indices");
                o.l[o.n++] = *q;
            }
        }
    } else {
        o.n = 0;
        for (int e = 0; e < (ell > 0 ? ell : 0); e++) o.l[o.n++] = (char)('0' + e);
        for (char ch = 'A'; ch <= 'z'; ch++) {
            int uses = 0;
            for (int i = 0; i < k; i++)
                for (int j = 0; j < t[i].n; j++) uses += t[i].l[j] == ch;
            if (uses == 1 && o.n < EIN_MAX) o.l[o.n++] = ch;
        }
    }
    for (int i = 0; i < k; i++) KILN_TRY(ein_diagonal(c, &x[i], &t[i]));
    if (k == 1) {
        KILN_TRY(ein_sum_unused(c, &x[0], &t[0], &o, NULL));
        if (t[0].n != o.n) return ox_invalid(c, "the output names an index no operand has");
        KILN_TRY(ein_permute(c, &x[0], &t[0], o.l, o.n));
        out[0] = x[0];
        return KILN_OK;
    }
    /* two operands: sum each one's private indices, then one batched matmul
     * over [batch, left, contracted] x [batch, contracted, right] */
    KILN_TRY(ein_sum_unused(c, &x[0], &t[0], &o, &t[1]));
    KILN_TRY(ein_sum_unused(c, &x[1], &t[1], &o, &t[0]));
    char batch[EIN_MAX], left[EIN_MAX], right[EIN_MAX], con[EIN_MAX];
    int nb = 0, nl = 0, nr = 0, nc = 0;
    for (int i = 0; i < t[0].n; i++) {
        char ch = t[0].l[i];
        int in1 = ein_find(&t[1], ch) >= 0, ino = ein_find(&o, ch) >= 0;
        if (in1 && ino) batch[nb++] = ch;
        else if (in1) con[nc++] = ch;
        else left[nl++] = ch;
    }
    for (int i = 0; i < t[1].n; i++)
        if (ein_find(&t[0], t[1].l[i]) < 0) right[nr++] = t[1].l[i];
    char oa[EIN_MAX], ob[EIN_MAX];
    memcpy(oa, batch, (size_t)nb);
    memcpy(oa + nb, left, (size_t)nl);
    memcpy(oa + nb + nl, con, (size_t)nc);
    memcpy(ob, batch, (size_t)nb);
    memcpy(ob + nb, con, (size_t)nc);
    memcpy(ob + nb + nc, right, (size_t)nr);
    KILN_TRY(ein_permute(c, &x[0], &t[0], oa, nb + nl + nc));
    KILN_TRY(ein_permute(c, &x[1], &t[1], ob, nb + nc + nr));
    kiln_dim B = 1, L = 1, R = 1, K = 1, dims[EIN_MAX + 2];
    int nd = 0;
    for (int i = 0; i < nb; i++) {
        kiln_dim a = dim_of(c, x[0], &t[0], batch[i]), b = dim_of(c, x[1], &t[1], batch[i]);
        kiln_dim d = a == 1 ? b : a; /* a batch index of size 1 broadcasts */
        if (a != b && a != 1 && b != 1) return ox_invalid(c, "index '%c' has two sizes", batch[i]);
        if (a != b) { /* make both operands carry the full size */
            int which = a == 1 ? 0 : 1;
            kiln_shape s = OV(c, x[which])->shape;
            s.dims[i] = d;
            KILN_TRY(ox_expand(c, x[which], s.rank, s.dims, &x[which]));
        }
        B = kiln_dim_mul(c->g, B, d);
        dims[nd++] = d;
    }
    for (int i = 0; i < nl; i++) {
        kiln_dim d = dim_of(c, x[0], &t[0], left[i]);
        L = kiln_dim_mul(c->g, L, d);
        dims[nd++] = d;
    }
    for (int i = 0; i < nr; i++) {
        kiln_dim d = dim_of(c, x[1], &t[1], right[i]);
        R = kiln_dim_mul(c->g, R, d);
        dims[nd++] = d;
    }
    for (int i = 0; i < nc; i++) {
        kiln_dim a = dim_of(c, x[0], &t[0], con[i]), b = dim_of(c, x[1], &t[1], con[i]);
        if (a != b) return ox_invalid(c, "index '%c' has two sizes", con[i]);
        K = kiln_dim_mul(c->g, K, a);
    }
    if (B == KILN_DIM_INVALID || L == KILN_DIM_INVALID || R == KILN_DIM_INVALID || K == KILN_DIM_INVALID)
        return ox_unsupported(c, "shapes too complex");
    kiln_dim a3[3] = {B, L, K}, b3[3] = {B, K, R};
    ox_id y;
    KILN_TRY(ox_reshape(c, x[0], 3, a3, &x[0]));
    KILN_TRY(ox_reshape(c, x[1], 3, b3, &x[1]));
    KILN_TRY(ox_matmul(c, x[0], x[1], &y));
    ein_term yt;
    yt.n = 0;
    memcpy(yt.l, batch, (size_t)nb);
    memcpy(yt.l + nb, left, (size_t)nl);
    memcpy(yt.l + nb + nl, right, (size_t)nr);
    yt.n = nb + nl + nr;
    if (yt.n > KILN_MAX_RANK) return ox_unsupported(c, "too many indices");
    KILN_TRY(ox_reshape(c, y, nd, dims, &y));
    if (yt.n != o.n) return ox_invalid(c, "the output names an index no operand has");
    KILN_TRY(ein_permute(c, &y, &yt, o.l, o.n));
    out[0] = y;
    return KILN_OK;
}

/* ---- AffineGrid: theta [N, 2, 3] (or [N, 3, 4]) over a base grid --------------------------- */
OX_CONV(conv_affine_grid) {
    (void)nin;
    (void)nout;
    OX_REQ(theta, 0);
    OX_REQ(sz, 1);
    int64_t size[5];
    int k = ox_const_ints(c, sz, size, 5);
    if (k != 4 && k != 5) return ox_unsupported(c, "a size computed at run time");
    int nsp = k - 2, ac = (int)ox_attr_i(n, "align_corners", 0);
    int64_t P = 1;
    for (int i = 0; i < nsp; i++) {
        if (size[2 + i] < 1 || size[2 + i] > 65536) return ox_invalid(c, "size out of range");
        P *= size[2 + i];
    }
    if (P > (1 << 22)) return ox_unsupported(c, "a grid of %lld points", (long long)P);
    /* base [P, nsp + 1]: normalized x, y(, z) then 1; spatial order W fastest */
    kiln_tensor base;
    int64_t bs[2] = {P, nsp + 1};
    KILN_TRY(kiln_tensor_alloc(&base, ox_dtype(c, theta), 2, bs));
    for (int64_t p = 0; p < P; p++) {
        int64_t rem = p;
        for (int i = nsp - 1; i >= 0; i--) { /* i = last spatial (W) first */
            int64_t len = size[2 + i], pos = rem % len;
            rem /= len;
            double v = ac ? (len == 1 ? 0 : -1 + 2.0 * (double)pos / (double)(len - 1))
                          : (2.0 * (double)pos + 1) / (double)len - 1;
            /* coordinate order x (W), y (H), z (D) */
            kiln_store_f64(base.data, base.dtype, (size_t)(p * (nsp + 1) + (nsp - 1 - i)), v);
        }
        kiln_store_f64(base.data, base.dtype, (size_t)(p * (nsp + 1) + nsp), 1.0);
    }
    ox_id b, th, y;
    KILN_TRY(ox_from_tensor(c, &base, &b));
    int64_t perm[3] = {0, 2, 1};
    KILN_TRY(ox_transpose(c, theta, 3, perm, &th)); /* [N, nsp+1, nsp] */
    KILN_TRY(ox_matmul(c, b, th, &y));              /* [N, P, nsp] */
    kiln_dim od[6];
    od[0] = OV(c, theta)->shape.dims[0];
    for (int i = 0; i < nsp; i++) od[1 + i] = size[2 + i];
    od[1 + nsp] = nsp;
    return ox_reshape(c, y, nsp + 2, od, &out[0]);
}

/* ---- Col2Im: [N, C*K, L] blocks summed back into [N, C, spatial...] ---------------------- */
OX_CONV(conv_col2im) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(isz, 1);
    OX_REQ(bsz, 2);
    (void)nin;
    int64_t img[3], blk[3], dil[3], st[3], pads[6];
    int ni = ox_const_ints(c, isz, img, 3), nb = ox_const_ints(c, bsz, blk, 3);
    if (ni < 1 || ni != nb) return ox_unsupported(c, "image or block shape computed at run time");
    int nsp = ni;
    const int64_t *l;
    for (int i = 0; i < nsp; i++) dil[i] = st[i] = 1, pads[i] = pads[i + nsp] = 0;
    if (ox_attr_ints(n, "dilations", &l) == nsp) memcpy(dil, l, sizeof(int64_t) * (size_t)nsp);
    if (ox_attr_ints(n, "strides", &l) == nsp) memcpy(st, l, sizeof(int64_t) * (size_t)nsp);
    if (ox_attr_ints(n, "pads", &l) == 2 * nsp) memcpy(pads, l, sizeof(int64_t) * (size_t)(2 * nsp));
    kiln_shape xs = OV(c, x)->shape;
    if (xs.rank != 3 || !kiln_dim_is_const(xs.dims[1]) || !kiln_dim_is_const(xs.dims[2]))
        return ox_invalid(c, "input must be [N, C*K, L] with constant sizes");
    int64_t K = 1, P = 1, nblk[3], L = 1;
    for (int i = 0; i < nsp; i++) {
        if (blk[i] < 1 || img[i] < 1 || dil[i] < 1 || st[i] < 1 || img[i] > 65536) return ox_invalid(c, "bad sizes");
        K *= blk[i];
        P *= img[i];
        if (P > (1 << 22) || K > (1 << 22)) return ox_unsupported(c, "an image or block this large");
        nblk[i] = (img[i] + pads[i] + pads[i + nsp] - dil[i] * (blk[i] - 1) - 1) / st[i] + 1;
        L *= nblk[i];
    }
    if (xs.dims[1] % K || xs.dims[2] != L) return ox_invalid(c, "input does not match the block layout");
    int64_t C = xs.dims[1] / K, KL = K * L;
    /* for each image position, the (k, l) entries that land on it */
    int64_t *cnt = calloc((size_t)P, sizeof(int64_t)), depth = 0;
    if (!cnt) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        kiln_tensor tab;
        if (pass == 1) {
            int64_t ts[2] = {P, depth ? depth : 1};
            kiln_status s = kiln_tensor_alloc(&tab, KILN_I64, 2, ts);
            if (s) {
                free(cnt);
                return s;
            }
            for (int64_t i = 0; i < P * ts[1]; i++) ((int64_t *)tab.data)[i] = KL;
            memset(cnt, 0, sizeof(int64_t) * (size_t)P);
        }
        for (int64_t kk = 0; kk < K; kk++)
            for (int64_t ll = 0; ll < L; ll++) {
                int64_t kr = kk, lr = ll, pos = 0, inside = 1;
                int64_t ko[3], lo[3];
                for (int i = nsp - 1; i >= 0; i--) {
                    ko[i] = kr % blk[i], kr /= blk[i];
                    lo[i] = lr % nblk[i], lr /= nblk[i];
                }
                for (int i = 0; i < nsp; i++) {
                    int64_t v = lo[i] * st[i] + ko[i] * dil[i] - pads[i];
                    if (v < 0 || v >= img[i]) inside = 0;
                    pos = pos * img[i] + v;
                }
                if (!inside) continue;
                if (pass == 0) {
                    if (++cnt[pos] > depth) depth = cnt[pos];
                } else {
                    ((int64_t *)tab.data)[pos * (depth ? depth : 1) + cnt[pos]++] = kk * L + ll;
                }
            }
        if (pass == 1) {
            free(cnt);
            ox_id tv, flat, zero, parts[2], g;
            kiln_dim f3[3] = {xs.dims[0], C, KL}, z3[3] = {xs.dims[0], C, 1};
            int64_t three = 3;
            KILN_TRY(ox_from_tensor(c, &tab, &tv));
            KILN_TRY(ox_reshape(c, x, 3, f3, &flat));
            KILN_TRY(ox_like(c, x, 0, &zero));
            KILN_TRY(ox_expand(c, zero, 3, z3, &parts[1]));
            parts[0] = flat;
            KILN_TRY(ox_concat(c, 2, parts, 2, &flat));
            KILN_TRY(ox_gather(c, flat, tv, 2, &g)); /* [N, C, P, depth] */
            KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_SUM, g, 1, &three, 0, &g));
            kiln_dim od[5];
            od[0] = xs.dims[0];
            od[1] = C;
            for (int i = 0; i < nsp; i++) od[2 + i] = img[i];
            return ox_reshape(c, g, 2 + nsp, od, &out[0]);
        }
    }
    free(cnt);
    return ox_invalid(c, "unreachable");
}

/* ---- MaxUnpool: values written at their flat indices into zeros ------------------------ */
OX_CONV(conv_max_unpool) {
    (void)nout;
    OX_REQ(x, 0);
    OX_REQ(idx, 1);
    if (!ox_is_known(c, idx)) return ox_unsupported(c, "indices computed at run time");
    kiln_shape xs = OV(c, x)->shape;
    int nsp = xs.rank - 2;
    if (nsp < 1 || nsp > 3) return ox_invalid(c, "needs 1 to 3 spatial dims");
    for (int i = 0; i < xs.rank; i++)
        if (!kiln_dim_is_const(xs.dims[i])) return ox_unsupported(c, "symbolic dims");
    /* indices address the default unpooled shape; output_shape may pad it */
    int64_t os[5], ds[5];
    const int64_t *k, *s, *p;
    int nk = ox_attr_ints(n, "kernel_shape", &k), ns = ox_attr_ints(n, "strides", &s), np = ox_attr_ints(n, "pads", &p);
    if (nk != nsp) return ox_invalid(c, "kernel_shape is required");
    ds[0] = xs.dims[0];
    ds[1] = xs.dims[1];
    for (int i = 0; i < nsp; i++)
        ds[2 + i] = (xs.dims[2 + i] - 1) * (ns == nsp ? s[i] : 1) - (np == 2 * nsp ? p[i] + p[i + nsp] : 0) + k[i];
    memcpy(os, ds, sizeof os);
    ox_id osh = ox_in(in, nin, 2);
    if (osh != OX_NONE && ox_const_ints(c, osh, os, 5) != xs.rank) return ox_unsupported(c, "output_shape computed at run time");
    int64_t dtotal = 1;
    for (int i = 0; i < xs.rank; i++) {
        if (ds[i] < 1 || ds[i] > os[i]) return ox_invalid(c, "output_shape is smaller than the unpooled shape");
        dtotal *= ds[i];
    }
    int64_t total = 1;
    for (int i = 0; i < xs.rank; i++) {
        if (os[i] < 1 || os[i] > OX_MAX_DIM) return ox_invalid(c, "output size out of range");
        total *= os[i];
    }
    if (total > (1 << 22)) return ox_unsupported(c, "an output of %lld elements", (long long)total);
    const kiln_tensor *it = &OV(c, idx)->k;
    int64_t ni = kiln_tensor_numel(it);
    kiln_tensor map, mask;
    KILN_TRY(kiln_tensor_alloc(&map, KILN_I64, 1, &total));
    kiln_status st = kiln_tensor_alloc(&mask, KILN_BOOL, 1, &total);
    if (st) {
        kiln_tensor_release(&map);
        return st;
    }
    for (int64_t i = 0; i < ni; i++) {
        int64_t v = kiln_load_i64(it->data, it->dtype, (size_t)i);
        if (v >= 0 && v < dtotal) { /* re-address in the output's layout */
            int64_t rem = v, coord[5], flat = 0;
            for (int d = xs.rank - 1; d >= 0; d--) coord[d] = rem % ds[d], rem /= ds[d];
            for (int d = 0; d < xs.rank; d++) flat = flat * os[d] + coord[d];
            v = flat;
        } else {
            v = -1;
        }
        if (v < 0 || v >= total) {
            kiln_tensor_release(&map);
            kiln_tensor_release(&mask);
            return ox_invalid(c, "index %lld is outside the output", (long long)v);
        }
        ((int64_t *)map.data)[v] = i;
        ((uint8_t *)mask.data)[v] = 1;
    }
    ox_id mv, kv, flat, g, zero, y;
    kiln_dim nx = 1;
    for (int i = 0; i < xs.rank; i++) nx *= xs.dims[i];
    KILN_TRY(ox_from_tensor(c, &map, &mv));
    KILN_TRY(ox_from_tensor(c, &mask, &kv));
    KILN_TRY(ox_reshape(c, x, 1, &nx, &flat));
    KILN_TRY(ox_gather(c, flat, mv, 0, &g));
    KILN_TRY(ox_like(c, x, 0, &zero));
    KILN_TRY(ox_where(c, kv, g, zero, &y));
    kiln_dim od[5];
    for (int i = 0; i < xs.rank; i++) od[i] = os[i];
    return ox_reshape(c, y, xs.rank, od, &out[0]);
}

/* ---- Det: the Leibniz sum over permutations (matrices up to 5 x 5) ------------------------- */
OX_CONV(conv_det) {
    (void)n;
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    kiln_shape s = OV(c, x)->shape;
    if (s.rank < 2 || s.dims[s.rank - 1] != s.dims[s.rank - 2] || !kiln_dim_is_const(s.dims[s.rank - 1]))
        return ox_invalid(c, "needs square matrices of constant size");
    int m = (int)s.dims[s.rank - 1];
    if (m > 5) return ox_unsupported(c, "determinants of %d x %d matrices", m, m);
    if (m == 0) return ox_like(c, x, 1, &out[0]);
    int perm[5] = {0, 1, 2, 3, 4};
    ox_id acc = OX_NONE;
    for (;;) {
        /* sign by counting inversions */
        int inv = 0;
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++) inv += perm[i] > perm[j];
        ox_id term = OX_NONE;
        for (int i = 0; i < m; i++) {
            ox_id e;
            KILN_TRY(ox_slice(c, x, s.rank - 2, i, i + 1, 1, &e));
            KILN_TRY(ox_slice(c, e, s.rank - 1, perm[i], perm[i] + 1, 1, &e));
            if (term == OX_NONE) term = e;
            else KILN_TRY(ox_binary(c, KILN_OP_MUL, term, e, &term));
        }
        if (inv % 2) KILN_TRY(ox_unary(c, KILN_OP_NEG, term, &term));
        if (acc == OX_NONE) acc = term;
        else KILN_TRY(ox_binary(c, KILN_OP_ADD, acc, term, &acc));
        /* next permutation (lexicographic) */
        int i = m - 2;
        while (i >= 0 && perm[i] > perm[i + 1]) i--;
        if (i < 0) break;
        int j = m - 1;
        while (perm[j] < perm[i]) j--;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        for (int a = i + 1, b = m - 1; a < b; a++, b--) t = perm[a], perm[a] = perm[b], perm[b] = t;
    }
    int64_t ax[2] = {s.rank - 2, s.rank - 1};
    return ox_squeeze(c, acc, 2, ax, &out[0]);
}

/* ---- ReverseSequence: x[t, b] <- x[len[b] - 1 - t, b] for t < len[b] --------------------- */
OX_CONV(conv_reverse_sequence) {
    (void)nout;
    (void)nin;
    OX_REQ(x, 0);
    OX_REQ(lens, 1);
    kiln_shape s = OV(c, x)->shape;
    int ta, ba;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "time_axis", 0), s.rank, "time_axis", &ta));
    KILN_TRY(ox_axis(c, ox_attr_i(n, "batch_axis", 1), s.rank, "batch_axis", &ba));
    if (ta == ba || s.rank < 2) return ox_invalid(c, "time and batch axes must differ");
    kiln_dim td[KILN_MAX_RANK], bd[KILN_MAX_RANK];
    for (int i = 0; i < s.rank; i++) td[i] = bd[i] = 1;
    td[ta] = s.dims[ta];
    bd[ba] = s.dims[ba];
    ox_id t, l, rev, keep, idx;
    KILN_TRY(ox_iota(c, s.rank, td, ta, 0, &t));
    KILN_TRY(ox_cast(c, lens, KILN_I64, &l));
    KILN_TRY(ox_reshape(c, l, s.rank, bd, &l));
    KILN_TRY(ox_binary(c, KILN_OP_SUB, l, t, &rev));
    KILN_TRY(ox_binary_s(c, KILN_OP_SUB, rev, 1, &rev));
    KILN_TRY(ox_binary(c, KILN_OP_LT, t, l, &keep));
    KILN_TRY(ox_where(c, keep, rev, t, &idx));
    KILN_TRY(ox_expand(c, idx, s.rank, s.dims, &idx));
    ox_id pair[2] = {x, idx};
    kiln_named_attr a = kiln_a_int("axis", ta);
    return ox_op(c, KILN_OP_GATHER_ELEMENTS, 2, pair, 1, &a, &out[0]);
}

/* ---- BitCast of known data ---------------------------------------------------------------- */
OX_CONV(conv_bitcast) {
    (void)nin;
    (void)nout;
    OX_REQ(x, 0);
    kiln_dtype to;
    KILN_TRY(onnx_to_kiln_dtype((int)ox_attr_i(n, "to", 0), &to));
    if (!ox_is_known(c, x)) return ox_unsupported(c, "bit-casting data computed at run time");
    const kiln_tensor *t = &OV(c, x)->k;
    if (kiln_dtype_size(to) != kiln_dtype_size(t->dtype)) return ox_unsupported(c, "bit-casting between sizes");
    kiln_tensor r;
    KILN_TRY(kiln_tensor_alloc(&r, to, t->rank, t->shape));
    memcpy(r.data, t->data, r.nbytes);
    if (to == KILN_BOOL)
        for (size_t i = 0; i < r.nbytes; i++) ((uint8_t *)r.data)[i] = ((uint8_t *)r.data)[i] != 0;
    return ox_from_tensor(c, &r, &out[0]);
}

/* If with a condition known at import time: the chosen branch is inlined
 * (exporters emit such Ifs on shape tests). */
OX_CONV(conv_if) {
    OX_REQ(cond, 0);
    (void)nin;
    double v;
    if (!ox_const_f64(c, cond, &v)) return ox_unsupported(c, "a condition computed at run time (control flow)");
    const onnx_attr *br = onnx_node_attr(n, v != 0 ? "then_branch" : "else_branch");
    if (!br || !br->g) return ox_invalid(c, "attribute '%s' is missing", v != 0 ? "then_branch" : "else_branch");
    return ox_inline_graph(c, br->g, 0, NULL, out, nout);
}

/* Unique of data known at import time (its output size depends on the
 * values): unique elements or slices along `axis`, sorted or in order of
 * first occurrence, with indices, inverse indices and counts. */
typedef struct uq {
    const kiln_tensor *t;
    int64_t outer, len, inner; /* items are [outer, inner] slices at axis position i */
} uq;

static int uq_cmp(const uq *u, int64_t a, int64_t b) {
    int fl = kiln_dtype_is_float(u->t->dtype);
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t i = 0; i < u->inner; i++) {
            size_t ia = (size_t)((o * u->len + a) * u->inner + i), ib = (size_t)((o * u->len + b) * u->inner + i);
            if (fl) {
                double x = kiln_load_f64(u->t->data, u->t->dtype, ia), y = kiln_load_f64(u->t->data, u->t->dtype, ib);
                if (x != y) return x < y ? -1 : 1;
            } else {
                int64_t x = kiln_load_i64(u->t->data, u->t->dtype, ia), y = kiln_load_i64(u->t->data, u->t->dtype, ib);
                if (x != y) return x < y ? -1 : 1;
            }
        }
    return 0;
}

OX_CONV(conv_unique) {
    (void)nin;
    OX_REQ(x, 0);
    if (!ox_is_known(c, x)) return ox_unsupported(c, "Unique of data computed at run time (data-dependent shape)");
    const kiln_tensor *t = &OV(c, x)->k;
    uq u = {t, 1, kiln_tensor_numel(t), 1};
    int has_axis = ox_has_attr(n, "axis"), axis = 0, sorted = (int)ox_attr_i(n, "sorted", 1);
    if (has_axis) {
        KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), t->rank, "axis", &axis));
        ref_split_dims(t, axis, &u.outer, &u.len, &u.inner);
    }
    if (u.len > 65536) return ox_unsupported(c, "Unique over %lld items", (long long)u.len);
    int64_t *first = malloc(sizeof(int64_t) * (size_t)(u.len ? u.len : 1) * 3);
    if (!first) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int64_t *which = first + u.len, *count = which + u.len, nu = 0;
    for (int64_t i = 0; i < u.len; i++) { /* first occurrences, in order */
        int64_t j = 0;
        while (j < nu && uq_cmp(&u, first[j], i)) j++;
        if (j == nu) {
            first[nu] = i;
            count[nu++] = 0;
        }
        which[i] = j;
        count[j]++;
    }
    int64_t *order = malloc(sizeof(int64_t) * (size_t)(nu ? nu : 1) * 2);
    if (!order) {
        free(first);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    int64_t *rank_of = order + nu;
    for (int64_t j = 0; j < nu; j++) order[j] = j;
    if (sorted) /* insertion sort of the unique items by value */
        for (int64_t i = 1; i < nu; i++)
            for (int64_t k = i; k > 0 && uq_cmp(&u, first[order[k - 1]], first[order[k]]) > 0; k--) {
                int64_t tmp = order[k];
                order[k] = order[k - 1];
                order[k - 1] = tmp;
            }
    for (int64_t j = 0; j < nu; j++) rank_of[order[j]] = j;
    kiln_status st = KILN_OK;
    kiln_tensor y, idx, inv, cnt;
    int64_t ys[KILN_MAX_RANK];
    int yr = has_axis ? t->rank : 1;
    for (int i = 0; i < yr; i++) ys[i] = has_axis ? (i == axis ? nu : t->shape[i]) : nu;
    st = kiln_tensor_alloc(&y, t->dtype, yr, ys);
    size_t es = kiln_dtype_size(t->dtype);
    for (int64_t j = 0; !st && j < nu; j++)
        for (int64_t o = 0; o < u.outer; o++)
            memcpy((char *)y.data + ((o * nu + j) * u.inner) * es, (const char *)t->data + ((o * u.len + first[order[j]]) * u.inner) * es,
                   (size_t)u.inner * es);
    ox_id outs[4] = {OX_NONE, OX_NONE, OX_NONE, OX_NONE};
    if (!st) st = ox_from_tensor(c, &y, &outs[0]);
    if (!st && !(st = kiln_tensor_alloc(&idx, KILN_I64, 1, &nu))) {
        for (int64_t j = 0; j < nu; j++) ((int64_t *)idx.data)[j] = first[order[j]];
        st = ox_from_tensor(c, &idx, &outs[1]);
    }
    if (!st && !(st = kiln_tensor_alloc(&inv, KILN_I64, 1, &u.len))) {
        for (int64_t i = 0; i < u.len; i++) ((int64_t *)inv.data)[i] = rank_of[which[i]];
        st = ox_from_tensor(c, &inv, &outs[2]);
    }
    if (!st && !(st = kiln_tensor_alloc(&cnt, KILN_I64, 1, &nu))) {
        for (int64_t j = 0; j < nu; j++) ((int64_t *)cnt.data)[j] = count[order[j]];
        st = ox_from_tensor(c, &cnt, &outs[3]);
    }
    free(first);
    free(order);
    for (int i = 0; !st && i < nout && i < 4; i++) out[i] = outs[i];
    return st;
}

const ox_converter ox_misc_ops[] = {
    {"Unique", conv_unique},
    {"If", conv_if},
    {"HannWindow", conv_window},         {"HammingWindow", conv_window},
    {"BlackmanWindow", conv_window},     {"CenterCropPad", conv_center_crop_pad},
    {"LRN", conv_lrn},                   {"Einsum", conv_einsum},
    {"AffineGrid", conv_affine_grid},    {"Col2Im", conv_col2im},
    {"MaxUnpool", conv_max_unpool},      {"Det", conv_det},
    {"ReverseSequence", conv_reverse_sequence}, {"BitCast", conv_bitcast},
    {NULL, NULL},
};
