/* Running a whole graph: bind, then evaluate the nodes the outputs need in
 * node order, freeing each intermediate after its last use. */
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

typedef struct run_state {
    const kiln_graph *g;
    int nn;
    kiln_tensor *vals;  /* one per node; views for sources */
    char *needed;
    int *last_use;      /* last consumer's node index; nn for outputs */
    const int64_t *symvals;
} run_state;

static void state_free(run_state *st) {
    if (st->vals)
        for (int v = 0; v < st->nn; v++) kiln_tensor_release(&st->vals[v]);
    free(st->vals);
    free(st->needed);
    free(st->last_use);
}

/* Marks what the outputs need and when each value dies. Also rejects
 * inputs that do not come strictly before their consumer, so a malformed
 * graph cannot make us read a value that is not there yet. */
static kiln_status plan(run_state *st) {
    const kiln_graph *g = st->g;
    for (int i = 0; i < kiln_graph_output_count(g); i++) {
        kiln_value v = kiln_graph_output_value(g, i);
        if (v < 0 || v >= st->nn)
            return kiln_error(KILN_ERR_INVALID, "output '%s' refers to no value", kiln_graph_output_name(g, i));
        st->needed[v] = 1;
        st->last_use[v] = st->nn;
    }
    for (int v = st->nn - 1; v >= 0; v--) {
        if (!st->needed[v]) continue;
        const kiln_node *n = kiln_graph_node(g, v);
        for (int i = 0; i < n->ninputs; i++) {
            kiln_value u = n->inputs[i];
            if (u == KILN_NONE) continue;
            if (u < 0 || u >= v)
                return kiln_error(KILN_ERR_INVALID, "%s %%%d: input %d (%%%d) is not defined before it",
                                  kiln_op_name(n->op), v, i, (int)u);
            st->needed[u] = 1;
            if (st->last_use[u] < v) st->last_use[u] = v;
        }
    }
    return KILN_OK;
}

/* A bound INPUT/PARAM tensor must be what the node declares. */
static kiln_status check_bound(const run_state *st, const kiln_node *n, const kiln_tensor *t) {
    int64_t want[KILN_MAX_RANK];
    const char *what = n->op == KILN_OP_PARAM ? "parameter" : "input";
    kiln_status s = kiln_shape_eval(st->g, &n->shape, st->symvals, want);
    if (s) return kiln_error_wrap(s, "%s '%s'", what, n->name);
    int ok = t->dtype == n->dtype && t->rank == n->shape.rank && (t->data || kiln_tensor_numel(t) == 0);
    for (int d = 0; ok && d < t->rank; d++) ok = t->shape[d] == want[d];
    if (!ok) {
        char got[256], exp[256];
        kiln_tensor view = kiln_tensor_view(n->dtype, n->shape.rank, want, NULL);
        return kiln_error(KILN_ERR_SHAPE, "%s '%s' is bound to %s, the graph needs %s", what, n->name,
                          kiln_tensor_shape_str(t, got, sizeof got), kiln_tensor_shape_str(&view, exp, sizeof exp));
    }
    return KILN_OK;
}

static kiln_status bind_source(run_state *st, kiln_value v, const kiln_bound_params *params,
                               const kiln_bound_inputs *inputs, int *next_input) {
    const kiln_node *n = kiln_graph_node(st->g, v);
    const kiln_tensor *t = NULL;
    if (n->op == KILN_OP_CONST) {
        t = &n->value;
    } else if (n->op == KILN_OP_INPUT) {
        int k = (*next_input)++; /* INPUT nodes are bound in node order */
        if (k >= inputs->count) return kiln_error(KILN_ERR_INVALID, "input '%s' is not bound", n->name);
        t = &inputs->tensors[k];
        KILN_TRY(check_bound(st, n, t));
    } else {
        for (int i = 0; params && i < params->count; i++)
            if (params->nodes[i] == v) t = &params->tensors[i];
        if (!t) return kiln_error(KILN_ERR_NOT_FOUND, "parameter '%s' is not bound", n->name);
        KILN_TRY(check_bound(st, n, t));
    }
    st->vals[v] = kiln_tensor_view(t->dtype, t->rank, t->shape, t->data);
    return KILN_OK;
}

static kiln_status eval(run_state *st, kiln_value v) {
    const kiln_node *n = kiln_graph_node(st->g, v);
    const kiln_tensor *args[64], **ins = args;
    if (n->ninputs > 64) {
        ins = malloc((size_t)n->ninputs * sizeof *ins);
        if (!ins) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n->ninputs; i++) ins[i] = n->inputs[i] == KILN_NONE ? NULL : &st->vals[n->inputs[i]];
    kiln_status s = kiln_ref_eval_node(st->g, n, st->symvals, ins, &st->vals[v]);
    if (ins != args) free(ins);
    if (s) return s;
    for (int i = 0; i < n->ninputs; i++) {
        kiln_value u = n->inputs[i];
        if (u != KILN_NONE && st->last_use[u] == v) kiln_tensor_release(&st->vals[u]);
    }
    return KILN_OK;
}

