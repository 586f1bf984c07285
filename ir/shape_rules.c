/* Shape and dtype rules for every op: the only place that knows how an
 * op's output type follows from its inputs and attributes. */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "shape_rules.h"

#define IN(i) (kiln_graph_node(g, n->inputs[i]))
#define HAS(i) (n->ninputs > (i) && n->inputs[i] != KILN_NONE)
#define A(i) (n->attrs[i])

static kiln_status norm_axis(kiln_graph *g, kiln_node *n, int64_t *axis, int rank, const char *what) {
    int64_t a = *axis;
    if (a < -rank || a >= (rank ? rank : 1))
        return node_error(g, n, KILN_ERR_SHAPE, "%s %lld is out of range for rank %d", what, (long long)a, rank);
    *axis = a < 0 ? a + rank : a;
    return KILN_OK;
}

kiln_status kiln_broadcast_shapes(kiln_graph *g, const kiln_shape *a, const kiln_shape *b, kiln_shape *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    kiln_shape o;
    o.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        kiln_dim da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1) o.dims[i] = da;
        else if (da == 1) o.dims[i] = db;
        else {
            char s1[256], s2[256];
            return kiln_error(KILN_ERR_SHAPE, "shapes %s and %s do not broadcast",
                              kiln_shape_str(g, a, s1, sizeof s1), kiln_shape_str(g, b, s2, sizeof s2));
        }
    }
    *out = o;
    return KILN_OK;
}

kiln_status infer_source(kiln_graph *g, kiln_node *n) {
    (void)g;
    (void)n;
    return KILN_OK; /* dtype and shape are given when the node is made */
}

kiln_status infer_iota(kiln_graph *g, kiln_node *n) {
    int rank = A(0).n;
    if (rank > KILN_MAX_RANK) return node_error(g, n, KILN_ERR_LIMIT, "rank %d exceeds %d", rank, KILN_MAX_RANK);
    n->shape.rank = rank;
    for (int i = 0; i < rank; i++) n->shape.dims[i] = A(0).list[i];
    KILN_TRY(norm_axis(g, n, &n->attrs[1].i, rank, "axis"));
    n->dtype = (kiln_dtype)A(3).i;
    if (n->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "cannot produce bool");
    return KILN_OK;
}

