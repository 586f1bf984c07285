/* Sanitizer builds only. The Vulkan loader unloads drivers and layers when
 * an instance is destroyed, and LeakSanitizer can then neither name nor
 * suppress the allocations those libraries keep for the process's life.
 * So under AddressSanitizer every library named in a Vulkan manifest is
 * opened once more and stays loaded, and their allocations are suppressed
 * by library name (kiln's own leaks are still reported). */
#include "vk_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KVK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KVK_ASAN 1
#endif

#ifdef KVK_ASAN
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);
/* the suppressions' summary would be a second line after kiln's one-line
 * errors (the CLI tests check there is one) */
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
const char *__lsan_default_suppressions(void) {
    return "leak:libvulkan_\nleak:libVkLayer_\nleak:libvulkan.so\nleak:libLLVM\nleak:libgallium\nleak:libdrm\n";
}

static void pin_manifest(const char *path) {
    char text[4096], lib[512];
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *p = strstr(text, "\"library_path\"");
    if (!p || !(p = strchr(p + 14, ':')) || !(p = strchr(p, '"'))) return;
    size_t len = strcspn(p + 1, "\"");
    if (len >= sizeof lib) return;
    memcpy(lib, p + 1, len);
    lib[len] = 0;
    dlopen(lib, RTLD_NOW | RTLD_LOCAL); /* one that does not load is the loader's business */
}

static void pin_all(void) {
    static const char *dirs[] = {"/usr/share/vulkan/icd.d",          "/usr/share/vulkan/explicit_layer.d",
                                 "/usr/share/vulkan/implicit_layer.d", "/etc/vulkan/icd.d",
                                 "/etc/vulkan/explicit_layer.d",       "/etc/vulkan/implicit_layer.d"};
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        for (struct dirent *e; (e = readdir(dir));) {
            char path[1024];
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            pin_manifest(path);
        }
        closedir(dir);
    }
}

void kvk_sanitizer_pin_libraries(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pin_all);
}
#else
void kvk_sanitizer_pin_libraries(void) {}
#endif
