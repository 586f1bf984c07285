/* The quantized MATMUL fast path's code (codegen_qmatmul.h has the plan).
 *
 * _qmv, NT layout: a unit is ncu weight rows (output columns; one f32
 * vector's worth, at most CGQ_NT_UNIT) at fixed steps from its first. A
 * tile is nc of those rows against r <= MR rows of A: nc = ncu for one row
 * (decode), NC for taller runs (r x NC accumulators fit the registers).
 * Per block of K, each weight row's groups of 32 are decoded once into
 * registers and multiplied into r x nc accumulators (one vector each, the
 * 32 weights taken as 32/w vector pieces), so a weight byte is read once
 * per r rows of A. The nc accumulators of a row are folded into one
 * <nc x float> (kiln_ir_hsum_many) that the epilogue sees with lanes along
 * N, as in the GEMM's streaming path: for decode one full vector, so the
 * fold, the epilogue and the store run once per ncu outputs (with NC = 4
 * they ran four times as often and the kernels lost to the f32 GEMV on
 * small models). If N ends inside the last unit, that unit starts at
 * N - ncu and masks off the columns the unit before wrote. K and the row
 * length are constants when the kernel's dims are.
 * _qmv, NN layout: a task owns one block of columns; per k, the block of
 * weight row k is decoded and A[m, k] broadcast into it (axpy form).
 * _qdeq: decodes whole groups into the dense chunk, vector stores.
 *
 * Entries split their units (column tiles, block columns, rows) into a few
 * tasks per thread when the rt has a pool (the launcher hands small
 * products an rt without one). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "codegen_qmatmul.h"
#include "kiln/quant.h"

#define B (ir->b)
#define QARG(field, type) kiln_ir_load_field(ir, g->args, offsetof(cg_qmm_args, field), type, #field)
#define GARG(field, type) \
    kiln_ir_load_field(ir, g->args, offsetof(cg_qmm_args, mm) + offsetof(cg_mm_args, g) + offsetof(kiln_gemm_args, field), type, #field)

enum { NC = 4, MAX_MR = 4, MAX_NCU = CGQ_NT_UNIT };
enum { CTX_ARGS, CTX_PER, CTX_TOTAL, CTX_N }; /* 8-byte slots of an entry's ctx */

typedef struct qgen {
    cg *c;
    kiln_ir *ir;
    const kiln_kernel *k;
    const cpu_mm_layout *l;
    uint32_t qtype;
    int bs, ts, groups; /* block size, bytes per block, groups of 32 per block */
    int w;              /* f32 lanes */
    int mr;             /* rows of A per tile */
    int ncu;            /* NT: weight rows (output columns) per unit: one vector of them */
    /* loaded in the task function being emitted */
    LLVMValueRef args, M, N, K, A, lda, C, ldc, Q, rb;
} qgen;

static int rows_per_tile(const qgen *g) {
    int regs = g->ir->target->vector_regs;
    if (g->l->quant == CGQ_NT) return regs >= 32 ? 4 : 2;
    /* NN: bs / w accumulators per row of A, within about half the registers */
    int per_row = g->bs / g->w, r = (regs / 2) / (per_row > 0 ? per_row : 1);
    return r < 1 ? 1 : r > MAX_MR ? MAX_MR : r;
}

static LLVMValueRef byte_gep(kiln_ir *ir, LLVMValueRef base, LLVMValueRef off) {
    return LLVMBuildInBoundsGEP2(ir->b, ir->i8, base, &off, 1, "");
}

/* The epilogue (unless out_expr is plain VALUE(0)), then a store of v
 * (lanes along N from col) into C. */
static void finish(qgen *g, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, LLVMValueRef mask) {
    kiln_ir *ir = g->ir;
    int w = kiln_ir_width(v);
    if (!g->l->plain_epilogue) {
        kiln_gemm_site site = {.row = row, .col = col, .batch = kiln_ir_i64c(ir, 0), .mask = mask, .args = g->args, .width = w};
        v = cg_matmul_epilogue(ir, &site, v, g->c);
    }
    kiln_ir_store_f32(ir, v, g->C, LLVMBuildAdd(B, LLVMBuildMul(B, row, g->ldc, ""), col, ""), mask, 4);
}

/* The value of kernel dim slot `slot` when it is a constant, else -1. */
static int64_t const_dim(const kiln_kernel *k, int32_t slot) {
    return kiln_dim_is_const(k->dims[slot]) && k->dims[slot] >= 0 ? (int64_t)k->dims[slot] : -1;
}

