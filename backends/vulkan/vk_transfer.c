/* Host <-> device copies through a host-visible staging buffer, in chunks,
 * each a one-shot command buffer the host waits for. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define STAGING_CHUNK (16ull << 20)
#define WAIT_NS (600ull * 1000 * 1000 * 1000) /* a hung GPU fails instead of hanging kiln */

void kvk_staging_release(kiln_vk_device *dev) {
    if (dev->staging_map) dev->fn.vkUnmapMemory(dev->device, dev->staging_mem);
    if (dev->staging_buf) dev->fn.vkDestroyBuffer(dev->device, dev->staging_buf, NULL);
    if (dev->staging_mem) dev->fn.vkFreeMemory(dev->device, dev->staging_mem, NULL);
    dev->staging_map = NULL;
    dev->staging_buf = VK_NULL_HANDLE;
    dev->staging_mem = VK_NULL_HANDLE;
    dev->staging_size = 0;
}

static kiln_status ensure_staging(kiln_vk_device *dev, VkDeviceSize need) {
    if (dev->staging_size >= need) return KILN_OK;
    kvk_staging_release(dev);
    VkDeviceSize size = need < (1ull << 20) ? (1ull << 20) : need;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    KVK_CHECK(dev->fn.vkCreateBuffer(dev->device, &bci, NULL, &dev->staging_buf), "vkCreateBuffer (staging)");
    VkMemoryRequirements req;
    dev->fn.vkGetBufferMemoryRequirements(dev->device, dev->staging_buf, &req);
    /* cached memory makes downloads fast; coherent saves flushes */
    VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, hc = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int t = kvk_find_memory_type(dev->phys, req.memoryTypeBits, hv | hc | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    if (t < 0) t = kvk_find_memory_type(dev->phys, req.memoryTypeBits, hv | hc, 0);
    if (t < 0) t = kvk_find_memory_type(dev->phys, req.memoryTypeBits, hv, 0);
    if (t < 0) {
        kvk_staging_release(dev);
        return kiln_error(KILN_ERR_DEVICE, "vulkan: '%s' has no host-visible memory for staging", dev->phys->info.name);
    }
    dev->staging_coherent = (dev->phys->mem.memoryTypes[t].propertyFlags & hc) != 0;
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)t,
    };
    VkResult r = dev->fn.vkAllocateMemory(dev->device, &mai, NULL, &dev->staging_mem);
    if (r == VK_SUCCESS) r = dev->fn.vkBindBufferMemory(dev->device, dev->staging_buf, dev->staging_mem, 0);
    if (r == VK_SUCCESS) r = dev->fn.vkMapMemory(dev->device, dev->staging_mem, 0, VK_WHOLE_SIZE, 0, &dev->staging_map);
    if (r != VK_SUCCESS) {
        kvk_staging_release(dev);
        return kvk_fail(r, "allocating a %.1f MiB staging buffer", (double)size / (1 << 20));
    }
    dev->staging_size = size;
    return KILN_OK;
}

kiln_status kvk_oneshot_begin(kiln_vk_device *dev, VkCommandBuffer *cmd) {
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    KVK_CHECK(dev->fn.vkBeginCommandBuffer(dev->oneshot_cmd, &bi), "vkBeginCommandBuffer");
    *cmd = dev->oneshot_cmd;
    return KILN_OK;
}

kiln_status kvk_oneshot_submit(kiln_vk_device *dev) {
    KVK_CHECK(dev->fn.vkEndCommandBuffer(dev->oneshot_cmd), "vkEndCommandBuffer");
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &dev->oneshot_cmd,
    };
    KVK_CHECK(dev->fn.vkQueueSubmit(dev->queue, 1, &si, dev->oneshot_fence), "vkQueueSubmit");
    VkResult r = dev->fn.vkWaitForFences(dev->device, 1, &dev->oneshot_fence, VK_TRUE, WAIT_NS);
    if (r == VK_TIMEOUT)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: a transfer on '%s' did not finish within 600 s", dev->phys->info.name);
    if (r != VK_SUCCESS) return kvk_fail(r, "vkWaitForFences");
    KVK_CHECK(dev->fn.vkResetFences(dev->device, 1, &dev->oneshot_fence), "vkResetFences");
    return KILN_OK;
}

