/* The tiled Vulkan matmul against a naive CPU loop in double precision:
 * shapes of 1, primes and sizes that are not multiples of any tile, both B
 * layouts, batches with and without a broadcast B, every tile config, K = 0,
 * operands at offsets inside one shared buffer, and argument errors. */
#include <math.h>

#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
typedef struct shape {
    uint32_t batch, m, n, k;
} shape;

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* C = A @ B in double, and sum |a||b| per entry for the error bound. */
static void reference(const float *a, const float *b, double *c, double *mag, shape s, uint32_t sb, int nt) {
    for (uint32_t p = 0; p < s.batch; p++)
        for (uint32_t i = 0; i < s.m; i++)
            for (uint32_t j = 0; j < s.n; j++) {
                double acc = 0, m = 0;
                for (uint32_t l = 0; l < s.k; l++) {
                    double av = a[(size_t)p * s.m * s.k + (size_t)i * s.k + l];
                    double bv = nt ? b[(size_t)p * sb + (size_t)j * s.k + l] : b[(size_t)p * sb + (size_t)l * s.n + j];
                    acc += av * bv;
                    m += fabs(av * bv);
                }
                size_t o = (size_t)p * s.m * s.n + (size_t)i * s.n + j;
                c[o] = acc;
                mag[o] = m;
            }
}

/* Runs one matmul with A, B, C placed at aligned offsets in one buffer.
 * Error bound: a K-term fp32 dot product (with or without fma) is within
 * K * u * sum|a_l b_l| of the exact value, u = 2^-24 (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 3.1); 2^-23 leaves room for the
 * rounding of the stored result. */
static void run_case(vk_env *env, shape s, kiln_vk_matmul_layout layout, int broadcast_b,
                     const kiln_vk_matmul_config *cfg) {
    int nt = layout == KILN_VK_MATMUL_NT;
    uint32_t sb = broadcast_b ? 0 : s.k * s.n;
    size_t na = (size_t)s.batch * s.m * s.k, nb = broadcast_b ? (size_t)s.k * s.n : (size_t)s.batch * s.k * s.n;
    size_t nc = (size_t)s.batch * s.m * s.n;
    size_t al = env->info->min_storage_buffer_offset_alignment < 4 ? 4 : env->info->min_storage_buffer_offset_alignment;
    size_t off_a = al, off_b = align_up(off_a + na * 4, al) + al, off_c = align_up(off_b + nb * 4, al);
    size_t total = off_c + nc * 4 + 4; /* a guard float after C */
    float *a = malloc(na * 4 + 4), *b = malloc(nb * 4 + 4), *c = malloc(nc * 4 + 4);
    double *ref = malloc(nc * sizeof *ref + 8), *mag = malloc(nc * sizeof *mag + 8);
    for (size_t i = 0; i < na; i++) a[i] = vk_uniform(-1, 1);
    for (size_t i = 0; i < nb; i++) b[i] = vk_uniform(-1, 1);
    reference(a, b, ref, mag, s, sb, nt);

    kiln_vk_buffer *buf = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, total, "arena", &buf));
    if (!buf) return;
    float guard = 777.0f;
    CHECK_OK(kiln_vk_buffer_write(buf, off_a, a, na * 4));
    CHECK_OK(kiln_vk_buffer_write(buf, off_b, b, nb * 4));
    CHECK_OK(kiln_vk_buffer_write(buf, off_c + nc * 4, &guard, 4));
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(env->dev, 0, &r));
    /* C starts as NaN so an element the kernel skips cannot pass */
    CHECK_OK(kiln_vk_record_fill(r, buf, off_c, nc * 4, 0x7fc00000u));
    kiln_vk_matmul_args args = {
        .a = {buf, off_a, na * 4, 0},
        .b = {buf, off_b, nb * 4, 0},
        .c = {buf, off_c, nc * 4, 0},
        .batch = s.batch, .m = s.m, .n = s.n, .k = s.k,
        .stride_a = s.m * s.k, .stride_b = sb, .stride_c = s.m * s.n,
        .layout = layout,
        .config = cfg,
    };
    CHECK_OK(kiln_vk_record_matmul(r, &args));
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    CHECK_OK(kiln_vk_buffer_read(buf, off_c, c, nc * 4 + 4));
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < nc; i++) {
        double bound = (double)s.k * ldexp(1.0, -23) * mag[i];
        double err = fabs((double)c[i] - ref[i]);
        if (!(err <= bound)) bad++; /* NaN fails too */
        if (bound > 0 && err / bound > worst) worst = err / bound;
    }
    CHECK(c[nc] == 777.0f); /* nothing written past C */
    if (bad)
        fprintf(stderr, "matmul %s batch=%u m=%u n=%u k=%u%s tile=%ux%u: %d of %zu entries outside the bound\n",
                nt ? "NT" : "NN", s.batch, s.m, s.n, s.k, broadcast_b ? " (B broadcast)" : "", cfg ? cfg->bm : 0,
                cfg ? cfg->bn : 0, bad, nc);
    CHECK(bad == 0);
    kiln_vk_buffer_destroy(buf);
    free(a);
    free(b);
    free(c);
    free(ref);
    free(mag);
}

