/* Helpers shared by the .kiln language tests (header-only). */
#ifndef KILN_TEST_LANG_UTIL_H
#define KILN_TEST_LANG_UTIL_H

#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/lang.h"
#include "kiln/ref.h"

/* Compile `src` as "t.kiln"; NULL (and a counted failure) on error. */
static inline kiln_graph *lang_ok_(const char *src, const kiln_lang_options *opt, const char *file, int line) {
    kiln_graph *g = NULL;
    kiln_status s = kiln_lang_compile(src, "t.kiln", opt, &g, NULL);
    if (s) {
        fprintf(stderr, "%s:%d: compile failed: %s\n", file, line, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return NULL;
    }
    return g;
}
#define LANG_OK(src, opt) lang_ok_((src), (opt), __FILE__, __LINE__)

/* Compiling must fail with a message containing `needle`. */
#define LANG_ERR(src, opt, needle)                                        \
    do {                                                                  \
        kiln_graph *g_ = NULL;                                            \
        CHECK_ERR(kiln_lang_compile((src), "t.kiln", (opt), &g_, NULL), (needle)); \
        kiln_graph_free(g_);                                              \
    } while (0)

/* A float32 tensor (owned) of the given shape and values. */
static inline kiln_tensor f32_tensor(int rank, const int64_t *shape, const float *v) {
    kiln_tensor t;
    if (kiln_tensor_alloc(&t, KILN_F32, rank, shape)) {
        memset(&t, 0, sizeof t);
        return t;
    }
    memcpy(t.data, v, sizeof(float) * (size_t)kiln_tensor_numel(&t));
    return t;
}

static inline kiln_tensor i64_tensor(int rank, const int64_t *shape, const int64_t *v) {
    kiln_tensor t;
    if (kiln_tensor_alloc(&t, KILN_I64, rank, shape)) {
        memset(&t, 0, sizeof t);
        return t;
    }
    memcpy(t.data, v, sizeof(int64_t) * (size_t)kiln_tensor_numel(&t));
    return t;
}

/* Output `name` of a run must have `n` elements equal to `want` within
 * tol (absolute; the test says why). */
static inline void check_values_(const kiln_tensor_map *out, const char *name, int n, const double *want, double tol,
                          const char *file, int line) {
    const kiln_tensor *t = out ? kiln_tensor_map_get(out, name) : NULL;
    if (!t) {
        fprintf(stderr, "%s:%d: no output '%s'\n", file, line, name);
        test_failures++;
        return;
    }
    if (kiln_tensor_numel(t) != n) {
        fprintf(stderr, "%s:%d: output '%s' has %lld elements, expected %d\n", file, line, name,
                (long long)kiln_tensor_numel(t), n);
        test_failures++;
        return;
    }
    for (int i = 0; i < n; i++) {
        double v = kiln_load_f64(t->data, t->dtype, (size_t)i);
        if (!(fabs(v - want[i]) <= tol)) {
            fprintf(stderr, "%s:%d: output '%s'[%d] = %.9g, expected %.9g\n", file, line, name, i, v, want[i]);
            test_failures++;
            return;
        }
    }
}
#define CHECK_VALUES(out, name, n, want, tol) check_values_((out), (name), (n), (want), (tol), __FILE__, __LINE__)

/* Runs g on the reference interpreter; NULL on failure (counted). */
static inline kiln_tensor_map *run_ref_(const kiln_graph *g, const kiln_tensor_map *w, const kiln_tensor_map *in,
                                 const char *file, int line) {
    kiln_tensor_map *out = NULL;
    kiln_status s = kiln_ref_run(g, w, in, &out);
    if (s) {
        fprintf(stderr, "%s:%d: run failed: %s\n", file, line, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return NULL;
    }
    return out;
}
#define RUN_REF(g, w, in) run_ref_((g), (w), (in), __FILE__, __LINE__)

/* The first node of op `op`, or NULL. */
static inline const kiln_node *find_op(const kiln_graph *g, kiln_op op) {
    for (int i = 0; g && i < kiln_graph_node_count(g); i++)
        if (kiln_graph_node(g, i)->op == op) return kiln_graph_node(g, i);
    return NULL;
}

static inline int count_op(const kiln_graph *g, kiln_op op) {
    int n = 0;
    for (int i = 0; g && i < kiln_graph_node_count(g); i++) n += kiln_graph_node(g, i)->op == op;
    return n;
}

#endif