/* Move an owned result into outputs[i] when no later output shares it;
 * copy views (inputs, params, constants) and shared values. */
static kiln_status collect(run_state *st, kiln_tensor *outputs) {
    const kiln_graph *g = st->g;
    int nout = kiln_graph_output_count(g);
    for (int i = 0; i < nout; i++) {
        kiln_value v = kiln_graph_output_value(g, i);
        int shared_later = 0;
        for (int j = i + 1; j < nout; j++) shared_later |= kiln_graph_output_value(g, j) == v;
        kiln_tensor *t = &st->vals[v];
        if (t->owns_data && !shared_later) {
            outputs[i] = *t;
            memset(t, 0, sizeof *t);
        } else {
            kiln_status s = kiln_tensor_convert(t, t->dtype, &outputs[i]);
            if (s) {
                for (int j = 0; j < i; j++) kiln_tensor_release(&outputs[j]);
                return kiln_error_wrap(s, "output '%s'", kiln_graph_output_name(g, i));
            }
        }
    }
    return KILN_OK;
}

kiln_status kiln_ref_run_bound(const kiln_graph *g, const kiln_bound_params *params, const kiln_bound_inputs *inputs,
                               kiln_tensor *outputs) {
    if (!g || !inputs || (!outputs && kiln_graph_output_count(g)))
        return kiln_error(KILN_ERR_INVALID, "kiln_ref_run_bound: graph, inputs and outputs are required");
    int nout = kiln_graph_output_count(g);
    for (int i = 0; i < nout; i++) memset(&outputs[i], 0, sizeof outputs[i]);
    if (inputs->count != kiln_graph_input_count(g) || inputs->nsyms != kiln_graph_symbol_count(g))
        return kiln_error(KILN_ERR_INVALID, "graph '%s' takes %d inputs and %d symbols, %d and %d are bound",
                          kiln_graph_name(g), kiln_graph_input_count(g), kiln_graph_symbol_count(g), inputs->count,
                          inputs->nsyms);
    run_state st = {g, kiln_graph_node_count(g), NULL, NULL, NULL, inputs->symvals};
    st.vals = calloc((size_t)st.nn + 1, sizeof *st.vals);
    st.needed = calloc((size_t)st.nn + 1, 1);
    st.last_use = calloc((size_t)st.nn + 1, sizeof *st.last_use);
    if (!st.vals || !st.needed || !st.last_use) {
        state_free(&st);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    kiln_status s = plan(&st);
    int next_input = 0;
    for (int v = 0; !s && v < st.nn; v++) {
        kiln_op op = kiln_graph_node(g, v)->op;
        int source = op == KILN_OP_INPUT || op == KILN_OP_PARAM || op == KILN_OP_CONST;
        if (op == KILN_OP_INPUT && !st.needed[v]) next_input++;
        if (!st.needed[v]) continue;
        s = source ? bind_source(&st, v, params, inputs, &next_input) : eval(&st, v);
    }
    if (!s) s = collect(&st, outputs);
    state_free(&st);
    return s ? kiln_error_wrap(s, "running graph '%s' on the reference interpreter", kiln_graph_name(g)) : KILN_OK;
}

kiln_status kiln_ref_run(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                         kiln_tensor_map **outputs) {
    *outputs = NULL;
    kiln_bound_params bp;
    kiln_bound_inputs bi;
    KILN_TRY(kiln_bind_params(g, weights, &bp));
    kiln_status s = kiln_bind_inputs(g, inputs, &bi);
    if (s) {
        kiln_bound_params_free(&bp);
        return s;
    }
    int nout = kiln_graph_output_count(g);
    kiln_tensor *outs = calloc((size_t)nout + 1, sizeof *outs);
    kiln_tensor_map *map = kiln_tensor_map_new();
    if (!outs || !map) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) s = kiln_ref_run_bound(g, &bp, &bi, outs);
    kiln_bound_params_free(&bp);
    kiln_bound_inputs_free(&bi);
    int i = 0; /* outputs [i, nout) are still ours to release on failure */
    while (!s && i < nout) {
        s = kiln_tensor_map_put(map, kiln_graph_output_name(g, i), outs[i]);
        if (!s) i++;
    }
    if (s) {
        for (int j = i; outs && j < nout; j++) kiln_tensor_release(&outs[j]);
        free(outs);
        kiln_tensor_map_free(map);
        return s;
    }
    free(outs);
    kiln_tensor_map_set_origin(map, "reference interpreter outputs");
    *outputs = map;
    return KILN_OK;
}
