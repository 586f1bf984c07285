/* The shared-B path for large products: the entry walks N blocks and K
 * blocks serially; for each it packs the B block once, split across the
 * threads, into one buffer they all read, then runs compute tasks that each
 * pack their own rows of A and sweep them against the whole B block. Every
 * element of B is packed once and every element of A once per N block, and
 * the compute tasks are whole micro-panels spread evenly over the threads.
 * The cost is two parallel loops (two barriers) per (N block, K block). */
#include <stddef.h>
#include <stdio.h>

#include "gemm_internal.h"

#define ARG(field, type) kiln_ir_load_field(ir, args, offsetof(kiln_gemm_args, field), type, #field)

static LLVMValueRef shared_b(gemm_gen *g, LLVMValueRef rt) { return kiln_ir_rt_shared(g->ir, rt); }

LLVMValueRef gemm_emit_shared_pack_task(gemm_gen *g, LLVMValueRef pack_b) {
    kiln_ir *ir = g->ir;
    char name[256];
    snprintf(name, sizeof name, "%s_shared_pack", g->name);
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    LLVMValueRef ctx = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1);
    LLVMValueRef args = gemm_ctx_load(ir, ctx, CTX_ARGS, ir->ptr, "args");
    LLVMValueRef rt = gemm_ctx_load(ir, ctx, CTX_RT, ir->ptr, "rt");
    LLVMValueRef bi = gemm_ctx_load(ir, ctx, CTX_BI, ir->i64, "bi");
    LLVMValueRef jc = gemm_ctx_load(ir, ctx, CTX_JC, ir->i64, "jc");
    LLVMValueRef ncur = gemm_ctx_load(ir, ctx, CTX_NCUR, ir->i64, "ncur");
    LLVMValueRef pc = gemm_ctx_load(ir, ctx, CTX_PC, ir->i64, "pc");
    LLVMValueRef kc = gemm_ctx_load(ir, ctx, CTX_KC, ir->i64, "kc");
    LLVMValueRef ldb = ARG(ldb, ir->i64);
    LLVMValueRef bbase = kiln_ir_gep_f32(ir, ARG(b, ir->ptr), LLVMBuildMul(ir->b, bi, ARG(stride_b, ir->i64), ""));

    LLVMValueRef j0 = LLVMBuildMul(ir->b, t, kiln_ir_i64c(ir, g->nr), "j0"); /* within the block */
    LLVMValueRef cols = kiln_ir_min_i64(ir, kiln_ir_i64c(ir, g->nr), LLVMBuildSub(ir->b, ncur, j0, ""));
    LLVMValueRef j = LLVMBuildAdd(ir->b, jc, j0, "");
    LLVMValueRef off = g->d->trans_b ? LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, j, ldb, ""), pc, "")
                                     : LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, pc, ldb, ""), j, "");
    LLVMValueRef dst = kiln_ir_gep_f32(ir, shared_b(g, rt), LLVMBuildMul(ir->b, j0, kc, ""));
    LLVMValueRef pa[5] = {kiln_ir_gep_f32(ir, bbase, off), ldb, cols, kc, dst};
    LLVMBuildCall2(ir->b, LLVMGlobalGetValueType(pack_b), pack_b, pa, 5, "");
    LLVMBuildRetVoid(ir->b);
    return fn;
}

