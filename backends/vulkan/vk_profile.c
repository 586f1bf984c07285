/* Per-dispatch GPU times from timestamp queries around every dispatch. */
#include <stdlib.h>
#include <string.h>

#include "vk_recorder.h"

kiln_status kvk_profile_reserve(kiln_vk_recorder *r, const char *label, int *slot) {
    kiln_vk_device *dev = r->dev;
    int s = r->nlabels;
    int pool = (2 * s) / KVK_QUERIES_PER_POOL;
    if (pool == r->npools) {
        VkQueryPool *p = realloc(r->pools, (size_t)(r->npools + 1) * sizeof *p);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
        r->pools = p;
        VkQueryPoolCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = KVK_QUERIES_PER_POOL,
        };
        KVK_CHECK(dev->fn.vkCreateQueryPool(dev->device, &ci, NULL, &r->pools[r->npools]), "vkCreateQueryPool");
        dev->fn.vkCmdResetQueryPool(r->cmd, r->pools[r->npools], 0, KVK_QUERIES_PER_POOL);
        r->npools++;
    }
    if (r->nlabels == r->caplabels) {
        int cap = r->caplabels ? r->caplabels * 2 : 64;
        char **p = realloc(r->labels, (size_t)cap * sizeof *p);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
        r->labels = p;
        r->caplabels = cap;
    }
    char *copy = strdup(label ? label : "(unnamed)");
    if (!copy) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    r->labels[r->nlabels++] = copy;
    *slot = s;
    return KILN_OK;
}

static void write_ts(kiln_vk_recorder *r, int query, VkPipelineStageFlagBits stage) {
    r->dev->fn.vkCmdWriteTimestamp(r->cmd, stage, r->pools[query / KVK_QUERIES_PER_POOL],
                                   (uint32_t)(query % KVK_QUERIES_PER_POOL));
}

void kvk_profile_begin(kiln_vk_recorder *r, int slot) { write_ts(r, 2 * slot, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT); }
void kvk_profile_end(kiln_vk_recorder *r, int slot) { write_ts(r, 2 * slot + 1, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT); }

kiln_status kvk_profile_collect(kiln_vk_recorder *r) {
    kiln_vk_device *dev = r->dev;
    int nq = 2 * r->nlabels;
    uint64_t *ts = malloc((size_t)(nq ? nq : 1) * sizeof *ts);
    kiln_vk_profile_entry *e = realloc(r->entries, (size_t)(r->nlabels ? r->nlabels : 1) * sizeof *e);
    if (!ts || !e) {
        free(ts);
        if (e) r->entries = e;
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    }
    r->entries = e;
    for (int p = 0; p < r->npools; p++) {
        int first = p * KVK_QUERIES_PER_POOL;
        int count = nq - first < KVK_QUERIES_PER_POOL ? nq - first : KVK_QUERIES_PER_POOL;
        VkResult res = dev->fn.vkGetQueryPoolResults(dev->device, r->pools[p], 0, (uint32_t)count,
                                                     (size_t)count * sizeof *ts, ts + first, sizeof *ts,
                                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (res != VK_SUCCESS) {
            free(ts);
            return kvk_fail(res, "vkGetQueryPoolResults");
        }
    }
    uint32_t bits = dev->phys->timestamp_bits;
    uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    double us_per_tick = dev->phys->info.timestamp_period_ns / 1000.0;
    for (int i = 0; i < r->nlabels; i++) {
        e[i].name = r->labels[i];
        e[i].start_us = (double)((ts[2 * i] - ts[0]) & mask) * us_per_tick;
        e[i].dur_us = (double)((ts[2 * i + 1] - ts[2 * i]) & mask) * us_per_tick;
    }
    r->nentries = r->nlabels;
    free(ts);
    return KILN_OK;
}

void kvk_profile_release(kiln_vk_recorder *r) {
    for (int i = 0; i < r->npools; i++) r->dev->fn.vkDestroyQueryPool(r->dev->device, r->pools[i], NULL);
    for (int i = 0; i < r->nlabels; i++) free(r->labels[i]);
    free(r->pools);
    free(r->labels);
    free(r->entries);
}

kiln_status kiln_vk_recorder_profile(const kiln_vk_recorder *r, const kiln_vk_profile_entry **entries, int *n) {
    if (!r || !entries || !n) return kiln_error(KILN_ERR_INVALID, "kiln_vk_recorder_profile: NULL argument");
    *entries = NULL;
    *n = 0;
    if (!(r->flags & KILN_VK_REC_PROFILE))
        return kiln_error(KILN_ERR_INVALID, "vulkan: the recorder was not created with KILN_VK_REC_PROFILE");
    if (!r->profiling)
        return kiln_error(KILN_ERR_UNSUPPORTED, "vulkan: '%s' cannot write timestamps on its compute queue, so there is "
                          "no profile", r->dev->phys->info.name);
    if (!r->ended || r->submitted_pending)
        return kiln_error(KILN_ERR_INVALID, "vulkan: no profile yet: the recorder has not finished a submission");
    *entries = r->entries;
    *n = r->nentries;
    return KILN_OK;
}