static void load_common(qgen *g) {
    kiln_ir *ir = g->ir;
    const kiln_kernel *k = g->k;
    int R = k->out_rank;
    g->M = GARG(m, ir->i64);
    g->N = GARG(n, ir->i64);
    /* K and the row length as constants when the kernel's dims are: the
     * block loop then has a known trip count and the weight rows of a tile
     * sit at constant offsets from its first (the launcher checks the run
     * agrees: K from the same dim, row_bytes from qcols) */
    int64_t kc = const_dim(k, k->views[KILN_KV_A].extent[R - 1]), qc = const_dim(k, k->views[KILN_KV_B].qcols);
    g->K = kc >= 0 ? kiln_ir_i64c(ir, kc) : GARG(k, ir->i64);
    g->A = GARG(a, ir->ptr);
    g->lda = GARG(lda, ir->i64);
    g->C = GARG(c, ir->ptr);
    g->ldc = GARG(ldc, ir->i64);
    g->Q = QARG(q, ir->ptr);
    g->rb = qc > 0 && qc % g->bs == 0 ? kiln_ir_i64c(ir, qc / g->bs * g->ts) : QARG(row_bytes, ir->i64);
}

static int const_one(const kiln_kernel *k, int32_t slot) { return kiln_dim_is_const(k->dims[slot]) && k->dims[slot] == 1; }

int cgq_layout(const kiln_kernel *k) {
    const kiln_kview *b = &k->views[KILN_KV_B];
    int R = k->out_rank;
    if (k->kind != KILN_K_MATMUL || !b->qtype || !cgq_supported(b->qtype) || R < 2 || b->rank != R) return CGQ_NONE;
    if (const_one(k, b->stride[R - 2])) return CGQ_NT;
    if (const_one(k, b->stride[R - 1])) return CGQ_NN;
    return CGQ_NONE;
}

/* ---- tiles ---- */

/* NT: rows [m0, m0 + r) of A against the nc weight rows at rowp[] (output
 * columns n ..), stored under mask (NULL: all nc columns). */
static void nt_tile(qgen *g, LLVMValueRef m0, int r, LLVMValueRef n, LLVMValueRef *rowp, int nc, LLVMValueRef mask) {
    kiln_ir *ir = g->ir;
    int w = g->w, np = 32 / w;
    LLVMValueRef arow[MAX_MR];
    for (int i = 0; i < r; i++)
        arow[i] = kiln_ir_gep_f32(ir, g->A, LLVMBuildMul(B, LLVMBuildAdd(B, m0, kiln_ir_i64c(ir, i), ""), g->lda, ""));
    kiln_ir_loop bl;
    LLVMValueRef nblk = LLVMBuildSDiv(B, g->K, kiln_ir_i64c(ir, g->bs), "nblk");
    kiln_ir_loop_begin(ir, &bl, kiln_ir_i64c(ir, 0), nblk, kiln_ir_i64c(ir, 1), "blk");
    LLVMValueRef acc[MAX_MR * MAX_NCU];
    for (int i = 0; i < r * nc; i++) acc[i] = kiln_ir_loop_carry(ir, &bl, kiln_ir_f32c(ir, 0.0f, w));
    LLVMValueRef cur[MAX_MR * MAX_NCU];
    memcpy(cur, acc, sizeof cur);
    LLVMValueRef boff = LLVMBuildMul(B, bl.index, kiln_ir_i64c(ir, g->ts), "boff");
    LLVMValueRef kb = LLVMBuildMul(B, bl.index, kiln_ir_i64c(ir, g->bs), "kb");
    LLVMValueRef blk[MAX_NCU];
    for (int j = 0; j < nc; j++) blk[j] = byte_gep(ir, rowp[j], boff);
    for (int q = 0; q < g->groups; q++) {
        LLVMValueRef a32[MAX_MR];
        LLVMValueRef kq = LLVMBuildAdd(B, kb, kiln_ir_i64c(ir, 32 * q), "");
        for (int i = 0; i < r; i++) a32[i] = kiln_ir_load_f32(ir, arow[i], kq, 32, NULL, 4);
        for (int j = 0; j < nc; j++) {
            LLVMValueRef wv = cgq_decode32(ir, g->qtype, blk[j], q);
            for (int p = 0; p < np; p++) {
                LLVMValueRef wp = cgq_piece(ir, wv, p, w);
                for (int i = 0; i < r; i++) cur[i * nc + j] = kiln_ir_fma(ir, wp, cgq_piece(ir, a32[i], p, w), cur[i * nc + j]);
            }
        }
    }
    for (int i = 0; i < r * nc; i++) kiln_ir_loop_set_next(&bl, acc[i], cur[i]);
    kiln_ir_loop_end(ir, &bl);
    for (int i = 0; i < r; i++)
        finish(g, kiln_ir_hsum_many(ir, &acc[i * nc], nc), LLVMBuildAdd(B, m0, kiln_ir_i64c(ir, i), ""), n, mask);
}

