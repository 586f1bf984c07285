/* The register-tiled micro-kernel: an mr x (nv*w) tile of C accumulated in
 * mr*nv vector registers over kc steps of packed A (broadcast) and packed B
 * (vectors), with fused multiply-adds; then one store step that optionally
 * adds the old C and runs the epilogue.
 *
 *   void uk(ptr ap, ptr bp, i64 kc, ptr c, i64 ldc, i64 m_valid, i64 n_valid,
 *           i32 flags, i64 row0, i64 col0, i64 batch, ptr args)
 *
 * c points at C(row0, col0). flags: 1 = add the existing C (a later K block,
 * or accumulate), 2 = last K block: run the epilogue. Edge tiles (m_valid <
 * mr or n_valid < nr) compute the full tile on the zero-padded panels and
 * mask only the store. */
#include <stdio.h>

#include "gemm_internal.h"

enum { MAX_ACC = 64 };

typedef struct tile {
    LLVMValueRef acc[MAX_ACC]; /* acc[i * nv + j] */
} tile;

/* acc += A[k, 0..mr) (broadcast) x B[k, 0..nr) */
static void k_step(gemm_gen *g, tile *t, LLVMValueRef ap, LLVMValueRef bp, LLVMValueRef k) {
    kiln_ir *ir = g->ir;
    LLVMValueRef b[8];
    LLVMValueRef brow = LLVMBuildMul(ir->b, k, kiln_ir_i64c(ir, g->nr), "");
    for (int j = 0; j < g->nv; j++)
        b[j] = kiln_ir_load_f32(ir, bp, LLVMBuildAdd(ir->b, brow, kiln_ir_i64c(ir, j * g->w), ""), g->w, NULL,
                                (unsigned)(g->w * 4));
    LLVMValueRef arow = LLVMBuildMul(ir->b, k, kiln_ir_i64c(ir, g->mr), "");
    for (int i = 0; i < g->mr; i++) {
        LLVMValueRef a = kiln_ir_load_f32(ir, ap, LLVMBuildAdd(ir->b, arow, kiln_ir_i64c(ir, i), ""), 1, NULL, 4);
        LLVMValueRef s = kiln_ir_splat(ir, a, g->w);
        for (int j = 0; j < g->nv; j++)
            t->acc[i * g->nv + j] = kiln_ir_fma(ir, s, b[j], t->acc[i * g->nv + j]);
    }
}

/* A K loop over [start, end) in steps of `unroll`, carrying the tile. */
static void k_loop(gemm_gen *g, tile *t, LLVMValueRef ap, LLVMValueRef bp, LLVMValueRef start, LLVMValueRef end,
                   int unroll, const char *name) {
    kiln_ir *ir = g->ir;
    int n = g->mr * g->nv;
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, start, end, kiln_ir_i64c(ir, unroll), name);
    tile cur = *t;
    for (int i = 0; i < n; i++)
        cur.acc[i] = kiln_ir_loop_carry(ir, &l, t->acc[i]);
    tile next = cur;
    for (int u = 0; u < unroll; u++)
        k_step(g, &next, ap, bp, u ? LLVMBuildAdd(ir->b, l.index, kiln_ir_i64c(ir, u), "") : l.index);
    for (int i = 0; i < n; i++)
        kiln_ir_loop_set_next(&l, cur.acc[i], next.acc[i]);
    kiln_ir_loop_end(ir, &l);
    *t = cur; /* after the loop the header phis hold the final values */
}

typedef struct store_ctx {
    LLVMValueRef c, ldc, m_valid, n_valid, add_c, row0, col0, batch, args;
} store_ctx;

static void store_tile(gemm_gen *g, const tile *t, const store_ctx *s, int full, int epilogue) {
    kiln_ir *ir = g->ir;
    for (int i = 0; i < g->mr; i++) {
        LLVMValueRef row_live = full ? NULL : LLVMBuildICmp(ir->b, LLVMIntSLT, kiln_ir_i64c(ir, i), s->m_valid, "");
        LLVMValueRef row_off = LLVMBuildMul(ir->b, kiln_ir_i64c(ir, i), s->ldc, "");
        for (int j = 0; j < g->nv; j++) {
            LLVMValueRef mask = NULL;
            if (!full) {
                LLVMValueRef left = LLVMBuildSub(ir->b, s->n_valid, kiln_ir_i64c(ir, j * g->w), "");
                mask = LLVMBuildAnd(ir->b, kiln_ir_lane_mask(ir, left, g->w), kiln_ir_splat(ir, row_live, g->w), "");
            }
            LLVMValueRef idx = LLVMBuildAdd(ir->b, row_off, kiln_ir_i64c(ir, j * g->w), "");
            /* The old C is read only when flags ask for it (masked load, no branch). */
            LLVMValueRef add_mask = kiln_ir_splat(ir, s->add_c, g->w);
            if (mask) add_mask = LLVMBuildAnd(ir->b, add_mask, mask, "");
            LLVMValueRef v =
                LLVMBuildFAdd(ir->b, t->acc[i * g->nv + j], kiln_ir_load_f32(ir, s->c, idx, g->w, add_mask, 4), "");
            if (epilogue) {
                kiln_gemm_site site = {
                    .row = LLVMBuildAdd(ir->b, s->row0, kiln_ir_i64c(ir, i), "row"),
                    .col = LLVMBuildAdd(ir->b, s->col0, kiln_ir_i64c(ir, j * g->w), "col"),
                    .batch = s->batch,
                    .mask = mask,
                    .args = s->args,
                    .width = g->w,
                };
                v = gemm_apply_epilogue(g, &site, v);
            }
            kiln_ir_store_f32(ir, v, s->c, idx, mask, 4);
        }
    }
}

