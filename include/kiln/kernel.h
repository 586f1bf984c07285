/* The kernel IR: what fusion hands to every backend emitter (LLVM IR, GLSL)
 * and to the host-side evaluator. docs/compiler.md is the full contract;
 * this header is its C form.
 *
 * A kernel is a TEMPLATE (pointwise, reduce, row, matmul, attention) plus
 *   - buffer slots: tensors it reads or writes (one written slot, the output),
 *   - dim slots: kiln_dims of the plan's graph; the host evaluates them for
 *     the run's symbol values and passes the int64 array to the kernel,
 *   - an SSA array of scalar expressions (operands always come earlier),
 *   - views: virtual tensors the template reads (A and B of a matmul, the
 *     rows of a softmax, q/k/v of attention), each an expression over its
 *     own coordinate space,
 *   - the output expression (the epilogue): the value stored at each output
 *     coordinate, which may use VALUE(0), the template's result there.
 * The output is written contiguously (row-major over out_extent). */
#ifndef KILN_KERNEL_H
#define KILN_KERNEL_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "tensor.h"

/* Views hold (output coords + reduced coords), so twice the tensor rank. */
#define KILN_KMAX_RANK (2 * KILN_MAX_RANK)
#define KILN_KMAX_VIEWS 4

/* ---- expressions ----------------------------------------------------- */
typedef enum kiln_kx_kind {
    KILN_KX_CONST,  /* type; value in f (float types) or i (ints, bool) */
    KILN_KX_DIM,    /* i64: dim slot `slot` */
    KILN_KX_COORD,  /* i64: coordinate `slot` of the space being evaluated */
    KILN_KX_LOAD,   /* buffer `slot`, element index a (i64); guard b (bool)
                     * or -1. A guarded load whose guard is false reads
                     * nothing and yields 0. type = the buffer's dtype */
    KILN_KX_MATH,   /* op (a kiln_op) on a (and b for binary ops), with that
                     * op's semantics (docs/ops.md) for operand type; result
                     * `type` (bool for comparisons) */
    KILN_KX_SELECT, /* a (bool) ? b : c; both sides may be evaluated */
    KILN_KX_CAST,   /* a converted to `type` (cast semantics of docs/ops.md) */
    KILN_KX_VALUE,  /* the template's value `slot` at the output coordinate */
    KILN_KX_BITCAST, /* a's bits reinterpreted as `type` (same size, neither
                      * bool): u16 -> f16 reads an IEEE half, u32 -> f32 a
                      * float; see docs/compiler.md */
} kiln_kx_kind;

typedef struct kiln_kexpr {
    kiln_kx_kind kind;
    kiln_dtype type;
    kiln_op op;        /* MATH */
    int32_t a, b, c;   /* operand expressions (-1 when unused) */
    int32_t slot;      /* DIM, COORD, LOAD, VALUE */
    double f;          /* CONST of a float type */
    int64_t i;         /* CONST of an int or bool type */
} kiln_kexpr;

/* A virtual tensor of `rank` coords with extents in dim slots; element at
 * coords = expression `expr` evaluated with COORD(i) = coords[i]. When
 * `strided` is set, the element is exactly
 *   LOAD(buf, dims[offset] + sum_i coords[i] * dims[stride[i]])
 * (unguarded), so emitters may use strided fast paths (GEMM packing,
 * vector loads). A stride slot whose dim is constant has that value.
 *
 * When `qtype` is set (a kiln_ggml_type: q8_0, q4_0, q4_K, q6_K; strided
 * is then 0) the view reads a block-quantized weight through a dequantize
 * prologue: with E = dims[offset] + sum_i coords[i] * dims[stride[i]] an
 * element index of the logical f32 tensor whose rows have dims[qcols]
 * columns, the element is the dequantized value of column E % cols of row
 * E / cols of the raw blocks in buffer `buf` (u8, row r starting at byte
 * r * row_bytes(qtype, cols)). `expr` computes exactly that, so emitters
 * without a dequantizing fast path stay correct by evaluating `expr`. */
typedef struct kiln_kview {
    int rank;
    int32_t extent[KILN_KMAX_RANK];
    int32_t expr;
    int strided;
    int32_t buf, offset;
    int32_t stride[KILN_KMAX_RANK];
    uint32_t qtype;  /* 0: not a quantized view */
    int32_t qcols;   /* dim slot: columns of the logical weight rows */
} kiln_kview;

/* ---- slots ------------------------------------------------------------ */
typedef enum kiln_kbuf_access { KILN_KBUF_READ = 1, KILN_KBUF_WRITE = 2 } kiln_kbuf_access;

