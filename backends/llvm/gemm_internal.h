/* Pieces of the GEMM emitter (not public API). One gemm_gen per emitted
 * kernel carries the resolved tile and the functions made so far. */
#ifndef KILN_GEMM_INTERNAL_H
#define KILN_GEMM_INTERNAL_H

#include "llvm_internal.h"

/* Slots of the per-call context the entry hands to its tasks (8 bytes each).
 * The independent-blocks path uses MC..NBN; the shared-B path uses BI..PANELS,
 * rewritten by the entry between its parallel loops. */
enum {
    CTX_ARGS,
    CTX_RT,
    CTX_MC,
    CTX_NC,
    CTX_MB,
    CTX_NBN,
    CTX_BI,     /* batch index */
    CTX_JC,     /* first column of the N block */
    CTX_NCUR,   /* its width */
    CTX_PC,     /* first k of the K block */
    CTX_KC,     /* its depth */
    CTX_FLAGS,  /* micro-kernel flags for this K block */
    CTX_TASKS,  /* compute tasks per K block */
    CTX_PANELS, /* A micro-panels in M */
    CTX_SLOTS
};

typedef struct gemm_gen {
    kiln_ir *ir;
    const kiln_gemm_desc *d; /* resolved */
    const char *name;
    int w;            /* f32 lanes per vector */
    int mr, nv;       /* register tile: mr rows x nv vectors */
    int nr;           /* nv * w columns */
    int64_t b_offset; /* byte offset of the packed-B area in a thread's scratch */

    /* Operand descriptors loaded once per function (valid inside the
     * function currently being emitted). */
    LLVMValueRef opnd_data[KILN_GEMM_MAX_OPERANDS], opnd_rs[KILN_GEMM_MAX_OPERANDS], opnd_bs[KILN_GEMM_MAX_OPERANDS];
} gemm_gen;

/* Columns of the GEMV-like paths' tasks. */
int gemm_gemv_block_cols(const gemm_gen *g);
/* Rows of B (NT layout) reduced together, and vectors across N (NN layout). */
int gemm_gemv_nt_group(const gemm_gen *g);
int gemm_gemv_nn_vectors(const gemm_gen *g);
/* Whether the small-M path exists for this layout. */
int gemm_has_small_m_path(const kiln_gemm_desc *d);

/* Loads the operand descriptors the epilogue uses from args (call at the top
 * of a function, before any store that might alias them). */
void gemm_load_operands(gemm_gen *g, LLVMValueRef args);
/* Runs the epilogue chain on one accumulator value. */
LLVMValueRef gemm_apply_epilogue(gemm_gen *g, const kiln_gemm_site *site, LLVMValueRef acc);

/* void pack(ptr src, i64 ld, i64 rows, i64 kc, ptr dst): rows x kc of a
 * source whose element (p, k) is src[p*ld + k] (k_contiguous) or
 * src[k*ld + p], into panels of `panel` rows, each kc x panel, zero padded. */
LLVMValueRef gemm_emit_pack(gemm_gen *g, const char *suffix, int panel, int k_contiguous);
/* The register-tiled micro-kernel (see gemm_microkernel.c for its signature). */
LLVMValueRef gemm_emit_microkernel(gemm_gen *g);
/* Task functions: one (batch, M block, N block) of the blocked path, and one
 * (batch, N block) of the small-M path. */
LLVMValueRef gemm_emit_blocked_task(gemm_gen *g, LLVMValueRef pack_a, LLVMValueRef pack_b, LLVMValueRef ukernel);
LLVMValueRef gemm_emit_gemv_task(gemm_gen *g);
/* The shared-B path: a task packing one B micro-panel of the current
 * (N block, K block) into the shared buffer, and a task computing a range of
 * A micro-panels against all of it. */
LLVMValueRef gemm_emit_shared_pack_task(gemm_gen *g, LLVMValueRef pack_b);
LLVMValueRef gemm_emit_shared_compute_task(gemm_gen *g, LLVMValueRef pack_a, LLVMValueRef ukernel);

/* ctx slot access inside task functions. */
LLVMValueRef gemm_ctx_load(kiln_ir *ir, LLVMValueRef ctx, int slot, LLVMTypeRef type, const char *name);

#endif
