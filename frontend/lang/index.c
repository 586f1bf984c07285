/* Subscripts: lst[i], lst[a:b], and Python-style tensor indexing
 * x[:, -1], x[..., 0:64], x[0] built from slice and reshape. */
#include <string.h>

#include "lang_internal.h"

static kiln_status list_index(eval *ev, vlist *l, const expr *it, val *out) {
    if (it->k == X_ELLIPSIS) return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_TYPE, "'...' needs a tensor");
    if (it->k != X_SLICE) {
        val iv;
        KILN_TRY(eval_expr(ev, it, &iv));
        if (iv.k != V_INT || !kiln_dim_is_const(iv.i))
            return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_TYPE, "a list index must be a constant integer, got %s",
                               val_type_name(&iv));
        int64_t i = iv.i < 0 ? iv.i + l->n : iv.i;
        if (i < 0 || i >= l->n)
            return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_INVALID,
                               "list index %lld is out of range for a list of %d", (long long)iv.i, l->n);
        *out = l->v[i];
        return KILN_OK;
    }
    int64_t b[3] = {0, l->n, 1};
    const expr *parts[3] = {it->a, it->b, it->c};
    for (int k = 0; k < 3; k++) {
        if (!parts[k]) continue;
        val v;
        KILN_TRY(eval_expr(ev, parts[k], &v));
        if (v.k == V_NONE) continue;
        if (v.k != V_INT || !kiln_dim_is_const(v.i))
            return ev_error_at(ev, parts[k]->file, parts[k]->line, parts[k]->col, KILN_ERR_TYPE,
                               "list slice bounds must be constant integers");
        b[k] = v.i;
    }
    if (b[2] != 1) return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_UNSUPPORTED, "list slices take no step");
    for (int k = 0; k < 2; k++) {
        if (b[k] < 0) b[k] += l->n;
        if (b[k] < 0) b[k] = 0;
        if (b[k] > l->n) b[k] = l->n;
    }
    int n = b[1] > b[0] ? (int)(b[1] - b[0]) : 0;
    vlist *r = list_new(ev, n);
    if (!r) return ev_oom(ev);
    if (n) memcpy(r->v, l->v + b[0], sizeof(val) * (size_t)n);
    out->k = V_LIST;
    out->l = r;
    return KILN_OK;
}

/* A slice bound as a dim: constants pass through (the slice op handles
 * negative ones), none means the default. */
static kiln_status bound(eval *ev, const expr *e, int *given, kiln_dim *out) {
    *given = 0;
    if (!e) return KILN_OK;
    val v;
    KILN_TRY(eval_expr(ev, e, &v));
    if (v.k == V_NONE) return KILN_OK;
    if (v.k != V_INT) return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_TYPE, "a slice bound must be an integer, got %s", val_type_name(&v));
    *given = 1;
    *out = v.i;
    return KILN_OK;
}

