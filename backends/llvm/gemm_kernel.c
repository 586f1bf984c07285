/* Compile-once, run-many GEMM kernels: emit, verify, optimize, JIT, and keep
 * the packing scratch between calls so a decode loop does not page-fault
 * fresh buffers every step. */
#include <pthread.h>
#include <stdlib.h>

#include "gemm_internal.h"

struct kiln_gemm_kernel {
    kiln_gemm_desc desc; /* resolved */
    kiln_llvm_jit *jit;
    kiln_gemm_entry_fn entry;
    size_t scratch_bytes, shared_bytes;
    pthread_mutex_t lock; /* guards rt (its scratch) */
    kiln_jit_rt rt;
    int have_rt;
};

static const char ENTRY_NAME[] = "kiln_gemm";

kiln_status kiln_gemm_compile(const kiln_llvm_target *t, const kiln_gemm_desc *d, kiln_gemm_kernel **out) {
    if (!t || !d || !out) return kiln_error(KILN_ERR_INVALID, "kiln_gemm_compile: NULL argument");
    *out = NULL;
    kiln_gemm_kernel *k = calloc(1, sizeof *k);
    if (!k) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&k->lock, NULL);
    kiln_llvm_module *m = NULL;
    kiln_status s = kiln_gemm_resolve(t, d, &k->desc);
    if (!s) s = kiln_llvm_module_create(t, "kiln_gemm", &m);
    if (!s) {
        kiln_ir ir;
        kiln_ir_init(&ir, m, t);
        s = kiln_gemm_emit(&ir, &k->desc, ENTRY_NAME, NULL);
    }
    if (!s) s = kiln_llvm_module_verify(m);
    if (!s) s = kiln_llvm_module_optimize(m, t, NULL);
    if (!s) s = kiln_llvm_jit_create(t, &k->jit);
    if (!s) s = kiln_llvm_jit_add_module(k->jit, m);
    void *addr = NULL;
    if (!s) s = kiln_llvm_jit_lookup(k->jit, ENTRY_NAME, &addr);
    kiln_llvm_module_free(m);
    if (s) {
        kiln_gemm_kernel_free(k);
        return kiln_error_wrap(s, "compiling a GEMM kernel");
    }
    k->entry = (kiln_gemm_entry_fn)addr;
    k->scratch_bytes = kiln_gemm_scratch_bytes(t, &k->desc);
    k->shared_bytes = kiln_gemm_shared_bytes(t, &k->desc);
    *out = k;
    return KILN_OK;
}

kiln_status kiln_gemm_run(kiln_gemm_kernel *k, const kiln_gemm_args *args, kiln_threadpool *pool) {
    if (!k) return kiln_error(KILN_ERR_INVALID, "kiln_gemm_run: no kernel");
    KILN_TRY(kiln_gemm_check_args(&k->desc, args));
    if (args->m == 0 || args->n == 0 || args->batch == 0) return KILN_OK;
    /* The cached scratch serves one call at a time; a concurrent caller gets its own. */
    if (pthread_mutex_trylock(&k->lock) == 0) {
        kiln_status s = KILN_OK;
        if (!k->have_rt || k->rt.pool != (void *)pool) {
            if (k->have_rt) kiln_jit_rt_release(&k->rt);
            k->have_rt = 0;
            s = kiln_jit_rt_init(&k->rt, pool, k->scratch_bytes, k->shared_bytes);
            k->have_rt = !s;
        }
        if (!s) k->entry(args, &k->rt);
        pthread_mutex_unlock(&k->lock);
        return s;
    }
    kiln_jit_rt rt;
    KILN_TRY(kiln_jit_rt_init(&rt, pool, k->scratch_bytes, k->shared_bytes));
    k->entry(args, &rt);
    kiln_jit_rt_release(&rt);
    return KILN_OK;
}

const kiln_gemm_desc *kiln_gemm_kernel_desc(const kiln_gemm_kernel *k) { return k ? &k->desc : NULL; }

void kiln_gemm_kernel_free(kiln_gemm_kernel *k) {
    if (!k) return;
    if (k->have_rt) kiln_jit_rt_release(&k->rt);
    kiln_llvm_jit_free(k->jit);
    pthread_mutex_destroy(&k->lock);
    free(k);
}