/* Lanes [from, from + width) of the unit that are at or past `skip`. */
static LLVMValueRef lanes_from(kiln_ir *ir, LLVMValueRef skip, int from, int width) {
    return LLVMBuildNot(ir->b, kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, skip, kiln_ir_i64c(ir, from), ""), width), "");
}

/* NT, a unit of ncu columns from n whose first `skip` columns another unit
 * writes: one tile of all ncu columns for a single row of A (decode: the
 * sums fold into one full vector, so the epilogue and the store run once
 * per vector), tiles of NC columns for taller runs of rows (r * NC
 * accumulators fit the registers), those wholly inside skip left out. */
static void nt_rows(qgen *g, LLVMValueRef m0, int r, LLVMValueRef n, LLVMValueRef base, LLVMValueRef skip) {
    kiln_ir *ir = g->ir;
    int nc = r == 1 ? g->ncu : NC;
    /* a loop over the unit's tiles (one for r == 1), skipped tiles out */
    kiln_ir_loop sl;
    kiln_ir_loop_begin(ir, &sl, kiln_ir_i64c(ir, 0), kiln_ir_i64c(ir, g->ncu), kiln_ir_i64c(ir, nc), "sub");
    LLVMValueRef s = sl.index;
    kiln_ir_if c;
    if (nc < g->ncu)
        kiln_ir_if_begin(ir, &c, LLVMBuildICmp(B, LLVMIntSLT, skip, LLVMBuildAdd(B, s, kiln_ir_i64c(ir, nc), ""), ""), "tile");
    LLVMValueRef rowp[MAX_NCU];
    for (int j = 0; j < nc; j++)
        rowp[j] = byte_gep(ir, base, LLVMBuildMul(B, LLVMBuildAdd(B, s, kiln_ir_i64c(ir, j), ""), g->rb, ""));
    LLVMValueRef sub_skip = LLVMBuildSub(B, skip, s, "");
    nt_tile(g, m0, r, LLVMBuildAdd(B, n, s, ""), rowp, nc, lanes_from(ir, sub_skip, 0, nc));
    if (nc < g->ncu) kiln_ir_if_end(ir, &c);
    kiln_ir_loop_end(ir, &sl);
}

/* NN: rows [m0, m0 + r) of A against block column u (columns u*bs ..). */
static void nn_tile(qgen *g, LLVMValueRef m0, int r, LLVMValueRef u) {
    kiln_ir *ir = g->ir;
    int w = g->w, np = 32 / w, nv = g->bs / w;
    LLVMValueRef uoff = LLVMBuildMul(B, u, kiln_ir_i64c(ir, g->ts), "uoff");
    kiln_ir_loop kl;
    kiln_ir_loop_begin(ir, &kl, kiln_ir_i64c(ir, 0), g->K, kiln_ir_i64c(ir, 1), "k");
    LLVMValueRef acc[MAX_MR * 16], cur[MAX_MR * 16];
    for (int i = 0; i < r * nv; i++) cur[i] = acc[i] = kiln_ir_loop_carry(ir, &kl, kiln_ir_f32c(ir, 0.0f, w));
    LLVMValueRef blk = byte_gep(ir, g->Q, LLVMBuildAdd(B, LLVMBuildMul(B, kl.index, g->rb, ""), uoff, ""));
    LLVMValueRef as[MAX_MR];
    for (int i = 0; i < r; i++) {
        LLVMValueRef m = LLVMBuildAdd(B, m0, kiln_ir_i64c(ir, i), "");
        LLVMValueRef idx = LLVMBuildAdd(B, LLVMBuildMul(B, m, g->lda, ""), kl.index, "");
        as[i] = kiln_ir_splat(ir, kiln_ir_load_f32(ir, g->A, idx, 1, NULL, 4), w);
    }
    for (int q = 0; q < g->groups; q++) {
        LLVMValueRef wv = cgq_decode32(ir, g->qtype, blk, q);
        for (int p = 0; p < np; p++) {
            LLVMValueRef wp = cgq_piece(ir, wv, p, w);
            int v = q * np + p;
            for (int i = 0; i < r; i++) cur[i * nv + v] = kiln_ir_fma(ir, as[i], wp, cur[i * nv + v]);
        }
    }
    for (int i = 0; i < r * nv; i++) kiln_ir_loop_set_next(&kl, acc[i], cur[i]);
    kiln_ir_loop_end(ir, &kl);
    LLVMValueRef n0 = LLVMBuildMul(B, u, kiln_ir_i64c(ir, g->bs), "n0");
    for (int i = 0; i < r; i++)
        for (int v = 0; v < nv; v++)
            finish(g, acc[i * nv + v], LLVMBuildAdd(B, m0, kiln_ir_i64c(ir, i), ""),
                   LLVMBuildAdd(B, n0, kiln_ir_i64c(ir, v * w), ""), NULL);
}

