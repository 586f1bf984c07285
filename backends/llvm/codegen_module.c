/* One LLVM module per plan: every distinct kernel emitted once (the layers
 * of a transformer repeat the same kernels on other tensors, and a kernel's
 * code depends only on its expressions, dims and template, never on which
 * tensors are bound to its slots), verified, optimized with default<O3>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen_internal.h"
#include "cpu_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- what codegen reads, as bytes ---- */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *v, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void put_i(bytes *b, int64_t v) { put(b, &v, sizeof v); }
static void put_f(bytes *b, double v) { put(b, &v, sizeof v); }

static void code_bytes(const kiln_kernel *k, bytes *b) {
    put_i(b, k->kind);
    put_i(b, k->nbufs);
    for (int i = 0; i < k->nbufs; i++) {
        put_i(b, k->bufs[i].dtype);
        put_i(b, k->bufs[i].access);
    }
    put_i(b, k->ndims);
    for (int i = 0; i < k->ndims; i++) put_i(b, kiln_dim_is_const(k->dims[i]) ? k->dims[i] : INT64_MIN + 1);
    put_i(b, k->nexprs);
    for (int i = 0; i < k->nexprs; i++) {
        const kiln_kexpr *x = &k->exprs[i];
        int64_t f[7] = {x->kind, x->type, x->op, x->a, x->b, x->c, x->slot};
        put(b, f, sizeof f);
        put_f(b, x->f);
        put_i(b, x->i);
    }
    put_i(b, k->nviews);
    for (int v = 0; v < k->nviews; v++) {
        const kiln_kview *w = &k->views[v];
        put_i(b, w->rank);
        put_i(b, w->expr);
        put_i(b, w->strided);
        put_i(b, w->buf);
        put_i(b, w->offset);
        put_i(b, w->qtype);
        put_i(b, w->qcols);
        for (int i = 0; i < w->rank; i++) {
            put_i(b, w->extent[i]);
            put_i(b, w->stride[i]);
        }
    }
    int64_t f[10] = {k->out_buf, k->out_rank, k->out_expr, k->value_type, k->reduce, k->row, k->axis, k->causal,
                     k->scale_dim, k->mask};
    put(b, f, sizeof f);
    for (int i = 0; i < k->out_rank; i++) put_i(b, k->out_extent[i]);
    put_f(b, k->eps);
    put_f(b, k->scale);
}

uint64_t cpu_kernel_fingerprint(const kiln_kernel *k) {
    bytes b = {0};
    code_bytes(k, &b);
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < b.n; i++) h = (h ^ b.p[i]) * UINT64_C(1099511628211);
    if (b.oom) h = 0;
    free(b.p);
    return h;
}

int cpu_kernel_same_code(const kiln_kernel *a, const kiln_kernel *b) {
    bytes x = {0}, y = {0};
    code_bytes(a, &x);
    code_bytes(b, &y);
    int same = !x.oom && !y.oom && x.n == y.n && memcmp(x.p, y.p, x.n) == 0;
    free(x.p);
    free(y.p);
    return same;
}

void cpu_symbol(char *buf, size_t cap, int code, const char *suffix) {
    snprintf(buf, cap, "kiln_c%d%s", code, suffix ? suffix : "");
}

kiln_status cpu_program_layout(kiln_cpu_program *p) {
    int n = kiln_plan_kernel_count(p->plan);
    p->nkernels = n;
    p->ncode = 0;
    p->kernels = calloc((size_t)n + 1, sizeof *p->kernels);
    if (!p->kernels) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const kiln_kernel *k = kiln_plan_kernel(p->plan, i);
        cpu_kernel *ck = &p->kernels[i];
        KILN_TRY(kiln_error_wrap(kiln_kernel_validate(k), "kernel %d", i));
        ck->fingerprint = cpu_kernel_fingerprint(k);
        ck->code = -1;
        for (int j = 0; j < i && ck->code < 0; j++)
            if (p->kernels[j].fingerprint == ck->fingerprint && cpu_kernel_same_code(kiln_plan_kernel(p->plan, j), k))
                ck->code = p->kernels[j].code;
        if (ck->code < 0) ck->code = p->ncode++;
        if (k->kind == KILN_K_MATMUL && cg_matmul_gemm_ok(k)) {
            ck->gemm = 1;
            cpu_matmul_layout(k, &ck->mm);
            kiln_gemm_desc d = {.trans_a = ck->mm.trans_a, .trans_b = ck->mm.trans_b};
            KILN_TRY(kiln_gemm_resolve(p->target, &d, &ck->desc));
        }
    }
    p->timings.kernels = n;
    p->timings.unique = p->ncode;
    return KILN_OK;
}

