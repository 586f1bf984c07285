/* Barrier placement from declared accesses. The tracker keeps the buffer
 * ranges read and written since the last barrier; a command that reads
 * what was written (RAW), or writes what was read or written (WAR, WAW),
 * gets a barrier first. That barrier's execution dependency waits for all
 * earlier work anyway, so it also makes every pending write available and
 * the tracker starts empty again. */
#include <stdlib.h>

#include "vk_internal.h"

static int overlaps(const kvk_range *r, const kvk_access *a) {
    return r->buf == a->buf && r->begin < a->end && a->begin < r->end;
}

int kvk_hazard_conflicts(const kvk_hazards *h, const kvk_access *a, int n) {
    for (int i = 0; i < n; i++) {
        if (!a[i].read && !a[i].write) continue;
        for (int j = 0; j < h->nwrites; j++)
            if (overlaps(&h->writes[j], &a[i])) return 1; /* RAW or WAW */
        if (a[i].write)
            for (int j = 0; j < h->nreads; j++)
                if (overlaps(&h->reads[j], &a[i])) return 1; /* WAR */
    }
    return 0;
}

int kvk_hazard_pending(const kvk_hazards *h) { return h->nreads + h->nwrites > 0; }

void kvk_hazard_barrier(kiln_vk_device *dev, VkCommandBuffer cmd, kvk_hazards *h, VkPipelineStageFlags dst_stage,
                        VkAccessFlags dst_access) {
    VkPipelineStageFlags src_stage = 0;
    for (int i = 0; i < h->nreads; i++) src_stage |= h->reads[i].stage;
    for (int i = 0; i < h->nwrites; i++) src_stage |= h->writes[i].stage;
    if (!src_stage) return;
    /* One buffer barrier per written VkBuffer, spanning its written ranges:
     * over-covering a little is harmless, and the count stays small. */
    VkBufferMemoryBarrier stack[16] = {0};
    VkBufferMemoryBarrier *bm = stack;
    if (h->nwrites > 16) bm = malloc((size_t)h->nwrites * sizeof *bm);
    int nbm = 0;
    VkMemoryBarrier global = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    int use_global = 0;
    for (int i = 0; i < h->nwrites; i++) {
        const kvk_range *w = &h->writes[i];
        if (!bm) { /* out of host memory: a global barrier is just as correct */
            global.srcAccessMask |= w->access;
            use_global = 1;
            continue;
        }
        int j = 0;
        while (j < nbm && bm[j].buffer != w->buf) j++;
        if (j == nbm) {
            bm[nbm++] = (VkBufferMemoryBarrier){
                .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
                .srcAccessMask = w->access,
                .dstAccessMask = dst_access,
                .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                .buffer = w->buf,
                .offset = w->begin,
                .size = w->end - w->begin,
            };
        } else {
            VkDeviceSize b = bm[j].offset < w->begin ? bm[j].offset : w->begin;
            VkDeviceSize e = bm[j].offset + bm[j].size > w->end ? bm[j].offset + bm[j].size : w->end;
            bm[j].offset = b;
            bm[j].size = e - b;
            bm[j].srcAccessMask |= w->access;
        }
    }
    global.dstAccessMask = dst_access;
    dev->fn.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, use_global ? 1 : 0, &global, (uint32_t)nbm, bm, 0,
                                 NULL);
    if (bm && bm != stack) free(bm);
    h->nreads = h->nwrites = 0;
}

static int push(kvk_range **list, int *n, int *cap, kvk_range r) {
    /* the same range again (a weight read by every layer) adds nothing */
    for (int i = 0; i < *n; i++) {
        kvk_range *o = &(*list)[i];
        if (o->buf == r.buf && o->begin <= r.begin && r.end <= o->end) {
            o->stage |= r.stage;
            o->access |= r.access;
            return 0;
        }
    }
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        kvk_range *p = realloc(*list, (size_t)c * sizeof *p);
        if (!p) return -1;
        *list = p;
        *cap = c;
    }
    (*list)[(*n)++] = r;
    return 0;
}

kiln_status kvk_hazard_add(kvk_hazards *h, const kvk_access *a, int n, VkPipelineStageFlags stage,
                           VkAccessFlags read_access, VkAccessFlags write_access) {
    for (int i = 0; i < n; i++) {
        kvk_range r = {a[i].buf, a[i].begin, a[i].end, stage, 0};
        if (a[i].read) {
            r.access = read_access;
            if (push(&h->reads, &h->nreads, &h->capreads, r))
                return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory tracking buffer accesses");
        }
        if (a[i].write) {
            r.access = write_access;
            if (push(&h->writes, &h->nwrites, &h->capwrites, r))
                return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory tracking buffer accesses");
        }
    }
    return KILN_OK;
}

void kvk_hazard_free(kvk_hazards *h) {
    free(h->reads);
    free(h->writes);
    h->reads = h->writes = NULL;
    h->nreads = h->nwrites = h->capreads = h->capwrites = 0;
}
