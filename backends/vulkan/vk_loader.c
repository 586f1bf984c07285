/* Opens the Vulkan loader with dlopen so that kiln runs (on the CPU) where
 * Vulkan is not installed, and resolves the global entry points. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

/* One handle per library path; the loader is never closed because drivers
 * and layers it loaded may have registered exit handlers. */
static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char path[512];
    void *handle;
} loaded[4];

static void *open_library(const char *path, char *err, size_t errcap) {
    pthread_mutex_lock(&loader_lock);
    void *h = NULL;
    for (int i = 0; i < 4 && !h; i++)
        if (loaded[i].handle && strcmp(loaded[i].path, path) == 0) h = loaded[i].handle;
    if (!h) {
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            snprintf(err, errcap, "%s", e ? e : "unknown dlopen error");
        } else {
            for (int i = 0; i < 4; i++)
                if (!loaded[i].handle) {
                    snprintf(loaded[i].path, sizeof loaded[i].path, "%s", path);
                    loaded[i].handle = h;
                    break;
                }
        }
    }
    pthread_mutex_unlock(&loader_lock);
    return h;
}

kiln_status kvk_loader_open(kvk_global_fns *out) {
    memset(out, 0, sizeof *out);
    const char *path = getenv("KILN_VULKAN_LIBRARY");
    if (!path || !*path) path = "libvulkan.so.1";
    char err[512] = "";
    void *h = open_library(path, err, sizeof err);
    if (!h)
        return kiln_error(KILN_ERR_DEVICE,
                          "vulkan: the Vulkan loader %s could not be loaded (%s); install it (Debian/Ubuntu: "
                          "libvulkan1 and a driver such as mesa-vulkan-drivers), or " KVK_CPU_HINT,
                          path, err);
    kvk_sanitizer_pin_libraries();
    void *sym = dlsym(h, "vkGetInstanceProcAddr");
    if (!sym)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: %s has no vkGetInstanceProcAddr; it is not a Vulkan loader; " KVK_CPU_HINT,
                          path);
    memcpy(&out->vkGetInstanceProcAddr, &sym, sizeof sym);
#define KVK_LOAD_GLOBAL(name) out->name = (PFN_##name)out->vkGetInstanceProcAddr(NULL, #name);
    KVK_GLOBAL_FNS(KVK_LOAD_GLOBAL)
#undef KVK_LOAD_GLOBAL
    if (!out->vkCreateInstance || !out->vkEnumerateInstanceExtensionProperties ||
        !out->vkEnumerateInstanceLayerProperties)
        return kiln_error(KILN_ERR_DEVICE, "vulkan: the loader %s lacks core entry points; " KVK_CPU_HINT, path);
    if (!out->vkEnumerateInstanceVersion)
        return kiln_error(KILN_ERR_DEVICE,
                          "vulkan: the loader %s only supports Vulkan 1.0; kiln needs 1.1 or newer; " KVK_CPU_HINT, path);
    return KILN_OK;
}
