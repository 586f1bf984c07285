/* The CPU backend through the LLVM C API (only with KILN_WITH_LLVM).
 *
 * Layers, each usable on its own by later codegen:
 *   target   the CPU code is generated for (host by default: name, features,
 *            vector width, cache sizes)
 *   module   an LLVM context + module + builder; verify; optimize (O3)
 *   jit      ORC LLJIT: add modules or ahead-of-time objects, look up symbols
 *   object   emit a module to an in-memory object with the CPU it needs
 *   kiln_ir  small IR-building helpers (constants, vectors, masked memory,
 *            loops, branches, vector math, shuffles) shared by all emitters
 *   jit rt   the table of host callbacks every JIT'd kernel receives
 *            (thread pool, per-thread scratch): kernels never resolve host
 *            symbols, so the same object runs in any process
 *   gemm     a blocked, packed, register-tiled fp32 GEMM emitter with an
 *            epilogue hook, plus a compile-and-run convenience API
 *
 * Kernel ABI: every entry point is `void entry(const void *args, const
 * kiln_jit_rt *rt)`; args is a plain C struct the host fills (for GEMM,
 * kiln_gemm_args). */
#ifndef KILN_LLVM_H
#define KILN_LLVM_H

#include <stddef.h>
#include <stdint.h>

#include <llvm-c/Core.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "status.h"
#include "threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ target */

typedef struct kiln_llvm_target {
    char *triple;
    char *cpu;      /* "znver4", "haswell", ... */
    char *features; /* "+avx2,+fma,-avx512f,..." as LLVM spells them */
    LLVMTargetMachineRef tm;
    LLVMTargetDataRef data_layout;
    int vector_bits; /* widest vector the kernels use: 512, 256 or 128 */
    int vector_regs; /* architectural vector registers: 32 (AVX-512) or 16 */
    int has_fma;
    size_t l1d_bytes, l2_bytes, l3_bytes; /* per core for L1/L2; 0 = unknown */
    /* 1: compile fast rather than well (tiny graphs): no IR optimization
     * (default<O0>) and LLVM's fast instruction selection in the JIT */
    int quick;
} kiln_llvm_target;

/* The machine we run on: LLVMGetHostCPUName + LLVMGetHostCPUFeatures. */
kiln_status kiln_llvm_target_host(kiln_llvm_target **out) KILN_NODISCARD;
/* An explicit CPU (triple NULL = host triple). Used to build for a smaller
 * feature set than the host (e.g. an AVX2 kernel on an AVX-512 machine). */
kiln_status kiln_llvm_target_create(const char *triple, const char *cpu, const char *features,
                                    kiln_llvm_target **out) KILN_NODISCARD;
void kiln_llvm_target_free(kiln_llvm_target *t);
/* fp32 lanes per vector register (16, 8 or 4). */
static inline int kiln_llvm_target_f32_lanes(const kiln_llvm_target *t) { return t->vector_bits / 32; }
/* Stamps the CPU, features and vector-width preferences on a function so it is
 * compiled for this target whatever machine the JIT itself was created for. */
void kiln_llvm_target_apply(const kiln_llvm_target *t, LLVMValueRef fn);

/* ------------------------------------------------------------------ module */

typedef struct kiln_llvm_module {
    char *name;
    LLVMOrcThreadSafeContextRef tsc;
    LLVMContextRef ctx;
    LLVMModuleRef mod; /* NULL once handed to a JIT */
    LLVMBuilderRef builder;
} kiln_llvm_module;

/* A module in its own context, with the target's triple and data layout. */
kiln_status kiln_llvm_module_create(const kiln_llvm_target *t, const char *name, kiln_llvm_module **out) KILN_NODISCARD;
void kiln_llvm_module_free(kiln_llvm_module *m);
/* LLVMVerifyModule; the failure message names the module and carries LLVM's text. */
kiln_status kiln_llvm_module_verify(kiln_llvm_module *m) KILN_NODISCARD;
/* LLVMRunPasses with `passes` (NULL = "default<O3>"). */
kiln_status kiln_llvm_module_optimize(kiln_llvm_module *m, const kiln_llvm_target *t,
                                      const char *passes) KILN_NODISCARD;
/* Textual IR for debugging (`kiln dump`); free with LLVMDisposeMessage. */
char *kiln_llvm_module_print(const kiln_llvm_module *m);

/* ------------------------------------------------------------------ object */

