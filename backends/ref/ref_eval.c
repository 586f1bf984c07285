/* The kernel table (one entry per op in ops.def) and single-node
 * evaluation: check the inputs against the graph, allocate the output,
 * run the kernel. */
#include <string.h>

#include "ref_internal.h"
#include "ref_more.h"
#include "ref_quant.h"

static const ref_kernel kernels[KILN_OP_COUNT] = {
    [KILN_OP_INPUT] = ref_source,
    [KILN_OP_PARAM] = ref_source,
    [KILN_OP_CONST] = ref_source,
    [KILN_OP_IOTA] = ref_iota,

    [KILN_OP_NEG] = ref_unary,
    [KILN_OP_ABS] = ref_unary,
    [KILN_OP_SIGN] = ref_unary,
    [KILN_OP_EXP] = ref_unary,
    [KILN_OP_LOG] = ref_unary,
    [KILN_OP_SQRT] = ref_unary,
    [KILN_OP_RSQRT] = ref_unary,
    [KILN_OP_RECIP] = ref_unary,
    [KILN_OP_TANH] = ref_unary,
    [KILN_OP_SIGMOID] = ref_unary,
    [KILN_OP_ERF] = ref_unary,
    [KILN_OP_SIN] = ref_unary,
    [KILN_OP_COS] = ref_unary,
    [KILN_OP_FLOOR] = ref_unary,
    [KILN_OP_CEIL] = ref_unary,
    [KILN_OP_ROUND] = ref_unary,
    [KILN_OP_RELU] = ref_unary,
    [KILN_OP_GELU] = ref_unary,
    [KILN_OP_GELU_TANH] = ref_unary,
    [KILN_OP_SILU] = ref_unary,
    [KILN_OP_NOT] = ref_unary,
    [KILN_OP_CAST] = ref_cast,

    [KILN_OP_ADD] = ref_binary,
    [KILN_OP_SUB] = ref_binary,
    [KILN_OP_MUL] = ref_binary,
    [KILN_OP_DIV] = ref_binary,
    [KILN_OP_POW] = ref_binary,
    [KILN_OP_MOD] = ref_binary,
    [KILN_OP_MAX] = ref_binary,
    [KILN_OP_MIN] = ref_binary,
    [KILN_OP_EQ] = ref_binary,
    [KILN_OP_NE] = ref_binary,
    [KILN_OP_LT] = ref_binary,
    [KILN_OP_LE] = ref_binary,
    [KILN_OP_GT] = ref_binary,
    [KILN_OP_GE] = ref_binary,
    [KILN_OP_AND] = ref_binary,
    [KILN_OP_OR] = ref_binary,
    [KILN_OP_XOR] = ref_binary,
    [KILN_OP_WHERE] = ref_where,

    [KILN_OP_REDUCE_SUM] = ref_reduce,
    [KILN_OP_REDUCE_MEAN] = ref_reduce,
    [KILN_OP_REDUCE_MAX] = ref_reduce,
    [KILN_OP_REDUCE_MIN] = ref_reduce,
    [KILN_OP_REDUCE_PROD] = ref_reduce,
    [KILN_OP_ARGMAX] = ref_argreduce,
    [KILN_OP_ARGMIN] = ref_argreduce,

    [KILN_OP_MATMUL] = ref_matmul,

    [KILN_OP_GATHER] = ref_gather,
    [KILN_OP_CONCAT] = ref_concat,
    [KILN_OP_SLICE] = ref_slice,
    [KILN_OP_RESHAPE] = ref_reshape,
    [KILN_OP_TRANSPOSE] = ref_transpose,
    [KILN_OP_EXPAND] = ref_expand,

    [KILN_OP_SOFTMAX] = ref_softmax,
    [KILN_OP_LOG_SOFTMAX] = ref_softmax,
    [KILN_OP_LAYER_NORM] = ref_layer_norm,
    [KILN_OP_RMS_NORM] = ref_rms_norm,
    [KILN_OP_ROPE] = ref_rope,
    [KILN_OP_ATTENTION] = ref_attention,
    [KILN_OP_REL_POS_BUCKET] = ref_rel_pos_bucket,

    [KILN_OP_TAN] = ref_unary_more,
    [KILN_OP_ASIN] = ref_unary_more,
    [KILN_OP_ACOS] = ref_unary_more,
    [KILN_OP_ATAN] = ref_unary_more,
    [KILN_OP_SINH] = ref_unary_more,
    [KILN_OP_COSH] = ref_unary_more,
    [KILN_OP_ASINH] = ref_unary_more,
    [KILN_OP_ACOSH] = ref_unary_more,
    [KILN_OP_ATANH] = ref_unary_more,
    [KILN_OP_FMOD] = ref_fmod,
    [KILN_OP_BITNOT] = ref_bitwise,
    [KILN_OP_BITAND] = ref_bitwise,
    [KILN_OP_BITOR] = ref_bitwise,
    [KILN_OP_BITXOR] = ref_bitwise,
    [KILN_OP_SHL] = ref_bitwise,
    [KILN_OP_SHR] = ref_bitwise,
    [KILN_OP_CUMSUM] = ref_cumulative,
    [KILN_OP_CUMPROD] = ref_cumulative,
    [KILN_OP_GATHER_ELEMENTS] = ref_gather_elements,
    [KILN_OP_TOPK] = ref_topk,

    [KILN_OP_DEQUANTIZE] = ref_dequantize,
};

