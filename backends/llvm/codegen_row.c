/* ROW kernels: softmax, log_softmax, layer_norm, rms_norm along `axis`.
 * With the last axis, one unit per row and vector accumulators along it,
 * combined across lanes; otherwise lanes run along the last coordinate
 * (independent rows side by side) and the axis is a scalar loop. Passes
 * re-evaluate the source view (a fused prologue is recomputed, not stored):
 *   softmax      max, sum of exp(x - max), then exp(x - max) / sum
 *   layer_norm   mean, mean of (x - mean)^2 (two-pass, no cancellation), then
 *                (x - mean) / sqrt(var + eps)
 *   rms_norm     mean of x^2, then x / sqrt(ms + eps)
 * The epilogue (a norm's weight and bias) runs per element on the result. */
#include <math.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)

typedef enum { P_MAX, P_SUMEXP, P_SUM, P_SUMSQDEV, P_SUMSQ, P_OUT } pass_kind;

typedef struct rowst {
    int R, axis, along; /* along: lanes run along the axis (axis is last) */
    LLVMTypeRef reg;    /* register scalar type of the source */
    int width;
    LLVMValueRef coords[KILN_KMAX_RANK];
    LLVMValueRef acc;   /* alloca */
    pass_kind pass;
    LLVMValueRef a, b;  /* per-row values the pass uses: max / sum, or mean / inv */
    LLVMValueRef lane_base, lane_mask; /* across rows: the lane chunk */
} rowst;

static LLVMValueRef fconst(cg *c, const rowst *s, double v, int width) { return cg_const_f(c->ir, s->reg, v, width); }

static LLVMValueRef linear_index(cg *c, const cg_point *p) {
    const kiln_kernel *k = c->k;
    LLVMValueRef lin = kiln_ir_i64c(c->ir, 0);
    for (int i = 0; i < k->out_rank; i++)
        lin = LLVMBuildAdd(B, LLVMBuildMul(B, lin, c->dims[k->out_extent[i]], ""), p->coord[i], "");
    return lin;
}

/* One element chunk of a pass at point p. */
static void pass_step(cg *c, rowst *s, cg_point *p) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    int w = p->width;
    LLVMValueRef x = cg_eval(c, p, k->views[KILN_KV_SRC].expr, 0);
    LLVMValueRef live = s->along ? p->mask : NULL; /* across rows every lane is its own row */
    LLVMTypeRef vt = kiln_ir_vec_t(ir, s->reg, w);
    LLVMValueRef a = s->a ? cg_splat(ir, s->a, w) : NULL, b = s->b ? cg_splat(ir, s->b, w) : NULL;
    LLVMValueRef term = NULL;
    switch (s->pass) {
    case P_MAX: {
        if (live) x = LLVMBuildSelect(B, live, x, fconst(c, s, -INFINITY, w), "");
        LLVMValueRef acc = LLVMBuildLoad2(B, vt, s->acc, "");
        LLVMBuildStore(B, cg_combine(ir, CG_RMAX, 1, acc, x), s->acc);
        return;
    }
    case P_SUMEXP: term = cg_fexp(ir, LLVMBuildFSub(B, x, a, "")); break;
    case P_SUM: term = x; break;
    case P_SUMSQDEV: {
        LLVMValueRef d = LLVMBuildFSub(B, x, a, "");
        term = LLVMBuildFMul(B, d, d, "");
        break;
    }
    case P_SUMSQ: term = LLVMBuildFMul(B, x, x, ""); break;
    case P_OUT: {
        LLVMValueRef y;
        switch (k->row) {
        case KILN_KROW_SOFTMAX: y = LLVMBuildFDiv(B, cg_fexp(ir, LLVMBuildFSub(B, x, a, "")), b, ""); break;
        case KILN_KROW_LOG_SOFTMAX: y = LLVMBuildFSub(B, LLVMBuildFSub(B, x, a, ""), b, ""); break;
        case KILN_KROW_LAYER_NORM: y = LLVMBuildFMul(B, LLVMBuildFSub(B, x, a, ""), b, ""); break;
        default: y = LLVMBuildFMul(B, x, b, ""); break;
        }
        p->value0 = cg_cast(ir, s->reg == ir->f32 ? KILN_F32 : KILN_F64, k->value_type, y);
        p->rank = s->R;
        cg_store_output(c, p, linear_index(c, p));
        return;
    }
    }
    if (live) term = LLVMBuildSelect(B, live, term, fconst(c, s, 0, w), "");
    LLVMValueRef acc = LLVMBuildLoad2(B, vt, s->acc, "");
    LLVMBuildStore(B, LLVMBuildFAdd(B, acc, term, ""), s->acc);
}