typedef struct tile_job {
    LLVMValueRef n, base, skip; /* NT: first column, its weight row, columns left to the unit before */
    LLVMValueRef u;        /* NN */
} tile_job;

/* for (m0 = 0; m0 < M; m0 += r): r = the tallest tile that fits. */
static void rows_loop(qgen *g, const tile_job *job) {
    kiln_ir *ir = g->ir;
    kiln_ir_loop ml;
    kiln_ir_loop_begin(ir, &ml, kiln_ir_i64c(ir, 0), g->M, kiln_ir_i64c(ir, 1), "m");
    LLVMValueRef left = LLVMBuildSub(B, g->M, ml.index, "");
    kiln_ir_if c[MAX_MR];
    for (int r = g->mr; r >= 1; r--) {
        if (r > 1) kiln_ir_if_begin(ir, &c[r - 1], LLVMBuildICmp(B, LLVMIntSGE, left, kiln_ir_i64c(ir, r), ""), "rows");
        if (g->l->quant == CGQ_NT) nt_rows(g, ml.index, r, job->n, job->base, job->skip);
        else nn_tile(g, ml.index, r, job->u);
        if (r > 1) kiln_ir_if_else(ir, &c[r - 1]);
    }
    for (int r = 2; r <= g->mr; r++) kiln_ir_if_end(ir, &c[r - 1]);
    ml.step = kiln_ir_min_i64(ir, kiln_ir_i64c(ir, g->mr), left);
    kiln_ir_loop_end(ir, &ml);
}

/* ---- task and entry plumbing ---- */

static LLVMValueRef slot_ptr(kiln_ir *ir, LLVMValueRef ctx, int slot) {
    LLVMValueRef off = kiln_ir_i64c(ir, (int64_t)slot * 8);
    return LLVMBuildInBoundsGEP2(ir->b, ir->i8, ctx, &off, 1, "");
}

/* A task function (ctx, task, thread) over units [begin, end); the builder
 * is left in its body with g->args and the common fields loaded. */
static LLVMValueRef task_begin(qgen *g, const char *name, LLVMValueRef *begin, LLVMValueRef *end) {
    kiln_ir *ir = g->ir;
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    LLVMValueRef ctx = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1);
    g->args = kiln_ir_load_field(ir, ctx, CTX_ARGS * 8, ir->ptr, "args");
    LLVMValueRef per = kiln_ir_load_field(ir, ctx, CTX_PER * 8, ir->i64, "per");
    LLVMValueRef total = kiln_ir_load_field(ir, ctx, CTX_TOTAL * 8, ir->i64, "total");
    *begin = LLVMBuildMul(B, t, per, "begin");
    *end = kiln_ir_min_i64(ir, LLVMBuildAdd(B, *begin, per, ""), total);
    load_common(g);
    return fn;
}

static LLVMValueRef ceil_div(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSDiv(ir->b, LLVMBuildAdd(ir->b, a, LLVMBuildSub(ir->b, b, kiln_ir_i64c(ir, 1), ""), ""), b, "");
}

/* `void name(args, rt)`: total units from units_fn, split into up to 4
 * tasks per thread of the rt (one inline call without a pool). */
