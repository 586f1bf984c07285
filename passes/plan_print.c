/* Printing plans: fusion groups, kernels in full, and stats. */
#include <inttypes.h>

#include "plan_internal.h"

static const char *template_name(kiln_ktemplate t) {
    static const char *const names[] = {"pointwise", "reduce", "row", "matmul", "attention"};
    return (unsigned)t <= KILN_K_ATTENTION ? names[t] : "?";
}

static const char *kind_name(kiln_ptensor_kind k) {
    static const char *const names[] = {"input", "param", "const", "temp", "output"};
    return (unsigned)k <= KILN_PT_OUTPUT ? names[k] : "?";
}

static void print_tensor(const kiln_plan *p, FILE *f, int t) {
    char buf[256];
    const kiln_ptensor *pt = &p->tensors[t];
    fprintf(f, "t%d", t);
    if (pt->name) fprintf(f, " '%s'", pt->name);
    fprintf(f, " %s%s", kiln_dtype_name(pt->dtype), kiln_shape_str(p->graph, &pt->shape, buf, sizeof buf));
}

kiln_status kiln_plan_print_groups(const kiln_plan *p, FILE *f) {
    fprintf(f, "; %d kernels\n", p->nkernels);
    for (int k = 0; k < p->nkernels; k++) {
        const kiln_kernel *kn = &p->kernels[k];
        const kiln_node *root = kiln_graph_node(p->graph, kn->root);
        fprintf(f, "kernel %d \"%s\" %s root %%%d %s\n  nodes", k, kn->name, template_name(kn->kind), (int)kn->root,
                kiln_op_name(root->op));
        for (int i = 0; i < kn->nnodes; i++) fprintf(f, " %%%d", (int)kn->nodes[i]);
        fputs("\n  in:", f);
        int first = 1;
        for (int s = 0; s < kn->nbufs; s++) {
            if (s == kn->out_buf) continue;
            fputs(first ? " " : ", ", f);
            first = 0;
            print_tensor(p, f, kn->bufs[s].tensor);
            fprintf(f, " (%s)", kind_name(p->tensors[kn->bufs[s].tensor].kind));
        }
        fputs("\n  out: ", f);
        print_tensor(p, f, kn->bufs[kn->out_buf].tensor);
        fprintf(f, " (%s)\n", kind_name(p->tensors[kn->bufs[kn->out_buf].tensor].kind));
    }
    return ferror(f) ? kiln_error(KILN_ERR_IO, "write error while printing a plan") : KILN_OK;
}

kiln_status kiln_plan_print_kernels(const kiln_plan *p, FILE *f) {
    for (int k = 0; k < p->nkernels; k++) KILN_TRY(kiln_kernel_print(&p->kernels[k], p->graph, f));
    return KILN_OK;
}

kiln_status kiln_plan_print_stats(kiln_plan *p, const int64_t *symvals, FILE *f) {
    int counts[KILN_K_ATTENTION + 1] = {0}, kinds[KILN_PT_OUTPUT + 1] = {0};
    for (int k = 0; k < p->nkernels; k++) counts[p->kernels[k].kind]++;
    for (int t = 0; t < p->ntensors; t++) kinds[p->tensors[t].kind]++;
    fprintf(f, "kernels: %d (", p->nkernels);
    for (int i = 0; i <= KILN_K_ATTENTION; i++) fprintf(f, "%s%s %d", i ? ", " : "", template_name((kiln_ktemplate)i), counts[i]);
    fprintf(f, ")\ntensors: %d (", p->ntensors);
    for (int i = 0; i <= KILN_PT_OUTPUT; i++) fprintf(f, "%s%s %d", i ? ", " : "", kind_name((kiln_ptensor_kind)i), kinds[i]);
    fputs(")\n", f);
    int ns = kiln_graph_symbol_count(p->graph);
    if (ns && !symvals) {
        fputs("arena: give symbol values to plan memory\n", f);
        return KILN_OK;
    }
    const kiln_memplan *m;
    KILN_TRY(kiln_plan_memory(p, symvals, &m));
    fprintf(f, "arena bytes: %" PRId64 " planned, %" PRId64 " unplanned", m->arena_bytes, m->unplanned_bytes);
    if (m->unplanned_bytes) fprintf(f, " (%.1f%%)", 100.0 * (double)m->arena_bytes / (double)m->unplanned_bytes);
    fprintf(f, ", %d in place\n", m->ninplace);
    return ferror(f) ? kiln_error(KILN_ERR_IO, "write error while printing a plan") : KILN_OK;
}
