/* Entry points, task functions and loops shared by the templates. An entry
 * computes how many units of work it has, then either calls its task once
 * on the calling thread (small kernels: a decode step of a small model is
 * dominated by dispatch, so these never touch the pool) or hands
 * rt->parallel_for a few tasks per thread. */
#include <stddef.h>
#include <stdio.h>

#include "codegen_internal.h"

#define B (c->ir->b)

/* Elements of work below which a kernel runs inline, and the least work a
 * task is given when split (a parallel_for costs a few microseconds). */
#define CG_GRAIN 32768
#define CG_TASKS_PER_THREAD 4

static void store_slot(kiln_ir *ir, LLVMValueRef ctx, int slot, LLVMValueRef v) {
    LLVMValueRef off = kiln_ir_i64c(ir, slot * 8);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(ir->b, ir->i8, ctx, &off, 1, "");
    LLVMSetAlignment(LLVMBuildStore(ir->b, v, p), 8);
}

static LLVMValueRef load_slot(kiln_ir *ir, LLVMValueRef ctx, int slot, LLVMTypeRef t) {
    return kiln_ir_load_field(ir, ctx, (size_t)slot * 8, t, "");
}

void cg_task_begin(cg *c, const char *entry_name, cg_task *t) {
    kiln_ir *ir = c->ir;
    char name[160];
    snprintf(name, sizeof name, "%s_task", entry_name);
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    t->fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    t->ctx = LLVMGetParam(t->fn, 0);
    LLVMValueRef task = LLVMGetParam(t->fn, 1);
    t->thread = LLVMGetParam(t->fn, 2);
    t->args = load_slot(ir, t->ctx, CG_CTX_ARGS, ir->ptr);
    t->rt = load_slot(ir, t->ctx, CG_CTX_RT, ir->ptr);
    LLVMValueRef per = load_slot(ir, t->ctx, CG_CTX_PER_TASK, ir->i64);
    LLVMValueRef total = load_slot(ir, t->ctx, CG_CTX_TOTAL, ir->i64);
    t->begin = LLVMBuildMul(B, task, per, "begin");
    t->end = kiln_ir_min_i64(ir, LLVMBuildAdd(B, t->begin, per, ""), total);
    cg_load_env(c, t->args, offsetof(cg_args, bufs), offsetof(cg_args, dims));
}

void cg_task_end(cg *c, cg_task *t) {
    (void)t;
    LLVMBuildRetVoid(c->ir->b);
}

static LLVMValueRef ceil_div(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSDiv(ir->b, LLVMBuildAdd(ir->b, a, LLVMBuildSub(ir->b, b, kiln_ir_i64c(ir, 1), ""), ""), b, "");
}

