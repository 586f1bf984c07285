/* Hash indexes over a graph's named sources and interned dim expressions.
 * Lookups by linear scan made graph building quadratic (an ONNX model has
 * thousands of initializers; every param() call looks its name up). */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t hash_name(kiln_op op, const char *name) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)op;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* Fields one by one: struct padding is not guaranteed to be zero. */
static uint64_t hash_dim(const dim_expr *e) {
    uint64_t h = mix(0, (uint64_t)e->c);
    h = mix(h, (uint64_t)e->nt);
    for (int i = 0; i < e->nt; i++) {
        h = mix(h, (uint64_t)e->t[i].coef);
        for (int k = 0; k < e->t[i].nf; k++) h = mix(h, (uint64_t)e->t[i].f[k] + 1);
    }
    return h;
}

static int dim_equal(const dim_expr *a, const dim_expr *b) {
    if (a->c != b->c || a->nt != b->nt) return 0;
    for (int i = 0; i < a->nt; i++) {
        if (a->t[i].coef != b->t[i].coef || a->t[i].nf != b->t[i].nf) return 0;
        for (int k = 0; k < a->t[i].nf; k++)
            if (a->t[i].f[k] != b->t[i].f[k]) return 0;
    }
    return 1;
}

/* Grow a table to hold at least `need` entries at <= 50% load, re-inserting
 * with the given hash function. */
static int grow(int32_t **slots, int *cap, int need, uint64_t (*hash_of)(const kiln_graph *, int32_t),
                const kiln_graph *g) {
    if (need * 2 <= *cap) return 1;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need * 2) ncap *= 2;
    int32_t *ns = malloc((size_t)ncap * sizeof *ns);
    if (!ns) return 0;
    memset(ns, 0xff, (size_t)ncap * sizeof *ns);
    for (int i = 0; i < *cap; i++) {
        int32_t v = (*slots)[i];
        if (v < 0) continue;
        size_t j = (size_t)hash_of(g, v) & (size_t)(ncap - 1);
        while (ns[j] >= 0) j = (j + 1) & (size_t)(ncap - 1);
        ns[j] = v;
    }
    free(*slots);
    *slots = ns;
    *cap = ncap;
    return 1;
}

static uint64_t named_hash_of(const kiln_graph *g, int32_t v) { return hash_name(g->nodes[v].op, g->nodes[v].name); }
static uint64_t dim_hash_of(const kiln_graph *g, int32_t i) { return hash_dim(&g->dexprs[i]); }

kiln_value graph_index_find_named(const kiln_graph *g, kiln_op op, const char *name) {
    if (!g->name_cap) return KILN_NONE;
    size_t mask = (size_t)g->name_cap - 1, j = (size_t)hash_name(op, name) & mask;
    for (int32_t v; (v = g->name_slots[j]) >= 0; j = (j + 1) & mask)
        if (g->nodes[v].op == op && strcmp(g->nodes[v].name, name) == 0) return v;
    return KILN_NONE;
}

int graph_index_add_named(kiln_graph *g, kiln_value v) {
    if (!grow(&g->name_slots, &g->name_cap, g->name_count + 1, named_hash_of, g)) return 0;
    size_t mask = (size_t)g->name_cap - 1, j = (size_t)named_hash_of(g, v) & mask;
    while (g->name_slots[j] >= 0) j = (j + 1) & mask;
    g->name_slots[j] = v;
    g->name_count++;
    return 1;
}

int graph_index_find_dim(const kiln_graph *g, const dim_expr *e) {
    if (!g->dim_cap) return -1;
    size_t mask = (size_t)g->dim_cap - 1, j = (size_t)hash_dim(e) & mask;
    for (int32_t i; (i = g->dim_slots[j]) >= 0; j = (j + 1) & mask)
        if (dim_equal(&g->dexprs[i], e)) return i;
    return -1;
}

int graph_index_add_dim(kiln_graph *g, int i) {
    if (!grow(&g->dim_slots, &g->dim_cap, g->ndexprs, dim_hash_of, g)) return 0;
    size_t mask = (size_t)g->dim_cap - 1, j = (size_t)dim_hash_of(g, i) & mask;
    while (g->dim_slots[j] >= 0) j = (j + 1) & mask;
    g->dim_slots[j] = i;
    return 1;
}
