/* What a physical device can do: the facts kernels are chosen from and that
 * `kiln devices` prints. Only structures the device's API version or its
 * extensions define are chained, as the validation layer requires. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x14E4: return "Broadcom";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    default: return "unknown";
    }
}

static int has_ext(const VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(e[i].extensionName, name) == 0) return 1;
    return 0;
}

/* A compute queue family, preferring one with timestamps and without
 * graphics (a dedicated compute queue). -1 when there is none. */
static int pick_queue_family(const kiln_vk_instance *inst, VkPhysicalDevice pd, uint32_t *timestamp_bits) {
    uint32_t n = 0;
    inst->fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *q = calloc(n ? n : 1, sizeof *q);
    if (!q) return -1;
    inst->fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    int best = -1, best_score = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[i].queueCount == 0) continue;
        int score = (q[i].timestampValidBits > 0) * 2 + !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT);
        if (score > best_score) {
            best = (int)i;
            best_score = score;
            *timestamp_bits = q[i].timestampValidBits;
        }
    }
    free(q);
    return best;
}

static void query_coopmat(const kiln_vk_instance *inst, kvk_physical *p) {
    kiln_vk_device_info *info = &p->info;
    kvk_pfn_coopmat_props get = inst->fn.vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR;
    if (!get) return;
    uint32_t n = 0;
    if (get(p->pd, &n, NULL) != VK_SUCCESS || n == 0) return;
    kvk_coopmat_properties *props = calloc(n, sizeof *props);
    if (!props) return;
    for (uint32_t i = 0; i < n; i++) props[i].sType = KVK_STYPE_COOPMAT_PROPERTIES;
    VkResult r = get(p->pd, &n, props);
    if (r == VK_SUCCESS || r == VK_INCOMPLETE) {
        for (uint32_t i = 0; i < n && info->ncoopmat < KILN_VK_MAX_COOPMAT; i++) {
            kiln_vk_coopmat_shape *s = &info->coopmat[info->ncoopmat++];
            s->m = props[i].MSize;
            s->n = props[i].NSize;
            s->k = props[i].KSize;
            s->a_type = props[i].AType;
            s->b_type = props[i].BType;
            s->c_type = props[i].CType;
            s->result_type = props[i].ResultType;
            s->saturating = props[i].saturatingAccumulation;
            s->scope = props[i].scope;
        }
    }
    free(props);
}

/* The NV cooperative matrix shape the optional tensor-core matmul uses. */
static void query_nv_coopmat(const kiln_vk_instance *inst, kvk_physical *p) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get = inst->fn.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV;
    uint32_t n = 0;
    if (!get || get(p->pd, &n, NULL) != VK_SUCCESS || n == 0) return;
    VkCooperativeMatrixPropertiesNV *props = calloc(n, sizeof *props);
    if (!props) return;
    for (uint32_t i = 0; i < n; i++) props[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    VkResult r = get(p->pd, &n, props);
    for (uint32_t i = 0; (r == VK_SUCCESS || r == VK_INCOMPLETE) && i < n; i++) {
        const VkCooperativeMatrixPropertiesNV *c = &props[i];
        if (c->MSize == 16 && c->NSize == 16 && c->KSize == 16 && c->AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
            c->BType == VK_COMPONENT_TYPE_FLOAT16_NV && c->CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
            c->DType == VK_COMPONENT_TYPE_FLOAT32_NV && c->scope == VK_SCOPE_SUBGROUP_NV)
            p->nv_coopmat16 = 1;
    }
    free(props);
}