static kiln_status emit_kernel(kiln_ir *ir, const kiln_kernel *k, int code, const cpu_kernel *ck) {
    char name[64];
    cpu_symbol(name, sizeof name, code, NULL);
    cg c;
    cg_init(&c, ir, k, name);
    if (!c.error) {
        switch (k->kind) {
        case KILN_K_POINTWISE: cg_emit_pointwise(&c, name); break;
        case KILN_K_REDUCE: cg_emit_reduce(&c, name); break;
        case KILN_K_ROW: cg_emit_row(&c, name); break;
        case KILN_K_ATTENTION: cg_emit_attention(&c, name); break;
        case KILN_K_MATMUL:
            if (ck->gemm) cg_fail(&c, cg_emit_matmul_gemm(&c, name, &ck->desc));
            else cg_emit_matmul_loop(&c, name);
            break;
        }
    }
    kiln_status s = c.error;
    c.error = NULL;
    cg_release(&c);
    return s ? kiln_error_wrap(s, "generating code for kernel '%s'", k->name) : KILN_OK;
}

kiln_status cpu_emit_module(kiln_cpu_program *p, kiln_llvm_module **out) {
    *out = NULL;
    kiln_llvm_module *m = NULL;
    double t0 = now();
    KILN_TRY(kiln_llvm_module_create(p->target, "kiln_plan", &m));
    kiln_ir ir;
    kiln_ir_init(&ir, m, p->target);
    kiln_status s = KILN_OK;
    for (int c = 0; c < p->ncode && !s; c++) {
        int i = 0;
        while (p->kernels[i].code != c) i++;
        s = emit_kernel(&ir, kiln_plan_kernel(p->plan, i), c, &p->kernels[i]);
    }
    if (!s && p->tune_cpu[0])
        for (LLVMValueRef f = LLVMGetFirstFunction(m->mod); f; f = LLVMGetNextFunction(f)) {
            if (LLVMIsDeclaration(f)) continue;
            LLVMAttributeRef a = LLVMCreateStringAttribute(m->ctx, "tune-cpu", 8, p->tune_cpu, (unsigned)strlen(p->tune_cpu));
            LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, a);
        }
    double t1 = now();
    if (!s) s = kiln_llvm_module_verify(m);
    if (!s) s = kiln_llvm_module_optimize(m, p->target, NULL);
    double t2 = now();
    p->timings.codegen += t1 - t0;
    p->timings.optimize += t2 - t1;
    if (s) {
        kiln_llvm_module_free(m);
        return s;
    }
    *out = m;
    return KILN_OK;
}

static kiln_status look(kiln_cpu_program *p, int code, const char *suffix, cpu_entry_fn *fn) {
    char name[64];
    cpu_symbol(name, sizeof name, code, suffix);
    void *addr = NULL;
    KILN_TRY(kiln_llvm_jit_lookup(p->jit, name, &addr));
    *fn = (cpu_entry_fn)addr;
    return KILN_OK;
}

kiln_status cpu_bind_symbols(kiln_cpu_program *p) {
    for (int i = 0; i < p->nkernels; i++) {
        cpu_kernel *ck = &p->kernels[i];
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (p->kernels[j].code == ck->code) {
                ck->entry = p->kernels[j].entry;
                ck->pack_a = p->kernels[j].pack_a;
                ck->pack_b = p->kernels[j].pack_b;
                ck->qmv = p->kernels[j].qmv;
                ck->qdeq = p->kernels[j].qdeq;
                first = 0;
            }
        if (!first) continue;
        if (ck->gemm) {
            KILN_TRY(look(p, ck->code, "_gemm", &ck->entry));
            KILN_TRY(look(p, ck->code, "_pack_a", &ck->pack_a));
            KILN_TRY(look(p, ck->code, "_pack_b", &ck->pack_b));
            if (ck->mm.quant) {
                KILN_TRY(look(p, ck->code, "_qmv", &ck->qmv));
                KILN_TRY(look(p, ck->code, "_qdeq", &ck->qdeq));
            }
        } else {
            KILN_TRY(look(p, ck->code, NULL, &ck->entry));
        }
    }
    return KILN_OK;
}

kiln_status cpu_emit_object(kiln_cpu_program *p, kiln_llvm_object *obj) {
    memset(obj, 0, sizeof *obj);
    kiln_llvm_module *m = NULL;
    kiln_status s = cpu_emit_module(p, &m);
    double t = now();
    if (!s) s = kiln_llvm_object_emit(p->target, m, obj);
    kiln_llvm_module_free(m);
    p->timings.jit = now() - t;
    return s;
}
