/* The small-M (decode) path: with one to a few rows of A, packing B would
 * cost more than the multiply, so B is streamed once, straight from memory.
 *
 * NT (B as [N,K]): each output is a dot product along K. A group of G rows of
 * B is reduced at once against up to R rows of A (R*G vector accumulators);
 * the G sums are folded into one <G x float> (kiln_ir_hsum_many), which the
 * epilogue sees with lanes along N like everywhere else.
 * NN (B as [K,N]): vectors along N, A broadcast, one k row of B per step.
 *
 * A task is one (batch, block of N columns); rows of B past N are never
 * read: the last group's missing rows repeat row N-1 and are masked off. */
#include <stddef.h>
#include <stdio.h>

#include "gemm_internal.h"

enum { MAX_R = 3 };

/* Rows of A per tile: 3 with 32 vector registers (up to 24 accumulators), 2 with 16. */
static int max_rows(const gemm_gen *g) { return g->ir->target->vector_regs >= 32 ? 3 : 2; }

#define ARG(field, type) kiln_ir_load_field(ir, args, offsetof(kiln_gemm_args, field), type, #field)

typedef struct gemv_ctx {
    LLVMValueRef args, M, N, K, abase, lda, bbase, ldb, cbase, ldc, add_c, bi, n0, n1;
} gemv_ctx;

/* K is summed in chunks, each chunk's partial sums added to the running
 * total: one f32 accumulator over all of a long K (a backward matmul over a
 * 50257-word vocabulary) rounds against an ever larger sum, about 110 ulps
 * there; in chunks of about sqrt(K) elements (the chunk sums and their
 * total then err alike) 11 (NN) and 2 (NT, lanes split K further), as
 * test_gemm measures. NT steps cover a vector of K, NN steps one element.
 * Opens the loop over chunks of [0, kend) and gives the chunk's bounds. */
enum { K_CHUNK = 256 };

static void k_chunk_begin(kiln_ir *ir, kiln_ir_loop *ko, LLVMValueRef kend, int step, LLVMValueRef *start,
                          LLVMValueRef *end) {
    LLVMValueRef chunk = kiln_ir_i64c(ir, K_CHUNK > step ? K_CHUNK : step);
    kiln_ir_loop_begin(ir, ko, kiln_ir_i64c(ir, 0), kend, chunk, "k_chunk");
    *start = ko->index;
    *end = kiln_ir_min_i64(ir, LLVMBuildAdd(ir->b, ko->index, chunk, ""), kend);
}

/* Adds the old C if asked, runs the epilogue, stores. */
static void finish(gemm_gen *g, const gemv_ctx *x, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col,
                   LLVMValueRef mask) {
    kiln_ir *ir = g->ir;
    int w = kiln_ir_width(v);
    LLVMValueRef idx = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, row, x->ldc, ""), col, "");
    LLVMValueRef add_mask = kiln_ir_splat(ir, x->add_c, w);
    if (mask) add_mask = LLVMBuildAnd(ir->b, add_mask, mask, "");
    v = LLVMBuildFAdd(ir->b, v, kiln_ir_load_f32(ir, x->cbase, idx, w, add_mask, 4), "");
    kiln_gemm_site site = {.row = row, .col = col, .batch = x->bi, .mask = mask, .args = x->args, .width = w};
    v = gemm_apply_epilogue(g, &site, v);
    kiln_ir_store_f32(ir, v, x->cbase, idx, mask, 4);
}

/* An r x G tile: rows [m0, m0+r) of A against the G rows of B from n (their
 * row pointers in brow), reduced along K and stored as <G x float>. */
