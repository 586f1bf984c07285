/* Sessions: dispatch to the backend of the requested device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/plan.h"
#include "kiln/ref.h"
#include "kiln/session.h"

struct kiln_session {
    const kiln_backend *backend;
    void *state;
};

/* ---- the reference interpreter as a backend ----
 * Weights are bound (and converted, for f16/bf16 files) once per session,
 * not once per run: generation runs a graph per token. */
typedef struct ref_state {
    const kiln_graph *g;
    kiln_bound_params params;
} ref_state;

static kiln_status ref_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                              void **state) {
    (void)opt;
    ref_state *r = calloc(1, sizeof *r);
    if (!r) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    r->g = g;
    kiln_status s = kiln_bind_params(g, weights, &r->params);
    if (s) {
        free(r);
        return s;
    }
    *state = r;
    return KILN_OK;
}

static kiln_status ref_run(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    ref_state *r = state;
    *outputs = NULL;
    kiln_bound_inputs bi;
    KILN_TRY(kiln_bind_inputs(r->g, inputs, &bi));
    int nout = kiln_graph_output_count(r->g);
    kiln_tensor *outs = calloc((size_t)nout + 1, sizeof *outs);
    kiln_tensor_map *map = kiln_tensor_map_new();
    kiln_status s = !outs || !map ? kiln_error(KILN_ERR_NOMEM, "out of memory") : KILN_OK;
    if (!s) s = kiln_ref_run_bound(r->g, &r->params, &bi, outs);
    kiln_bound_inputs_free(&bi);
    int i = 0; /* outputs [i, nout) are still ours to release on failure */
    while (!s && i < nout) {
        s = kiln_tensor_map_put(map, kiln_graph_output_name(r->g, i), outs[i]);
        if (!s) i++;
    }
    if (s) {
        for (int j = i; outs && j < nout; j++) kiln_tensor_release(&outs[j]);
        kiln_tensor_map_free(map);
        map = NULL;
    }
    free(outs);
    *outputs = map;
    return s;
}

static void ref_destroy(void *state) {
    ref_state *r = state;
    kiln_bound_params_free(&r->params);
    free(r);
}

static const kiln_backend ref_backend = {KILN_DEVICE_REF, "ref", ref_create, ref_run, ref_destroy, NULL};

/* ---- fused kernels on the host evaluator: tests fusion and planning
 * without a code generator ---- */
typedef struct kir_state {
    kiln_plan *plan;
    const kiln_tensor_map *weights; /* the plan binds weights per run */
} kir_state;

static kiln_status kir_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                              void **state) {
    (void)opt;
    kir_state *k = calloc(1, sizeof *k);
    if (!k) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = kiln_plan_compile(g, NULL, &k->plan);
    if (s) {
        free(k);
        return s;
    }
    k->weights = weights;
    *state = k;
    return KILN_OK;
}

static kiln_status kir_run(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    kir_state *k = state;
    return kiln_plan_run(k->plan, k->weights, inputs, outputs);
}

static void kir_destroy(void *state) {
    kir_state *k = state;
    kiln_plan_free(k->plan);
    free(k);
}

static const kiln_backend kir_backend = {KILN_DEVICE_KIR, "kir", kir_create, kir_run, kir_destroy, NULL};

/* Backends built into this binary register here; each backend's CMake
 * defines KILN_HAVE_<KIND>_BACKEND for kiln_core when it is compiled in. */
#ifdef KILN_HAVE_CPU_BACKEND
extern const kiln_backend kiln_cpu_backend;
extern const kiln_backend_hooks kiln_cpu_hooks;
#endif
#ifdef KILN_HAVE_VULKAN_BACKEND
extern const kiln_backend kiln_vulkan_backend;
extern const kiln_backend_hooks kiln_vulkan_hooks;
/* 1 when a Vulkan device is usable (for --device auto). */
int kiln_vulkan_available(void);
#endif

static const kiln_backend_hooks *hooks_for(kiln_device_kind kind) {
    switch (kind) {
#ifdef KILN_HAVE_CPU_BACKEND
    case KILN_DEVICE_CPU: return &kiln_cpu_hooks;
#endif
#ifdef KILN_HAVE_VULKAN_BACKEND
    case KILN_DEVICE_VULKAN: return &kiln_vulkan_hooks;
#endif
    default: return NULL;
    }
}

