/* ATTENTION kernels: one unit per query row (b, h, s), its keys in chunks
 * of CG_ATT_CHUNK with an online softmax between chunks (running max m,
 * running sum l, the output accumulator rescaled when m grows), so no score
 * matrix is ever stored and the stack holds one chunk of scores.
 *
 * Per chunk, three passes with no chain from one block of KB keys to the
 * next (a per-block online softmax spent its time waiting on the rescale
 * for small heads): (1) KB dot products q.k_t as vectors along the head
 * dimension, reduced together into one vector of KB scores; the block's
 * mask (the mask view evaluated with lanes along the keys) and exclusions
 * (a false bool mask, keys past the causal limit or the chunk) give -inf;
 * the scores go to the stack and a vector max; (2) the weights
 * exp(score - m) in place and their sum; (3) the accumulator rescaled once,
 * then each block's KB weighted value rows summed as a tree and added.
 * q (pre-scaled) and the accumulator live in stack arrays when the head
 * sizes are constants, else in per-thread scratch. GQA: head h reads kv
 * head h / (H / Hk). A row with no key left gives 0. Math in f32. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)
#define CG_ATT_STACK_MAX 512 /* head sizes up to this get stack arrays */
#define KB_MAX 16
#define CG_ATT_CHUNK 256 /* keys whose scores are held at once (a multiple of KB_MAX) */

typedef struct att {
    LLVMValueRef b, h, hk, s;  /* the current row */
    LLVMValueRef qbuf, acc;    /* f32 arrays */
    LLVMValueRef t[KB_MAX];    /* the block's keys, clamped to valid ones */
    LLVMValueRef dot[KB_MAX];  /* allocas: vector partial dot products */
    LLVMValueRef p[KB_MAX];    /* the block's weights (0 for excluded keys) */
    LLVMValueRef corr;         /* accumulator rescale for this block */
    LLVMValueRef scale, inv_l;
    LLVMValueRef sbuf, vmax_p; /* the chunk's scores (then weights); their running max */
    LLVMValueRef c0, c_end, tmax; /* the chunk's keys; the last valid key */
    int wd, wv, kb;            /* lanes along D and Dv; keys per block */
    int mode;
} att;

enum { A_LOADQ, A_ZERO, A_DOT, A_RESCALE, A_UPDATE, A_OUT };

static void coords4(cg_point *p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c2, LLVMValueRef d, int width,
                    LLVMValueRef mask, int lane) {
    memset(p, 0, sizeof *p);
    p->width = width;
    p->mask = mask;
    p->rank = 4;
    p->lane = width > 1 ? lane : -1;
    p->coord[0] = a;
    p->coord[1] = b;
    p->coord[2] = c2;
    p->coord[3] = d;
}

static LLVMValueRef view_f32(cg *c, const cg_point *p, int view) {
    int32_t e = c->k->views[view].expr;
    LLVMValueRef v = cg_eval(c, p, e, 0);
    kiln_dtype t = c->k->exprs[e].type;
    return t == KILN_F32 || t == KILN_F16 || t == KILN_BF16 ? v : cg_cast(c->ir, t, KILN_F32, v);
}

