/* Generation steps with the state kept by the exec (kiln_step_io in
 * kiln/session.h): each carry_out output (a present.* KV cache) is written
 * straight into one of two buffers the exec keeps per carry and becomes the
 * next step's carry_in input without a copy or a fresh allocation; of the
 * other outputs only the last row of row_output comes back (or its top k). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_step_internal.h"

static void forget_names(struct cpu_step_state *st) {
    for (int i = 0; i < st->n; i++) {
        free(st->c[i].in);
        free(st->c[i].out);
        st->c[i].in = st->c[i].out = NULL;
    }
    st->n = 0;
    free(st->row_name);
    st->row_name = NULL;
    cpu_step_fast_free(st->fast);
    st->fast = NULL;
}

void cpu_step_release(kiln_cpu_exec *e) {
    struct cpu_step_state **sp = cpu_exec_step_state(e), *st = *sp;
    if (!st) return;
    forget_names(st);
    for (int i = 0; i < STEP_MAX_CARRY; i++) {
        free(st->c[i].buf[0]);
        free(st->c[i].buf[1]);
    }
    free(st->row);
    free(st);
    *sp = NULL;
}

static int output_index(const kiln_graph *g, const char *name) {
    for (int o = 0; name && o < kiln_graph_output_count(g); o++)
        if (strcmp(kiln_graph_output_name(g, o), name) == 0) return o;
    return -1;
}

kiln_status cpu_step_reserve_carry(step_carry *c, size_t bytes) {
    if (bytes <= c->cap[c->target] && c->buf[c->target]) return KILN_OK;
    size_t cap = bytes + bytes / 4 + 64; /* grows with the cache: room for the next tokens */
    void *p = realloc(c->buf[c->target], cap);
    if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory for carry '%s' (%zu bytes)", c->out, cap);
    c->buf[c->target] = p;
    c->cap[c->target] = cap;
    return KILN_OK;
}

/* Sizes the carry buffers for this step's symbols and points the outputs
 * at them. */
static kiln_status place_carries(kiln_cpu_exec *e, const int64_t *symvals, void *ctx) {
    struct cpu_step_state *st = ctx;
    const kiln_plan *plan = cpu_exec_program(e)->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    for (int i = 0; i < st->n; i++) {
        step_carry *c = &st->c[i];
        const kiln_ptensor *pt = kiln_plan_tensor(plan, c->tensor);
        int64_t shape[KILN_MAX_RANK];
        KILN_TRY(kiln_shape_eval(g, &pt->shape, symvals, shape));
        size_t bytes = (size_t)kiln_shape_numel(pt->shape.rank, shape) * kiln_dtype_size(pt->dtype);
        c->target = c->cur == 0 ? 1 : 0;
        KILN_TRY(cpu_step_reserve_carry(c, bytes));
        if (pt->kind == KILN_PT_OUTPUT) cpu_exec_set_dest(e, c->tensor, c->buf[c->target]);
    }
    return KILN_OK;
}

/* The largest value and its first index (NaN never): a max the compiler
 * vectorizes, then the first index holding it. */
static int arg_max(const float *row, int64_t n, int32_t *ids, float *vals) {
    float acc[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t i8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < i8; i += 8)
        for (int j = 0; j < 8; j++) acc[j] = row[i + j] > acc[j] ? row[i + j] : acc[j];
    float m = -INFINITY;
    for (int j = 0; j < 8; j++) m = acc[j] > m ? acc[j] : m;
    for (int64_t i = i8; i < n; i++) m = row[i] > m ? row[i] : m;
    for (int64_t i = 0; i < n; i++)
        if (row[i] == m) {
            ids[0] = (int32_t)i;
            vals[0] = m;
            return 1;
        }
    return 0; /* all NaN */
}

