/* The command recorder: one command buffer for a whole run. Every command
 * is checked before anything is recorded, so a rejected command leaves the
 * recorder usable; barriers come from kvk_hazard_*, descriptor sets from
 * the device's cache, timestamps (when profiling) from vk_profile.c. */
#include <stdlib.h>
#include <string.h>

#include "vk_recorder.h"

#define WAIT_NS (600ull * 1000 * 1000 * 1000)

static const VkAccessFlags compute_access = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
static const VkAccessFlags transfer_access = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;

kiln_status kiln_vk_recorder_create(kiln_vk_device *dev, unsigned flags, kiln_vk_recorder **out) {
    if (!dev || !out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_recorder_create: NULL argument");
    *out = NULL;
    kiln_vk_recorder *r = calloc(1, sizeof *r);
    if (!r) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    r->dev = dev;
    r->flags = flags;
    r->profiling = (flags & KILN_VK_REC_PROFILE) && dev->phys->info.timestamps;
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = dev->cmd_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkResult res = dev->fn.vkAllocateCommandBuffers(dev->device, &ai, &r->cmd);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (res == VK_SUCCESS) res = dev->fn.vkCreateFence(dev->device, &fci, NULL, &r->fence);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (res == VK_SUCCESS) res = dev->fn.vkBeginCommandBuffer(r->cmd, &bi);
    if (res != VK_SUCCESS) {
        kiln_vk_recorder_destroy(r);
        return kvk_fail(res, "creating a command recorder");
    }
    *out = r;
    return KILN_OK;
}

void kiln_vk_recorder_destroy(kiln_vk_recorder *r) {
    if (!r) return;
    kiln_vk_device *dev = r->dev;
    if (r->submitted_pending) dev->fn.vkWaitForFences(dev->device, 1, &r->fence, VK_TRUE, WAIT_NS);
    if (r->cmd) dev->fn.vkFreeCommandBuffers(dev->device, dev->cmd_pool, 1, &r->cmd);
    if (r->fence) dev->fn.vkDestroyFence(dev->device, r->fence, NULL);
    kvk_profile_release(r);
    kvk_hazard_free(&r->hz);
    free(r);
}

static kiln_status writable(const kiln_vk_recorder *r, const char *what) {
    if (!r) return kiln_error(KILN_ERR_INVALID, "vulkan: %s: recorder is NULL", what);
    if (r->ended)
        return kiln_error(KILN_ERR_INVALID, "vulkan: %s: the recorder was already submitted; record into a new one", what);
    if (r->broken) return kiln_error(KILN_ERR_INVALID, "vulkan: %s: the recorder failed earlier", what);
    return KILN_OK;
}

/* Checks a binding and turns it into an absolute block range. */
static kiln_status resolve(const kiln_vk_recorder *r, const kiln_vk_binding *b, int index, const char *kname,
                           kvk_access *a, VkDeviceSize *range) {
    const kiln_vk_device_info *info = &r->dev->phys->info;
    if (!b->buffer) return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d: buffer is NULL", kname, index);
    const kiln_vk_buffer *buf = b->buffer;
    if (buf->dev != r->dev)
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d: buffer '%s' belongs to another device",
                          kname, index, buf->name);
    if (b->access < KILN_VK_READ || b->access > KILN_VK_READ_WRITE)
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d ('%s'): access must be read, write or both",
                          kname, index, buf->name);
    if (b->offset > buf->size || (b->size && b->size > buf->size - b->offset))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d: bytes [%zu, %zu) are outside buffer '%s' "
                          "of %llu bytes", kname, index, b->offset, b->offset + b->size, buf->name,
                          (unsigned long long)buf->size);
    VkDeviceSize n = b->size ? b->size : buf->size - b->offset;
    if (n == 0)
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d: empty range of buffer '%s'", kname, index,
                          buf->name);
    if (info->min_storage_buffer_offset_alignment && b->offset % info->min_storage_buffer_offset_alignment)
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' binding %d: offset %zu into '%s' is not a multiple of "
                          "the device's storage buffer alignment %llu", kname, index, b->offset, buf->name,
                          (unsigned long long)info->min_storage_buffer_offset_alignment);
    if (n > info->max_storage_buffer_range)
        return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s' binding %d: %llu bytes of '%s' exceed the device's storage "
                          "buffer range of %llu bytes (split the tensor)", kname, index, (unsigned long long)n, buf->name,
                          (unsigned long long)info->max_storage_buffer_range);
    a->buf = buf->block->buffer;
    a->begin = buf->offset + b->offset;
    a->end = a->begin + n;
    a->read = (b->access & KILN_VK_READ) != 0;
    a->write = (b->access & KILN_VK_WRITE) != 0;
    *range = n;
    return KILN_OK;
}

/* Barrier if needed, then remember the accesses. */
static void before(kiln_vk_recorder *r, const kvk_access *a, int n, VkPipelineStageFlags stage, VkAccessFlags access) {
    if (r->flags & KILN_VK_REC_NO_BARRIERS_UNSAFE) return;
    if (kvk_hazard_conflicts(&r->hz, a, n)) {
        kvk_hazard_barrier(r->dev, r->cmd, &r->hz, stage, access);
        r->nbarriers++;
    }
}