static void lane_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    att *a = user;
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    cg_point p;
    LLVMTypeRef vt = kiln_ir_vec_t(ir, ir->f32, width);
    switch (a->mode) {
    case A_LOADQ: {
        coords4(&p, a->b, a->h, a->s, base, width, mask, 3);
        LLVMValueRef q = LLVMBuildFMul(B, view_f32(c, &p, KILN_KV_Q), cg_splat(ir, a->scale, width), "");
        kiln_ir_store_f32(ir, q, a->qbuf, base, mask, 4);
        break;
    }
    case A_ZERO: kiln_ir_store_f32(ir, kiln_ir_f32c(ir, 0, width), a->acc, base, mask, 4); break;
    case A_DOT: {
        LLVMValueRef q = kiln_ir_load_f32(ir, a->qbuf, base, width, mask, 4);
        for (int j = 0; j < a->kb; j++) {
            coords4(&p, a->b, a->hk, a->t[j], base, width, mask, 3);
            LLVMValueRef kv = view_f32(c, &p, KILN_KV_K);
            LLVMValueRef d = LLVMBuildLoad2(B, vt, a->dot[j], "");
            LLVMBuildStore(B, kiln_ir_fma(ir, q, kv, d), a->dot[j]);
        }
        break;
    }
    case A_RESCALE: {
        LLVMValueRef acc = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        kiln_ir_store_f32(ir, LLVMBuildFMul(B, acc, cg_splat(ir, a->corr, width), ""), a->acc, base, mask, 4);
        break;
    }
    case A_UPDATE: { /* the block's weighted value rows summed as a tree: no chain through acc */
        LLVMValueRef w[KB_MAX];
        for (int j = 0; j < a->kb; j++) {
            coords4(&p, a->b, a->hk, a->t[j], base, width, mask, 3);
            LLVMValueRef vv = view_f32(c, &p, KILN_KV_V);
            w[j] = LLVMBuildFMul(B, cg_splat(ir, a->p[j], width), vv, "");
        }
        for (int n = a->kb; n > 1;) {
            int h = n / 2;
            for (int j = 0; j < h; j++) w[j] = LLVMBuildFAdd(B, w[j], w[n - h + j], "");
            n -= h;
        }
        LLVMValueRef acc = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        kiln_ir_store_f32(ir, LLVMBuildFAdd(B, acc, w[0], ""), a->acc, base, mask, 4);
        break;
    }
    case A_OUT: {
        LLVMValueRef acc = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        LLVMValueRef y = LLVMBuildFMul(B, acc, cg_splat(ir, a->inv_l, width), "");
        coords4(&p, a->b, a->h, a->s, base, width, mask, 3);
        p.value0 = cg_cast(ir, KILN_F32, k->value_type, y);
        LLVMValueRef lin = a->b;
        lin = LLVMBuildAdd(B, LLVMBuildMul(B, lin, c->dims[k->out_extent[1]], ""), a->h, "");
        lin = LLVMBuildAdd(B, LLVMBuildMul(B, lin, c->dims[k->out_extent[2]], ""), a->s, "");
        lin = LLVMBuildAdd(B, LLVMBuildMul(B, lin, c->dims[k->out_extent[3]], ""), base, "");
        cg_store_output(c, &p, lin);
        break;
    }
    }
}

static void lanes(cg *c, att *a, int mode, LLVMValueRef n, int width) {
    a->mode = mode;
    cg_lane_loop(c, n, width, lane_body, a);
}

static LLVMValueRef att_total(cg *c, void *user, LLVMValueRef *cost) {
    (void)user;
    const kiln_kernel *k = c->k;
    LLVMValueRef T = c->dims[k->views[KILN_KV_K].extent[2]];
    LLVMValueRef D = c->dims[k->views[KILN_KV_Q].extent[3]], Dv = c->dims[k->views[KILN_KV_V].extent[3]];
    *cost = LLVMBuildMul(B, T, LLVMBuildAdd(B, D, Dv, ""), "");
    return cg_extent_product(c, k->views[KILN_KV_Q].extent, 3);
}

static int const_dim(const kiln_kernel *k, int32_t slot, int64_t *v) {
    if (!kiln_dim_is_const(k->dims[slot])) return 0;
    *v = k->dims[slot];
    return 1;
}

size_t cg_attention_scratch(const kiln_kernel *k, const int64_t *dims) {
    int64_t D = dims[k->views[KILN_KV_Q].extent[3]], Dv = dims[k->views[KILN_KV_V].extent[3]];
    return (size_t)((D + 16) / 16 * 16 + (Dv + 16) / 16 * 16) * 4 + 64;
}

/* The block's keys t0 .. t0 + KB - 1; in the tail block those past tmax
 * read tmax (their weights are 0). The dot products start from 0. */
static void block_keys(cg *c, att *a, LLVMValueRef t0, int tail) {
    kiln_ir *ir = c->ir;
    for (int j = 0; j < a->kb; j++) {
        a->t[j] = LLVMBuildAdd(B, t0, kiln_ir_i64c(ir, j), "");
        if (tail) a->t[j] = kiln_ir_min_i64(ir, a->t[j], a->tmax);
        LLVMBuildStore(B, kiln_ir_f32c(ir, 0, a->wd), a->dot[j]);
    }
}

