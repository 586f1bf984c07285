/* Fresh weights for training from scratch, derived from the graph: a
 * norm's scale starts at one, other vectors (biases, norm shifts) at zero,
 * matrices and embeddings at normal(0, 0.02) as GPT-2 initializes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/train_internal.h"

/* splitmix64: small, seedable, and the same on every platform */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* uniform in (0, 1): never 0, so log() below is finite */
static double uniform(uint64_t *state) { return ((double)(next_u64(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* Box-Muller, both values of each pair used */
static void fill_normal(float *x, int64_t n, double stddev, uint64_t *state) {
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform(state))), a = 6.283185307179586 * uniform(state);
        x[i] = (float)(stddev * r * cos(a));
        if (i + 1 < n) x[i + 1] = (float)(stddev * r * sin(a));
    }
}

/* 1 when v is the scale (second input) of a layer_norm or rms_norm */
static int is_norm_scale(const kiln_graph *g, kiln_value v) {
    for (int u = v + 1; u < kiln_graph_node_count(g); u++) {
        const kiln_node *n = kiln_graph_node(g, u);
        if ((n->op == KILN_OP_LAYER_NORM || n->op == KILN_OP_RMS_NORM) && n->ninputs >= 2 && n->inputs[1] == v) return 1;
    }
    return 0;
}

kiln_status kiln_train_init_params(const kiln_graph *g, const kiln_tensor_map *have, uint64_t seed, kiln_tensor_map *out) {
    if (!g || !out) return kiln_error(KILN_ERR_INVALID, "kiln_train_init_params: no graph or output map");
    uint64_t state = seed;
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_PARAM || n->dtype != KILN_F32) continue;
        if (have && kiln_tensor_map_get(have, n->name)) continue;
        int64_t shape[KILN_MAX_RANK];
        for (int i = 0; i < n->shape.rank; i++) {
            if (!kiln_dim_is_const(n->shape.dims[i]))
                return kiln_error(KILN_ERR_SHAPE, "parameter '%s' has a symbolic shape; cannot initialize it", n->name);
            shape[i] = n->shape.dims[i];
        }
        kiln_tensor t;
        KILN_TRY(kiln_tensor_alloc(&t, KILN_F32, n->shape.rank, shape));
        float *x = t.data;
        int64_t count = kiln_tensor_numel(&t);
        if (n->shape.rank >= 2) fill_normal(x, count, 0.02, &state);
        else if (is_norm_scale(g, v))
            for (int64_t i = 0; i < count; i++) x[i] = 1.0f;
        /* other vectors stay zero (kiln_tensor_alloc zeroes) */
        KILN_TRY(kiln_tensor_map_put(out, n->name, t));
    }
    return KILN_OK;
}
