/* Text form of a kernel, for `kiln dump --after fusion` and debugging. */
#include <inttypes.h>

#include "kiln/kernel.h"
#include "kiln/quant.h"

static const char *template_name(kiln_ktemplate t) {
    static const char *const names[] = {"pointwise", "reduce", "row", "matmul", "attention"};
    return (unsigned)t <= KILN_K_ATTENTION ? names[t] : "?";
}

static void print_slots(FILE *f, const char *what, int rank, const int32_t *slots) {
    fprintf(f, "%s[", what);
    for (int i = 0; i < rank; i++) fprintf(f, "%sd%d", i ? ", " : "", slots[i]);
    fputc(']', f);
}

static void print_view(const kiln_kernel *k, FILE *f, int i) {
    static const char *const names[5][4] = {{"?", "?", "?", "?"}, {"src", "?", "?", "?"}, {"src", "?", "?", "?"},
                                            {"a", "b", "?", "?"}, {"q", "k", "v", "mask"}};
    const kiln_kview *v = &k->views[i];
    fprintf(f, "  view %s ", names[k->kind][i]);
    print_slots(f, "", v->rank, v->extent);
    fprintf(f, " = e%d", v->expr);
    if (v->strided || v->qtype) {
        if (v->qtype) fprintf(f, "  %s cols d%d buf %d offset d%d ", kiln_ggml_type_name(v->qtype), v->qcols, v->buf, v->offset);
        else fprintf(f, "  strided buf %d offset d%d ", v->buf, v->offset);
        print_slots(f, "strides ", v->rank, v->stride);
    }
    fputc('\n', f);
}

static void print_expr(const kiln_kernel *k, FILE *f, int e) {
    const kiln_kexpr *x = &k->exprs[e];
    fprintf(f, "  e%d = ", e);
    switch (x->kind) {
    case KILN_KX_CONST:
        if (kiln_dtype_is_float(x->type)) fprintf(f, "const %.9g", x->f);
        else fprintf(f, "const %" PRId64, x->i);
        break;
    case KILN_KX_DIM: fprintf(f, "dim d%d", x->slot); break;
    case KILN_KX_COORD: fprintf(f, "coord %d", x->slot); break;
    case KILN_KX_LOAD:
        fprintf(f, "load buf %d [e%d]", x->slot, x->a);
        if (x->b >= 0) fprintf(f, " if e%d", x->b);
        break;
    case KILN_KX_MATH:
        fprintf(f, "%s e%d", kiln_op_name(x->op), x->a);
        if (x->b >= 0) fprintf(f, ", e%d", x->b);
        break;
    case KILN_KX_SELECT: fprintf(f, "select e%d ? e%d : e%d", x->a, x->b, x->c); break;
    case KILN_KX_CAST: fprintf(f, "cast e%d", x->a); break;
    case KILN_KX_VALUE: fprintf(f, "value %d", x->slot); break;
    case KILN_KX_BITCAST: fprintf(f, "bitcast e%d", x->a); break;
    }
    fprintf(f, " : %s\n", kiln_dtype_name(x->type));
}

kiln_status kiln_kernel_print(const kiln_kernel *k, const kiln_graph *g, FILE *f) {
    char buf[256];
    fprintf(f, "kernel \"%s\" %s root %%%d\n", k->name ? k->name : "?", template_name(k->kind), (int)k->root);
    fprintf(f, "  nodes");
    for (int i = 0; i < k->nnodes; i++) fprintf(f, " %%%d", (int)k->nodes[i]);
    fputc('\n', f);
    for (int i = 0; i < k->nbufs; i++)
        fprintf(f, "  buf %d: tensor t%d %s %s%s\n", i, k->bufs[i].tensor, kiln_dtype_name(k->bufs[i].dtype),
                k->bufs[i].access & KILN_KBUF_WRITE ? "write" : "read",
                k->bufs[i].same_index_as_output ? " same-index" : "");
    for (int i = 0; i < k->ndims; i++) fprintf(f, "  dim d%d = %s\n", i, g ? kiln_dim_str(g, k->dims[i], buf, sizeof buf) : "?");
    switch (k->kind) {
    case KILN_K_REDUCE: {
        static const char *const r[] = {"sum", "mean", "max", "min", "prod", "argmax", "argmin"};
        fprintf(f, "  reduce %s\n", (unsigned)k->reduce <= KILN_KR_ARGMIN ? r[k->reduce] : "?");
        break;
    }
    case KILN_K_ROW: {
        static const char *const r[] = {"softmax", "log_softmax", "layer_norm", "rms_norm"};
        fprintf(f, "  row %s axis %d eps %g\n", (unsigned)k->row <= KILN_KROW_RMS_NORM ? r[k->row] : "?", k->axis, k->eps);
        break;
    }
    case KILN_K_ATTENTION:
        if (k->scale_dim >= 0) fprintf(f, "  attention causal %d scale 1/sqrt(d%d) mask %d\n", k->causal, k->scale_dim, (int)k->mask);
        else fprintf(f, "  attention causal %d scale %.9g mask %d\n", k->causal, k->scale, (int)k->mask);
        break;
    default: break;
    }
    for (int i = 0; i < k->nviews; i++) print_view(k, f, i);
    for (int e = 0; e < k->nexprs; e++) print_expr(k, f, e);
    fprintf(f, "  out buf %d ", k->out_buf);
    print_slots(f, "", k->out_rank, k->out_extent);
    fprintf(f, " = e%d", k->out_expr);
    if (k->kind != KILN_K_POINTWISE) fprintf(f, "  (value 0 : %s)", kiln_dtype_name(k->value_type));
    fputc('\n', f);
    return ferror(f) ? kiln_error(KILN_ERR_IO, "write error while printing a kernel") : KILN_OK;
}
