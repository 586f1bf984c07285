/* Device memory and a first kernel: uploads/downloads through staging,
 * sub-allocation, range checks, the out-of-memory message, and a vector
 * add over sizes that exercise bounds checks and the 2-D grid folding. */
#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
static const char *add_src =
    "#version 450\n"
    "layout(local_size_x_id = 0) in;\n"
    "layout(std430, binding = 0) readonly buffer A { float a[]; };\n"
    "layout(std430, binding = 1) readonly buffer B { float b[]; };\n"
    "layout(std430, binding = 2) writeonly buffer C { float c[]; };\n"
    "layout(push_constant) uniform P { uint n; } p;\n"
    "void main() {\n"
    "    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;\n"
    "    uint i = group * gl_WorkGroupSize.x + gl_LocalInvocationID.x;\n"
    "    if (i < p.n) c[i] = a[i] + b[i];\n"
    "}\n";

static void test_vector_add(vk_env *env, uint32_t n) {
    size_t bytes = (size_t)n * 4;
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    for (uint32_t i = 0; i < n; i++) {
        a[i] = vk_uniform(-100, 100);
        b[i] = vk_uniform(-1, 1);
        c[i] = -12345.0f;
    }
    kiln_vk_buffer *ba = NULL, *bb = NULL, *bc = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, bytes, "a", &ba));
    CHECK_OK(kiln_vk_buffer_create(env->dev, bytes, "b", &bb));
    CHECK_OK(kiln_vk_buffer_create(env->dev, bytes, "c", &bc));
    CHECK_OK(kiln_vk_buffer_write(ba, 0, a, bytes));
    CHECK_OK(kiln_vk_buffer_write(bb, 0, b, bytes));
    CHECK_OK(kiln_vk_buffer_write(bc, 0, c, bytes)); /* a sentinel, so a missed element shows */

    uint32_t wg = 64;
    kiln_vk_kernel_desc desc = {.source = {.name = "vector_add", .glsl = add_src}, .nbuffers = 3, .push_size = 4,
                                .spec = &wg, .nspec = 1};
    kiln_vk_kernel *k = NULL;
    CHECK_OK(kiln_vk_kernel_create(env->dev, &desc, &k));
    kiln_vk_binding bind[3] = {{ba, 0, 0, KILN_VK_READ}, {bb, 0, 0, KILN_VK_READ}, {bc, 0, 0, KILN_VK_WRITE}};
    kiln_vk_dispatch d = {.kernel = k, .bindings = bind, .nbindings = 3, .push = &n, .push_size = 4};
    CHECK_OK(kiln_vk_grid_1d(env->dev, (n + wg - 1) / wg, d.groups));
    if (n > 64u * 65535u) CHECK(d.groups[1] > 1); /* folded into y */
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(env->dev, 0, &r));
    CHECK_OK(kiln_vk_record_dispatch(r, &d));
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    CHECK_OK(kiln_vk_buffer_read(bc, 0, c, bytes));
    /* fp32 addition is correctly rounded on the GPU (Vulkan precision
     * rules) and in C, so the results agree exactly */
    int bad = 0;
    for (uint32_t i = 0; i < n; i++) bad += c[i] != a[i] + b[i];
    if (bad) fprintf(stderr, "vector add n=%u: %d wrong elements\n", n, bad);
    CHECK(bad == 0);
    kiln_vk_kernel_destroy(k);
    kiln_vk_buffer_destroy(ba);
    kiln_vk_buffer_destroy(bb);
    kiln_vk_buffer_destroy(bc);
    free(a);
    free(b);
    free(c);
}

static void test_roundtrip_and_ranges(vk_env *env) {
    kiln_vk_buffer *buf = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, 100, "roundtrip", &buf));
    if (!buf) return;
    CHECK(kiln_vk_buffer_size(buf) == 100);
    CHECK(strcmp(kiln_vk_buffer_name(buf), "roundtrip") == 0);
    unsigned char in[100], out[100];
    for (int i = 0; i < 100; i++) in[i] = (unsigned char)(i * 7 + 3);
    CHECK_OK(kiln_vk_buffer_write(buf, 0, in, 100));
    unsigned char patch[5] = {1, 2, 3, 4, 5};
    CHECK_OK(kiln_vk_buffer_write(buf, 13, patch, 5)); /* unaligned offset and size */
    memcpy(in + 13, patch, 5);
    CHECK_OK(kiln_vk_buffer_read(buf, 0, out, 100));
    CHECK(memcmp(in, out, 100) == 0);
    CHECK_OK(kiln_vk_buffer_read(buf, 97, out, 3));
    CHECK(memcmp(in + 97, out, 3) == 0);
    CHECK_ERR(kiln_vk_buffer_read(buf, 98, out, 3), "roundtrip");
    CHECK_ERR(kiln_vk_buffer_write(buf, 101, in, 0), "outside buffer 'roundtrip'");
    CHECK_ERR(kiln_vk_buffer_write(buf, (size_t)-1, in, 2), "outside");
    CHECK_ERR(kiln_vk_buffer_read(buf, 0, NULL, 4), "NULL");
    kiln_vk_buffer_destroy(buf);
}