static const kiln_backend *backend_for(kiln_device_kind kind) {
    switch (kind) {
    case KILN_DEVICE_REF: return &ref_backend;
#ifdef KILN_HAVE_CPU_BACKEND
    case KILN_DEVICE_CPU: return &kiln_cpu_backend;
#endif
    case KILN_DEVICE_KIR: return &kir_backend;
#ifdef KILN_HAVE_VULKAN_BACKEND
    case KILN_DEVICE_VULKAN: return &kiln_vulkan_backend;
#endif
    default: return NULL;
    }
}

const char *kiln_device_name(kiln_device_kind kind) {
    static const char *names[] = {"ref", "cpu", "vulkan", "kir"};
    return (unsigned)kind < KILN_DEVICE_KIND_COUNT ? names[kind] : "?";
}

kiln_status kiln_device_parse(const char *text, kiln_device_spec *out) {
    out->index = -1;
    if (strcmp(text, "auto") == 0) {
#ifdef KILN_HAVE_VULKAN_BACKEND
        if (kiln_vulkan_available()) {
            out->kind = KILN_DEVICE_VULKAN;
            return KILN_OK;
        }
#endif
        out->kind = backend_for(KILN_DEVICE_CPU) ? KILN_DEVICE_CPU : KILN_DEVICE_REF;
        return KILN_OK;
    }
    for (int k = 0; k < KILN_DEVICE_KIND_COUNT; k++) {
        const char *name = kiln_device_name((kiln_device_kind)k);
        size_t n = strlen(name);
        if (strncmp(text, name, n) != 0) continue;
        if (text[n] == 0) {
            out->kind = (kiln_device_kind)k;
            return KILN_OK;
        }
        if (text[n] == ':' && k == KILN_DEVICE_VULKAN) {
            char *end;
            long idx = strtol(text + n + 1, &end, 10);
            if (*end || end == text + n + 1 || idx < 0)
                return kiln_error(KILN_ERR_INVALID, "bad device '%s' (expected vulkan:N with N >= 0)", text);
            out->kind = KILN_DEVICE_VULKAN;
            out->index = (int)idx;
            return KILN_OK;
        }
    }
    return kiln_error(KILN_ERR_INVALID, "unknown device '%s' (expected auto, ref, cpu, vulkan, vulkan:N or kir)", text);
}

kiln_status kiln_session_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                                kiln_session **out) {
    kiln_session_options defaults = {{KILN_DEVICE_REF, -1}, 0, 0, 0, NULL};
    if (!opt) opt = &defaults;
    const kiln_backend *b = backend_for(opt->device.kind);
    if (!b)
        return kiln_error(KILN_ERR_UNSUPPORTED, "device '%s' is not built into this kiln (available: %s%s%s%s)",
                          kiln_device_name(opt->device.kind), "ref", backend_for(KILN_DEVICE_CPU) ? ", cpu" : "",
                          backend_for(KILN_DEVICE_VULKAN) ? ", vulkan" : "", backend_for(KILN_DEVICE_KIR) ? ", kir" : "");
    kiln_session *s = calloc(1, sizeof *s);
    if (!s) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    s->backend = b;
    kiln_status st = b->create(g, weights, opt, &s->state);
    if (st) {
        free(s);
        return st;
    }
    *out = s;
    return KILN_OK;
}

kiln_status kiln_session_run(kiln_session *s, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    return s->backend->run(s->state, inputs, outputs);
}

void kiln_session_print_profile(kiln_session *s, void *file) {
    if (s->backend->print_profile) s->backend->print_profile(s->state, file);
    else fprintf(file, "kiln: device '%s' has no per-kernel profile\n", s->backend->name);
}

kiln_device_kind kiln_session_device(const kiln_session *s) { return s->backend->kind; }

kiln_status kiln_session_set_trace(kiln_session *s, const char *path) {
    const kiln_backend_hooks *h = hooks_for(s->backend->kind);
    if (!h || !h->set_trace)
        return kiln_error(KILN_ERR_UNSUPPORTED, "device '%s' cannot write a kernel trace (vulkan can)", s->backend->name);
    return h->set_trace(s->state, path);
}

int kiln_session_step_topk(const kiln_session *s) {
    const kiln_backend_hooks *h = hooks_for(s->backend->kind);
    return h && h->step ? h->max_topk : 0;
}

kiln_status kiln_session_step(kiln_session *s, const kiln_tensor_map *inputs, kiln_step_io *io) {
    const kiln_backend_hooks *h = hooks_for(s->backend->kind);
    if (!h || !h->step)
        return kiln_error(KILN_ERR_UNSUPPORTED, "device '%s' has no device-resident generation step", s->backend->name);
    return h->step(s->state, inputs, io);
}

void kiln_session_free(kiln_session *s) {
    if (!s) return;
    s->backend->destroy(s->state);
    free(s);
}
