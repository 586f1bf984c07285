/* Shape rules of the ops added for the ONNX importer: bitwise ops, scans
 * (cumsum, cumprod), gather_elements and topk. */
#include "graph_internal.h"
#include "shape_rules.h"

#define IN(i) (kiln_graph_node(g, n->inputs[i]))
#define A(i) (n->attrs[i])

static kiln_status axis_in_range(kiln_graph *g, kiln_node *n, int64_t *axis, int rank) {
    int64_t a = *axis;
    if (a < -rank || a >= (rank ? rank : 1))
        return node_error(g, n, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a, rank);
    *axis = a < 0 ? a + rank : a;
    return KILN_OK;
}

kiln_status infer_unary_int(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    if (!kiln_dtype_is_int(x->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "needs an integer input, got %s", kiln_dtype_name(x->dtype));
    n->dtype = x->dtype;
    n->shape = x->shape;
    return KILN_OK;
}

kiln_status infer_binary_int(kiln_graph *g, kiln_node *n) {
    kiln_node *a = IN(0), *b = IN(1);
    if (a->dtype != b->dtype)
        return node_error(g, n, KILN_ERR_TYPE, "input dtypes differ: %s and %s", kiln_dtype_name(a->dtype),
                          kiln_dtype_name(b->dtype));
    if (!kiln_dtype_is_int(a->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "needs integer inputs, got %s", kiln_dtype_name(a->dtype));
    kiln_status s = kiln_broadcast_shapes(g, &a->shape, &b->shape, &n->shape);
    if (s) return node_wrap(g, n, s);
    n->dtype = a->dtype;
    return KILN_OK;
}

/* cumsum / cumprod (x; axis exclusive reverse): same dtype and shape */
kiln_status infer_cumulative(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    if (x->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool input");
    if (x->shape.rank < 1) return node_error(g, n, KILN_ERR_SHAPE, "needs rank >= 1");
    KILN_TRY(axis_in_range(g, n, &n->attrs[0].i, x->shape.rank));
    n->dtype = x->dtype;
    n->shape = x->shape;
    return KILN_OK;
}

/* gather_elements(data, indices): indices has data's rank; the result has
 * the indices' shape. Off the axis, an indices dim may not exceed data's. */
kiln_status infer_gather_elements(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0), *idx = IN(1);
    char s1[256], s2[256];
    if (!kiln_dtype_is_int(idx->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "indices must be integers, got %s", kiln_dtype_name(idx->dtype));
    if (idx->shape.rank != x->shape.rank || x->shape.rank < 1)
        return node_error(g, n, KILN_ERR_SHAPE, "indices %s must have the rank of data %s (>= 1)",
                          kiln_shape_str(g, &idx->shape, s1, sizeof s1), kiln_shape_str(g, &x->shape, s2, sizeof s2));
    KILN_TRY(axis_in_range(g, n, &n->attrs[0].i, x->shape.rank));
    for (int d = 0; d < x->shape.rank; d++) {
        if (d == A(0).i) continue;
        kiln_dim a = idx->shape.dims[d], b = x->shape.dims[d];
        int ok = a == b || (kiln_dim_is_const(a) && kiln_dim_is_const(b) && a <= b);
        if (!ok)
            return node_error(g, n, KILN_ERR_SHAPE, "indices %s exceed data %s on axis %d",
                              kiln_shape_str(g, &idx->shape, s1, sizeof s1), kiln_shape_str(g, &x->shape, s2, sizeof s2), d);
    }
    n->dtype = x->dtype;
    n->shape = idx->shape;
    return KILN_OK;
}

/* topk(x; k axis largest) -> i64 indices of the k largest (smallest)
 * elements along axis, in order; the axis dim becomes k. */
kiln_status infer_topk(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    if (x->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool input");
    if (x->shape.rank < 1) return node_error(g, n, KILN_ERR_SHAPE, "needs rank >= 1");
    KILN_TRY(axis_in_range(g, n, &n->attrs[1].i, x->shape.rank));
    kiln_dim k = A(0).i, len = x->shape.dims[A(1).i];
    if (kiln_dim_is_const(k) && k < 0) return node_error(g, n, KILN_ERR_SHAPE, "k %lld is negative", (long long)k);
    if (kiln_dim_is_const(k) && kiln_dim_is_const(len) && k > len)
        return node_error(g, n, KILN_ERR_SHAPE, "k %lld exceeds the axis size %lld", (long long)k, (long long)len);
    n->dtype = KILN_I64;
    n->shape = x->shape;
    n->shape.dims[A(1).i] = k;
    return KILN_OK;
}