/* The KB scores of the block from the dot-product vectors. */
static LLVMValueRef block_scores(cg *c, att *a) {
    kiln_ir *ir = c->ir;
    LLVMTypeRef vt = kiln_ir_vec_t(ir, ir->f32, a->wd);
    LLVMValueRef d[KB_MAX];
    for (int j = 0; j < a->kb; j++) d[j] = LLVMBuildLoad2(B, vt, a->dot[j], "");
    if (a->wd >= a->kb && a->wd > 1) return kiln_ir_hsum_many(ir, d, a->kb);
    if (a->wd >= 4 && a->kb % a->wd == 0) { /* groups of wd vectors, their scores concatenated */
        LLVMValueRef g[KB_MAX];
        int n = a->kb / a->wd, w = a->wd;
        for (int i = 0; i < n; i++) g[i] = kiln_ir_hsum_many(ir, d + i * w, w);
        for (; n > 1; n /= 2, w *= 2) {
            LLVMValueRef idx[KB_MAX];
            for (int i = 0; i < 2 * w; i++) idx[i] = kiln_ir_i32c(ir, i);
            for (int i = 0; i < n / 2; i++)
                g[i] = LLVMBuildShuffleVector(B, g[2 * i], g[2 * i + 1], LLVMConstVector(idx, (unsigned)(2 * w)), "");
        }
        return g[0];
    }
    LLVMValueRef s = LLVMGetPoison(kiln_ir_vec_t(ir, ir->f32, a->kb));
    for (int j = 0; j < a->kb; j++) {
        LLVMValueRef x = a->wd > 1 ? cg_hreduce(ir, CG_RADD, 1, d[j]) : d[j];
        s = LLVMBuildInsertElement(B, s, x, kiln_ir_i32c(ir, j), "");
    }
    return s;
}

/* Pass 1 for the block at t0: its scores (-inf where excluded) to the
 * chunk's buffer and into the running max. */
static void score_block(cg *c, att *a, LLVMValueRef t0, int tail) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    LLVMTypeRef kbt = kiln_ir_vec_t(ir, ir->f32, a->kb);
    LLVMValueRef ninf_v = kiln_ir_f32c(ir, -INFINITY, a->kb);
    block_keys(c, a, t0, tail);
    lanes(c, a, A_DOT, c->dims[k->views[KILN_KV_Q].extent[3]], a->wd);
    LLVMValueRef score = block_scores(c, a);
    LLVMValueRef keep = tail ? kiln_ir_lane_mask(ir, LLVMBuildSub(B, a->c_end, t0, ""), a->kb) : NULL;
    if (k->mask != KILN_KMASK_NONE) {
        cg_point p;
        coords4(&p, a->b, a->h, a->s, t0, a->kb, keep, 3);
        int32_t me = k->views[KILN_KV_MASK].expr;
        LLVMValueRef mv = cg_eval(c, &p, me, 0);
        if (k->mask == KILN_KMASK_BOOL) keep = cg_and_mask(ir, keep, cg_to_i1(ir, mv));
        else score = LLVMBuildFAdd(B, score, k->exprs[me].type == KILN_F64 ? cg_cast(ir, KILN_F64, KILN_F32, mv) : mv, "");
    }
    if (keep) score = LLVMBuildSelect(B, keep, score, ninf_v, "");
    kiln_ir_store_f32(ir, score, a->sbuf, LLVMBuildSub(B, t0, a->c0, ""), NULL, 4);
    LLVMBuildStore(B, cg_combine(ir, CG_RMAX, 1, LLVMBuildLoad2(B, kbt, a->vmax_p, ""), score), a->vmax_p);
}

/* Pass 3 for the block at t0: its weighted value rows into the accumulator. */
static void value_block(cg *c, att *a, LLVMValueRef t0, int tail) {
    kiln_ir *ir = c->ir;
    block_keys(c, a, t0, tail);
    LLVMValueRef off = LLVMBuildSub(B, t0, a->c0, "");
    for (int j = 0; j < a->kb; j++) {
        LLVMValueRef ix = LLVMBuildAdd(B, off, kiln_ir_i64c(ir, j), "");
        a->p[j] = LLVMBuildLoad2(B, ir->f32, kiln_ir_gep_f32(ir, a->sbuf, ix), "p");
    }
    lanes(c, a, A_UPDATE, c->dims[c->k->views[KILN_KV_V].extent[3]], a->wv);
}

/* Blocks t0 = c0, c0 + KB, ... of the chunk: the full ones in a loop, then
 * the partial one. */
static void chunk_blocks(cg *c, att *a, void (*block)(cg *, att *, LLVMValueRef, int), const char *name) {
    kiln_ir *ir = c->ir;
    LLVMValueRef n = LLVMBuildSub(B, a->c_end, a->c0, "");
    LLVMValueRef full_end = LLVMBuildAdd(B, a->c0, LLVMBuildAnd(B, n, kiln_ir_i64c(ir, ~(int64_t)(a->kb - 1)), ""), "");
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, a->c0, full_end, kiln_ir_i64c(ir, a->kb), name);
    block(c, a, l.index, 0);
    kiln_ir_loop_end(ir, &l);
    kiln_ir_if t;
    kiln_ir_if_begin(ir, &t, LLVMBuildICmp(B, LLVMIntSLT, full_end, a->c_end, ""), "tail");
    block(c, a, full_end, 1);
    kiln_ir_if_end(ir, &t);
}

