/* Where Vulkan cannot be used, kiln says why and that --device cpu works:
 * no loader library, no driver (ICD), no validation layer when validation
 * is asked for. Each case is staged through the environment variables the
 * loader and kiln read; none needs a GPU. */
#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
static void expect_failure(const char *what, const kiln_vk_options *opts, const char *n1, const char *n2) {
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(opts, &inst);
    CHECK(s != NULL);
    CHECK(inst == NULL);
    if (!s) {
        kiln_vk_instance_destroy(inst);
        return;
    }
    const char *m = kiln_status_message(s);
    fprintf(stderr, "%s -> %s\n", what, m);
    CHECK(kiln_status_code(s) == KILN_ERR_DEVICE);
    CHECK(strstr(m, n1) != NULL);
    if (n2) CHECK(strstr(m, n2) != NULL);
    kiln_status_free(s);
    /* the same through kiln_vk_open */
    kiln_vk_device *dev = NULL;
    CHECK_ERR(kiln_vk_open(opts, "vulkan", &dev), n1);
    CHECK(dev == NULL);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_errors", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    kiln_vk_options plain = {.no_cache = 1};
    setenv("KILN_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1", 1);
    expect_failure("no loader", &plain, "could not be loaded", "--device cpu");
    setenv("KILN_VULKAN_LIBRARY", "libm.so.6", 1); /* a library, but not a Vulkan loader */
    expect_failure("not a loader", &plain, "not a Vulkan loader", "--device cpu");
    unsetenv("KILN_VULKAN_LIBRARY");

    /* Is there a loader at all? Without one the remaining cases cannot be staged. */
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(&plain, &inst);
    if (s && strstr(kiln_status_message(s), "could not be loaded")) {
        kiln_status_free(s);
        int rc = vk_skip("test_vk_errors (driver and layer cases)", "no Vulkan loader is installed");
        return test_finish("test_vk_errors") | rc;
    }
    kiln_status_free(s);
    kiln_vk_instance_destroy(inst);

    setenv("VK_ICD_FILENAMES", "/nonexistent/kiln_icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/kiln_icd.json", 1);
    expect_failure("no driver", &plain, "no Vulkan driver (ICD)", "--device cpu");
    unsetenv("VK_ICD_FILENAMES");
    unsetenv("VK_DRIVER_FILES");

    setenv("VK_LAYER_PATH", "/nonexistent/layers", 1);
    kiln_vk_options validated = {.validation = 1, .no_cache = 1};
    expect_failure("no validation layer", &validated, "VK_LAYER_KHRONOS_validation", "vulkan-validationlayers");
    unsetenv("VK_LAYER_PATH");

    /* KILN_VK_VALIDATION in the environment turns validation on */
    setenv("KILN_VK_VALIDATION", "1", 1);
    s = kiln_vk_instance_create(&plain, &inst);
    if (!s) {
        CHECK(kiln_vk_validation_enabled(inst));
        kiln_vk_instance_destroy(inst);
    } else {
        int rc = vk_skip("test_vk_errors (validation by environment)", kiln_status_message(s));
        kiln_status_free(s);
        if (rc) test_failures++;
    }
    setenv("KILN_VK_VALIDATION", "0", 1);
    s = kiln_vk_instance_create(&plain, &inst);
    if (!s) {
        CHECK(!kiln_vk_validation_enabled(inst));
        kiln_vk_instance_destroy(inst);
    }
    kiln_status_free(s);
    unsetenv("KILN_VK_VALIDATION");
    return test_finish("test_vk_errors");
#endif
}
