/* The driver's pipeline cache, persisted per device and driver build so a
 * second run skips the driver's SPIR-V -> machine code compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static int cache_path(const kiln_vk_device *dev, char *path, size_t cap) {
    char dir[4096];
    kiln_status s = kvk_cache_dir(dev->opts.cache_dir, dir, sizeof dir);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    char sub[4200];
    int w = snprintf(sub, sizeof sub, "%s/pipelines", dir);
    if (w < 0 || (size_t)w >= sizeof sub) return 0;
    s = kvk_cache_dir(sub, dir, sizeof dir);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++) snprintf(uuid + 2 * i, 3, "%02x", dev->phys->pipeline_cache_uuid[i]);
    const kiln_vk_device_info *info = &dev->phys->info;
    int n = snprintf(path, cap, "%s/%04x-%04x-%08x-%s.bin", dir, info->vendor_id, info->device_id, info->driver_version,
                     uuid);
    return n > 0 && (size_t)n < cap;
}

/* Whether data carries this device's pipeline cache header (drivers check
 * too, but some have crashed on foreign data). */
static int header_matches(const kiln_vk_device *dev, const unsigned char *d, size_t n) {
    if (n < 32) return 0;
    uint32_t w[4];
    memcpy(w, d, sizeof w);
    return w[0] >= 32 && w[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && w[2] == dev->phys->info.vendor_id &&
           w[3] == dev->phys->info.device_id && memcmp(d + 16, dev->phys->pipeline_cache_uuid, VK_UUID_SIZE) == 0;
}

kiln_status kvk_pipeline_cache_open(kiln_vk_device *dev) {
    void *data = NULL;
    size_t size = 0;
    char path[4400];
    if (!dev->opts.no_cache && cache_path(dev, path, sizeof path)) {
        kiln_status s = kvk_read_file(path, &data, &size);
        kiln_status_free(s);
        if (data && !header_matches(dev, data, size)) {
            free(data);
            data = NULL;
            size = 0;
        }
    }
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = data ? size : 0,
        .pInitialData = data,
    };
    VkResult r = dev->fn.vkCreatePipelineCache(dev->device, &ci, NULL, &dev->pipeline_cache);
    if (r != VK_SUCCESS && data) { /* a driver that rejects old data: start empty */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = dev->fn.vkCreatePipelineCache(dev->device, &ci, NULL, &dev->pipeline_cache);
    }
    free(data);
    if (r != VK_SUCCESS) return kvk_fail(r, "vkCreatePipelineCache");
    dev->pipeline_cache_loaded_size = ci.initialDataSize;
    return KILN_OK;
}

void kvk_pipeline_cache_close(kiln_vk_device *dev) {
    if (!dev->pipeline_cache) return;
    char path[4400];
    if (!dev->opts.no_cache && dev->stats.pipelines > 0 && cache_path(dev, path, sizeof path)) {
        size_t size = 0;
        if (dev->fn.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, NULL) == VK_SUCCESS && size &&
            size != dev->pipeline_cache_loaded_size) {
            void *data = malloc(size);
            if (data && dev->fn.vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size, data) == VK_SUCCESS)
                kiln_status_free(kvk_write_file_atomic(path, data, size));
            free(data);
        }
    }
    dev->fn.vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
    dev->pipeline_cache = VK_NULL_HANDLE;
}