static kiln_status check_range(const kiln_vk_buffer *buf, size_t offset, size_t n, const void *host, const char *what) {
    if (!buf) return kiln_error(KILN_ERR_INVALID, "vulkan: %s: buffer is NULL", what);
    if (!host && n) return kiln_error(KILN_ERR_INVALID, "vulkan: %s of buffer '%s': host pointer is NULL", what, buf->name);
    if (offset > buf->size || n > buf->size - offset)
        return kiln_error(KILN_ERR_INVALID, "vulkan: %s of bytes [%zu, %zu) is outside buffer '%s' of %llu bytes", what,
                          offset, offset + n, buf->name, (unsigned long long)buf->size);
    return KILN_OK;
}

static const VkPipelineStageFlags later_stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
static const VkAccessFlags later_access = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

kiln_status kiln_vk_buffer_write(kiln_vk_buffer *buf, size_t offset, const void *src, size_t n) {
    KILN_TRY(check_range(buf, offset, n, src, "write"));
    kiln_vk_device *dev = buf->dev;
    KILN_TRY(ensure_staging(dev, n < STAGING_CHUNK ? (n ? n : 1) : STAGING_CHUNK));
    for (size_t done = 0; done < n;) {
        size_t c = n - done < dev->staging_size ? n - done : (size_t)dev->staging_size;
        memcpy(dev->staging_map, (const char *)src + done, c);
        if (!dev->staging_coherent) {
            VkMappedMemoryRange mr = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                      .memory = dev->staging_mem, .size = VK_WHOLE_SIZE};
            KVK_CHECK(dev->fn.vkFlushMappedMemoryRanges(dev->device, 1, &mr), "vkFlushMappedMemoryRanges");
        }
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        KILN_TRY(kvk_oneshot_begin(dev, &cmd));
        VkBufferCopy region = {.srcOffset = 0, .dstOffset = buf->offset + offset + done, .size = c};
        dev->fn.vkCmdCopyBuffer(cmd, dev->staging_buf, buf->block->buffer, 1, &region);
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .dstAccessMask = later_access};
        dev->fn.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, later_stages, 0, 1, &mb, 0, NULL, 0, NULL);
        KILN_TRY(kvk_oneshot_submit(dev));
        done += c;
    }
    return KILN_OK;
}

kiln_status kiln_vk_buffer_read(kiln_vk_buffer *buf, size_t offset, void *dst, size_t n) {
    KILN_TRY(check_range(buf, offset, n, dst, "read"));
    kiln_vk_device *dev = buf->dev;
    KILN_TRY(ensure_staging(dev, n < STAGING_CHUNK ? (n ? n : 1) : STAGING_CHUNK));
    for (size_t done = 0; done < n;) {
        size_t c = n - done < dev->staging_size ? n - done : (size_t)dev->staging_size;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        KILN_TRY(kvk_oneshot_begin(dev, &cmd));
        VkBufferCopy region = {.srcOffset = buf->offset + offset + done, .dstOffset = 0, .size = c};
        dev->fn.vkCmdCopyBuffer(cmd, buf->block->buffer, dev->staging_buf, 1, &region);
        /* make the copy visible to the host, and order it before later writes */
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
        dev->fn.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                     VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0,
                                     NULL);
        KILN_TRY(kvk_oneshot_submit(dev));
        if (!dev->staging_coherent) {
            VkMappedMemoryRange mr = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                      .memory = dev->staging_mem, .size = VK_WHOLE_SIZE};
            KVK_CHECK(dev->fn.vkInvalidateMappedMemoryRanges(dev->device, 1, &mr), "vkInvalidateMappedMemoryRanges");
        }
        memcpy((char *)dst + done, dev->staging_map, c);
        done += c;
    }
    return KILN_OK;
}