static void nt_tile(gemm_gen *g, const gemv_ctx *x, LLVMValueRef m0, LLVMValueRef n, LLVMValueRef *brow, int r) {
    kiln_ir *ir = g->ir;
    int w = g->w, G = gemm_gemv_nt_group(g);
    LLVMValueRef arow[MAX_R];
    for (int i = 0; i < r; i++) {
        LLVMValueRef m = LLVMBuildAdd(ir->b, m0, kiln_ir_i64c(ir, i), "");
        arow[i] = kiln_ir_gep_f32(ir, x->abase, LLVMBuildMul(ir->b, m, x->lda, ""));
    }
    LLVMValueRef acc[MAX_R * 16];
    for (int i = 0; i < r * G; i++)
        acc[i] = kiln_ir_f32c(ir, 0.0f, w);

    LLVMValueRef wc = kiln_ir_i64c(ir, w);
    LLVMValueRef kfull = LLVMBuildMul(ir->b, LLVMBuildSDiv(ir->b, x->K, wc, ""), wc, "kfull");
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: whole vectors of K, in chunks; pass 1: the masked tail (at most one step). */
        kiln_ir_loop ko, kl;
        LLVMValueRef start = kiln_ir_i64c(ir, 0), end = kfull;
        if (!pass) {
            k_chunk_begin(ir, &ko, kfull, w, &start, &end);
            for (int i = 0; i < r * G; i++)
                acc[i] = kiln_ir_loop_carry(ir, &ko, acc[i]);
        } else start = kfull, end = x->K;
        kiln_ir_loop_begin(ir, &kl, start, end, wc, pass ? "k_tail" : "k");
        LLVMValueRef cur[MAX_R * 16];
        for (int i = 0; i < r * G; i++)
            cur[i] = kiln_ir_loop_carry(ir, &kl, pass ? acc[i] : kiln_ir_f32c(ir, 0.0f, w));
        LLVMValueRef mask = pass ? kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, x->K, kl.index, ""), w) : NULL;
        LLVMValueRef av[MAX_R];
        for (int i = 0; i < r; i++)
            av[i] = kiln_ir_load_f32(ir, arow[i], kl.index, w, mask, 4);
        for (int j = 0; j < G; j++) {
            LLVMValueRef bv = kiln_ir_load_f32(ir, brow[j], kl.index, w, mask, 4);
            for (int i = 0; i < r; i++)
                kiln_ir_loop_set_next(&kl, cur[i * G + j], kiln_ir_fma(ir, av[i], bv, cur[i * G + j]));
        }
        kiln_ir_loop_end(ir, &kl);
        if (pass) {
            for (int i = 0; i < r * G; i++)
                acc[i] = cur[i];
            continue;
        }
        for (int i = 0; i < r * G; i++)
            kiln_ir_loop_set_next(&ko, acc[i], LLVMBuildFAdd(ir->b, acc[i], cur[i], ""));
        kiln_ir_loop_end(ir, &ko);
    }
    LLVMValueRef mask = kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, x->n1, n, ""), G);
    for (int i = 0; i < r; i++) {
        LLVMValueRef sums = kiln_ir_hsum_many(ir, &acc[i * G], G);
        finish(g, x, sums, LLVMBuildAdd(ir->b, m0, kiln_ir_i64c(ir, i), ""), n, mask);
    }
}

