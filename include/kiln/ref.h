/* The reference interpreter: runs any verified graph with plain loops.
 * Correctness over speed; it is the oracle every other backend is tested
 * against. */
#ifndef KILN_REF_H
#define KILN_REF_H

#include "ir.h"
#include "runtime.h"
#include "tensor.h"

/* Runs g. `weights` binds PARAM nodes by name (may be NULL when the graph
 * has none); `inputs` supplies INPUT nodes by name. On success `outputs`
 * holds one owned tensor per graph output, named like the outputs; the
 * caller frees it. */
kiln_status kiln_ref_run(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                         kiln_tensor_map **outputs);

/* Lower-level entry used by tests: run with already-bound data. Only the
 * nodes the outputs need are evaluated; intermediates are freed after
 * their last use. On failure every output is left empty. */
kiln_status kiln_ref_run_bound(const kiln_graph *g, const kiln_bound_params *params, const kiln_bound_inputs *inputs,
                               kiln_tensor *outputs /* one per graph output, filled */);

/* Evaluate a single node given concrete input tensors (NULL for omitted
 * optional inputs); out is allocated by the callee. Each input must have
 * the dtype and (evaluated) shape the graph gives it. symvals may be NULL
 * when every shape involved is constant. INPUT and PARAM nodes have no data
 * here and fail; CONST yields a copy. Used by constant folding and by op
 * tests. */
kiln_status kiln_ref_eval_node(const kiln_graph *g, const kiln_node *n, const int64_t *symvals,
                               const kiln_tensor *const *inputs, kiln_tensor *out);

/* 1 when the reference interpreter has a kernel for op. */
int kiln_ref_supports(kiln_op op);

#endif
