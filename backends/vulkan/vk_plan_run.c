/* One run of a Vulkan session: bind inputs (symbols), plan memory, upload
 * inputs, record every kernel into one command buffer, submit, read the
 * outputs back. */
#include <stdlib.h>
#include <string.h>

#include "kiln/runtime.h"
#include "vk_plan.h"

static kiln_status tensor_shape(const kvk_session *s, int t, const int64_t *symvals, int64_t *shape, size_t *bytes) {
    const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
    KILN_TRY(kiln_shape_eval(s->g, &pt->shape, symvals, shape));
    *bytes = (size_t)kiln_shape_numel(pt->shape.rank, shape) * kiln_dtype_size(s->storage[t]);
    return KILN_OK;
}

/* The bound input tensor of plan tensor t (an INPUT). */
static const kiln_tensor *bound_input(const kvk_session *s, const kiln_bound_inputs *bi, int t) {
    kiln_value node = kiln_plan_tensor(s->plan, t)->node;
    for (int i = 0; i < bi->count; i++)
        if (kiln_graph_input_value(s->g, i) == node) return &bi->tensors[i];
    return NULL;
}

const kvk_carry *kvk_carry_for_input(const kvk_session *s, int t) {
    for (int i = 0; i < s->ncarry; i++)
        if (s->carry[i].in_tensor == t && s->carry[i].valid) return &s->carry[i];
    return NULL;
}

/* Where every plan tensor lives for this run, uploading inputs. */
static kiln_status place_tensors(kvk_session *s, const kiln_bound_inputs *bi, const kiln_memplan *mp, kvk_place *place) {
    int nt = kiln_plan_tensor_count(s->plan);
    KILN_TRY(kvk_ensure_buffer(s, &s->arena, &s->arena_cap, (size_t)mp->arena_bytes, "activation arena"));
    for (int t = 0; t < nt; t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
        int64_t shape[KILN_MAX_RANK];
        size_t bytes;
        KILN_TRY(tensor_shape(s, t, bi->symvals, shape, &bytes));
        kvk_place *pl = &place[t];
        memset(pl, 0, sizeof *pl);
        pl->bytes = bytes;
        switch (pt->kind) {
        case KILN_PT_PARAM:
        case KILN_PT_CONST: pl->buf = s->tbuf[t]; break;
        case KILN_PT_INTERMEDIATE:
            pl->buf = s->arena;
            pl->offset = (size_t)mp->offset[t];
            break;
        case KILN_PT_OUTPUT:
            if (bytes) KILN_TRY(kvk_ensure_buffer(s, &s->tbuf[t], &s->tcap[t], bytes, pt->name ? pt->name : "output"));
            pl->buf = s->tbuf[t];
            break;
        case KILN_PT_INPUT: {
            const kvk_carry *c = kvk_carry_for_input(s, t);
            if (c) { /* still on the device from the last run */
                pl->buf = c->buf;
                break;
            }
            const kiln_tensor *in = bound_input(s, bi, t);
            if (!in) return kiln_error(KILN_ERR_INTERNAL, "vulkan: input '%s' was not bound", pt->name);
            if (!bytes) break;
            KILN_TRY(kvk_ensure_buffer(s, &s->tbuf[t], &s->tcap[t], bytes, pt->name ? pt->name : "input"));
            KILN_TRY(kiln_vk_buffer_write(s->tbuf[t], 0, in->data, bytes));
            pl->buf = s->tbuf[t];
            break;
        }
        }
        if (!bytes) pl->buf = NULL;
    }
    return KILN_OK;
}

static kiln_status keep_profile(kvk_session *s, const kiln_vk_recorder *r) {
    for (int i = 0; i < s->nprof; i++) free((char *)s->prof[i].name);
    free(s->prof);
    s->prof = NULL;
    s->nprof = 0;
    const kiln_vk_profile_entry *e = NULL;
    int n = 0;
    KILN_TRY(kiln_vk_recorder_profile(r, &e, &n));
    s->prof = calloc((size_t)n + 1, sizeof *s->prof);
    if (!s->prof) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    for (int i = 0; i < n; i++) {
        s->prof[i] = e[i];
        s->prof[i].name = strdup(e[i].name ? e[i].name : "?");
        if (!s->prof[i].name) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
        s->nprof++;
    }
    if (s->trace_path) KILN_TRY(kiln_vk_trace_write(s->trace_path, s->prof, s->nprof));
    return KILN_OK;
}