/* r rows of A starting at m0 against columns [n0, n1) (one block). */
static void nn_rows(gemm_gen *g, const gemv_ctx *x, LLVMValueRef m0, int r, int full) {
    kiln_ir *ir = g->ir;
    const kiln_gemm_desc *d = g->d;
    int w = g->w, nv = gemm_gemv_nn_vectors(g);
    LLVMValueRef mask[16];
    for (int v = 0; v < nv; v++)
        mask[v] =
            full ? NULL
                 : kiln_ir_lane_mask(
                       ir, LLVMBuildSub(ir->b, x->n1, LLVMBuildAdd(ir->b, x->n0, kiln_ir_i64c(ir, v * w), ""), ""), w);
    kiln_ir_loop ko, kl;
    LLVMValueRef kstart, kend, tot[MAX_R * 16];
    k_chunk_begin(ir, &ko, x->K, 1, &kstart, &kend);
    for (int i = 0; i < r * nv; i++)
        tot[i] = kiln_ir_loop_carry(ir, &ko, kiln_ir_f32c(ir, 0.0f, w));
    kiln_ir_loop_begin(ir, &kl, kstart, kend, kiln_ir_i64c(ir, 1), "k");
    LLVMValueRef cur[MAX_R * 16];
    for (int i = 0; i < r * nv; i++)
        cur[i] = kiln_ir_loop_carry(ir, &kl, kiln_ir_f32c(ir, 0.0f, w));
    LLVMValueRef brow = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, kl.index, x->ldb, ""), x->n0, "");
    LLVMValueRef as[MAX_R];
    for (int i = 0; i < r; i++) {
        LLVMValueRef m = LLVMBuildAdd(ir->b, m0, kiln_ir_i64c(ir, i), "");
        LLVMValueRef idx = d->trans_a ? LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, kl.index, x->lda, ""), m, "")
                                      : LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, m, x->lda, ""), kl.index, "");
        as[i] = kiln_ir_splat(ir, kiln_ir_load_f32(ir, x->abase, idx, 1, NULL, 4), w);
    }
    for (int v = 0; v < nv; v++) {
        LLVMValueRef bv =
            kiln_ir_load_f32(ir, x->bbase, LLVMBuildAdd(ir->b, brow, kiln_ir_i64c(ir, v * w), ""), w, mask[v], 4);
        for (int i = 0; i < r; i++)
            kiln_ir_loop_set_next(&kl, cur[i * nv + v], kiln_ir_fma(ir, as[i], bv, cur[i * nv + v]));
    }
    kiln_ir_loop_end(ir, &kl);
    for (int i = 0; i < r * nv; i++)
        kiln_ir_loop_set_next(&ko, tot[i], LLVMBuildFAdd(ir->b, tot[i], cur[i], ""));
    kiln_ir_loop_end(ir, &ko);
    for (int i = 0; i < r; i++)
        for (int v = 0; v < nv; v++)
            finish(g, x, tot[i * nv + v], LLVMBuildAdd(ir->b, m0, kiln_ir_i64c(ir, i), ""),
                   LLVMBuildAdd(ir->b, x->n0, kiln_ir_i64c(ir, v * w), ""), mask[v]);
}

/* What a tile of r rows at m0 emits: NT tiles carry the B group, NN tiles
 * the column block. */
typedef struct rows_job {
    LLVMValueRef n, *brow; /* NT */
} rows_job;

static void emit_rows(gemm_gen *g, const gemv_ctx *x, const rows_job *job, LLVMValueRef m0, int r) {
    kiln_ir *ir = g->ir;
    if (g->d->trans_b) {
        nt_tile(g, x, m0, job->n, job->brow, r);
        return;
    }
    LLVMValueRef full = LLVMBuildICmp(ir->b, LLVMIntEQ, LLVMBuildSub(ir->b, x->n1, x->n0, ""),
                                      kiln_ir_i64c(ir, gemm_gemv_block_cols(g)), "");
    kiln_ir_if f;
    kiln_ir_if_begin(ir, &f, full, "full_block");
    nn_rows(g, x, m0, r, 1);
    kiln_ir_if_else(ir, &f);
    nn_rows(g, x, m0, r, 0);
    kiln_ir_if_end(ir, &f);
}

/* for (m0 = 0; m0 < M; m0 += r): r = the largest tile height that fits. */
static void rows_loop(gemm_gen *g, const gemv_ctx *x, const rows_job *job) {
    kiln_ir *ir = g->ir;
    int rmax = max_rows(g);
    kiln_ir_loop ml;
    kiln_ir_loop_begin(ir, &ml, kiln_ir_i64c(ir, 0), x->M, kiln_ir_i64c(ir, 1), "m");
    LLVMValueRef left = LLVMBuildSub(ir->b, x->M, ml.index, "");
    kiln_ir_if c[MAX_R];
    for (int r = rmax; r >= 1; r--) {
        if (r > 1)
            kiln_ir_if_begin(ir, &c[r - 1], LLVMBuildICmp(ir->b, LLVMIntSGE, left, kiln_ir_i64c(ir, r), ""), "rows");
        emit_rows(g, x, job, ml.index, r);
        if (r > 1) kiln_ir_if_else(ir, &c[r - 1]);
    }
    for (int r = 2; r <= rmax; r++)
        kiln_ir_if_end(ir, &c[r - 1]);
    /* The step (the tile height) is only known inside the body. */
    ml.step = kiln_ir_min_i64(ir, kiln_ir_i64c(ir, rmax), left);
    kiln_ir_loop_end(ir, &ml);
}