static void test_errors(vk_env *env) {
    kiln_vk_buffer *buf = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, 4096, "small", &buf));
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(env->dev, 0, &r));
    if (!buf || !r) return;
    kiln_vk_matmul_args args = {
        .a = {buf, 0, 1024, 0}, .b = {buf, 1024, 1024, 0}, .c = {buf, 2048, 1024, 0},
        .batch = 1, .m = 16, .n = 16, .k = 16, .stride_a = 256, .stride_b = 256, .stride_c = 256,
    };
    CHECK_OK(kiln_vk_record_matmul(r, &args)); /* 16x16 floats = 1024 bytes: fits exactly */
    args.m = 17;                               /* A and C now need 1088 bytes */
    CHECK_ERR(kiln_vk_record_matmul(r, &args), "A needs 1088 bytes");
    args.m = 16;
    args.batch = 2; /* the second batch entry is past every binding */
    CHECK_ERR(kiln_vk_record_matmul(r, &args), "needs");
    args.batch = 1;
    kiln_vk_matmul_config odd = {64, 64, 16, 5, 4};
    args.config = &odd;
    CHECK_ERR(kiln_vk_record_matmul(r, &args), "not a valid tiling");
    kiln_vk_matmul_config huge = {1024, 1024, 16, 32, 32};
    args.config = &huge;
    CHECK_ERR(kiln_vk_record_matmul(r, &args), "shared memory");
    args.config = NULL;
    args.layout = (kiln_vk_matmul_layout)7;
    CHECK_ERR(kiln_vk_record_matmul(r, &args), "layout");
    args.layout = KILN_VK_MATMUL_NN;
    args.b.offset = 1028; /* not aligned for a storage buffer binding (alignment >= 16 here) */
    args.b.size = 0;
    if (env->info->min_storage_buffer_offset_alignment > 4) CHECK_ERR(kiln_vk_record_matmul(r, &args), "alignment");
    CHECK_OK(kiln_vk_recorder_submit(r)); /* the good matmul recorded before the errors still runs */
    CHECK(kiln_vk_recorder_dispatch_count(r) == 1);
    kiln_vk_recorder_destroy(r);
    kiln_vk_buffer_destroy(buf);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_matmul", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    vk_env env;
    int rc = 0;
    if (!vk_open(&env, "test_vk_matmul", &rc)) return rc;
    static const shape shapes[] = {
        {1, 1, 1, 1},    {1, 1, 1, 300},   {1, 1, 37, 5},   {1, 37, 1, 5},    {1, 13, 17, 19},
        {1, 31, 29, 37}, {2, 64, 64, 64},  {1, 65, 63, 129}, {3, 33, 70, 17}, {1, 127, 131, 67},
        {1, 200, 3, 300}, {2, 5, 7, 0},
    };
    static const kiln_vk_matmul_config configs[] = {{128, 128, 16, 8, 8}, {64, 64, 16, 4, 4}, {32, 32, 16, 4, 4},
                                                    {16, 64, 8, 2, 4}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int i = 0; i < nshapes; i++)
        for (int layout = 0; layout < 2; layout++) run_case(&env, shapes[i], (kiln_vk_matmul_layout)layout, 0, NULL);
    /* every config on shapes that cut through its tiles */
    for (int c = 0; c < 4; c++)
        for (int layout = 0; layout < 2; layout++) {
            run_case(&env, (shape){1, 131, 129, 37}, (kiln_vk_matmul_layout)layout, 0, &configs[c]);
            run_case(&env, (shape){2, 3, 150, 20}, (kiln_vk_matmul_layout)layout, 0, &configs[c]);
        }
    /* one B shared by the whole batch (weights) */
    for (int layout = 0; layout < 2; layout++) run_case(&env, (shape){3, 19, 23, 29}, (kiln_vk_matmul_layout)layout, 1, NULL);
    test_errors(&env);

    /* tile choice respects the device and grows with the problem */
    kiln_vk_matmul_config small = kiln_vk_matmul_pick(env.info, 1, 8, 8, 8);
    kiln_vk_matmul_config big = kiln_vk_matmul_pick(env.info, 1, 4096, 4096, 4096);
    CHECK(small.bm * small.bn <= big.bm * big.bn);
    CHECK(4 * big.bk * (big.bm + big.bn + 2) <= env.info->max_shared_memory);
    CHECK((big.bm / big.tm) * (big.bn / big.tn) <= env.info->max_workgroup_invocations);
    kiln_vk_device_info gpu = *env.info; /* what an H100 reports to Vulkan */
    gpu.type = KILN_VK_TYPE_DISCRETE;
    gpu.subgroup_size = 32;
    gpu.max_shared_memory = 49152;
    gpu.max_workgroup_invocations = 1024;
    kiln_vk_matmul_config h = kiln_vk_matmul_pick(&gpu, 1, 4096, 4096, 4096);
    CHECK(h.bm == 128 && h.bn == 128);
    gpu.max_shared_memory = 8192; /* a device too small for the larger tiles gets the small one */
    h = kiln_vk_matmul_pick(&gpu, 1, 4096, 4096, 4096);
    CHECK(4 * h.bk * (h.bm + h.bn + 2) <= 8192);

    vk_close(&env);
    vk_cache_cleanup();
    return test_finish("test_vk_matmul");
#endif
}
