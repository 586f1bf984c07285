/* The graph rewriter every pass uses. A pass reads graph `src` and builds a
 * new graph `dst` with the same name, symbols and interned dims (so dim
 * handles in shapes and attributes mean the same in both), mapping each
 * src value to a dst value: copied, replaced by new nodes, or dropped. */
#ifndef KILN_PASSES_REWRITE_H
#define KILN_PASSES_REWRITE_H

#include "kiln/ir.h"

typedef struct rewriter {
    const kiln_graph *src;
    kiln_graph *dst;
    kiln_value *map; /* src value -> dst value, KILN_NONE when not (yet) mapped */
    int nsrc;
} rewriter;

/* A new empty graph with src's name, symbols and dim table. */
kiln_graph *rw_graph_new_like(const kiln_graph *src);

kiln_status rw_begin(rewriter *r, const kiln_graph *src);
/* Adds src's outputs (mapped) to dst and hands dst over. Frees r either way. */
kiln_status rw_finish(rewriter *r, kiln_graph **out);
void rw_abort(rewriter *r);

/* Copy src node v into dst with its inputs mapped (every input must be
 * mapped already), same attributes and location; sets map[v]. */
kiln_status rw_copy(rewriter *r, kiln_value v);
/* Copy src node v with explicit dst inputs and the same attributes. */
kiln_status rw_copy_with(rewriter *r, kiln_value v, const kiln_value *dst_inputs, kiln_value *out);

/* kiln_build into dst, stamped with src node `like`'s location. */
kiln_status rw_build(rewriter *r, kiln_value like, kiln_op op, int nin, const kiln_value *ins, int nattrs,
                     const kiln_named_attr *attrs, kiln_value *out);

/* The mapped dst inputs of src node v (up to n->ninputs entries). */
void rw_inputs(const rewriter *r, kiln_value v, kiln_value *out);

/* The largest input count of any node in g. */
int rw_max_inputs(const kiln_graph *g);

/* A node's attributes as named attributes (for rebuilding it). Returns
 * the count. */
int rw_named_attrs(const kiln_node *n, kiln_named_attr *out);

#endif
