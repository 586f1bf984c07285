/* Common-subexpression elimination: a node equal to one already built
 * (op, mapped inputs, attributes, type, constant data) reuses it. Inputs
 * are never merged (each is bound by its own name). */
#include <stdlib.h>
#include <string.h>

#include "node_key.h"
#include "pass_internal.h"
#include "rewrite.h"

typedef struct cse_table {
    int cap;          /* power of two */
    kiln_value *slot; /* dst values, KILN_NONE when empty */
} cse_table;

/* A dst node equal to n, or KILN_NONE; `insert` adds dst value v when absent. */
static kiln_value lookup(cse_table *t, const kiln_graph *dst, const kiln_node *n, kiln_value insert) {
    uint64_t h = node_key_hash(n);
    for (int i = (int)(h & (uint64_t)(t->cap - 1));; i = (i + 1) & (t->cap - 1)) {
        if (t->slot[i] == KILN_NONE) {
            t->slot[i] = insert;
            return KILN_NONE;
        }
        if (node_key_equal(kiln_graph_node(dst, t->slot[i]), n)) return t->slot[i];
    }
}

kiln_status pass_cse(const kiln_graph *in, kiln_graph **out) {
    int n = kiln_graph_node_count(in);
    cse_table t = {16, NULL};
    while (t.cap < 2 * n + 2) t.cap *= 2;
    t.slot = malloc((size_t)t.cap * sizeof *t.slot);
    kiln_value *ins = malloc(sizeof *ins * (size_t)(rw_max_inputs(in) + 1));
    rewriter r;
    memset(&r, 0, sizeof r);
    kiln_status s = !t.slot || !ins ? kiln_error(KILN_ERR_NOMEM, "out of memory") : rw_begin(&r, in);
    for (int i = 0; !s && i < t.cap; i++) t.slot[i] = KILN_NONE;
    for (int v = 0; !s && v < n; v++) {
        const kiln_node *src = kiln_graph_node(in, v);
        if (src->op == KILN_OP_INPUT) {
            s = rw_copy(&r, v);
            continue;
        }
        /* the node as it would be built: types are unchanged by the
         * mapping, only inputs move */
        kiln_node probe = *src;
        rw_inputs(&r, v, ins);
        probe.inputs = ins;
        kiln_value same = lookup(&t, r.dst, &probe, KILN_NONE);
        if (same != KILN_NONE) {
            r.map[v] = same;
            continue;
        }
        s = rw_copy(&r, v);
        if (!s) lookup(&t, r.dst, kiln_graph_node(r.dst, r.map[v]), r.map[v]);
    }
    free(t.slot);
    free(ins);
    if (s) {
        if (r.dst) rw_abort(&r);
        return s;
    }
    return rw_finish(&r, out);
}
