/* One fusion group -> one kernel: output space, template views, the
 * epilogue, name and provenance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"

#define NODE(v) kiln_graph_node(L->env->g, (v))

static const kiln_dim *dims_of(lowerer *L, kiln_value v) { return NODE(v)->shape.dims; }

/* a [.., M, K] / b [.., K, N] (or [.., N, K]) as views over the output's
 * batch dims: batch axes broadcast, the matrix axes map to (m|k, k|n). */
static void matmul_views(lowerer *L, const kiln_node *r) {
    kiln_kernel *k = &L->kb.k;
    int R = r->shape.rank, tb = r->attrs[0].kind == KILN_ATTR_BOOL && r->attrs[0].i;
    const kiln_node *a = NODE(r->inputs[0]), *b = NODE(r->inputs[1]);
    kiln_dim K = a->shape.dims[a->shape.rank - 1];
    kiln_dim ea[KILN_MAX_RANK], eb[KILN_MAX_RANK];
    int ma[KILN_MAX_RANK], mb[KILN_MAX_RANK];
    for (int i = 0; i < R - 2; i++) ea[i] = eb[i] = r->shape.dims[i];
    ea[R - 2] = r->shape.dims[R - 2];
    ea[R - 1] = K;
    eb[R - 2] = K;
    eb[R - 1] = r->shape.dims[R - 1];
    for (int j = 0; j < a->shape.rank - 2; j++) ma[j] = a->shape.dims[j] == 1 ? -1 : j + (R - a->shape.rank);
    for (int j = 0; j < b->shape.rank - 2; j++) mb[j] = b->shape.dims[j] == 1 ? -1 : j + (R - b->shape.rank);
    ma[a->shape.rank - 2] = R - 2;
    ma[a->shape.rank - 1] = R - 1;
    mb[b->shape.rank - 2] = tb ? R - 1 : R - 2;
    mb[b->shape.rank - 1] = tb ? R - 2 : R - 1;
    lw_view(L, &k->views[KILN_KV_A], r->inputs[0], R, ea, ma);
    lw_view(L, &k->views[KILN_KV_B], r->inputs[1], R, eb, mb);
    k->nviews = 2;
}

/* cumsum/cumprod at c: reduce over j of (j in the window of c ? x[c/axis=j] : identity) */
static void scan_view(lowerer *L, const kiln_node *r) {
    kbuilder *b = &L->kb;
    kiln_kernel *k = &b->k;
    int R = r->shape.rank, axis = (int)r->attrs[0].i, exclusive = (int)r->attrs[1].i, reverse = (int)r->attrs[2].i;
    int prod = r->op == KILN_OP_CUMPROD;
    kiln_kview *v = &k->views[KILN_KV_SRC];
    memset(v, 0, sizeof *v);
    v->rank = R + 1;
    v->buf = v->offset = -1;
    int32_t xc[KILN_MAX_RANK];
    for (int i = 0; i < R; i++) {
        v->extent[i] = kb_dim(b, r->shape.dims[i]);
        xc[i] = kb_coord(b, i);
    }
    v->extent[R] = kb_dim(b, r->shape.dims[axis]);
    int32_t j = kb_coord(b, R), c = xc[axis];
    kiln_op cmp = reverse ? (exclusive ? KILN_OP_GT : KILN_OP_GE) : (exclusive ? KILN_OP_LT : KILN_OP_LE);
    xc[axis] = j;
    int32_t x = lw_emit(L, r->inputs[0], xc, -1);
    int32_t id = kiln_dtype_is_float(r->dtype) ? kb_const_f(b, r->dtype, prod) : kb_const_i(b, r->dtype, prod);
    v->expr = kb_select(b, kb_icmp(b, cmp, j, c), x, id);
    k->nviews = 1;
    k->reduce = prod ? KILN_KR_PROD : KILN_KR_SUM;
}

