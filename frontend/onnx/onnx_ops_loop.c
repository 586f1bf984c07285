/* Scan and Loop unrolled at import time: the body subgraph is inlined
 * once per iteration (its names unbound again in between, see
 * ox_scope_begin), carrying the state values from one copy to the next
 * and stacking the per-iteration outputs. Scan needs a constant sequence
 * length; Loop needs a trip count and condition known at import time (the
 * condition after each iteration too). */
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

#define MAX_ITER 4096

static const onnx_graph *body_of(const onnx_node *n) {
    const onnx_attr *a = onnx_node_attr(n, "body");
    return a ? a->g : NULL;
}

/* Stacks per-iteration values along axis (a new axis). */
static kiln_status stack(ox_ctx *c, int count, ox_id *items, int64_t axis, ox_id *out) {
    for (int i = 0; i < count; i++) KILN_TRY(ox_unsqueeze(c, items[i], 1, &axis, &items[i]));
    int a;
    KILN_TRY(ox_axis(c, axis, ox_rank(c, items[0]), "axis", &a));
    return ox_concat(c, count, items, a, out);
}

static int64_t list_at(const onnx_node *n, const char *name, int i, int64_t dflt) {
    const int64_t *l;
    int k = ox_attr_ints(n, name, &l);
    return i < k ? l[i] : dflt;
}

OX_CONV(conv_scan) {
    const onnx_graph *body = body_of(n);
    if (!body) return ox_invalid(c, "attribute 'body' is missing");
    if (c->opset < 9) return ox_unsupported(c, "Scan before opset 9 (batched, with sequence_lens)");
    int M = (int)ox_attr_i(n, "num_scan_inputs", 0), N = nin - M, K = nout - N;
    if (M < 1 || N < 0 || K < 0 || body->ninputs != N + M || body->noutputs != N + K)
        return ox_invalid(c, "inputs and outputs do not match the body");
    if (N + M > 256 || N + K > 256) return ox_unsupported(c, "too many loop values");
    int64_t T = -1;
    int axes[256];
    for (int j = 0; j < M; j++) {
        OX_REQ(x, N + j);
        KILN_TRY(ox_axis(c, list_at(n, "scan_input_axes", j, 0), ox_rank(c, x), "scan input axis", &axes[j]));
        kiln_dim d = OV(c, x)->shape.dims[axes[j]];
        if (!kiln_dim_is_const(d)) return ox_unsupported(c, "a symbolic scan length");
        if (T >= 0 && d != T) return ox_invalid(c, "scan inputs of different lengths");
        T = d;
    }
    if (T < 1 || T > MAX_ITER) return ox_unsupported(c, "a scan of %lld iterations", (long long)T);
    ox_id bin[256], bout[256], state[256];
    for (int i = 0; i < N; i++) KILN_TRY(ox_req(c, in, nin, i, &state[i]));
    ox_id *elems = malloc(sizeof(ox_id) * (size_t)(K ? K : 1) * (size_t)T);
    if (!elems) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    for (int64_t t = 0; t < T && !st; t++) {
        for (int i = 0; i < N; i++) bin[i] = state[i];
        for (int j = 0; j < M && !st; j++) {
            int64_t at = list_at(n, "scan_input_directions", j, 0) ? T - 1 - t : t, ax = axes[j];
            st = ox_slice(c, in[N + j], axes[j], at, at + 1, 1, &bin[N + j]);
            if (!st) st = ox_squeeze(c, bin[N + j], 1, &ax, &bin[N + j]);
        }
        if (st) break;
        int mark = ox_scope_begin(c);
        st = ox_inline_graph(c, body, N + M, bin, bout, N + K);
        ox_scope_end(c, mark);
        for (int i = 0; !st && i < N; i++) state[i] = bout[i];
        for (int k = 0; !st && k < K; k++) {
            int64_t pos = list_at(n, "scan_output_directions", k, 0) ? T - 1 - t : t;
            elems[k * T + pos] = bout[N + k];
        }
    }
    for (int i = 0; !st && i < N; i++) out[i] = state[i];
    for (int k = 0; !st && k < K; k++) st = stack(c, (int)T, &elems[k * T], list_at(n, "scan_output_axes", k, 0), &out[N + k]);
    free(elems);
    return st;
}

OX_CONV(conv_loop) {
    const onnx_graph *body = body_of(n);
    if (!body) return ox_invalid(c, "attribute 'body' is missing");
    int N = nin - 2, K = nout - N;
    if (N < 0 || K < 0 || body->ninputs != N + 2 || body->noutputs != N + K + 1)
        return ox_invalid(c, "inputs and outputs do not match the body");
    if (N > 256) return ox_unsupported(c, "too many loop values");
    ox_id mi = ox_in(in, nin, 0), ci = ox_in(in, nin, 1);
    int64_t max_iter = MAX_ITER + 1;
    double cond = 1;
    if (mi != OX_NONE && ox_const_ints(c, mi, &max_iter, 1) != 1) return ox_unsupported(c, "a trip count computed at run time");
    if (ci != OX_NONE && !ox_const_f64(c, ci, &cond)) return ox_unsupported(c, "a loop condition computed at run time");
    ox_id bin[258], bout[258], state[256];
    for (int i = 0; i < N; i++) KILN_TRY(ox_req(c, in, nin, i + 2, &state[i]));
    int cap = 16, count = 0;
    ox_id *elems = malloc(sizeof(ox_id) * (size_t)cap * (size_t)(K ? K : 1));
    if (!elems) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    for (int64_t i = 0; i < max_iter && cond != 0 && !st; i++) {
        if (i >= MAX_ITER) {
            st = ox_unsupported(c, "a loop of more than %d iterations", MAX_ITER);
            break;
        }
        st = ox_scalar_i(c, KILN_I64, i, &bin[0]);
        if (!st) st = ox_scalar(c, KILN_BOOL, 1, &bin[1]);
        for (int j = 0; j < N; j++) bin[2 + j] = state[j];
        if (st) break;
        int mark = ox_scope_begin(c);
        st = ox_inline_graph(c, body, N + 2, bin, bout, N + K + 1);
        ox_scope_end(c, mark);
        if (st) break;
        if (!ox_const_f64(c, bout[0], &cond)) {
            st = ox_unsupported(c, "a loop condition computed at run time");
            break;
        }
        for (int j = 0; j < N; j++) state[j] = bout[1 + j];
        if (count == cap) {
            cap *= 2;
            ox_id *p = realloc(elems, sizeof(ox_id) * (size_t)cap * (size_t)(K ? K : 1));
            if (!p) {
                st = kiln_error(KILN_ERR_NOMEM, "out of memory");
                break;
            }
            elems = p;
        }
        for (int k = 0; k < K; k++) elems[count * K + k] = bout[1 + N + k];
        count++;
    }
    for (int j = 0; !st && j < N; j++) out[j] = state[j];
    if (!st && K && count == 0) st = ox_unsupported(c, "scan outputs of a loop that runs zero times");
    for (int k = 0; !st && k < K; k++) {
        ox_id *items = malloc(sizeof(ox_id) * (size_t)count);
        if (!items) {
            st = kiln_error(KILN_ERR_NOMEM, "out of memory");
            break;
        }
        for (int i = 0; i < count; i++) items[i] = elems[i * K + k];
        st = stack(c, count, items, 0, &out[N + k]);
        free(items);
    }
    free(elems);
    return st;
}

const ox_converter ox_loop_ops[] = {
    {"Scan", conv_scan},
    {"Loop", conv_loop},
    {NULL, NULL},
};
