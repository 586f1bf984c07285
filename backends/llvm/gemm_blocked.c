/* The blocked GEMM task: one (batch, M block, N block) of C. For each K block
 * it packs its A block (mc x kc) and B block (kc x nc) into this thread's
 * scratch and sweeps the micro-kernel over them, A micro-panel outer (it stays
 * in L1) and B micro-panel inner (the B block stays in L2). Each task owns its
 * C block, so tasks need no synchronisation. */
#include <stddef.h>
#include <stdio.h>

#include "gemm_internal.h"

LLVMValueRef gemm_ctx_load(kiln_ir *ir, LLVMValueRef ctx, int slot, LLVMTypeRef type, const char *name) {
    return kiln_ir_load_field(ir, ctx, (size_t)slot * 8, type, name);
}

#define ARG(field, type) kiln_ir_load_field(ir, args, offsetof(kiln_gemm_args, field), type, #field)

LLVMValueRef gemm_emit_blocked_task(gemm_gen *g, LLVMValueRef pack_a, LLVMValueRef pack_b, LLVMValueRef ukernel) {
    kiln_ir *ir = g->ir;
    const kiln_gemm_desc *d = g->d;
    char name[256];
    snprintf(name, sizeof name, "%s_task", g->name);
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 1);
    LLVMValueRef ctx = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1), thread = LLVMGetParam(fn, 2);

    LLVMValueRef args = gemm_ctx_load(ir, ctx, CTX_ARGS, ir->ptr, "args");
    LLVMValueRef rt = gemm_ctx_load(ir, ctx, CTX_RT, ir->ptr, "rt");
    LLVMValueRef mc_blk = gemm_ctx_load(ir, ctx, CTX_MC, ir->i64, "mc_blk");
    LLVMValueRef nc_blk = gemm_ctx_load(ir, ctx, CTX_NC, ir->i64, "nc_blk");
    LLVMValueRef mb = gemm_ctx_load(ir, ctx, CTX_MB, ir->i64, "mb");
    LLVMValueRef nbn = gemm_ctx_load(ir, ctx, CTX_NBN, ir->i64, "nbn");
    LLVMValueRef M = ARG(m, ir->i64), N = ARG(n, ir->i64), K = ARG(k, ir->i64);
    LLVMValueRef a = ARG(a, ir->ptr), lda = ARG(lda, ir->i64), sa = ARG(stride_a, ir->i64);
    LLVMValueRef b = ARG(b, ir->ptr), ldb = ARG(ldb, ir->i64), sb = ARG(stride_b, ir->i64);
    LLVMValueRef c = ARG(c, ir->ptr), ldc = ARG(ldc, ir->i64), sc = ARG(stride_c, ir->i64);
    LLVMValueRef accumulate = LLVMBuildICmp(ir->b, LLVMIntNE, ARG(accumulate, ir->i64), kiln_ir_i64c(ir, 0), "");

    LLVMValueRef ni = LLVMBuildSRem(ir->b, t, nbn, "ni");
    LLVMValueRef rest = LLVMBuildSDiv(ir->b, t, nbn, "");
    LLVMValueRef mi = LLVMBuildSRem(ir->b, rest, mb, "mi");
    LLVMValueRef bi = LLVMBuildSDiv(ir->b, rest, mb, "bi");
    LLVMValueRef ic = LLVMBuildMul(ir->b, mi, mc_blk, "ic");
    LLVMValueRef mc = kiln_ir_min_i64(ir, mc_blk, LLVMBuildSub(ir->b, M, ic, ""));
    LLVMValueRef jc = LLVMBuildMul(ir->b, ni, nc_blk, "jc");
    LLVMValueRef nc = kiln_ir_min_i64(ir, nc_blk, LLVMBuildSub(ir->b, N, jc, ""));

    LLVMValueRef scratch = kiln_ir_rt_scratch(ir, rt, thread);
    LLVMValueRef ap = scratch;
    LLVMValueRef boff = kiln_ir_i64c(ir, g->b_offset);
    LLVMValueRef bp = LLVMBuildInBoundsGEP2(ir->b, ir->i8, scratch, &boff, 1, "bp");

    LLVMValueRef abase = kiln_ir_gep_f32(ir, a, LLVMBuildMul(ir->b, bi, sa, ""));
    LLVMValueRef bbase = kiln_ir_gep_f32(ir, b, LLVMBuildMul(ir->b, bi, sb, ""));
    LLVMValueRef coff = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, bi, sc, ""),
                                     LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, ic, ldc, ""), jc, ""), "");
    LLVMValueRef cbase = kiln_ir_gep_f32(ir, c, coff);

    /* At least one K block, so K == 0 still stores C (zeros + epilogue). */
    LLVMValueRef KC = gemm_ctx_load(ir, ctx, CTX_KC, ir->i64, "kc_blk");
    LLVMValueRef nkb =
        LLVMBuildSDiv(ir->b, LLVMBuildSub(ir->b, LLVMBuildAdd(ir->b, K, KC, ""), kiln_ir_i64c(ir, 1), ""), KC, "");
    nkb = kiln_ir_max_i64(ir, nkb, kiln_ir_i64c(ir, 1));

    kiln_ir_loop kb;
    kiln_ir_loop_begin(ir, &kb, kiln_ir_i64c(ir, 0), nkb, kiln_ir_i64c(ir, 1), "kblock");
    {
        LLVMValueRef pc = LLVMBuildMul(ir->b, kb.index, KC, "pc");
        LLVMValueRef kc =
            kiln_ir_max_i64(ir, kiln_ir_min_i64(ir, KC, LLVMBuildSub(ir->b, K, pc, "")), kiln_ir_i64c(ir, 0));
        LLVMValueRef a_off = d->trans_a ? LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, pc, lda, ""), ic, "")
                                        : LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, ic, lda, ""), pc, "");
        LLVMValueRef b_off = d->trans_b ? LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, jc, ldb, ""), pc, "")
                                        : LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, pc, ldb, ""), jc, "");
        LLVMTypeRef pack_t = LLVMGlobalGetValueType(pack_a);
        LLVMValueRef pa[5] = {kiln_ir_gep_f32(ir, abase, a_off), lda, mc, kc, ap};
        LLVMBuildCall2(ir->b, pack_t, pack_a, pa, 5, "");
        LLVMValueRef pb[5] = {kiln_ir_gep_f32(ir, bbase, b_off), ldb, nc, kc, bp};
        LLVMBuildCall2(ir->b, pack_t, pack_b, pb, 5, "");

        LLVMValueRef later = LLVMBuildICmp(ir->b, LLVMIntSGT, kb.index, kiln_ir_i64c(ir, 0), "");
        LLVMValueRef add_c = LLVMBuildOr(ir->b, later, accumulate, "");
        LLVMValueRef last =
            LLVMBuildICmp(ir->b, LLVMIntEQ, kb.index, LLVMBuildSub(ir->b, nkb, kiln_ir_i64c(ir, 1), ""), "");
        LLVMValueRef flags =
            LLVMBuildOr(ir->b, LLVMBuildZExt(ir->b, add_c, ir->i32, ""),
                        LLVMBuildShl(ir->b, LLVMBuildZExt(ir->b, last, ir->i32, ""), kiln_ir_i32c(ir, 1), ""), "flags");

        kiln_ir_loop il;
        kiln_ir_loop_begin(ir, &il, kiln_ir_i64c(ir, 0), mc, kiln_ir_i64c(ir, g->mr), "ir");
        {
            LLVMValueRef ap_i = kiln_ir_gep_f32(ir, ap, LLVMBuildMul(ir->b, il.index, kc, ""));
            LLVMValueRef mv = kiln_ir_min_i64(ir, kiln_ir_i64c(ir, g->mr), LLVMBuildSub(ir->b, mc, il.index, ""));
            LLVMValueRef crow = LLVMBuildMul(ir->b, il.index, ldc, "");
            kiln_ir_loop jl;
            kiln_ir_loop_begin(ir, &jl, kiln_ir_i64c(ir, 0), nc, kiln_ir_i64c(ir, g->nr), "jr");
            {
                LLVMValueRef bp_j = kiln_ir_gep_f32(ir, bp, LLVMBuildMul(ir->b, jl.index, kc, ""));
                LLVMValueRef nv = kiln_ir_min_i64(ir, kiln_ir_i64c(ir, g->nr), LLVMBuildSub(ir->b, nc, jl.index, ""));
                LLVMValueRef ctile = kiln_ir_gep_f32(ir, cbase, LLVMBuildAdd(ir->b, crow, jl.index, ""));
                LLVMValueRef uk[12] = {ap_i,
                                       bp_j,
                                       kc,
                                       ctile,
                                       ldc,
                                       mv,
                                       nv,
                                       flags,
                                       LLVMBuildAdd(ir->b, ic, il.index, ""),
                                       LLVMBuildAdd(ir->b, jc, jl.index, ""),
                                       bi,
                                       args};
                LLVMBuildCall2(ir->b, LLVMGlobalGetValueType(ukernel), ukernel, uk, 12, "");
            }
            kiln_ir_loop_end(ir, &jl);
        }
        kiln_ir_loop_end(ir, &il);
    }
    kiln_ir_loop_end(ir, &kb);
    LLVMBuildRetVoid(ir->b);
    return fn;
}
