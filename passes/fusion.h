/* Fusion: which nodes become kernels and which are inlined (docs/compiler.md).
 *   roots      matmul, reductions (reduce_*, argmax/argmin, softmax,
 *              log_softmax, layer_norm, rms_norm), attention: one kernel each
 *   epilogue   a chain of elementwise/broadcast consumers of the root of the
 *              same shape, each the only consumer of the previous value
 *   materialized  sources, group outputs, graph outputs, and pointwise nodes
 *              with several consumers unless they are a cheap index transform
 *              of a load; every other node is inlined into its consumer
 *   pointwise  each materialized node not in a root's group is a kernel */
#ifndef KILN_PASSES_FUSION_H
#define KILN_PASSES_FUSION_H

#include "kiln/kernel.h"

typedef struct fusion_group {
    kiln_ktemplate kind;
    kiln_value root; /* template root, or the output node of a pointwise group */
    kiln_value out;  /* the materialized node: last epilogue node or the root */
} fusion_group;

typedef struct fusion {
    int nnodes;
    char *materialized; /* per node: holds a tensor */
    int *group_of;      /* per node: group whose root or epilogue it is, -1 */
    int ngroups;
    fusion_group *groups; /* schedule order (by output node) */
} fusion;

/* no_fusion: every node its own kernel (no epilogues, nothing inlined
 * except scalar constants). force (per node, or NULL): nodes to
 * materialize even where they would be inlined (plan_split.c). */
kiln_status fusion_build(const kiln_graph *g, int no_fusion, const char *force, fusion *f);
void fusion_free(fusion *f);

/* The template a root op starts, or -1 when op is not a root. */
int fusion_root_template(kiln_op op);
/* Movement ops: reshape, transpose, slice, expand (also left out of names). */
int fusion_is_movement(kiln_op op);

#endif
