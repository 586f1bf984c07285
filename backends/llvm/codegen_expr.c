/* Kernel expressions at a point (codegen_internal.h): uniform, affine and
 * vector values, so that index arithmetic over the lane coordinate stays
 * scalar and loads along a unit stride become contiguous vector loads. */
#include <stdlib.h>
#include <string.h>

#include "codegen_internal.h"

#define B (c->ir->b)

void cg_init(cg *c, kiln_ir *ir, const kiln_kernel *k, const char *prefix) {
    memset(c, 0, sizeof *c);
    c->ir = ir;
    c->k = k;
    snprintf(c->prefix, sizeof c->prefix, "%s", prefix);
    size_t n = (size_t)k->nexprs + 1;
    c->vals = calloc(n, sizeof *c->vals);
    c->done = calloc(n, 1);
    c->varying = calloc(n, 1);
    c->lazy = calloc(n, 1);
    c->owner = calloc(n, sizeof *c->owner);
    c->rparent = calloc(2 * n + 1, sizeof *c->rparent);
    c->rdepth = calloc(2 * n + 1, sizeof *c->rdepth);
    c->bufs = calloc((size_t)k->nbufs + 1, sizeof *c->bufs);
    c->dims = calloc((size_t)k->ndims + 1, sizeof *c->dims);
    if (!c->vals || !c->done || !c->varying || !c->lazy || !c->owner || !c->rparent || !c->rdepth || !c->bufs || !c->dims)
        cg_fail(c, kiln_error(KILN_ERR_NOMEM, "out of memory"));
}

void cg_release(cg *c) {
    free(c->vals);
    free(c->done);
    free(c->varying);
    free(c->lazy);
    free(c->owner);
    free(c->rparent);
    free(c->rdepth);
    free(c->bufs);
    free(c->dims);
    c->bufs = c->dims = NULL;
    c->vals = NULL;
    c->done = NULL;
    c->varying = c->lazy = NULL;
    c->owner = c->rparent = c->rdepth = NULL;
    kiln_status_free(c->error);
    c->error = NULL;
}

void cg_fail(cg *c, kiln_status s) {
    if (!s) return;
    if (c->error) kiln_status_free(s);
    else c->error = s;
}

void cg_load_env(cg *c, LLVMValueRef args, size_t bufs_off, size_t dims_off) {
    kiln_ir *ir = c->ir;
    const kiln_kernel *k = c->k;
    LLVMValueRef bufs = kiln_ir_load_field(ir, args, bufs_off, ir->ptr, "bufs");
    LLVMValueRef dims = kiln_ir_load_field(ir, args, dims_off, ir->ptr, "dims");
    if (!c->bufs || !c->dims) return;
    for (int i = 0; i < k->nbufs; i++) {
        LLVMValueRef idx = kiln_ir_i64c(ir, i);
        LLVMValueRef p = LLVMBuildInBoundsGEP2(B, ir->ptr, bufs, &idx, 1, "");
        c->bufs[i] = LLVMBuildLoad2(B, ir->ptr, p, "buf");
        LLVMSetAlignment(c->bufs[i], 8);
    }
    for (int i = 0; i < k->ndims; i++) {
        if (kiln_dim_is_const(k->dims[i])) {
            c->dims[i] = kiln_ir_i64c(ir, k->dims[i]);
            continue;
        }
        LLVMValueRef idx = kiln_ir_i64c(ir, i);
        LLVMValueRef p = LLVMBuildInBoundsGEP2(B, ir->i64, dims, &idx, 1, "");
        c->dims[i] = LLVMBuildLoad2(B, ir->i64, p, "dim");
        LLVMSetAlignment(c->dims[i], 8);
    }
}

LLVMValueRef cg_dim(cg *c, int slot) { return c->dims[slot]; }

int cg_view_unit_stride(const kiln_kernel *k, int v, int coord) {
    const kiln_kview *view = &k->views[v];
    if (!view->strided || coord < 0 || coord >= view->rank) return 0;
    kiln_dim d = k->dims[view->stride[coord]];
    return kiln_dim_is_const(d) && d == 1;
}

/* ---- value forms ---- */

static int const_int(LLVMValueRef v, int64_t *out) {
    if (!v || !LLVMIsAConstantInt(v)) return 0;
    *out = LLVMConstIntGetSExtValue(v);
    return 1;
}

static cv uniform(LLVMValueRef v) { return (cv){CV_UNIFORM, v, NULL}; }
static cv vector(LLVMValueRef v) { return (cv){CV_VECTOR, v, NULL}; }

