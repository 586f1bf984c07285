/* Shared pieces of the reference interpreter: the kernel signature, the
 * per-family kernel lists, and small helpers for strided loops.
 *
 * A kernel receives input tensors whose dtypes and shapes have already been
 * checked against the graph (kiln_ref_eval_node does that), and an output
 * tensor already allocated with the node's dtype and evaluated shape. It
 * fills the output. Float math happens in double and is rounded once on
 * store; integer math happens in int64 with wrap-around (never C's signed
 * overflow). */
#ifndef KILN_REF_INTERNAL_H
#define KILN_REF_INTERNAL_H

#include <stdint.h>

#include "kiln/ref.h"

typedef struct ref_ctx {
    const kiln_graph *g;
    const kiln_node *n;
    const int64_t *symvals;
} ref_ctx;

typedef kiln_status (*ref_kernel)(const ref_ctx *c, const kiln_tensor *const *in, kiln_tensor *out);

/* Error naming the node's op and source location. */
kiln_status ref_error(const ref_ctx *c, kiln_code code, const char *fmt, ...) KILN_PRINTF(3, 4);

/* Kernels, one per family file. */
#define REF_KERNEL(fn) kiln_status fn(const ref_ctx *c, const kiln_tensor *const *in, kiln_tensor *out)
REF_KERNEL(ref_source);      /* ref_source.c: input, param, const */
REF_KERNEL(ref_iota);
REF_KERNEL(ref_unary);       /* ref_unary.c */
REF_KERNEL(ref_cast);
REF_KERNEL(ref_binary);      /* ref_binary.c */
REF_KERNEL(ref_where);
REF_KERNEL(ref_reduce);      /* ref_reduce.c */
REF_KERNEL(ref_argreduce);
REF_KERNEL(ref_matmul);      /* ref_matmul.c */
REF_KERNEL(ref_gather);      /* ref_movement.c */
REF_KERNEL(ref_concat);
REF_KERNEL(ref_slice);
REF_KERNEL(ref_reshape);
REF_KERNEL(ref_transpose);
REF_KERNEL(ref_expand);
REF_KERNEL(ref_softmax);     /* ref_norm.c */
REF_KERNEL(ref_layer_norm);
REF_KERNEL(ref_rms_norm);
REF_KERNEL(ref_rope);        /* ref_position.c */
REF_KERNEL(ref_rel_pos_bucket);
REF_KERNEL(ref_attention);   /* ref_attention.c */

/* ---- strided iteration ---------------------------------------------------
 * Walks every index of `shape` in row-major order while keeping, for each
 * operand, an element offset = base + sum(index[d] * stride[d]). Broadcast
 * dims have stride 0, transposes permute strides, slices scale them. */
#define REF_ITER_MAX 4

typedef struct ref_iter {
    int rank, nops;
    int64_t shape[KILN_MAX_RANK];
    int64_t idx[KILN_MAX_RANK];
    int64_t stride[REF_ITER_MAX][KILN_MAX_RANK];
    int64_t off[REF_ITER_MAX];
    int64_t remaining;
} ref_iter;

void ref_iter_init(ref_iter *it, int rank, const int64_t *shape);
/* Operand `k` with explicit strides (elements) and base offset. */
void ref_iter_operand(ref_iter *it, int k, const int64_t *stride, int64_t base);
/* Operand `k` broadcast numpy-style from t into the iteration shape. Fails
 * (naming the node) when a dim of t is neither 1 nor the iteration dim. */
kiln_status ref_iter_broadcast(const ref_ctx *c, ref_iter *it, int k, const kiln_tensor *t);
/* Advance to the next index. Loop with
 * `while (it.remaining) { ...use it.off[k]...; ref_iter_next(&it); }`. */
void ref_iter_next(ref_iter *it);

/* Row-major strides, in elements. */
void ref_strides(int rank, const int64_t *shape, int64_t *stride);

/* Copy one element of `size` bytes. */
static inline void ref_copy_elem(void *dst, int64_t di, const void *src, int64_t si, size_t size) {
    const unsigned char *s = (const unsigned char *)src + (size_t)si * size;
    unsigned char *d = (unsigned char *)dst + (size_t)di * size;
    for (size_t b = 0; b < size; b++) d[b] = s[b];
}

/* Whole tensor as doubles (malloc'd); NULL on exhaustion. */
double *ref_load_all(const kiln_tensor *t);

/* Wrap-around int64 arithmetic without signed-overflow UB. */
static inline int64_t ref_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t ref_wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t ref_wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* Float to int64 without UB: NaN -> 0, saturating at the int64 range. */
int64_t ref_f64_to_i64(double v);

/* Smallest / largest value of an integer dtype (as int64; u64 saturates). */
int64_t ref_int_min(kiln_dtype t);
int64_t ref_int_max(kiln_dtype t);

/* Outer / axis / inner extents of a tensor split at `axis`. */
void ref_split_axis(const kiln_tensor *t, int axis, int64_t *outer, int64_t *len, int64_t *inner);

#endif