LLVMValueRef cg_emit_entry(cg *c, const char *name, LLVMValueRef task_fn, cg_total_fn total_fn, void *user) {
    kiln_ir *ir = c->ir;
    LLVMTypeRef params[2] = {ir->ptr, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 2, 0);
    LLVMValueRef args = LLVMGetParam(fn, 0), rt = LLVMGetParam(fn, 1);
    cg_load_env(c, args, offsetof(cg_args, bufs), offsetof(cg_args, dims));
    LLVMValueRef cost = NULL;
    LLVMValueRef total = total_fn(c, user, &cost);
    if (!cost) cost = kiln_ir_i64c(ir, 1);
    LLVMValueRef zero = kiln_ir_i64c(ir, 0), one = kiln_ir_i64c(ir, 1);
    kiln_ir_if e;
    kiln_ir_if_begin(ir, &e, LLVMBuildICmp(B, LLVMIntSLE, total, zero, ""), "empty");
    LLVMBuildRetVoid(B);
    kiln_ir_if_end(ir, &e);

    LLVMValueRef ctx = LLVMBuildArrayAlloca(B, ir->i64, kiln_ir_i64c(ir, CG_CTX_SLOTS), "ctx");
    LLVMSetAlignment(ctx, 8);
    cost = kiln_ir_max_i64(ir, cost, one);
    /* work in elements, saturated well below overflow */
    LLVMValueRef big = kiln_ir_i64c(ir, INT64_C(1) << 40);
    LLVMValueRef work = LLVMBuildMul(B, kiln_ir_min_i64(ir, total, big), kiln_ir_min_i64(ir, cost, big), "");
    work = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, total, LLVMBuildSDiv(B, big, cost, ""), ""), big, work, "");
    LLVMValueRef threads = kiln_ir_max_i64(ir, kiln_ir_rt_n_threads(ir, rt), one);
    LLVMValueRef ntasks = kiln_ir_min_i64(ir, ceil_div(ir, work, kiln_ir_i64c(ir, CG_GRAIN)),
                                          LLVMBuildMul(B, threads, kiln_ir_i64c(ir, CG_TASKS_PER_THREAD), ""));
    ntasks = kiln_ir_max_i64(ir, kiln_ir_min_i64(ir, ntasks, total), one);
    LLVMValueRef per = ceil_div(ir, total, ntasks);
    ntasks = ceil_div(ir, total, per);
    store_slot(ir, ctx, CG_CTX_ARGS, args);
    store_slot(ir, ctx, CG_CTX_RT, rt);
    store_slot(ir, ctx, CG_CTX_PER_TASK, per);
    store_slot(ir, ctx, CG_CTX_TOTAL, total);
    kiln_ir_if one_task;
    kiln_ir_if_begin(ir, &one_task, LLVMBuildICmp(B, LLVMIntSLE, ntasks, one, ""), "inline");
    LLVMValueRef call_args[3] = {ctx, zero, kiln_ir_i32c(ir, 0)};
    LLVMBuildCall2(B, kiln_ir_task_fn_t(ir), task_fn, call_args, 3, "");
    kiln_ir_if_else(ir, &one_task);
    kiln_ir_rt_parallel_for(ir, rt, ntasks, task_fn, ctx);
    kiln_ir_if_end(ir, &one_task);
    LLVMBuildRetVoid(B);
    return fn;
}

LLVMValueRef cg_extent_product(cg *c, const int32_t *slots, int n) {
    LLVMValueRef p = kiln_ir_i64c(c->ir, 1);
    for (int i = 0; i < n; i++) p = LLVMBuildMul(B, p, c->dims[slots[i]], "");
    return p;
}

void cg_unravel(cg *c, LLVMValueRef i, const int32_t *slots, int n, LLVMValueRef *coords) {
    kiln_ir *ir = c->ir;
    for (int d = n - 1; d >= 0; d--) {
        LLVMValueRef e = c->dims[slots[d]];
        if (!LLVMIsAConstantInt(e)) /* never divide by a zero extent */
            e = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntEQ, e, kiln_ir_i64c(ir, 0), ""), kiln_ir_i64c(ir, 1), e, "");
        if (d == 0) {
            coords[d] = i;
            break;
        }
        coords[d] = LLVMBuildURem(B, i, e, "");
        i = LLVMBuildUDiv(B, i, e, "");
    }
}

int cg_lane_width(cg *c, int32_t slot) {
    int w = kiln_llvm_target_f32_lanes(c->ir->target);
    kiln_dim d = c->k->dims[slot];
    if (!kiln_dim_is_const(d)) return w;
    if (d <= 2) return 1;
    int p = 4;
    while (p < d && p < w) p *= 2;
    return p < w ? p : w;
}

void cg_lane_loop(cg *c, LLVMValueRef n, int width, cg_lane_body body, void *user) {
    kiln_ir *ir = c->ir;
    LLVMValueRef full = width == 1 ? n : LLVMBuildAnd(B, n, kiln_ir_i64c(ir, ~(int64_t)(width - 1)), "full");
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), full, kiln_ir_i64c(ir, width), "lanes");
    body(c, l.index, NULL, width, user);
    kiln_ir_loop_end(ir, &l);
    if (width == 1) return;
    kiln_ir_if t;
    kiln_ir_if_begin(ir, &t, LLVMBuildICmp(B, LLVMIntSLT, full, n, ""), "tail");
    LLVMValueRef mask = kiln_ir_lane_mask(ir, LLVMBuildSub(B, n, full, ""), width);
    body(c, full, mask, width, user);
    kiln_ir_if_end(ir, &t);
}

LLVMValueRef cg_alloca(cg *c, LLVMTypeRef t, const char *name) {
    kiln_ir *ir = c->ir;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(B);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(LLVMGetBasicBlockParent(here));
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(ir->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(eb, first);
    else LLVMPositionBuilderAtEnd(eb, entry);
    LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return a;
}