static kiln_status tensor_index(eval *ev, kiln_value x, int n, const expr *const *items, val *out) {
    kiln_node *node = kiln_graph_node(ev->g, x);
    int rank = node->shape.rank;
    kiln_dim dims[KILN_MAX_RANK];
    memcpy(dims, node->shape.dims, sizeof dims);
    int nell = 0, nreal = 0;
    for (int i = 0; i < n; i++) {
        if (items[i]->k == X_ELLIPSIS) nell++;
        else nreal++;
    }
    const expr *first = items[0];
    if (nell > 1) return ev_error_at(ev, first->file, first->line, first->col, KILN_ERR_INVALID, "only one '...' per subscript");
    if (nreal > rank)
        return ev_error_at(ev, first->file, first->line, first->col, KILN_ERR_SHAPE,
                           "%d indices for a tensor of rank %d", nreal, rank);
    /* a single integer tensor selects rows: gather along axis 0 */
    val pre;
    int have_pre = 0;
    if (n == 1 && items[0]->k != X_SLICE && items[0]->k != X_ELLIPSIS) {
        val iv;
        KILN_TRY(eval_expr(ev, items[0], &iv));
        pre = iv;
        have_pre = 1;
        if (iv.k == V_TENSOR) {
            kiln_value r;
            ev_set_loc(ev, first->file, first->line, first->col);
            KILN_TRY(ev_build(ev, KILN_OP_GATHER, 2, (kiln_value[]){x, iv.t}, 0, NULL, &r));
            *out = v_tensor(r);
            return KILN_OK;
        }
    }
    int drop[KILN_MAX_RANK] = {0};
    kiln_value cur = x;
    int axis = 0;
    for (int i = 0; i < n; i++) {
        const expr *it = items[i];
        if (it->k == X_ELLIPSIS) {
            axis += rank - nreal;
            continue;
        }
        kiln_dim size = dims[axis];
        if (it->k == X_SLICE) {
            int g0, g1, g2;
            kiln_dim start = 0, end = size, stepv = 1;
            KILN_TRY(bound(ev, it->a, &g0, &start));
            KILN_TRY(bound(ev, it->b, &g1, &end));
            KILN_TRY(bound(ev, it->c, &g2, &stepv));
            if (!kiln_dim_is_const(stepv) || stepv == 0)
                return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_INVALID, "a slice step must be a non-zero constant");
            if (stepv < 0) {
                if (!g0) start = -1;
                if (!g1) end = -(INT64_C(1) << 40); /* before the start: clamps to the beginning */
            }
            if (g0 || g1 || stepv != 1) {
                ev_set_loc(ev, it->file, it->line, it->col);
                KILN_TRY(ev_slice(ev, cur, axis, start, end, stepv, &cur));
            }
        } else {
            val iv = pre;
            if (!have_pre) KILN_TRY(eval_expr(ev, it, &iv));
            if (iv.k != V_INT)
                return ev_error_at(ev, it->file, it->line, it->col, KILN_ERR_TYPE,
                                   "a tensor index must be an integer, a slice or '...', got %s", val_type_name(&iv));
            ev_set_loc(ev, it->file, it->line, it->col);
            kiln_dim start = iv.i;
            if (kiln_dim_is_const(start) && kiln_dim_is_const(size)) {
                if (start < -size || start >= size)
                    return ev_error(ev, KILN_ERR_SHAPE, "index %lld is out of range for axis %d of size %lld",
                                    (long long)start, axis, (long long)size);
                if (start < 0) start += size;
            } else if (kiln_dim_is_const(start) && start < 0) {
                KILN_TRY(ev_dim_arith(ev, T_PLUS, size, start, &start));
            }
            kiln_dim end;
            KILN_TRY(ev_dim_arith(ev, T_PLUS, start, 1, &end));
            KILN_TRY(ev_slice(ev, cur, axis, start, end, 1, &cur));
            drop[axis] = 1;
        }
        axis++;
    }
    int any = 0;
    kiln_node *cn = kiln_graph_node(ev->g, cur);
    kiln_dim keep[KILN_MAX_RANK];
    int nk = 0;
    for (int i = 0; i < rank; i++) {
        if (drop[i]) any = 1;
        else keep[nk++] = cn->shape.dims[i];
    }
    if (any) KILN_TRY(ev_reshape(ev, cur, nk, keep, &cur));
    *out = v_tensor(cur);
    return KILN_OK;
}

kiln_status ev_index(eval *ev, val base, int n, const expr *const *items, val *out) {
    const expr *first = items[0];
    if (base.k == V_LIST) {
        if (n != 1) return ev_error_at(ev, first->file, first->line, first->col, KILN_ERR_INVALID, "a list takes one index");
        return list_index(ev, base.l, first, out);
    }
    if (base.k == V_TENSOR) return tensor_index(ev, base.t, n, items, out);
    return ev_error_at(ev, first->file, first->line, first->col, KILN_ERR_TYPE, "cannot index a %s", val_type_name(&base));
}
