/* Compiling a graph into a plan: passes, fusion, lowering each group to a
 * kernel, tensors and their live ranges. */
#include <stdlib.h>
#include <string.h>

#include "fusion.h"
#include "lower.h"
#include "plan_internal.h"

static int add_tensor(kiln_plan *p, kiln_value v) {
    if (p->tensor_of[v] >= 0) return p->tensor_of[v];
    if (p->ntensors == p->captensors) {
        int cap = p->captensors ? 2 * p->captensors : 16;
        kiln_ptensor *t = realloc(p->tensors, (size_t)cap * sizeof *t);
        if (!t) return -1;
        p->tensors = t;
        p->captensors = cap;
    }
    const kiln_node *n = kiln_graph_node(p->graph, v);
    kiln_ptensor *t = &p->tensors[p->ntensors];
    memset(t, 0, sizeof *t);
    t->node = v;
    t->dtype = n->dtype;
    t->shape = n->shape;
    t->producer = t->last_use = -1;
    switch (n->op) {
    case KILN_OP_INPUT: t->kind = KILN_PT_INPUT, t->name = n->name; break;
    case KILN_OP_PARAM: t->kind = KILN_PT_PARAM, t->name = n->name; break;
    case KILN_OP_CONST: t->kind = KILN_PT_CONST; break;
    default: t->kind = KILN_PT_INTERMEDIATE; break;
    }
    p->tensor_of[v] = p->ntensors;
    return p->ntensors++;
}

static int tensor_for(void *ctx, kiln_value v) { return add_tensor(ctx, v); }

/* Graph outputs become OUTPUT tensors (or name their source tensor). */
static kiln_status add_outputs(kiln_plan *p) {
    int n = kiln_graph_output_count(p->graph);
    p->outputs = malloc(((size_t)n + 1) * sizeof *p->outputs);
    if (!p->outputs) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    p->noutputs = n;
    for (int i = 0; i < n; i++) {
        int t = add_tensor(p, kiln_graph_output_value(p->graph, i));
        if (t < 0) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        p->outputs[i] = t;
        kiln_ptensor *pt = &p->tensors[t];
        if (pt->kind == KILN_PT_INTERMEDIATE) pt->kind = KILN_PT_OUTPUT;
        if (!pt->name) pt->name = kiln_graph_output_name(p->graph, i);
    }
    return KILN_OK;
}

/* Producers and last readers, in kernel (schedule) order. */
static void liveness(kiln_plan *p) {
    for (int k = 0; k < p->nkernels; k++) {
        const kiln_kernel *kn = &p->kernels[k];
        for (int s = 0; s < kn->nbufs; s++) {
            kiln_ptensor *t = &p->tensors[kn->bufs[s].tensor];
            if (kn->bufs[s].access & KILN_KBUF_WRITE) t->producer = k;
            if (kn->bufs[s].access & KILN_KBUF_READ) t->last_use = k;
        }
    }
    for (int i = 0; i < p->ntensors; i++)
        if (p->tensors[i].producer >= 0 && p->tensors[i].last_use < p->tensors[i].producer)
            p->tensors[i].last_use = p->tensors[i].producer;
}

static kiln_status prepare_graph(const kiln_graph *g, const kiln_plan_options *opt, kiln_graph **out) {
    if (opt && opt->no_passes) return kiln_run_pipeline("decompose-injective", g, NULL, out);
    return kiln_run_default_passes(g, opt ? opt->passes : NULL, out);
}

/* Fuses and lowers p->graph into p's tensors and kernels (replacing what
 * an earlier attempt left). */
static kiln_status build(kiln_plan *p, const kiln_plan_options *opt, const char *force, fusion *f) {
    for (int i = 0; i < p->nkernels; i++) kiln_kernel_release(&p->kernels[i]);
    free(p->kernels);
    free(p->tensor_of);
    free(p->outputs);
    p->kernels = NULL;
    p->tensor_of = p->outputs = NULL;
    p->nkernels = p->ntensors = p->noutputs = 0;
    kiln_status s = fusion_build(p->graph, opt && opt->no_fusion, force, f);
    int n = kiln_graph_node_count(p->graph);
    if (!s) {
        p->tensor_of = malloc(((size_t)n + 1) * sizeof *p->tensor_of);
        p->kernels = calloc((size_t)f->ngroups + 1, sizeof *p->kernels);
        if (!p->tensor_of || !p->kernels) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; !s && v < n; v++) p->tensor_of[v] = -1;
    if (!s) s = add_outputs(p);
    lower_env env = {p->graph, f, tensor_for, p};
    for (int gi = 0; !s && gi < f->ngroups; gi++) {
        s = lower_group(&env, gi, &p->kernels[gi]);
        if (!s) p->nkernels++;
    }
    return s;
}

kiln_status kiln_plan_compile(const kiln_graph *g, const kiln_plan_options *opt, kiln_plan **out) {
    return kiln_plan_compile_limited(g, opt, 0, out);
}

kiln_status kiln_plan_compile_limited(const kiln_graph *g, const kiln_plan_options *opt, int max_buffers, kiln_plan **out) {
    *out = NULL;
    if (!g) return kiln_error(KILN_ERR_INVALID, "kiln_plan_compile: no graph");
    KILN_TRY(kiln_graph_verify(g));
    kiln_plan *p = calloc(1, sizeof *p);
    if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = prepare_graph(g, opt, &p->graph);
    char *force = NULL;
    for (;;) {
        fusion f;
        memset(&f, 0, sizeof f);
        if (!s) s = build(p, opt, force, &f);
        /* a kernel with more buffers than allowed: materialize one of its
         * inlined values and fuse again (each round adds one) */
        int more = 0;
        if (!s && max_buffers > 0) {
            if (!force && !(force = calloc((size_t)kiln_graph_node_count(p->graph) + 1, 1)))
                s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            for (int k = 0; !s && k < p->nkernels && !more; k++)
                if (p->kernels[k].nbufs > max_buffers) {
                    s = plan_split_kernel(p->graph, &f, &p->kernels[k], max_buffers, force);
                    more = !s;
                }
        }
        fusion_free(&f);
        if (s || !more) break;
    }
    free(force);
    if (s) {
        kiln_plan_free(p);
        return kiln_error_wrap(s, "compiling graph '%s'", kiln_graph_name(g));
    }
    liveness(p);
    *out = p;
    return KILN_OK;
}

void kiln_plan_free(kiln_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->nkernels; i++) kiln_kernel_release(&p->kernels[i]);
    for (int i = 0; i < PLAN_CACHE; i++) {
        free(p->cache[i].symvals);
        memplan_release(&p->cache[i].mp);
    }
    free(p->kernels);
    free(p->tensors);
    free(p->tensor_of);
    free(p->outputs);
    kiln_graph_free(p->graph);
    free(p);
}

const kiln_graph *kiln_plan_graph(const kiln_plan *p) { return p->graph; }
int kiln_plan_tensor_count(const kiln_plan *p) { return p->ntensors; }
const kiln_ptensor *kiln_plan_tensor(const kiln_plan *p, int i) { return i >= 0 && i < p->ntensors ? &p->tensors[i] : NULL; }
int kiln_plan_kernel_count(const kiln_plan *p) { return p->nkernels; }
const kiln_kernel *kiln_plan_kernel(const kiln_plan *p, int i) { return i >= 0 && i < p->nkernels ? &p->kernels[i] : NULL; }
int kiln_plan_output_count(const kiln_plan *p) { return p->noutputs; }
int kiln_plan_output_tensor(const kiln_plan *p, int i) { return i >= 0 && i < p->noutputs ? p->outputs[i] : -1; }
