/* Graph construction: nodes, inputs, parameters, constants, outputs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

void *graph_alloc(kiln_graph *g, size_t n) {
    n = (n + 15) & ~(size_t)15;
    graph_chunk *c = g->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = g->chunks;
        c->used = 0;
        c->cap = cap;
        g->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

const char *kiln_graph_intern(kiln_graph *g, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = graph_alloc(g, n);
    if (p) memcpy(p, s, n);
    return p;
}

kiln_graph *kiln_graph_new(const char *name) {
    kiln_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->name = kiln_graph_intern(g, name ? name : "main");
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

void kiln_graph_free(kiln_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++) kiln_tensor_release(&g->nodes[i].value);
    free(g->nodes);
    free(g->syms);
    free(g->dexprs);
    free(g->outputs);
    free(g->name_slots);
    free(g->dim_slots);
    while (g->chunks) {
        graph_chunk *c = g->chunks;
        g->chunks = c->next;
        free(c);
    }
    free(g);
}

const char *kiln_graph_name(const kiln_graph *g) { return g->name; }
int kiln_graph_node_count(const kiln_graph *g) { return g->nnodes; }
kiln_node *kiln_graph_node(const kiln_graph *g, kiln_value v) {
    return v >= 0 && v < g->nnodes ? &g->nodes[v] : NULL;
}

void kiln_graph_set_loc(kiln_graph *g, kiln_loc loc) {
    if (loc.file && (!g->loc.file || strcmp(loc.file, g->loc.file) != 0)) loc.file = kiln_graph_intern(g, loc.file);
    else if (loc.file) loc.file = g->loc.file;
    g->loc = loc;
}
kiln_loc kiln_graph_loc(const kiln_graph *g) { return g->loc; }

const char *kiln_loc_str(kiln_loc loc, char *buf, size_t cap) {
    if (!loc.file) snprintf(buf, cap, "%s", "");
    else if (loc.line <= 0) snprintf(buf, cap, "%s", loc.file);
    else snprintf(buf, cap, "%s:%d:%d", loc.file, loc.line, loc.col);
    return buf;
}

static kiln_status vnode_error(const kiln_graph *g, const kiln_node *n, kiln_code code, const char *fmt, va_list ap) {
    (void)g;
    kiln_status s = kiln_errorv(code, fmt, ap);
    return node_wrap(g, n, s);
}

kiln_status node_error(const kiln_graph *g, const kiln_node *n, kiln_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = vnode_error(g, n, code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status node_wrap(const kiln_graph *g, const kiln_node *n, kiln_status s) {
    (void)g;
    char loc[512];
    kiln_loc_str(n->loc, loc, sizeof loc);
    if (loc[0]) return kiln_error_wrap(s, "%s: %s", loc, kiln_op_name(n->op));
    return kiln_error_wrap(s, "%s", kiln_op_name(n->op));
}

/* Append a node; returns NULL on allocation failure. */
static kiln_node *push_node(kiln_graph *g) {
    if (g->nnodes == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        kiln_node *p = realloc(g->nodes, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        g->nodes = p;
        g->cap = cap;
    }
    kiln_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->loc = g->loc;
    return n;
}

/* Store an attribute value of the schema's kind, copying lists into the graph. */
static kiln_status set_attr(kiln_graph *g, kiln_node *n, const kiln_attr_def *def, kiln_attr v, kiln_attr *dst) {
    kiln_attr a = v;
    if (a.kind != def->kind) {
        int from_int = a.kind == KILN_ATTR_INT;
        if (from_int && (def->kind == KILN_ATTR_BOOL || def->kind == KILN_ATTR_DIM || def->kind == KILN_ATTR_DTYPE)) {
            a.kind = def->kind;
        } else if (from_int && def->kind == KILN_ATTR_FLOAT) {
            a.kind = KILN_ATTR_FLOAT;
            a.f = (double)a.i;
        } else if (a.kind == KILN_ATTR_INTS && def->kind == KILN_ATTR_DIMS) {
            a.kind = KILN_ATTR_DIMS;
        } else if (a.kind == KILN_ATTR_DIMS && def->kind == KILN_ATTR_INTS) {
            for (int i = 0; i < a.n; i++)
                if (!kiln_dim_is_const(a.list[i]))
                    return node_error(g, n, KILN_ERR_TYPE, "attribute '%s' must be constant integers", def->name);
            a.kind = KILN_ATTR_INTS;
        } else {
            return node_error(g, n, KILN_ERR_TYPE, "attribute '%s' has the wrong kind", def->name);
        }
    }
    if (a.kind == KILN_ATTR_DTYPE && (a.i < 0 || a.i >= KILN_DTYPE_COUNT))
        return node_error(g, n, KILN_ERR_TYPE, "attribute '%s' is not a dtype", def->name);
    if (a.kind == KILN_ATTR_DIM && a.i == KILN_DIM_INVALID)
        return node_error(g, n, KILN_ERR_SHAPE, "attribute '%s' is an invalid dimension", def->name);
    if (a.kind == KILN_ATTR_INTS || a.kind == KILN_ATTR_DIMS) {
        if (a.n < 0 || a.n > 4096) return node_error(g, n, KILN_ERR_LIMIT, "attribute '%s' is too long", def->name);
        int64_t *copy = graph_alloc(g, sizeof(int64_t) * (size_t)(a.n ? a.n : 1));
        if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (int i = 0; i < a.n; i++) {
            if (a.kind == KILN_ATTR_DIMS && a.list[i] == KILN_DIM_INVALID)
                return node_error(g, n, KILN_ERR_SHAPE, "attribute '%s' holds an invalid dimension", def->name);
            copy[i] = a.list[i];
        }
        a.list = copy;
    }
    if (a.kind == KILN_ATTR_STR) {
        a.s = kiln_graph_intern(g, a.s ? a.s : "");
        if (!a.s) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    *dst = a;
    return KILN_OK;
}

kiln_status kiln_build(kiln_graph *g, kiln_op op, int ninputs, const kiln_value *inputs, int nattrs,
                       const kiln_named_attr *attrs, kiln_value *out) {
    const kiln_op_def *d = kiln_op_get(op);
    if (!d) return kiln_error(KILN_ERR_INVALID, "invalid op %d", (int)op);
    kiln_node *n = push_node(g);
    if (!n) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    n->op = op;
    if (ninputs < d->min_inputs || (d->max_inputs >= 0 && ninputs > d->max_inputs)) {
        if (d->max_inputs < 0)
            return node_error(g, n, KILN_ERR_INVALID, "takes at least %d inputs, got %d", d->min_inputs, ninputs);
        if (d->min_inputs == d->max_inputs)
            return node_error(g, n, KILN_ERR_INVALID, "takes %d inputs, got %d", d->min_inputs, ninputs);
        return node_error(g, n, KILN_ERR_INVALID, "takes %d to %d inputs, got %d", d->min_inputs, d->max_inputs,
                          ninputs);
    }
    for (int i = 0; i < ninputs; i++) {
        int optional = i >= d->min_inputs;
        if (inputs[i] == KILN_NONE && optional) continue;
        if (inputs[i] < 0 || inputs[i] >= g->nnodes)
            return node_error(g, n, KILN_ERR_INVALID, "input %d refers to no value", i);
    }
    /* attributes: defaults first, then the given ones by name */
    for (int i = 0; i < d->nattrs; i++) n->attrs[i] = d->attrs[i].dflt;
    for (int i = 0; i < nattrs; i++) {
        int k = kiln_op_attr_index(op, attrs[i].name);
        if (k < 0) return node_error(g, n, KILN_ERR_INVALID, "has no attribute '%s'", attrs[i].name);
        KILN_TRY(set_attr(g, n, &d->attrs[k], attrs[i].value, &n->attrs[k]));
    }
    for (int i = 0; i < d->nattrs; i++)
        if (d->attrs[i].required && n->attrs[i].kind == KILN_ATTR_NONE)
            return node_error(g, n, KILN_ERR_INVALID, "missing attribute '%s'", d->attrs[i].name);
    if (ninputs) {
        n->inputs = graph_alloc(g, sizeof(kiln_value) * (size_t)ninputs);
        if (!n->inputs) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        memcpy(n->inputs, inputs, sizeof(kiln_value) * (size_t)ninputs);
    }
    n->ninputs = ninputs;
    KILN_TRY(d->infer(g, n));
    for (int i = 0; i < n->shape.rank; i++)
        if (n->shape.dims[i] == KILN_DIM_INVALID)
            return node_error(g, n, KILN_ERR_LIMIT, "symbolic dimension too complex");
    *out = g->nnodes++;
    return KILN_OK;
}

static kiln_status check_shape(kiln_graph *g, const char *what, const char *name, const kiln_shape *shape) {
    if (shape->rank < 0 || shape->rank > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_LIMIT, "%s '%s': rank %d exceeds %d", what, name, shape->rank, KILN_MAX_RANK);
    for (int i = 0; i < shape->rank; i++) {
        kiln_dim d = shape->dims[i];
        if (d == KILN_DIM_INVALID || (kiln_dim_is_const(d) && d < 0) || (!kiln_dim_is_const(d) && !graph_dim_expr(g, d)))
            return kiln_error(KILN_ERR_SHAPE, "%s '%s': invalid dimension %d", what, name, i);
    }
    return KILN_OK;
}

static kiln_status add_source(kiln_graph *g, kiln_op op, const char *name, kiln_dtype dtype, const kiln_shape *shape,
                              kiln_value *out) {
    if ((unsigned)dtype >= KILN_DTYPE_COUNT) return kiln_error(KILN_ERR_TYPE, "invalid dtype for '%s'", name);
    KILN_TRY(check_shape(g, kiln_op_name(op), name, shape));
    /* shape may point into this graph's nodes, which push_node may move
     * (a caller copying another node's shape) */
    const kiln_shape copy = *shape;
    kiln_node *n = push_node(g);
    if (!n) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    n->op = op;
    n->dtype = dtype;
    n->shape = copy;
    n->name = kiln_graph_intern(g, name);
    if (!n->name) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    g->nnodes++;
    if (!graph_index_add_named(g, g->nnodes - 1)) {
        g->nnodes--;
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    *out = g->nnodes - 1;
    return KILN_OK;
}

static kiln_value find_named(const kiln_graph *g, kiln_op op, const char *name) {
    return graph_index_find_named(g, op, name);
}

kiln_value kiln_graph_find_input(const kiln_graph *g, const char *name) { return find_named(g, KILN_OP_INPUT, name); }
kiln_value kiln_graph_find_param(const kiln_graph *g, const char *name) { return find_named(g, KILN_OP_PARAM, name); }

kiln_status kiln_graph_add_input(kiln_graph *g, const char *name, kiln_dtype dtype, const kiln_shape *shape,
                                 kiln_value *out) {
    if (find_named(g, KILN_OP_INPUT, name) != KILN_NONE)
        return kiln_error(KILN_ERR_INVALID, "input '%s' is declared twice", name);
    return add_source(g, KILN_OP_INPUT, name, dtype, shape, out);
}

kiln_status kiln_graph_add_param(kiln_graph *g, const char *name, kiln_dtype dtype, const kiln_shape *shape,
                                 kiln_value *out) {
    kiln_value v = find_named(g, KILN_OP_PARAM, name);
    if (v != KILN_NONE) {
        kiln_node *n = &g->nodes[v];
        if (n->dtype != dtype || !kiln_shape_equal(&n->shape, shape)) {
            char s1[256], s2[256];
            return kiln_error(KILN_ERR_SHAPE, "parameter '%s' is used as %s%s and as %s%s", name,
                              kiln_dtype_name(n->dtype), kiln_shape_str(g, &n->shape, s1, sizeof s1),
                              kiln_dtype_name(dtype), kiln_shape_str(g, shape, s2, sizeof s2));
        }
        *out = v;
        return KILN_OK;
    }
    return add_source(g, KILN_OP_PARAM, name, dtype, shape, out);
}

kiln_status kiln_graph_add_const(kiln_graph *g, const kiln_tensor *t, kiln_value *out) {
    kiln_shape s;
    s.rank = t->rank;
    for (int i = 0; i < t->rank; i++) s.dims[i] = t->shape[i];
    KILN_TRY(check_shape(g, "const", "", &s));
    kiln_tensor copy;
    KILN_TRY(kiln_tensor_convert(t, t->dtype, &copy));
    kiln_node *n = push_node(g);
    if (!n) {
        kiln_tensor_release(&copy);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    n->op = KILN_OP_CONST;
    n->dtype = t->dtype;
    n->shape = s;
    n->value = copy;
    *out = g->nnodes++;
    return KILN_OK;
}

kiln_status kiln_graph_add_scalar(kiln_graph *g, kiln_dtype dtype, double v, kiln_value *out) {
    unsigned char buf[8];
    kiln_tensor t = kiln_tensor_view(dtype, 0, NULL, buf);
    kiln_store_f64(buf, dtype, 0, v);
    return kiln_graph_add_const(g, &t, out);
}

kiln_status kiln_graph_add_output(kiln_graph *g, const char *name, kiln_value v) {
    if (v < 0 || v >= g->nnodes) return kiln_error(KILN_ERR_INVALID, "output '%s' refers to no value", name);
    for (int i = 0; i < g->noutputs; i++)
        if (strcmp(g->outputs[i].name, name) == 0)
            return kiln_error(KILN_ERR_INVALID, "output '%s' is declared twice", name);
    if (g->noutputs == g->ocap) {
        int cap = g->ocap ? g->ocap * 2 : 4;
        graph_output *p = realloc(g->outputs, (size_t)cap * sizeof *p);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        g->outputs = p;
        g->ocap = cap;
    }
    const char *nm = kiln_graph_intern(g, name);
    if (!nm) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    g->outputs[g->noutputs++] = (graph_output){nm, v};
    return KILN_OK;
}

int kiln_graph_output_count(const kiln_graph *g) { return g->noutputs; }
const char *kiln_graph_output_name(const kiln_graph *g, int i) { return g->outputs[i].name; }
kiln_value kiln_graph_output_value(const kiln_graph *g, int i) { return g->outputs[i].v; }
void kiln_graph_set_output_value(kiln_graph *g, int i, kiln_value v) { g->outputs[i].v = v; }

int kiln_graph_input_count(const kiln_graph *g) {
    int k = 0;
    for (int i = 0; i < g->nnodes; i++) k += g->nodes[i].op == KILN_OP_INPUT;
    return k;
}

kiln_value kiln_graph_input_value(const kiln_graph *g, int idx) {
    for (int i = 0, k = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == KILN_OP_INPUT && k++ == idx) return i;
    return KILN_NONE;
}

kiln_status kiln_graph_bind_symbols(const kiln_graph *g, const kiln_tensor *const *inputs, int ninputs,
                                    int64_t *symvals) {
    for (int i = 0; i < g->nsyms; i++) symvals[i] = -1;
    /* Two rounds: single-symbol dims bind first, then compound ones are checked. */
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < ninputs; k++) {
            const kiln_tensor *t = inputs[k];
            if (!t) continue;
            const kiln_node *n = kiln_graph_node(g, kiln_graph_input_value(g, k));
            if (!n) return kiln_error(KILN_ERR_INVALID, "input %d does not exist", k);
            char s1[256], s2[256];
            if (t->rank != n->shape.rank)
                return kiln_error(KILN_ERR_SHAPE, "input '%s' has rank %d (shape %s), expected %s", n->name, t->rank,
                                  kiln_tensor_shape_str(t, s1, sizeof s1), kiln_shape_str(g, &n->shape, s2, sizeof s2));
            for (int d = 0; d < t->rank; d++) {
                kiln_dim dim = n->shape.dims[d];
                const dim_expr *e = graph_dim_expr(g, dim);
                if (round == 0 && e && e->nt == 1 && e->c == 0 && e->t[0].coef == 1 && e->t[0].nf == 1) {
                    int s = e->t[0].f[0];
                    if (symvals[s] < 0) symvals[s] = t->shape[d];
                }
                if (round == 1) {
                    int64_t want;
                    kiln_status st = kiln_dim_eval(g, dim, symvals, &want);
                    if (st) {
                        kiln_status_free(st);
                        continue; /* an unbound compound dim: nothing to check */
                    }
                    if (want != t->shape[d])
                        return kiln_error(KILN_ERR_SHAPE, "input '%s' has shape %s, expected %s (dim %d is %lld, not %lld)",
                                          n->name, kiln_tensor_shape_str(t, s1, sizeof s1),
                                          kiln_shape_str(g, &n->shape, s2, sizeof s2), d, (long long)t->shape[d],
                                          (long long)want);
                }
            }
        }
    }
    return KILN_OK;
}
