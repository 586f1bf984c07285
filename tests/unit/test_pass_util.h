/* Helpers for the pass, fusion, kernel and plan tests: random feeds for a
 * graph's inputs and parameters, running the reference interpreter, and
 * comparing output maps with a tolerance. */
#ifndef KILN_TEST_PASS_UTIL_H
#define KILN_TEST_PASS_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "kiln/ref.h"

/* Deterministic generator (xorshift64*), so failures reproduce. */
static inline uint64_t tp_next(uint64_t *st) {
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 2685821657736338717ull;
}
static inline double tp_uniform(uint64_t *st) { return (double)(tp_next(st) >> 11) / 9007199254740992.0 * 2.0 - 1.0; }

/* Symbol values by name: {"seq", 5}, terminated by a NULL name. */
typedef struct tp_sym {
    const char *name;
    int64_t value;
} tp_sym;

static inline int64_t tp_sym_value(const kiln_graph *g, const tp_sym *syms, int id) {
    const char *name = kiln_graph_symbol_name(g, id);
    for (int i = 0; syms && syms[i].name; i++)
        if (strcmp(syms[i].name, name) == 0) return syms[i].value;
    return 1;
}

/* A tensor of node n's type with random data: floats in [-1, 1), ints in
 * [0, int_hi), bools at random. Returns an owned tensor. */
static inline kiln_tensor tp_random_for(const kiln_graph *g, const kiln_node *n, const tp_sym *syms, int64_t int_hi,
                                        uint64_t *st) {
    int64_t symvals[64], shape[KILN_MAX_RANK];
    for (int i = 0; i < kiln_graph_symbol_count(g) && i < 64; i++) symvals[i] = tp_sym_value(g, syms, i);
    kiln_status s = kiln_shape_eval(g, &n->shape, symvals, shape);
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    if (!s) s = kiln_tensor_alloc(&t, n->dtype, n->shape.rank, shape);
    if (s) {
        fprintf(stderr, "tp_random_for: %s\n", kiln_status_message(s));
        exit(1);
    }
    size_t count = (size_t)kiln_tensor_numel(&t);
    for (size_t i = 0; i < count; i++) {
        if (n->dtype == KILN_BOOL) ((uint8_t *)t.data)[i] = (uint8_t)(tp_next(st) & 1);
        else if (kiln_dtype_is_float(n->dtype)) kiln_store_f64(t.data, n->dtype, i, tp_uniform(st));
        else kiln_store_i64(t.data, n->dtype, i, (int64_t)(tp_next(st) % (uint64_t)(int_hi > 0 ? int_hi : 1)));
    }
    return t;
}

/* Random data for every INPUT (into *inputs) and PARAM (into *weights). */
static inline void tp_feed(const kiln_graph *g, const tp_sym *syms, int64_t int_hi, uint64_t seed,
                           kiln_tensor_map **weights, kiln_tensor_map **inputs) {
    uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
    *weights = kiln_tensor_map_new();
    *inputs = kiln_tensor_map_new();
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_INPUT && n->op != KILN_OP_PARAM) continue;
        kiln_tensor t = tp_random_for(g, n, syms, int_hi, &st);
        kiln_status s = kiln_tensor_map_put(n->op == KILN_OP_INPUT ? *inputs : *weights, n->name, t);
        if (s) {
            fprintf(stderr, "tp_feed: %s\n", kiln_status_message(s));
            exit(1);
        }
    }
}

/* Every output of `got` matches `want` in type and shape, and each element
 * satisfies |got - want| <= atol + rtol * |want| (NaN matches NaN, equal
 * infinities match). Reports the first mismatch under `what`. */
