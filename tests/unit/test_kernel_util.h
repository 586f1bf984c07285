/* Running a graph through a plan (kernels + evaluator) and through the
 * reference interpreter on the same random data, for several symbol
 * bindings, fused and unfused. */
#ifndef KILN_TEST_KERNEL_UTIL_H
#define KILN_TEST_KERNEL_UTIL_H

#include "kiln/plan.h"
#include "test_pass_util.h"

/* Compares plan and reference outputs of g for each binding in `bindings`
 * (an array of tp_sym lists, NULL-terminated). Returns the fused plan's
 * kernel count (last binding), or -1 on failure. */
static inline int tp_plan_vs_ref(const kiln_graph *g, const tp_sym *const *bindings, int64_t int_hi, double rtol,
                                 double atol, const char *what) {
    int kernels = -1;
    for (int fuse = 0; fuse < 2; fuse++) {
        kiln_plan_options opt = {NULL, 0, !fuse};
        kiln_plan *p = NULL;
        kiln_status s = kiln_plan_compile(g, &opt, &p);
        if (s) {
            fprintf(stderr, "%s: compiling (%s): %s\n", what, fuse ? "fused" : "unfused", kiln_status_message(s));
            kiln_status_free(s);
            test_failures++;
            return -1;
        }
        for (int b = 0; bindings[b]; b++) {
            kiln_tensor_map *w, *in, *want, *got = NULL;
            tp_feed(g, bindings[b], int_hi, (uint64_t)(b + 11), &w, &in);
            want = tp_ref(g, w, in);
            s = kiln_plan_run(p, w, in, &got);
            if (s) {
                fprintf(stderr, "%s: running (%s, binding %d): %s\n", what, fuse ? "fused" : "unfused", b,
                        kiln_status_message(s));
                kiln_status_free(s);
                test_failures++;
            } else if (want && !tp_maps_close(want, got, rtol, atol, what)) {
                fprintf(stderr, "  (%s, binding %d)\n", fuse ? "fused" : "unfused", b);
                test_failures++;
            }
            kiln_tensor_map_free(want);
            kiln_tensor_map_free(got);
            kiln_tensor_map_free(w);
            kiln_tensor_map_free(in);
        }
        if (fuse) kernels = kiln_plan_kernel_count(p);
        kiln_plan_free(p);
    }
    return kernels;
}

/* Kernels of a plan of g with default options (or -1). */
static inline kiln_plan *tp_compile(const kiln_graph *g) {
    kiln_plan *p = NULL;
    kiln_status s = kiln_plan_compile(g, NULL, &p);
    if (s) {
        fprintf(stderr, "compiling '%s': %s\n", kiln_graph_name(g), kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    }
    return p;
}

#endif
