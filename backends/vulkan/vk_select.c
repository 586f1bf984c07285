/* Choosing a device: `vulkan` (the best one) or `vulkan:N`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

int kvk_type_rank(kiln_vk_device_type t) {
    switch (t) {
    case KILN_VK_TYPE_DISCRETE: return 4;
    case KILN_VK_TYPE_INTEGRATED: return 3;
    case KILN_VK_TYPE_VIRTUAL: return 2;
    case KILN_VK_TYPE_CPU: return 1;
    default: return 0;
    }
}

static uint64_t device_local_bytes(const kiln_vk_device_info *d) {
    uint64_t best = 0;
    for (int i = 0; i < d->nheaps; i++)
        if (d->heaps[i].device_local && d->heaps[i].size > best) best = d->heaps[i].size;
    return best;
}

/* "0: NAME (type), 1: ..." for error messages. */
static void list_devices(const kiln_vk_instance *inst, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < inst->ndevices && used + 1 < cap; i++) {
        const kiln_vk_device_info *d = &inst->devices[i].info;
        int w = snprintf(buf + used, cap - used, "%s%d: %s (%s%s%s)", i ? ", " : "", i, d->name,
                         kiln_vk_device_type_name(d->type), d->usable ? "" : ", unusable: ",
                         d->usable ? "" : d->unusable_reason);
        if (w < 0) break;
        used += (size_t)w;
    }
}

kiln_status kiln_vk_select_device(const kiln_vk_instance *inst, const char *spec, int *index) {
    if (!inst || !index) return kiln_error(KILN_ERR_INVALID, "kiln_vk_select_device: NULL argument");
    char devices[1024];
    list_devices(inst, devices, sizeof devices);
    if (!spec || !*spec || strcmp(spec, "vulkan") == 0 || strcmp(spec, "gpu") == 0) {
        int best = -1;
        for (int i = 0; i < inst->ndevices; i++) {
            const kiln_vk_device_info *d = &inst->devices[i].info;
            if (!d->usable) continue;
            if (best < 0) {
                best = i;
                continue;
            }
            const kiln_vk_device_info *b = &inst->devices[best].info;
            int rd = kvk_type_rank(d->type), rb = kvk_type_rank(b->type);
            if (rd > rb || (rd == rb && device_local_bytes(d) > device_local_bytes(b))) best = i;
        }
        if (best < 0)
            return kiln_error(KILN_ERR_DEVICE, "vulkan: no usable Vulkan device (devices: %s); " KVK_CPU_HINT, devices);
        *index = best;
        return KILN_OK;
    }
    const char *num = NULL;
    if (strncmp(spec, "vulkan:", 7) == 0) num = spec + 7;
    else if (strncmp(spec, "gpu:", 4) == 0) num = spec + 4;
    if (!num)
        return kiln_error(KILN_ERR_INVALID, "vulkan: device '%s' is not 'vulkan' or 'vulkan:N'", spec);
    char *end = NULL;
    errno = 0;
    long n = strtol(num, &end, 10);
    if (!*num || *end || errno || n < 0)
        return kiln_error(KILN_ERR_INVALID, "vulkan: device '%s': N in 'vulkan:N' must be a device number", spec);
    if (n >= inst->ndevices)
        return kiln_error(KILN_ERR_NOT_FOUND, "vulkan: device '%s' does not exist; there %s %d (%s)", spec,
                          inst->ndevices == 1 ? "is" : "are", inst->ndevices, devices);
    if (!inst->devices[n].info.usable)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: device '%s' (%s) %s; " KVK_CPU_HINT, spec,
                          inst->devices[n].info.name, inst->devices[n].info.unusable_reason);
    *index = (int)n;
    return KILN_OK;
}
