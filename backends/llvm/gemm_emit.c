/* The GEMM entry point: picks the small-M or the blocked path, sizes the
 * blocks for this call's shape and thread count, and hands the tasks to the
 * host thread pool through kiln_jit_rt. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gemm_internal.h"

#define ARG(field, type) kiln_ir_load_field(ir, args, offsetof(kiln_gemm_args, field), type, #field)

static LLVMValueRef ceil_div(kiln_ir *ir, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSDiv(ir->b, LLVMBuildSub(ir->b, LLVMBuildAdd(ir->b, a, b, ""), kiln_ir_i64c(ir, 1), ""), b, "");
}

static LLVMValueRef round_up(kiln_ir *ir, LLVMValueRef a, int64_t m) {
    LLVMValueRef mc = kiln_ir_i64c(ir, m);
    return LLVMBuildMul(ir->b, ceil_div(ir, a, mc), mc, "");
}

static void store_slot(kiln_ir *ir, LLVMValueRef ctx, int slot, LLVMValueRef v) {
    LLVMValueRef off = kiln_ir_i64c(ir, slot * 8);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(ir->b, ir->i8, ctx, &off, 1, "");
    LLVMSetAlignment(LLVMBuildStore(ir->b, v, p), 8);
}

/* A resolved desc resolves to itself; compared field by field (the struct has padding). */
static int tuning_equal(const kiln_gemm_desc *a, const kiln_gemm_desc *b) {
    return a->mr == b->mr && a->nr_vectors == b->nr_vectors && a->mc == b->mc && a->kc == b->kc && a->nc == b->nc &&
           a->nc_shared == b->nc_shared && a->k_unroll == b->k_unroll && a->small_m == b->small_m &&
           a->small_mk == b->small_mk;
}

