/* A new graph sharing another's symbols and dim table. This is the one
 * file of passes/ that reads the graph's internals: dims are handles into a
 * per-graph table, and a pass's output must keep every handle valid, which
 * the public API (symbols interned one by one) cannot guarantee. It has to
 * follow ir/'s internals (the dim interning index too); a kiln_graph_new_like
 * in ir/ would be the better home. */
#include <stdlib.h>
#include <string.h>

#include "ir/graph_internal.h"
#include "rewrite.h"

kiln_graph *rw_graph_new_like(const kiln_graph *src) {
    kiln_graph *g = kiln_graph_new(src->name);
    if (!g) return NULL;
    if (src->nsyms) {
        g->syms = malloc((size_t)src->nsyms * sizeof *g->syms);
        if (!g->syms) goto fail;
        g->symcap = src->nsyms;
        for (int i = 0; i < src->nsyms; i++) {
            g->syms[i] = kiln_graph_intern(g, src->syms[i]);
            if (!g->syms[i]) goto fail;
            g->nsyms = i + 1;
        }
    }
    if (src->ndexprs) {
        g->dexprs = malloc((size_t)src->ndexprs * sizeof *g->dexprs);
        if (!g->dexprs) goto fail;
        memcpy(g->dexprs, src->dexprs, (size_t)src->ndexprs * sizeof *g->dexprs);
        g->ndexprs = g->dcap = src->ndexprs;
        for (int i = 0; i < g->ndexprs; i++) /* else equal dims would get new handles */
            if (!graph_index_add_dim(g, i)) goto fail;
    }
    return g;
fail:
    kiln_graph_free(g);
    return NULL;
}