static kiln_status after(kiln_vk_recorder *r, const kvk_access *a, int n, VkPipelineStageFlags stage, VkAccessFlags rd,
                         VkAccessFlags wr) {
    kiln_status s = kvk_hazard_add(&r->hz, a, n, stage, rd, wr);
    if (s) r->broken = 1; /* a forgotten access could drop a needed barrier */
    return s;
}

kiln_status kiln_vk_record_dispatch(kiln_vk_recorder *r, const kiln_vk_dispatch *d) {
    KILN_TRY(writable(r, "record_dispatch"));
    if (!d || !d->kernel) return kiln_error(KILN_ERR_INVALID, "vulkan: record_dispatch: no kernel");
    const kiln_vk_kernel *k = d->kernel;
    kiln_vk_device *dev = r->dev;
    if (k->dev != dev) return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' belongs to another device", k->name);
    if (d->nbindings != k->nbuffers || (d->nbindings && !d->bindings))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' takes %d buffers, the dispatch binds %d", k->name,
                          k->nbuffers, d->nbindings);
    if (d->push_size != k->push_size || (d->push_size && !d->push))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s' takes %u bytes of push constants, the dispatch gives %u",
                          k->name, k->push_size, d->push ? d->push_size : 0);
    const uint32_t *maxg = dev->phys->info.max_workgroup_count;
    for (int i = 0; i < 3; i++)
        if (d->groups[i] > maxg[i])
            return kiln_error(KILN_ERR_LIMIT, "vulkan: kernel '%s': %u workgroups in dimension %c exceed the limit %u",
                              k->name, d->groups[i], "xyz"[i], maxg[i]);
    kvk_access acc[KILN_VK_MAX_BINDINGS];
    VkBuffer bufs[KILN_VK_MAX_BINDINGS];
    VkDeviceSize offs[KILN_VK_MAX_BINDINGS], ranges[KILN_VK_MAX_BINDINGS];
    for (int i = 0; i < d->nbindings; i++) {
        KILN_TRY(resolve(r, &d->bindings[i], i, k->name, &acc[i], &ranges[i]));
        bufs[i] = acc[i].buf;
        offs[i] = acc[i].begin;
    }
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (d->nbindings && !k->push_descriptors) KILN_TRY(kvk_desc_get(dev, d->nbindings, bufs, offs, ranges, &set));
    if (!d->groups[0] || !d->groups[1] || !d->groups[2]) return KILN_OK; /* nothing to run */
    int slot = -1;
    if (r->profiling) KILN_TRY(kvk_profile_reserve(r, d->label ? d->label : k->name, &slot));

    before(r, acc, d->nbindings, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, compute_access);
    if (slot >= 0) kvk_profile_begin(r, slot);
    if (r->bound != k->pipeline) {
        dev->fn.vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
        r->bound = k->pipeline;
    }
    if (set) dev->fn.vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
    if (k->push_descriptors && d->nbindings) { /* written into the command buffer: nothing allocated */
        VkDescriptorBufferInfo info[KILN_VK_MAX_BINDINGS];
        VkWriteDescriptorSet w[KILN_VK_MAX_BINDINGS];
        for (int i = 0; i < d->nbindings; i++) {
            info[i] = (VkDescriptorBufferInfo){.buffer = bufs[i], .offset = offs[i], .range = ranges[i]};
            w[i] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstBinding = (uint32_t)i,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &info[i],
            };
        }
        dev->vkCmdPushDescriptorSetKHR(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, (uint32_t)d->nbindings, w);
    }
    if (d->push_size) dev->fn.vkCmdPushConstants(r->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size, d->push);
    dev->fn.vkCmdDispatch(r->cmd, d->groups[0], d->groups[1], d->groups[2]);
    if (slot >= 0) kvk_profile_end(r, slot);
    r->ndispatches++;
    return after(r, acc, d->nbindings, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT,
                 VK_ACCESS_SHADER_WRITE_BIT);
}

static kiln_status transfer_range(const kiln_vk_recorder *r, kiln_vk_buffer *b, size_t off, size_t n, const char *what,
                                  kvk_access *a) {
    if (!b) return kiln_error(KILN_ERR_INVALID, "vulkan: %s: buffer is NULL", what);
    if (b->dev != r->dev) return kiln_error(KILN_ERR_INVALID, "vulkan: %s: buffer '%s' belongs to another device", what, b->name);
    if (off > b->size || n > b->size - off)
        return kiln_error(KILN_ERR_INVALID, "vulkan: %s: bytes [%zu, %zu) are outside buffer '%s' of %llu bytes", what, off,
                          off + n, b->name, (unsigned long long)b->size);
    a->buf = b->block->buffer;
    a->begin = b->offset + off;
    a->end = a->begin + n;
    return KILN_OK;
}