int kiln_ref_supports(kiln_op op) { return (unsigned)op < KILN_OP_COUNT && kernels[op] != NULL; }

/* Every given input must be exactly what the graph says flows there: the
 * kernels index by these shapes and must never read out of bounds. */
static kiln_status check_inputs(const ref_ctx *c, const kiln_tensor *const *inputs) {
    const kiln_node *n = c->n;
    const kiln_op_def *def = kiln_op_get(n->op);
    for (int i = 0; i < n->ninputs; i++) {
        kiln_value v = n->inputs[i];
        if (v == KILN_NONE) {
            if (i < def->min_inputs) return ref_error(c, KILN_ERR_INVALID, "required input %d is omitted", i);
            if (inputs[i]) return ref_error(c, KILN_ERR_INVALID, "input %d is omitted in the graph but was given", i);
            continue;
        }
        const kiln_node *src = kiln_graph_node(c->g, v);
        if (!src) return ref_error(c, KILN_ERR_INVALID, "input %d refers to no value (%%%d)", i, (int)v);
        const kiln_tensor *t = inputs[i];
        if (!t) return ref_error(c, KILN_ERR_INVALID, "input %d (%%%d) has no data", i, (int)v);
        int64_t want[KILN_MAX_RANK];
        kiln_status s = kiln_shape_eval(c->g, &src->shape, c->symvals, want);
        if (s) return kiln_error_wrap(s, "%s input %d", kiln_op_name(n->op), i);
        int ok = t->dtype == src->dtype && t->rank == src->shape.rank && (t->data || kiln_tensor_numel(t) == 0);
        for (int d = 0; ok && d < t->rank; d++) ok = t->shape[d] == want[d];
        if (!ok) {
            char got[256], exp[256];
            kiln_tensor view = kiln_tensor_view(src->dtype, src->shape.rank, want, NULL);
            return ref_error(c, KILN_ERR_SHAPE, "input %d is %s, the graph says %s", i,
                             kiln_tensor_shape_str(t, got, sizeof got), kiln_tensor_shape_str(&view, exp, sizeof exp));
        }
    }
    return KILN_OK;
}

kiln_status kiln_ref_eval_node(const kiln_graph *g, const kiln_node *n, const int64_t *symvals,
                               const kiln_tensor *const *inputs, kiln_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!g || !n) return kiln_error(KILN_ERR_INVALID, "kiln_ref_eval_node: no graph or node");
    if (!kiln_ref_supports(n->op)) return kiln_error(KILN_ERR_UNSUPPORTED, "reference interpreter: unknown op %d", (int)n->op);
    ref_ctx c = {g, n, symvals};
    if (n->ninputs && !inputs) return ref_error(&c, KILN_ERR_INVALID, "no inputs given");
    KILN_TRY(check_inputs(&c, inputs));
    int64_t shape[KILN_MAX_RANK];
    kiln_status s = kiln_shape_eval(g, &n->shape, symvals, shape);
    if (s) return kiln_error_wrap(s, "%s result", kiln_op_name(n->op));
    s = kiln_tensor_alloc(out, n->dtype, n->shape.rank, shape);
    if (s) return kiln_error_wrap(s, "%s result", kiln_op_name(n->op));
    s = kernels[n->op](&c, inputs, out);
    if (s) kiln_tensor_release(out);
    return s;
}
