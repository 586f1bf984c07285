/* Running a graph on the CPU backend (fused, and one kernel per node) and
 * on the reference interpreter with the same random data, for several
 * symbol bindings. Only with KILN_WITH_LLVM. */
#ifndef KILN_TEST_CPU_UTIL_H
#define KILN_TEST_CPU_UTIL_H

#include "kiln/cpu.h"
#include "test_pass_util.h"

/* Compiles g for the CPU (no_fusion as given); NULL with the error counted. */
static inline kiln_cpu_program *tc_compile(const kiln_graph *g, int no_fusion, const char *what) {
    kiln_cpu_options o = {0};
    o.no_fusion = no_fusion;
    kiln_cpu_program *p = NULL;
    kiln_status s = kiln_cpu_compile(g, &o, &p);
    if (s) {
        fprintf(stderr, "%s: compiling for the cpu (%s): %s\n", what, no_fusion ? "unfused" : "fused",
                kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    }
    return p;
}

/* Runs p with the given feed; NULL with the error counted. */
static inline kiln_tensor_map *tc_run(kiln_cpu_program *p, const kiln_tensor_map *w, const kiln_tensor_map *in,
                                      const char *what) {
    kiln_cpu_exec *e = NULL;
    kiln_tensor_map *out = NULL;
    kiln_cpu_options o = {0};
    kiln_status s = kiln_cpu_exec_create(p, w, &o, &e);
    if (!s) s = kiln_cpu_exec_run(e, in, &out);
    kiln_cpu_exec_free(e);
    if (s) {
        fprintf(stderr, "%s: running on the cpu: %s\n", what, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    }
    return out;
}

/* Called on every random feed before it is used, when set. */
static void (*tc_fix_feed)(kiln_tensor_map *weights, kiln_tensor_map *inputs);

/* CPU vs reference for every binding (NULL-terminated list of tp_sym
 * lists), fused and unfused. Returns the fused kernel count, -1 on error. */
static inline int tc_cpu_vs_ref(const kiln_graph *g, const tp_sym *const *bindings, int64_t int_hi, double rtol,
                                double atol, const char *what) {
    int kernels = -1;
    for (int fuse = 1; fuse >= 0; fuse--) {
        kiln_cpu_program *p = tc_compile(g, !fuse, what);
        if (!p) return -1;
        for (int b = 0; bindings[b]; b++) {
            kiln_tensor_map *w, *in;
            tp_feed(g, bindings[b], int_hi, (uint64_t)(b + 11), &w, &in);
            if (tc_fix_feed) tc_fix_feed(w, in);
            kiln_tensor_map *want = tp_ref(g, w, in);
            kiln_tensor_map *got = tc_run(p, w, in, what);
            if (want && got && !tp_maps_close(want, got, rtol, atol, what)) {
                fprintf(stderr, "  (%s, binding %d)\n", fuse ? "fused" : "unfused", b);
                test_failures++;
            }
            kiln_tensor_map_free(want);
            kiln_tensor_map_free(got);
            kiln_tensor_map_free(w);
            kiln_tensor_map_free(in);
        }
        if (fuse) kernels = kiln_plan_kernel_count(kiln_cpu_program_plan(p));
        kiln_cpu_program_free(p);
    }
    return kernels;
}

#endif
