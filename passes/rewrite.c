/* Copying and rebuilding nodes from one graph into another. */
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

kiln_status rw_begin(rewriter *r, const kiln_graph *src) {
    memset(r, 0, sizeof *r);
    r->src = src;
    r->nsrc = kiln_graph_node_count(src);
    r->dst = rw_graph_new_like(src);
    r->map = malloc(((size_t)r->nsrc + 1) * sizeof *r->map);
    if (!r->dst || !r->map) {
        rw_abort(r);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < r->nsrc; i++) r->map[i] = KILN_NONE;
    return KILN_OK;
}

void rw_abort(rewriter *r) {
    kiln_graph_free(r->dst);
    free(r->map);
    memset(r, 0, sizeof *r);
}

kiln_status rw_finish(rewriter *r, kiln_graph **out) {
    *out = NULL;
    for (int i = 0; i < kiln_graph_output_count(r->src); i++) {
        kiln_value v = kiln_graph_output_value(r->src, i);
        kiln_value m = v >= 0 && v < r->nsrc ? r->map[v] : KILN_NONE;
        const char *name = kiln_graph_output_name(r->src, i);
        if (m == KILN_NONE) {
            rw_abort(r);
            return kiln_error(KILN_ERR_INTERNAL, "output '%s' was dropped by the pass", name);
        }
        kiln_status s = kiln_graph_add_output(r->dst, name, m);
        if (s) {
            rw_abort(r);
            return s;
        }
    }
    *out = r->dst;
    r->dst = NULL;
    rw_abort(r);
    return KILN_OK;
}

int rw_named_attrs(const kiln_node *n, kiln_named_attr *out) {
    const kiln_op_def *d = kiln_op_get(n->op);
    int k = 0;
    for (int i = 0; d && i < d->nattrs; i++) {
        if (n->attrs[i].kind == KILN_ATTR_NONE) continue;
        out[k].name = d->attrs[i].name;
        out[k].value = n->attrs[i];
        k++;
    }
    return k;
}

void rw_inputs(const rewriter *r, kiln_value v, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(r->src, v);
    for (int i = 0; i < n->ninputs; i++) out[i] = n->inputs[i] == KILN_NONE ? KILN_NONE : r->map[n->inputs[i]];
}

kiln_status rw_build(rewriter *r, kiln_value like, kiln_op op, int nin, const kiln_value *ins, int nattrs,
                     const kiln_named_attr *attrs, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(r->src, like);
    if (n) kiln_graph_set_loc(r->dst, n->loc);
    return kiln_build(r->dst, op, nin, ins, nattrs, attrs, out);
}

/* Sources are not built by kiln_build: they carry names or data. */
static kiln_status copy_source(rewriter *r, const kiln_node *n, kiln_value *out) {
    kiln_graph_set_loc(r->dst, n->loc);
    switch (n->op) {
    case KILN_OP_INPUT: {
        KILN_TRY(kiln_graph_add_input(r->dst, n->name, n->dtype, &n->shape, out));
        kiln_graph_node(r->dst, *out)->attrs[0] = n->attrs[0]; /* the default value, a plain float */
        return KILN_OK;
    }
    case KILN_OP_PARAM: return kiln_graph_add_param(r->dst, n->name, n->dtype, &n->shape, out);
    default: return kiln_graph_add_const(r->dst, &n->value, out);
    }
}

kiln_status rw_copy_with(rewriter *r, kiln_value v, const kiln_value *dst_inputs, kiln_value *out) {
    const kiln_node *n = kiln_graph_node(r->src, v);
    if (!n) return kiln_error(KILN_ERR_INVALID, "rewriter: no node %%%d", (int)v);
    if (n->op == KILN_OP_INPUT || n->op == KILN_OP_PARAM || n->op == KILN_OP_CONST) return copy_source(r, n, out);
    kiln_named_attr attrs[KILN_MAX_ATTRS];
    int na = rw_named_attrs(n, attrs);
    return rw_build(r, v, n->op, n->ninputs, dst_inputs, na, attrs, out);
}

kiln_status rw_copy(rewriter *r, kiln_value v) {
    const kiln_node *n = kiln_graph_node(r->src, v);
    if (!n) return kiln_error(KILN_ERR_INVALID, "rewriter: no node %%%d", (int)v);
    kiln_value small[16], *ins = small;
    if (n->ninputs > 16) {
        ins = malloc((size_t)n->ninputs * sizeof *ins);
        if (!ins) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    rw_inputs(r, v, ins);
    kiln_status s = KILN_OK;
    for (int i = 0; i < n->ninputs && !s; i++)
        if (n->inputs[i] != KILN_NONE && ins[i] == KILN_NONE)
            s = kiln_error(KILN_ERR_INTERNAL, "rewriter: input %d of %s %%%d is not mapped", i, kiln_op_name(n->op), (int)v);
    if (!s) s = rw_copy_with(r, v, ins, &r->map[v]);
    if (ins != small) free(ins);
    return s;
}

int rw_max_inputs(const kiln_graph *g) {
    int m = 0;
    for (int v = 0; v < kiln_graph_node_count(g); v++)
        if (kiln_graph_node(g, v)->ninputs > m) m = kiln_graph_node(g, v)->ninputs;
    return m;
}
