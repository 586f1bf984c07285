/* Kernel-IR codegen for the CPU (not public API): every template of
 * include/kiln/kernel.h emitted as LLVM IR through the C API.
 *
 * Every kernel entry point has the kiln_jit_rt ABI of kiln/llvm.h:
 *   void entry(const cg_args *args, const kiln_jit_rt *rt)
 * and splits its outer loop into tasks for rt->parallel_for, or runs inline
 * on the calling thread when the work is small.
 *
 * Values. Expressions are evaluated at a "point": scalar coordinates plus,
 * optionally, one coordinate that varies across the lanes of a vector
 * (lane l has coordinate base + l). Each value is kept in the cheapest form
 * that is still exact: uniform (one scalar for all lanes), affine (an i64
 * base + l * stride, which turns a load into one contiguous vector load when
 * the stride is the constant 1) or a full vector. Register types: float for
 * f32/f16/bf16 (f16 and bf16 rounded after every op), double for f64, and
 * i64 for every integer type and bool (canonical: sign- or zero-extended
 * from the type's width; bool is 0 or 1). */
#ifndef KILN_CODEGEN_INTERNAL_H
#define KILN_CODEGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/kernel.h"
#include "llvm_internal.h"

/* What every kernel entry receives (8-byte fields, this order). */
typedef struct cg_args {
    void *const *bufs;   /* per buffer slot */
    const int64_t *dims; /* per dim slot */
    void *aux;           /* pack functions: the destination */
    int64_t aux_stride;  /* unused by kernels; keeps the struct 8-byte multiple */
} cg_args;

/* A MATMUL kernel on the GEMM path: kiln_gemm_args first (the GEMM reads it),
 * then what the epilogue hook needs to find the output coordinates. */
typedef struct cg_mm_args {
    kiln_gemm_args g;
    void *const *bufs;
    const int64_t *dims;
    int64_t row0;  /* flat output row (batch * M + m) of this call's row 0, batch 0 */
    int64_t m;     /* M of the kernel: rows per batch item of the output */
    int64_t col0;  /* output column of this call's column 0 (a GEMM over a column chunk) */
} cg_mm_args;

typedef enum { CV_UNIFORM, CV_AFFINE, CV_VECTOR } cv_kind;

typedef struct cv {
    cv_kind kind;
    LLVMValueRef v;      /* UNIFORM: scalar; VECTOR: vector; AFFINE: the base (i64) */
    LLVMValueRef stride; /* AFFINE: i64 scalar */
} cv;

typedef struct cg_point {
    int width;                          /* lanes; 1 = scalar code */
    LLVMValueRef mask;                  /* <width x i1> live lanes, NULL = all */
    int lane;                           /* coordinate varying across lanes, -1 none */
    int rank;                           /* coordinates defined */
    LLVMValueRef coord[KILN_KMAX_RANK]; /* i64 scalars (for `lane`: lane 0's) */
    LLVMValueRef value0;                /* VALUE(0) in its register type, or NULL */
} cg_point;

/* One kernel being emitted. */
typedef struct cg {
    kiln_ir *ir;
    const kiln_kernel *k;
    char prefix[48]; /* function names start with this */
    /* loaded by cg_load_env in the function being emitted */
    LLVMValueRef *bufs; /* per buffer slot */
    LLVMValueRef *dims; /* per dim slot */
    cv *vals; /* per expression, during one cg_eval */
    char *done;
    /* cg_eval's scratch: expressions needed, varying across lanes, owning
     * region (see codegen_expr.c), and the region tree */
    char *varying, *lazy;
    int32_t *owner, *rparent, *rdepth;
    kiln_status error; /* first failure while building */
} cg;