static LLVMValueRef materialize(cg *c, const cg_point *p, cv x) {
    kiln_ir *ir = c->ir;
    switch (x.kind) {
    case CV_UNIFORM: return cg_splat(ir, x.v, p->width);
    case CV_VECTOR: return x.v;
    case CV_AFFINE: {
        if (p->width == 1) return x.v;
        LLVMValueRef steps = cg_iota(ir, p->width);
        int64_t s;
        if (!(const_int(x.stride, &s) && s == 1)) steps = LLVMBuildMul(B, steps, cg_splat(ir, x.stride, p->width), "");
        return LLVMBuildAdd(B, cg_splat(ir, x.v, p->width), steps, "lanes");
    }
    }
    return x.v;
}

/* ---- loads ---- */

static cv eval_load(cg *c, const cg_point *p, const kiln_kexpr *x) {
    kiln_ir *ir = c->ir;
    kiln_dtype t = c->k->bufs[x->slot].dtype;
    LLVMValueRef base = c->bufs[x->slot];
    cv idx = c->vals[x->a];
    cv guard = x->b >= 0 ? c->vals[x->b] : (cv){CV_UNIFORM, NULL, NULL};
    int64_t stride = -1;
    if (idx.kind == CV_AFFINE && const_int(idx.stride, &stride) && stride == 0) idx = uniform(idx.v);
    if (p->width == 1 && idx.kind == CV_AFFINE) idx = uniform(idx.v);

    if (idx.kind == CV_UNIFORM && guard.kind == CV_UNIFORM) {
        LLVMValueRef g = guard.v ? cg_to_i1(ir, guard.v) : NULL;
        return uniform(cg_load(ir, t, base, idx.v, 1, g));
    }
    /* lanes that may be read: live and guarded on */
    LLVMValueRef m = p->mask;
    if (guard.v) m = cg_and_mask(ir, m, cg_to_i1(ir, materialize(c, p, guard)));
    if (idx.kind == CV_AFFINE && stride == 1) return vector(cg_load(ir, t, base, idx.v, p->width, m));
    return vector(cg_gather(ir, t, base, materialize(c, p, idx), m));
}

/* ---- index arithmetic on affine forms ---- */

static int is_int_type(kiln_dtype t) { return !kiln_dtype_is_float(t); }

/* add/sub/mul/neg of i64 values that keep the affine form; returns 0 when
 * the result is not affine. */
static int affine_math(cg *c, const kiln_kexpr *x, cv a, cv b, cv *out) {
    if (x->type != KILN_I64) return 0;
    if (a.kind == CV_VECTOR || (x->b >= 0 && b.kind == CV_VECTOR)) return 0;
    if (a.kind != CV_AFFINE && (x->b < 0 || b.kind != CV_AFFINE)) return 0;
    kiln_ir *ir = c->ir;
    LLVMValueRef zero = kiln_ir_i64c(ir, 0);
    LLVMValueRef as = a.kind == CV_AFFINE ? a.stride : zero;
    if (x->b < 0) {
        if (x->op != KILN_OP_NEG) return 0;
        *out = (cv){CV_AFFINE, LLVMBuildNeg(B, a.v, ""), LLVMBuildNeg(B, as, "")};
        return 1;
    }
    LLVMValueRef bs = b.kind == CV_AFFINE ? b.stride : zero;
    switch (x->op) {
    case KILN_OP_ADD: *out = (cv){CV_AFFINE, LLVMBuildAdd(B, a.v, b.v, ""), LLVMBuildAdd(B, as, bs, "")}; return 1;
    case KILN_OP_SUB: *out = (cv){CV_AFFINE, LLVMBuildSub(B, a.v, b.v, ""), LLVMBuildSub(B, as, bs, "")}; return 1;
    case KILN_OP_MUL:
        if (a.kind == CV_AFFINE && b.kind == CV_AFFINE) return 0;
        if (a.kind == CV_AFFINE) *out = (cv){CV_AFFINE, LLVMBuildMul(B, a.v, b.v, ""), LLVMBuildMul(B, as, b.v, "")};
        else *out = (cv){CV_AFFINE, LLVMBuildMul(B, a.v, b.v, ""), LLVMBuildMul(B, a.v, bs, "")};
        return 1;
    default: return 0;
    }
}

/* Index math with a non-negative dividend and a positive constant divisor
 * (how lowering writes reshapes): plain unsigned div/rem, which LLVM turns
 * into shifts and multiplies. */
