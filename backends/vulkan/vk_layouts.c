/* Descriptor-set and pipeline layouts, one per binding count (and push
 * size), shared by every kernel: kernels with the same bindings then share
 * descriptor sets too. */
#include <stdlib.h>

#include "vk_internal.h"

static kiln_status set_layout(kiln_vk_device *dev, int nbuf, int push, VkDescriptorSetLayout *out) {
    if (nbuf < 0 || nbuf > KILN_VK_MAX_BINDINGS)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: %d buffer bindings; at most %d are supported", nbuf,
                          KILN_VK_MAX_BINDINGS);
    VkDescriptorSetLayout *slot = push ? &dev->push_set_layouts[nbuf] : &dev->set_layouts[nbuf];
    if (!*slot) {
        VkDescriptorSetLayoutBinding b[KILN_VK_MAX_BINDINGS];
        for (int i = 0; i < nbuf; i++)
            b[i] = (VkDescriptorSetLayoutBinding){
                .binding = (uint32_t)i,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .descriptorCount = 1,
                .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
            };
        VkDescriptorSetLayoutCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .flags = push ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
            .bindingCount = (uint32_t)nbuf,
            .pBindings = b,
        };
        KVK_CHECK(dev->fn.vkCreateDescriptorSetLayout(dev->device, &ci, NULL, slot), "vkCreateDescriptorSetLayout");
    }
    *out = *slot;
    return KILN_OK;
}

kiln_status kvk_set_layout(kiln_vk_device *dev, int nbuf, VkDescriptorSetLayout *out) {
    return set_layout(dev, nbuf, 0, out);
}

static kiln_status pipeline_layout(kiln_vk_device *dev, int nbuf, uint32_t push_size, int push_desc,
                                   VkPipelineLayout *out) {
    for (int i = 0; i < dev->nplayouts; i++)
        if (dev->playouts[i].nbuf == nbuf && dev->playouts[i].push_size == push_size &&
            dev->playouts[i].push_desc == push_desc) {
            *out = dev->playouts[i].layout;
            return KILN_OK;
        }
    VkDescriptorSetLayout set;
    KILN_TRY(set_layout(dev, nbuf, push_desc, &set));
    kvk_playout *p = realloc(dev->playouts, (size_t)(dev->nplayouts + 1) * sizeof *p);
    if (!p) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    dev->playouts = p;
    VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push_size};
    VkPipelineLayoutCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &set,
        .pushConstantRangeCount = push_size ? 1 : 0,
        .pPushConstantRanges = &pc,
    };
    VkPipelineLayout layout;
    KVK_CHECK(dev->fn.vkCreatePipelineLayout(dev->device, &ci, NULL, &layout), "vkCreatePipelineLayout");
    dev->playouts[dev->nplayouts++] = (kvk_playout){nbuf, push_desc, push_size, layout};
    *out = layout;
    return KILN_OK;
}

kiln_status kvk_pipeline_layout(kiln_vk_device *dev, int nbuf, uint32_t push_size, VkPipelineLayout *out) {
    return pipeline_layout(dev, nbuf, push_size, 0, out);
}

kiln_status kvk_pipeline_layout_push(kiln_vk_device *dev, int nbuf, uint32_t push_size, VkPipelineLayout *out) {
    return pipeline_layout(dev, nbuf, push_size, 1, out);
}

void kvk_layouts_release(kiln_vk_device *dev) {
    for (int i = 0; i < dev->nplayouts; i++) dev->fn.vkDestroyPipelineLayout(dev->device, dev->playouts[i].layout, NULL);
    free(dev->playouts);
    dev->playouts = NULL;
    dev->nplayouts = 0;
    for (int i = 0; i <= KILN_VK_MAX_BINDINGS; i++) {
        if (dev->set_layouts[i]) {
            dev->fn.vkDestroyDescriptorSetLayout(dev->device, dev->set_layouts[i], NULL);
            dev->set_layouts[i] = VK_NULL_HANDLE;
        }
        if (dev->push_set_layouts[i]) {
            dev->fn.vkDestroyDescriptorSetLayout(dev->device, dev->push_set_layouts[i], NULL);
            dev->push_set_layouts[i] = VK_NULL_HANDLE;
        }
    }
}
