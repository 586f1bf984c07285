/* Binding a graph to concrete data: weight tensors to PARAM nodes by name,
 * run inputs to INPUT nodes by name, and symbol values from input shapes.
 * Every backend goes through here, so the checks and conversions (and the
 * wording of their errors) are the same everywhere. */
#include <stdlib.h>
#include <string.h>

#include "kiln/runtime.h"

/* The dtype kinds that may convert into each other: float<->float and
 * int<->int; bool only matches bool. */
static int same_family(kiln_dtype a, kiln_dtype b) {
    if (a == b) return 1;
    if (kiln_dtype_is_float(a) && kiln_dtype_is_float(b)) return 1;
    return kiln_dtype_is_int(a) && kiln_dtype_is_int(b);
}

static const char *family_name(kiln_dtype t) {
    return kiln_dtype_is_float(t) ? "floating-point" : kiln_dtype_is_int(t) ? "integer" : "bool";
}

/* Either a view of src (same dtype) or an owned converted copy. */
static kiln_status view_or_convert(const kiln_tensor *src, kiln_dtype want, kiln_tensor *dst) {
    if (src->dtype == want) {
        *dst = kiln_tensor_view(src->dtype, src->rank, src->shape, src->data);
        return KILN_OK;
    }
    return kiln_tensor_convert(src, want, dst);
}

/* ---- parameters -------------------------------------------------------- */

void kiln_bound_params_free(kiln_bound_params *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++) kiln_tensor_release(&p->tensors[i]);
    free(p->tensors);
    free(p->nodes);
    memset(p, 0, sizeof *p);
}

static kiln_status bind_param(const kiln_graph *g, const kiln_node *n, const kiln_tensor_map *weights,
                              kiln_tensor *dst) {
    const char *origin = weights ? kiln_tensor_map_origin(weights) : "the weights (none were given)";
    char want[256], got[256];
    kiln_shape_str(g, &n->shape, want, sizeof want);
    if (!kiln_shape_is_static(&n->shape))
        return kiln_error(KILN_ERR_SHAPE, "parameter '%s' has a symbolic shape %s; parameter shapes must be constant",
                          n->name, want);
    const kiln_tensor *t = weights ? kiln_tensor_map_get(weights, n->name) : NULL;
    if (!t)
        return kiln_error(KILN_ERR_NOT_FOUND, "parameter '%s' (%s%s) is not in %s", n->name,
                          kiln_dtype_name(n->dtype), want, origin);
    if (!same_family(t->dtype, n->dtype))
        return kiln_error(KILN_ERR_TYPE, "parameter '%s' in %s is %s (%s), the graph expects %s (%s)", n->name,
                          origin, kiln_dtype_name(t->dtype), family_name(t->dtype), kiln_dtype_name(n->dtype),
                          family_name(n->dtype));
    int ok = t->rank == n->shape.rank;
    for (int d = 0; ok && d < t->rank; d++) ok = t->shape[d] == n->shape.dims[d];
    if (!ok)
        return kiln_error(KILN_ERR_SHAPE, "parameter '%s' in %s has shape %s, the graph expects %s%s", n->name,
                          origin, kiln_tensor_shape_str(t, got, sizeof got), kiln_dtype_name(n->dtype), want);
    if (!t->data && kiln_tensor_numel(t) > 0)
        return kiln_error(KILN_ERR_INVALID, "parameter '%s' in %s has no data", n->name, origin);
    kiln_status s = view_or_convert(t, n->dtype, dst);
    return s ? kiln_error_wrap(s, "converting parameter '%s' from %s", n->name, origin) : KILN_OK;
}

kiln_status kiln_bind_params(const kiln_graph *g, const kiln_tensor_map *weights, kiln_bound_params *out) {
    memset(out, 0, sizeof *out);
    int total = kiln_graph_node_count(g), count = 0;
    for (int v = 0; v < total; v++) count += kiln_graph_node(g, v)->op == KILN_OP_PARAM;
    if (count == 0) return KILN_OK;
    out->nodes = calloc((size_t)count, sizeof *out->nodes);
    out->tensors = calloc((size_t)count, sizeof *out->tensors);
    if (!out->nodes || !out->tensors) {
        kiln_bound_params_free(out);
        return kiln_error(KILN_ERR_NOMEM, "out of memory binding parameters");
    }
    for (int v = 0; v < total; v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_PARAM) continue;
        kiln_status s = bind_param(g, n, weights, &out->tensors[out->count]);
        if (s) {
            kiln_bound_params_free(out);
            return s;
        }
        out->nodes[out->count++] = v;
    }
    return KILN_OK;
}

/* ---- inputs ------------------------------------------------------------ */

void kiln_bound_inputs_free(kiln_bound_inputs *b) {
    if (!b) return;
    for (int i = 0; i < b->count; i++) kiln_tensor_release(&b->tensors[i]);
    free(b->tensors);
    free(b->symvals);
    memset(b, 0, sizeof *b);
}

/* "input 'ids' is missing; the graph takes inputs: ids (i64[batch, seq]), ..." */
static kiln_status missing_input(const kiln_graph *g, const kiln_node *n) {
    char list[1024];
    size_t o = 0;
    list[0] = 0;
    int count = kiln_graph_input_count(g);
    for (int i = 0; i < count && o < sizeof list; i++) {
        const kiln_node *m = kiln_graph_node(g, kiln_graph_input_value(g, i));
        char shape[256];
        kiln_shape_str(g, &m->shape, shape, sizeof shape);
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s (%s%s)", i ? ", " : "", m->name,
                              kiln_dtype_name(m->dtype), shape);
    }
    return kiln_error(KILN_ERR_NOT_FOUND, "input '%s' is missing; the graph takes inputs: %s", n->name, list);
}