/* Records and runs every kernel. */
static kiln_status run_kernels(kvk_session *s, const int64_t *symvals, const kvk_place *place,
                               kiln_vk_recorder **rec) {
    /* without push descriptors, sets are cached per binding list; a long
     * generation binds new ranges every step, so the cache is bounded */
    if (!kvk_has_push_descriptors(s->dev) && kvk_desc_count(s->dev) > 4096) kvk_desc_reset(s->dev);
    KILN_TRY(kiln_vk_recorder_create(s->dev, s->profile ? KILN_VK_REC_PROFILE : 0, rec));
    int64_t *dims = NULL;
    kiln_status st = KILN_OK;
    for (int i = 0; !st && i < s->nkerns; i++) {
        const kiln_kernel *k = kiln_plan_kernel(s->plan, i);
        int64_t *d = realloc(dims, ((size_t)k->ndims + 1) * sizeof *d);
        if (!d) {
            st = kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
            break;
        }
        dims = d;
        st = kiln_kernel_dims(k, s->g, symvals, dims);
        if (!st) st = kvk_record_kernel(s, *rec, i, dims, place);
        if (st) st = kiln_error_wrap(st, "kernel %d", i);
    }
    free(dims);
    return st;
}

/* Output i of the graph as an owned host tensor. */
static kiln_status read_output(kvk_session *s, int t, const int64_t *symvals, const kvk_place *pl, kiln_tensor *out) {
    const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
    int64_t shape[KILN_MAX_RANK];
    size_t bytes;
    KILN_TRY(tensor_shape(s, t, symvals, shape, &bytes));
    kiln_tensor raw;
    KILN_TRY(kiln_tensor_alloc(&raw, s->storage[t], pt->shape.rank, shape));
    kiln_status st = KILN_OK;
    if (bytes) st = kiln_vk_buffer_read(pl->buf, pl->offset, raw.data, bytes);
    if (!st && s->storage[t] != pt->dtype) {
        st = kiln_tensor_convert(&raw, pt->dtype, out);
        kiln_tensor_release(&raw);
    } else if (!st) {
        *out = raw;
    } else {
        kiln_tensor_release(&raw);
    }
    return st;
}

kiln_status kvk_run_begin(kvk_session *s, const kiln_tensor_map *inputs, kvk_run *run) {
    memset(run, 0, sizeof *run);
    KILN_TRY(kiln_bind_inputs(s->g, inputs, &run->bi));
    int nt = kiln_plan_tensor_count(s->plan);
    run->place = calloc((size_t)nt + 1, sizeof *run->place);
    kiln_status st = run->place ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    if (!st) st = kvk_check_runtime(s->g, run->bi.symvals);
    if (!st) st = kiln_plan_memory(s->plan, run->bi.symvals, &run->mp);
    if (!st) st = place_tensors(s, &run->bi, run->mp, run->place);
    if (!st) st = run_kernels(s, run->bi.symvals, run->place, &run->rec);
    return st;
}

kiln_status kvk_run_submit(kvk_session *s, kvk_run *run) {
    kiln_status st = kiln_vk_recorder_submit(run->rec);
    if (!st && s->profile) st = keep_profile(s, run->rec);
    /* with the validation layer on, a run it complained about fails (zero messages is part of passing) */
    kiln_vk_instance *inst = kiln_vk_device_instance(s->dev);
    uint64_t msgs = kiln_vk_validation_messages(inst);
    if (!st && kiln_vk_validation_enabled(inst) && msgs != s->validation_seen)
        st = kiln_error(KILN_ERR_DEVICE, "vulkan: the validation layer reported %llu message(s) (printed above)",
                        (unsigned long long)(msgs - s->validation_seen));
    s->validation_seen = msgs;
    if (!st) s->runs++;
    return st;
}

void kvk_run_end(kvk_run *run) {
    kiln_vk_recorder_destroy(run->rec);
    free(run->place);
    kiln_bound_inputs_free(&run->bi);
    memset(run, 0, sizeof *run);
}

kiln_status kvk_run_shape(const kvk_session *s, const kvk_run *run, int t, int64_t *shape, size_t *bytes) {
    return tensor_shape(s, t, run->bi.symvals, shape, bytes);
}

kiln_status kvk_session_run(kvk_session *s, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    *outputs = NULL;
    kvk_run run;
    kiln_tensor_map *map = NULL;
    kiln_status st = kvk_run_begin(s, inputs, &run);
    if (!st) st = kvk_run_submit(s, &run);
    if (!st && !(map = kiln_tensor_map_new())) st = kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    for (int i = 0; !st && i < kiln_plan_output_count(s->plan); i++) {
        int t = kiln_plan_output_tensor(s->plan, i);
        kiln_tensor out;
        st = read_output(s, t, run.bi.symvals, &run.place[t], &out);
        if (!st) {
            st = kiln_tensor_map_put(map, kiln_graph_output_name(s->g, i), out);
            if (st) kiln_tensor_release(&out);
        }
    }
    kvk_run_end(&run);
    if (st) {
        kiln_tensor_map_free(map);
        return kiln_error_wrap(st, "running graph '%s' on vulkan", kiln_graph_name(s->g));
    }
    kiln_tensor_map_set_origin(map, "vulkan outputs");
    *outputs = map;
    return KILN_OK;
}