kiln_status kiln_gemm_emit(kiln_ir *ir, const kiln_gemm_desc *d, const char *name, LLVMValueRef *entry) {
    if (!ir || !d || !name || !*name) return kiln_error(KILN_ERR_INVALID, "kiln_gemm_emit: NULL argument");
    kiln_gemm_desc check;
    KILN_TRY(kiln_gemm_resolve(ir->target, d, &check));
    if (!tuning_equal(&check, d))
        return kiln_error(KILN_ERR_INVALID, "kiln_gemm_emit '%s': desc is not resolved (call kiln_gemm_resolve)", name);
    if (strlen(name) > 200) return kiln_error(KILN_ERR_INVALID, "kiln_gemm_emit: name longer than 200 characters");
    if (LLVMGetNamedFunction(ir->mod, name))
        return kiln_error(KILN_ERR_INVALID, "kiln_gemm_emit: the module already has a function '%s'", name);

    gemm_gen g = {.ir = ir, .d = d, .name = name, .w = kiln_llvm_target_f32_lanes(ir->target)};
    g.mr = d->mr;
    g.nv = d->nr_vectors;
    g.nr = g.nv * g.w;
    size_t a_bytes = (size_t)d->mc * (size_t)d->kc * 4;
    g.b_offset = (int64_t)((a_bytes + 4095) / 4096 * 4096);

    /* A is K-contiguous unless transposed; B is K-contiguous when transposed (NT). */
    LLVMValueRef pack_a = gemm_emit_pack(&g, "a", g.mr, !d->trans_a);
    LLVMValueRef pack_b = gemm_emit_pack(&g, "b", g.nr, d->trans_b);
    LLVMValueRef uk = gemm_emit_microkernel(&g);
    LLVMValueRef task = gemm_emit_blocked_task(&g, pack_a, pack_b, uk);
    LLVMValueRef gemv = gemm_has_small_m_path(d) ? gemm_emit_gemv_task(&g) : NULL;
    LLVMValueRef shared_pack = gemm_emit_shared_pack_task(&g, pack_b);
    LLVMValueRef shared_compute = gemm_emit_shared_compute_task(&g, pack_a, uk);

    LLVMTypeRef params[2] = {ir->ptr, ir->ptr};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 2, 0);
    LLVMValueRef args = LLVMGetParam(fn, 0), rt = LLVMGetParam(fn, 1);
    LLVMValueRef ctx = LLVMBuildArrayAlloca(ir->b, ir->i64, kiln_ir_i64c(ir, CTX_SLOTS), "ctx");
    LLVMSetAlignment(ctx, 8);
    LLVMValueRef M = ARG(m, ir->i64), N = ARG(n, ir->i64), batch = ARG(batch, ir->i64);
    LLVMValueRef zero = kiln_ir_i64c(ir, 0);
    LLVMValueRef empty = LLVMBuildOr(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLE, M, zero, ""),
                                     LLVMBuildOr(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLE, N, zero, ""),
                                                 LLVMBuildICmp(ir->b, LLVMIntSLE, batch, zero, ""), ""),
                                     "empty");
    kiln_ir_if e;
    kiln_ir_if_begin(ir, &e, empty, "nothing");
    LLVMBuildRetVoid(ir->b);
    kiln_ir_if_end(ir, &e);
    store_slot(ir, ctx, CTX_ARGS, args);
    store_slot(ir, ctx, CTX_RT, rt);

    if (gemv) {
        kiln_ir_if s;
        LLVMValueRef few_rows = LLVMBuildICmp(ir->b, LLVMIntSLE, M, kiln_ir_i64c(ir, d->small_m), "");
        LLVMValueRef small_a = LLVMBuildICmp(ir->b, LLVMIntSLE, LLVMBuildMul(ir->b, M, ARG(k, ir->i64), ""),
                                             kiln_ir_i64c(ir, d->small_mk), "");
        kiln_ir_if_begin(ir, &s, LLVMBuildOr(ir->b, few_rows, small_a, ""), "small_m");
        LLVMValueRef nbn = ceil_div(ir, N, kiln_ir_i64c(ir, gemm_gemv_block_cols(&g)));
        store_slot(ir, ctx, CTX_NBN, nbn);
        kiln_ir_rt_parallel_for(ir, rt, LLVMBuildMul(ir->b, batch, nbn, ""), gemv, ctx);
        LLVMBuildRetVoid(ir->b);
        kiln_ir_if_end(ir, &s);
    }

    LLVMValueRef K = ARG(k, ir->i64);
    LLVMValueRef threads = kiln_ir_max_i64(ir, kiln_ir_rt_n_threads(ir, rt), kiln_ir_i64c(ir, 1));
    /* Balanced K blocks: ceil(K / kc) of them, equally deep (a multiple of 16). */
    LLVMValueRef nkb = kiln_ir_max_i64(ir, ceil_div(ir, K, kiln_ir_i64c(ir, d->kc)), kiln_ir_i64c(ir, 1));
    LLVMValueRef kc_blk = kiln_ir_min_i64(ir, round_up(ir, ceil_div(ir, K, nkb), 16), kiln_ir_i64c(ir, d->kc));
    kc_blk = kiln_ir_max_i64(ir, kc_blk, kiln_ir_i64c(ir, 1));

    /* Large products: pack each B block once, shared by all threads. */
    kiln_ir_if big;
    kiln_ir_if_begin(ir, &big, LLVMBuildICmp(ir->b, LLVMIntSGT, M, kiln_ir_i64c(ir, d->mc), ""), "shared_b");
    {
        LLVMValueRef mrc = kiln_ir_i64c(ir, g.mr);
        LLVMValueRef panels = ceil_div(ir, M, mrc);
        LLVMValueRef per_task = kiln_ir_i64c(ir, d->mc / g.mr);
        LLVMValueRef tasks =
            LLVMBuildMul(ir->b, threads, ceil_div(ir, panels, LLVMBuildMul(ir->b, threads, per_task, "")), "tasks");
        LLVMValueRef nbn = ceil_div(ir, N, kiln_ir_i64c(ir, d->nc_shared));
        LLVMValueRef nc = round_up(ir, ceil_div(ir, N, nbn), g.nr);
        LLVMValueRef accumulate = LLVMBuildICmp(ir->b, LLVMIntNE, ARG(accumulate, ir->i64), zero, "");
        store_slot(ir, ctx, CTX_TASKS, tasks);
        store_slot(ir, ctx, CTX_PANELS, panels);
        kiln_ir_loop bl, jl, kl;
        kiln_ir_loop_begin(ir, &bl, zero, batch, kiln_ir_i64c(ir, 1), "batch");
        store_slot(ir, ctx, CTX_BI, bl.index);
        kiln_ir_loop_begin(ir, &jl, zero, N, nc, "nblock");
        LLVMValueRef ncur = kiln_ir_min_i64(ir, nc, LLVMBuildSub(ir->b, N, jl.index, ""));
        store_slot(ir, ctx, CTX_JC, jl.index);
        store_slot(ir, ctx, CTX_NCUR, ncur);
        kiln_ir_loop_begin(ir, &kl, zero, nkb, kiln_ir_i64c(ir, 1), "kblock");
        {
            LLVMValueRef pc = LLVMBuildMul(ir->b, kl.index, kc_blk, "pc");
            LLVMValueRef kc = kiln_ir_max_i64(ir, kiln_ir_min_i64(ir, kc_blk, LLVMBuildSub(ir->b, K, pc, "")), zero);
            LLVMValueRef add_c =
                LLVMBuildOr(ir->b, LLVMBuildICmp(ir->b, LLVMIntSGT, kl.index, zero, ""), accumulate, "");
            LLVMValueRef last =
                LLVMBuildICmp(ir->b, LLVMIntEQ, kl.index, LLVMBuildSub(ir->b, nkb, kiln_ir_i64c(ir, 1), ""), "");
            LLVMValueRef flags = LLVMBuildOr(
                ir->b, LLVMBuildZExt(ir->b, add_c, ir->i64, ""),
                LLVMBuildShl(ir->b, LLVMBuildZExt(ir->b, last, ir->i64, ""), kiln_ir_i64c(ir, 1), ""), "flags");
            store_slot(ir, ctx, CTX_PC, pc);
            store_slot(ir, ctx, CTX_KC, kc);
            store_slot(ir, ctx, CTX_FLAGS, flags);
            kiln_ir_rt_parallel_for(ir, rt, ceil_div(ir, ncur, kiln_ir_i64c(ir, g.nr)), shared_pack, ctx);
            kiln_ir_rt_parallel_for(ir, rt, tasks, shared_compute, ctx);
        }
        kiln_ir_loop_end(ir, &kl);
        kiln_ir_loop_end(ir, &jl);
        kiln_ir_loop_end(ir, &bl);
        LLVMBuildRetVoid(ir->b);
    }
    kiln_ir_if_end(ir, &big);

    /* Otherwise independent (batch, M block, N block) tasks: balanced M
     * blocks (no sliver at the end), then enough N blocks that every thread
     * has work. */
    store_slot(ir, ctx, CTX_KC, kc_blk);
    LLVMValueRef mb0 = ceil_div(ir, M, kiln_ir_i64c(ir, d->mc));
    LLVMValueRef mc = round_up(ir, ceil_div(ir, M, mb0), g.mr);
    LLVMValueRef mb = ceil_div(ir, M, mc);
    LLVMValueRef nsplit = ceil_div(ir, threads, LLVMBuildMul(ir->b, batch, mb, ""));
    LLVMValueRef nb0 = kiln_ir_max_i64(ir, ceil_div(ir, N, kiln_ir_i64c(ir, d->nc)), nsplit);
    LLVMValueRef nc = kiln_ir_min_i64(ir, round_up(ir, ceil_div(ir, N, nb0), g.nr), kiln_ir_i64c(ir, d->nc));
    LLVMValueRef nbn = ceil_div(ir, N, nc);
    store_slot(ir, ctx, CTX_MC, mc);
    store_slot(ir, ctx, CTX_NC, nc);
    store_slot(ir, ctx, CTX_MB, mb);
    store_slot(ir, ctx, CTX_NBN, nbn);
    LLVMValueRef n_tasks = LLVMBuildMul(ir->b, LLVMBuildMul(ir->b, batch, mb, ""), nbn, "n_tasks");
    kiln_ir_rt_parallel_for(ir, rt, n_tasks, task, ctx);
    LLVMBuildRetVoid(ir->b);
    if (entry) *entry = fn;
    return KILN_OK;
}
