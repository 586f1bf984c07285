/* The host-services table JIT'd kernels receive (kiln_jit_rt): the host side
 * fills it, the IR side reads it. Going through this table instead of named
 * host symbols keeps kernels free of relocations against the process, so the
 * same object file runs anywhere. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "llvm_internal.h"

kiln_status kiln_jit_rt_init(kiln_jit_rt *rt, kiln_threadpool *pool, size_t per_thread, size_t shared_bytes) {
    if (!rt) return kiln_error(KILN_ERR_INVALID, "kiln_jit_rt_init: NULL rt");
    memset(rt, 0, sizeof *rt);
    rt->parallel_for = kiln_threadpool_parallel_for_untyped;
    rt->pool = pool;
    rt->n_threads = kiln_threadpool_size(pool);
    if (per_thread) {
        /* Whole pages per thread: no false sharing, and aligned panels. */
        size_t page = 4096;
        if (per_thread > SIZE_MAX / 2) return kiln_error(KILN_ERR_LIMIT, "kernel scratch of %zu bytes", per_thread);
        per_thread = (per_thread + page - 1) / page * page;
        size_t total = per_thread * (size_t)rt->n_threads;
        rt->scratch = aligned_alloc(page, total);
        if (!rt->scratch)
            return kiln_error(KILN_ERR_NOMEM, "out of memory allocating %zu bytes of kernel scratch", total);
        rt->scratch_per_thread = (int64_t)per_thread;
    }
    if (shared_bytes) {
        if (shared_bytes > SIZE_MAX / 2) {
            kiln_jit_rt_release(rt);
            return kiln_error(KILN_ERR_LIMIT, "kernel shared scratch of %zu bytes", shared_bytes);
        }
        size_t total = (shared_bytes + 4095) / 4096 * 4096;
        rt->shared = aligned_alloc(4096, total);
        if (!rt->shared) {
            kiln_jit_rt_release(rt);
            return kiln_error(KILN_ERR_NOMEM, "out of memory allocating %zu bytes of shared kernel scratch", total);
        }
        rt->shared_bytes = (int64_t)total;
    }
    return KILN_OK;
}

void kiln_jit_rt_release(kiln_jit_rt *rt) {
    if (!rt) return;
    free(rt->scratch);
    free(rt->shared);
    rt->scratch = rt->shared = NULL;
    rt->scratch_per_thread = rt->shared_bytes = 0;
}

LLVMTypeRef kiln_ir_task_fn_t(kiln_ir *ir) {
    LLVMTypeRef params[3] = {ir->ptr, ir->i64, ir->i32};
    return LLVMFunctionType(ir->void_t, params, 3, 0);
}

void kiln_ir_rt_parallel_for(kiln_ir *ir, LLVMValueRef rt, LLVMValueRef n_tasks, LLVMValueRef task_fn,
                             LLVMValueRef ctx) {
    LLVMValueRef fn = kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, parallel_for), ir->ptr, "parallel_for");
    LLVMValueRef pool = kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, pool), ir->ptr, "pool");
    LLVMTypeRef params[4] = {ir->ptr, ir->i64, ir->ptr, ir->ptr};
    LLVMTypeRef ft = LLVMFunctionType(ir->void_t, params, 4, 0);
    LLVMValueRef args[4] = {pool, n_tasks, task_fn, ctx};
    LLVMBuildCall2(ir->b, ft, fn, args, 4, "");
}

LLVMValueRef kiln_ir_rt_n_threads(kiln_ir *ir, LLVMValueRef rt) {
    return kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, n_threads), ir->i64, "n_threads");
}

LLVMValueRef kiln_ir_rt_scratch(kiln_ir *ir, LLVMValueRef rt, LLVMValueRef thread) {
    LLVMValueRef base = kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, scratch), ir->ptr, "scratch");
    LLVMValueRef per = kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, scratch_per_thread), ir->i64, "per_thread");
    LLVMValueRef t64 = LLVMBuildSExt(ir->b, thread, ir->i64, "");
    LLVMValueRef off = LLVMBuildMul(ir->b, t64, per, "");
    return LLVMBuildInBoundsGEP2(ir->b, ir->i8, base, &off, 1, "my_scratch");
}

LLVMValueRef kiln_ir_rt_shared(kiln_ir *ir, LLVMValueRef rt) {
    return kiln_ir_load_field(ir, rt, offsetof(kiln_jit_rt, shared), ir->ptr, "shared");
}
