/* Graph values as scalar expressions at coordinates (lower.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/scalar.h"
#include "lower.h"
#include "lower_reshape.h"

#define NODE(v) kiln_graph_node(L->env->g, (v))

void lw_fail(lowerer *L, kiln_code code, const char *fmt, ...) {
    if (L->kb.s) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->kb.s = kiln_error(code, "lowering to kernels: %s", msg);
}

/* ---- memo: (node, guard, coords) -> expression --------------------------- */
static uint64_t memo_hash(kiln_value v, int32_t guard, int rank, const int32_t *c) {
    uint64_t h = (uint64_t)(uint32_t)v * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uint32_t)guard;
    for (int i = 0; i < rank; i++) h = (h ^ (uint64_t)(uint32_t)c[i]) * 0x100000001b3ull;
    return h;
}

static int32_t *memo_find(lowerer *L, kiln_value v, int32_t guard, int rank, const int32_t *c, int insert) {
    if (insert && 2 * (L->nmemo + 1) > L->memo_htcap) {
        int cap = L->memo_htcap ? 2 * L->memo_htcap : 256;
        int32_t *ht = malloc((size_t)cap * sizeof *ht);
        memo_entry *m = realloc(L->memo, (size_t)cap * sizeof *m);
        if (!ht || !m) {
            free(ht);
            if (m) L->memo = m;
            lw_fail(L, KILN_ERR_NOMEM, "out of memory");
            return NULL;
        }
        L->memo = m;
        for (int i = 0; i < cap; i++) ht[i] = -1;
        for (int e = 0; e < L->nmemo; e++) {
            memo_entry *x = &L->memo[e];
            int i = (int)(memo_hash(x->v, x->guard, NODE(x->v)->shape.rank, x->coords) & (uint64_t)(cap - 1));
            while (ht[i] >= 0) i = (i + 1) & (cap - 1);
            ht[i] = e;
        }
        free(L->memo_ht);
        L->memo_ht = ht;
        L->memo_htcap = cap;
    }
    if (!L->memo_htcap) return NULL;
    int i = (int)(memo_hash(v, guard, rank, c) & (uint64_t)(L->memo_htcap - 1));
    for (; L->memo_ht[i] >= 0; i = (i + 1) & (L->memo_htcap - 1)) {
        memo_entry *x = &L->memo[L->memo_ht[i]];
        if (x->v == v && x->guard == guard && memcmp(x->coords, c, sizeof(int32_t) * (size_t)rank) == 0) return &x->expr;
    }
    if (!insert) return NULL;
    memo_entry *x = &L->memo[L->nmemo];
    memset(x, 0, sizeof *x);
    x->v = v;
    x->guard = guard;
    memcpy(x->coords, c, sizeof(int32_t) * (size_t)rank);
    x->expr = -1;
    L->memo_ht[i] = L->nmemo++;
    return &x->expr;
}

/* ---- strided views ------------------------------------------------------- */
static int contiguous(lowerer *L, kiln_value v, strided *s) {
    const kiln_node *n = NODE(v);
    s->base = v;
    s->offset = 0;
    s->rank = n->shape.rank;
    kiln_dim st = 1;
    for (int i = n->shape.rank - 1; i >= 0; i--) {
        s->stride[i] = st;
        st = kiln_dim_mul(L->env->g, st, n->shape.dims[i]);
        if (st == KILN_DIM_INVALID) return 0;
    }
    return 1;
}

/* The start a slice reads from, as a dim. Constant bounds are clamped the
 * way the reference does; symbolic ones are checked by the plan at run. */
static kiln_dim slice_start(const kiln_node *n, const kiln_node *x) {
    int axis = (int)n->attrs[0].i;
    kiln_dim size = x->shape.dims[axis], start = n->attrs[1].i;
    int64_t step = n->attrs[3].i;
    if (!kiln_dim_is_const(size) || !kiln_dim_is_const(start)) return start;
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? size : size - 1, s = start;
    if (s < 0) s += size;
    s = s < lo ? lo : s > hi ? hi : s;
    return s < 0 ? 0 : s; /* -1 only occurs with an empty result */
}