/* Integer inputs must fit the declared type: a token id of 2^40 fed to an
 * i32 input is a caller bug, not something to wrap silently. */
static kiln_status check_int_range(const kiln_node *n, const kiln_tensor *t) {
    if (n->dtype == t->dtype || kiln_dtype_size(n->dtype) >= 8) return KILN_OK;
    int bits = (int)kiln_dtype_size(n->dtype) * 8;
    int is_signed = kiln_dtype_get(n->dtype)->is_signed;
    int64_t lo = is_signed ? -(INT64_C(1) << (bits - 1)) : 0;
    int64_t hi = is_signed ? (INT64_C(1) << (bits - 1)) - 1 : (INT64_C(1) << bits) - 1;
    size_t count = (size_t)kiln_tensor_numel(t);
    for (size_t i = 0; i < count; i++) {
        int64_t v = kiln_load_i64(t->data, t->dtype, i);
        if (v < lo || v > hi)
            return kiln_error(KILN_ERR_TYPE, "input '%s' element %zu is %lld, which does not fit %s", n->name, i,
                              (long long)v, kiln_dtype_name(n->dtype));
    }
    return KILN_OK;
}

static kiln_status convert_input(const kiln_graph *g, const kiln_node *n, const kiln_tensor *t, kiln_tensor *dst) {
    char want[256], got[256];
    if (!same_family(t->dtype, n->dtype))
        return kiln_error(KILN_ERR_TYPE, "input '%s' is %s, the graph expects %s%s", n->name,
                          kiln_tensor_shape_str(t, got, sizeof got), kiln_dtype_name(n->dtype),
                          kiln_shape_str(g, &n->shape, want, sizeof want));
    if (!t->data && kiln_tensor_numel(t) > 0) return kiln_error(KILN_ERR_INVALID, "input '%s' has no data", n->name);
    if (kiln_dtype_is_int(n->dtype)) KILN_TRY(check_int_range(n, t));
    kiln_status s = view_or_convert(t, n->dtype, dst);
    return s ? kiln_error_wrap(s, "converting input '%s'", n->name) : KILN_OK;
}

/* A missing input with a "default" attribute: its shape from the symbols,
 * every element the default value. */
static kiln_status fill_default(const kiln_graph *g, const kiln_node *n, const int64_t *symvals, kiln_tensor *dst) {
    int64_t shape[KILN_MAX_RANK];
    kiln_status s = kiln_shape_eval(g, &n->shape, symvals, shape);
    if (s) return kiln_error_wrap(s, "input '%s' was not given and its default needs its shape", n->name);
    KILN_TRY(kiln_tensor_alloc(dst, n->dtype, n->shape.rank, shape));
    size_t count = (size_t)kiln_tensor_numel(dst);
    double v = n->attrs[0].f;
    for (size_t i = 0; i < count; i++) kiln_store_f64(dst->data, n->dtype, i, v);
    return KILN_OK;
}

static kiln_status bind_inputs(const kiln_graph *g, const kiln_tensor_map *given, kiln_bound_inputs *out,
                               const kiln_tensor **found) {
    int count = out->count;
    for (int i = 0; i < count; i++) {
        const kiln_node *n = kiln_graph_node(g, kiln_graph_input_value(g, i));
        found[i] = given ? kiln_tensor_map_get(given, n->name) : NULL;
        if (!found[i] && n->attrs[0].kind != KILN_ATTR_FLOAT) return missing_input(g, n);
    }
    KILN_TRY(kiln_graph_bind_symbols(g, found, count, out->symvals));
    for (int i = 0; i < count; i++) {
        const kiln_node *n = kiln_graph_node(g, kiln_graph_input_value(g, i));
        if (!found[i]) {
            KILN_TRY(fill_default(g, n, out->symvals, &out->tensors[i]));
            continue;
        }
        /* bind_symbols skips dims it cannot evaluate; every dim must be known now */
        int64_t shape[KILN_MAX_RANK];
        kiln_status s = kiln_shape_eval(g, &n->shape, out->symvals, shape);
        if (s) return kiln_error_wrap(s, "input '%s'", n->name);
        for (int d = 0; d < n->shape.rank; d++)
            if (shape[d] != found[i]->shape[d]) {
                char want[256], got[256];
                return kiln_error(KILN_ERR_SHAPE, "input '%s' has shape %s, expected %s (dim %d is %lld, not %lld)",
                                  n->name, kiln_tensor_shape_str(found[i], got, sizeof got),
                                  kiln_shape_str(g, &n->shape, want, sizeof want), d,
                                  (long long)found[i]->shape[d], (long long)shape[d]);
            }
        KILN_TRY(convert_input(g, n, found[i], &out->tensors[i]));
    }
    return KILN_OK;
}

kiln_status kiln_bind_inputs(const kiln_graph *g, const kiln_tensor_map *given, kiln_bound_inputs *out) {
    memset(out, 0, sizeof *out);
    int count = kiln_graph_input_count(g), nsyms = kiln_graph_symbol_count(g);
    out->tensors = calloc((size_t)(count ? count : 1), sizeof *out->tensors);
    out->symvals = calloc((size_t)(nsyms ? nsyms : 1), sizeof *out->symvals);
    const kiln_tensor **found = calloc((size_t)(count ? count : 1), sizeof *found);
    if (!out->tensors || !out->symvals || !found) {
        free(found);
        kiln_bound_inputs_free(out);
        return kiln_error(KILN_ERR_NOMEM, "out of memory binding inputs");
    }
    out->count = count;
    out->nsyms = nsyms;
    kiln_status s = bind_inputs(g, given, out, found);
    free(found);
    if (s) kiln_bound_inputs_free(out);
    return s;
}