/* ---- codegen_types.c: register types, memory, casts ---- */
LLVMTypeRef cg_reg_t(kiln_ir *ir, kiln_dtype t);
LLVMTypeRef cg_mem_t(kiln_ir *ir, kiln_dtype t); /* element type in memory */
/* Rounds a register value to type t (f16/bf16 rounding, int wrapping, bool 0/1). */
LLVMValueRef cg_round(kiln_ir *ir, kiln_dtype t, LLVMValueRef v);
LLVMValueRef cg_cast(kiln_ir *ir, kiln_dtype from, kiln_dtype to, LLVMValueRef v);
/* The bits of v (type from) as type to (same size, not bool). */
LLVMValueRef cg_bitcast(kiln_ir *ir, kiln_dtype from, kiln_dtype to, LLVMValueRef v);
/* Memory <-> register. index in elements; width lanes from base+index
 * (masked: off lanes read 0, are not touched); gathers take an index vector. */
LLVMValueRef cg_load(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef index, int width, LLVMValueRef mask);
LLVMValueRef cg_gather(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef vindex, LLVMValueRef mask);
void cg_store(kiln_ir *ir, kiln_dtype t, LLVMValueRef base, LLVMValueRef index, LLVMValueRef value, LLVMValueRef mask);
/* Scalar/vector constants of a register type. */
LLVMValueRef cg_const_f(kiln_ir *ir, LLVMTypeRef scalar_t, double v, int width);
LLVMValueRef cg_const_i(kiln_ir *ir, int64_t v, int width);
LLVMValueRef cg_splat(kiln_ir *ir, LLVMValueRef v, int width); /* width 1: v itself */
LLVMValueRef cg_iota(kiln_ir *ir, int width);                    /* <0, 1, ...> i64 */
LLVMValueRef cg_to_i1(kiln_ir *ir, LLVMValueRef v);              /* i64 bool -> i1 */
LLVMValueRef cg_from_i1(kiln_ir *ir, LLVMValueRef b);            /* i1 -> i64 0/1 */
LLVMValueRef cg_and_mask(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b); /* NULL = all */
/* A function of libm applied per lane ("sinf" or "sin" by the type). */
LLVMValueRef cg_libm(kiln_ir *ir, const char *f32_name, const char *f64_name, LLVMValueRef x);
LLVMValueRef cg_libm2(kiln_ir *ir, const char *f32_name, const char *f64_name, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef cg_fexp(kiln_ir *ir, LLVMValueRef x); /* f32: the vector exp; f64: libm */
int cg_is_f64(LLVMValueRef v);

/* ---- codegen_math.c: MATH ops on register values ---- */
int cg_math_supported(kiln_op op, int arity); /* the ops below know */
LLVMValueRef cg_math_unary(kiln_ir *ir, kiln_op op, kiln_dtype t, LLVMValueRef x);
/* operands of type `in`, result of type `out` (bool for comparisons) */
LLVMValueRef cg_math_binary(kiln_ir *ir, kiln_op op, kiln_dtype in, kiln_dtype out, LLVMValueRef a, LLVMValueRef b);
/* NaN-propagating max/min of floats (both NaN-aware), and horizontal
 * reductions of a vector (add, mul, max, min) for floats and ints. */
typedef enum { CG_RADD, CG_RMUL, CG_RMAX, CG_RMIN } cg_rop;
LLVMValueRef cg_combine(kiln_ir *ir, cg_rop op, int is_float, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_hreduce(kiln_ir *ir, cg_rop op, int is_float, LLVMValueRef v);

/* ---- codegen_expr.c: expression DAGs at a point ---- */
void cg_init(cg *c, kiln_ir *ir, const kiln_kernel *k, const char *prefix);
void cg_release(cg *c);
void cg_fail(cg *c, kiln_status s);
/* Loads buffer pointers and dims from a cg_args-shaped struct (bufs and dims
 * at these byte offsets) at the builder's position. */
void cg_load_env(cg *c, LLVMValueRef args, size_t bufs_off, size_t dims_off);
LLVMValueRef cg_dim(cg *c, int slot); /* i64 (a constant for constant dims) */
/* The value of `root` at p: a scalar when uniform and keep_uniform, else a
 * vector of p->width lanes (a scalar when width is 1). */
LLVMValueRef cg_eval(cg *c, const cg_point *p, int32_t root, int keep_uniform);
int cg_is_uniform_value(LLVMValueRef v);
/* Evaluates out_expr at p (VALUE(0) = p->value0) and stores it at linear
 * output index `index` (i64, lane 0) under p->mask. */
void cg_store_output(cg *c, const cg_point *p, LLVMValueRef index);
/* Whether view `v` is strided with a constant stride 1 on coordinate i. */
int cg_view_unit_stride(const kiln_kernel *k, int v, int coord);

/* ---- codegen_loops.c: entry points, tasks, loops ---- */
/* An entry `void name(args, rt)` that runs `task` over n_tasks tasks of
 * `per_task` units each (units = total), inline when the work is small.
 * The task function gets (ctx, task, thread) with ctx slots CTX_* below. */
enum { CG_CTX_ARGS, CG_CTX_RT, CG_CTX_PER_TASK, CG_CTX_TOTAL, CG_CTX_SLOTS };
typedef struct cg_task {
    LLVMValueRef fn, ctx, args, rt, thread;
    LLVMValueRef begin, end; /* units of this task */
} cg_task;
/* Starts the task function of entry `entry_name` (named entry_name_task;
 * builder inside it, env loaded). */
void cg_task_begin(cg *c, const char *entry_name, cg_task *t);
void cg_task_end(cg *c, cg_task *t);
/* Emits the entry `void name(args, rt)`: total_fn (called inside it, env
 * loaded) returns the number of units and sets the cost of one unit in
 * elements (for the inline/parallel decision). */
typedef LLVMValueRef (*cg_total_fn)(cg *c, void *user, LLVMValueRef *unit_cost);
LLVMValueRef cg_emit_entry(cg *c, const char *name, LLVMValueRef task_fn, cg_total_fn total, void *user);
/* Product of dims[slots[0..n)] (1 when n = 0). */
LLVMValueRef cg_extent_product(cg *c, const int32_t *slots, int n);
/* Row-major coordinates of linear index `i` over extents slots[0..n). */
void cg_unravel(cg *c, LLVMValueRef i, const int32_t *slots, int n, LLVMValueRef *coords);
/* A stack slot in the entry block of the function being built (promoted
 * to registers by LLVM; used to carry values across cg_lane_loop bodies). */
LLVMValueRef cg_alloca(cg *c, LLVMTypeRef t, const char *name);
/* Vector width for a loop over a coordinate whose extent is dim slot `slot`. */
int cg_lane_width(cg *c, int32_t slot);
/* Loops over [0, n) in steps of `width`: body(c, point-with-lane-base, mask
 * (NULL on full vectors), user) for full vectors, then one masked tail. */
typedef void (*cg_lane_body)(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user);
void cg_lane_loop(cg *c, LLVMValueRef n, int width, cg_lane_body body, void *user);

/* ---- templates: each emits `entry` named prefix (returns the function) ---- */
LLVMValueRef cg_emit_pointwise(cg *c, const char *name);
/* A pack function: evaluates view `v` into a dense buffer at args->aux,
 * row-major over the view's coordinates, or with the last two swapped. */
LLVMValueRef cg_emit_pack(cg *c, const char *name, int v, int swap_last2);
LLVMValueRef cg_emit_reduce(cg *c, const char *name);
LLVMValueRef cg_emit_row(cg *c, const char *name);
LLVMValueRef cg_emit_attention(cg *c, const char *name);
/* The generic (any dtype) matmul loop. */
LLVMValueRef cg_emit_matmul_loop(cg *c, const char *name);
/* The GEMM path: whether it applies, and its entry with the epilogue hook. */
int cg_matmul_gemm_ok(const kiln_kernel *k);
kiln_status cg_emit_matmul_gemm(cg *c, const char *name, const kiln_gemm_desc *desc);
/* The GEMM epilogue hook of a MATMUL kernel (user = its cg): out_expr on
 * acc at the site; site->args points at a cg_mm_args. */
LLVMValueRef cg_matmul_epilogue(kiln_ir *ir, const kiln_gemm_site *site, LLVMValueRef acc, void *user);
/* Per-thread scratch an attention kernel needs for these dims (bytes). */
size_t cg_attention_scratch(const kiln_kernel *k, const int64_t *dims);

#endif
