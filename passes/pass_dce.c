/* Dead-code elimination: keep what the outputs need, plus every INPUT
 * node (the graph's interface: callers bind inputs by name and symbols are
 * read from their shapes, whether or not a computation uses them). */
#include <stdlib.h>

#include "pass_internal.h"
#include "rewrite.h"

kiln_status pass_dce(const kiln_graph *in, kiln_graph **out) {
    int n = kiln_graph_node_count(in);
    char *live = calloc((size_t)n + 1, 1);
    if (!live) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < kiln_graph_output_count(in); i++) {
        kiln_value v = kiln_graph_output_value(in, i);
        if (v >= 0 && v < n) live[v] = 1;
    }
    for (int v = n - 1; v >= 0; v--) {
        const kiln_node *nd = kiln_graph_node(in, v);
        if (nd->op == KILN_OP_INPUT) live[v] = 1;
        if (!live[v]) continue;
        for (int i = 0; i < nd->ninputs; i++)
            if (nd->inputs[i] >= 0 && nd->inputs[i] < v) live[nd->inputs[i]] = 1;
    }
    rewriter r;
    kiln_status s = rw_begin(&r, in);
    for (int v = 0; !s && v < n; v++)
        if (live[v]) s = rw_copy(&r, v);
    free(live);
    if (s) {
        rw_abort(&r);
        return s;
    }
    return rw_finish(&r, out);
}
