/* Reductions: ReduceSum/Mean/Max/Min/Prod and the composed ones (L1, L2,
 * LogSum, LogSumExp, SumSquare), ArgMax/ArgMin. Axes come from an
 * attribute before opset 13 (18 for all but ReduceSum) and from a
 * constant input after; with no axes everything is reduced, unless
 * noop_with_empty_axes asks for no reduction at all. */
#include <math.h>
#include <string.h>

#include "onnx_import.h"

static int is_op(const onnx_node *n, const char *s) { return strcmp(n->op_type, s) == 0; }

/* The reduced axes, normalised; *naxes = -1 means "all". */
static kiln_status reduce_axes(ox_ctx *c, const onnx_node *n, const ox_id *in, int nin, int rank, int64_t *axes,
                               int *naxes) {
    int from_input = is_op(n, "ReduceSum") ? c->opset >= 13 : c->opset >= 18;
    int count = -1;
    int64_t raw[KILN_MAX_RANK];
    if (from_input) {
        ox_id a = ox_in(in, nin, 1);
        if (a != OX_NONE) {
            count = ox_const_ints(c, a, raw, KILN_MAX_RANK);
            if (count < 0) return ox_unsupported(c, "axes computed at run time");
        }
    } else {
        const int64_t *list;
        int k = ox_attr_ints(n, "axes", &list);
        if (k > KILN_MAX_RANK) return ox_invalid(c, "%d axes for rank %d", k, rank);
        for (int i = 0; i < k; i++) raw[i] = list[i];
        count = k;
    }
    if (count <= 0) {
        int noop = from_input ? (int)ox_attr_i(n, "noop_with_empty_axes", 0) : 0;
        *naxes = noop ? 0 : rank;
        for (int i = 0; i < rank; i++) axes[i] = i;
        return KILN_OK;
    }
    if (count > rank) return ox_invalid(c, "%d axes for rank %d", count, rank);
    for (int i = 0; i < count; i++) {
        int a;
        KILN_TRY(ox_axis(c, raw[i], rank, "axis", &a));
        axes[i] = a;
    }
    *naxes = count;
    return KILN_OK;
}

OX_CONV(conv_reduce) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x), naxes = 0, keep = (int)ox_attr_i(n, "keepdims", 1);
    int64_t axes[KILN_MAX_RANK];
    KILN_TRY(reduce_axes(c, n, in, nin, rank, axes, &naxes));
    kiln_dtype dt = ox_dtype(c, x);
    ox_id y = x, m = OX_NONE;
    if (dt == KILN_BOOL) { /* max = any, min = all: reduce 0/1 bytes */
        if (!is_op(n, "ReduceMax") && !is_op(n, "ReduceMin")) return ox_invalid(c, "does not take bool input");
        KILN_TRY(ox_cast(c, x, KILN_U8, &y));
    }
    kiln_op op = KILN_OP_REDUCE_SUM;
    if (is_op(n, "ReduceMean")) op = KILN_OP_REDUCE_MEAN;
    else if (is_op(n, "ReduceMax")) op = KILN_OP_REDUCE_MAX;
    else if (is_op(n, "ReduceMin")) op = KILN_OP_REDUCE_MIN;
    else if (is_op(n, "ReduceProd")) op = KILN_OP_REDUCE_PROD;
    else if (is_op(n, "ReduceL1")) KILN_TRY(ox_unary(c, KILN_OP_ABS, y, &y));
    else if (is_op(n, "ReduceL2") || is_op(n, "ReduceSumSquare")) KILN_TRY(ox_binary(c, KILN_OP_MUL, y, y, &y));
    else if (is_op(n, "ReduceLogSumExp")) { /* log(sum(exp(x - max))) + max */
        if (!kiln_dtype_is_float(dt)) return ox_invalid(c, "needs a floating-point input");
        KILN_TRY(ox_reduce(c, KILN_OP_REDUCE_MAX, y, naxes, axes, 1, &m));
        ox_id zero, fin, am;
        KILN_TRY(ox_like(c, m, 0, &zero));
        /* a lane whose max is infinite (or that is empty) shifts by 0 instead */
        KILN_TRY(ox_unary(c, KILN_OP_ABS, m, &am));
        KILN_TRY(ox_binary_s(c, KILN_OP_LT, am, INFINITY, &fin));
        KILN_TRY(ox_where(c, fin, m, zero, &m));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, y, m, &y));
        KILN_TRY(ox_unary(c, KILN_OP_EXP, y, &y));
    }
    KILN_TRY(ox_reduce(c, op, y, naxes, axes, keep, &y));
    if (is_op(n, "ReduceL2")) KILN_TRY(ox_unary(c, KILN_OP_SQRT, y, &y));
    if (is_op(n, "ReduceLogSum") || is_op(n, "ReduceLogSumExp")) KILN_TRY(ox_unary(c, KILN_OP_LOG, y, &y));
    if (m != OX_NONE) {
        if (!keep) KILN_TRY(ox_squeeze(c, m, naxes, axes, &m));
        KILN_TRY(ox_binary(c, KILN_OP_ADD, y, m, &y));
    }
    if (dt == KILN_BOOL) KILN_TRY(ox_cast(c, y, KILN_BOOL, &y));
    out[0] = y;
    return KILN_OK;
}

/* ArgMax/ArgMin; select_last_index reverses the axis and maps back. */
OX_CONV(conv_argreduce) {
    (void)nout;
    OX_REQ(x, 0);
    int rank = ox_rank(c, x), axis;
    KILN_TRY(ox_axis(c, ox_attr_i(n, "axis", 0), rank, "axis", &axis));
    int keep = (int)ox_attr_i(n, "keepdims", 1), last = (int)ox_attr_i(n, "select_last_index", 0);
    kiln_op op = is_op(n, "ArgMax") ? KILN_OP_ARGMAX : KILN_OP_ARGMIN;
    kiln_dim len = OV(c, x)->shape.dims[axis];
    if (last) {
        if (!kiln_dim_is_const(len)) return ox_unsupported(c, "select_last_index on a symbolic axis");
        KILN_TRY(ox_slice(c, x, axis, -1, -len - 1, -1, &x));
    }
    kiln_named_attr a[2] = {kiln_a_int("axis", axis), kiln_a_bool("keepdims", keep)};
    ox_id y;
    KILN_TRY(ox_op(c, op, 1, &x, 2, a, &y));
    if (last) { /* index i of the reversed axis is len - 1 - i */
        ox_id top;
        KILN_TRY(ox_scalar_i(c, KILN_I64, len - 1, &top));
        KILN_TRY(ox_binary(c, KILN_OP_SUB, top, y, &y));
    }
    out[0] = y;
    return KILN_OK;
}

const ox_converter ox_reduce_ops[] = {
    {"ReduceSum", conv_reduce},       {"ReduceMean", conv_reduce},      {"ReduceMax", conv_reduce},
    {"ReduceMin", conv_reduce},       {"ReduceProd", conv_reduce},      {"ReduceL1", conv_reduce},
    {"ReduceL2", conv_reduce},        {"ReduceLogSum", conv_reduce},    {"ReduceLogSumExp", conv_reduce},
    {"ReduceSumSquare", conv_reduce}, {"ArgMax", conv_argreduce},       {"ArgMin", conv_argreduce},
    {NULL, NULL},
};
