/* `kiln devices` (the CLI from $KILN): lists the CPU and each Vulkan device
 * by the name the API reports, passes the validation layer, and says why
 * Vulkan is unavailable (still exiting 0) when the loader is missing. */
#include <sys/wait.h>

#include "test_vk_util.h"

/* Runs a shell command; its stdout in *out (malloc'ed), exit status returned. */
static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0;
    *out = calloc(cap, 1);
    for (size_t got; *out && (got = fread(*out + n, 1, cap - 1 - n, p)) > 0;) n += got;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    const char *kiln = getenv("KILN");
    if (!kiln || !*kiln) {
        fprintf(stderr, "test_vk_cli: skipped: KILN (the CLI binary) is not set; ctest sets it\n");
        return 0;
    }
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "KILN_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 '%s' devices", kiln);
    CHECK(run(cmd, &out) == 0);
    CHECK(out && strstr(out, "cpu "));
    CHECK(out && (strstr(out, "vulkan    unavailable") || strstr(out, "vulkan    not built")));
#ifdef KILN_WITH_VULKAN
    CHECK(out && strstr(out, "--device cpu"));
#endif
    free(out);

#ifndef KILN_WITH_VULKAN
    return test_finish("test_vk_cli");
#else
    kiln_vk_options opts = {.no_cache = 1};
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(&opts, &inst);
    if (s) {
        int rc = vk_skip("test_vk_cli", kiln_status_message(s));
        kiln_status_free(s);
        return test_finish("test_vk_cli") | rc;
    }
    snprintf(cmd, sizeof cmd, "'%s' devices --validation", kiln);
    CHECK(run(cmd, &out) == 0); /* non-zero would mean validation messages */
    for (int i = 0; i < kiln_vk_device_count(inst); i++) {
        const kiln_vk_device_info *d = kiln_vk_device_info_at(inst, i);
        char head[300];
        snprintf(head, sizeof head, "vulkan:%d  %s\n", i, d->name);
        CHECK(out && strstr(out, head));
    }
    CHECK(out && strstr(out, "(the default for --device vulkan)"));
    if (out) fputs(out, stderr);
    free(out);
    kiln_vk_instance_destroy(inst);
    snprintf(cmd, sizeof cmd, "'%s' devices --bogus 2>/dev/null", kiln);
    CHECK(run(cmd, &out) == 2);
    free(out);
    return test_finish("test_vk_cli");
#endif
}
