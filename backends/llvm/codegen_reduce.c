/* REDUCE kernels. Two layouts:
 *   rows     one unit per output element, vector accumulators along the
 *            last reduced coordinate, combined across lanes at the end
 *            (reducing over the innermost axis);
 *   columns  one unit per output row, lanes along the last output
 *            coordinate, each lane its own accumulator (reducing over an
 *            outer axis of a tensor whose last axis is contiguous).
 * Floats accumulate in their register type (f32 for f32/f16/bf16), ints in
 * wrapping i64, with the empty-reduction values of docs/ops.md. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)

typedef struct red {
    int R, V;            /* output rank, view rank */
    kiln_dtype ta;       /* view type */
    int is_float, is_arg, columns;
    cg_rop rop;
    LLVMTypeRef reg;     /* register scalar type of the view */
    /* per unit, inside the task */
    LLVMValueRef coords[KILN_KMAX_RANK];
    LLVMValueRef acc, best_i; /* allocas */
    LLVMValueRef rr_base;     /* arg: flat index of the lane loop's coordinate 0 */
    LLVMValueRef last_len;
    int width;
    LLVMValueRef out_row;     /* columns: row index * inner */
} red;

static cg_rop rop_of(kiln_kreduce r) {
    switch (r) {
    case KILN_KR_PROD: return CG_RMUL;
    case KILN_KR_MAX:
    case KILN_KR_ARGMAX: return CG_RMAX;
    case KILN_KR_MIN:
    case KILN_KR_ARGMIN: return CG_RMIN;
    default: return CG_RADD;
    }
}

/* The accumulator's starting value (and the value of an empty reduction). */
static LLVMValueRef identity(cg *c, const red *r, int width) {
    kiln_ir *ir = c->ir;
    if (r->is_float) {
        double v = r->rop == CG_RMUL ? 1.0 : r->rop == CG_RMAX ? -INFINITY : r->rop == CG_RMIN ? INFINITY : 0.0;
        return cg_const_f(ir, r->reg, v, width);
    }
    int64_t v = r->rop == CG_RMUL ? 1 : 0;
    if (r->rop == CG_RMAX || r->rop == CG_RMIN) {
        int bits = (int)kiln_dtype_size(r->ta) * 8;
        int uns = r->ta == KILN_U8 || r->ta == KILN_U16 || r->ta == KILN_U32 || r->ta == KILN_U64 || r->ta == KILN_BOOL;
        if (r->rop == CG_RMAX) v = uns ? 0 : bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
        else v = r->ta == KILN_U64 || bits == 64 ? INT64_MAX : uns ? (INT64_C(1) << bits) - 1 : (INT64_C(1) << (bits - 1)) - 1;
    }
    return cg_const_i(ir, v, width);
}

/* Point over the view: output coords, reduced coords, lane coordinate. */
static void view_point(const red *r, cg_point *p, LLVMValueRef lane_base, LLVMValueRef mask, int width, int lane) {
    memset(p, 0, sizeof *p);
    p->width = width;
    p->mask = mask;
    p->rank = r->V;
    p->lane = width > 1 ? lane : -1;
    for (int i = 0; i < r->V; i++) p->coord[i] = r->coords[i];
    if (lane >= 0) p->coord[lane] = lane_base;
}

/* argmax/argmin update: a candidate replaces the best when strictly better
 * (first occurrence wins), NaN never does, anything beats "none yet". */
static void arg_update(cg *c, const red *r, LLVMValueRef x, LLVMValueRef idx, LLVMValueRef live) {
    kiln_ir *ir = c->ir;
    LLVMTypeRef vt = LLVMTypeOf(x);
    LLVMValueRef bv = LLVMBuildLoad2(B, vt, r->acc, "");
    LLVMValueRef bi = LLVMBuildLoad2(B, LLVMTypeOf(idx), r->best_i, "");
    int w = kiln_ir_width(x);
    LLVMValueRef none = LLVMBuildICmp(B, LLVMIntSLT, bi, cg_const_i(ir, 0, w), "");
    LLVMValueRef better, ok;
    int mx = r->rop == CG_RMAX;
    if (r->is_float) {
        better = LLVMBuildFCmp(B, mx ? LLVMRealOGT : LLVMRealOLT, x, bv, "");
        ok = LLVMBuildFCmp(B, LLVMRealORD, x, x, "");
    } else {
        better = LLVMBuildICmp(B, mx ? LLVMIntSGT : LLVMIntSLT, x, bv, "");
        ok = LLVMConstAllOnes(kiln_ir_vec_t(ir, ir->i1, w));
    }
    LLVMValueRef take = LLVMBuildAnd(B, ok, LLVMBuildOr(B, none, better, ""), "");
    if (live) take = LLVMBuildAnd(B, take, live, "");
    LLVMBuildStore(B, LLVMBuildSelect(B, take, x, bv, ""), r->acc);
    LLVMBuildStore(B, LLVMBuildSelect(B, take, idx, bi, ""), r->best_i);
}