static void query_properties(const kiln_vk_instance *inst, kvk_physical *p, uint32_t api, const VkExtensionProperties *e,
                             uint32_t ne) {
    kiln_vk_device_info *info = &p->info;
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
                                                 .pNext = &sub};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    int has_drv = api >= VK_API_VERSION_1_2 || has_ext(e, ne, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    int has_ssc = api >= VK_API_VERSION_1_3 || has_ext(e, ne, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    if (has_drv) {
        drv.pNext = props.pNext;
        props.pNext = &drv;
    }
    if (has_ssc) {
        ssc.pNext = props.pNext;
        props.pNext = &ssc;
    }
    inst->fn.vkGetPhysicalDeviceProperties2(p->pd, &props);
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;

    snprintf(info->name, sizeof info->name, "%s", props.properties.deviceName);
    info->vendor_id = props.properties.vendorID;
    info->device_id = props.properties.deviceID;
    info->vendor = vendor_name(info->vendor_id);
    info->type = (kiln_vk_device_type)props.properties.deviceType;
    info->api_version = props.properties.apiVersion;
    info->driver_version = props.properties.driverVersion;
    if (has_drv) {
        snprintf(info->driver_name, sizeof info->driver_name, "%s", drv.driverName);
        snprintf(info->driver_info, sizeof info->driver_info, "%s", drv.driverInfo);
    }
    memcpy(p->pipeline_cache_uuid, props.properties.pipelineCacheUUID, VK_UUID_SIZE);
    p->non_coherent_atom = lim->nonCoherentAtomSize;

    info->subgroup_size = sub.subgroupSize;
    info->min_subgroup_size = info->max_subgroup_size = sub.subgroupSize;
    info->subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                                (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
    if (has_ssc && ssc.minSubgroupSize) {
        info->min_subgroup_size = ssc.minSubgroupSize;
        info->max_subgroup_size = ssc.maxSubgroupSize;
    }
    info->max_shared_memory = lim->maxComputeSharedMemorySize;
    for (int i = 0; i < 3; i++) {
        info->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
        info->max_workgroup_count[i] = lim->maxComputeWorkGroupCount[i];
    }
    info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    info->max_push_constants = lim->maxPushConstantsSize;
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->min_storage_buffer_offset_alignment = lim->minStorageBufferOffsetAlignment;
    info->max_memory_allocation_size = m3.maxMemoryAllocationSize;
    info->timestamp_period_ns = lim->timestampPeriod;
}

static void query_features(const kiln_vk_instance *inst, kvk_physical *p, uint32_t api, const VkExtensionProperties *e,
                           uint32_t ne) {
    kiln_vk_device_info *info = &p->info;
    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    kvk_coopmat_features cm = {.sType = KVK_STYPE_COOPMAT_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV nvcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    int core12 = api >= VK_API_VERSION_1_2, core13 = api >= VK_API_VERSION_1_3;
    int has_f16 = core12 || has_ext(e, ne, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    int has_s8 = core12 || has_ext(e, ne, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    int has_ssc = core13 || has_ext(e, ne, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    int has_cm = has_ext(e, ne, KVK_COOPMAT_EXT);
    int has_nvcm = has_ext(e, ne, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    p->ext_vulkan_memory_model = !core12 && has_ext(e, ne, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    int has_vmm = core12 || p->ext_vulkan_memory_model;
    p->ext_push_descriptor = has_ext(e, ne, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
#define CHAIN(cond, s)          \
    if (cond) {                 \
        (s).pNext = f.pNext;    \
        f.pNext = &(s);         \
    }
    CHAIN(has_f16, f16)
    CHAIN(has_s8, s8)
    CHAIN(has_ssc, ssc)
    CHAIN(has_cm, cm)
    CHAIN(has_nvcm, nvcm)
    CHAIN(has_vmm, vmm)
#undef CHAIN
    inst->fn.vkGetPhysicalDeviceFeatures2(p->pd, &f);
    info->storage16 = s16.storageBuffer16BitAccess;
    p->shader_float64 = f.features.shaderFloat64;
    p->shader_int64 = f.features.shaderInt64;
    info->fp16_arithmetic = has_f16 && f16.shaderFloat16;
    info->int8_arithmetic = has_f16 && f16.shaderInt8;
    info->storage8 = has_s8 && s8.storageBuffer8BitAccess;
    info->subgroup_size_control = has_ssc && ssc.subgroupSizeControl && ssc.computeFullSubgroups;
    info->cooperative_matrix = has_cm && cm.cooperativeMatrix;
    /* Extensions enabled at device creation: only those that exist, are not
     * core in this API version, and whose feature is on. */
    p->ext_f16i8 = !core12 && (info->fp16_arithmetic || info->int8_arithmetic);
    p->ext_8bit = !core12 && info->storage8;
    p->ext_subgroup_size_control = !core13 && info->subgroup_size_control;
    p->ext_coopmat = info->cooperative_matrix;
    p->ext_16bit = 0; /* core in 1.1 */
    if (info->cooperative_matrix) query_coopmat(inst, p);
    p->vulkan_memory_model = has_vmm && vmm.vulkanMemoryModel;
    if (has_nvcm && nvcm.cooperativeMatrix) query_nv_coopmat(inst, p);
}

kiln_status kvk_physical_query(kiln_vk_instance *inst, VkPhysicalDevice pd, int index, kvk_physical *p) {
    memset(p, 0, sizeof *p);
    p->pd = pd;
    kiln_vk_device_info *info = &p->info;
    info->index = index;
    info->vendor = "unknown";

    VkPhysicalDeviceProperties base;
    inst->fn.vkGetPhysicalDeviceProperties(pd, &base);
    if (base.apiVersion < VK_API_VERSION_1_1) {
        snprintf(info->name, sizeof info->name, "%s", base.deviceName);
        info->vendor_id = base.vendorID;
        info->vendor = vendor_name(base.vendorID);
        info->type = (kiln_vk_device_type)base.deviceType;
        info->api_version = base.apiVersion;
        snprintf(info->unusable_reason, sizeof info->unusable_reason, "supports Vulkan %u.%u only; kiln needs 1.1",
                 VK_API_VERSION_MAJOR(base.apiVersion), VK_API_VERSION_MINOR(base.apiVersion));
        return KILN_OK;
    }
    /* Limit to what the instance asked for: features of newer versions
     * cannot be used through an older instance. */
    uint32_t api = base.apiVersion < inst->api_version ? base.apiVersion : inst->api_version;

    uint32_t ne = 0;
    KVK_CHECK(inst->fn.vkEnumerateDeviceExtensionProperties(pd, NULL, &ne, NULL), "vkEnumerateDeviceExtensionProperties");
    VkExtensionProperties *e = calloc(ne ? ne : 1, sizeof *e);
    if (!e) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory");
    VkResult r = inst->fn.vkEnumerateDeviceExtensionProperties(pd, NULL, &ne, e);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(e);
        return kvk_fail(r, "vkEnumerateDeviceExtensionProperties");
    }
    query_properties(inst, p, api, e, ne);
    query_features(inst, p, api, e, ne);
    free(e);

    inst->fn.vkGetPhysicalDeviceMemoryProperties(pd, &p->mem);
    info->nheaps = (int)(p->mem.memoryHeapCount < KILN_VK_MAX_HEAPS ? p->mem.memoryHeapCount : KILN_VK_MAX_HEAPS);
    for (int i = 0; i < info->nheaps; i++) {
        info->heaps[i].size = p->mem.memoryHeaps[i].size;
        info->heaps[i].device_local = (p->mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    }

    uint32_t ts = 0;
    int qf = pick_queue_family(inst, pd, &ts);
    if (qf < 0) {
        snprintf(info->unusable_reason, sizeof info->unusable_reason, "has no compute queue");
        return KILN_OK;
    }
    p->queue_family = (uint32_t)qf;
    p->timestamp_bits = ts;
    info->timestamps = ts > 0 && info->timestamp_period_ns > 0;
    info->usable = 1;
    return KILN_OK;
}
