/* Opening a device: one compute queue, the optional features kernels may
 * use (16/8-bit storage, fp16/int8 arithmetic, subgroup size control,
 * cooperative matrix), a command pool and the pipeline cache. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static kiln_status load_device_fns(kiln_vk_device *dev) {
    PFN_vkGetDeviceProcAddr gdpa = dev->inst->fn.vkGetDeviceProcAddr;
#define KVK_LOAD_DEVICE(name)                                                      \
    dev->fn.name = (PFN_##name)gdpa(dev->device, #name);                           \
    if (!dev->fn.name) return kiln_error(KILN_ERR_DEVICE, "vulkan: the driver lacks %s", #name);
    KVK_DEVICE_FNS(KVK_LOAD_DEVICE)
#undef KVK_LOAD_DEVICE
    return KILN_OK;
}

static kiln_status create_device(kiln_vk_device *dev) {
    const kvk_physical *p = dev->phys;
    const kiln_vk_device_info *info = &p->info;
    kiln_vk_instance *inst = dev->inst;

    VkPhysicalDeviceFeatures2 have = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    inst->fn.vkGetPhysicalDeviceFeatures2(p->pd, &have);
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f.features.shaderInt64 = have.features.shaderInt64;
    f.features.shaderInt16 = have.features.shaderInt16;
    f.features.shaderFloat64 = have.features.shaderFloat64; /* f64 graphs, exact fmod */

    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    kvk_coopmat_features cm = {.sType = KVK_STYPE_COOPMAT_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV nvcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    const char *exts[12];
    uint32_t nexts = 0;
#define CHAIN(s)             \
    do {                     \
        (s).pNext = f.pNext; \
        f.pNext = &(s);      \
    } while (0)
    if (info->storage16) {
        s16.storageBuffer16BitAccess = VK_TRUE;
        CHAIN(s16);
    }
    if (info->fp16_arithmetic || info->int8_arithmetic) {
        f16.shaderFloat16 = (VkBool32)info->fp16_arithmetic;
        f16.shaderInt8 = (VkBool32)info->int8_arithmetic;
        CHAIN(f16);
        if (p->ext_f16i8) exts[nexts++] = VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME;
    }
    if (info->storage8) {
        s8.storageBuffer8BitAccess = VK_TRUE;
        CHAIN(s8);
        if (p->ext_8bit) exts[nexts++] = VK_KHR_8BIT_STORAGE_EXTENSION_NAME;
    }
    if (info->subgroup_size_control) {
        ssc.subgroupSizeControl = VK_TRUE;
        ssc.computeFullSubgroups = VK_TRUE;
        CHAIN(ssc);
        if (p->ext_subgroup_size_control) exts[nexts++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    }
    if (info->cooperative_matrix) {
        cm.cooperativeMatrix = VK_TRUE;
        CHAIN(cm);
        exts[nexts++] = KVK_COOPMAT_EXT;
    }
    /* the optional, untested tensor-core matmul: only when asked for */
    const char *cmenv = getenv("KILN_VK_COOPMAT");
    if (cmenv && strcmp(cmenv, "1") == 0 && p->nv_coopmat16 && p->vulkan_memory_model && info->fp16_arithmetic &&
        info->subgroup_size == 32) {
        nvcm.cooperativeMatrix = VK_TRUE;
        CHAIN(nvcm);
        vmm.vulkanMemoryModel = VK_TRUE;
        CHAIN(vmm);
        exts[nexts++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
        if (p->ext_vulkan_memory_model) exts[nexts++] = VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME;
        dev->nv_coopmat = 1;
    }
#undef CHAIN
    if (p->ext_push_descriptor) exts[nexts++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo q = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = p->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &q,
        .enabledExtensionCount = nexts,
        .ppEnabledExtensionNames = exts,
    };
    KVK_CHECK(inst->fn.vkCreateDevice(p->pd, &ci, NULL, &dev->device), "vkCreateDevice for '%s'", info->name);
    KILN_TRY(load_device_fns(dev));
    if (p->ext_push_descriptor)
        dev->vkCmdPushDescriptorSetKHR =
            (PFN_vkCmdPushDescriptorSetKHR)inst->fn.vkGetDeviceProcAddr(dev->device, "vkCmdPushDescriptorSetKHR");
    dev->fn.vkGetDeviceQueue(dev->device, p->queue_family, 0, &dev->queue);

    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = p->queue_family,
    };
    KVK_CHECK(dev->fn.vkCreateCommandPool(dev->device, &pci, NULL, &dev->cmd_pool), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = dev->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    KVK_CHECK(dev->fn.vkAllocateCommandBuffers(dev->device, &ai, &dev->oneshot_cmd), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    KVK_CHECK(dev->fn.vkCreateFence(dev->device, &fci, NULL, &dev->oneshot_fence), "vkCreateFence");
    return KILN_OK;
}

static void set_memory_defaults(kiln_vk_device *dev) {
    const kiln_vk_device_info *info = &dev->phys->info;
    VkDeviceSize align = info->min_storage_buffer_offset_alignment;
    if (align < 16) align = 16;
    dev->alignment = align;
    VkDeviceSize block = 256ull << 20;
    if (info->max_memory_allocation_size && block > info->max_memory_allocation_size)
        block = info->max_memory_allocation_size;
    dev->block_size = block;
}

kiln_status kiln_vk_device_open(kiln_vk_instance *inst, int index, kiln_vk_device **out) {
    if (!inst || !out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_device_open: NULL argument");
    *out = NULL;
    if (index < 0 || index >= inst->ndevices)
        return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: device %d does not exist (there are %d)", index, inst->ndevices);
    const kvk_physical *p = &inst->devices[index];
    if (!p->info.usable)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: device %d (%s) %s; " KVK_CPU_HINT, index, p->info.name,
                          p->info.unusable_reason);
    kiln_vk_device *dev = calloc(1, sizeof *dev);
    if (!dev) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory");
    dev->inst = inst;
    dev->phys = p;
    dev->opts.no_cache = inst->no_cache;
    dev->opts.cache_dir = inst->cache_dir;
    dev->opts.validation = inst->validation;
    set_memory_defaults(dev);
    kiln_status s = create_device(dev);
    if (!s) s = kvk_pipeline_cache_open(dev);
    if (s) {
        kiln_vk_device_close(dev);
        return kiln_error_wrap(s, "opening vulkan:%d (%s)", index, p->info.name);
    }
    *out = dev;
    return KILN_OK;
}

kiln_status kiln_vk_open(const kiln_vk_options *opts, const char *spec, kiln_vk_device **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_open: out is NULL");
    *out = NULL;
    kiln_vk_instance *inst = NULL;
    KILN_TRY(kiln_vk_instance_create(opts, &inst));
    int index = -1;
    kiln_status s = kiln_vk_select_device(inst, spec, &index);
    if (!s) s = kiln_vk_device_open(inst, index, out);
    if (s) {
        kiln_vk_instance_destroy(inst);
        return s;
    }
    (*out)->owns_instance = 1;
    return KILN_OK;
}

void kiln_vk_device_close(kiln_vk_device *dev) {
    if (!dev) return;
    if (dev->device && !dev->fn.vkCmdFillBuffer) {
        /* resolving entry points failed part way: nothing else was made */
        if (dev->fn.vkDestroyDevice) dev->fn.vkDestroyDevice(dev->device, NULL);
    } else if (dev->device) {
        dev->fn.vkDeviceWaitIdle(dev->device);
        kvk_builtins_release(dev);
        kvk_kernels_release(dev);
        kvk_desc_release(dev);
        kvk_layouts_release(dev);
        kvk_pipeline_cache_close(dev);
        kvk_memory_release_all(dev);
        kvk_staging_release(dev);
        if (dev->oneshot_fence) dev->fn.vkDestroyFence(dev->device, dev->oneshot_fence, NULL);
        if (dev->cmd_pool) dev->fn.vkDestroyCommandPool(dev->device, dev->cmd_pool, NULL);
        dev->fn.vkDestroyDevice(dev->device, NULL);
    }
    kiln_vk_instance *inst = dev->owns_instance ? dev->inst : NULL;
    free(dev);
    kiln_vk_instance_destroy(inst);
}

const kiln_vk_device_info *kiln_vk_device_get_info(const kiln_vk_device *dev) { return dev ? &dev->phys->info : NULL; }

kiln_vk_instance *kiln_vk_device_instance(kiln_vk_device *dev) { return dev ? dev->inst : NULL; }

void kiln_vk_device_get_stats(const kiln_vk_device *dev, kiln_vk_device_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (dev) *out = dev->stats;
}
