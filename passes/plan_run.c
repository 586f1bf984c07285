/* Running a plan with the host kernel evaluator: bind like the reference
 * interpreter, check what the kernels cannot (symbolic slice bounds, empty
 * argmax axes), plan memory, run the kernels in order, collect outputs. */
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

/* Data-dependent conditions the reference reports as errors; kernels
 * have no way to fail, so the host checks them before launching. */
static kiln_status check_runtime(const kiln_graph *g, const int64_t *symvals) {
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op == KILN_OP_SLICE) {
            const kiln_node *x = kiln_graph_node(g, n->inputs[0]);
            int axis = (int)n->attrs[0].i;
            kiln_dim sized = x->shape.dims[axis];
            if (kiln_dim_is_const(sized) && kiln_dim_is_const(n->attrs[1].i) && kiln_dim_is_const(n->attrs[2].i)) continue;
            int64_t size, start, end, len;
            KILN_TRY(kiln_dim_eval(g, sized, symvals, &size));
            KILN_TRY(kiln_dim_eval(g, n->attrs[1].i, symvals, &start));
            KILN_TRY(kiln_dim_eval(g, n->attrs[2].i, symvals, &end));
            KILN_TRY(kiln_dim_eval(g, n->shape.dims[axis], symvals, &len));
            if (start < 0 || start > size || end - start != len || end > size)
                return kiln_error(KILN_ERR_SHAPE, "slice %%%d: bounds %lld:%lld on a dim of size %lld do not give the %lld elements the graph expects",
                                  v, (long long)start, (long long)end, (long long)size, (long long)len);
        } else if (n->op == KILN_OP_ARGMAX || n->op == KILN_OP_ARGMIN) {
            const kiln_node *x = kiln_graph_node(g, n->inputs[0]);
            int64_t len, shape[KILN_MAX_RANK];
            KILN_TRY(kiln_dim_eval(g, x->shape.dims[n->attrs[0].i], symvals, &len));
            KILN_TRY(kiln_shape_eval(g, &n->shape, symvals, shape));
            if (len == 0 && kiln_shape_numel(n->shape.rank, shape) > 0)
                return kiln_error(KILN_ERR_SHAPE, "%s %%%d: axis %lld is empty: no index to return", kiln_op_name(n->op), v,
                                  (long long)n->attrs[0].i);
        }
    }
    return KILN_OK;
}

typedef struct run_state {
    kiln_plan *p;
    kiln_bound_params params;
    kiln_bound_inputs inputs;
    const kiln_memplan *mp;
    unsigned char *arena;
    kiln_tensor *views; /* per plan tensor: where its data is */
    kiln_tensor *outs;  /* per plan tensor: owned storage of OUTPUT tensors */
} run_state;

static kiln_status locate(run_state *st, int t) {
    kiln_plan *p = st->p;
    const kiln_ptensor *pt = &p->tensors[t];
    const kiln_node *n = kiln_graph_node(p->graph, pt->node);
    int64_t shape[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_eval(p->graph, &pt->shape, st->inputs.symvals, shape));
    void *data = NULL;
    switch (pt->kind) {
    case KILN_PT_INPUT:
        for (int i = 0, k = 0; i < kiln_graph_node_count(p->graph); i++)
            if (kiln_graph_node(p->graph, i)->op == KILN_OP_INPUT) {
                if (i == pt->node) data = st->inputs.tensors[k].data;
                k++;
            }
        break;
    case KILN_PT_PARAM:
        for (int i = 0; i < st->params.count; i++)
            if (st->params.nodes[i] == pt->node) data = st->params.tensors[i].data;
        break;
    case KILN_PT_CONST: data = n->value.data; break;
    case KILN_PT_INTERMEDIATE: data = st->arena + st->mp->offset[t]; break;
    case KILN_PT_OUTPUT:
        KILN_TRY(kiln_tensor_alloc(&st->outs[t], pt->dtype, pt->shape.rank, shape));
        data = st->outs[t].data;
        break;
    }
    st->views[t] = kiln_tensor_view(pt->dtype, pt->shape.rank, shape, data);
    if (!data && kiln_tensor_numel(&st->views[t]))
        return kiln_error(KILN_ERR_NOT_FOUND, "tensor '%s' (%%%d) has no data", pt->name ? pt->name : "?", (int)pt->node);
    return KILN_OK;
}