/* rows: lanes along the last reduced coordinate */
static void rows_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    red *r = user;
    kiln_ir *ir = c->ir;
    cg_point p;
    view_point(r, &p, base, mask, width, r->V > r->R ? r->V - 1 : -1);
    LLVMValueRef x = cg_eval(c, &p, c->k->views[KILN_KV_SRC].expr, 0);
    if (r->is_arg) { /* width 1 */
        LLVMValueRef idx = LLVMBuildAdd(B, r->rr_base, base, "");
        arg_update(c, r, x, idx, NULL);
        return;
    }
    if (mask) x = LLVMBuildSelect(B, mask, x, identity(c, r, width), "");
    LLVMValueRef acc = LLVMBuildLoad2(B, LLVMTypeOf(x), r->acc, "");
    LLVMBuildStore(B, cg_combine(ir, r->rop, r->is_float, acc, x), r->acc);
}

/* The reduced value from the accumulator(s) (scalar or per lane), rounded to value_type. */
static LLVMValueRef finish(cg *c, const red *r, LLVMValueRef acc, LLVMValueRef count) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    kiln_dtype vt = k->value_type, from = r->ta;
    int w = kiln_ir_width(acc);
    if (r->is_arg) {
        LLVMValueRef zero = cg_const_i(ir, 0, w);
        acc = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, acc, zero, ""), zero, acc, "");
        from = KILN_I64;
    } else if (k->reduce == KILN_KR_MEAN) {
        if (r->is_float) {
            acc = LLVMBuildFDiv(B, acc, cg_splat(ir, LLVMBuildSIToFP(B, count, r->reg, ""), w), "mean");
        } else {
            LLVMValueRef n = cg_splat(ir, count, w), zero = cg_const_i(ir, 0, w);
            LLVMValueRef pos = LLVMBuildICmp(B, LLVMIntSGT, n, zero, "");
            LLVMValueRef safe = LLVMBuildSelect(B, pos, n, cg_const_i(ir, 1, w), "");
            acc = LLVMBuildSelect(B, pos, LLVMBuildSDiv(B, acc, safe, ""), zero, "");
        }
    }
    return from == vt ? cg_round(ir, vt, acc) : cg_cast(ir, from, vt, acc);
}

typedef struct total_ctx {
    red *r;
} total_ctx;

static LLVMValueRef red_total(cg *c, void *user, LLVMValueRef *cost) {
    red *r = user;
    const kiln_kview *v = &c->k->views[KILN_KV_SRC];
    *cost = cg_extent_product(c, v->extent + r->R, r->V - r->R);
    if (r->columns) {
        *cost = LLVMBuildMul(B, *cost, c->dims[c->k->out_extent[r->R - 1]], "");
        return cg_extent_product(c, c->k->out_extent, r->R - 1);
    }
    return cg_extent_product(c, c->k->out_extent, r->R);
}

static void emit_rows_unit(cg *c, red *r, LLVMValueRef o) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    const kiln_kview *v = &k->views[KILN_KV_SRC];
    int Q = r->V - r->R;
    cg_unravel(c, o, k->out_extent, r->R, r->coords);
    r->width = Q > 0 && !r->is_arg ? cg_lane_width(c, v->extent[r->V - 1]) : 1;
    LLVMTypeRef at = kiln_ir_vec_t(ir, r->reg, r->width);
    LLVMBuildStore(B, identity(c, r, r->width), r->acc);
    if (r->is_arg) LLVMBuildStore(B, kiln_ir_i64c(ir, -1), r->best_i);
    r->last_len = Q > 0 ? c->dims[v->extent[r->V - 1]] : kiln_ir_i64c(ir, 1);
    LLVMValueRef n_outer = cg_extent_product(c, v->extent + r->R, Q > 0 ? Q - 1 : 0);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), n_outer, kiln_ir_i64c(ir, 1), "rr");
    if (Q > 1) cg_unravel(c, l.index, v->extent + r->R, Q - 1, r->coords + r->R);
    r->rr_base = LLVMBuildMul(B, l.index, r->last_len, "");
    cg_lane_loop(c, r->last_len, r->width, rows_body, r);
    kiln_ir_loop_end(ir, &l);

    LLVMValueRef acc = LLVMBuildLoad2(B, at, r->acc, "");
    if (r->is_arg) acc = LLVMBuildLoad2(B, ir->i64, r->best_i, "");
    else if (r->width > 1) acc = cg_hreduce(ir, r->rop, r->is_float, acc);
    LLVMValueRef count = LLVMBuildMul(B, n_outer, r->last_len, "");
    cg_point p;
    memset(&p, 0, sizeof p);
    p.width = 1;
    p.lane = -1;
    p.rank = r->R;
    for (int i = 0; i < r->R; i++) p.coord[i] = r->coords[i];
    p.value0 = finish(c, r, acc, count);
    cg_store_output(c, &p, o);
}

