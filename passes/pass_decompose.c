/* The decompose passes: composites into primitives, for a backend without
 * a kernel for them (decompose), or only those the kernel IR has no
 * template for (decompose-injective: rope and rel_pos_bucket become plain
 * index math, topk two counting reductions). */
#include <stdlib.h>

#include "decompose.h"
#include "pass_internal.h"

typedef kiln_status (*decomposer)(dctx *d, const kiln_value *in, kiln_value *out);

static decomposer decomposer_for(kiln_op op, int all) {
    switch (op) {
    case KILN_OP_ROPE: return decompose_rope;
    case KILN_OP_REL_POS_BUCKET: return decompose_rel_pos_bucket;
    case KILN_OP_TOPK: return decompose_topk;
    default: break;
    }
    if (!all) return NULL;
    switch (op) {
    case KILN_OP_SOFTMAX:
    case KILN_OP_LOG_SOFTMAX:
    case KILN_OP_LAYER_NORM:
    case KILN_OP_RMS_NORM: return decompose_norm;
    case KILN_OP_GELU:
    case KILN_OP_GELU_TANH:
    case KILN_OP_SILU: return decompose_activation;
    case KILN_OP_ATTENTION: return decompose_attention;
    default: return NULL;
    }
}

static kiln_status run(const kiln_graph *in, kiln_graph **out, int all) {
    int n = kiln_graph_node_count(in);
    kiln_value *ins = malloc(sizeof *ins * (size_t)(rw_max_inputs(in) + 1));
    if (!ins) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    rewriter r;
    kiln_status s = rw_begin(&r, in);
    for (int v = 0; !s && v < n; v++) {
        decomposer fn = decomposer_for(kiln_graph_node(in, v)->op, all);
        if (!fn) {
            s = rw_copy(&r, v);
            continue;
        }
        rw_inputs(&r, v, ins);
        dctx d = {&r, v, KILN_OK};
        s = fn(&d, ins, &r.map[v]);
        if (!s && r.map[v] == KILN_NONE) s = kiln_error(KILN_ERR_INTERNAL, "decomposition of %%%d produced nothing", v);
    }
    free(ins);
    if (s) {
        rw_abort(&r);
        return s;
    }
    return rw_finish(&r, out);
}

kiln_status pass_decompose(const kiln_graph *in, kiln_graph **out) { return run(in, out, 1); }
kiln_status pass_decompose_injective(const kiln_graph *in, kiln_graph **out) { return run(in, out, 0); }
