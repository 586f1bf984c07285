/* VkResult names and the status every failing Vulkan call turns into. */
#include <stdarg.h>
#include <stdio.h>

#include "vk_internal.h"

const char *kvk_result_name(VkResult r) {
    switch (r) {
#define N(x) \
    case x: return #x;
        N(VK_SUCCESS)
        N(VK_NOT_READY)
        N(VK_TIMEOUT)
        N(VK_INCOMPLETE)
        N(VK_ERROR_OUT_OF_HOST_MEMORY)
        N(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        N(VK_ERROR_INITIALIZATION_FAILED)
        N(VK_ERROR_DEVICE_LOST)
        N(VK_ERROR_MEMORY_MAP_FAILED)
        N(VK_ERROR_LAYER_NOT_PRESENT)
        N(VK_ERROR_EXTENSION_NOT_PRESENT)
        N(VK_ERROR_FEATURE_NOT_PRESENT)
        N(VK_ERROR_INCOMPATIBLE_DRIVER)
        N(VK_ERROR_TOO_MANY_OBJECTS)
        N(VK_ERROR_FORMAT_NOT_SUPPORTED)
        N(VK_ERROR_FRAGMENTED_POOL)
        N(VK_ERROR_UNKNOWN)
        N(VK_ERROR_OUT_OF_POOL_MEMORY)
        N(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        N(VK_ERROR_FRAGMENTATION)
        N(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        N(VK_PIPELINE_COMPILE_REQUIRED)
#undef N
    default: return "VkResult(unknown)";
    }
}

kiln_status kvk_fail(VkResult r, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    kiln_code code = KILN_ERR_DEVICE;
    const char *hint = "";
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY) {
        code = KILN_ERR_NOMEM;
        hint = " (out of device memory)";
    } else if (r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        code = KILN_ERR_NOMEM;
        hint = " (out of host memory)";
    } else if (r == VK_ERROR_DEVICE_LOST) {
        hint = " (the GPU reset or the driver crashed; results of this run are lost)";
    }
    return kiln_error(code, "vulkan: %s failed: %s%s", what, kvk_result_name(r), hint);
}