/* columns: lanes along the last output coordinate, all reduced coordinates in a loop */
static void cols_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    red *r = user;
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    const kiln_kview *v = &k->views[KILN_KV_SRC];
    int Q = r->V - r->R;
    LLVMTypeRef at = kiln_ir_vec_t(ir, r->reg, width);
    LLVMBuildStore(B, identity(c, r, width), r->acc);
    if (r->is_arg) LLVMBuildStore(B, cg_const_i(ir, -1, width), r->best_i);
    LLVMValueRef count = cg_extent_product(c, v->extent + r->R, Q);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), count, kiln_ir_i64c(ir, 1), "rr");
    cg_unravel(c, l.index, v->extent + r->R, Q, r->coords + r->R);
    cg_point p;
    view_point(r, &p, base, mask, width, r->R - 1);
    LLVMValueRef x = cg_eval(c, &p, v->expr, 0);
    if (r->is_arg) {
        arg_update(c, r, x, cg_splat(ir, l.index, width), NULL);
    } else {
        LLVMValueRef acc = LLVMBuildLoad2(B, at, r->acc, "");
        LLVMBuildStore(B, cg_combine(ir, r->rop, r->is_float, acc, x), r->acc);
    }
    kiln_ir_loop_end(ir, &l);
    LLVMValueRef acc = r->is_arg ? LLVMBuildLoad2(B, kiln_ir_vec_t(ir, ir->i64, width), r->best_i, "")
                                 : LLVMBuildLoad2(B, at, r->acc, "");
    cg_point q;
    view_point(r, &q, base, mask, width, r->R - 1);
    q.rank = r->R;
    q.value0 = finish(c, r, acc, count);
    cg_store_output(c, &q, LLVMBuildAdd(B, r->out_row, base, ""));
}

LLVMValueRef cg_emit_reduce(cg *c, const char *name) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    const kiln_kview *v = &k->views[KILN_KV_SRC];
    red r;
    memset(&r, 0, sizeof r);
    r.R = k->out_rank;
    r.V = v->rank;
    r.ta = k->exprs[v->expr].type;
    r.is_float = kiln_dtype_is_float(r.ta);
    r.is_arg = k->reduce == KILN_KR_ARGMAX || k->reduce == KILN_KR_ARGMIN;
    r.rop = rop_of(k->reduce);
    r.reg = cg_reg_t(ir, r.ta);
    /* reduce over outer axes of a tensor with a contiguous last axis: columns */
    r.columns = r.R >= 1 && r.V > r.R && cg_view_unit_stride(k, KILN_KV_SRC, r.R - 1) &&
                !cg_view_unit_stride(k, KILN_KV_SRC, r.V - 1) && cg_lane_width(c, k->out_extent[r.R - 1]) > 1;

    cg_task t;
    cg_task_begin(c, name, &t);
    int w = r.columns ? cg_lane_width(c, k->out_extent[r.R - 1]) : kiln_llvm_target_f32_lanes(ir->target);
    r.acc = cg_alloca(c, kiln_ir_vec_t(ir, r.reg, w), "acc");
    r.best_i = cg_alloca(c, kiln_ir_vec_t(ir, ir->i64, w), "best");
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, t.begin, t.end, kiln_ir_i64c(ir, 1), "unit");
    if (r.columns) {
        if (r.R > 1) cg_unravel(c, l.index, k->out_extent, r.R - 1, r.coords);
        LLVMValueRef inner = c->dims[k->out_extent[r.R - 1]];
        r.out_row = LLVMBuildMul(B, l.index, inner, "");
        cg_lane_loop(c, inner, w, cols_body, &r);
    } else {
        emit_rows_unit(c, &r, l.index);
    }
    kiln_ir_loop_end(ir, &l);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, red_total, &r);
}
