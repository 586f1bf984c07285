/* Generation steps on the CPU (cpu_step.c, cpu_step_fast.c) and the pieces
 * of a run they share with cpu_exec.c (not public API). */
#ifndef KILN_CPU_STEP_INTERNAL_H
#define KILN_CPU_STEP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_internal.h"

/* ---- cpu_exec.c: a run in pieces ---- */
/* Per-thread scratch of at least `per` bytes and a shared block of
 * `shared` bytes (kept when large enough). */
kiln_status cpu_exec_reserve_rt(kiln_cpu_exec *e, size_t per, size_t shared);
/* The GEMM kernels' largest per-thread and shared scratch (no symbols). */
void cpu_exec_gemm_scratch(const kiln_cpu_exec *e, size_t *per, size_t *shared);
/* The checks kernels cannot make (symbolic slice bounds, empty argmax axes). */
kiln_status cpu_exec_check_runtime(kiln_cpu_exec *e, const int64_t *symvals);
/* Kernel ki with its dim values (e->ptrs already placed); aliased: its
 * output shares memory with an input. */
kiln_status cpu_exec_launch(kiln_cpu_exec *e, int ki, const int64_t *dims, int aliased);

/* ---- the step state (cpu_step.c) ---- */
#define STEP_MAX_CARRY 256
#define STEP_MAX_TOPK 256
#define STEP_MAX_SYMS 64

typedef struct step_carry {
    char *in, *out;
    int tensor;      /* plan tensor of the output this step */
    void *buf[2];
    size_t cap[2];
    int cur;         /* buffer holding the carried tensor, -1 none */
    int target;      /* buffer this step writes */
    kiln_tensor t;   /* the carried tensor: a view of buf[cur] */
} step_carry;

typedef struct step_fast step_fast;

struct cpu_step_state {
    int n, valid;
    int row_t;               /* plan tensor of the row output */
    char *row_name;
    int nsyms;
    int64_t last_sym[STEP_MAX_SYMS]; /* the binding of the last step */
    float *row;              /* a converted row for top-k of a non-f32 output */
    size_t row_cap;
    step_fast *fast;         /* cpu_step_fast.c; NULL until built */
    step_carry c[STEP_MAX_CARRY];
};

/* Grows carry c's `target` buffer to hold `bytes` (with room to grow). */
kiln_status cpu_step_reserve_carry(step_carry *c, size_t bytes);
/* The last io->row_len elements of `data` (n elements of dtype) into io:
 * copied whole, or their top k. */
kiln_status cpu_step_take_row(struct cpu_step_state *st, const void *data, kiln_dtype dtype, int64_t n,
                              kiln_step_io *io);

/* ---- cpu_step_fast.c ----
 * A step after the first over the same carries, replayed from tables built
 * once: inputs, symbols, kernel dims and the memory plan are updated only
 * where the symbols that changed reach. Returns 1 when it ran the step
 * (*s says how it went), 0 when this step needs the general path (an
 * input to convert, a graph the tables cannot describe). */
int cpu_step_fast(kiln_cpu_exec *e, struct cpu_step_state *st, const kiln_tensor_map *inputs, kiln_step_io *io,
                  kiln_status *s);
void cpu_step_fast_free(step_fast *f);
/* Before the general path runs on carried state: carries appended in
 * place go back to their dense buffers. reset: the state is dropped. */
kiln_status cpu_step_fast_leave(struct cpu_step_state *st, int reset);

/* ---- cpu_step_append.c: KV caches appended in place ---- */
typedef struct step_append step_append;
/* *out NULL when the carries cannot be appended in place. */
kiln_status cpu_append_build(kiln_cpu_exec *e, const struct cpu_step_state *st, step_append **out);
void cpu_append_free(step_append *a);
/* For a step at binding sym: room, the carries in their buffers, Kc's dims
 * for sigma = 0 (checked), readers' strides patched into kdims. *usable 0:
 * this step (and every later one) keeps the dense carries. */
kiln_status cpu_append_prepare(kiln_cpu_exec *e, step_append *a, struct cpu_step_state *st, const int64_t *sym,
                               int64_t *kdims, const int *kdim_at, int *usable);
int cpu_append_is_kernel(const step_append *a, int k);
int cpu_append_owns(const step_append *a, int carry);
kiln_status cpu_append_launch(kiln_cpu_exec *e, step_append *a, int k, const int64_t *sym);
void cpu_append_finish(step_append *a, struct cpu_step_state *st, const kiln_plan *plan, const int64_t *sym);
kiln_status cpu_append_densify(step_append *a, struct cpu_step_state *st);
void cpu_append_reset(step_append *a);

#endif