static inline int tp_maps_close(const kiln_tensor_map *want, const kiln_tensor_map *got, double rtol, double atol,
                                const char *what) {
    if (kiln_tensor_map_count(want) != kiln_tensor_map_count(got)) {
        fprintf(stderr, "%s: %d outputs, expected %d\n", what, kiln_tensor_map_count(got), kiln_tensor_map_count(want));
        return 0;
    }
    for (int i = 0; i < kiln_tensor_map_count(want); i++) {
        const char *name = kiln_tensor_map_name(want, i);
        const kiln_tensor *w = kiln_tensor_map_at(want, i), *g = kiln_tensor_map_get(got, name);
        char s1[128], s2[128];
        if (!g || g->dtype != w->dtype || g->rank != w->rank || kiln_tensor_numel(g) != kiln_tensor_numel(w)) {
            fprintf(stderr, "%s: output '%s' is %s %s, expected %s %s\n", what, name, g ? kiln_dtype_name(g->dtype) : "missing",
                    g ? kiln_tensor_shape_str(g, s1, sizeof s1) : "", kiln_dtype_name(w->dtype),
                    kiln_tensor_shape_str(w, s2, sizeof s2));
            return 0;
        }
        for (int d = 0; d < w->rank; d++)
            if (g->shape[d] != w->shape[d]) {
                fprintf(stderr, "%s: output '%s' has shape %s, expected %s\n", what, name,
                        kiln_tensor_shape_str(g, s1, sizeof s1), kiln_tensor_shape_str(w, s2, sizeof s2));
                return 0;
            }
        size_t n = (size_t)kiln_tensor_numel(w);
        for (size_t k = 0; k < n; k++) {
            double a = kiln_load_f64(g->data, g->dtype, k), b = kiln_load_f64(w->data, w->dtype, k);
            if (!kiln_dtype_is_float(w->dtype)) {
                a = (double)kiln_load_i64(g->data, g->dtype, k);
                b = (double)kiln_load_i64(w->data, w->dtype, k);
            }
            int ok = (a != a && b != b) || a == b || fabs(a - b) <= atol + rtol * fabs(b);
            if (!ok) {
                fprintf(stderr, "%s: output '%s' element %zu is %.9g, expected %.9g\n", what, name, k, a, b);
                return 0;
            }
        }
    }
    return 1;
}

/* Runs g on the reference interpreter; NULL (with the error reported) on failure. */
static inline kiln_tensor_map *tp_ref(const kiln_graph *g, const kiln_tensor_map *w, const kiln_tensor_map *in) {
    kiln_tensor_map *out = NULL;
    kiln_status s = kiln_ref_run(g, w, in, &out);
    if (s) {
        fprintf(stderr, "reference run of '%s' failed: %s\n", kiln_graph_name(g), kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return NULL;
    }
    return out;
}

/* Nodes of op in g. */
static inline int tp_count_op(const kiln_graph *g, kiln_op op) {
    int k = 0;
    for (int v = 0; v < kiln_graph_node_count(g); v++) k += kiln_graph_node(g, v)->op == op;
    return k;
}

/* Builds a node, failing the test program at once on error (tests only). */
static inline kiln_value tp_node(kiln_graph *g, kiln_op op, int nin, const kiln_value *ins, int na,
                                 const kiln_named_attr *a) {
    kiln_value v = KILN_NONE;
    kiln_status s = kiln_build(g, op, nin, ins, na, a, &v);
    if (s) {
        fprintf(stderr, "building %s: %s\n", kiln_op_name(op), kiln_status_message(s));
        exit(1);
    }
    return v;
}
#define TP1(g, op, x) tp_node((g), (op), 1, (kiln_value[]){x}, 0, NULL)
#define TP2(g, op, x, y) tp_node((g), (op), 2, (kiln_value[]){x, y}, 0, NULL)

static inline kiln_value tp_input(kiln_graph *g, const char *name, kiln_dtype t, int rank, const kiln_dim *dims) {
    kiln_shape s = {rank, {0}};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    kiln_value v = KILN_NONE;
    kiln_status st = kiln_graph_add_input(g, name, t, &s, &v);
    if (st) {
        fprintf(stderr, "input %s: %s\n", name, kiln_status_message(st));
        exit(1);
    }
    return v;
}

static inline kiln_value tp_param(kiln_graph *g, const char *name, kiln_dtype t, int rank, const kiln_dim *dims) {
    kiln_shape s = {rank, {0}};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    kiln_value v = KILN_NONE;
    kiln_status st = kiln_graph_add_param(g, name, t, &s, &v);
    if (st) {
        fprintf(stderr, "param %s: %s\n", name, kiln_status_message(st));
        exit(1);
    }
    return v;
}

static inline kiln_value tp_scalar(kiln_graph *g, kiln_dtype t, double v) {
    kiln_value out = KILN_NONE;
    kiln_status s = kiln_graph_add_scalar(g, t, v, &out);
    if (s) exit(1);
    return out;
}

#define DIMS(...) ((const kiln_dim[]){__VA_ARGS__})

#endif
