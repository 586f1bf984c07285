/* kiln_session_step on Vulkan: a generation step that keeps its carried
 * tensors (the KV cache: present.* -> past.*) on the device and returns
 * only the last row of the logits, or just its top-k picked on the device
 * (shaders/topk.comp), so a decode step moves a few bytes instead of the
 * whole cache and vocabulary.
 *
 * Each carry ping-pongs between two buffers: the run reads past.X from
 * one and writes present.X (= past.X with the new positions appended)
 * into the other, and the two swap roles for the next step. */
#include <stdlib.h>
#include <string.h>

#include "vk_plan.h"
#include "vk_shaders.h"

static int find_input(const kvk_session *s, const char *name) {
    for (int t = 0; t < kiln_plan_tensor_count(s->plan); t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
        if (pt->kind == KILN_PT_INPUT && pt->name && strcmp(pt->name, name) == 0) return t;
    }
    return -1;
}

static int find_output(const kvk_session *s, const char *name) {
    for (int i = 0; i < kiln_plan_output_count(s->plan); i++)
        if (strcmp(kiln_graph_output_name(s->g, i), name) == 0) return kiln_plan_output_tensor(s->plan, i);
    return -1;
}

static void drop_carries(kvk_session *s) {
    for (int i = 0; i < s->ncarry; i++) {
        kiln_vk_buffer_destroy(s->carry[i].buf);
        free(s->carry[i].in_name);
        free(s->carry[i].out_name);
    }
    free(s->carry);
    s->carry = NULL;
    s->ncarry = 0;
}

/* The carries io names, resolved to plan tensors (kept from the last step
 * when the names are the same). */
static kiln_status resolve_carries(kvk_session *s, const kiln_step_io *io) {
    int same = s->ncarry == io->ncarry;
    for (int i = 0; same && i < io->ncarry; i++)
        same = strcmp(s->carry[i].in_name, io->carry_in[i]) == 0 && strcmp(s->carry[i].out_name, io->carry_out[i]) == 0;
    if (same) return KILN_OK;
    drop_carries(s);
    if (io->ncarry < 0 || (io->ncarry && (!io->carry_in || !io->carry_out)))
        return kiln_error(KILN_ERR_INVALID, "vulkan: step: bad carry list");
    s->carry = calloc((size_t)io->ncarry + 1, sizeof *s->carry);
    if (!s->carry) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    for (int i = 0; i < io->ncarry; i++) {
        kvk_carry *c = &s->carry[s->ncarry++];
        c->in_name = strdup(io->carry_in[i]);
        c->out_name = strdup(io->carry_out[i]);
        if (!c->in_name || !c->out_name) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
        c->in_tensor = find_input(s, c->in_name);
        c->out_tensor = find_output(s, c->out_name);
        if (c->in_tensor < 0) return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: step: the graph has no input '%s'", c->in_name);
        if (c->out_tensor < 0 || kiln_plan_tensor(s->plan, c->out_tensor)->kind != KILN_PT_OUTPUT)
            return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: step: '%s' is not an output a kernel writes", c->out_name);
        const kiln_ptensor *in = kiln_plan_tensor(s->plan, c->in_tensor), *out = kiln_plan_tensor(s->plan, c->out_tensor);
        if (in->dtype != out->dtype || in->shape.rank != out->shape.rank || s->storage[c->in_tensor] != s->storage[c->out_tensor])
            return kiln_error(KILN_ERR_TYPE, "vulkan: step: '%s' and '%s' differ in type or rank", c->out_name, c->in_name);
    }
    return KILN_OK;
}

/* The step's inputs: `inputs` as views, and for each carry on the device a
 * placeholder of its shape (binding reads shapes only; the data stays on
 * the device and is never read from this pointer). */
static kiln_status step_inputs(kvk_session *s, const kiln_tensor_map *inputs, kiln_tensor_map **out) {
    static char placeholder[16];
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    kiln_status st = KILN_OK;
    for (int i = 0; !st && inputs && i < kiln_tensor_map_count(inputs); i++) {
        const char *name = kiln_tensor_map_name(inputs, i);
        int carried = 0;
        for (int c = 0; c < s->ncarry; c++) carried |= s->carry[c].valid && strcmp(s->carry[c].in_name, name) == 0;
        if (carried) continue;
        kiln_tensor v = *kiln_tensor_map_at(inputs, i);
        v.owns_data = 0;
        st = kiln_tensor_map_put(m, name, v);
    }
    for (int c = 0; !st && c < s->ncarry; c++) {
        if (!s->carry[c].valid) continue;
        const kiln_ptensor *pt = kiln_plan_tensor(s->plan, s->carry[c].in_tensor);
        st = kiln_tensor_map_put(m, s->carry[c].in_name,
                                 kiln_tensor_view(pt->dtype, pt->shape.rank, s->carry[c].shape, placeholder));
    }
    if (st) {
        kiln_tensor_map_free(m);
        return st;
    }
    *out = m;
    return KILN_OK;
}

