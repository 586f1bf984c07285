/* A Vulkan session's one-time work: open the device, compile the plan,
 * upload weights and constants to device-local memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/runtime.h"
#include "vk_plan.h"

static kiln_status oom(void) { return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory"); }

kiln_status kvk_ensure_buffer(kvk_session *s, kiln_vk_buffer **buf, size_t *cap, size_t bytes, const char *name) {
    if (bytes == 0) bytes = 16;
    if (*buf && *cap >= bytes) return KILN_OK;
    /* room to grow: a decode step's caches and arena grow by a little each time */
    size_t want = *buf ? *cap + *cap / 2 : bytes;
    if (want < bytes) want = bytes;
    want = (want + 255) & ~(size_t)255;
    kiln_vk_buffer_destroy(*buf);
    *buf = NULL;
    *cap = 0;
    kiln_status st = kiln_vk_buffer_create(s->dev, want, name, buf);
    if (st && want > bytes) { /* the extra room may be what does not fit */
        kiln_status_free(st);
        want = (bytes + 255) & ~(size_t)255;
        st = kiln_vk_buffer_create(s->dev, want, name, buf);
    }
    if (st && kiln_status_code(st) == KILN_ERR_NOMEM) {
        kiln_status hint = kiln_error(KILN_ERR_NOMEM, "%s (try fewer tokens or a smaller batch, --precision fp16, or "
                                      "--device cpu)", kiln_status_message(st));
        kiln_status_free(st);
        return hint;
    }
    if (st) return st;
    *cap = want;
    return KILN_OK;
}

/* The element type a plan tensor has on the device. */
static kiln_dtype storage_of(const kvk_session *s, const kiln_ptensor *t) {
    if (s->fp16 && t->dtype == KILN_F32 &&
        (t->kind == KILN_PT_PARAM || t->kind == KILN_PT_CONST || t->kind == KILN_PT_INTERMEDIATE))
        return KILN_F16;
    return t->dtype;
}

/* Copies host data (of dtype `from`) to a new device buffer of the tensor's storage type. */
static kiln_status upload(kvk_session *s, int t, const kiln_tensor *host, const char *what) {
    const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
    size_t n = (size_t)kiln_tensor_numel(host);
    if (n == 0) return KILN_OK;
    kiln_tensor conv;
    const kiln_tensor *src = host;
    memset(&conv, 0, sizeof conv);
    if (host->dtype != s->storage[t]) {
        KILN_TRY(kiln_tensor_convert(host, s->storage[t], &conv));
        src = &conv;
    }
    size_t bytes = n * kiln_dtype_size(s->storage[t]);
    char name[160];
    snprintf(name, sizeof name, "%s '%s'", what, pt->name ? pt->name : "(unnamed)");
    kiln_status st = kvk_ensure_buffer(s, &s->tbuf[t], &s->tcap[t], bytes, name);
    if (!st) st = kiln_vk_buffer_write(s->tbuf[t], 0, src->data, bytes);
    kiln_tensor_release(&conv);
    return st;
}

static kiln_status upload_weights(kvk_session *s, const kiln_tensor_map *weights) {
    kiln_bound_params bp;
    KILN_TRY(kiln_bind_params(s->g, weights, &bp));
    kiln_status st = KILN_OK;
    for (int t = 0; !st && t < kiln_plan_tensor_count(s->plan); t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(s->plan, t);
        if (pt->kind == KILN_PT_PARAM) {
            const kiln_tensor *host = NULL;
            for (int i = 0; i < bp.count; i++)
                if (bp.nodes[i] == pt->node) host = &bp.tensors[i];
            if (!host) st = kiln_error(KILN_ERR_NOT_FOUND, "vulkan: parameter '%s' was not bound", pt->name);
            else st = upload(s, t, host, "weight");
        } else if (pt->kind == KILN_PT_CONST) {
            const kiln_node *n = kiln_graph_node(s->g, pt->node);
            int64_t shape[KILN_MAX_RANK];
            st = kiln_shape_eval(s->g, &pt->shape, NULL, shape);
            if (!st) {
                kiln_tensor host = kiln_tensor_view(pt->dtype, pt->shape.rank, shape, n->value.data);
                st = upload(s, t, &host, "constant");
            }
        }
    }
    kiln_bound_params_free(&bp);
    return st;
}

static void init_cg(kvk_session *s) {
    const kiln_vk_device_info *info = kiln_vk_device_get_info(s->dev);
    uint64_t align = info->min_storage_buffer_offset_alignment;
    if (align < 16) align = 16;
    while (align % 16) align *= 2; /* every element size divides a chunk */
    s->align = align;
    uint64_t range = info->max_storage_buffer_range;
    /* tests: pretend ranges are small to exercise split tensors */
    const char *e = getenv("KILN_VK_MAX_RANGE");
    if (e && *e && strtoull(e, NULL, 10) >= 4 * align && strtoull(e, NULL, 10) < range) range = strtoull(e, NULL, 10);
    s->cg.subgroup_size = info->subgroup_size;
    const char *off = getenv("KILN_VK_DISABLE_SUBGROUPS");
    s->cg.subgroup_arithmetic = info->subgroup_arithmetic && !(off && *off && strcmp(off, "0") != 0);
    s->cg.max_shared = info->max_shared_memory;
    s->cg.chunk_bytes = range / align * align;
    s->cg.float64 = s->dev->phys->shader_float64;
    s->cg.int64 = s->dev->phys->shader_int64;
    s->cg.nv_coopmat = s->dev->nv_coopmat;
}