LLVMValueRef gemm_emit_shared_compute_task(gemm_gen *g, LLVMValueRef pack_a, LLVMValueRef ukernel) {
    kiln_ir *ir = g->ir;
    char name[256];
    snprintf(name, sizeof name, "%s_shared_compute", g->name);
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    LLVMValueRef ctx = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1), thread = LLVMGetParam(fn, 2);
    LLVMValueRef args = gemm_ctx_load(ir, ctx, CTX_ARGS, ir->ptr, "args");
    LLVMValueRef rt = gemm_ctx_load(ir, ctx, CTX_RT, ir->ptr, "rt");
    LLVMValueRef bi = gemm_ctx_load(ir, ctx, CTX_BI, ir->i64, "bi");
    LLVMValueRef jc = gemm_ctx_load(ir, ctx, CTX_JC, ir->i64, "jc");
    LLVMValueRef ncur = gemm_ctx_load(ir, ctx, CTX_NCUR, ir->i64, "ncur");
    LLVMValueRef pc = gemm_ctx_load(ir, ctx, CTX_PC, ir->i64, "pc");
    LLVMValueRef kc = gemm_ctx_load(ir, ctx, CTX_KC, ir->i64, "kc");
    LLVMValueRef flags = LLVMBuildTrunc(ir->b, gemm_ctx_load(ir, ctx, CTX_FLAGS, ir->i64, "flags"), ir->i32, "");
    LLVMValueRef tasks = gemm_ctx_load(ir, ctx, CTX_TASKS, ir->i64, "tasks");
    LLVMValueRef panels = gemm_ctx_load(ir, ctx, CTX_PANELS, ir->i64, "panels");
    LLVMValueRef M = ARG(m, ir->i64);
    LLVMValueRef a = ARG(a, ir->ptr), lda = ARG(lda, ir->i64);
    LLVMValueRef c = ARG(c, ir->ptr), ldc = ARG(ldc, ir->i64);

    /* Task t gets micro-panels [t*P/T, (t+1)*P/T): balanced to one panel. */
    LLVMValueRef p0 = LLVMBuildSDiv(ir->b, LLVMBuildMul(ir->b, t, panels, ""), tasks, "p0");
    LLVMValueRef p1 = LLVMBuildSDiv(
        ir->b, LLVMBuildMul(ir->b, LLVMBuildAdd(ir->b, t, kiln_ir_i64c(ir, 1), ""), panels, ""), tasks, "p1");
    LLVMValueRef mrc = kiln_ir_i64c(ir, g->mr);
    LLVMValueRef ic = LLVMBuildMul(ir->b, p0, mrc, "ic");
    LLVMValueRef rows = LLVMBuildSub(ir->b, kiln_ir_min_i64(ir, LLVMBuildMul(ir->b, p1, mrc, ""), M), ic, "rows");

    LLVMValueRef ap = kiln_ir_rt_scratch(ir, rt, thread);
    LLVMValueRef bp = shared_b(g, rt);
    LLVMValueRef abase = kiln_ir_gep_f32(ir, a, LLVMBuildMul(ir->b, bi, ARG(stride_a, ir->i64), ""));
    LLVMValueRef a_off = g->d->trans_a ? LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, pc, lda, ""), ic, "")
                                       : LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, ic, lda, ""), pc, "");
    LLVMValueRef pa[5] = {kiln_ir_gep_f32(ir, abase, a_off), lda, rows, kc, ap};
    LLVMBuildCall2(ir->b, LLVMGlobalGetValueType(pack_a), pack_a, pa, 5, "");

    LLVMValueRef coff = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, bi, ARG(stride_c, ir->i64), ""),
                                     LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, ic, ldc, ""), jc, ""), "");
    LLVMValueRef cbase = kiln_ir_gep_f32(ir, c, coff);
    kiln_ir_loop il;
    kiln_ir_loop_begin(ir, &il, kiln_ir_i64c(ir, 0), rows, mrc, "ir");
    {
        LLVMValueRef ap_i = kiln_ir_gep_f32(ir, ap, LLVMBuildMul(ir->b, il.index, kc, ""));
        LLVMValueRef mv = kiln_ir_min_i64(ir, mrc, LLVMBuildSub(ir->b, rows, il.index, ""));
        LLVMValueRef crow = LLVMBuildMul(ir->b, il.index, ldc, "");
        kiln_ir_loop jl;
        kiln_ir_loop_begin(ir, &jl, kiln_ir_i64c(ir, 0), ncur, kiln_ir_i64c(ir, g->nr), "jr");
        {
            LLVMValueRef uk[12] = {
                ap_i,
                kiln_ir_gep_f32(ir, bp, LLVMBuildMul(ir->b, jl.index, kc, "")),
                kc,
                kiln_ir_gep_f32(ir, cbase, LLVMBuildAdd(ir->b, crow, jl.index, "")),
                ldc,
                mv,
                kiln_ir_min_i64(ir, kiln_ir_i64c(ir, g->nr), LLVMBuildSub(ir->b, ncur, jl.index, "")),
                flags,
                LLVMBuildAdd(ir->b, ic, il.index, ""),
                LLVMBuildAdd(ir->b, jc, jl.index, ""),
                bi,
                args,
            };
            LLVMBuildCall2(ir->b, LLVMGlobalGetValueType(ukernel), ukernel, uk, 12, "");
        }
        kiln_ir_loop_end(ir, &jl);
    }
    kiln_ir_loop_end(ir, &il);
    LLVMBuildRetVoid(ir->b);
    return fn;
}