kiln_status kiln_vk_record_copy(kiln_vk_recorder *r, kiln_vk_buffer *src, size_t src_offset, kiln_vk_buffer *dst,
                                size_t dst_offset, size_t n) {
    KILN_TRY(writable(r, "record_copy"));
    kvk_access a[2] = {{0}};
    KILN_TRY(transfer_range(r, src, src_offset, n, "copy source", &a[0]));
    KILN_TRY(transfer_range(r, dst, dst_offset, n, "copy destination", &a[1]));
    if (n == 0) return KILN_OK;
    if (a[0].buf == a[1].buf && a[0].begin < a[1].end && a[1].begin < a[0].end)
        return kiln_error(KILN_ERR_INVALID, "vulkan: copy from '%s' to '%s': the ranges overlap", src->name, dst->name);
    a[0].read = 1;
    a[1].write = 1;
    before(r, a, 2, VK_PIPELINE_STAGE_TRANSFER_BIT, transfer_access);
    VkBufferCopy region = {.srcOffset = a[0].begin, .dstOffset = a[1].begin, .size = n};
    r->dev->fn.vkCmdCopyBuffer(r->cmd, a[0].buf, a[1].buf, 1, &region);
    return after(r, a, 2, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
}

kiln_status kiln_vk_record_fill(kiln_vk_recorder *r, kiln_vk_buffer *dst, size_t offset, size_t n, uint32_t value) {
    KILN_TRY(writable(r, "record_fill"));
    kvk_access a = {0};
    KILN_TRY(transfer_range(r, dst, offset, n, "fill", &a));
    if (offset % 4 || n % 4)
        return kiln_error(KILN_ERR_INVALID, "vulkan: fill of '%s': offset %zu and size %zu must be multiples of 4",
                          dst->name, offset, n);
    if (n == 0) return KILN_OK;
    a.write = 1;
    before(r, &a, 1, VK_PIPELINE_STAGE_TRANSFER_BIT, transfer_access);
    r->dev->fn.vkCmdFillBuffer(r->cmd, a.buf, a.begin, n, value);
    return after(r, &a, 1, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, VK_ACCESS_TRANSFER_WRITE_BIT);
}

/* Orders everything recorded before whatever the queue runs next (another
 * recorder, an upload, a download read by the host). */
static void final_barrier(kiln_vk_recorder *r) {
    if (!kvk_hazard_pending(&r->hz)) return;
    VkPipelineStageFlags src = 0;
    VkAccessFlags written = 0;
    for (int i = 0; i < r->hz.nreads; i++) src |= r->hz.reads[i].stage;
    for (int i = 0; i < r->hz.nwrites; i++) {
        src |= r->hz.writes[i].stage;
        written |= r->hz.writes[i].access;
    }
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = written,
        .dstAccessMask = compute_access | transfer_access | VK_ACCESS_HOST_READ_BIT,
    };
    r->dev->fn.vkCmdPipelineBarrier(r->cmd, src,
                                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                                        VK_PIPELINE_STAGE_HOST_BIT,
                                    0, written ? 1 : 0, &mb, 0, NULL, 0, NULL);
    r->hz.nreads = r->hz.nwrites = 0;
}

kiln_status kiln_vk_recorder_submit(kiln_vk_recorder *r) {
    if (!r) return kiln_error(KILN_ERR_INVALID, "kiln_vk_recorder_submit: recorder is NULL");
    if (r->broken) return kiln_error(KILN_ERR_INVALID, "vulkan: submit: the recorder failed earlier");
    kiln_vk_device *dev = r->dev;
    if (!r->ended) {
        final_barrier(r);
        r->ended = 1;
        VkResult res = dev->fn.vkEndCommandBuffer(r->cmd);
        if (res != VK_SUCCESS) {
            r->broken = 1;
            return kvk_fail(res, "vkEndCommandBuffer");
        }
    }
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &r->cmd};
    KVK_CHECK(dev->fn.vkQueueSubmit(dev->queue, 1, &si, r->fence), "vkQueueSubmit");
    r->submitted_pending = 1;
    VkResult res = dev->fn.vkWaitForFences(dev->device, 1, &r->fence, VK_TRUE, WAIT_NS);
    if (res == VK_TIMEOUT)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: a run of %d dispatches on '%s' did not finish within 600 s",
                          r->ndispatches, dev->phys->info.name);
    if (res != VK_SUCCESS) return kvk_fail(res, "waiting for a run of %d dispatches", r->ndispatches);
    r->submitted_pending = 0;
    KVK_CHECK(dev->fn.vkResetFences(dev->device, 1, &r->fence), "vkResetFences");
    if (r->profiling) KILN_TRY(kvk_profile_collect(r));
    return KILN_OK;
}

int kiln_vk_recorder_dispatch_count(const kiln_vk_recorder *r) { return r ? r->ndispatches : 0; }
int kiln_vk_recorder_barrier_count(const kiln_vk_recorder *r) { return r ? r->nbarriers : 0; }