static int nonneg_divmod(cg *c, const kiln_kexpr *x, cv a, cv b, LLVMValueRef *r, const cg_point *p) {
    int64_t d;
    if (x->type != KILN_I64 || (x->op != KILN_OP_DIV && x->op != KILN_OP_MOD)) return 0;
    if (b.kind != CV_UNIFORM || !const_int(b.v, &d) || d <= 0) return 0;
    /* the dividend must be known non-negative: built from coordinates and
     * dims by + and * only (checked by walking its expression) */
    const kiln_kernel *k = c->k;
    int32_t stack[64], n = 0;
    stack[n++] = x->a;
    while (n) {
        const kiln_kexpr *e = &k->exprs[stack[--n]];
        if (e->kind == KILN_KX_COORD || e->kind == KILN_KX_DIM) continue;
        if (e->kind == KILN_KX_CONST && e->i >= 0 && e->type == KILN_I64) continue;
        if (e->kind == KILN_KX_MATH && (e->op == KILN_OP_ADD || e->op == KILN_OP_MUL || e->op == KILN_OP_DIV ||
                                        e->op == KILN_OP_MOD) && e->b >= 0 && n < 62) {
            stack[n++] = e->a;
            stack[n++] = e->b;
            continue;
        }
        return 0;
    }
    kiln_ir *ir = c->ir;
    LLVMValueRef av = materialize(c, p, a);
    LLVMValueRef dv = cg_splat(ir, b.v, kiln_ir_width(av));
    *r = x->op == KILN_OP_DIV ? LLVMBuildUDiv(B, av, dv, "") : LLVMBuildURem(B, av, dv, "");
    return 1;
}

/* ---- evaluation ---- */

static cv eval_one(cg *c, const cg_point *p, int32_t e) {
    kiln_ir *ir = c->ir;
    const kiln_kexpr *x = &c->k->exprs[e];
    switch (x->kind) {
    case KILN_KX_CONST:
        if (kiln_dtype_is_float(x->type)) return uniform(LLVMConstReal(cg_reg_t(ir, x->type), x->f));
        return uniform(kiln_ir_i64c(ir, x->type == KILN_BOOL ? x->i != 0 : x->i));
    case KILN_KX_DIM: return uniform(c->dims[x->slot]);
    case KILN_KX_COORD:
        if (x->slot < 0 || x->slot >= p->rank || !p->coord[x->slot]) {
            cg_fail(c, kiln_error(KILN_ERR_INTERNAL, "kernel '%s': expression %d reads coordinate %d of a %d-d space",
                                  c->k->name, e, x->slot, p->rank));
            return uniform(kiln_ir_i64c(ir, 0));
        }
        if (x->slot == p->lane && p->width > 1) return (cv){CV_AFFINE, p->coord[x->slot], kiln_ir_i64c(ir, 1)};
        return uniform(p->coord[x->slot]);
    case KILN_KX_LOAD: return eval_load(c, p, x);
    case KILN_KX_VALUE:
        if (!p->value0) {
            cg_fail(c, kiln_error(KILN_ERR_INTERNAL, "kernel '%s': VALUE read where the template has none", c->k->name));
            return uniform(LLVMConstNull(cg_reg_t(ir, x->type)));
        }
        return kiln_ir_width(p->value0) == 1 ? uniform(p->value0) : vector(p->value0);
    case KILN_KX_CAST: {
        cv a = c->vals[x->a];
        kiln_dtype from = c->k->exprs[x->a].type;
        if (from == x->type) return a;
        LLVMValueRef v = a.kind == CV_UNIFORM ? a.v : materialize(c, p, a);
        LLVMValueRef r = cg_cast(ir, from, x->type, v);
        return a.kind == CV_UNIFORM ? uniform(r) : vector(r);
    }
    case KILN_KX_BITCAST: {
        cv a = c->vals[x->a];
        LLVMValueRef v = a.kind == CV_UNIFORM ? a.v : materialize(c, p, a);
        LLVMValueRef r = cg_bitcast(ir, c->k->exprs[x->a].type, x->type, v);
        return a.kind == CV_UNIFORM ? uniform(r) : vector(r);
    }
    case KILN_KX_SELECT: {
        cv k = c->vals[x->a], t = c->vals[x->b], f = c->vals[x->c];
        if (k.kind == CV_UNIFORM && t.kind == CV_UNIFORM && f.kind == CV_UNIFORM)
            return uniform(LLVMBuildSelect(B, cg_to_i1(ir, k.v), t.v, f.v, ""));
        if (k.kind == CV_UNIFORM && t.kind == CV_AFFINE && f.kind == CV_AFFINE) {
            LLVMValueRef kb = cg_to_i1(ir, k.v);
            return (cv){CV_AFFINE, LLVMBuildSelect(B, kb, t.v, f.v, ""), LLVMBuildSelect(B, kb, t.stride, f.stride, "")};
        }
        LLVMValueRef kv = k.kind == CV_UNIFORM ? cg_to_i1(ir, k.v) : cg_to_i1(ir, materialize(c, p, k));
        return vector(LLVMBuildSelect(B, kv, materialize(c, p, t), materialize(c, p, f), ""));
    }
    case KILN_KX_MATH: {
        if (!cg_math_supported(x->op, x->b >= 0 ? 2 : 1)) {
            cg_fail(c, kiln_error(KILN_ERR_UNSUPPORTED, "kernel '%s': op %s has no CPU code", c->k->name,
                                  kiln_op_name(x->op)));
            return uniform(LLVMConstNull(cg_reg_t(ir, x->type)));
        }
        cv a = c->vals[x->a], b = x->b >= 0 ? c->vals[x->b] : (cv){CV_UNIFORM, NULL, NULL};
        kiln_dtype in = c->k->exprs[x->a].type;
        if (a.kind == CV_UNIFORM && (x->b < 0 || b.kind == CV_UNIFORM)) {
            LLVMValueRef r = x->b < 0 ? cg_math_unary(ir, x->op, x->type, a.v) : cg_math_binary(ir, x->op, in, x->type, a.v, b.v);
            return uniform(r);
        }
        cv out;
        if (is_int_type(x->type) && affine_math(c, x, a, b, &out)) return out;
        LLVMValueRef r;
        if (nonneg_divmod(c, x, a, b, &r, p)) return vector(r);
        LLVMValueRef av = materialize(c, p, a);
        if (x->b < 0) return vector(cg_math_unary(ir, x->op, x->type, av));
        return vector(cg_math_binary(ir, x->op, in, x->type, av, materialize(c, p, b)));
    }
    }
    return uniform(kiln_ir_i64c(ir, 0));
}

