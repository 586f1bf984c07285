/* Graph verifier: run between passes in debug builds and by the tests. */
#include <string.h>

#include "graph_internal.h"

static kiln_status verify_node(kiln_graph *g, kiln_value v) {
    kiln_node *n = &g->nodes[v];
    const kiln_op_def *d = kiln_op_get(n->op);
    if (!d) return kiln_error(KILN_ERR_INVALID, "node %%%d: invalid op %d", v, (int)n->op);
    if (n->ninputs < d->min_inputs || (d->max_inputs >= 0 && n->ninputs > d->max_inputs))
        return node_error(g, n, KILN_ERR_INVALID, "node %%%d has %d inputs", v, n->ninputs);
    for (int i = 0; i < n->ninputs; i++) {
        kiln_value in = n->inputs[i];
        if (in == KILN_NONE && i >= d->min_inputs) continue;
        if (in < 0 || in >= v)
            return node_error(g, n, KILN_ERR_INVALID, "node %%%d: input %d (%%%d) is not defined before it", v, i, in);
    }
    for (int i = 0; i < d->nattrs; i++) {
        const kiln_attr *a = &n->attrs[i];
        if (a->kind == KILN_ATTR_NONE && !d->attrs[i].required && d->attrs[i].dflt.kind == KILN_ATTR_NONE) continue;
        if (a->kind == KILN_ATTR_NONE && d->attrs[i].required)
            return node_error(g, n, KILN_ERR_INVALID, "node %%%d: missing attribute '%s'", v, d->attrs[i].name);
        if (a->kind != d->attrs[i].kind)
            return node_error(g, n, KILN_ERR_INVALID, "node %%%d: attribute '%s' has the wrong kind", v, d->attrs[i].name);
    }
    for (int i = 0; i < n->shape.rank; i++) {
        kiln_dim dim = n->shape.dims[i];
        if (dim == KILN_DIM_INVALID || (kiln_dim_is_const(dim) && dim < 0) || (!kiln_dim_is_const(dim) && !graph_dim_expr(g, dim)))
            return node_error(g, n, KILN_ERR_SHAPE, "node %%%d: invalid dimension %d", v, i);
    }
    switch (n->op) {
    case KILN_OP_INPUT:
    case KILN_OP_PARAM:
        if (!n->name || !n->name[0]) return node_error(g, n, KILN_ERR_INVALID, "node %%%d has no name", v);
        for (int j = 0; j < v; j++)
            if (g->nodes[j].op == n->op && strcmp(g->nodes[j].name, n->name) == 0)
                return node_error(g, n, KILN_ERR_INVALID, "'%s' is declared twice (%%%d and %%%d)", n->name, j, v);
        return KILN_OK;
    case KILN_OP_CONST: {
        if (!kiln_shape_is_static(&n->shape) || n->value.dtype != n->dtype || n->value.rank != n->shape.rank)
            return node_error(g, n, KILN_ERR_INVALID, "node %%%d: constant data does not match its type", v);
        for (int i = 0; i < n->shape.rank; i++)
            if (n->value.shape[i] != n->shape.dims[i])
                return node_error(g, n, KILN_ERR_INVALID, "node %%%d: constant data does not match its shape", v);
        uint64_t need = kiln_dtype_size(n->dtype);
        for (int i = 0; i < n->shape.rank; i++)
            if (__builtin_mul_overflow(need, (uint64_t)n->shape.dims[i], &need)) need = UINT64_MAX;
        if (!n->value.data || n->value.nbytes != need)
            return node_error(g, n, KILN_ERR_INVALID, "node %%%d: constant data holds %zu bytes, its type needs %llu", v,
                              n->value.data ? n->value.nbytes : 0, (unsigned long long)need);
        return KILN_OK;
    }
    default: break;
    }
    kiln_node copy = *n;
    KILN_TRY(d->infer(g, &copy));
    if (copy.dtype != n->dtype || !kiln_shape_equal(&copy.shape, &n->shape)) {
        char s1[256], s2[256];
        return node_error(g, n, KILN_ERR_INVALID, "node %%%d is recorded as %s%s but its inputs give %s%s", v,
                          kiln_dtype_name(n->dtype), kiln_shape_str(g, &n->shape, s1, sizeof s1),
                          kiln_dtype_name(copy.dtype), kiln_shape_str(g, &copy.shape, s2, sizeof s2));
    }
    return KILN_OK;
}

kiln_status kiln_graph_verify(const kiln_graph *cg) {
    kiln_graph *g = (kiln_graph *)cg; /* shape rules may allocate scratch in the arena */
    for (kiln_value v = 0; v < g->nnodes; v++) KILN_TRY(verify_node(g, v));
    for (int i = 0; i < g->noutputs; i++) {
        if (g->outputs[i].v < 0 || g->outputs[i].v >= g->nnodes)
            return kiln_error(KILN_ERR_INVALID, "output '%s' refers to no value", g->outputs[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(g->outputs[i].name, g->outputs[j].name) == 0)
                return kiln_error(KILN_ERR_INVALID, "output '%s' is declared twice", g->outputs[i].name);
    }
    return KILN_OK;
}