/* The k largest values (descending, lower id first on ties, NaN never). */
static int top_k(const float *row, int64_t n, int k, int32_t *ids, float *vals) {
    if (k == 1) return arg_max(row, n, ids, vals);
    int count = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = row[i];
        if (v != v) continue;
        if (count == k && !(v > vals[k - 1])) continue;
        int at = count < k ? count++ : k - 1;
        while (at > 0 && v > vals[at - 1]) {
            vals[at] = vals[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        vals[at] = v;
        ids[at] = (int32_t)i;
    }
    return count;
}

kiln_status cpu_step_take_row(struct cpu_step_state *st, const void *data, kiln_dtype dtype, int64_t n,
                              kiln_step_io *io) {
    size_t first = (size_t)(n - io->row_len);
    if (dtype == KILN_F32) { /* read in place */
        const float *src = (const float *)data + first;
        if (io->topk) io->count = top_k(src, io->row_len, io->topk, io->ids, io->vals);
        else memcpy(io->row, src, (size_t)io->row_len * sizeof *io->row);
        return KILN_OK;
    }
    float *row = io->row;
    if (io->topk) {
        size_t need = (size_t)io->row_len * sizeof *row;
        if (need > st->row_cap) {
            float *p = realloc(st->row, need);
            if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
            st->row = p;
            st->row_cap = need;
        }
        row = st->row;
    }
    for (int64_t i = 0; i < io->row_len; i++) row[i] = (float)kiln_load_f64(data, dtype, first + (size_t)i);
    if (io->topk) io->count = top_k(row, io->row_len, io->topk, io->ids, io->vals);
    return KILN_OK;
}

/* What every step checks (cheap: no lookups). */
static kiln_status check_io(const kiln_step_io *io) {
    if (io->ncarry < 0 || io->ncarry > STEP_MAX_CARRY)
        return kiln_error(KILN_ERR_LIMIT, "step: %d carries (at most %d)", io->ncarry, STEP_MAX_CARRY);
    for (int i = 0; i < io->ncarry; i++)
        if (!io->carry_in || !io->carry_out || !io->carry_in[i] || !io->carry_out[i])
            return kiln_error(KILN_ERR_INVALID, "step: carry %d has no names", i);
    if (!io->row_output) return kiln_error(KILN_ERR_NOT_FOUND, "step: the graph has no output '(null)'");
    if (io->row_len < 1) return kiln_error(KILN_ERR_INVALID, "step: row length %lld", (long long)io->row_len);
    if (io->topk < 0 || io->topk > STEP_MAX_TOPK)
        return kiln_error(KILN_ERR_LIMIT, "step: top %d (at most %d)", io->topk, STEP_MAX_TOPK);
    if (io->topk ? !io->ids || !io->vals : !io->row) return kiln_error(KILN_ERR_INVALID, "step: nowhere to put the row");
    return KILN_OK;
}

/* Remembers the carries' and the row's names, checked against the graph
 * when they change (a different set starts over). */
static kiln_status adopt_names(struct cpu_step_state *st, const kiln_plan *plan, const kiln_step_io *io) {
    const kiln_graph *g = kiln_plan_graph(plan);
    int same = st->n == io->ncarry && st->row_name && strcmp(st->row_name, io->row_output) == 0;
    for (int i = 0; same && i < io->ncarry; i++)
        same = strcmp(st->c[i].in, io->carry_in[i]) == 0 && strcmp(st->c[i].out, io->carry_out[i]) == 0;
    if (same) return KILN_OK;
    forget_names(st);
    st->valid = 0;
    for (int i = 0; i < io->ncarry; i++) {
        if (kiln_graph_find_input(g, io->carry_in[i]) == KILN_NONE)
            return kiln_error(KILN_ERR_NOT_FOUND, "step: the graph has no input '%s'", io->carry_in[i]);
        if (output_index(g, io->carry_out[i]) < 0)
            return kiln_error(KILN_ERR_NOT_FOUND, "step: the graph has no output '%s'", io->carry_out[i]);
    }
    int row_o = output_index(g, io->row_output);
    if (row_o < 0) return kiln_error(KILN_ERR_NOT_FOUND, "step: the graph has no output '%s'", io->row_output);
    st->row_t = kiln_plan_output_tensor(plan, row_o);
    for (int i = 0; i < io->ncarry; i++) {
        step_carry *c = &st->c[i];
        c->in = strdup(io->carry_in[i]);
        c->out = strdup(io->carry_out[i]);
        c->cur = -1;
        st->n = i + 1;
        if (!c->in || !c->out) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        c->tensor = kiln_plan_output_tensor(plan, output_index(g, c->out));
    }
    if (!(st->row_name = strdup(io->row_output))) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    return KILN_OK;
}

/* The step's inputs: the caller's, with every carry_in replaced by the
 * carried tensor. */
static kiln_status carried_inputs(const struct cpu_step_state *st, const kiln_tensor_map *inputs, kiln_tensor_map **out) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    for (int i = 0; inputs && i < kiln_tensor_map_count(inputs) && !s; i++) {
        const char *name = kiln_tensor_map_name(inputs, i);
        int carried = 0;
        for (int c = 0; c < st->n && !carried; c++) carried = strcmp(st->c[c].in, name) == 0;
        if (carried) continue;
        kiln_tensor v = *kiln_tensor_map_at(inputs, i);
        v.owns_data = 0;
        s = kiln_tensor_map_put(m, name, v);
    }
    for (int c = 0; c < st->n && !s; c++) s = kiln_tensor_map_put(m, st->c[c].in, st->c[c].t);
    if (s) kiln_tensor_map_free(m);
    else *out = m;
    return s;
}