/* src over (output coords..., reduced coords...) */
static void reduce_view(lowerer *L, const kiln_node *r) {
    kiln_kernel *k = &L->kb.k;
    const kiln_node *x = NODE(r->inputs[0]);
    if (r->op == KILN_OP_CUMSUM || r->op == KILN_OP_CUMPROD) {
        scan_view(L, r);
        return;
    }
    int reduced[KILN_MAX_RANK] = {0}, keep;
    switch (r->op) {
    case KILN_OP_ARGMAX:
    case KILN_OP_ARGMIN:
        reduced[r->attrs[0].i] = 1;
        keep = (int)r->attrs[1].i;
        k->reduce = r->op == KILN_OP_ARGMAX ? KILN_KR_ARGMAX : KILN_KR_ARGMIN;
        break;
    default:
        for (int i = 0; i < r->attrs[0].n; i++) reduced[r->attrs[0].list[i]] = 1;
        keep = (int)r->attrs[1].i;
        k->reduce = r->op == KILN_OP_REDUCE_SUM ? KILN_KR_SUM : r->op == KILN_OP_REDUCE_MEAN ? KILN_KR_MEAN
                  : r->op == KILN_OP_REDUCE_MAX ? KILN_KR_MAX : r->op == KILN_OP_REDUCE_MIN ? KILN_KR_MIN : KILN_KR_PROD;
    }
    int Ro = r->shape.rank, nv = Ro, map[KILN_MAX_RANK];
    kiln_dim ext[KILN_KMAX_RANK];
    for (int i = 0; i < Ro; i++) ext[i] = r->shape.dims[i];
    for (int j = 0, o = 0; j < x->shape.rank; j++) {
        if (reduced[j]) {
            map[j] = nv;
            ext[nv++] = x->shape.dims[j];
            if (keep) o++;
        } else {
            map[j] = o++;
        }
    }
    lw_view(L, &k->views[KILN_KV_SRC], r->inputs[0], nv, ext, map);
    k->nviews = 1;
}

static void attention_views(lowerer *L, const kiln_node *r) {
    kiln_kernel *k = &L->kb.k;
    int id[4] = {0, 1, 2, 3};
    for (int i = 0; i < 3; i++) lw_view(L, &k->views[i], r->inputs[i], 4, dims_of(L, r->inputs[i]), id);
    k->nviews = 3;
    k->causal = (int)r->attrs[0].i;
    kiln_dim D = NODE(r->inputs[0])->shape.dims[3];
    k->scale_dim = -1;
    if (r->attrs[1].kind == KILN_ATTR_FLOAT) k->scale = r->attrs[1].f;
    else if (kiln_dim_is_const(D)) k->scale = 1.0 / sqrt((double)D);
    else k->scale_dim = kb_dim(&L->kb, D);
    if (r->ninputs > 3 && r->inputs[3] != KILN_NONE) {
        const kiln_node *m = NODE(r->inputs[3]);
        const kiln_dim *q = dims_of(L, r->inputs[0]);
        kiln_dim scores[4] = {q[0], q[1], q[2], dims_of(L, r->inputs[1])[2]};
        int map[4];
        for (int j = 0; j < m->shape.rank; j++) map[j] = m->shape.dims[j] == 1 ? -1 : j + 4 - m->shape.rank;
        lw_view(L, &k->views[KILN_KV_MASK], r->inputs[3], 4, scores, map);
        k->nviews = 4;
        k->mask = m->dtype == KILN_BOOL ? KILN_KMASK_BOOL : KILN_KMASK_ADD;
    }
}

/* The root's value at the output coordinate: VALUE(0), and for the norms
 * also the weight and bias, which apply per element of the row. */
