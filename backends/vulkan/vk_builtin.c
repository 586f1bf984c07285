/* Kernels kiln itself ships (the shaders/ folder), created once per device. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "vk_shaders.h"

const char *kvk_shader_source(const char *name) {
    for (const kvk_shader_entry *e = kvk_shader_table; e->name; e++)
        if (strcmp(e->name, name) == 0) return e->text;
    return NULL;
}

kiln_status kvk_builtin_kernel(kiln_vk_device *dev, const char *key, const kiln_vk_kernel_desc *desc,
                               kiln_vk_kernel **out) {
    for (int i = 0; i < dev->nbuiltins; i++)
        if (strcmp(dev->builtins[i].key, key) == 0) {
            *out = dev->builtins[i].kernel;
            return KILN_OK;
        }
    if (strlen(key) >= sizeof dev->builtins[0].key)
        return kiln_error(KILN_ERR_INTERNAL, "vulkan: builtin kernel key '%s' is too long", key);
    kvk_builtin *b = realloc(dev->builtins, (size_t)(dev->nbuiltins + 1) * sizeof *b);
    if (!b) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory");
    dev->builtins = b;
    kiln_vk_kernel *k;
    KILN_TRY(kiln_vk_kernel_create(dev, desc, &k));
    snprintf(b[dev->nbuiltins].key, sizeof b[0].key, "%s", key);
    b[dev->nbuiltins++].kernel = k;
    *out = k;
    return KILN_OK;
}

void kvk_builtins_release(kiln_vk_device *dev) {
    /* the kernels themselves go with kvk_kernels_release */
    free(dev->builtins);
    dev->builtins = NULL;
    dev->nbuiltins = 0;
}

uint64_t kvk_binding_bytes(const kiln_vk_binding *b) {
    if (!b->buffer || b->offset > b->buffer->size) return 0;
    return b->size ? b->size : b->buffer->size - b->offset;
}
