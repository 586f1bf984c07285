/* Helpers shared by the reference kernels: errors, strided iteration,
 * conversions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

kiln_status ref_error(const ref_ctx *c, kiln_code code, const char *fmt, ...) {
    char msg[1024], loc[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kiln_loc_str(c->n->loc, loc, sizeof loc);
    /* the value number, when the node lives in the graph (eval_node may get a copy) */
    char id[32] = "";
    for (int v = 0; c->g && v < kiln_graph_node_count(c->g); v++)
        if (kiln_graph_node(c->g, v) == c->n) snprintf(id, sizeof id, " %%%d", v);
    if (loc[0]) return kiln_error(code, "%s: %s%s: %s", loc, kiln_op_name(c->n->op), id, msg);
    return kiln_error(code, "%s%s: %s", kiln_op_name(c->n->op), id, msg);
}

void ref_strides(int rank, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
}

void ref_iter_init(ref_iter *it, int rank, const int64_t *shape) {
    memset(it, 0, sizeof *it);
    it->rank = rank;
    it->remaining = 1;
    for (int d = 0; d < rank; d++) {
        it->shape[d] = shape[d];
        it->remaining *= shape[d];
    }
}

void ref_iter_operand(ref_iter *it, int k, const int64_t *stride, int64_t base) {
    for (int d = 0; d < it->rank; d++) it->stride[k][d] = stride[d];
    it->off[k] = base;
    if (k >= it->nops) it->nops = k + 1;
}

kiln_status ref_iter_broadcast(const ref_ctx *c, ref_iter *it, int k, const kiln_tensor *t) {
    int64_t own[KILN_MAX_RANK], stride[KILN_MAX_RANK];
    if (t->rank > it->rank)
        return ref_error(c, KILN_ERR_SHAPE, "operand %d has rank %d, more than the result's %d", k, t->rank, it->rank);
    ref_strides(t->rank, t->shape, own);
    int lead = it->rank - t->rank;
    for (int d = 0; d < it->rank; d++) {
        if (d < lead) {
            stride[d] = 0;
            continue;
        }
        int64_t td = t->shape[d - lead];
        if (td == it->shape[d]) stride[d] = td == 1 ? 0 : own[d - lead];
        else if (td == 1) stride[d] = 0;
        else
            return ref_error(c, KILN_ERR_SHAPE, "operand %d has size %lld on dim %d, which does not broadcast to %lld",
                             k, (long long)td, d - lead, (long long)it->shape[d]);
    }
    ref_iter_operand(it, k, stride, 0);
    return KILN_OK;
}

void ref_iter_next(ref_iter *it) {
    if (it->remaining <= 0) return;
    it->remaining--;
    for (int d = it->rank - 1; d >= 0; d--) {
        if (++it->idx[d] < it->shape[d]) {
            for (int k = 0; k < it->nops; k++) it->off[k] += it->stride[k][d];
            return;
        }
        /* carry: rewind this dim */
        for (int k = 0; k < it->nops; k++) it->off[k] -= it->stride[k][d] * (it->shape[d] - 1);
        it->idx[d] = 0;
    }
}

double *ref_load_all(const kiln_tensor *t) {
    size_t n = (size_t)kiln_tensor_numel(t);
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) p[i] = kiln_load_f64(t->data, t->dtype, i);
    return p;
}

int64_t ref_f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

int64_t ref_int_min(kiln_dtype t) {
    const kiln_dtype_info *info = kiln_dtype_get(t);
    if (!info || !info->is_signed || t == KILN_BOOL) return 0;
    int bits = (int)info->size * 8;
    return bits >= 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
}

int64_t ref_int_max(kiln_dtype t) {
    const kiln_dtype_info *info = kiln_dtype_get(t);
    if (!info) return 0;
    if (t == KILN_BOOL) return 1;
    int bits = (int)info->size * 8 - (info->is_signed ? 1 : 0);
    return bits >= 63 ? INT64_MAX : (INT64_C(1) << bits) - 1;
}

void ref_split_axis(const kiln_tensor *t, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= t->shape[d];
    for (int d = axis + 1; d < t->rank; d++) *inner *= t->shape[d];
    *len = t->shape[axis];
}