typedef struct kiln_llvm_object {
    uint8_t *data; /* a relocatable object file (ELF on Linux) */
    size_t size;
    char *triple, *cpu, *features; /* what the code was generated for */
} kiln_llvm_object;

/* Emits m (verified, ideally optimized) as an object in memory. The module
 * stays owned by the caller. */
kiln_status kiln_llvm_object_emit(const kiln_llvm_target *t, kiln_llvm_module *m, kiln_llvm_object *out) KILN_NODISCARD;
/* An owned copy of serialized object bytes plus their target strings (how a
 * .kmod loader rebuilds one). */
kiln_status kiln_llvm_object_from_bytes(const void *data, size_t size, const char *triple, const char *cpu,
                                        const char *features, kiln_llvm_object *out) KILN_NODISCARD;
void kiln_llvm_object_release(kiln_llvm_object *o);
/* Fails (KILN_ERR_UNSUPPORTED, naming the missing features) when the object
 * needs a triple or a "+feature" that `host` lacks. host NULL = this machine. */
kiln_status kiln_llvm_object_check_cpu(const kiln_llvm_object *o, const kiln_llvm_target *host) KILN_NODISCARD;

/* --------------------------------------------------------------------- jit */

typedef struct kiln_llvm_jit kiln_llvm_jit;

/* An LLJIT for the target (normally the host). Symbols of the running process
 * (memset, memcpy, libm) resolve, for code LLVM itself emits calls to. */
kiln_status kiln_llvm_jit_create(const kiln_llvm_target *t, kiln_llvm_jit **out) KILN_NODISCARD;
void kiln_llvm_jit_free(kiln_llvm_jit *j);
/* Takes the module (m->mod becomes NULL) even on failure; free m afterwards. */
kiln_status kiln_llvm_jit_add_module(kiln_llvm_jit *j, kiln_llvm_module *m) KILN_NODISCARD;
/* Checks the object's CPU against the host, then links a copy of its bytes. */
kiln_status kiln_llvm_jit_add_object(kiln_llvm_jit *j, const kiln_llvm_object *o) KILN_NODISCARD;
/* Address of a defined symbol; KILN_ERR_NOT_FOUND naming it otherwise. */
kiln_status kiln_llvm_jit_lookup(kiln_llvm_jit *j, const char *name, void **addr) KILN_NODISCARD;

/* ------------------------------------------------------------ IR helpers */

typedef struct kiln_ir {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    const kiln_llvm_target *target;
    LLVMTypeRef void_t, i1, i8, i32, i64, f32, ptr;
} kiln_ir;

void kiln_ir_init(kiln_ir *ir, kiln_llvm_module *m, const kiln_llvm_target *t);

/* Types and constants. Width 1 means the scalar type everywhere below. */
LLVMTypeRef kiln_ir_vec_t(kiln_ir *ir, LLVMTypeRef elem, int width);
LLVMValueRef kiln_ir_i64c(kiln_ir *ir, int64_t v);
LLVMValueRef kiln_ir_i32c(kiln_ir *ir, int32_t v);
LLVMValueRef kiln_ir_f32c(kiln_ir *ir, float v, int width); /* splat constant */
LLVMValueRef kiln_ir_splat(kiln_ir *ir, LLVMValueRef scalar, int width);
int kiln_ir_width(LLVMValueRef v); /* lanes of a vector value, 1 for a scalar */

/* A function with internal or external linkage, stamped for ir->target,
 * builder positioned at its entry block. */
LLVMValueRef kiln_ir_function(kiln_ir *ir, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n_params,
                              int internal);
LLVMValueRef kiln_ir_intrinsic(kiln_ir *ir, const char *name, LLVMTypeRef *overloads, int n_overloads,
                               LLVMValueRef *args, int n_args);
