/* Shared by the Vulkan tests (test_vk_*.c): opening a device with the
 * validation layer on, requiring zero validation messages, skipping (or,
 * with KILN_REQUIRE_VULKAN=1 as CI sets it, failing) where there is no
 * Vulkan, a private cache directory, and a small deterministic RNG. */
#ifndef KILN_TEST_VK_UTIL_H
#define KILN_TEST_VK_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/vulkan.h"

/* Under ASan, kiln_core keeps Vulkan drivers and layers loaded and
 * suppresses their allocations (backends/vulkan/vk_sanitizer.c). */

/* VK_MAKE_API_VERSION(0, 1, 1, 0), without including the Vulkan headers */
#define VK_API_VERSION_1_1_FOR_TEST ((1u << 22) | (1u << 12))

static inline int vk_required(void) {
    const char *e = getenv("KILN_REQUIRE_VULKAN");
    return e && *e && strcmp(e, "0") != 0;
}

/* The test's result when Vulkan is absent: a pass with a note, or a failure
 * where Vulkan is required. */
static inline int vk_skip(const char *test, const char *why) {
    if (vk_required()) {
        fprintf(stderr, "%s: FAILED: KILN_REQUIRE_VULKAN is set but %s\n", test, why);
        return 1;
    }
    fprintf(stderr, "%s: skipped: %s (set KILN_REQUIRE_VULKAN=1 to make this a failure)\n", test, why);
    return 0;
}

static char vk_cache_root[256];

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh cache directory for this test run; removed by vk_cache_cleanup. */
static inline const char *vk_cache_dir(void) {
    if (!vk_cache_root[0]) {
        snprintf(vk_cache_root, sizeof vk_cache_root, "/tmp/kiln-vk-test-XXXXXX");
        if (!mkdtemp(vk_cache_root)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return vk_cache_root;
}

static inline void vk_cache_cleanup(void) {
    if (vk_cache_root[0]) nftw(vk_cache_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    vk_cache_root[0] = 0;
}

#ifdef KILN_WITH_VULKAN
typedef struct vk_env {
    kiln_vk_instance *inst;
    kiln_vk_device *dev;
    const kiln_vk_device_info *info;
} vk_env;

/* Opens the best device with validation on. Returns 1 when it did; 0 when
 * Vulkan is missing (*skip_rc then holds the test's exit code). */
static inline int vk_open(vk_env *env, const char *test, int *skip_rc) {
    memset(env, 0, sizeof *env);
    kiln_vk_options opts = {.validation = 1, .cache_dir = vk_cache_dir()};
    kiln_status s = kiln_vk_instance_create(&opts, &env->inst);
    if (s) {
        char why[1024];
        snprintf(why, sizeof why, "no Vulkan: %s", kiln_status_message(s));
        kiln_status_free(s);
        *skip_rc = vk_skip(test, why);
        return 0;
    }
    int index = -1;
    s = kiln_vk_select_device(env->inst, "vulkan", &index);
    if (!s) s = kiln_vk_device_open(env->inst, index, &env->dev);
    if (s) {
        char why[1024];
        snprintf(why, sizeof why, "no usable Vulkan device: %s", kiln_status_message(s));
        kiln_status_free(s);
        kiln_vk_instance_destroy(env->inst);
        *skip_rc = vk_skip(test, why);
        return 0;
    }
    env->info = kiln_vk_device_get_info(env->dev);
    fprintf(stderr, "%s: on vulkan:%d %s (validation %s)\n", test, index, env->info->name,
            kiln_vk_validation_enabled(env->inst) ? "on" : "off");
    return 1;
}

/* Closes the device and requires that the validation layer said nothing. */
static inline void vk_close(vk_env *env) {
    kiln_vk_device_close(env->dev);
    uint64_t n = kiln_vk_validation_messages(env->inst);
    if (n) {
        fprintf(stderr, "validation layer reported %llu message(s) (printed above)\n", (unsigned long long)n);
        test_failures++;
    }
    CHECK(kiln_vk_validation_enabled(env->inst));
    kiln_vk_instance_destroy(env->inst);
    memset(env, 0, sizeof *env);
}

#endif

/* xorshift64*: reproducible inputs without libc's rand state. */
static uint64_t vk_rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t vk_rand(void) {
    vk_rng_state ^= vk_rng_state >> 12;
    vk_rng_state ^= vk_rng_state << 25;
    vk_rng_state ^= vk_rng_state >> 27;
    return vk_rng_state * 0x2545f4914f6cdd1dull;
}
/* Uniform in [lo, hi). */
static inline float vk_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((vk_rand() >> 40) * (1.0 / 16777216.0));
}

#endif