static int32_t root_value(lowerer *L, const kiln_node *r, const int32_t *coords) {
    kbuilder *b = &L->kb;
    int32_t v = kb_value(b, 0, b->k.value_type);
    if (r->op != KILN_OP_LAYER_NORM && r->op != KILN_OP_RMS_NORM) return v;
    int32_t last = coords[r->shape.rank - 1];
    if (r->ninputs > 1 && r->inputs[1] != KILN_NONE) v = kb_math(b, KILN_OP_MUL, r->dtype, v, lw_emit(L, r->inputs[1], &last, -1));
    if (r->ninputs > 2 && r->inputs[2] != KILN_NONE) v = kb_math(b, KILN_OP_ADD, r->dtype, v, lw_emit(L, r->inputs[2], &last, -1));
    return v;
}

/* "matmul+add+gelu_tanh": the computing ops of the kernel in node order. */
static kiln_status name_kernel(lowerer *L, kiln_kernel *k) {
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    s[0] = 0;
    for (int pass = 0; pass < 2 && len == 0; pass++)
        for (int i = 0; i < k->nnodes; i++) {
            kiln_op op = NODE(k->nodes[i])->op;
            if (pass == 0 && (fusion_is_movement(op) || op == KILN_OP_CONST || op == KILN_OP_CONCAT || op == KILN_OP_IOTA))
                continue;
            if (pass == 1 && k->nodes[i] != k->root) continue;
            const char *nm = kiln_op_name(op);
            size_t need = len + strlen(nm) + 2;
            if (need > cap) {
                char *t = realloc(s, cap = 2 * need);
                if (!t) {
                    free(s);
                    return kiln_error(KILN_ERR_NOMEM, "out of memory");
                }
                s = t;
            }
            len += (size_t)sprintf(s + len, "%s%s", len ? "+" : "", nm);
        }
    k->name = s;
    return KILN_OK;
}

static kiln_status provenance(lowerer *L, kiln_kernel *k, int gi) {
    const fusion *f = L->env->f;
    int n = f->nnodes, count = 0;
    k->nodes = malloc(((size_t)n + 1) * sizeof *k->nodes);
    if (!k->nodes) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int v = 0; v < n; v++)
        if (L->inlined[v] || f->group_of[v] == gi) k->nodes[count++] = v;
    k->nnodes = count;
    return name_kernel(L, k);
}

/* Read slots used only at the output's own linear index by the output
 * expression (never by a view, never guarded) may share its memory. */
static void mark_same_index(lowerer *L, int32_t out_index) {
    kiln_kernel *k = &L->kb.k;
    char *in_view = calloc((size_t)k->nexprs + 1, 1), *reach = calloc((size_t)k->nexprs + 1, 1);
    int *bad = calloc((size_t)k->nbufs + 1, sizeof *bad), *used = calloc((size_t)k->nbufs + 1, sizeof *used);
    if (!in_view || !reach || !bad || !used) goto done;
    for (int i = 0; i < k->nviews; i++)
        if (k->views[i].expr >= 0) in_view[k->views[i].expr] = 1;
    if (k->out_expr >= 0) reach[k->out_expr] = 1;
    for (int e = k->nexprs - 1; e >= 0; e--) {
        const kiln_kexpr *x = &k->exprs[e];
        int32_t ops[3] = {x->a, x->b, x->c};
        for (int o = 0; o < 3; o++)
            if (ops[o] >= 0) {
                in_view[ops[o]] |= in_view[e];
                reach[ops[o]] |= reach[e];
            }
    }
    for (int e = 0; e < k->nexprs; e++) {
        const kiln_kexpr *x = &k->exprs[e];
        if (x->kind != KILN_KX_LOAD) continue;
        used[x->slot] = 1;
        if (in_view[e] || !reach[e] || x->a != out_index || x->b >= 0) bad[x->slot] = 1;
    }
    for (int i = 0; i < k->nviews; i++)
        if (k->views[i].strided && k->views[i].buf >= 0) bad[k->views[i].buf] = 1;
    for (int s = 0; s < k->nbufs; s++)
        k->bufs[s].same_index_as_output = s != k->out_buf && used[s] && !bad[s];
done:
    free(in_view);
    free(reach);
    free(bad);
    free(used);
}

