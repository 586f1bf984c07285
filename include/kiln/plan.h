/* Executable plans: a graph compiled through the passes, fused into
 * kernels (include/kiln/kernel.h) and scheduled, with memory planning for
 * concrete symbol values. kiln_plan_run executes a plan with the host-side
 * kernel evaluator; backends execute the same kernels with their own code. */
#ifndef KILN_PLAN_H
#define KILN_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "kernel.h"
#include "passes.h"
#include "runtime.h"
#include "tensor.h"

typedef enum kiln_ptensor_kind {
    KILN_PT_INPUT,        /* a run input, bound by name */
    KILN_PT_PARAM,        /* a weight, bound by name (persistent) */
    KILN_PT_CONST,        /* data stored in the graph */
    KILN_PT_INTERMEDIATE, /* written and read by kernels: lives in the arena */
    KILN_PT_OUTPUT,       /* a graph output written by a kernel: own allocation */
} kiln_ptensor_kind;

typedef struct kiln_ptensor {
    kiln_ptensor_kind kind;
    kiln_value node;     /* the value it holds, in the plan's graph */
    const char *name;    /* input/param name, first output name, or NULL */
    kiln_dtype dtype;
    kiln_shape shape;    /* symbolic, in the plan's graph */
    int producer;        /* kernel index, -1 for inputs/params/consts */
    int last_use;        /* last kernel reading it (= producer when unread) */
} kiln_ptensor;

typedef struct kiln_plan_options {
    const kiln_pass_options *passes; /* NULL: defaults */
    int no_passes;                   /* 1: skip the graph passes */
    int no_fusion;                   /* 1: one kernel per node (tests) */
} kiln_plan_options;

typedef struct kiln_plan kiln_plan;

/* Compiles g (not changed) into a plan. opt may be NULL. */
kiln_status kiln_plan_compile(const kiln_graph *g, const kiln_plan_options *opt, kiln_plan **out);
/* Same, for a backend that binds at most max_buffers buffers per kernel
 * (Vulkan): values that would be inlined are materialized until no kernel
 * has more buffer slots, its output included (0: no limit). Fails when a
 * single op reads too many tensors to split. */
kiln_status kiln_plan_compile_limited(const kiln_graph *g, const kiln_plan_options *opt, int max_buffers, kiln_plan **out);
void kiln_plan_free(kiln_plan *p);

const kiln_graph *kiln_plan_graph(const kiln_plan *p); /* after the passes */
int kiln_plan_tensor_count(const kiln_plan *p);
const kiln_ptensor *kiln_plan_tensor(const kiln_plan *p, int i);
int kiln_plan_kernel_count(const kiln_plan *p);
const kiln_kernel *kiln_plan_kernel(const kiln_plan *p, int i); /* schedule order */
int kiln_plan_output_count(const kiln_plan *p);
int kiln_plan_output_tensor(const kiln_plan *p, int i);        /* per graph output */

/* ---- memory planning ----------------------------------------------------
 * For concrete symbol values: one activation arena holds every
 * INTERMEDIATE tensor at a 64-byte aligned offset. Tensors whose live
 * ranges (producer .. last_use, in kernels) overlap never overlap in
 * memory, except that a kernel may write its output over an input that
 * dies there when the kernel reads it only at the output's own index
 * (kiln_kbuf.same_index_as_output) and the byte sizes agree (in-place). */
#define KILN_ARENA_ALIGN 64

typedef struct kiln_memplan {
    int ntensors;
    int64_t *offset;     /* per plan tensor; -1 when not in the arena */
    int64_t *bytes;      /* per plan tensor: its size for these symbols */
    int *inplace_of;     /* tensor whose memory it reuses in place, or -1 */
    int64_t arena_bytes; /* planned */
    int64_t unplanned_bytes; /* sum of aligned intermediate sizes */
    int ninplace;
} kiln_memplan;

/* Plans memory for these symbol values (one per graph symbol). The result
 * is cached in the plan per binding (the last 4) and stays valid until
 * that cache entry is reused. A plan is not safe to run or plan from two
 * threads at once. */
kiln_status kiln_plan_memory(kiln_plan *p, const int64_t *symvals, const kiln_memplan **out);

/* ---- running -------------------------------------------------------------
 * Binds weights and inputs like kiln_ref_run, plans memory, and runs each
 * kernel with the host evaluator. Outputs are owned tensors named like the
 * graph outputs; the caller frees the map. */
kiln_status kiln_plan_run(kiln_plan *p, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                          kiln_tensor_map **outputs);

/* Compile with default options, run, free: the evaluator as a device. */
kiln_status kiln_eval_run(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_tensor_map *inputs,
                          kiln_tensor_map **outputs);

/* ---- printing ------------------------------------------------------------ */
/* The fusion groups: one line per kernel (name, template, root, fused
 * nodes, tensors in and out). `kiln dump --after fusion`. */
kiln_status kiln_plan_print_groups(const kiln_plan *p, FILE *f);
/* Every kernel in full (kiln_kernel_print). */
kiln_status kiln_plan_print_kernels(const kiln_plan *p, FILE *f);
/* Kernel count, tensors, and for these symbols the arena and unplanned
 * bytes (`kiln dump --stats`). symvals may be NULL for a graph without
 * symbols. */
kiln_status kiln_plan_print_stats(kiln_plan *p, const int64_t *symvals, FILE *f);

#endif