LLVMValueRef gemm_emit_gemv_task(gemm_gen *g) {
    kiln_ir *ir = g->ir;
    char name[256];
    snprintf(name, sizeof name, "%s_gemv_task", g->name);
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    LLVMValueRef ctx = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1);
    gemv_ctx x;
    LLVMValueRef args = x.args = gemm_ctx_load(ir, ctx, CTX_ARGS, ir->ptr, "args");
    LLVMValueRef nbn = gemm_ctx_load(ir, ctx, CTX_NBN, ir->i64, "nbn");
    LLVMValueRef block = kiln_ir_i64c(ir, gemm_gemv_block_cols(g));
    x.M = ARG(m, ir->i64);
    x.N = ARG(n, ir->i64);
    x.K = ARG(k, ir->i64);
    x.lda = ARG(lda, ir->i64);
    x.ldb = ARG(ldb, ir->i64);
    x.ldc = ARG(ldc, ir->i64);
    x.add_c = LLVMBuildICmp(ir->b, LLVMIntNE, ARG(accumulate, ir->i64), kiln_ir_i64c(ir, 0), "add_c");
    LLVMValueRef ni = LLVMBuildSRem(ir->b, t, nbn, "ni");
    x.bi = LLVMBuildSDiv(ir->b, t, nbn, "bi");
    x.n0 = LLVMBuildMul(ir->b, ni, block, "n0");
    x.n1 = kiln_ir_min_i64(ir, x.N, LLVMBuildAdd(ir->b, x.n0, block, ""));
    x.abase = kiln_ir_gep_f32(ir, ARG(a, ir->ptr), LLVMBuildMul(ir->b, x.bi, ARG(stride_a, ir->i64), ""));
    x.bbase = kiln_ir_gep_f32(ir, ARG(b, ir->ptr), LLVMBuildMul(ir->b, x.bi, ARG(stride_b, ir->i64), ""));
    x.cbase = kiln_ir_gep_f32(ir, ARG(c, ir->ptr), LLVMBuildMul(ir->b, x.bi, ARG(stride_c, ir->i64), ""));
    gemm_load_operands(g, args);

    if (g->d->trans_b) {
        /* B group outer, rows of A inner: the G rows of B (G*K floats) stay
         * in L1 while every row of A passes them. Missing rows past N repeat
         * row N-1 and are masked off at the store. */
        int G = gemm_gemv_nt_group(g);
        kiln_ir_loop nl;
        kiln_ir_loop_begin(ir, &nl, x.n0, x.n1, kiln_ir_i64c(ir, G), "n");
        LLVMValueRef last_row = LLVMBuildSub(ir->b, x.N, kiln_ir_i64c(ir, 1), "");
        LLVMValueRef brow[16];
        for (int j = 0; j < G; j++) {
            LLVMValueRef n = kiln_ir_min_i64(ir, LLVMBuildAdd(ir->b, nl.index, kiln_ir_i64c(ir, j), ""), last_row);
            brow[j] = kiln_ir_gep_f32(ir, x.bbase, LLVMBuildMul(ir->b, n, x.ldb, ""));
        }
        rows_job job = {.n = nl.index, .brow = brow};
        rows_loop(g, &x, &job);
        kiln_ir_loop_end(ir, &nl);
    } else {
        rows_job job = {0};
        rows_loop(g, &x, &job);
    }
    LLVMBuildRetVoid(ir->b);
    return fn;
}
