/* The recorder's state, shared by vk_recorder.c and vk_profile.c. */
#ifndef KILN_VK_RECORDER_H
#define KILN_VK_RECORDER_H

#include "vk_internal.h"

#define KVK_QUERIES_PER_POOL 512 /* two per dispatch */

struct kiln_vk_recorder {
    kiln_vk_device *dev;
    unsigned flags;
    VkCommandBuffer cmd;
    VkFence fence;
    int ended, broken, submitted_pending;
    int ndispatches, nbarriers;
    kvk_hazards hz;
    VkPipeline bound;

    int profiling;
    VkQueryPool *pools;
    int npools;
    char **labels; /* one per timed dispatch */
    int nlabels, caplabels;
    kiln_vk_profile_entry *entries;
    int nentries;
};

/* A timing slot for the next dispatch (recording the pool reset when the
 * slot opens a new pool). */
kiln_status kvk_profile_reserve(kiln_vk_recorder *r, const char *label, int *slot);
void kvk_profile_begin(kiln_vk_recorder *r, int slot);
void kvk_profile_end(kiln_vk_recorder *r, int slot);
/* Reads the timestamps after a submission finished. */
kiln_status kvk_profile_collect(kiln_vk_recorder *r);
void kvk_profile_release(kiln_vk_recorder *r);

#endif