static kiln_status open_device(const kiln_session_options *opt, kvk_session *s) {
    kiln_vk_options vo = {.no_cache = opt->no_cache};
    char spec[32];
    if (opt->device.index >= 0) snprintf(spec, sizeof spec, "vulkan:%d", opt->device.index);
    else snprintf(spec, sizeof spec, "vulkan");
    return kiln_vk_open(&vo, spec, &s->dev);
}

kiln_status kvk_session_create(kiln_vk_device *dev, const kiln_graph *g, const kiln_tensor_map *weights,
                               const kiln_session_options *opt, const kiln_plan_options *plan_opts, kvk_session **out) {
    *out = NULL;
    kiln_session_options defaults = {.device = {KILN_DEVICE_VULKAN, -1}};
    if (!opt) opt = &defaults;
    int fp16 = 0;
    if (opt->precision && *opt->precision) {
        if (strcmp(opt->precision, "fp16") == 0) fp16 = 1;
        else if (strcmp(opt->precision, "fp32") != 0)
            return kiln_error(KILN_ERR_INVALID, "vulkan: unknown precision '%s' (expected fp32 or fp16)", opt->precision);
    }
    kvk_session *s = calloc(1, sizeof *s);
    if (!s) return oom();
    s->fp16 = fp16;
    s->profile = opt->profile;
    kiln_status st = KILN_OK;
    s->dev = dev;
    if (!dev) {
        st = open_device(opt, s);
        s->owns_dev = !st;
    }
    if (!st && fp16 && !kiln_vk_device_get_info(s->dev)->storage16)
        st = kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: --precision fp16 needs 16-bit storage buffers, which '%s' lacks; "
                        "use --precision fp32", kiln_vk_device_get_info(s->dev)->name);
    /* no kernel may need more storage buffers than a shader can bind */
    if (!st) st = kiln_plan_compile_limited(g, plan_opts, KILN_VK_MAX_BINDINGS, &s->plan);
    if (!st) {
        init_cg(s);
        s->g = kiln_plan_graph(s->plan);
        int nt = kiln_plan_tensor_count(s->plan);
        s->nkerns = kiln_plan_kernel_count(s->plan);
        s->storage = calloc((size_t)nt + 1, sizeof *s->storage);
        s->tbuf = calloc((size_t)nt + 1, sizeof *s->tbuf);
        s->tcap = calloc((size_t)nt + 1, sizeof *s->tcap);
        s->kerns = calloc((size_t)s->nkerns + 1, sizeof *s->kerns);
        if (!s->storage || !s->tbuf || !s->tcap || !s->kerns) st = oom();
        for (int t = 0; !st && t < nt; t++) s->storage[t] = storage_of(s, kiln_plan_tensor(s->plan, t));
        for (int i = 0; !st && i < s->nkerns; i++) st = kvk_kinfo_init(kiln_plan_kernel(s->plan, i), &s->kerns[i].ki);
    }
    if (!st) st = kiln_vk_buffer_create(s->dev, 256, "empty tensor", &s->dummy);
    uint64_t msgs = s->dev ? kiln_vk_validation_messages(kiln_vk_device_instance(s->dev)) : 0;
    if (!st) st = upload_weights(s, weights);
    if (!st) {
        kiln_vk_instance *inst = kiln_vk_device_instance(s->dev);
        s->validation_seen = kiln_vk_validation_messages(inst);
        if (kiln_vk_validation_enabled(inst) && s->validation_seen != msgs)
            st = kiln_error(KILN_ERR_DEVICE, "vulkan: the validation layer reported %llu message(s) uploading weights",
                            (unsigned long long)(s->validation_seen - msgs));
    }
    if (st) {
        kvk_session_destroy(s);
        return st;
    }
    *out = s;
    return KILN_OK;
}

void kvk_session_destroy(kvk_session *s) {
    if (!s) return;
    for (int i = 0; s->kerns && i < s->nkerns; i++) {
        for (int v = 0; v < s->kerns[i].nvars; v++) {
            kiln_vk_kernel_destroy(s->kerns[i].vars[v].kernel);
            free(s->kerns[i].vars[v].key);
        }
        free(s->kerns[i].vars);
        kvk_kinfo_free(&s->kerns[i].ki);
    }
    free(s->kerns);
    kiln_vk_kernel_destroy(s->topk_kernel);
    if (!s->owns_dev && s->dev) { /* the device lives on: give its memory back */
        int nt = s->plan ? kiln_plan_tensor_count(s->plan) : 0;
        for (int t = 0; s->tbuf && t < nt; t++) kiln_vk_buffer_destroy(s->tbuf[t]);
        for (int c = 0; c < s->ncarry; c++) kiln_vk_buffer_destroy(s->carry[c].buf);
        kiln_vk_buffer_destroy(s->arena);
        kiln_vk_buffer_destroy(s->dummy);
        kiln_vk_buffer_destroy(s->pick_buf);
    }
    for (int i = 0; i < s->nprof; i++) free((char *)s->prof[i].name);
    free(s->prof);
    for (int c = 0; c < s->ncarry; c++) {
        free(s->carry[c].in_name);
        free(s->carry[c].out_name);
    }
    free(s->carry);
    free(s->storage);
    free(s->tbuf);
    free(s->tcap);
    free(s->trace_path);
    kiln_plan_free(s->plan);
    if (s->owns_dev) kiln_vk_device_close(s->dev); /* frees every buffer and kernel still on it */
    free(s);
}