typedef struct kiln_kbuf {
    int tensor;        /* the plan tensor bound to this slot */
    kiln_dtype dtype;
    kiln_kbuf_access access;
    /* Read only at the output element's own linear index, only by the
     * output expression and never guarded: the output may share its memory
     * (in-place) when the sizes agree and this is the last read. */
    int same_index_as_output;
} kiln_kbuf;

/* ---- templates ---------------------------------------------------------- */
typedef enum kiln_ktemplate {
    KILN_K_POINTWISE, /* out[c] = out_expr(c) */
    KILN_K_REDUCE,    /* VALUE(0) = reduce over src(c, r...) for r over the reduced extents */
    KILN_K_ROW,       /* VALUE(0) = softmax / norm of src along `axis`, at c */
    KILN_K_MATMUL,    /* VALUE(0) = sum_k A(batch, m, k) * B(batch, k, n) */
    KILN_K_ATTENTION, /* VALUE(0) = attention(q, k, v, mask) at (b, h, s, j) */
} kiln_ktemplate;

typedef enum kiln_kreduce {
    KILN_KR_SUM, KILN_KR_MEAN, KILN_KR_MAX, KILN_KR_MIN, KILN_KR_PROD, KILN_KR_ARGMAX, KILN_KR_ARGMIN
} kiln_kreduce;

typedef enum kiln_krow { KILN_KROW_SOFTMAX, KILN_KROW_LOG_SOFTMAX, KILN_KROW_LAYER_NORM, KILN_KROW_RMS_NORM } kiln_krow;

typedef enum kiln_kmask { KILN_KMASK_NONE, KILN_KMASK_BOOL, KILN_KMASK_ADD } kiln_kmask;

/* View indices per template. */
enum {
    KILN_KV_SRC = 0,                     /* REDUCE, ROW */
    KILN_KV_A = 0, KILN_KV_B = 1,        /* MATMUL */
    KILN_KV_Q = 0, KILN_KV_K = 1, KILN_KV_V = 2, KILN_KV_MASK = 3 /* ATTENTION */
};

typedef struct kiln_kernel {
    char *name;              /* "matmul+add+gelu_tanh" */
    kiln_ktemplate kind;
    int nbufs;
    kiln_kbuf *bufs;
    int ndims;
    kiln_dim *dims;          /* in the graph the kernel was lowered from */
    int nexprs;
    kiln_kexpr *exprs;
    int nviews;
    kiln_kview views[KILN_KMAX_VIEWS];

    int out_buf;             /* written slot */
    int out_rank;
    int32_t out_extent[KILN_MAX_RANK];
    int32_t out_expr;        /* stored (converted to the buffer dtype) at each output coord */
    kiln_dtype value_type;   /* type of VALUE(0) (all templates but POINTWISE) */

    /* template parameters */
    kiln_kreduce reduce;     /* REDUCE: src view = (out coords..., reduced coords...) */
    kiln_krow row;           /* ROW: src view has the output's coords */
    int axis;                /* ROW: the normalised axis */
    double eps;              /* ROW: layer_norm / rms_norm */
    int causal;              /* ATTENTION: key t excluded when t > s + T - S */
    double scale;            /* ATTENTION: score multiplier ... */
    int32_t scale_dim;       /* ... or, when >= 0, 1/sqrt(dims[scale_dim]) */
    kiln_kmask mask;         /* ATTENTION: mask view [B,H,S,T] kind */

    /* provenance, for printing and tests */
    kiln_value root;         /* the root (or, for POINTWISE, the output) node */
    int nnodes;
    kiln_value *nodes;       /* graph nodes fused into this kernel, in node order */
} kiln_kernel;

void kiln_kernel_release(kiln_kernel *k);

/* Values of the dim slots for the given symbol values. */
kiln_status kiln_kernel_dims(const kiln_kernel *k, const kiln_graph *g, const int64_t *symvals, int64_t *out);

/* Prints the kernel: header, slots, views, expressions, template. */
kiln_status kiln_kernel_print(const kiln_kernel *k, const kiln_graph *g, FILE *f);

/* Checks the kernel is well formed: operands before use, slots and types
 * in range, views and template parameters consistent. */
kiln_status kiln_kernel_validate(const kiln_kernel *k);

/* The host-side evaluator (slow, plain C): runs the kernel with buffers
 * bound per slot (bufs[slot] with the slot's dtype; the written slot sized
 * to the output) and dim values from kiln_kernel_dims. Floats are computed
 * in double and rounded to each expression's type, accumulations in double
 * (wrapping int64 for ints), so it agrees with kiln_ref_run up to the
 * rounding of fused intermediates. An unguarded load outside its buffer is
 * an error naming the kernel, slot and index. */
kiln_status kiln_kernel_eval(const kiln_kernel *k, const int64_t *dimvals, kiln_tensor *const *bufs);

#endif
