/* Softmax over the last axis against a double-precision CPU reference:
 * rows of 1 up to 100000 elements (not multiples of the workgroup), a row
 * offset by +1000 (needs the max subtraction), -inf entries (attention
 * masks), many rows (2-D grid), in place, and a too-small binding. */
#include <math.h>

#include "test_vk_util.h"

#ifdef KILN_WITH_VULKAN
static void reference(const float *x, double *y, uint32_t rows, uint32_t n) {
    for (uint32_t r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        double m = -INFINITY, s = 0;
        for (uint32_t i = 0; i < n; i++) m = xr[i] > m ? xr[i] : m;
        for (uint32_t i = 0; i < n; i++) s += exp((double)xr[i] - m);
        for (uint32_t i = 0; i < n; i++) y[(size_t)r * n + i] = exp((double)xr[i] - m) / s;
    }
}

/* Inputs lie within 16 of their row's max, so by Vulkan's precision rules
 * exp is within 3 + 2*16 ULP; the division and the reciprocal add a few;
 * the sum of n positive terms accumulates at most about n/32 + 8 roundings
 * (each thread adds n/WG >= n/256... terms, WG >= 32, then a log-depth
 * tree). One ULP is at most 2^-23 relative. */
static double tolerance(uint32_t n) { return (3.0 + 2.0 * 16 + 6 + ceil(n / 32.0) + 8) * ldexp(1.0, -23); }

static void run_case(vk_env *env, uint32_t rows, uint32_t n, int in_place) {
    size_t count = (size_t)rows * n;
    float *x = malloc(count * 4), *y = malloc(count * 4);
    double *ref = malloc(count * sizeof *ref);
    for (size_t i = 0; i < count; i++) x[i] = vk_uniform(-8, 8);
    if (rows > 1)
        for (uint32_t i = 0; i < n; i++) x[n + i] += 1000.0f; /* exp(1000) overflows without the max */
    if (rows > 2 && n > 3) {
        x[2 * (size_t)n + 1] = -INFINITY;
        x[2 * (size_t)n + n - 1] = -INFINITY;
    }
    reference(x, ref, rows, n);
    kiln_vk_buffer *bx = NULL, *by = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, count * 4, "x", &bx));
    if (!in_place) CHECK_OK(kiln_vk_buffer_create(env->dev, count * 4, "y", &by));
    else by = bx;
    if (!bx || !by) return;
    CHECK_OK(kiln_vk_buffer_write(bx, 0, x, count * 4));
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(env->dev, 0, &r));
    if (!in_place) CHECK_OK(kiln_vk_record_fill(r, by, 0, count * 4, 0x7fc00000u)); /* NaN until written */
    kiln_vk_binding bx_ = {bx, 0, 0, KILN_VK_READ}, by_ = {by, 0, 0, KILN_VK_WRITE};
    CHECK_OK(kiln_vk_record_softmax(r, bx_, by_, rows, n));
    CHECK_OK(kiln_vk_recorder_submit(r));
    kiln_vk_recorder_destroy(r);
    CHECK_OK(kiln_vk_buffer_read(by, 0, y, count * 4));
    double tol = tolerance(n);
    int bad = 0;
    for (uint32_t rr = 0; rr < rows; rr++) {
        double sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            size_t o = (size_t)rr * n + i;
            if (!(fabs(y[o] - ref[o]) <= tol * ref[o] + 1e-30)) bad++;
            sum += y[o];
        }
        if (!(fabs(sum - 1.0) <= tol)) bad++;
    }
    if (rows > 2 && n > 3) CHECK(y[2 * (size_t)n + 1] == 0.0f); /* masked entries are exactly 0 */
    if (bad) fprintf(stderr, "softmax rows=%u n=%u%s: %d values outside tolerance %.3g\n", rows, n,
                     in_place ? " (in place)" : "", bad, tol);
    CHECK(bad == 0);
    kiln_vk_buffer_destroy(bx);
    if (!in_place) kiln_vk_buffer_destroy(by);
    free(x);
    free(y);
    free(ref);
}

static void test_errors(vk_env *env) {
    kiln_vk_buffer *b = NULL;
    CHECK_OK(kiln_vk_buffer_create(env->dev, 400, "logits", &b));
    kiln_vk_recorder *r = NULL;
    CHECK_OK(kiln_vk_recorder_create(env->dev, 0, &r));
    if (!b || !r) return;
    kiln_vk_binding x = {b, 0, 0, KILN_VK_READ};
    CHECK_ERR(kiln_vk_record_softmax(r, x, x, 11, 10), "logits");    /* 440 bytes needed */
    CHECK_OK(kiln_vk_record_softmax(r, x, x, 0, 10));                /* empty: nothing to do */
    kiln_vk_binding none = {NULL, 0, 0, KILN_VK_READ};
    CHECK_ERR(kiln_vk_record_softmax(r, none, x, 1, 1), "NULL");
    CHECK(kiln_vk_recorder_dispatch_count(r) == 0);
    kiln_vk_recorder_destroy(r);
    kiln_vk_buffer_destroy(b);
}
#endif

int main(void) {
#ifndef KILN_WITH_VULKAN
    return vk_skip("test_vk_softmax", "kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)");
#else
    vk_env env;
    int rc = 0;
    if (!vk_open(&env, "test_vk_softmax", &rc)) return rc;
    static const uint32_t cases[][2] = {{1, 1}, {3, 5}, {2, 33}, {7, 1000}, {3, 4097}, {70000, 3}, {5, 256}, {1, 100000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&env, cases[i][0], cases[i][1], 0);
    run_case(&env, 4, 777, 1);
    /* the shared-memory reduction that devices without subgroup arithmetic use */
    setenv("KILN_VK_DISABLE_SUBGROUPS", "1", 1);
    run_case(&env, 3, 4097, 0);
    run_case(&env, 9, 31, 0);
    run_case(&env, 2, 1, 0);
    unsetenv("KILN_VK_DISABLE_SUBGROUPS");
    test_errors(&env);
    fprintf(stderr, "subgroup reductions: %s\n", env.info->subgroup_arithmetic ? "yes" : "no (shared-memory tree)");
    vk_close(&env);
    vk_cache_cleanup();
    return test_finish("test_vk_softmax");
#endif
}
