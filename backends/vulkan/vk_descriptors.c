/* Descriptor sets allocated once per distinct binding list and reused: a
 * dispatch that binds the same ranges as an earlier one (every decode step,
 * every replay) allocates and writes nothing. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static uint64_t key_hash(int nbuf, const VkBuffer *buf, const VkDeviceSize *off, const VkDeviceSize *range) {
    kvk_hasher h;
    kvk_hash_init(&h);
    kvk_hash_u64(&h, (uint64_t)nbuf);
    for (int i = 0; i < nbuf; i++) {
        kvk_hash_u64(&h, (uint64_t)(uintptr_t)buf[i]);
        kvk_hash_u64(&h, off[i]);
        kvk_hash_u64(&h, range[i]);
    }
    uint64_t k[2];
    kvk_hash_final(&h, k);
    return k[0];
}

static int key_equal(const kvk_desc_entry *e, int nbuf, const VkBuffer *buf, const VkDeviceSize *off,
                     const VkDeviceSize *range) {
    if (e->nbuf != nbuf) return 0;
    for (int i = 0; i < nbuf; i++)
        if (e->buf[i] != buf[i] || e->offset[i] != off[i] || e->range[i] != range[i]) return 0;
    return 1;
}

static void insert_slot(kvk_desc_cache *c, const kvk_desc_entry *e) {
    size_t i = (size_t)e->hash & (c->cap - 1);
    while (c->slots[i].nbuf) i = (i + 1) & (c->cap - 1);
    c->slots[i] = *e;
    c->count++;
}

static kiln_status grow(kvk_desc_cache *c) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    kvk_desc_entry *old = c->slots;
    size_t oldcap = c->cap;
    c->slots = calloc(cap, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory for descriptor sets");
    }
    c->cap = cap;
    c->count = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].nbuf) insert_slot(c, &old[i]);
    free(old);
    return KILN_OK;
}

static kiln_status new_pool(kiln_vk_device *dev) {
    kvk_desc_cache *c = &dev->desc;
    uint32_t sets = c->pool_sets ? c->pool_sets * 2 : 64;
    if (sets > 4096) sets = 4096;
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = sets * 8};
    VkDescriptorPoolCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
        .maxSets = sets,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    VkDescriptorPool *p = realloc(c->pools, (size_t)(c->npools + 1) * sizeof *p);
    if (!p) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    c->pools = p;
    KVK_CHECK(dev->fn.vkCreateDescriptorPool(dev->device, &ci, NULL, &c->pools[c->npools]), "vkCreateDescriptorPool");
    c->npools++;
    c->pool_sets = sets;
    return KILN_OK;
}

static kiln_status allocate_set(kiln_vk_device *dev, int nbuf, VkDescriptorSet *set, VkDescriptorPool *pool) {
    kvk_desc_cache *c = &dev->desc;
    VkDescriptorSetLayout layout;
    KILN_TRY(kvk_set_layout(dev, nbuf, &layout));
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->npools == 0 || attempt == 1) KILN_TRY(new_pool(dev));
        VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = c->pools[c->npools - 1],
            .descriptorSetCount = 1,
            .pSetLayouts = &layout,
        };
        VkResult r = dev->fn.vkAllocateDescriptorSets(dev->device, &ai, set);
        if (r == VK_SUCCESS) {
            *pool = ai.descriptorPool;
            return KILN_OK;
        }
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) return kvk_fail(r, "vkAllocateDescriptorSets");
    }
    return kiln_error(KILN_ERR_DEVICE, "vulkan: a fresh descriptor pool could not hold a set of %d buffers", nbuf);
}

kiln_status kvk_desc_get(kiln_vk_device *dev, int nbuf, const VkBuffer *buf, const VkDeviceSize *offset,
                         const VkDeviceSize *range, VkDescriptorSet *out) {
    kvk_desc_cache *c = &dev->desc;
    uint64_t h = key_hash(nbuf, buf, offset, range);
    if (c->cap) {
        for (size_t i = (size_t)h & (c->cap - 1); c->slots[i].nbuf; i = (i + 1) & (c->cap - 1))
            if (c->slots[i].hash == h && key_equal(&c->slots[i], nbuf, buf, offset, range)) {
                *out = c->slots[i].set;
                return KILN_OK;
            }
    }
    if ((c->count + 1) * 2 > c->cap) KILN_TRY(grow(c));
    kvk_desc_entry e = {.hash = h, .nbuf = nbuf};
    KILN_TRY(allocate_set(dev, nbuf, &e.set, &e.pool));
    VkDescriptorBufferInfo info[KILN_VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[KILN_VK_MAX_BINDINGS];
    for (int i = 0; i < nbuf; i++) {
        e.buf[i] = buf[i];
        e.offset[i] = offset[i];
        e.range[i] = range[i];
        info[i] = (VkDescriptorBufferInfo){.buffer = buf[i], .offset = offset[i], .range = range[i]};
        w[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = e.set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &info[i],
        };
    }
    dev->fn.vkUpdateDescriptorSets(dev->device, (uint32_t)nbuf, w, 0, NULL);
    insert_slot(c, &e);
    dev->stats.descriptor_sets++;
    *out = e.set;
    return KILN_OK;
}

void kvk_desc_forget_buffer(kiln_vk_device *dev, VkBuffer buffer) {
    kvk_desc_cache *c = &dev->desc;
    if (!c->cap) return;
    kvk_desc_entry *old = c->slots;
    size_t cap = c->cap;
    kvk_desc_entry *fresh = calloc(cap, sizeof *fresh);
    if (!fresh) return; /* stale entries stay; they are only freed with the device */
    c->slots = fresh;
    c->count = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!old[i].nbuf) continue;
        int uses = 0;
        for (int j = 0; j < old[i].nbuf; j++) uses |= old[i].buf[j] == buffer;
        if (uses) dev->fn.vkFreeDescriptorSets(dev->device, old[i].pool, 1, &old[i].set);
        else insert_slot(c, &old[i]);
    }
    free(old);
}

void kvk_desc_release(kiln_vk_device *dev) {
    kvk_desc_cache *c = &dev->desc;
    for (int i = 0; i < c->npools; i++) dev->fn.vkDestroyDescriptorPool(dev->device, c->pools[i], NULL);
    free(c->pools);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

void kvk_desc_reset(kiln_vk_device *dev) { kvk_desc_release(dev); }

size_t kvk_desc_count(const kiln_vk_device *dev) { return dev->desc.count; }