LLVMValueRef cg_emit_attention(cg *c, const char *name) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    const kiln_kview *q = &k->views[KILN_KV_Q], *kv = &k->views[KILN_KV_K], *vv = &k->views[KILN_KV_V];
    att a;
    memset(&a, 0, sizeof a);
    a.wd = cg_lane_width(c, q->extent[3]);
    a.wv = cg_lane_width(c, vv->extent[3]);
    /* keys per block: a full vector of scores (small heads reduce several
     * groups of dot products; the weights' exp then runs on full vectors) */
    int lanes_f32 = kiln_llvm_target_f32_lanes(ir->target);
    a.kb = a.wd >= 4 ? a.wd : 4;
    if (a.wd >= 4 && a.kb < lanes_f32) a.kb = lanes_f32;
    if (a.kb > KB_MAX) a.kb = KB_MAX;
    int64_t cD, cDv;
    int on_stack = const_dim(k, q->extent[3], &cD) && const_dim(k, vv->extent[3], &cDv) && cD <= CG_ATT_STACK_MAX &&
                   cDv <= CG_ATT_STACK_MAX;

    cg_task t;
    cg_task_begin(c, name, &t);
    LLVMValueRef Hd = c->dims[q->extent[1]], S = c->dims[q->extent[2]], D = c->dims[q->extent[3]];
    LLVMValueRef Hk = c->dims[kv->extent[1]], T = c->dims[kv->extent[2]], Dv = c->dims[vv->extent[3]];
    if (on_stack) {
        a.qbuf = cg_alloca(c, LLVMArrayType(ir->f32, (unsigned)(cD + 16)), "qbuf");
        a.acc = cg_alloca(c, LLVMArrayType(ir->f32, (unsigned)(cDv + 16)), "acc");
    } else {
        a.qbuf = kiln_ir_rt_scratch(ir, t.rt, t.thread);
        LLVMValueRef off = LLVMBuildMul(B, LLVMBuildAnd(B, LLVMBuildAdd(B, D, kiln_ir_i64c(ir, 16), ""),
                                                        kiln_ir_i64c(ir, ~INT64_C(15)), ""), kiln_ir_i64c(ir, 4), "");
        a.acc = LLVMBuildInBoundsGEP2(B, ir->i8, a.qbuf, &off, 1, "acc");
    }
    for (int j = 0; j < a.kb; j++) a.dot[j] = cg_alloca(c, kiln_ir_vec_t(ir, ir->f32, a.wd), "dot");
    a.sbuf = cg_alloca(c, LLVMArrayType(ir->f32, CG_ATT_CHUNK), "scores");
    a.vmax_p = cg_alloca(c, kiln_ir_vec_t(ir, ir->f32, a.kb), "vmax");
    LLVMValueRef m_p = cg_alloca(c, ir->f32, "m"), l_p = cg_alloca(c, ir->f32, "l"), kept_p = cg_alloca(c, ir->i1, "kept");
    if (k->scale_dim >= 0) {
        LLVMValueRef d = LLVMBuildSIToFP(B, c->dims[k->scale_dim], LLVMDoubleTypeInContext(ir->ctx), "");
        LLVMTypeRef dt = LLVMTypeOf(d);
        d = kiln_ir_intrinsic(ir, "llvm.sqrt", &dt, 1, &d, 1);
        a.scale = LLVMBuildFPTrunc(B, LLVMBuildFDiv(B, LLVMConstReal(dt, 1.0), d, ""), ir->f32, "scale");
    } else {
        a.scale = LLVMConstReal(ir->f32, k->scale);
    }
    /* heads per kv head (the host checks Hk > 0 and H % Hk == 0) */
    LLVMValueRef zero = kiln_ir_i64c(ir, 0), one = kiln_ir_i64c(ir, 1);
    LLVMValueRef group = kiln_ir_max_i64(ir, LLVMBuildUDiv(B, Hd, kiln_ir_max_i64(ir, Hk, one), ""), one);
    LLVMValueRef ninf = LLVMConstReal(ir->f32, -INFINITY);
    LLVMTypeRef kbt = kiln_ir_vec_t(ir, ir->f32, a.kb);

    kiln_ir_loop rows;
    kiln_ir_loop_begin(ir, &rows, t.begin, t.end, one, "row");
    LLVMValueRef cc[3];
    cg_unravel(c, rows.index, q->extent, 3, cc);
    a.b = cc[0];
    a.h = cc[1];
    a.s = cc[2];
    a.hk = LLVMBuildUDiv(B, a.h, group, "hk");
    lanes(c, &a, A_LOADQ, D, a.wd);
    lanes(c, &a, A_ZERO, Dv, a.wv);
    LLVMBuildStore(B, ninf, m_p);
    LLVMBuildStore(B, LLVMConstReal(ir->f32, 0), l_p);
    LLVMBuildStore(B, LLVMConstInt(ir->i1, 0, 0), kept_p);
    LLVMValueRef t_end = T;
    if (k->causal) { /* keys 0 ..= s + T - S */
        LLVMValueRef last = LLVMBuildAdd(B, a.s, LLVMBuildSub(B, T, S, ""), "");
        t_end = kiln_ir_min_i64(ir, kiln_ir_max_i64(ir, LLVMBuildAdd(B, last, one, ""), zero), T);
    }
    LLVMValueRef kbc = kiln_ir_i64c(ir, a.kb);

    LLVMValueRef chc = kiln_ir_i64c(ir, CG_ATT_CHUNK);
    LLVMValueRef sbuf = a.sbuf, vmax_p = a.vmax_p, vsum_p = cg_alloca(c, kbt, "vsum");
    a.tmax = LLVMBuildSub(B, t_end, one, "");

    kiln_ir_loop chunks;
    kiln_ir_loop_begin(ir, &chunks, zero, t_end, chc, "chunk");
    LLVMValueRef c0 = a.c0 = chunks.index;
    LLVMValueRef c_end = a.c_end = kiln_ir_min_i64(ir, LLVMBuildAdd(B, c0, chc, ""), t_end);
    LLVMBuildStore(B, cg_splat(ir, ninf, a.kb), vmax_p);

    /* pass 1: the chunk's scores (-inf where excluded) and their max */
    chunk_blocks(c, &a, score_block, "keys");

    LLVMValueRef mc = cg_hreduce(ir, CG_RMAX, 1, LLVMBuildLoad2(B, kbt, vmax_p, ""));
    kiln_ir_if any;
    kiln_ir_if_begin(ir, &any, LLVMBuildFCmp(B, LLVMRealUNE, mc, ninf, ""), "kept_any");
    LLVMValueRef m = LLVMBuildLoad2(B, ir->f32, m_p, "");
    LLVMValueRef m_new = cg_combine(ir, CG_RMAX, 1, m, mc);
    /* m unchanged (or -inf: the accumulator is still 0): no rescale */
    a.corr = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOEQ, m, m_new, ""), LLVMConstReal(ir->f32, 1.0),
                             cg_fexp(ir, LLVMBuildFSub(B, m, m_new, "")), "corr");
    LLVMBuildStore(B, m_new, m_p);
    LLVMBuildStore(B, LLVMConstInt(ir->i1, 1, 0), kept_p);

    /* pass 2: weights exp(score - m) in place, and their sum */
    LLVMBuildStore(B, LLVMConstNull(kbt), vsum_p);
    kiln_ir_loop ws;
    kiln_ir_loop_begin(ir, &ws, zero, LLVMBuildSub(B, c_end, c0, ""), kbc, "weights");
    LLVMValueRef sv = kiln_ir_load_f32(ir, sbuf, ws.index, a.kb, NULL, 4);
    LLVMValueRef pv = cg_fexp(ir, LLVMBuildFSub(B, sv, cg_splat(ir, m_new, a.kb), ""));
    kiln_ir_store_f32(ir, pv, sbuf, ws.index, NULL, 4);
    LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildLoad2(B, kbt, vsum_p, ""), pv, ""), vsum_p);
    kiln_ir_loop_end(ir, &ws);
    LLVMValueRef l = LLVMBuildLoad2(B, ir->f32, l_p, "");
    LLVMValueRef csum = cg_hreduce(ir, CG_RADD, 1, LLVMBuildLoad2(B, kbt, vsum_p, ""));
    LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildFMul(B, l, a.corr, ""), csum, ""), l_p);

    /* pass 3: the accumulator rescaled once, then the chunk's value rows */
    lanes(c, &a, A_RESCALE, Dv, a.wv);
    chunk_blocks(c, &a, value_block, "values");
    kiln_ir_if_end(ir, &any);
    kiln_ir_loop_end(ir, &chunks);

    LLVMValueRef lf = LLVMBuildLoad2(B, ir->f32, l_p, "");
    LLVMValueRef kept = LLVMBuildLoad2(B, ir->i1, kept_p, "");
    a.inv_l = LLVMBuildSelect(B, kept, LLVMBuildFDiv(B, LLVMConstReal(ir->f32, 1.0), lf, ""), LLVMConstReal(ir->f32, 0), "inv_l");
    lanes(c, &a, A_OUT, Dv, a.wv);
    kiln_ir_loop_end(ir, &rows);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, att_total, &a);
}