int lw_strided(lowerer *L, kiln_value v, strided *out) {
    kiln_graph *g = L->env->g;
    const kiln_node *n = NODE(v);
    if (L->env->f->materialized[v] && v != L->self) return contiguous(L, v, out);
    if (L->quant_base && n->op == KILN_OP_DEQUANTIZE && v != L->self && L->env->f->materialized[n->inputs[0]])
        return contiguous(L, v, out); /* the logical f32 tensor it stands for */
    if (v == L->value_node || !fusion_is_movement(n->op)) return 0;
    const kiln_node *x = NODE(n->inputs[0]);
    strided in;
    if (!lw_strided(L, n->inputs[0], &in)) return 0;
    strided s = in;
    s.rank = n->shape.rank;
    switch (n->op) {
    case KILN_OP_TRANSPOSE:
        for (int i = 0; i < s.rank; i++) s.stride[i] = in.stride[n->attrs[0].list[i]];
        break;
    case KILN_OP_SLICE: {
        int axis = (int)n->attrs[0].i;
        s.offset = kiln_dim_add(g, in.offset, kiln_dim_mul(g, slice_start(n, x), in.stride[axis]));
        s.stride[axis] = kiln_dim_mul(g, in.stride[axis], n->attrs[3].i);
        break;
    }
    case KILN_OP_EXPAND:
        for (int i = 0; i < s.rank; i++) {
            int j = i - (s.rank - x->shape.rank);
            s.stride[i] = j < 0 || (x->shape.dims[j] == 1 && n->shape.dims[i] != 1) ? 0 : in.stride[j];
        }
        break;
    default: { /* reshape: regroup dims whose strides chain */
        reshape_group gr[2 * KILN_MAX_RANK];
        int ng = reshape_groups(g, &x->shape, &n->shape, gr);
        for (int k = 0; k < ng; k++) {
            /* merging needs each outer stride = inner stride * inner size */
            kiln_dim inner = 0, expect = 0;
            int have = 0;
            for (int j = gr[k].in_hi - 1; j >= gr[k].in_lo; j--) {
                if (x->shape.dims[j] == 1) continue;
                if (have && in.stride[j] != expect) return 0;
                if (!have) inner = in.stride[j];
                have = 1;
                expect = kiln_dim_mul(g, in.stride[j], x->shape.dims[j]);
            }
            kiln_dim st = inner;
            for (int o = gr[k].out_hi - 1; o >= gr[k].out_lo; o--) {
                s.stride[o] = st;
                st = kiln_dim_mul(g, st, n->shape.dims[o]);
            }
        }
        break;
    }
    }
    if (s.offset == KILN_DIM_INVALID) return 0;
    for (int i = 0; i < s.rank; i++)
        if (s.stride[i] == KILN_DIM_INVALID) return 0;
    L->inlined[v] = 1; /* folded into this kernel's index math */
    *out = s;
    return 1;
}

/* ---- coordinate maps ----------------------------------------------------- */
void lw_broadcast(lowerer *L, const kiln_shape *out, const kiln_shape *in, const int32_t *coords, int32_t *in_coords) {
    for (int j = 0; j < in->rank; j++) {
        int i = j + out->rank - in->rank;
        in_coords[j] = in->dims[j] == 1 ? kb_const_i(&L->kb, KILN_I64, 0) : coords[i];
    }
}

static void reshape_coords(lowerer *L, const kiln_node *n, const kiln_node *x, const int32_t *coords, int32_t *in) {
    kbuilder *b = &L->kb;
    reshape_group gr[2 * KILN_MAX_RANK];
    int ng = reshape_groups(L->env->g, &x->shape, &n->shape, gr);
    for (int k = 0; k < ng; k++) {
        if (gr[k].in_hi - gr[k].in_lo == 1 && gr[k].out_hi - gr[k].out_lo == 1) {
            in[gr[k].in_lo] = coords[gr[k].out_lo];
            continue;
        }
        int32_t lin = kb_const_i(b, KILN_I64, 0);
        for (int o = gr[k].out_lo; o < gr[k].out_hi; o++)
            lin = kb_iadd(b, kb_imul(b, lin, kb_dimx(b, n->shape.dims[o])), coords[o]);
        for (int j = gr[k].in_hi - 1; j >= gr[k].in_lo; j--) {
            if (j == gr[k].in_lo) {
                in[j] = lin;
                break;
            }
            int32_t d = kb_dimx(b, x->shape.dims[j]);
            in[j] = kb_imod(b, lin, d);
            lin = kb_idiv(b, lin, d);
        }
    }
}

