/* Running graphs through Vulkan sessions (backends/vulkan/vk_plan.h) on
 * one shared device with the validation layer on, against the reference
 * interpreter on the same random data: unfused (one kernel per op) and
 * fused, for several symbol bindings. */
#ifndef KILN_TEST_VK_PLAN_UTIL_H
#define KILN_TEST_VK_PLAN_UTIL_H

#include "test_pass_util.h"
#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
#include "backends/vulkan/vk_plan.h"

static vk_env vp_env;
static int vp_validation;

/* Opens the shared device, with the validation layer unless
 * KILN_TEST_VK_VALIDATION=0 (machines without the layer, such as the lent
 * GPU: bench/vk_device_build.sh). Returns 0 (with *rc the exit code) when
 * there is no Vulkan. */
static inline int vp_open(const char *test, int *rc) {
    const char *e = getenv("KILN_TEST_VK_VALIDATION");
    vp_validation = !(e && strcmp(e, "0") == 0);
    if (vp_validation) {
        setenv("KILN_VK_VALIDATION", "1", 1); /* sessions on their own devices validate too */
        return vk_open(&vp_env, test, rc);
    }
    memset(&vp_env, 0, sizeof vp_env);
    kiln_vk_options opts = {.cache_dir = vk_cache_dir()};
    kiln_status s = kiln_vk_open(&opts, "vulkan", &vp_env.dev);
    if (s) {
        *rc = vk_skip(test, kiln_status_message(s));
        kiln_status_free(s);
        return 0;
    }
    vp_env.info = kiln_vk_device_get_info(vp_env.dev);
    fprintf(stderr, "%s: on %s (validation off: KILN_TEST_VK_VALIDATION=0)\n", test, vp_env.info->name);
    return 1;
}

static inline void vp_close(void) {
    if (vp_validation) vk_close(&vp_env);
    else kiln_vk_device_close(vp_env.dev);
    vk_cache_cleanup();
}

/* Runs g (weights and inputs drawn per binding) on a session over the
 * shared device; the outputs, or NULL with a failure counted. */
static inline kiln_tensor_map *vp_run(const kiln_graph *g, const kiln_tensor_map *w, const kiln_tensor_map *in,
                                      const kiln_session_options *so, int fuse, const char *what) {
    kiln_plan_options po = {NULL, 0, !fuse};
    kvk_session *s = NULL;
    kiln_tensor_map *out = NULL;
    kiln_status st = kvk_session_create(vp_env.dev, g, w, so, &po, &s);
    if (!st) st = kvk_session_run(s, in, &out);
    kvk_session_destroy(s);
    if (st) {
        fprintf(stderr, "%s (%s): %s\n", what, fuse ? "fused" : "unfused", kiln_status_message(st));
        kiln_status_free(st);
        test_failures++;
        return NULL;
    }
    return out;
}

/* Compares vulkan (fused and unfused) with the reference for each binding. */
static inline void vp_check(const kiln_graph *g, const tp_sym *const *bindings, int64_t int_hi, double rtol,
                            double atol, const kiln_session_options *so, const char *what) {
    for (int b = 0; bindings[b]; b++) {
        kiln_tensor_map *w, *in;
        tp_feed(g, bindings[b], int_hi, (uint64_t)(b + 11), &w, &in);
        kiln_tensor_map *want = tp_ref(g, w, in);
        for (int fuse = 0; fuse < 2 && want; fuse++) {
            kiln_tensor_map *got = vp_run(g, w, in, so, fuse, what);
            if (got && !tp_maps_close(want, got, rtol, atol, what)) {
                fprintf(stderr, "  (%s, binding %d)\n", fuse ? "fused" : "unfused", b);
                test_failures++;
            }
            kiln_tensor_map_free(got);
        }
        kiln_tensor_map_free(want);
        kiln_tensor_map_free(w);
        kiln_tensor_map_free(in);
    }
}
#endif

#endif
