/* Small builders over ox_op used by the converters, attribute access, and
 * the ONNX <-> kiln dtype mapping. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

/* ---- errors -------------------------------------------------------------------- */
kiln_status ox_unsupported(ox_ctx *c, const char *fmt, ...) {
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = kiln_errorv(KILN_ERR_UNSUPPORTED, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status ox_invalid(ox_ctx *c, const char *fmt, ...) {
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = kiln_errorv(KILN_ERR_INVALID, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status ox_req(ox_ctx *c, const ox_id *in, int nin, int i, ox_id *out) {
    if (i >= nin || in[i] == OX_NONE) return ox_invalid(c, "input %d is required", i);
    *out = in[i];
    return KILN_OK;
}

/* ---- attributes ---------------------------------------------------------------- */
int ox_has_attr(const onnx_node *n, const char *name) { return onnx_node_attr(n, name) != NULL; }

int64_t ox_attr_i(const onnx_node *n, const char *name, int64_t dflt) {
    const onnx_attr *a = onnx_node_attr(n, name);
    if (!a) return dflt;
    if (a->type == ONNX_ATTR_FLOAT) { /* a float where an int is expected: truncate, saturating */
        double f = a->f;
        return f != f ? 0 : f >= 4e18 ? INT64_C(4000000000000000000) : f <= -4e18 ? -INT64_C(4000000000000000000) : (int64_t)f;
    }
    return a->i;
}

double ox_attr_f(const onnx_node *n, const char *name, double dflt) {
    const onnx_attr *a = onnx_node_attr(n, name);
    if (!a) return dflt;
    if (a->type == ONNX_ATTR_INT) return (double)a->i;
    return a->f;
}

const char *ox_attr_s(const onnx_node *n, const char *name, const char *dflt) {
    const onnx_attr *a = onnx_node_attr(n, name);
    return a && a->s ? a->s : dflt;
}

int ox_attr_ints(const onnx_node *n, const char *name, const int64_t **out) {
    const onnx_attr *a = onnx_node_attr(n, name);
    if (!a) return -1;
    *out = a->ints;
    return (int)a->n_ints;
}

kiln_status ox_axis(ox_ctx *c, int64_t axis, int rank, const char *what, int *out) {
    if (axis < -rank || axis >= (rank ? rank : 1))
        return ox_invalid(c, "%s %lld is out of range for rank %d", what, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

/* ---- dtypes -------------------------------------------------------------------- */
kiln_status onnx_to_kiln_dtype(int t, kiln_dtype *out) {
    switch (t) {
    case ONNX_FLOAT: *out = KILN_F32; return KILN_OK;
    case ONNX_UINT8: *out = KILN_U8; return KILN_OK;
    case ONNX_INT8: *out = KILN_I8; return KILN_OK;
    case ONNX_UINT16: *out = KILN_U16; return KILN_OK;
    case ONNX_INT16: *out = KILN_I16; return KILN_OK;
    case ONNX_INT32: *out = KILN_I32; return KILN_OK;
    case ONNX_INT64: *out = KILN_I64; return KILN_OK;
    case ONNX_BOOL: *out = KILN_BOOL; return KILN_OK;
    case ONNX_FLOAT16: *out = KILN_F16; return KILN_OK;
    case ONNX_DOUBLE: *out = KILN_F64; return KILN_OK;
    case ONNX_UINT32: *out = KILN_U32; return KILN_OK;
    case ONNX_UINT64: *out = KILN_U64; return KILN_OK;
    case ONNX_BFLOAT16: *out = KILN_BF16; return KILN_OK;
    default: return kiln_error(KILN_ERR_UNSUPPORTED, "element type %s is not supported", onnx_dtype_name(t));
    }
}

int kiln_to_onnx_dtype(kiln_dtype t) {
    static const int map[KILN_DTYPE_COUNT] = {
        [KILN_F32] = ONNX_FLOAT,   [KILN_F16] = ONNX_FLOAT16, [KILN_BF16] = ONNX_BFLOAT16, [KILN_F64] = ONNX_DOUBLE,
        [KILN_I8] = ONNX_INT8,     [KILN_I16] = ONNX_INT16,   [KILN_I32] = ONNX_INT32,     [KILN_I64] = ONNX_INT64,
        [KILN_U8] = ONNX_UINT8,    [KILN_U16] = ONNX_UINT16,  [KILN_U32] = ONNX_UINT32,    [KILN_U64] = ONNX_UINT64,
        [KILN_BOOL] = ONNX_BOOL,
    };
    return (unsigned)t < KILN_DTYPE_COUNT ? map[t] : ONNX_UNDEFINED;
}

/* ---- builders ------------------------------------------------------------------ */
kiln_status ox_unary(ox_ctx *c, kiln_op op, ox_id x, ox_id *out) { return ox_op(c, op, 1, &x, 0, NULL, out); }

kiln_status ox_binary(ox_ctx *c, kiln_op op, ox_id a, ox_id b, ox_id *out) {
    ox_id in[2] = {a, b};
    return ox_op(c, op, 2, in, 0, NULL, out);
}

kiln_status ox_like(ox_ctx *c, ox_id x, double v, ox_id *out) { return ox_scalar(c, ox_dtype(c, x), v, out); }

kiln_status ox_binary_s(ox_ctx *c, kiln_op op, ox_id a, double s, ox_id *out) {
    ox_id k;
    KILN_TRY(ox_like(c, a, s, &k));
    return ox_binary(c, op, a, k, out);
}

kiln_status ox_where(ox_ctx *c, ox_id cond, ox_id a, ox_id b, ox_id *out) {
    ox_id in[3] = {cond, a, b};
    return ox_op(c, KILN_OP_WHERE, 3, in, 0, NULL, out);
}

kiln_status ox_cast(ox_ctx *c, ox_id x, kiln_dtype dt, ox_id *out) {
    if (ox_dtype(c, x) == dt) {
        *out = x;
        return KILN_OK;
    }
    kiln_named_attr a = kiln_a_dtype("dtype", dt);
    return ox_op(c, KILN_OP_CAST, 1, &x, 1, &a, out);
}

kiln_status ox_reshape(ox_ctx *c, ox_id x, int rank, const kiln_dim *dims, ox_id *out) {
    ox_val *v = OV(c, x);
    if (v->shape.rank == rank) {
        int same = 1;
        for (int i = 0; i < rank; i++) same &= v->shape.dims[i] == dims[i];
        if (same) {
            *out = x;
            return KILN_OK;
        }
    }
    kiln_named_attr a = kiln_a_dims("shape", rank, dims);
    return ox_op(c, KILN_OP_RESHAPE, 1, &x, 1, &a, out);
}

kiln_status ox_transpose(ox_ctx *c, ox_id x, int rank, const int64_t *perm, ox_id *out) {
    int ident = 1;
    for (int i = 0; i < rank; i++) ident &= perm[i] == i;
    if (ident && rank == ox_rank(c, x)) {
        *out = x;
        return KILN_OK;
    }
    kiln_named_attr a = kiln_a_ints("perm", rank, perm);
    return ox_op(c, KILN_OP_TRANSPOSE, 1, &x, 1, &a, out);
}

kiln_status ox_slice(ox_ctx *c, ox_id x, int axis, kiln_dim start, kiln_dim end, int64_t step, ox_id *out) {
    kiln_named_attr a[4] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end),
                            kiln_a_int("step", step)};
    return ox_op(c, KILN_OP_SLICE, 1, &x, 4, a, out);
}

kiln_status ox_concat(ox_ctx *c, int n, const ox_id *xs, int axis, ox_id *out) {
    if (n == 1) {
        *out = xs[0];
        return KILN_OK;
    }
    kiln_named_attr a = kiln_a_int("axis", axis);
    /* ox_op takes at most 16 inputs: concatenate in groups */
    if (n > 16) {
        int np = 0;
        ox_id *parts = malloc(sizeof(ox_id) * (size_t)((n + 15) / 16));
        if (!parts) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        kiln_status s = KILN_OK;
        for (int i = 0; i < n && !s; i += 16) {
            int k = n - i < 16 ? n - i : 16;
            s = ox_concat(c, k, xs + i, axis, &parts[np++]);
        }
        if (!s) s = ox_concat(c, np, parts, axis, out);
        free(parts);
        return s;
    }
    return ox_op(c, KILN_OP_CONCAT, n, xs, 1, &a, out);
}

kiln_status ox_expand(ox_ctx *c, ox_id x, int rank, const kiln_dim *dims, ox_id *out) {
    kiln_named_attr a = kiln_a_dims("shape", rank, dims);
    return ox_op(c, KILN_OP_EXPAND, 1, &x, 1, &a, out);
}

kiln_status ox_gather(ox_ctx *c, ox_id x, ox_id idx, int axis, ox_id *out) {
    ox_id in[2] = {x, idx};
    kiln_named_attr a = kiln_a_int("axis", axis);
    return ox_op(c, KILN_OP_GATHER, 2, in, 1, &a, out);
}

/* attrs in the order axes, keepdims: the symbolic path relies on it */
kiln_status ox_reduce(ox_ctx *c, kiln_op op, ox_id x, int naxes, const int64_t *axes, int keepdims, ox_id *out) {
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keepdims)};
    return ox_op(c, op, 1, &x, 2, a, out);
}

kiln_status ox_matmul(ox_ctx *c, ox_id a, ox_id b, ox_id *out) { return ox_binary(c, KILN_OP_MATMUL, a, b, out); }

kiln_status ox_unsqueeze(ox_ctx *c, ox_id x, int naxes, const int64_t *axes, ox_id *out) {
    ox_val *v = OV(c, x);
    int rank = v->shape.rank + naxes;
    if (rank > KILN_MAX_RANK) return ox_unsupported(c, "rank %d exceeds %d", rank, KILN_MAX_RANK);
    int is_new[KILN_MAX_RANK] = {0};
    for (int i = 0; i < naxes; i++) {
        int a = 0;
        KILN_TRY(ox_axis(c, axes[i], rank, "axis", &a));
        if (is_new[a]) return ox_invalid(c, "axis %lld repeated", (long long)axes[i]);
        is_new[a] = 1;
    }
    kiln_dim dims[KILN_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++) dims[i] = is_new[i] ? 1 : v->shape.dims[k++];
    return ox_reshape(c, x, rank, dims, out);
}

kiln_status ox_squeeze(ox_ctx *c, ox_id x, int naxes, const int64_t *axes, ox_id *out) {
    ox_val *v = OV(c, x);
    int rank = v->shape.rank, drop[KILN_MAX_RANK] = {0};
    for (int i = 0; i < naxes; i++) {
        int a = 0;
        KILN_TRY(ox_axis(c, axes[i], rank, "axis", &a));
        if (v->shape.dims[a] != 1) {
            char buf[64];
            return ox_invalid(c, "cannot squeeze axis %d of size %s", a,
                              kiln_dim_str(c->g, v->shape.dims[a], buf, sizeof buf));
        }
        drop[a] = 1;
    }
    kiln_dim dims[KILN_MAX_RANK];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (!drop[i]) dims[k++] = v->shape.dims[i];
    return ox_reshape(c, x, k, dims, out);
}

kiln_status ox_iota(ox_ctx *c, int rank, const kiln_dim *shape, int axis, kiln_dim start, ox_id *out) {
    kiln_named_attr a[4] = {kiln_a_dims("shape", rank, shape), kiln_a_int("axis", axis), kiln_a_dim("start", start),
                            kiln_a_dtype("dtype", KILN_I64)};
    return ox_op(c, KILN_OP_IOTA, 0, NULL, 4, a, out);
}