/* ---- loads and literals --------------------------------------------------- */
/* Loads node `of` (shape `shape`) at coords through strided view s. Axes
 * of extent 1 add nothing (their coordinate is 0), so equal accesses build
 * equal index expressions whichever way the 0 was written. */
static int32_t load_strided(lowerer *L, const strided *s, const kiln_shape *shape, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    const kiln_node *base = NODE(s->base);
    int t = L->env->tensor_for(L->env->ctx, s->base);
    if (t < 0) {
        lw_fail(L, KILN_ERR_NOMEM, "out of memory");
        return -1;
    }
    int32_t slot = kb_buf(b, t, base->dtype, KILN_KBUF_READ);
    int32_t idx = kb_dimx(b, s->offset);
    for (int i = 0; i < s->rank; i++)
        if (s->stride[i] != 0 && shape->dims[i] != 1)
            idx = kb_iadd(b, idx, kb_imul(b, coords[i], kb_dimx(b, s->stride[i])));
    return kb_load(b, slot, idx, guard);
}

static int32_t literal(lowerer *L, const kiln_node *n) {
    if (kiln_dtype_is_float(n->dtype)) return kb_const_f(&L->kb, n->dtype, kiln_load_f64(n->value.data, n->dtype, 0));
    return kb_const_i(&L->kb, n->dtype, kiln_load_i64(n->value.data, n->dtype, 0));
}

/* ---- op by op -------------------------------------------------------------- */
static int32_t emit_concat(lowerer *L, const kiln_node *n, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    int axis = (int)n->attrs[0].i;
    int32_t c = coords[axis], result = -1;
    kiln_dim lo = 0;
    /* any number of pieces (a model may concat hundreds of slices) */
    int32_t *pieces = malloc(2 * ((size_t)n->ninputs + 1) * sizeof *pieces), *conds = pieces + n->ninputs + 1;
    if (!pieces) {
        lw_fail(L, KILN_ERR_NOMEM, "out of memory");
        return -1;
    }
    int np = 0;
    for (int i = 0; i < n->ninputs && !L->kb.s; i++) {
        const kiln_node *x = NODE(n->inputs[i]);
        kiln_dim len = x->shape.dims[axis], hi = kiln_dim_add(L->env->g, lo, len);
        if (hi == KILN_DIM_INVALID) {
            lw_fail(L, KILN_ERR_LIMIT, "concat offsets too complex");
            break;
        }
        if (len != 0) {
            int32_t elo = kb_dimx(b, lo), ehi = kb_dimx(b, hi);
            int32_t inside = kb_and(b, kb_icmp(b, KILN_OP_GE, c, elo), kb_icmp(b, KILN_OP_LT, c, ehi));
            int32_t xc[KILN_MAX_RANK];
            memcpy(xc, coords, sizeof(int32_t) * (size_t)n->shape.rank);
            xc[axis] = kb_isub(b, c, elo);
            pieces[np] = lw_emit(L, n->inputs[i], xc, kb_and(b, guard, inside));
            conds[np++] = kb_icmp(b, KILN_OP_LT, c, ehi);
        }
        lo = hi;
    }
    if (L->kb.s) result = -1;
    else if (np == 0) result = kiln_dtype_is_float(n->dtype) ? kb_const_f(b, n->dtype, 0) : kb_const_i(b, n->dtype, 0);
    else {
        result = pieces[np - 1];
        for (int i = np - 2; i >= 0; i--) result = kb_select(b, conds[i], pieces[i], result);
    }
    free(pieces);
    return result;
}

static int32_t emit_gather(lowerer *L, const kiln_node *n, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    const kiln_node *data = NODE(n->inputs[0]), *idx = NODE(n->inputs[1]);
    int axis = (int)n->attrs[0].i, ir = idx->shape.rank;
    int32_t i = kb_cast(b, KILN_I64, lw_emit(L, n->inputs[1], coords + axis, guard));
    int32_t size = kb_dimx(b, data->shape.dims[axis]), zero = kb_const_i(b, KILN_I64, 0);
    /* negative indices count from the end; outside the axis reads nothing (0) */
    int32_t at = kb_select(b, kb_icmp(b, KILN_OP_LT, i, zero), kb_iadd(b, i, size), i);
    int32_t ok = kb_and(b, kb_icmp(b, KILN_OP_GE, at, zero), kb_icmp(b, KILN_OP_LT, at, size));
    int32_t dc[KILN_MAX_RANK];
    for (int d = 0; d < axis; d++) dc[d] = coords[d];
    dc[axis] = at;
    for (int d = axis + 1; d < data->shape.rank; d++) dc[d] = coords[d - 1 + ir];
    return lw_emit(L, n->inputs[0], dc, kb_and(b, guard, ok));
}

