/* Constant folding: a node whose inputs are all constants (and that has at
 * least one) is evaluated once with the reference interpreter and becomes
 * a constant, when its shape is static and it has at most
 * KILN_CONSTFOLD_MAX_ELEMS elements. A node the interpreter cannot
 * evaluate without a run (symbolic attributes, a data-dependent error such
 * as an out-of-range gather) is left alone, so the run reports it. */
#include <stdlib.h>

#include "kiln/passes.h"
#include "kiln/ref.h"
#include "pass_internal.h"
#include "rewrite.h"

static int foldable(const rewriter *r, const kiln_node *n, const kiln_value *ins) {
    if (n->op == KILN_OP_INPUT || n->op == KILN_OP_PARAM || n->op == KILN_OP_CONST || n->ninputs == 0) return 0;
    if (!kiln_shape_is_static(&n->shape)) return 0;
    int64_t count = 1;
    for (int i = 0; i < n->shape.rank; i++) {
        count *= n->shape.dims[i];
        if (count > KILN_CONSTFOLD_MAX_ELEMS) return 0;
    }
    for (int i = 0; i < n->ninputs; i++) {
        if (n->inputs[i] == KILN_NONE) continue;
        const kiln_node *in = kiln_graph_node(r->dst, ins[i]);
        if (!in || in->op != KILN_OP_CONST) return 0;
    }
    return 1;
}

/* Evaluates src node v on the folded constants; 1 when it became one. */
static kiln_status try_fold(rewriter *r, kiln_value v, const kiln_value *ins, int *done) {
    const kiln_node *n = kiln_graph_node(r->src, v);
    *done = 0;
    const kiln_tensor *args[16];
    if (n->ninputs > 16) return KILN_OK;
    for (int i = 0; i < n->ninputs; i++)
        args[i] = n->inputs[i] == KILN_NONE ? NULL : &kiln_graph_node(r->dst, ins[i])->value;
    /* the src node has the same types as the folded inputs, and the same
     * dim handles, so it can be evaluated against them directly */
    kiln_tensor t;
    kiln_status s = kiln_ref_eval_node(r->src, n, NULL, args, &t);
    if (s) {
        kiln_status_free(s);
        return KILN_OK;
    }
    kiln_graph_set_loc(r->dst, n->loc);
    s = kiln_graph_add_const(r->dst, &t, &r->map[v]);
    kiln_tensor_release(&t);
    if (!s) *done = 1;
    return s;
}

kiln_status pass_constfold(const kiln_graph *in, kiln_graph **out) {
    int n = kiln_graph_node_count(in);
    kiln_value *ins = malloc(sizeof *ins * (size_t)(rw_max_inputs(in) + 1));
    if (!ins) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    rewriter r;
    kiln_status s = rw_begin(&r, in);
    for (int v = 0; !s && v < n; v++) {
        const kiln_node *nd = kiln_graph_node(in, v);
        rw_inputs(&r, v, ins);
        int done = 0;
        if (foldable(&r, nd, ins)) s = try_fold(&r, v, ins, &done);
        if (!s && !done) s = rw_copy(&r, v);
    }
    free(ins);
    if (s) {
        rw_abort(&r);
        return s;
    }
    return rw_finish(&r, out);
}
