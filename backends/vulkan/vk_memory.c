/* Device memory: a few large blocks, each with one VkBuffer spanning it,
 * carved best-fit into kiln buffers. Few allocations keep the driver's
 * allocation count low, and one VkBuffer per block lets descriptor sets be
 * keyed (and reused) by block and offset. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

int kvk_find_memory_type(const kvk_physical *p, uint32_t type_bits, VkMemoryPropertyFlags want,
                         VkMemoryPropertyFlags avoid) {
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < p->mem.memoryTypeCount; i++) {
            VkMemoryPropertyFlags f = p->mem.memoryTypes[i].propertyFlags;
            if (!(type_bits & (1u << i)) || (f & want) != want) continue;
            if (pass == 0 && (f & avoid)) continue;
            return (int)i;
        }
    return -1;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static kiln_status out_of_memory(kiln_vk_device *dev, const char *name, VkDeviceSize need, const char *why) {
    const kiln_vk_device_info *info = &dev->phys->info;
    uint64_t heap = dev->phys->mem.memoryHeaps[dev->device_heap].size;
    return kiln_error(KILN_ERR_NOMEM,
                      "vulkan: out of device memory: buffer '%s' needs %.1f MiB on '%s' (heap %u: %.1f MiB; kiln "
                      "holds %.1f MiB in %llu block(s), %.1f MiB in live buffers)%s%s",
                      name, mib(need), info->name, dev->device_heap, mib(heap), mib(dev->stats.memory_reserved),
                      (unsigned long long)dev->stats.memory_blocks, mib(dev->stats.memory_used), why ? ": " : "",
                      why ? why : "");
}

static void block_free(kiln_vk_device *dev, kvk_block *b) {
    kvk_desc_forget_buffer(dev, b->buffer);
    if (b->buffer) dev->fn.vkDestroyBuffer(dev->device, b->buffer, NULL);
    if (b->memory) dev->fn.vkFreeMemory(dev->device, b->memory, NULL);
    dev->stats.memory_reserved -= b->size;
    dev->stats.memory_blocks--;
    free(b->free);
    free(b);
}

static kiln_status block_create(kiln_vk_device *dev, VkDeviceSize size, int dedicated, const char *name, kvk_block **out) {
    kvk_block *b = calloc(1, sizeof *b);
    if (!b) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = dev->fn.vkCreateBuffer(dev->device, &bci, NULL, &b->buffer);
    if (r != VK_SUCCESS) {
        free(b);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY) return out_of_memory(dev, name, size, "vkCreateBuffer");
        return kvk_fail(r, "vkCreateBuffer of %.1f MiB for '%s'", mib(size), name);
    }
    VkMemoryRequirements req;
    dev->fn.vkGetBufferMemoryRequirements(dev->device, b->buffer, &req);
    if (!dev->stats.memory_blocks && !dev->blocks) {
        int t = kvk_find_memory_type(dev->phys, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
        if (t < 0) t = kvk_find_memory_type(dev->phys, req.memoryTypeBits, 0, 0);
        if (t < 0) {
            dev->fn.vkDestroyBuffer(dev->device, b->buffer, NULL);
            free(b);
            return kiln_error(KILN_ERR_DEVICE, "vulkan: '%s' has no memory type for storage buffers", dev->phys->info.name);
        }
        dev->device_mem_type = (uint32_t)t;
        dev->device_heap = dev->phys->mem.memoryTypes[t].heapIndex;
    }
    uint64_t heap = dev->phys->mem.memoryHeaps[dev->device_heap].size;
    kiln_status s = KILN_OK;
    if (!(req.memoryTypeBits & (1u << dev->device_mem_type)))
        s = kiln_error(KILN_ERR_DEVICE, "vulkan: buffer memory types changed between blocks on '%s'", dev->phys->info.name);
    else if (dev->stats.memory_reserved + req.size > heap)
        s = out_of_memory(dev, name, req.size, "more than the heap holds");
    if (!s) {
        VkMemoryAllocateInfo mai = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            .allocationSize = req.size,
            .memoryTypeIndex = dev->device_mem_type,
        };
        r = dev->fn.vkAllocateMemory(dev->device, &mai, NULL, &b->memory);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            s = out_of_memory(dev, name, req.size, "the driver refused the allocation");
        else if (r != VK_SUCCESS)
            s = kvk_fail(r, "vkAllocateMemory of %.1f MiB for '%s'", mib(req.size), name);
    }
    if (!s) {
        r = dev->fn.vkBindBufferMemory(dev->device, b->buffer, b->memory, 0);
        if (r != VK_SUCCESS) s = kvk_fail(r, "vkBindBufferMemory");
    }
    if (!s) {
        b->free = malloc(sizeof *b->free);
        if (!b->free) s = kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    }
    if (s) {
        if (b->memory) dev->fn.vkFreeMemory(dev->device, b->memory, NULL);
        dev->fn.vkDestroyBuffer(dev->device, b->buffer, NULL);
        free(b->free);
        free(b);
        return s;
    }
    b->size = size;
    b->dedicated = dedicated;
    b->free[0] = (kvk_free_range){0, size};
    b->nfree = b->capfree = 1;
    b->next = dev->blocks;
    dev->blocks = b;
    dev->stats.memory_reserved += size;
    dev->stats.memory_blocks++;
    *out = b;
    return KILN_OK;
}

/* Best-fit range of block b for n bytes: its index, or -1. */
static int best_fit(const kvk_block *b, VkDeviceSize n) {
    int best = -1;
    for (int i = 0; i < b->nfree; i++)
        if (b->free[i].size >= n && (best < 0 || b->free[i].size < b->free[best].size)) best = i;
    return best;
}

