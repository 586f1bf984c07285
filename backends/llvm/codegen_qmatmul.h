/* The quantized-weight MATMUL fast path of the CPU backend (not public
 * API): a MATMUL kernel whose B view reads block-quantized weights
 * (kiln_kview.qtype: q8_0, q4_0, q4_K, q6_K) in one of the two layouts of
 * docs/compiler.md ("Dequantize in kernels"):
 *
 *   NT  (linear / trans_b, the GGUF layout): weight row n holds output
 *       column n's K weights, blocks consecutive along K;
 *   NN  (x @ dequantize(w), w [K, N]): weight row k holds N columns.
 *
 * Two functions are emitted beside the kernel's ordinary GEMM:
 *   <name>_qmv   few rows of A (decode): every weight block is read once,
 *                decoded in vector registers and used by up to QMV rows
 *                of A at once, f32 FMAs, the epilogue on the results;
 *   <name>_qdeq  many rows (prefill): dequantizes a chunk of B into a dense
 *                f32 buffer that the GEMM (with its packing, micro-kernel
 *                and epilogue) then multiplies.
 * Weights are decoded exactly as kiln_dequantize does (the same f32
 * operations, no contraction), so only the order of the f32 sums differs
 * from "dequantize, then an f32 matmul". Runs whose strides do not fit
 * (an offset, a batched weight, K not whole blocks) take the generic path.
 */
#ifndef KILN_CODEGEN_QMATMUL_H
#define KILN_CODEGEN_QMATMUL_H

#include <stdint.h>

#include "codegen_internal.h"
#include "cpu_internal.h"

enum { CGQ_NONE = 0, CGQ_NT = 1, CGQ_NN = 2 };

/* What _qmv and _qdeq receive: cg_mm_args first (the epilogue hook reads
 * it), then the quantized operand. */
typedef struct cg_qmm_args {
    cg_mm_args mm;       /* g.m rows of A (batches folded), g.n, g.k, g.a, g.lda, g.c, g.ldc */
    const uint8_t *q;    /* raw blocks of the weight, row 0 */
    int64_t row_bytes;   /* bytes per raw row */
    int64_t n0, n1;      /* _qdeq: columns [n0, n1) of the product */
    float *dst;          /* _qdeq: the dense chunk (NT: [n1-n0, K]; NN: [K, n1-n0]) */
} cg_qmm_args;

/* Types the fast path decodes. */
int cgq_supported(uint32_t qtype);
/* The layout (CGQ_*) kernel k's B view has by its constant strides. */
int cgq_layout(const kiln_kernel *k);

/* ---- codegen_qdecode.c: 32 weights at a time ----
 * Weights 32g .. 32g+31 of the block at `blk` (a byte pointer), as
 * <32 x float>, exactly as kiln_dequantize computes them. g is below
 * block_size / 32. */
LLVMValueRef cgq_decode32(kiln_ir *ir, uint32_t qtype, LLVMValueRef blk, int g);
/* Lanes [p*w, p*w + w) of a <32 x float>. */
LLVMValueRef cgq_piece(kiln_ir *ir, LLVMValueRef v32, int p, int w);

/* ---- codegen_qmatmul.c ---- */
/* Emits <name>_qmv and <name>_qdeq for kernel c->k (layout l). */
kiln_status cg_emit_qmatmul(cg *c, const char *name, const cpu_mm_layout *l);

/* ---- codegen_qmatmul_launch.c ---- */
/* Tuning, process-wide: _qmv serves up to max_rows rows of A (after batch
 * folding), the dequantize-then-GEMM path the rest with chunks of about
 * chunk_bytes of f32 weights. Tests and benchmarks may set them between
 * runs. */
/* NT _qmv works on units of up to this many output columns, all of them
 * rows of the weight: it needs N >= CGQ_NT_UNIT (smaller N takes the
 * dequantize-then-GEMM path). */
#define CGQ_NT_UNIT 16
#define CGQ_DEFAULT_MAX_ROWS 8
#define CGQ_DEFAULT_CHUNK_BYTES ((int64_t)4 << 20)
typedef struct cgq_tuning {
    int64_t max_rows;
    int64_t chunk_bytes;
} cgq_tuning;
extern cgq_tuning cgq_tune;
/* Launches that took the fast path (tests check the path was taken). */
typedef struct cgq_counters {
    int64_t launches, qmv, chunks;
} cgq_counters;
extern cgq_counters cgq_count;

/* Runs the kernel on the fast path when this run's strides allow it
 * (*done = 1); otherwise leaves *done 0 for the generic GEMM launch. */
kiln_status cpu_launch_qmatmul(kiln_cpu_exec *e, const kiln_kernel *k, const cpu_kernel *ck, const int64_t *d,
                               int aliased, int *done);

#endif
