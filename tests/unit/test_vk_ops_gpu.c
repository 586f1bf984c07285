/* test_vk_ops with the template parameters a discrete GPU gets, run on
 * whatever device there is (main() in test_vk_ops.c says which tests). */
#define VK_OPS_GPU_PARAMS 1
#include "test_vk_ops.c"
