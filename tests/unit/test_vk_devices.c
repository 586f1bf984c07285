/* Vulkan device discovery: listing, the facts reported per device (checked
 * against the minimums the Vulkan spec guarantees), selection by spec, the
 * printed report, and a device opened and closed without validation
 * messages. */
#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
static int is_pow2(uint32_t x) { return x && !(x & (x - 1)); }

static void check_info(const kiln_vk_device_info *d, int index) {
    CHECK(d->index == index);
    CHECK(d->name[0] != 0);
    CHECK(d->vendor != NULL);
    if (!d->usable) {
        CHECK(d->unusable_reason[0] != 0);
        return;
    }
    CHECK(d->api_version >= VK_API_VERSION_1_1_FOR_TEST);
    /* Vulkan 1.1 minimums (spec, "Required Limits") */
    CHECK(is_pow2(d->subgroup_size));
    CHECK(d->min_subgroup_size <= d->subgroup_size && d->subgroup_size <= d->max_subgroup_size);
    CHECK(d->max_shared_memory >= 16384);
    CHECK(d->max_workgroup_invocations >= 128);
    CHECK(d->max_workgroup_size[0] >= 128 && d->max_workgroup_size[1] >= 128 && d->max_workgroup_size[2] >= 64);
    CHECK(d->max_workgroup_count[0] >= 65535 && d->max_workgroup_count[1] >= 65535);
    CHECK(d->max_push_constants >= 128);
    CHECK(d->max_storage_buffer_range >= (1u << 27));
    CHECK(d->min_storage_buffer_offset_alignment >= 1 && d->min_storage_buffer_offset_alignment <= 256);
    CHECK(d->max_memory_allocation_size >= (1u << 30));
    CHECK(d->nheaps >= 1);
    int local = 0;
    for (int i = 0; i < d->nheaps; i++) {
        CHECK(d->heaps[i].size > 0);
        local |= d->heaps[i].device_local;
    }
    CHECK(local); /* the spec requires a device-local heap */
    CHECK(d->cooperative_matrix || d->ncoopmat == 0);
    for (int i = 0; i < d->ncoopmat; i++) CHECK(d->coopmat[i].m && d->coopmat[i].n && d->coopmat[i].k);
}

static void check_selection(const kiln_vk_instance *inst) {
    int n = kiln_vk_device_count(inst), idx = -1;
    CHECK_OK(kiln_vk_select_device(inst, "vulkan", &idx));
    CHECK(idx >= 0 && idx < n);
    const kiln_vk_device_info *best = kiln_vk_device_info_at(inst, idx);
    CHECK(best && best->usable);
    /* nothing usable ranks above the choice (type ranks per the docs) */
    static const int rank[] = {0, 3, 4, 2, 1}; /* other, integrated, discrete, virtual, cpu */
    for (int i = 0; i < n; i++) {
        const kiln_vk_device_info *d = kiln_vk_device_info_at(inst, i);
        if (d->usable && (unsigned)d->type < 5 && (unsigned)best->type < 5) CHECK(rank[d->type] <= rank[best->type]);
    }
    int again = -1;
    CHECK_OK(kiln_vk_select_device(inst, NULL, &again));
    CHECK(again == idx);
    CHECK_OK(kiln_vk_select_device(inst, "vulkan:0", &again));
    CHECK(again == 0);
    char spec[32];
    snprintf(spec, sizeof spec, "vulkan:%d", n);
    CHECK_ERR(kiln_vk_select_device(inst, spec, &again), "does not exist");
    CHECK_ERR(kiln_vk_select_device(inst, "vulkan:x", &again), "device number");
    CHECK_ERR(kiln_vk_select_device(inst, "vulkan:-1", &again), "device number");
    CHECK_ERR(kiln_vk_select_device(inst, "cuda", &again), "vulkan:N");
    CHECK(kiln_vk_device_info_at(inst, n) == NULL);
    CHECK(kiln_vk_device_info_at(inst, -1) == NULL);
}

static void check_report(const kiln_vk_device_info *d) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    kiln_vk_device_info_print(d, f);
    fclose(f);
    CHECK(text && strstr(text, d->name));
    CHECK(text && strstr(text, "subgroup"));
    CHECK(text && strstr(text, "shared memory"));
    CHECK(text && strstr(text, "memory heap 0"));
    CHECK(text && strstr(text, "coop. matrix"));
    if (text) fputs(text, stderr);
    free(text);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_devices", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    vk_env env;
    int rc = 0;
    if (!vk_open(&env, "test_vk_devices", &rc)) return rc;
    int n = kiln_vk_device_count(env.inst);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) check_info(kiln_vk_device_info_at(env.inst, i), i);
    check_selection(env.inst);
    check_report(env.info);
    CHECK(kiln_vk_device_instance(env.dev) == env.inst);
    CHECK(strlen(kiln_vk_compiler_version()) > 8);
    vk_close(&env);

    /* kiln_vk_open owns its instance; opening twice in one process works */
    kiln_vk_options opts = {.validation = 1, .cache_dir = vk_cache_dir()};
    kiln_vk_device *dev = NULL;
    CHECK_OK(kiln_vk_open(&opts, "vulkan:0", &dev));
    if (dev) {
        CHECK(kiln_vk_device_get_info(dev)->index == 0);
        CHECK(kiln_vk_validation_messages(kiln_vk_device_instance(dev)) == 0);
        kiln_vk_device_close(dev);
    }
    vk_cache_cleanup();
    return test_finish("test_vk_devices");
#endif
}
