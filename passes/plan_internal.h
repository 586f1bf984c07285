/* The plan's insides, shared by plan*.c. */
#ifndef KILN_PASSES_PLAN_INTERNAL_H
#define KILN_PASSES_PLAN_INTERNAL_H

#include "kiln/plan.h"

#define PLAN_CACHE 4

typedef struct plan_cached {
    int64_t *symvals; /* NULL: slot unused */
    kiln_memplan mp;
} plan_cached;

struct kiln_plan {
    kiln_graph *graph;
    int ntensors, captensors;
    kiln_ptensor *tensors;
    int *tensor_of; /* per node, -1 */
    int nkernels;
    kiln_kernel *kernels;
    int noutputs;
    int *outputs;
    plan_cached cache[PLAN_CACHE];
    int next_cache;
};

void memplan_release(kiln_memplan *m);
/* Kernel k (lowered from fusion f of g) has more than max_buffers buffer
 * slots: marks in force an inlined value of it to materialize, the one
 * reading the most tensors that still fits a kernel of its own
 * (plan_split.c). Fails naming the kernel when there is none. */
struct fusion;
kiln_status plan_split_kernel(const kiln_graph *g, const struct fusion *f, const kiln_kernel *k, int max_buffers,
                              char *force);
/* Byte size of tensor t for these symbols. */
kiln_status plan_tensor_bytes(const kiln_plan *p, int t, const int64_t *symvals, int64_t *out);

#endif