int cg_is_uniform_value(LLVMValueRef v) { return kiln_ir_width(v) == 1; }

/* ---- selects with a uniform condition become branches ----
 * A SELECT whose condition is the same in every lane evaluates only the
 * side it takes: concat pieces (a KV cache copied, the new rows computed),
 * gathers' guarded rows. Each needed expression is owned by the innermost
 * region all its uses lie in: the root region, or one side of such a
 * select; a region's expressions are emitted inside that side's block. */

static int32_t region_lca(const cg *c, int32_t a, int32_t b) {
    while (a != b) {
        if (c->rdepth[a] >= c->rdepth[b]) a = c->rparent[a];
        else b = c->rparent[b];
    }
    return a;
}

static void plan_regions(cg *c, const cg_point *p, int32_t root) {
    const kiln_kernel *k = c->k;
    int vector_value = p->value0 && kiln_ir_width(p->value0) > 1;
    for (int e = 0; e <= root; e++) {
        c->lazy[e] = 0;
        c->owner[e] = -1;
        if (!c->done[e]) continue;
        const kiln_kexpr *x = &k->exprs[e];
        int v = (x->kind == KILN_KX_COORD && x->slot == p->lane && p->width > 1) || (x->kind == KILN_KX_VALUE && vector_value);
        if (x->a >= 0) v |= c->varying[x->a];
        if (x->b >= 0) v |= c->varying[x->b];
        if (x->c >= 0) v |= c->varying[x->c];
        c->varying[e] = (char)v;
        c->lazy[e] = x->kind == KILN_KX_SELECT && !c->varying[x->a] && x->b != x->c;
    }
    c->rparent[0] = 0;
    c->rdepth[0] = 0;
    c->owner[root] = 0;
    for (int e = root; e >= 0; e--) {
        if (!c->done[e] || c->owner[e] < 0) continue;
        const kiln_kexpr *x = &k->exprs[e];
        int32_t r = c->owner[e];
        if (c->lazy[e]) {
            for (int side = 1; side <= 2; side++) {
                int32_t id = 2 * e + side;
                c->rparent[id] = r;
                c->rdepth[id] = c->rdepth[r] + 1;
            }
        }
        int32_t ops[3] = {x->a, x->b, x->c};
        for (int o = 0; o < 3; o++) {
            if (ops[o] < 0) continue;
            int32_t use = r;
            if (c->lazy[e] && o == 1) use = 2 * e + 1;
            if (c->lazy[e] && o == 2) use = 2 * e + 2;
            int32_t *ow = &c->owner[ops[o]];
            *ow = *ow < 0 ? use : region_lca(c, *ow, use);
        }
    }
}

