/* ctest-label: slow (Vulkan with validation under ASan takes minutes; the normal run covers it) */
/* Gradient checks on Vulkan (lavapipe in CI) with the validation layer on:
 * every op case of test_grad_cases.h, the backward graphs compiled
 * through fusion, memory planning and GLSL like any graph, and the GPT-2
 * and Llama descriptions (test_grad_model_util.h; tolerance as in
 * test_grad_models.c, 10x for lavapipe's exp/log/tanh). Skips where
 * there is no Vulkan, fails then under KILN_REQUIRE_VULKAN=1. */
#include "test_grad_cases.h"
#include "test_grad_model_util.h"
#include "test_vk_util.h"

int main(void) {
    setenv("KILN_VK_VALIDATION", "1", 1);
    setenv("XDG_CACHE_HOME", vk_cache_dir(), 1); /* shaders cached privately */
    if (!gt_device_built("vulkan")) {
        int rc = vk_skip("test_grad_vk", "no usable Vulkan device with the validation layer");
        vk_cache_cleanup();
        return rc;
    }
    dev = "vulkan";
    run_all();
    gt_max_elems = 3;
    check_model(&cases[0], dev, 1e-5, 1e-3, 1e-4); /* gpt2.kiln */
    check_model(&cases[4], dev, 1e-5, 1e-3, 1e-4); /* llama.kiln: grouped kv heads, rope, rms_norm, silu */
    vk_cache_cleanup();
    return test_finish("test_grad_vk");
}
