/* Reverse-mode automatic differentiation over the graph IR.
 *
 * kiln_autodiff reads a forward graph and builds a new graph that computes
 * the forward outputs and the gradients of one scalar loss with respect to
 * chosen parameters or inputs. Each op's gradient rule is named in the op
 * registry (include/kiln/ops.def); the rules build the backward nodes with
 * the ordinary builder API, so the result goes through the default passes,
 * fusion and memory planning on every backend like any other graph.
 * See docs/autodiff.md. */
#ifndef KILN_AUTODIFF_H
#define KILN_AUTODIFF_H

#include "ir.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_grad_options {
    const char *loss;       /* name of a graph output holding a scalar (shape [] or [1]) f32 loss */
    const char *const *wrt; /* names of PARAMs or f32 INPUTs to differentiate; NULL = every f32 PARAM */
    int nwrt;
} kiln_grad_options;

/* A new graph: every output of fwd, plus one output "grad.<name>" per wrt
 * name (same shape and dtype as that tensor; zeros where the loss does not
 * depend on it). A tensor used many times (tied embeddings: one PARAM node
 * used twice) gets the sum of its uses' gradients. */
kiln_status kiln_autodiff(const kiln_graph *fwd, const kiln_grad_options *opt, kiln_graph **out);

#ifdef __cplusplus
}
#endif
#endif
