/* The Vulkan entry of runtime/session.c's backend table: sessions run
 * executable plans through generated GLSL (vk_plan_*.c). `--device auto`
 * picks Vulkan only when the best device is a real GPU: lavapipe and other
 * CPU implementations are slower than the CPU backend. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/session.h"
#include "vk_plan.h"

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_result;

/* Whether a usable, non-CPU Vulkan device exists (no validation, no caches). */
static void probe(void) {
    kiln_vk_options opts = {.no_cache = 1};
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(&opts, &inst);
    int index = -1;
    if (!s) s = kiln_vk_select_device(inst, "vulkan", &index);
    if (!s) {
        const kiln_vk_device_info *d = kiln_vk_device_info_at(inst, index);
        probe_result = d && d->usable && d->type != KILN_VK_TYPE_CPU;
    }
    kiln_status_free(s);
    kiln_vk_instance_destroy(inst);
}

int kiln_vulkan_available(void);
int kiln_vulkan_available(void) {
    pthread_once(&probe_once, probe);
    return probe_result;
}

static kiln_status vk_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                             void **state) {
    *state = NULL;
    kvk_session *s = NULL;
    KILN_TRY(kvk_session_create(NULL, g, weights, opt, NULL, &s));
    *state = s;
    return KILN_OK;
}

static kiln_status vk_run(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    return kvk_session_run(state, inputs, outputs);
}

static void vk_destroy(void *state) { kvk_session_destroy(state); }

static kiln_status vk_set_trace(void *state, const char *path) {
    kvk_session *s = state;
    free(s->trace_path);
    s->trace_path = NULL;
    if (!path) return KILN_OK;
    if (!(s->trace_path = strdup(path))) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    s->profile = 1; /* a trace is the profile's timestamps */
    return KILN_OK;
}

static void vk_print_profile(void *state, void *file) {
    kvk_session *s = state;
    FILE *f = file;
    if (!s->nprof) {
        fprintf(f, "kiln: vulkan: no profile (the device has no timestamps, or nothing ran)\n");
        return;
    }
    fprintf(f, "kiln: vulkan profile of the last run on %s (%d dispatches)\n", kiln_vk_device_get_info(s->dev)->name,
            s->nprof);
    kiln_vk_profile_print(s->prof, s->nprof, f);
}

const kiln_backend kiln_vulkan_backend = {KILN_DEVICE_VULKAN, "vulkan", vk_create, vk_run, vk_destroy, vk_print_profile};
static kiln_status vk_step(void *state, const kiln_tensor_map *inputs, kiln_step_io *io) {
    return kvk_session_step(state, inputs, io);
}

const kiln_backend_hooks kiln_vulkan_hooks = {.set_trace = vk_set_trace, .step = vk_step, .max_topk = KVK_MAX_TOPK};