/* Any step: inputs bound from the map, memory planned for the binding. */
static kiln_status general_step(kiln_cpu_exec *e, struct cpu_step_state *st, const kiln_tensor_map *inputs,
                                kiln_step_io *io) {
    const kiln_plan *plan = cpu_exec_program(e)->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    kiln_tensor_map *own = NULL;
    kiln_status s = KILN_OK;
    if (!io->reset && st->valid) s = carried_inputs(st, inputs, &own);
    st->valid = 0; /* until this step has succeeded */
    kiln_bound_inputs bi;
    cpu_exec_set_prepare(e, place_carries, st);
    if (!s) s = cpu_exec_begin(e, own ? own : inputs, &bi);
    cpu_exec_set_prepare(e, NULL, NULL);
    int nt = kiln_plan_tensor_count(plan);
    for (int t = 0; t < nt; t++) cpu_exec_set_dest(e, t, NULL);
    if (!s) {
        /* the row: the last row_len elements of row_output */
        const kiln_ptensor *pt = kiln_plan_tensor(plan, st->row_t);
        int64_t shape[KILN_MAX_RANK];
        s = kiln_shape_eval(g, &pt->shape, bi.symvals, shape);
        int64_t n = kiln_shape_numel(pt->shape.rank, shape);
        if (!s && (pt->shape.rank < 1 || shape[pt->shape.rank - 1] != io->row_len || n < io->row_len))
            s = kiln_error(KILN_ERR_SHAPE, "step: output '%s' does not end in rows of %lld", io->row_output,
                           (long long)io->row_len);
        if (!s) s = cpu_step_take_row(st, cpu_exec_tensor_data(e, st->row_t), pt->dtype, n, io);
        /* the carries: written in place, or copied when the output is not a kernel's */
        for (int i = 0; i < st->n && !s; i++) {
            step_carry *c = &st->c[i];
            const kiln_ptensor *ct = kiln_plan_tensor(plan, c->tensor);
            s = kiln_shape_eval(g, &ct->shape, bi.symvals, shape);
            if (s) break;
            kiln_tensor v = kiln_tensor_view(ct->dtype, ct->shape.rank, shape, c->buf[c->target]);
            if (ct->kind != KILN_PT_OUTPUT) memcpy(v.data, cpu_exec_tensor_data(e, c->tensor), v.nbytes);
            c->t = v;
            c->cur = c->target;
        }
        st->nsyms = bi.nsyms <= STEP_MAX_SYMS ? bi.nsyms : 0;
        if (st->nsyms) memcpy(st->last_sym, bi.symvals, (size_t)st->nsyms * sizeof *st->last_sym);
        cpu_exec_end(e, &bi);
    }
    kiln_tensor_map_free(own);
    return s;
}

kiln_status kiln_cpu_exec_step(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_step_io *io) {
    if (!e || !io) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_exec_step: NULL argument");
    const kiln_plan *plan = cpu_exec_program(e)->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    io->count = 0;
    kiln_status s = check_io(io);
    struct cpu_step_state **sp = cpu_exec_step_state(e);
    if (!s && !*sp && !(*sp = calloc(1, sizeof **sp))) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) s = adopt_names(*sp, plan, io);
    if (s) return kiln_error_wrap(s, "step of graph '%s' on the cpu", kiln_graph_name(g));
    struct cpu_step_state *st = *sp;
    int done = 0;
    if (!io->reset && st->valid) done = cpu_step_fast(e, st, inputs, io, &s);
    if (!done && st->fast) s = cpu_step_fast_leave(st, io->reset || !st->valid);
    if (!done && !s) s = general_step(e, st, inputs, io);
    if (s) {
        st->valid = 0;
        return kiln_error_wrap(s, "step of graph '%s' on the cpu", kiln_graph_name(g));
    }
    st->valid = 1;
    cpu_exec_count_run(e);
    return KILN_OK;
}