/* Branches on the epilogue flag so the non-final K blocks skip it. */
static void store_step(gemm_gen *g, const tile *t, const store_ctx *s, LLVMValueRef run_epilogue, int full) {
    kiln_ir *ir = g->ir;
    if (!g->d->n_epilogue) {
        store_tile(g, t, s, full, 0);
        return;
    }
    kiln_ir_if c;
    kiln_ir_if_begin(ir, &c, run_epilogue, "epilogue");
    store_tile(g, t, s, full, 1);
    kiln_ir_if_else(ir, &c);
    store_tile(g, t, s, full, 0);
    kiln_ir_if_end(ir, &c);
}

LLVMValueRef gemm_emit_microkernel(gemm_gen *g) {
    kiln_ir *ir = g->ir;
    char name[256];
    snprintf(name, sizeof name, "%s_ukernel", g->name);
    LLVMTypeRef params[12] = {ir->ptr, ir->ptr, ir->i64, ir->ptr, ir->i64, ir->i64,
                              ir->i64, ir->i32, ir->i64, ir->i64, ir->i64, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 12, 1);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    LLVMAddAttributeAtIndex(fn, 1, LLVMCreateEnumAttribute(ir->ctx, noalias, 0));
    LLVMAddAttributeAtIndex(fn, 2, LLVMCreateEnumAttribute(ir->ctx, noalias, 0));
    LLVMValueRef ap = LLVMGetParam(fn, 0), bp = LLVMGetParam(fn, 1), kc = LLVMGetParam(fn, 2);
    store_ctx s = {
        .c = LLVMGetParam(fn, 3),
        .ldc = LLVMGetParam(fn, 4),
        .m_valid = LLVMGetParam(fn, 5),
        .n_valid = LLVMGetParam(fn, 6),
        .row0 = LLVMGetParam(fn, 8),
        .col0 = LLVMGetParam(fn, 9),
        .batch = LLVMGetParam(fn, 10),
        .args = LLVMGetParam(fn, 11),
    };
    LLVMValueRef flags = LLVMGetParam(fn, 7);
    s.add_c = LLVMBuildICmp(ir->b, LLVMIntNE, LLVMBuildAnd(ir->b, flags, kiln_ir_i32c(ir, 1), ""), kiln_ir_i32c(ir, 0),
                            "add_c");
    LLVMValueRef run_epilogue = LLVMBuildICmp(ir->b, LLVMIntNE, LLVMBuildAnd(ir->b, flags, kiln_ir_i32c(ir, 2), ""),
                                              kiln_ir_i32c(ir, 0), "last");
    gemm_load_operands(g, s.args);

    /* Fetch the C tile for writing while the K loop runs (measured ~2% at
     * 1024^3: its rows are ldc apart, so every tile misses otherwise).
     * Prefetches never fault, so edge tiles need no care. */
    for (int i = 0; i < g->mr; i++)
        for (int l = 0; l < g->nr * 4; l += 64) {
            LLVMValueRef off =
                LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, kiln_ir_i64c(ir, i), s.ldc, ""), kiln_ir_i64c(ir, l / 4), "");
            kiln_ir_prefetch(ir, LLVMBuildGEP2(ir->b, ir->f32, s.c, &off, 1, ""), 1, 3);
        }
    tile t;
    for (int i = 0; i < g->mr * g->nv; i++)
        t.acc[i] = kiln_ir_f32c(ir, 0.0f, g->w);
    int u = g->d->k_unroll;
    LLVMValueRef ku = LLVMBuildMul(ir->b, LLVMBuildSDiv(ir->b, kc, kiln_ir_i64c(ir, u), ""), kiln_ir_i64c(ir, u), "");
    k_loop(g, &t, ap, bp, kiln_ir_i64c(ir, 0), ku, u, "k");
    if (u > 1) k_loop(g, &t, ap, bp, ku, kc, 1, "k_tail");

    LLVMValueRef full = LLVMBuildAnd(ir->b, LLVMBuildICmp(ir->b, LLVMIntEQ, s.m_valid, kiln_ir_i64c(ir, g->mr), ""),
                                     LLVMBuildICmp(ir->b, LLVMIntEQ, s.n_valid, kiln_ir_i64c(ir, g->nr), ""), "full");
    kiln_ir_if c;
    kiln_ir_if_begin(ir, &c, full, "full_tile");
    store_step(g, &t, &s, run_epilogue, 1);
    kiln_ir_if_else(ir, &c);
    store_step(g, &t, &s, run_epilogue, 0);
    kiln_ir_if_end(ir, &c);
    LLVMBuildRetVoid(ir->b);
    return fn;
}