/* numpy take_along_axis: the index at these coords picks along axis */
static int32_t emit_gather_elements(lowerer *L, const kiln_node *n, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    const kiln_node *data = NODE(n->inputs[0]);
    int axis = (int)n->attrs[0].i;
    int32_t i = kb_cast(b, KILN_I64, lw_emit(L, n->inputs[1], coords, guard));
    int32_t size = kb_dimx(b, data->shape.dims[axis]), zero = kb_const_i(b, KILN_I64, 0);
    int32_t at = kb_select(b, kb_icmp(b, KILN_OP_LT, i, zero), kb_iadd(b, i, size), i);
    int32_t ok = kb_and(b, kb_icmp(b, KILN_OP_GE, at, zero), kb_icmp(b, KILN_OP_LT, at, size));
    int32_t dc[KILN_MAX_RANK];
    memcpy(dc, coords, sizeof(int32_t) * (size_t)data->shape.rank);
    dc[axis] = at;
    return lw_emit(L, n->inputs[0], dc, kb_and(b, guard, ok));
}

static int32_t emit_node(lowerer *L, kiln_value v, const int32_t *coords, int32_t guard) {
    kbuilder *b = &L->kb;
    const kiln_node *n = NODE(v);
    const kiln_op_def *d = kiln_op_get(n->op);
    int32_t xc[KILN_MAX_RANK], yc[KILN_MAX_RANK], zc[KILN_MAX_RANK];
    switch (n->op) {
    case KILN_OP_IOTA: {
        int32_t at = n->shape.rank ? coords[n->attrs[1].i] : kb_const_i(b, KILN_I64, 0);
        return kb_cast(b, n->dtype, kb_iadd(b, kb_dimx(b, n->attrs[2].i), at));
    }
    case KILN_OP_CAST: return kb_cast(b, n->dtype, lw_emit(L, n->inputs[0], coords, guard));
    case KILN_OP_WHERE:
        lw_broadcast(L, &n->shape, &NODE(n->inputs[0])->shape, coords, xc);
        lw_broadcast(L, &n->shape, &NODE(n->inputs[1])->shape, coords, yc);
        lw_broadcast(L, &n->shape, &NODE(n->inputs[2])->shape, coords, zc);
        return kb_select(b, lw_emit(L, n->inputs[0], xc, guard), lw_emit(L, n->inputs[1], yc, guard),
                         lw_emit(L, n->inputs[2], zc, guard));
    case KILN_OP_TRANSPOSE:
        for (int i = 0; i < n->shape.rank; i++) xc[n->attrs[0].list[i]] = coords[i];
        return lw_emit(L, n->inputs[0], xc, guard);
    case KILN_OP_EXPAND:
        lw_broadcast(L, &n->shape, &NODE(n->inputs[0])->shape, coords, xc);
        return lw_emit(L, n->inputs[0], xc, guard);
    case KILN_OP_RESHAPE:
        reshape_coords(L, n, NODE(n->inputs[0]), coords, xc);
        return lw_emit(L, n->inputs[0], xc, guard);
    case KILN_OP_SLICE: {
        int axis = (int)n->attrs[0].i;
        memcpy(xc, coords, sizeof(int32_t) * (size_t)n->shape.rank);
        int32_t start = kb_dimx(b, slice_start(n, NODE(n->inputs[0])));
        xc[axis] = kb_iadd(b, start, kb_imul(b, coords[axis], kb_const_i(b, KILN_I64, n->attrs[3].i)));
        return lw_emit(L, n->inputs[0], xc, guard);
    }
    case KILN_OP_CONCAT: return emit_concat(L, n, coords, guard);
    case KILN_OP_GATHER: return emit_gather(L, n, coords, guard);
    case KILN_OP_GATHER_ELEMENTS: return emit_gather_elements(L, n, coords, guard);
    case KILN_OP_DEQUANTIZE: return lw_emit_dequantize(L, n, coords, guard);
    default: break;
    }
    if (kiln_scalar_supported(n->op, 1) && n->ninputs == 1)
        return kb_math(b, n->op, n->dtype, lw_emit(L, n->inputs[0], coords, guard), -1);
    if (kiln_scalar_supported(n->op, 2) && n->ninputs == 2) {
        lw_broadcast(L, &n->shape, &NODE(n->inputs[0])->shape, coords, xc);
        lw_broadcast(L, &n->shape, &NODE(n->inputs[1])->shape, coords, yc);
        int32_t a = lw_emit(L, n->inputs[0], xc, guard), c = lw_emit(L, n->inputs[1], yc, guard);
        return c < 0 ? -1 : kb_math(b, n->op, n->dtype, a, c);
    }
    (void)d;
    lw_fail(L, KILN_ERR_UNSUPPORTED, "%s %%%d has no kernel form%s", kiln_op_name(n->op), (int)v,
            n->op == KILN_OP_ROPE || n->op == KILN_OP_REL_POS_BUCKET ? " (run decompose-injective first)" : "");
    return -1;
}