static void along_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    rowst *s = user;
    cg_point p;
    memset(&p, 0, sizeof p);
    p.width = width;
    p.mask = mask;
    p.rank = s->R;
    p.lane = width > 1 ? s->axis : -1;
    for (int i = 0; i < s->R; i++) p.coord[i] = s->coords[i];
    p.coord[s->axis] = base;
    pass_step(c, s, &p);
}

/* Runs the current pass over the row; returns the accumulated value (a
 * scalar when along, one per lane otherwise). */
static LLVMValueRef run_pass(cg *c, rowst *s, pass_kind kind, LLVMValueRef len) {
    kiln_ir *ir = c->ir;
    s->pass = kind;
    int w = s->width;
    if (kind != P_OUT) LLVMBuildStore(B, fconst(c, s, kind == P_MAX ? -INFINITY : 0.0, w), s->acc);
    if (s->along) {
        cg_lane_loop(c, len, w, along_body, s);
    } else {
        kiln_ir_loop l;
        kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), len, kiln_ir_i64c(ir, 1), "j");
        cg_point p;
        memset(&p, 0, sizeof p);
        p.width = w;
        p.mask = s->lane_mask;
        p.rank = s->R;
        p.lane = w > 1 ? s->R - 1 : -1;
        for (int i = 0; i < s->R; i++) p.coord[i] = s->coords[i];
        p.coord[s->R - 1] = s->lane_base;
        p.coord[s->axis] = l.index;
        pass_step(c, s, &p);
        kiln_ir_loop_end(ir, &l);
    }
    if (kind == P_OUT) return NULL;
    LLVMValueRef acc = LLVMBuildLoad2(B, kiln_ir_vec_t(ir, s->reg, w), s->acc, "");
    if (s->along && w > 1) acc = cg_hreduce(ir, kind == P_MAX ? CG_RMAX : CG_RADD, 1, acc);
    return acc;
}

static void row_passes(cg *c, rowst *s, LLVMValueRef len) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    int w = s->along ? 1 : s->width;
    LLVMValueRef n = cg_splat(ir, LLVMBuildSIToFP(B, len, s->reg, ""), w);
    LLVMValueRef eps = fconst(c, s, k->eps, w), one = fconst(c, s, 1.0, w);
    s->a = s->b = NULL;
    switch (k->row) {
    case KILN_KROW_SOFTMAX:
    case KILN_KROW_LOG_SOFTMAX: {
        s->a = run_pass(c, s, P_MAX, len);
        LLVMValueRef sum = run_pass(c, s, P_SUMEXP, len);
        if (k->row == KILN_KROW_LOG_SOFTMAX) {
            LLVMTypeRef t = LLVMTypeOf(sum);
            sum = kiln_ir_intrinsic(ir, "llvm.log", &t, 1, &sum, 1);
        }
        s->b = sum;
        break;
    }
    case KILN_KROW_LAYER_NORM: {
        s->a = LLVMBuildFDiv(B, run_pass(c, s, P_SUM, len), n, "mean");
        LLVMValueRef var = LLVMBuildFDiv(B, run_pass(c, s, P_SUMSQDEV, len), n, "var");
        LLVMTypeRef t = LLVMTypeOf(var);
        LLVMValueRef v = LLVMBuildFAdd(B, var, eps, "");
        s->b = LLVMBuildFDiv(B, one, kiln_ir_intrinsic(ir, "llvm.sqrt", &t, 1, &v, 1), "inv");
        break;
    }
    default: {
        LLVMValueRef ms = LLVMBuildFDiv(B, run_pass(c, s, P_SUMSQ, len), n, "ms");
        LLVMTypeRef t = LLVMTypeOf(ms);
        LLVMValueRef v = LLVMBuildFAdd(B, ms, eps, "");
        s->b = LLVMBuildFDiv(B, one, kiln_ir_intrinsic(ir, "llvm.sqrt", &t, 1, &v, 1), "inv");
        break;
    }
    }
    run_pass(c, s, P_OUT, len);
}

