/* Kernel IR basics: release, dim values, structural validation. */
#include <stdlib.h>
#include <string.h>

#include "kiln/scalar.h"
#include "kiln/kernel.h"
#include "kiln/quant.h"

void kiln_kernel_release(kiln_kernel *k) {
    if (!k) return;
    free(k->name);
    free(k->bufs);
    free(k->dims);
    free(k->exprs);
    free(k->nodes);
    memset(k, 0, sizeof *k);
}

kiln_status kiln_kernel_dims(const kiln_kernel *k, const kiln_graph *g, const int64_t *symvals, int64_t *out) {
    for (int i = 0; i < k->ndims; i++) {
        kiln_status s = kiln_dim_eval(g, k->dims[i], symvals, &out[i]);
        if (s) return kiln_error_wrap(s, "kernel '%s' dim slot %d", k->name ? k->name : "?", i);
    }
    return KILN_OK;
}

static int math_arity(kiln_op op) {
    if (kiln_scalar_supported(op, 1)) return 1;
    if (kiln_scalar_supported(op, 2)) return 2;
    return -1;
}

#define BAD(...) return kiln_error(KILN_ERR_INTERNAL, "kernel '%s': " __VA_ARGS__)

static kiln_status check_view(const kiln_kernel *k, const kiln_kview *v, const char *nm) {
    const char *name = k->name ? k->name : "?";
    if (v->rank < 0 || v->rank > KILN_KMAX_RANK) BAD("view %s has rank %d", name, nm, v->rank);
    if (v->expr < 0 || v->expr >= k->nexprs) BAD("view %s has no expression", name, nm);
    for (int i = 0; i < v->rank; i++)
        if (v->extent[i] < 0 || v->extent[i] >= k->ndims) BAD("view %s extent %d is no dim slot", name, nm, i);
    if (v->strided && v->qtype) BAD("view %s is both strided and quantized", name, nm);
    if (v->strided || v->qtype) {
        if (v->buf < 0 || v->buf >= k->nbufs || v->offset < 0 || v->offset >= k->ndims) BAD("view %s: bad strided form", name, nm);
        for (int i = 0; i < v->rank; i++)
            if (v->stride[i] < 0 || v->stride[i] >= k->ndims) BAD("view %s stride %d is no dim slot", name, nm, i);
    }
    if (v->qtype && (!kiln_ggml_type_is_block(v->qtype) || k->bufs[v->buf].dtype != KILN_U8 || v->qcols < 0 ||
                     v->qcols >= k->ndims))
        BAD("view %s: bad quantized form", name, nm);
    return KILN_OK;
}

kiln_status kiln_kernel_validate(const kiln_kernel *k) {
    const char *name = k->name ? k->name : "?";
    static const int views_of[] = {[KILN_K_POINTWISE] = 0, [KILN_K_REDUCE] = 1, [KILN_K_ROW] = 1,
                                   [KILN_K_MATMUL] = 2, [KILN_K_ATTENTION] = 3};
    if ((unsigned)k->kind > KILN_K_ATTENTION) BAD("unknown template %d", name, (int)k->kind);
    if (k->nviews < views_of[k->kind] || k->nviews > KILN_KMAX_VIEWS ||
        (k->kind != KILN_K_ATTENTION && k->nviews != views_of[k->kind]))
        BAD("%d views for its template", name, k->nviews);
    if (k->out_buf < 0 || k->out_buf >= k->nbufs || !(k->bufs[k->out_buf].access & KILN_KBUF_WRITE)) BAD("no output slot", name);
    for (int i = 0; i < k->nbufs; i++)
        if (i != k->out_buf && (k->bufs[i].access & KILN_KBUF_WRITE)) BAD("slot %d is written but is not the output", name, i);
    if (k->out_rank < 0 || k->out_rank > KILN_MAX_RANK) BAD("output rank %d", name, k->out_rank);
    for (int i = 0; i < k->out_rank; i++)
        if (k->out_extent[i] < 0 || k->out_extent[i] >= k->ndims) BAD("output extent %d is no dim slot", name, i);
    if (k->out_expr < 0 || k->out_expr >= k->nexprs) BAD("no output expression", name);
    for (int e = 0; e < k->nexprs; e++) {
        const kiln_kexpr *x = &k->exprs[e];
        int32_t ops[3] = {x->a, x->b, x->c};
        for (int o = 0; o < 3; o++)
            if (ops[o] < -1 || ops[o] >= e) BAD("expression %d uses %d, not defined before it", name, e, ops[o]);
        if ((unsigned)x->type >= KILN_DTYPE_COUNT) BAD("expression %d has no type", name, e);
        switch (x->kind) {
        case KILN_KX_CONST:
        case KILN_KX_COORD:
        case KILN_KX_VALUE: break;
        case KILN_KX_DIM:
            if (x->slot < 0 || x->slot >= k->ndims) BAD("expression %d reads dim slot %d", name, e, x->slot);
            break;
        case KILN_KX_LOAD:
            if (x->slot < 0 || x->slot >= k->nbufs || x->a < 0) BAD("expression %d loads from slot %d", name, e, x->slot);
            if (x->type != k->bufs[x->slot].dtype) BAD("expression %d has a type other than its buffer's", name, e);
            if (x->b >= 0 && k->exprs[x->b].type != KILN_BOOL) BAD("expression %d has a non-bool guard", name, e);
            break;
        case KILN_KX_MATH: {
            int ar = math_arity(x->op);
            if (ar < 0 || (ar == 1) != (x->b < 0) || x->a < 0) BAD("expression %d is not a unary or binary op", name, e);
            break;
        }
        case KILN_KX_SELECT:
            if (x->a < 0 || x->b < 0 || x->c < 0 || k->exprs[x->a].type != KILN_BOOL) BAD("expression %d is a bad select", name, e);
            break;
        case KILN_KX_CAST:
            if (x->a < 0) BAD("expression %d casts nothing", name, e);
            break;
        case KILN_KX_BITCAST: {
            kiln_dtype from = x->a >= 0 ? k->exprs[x->a].type : KILN_BOOL;
            if (x->a < 0 || from == KILN_BOOL || x->type == KILN_BOOL || kiln_dtype_size(from) != kiln_dtype_size(x->type))
                BAD("expression %d bitcasts between types of different sizes", name, e);
            break;
        }
        default: BAD("expression %d has kind %d", name, e, (int)x->kind);
        }
    }
    static const char *const vnames[] = {"0", "1", "2", "3"};
    for (int i = 0; i < k->nviews; i++) KILN_TRY(check_view(k, &k->views[i], vnames[i]));
    if (k->kind == KILN_K_MATMUL && (k->views[0].rank != k->out_rank || k->views[1].rank != k->out_rank))
        BAD("matmul views must have the output's rank", name);
    if (k->kind == KILN_K_ROW && (k->views[0].rank != k->out_rank || k->axis < 0 || k->axis >= k->out_rank))
        BAD("row view or axis does not fit the output", name);
    if (k->kind == KILN_K_REDUCE && k->views[0].rank < k->out_rank) BAD("reduce view is smaller than the output", name);
    if (k->kind == KILN_K_ATTENTION) {
        for (int i = 0; i < k->nviews; i++)
            if (k->views[i].rank != 4) BAD("attention views have rank 4", name);
        if (k->out_rank != 4 || (k->mask != KILN_KMASK_NONE) != (k->nviews == 4)) BAD("attention output or mask", name);
    }
    return KILN_OK;
}