static kiln_status run_kernels(run_state *st) {
    kiln_plan *p = st->p;
    int64_t *dims = NULL;
    kiln_tensor **bufs = NULL;
    kiln_status s = KILN_OK;
    for (int k = 0; k < p->nkernels && !s; k++) {
        const kiln_kernel *kn = &p->kernels[k];
        int64_t *d = realloc(dims, ((size_t)kn->ndims + 1) * sizeof *d);
        kiln_tensor **b = realloc(bufs, ((size_t)kn->nbufs + 1) * sizeof *b);
        if (d) dims = d;
        if (b) bufs = b;
        if (!d || !b) {
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            break;
        }
        for (int i = 0; i < kn->nbufs; i++) bufs[i] = &st->views[kn->bufs[i].tensor];
        s = kiln_kernel_dims(kn, p->graph, st->inputs.symvals, dims);
        if (!s) s = kiln_kernel_eval(kn, dims, bufs);
        if (s) s = kiln_error_wrap(s, "kernel %d '%s'", k, kn->name);
    }
    free(dims);
    free(bufs);
    return s;
}

/* Moves (or copies, for sources and shared tensors) results into a map. */
static kiln_status collect(run_state *st, kiln_tensor_map **outputs) {
    kiln_plan *p = st->p;
    kiln_tensor_map *map = kiln_tensor_map_new();
    if (!map) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    for (int i = 0; i < p->noutputs && !s; i++) {
        int t = p->outputs[i], later = 0;
        for (int j = i + 1; j < p->noutputs; j++) later |= p->outputs[j] == t;
        kiln_tensor r;
        if (p->tensors[t].kind == KILN_PT_OUTPUT && !later) {
            r = st->outs[t];
            memset(&st->outs[t], 0, sizeof st->outs[t]);
        } else {
            s = kiln_tensor_convert(&st->views[t], st->views[t].dtype, &r);
        }
        if (!s) s = kiln_tensor_map_put(map, kiln_graph_output_name(p->graph, i), r);
    }
    if (s) {
        kiln_tensor_map_free(map);
        return s;
    }
    kiln_tensor_map_set_origin(map, "kernel evaluator outputs");
    *outputs = map;
    return KILN_OK;
}

kiln_status kiln_plan_run(kiln_plan *p, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                          kiln_tensor_map **outputs) {
    *outputs = NULL;
    run_state st;
    memset(&st, 0, sizeof st);
    st.p = p;
    KILN_TRY(kiln_bind_params(p->graph, weights, &st.params));
    kiln_status s = kiln_bind_inputs(p->graph, inputs, &st.inputs);
    if (s) {
        kiln_bound_params_free(&st.params);
        return s;
    }
    if (!s) s = check_runtime(p->graph, st.inputs.symvals);
    if (!s) s = kiln_plan_memory(p, st.inputs.symvals, &st.mp);
    if (!s) {
        st.arena = aligned_alloc(KILN_ARENA_ALIGN, (size_t)(st.mp->arena_bytes ? st.mp->arena_bytes : KILN_ARENA_ALIGN));
        st.views = calloc((size_t)p->ntensors + 1, sizeof *st.views);
        st.outs = calloc((size_t)p->ntensors + 1, sizeof *st.outs);
        if (!st.arena || !st.views || !st.outs) s = kiln_error(KILN_ERR_NOMEM, "out of memory for a %lld-byte arena", (long long)st.mp->arena_bytes);
    }
    for (int t = 0; !s && t < p->ntensors; t++) s = locate(&st, t);
    if (!s) s = run_kernels(&st);
    if (!s) s = collect(&st, outputs);
    for (int t = 0; st.outs && t < p->ntensors; t++) kiln_tensor_release(&st.outs[t]);
    free(st.outs);
    free(st.views);
    free(st.arena);
    kiln_bound_params_free(&st.params);
    kiln_bound_inputs_free(&st.inputs);
    return s ? kiln_error_wrap(s, "running graph '%s' with the kernel evaluator", kiln_graph_name(p->graph)) : KILN_OK;
}

kiln_status kiln_eval_run(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                          kiln_tensor_map **outputs) {
    *outputs = NULL;
    kiln_plan *p = NULL;
    KILN_TRY(kiln_plan_compile(g, NULL, &p));
    kiln_status s = kiln_plan_run(p, weights, inputs, outputs);
    kiln_plan_free(p);
    return s;
}