int32_t lw_emit(lowerer *L, kiln_value v, const int32_t *coords, int32_t guard) {
    if (L->kb.s) return -1;
    const kiln_node *n = NODE(v);
    if (v == L->value_node) return L->value_expr;
    for (int i = 0; i < n->shape.rank; i++)
        if (coords[i] < 0) return -1;
    if (n->op == KILN_OP_CONST && kiln_tensor_numel(&n->value) == 1) return literal(L, n);
    int32_t *slot = memo_find(L, v, guard, n->shape.rank, coords, 0);
    if (slot) return *slot;
    int32_t e;
    strided s;
    if (L->env->f->materialized[v] && v != L->self) {
        if (!contiguous(L, v, &s)) {
            lw_fail(L, KILN_ERR_LIMIT, "strides of %%%d are too complex", (int)v);
            return -1;
        }
        e = load_strided(L, &s, &n->shape, coords, guard);
    } else if (fusion_is_movement(n->op) && lw_strided(L, v, &s)) {
        L->inlined[v] = 1;
        e = load_strided(L, &s, &n->shape, coords, guard);
    } else {
        L->inlined[v] = 1;
        e = emit_node(L, v, coords, guard);
    }
    slot = memo_find(L, v, guard, n->shape.rank, coords, 1);
    if (slot) *slot = e;
    return e;
}

void lw_view(lowerer *L, kiln_kview *view, kiln_value v, int rank, const kiln_dim *extent, const int *map) {
    kbuilder *b = &L->kb;
    const kiln_node *n = NODE(v);
    memset(view, 0, sizeof *view);
    view->rank = rank;
    for (int i = 0; i < rank; i++) view->extent[i] = kb_dim(b, extent[i]);
    int32_t coords[KILN_MAX_RANK];
    for (int j = 0; j < n->shape.rank; j++) coords[j] = map[j] >= 0 ? kb_coord(b, map[j]) : kb_const_i(b, KILN_I64, 0);
    view->expr = lw_emit(L, v, coords, -1);
    view->buf = view->offset = -1;
    strided s;
    if (v == L->value_node) return;
    if (!lw_strided(L, v, &s)) {
        lw_quant_view(L, view, v, map);
        return;
    }
    kiln_dim st[KILN_KMAX_RANK];
    for (int i = 0; i < rank; i++) st[i] = 0;
    for (int j = 0; j < n->shape.rank; j++)
        if (map[j] >= 0 && n->shape.dims[j] != 1) st[map[j]] = kiln_dim_add(L->env->g, st[map[j]], s.stride[j]);
    for (int i = 0; i < rank; i++)
        if (st[i] == KILN_DIM_INVALID) return;
    view->strided = 1;
    view->buf = kb_buf(b, L->env->tensor_for(L->env->ctx, s.base), NODE(s.base)->dtype, KILN_KBUF_READ);
    view->offset = kb_dim(b, s.offset);
    for (int i = 0; i < rank; i++) view->stride[i] = kb_dim(b, st[i]);
}