static void test_suballocation(vk_env *env) {
    kiln_vk_device_stats before, mid, after;
    kiln_vk_device_get_stats(env->dev, &before);
    kiln_vk_buffer *b[5] = {0};
    for (int i = 0; i < 5; i++) CHECK_OK(kiln_vk_buffer_create(env->dev, 1000 + (size_t)i * 333, "small", &b[i]));
    kiln_vk_device_get_stats(env->dev, &mid);
    /* five small buffers fit in the block already there (or one new one) */
    CHECK(mid.memory_blocks <= before.memory_blocks + (before.memory_blocks == 0));
    CHECK(mid.memory_used >= before.memory_used + 5 * 1000 + 333 * 10);
    /* free the middle ones and reuse their space (best fit) */
    kiln_vk_buffer_destroy(b[1]);
    kiln_vk_buffer_destroy(b[2]);
    kiln_vk_buffer *c = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, 2000, "reuse", &c));
    kiln_vk_device_stats reuse;
    kiln_vk_device_get_stats(env->dev, &reuse);
    CHECK(reuse.memory_blocks == mid.memory_blocks);
    /* data in neighbours survives frees and reuse */
    float x = 3.5f, y = 0;
    CHECK_OK(kiln_vk_buffer_write(b[3], 0, &x, 4));
    CHECK_OK(kiln_vk_buffer_write(c, 0, &y, 4));
    CHECK_OK(kiln_vk_buffer_read(b[3], 0, &y, 4));
    CHECK(y == 3.5f);
    kiln_vk_buffer_destroy(c);
    kiln_vk_buffer_destroy(b[0]);
    kiln_vk_buffer_destroy(b[3]);
    kiln_vk_buffer_destroy(b[4]);
    kiln_vk_device_get_stats(env->dev, &after);
    CHECK(after.memory_used == before.memory_used);
}

static void test_errors(vk_env *env) {
    kiln_vk_buffer *b = NULL;
    CHECK_ERR(kiln_vk_buffer_create(env->dev, 0, "empty", &b), "size 0");
    uint64_t biggest = 0;
    for (int i = 0; i < env->info->nheaps; i++)
        if (env->info->heaps[i].size > biggest) biggest = env->info->heaps[i].size;
    kiln_status s = kiln_vk_buffer_create(env->dev, (size_t)biggest + (1u << 20), "huge_weights", &b);
    CHECK(s && kiln_status_code(s) == KILN_ERR_NOMEM);
    if (s) {
        fprintf(stderr, "expected: %s\n", kiln_status_message(s));
        CHECK(strstr(kiln_status_message(s), "out of device memory") != NULL);
        CHECK(strstr(kiln_status_message(s), "huge_weights") != NULL);
        CHECK(strstr(kiln_status_message(s), env->info->name) != NULL);
        kiln_status_free(s);
    }
    /* the device still works after the failure */
    CHECK_OK(kiln_vk_buffer_create(env->dev, 64, "after_oom", &b));
    kiln_vk_buffer_destroy(b);
    /* a dedicated block for a buffer larger than the 256 MiB blocks */
    CHECK_OK(kiln_vk_buffer_create(env->dev, (257u << 20), "dedicated", &b));
    if (b) {
        float v = 42.0f, w = 0;
        CHECK_OK(kiln_vk_buffer_write(b, (257u << 20) - 4, &v, 4));
        CHECK_OK(kiln_vk_buffer_read(b, (257u << 20) - 4, &w, 4));
        CHECK(w == 42.0f);
        kiln_vk_device_stats st;
        kiln_vk_device_get_stats(env->dev, &st);
        uint64_t blocks = st.memory_blocks;
        kiln_vk_buffer_destroy(b);
        kiln_vk_device_get_stats(env->dev, &st);
        CHECK(st.memory_blocks == blocks - 1); /* returned to the driver at once */
    }
    uint32_t g[3];
    CHECK_ERR(kiln_vk_grid_1d(env->dev, (uint64_t)env->info->max_workgroup_count[0] * env->info->max_workgroup_count[1] + 1,
                              g), "exceed");
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_memory", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    vk_env env;
    int rc = 0;
    if (!vk_open(&env, "test_vk_memory", &rc)) return rc;
    uint32_t sizes[] = {1, 7, 64, 4099, 100003, 64u * 65535u + 3 * 64 + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) test_vector_add(&env, sizes[i]);
    test_roundtrip_and_ranges(&env);
    test_suballocation(&env);
    test_errors(&env);
    vk_close(&env);
    vk_cache_cleanup();
    return test_finish("test_vk_memory");
#endif
}