kiln_status lower_group(const lower_env *env, int gi, kiln_kernel *out) {
    lowerer Ls, *L = &Ls;
    memset(L, 0, sizeof *L);
    L->env = env;
    kb_init(&L->kb);
    L->inlined = calloc((size_t)env->f->nnodes + 1, 1);
    if (!L->inlined) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    const fusion_group *grp = &env->f->groups[gi];
    const kiln_node *r = NODE(grp->root), *o = NODE(grp->out);
    kiln_kernel *k = &L->kb.k;
    k->kind = grp->kind;
    k->root = grp->root;
    L->self = grp->out;
    L->value_node = KILN_NONE;
    int t = env->tensor_for(env->ctx, grp->out);
    if (t < 0) lw_fail(L, KILN_ERR_NOMEM, "out of memory");
    k->out_buf = kb_buf(&L->kb, t, o->dtype, KILN_KBUF_WRITE);
    k->out_rank = o->shape.rank;
    int32_t coords[KILN_MAX_RANK];
    for (int i = 0; i < o->shape.rank; i++) {
        k->out_extent[i] = kb_dim(&L->kb, o->shape.dims[i]);
        coords[i] = kb_coord(&L->kb, i);
    }
    if (grp->kind != KILN_K_POINTWISE) {
        k->value_type = r->dtype;
        switch (grp->kind) {
        case KILN_K_MATMUL: matmul_views(L, r); break;
        case KILN_K_REDUCE: reduce_view(L, r); break;
        case KILN_K_ATTENTION: attention_views(L, r); break;
        default: {
            int id[KILN_MAX_RANK];
            for (int i = 0; i < r->shape.rank; i++) id[i] = i;
            lw_view(L, &k->views[KILN_KV_SRC], r->inputs[0], r->shape.rank, r->shape.dims, id);
            k->nviews = 1;
            k->row = r->op == KILN_OP_SOFTMAX ? KILN_KROW_SOFTMAX : r->op == KILN_OP_LOG_SOFTMAX ? KILN_KROW_LOG_SOFTMAX
                   : r->op == KILN_OP_LAYER_NORM ? KILN_KROW_LAYER_NORM : KILN_KROW_RMS_NORM;
            k->axis = r->op == KILN_OP_SOFTMAX || r->op == KILN_OP_LOG_SOFTMAX ? (int)r->attrs[0].i : r->shape.rank - 1;
            if (r->op == KILN_OP_LAYER_NORM || r->op == KILN_OP_RMS_NORM) k->eps = r->attrs[0].f;
        }
        }
        L->inlined[grp->root] = 1;
        L->value_node = grp->root;
        L->value_expr = root_value(L, r, coords);
    }
    k->out_expr = lw_emit(L, grp->out, coords, -1);
    /* the output's own linear index, built the way loads build it */
    kiln_dim st[KILN_MAX_RANK], acc = 1;
    for (int i = o->shape.rank - 1; i >= 0; i--) {
        st[i] = acc;
        acc = kiln_dim_mul(env->g, acc, o->shape.dims[i]);
    }
    int keep_exprs = k->nexprs; /* the index below is for comparison only */
    int32_t out_index = kb_const_i(&L->kb, KILN_I64, 0);
    for (int i = 0; i < o->shape.rank; i++)
        if (o->shape.dims[i] != 1) out_index = kb_iadd(&L->kb, out_index, kb_imul(&L->kb, coords[i], kb_dimx(&L->kb, st[i])));
    if (!L->kb.s) {
        mark_same_index(L, out_index);
        if (k->nexprs > keep_exprs) k->nexprs = keep_exprs; /* nothing refers to them; building ends here */
        kiln_status s = provenance(L, k, gi);
        if (!s) s = kiln_kernel_validate(k);
        if (s) L->kb.s = s;
    }
    free(L->inlined);
    free(L->memo);
    free(L->memo_ht);
    return kb_finish(&L->kb, out);
}