typedef LLVMValueRef (*units_fn)(qgen *g);
static void emit_entry(qgen *g, const char *name, LLVMValueRef task, units_fn units) {
    kiln_ir *ir = g->ir;
    LLVMTypeRef params[2] = {ir->ptr, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 2, 0);
    g->args = LLVMGetParam(fn, 0);
    LLVMValueRef rt = LLVMGetParam(fn, 1);
    load_common(g);
    LLVMValueRef total = units(g), one = kiln_ir_i64c(ir, 1);
    kiln_ir_if e;
    kiln_ir_if_begin(ir, &e, LLVMBuildICmp(B, LLVMIntSLE, total, kiln_ir_i64c(ir, 0), ""), "empty");
    LLVMBuildRetVoid(B);
    kiln_ir_if_end(ir, &e);
    LLVMValueRef ctx = LLVMBuildArrayAlloca(B, ir->i64, kiln_ir_i64c(ir, CTX_N), "ctx");
    LLVMSetAlignment(ctx, 8);
    LLVMValueRef threads = kiln_ir_max_i64(ir, kiln_ir_rt_n_threads(ir, rt), one);
    LLVMValueRef ntasks = kiln_ir_min_i64(ir, total, LLVMBuildMul(B, threads, kiln_ir_i64c(ir, 4), ""));
    LLVMValueRef per = ceil_div(ir, total, ntasks);
    ntasks = ceil_div(ir, total, per);
    LLVMSetAlignment(LLVMBuildStore(B, g->args, slot_ptr(ir, ctx, CTX_ARGS)), 8);
    LLVMSetAlignment(LLVMBuildStore(B, per, slot_ptr(ir, ctx, CTX_PER)), 8);
    LLVMSetAlignment(LLVMBuildStore(B, total, slot_ptr(ir, ctx, CTX_TOTAL)), 8);
    kiln_ir_if one_task;
    kiln_ir_if_begin(ir, &one_task, LLVMBuildICmp(B, LLVMIntSLE, ntasks, one, ""), "inline");
    LLVMValueRef call_args[3] = {ctx, kiln_ir_i64c(ir, 0), kiln_ir_i32c(ir, 0)};
    LLVMBuildCall2(B, kiln_ir_task_fn_t(ir), task, call_args, 3, "");
    kiln_ir_if_else(ir, &one_task);
    kiln_ir_rt_parallel_for(ir, rt, ntasks, task, ctx);
    kiln_ir_if_end(ir, &one_task);
    LLVMBuildRetVoid(B);
}

/* ---- _qmv ---- */

static LLVMValueRef qmv_units(qgen *g) {
    kiln_ir *ir = g->ir;
    if (g->l->quant == CGQ_NT) return ceil_div(ir, g->N, kiln_ir_i64c(ir, g->ncu));
    return LLVMBuildSDiv(B, g->N, kiln_ir_i64c(ir, g->bs), "");
}

static LLVMValueRef emit_qmv_task(qgen *g, const char *name) {
    kiln_ir *ir = g->ir;
    LLVMValueRef begin, end;
    LLVMValueRef fn = task_begin(g, name, &begin, &end);
    kiln_ir_loop ul;
    kiln_ir_loop_begin(ir, &ul, begin, end, kiln_ir_i64c(ir, 1), "unit");
    tile_job job = {0};
    if (g->l->quant == CGQ_NT) {
        /* unit u covers columns [u ncu, u ncu + ncu); the last one, if N
         * ends inside it, starts early at N - ncu (the launcher keeps N >=
         * ncu) and leaves the columns the unit before wrote alone, so every
         * weight row a unit reads exists and rows sit at fixed steps */
        LLVMValueRef n0 = LLVMBuildMul(B, ul.index, kiln_ir_i64c(ir, g->ncu), "n0");
        LLVMValueRef n = kiln_ir_min_i64(ir, n0, LLVMBuildSub(B, g->N, kiln_ir_i64c(ir, g->ncu), ""));
        job.n = n;
        job.base = byte_gep(ir, g->Q, LLVMBuildMul(B, n, g->rb, ""));
        job.skip = LLVMBuildSub(B, n0, n, "skip");
        rows_loop(g, &job);
    } else {
        job.u = ul.index;
        rows_loop(g, &job);
    }
    kiln_ir_loop_end(ir, &ul);
    LLVMBuildRetVoid(B);
    return fn;
}

/* ---- _qdeq ---- */

static LLVMValueRef qdeq_units(qgen *g) {
    kiln_ir *ir = g->ir;
    if (g->l->quant == CGQ_NT) return LLVMBuildSub(B, QARG(n1, ir->i64), QARG(n0, ir->i64), "");
    return g->K;
}