static void eval_region(cg *c, const cg_point *p, int32_t root, int32_t region);

/* Both sides in the same form: scalars when both are uniform, else vectors. */
static cv lazy_select(cg *c, const cg_point *p, int32_t root, int32_t e) {
    kiln_ir *ir = c->ir;
    const kiln_kexpr *x = &c->k->exprs[e];
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(B));
    LLVMBasicBlockRef then_bb = LLVMAppendBasicBlockInContext(ir->ctx, fn, "sel_then");
    LLVMBasicBlockRef else_bb = LLVMAppendBasicBlockInContext(ir->ctx, fn, "sel_else");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(ir->ctx, fn, "sel_join");
    LLVMBuildCondBr(B, cg_to_i1(ir, c->vals[x->a].v), then_bb, else_bb);
    LLVMPositionBuilderAtEnd(B, then_bb);
    eval_region(c, p, root, 2 * e + 1);
    cv t = c->vals[x->b];
    LLVMBasicBlockRef then_end = LLVMGetInsertBlock(B);
    LLVMPositionBuilderAtEnd(B, else_bb);
    eval_region(c, p, root, 2 * e + 2);
    cv f = c->vals[x->c];
    LLVMBasicBlockRef else_end = LLVMGetInsertBlock(B);
    int scalar = p->width == 1 || (t.kind == CV_UNIFORM && f.kind == CV_UNIFORM);
    LLVMPositionBuilderAtEnd(B, then_end);
    LLVMValueRef tv = scalar ? t.v : materialize(c, p, t);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, else_end);
    LLVMValueRef fv = scalar ? f.v : materialize(c, p, f);
    LLVMBuildBr(B, join);
    LLVMPositionBuilderAtEnd(B, join);
    LLVMValueRef phi = LLVMBuildPhi(B, LLVMTypeOf(tv), "sel");
    LLVMValueRef vals[2] = {tv, fv};
    LLVMBasicBlockRef bbs[2] = {then_end, else_end};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return scalar ? uniform(phi) : vector(phi);
}

static void eval_region(cg *c, const cg_point *p, int32_t root, int32_t region) {
    for (int e = 0; e <= root; e++) {
        if (!c->done[e] || c->owner[e] != region) continue;
        c->vals[e] = c->lazy[e] ? lazy_select(c, p, root, e) : eval_one(c, p, e);
    }
}

LLVMValueRef cg_eval(cg *c, const cg_point *p, int32_t root, int keep_uniform) {
    const kiln_kernel *k = c->k;
    kiln_ir *ir = c->ir;
    if (!c->vals || !c->owner || root < 0 || root >= k->nexprs) {
        cg_fail(c, kiln_error(KILN_ERR_INTERNAL, "kernel '%s': no expression %d", k->name, root));
        return kiln_ir_i64c(ir, 0);
    }
    /* only what root needs, operands first */
    memset(c->done, 0, (size_t)k->nexprs);
    c->done[root] = 1;
    for (int e = root; e >= 0; e--) {
        if (!c->done[e]) continue;
        const kiln_kexpr *x = &k->exprs[e];
        if (x->a >= 0) c->done[x->a] = 1;
        if (x->b >= 0) c->done[x->b] = 1;
        if (x->c >= 0) c->done[x->c] = 1;
    }
    plan_regions(c, p, root);
    eval_region(c, p, root, 0);
    cv r = c->vals[root];
    if (r.kind == CV_UNIFORM && (keep_uniform || p->width == 1)) return r.v;
    if (r.kind == CV_AFFINE && p->width == 1) return r.v;
    return materialize(c, p, r);
}

void cg_store_output(cg *c, const cg_point *p, LLVMValueRef index) {
    const kiln_kernel *k = c->k;
    kiln_ir *ir = c->ir;
    LLVMValueRef v = cg_eval(c, p, k->out_expr, 0);
    kiln_dtype et = k->exprs[k->out_expr].type, bt = k->bufs[k->out_buf].dtype;
    if (et != bt) v = cg_cast(ir, et, bt, v);
    cg_store(ir, bt, c->bufs[k->out_buf], index, v, p->mask);
}
