/* Softmax over the last axis (shaders/softmax.comp): one workgroup per
 * row, subgroup reductions where the device has them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_recorder.h"
#include "vk_shaders.h"

/* A power of two between 32 and 256 threads, about one per element for
 * short rows; never below the subgroup size. */
static uint32_t pick_workgroup(const kiln_vk_device_info *info, uint32_t n) {
    uint32_t wg = 32;
    while (wg < 256 && wg < n) wg *= 2;
    while (wg < info->subgroup_size && wg < 1024) wg *= 2;
    while (wg > info->max_workgroup_invocations || wg > info->max_workgroup_size[0]) wg /= 2;
    return wg;
}

kiln_status kiln_vk_record_softmax(kiln_vk_recorder *r, kiln_vk_binding x, kiln_vk_binding y, uint32_t rows, uint32_t n) {
    if (!r) return kiln_error(KILN_ERR_INVALID, "kiln_vk_record_softmax: recorder is NULL");
    if (rows == 0 || n == 0) return KILN_OK;
    kiln_vk_device *dev = r->dev;
    const kiln_vk_device_info *info = &dev->phys->info;
    uint64_t need = (uint64_t)rows * n * 4;
    if (!x.buffer || !y.buffer) return kiln_error(KILN_ERR_INVALID, "vulkan: softmax: a buffer is NULL");
    if (kvk_binding_bytes(&x) < need || kvk_binding_bytes(&y) < need)
        return kiln_error(KILN_ERR_SHAPE, "vulkan: softmax of %u x %u needs %llu bytes; input '%s' binds %llu, output "
                          "'%s' binds %llu", rows, n, (unsigned long long)need, x.buffer->name,
                          (unsigned long long)kvk_binding_bytes(&x), y.buffer->name,
                          (unsigned long long)kvk_binding_bytes(&y));
    const char *src = kvk_shader_source("softmax");
    if (!src) return kiln_error(KILN_ERR_INTERNAL, "vulkan: the softmax shader is not embedded");
    uint32_t wg = pick_workgroup(info, n);
    /* KILN_VK_DISABLE_SUBGROUPS=1 takes the shared-memory path: for drivers
     * with broken subgroup operations, and to test that path anywhere. */
    const char *off = getenv("KILN_VK_DISABLE_SUBGROUPS");
    int sg = info->subgroup_arithmetic && !(off && *off && strcmp(off, "0") != 0);
    char key[96];
    snprintf(key, sizeof key, "softmax/%u/%s", wg, sg ? "subgroup" : "shared");
    kiln_vk_define def = {"USE_SUBGROUPS", "1"};
    kiln_vk_kernel_desc desc = {
        .source = {.name = "softmax", .glsl = src, .defines = &def, .ndefines = sg},
        .nbuffers = 2,
        .push_size = 8,
        .spec = &wg,
        .nspec = 1,
    };
    kiln_vk_kernel *k;
    KILN_TRY(kvk_builtin_kernel(dev, key, &desc, &k));
    x.access = KILN_VK_READ;
    y.access = KILN_VK_WRITE;
    kiln_vk_binding b[2] = {x, y};
    uint32_t push[2] = {rows, n};
    kiln_vk_dispatch d = {.kernel = k, .bindings = b, .nbindings = 2, .push = push, .push_size = sizeof push};
    KILN_TRY(kiln_vk_grid_1d(dev, rows, d.groups));
    return kiln_vk_record_dispatch(r, &d);
}
