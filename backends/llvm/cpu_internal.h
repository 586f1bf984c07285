/* The CPU backend's insides shared by codegen, program, executor and .kmod
 * files (not public API). */
#ifndef KILN_CPU_INTERNAL_H
#define KILN_CPU_INTERNAL_H

#include <stdint.h>

#include "kiln/cpu.h"
#include "kiln/runtime.h"
#include "llvm_internal.h"

/* How a MATMUL kernel's operands reach the GEMM. */
typedef struct cpu_mm_layout {
    int trans_a, trans_b;   /* the GEMM's layout flags */
    int a_direct, b_direct; /* strided with a unit stride: read in place */
    int plain_epilogue;     /* out_expr is VALUE(0): no epilogue hook */
    int quant;              /* B reads quantized weights: CGQ_NT / CGQ_NN (codegen_qmatmul.h), 0 */
} cpu_mm_layout;
void cpu_matmul_layout(const kiln_kernel *k, cpu_mm_layout *l);

typedef void (*cpu_entry_fn)(const void *args, const kiln_jit_rt *rt);

typedef struct cpu_kernel {
    int code;          /* index of the emitted code it runs (kernels with equal code share it) */
    uint64_t fingerprint;
    int gemm;          /* f32 MATMUL through the GEMM */
    cpu_mm_layout mm;
    kiln_gemm_desc desc; /* resolved, for scratch sizes */
    cpu_entry_fn entry, pack_a, pack_b;
    cpu_entry_fn qmv, qdeq; /* mm.quant: the quantized fast path (codegen_qmatmul.h) */
} cpu_kernel;

struct kiln_cpu_program {
    kiln_plan *plan;
    kiln_llvm_target *target;
    kiln_llvm_jit *jit;
    int nkernels, ncode;
    cpu_kernel *kernels;
    kiln_cpu_timings timings;
    char tune_cpu[64]; /* ahead of time for another CPU: scheduling model */
};

/* ---- codegen_module.c ---- */
/* Fingerprint of everything code generation reads from a kernel (not its
 * tensors, names, or the values of symbolic dims). */
uint64_t cpu_kernel_fingerprint(const kiln_kernel *k);
/* Equal code: kernels whose generated code would be identical. */
int cpu_kernel_same_code(const kiln_kernel *a, const kiln_kernel *b);
/* Fills p->kernels (code indices, fingerprints, GEMM layouts) from the plan. */
kiln_status cpu_program_layout(kiln_cpu_program *p);
/* Emits one module with every distinct kernel of the program, verified and
 * optimized; timings updated. */
kiln_status cpu_emit_module(kiln_cpu_program *p, kiln_llvm_module **out);
/* cpu_emit_module, then the module compiled to object code (its time in
 * p->timings.jit); obj is released by the caller, also on failure. */
kiln_status cpu_emit_object(kiln_cpu_program *p, kiln_llvm_object *obj);
/* Looks up every kernel's functions in p->jit. */
kiln_status cpu_bind_symbols(kiln_cpu_program *p);
/* Symbol names: the entry of code c, and its GEMM / pack functions. */
void cpu_symbol(char *buf, size_t cap, int code, const char *suffix);

/* ---- cpu_exec.c ---- */
typedef kiln_status (*cpu_prepare_fn)(kiln_cpu_exec *e, const int64_t *symvals, void *ctx);

struct kiln_cpu_exec {
    kiln_cpu_program *prog;
    int owns_prog;
    kiln_bound_params params;
    int *slot_of;    /* per plan tensor: index into inputs or params, -1 */
    int *checks, nchecks; /* nodes checked before every run (check_runtime) */
    kiln_threadpool *pool;
    int own_pool;
    kiln_jit_rt rt;
    kiln_jit_rt rt_inline; /* the same scratch, no pool: small GEMMs run on the calling thread */
    int have_rt;
    size_t rt_scratch, rt_shared;
    unsigned char *arena;
    size_t arena_cap;
    float *buf[3]; /* packed A, packed B, C when the output aliases an input */
    size_t buf_cap[3];
    void **ptrs;   /* per plan tensor: data */
    void **dest;   /* per plan tensor: where an OUTPUT goes (step carries), else NULL */
    kiln_tensor *outs;
    int64_t *dims;
    void **bufs;
    int maxdims, maxbufs;
    int profile, profile_at_exit; /* KILN_CPU_PROFILE=1: print when freed */
    double *prof_s;
    int64_t *prof_n;
    int runs;
    int64_t planned, unplanned;
    struct cpu_step_state *step; /* cpu_step.c */
    cpu_prepare_fn prepare;      /* called once the symbols are bound (step carries) */
    void *prepare_ctx;
};

/* Grows an aligned buffer to at least need bytes (contents not kept). */
kiln_status cpu_grow(void **p, size_t *cap, size_t need, size_t align);

/* cpu_launch_gemm.c: a MATMUL kernel on the GEMM path, with dims evaluated;
 * aliased: its output shares memory with an input (in place). */
kiln_status cpu_launch_gemm(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, const int64_t *d, int aliased);

/* A run in two halves, for cpu_step.c */
/* Binds, plans memory and runs every kernel; OUTPUT tensors go where
 * cpu_exec_set_dest said (else fresh allocations). On failure everything is
 * released; on success call cpu_exec_end after reading the results. */
kiln_status cpu_exec_begin(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_bound_inputs *bi);
void cpu_exec_end(kiln_cpu_exec *e, kiln_bound_inputs *bi);
void *cpu_exec_tensor_data(const kiln_cpu_exec *e, int t);
void cpu_exec_set_dest(kiln_cpu_exec *e, int t, void *data);
/* Called by cpu_exec_begin with the run's symbol values, before outputs are
 * placed (where cpu_exec_set_dest can still direct them). */
void cpu_exec_set_prepare(kiln_cpu_exec *e, cpu_prepare_fn fn, void *ctx);
const kiln_cpu_program *cpu_exec_program(const kiln_cpu_exec *e);
void cpu_exec_count_run(kiln_cpu_exec *e);
struct cpu_step_state **cpu_exec_step_state(kiln_cpu_exec *e);
/* cpu_step.c */
void cpu_step_release(kiln_cpu_exec *e);

/* ---- cpu_program.c ---- */
kiln_status cpu_program_new(kiln_plan *plan, const kiln_cpu_options *opt, kiln_cpu_program **out);
kiln_status cpu_target_for(const kiln_cpu_options *opt, kiln_llvm_target **out);

#endif
