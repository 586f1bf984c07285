/* ATTENTION kernels, flash style: one unit per query row (b, h, s), one
 * pass over its keys with an online softmax (running max m, running sum l,
 * the output accumulator rescaled whenever m grows), so no score matrix is
 * ever stored. Dot products and the accumulator update are vectors along
 * the head dimension; q (pre-scaled) and the accumulator live in stack
 * arrays when the head sizes are constants, else in per-thread scratch.
 * GQA: head h reads kv head h / (H / Hk). Causal: keys t > s + T - S are
 * never visited. A key whose score is -inf (or whose bool mask is false) is
 * skipped; a row with no key left gives 0. Math in f32. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)
#define CG_ATT_STACK_MAX 512 /* head sizes up to this get stack arrays */

typedef struct att {
    LLVMValueRef b, h, hk, s, t; /* coordinates of the current row and key */
    LLVMValueRef qbuf, acc;      /* f32 arrays */
    LLVMValueRef dot;            /* alloca: vector partial dot product */
    LLVMValueRef scale, p, corr; /* scalars for the current step */
    int width;
    int mode; /* what a lane-loop body does */
} att;

enum { A_LOADQ, A_ZERO, A_DOT, A_RESCALE, A_ACCUM, A_OUT };

static void coords4(cg_point *p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c2, LLVMValueRef d, int width,
                    LLVMValueRef mask) {
    memset(p, 0, sizeof *p);
    p->width = width;
    p->mask = mask;
    p->rank = 4;
    p->lane = width > 1 ? 3 : -1;
    p->coord[0] = a;
    p->coord[1] = b;
    p->coord[2] = c2;
    p->coord[3] = d;
}

static LLVMValueRef as_f32(cg *c, LLVMValueRef v, kiln_dtype t) {
    if (t == KILN_F32 || t == KILN_F16 || t == KILN_BF16) return v;
    return cg_cast(c->ir, t, KILN_F32, v);
}

