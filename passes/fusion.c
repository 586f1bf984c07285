/* Grouping nodes into kernels (fusion.h). */
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

int fusion_root_template(kiln_op op) {
    switch (op) {
    case KILN_OP_MATMUL: return KILN_K_MATMUL;
    case KILN_OP_ATTENTION: return KILN_K_ATTENTION;
    case KILN_OP_SOFTMAX:
    case KILN_OP_LOG_SOFTMAX:
    case KILN_OP_LAYER_NORM:
    case KILN_OP_RMS_NORM: return KILN_K_ROW;
    case KILN_OP_REDUCE_SUM:
    case KILN_OP_REDUCE_MEAN:
    case KILN_OP_REDUCE_MAX:
    case KILN_OP_REDUCE_MIN:
    case KILN_OP_REDUCE_PROD:
    case KILN_OP_ARGMAX:
    case KILN_OP_ARGMIN:
    case KILN_OP_CUMSUM: /* a masked reduction per element (quadratic; a scan template would be linear) */
    case KILN_OP_CUMPROD: return KILN_K_REDUCE;
    default: return -1;
    }
}

int fusion_is_movement(kiln_op op) {
    return op == KILN_OP_RESHAPE || op == KILN_OP_TRANSPOSE || op == KILN_OP_SLICE || op == KILN_OP_EXPAND;
}

static int is_source(kiln_op op) { return op == KILN_OP_INPUT || op == KILN_OP_PARAM || op == KILN_OP_CONST; }

/* Elementwise in the epilogue sense: same coordinates in and out. */
static int is_elementwise(kiln_op op) {
    const kiln_op_def *d = kiln_op_get(op);
    return d && (d->fusion == KILN_FUSE_ELEMWISE || d->fusion == KILN_FUSE_BROADCAST) && op != KILN_OP_EXPAND;
}

void fusion_free(fusion *f) {
    free(f->materialized);
    free(f->group_of);
    free(f->groups);
    memset(f, 0, sizeof *f);
}

static int cmp_group(const void *a, const void *b) {
    const fusion_group *x = a, *y = b;
    return (x->out > y->out) - (x->out < y->out);
}

kiln_status fusion_build(const kiln_graph *g, int no_fusion, const char *force, fusion *f) {
    memset(f, 0, sizeof *f);
    int n = kiln_graph_node_count(g);
    f->nnodes = n;
    f->materialized = calloc((size_t)n + 1, 1);
    f->group_of = malloc(((size_t)n + 1) * sizeof *f->group_of);
    f->groups = malloc(((size_t)n + 1) * sizeof *f->groups);
    int *users = calloc((size_t)n + 1, sizeof *users), *consumer = malloc(((size_t)n + 1) * sizeof *consumer);
    char *is_output = calloc((size_t)n + 1, 1), *cheap = calloc((size_t)n + 1, 1);
    if (!f->materialized || !f->group_of || !f->groups || !users || !consumer || !is_output || !cheap) {
        free(users);
        free(consumer);
        free(is_output);
        free(cheap);
        fusion_free(f);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < n; v++) {
        f->group_of[v] = -1;
        consumer[v] = KILN_NONE;
    }
    /* users: distinct consuming nodes, plus one per graph output */
    for (int v = 0; v < n; v++) {
        const kiln_node *nd = kiln_graph_node(g, v);
        for (int i = 0; i < nd->ninputs; i++) {
            kiln_value u = nd->inputs[i];
            if (u == KILN_NONE || consumer[u] == v) continue;
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= nd->inputs[j] == u;
            if (seen) continue;
            users[u]++;
            consumer[u] = v;
        }
    }
    for (int i = 0; i < kiln_graph_output_count(g); i++) {
        kiln_value v = kiln_graph_output_value(g, i);
        users[v]++;
        is_output[v] = 1;
    }
    /* roots and their epilogues */
    for (int v = 0; v < n; v++) {
        const kiln_node *nd = kiln_graph_node(g, v);
        int kind = fusion_root_template(nd->op);
        if (kind < 0 || f->group_of[v] >= 0) continue;
        int gi = f->ngroups++;
        f->group_of[v] = gi;
        kiln_value cur = v;
        while (!no_fusion && !is_output[cur] && users[cur] == 1) {
            kiln_value c = consumer[cur];
            const kiln_node *cn = kiln_graph_node(g, c);
            if (!is_elementwise(cn->op) || f->group_of[c] >= 0 || !kiln_shape_equal(&cn->shape, &nd->shape)) break;
            f->group_of[c] = gi;
            cur = c;
        }
        f->groups[gi] = (fusion_group){(kiln_ktemplate)kind, v, cur};
        f->materialized[cur] = 1;
    }
    /* everything else: materialize or inline */
    for (int v = 0; v < n; v++) {
        const kiln_node *nd = kiln_graph_node(g, v);
        if (is_source(nd->op)) {
            f->materialized[v] = 1;
            continue;
        }
        if (f->group_of[v] >= 0 || users[v] == 0) continue;
        int all_loads = 1;
        for (int i = 0; i < nd->ninputs; i++)
            if (nd->inputs[i] != KILN_NONE && !f->materialized[nd->inputs[i]] && !cheap[nd->inputs[i]]) all_loads = 0;
        /* dequantize of a load is cheap too: every consumer decodes the few
         * blocks it reads rather than materializing the f32 weight */
        cheap[v] = (fusion_is_movement(nd->op) || nd->op == KILN_OP_IOTA || nd->op == KILN_OP_DEQUANTIZE) && all_loads;
        int mat = no_fusion || is_output[v] || (force && force[v]) || (users[v] > 1 && !cheap[v]);
        if (mat) {
            f->materialized[v] = 1;
            f->group_of[v] = f->ngroups;
            f->groups[f->ngroups++] = (fusion_group){KILN_K_POINTWISE, v, v};
        }
    }
    qsort(f->groups, (size_t)f->ngroups, sizeof *f->groups, cmp_group);
    for (int v = 0; v < n; v++) f->group_of[v] = -1;
    for (int gi = 0; gi < f->ngroups; gi++) {
        kiln_value v = f->groups[gi].root;
        /* root, then the epilogue chain up to out, via single consumers */
        for (;;) {
            f->group_of[v] = gi;
            if (v == f->groups[gi].out) break;
            v = consumer[v];
        }
    }
    free(users);
    free(consumer);
    free(is_output);
    free(cheap);
    return KILN_OK;
}