LLVMValueRef kiln_ir_fma(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c); /* a*b + c */
LLVMValueRef kiln_ir_min_i64(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef kiln_ir_max_i64(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b);

/* Memory. `index` is in f32 elements from `base`; mask is <width x i1> or
 * NULL (all lanes). Masked-off lanes load 0 and are never touched. */
LLVMValueRef kiln_ir_gep_f32(kiln_ir *ir, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef kiln_ir_load_f32(kiln_ir *ir, LLVMValueRef base, LLVMValueRef index, int width, LLVMValueRef mask,
                              unsigned align);
void kiln_ir_store_f32(kiln_ir *ir, LLVMValueRef value, LLVMValueRef base, LLVMValueRef index, LLVMValueRef mask,
                       unsigned align);
/* <width x i1> with lane l set when l < n (n is i64; any value is fine). */
LLVMValueRef kiln_ir_lane_mask(kiln_ir *ir, LLVMValueRef n, int width);
/* A field of a C struct passed by pointer (use offsetof). */
LLVMValueRef kiln_ir_load_field(kiln_ir *ir, LLVMValueRef base, size_t offset, LLVMTypeRef type, const char *name);
/* A prefetch hint (rw: 0 read, 1 write; locality 0-3). */
void kiln_ir_prefetch(kiln_ir *ir, LLVMValueRef addr, int rw, int locality);

/* Counted loops: for (i = start; i < end; i += step). Loop-carried values are
 * phis made right after begin with kiln_ir_loop_carry and given their next
 * value before end; after end they hold the final values. */
typedef struct kiln_ir_loop {
    LLVMValueRef index;
    LLVMBasicBlockRef header, body, exit, preheader;
    LLVMValueRef step;
    int n_carried;
    LLVMValueRef carried[128], next[128];
} kiln_ir_loop;
void kiln_ir_loop_begin(kiln_ir *ir, kiln_ir_loop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step,
                        const char *name);
LLVMValueRef kiln_ir_loop_carry(kiln_ir *ir, kiln_ir_loop *l, LLVMValueRef init);
void kiln_ir_loop_set_next(kiln_ir_loop *l, LLVMValueRef carried, LLVMValueRef next);
void kiln_ir_loop_end(kiln_ir *ir, kiln_ir_loop *l);

/* if (cond) { ... } [else { ... }]: begin leaves the builder in the then
 * block; kiln_ir_if_else switches to the else block; end joins. */
typedef struct kiln_ir_if {
    LLVMBasicBlockRef then_bb, else_bb, join_bb;
} kiln_ir_if;
void kiln_ir_if_begin(kiln_ir *ir, kiln_ir_if *c, LLVMValueRef cond, const char *name);
void kiln_ir_if_else(kiln_ir *ir, kiln_ir_if *c);
void kiln_ir_if_end(kiln_ir *ir, kiln_ir_if *c);

/* Vector math on f32 scalars or vectors of any width. exp: relative error
 * within 4 ulp (2.4e-7) over its range, +inf above 88.72, 0 below -103.97,
 * NaN in NaN out; sigmoid/tanh/gelu/silu are built on it (within 8 ulp;
 * results below FLT_MIN may flush to 0). NaN propagates through all. */
LLVMValueRef kiln_ir_exp(kiln_ir *ir, LLVMValueRef x);
LLVMValueRef kiln_ir_sigmoid(kiln_ir *ir, LLVMValueRef x);
LLVMValueRef kiln_ir_tanh(kiln_ir *ir, LLVMValueRef x);
LLVMValueRef kiln_ir_erf(kiln_ir *ir, LLVMValueRef x);       /* |error| < 5e-7 absolute */
LLVMValueRef kiln_ir_gelu_tanh(kiln_ir *ir, LLVMValueRef x); /* GPT-2's gelu_new */
LLVMValueRef kiln_ir_gelu_erf(kiln_ir *ir, LLVMValueRef x);  /* BERT's exact gelu */
LLVMValueRef kiln_ir_silu(kiln_ir *ir, LLVMValueRef x);
LLVMValueRef kiln_ir_relu(kiln_ir *ir, LLVMValueRef x);

/* Shuffles. transpose: rows[i] (n vectors of width n, n a power of two)
 * becomes rows'[j][i] = rows[i][j], in place. hsum: n vectors of width w
 * (n a power of two dividing w) to one <n x float> of their lane sums. */
void kiln_ir_transpose(kiln_ir *ir, LLVMValueRef *rows, int n);
LLVMValueRef kiln_ir_hsum_many(kiln_ir *ir, LLVMValueRef *vecs, int n);

/* ------------------------------------------------------------------ jit rt */

/* Host services a JIT'd kernel receives as its second argument. Layout is
 * part of the kernel ABI: fields are 8 bytes each, in this order. A kernel
 * call owns the scratch for its duration: give concurrent calls their own rt
 * (kiln_gemm_run does). */
typedef struct kiln_jit_rt {
    void (*parallel_for)(void *pool, int64_t n_tasks, kiln_task_fn fn, void *ctx);
    void *pool;
    int64_t n_threads;          /* thread indices passed to tasks are below this */
    uint8_t *scratch;           /* n_threads * scratch_per_thread bytes, page aligned */
    int64_t scratch_per_thread; /* a multiple of 4096 */
    uint8_t *shared;            /* shared_bytes for all threads (e.g. a packed B block) */
    int64_t shared_bytes;
} kiln_jit_rt;

/* Fills rt for a pool (NULL = run inline) with at least per_thread bytes of
 * scratch per thread and shared_bytes of shared scratch; kiln_jit_rt_release
 * frees them. */
kiln_status kiln_jit_rt_init(kiln_jit_rt *rt, kiln_threadpool *pool, size_t per_thread,
                             size_t shared_bytes) KILN_NODISCARD;
void kiln_jit_rt_release(kiln_jit_rt *rt);

/* IR side: the task function type `void (ptr ctx, i64 task, i32 thread)`,
 * a call to rt->parallel_for, and this thread's scratch pointer. */
LLVMTypeRef kiln_ir_task_fn_t(kiln_ir *ir);
void kiln_ir_rt_parallel_for(kiln_ir *ir, LLVMValueRef rt, LLVMValueRef n_tasks, LLVMValueRef task_fn,
                             LLVMValueRef ctx);
LLVMValueRef kiln_ir_rt_n_threads(kiln_ir *ir, LLVMValueRef rt);
LLVMValueRef kiln_ir_rt_scratch(kiln_ir *ir, LLVMValueRef rt, LLVMValueRef thread);
LLVMValueRef kiln_ir_rt_shared(kiln_ir *ir, LLVMValueRef rt);

/* -------------------------------------------------------------------- gemm */

/* C[b] = A[b] @ B[b] (+ C[b] when accumulate), then the epilogue, for b in
 * [0, batch). Element (i, k) of A is a[i*lda + k], or a[k*lda + i] with
 * trans_a; (k, j) of B is b[k*ldb + j], or b[j*ldb + k] with trans_b (the
 * [N, K] layout of Hugging Face Linear weights). Strides in elements.
 *
 * One emitted kernel holds three paths, picked per call from the shape:
 *   streaming  (M <= small_m or M*K <= small_mk): no packing; B streamed
 *              once, dot products along K (NT) or broadcasts along N (NN)
 *   shared-B   (M > mc): per (N block, K block), B packed once into shared
 *              scratch by all threads, then tasks of whole A micro-panels
 *   blocked    (otherwise): independent (batch, M block, N block) tasks,
 *              each packing its own panels (also small batched products)
 * The packed paths run an mr x (nr_vectors * lanes) register tile with FMAs
 * (14 x 32 with AVX-512, 6 x 16 with AVX2); edges are masked, not padded. */
#define KILN_GEMM_MAX_OPERANDS 4
#define KILN_GEMM_MAX_EPILOGUE 8

/* An extra input of the epilogue: element (b, row, col) is
 * data[b*batch_stride + row*row_stride + col]. A bias along N has both
 * strides 0; a residual shaped like C has row_stride = its ld. Operands must
 * not overlap C (earlier K blocks store partial sums there); for C += A@B
 * use accumulate instead. */
typedef struct kiln_gemm_operand {
    const float *data;
    int64_t row_stride, batch_stride;
} kiln_gemm_operand;

typedef struct kiln_gemm_args {
    int64_t m, n, k, batch;
    const float *a;
    int64_t lda, stride_a;
    const float *b;
    int64_t ldb, stride_b; /* stride_b 0: one B shared by the batch (weights) */
    float *c;
    int64_t ldc, stride_c;
    int64_t accumulate; /* nonzero: add to C instead of overwriting it */
    kiln_gemm_operand operands[KILN_GEMM_MAX_OPERANDS];
} kiln_gemm_args;

/* Where an epilogue runs: one accumulator vector of C, lanes along N. */
typedef struct kiln_gemm_site {
    LLVMValueRef row;   /* i64 row of C */
    LLVMValueRef col;   /* i64 column of lane 0; lanes are consecutive columns */
    LLVMValueRef batch; /* i64 */
    LLVMValueRef mask;  /* <width x i1> lanes inside C, or NULL when all are */
    LLVMValueRef args;  /* ptr to the kernel's kiln_gemm_args */
    int width;
} kiln_gemm_site;

/* Emits code computing a new value from acc (same type) at `site`; runs after
 * the full K reduction, once per element, before C is stored. Masked-off
 * lanes may hold anything and are not stored. The emitter calls a hook once
 * per store site and code path (full and edge tiles, blocked and streaming
 * paths), with widths that differ between paths (the tile's vector width, or
 * 8 or 4 lanes of reduced dot products), so a hook must only build IR, for
 * any width, and treat a NULL mask as all lanes live. */
typedef LLVMValueRef (*kiln_gemm_epilogue_fn)(kiln_ir *ir, const kiln_gemm_site *site, LLVMValueRef acc, void *user);

typedef enum kiln_gemm_epilogue_kind {
    KILN_EPI_ADD_OPERAND, /* acc + operand (bias: strides 0; residual) */
    KILN_EPI_MUL_OPERAND, /* acc * operand (gating, scales) */
    KILN_EPI_SCALE,       /* acc * value */
    KILN_EPI_GELU_TANH,
    KILN_EPI_GELU_ERF,
    KILN_EPI_SILU,
    KILN_EPI_RELU,
    KILN_EPI_CUSTOM, /* fn(ir, site, acc, user) */
} kiln_gemm_epilogue_kind;

typedef struct kiln_gemm_epilogue_step {
    kiln_gemm_epilogue_kind kind;
    int operand; /* ADD/MUL_OPERAND: index into kiln_gemm_args.operands */
    float value; /* SCALE */
    kiln_gemm_epilogue_fn fn;
    void *user;
} kiln_gemm_epilogue_step;

typedef struct kiln_gemm_desc {
    int trans_a, trans_b;
    int n_epilogue;
    kiln_gemm_epilogue_step epilogue[KILN_GEMM_MAX_EPILOGUE];
    /* Tuning; 0 = chosen from the target by kiln_gemm_resolve. */
    int mr;         /* rows of the register tile */
    int nr_vectors; /* vectors across N in the register tile */
    int mc, kc, nc; /* cache blocks (mc a multiple of mr, nc of the tile width) */
    int nc_shared;  /* N block of the shared-B path (large products), a multiple of the tile width */
    int k_unroll;   /* micro-kernel K unroll */
    /* The streaming (GEMV-like) path, no packing, is used when M <= small_m
     * or M*K <= small_mk (A small enough to re-stream from L2). 0 = default
     * (16 and L2/12 floats); -1 = never. */
    int small_m;
    int64_t small_mk;
} kiln_gemm_desc;

/* Fills the tuning fields left 0 (MR x NR tile from the register count, KC
 * from L1, NC from L2) and checks the rest; out may alias d. */
kiln_status kiln_gemm_resolve(const kiln_llvm_target *t, const kiln_gemm_desc *d, kiln_gemm_desc *out) KILN_NODISCARD;
/* Scratch a resolved desc's kernel needs: per thread (packed panels) and
 * shared (the packed B block of the shared-B path); see kiln_jit_rt_init. */
size_t kiln_gemm_scratch_bytes(const kiln_llvm_target *t, const kiln_gemm_desc *resolved);
size_t kiln_gemm_shared_bytes(const kiln_llvm_target *t, const kiln_gemm_desc *resolved);
/* Adds `void name(const kiln_gemm_args *, const kiln_jit_rt *)` and its
 * internal helpers (names prefixed with name) to ir's module. */
kiln_status kiln_gemm_emit(kiln_ir *ir, const kiln_gemm_desc *resolved, const char *name,
                           LLVMValueRef *entry) KILN_NODISCARD;
/* Checks args against the desc (sizes, strides, pointers, operands the
 * epilogue reads) before a kernel runs. */
kiln_status kiln_gemm_check_args(const kiln_gemm_desc *d, const kiln_gemm_args *args) KILN_NODISCARD;

/* Compile once, run many times. */
typedef struct kiln_gemm_kernel kiln_gemm_kernel;
typedef void (*kiln_gemm_entry_fn)(const kiln_gemm_args *args, const kiln_jit_rt *rt);

kiln_status kiln_gemm_compile(const kiln_llvm_target *t, const kiln_gemm_desc *d,
                              kiln_gemm_kernel **out) KILN_NODISCARD;
/* pool NULL runs on the calling thread only. Concurrent calls are safe. */
kiln_status kiln_gemm_run(kiln_gemm_kernel *k, const kiln_gemm_args *args, kiln_threadpool *pool) KILN_NODISCARD;
const kiln_gemm_desc *kiln_gemm_kernel_desc(const kiln_gemm_kernel *k);
void kiln_gemm_kernel_free(kiln_gemm_kernel *k);

#ifdef __cplusplus
}
#endif
#endif