static kiln_status unary(kiln_graph *g, kiln_node *n, int want_float, int want_bool) {
    kiln_node *x = IN(0);
    if (want_float && !kiln_dtype_is_float(x->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "needs a floating-point input, got %s", kiln_dtype_name(x->dtype));
    if (want_bool && x->dtype != KILN_BOOL)
        return node_error(g, n, KILN_ERR_TYPE, "needs a bool input, got %s", kiln_dtype_name(x->dtype));
    if (!want_bool && x->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool input");
    n->dtype = x->dtype;
    n->shape = x->shape;
    return KILN_OK;
}

kiln_status infer_unary_num(kiln_graph *g, kiln_node *n) { return unary(g, n, 0, 0); }
kiln_status infer_unary_float(kiln_graph *g, kiln_node *n) { return unary(g, n, 1, 0); }
kiln_status infer_unary_bool(kiln_graph *g, kiln_node *n) { return unary(g, n, 0, 1); }

kiln_status infer_cast(kiln_graph *g, kiln_node *n) {
    n->dtype = (kiln_dtype)A(0).i;
    n->shape = IN(0)->shape;
    return KILN_OK;
}

/* Broadcast all inputs from `first` on into n->shape. */
static kiln_status broadcast_inputs(kiln_graph *g, kiln_node *n, int first) {
    kiln_shape s = IN(first)->shape;
    for (int i = first + 1; i < n->ninputs; i++) {
        kiln_status st = kiln_broadcast_shapes(g, &s, &IN(i)->shape, &s);
        if (st) return node_wrap(g, n, st);
    }
    n->shape = s;
    return KILN_OK;
}

static kiln_status same_dtype(kiln_graph *g, kiln_node *n, int a, int b) {
    if (IN(a)->dtype != IN(b)->dtype)
        return node_error(g, n, KILN_ERR_TYPE, "input dtypes differ: %s and %s", kiln_dtype_name(IN(a)->dtype),
                          kiln_dtype_name(IN(b)->dtype));
    return KILN_OK;
}

kiln_status infer_binary_num(kiln_graph *g, kiln_node *n) {
    KILN_TRY(same_dtype(g, n, 0, 1));
    if (IN(0)->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool inputs");
    n->dtype = IN(0)->dtype;
    return broadcast_inputs(g, n, 0);
}

kiln_status infer_compare(kiln_graph *g, kiln_node *n) {
    KILN_TRY(same_dtype(g, n, 0, 1));
    n->dtype = KILN_BOOL;
    return broadcast_inputs(g, n, 0);
}

kiln_status infer_binary_bool(kiln_graph *g, kiln_node *n) {
    KILN_TRY(same_dtype(g, n, 0, 1));
    if (IN(0)->dtype != KILN_BOOL)
        return node_error(g, n, KILN_ERR_TYPE, "needs bool inputs, got %s", kiln_dtype_name(IN(0)->dtype));
    n->dtype = KILN_BOOL;
    return broadcast_inputs(g, n, 0);
}

kiln_status infer_where(kiln_graph *g, kiln_node *n) {
    if (IN(0)->dtype != KILN_BOOL)
        return node_error(g, n, KILN_ERR_TYPE, "condition must be bool, got %s", kiln_dtype_name(IN(0)->dtype));
    KILN_TRY(same_dtype(g, n, 1, 2));
    n->dtype = IN(1)->dtype;
    return broadcast_inputs(g, n, 0);
}

kiln_status infer_reduce(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    int rank = x->shape.rank;
    if (x->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool input");
    if (A(0).n > rank) return node_error(g, n, KILN_ERR_SHAPE, "%d axes given for rank %d", A(0).n, rank);
    int64_t axes[KILN_MAX_RANK];
    int reduced[KILN_MAX_RANK] = {0};
    for (int i = 0; i < A(0).n; i++) {
        axes[i] = A(0).list[i];
        KILN_TRY(norm_axis(g, n, &axes[i], rank, "axis"));
        if (reduced[axes[i]]) return node_error(g, n, KILN_ERR_SHAPE, "axis %lld repeated", (long long)axes[i]);
        reduced[axes[i]] = 1;
    }
    /* store sorted, normalised axes */
    int64_t *sorted = graph_alloc(g, sizeof(int64_t) * (size_t)(A(0).n ? A(0).n : 1));
    if (!sorted) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (reduced[i]) sorted[k++] = i;
    n->attrs[0].list = sorted;
    n->dtype = x->dtype;
    n->shape.rank = 0;
    for (int i = 0; i < rank; i++) {
        if (!reduced[i]) n->shape.dims[n->shape.rank++] = x->shape.dims[i];
        else if (A(1).i) n->shape.dims[n->shape.rank++] = 1;
    }
    return KILN_OK;
}

kiln_status infer_arg(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    int rank = x->shape.rank;
    KILN_TRY(norm_axis(g, n, &n->attrs[0].i, rank, "axis"));
    if (x->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool input");
    n->dtype = KILN_I64;
    n->shape.rank = 0;
    for (int i = 0; i < rank; i++) {
        if (i != A(0).i) n->shape.dims[n->shape.rank++] = x->shape.dims[i];
        else if (A(1).i) n->shape.dims[n->shape.rank++] = 1;
    }
    return KILN_OK;
}

kiln_status infer_matmul(kiln_graph *g, kiln_node *n) {
    kiln_node *a = IN(0), *b = IN(1);
    char s1[256], s2[256];
    KILN_TRY(same_dtype(g, n, 0, 1));
    if (a->dtype == KILN_BOOL) return node_error(g, n, KILN_ERR_TYPE, "does not take bool inputs");
    if (a->shape.rank < 2 || b->shape.rank < 2)
        return node_error(g, n, KILN_ERR_SHAPE, "inputs need rank >= 2, got %s and %s",
                          kiln_shape_str(g, &a->shape, s1, sizeof s1), kiln_shape_str(g, &b->shape, s2, sizeof s2));
    int tb = A(0).kind == KILN_ATTR_BOOL && A(0).i; /* b is [..., N, K] */
    kiln_dim k1 = a->shape.dims[a->shape.rank - 1], k2 = b->shape.dims[b->shape.rank - (tb ? 1 : 2)];
    if (k1 != k2)
        return node_error(g, n, KILN_ERR_SHAPE, "inner dimensions differ: %s @ %s",
                          kiln_shape_str(g, &a->shape, s1, sizeof s1), kiln_shape_str(g, &b->shape, s2, sizeof s2));
    kiln_shape ba = a->shape, bb = b->shape, out;
    ba.rank -= 2;
    bb.rank -= 2;
    kiln_status s = kiln_broadcast_shapes(g, &ba, &bb, &out);
    if (s) return node_wrap(g, n, kiln_error_wrap(s, "batch dimensions"));
    out.dims[out.rank++] = a->shape.dims[a->shape.rank - 2];
    out.dims[out.rank++] = b->shape.dims[b->shape.rank - (tb ? 2 : 1)];
    n->dtype = a->dtype;
    n->shape = out;
    return KILN_OK;
}

kiln_status infer_gather(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0), *idx = IN(1);
    if (!kiln_dtype_is_int(idx->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "indices must be integers, got %s", kiln_dtype_name(idx->dtype));
    KILN_TRY(norm_axis(g, n, &n->attrs[0].i, x->shape.rank, "axis"));
    int axis = (int)A(0).i;
    int rank = x->shape.rank - 1 + idx->shape.rank;
    if (rank > KILN_MAX_RANK) return node_error(g, n, KILN_ERR_LIMIT, "result rank %d exceeds %d", rank, KILN_MAX_RANK);
    kiln_shape o;
    o.rank = 0;
    for (int i = 0; i < axis; i++) o.dims[o.rank++] = x->shape.dims[i];
    for (int i = 0; i < idx->shape.rank; i++) o.dims[o.rank++] = idx->shape.dims[i];
    for (int i = axis + 1; i < x->shape.rank; i++) o.dims[o.rank++] = x->shape.dims[i];
    n->dtype = x->dtype;
    n->shape = o;
    return KILN_OK;
}

kiln_status infer_concat(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    KILN_TRY(norm_axis(g, n, &n->attrs[0].i, x->shape.rank, "axis"));
    int axis = (int)A(0).i;
    kiln_shape o = x->shape;
    for (int i = 1; i < n->ninputs; i++) {
        kiln_node *y = IN(i);
        char s1[256], s2[256];
        if (y->dtype != x->dtype)
            return node_error(g, n, KILN_ERR_TYPE, "input %d is %s, input 0 is %s", i, kiln_dtype_name(y->dtype),
                              kiln_dtype_name(x->dtype));
        int ok = y->shape.rank == o.rank;
        for (int d = 0; ok && d < o.rank; d++)
            if (d != axis && y->shape.dims[d] != o.dims[d]) ok = 0;
        if (!ok)
            return node_error(g, n, KILN_ERR_SHAPE, "input %d has shape %s, incompatible with %s on axis %d", i,
                              kiln_shape_str(g, &y->shape, s1, sizeof s1),
                              kiln_shape_str(g, &x->shape, s2, sizeof s2), axis);
        o.dims[axis] = kiln_dim_add(g, o.dims[axis], y->shape.dims[axis]);
        if (o.dims[axis] == KILN_DIM_INVALID)
            return node_error(g, n, KILN_ERR_LIMIT, "symbolic dimension too complex");
    }
    n->dtype = x->dtype;
    n->shape = o;
    return KILN_OK;
}

kiln_status infer_slice(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    KILN_TRY(norm_axis(g, n, &n->attrs[0].i, x->shape.rank, "axis"));
    int axis = (int)A(0).i;
    kiln_dim size = x->shape.dims[axis], start = A(1).i, end = A(2).i;
    int64_t step = A(3).i;
    if (step == 0) return node_error(g, n, KILN_ERR_INVALID, "step must not be 0");
    kiln_dim len;
    if (kiln_dim_is_const(size) && kiln_dim_is_const(start) && kiln_dim_is_const(end)) {
        /* Python/ONNX semantics: negative bounds count from the end; clamp */
        int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? size : size - 1;
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = start < lo ? lo : start > hi ? hi : start;
        end = end < lo ? lo : end > hi ? hi : end;
        int64_t l = step > 0 ? (end - start + step - 1) / step : (start - end + (-step) - 1) / (-step);
        len = l < 0 ? 0 : l;
        /* a clamped -1 means "before index 0"; store it as -size-1 so that
         * normalising again (verifier, text round trip) keeps that meaning */
        if (start == -1) start = -size - 1;
        if (end == -1) end = -size - 1;
    } else {
        /* symbolic: bounds must already be in range, and the step 1 */
        if (step != 1) return node_error(g, n, KILN_ERR_UNSUPPORTED, "step %lld on a symbolic dimension", (long long)step);
        if (kiln_dim_is_const(start) && start < 0) start = kiln_dim_add(g, size, start);
        if (kiln_dim_is_const(end) && end < 0) end = kiln_dim_add(g, size, end);
        len = kiln_dim_sub(g, end, start);
        if (len == KILN_DIM_INVALID) return node_error(g, n, KILN_ERR_LIMIT, "symbolic dimension too complex");
        if (kiln_dim_is_const(len) && len < 0) return node_error(g, n, KILN_ERR_SHAPE, "slice end is before its start");
    }
    n->attrs[1].i = start;
    n->attrs[2].i = end;
    n->dtype = x->dtype;
    n->shape = x->shape;
    n->shape.dims[axis] = len;
    return KILN_OK;
}

kiln_status infer_reshape(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    char s1[256], s2[256];
    kiln_shape o;
    if (A(0).n > KILN_MAX_RANK) return node_error(g, n, KILN_ERR_LIMIT, "rank %d exceeds %d", A(0).n, KILN_MAX_RANK);
    o.rank = A(0).n;
    for (int i = 0; i < o.rank; i++) {
        o.dims[i] = A(0).list[i];
        if (kiln_dim_is_const(o.dims[i]) && o.dims[i] < 0)
            return node_error(g, n, KILN_ERR_SHAPE, "negative dimension %lld in target shape", (long long)o.dims[i]);
    }
    if (kiln_shape_numel_dim(g, &o) != kiln_shape_numel_dim(g, &x->shape))
        return node_error(g, n, KILN_ERR_SHAPE, "cannot reshape %s to %s: element counts differ",
                          kiln_shape_str(g, &x->shape, s1, sizeof s1), kiln_shape_str(g, &o, s2, sizeof s2));
    n->dtype = x->dtype;
    n->shape = o;
    return KILN_OK;
}

kiln_status infer_transpose(kiln_graph *g, kiln_node *n) {
    kiln_node *x = IN(0);
    int rank = x->shape.rank, seen[KILN_MAX_RANK] = {0};
    if (A(0).n != rank) return node_error(g, n, KILN_ERR_SHAPE, "perm has %d entries for rank %d", A(0).n, rank);
    for (int i = 0; i < rank; i++) {
        int64_t p = A(0).list[i];
        if (p < 0 || p >= rank || seen[p]) return node_error(g, n, KILN_ERR_SHAPE, "perm is not a permutation");
        seen[p] = 1;
        n->shape.dims[i] = x->shape.dims[p];
    }
    n->shape.rank = rank;
    n->dtype = x->dtype;
    return KILN_OK;
}

kiln_status infer_expand(kiln_graph *g, kiln_node *n) {
    kiln_shape target;
    if (A(0).n > KILN_MAX_RANK) return node_error(g, n, KILN_ERR_LIMIT, "rank %d exceeds %d", A(0).n, KILN_MAX_RANK);
    target.rank = A(0).n;
    for (int i = 0; i < target.rank; i++) target.dims[i] = A(0).list[i];
    kiln_status s = kiln_broadcast_shapes(g, &IN(0)->shape, &target, &n->shape);
    if (s) return node_wrap(g, n, s);
    n->dtype = IN(0)->dtype;
    return KILN_OK;
}

kiln_status infer_unary_axis(kiln_graph *g, kiln_node *n) {
    KILN_TRY(unary(g, n, 1, 0));
    return norm_axis(g, n, &n->attrs[0].i, n->shape.rank, "axis");
}

/* layer_norm(x, weight?, bias?), rms_norm(x, weight?): over the last axis */
kiln_status infer_norm(kiln_graph *g, kiln_node *n) {
    KILN_TRY(unary(g, n, 1, 0));
    kiln_node *x = IN(0);
    if (x->shape.rank < 1) return node_error(g, n, KILN_ERR_SHAPE, "needs rank >= 1");
    kiln_dim d = x->shape.dims[x->shape.rank - 1];
    for (int i = 1; i < n->ninputs; i++) {
        if (!HAS(i)) continue;
        kiln_node *w = IN(i);
        char s1[256], s2[256];
        if (w->dtype != x->dtype)
            return node_error(g, n, KILN_ERR_TYPE, "%s is %s, input is %s", i == 1 ? "weight" : "bias",
                              kiln_dtype_name(w->dtype), kiln_dtype_name(x->dtype));
        if (w->shape.rank != 1 || w->shape.dims[0] != d)
            return node_error(g, n, KILN_ERR_SHAPE, "%s has shape %s, expected [%s]", i == 1 ? "weight" : "bias",
                              kiln_shape_str(g, &w->shape, s1, sizeof s1), kiln_dim_str(g, d, s2, sizeof s2));
    }
    if (A(0).f < 0) return node_error(g, n, KILN_ERR_INVALID, "eps must not be negative");
    return KILN_OK;
}

/* rope(x [..., S, D], positions [S]) */
kiln_status infer_rope(kiln_graph *g, kiln_node *n) {
    KILN_TRY(unary(g, n, 1, 0));
    kiln_node *x = IN(0), *p = IN(1);
    char s1[256], s2[256];
    if (x->shape.rank < 2) return node_error(g, n, KILN_ERR_SHAPE, "input needs rank >= 2");
    if (!kiln_dtype_is_int(p->dtype))
        return node_error(g, n, KILN_ERR_TYPE, "positions must be integers, got %s", kiln_dtype_name(p->dtype));
    kiln_dim s = x->shape.dims[x->shape.rank - 2], d = x->shape.dims[x->shape.rank - 1];
    if (p->shape.rank != 1 || p->shape.dims[0] != s)
        return node_error(g, n, KILN_ERR_SHAPE, "positions have shape %s, expected [%s]",
                          kiln_shape_str(g, &p->shape, s1, sizeof s1), kiln_dim_str(g, s, s2, sizeof s2));
    if (!kiln_dim_is_const(d)) return node_error(g, n, KILN_ERR_SHAPE, "head size must be a constant");
    if (A(2).i == 0) n->attrs[2].i = d;
    if (A(2).i < 0 || A(2).i > d || A(2).i % 2)
        return node_error(g, n, KILN_ERR_SHAPE, "rotary_dim %lld must be even and at most the head size %lld",
                          (long long)A(2).i, (long long)d);
    if (A(0).f <= 0) return node_error(g, n, KILN_ERR_INVALID, "theta must be positive");
    return KILN_OK;
}

/* attention(q [B,H,S,D], k [B,Hk,T,D], v [B,Hk,T,Dv], mask?) */
kiln_status infer_attention(kiln_graph *g, kiln_node *n) {
    kiln_node *q = IN(0), *k = IN(1), *v = IN(2);
    char s1[256], s2[256], s3[256];
    if (!kiln_dtype_is_float(q->dtype)) return node_error(g, n, KILN_ERR_TYPE, "needs floating-point q, k, v");
    KILN_TRY(same_dtype(g, n, 0, 1));
    KILN_TRY(same_dtype(g, n, 0, 2));
    if (q->shape.rank != 4 || k->shape.rank != 4 || v->shape.rank != 4)
        return node_error(g, n, KILN_ERR_SHAPE, "q, k, v must be [batch, heads, seq, head_dim], got %s, %s, %s",
                          kiln_shape_str(g, &q->shape, s1, sizeof s1), kiln_shape_str(g, &k->shape, s2, sizeof s2),
                          kiln_shape_str(g, &v->shape, s3, sizeof s3));
    const kiln_dim *qd = q->shape.dims, *kd = k->shape.dims, *vd = v->shape.dims;
    int ok = qd[0] == kd[0] && kd[0] == vd[0] && kd[1] == vd[1] && kd[2] == vd[2] && qd[3] == kd[3];
    if (ok && kiln_dim_is_const(qd[1]) && kiln_dim_is_const(kd[1])) ok = kd[1] > 0 && qd[1] % kd[1] == 0;
    else if (ok) ok = qd[1] == kd[1];
    if (!ok)
        return node_error(g, n, KILN_ERR_SHAPE,
                          "incompatible q %s, k %s, v %s (batch must agree, q heads a multiple of k/v heads)",
                          kiln_shape_str(g, &q->shape, s1, sizeof s1), kiln_shape_str(g, &k->shape, s2, sizeof s2),
                          kiln_shape_str(g, &v->shape, s3, sizeof s3));
    if (HAS(3)) {
        kiln_node *m = IN(3);
        if (m->dtype != KILN_BOOL && m->dtype != q->dtype)
            return node_error(g, n, KILN_ERR_TYPE, "mask must be bool or %s, got %s", kiln_dtype_name(q->dtype),
                              kiln_dtype_name(m->dtype));
        kiln_shape scores = {4, {qd[0], qd[1], qd[2], kd[2]}}, b;
        kiln_status s = kiln_broadcast_shapes(g, &m->shape, &scores, &b);
        if (s || !kiln_shape_equal(&b, &scores)) {
            kiln_status_free(s);
            return node_error(g, n, KILN_ERR_SHAPE, "mask shape %s does not broadcast to the scores %s",
                              kiln_shape_str(g, &m->shape, s1, sizeof s1), kiln_shape_str(g, &scores, s2, sizeof s2));
        }
    }
    n->dtype = q->dtype;
    n->shape = (kiln_shape){4, {qd[0], qd[1], qd[2], vd[3]}};
    return KILN_OK;
}

/* rel_pos_bucket(query_positions [S], key_positions [T]) -> i64 [S, T] */
kiln_status infer_rel_bucket(kiln_graph *g, kiln_node *n) {
    kiln_node *q = IN(0), *k = IN(1);
    if (!kiln_dtype_is_int(q->dtype) || !kiln_dtype_is_int(k->dtype) || q->shape.rank != 1 || k->shape.rank != 1)
        return node_error(g, n, KILN_ERR_TYPE, "needs two integer position vectors");
    int64_t nb = A(1).i, md = A(2).i;
    if (nb < 2 || md < 1 || (A(0).i && nb < 4))
        return node_error(g, n, KILN_ERR_INVALID, "num_buckets %lld / max_distance %lld out of range", (long long)nb,
                          (long long)md);
    n->dtype = KILN_I64;
    n->shape = (kiln_shape){2, {q->shape.dims[0], k->shape.dims[0]}};
    return KILN_OK;
}