static void lane_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    att *a = user;
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    cg_point p;
    LLVMTypeRef vt = kiln_ir_vec_t(ir, ir->f32, width);
    switch (a->mode) {
    case A_LOADQ: {
        coords4(&p, a->b, a->h, a->s, base, width, mask);
        LLVMValueRef q = as_f32(c, cg_eval(c, &p, k->views[KILN_KV_Q].expr, 0), k->exprs[k->views[KILN_KV_Q].expr].type);
        q = LLVMBuildFMul(B, q, cg_splat(ir, a->scale, width), "");
        kiln_ir_store_f32(ir, q, a->qbuf, base, mask, 4);
        break;
    }
    case A_ZERO: kiln_ir_store_f32(ir, kiln_ir_f32c(ir, 0, width), a->acc, base, mask, 4); break;
    case A_DOT: {
        coords4(&p, a->b, a->hk, a->t, base, width, mask);
        LLVMValueRef kv = as_f32(c, cg_eval(c, &p, k->views[KILN_KV_K].expr, 0), k->exprs[k->views[KILN_KV_K].expr].type);
        LLVMValueRef q = kiln_ir_load_f32(ir, a->qbuf, base, width, mask, 4);
        LLVMValueRef d = LLVMBuildLoad2(B, vt, a->dot, "");
        LLVMBuildStore(B, kiln_ir_fma(ir, q, kv, d), a->dot);
        break;
    }
    case A_RESCALE: {
        LLVMValueRef v = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        kiln_ir_store_f32(ir, LLVMBuildFMul(B, v, cg_splat(ir, a->corr, width), ""), a->acc, base, mask, 4);
        break;
    }
    case A_ACCUM: {
        coords4(&p, a->b, a->hk, a->t, base, width, mask);
        LLVMValueRef vv = as_f32(c, cg_eval(c, &p, k->views[KILN_KV_V].expr, 0), k->exprs[k->views[KILN_KV_V].expr].type);
        LLVMValueRef acc = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        kiln_ir_store_f32(ir, kiln_ir_fma(ir, cg_splat(ir, a->p, width), vv, acc), a->acc, base, mask, 4);
        break;
    }
    case A_OUT: {
        /* a->p holds 1/l, or 0 when no key was kept */
        LLVMValueRef acc = kiln_ir_load_f32(ir, a->acc, base, width, mask, 4);
        LLVMValueRef y = LLVMBuildFMul(B, acc, cg_splat(ir, a->p, width), "");
        coords4(&p, a->b, a->h, a->s, base, width, mask);
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

static void lanes(cg *c, att *a, int mode, LLVMValueRef n) {
    a->mode = mode;
    cg_lane_loop(c, n, a->width, lane_body, a);
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

LLVMValueRef cg_emit_attention(cg *c, const char *name) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    const kiln_kview *q = &k->views[KILN_KV_Q], *kv = &k->views[KILN_KV_K], *vv = &k->views[KILN_KV_V];
    att a;
    memset(&a, 0, sizeof a);
    a.width = kiln_llvm_target_f32_lanes(ir->target);
    int64_t cD, cDv;
    int on_stack = const_dim(k, q->extent[3], &cD) && const_dim(k, vv->extent[3], &cDv) && cD <= CG_ATT_STACK_MAX &&
                   cDv <= CG_ATT_STACK_MAX;
    if (on_stack) {
        int wd = cg_lane_width(c, q->extent[3]), wv = cg_lane_width(c, vv->extent[3]);
        a.width = wd > wv ? wd : wv;
    }

    cg_task t;
    cg_task_begin(c, name, &t);
    LLVMValueRef Hd = c->dims[q->extent[1]], S = c->dims[q->extent[2]], D = c->dims[q->extent[3]];
    LLVMValueRef Hk = c->dims[kv->extent[1]], T = c->dims[kv->extent[2]], Dv = c->dims[vv->extent[3]];
    if (on_stack) {
        a.qbuf = cg_alloca(c, LLVMArrayType(ir->f32, (unsigned)(cD + a.width)), "qbuf");
        a.acc = cg_alloca(c, LLVMArrayType(ir->f32, (unsigned)(cDv + a.width)), "acc");
    } else {
        a.qbuf = kiln_ir_rt_scratch(ir, t.rt, t.thread);
        LLVMValueRef off = LLVMBuildMul(B, LLVMBuildAnd(B, LLVMBuildAdd(B, D, kiln_ir_i64c(ir, 16), ""),
                                                        kiln_ir_i64c(ir, ~INT64_C(15)), ""), kiln_ir_i64c(ir, 4), "");
        a.acc = LLVMBuildInBoundsGEP2(B, ir->i8, a.qbuf, &off, 1, "acc");
    }
    a.dot = cg_alloca(c, kiln_ir_vec_t(ir, ir->f32, a.width), "dot");
    LLVMValueRef m_p = cg_alloca(c, ir->f32, "m"), l_p = cg_alloca(c, ir->f32, "l");
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
    LLVMValueRef group = LLVMBuildUDiv(B, Hd, kiln_ir_max_i64(ir, Hk, one), "");
    group = kiln_ir_max_i64(ir, group, one);

    kiln_ir_loop rows;
    kiln_ir_loop_begin(ir, &rows, t.begin, t.end, one, "row");
    LLVMValueRef cc[3];
    cg_unravel(c, rows.index, q->extent, 3, cc);
    a.b = cc[0];
    a.h = cc[1];
    a.s = cc[2];
    a.hk = LLVMBuildUDiv(B, a.h, group, "hk");
    lanes(c, &a, A_LOADQ, D);
    lanes(c, &a, A_ZERO, Dv);
    LLVMValueRef ninf = LLVMConstReal(ir->f32, -INFINITY);
    LLVMBuildStore(B, ninf, m_p);
    LLVMBuildStore(B, LLVMConstReal(ir->f32, 0), l_p);
    LLVMValueRef t_end = T;
    if (k->causal) { /* keys 0 ..= s + T - S */
        LLVMValueRef last = LLVMBuildAdd(B, a.s, LLVMBuildSub(B, T, S, ""), "");
        t_end = kiln_ir_min_i64(ir, kiln_ir_max_i64(ir, LLVMBuildAdd(B, last, one, ""), zero), T);
    }
    LLVMValueRef kept_p = cg_alloca(c, ir->i1, "kept");
    LLVMBuildStore(B, LLVMConstInt(ir->i1, 0, 0), kept_p);

    kiln_ir_loop keys;
    kiln_ir_loop_begin(ir, &keys, zero, t_end, one, "key");
    a.t = keys.index;
    LLVMBuildStore(B, kiln_ir_f32c(ir, 0, a.width), a.dot);
    lanes(c, &a, A_DOT, D);
    LLVMValueRef dv = LLVMBuildLoad2(B, kiln_ir_vec_t(ir, ir->f32, a.width), a.dot, "");
    LLVMValueRef score = a.width > 1 ? cg_hreduce(ir, CG_RADD, 1, dv) : dv;
    LLVMValueRef keep = LLVMConstInt(ir->i1, 1, 0);
    if (k->mask != KILN_KMASK_NONE) {
        cg_point p;
        coords4(&p, a.b, a.h, a.s, a.t, 1, NULL);
        p.lane = -1;
        int32_t me = k->views[KILN_KV_MASK].expr;
        LLVMValueRef mv = cg_eval(c, &p, me, 1);
        if (k->mask == KILN_KMASK_BOOL) keep = LLVMBuildICmp(B, LLVMIntNE, mv, LLVMConstNull(LLVMTypeOf(mv)), "");
        else score = LLVMBuildFAdd(B, score, as_f32(c, mv, k->exprs[me].type), "");
    }
    keep = LLVMBuildAnd(B, keep, LLVMBuildFCmp(B, LLVMRealUNE, score, ninf, ""), "keep");
    kiln_ir_if use;
    kiln_ir_if_begin(ir, &use, keep, "use_key");
    {
        LLVMValueRef m = LLVMBuildLoad2(B, ir->f32, m_p, "");
        kiln_ir_if grow;
        kiln_ir_if_begin(ir, &grow, LLVMBuildFCmp(B, LLVMRealOGT, score, m, ""), "new_max");
        a.corr = cg_fexp(ir, LLVMBuildFSub(B, m, score, "")); /* exp(-inf) = 0 on the first key */
        LLVMBuildStore(B, LLVMBuildFMul(B, LLVMBuildLoad2(B, ir->f32, l_p, ""), a.corr, ""), l_p);
        lanes(c, &a, A_RESCALE, Dv);
        LLVMBuildStore(B, score, m_p);
        kiln_ir_if_end(ir, &grow);
        m = LLVMBuildLoad2(B, ir->f32, m_p, "");
        a.p = cg_fexp(ir, LLVMBuildFSub(B, score, m, ""));
        LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildLoad2(B, ir->f32, l_p, ""), a.p, ""), l_p);
        lanes(c, &a, A_ACCUM, Dv);
        LLVMBuildStore(B, LLVMConstInt(ir->i1, 1, 0), kept_p);
    }
    kiln_ir_if_end(ir, &use);
    kiln_ir_loop_end(ir, &keys);

    LLVMValueRef l = LLVMBuildLoad2(B, ir->f32, l_p, "");
    LLVMValueRef kept = LLVMBuildLoad2(B, ir->i1, kept_p, "");
    a.p = LLVMBuildSelect(B, kept, LLVMBuildFDiv(B, LLVMConstReal(ir->f32, 1.0), l, ""), LLVMConstReal(ir->f32, 0), "inv_l");
    lanes(c, &a, A_OUT, Dv);
    kiln_ir_loop_end(ir, &rows);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, att_total, &a);
}