/* Records the top-k of `n` f32 values at byte `off` of buf into pick_buf. */
static kiln_status record_topk(kvk_session *s, kiln_vk_recorder *r, kiln_vk_buffer *buf, size_t off, int64_t n, int k) {
    const char *src = kvk_shader_source("topk");
    if (!src) return kiln_error(KILN_ERR_INTERNAL, "vulkan: shaders/topk.comp is not embedded");
    uint32_t wg = kiln_vk_device_get_info(s->dev)->type == KILN_VK_TYPE_CPU ? 64 : 256;
    kiln_vk_kernel_desc desc = {.source = {.name = "topk", .glsl = src}, .nbuffers = 2, .push_size = 12, .spec = &wg,
                                .nspec = 1};
    if (!s->topk_kernel)
        KILN_TRY(kvk_has_push_descriptors(s->dev) ? kvk_kernel_create_push(s->dev, &desc, &s->topk_kernel)
                                                  : kiln_vk_kernel_create(s->dev, &desc, &s->topk_kernel));
    kiln_vk_kernel *kernel = s->topk_kernel;
    size_t base = off / s->align * s->align;
    kiln_vk_binding b[2] = {{buf, base, off - base + (size_t)n * 4, KILN_VK_READ},
                            {s->pick_buf, 0, (size_t)(2 * k + 1) * 4, KILN_VK_WRITE}};
    uint32_t push[3] = {(uint32_t)n, (uint32_t)k, (uint32_t)((off - base) / 4)};
    kiln_vk_dispatch d = {.kernel = kernel, .bindings = b, .nbindings = 2, .push = push, .push_size = 12,
                          .groups = {1, 1, 1}};
    return kiln_vk_record_dispatch(r, &d);
}

kiln_status kvk_session_step(kvk_session *s, const kiln_tensor_map *inputs, kiln_step_io *io) {
    io->count = 0;
    if (!io->row_output || io->row_len <= 0 || io->topk < 0 || io->topk > KVK_MAX_TOPK ||
        (io->topk == 0 && !io->row) || (io->topk > 0 && (!io->ids || !io->vals)))
        return kiln_error(KILN_ERR_INVALID, "vulkan: step: bad arguments (row output, length, top-k up to %d)",
                          KVK_MAX_TOPK);
    KILN_TRY(resolve_carries(s, io));
    if (io->reset)
        for (int c = 0; c < s->ncarry; c++) s->carry[c].valid = 0;
    int lt = find_output(s, io->row_output);
    if (lt < 0) return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: step: the graph has no output '%s'", io->row_output);
    kiln_tensor_map *map = NULL;
    KILN_TRY(step_inputs(s, inputs, &map));
    kvk_run run;
    kiln_status st = kvk_run_begin(s, map, &run);
    int64_t shape[KILN_MAX_RANK];
    size_t bytes = 0, esize = kiln_dtype_size(s->storage[lt]);
    if (!st) st = kvk_run_shape(s, &run, lt, shape, &bytes);
    int64_t numel = (int64_t)(bytes / esize);
    if (!st && (numel < io->row_len || numel % io->row_len || !run.place[lt].buf))
        st = kiln_error(KILN_ERR_SHAPE, "vulkan: step: output '%s' has %lld elements, not rows of %lld", io->row_output,
                        (long long)numel, (long long)io->row_len);
    size_t row_off = run.place && !st ? run.place[lt].offset + (size_t)(numel - io->row_len) * esize : 0;
    if (!st && io->topk > 0) {
        if (s->storage[lt] != KILN_F32)
            st = kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: step: top-k on the device needs f32 '%s'", io->row_output);
        size_t cap = s->pick_buf ? kiln_vk_buffer_size(s->pick_buf) : 0;
        if (!st) st = kvk_ensure_buffer(s, &s->pick_buf, &cap, (size_t)(2 * KVK_MAX_TOPK + 1) * 4, "top-k picks");
        if (!st) st = record_topk(s, run.rec, run.place[lt].buf, row_off, io->row_len, io->topk);
    }
    if (!st) st = kvk_run_submit(s, &run);
    /* the new caches become the carried ones; the old ones take the next outputs */
    for (int c = 0; !st && c < s->ncarry; c++) {
        kvk_carry *cr = &s->carry[c];
        size_t b;
        st = kvk_run_shape(s, &run, cr->out_tensor, cr->shape, &b);
        kiln_vk_buffer *old = cr->buf;
        size_t oldcap = cr->cap;
        cr->buf = s->tbuf[cr->out_tensor];
        cr->cap = s->tcap[cr->out_tensor];
        s->tbuf[cr->out_tensor] = old;
        s->tcap[cr->out_tensor] = oldcap;
        cr->valid = !st && cr->buf;
    }
    if (!st && io->topk > 0) {
        uint32_t words[2 * KVK_MAX_TOPK + 1];
        st = kiln_vk_buffer_read(s->pick_buf, 0, words, (size_t)(2 * io->topk + 1) * 4);
        int found = st ? 0 : (int)words[2 * io->topk];
        for (int i = 0; i < found && i < io->topk; i++) {
            io->ids[i] = (int32_t)words[i];
            memcpy(&io->vals[i], &words[io->topk + i], 4);
        }
        io->count = found;
    } else if (!st) {
        if (s->storage[lt] == KILN_F32) {
            st = kiln_vk_buffer_read(run.place[lt].buf, row_off, io->row, (size_t)io->row_len * 4);
        } else {
            void *raw = malloc((size_t)io->row_len * esize);
            if (!raw) st = kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
            if (!st) st = kiln_vk_buffer_read(run.place[lt].buf, row_off, raw, (size_t)io->row_len * esize);
            for (int64_t i = 0; !st && i < io->row_len; i++)
                io->row[i] = (float)kiln_load_f64(raw, s->storage[lt], (size_t)i);
            free(raw);
        }
        io->count = (int)io->row_len;
    }
    if (st)
        for (int c = 0; c < s->ncarry; c++) s->carry[c].valid = 0; /* a failed step leaves no half state */
    kvk_run_end(&run);
    kiln_tensor_map_free(map);
    return st ? kiln_error_wrap(st, "generation step of '%s' on vulkan", kiln_graph_name(s->g)) : KILN_OK;
}
