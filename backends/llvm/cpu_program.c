/* Programs: a graph compiled into a plan, its kernels emitted into one
 * module, optimized and JIT-compiled for the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* For another CPU the code uses the triple's baseline plus exactly the
 * features given, and is only tuned for the named CPU ("tune-cpu"): a CPU
 * name implies features the C API cannot list, and the feature list
 * recorded in a .kmod must be complete for the load-time check to be
 * sound. The host's feature list is complete. */
kiln_status cpu_target_for(const kiln_cpu_options *opt, kiln_llvm_target **out) {
    if (!(opt && opt->cpu && *opt->cpu)) return kiln_llvm_target_host(out);
    char *triple = LLVMGetDefaultTargetTriple();
    const char *base = strncmp(triple, "x86_64", 6) == 0 ? "x86-64" : "generic";
    LLVMDisposeMessage(triple);
    return kiln_llvm_target_create(NULL, base, opt->features ? opt->features : "", out);
}

kiln_status cpu_program_new(kiln_plan *plan, const kiln_cpu_options *opt, kiln_cpu_program **out) {
    *out = NULL;
    kiln_cpu_program *p = calloc(1, sizeof *p);
    if (!p) {
        kiln_plan_free(plan);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    p->plan = plan;
    if (opt && opt->cpu && *opt->cpu) snprintf(p->tune_cpu, sizeof p->tune_cpu, "%s", opt->cpu);
    kiln_status s = cpu_target_for(opt, &p->target);
    if (!s) s = cpu_program_layout(p);
    if (s) {
        kiln_cpu_program_free(p);
        return s;
    }
    *out = p;
    return KILN_OK;
}

void kiln_cpu_program_free(kiln_cpu_program *p) {
    if (!p) return;
    kiln_llvm_jit_free(p->jit);
    kiln_llvm_target_free(p->target);
    kiln_plan_free(p->plan);
    free(p->kernels);
    free(p);
}

const kiln_plan *kiln_cpu_program_plan(const kiln_cpu_program *p) { return p ? p->plan : NULL; }
const kiln_cpu_timings *kiln_cpu_program_timings(const kiln_cpu_program *p) { return p ? &p->timings : NULL; }

/* x * y, saturating at 2^62 */
static int64_t sat_mul(int64_t x, int64_t y) {
    const int64_t cap = (int64_t)1 << 62;
    return x && y > cap / x ? cap : x * y;
}

static int64_t extent_product(const kiln_kernel *k, int rank, const int32_t *ext) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n = sat_mul(n, k->dims[ext[i]]);
    return n;
}

/* A plan whose kernels all have constant extents and together do at most
 * QUICK_MAX_WORK element steps (outputs, reduced elements, multiply-adds):
 * optimized code would save less run time than optimizing costs. The ONNX
 * node tests are such graphs (the whole suite compiles about 5x faster). */
#define QUICK_MAX_WORK ((int64_t)1 << 20)

static int plan_is_tiny(const kiln_plan *plan) {
    int64_t work = 0;
    for (int i = 0; i < kiln_plan_kernel_count(plan); i++) {
        const kiln_kernel *k = kiln_plan_kernel(plan, i);
        for (int d = 0; d < k->ndims; d++)
            if (!kiln_dim_is_const(k->dims[d])) return 0;
        int64_t out = extent_product(k, k->out_rank, k->out_extent), w = out;
        if (k->kind == KILN_K_REDUCE) w = extent_product(k, k->views[0].rank, k->views[0].extent);
        else if (k->kind == KILN_K_ROW) w = sat_mul(out, 4);
        else if (k->kind == KILN_K_MATMUL) w = sat_mul(out, k->dims[k->views[KILN_KV_A].extent[k->views[KILN_KV_A].rank - 1]]);
        else if (k->kind == KILN_K_ATTENTION) /* q [B,H,S,D] against T keys, then T values per output */
            w = sat_mul(extent_product(k, 4, k->views[KILN_KV_Q].extent) + out, k->dims[k->views[KILN_KV_K].extent[2]]);
        work += w;
        if (work > QUICK_MAX_WORK) return 0;
    }
    return 1;
}

/* KILN_CPU_QUICK=1 compiles every graph the quick way, =0 none; unset:
 * tiny graphs only. */
static int quick_compile(const kiln_plan *plan) {
    const char *env = getenv("KILN_CPU_QUICK");
    if (env && *env) return strcmp(env, "0") != 0;
    return plan_is_tiny(plan);
}

kiln_status kiln_cpu_compile(const kiln_graph *g, const kiln_cpu_options *opt, kiln_cpu_program **out) {
    if (!g || !out) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_compile: NULL argument");
    *out = NULL;
    double t0 = now();
    kiln_plan_options po = {NULL, 0, opt ? opt->no_fusion : 0};
    kiln_plan *plan = NULL;
    KILN_TRY(kiln_plan_compile(g, &po, &plan));
    double t1 = now();
    /* the JIT runs here, so the code is for this machine whatever opt says */
    kiln_cpu_options host = {0};
    if (opt) host = *opt;
    host.cpu = host.features = NULL;
    kiln_cpu_program *p = NULL;
    KILN_TRY(cpu_program_new(plan, &host, &p));
    p->timings.plan = t1 - t0;
    p->target->quick = quick_compile(plan);
    kiln_llvm_module *m = NULL;
    kiln_status s = cpu_emit_module(p, &m);
    double t2 = now();
    if (!s) s = kiln_llvm_jit_create(p->target, &p->jit);
    if (!s) s = kiln_llvm_jit_add_module(p->jit, m);
    kiln_llvm_module_free(m);
    if (!s) s = cpu_bind_symbols(p); /* lookups make LLJIT generate the code */
    p->timings.jit = now() - t2;
    p->timings.total = now() - t0;
    if (s) {
        kiln_cpu_program_free(p);
        return kiln_error_wrap(s, "compiling graph '%s' for the CPU", kiln_graph_name(g));
    }
    *out = p;
    return KILN_OK;
}