static VkDeviceSize take(kvk_block *b, int i, VkDeviceSize n) {
    VkDeviceSize off = b->free[i].offset;
    b->free[i].offset += n;
    b->free[i].size -= n;
    if (b->free[i].size == 0) {
        memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof *b->free);
        b->nfree--;
    }
    b->used += n;
    return off;
}

/* Returns [off, off+n) to the sorted free list, merging neighbours. */
static int give_back(kvk_block *b, VkDeviceSize off, VkDeviceSize n) {
    int i = 0;
    while (i < b->nfree && b->free[i].offset < off) i++;
    int merge_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == off;
    int merge_next = i < b->nfree && off + n == b->free[i].offset;
    b->used -= n;
    if (merge_prev && merge_next) {
        b->free[i - 1].size += n + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof *b->free);
        b->nfree--;
    } else if (merge_prev) {
        b->free[i - 1].size += n;
    } else if (merge_next) {
        b->free[i].offset = off;
        b->free[i].size += n;
    } else {
        if (b->nfree == b->capfree) {
            int cap = b->capfree * 2;
            kvk_free_range *p = realloc(b->free, (size_t)cap * sizeof *p);
            if (!p) return -1; /* the range leaks until the block is freed */
            b->free = p;
            b->capfree = cap;
        }
        memmove(&b->free[i + 1], &b->free[i], (size_t)(b->nfree - i) * sizeof *b->free);
        b->free[i] = (kvk_free_range){off, n};
        b->nfree++;
    }
    return 0;
}

kiln_status kiln_vk_buffer_create(kiln_vk_device *dev, size_t size, const char *name, kiln_vk_buffer **out) {
    if (!dev || !out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_buffer_create: NULL argument");
    *out = NULL;
    if (!name) name = "(unnamed)";
    if (size == 0) return kiln_error(KILN_ERR_INVALID, "vulkan: buffer '%s' has size 0", name);
    if (size > (SIZE_MAX >> 2)) return out_of_memory(dev, name, size, "size out of range");
    VkDeviceSize n = (size + dev->alignment - 1) / dev->alignment * dev->alignment;
    kiln_vk_buffer *buf = calloc(1, sizeof *buf);
    char *copy = strdup(name);
    if (!buf || !copy) {
        free(buf);
        free(copy);
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    }
    kvk_block *blk = NULL;
    int idx = -1;
    if (n <= dev->block_size) {
        for (kvk_block *b = dev->blocks; b && idx < 0; b = b->next) {
            if (b->dedicated) continue;
            idx = best_fit(b, n);
            if (idx >= 0) blk = b;
        }
    }
    kiln_status s = KILN_OK;
    if (!blk) {
        int dedicated = n > dev->block_size;
        s = block_create(dev, dedicated ? n : dev->block_size, dedicated, name, &blk);
        if (s && !dedicated && kiln_status_code(s) == KILN_ERR_NOMEM && n < dev->block_size) {
            /* no room for a whole block: try just this buffer */
            kiln_status_free(s);
            s = block_create(dev, n, 1, name, &blk);
        }
        if (!s) idx = 0;
    }
    if (s) {
        free(buf);
        free(copy);
        return s;
    }
    buf->dev = dev;
    buf->block = blk;
    buf->offset = take(blk, idx, n);
    buf->size = size;
    buf->reserved = n;
    buf->name = copy;
    buf->next = dev->buffers;
    if (dev->buffers) dev->buffers->prev = buf;
    dev->buffers = buf;
    dev->stats.memory_used += n;
    *out = buf;
    return KILN_OK;
}

void kiln_vk_buffer_destroy(kiln_vk_buffer *buf) {
    if (!buf) return;
    kiln_vk_device *dev = buf->dev;
    kvk_block *b = buf->block;
    if (buf->prev) buf->prev->next = buf->next;
    else dev->buffers = buf->next;
    if (buf->next) buf->next->prev = buf->prev;
    dev->stats.memory_used -= buf->reserved;
    give_back(b, buf->offset, buf->reserved);
    if (b->dedicated && b->used == 0) {
        /* the queue may still read it from an earlier submission */
        dev->fn.vkDeviceWaitIdle(dev->device);
        kvk_block **pp = &dev->blocks;
        while (*pp != b) pp = &(*pp)->next;
        *pp = b->next;
        block_free(dev, b);
    }
    free(buf->name);
    free(buf);
}

size_t kiln_vk_buffer_size(const kiln_vk_buffer *buf) { return buf ? (size_t)buf->size : 0; }
const char *kiln_vk_buffer_name(const kiln_vk_buffer *buf) { return buf ? buf->name : NULL; }

void kvk_memory_release_all(kiln_vk_device *dev) {
    while (dev->buffers) {
        kiln_vk_buffer *next = dev->buffers->next;
        free(dev->buffers->name);
        free(dev->buffers);
        dev->buffers = next;
    }
    while (dev->blocks) {
        kvk_block *next = dev->blocks->next;
        block_free(dev, dev->blocks);
        dev->blocks = next;
    }
    dev->stats.memory_used = 0;
}