/* Decodes nblk blocks from src into dst (consecutive floats). */
static void decode_run(qgen *g, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef nblk) {
    kiln_ir *ir = g->ir;
    kiln_ir_loop bl;
    kiln_ir_loop_begin(ir, &bl, kiln_ir_i64c(ir, 0), nblk, kiln_ir_i64c(ir, 1), "blk");
    LLVMValueRef blk = byte_gep(ir, src, LLVMBuildMul(B, bl.index, kiln_ir_i64c(ir, g->ts), ""));
    LLVMValueRef k0 = LLVMBuildMul(B, bl.index, kiln_ir_i64c(ir, g->bs), "");
    for (int q = 0; q < g->groups; q++)
        kiln_ir_store_f32(ir, cgq_decode32(ir, g->qtype, blk, q), dst, LLVMBuildAdd(B, k0, kiln_ir_i64c(ir, 32 * q), ""),
                          NULL, 4);
    kiln_ir_loop_end(ir, &bl);
}

static LLVMValueRef emit_qdeq_task(qgen *g, const char *name) {
    kiln_ir *ir = g->ir;
    LLVMValueRef begin, end;
    LLVMValueRef fn = task_begin(g, name, &begin, &end);
    LLVMValueRef n0 = QARG(n0, ir->i64), n1 = QARG(n1, ir->i64), D = QARG(dst, ir->ptr);
    LLVMValueRef bsc = kiln_ir_i64c(ir, g->bs);
    kiln_ir_loop ul;
    kiln_ir_loop_begin(ir, &ul, begin, end, kiln_ir_i64c(ir, 1), "unit");
    if (g->l->quant == CGQ_NT) { /* unit: weight row n0 + u -> dst row u (K floats) */
        LLVMValueRef src = byte_gep(ir, g->Q, LLVMBuildMul(B, LLVMBuildAdd(B, n0, ul.index, ""), g->rb, ""));
        decode_run(g, src, kiln_ir_gep_f32(ir, D, LLVMBuildMul(B, ul.index, g->K, "")), LLVMBuildSDiv(B, g->K, bsc, ""));
    } else { /* unit: weight row k, columns [n0, n1) -> dst row k (n1 - n0 floats) */
        LLVMValueRef width = LLVMBuildSub(B, n1, n0, "");
        LLVMValueRef off = LLVMBuildAdd(B, LLVMBuildMul(B, ul.index, g->rb, ""),
                                        LLVMBuildMul(B, LLVMBuildSDiv(B, n0, bsc, ""), kiln_ir_i64c(ir, g->ts), ""), "");
        decode_run(g, byte_gep(ir, g->Q, off), kiln_ir_gep_f32(ir, D, LLVMBuildMul(B, ul.index, width, "")),
                   LLVMBuildSDiv(B, width, bsc, ""));
    }
    kiln_ir_loop_end(ir, &ul);
    LLVMBuildRetVoid(B);
    return fn;
}

kiln_status cg_emit_qmatmul(cg *c, const char *name, const cpu_mm_layout *l) {
    const kiln_kernel *k = c->k;
    uint32_t qtype = k->views[KILN_KV_B].qtype;
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(qtype);
    if (!ti || !cgq_supported(qtype) || l->quant == CGQ_NONE)
        return kiln_error(KILN_ERR_INTERNAL, "kernel '%s': no quantized fast path for this view", k->name);
    qgen g = {.c = c, .ir = c->ir, .k = k, .l = l, .qtype = qtype};
    g.bs = ti->block_size;
    g.ts = ti->type_size;
    g.groups = g.bs / 32;
    g.w = kiln_llvm_target_f32_lanes(c->ir->target);
    if (g.w > 32) g.w = 32;
    g.mr = rows_per_tile(&g);
    g.ncu = g.w < NC ? NC : g.w > MAX_NCU ? MAX_NCU : g.w;
    char n[160], t[176];
    snprintf(n, sizeof n, "%s_qmv", name);
    snprintf(t, sizeof t, "%s_task", n);
    emit_entry(&g, n, emit_qmv_task(&g, t), qmv_units);
    snprintf(n, sizeof n, "%s_qdeq", name);
    snprintf(t, sizeof t, "%s_task", n);
    emit_entry(&g, n, emit_qdeq_task(&g, t), qdeq_units);
    return KILN_OK;
}
