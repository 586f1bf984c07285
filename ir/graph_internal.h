/* Graph internals shared by the files of ir/. */
#ifndef KILN_GRAPH_INTERNAL_H
#define KILN_GRAPH_INTERNAL_H

#include "kiln/ir.h"

#define DIM_MAX_TERMS 8
#define DIM_MAX_FACTORS 4

/* coef * f[0] * f[1] * ... (symbol ids, sorted ascending, repeats allowed) */
typedef struct dim_term {
    int64_t coef;
    int nf;
    int32_t f[DIM_MAX_FACTORS];
} dim_term;

/* c + sum of terms, terms sorted and merged: the canonical form. */
typedef struct dim_expr {
    int64_t c;
    int nt;
    dim_term t[DIM_MAX_TERMS];
} dim_expr;

typedef struct graph_chunk {
    struct graph_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} graph_chunk;

typedef struct graph_output {
    const char *name;
    kiln_value v;
} graph_output;

struct kiln_graph {
    const char *name;
    kiln_node *nodes;
    int nnodes, cap;
    const char **syms;
    int nsyms, symcap;
    dim_expr *dexprs;
    int ndexprs, dcap;
    graph_output *outputs;
    int noutputs, ocap;
    kiln_loc loc;
    graph_chunk *chunks;
    /* hash indexes (open addressing, -1 = empty) so that building large
     * graphs stays linear: INPUT/PARAM names, and interned dim expressions */
    int32_t *name_slots;
    int name_cap, name_count;
    int32_t *dim_slots;
    int dim_cap;
};

/* Node of op INPUT/PARAM named `name`, or KILN_NONE. */
kiln_value graph_index_find_named(const kiln_graph *g, kiln_op op, const char *name);
/* Record node v (an INPUT or PARAM) in the name index. 0 on allocation failure. */
int graph_index_add_named(kiln_graph *g, kiln_value v);
/* Index of an interned expression equal to e, or -1. */
int graph_index_find_dim(const kiln_graph *g, const dim_expr *e);
/* Record g->dexprs[i] in the dim index. 0 on allocation failure. */
int graph_index_add_dim(kiln_graph *g, int i);

/* Memory that lives as long as the graph. NULL on exhaustion. */
void *graph_alloc(kiln_graph *g, size_t n);
/* Expression behind a symbolic dim handle, or NULL for constants. */
const dim_expr *graph_dim_expr(const kiln_graph *g, kiln_dim d);
/* Error naming the node's op and location. */
kiln_status node_error(const kiln_graph *g, const kiln_node *n, kiln_code code, const char *fmt, ...)
    KILN_PRINTF(4, 5);
/* Prefix an existing error with the node's location and op. */
kiln_status node_wrap(const kiln_graph *g, const kiln_node *n, kiln_status s);
/* Attribute accessors for shape rules and kernels. */
static inline const kiln_attr *node_attr(const kiln_node *n, int i) { return &n->attrs[i]; }

#endif
