/* Helpers for the reference-interpreter tests: make small tensors, run one
 * op on them through a real graph, compare results with a tolerance. */
#ifndef KILN_TEST_REF_UTIL_H
#define KILN_TEST_REF_UTIL_H

#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/ref.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})

/* An owned tensor holding vals (converted to dtype). */
static inline kiln_tensor make_tensor(kiln_dtype dt, int rank, const int64_t *shape, const double *vals) {
    kiln_tensor t;
    kiln_status s = kiln_tensor_alloc(&t, dt, rank, shape);
    if (s) {
        fprintf(stderr, "make_tensor: %s\n", kiln_status_message(s));
        kiln_status_free(s);
        exit(1);
    }
    size_t n = (size_t)kiln_tensor_numel(&t);
    for (size_t i = 0; vals && i < n; i++) kiln_store_f64(t.data, dt, i, vals[i]);
    return t;
}

/* An owned i64/i32/.. tensor holding exact integers. */
static inline kiln_tensor make_ints(kiln_dtype dt, int rank, const int64_t *shape, const int64_t *vals) {
    kiln_tensor t = make_tensor(dt, rank, shape, NULL);
    size_t n = (size_t)kiln_tensor_numel(&t);
    for (size_t i = 0; i < n; i++) kiln_store_i64(t.data, dt, i, vals[i]);
    return t;
}

static inline double at(const kiln_tensor *t, size_t i) { return kiln_load_f64(t->data, t->dtype, i); }
static inline int64_t iat(const kiln_tensor *t, size_t i) { return kiln_load_i64(t->data, t->dtype, i); }

/* Runs op on the given tensors (NULL = omitted optional input) through a
 * one-node graph with the inputs as graph INPUTs, like real use. The graph
 * is verified first unless `verify` is 0. */
static inline kiln_status op_eval_v(kiln_op op, int nin, const kiln_tensor *const *ins, int nattrs,
                                    const kiln_named_attr *attrs, kiln_tensor *out, int verify) {
    memset(out, 0, sizeof *out);
    kiln_graph *g = kiln_graph_new(kiln_op_name(op));
    kiln_tensor_map *feed = kiln_tensor_map_new(), *res = NULL;
    kiln_value vals[16], y;
    kiln_status s = KILN_OK;
    for (int i = 0; i < nin && !s; i++) {
        vals[i] = KILN_NONE;
        if (!ins[i]) continue;
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        kiln_shape sh = {ins[i]->rank, {0}};
        for (int d = 0; d < sh.rank; d++) sh.dims[d] = ins[i]->shape[d];
        s = kiln_graph_add_input(g, name, ins[i]->dtype, &sh, &vals[i]);
        if (!s) s = kiln_tensor_map_put(feed, name, kiln_tensor_view(ins[i]->dtype, ins[i]->rank, ins[i]->shape, ins[i]->data));
    }
    if (!s) s = kiln_build(g, op, nin, vals, nattrs, attrs, &y);
    if (!s) s = kiln_graph_add_output(g, "y", y);
    if (!s && verify) s = kiln_graph_verify(g);
    if (!s) s = kiln_ref_run(g, NULL, feed, &res);
    if (!s) {
        const kiln_tensor *r = kiln_tensor_map_get(res, "y");
        if (!r) s = kiln_error(KILN_ERR_INTERNAL, "no output 'y'");
        else s = kiln_tensor_convert(r, r->dtype, out);
    }
    kiln_tensor_map_free(res);
    kiln_tensor_map_free(feed);
    kiln_graph_free(g);
    return s;
}

static inline kiln_status op_eval(kiln_op op, int nin, const kiln_tensor *const *ins, int nattrs,
                                  const kiln_named_attr *attrs, kiln_tensor *out) {
    return op_eval_v(op, nin, ins, nattrs, attrs, out, 1);
}

/* Checks shape and values; NaN matches NaN. Returns 1 when all agree. */
static inline int check_tensor_(const kiln_tensor *t, int rank, const int64_t *shape, const double *want, double tol,
                                const char *file, int line) {
    int ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char buf[256];
        fprintf(stderr, "%s:%d: result shape is %s\n", file, line, kiln_tensor_shape_str(t, buf, sizeof buf));
        test_failures++;
        return 0;
    }
    size_t n = (size_t)kiln_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        double got = at(t, i), w = want[i];
        int good = (got != got && w != w) || got == w || fabs(got - w) <= tol * (1.0 + fabs(w));
        if (!good) {
            fprintf(stderr, "%s:%d: element %zu is %.9g, expected %.9g (tol %g)\n", file, line, i, got, w, tol);
            test_failures++;
            return 0;
        }
    }
    return 1;
}
#define CHECK_TENSOR(t, rank, shape, want, tol) check_tensor_((t), (rank), (shape), (want), (tol), __FILE__, __LINE__)

#endif