static void across_body(cg *c, LLVMValueRef base, LLVMValueRef mask, int width, void *user) {
    rowst *s = user;
    (void)width;
    s->lane_base = base;
    s->lane_mask = mask;
    row_passes(c, s, c->dims[c->k->out_extent[s->axis]]);
}

static LLVMValueRef row_total(cg *c, void *user, LLVMValueRef *cost) {
    rowst *s = user;
    const kiln_kernel *k = c->k;
    LLVMValueRef len = c->dims[k->out_extent[s->axis]];
    if (s->along) {
        *cost = LLVMBuildMul(B, len, kiln_ir_i64c(c->ir, 3), "");
        return cg_extent_product(c, k->out_extent, s->R - 1);
    }
    LLVMValueRef inner = c->dims[k->out_extent[s->R - 1]];
    *cost = LLVMBuildMul(B, LLVMBuildMul(B, len, inner, ""), kiln_ir_i64c(c->ir, 3), "");
    /* units: every coordinate but the axis and the last */
    int32_t ext[KILN_MAX_RANK];
    int n = 0;
    for (int i = 0; i < s->R - 1; i++)
        if (i != s->axis) ext[n++] = k->out_extent[i];
    return cg_extent_product(c, ext, n);
}

LLVMValueRef cg_emit_row(cg *c, const char *name) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    rowst s;
    memset(&s, 0, sizeof s);
    s.R = k->out_rank;
    s.axis = k->axis;
    s.along = s.axis == s.R - 1;
    kiln_dtype st = k->exprs[k->views[KILN_KV_SRC].expr].type;
    s.reg = st == KILN_F64 ? LLVMDoubleTypeInContext(ir->ctx) : ir->f32;
    if (!kiln_dtype_is_float(st)) {
        cg_fail(c, kiln_error(KILN_ERR_UNSUPPORTED, "kernel '%s': a row kernel over %s", k->name, kiln_dtype_name(st)));
        return NULL;
    }
    s.width = s.along ? cg_lane_width(c, k->out_extent[s.axis]) : cg_lane_width(c, k->out_extent[s.R - 1]);

    cg_task t;
    cg_task_begin(c, name, &t);
    s.acc = cg_alloca(c, kiln_ir_vec_t(ir, s.reg, s.width), "acc");
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, t.begin, t.end, kiln_ir_i64c(ir, 1), "unit");
    if (s.along) {
        cg_unravel(c, l.index, k->out_extent, s.R - 1, s.coords);
        row_passes(c, &s, c->dims[k->out_extent[s.axis]]);
    } else {
        int32_t ext[KILN_MAX_RANK];
        int map[KILN_MAX_RANK], n = 0;
        for (int i = 0; i < s.R - 1; i++)
            if (i != s.axis) {
                map[n] = i;
                ext[n++] = k->out_extent[i];
            }
        LLVMValueRef u[KILN_MAX_RANK];
        cg_unravel(c, l.index, ext, n, u);
        for (int i = 0; i < n; i++) s.coords[map[i]] = u[i];
        cg_lane_loop(c, c->dims[k->out_extent[s.R - 1]], s.width, across_body, &s);
    }
    kiln_ir_loop_end(ir, &l);
    cg_task_end(c, &t);
    return cg_emit_entry(c, name, t.fn, row_total, &s);
}
