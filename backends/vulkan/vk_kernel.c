/* Compute kernels: GLSL through the SPIR-V cache into a pipeline (through
 * the driver's pipeline cache), memoized per device by content. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static void kernel_key(const kiln_vk_kernel_desc *d, int push_desc, uint64_t key[2]) {
    kvk_hasher h;
    kvk_hash_init(&h);
    kvk_hash_str(&h, push_desc ? "kiln-kernel-push-1" : "kiln-kernel-1");
    kvk_hash_str(&h, d->source.glsl);
    kvk_hash_u64(&h, (uint64_t)(d->source.vulkan_target ? d->source.vulkan_target : 11));
    kvk_hash_u64(&h, (uint64_t)d->source.ndefines);
    for (int i = 0; i < d->source.ndefines; i++) {
        kvk_hash_str(&h, d->source.defines[i].name);
        kvk_hash_str(&h, d->source.defines[i].value ? d->source.defines[i].value : "");
    }
    kvk_hash_u64(&h, (uint64_t)d->nbuffers);
    kvk_hash_u64(&h, d->push_size);
    kvk_hash_u64(&h, (uint64_t)d->nspec);
    for (int i = 0; i < d->nspec; i++) kvk_hash_u64(&h, d->spec[i]);
    kvk_hash_final(&h, key);
}

static kiln_status check_desc(const kiln_vk_device *dev, const kiln_vk_kernel_desc *d, const char *name) {
    if (!d->source.glsl) return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' has no GLSL source", name);
    if (d->nbuffers < 0 || d->nbuffers > KILN_VK_MAX_BINDINGS)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s' has %d buffers; at most %d are supported", name,
                          d->nbuffers, KILN_VK_MAX_BINDINGS);
    if (d->push_size % 4 || d->push_size > dev->phys->info.max_push_constants)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': %u bytes of push constants (need a multiple of 4, at "
                          "most %u on '%s')", name, d->push_size, dev->phys->info.max_push_constants,
                          dev->phys->info.name);
    if (d->nspec < 0 || d->nspec > KILN_VK_MAX_SPEC || (d->nspec && !d->spec))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': bad specialization constants (%d, at most %d)", name,
                          d->nspec, KILN_VK_MAX_SPEC);
    for (int i = 0; i < d->source.ndefines; i++)
        if (!d->source.defines || !d->source.defines[i].name)
            return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': define %d has no name", name, i);
    return KILN_OK;
}

static kiln_status make_pipeline(kiln_vk_device *dev, const kiln_vk_kernel_desc *d, kiln_vk_kernel *k) {
    kiln_vk_spirv spv;
    KILN_TRY(kiln_vk_compile_glsl(&dev->opts, &d->source, &spv));
    if (spv.from_cache) dev->stats.shader_cache_hits++;
    else dev->stats.shader_compiles++;
    VkShaderModuleCreateInfo mci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = spv.nwords * 4,
        .pCode = spv.words,
    };
    VkShaderModule module;
    VkResult r = dev->fn.vkCreateShaderModule(dev->device, &mci, NULL, &module);
    kiln_vk_spirv_free(&spv);
    if (r != VK_SUCCESS) return kvk_fail(r, "vkCreateShaderModule for kernel '%s'", k->name);
    kiln_status s = k->push_descriptors ? kvk_pipeline_layout_push(dev, d->nbuffers, d->push_size, &k->layout)
                                        : kvk_pipeline_layout(dev, d->nbuffers, d->push_size, &k->layout);
    if (s) {
        dev->fn.vkDestroyShaderModule(dev->device, module, NULL);
        return s;
    }
    VkSpecializationMapEntry map[KILN_VK_MAX_SPEC];
    for (int i = 0; i < d->nspec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = (uint32_t)(4 * i), .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = (uint32_t)d->nspec,
        .pMapEntries = map,
        .dataSize = (size_t)d->nspec * 4,
        .pData = d->spec,
    };
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = d->nspec ? &spec : NULL,
            },
        .layout = k->layout,
    };
    r = dev->fn.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &ci, NULL, &k->pipeline);
    dev->fn.vkDestroyShaderModule(dev->device, module, NULL);
    if (r != VK_SUCCESS) return kvk_fail(r, "creating the pipeline of kernel '%s'", k->name);
    dev->stats.pipelines++;
    return KILN_OK;
}

static kiln_status kernel_create(kiln_vk_device *dev, const kiln_vk_kernel_desc *d, int push_desc,
                                 kiln_vk_kernel **out) {
    if (!dev || !d || !out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_kernel_create: NULL argument");
    *out = NULL;
    const char *name = d->source.name ? d->source.name : "(unnamed)";
    KILN_TRY(check_desc(dev, d, name));
    uint64_t key[2];
    kernel_key(d, push_desc, key);
    for (kiln_vk_kernel *k = dev->kernels; k; k = k->next)
        if (k->key[0] == key[0] && k->key[1] == key[1]) {
            k->refs++;
            *out = k;
            return KILN_OK;
        }
    kiln_vk_kernel *k = calloc(1, sizeof *k);
    if (!k || !(k->name = strdup(name))) {
        free(k);
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    }
    k->dev = dev;
    k->key[0] = key[0];
    k->key[1] = key[1];
    k->refs = 1;
    k->nbuffers = d->nbuffers;
    k->push_size = d->push_size;
    k->push_descriptors = push_desc;
    kiln_status s = make_pipeline(dev, d, k);
    if (s) {
        free(k->name);
        free(k);
        return s;
    }
    k->next = dev->kernels;
    dev->kernels = k;
    *out = k;
    return KILN_OK;
}

static void free_kernel(kiln_vk_device *dev, kiln_vk_kernel *k) {
    if (k->pipeline) dev->fn.vkDestroyPipeline(dev->device, k->pipeline, NULL);
    free(k->name);
    free(k);
}

void kiln_vk_kernel_destroy(kiln_vk_kernel *k) {
    if (!k || --k->refs > 0) return;
    kiln_vk_device *dev = k->dev;
    kiln_vk_kernel **pp = &dev->kernels;
    while (*pp && *pp != k) pp = &(*pp)->next;
    if (*pp) *pp = k->next;
    free_kernel(dev, k);
}

kiln_status kiln_vk_kernel_create(kiln_vk_device *dev, const kiln_vk_kernel_desc *d, kiln_vk_kernel **out) {
    return kernel_create(dev, d, 0, out);
}

int kvk_has_push_descriptors(const kiln_vk_device *dev) { return dev && dev->vkCmdPushDescriptorSetKHR != NULL; }

kiln_status kvk_kernel_create_push(kiln_vk_device *dev, const kiln_vk_kernel_desc *desc, kiln_vk_kernel **out) {
    if (!kvk_has_push_descriptors(dev))
        return kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: the device lacks VK_KHR_push_descriptor");
    return kernel_create(dev, desc, 1, out);
}

const char *kiln_vk_kernel_name(const kiln_vk_kernel *k) { return k ? k->name : NULL; }

void kvk_kernels_release(kiln_vk_device *dev) {
    while (dev->kernels) {
        kiln_vk_kernel *next = dev->kernels->next;
        free_kernel(dev, dev->kernels);
        dev->kernels = next;
    }
}

kiln_status kiln_vk_grid_1d(const kiln_vk_device *dev, uint64_t groups, uint32_t out[3]) {
    if (!dev || !out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_grid_1d: NULL argument");
    const uint32_t *max = dev->phys->info.max_workgroup_count;
    out[0] = out[1] = out[2] = 1;
    if (groups == 0) {
        out[0] = 0;
        return KILN_OK;
    }
    if (groups <= max[0]) {
        out[0] = (uint32_t)groups;
        return KILN_OK;
    }
    uint64_t y = (groups + max[0] - 1) / max[0];
    if (y > max[1])
        return kiln_error(KILN_ERR_LIMIT, "vulkan: %llu workgroups exceed the limit of %u x %u on '%s'",
                          (unsigned long long)groups, max[0], max[1], dev->phys->info.name);
    out[1] = (uint32_t)y;
    out[0] = (uint32_t)((groups + y - 1) / y); /* balanced: fewer idle groups in the last row */
    return KILN_OK;
}
