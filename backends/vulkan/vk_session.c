/* The Vulkan entry of runtime/session.c's backend table. The runtime,
 * kernels and recorder exist; compiling whole graphs (GLSL codegen for fused
 * groups) does not yet, so sessions are refused with a message saying so,
 * and `--device auto` does not pick Vulkan until they can run. */
#include <pthread.h>

#include "kiln/session.h"
#include "vk_internal.h"

/* Flip when kiln_vulkan_backend.create compiles graphs. */
#define KVK_RUNS_GRAPHS 0

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_result;

static void probe(void) {
    kiln_vk_options opts = {.no_cache = 1};
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(&opts, &inst);
    int index = -1;
    if (!s) s = kiln_vk_select_device(inst, "vulkan", &index);
    probe_result = s == KILN_OK;
    kiln_status_free(s);
    kiln_vk_instance_destroy(inst);
}

int kiln_vulkan_available(void);
int kiln_vulkan_available(void) {
    if (!KVK_RUNS_GRAPHS) return 0;
    pthread_once(&probe_once, probe);
    return probe_result;
}

static kiln_status vk_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                             void **state) {
    (void)g;
    (void)weights;
    (void)opt;
    (void)probe;
    *state = NULL;
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "vulkan: running graphs on Vulkan is not implemented yet (kernels and the runtime exist; graph "
                      "codegen does not); use --device cpu or --device ref");
}

static kiln_status vk_run(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    (void)state;
    (void)inputs;
    (void)outputs;
    return kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: running graphs on Vulkan is not implemented yet");
}

static void vk_destroy(void *state) { (void)state; }

const kiln_backend kiln_vulkan_backend = {KILN_DEVICE_VULKAN, "vulkan", vk_create, vk_run, vk_destroy, NULL};
