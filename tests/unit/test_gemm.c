/* The JIT'd fp32 GEMM against a naive double-accumulating loop: both B
 * layouts (and transposed A), odd and prime shapes, size-1 dims, batches
 * with shared weights, several K blocks, both the blocked and the small-M
 * paths, accumulate, padded C rows (never written), an AVX2 build, and
 * thread counts 1..3.
 *
 * Tolerance: for a length-K fp32 dot product evaluated in any order, with or
 * without FMA, |computed - exact| <= gamma_K * sum_k |a_k b_k| where
 * gamma_K = K u / (1 - K u), u = 2^-24 (Higham, Accuracy and Stability of
 * Numerical Algorithms, 3.1). Adding the old C costs one more rounding, so we
 * allow (K + 2) u sum|a b| + u |C_old|, plus 1e-30 for exact-zero cases. A
 * wrong or missing term changes the result by ~|a_k b_k|, far above it. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "kiln/llvm.h"

#define U_F32 (1.0 / 16777216.0)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

typedef struct problem {
    int64_t m, n, k, batch;
    int trans_a, trans_b;
    int shared_b; /* stride_b = 0 */
    int accumulate;
    int64_t pad_c; /* extra columns per C row that must stay untouched */
} problem;

#define SENTINEL 12345.0f

/* Runs one problem through kernel `kern` and compares against the reference. */
static void run_problem(kiln_gemm_kernel *kern, const problem *p, kiln_threadpool *pool, const char *what) {
    int64_t m = p->m, n = p->n, k = p->k, nb = p->batch;
    int64_t lda = p->trans_a ? m : k, ldb = p->trans_b ? k : n, ldc = n + p->pad_c;
    int64_t sa = m * k, sb = p->shared_b ? 0 : k * n, sc = m * ldc;
    size_t na = (size_t)(sa * nb) + 1, nbb = (size_t)(p->shared_b ? k * n : sb * nb) + 1, nc = (size_t)(sc * nb) + 16;
    float *a = malloc(na * sizeof *a), *b = malloc(nbb * sizeof *b), *c = malloc(nc * sizeof *c),
          *c0 = malloc(nc * sizeof *c0);
    for (size_t i = 0; i < na; i++)
        a[i] = frand();
    for (size_t i = 0; i < nbb; i++)
        b[i] = frand();
    for (size_t i = 0; i < nc; i++)
        c0[i] = SENTINEL;
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c0[bi * sc + i * ldc + j] = p->accumulate ? frand() : SENTINEL;
    memcpy(c, c0, nc * sizeof *c);

    kiln_gemm_args args = {.m = m,
                           .n = n,
                           .k = k,
                           .batch = nb,
                           .a = a,
                           .lda = lda,
                           .stride_a = sa,
                           .b = b,
                           .ldb = ldb,
                           .stride_b = sb,
                           .c = c,
                           .ldc = ldc,
                           .stride_c = sc,
                           .accumulate = p->accumulate};
    CHECK_OK(kiln_gemm_run(kern, &args, pool));

    int bad = 0;
    double worst = 0;
    for (int64_t bi = 0; bi < nb; bi++) {
        const float *A = a + bi * sa, *B = b + bi * sb;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0, mag = 0;
                for (int64_t kk = 0; kk < k; kk++) {
                    double av = p->trans_a ? A[kk * lda + i] : A[i * lda + kk];
                    double bv = p->trans_b ? B[j * ldb + kk] : B[kk * ldb + j];
                    s += av * bv;
                    mag += fabs(av * bv);
                }
                double old = p->accumulate ? c0[bi * sc + i * ldc + j] : 0.0;
                double want = s + old;
                double tol = (double)(k + 2) * U_F32 * mag + U_F32 * fabs(old) + 1e-30;
                double got = c[bi * sc + i * ldc + j];
                double err = fabs(got - want);
                if (!(err <= tol)) {
                    if (bad < 3)
                        fprintf(stderr,
                                "%s: %lldx%lldx%lld batch %lld: C[%lld][%lld][%lld] = %.9g, want %.9g (tol %.3g)\n",
                                what, (long long)m, (long long)n, (long long)k, (long long)nb, (long long)bi,
                                (long long)i, (long long)j, got, want, tol);
                    bad++;
                }
                if (tol > 0 && err / tol > worst) worst = err / tol;
            }
    }
    /* Padding columns and the memory after C are never written. */
    int clobbered = 0;
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = n; j < ldc; j++)
                clobbered += c[bi * sc + i * ldc + j] != SENTINEL;
    for (size_t i = (size_t)(sc * nb); i < nc; i++)
        clobbered += c[i] != SENTINEL;
    if (bad || clobbered)
        fprintf(stderr, "%s: %lldx%lldx%lld: %d wrong, %d padding values written\n", what, (long long)m, (long long)n,
                (long long)k, bad, clobbered);
    CHECK(bad == 0);
    CHECK(clobbered == 0);
    free(a);
    free(b);
    free(c);
    free(c0);
}

/* A long K of positive products (a vocabulary-sized backward matmul:
 * K = 50257) through the small-M path. One f32 running total over all of K
 * rounds against an ever larger sum: its error grows like u sqrt(K) / 2
 * times the sum (measured 113 u for NN, 13 u for NT whose lanes split K);
 * summed in chunks of 256 the chunk sums and their total err like
 * u sqrt(256) / 2 (measured 11 u NN, 2 u NT). Allowed: 20 u of the sum. */
static void long_k(kiln_gemm_kernel *kern, int trans_b, const char *what) {
    const int64_t m = 2, n = 16, k = 50257;
    float *a = malloc((size_t)(m * k) * sizeof *a), *b = malloc((size_t)(k * n) * sizeof *b),
          *c = malloc((size_t)(m * n) * sizeof *c);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = 0.5f * (frand() + 1.0f);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = 0.5f * (frand() + 1.0f);
    kiln_gemm_args args = {.m = m, .n = n, .k = k, .batch = 1, .a = a, .lda = k, .stride_a = m * k, .b = b,
                           .ldb = trans_b ? k : n, .stride_b = k * n, .c = c, .ldc = n, .stride_c = m * n};
    CHECK_OK(kiln_gemm_run(kern, &args, NULL));
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (double)a[i * k + kk] * (trans_b ? b[j * k + kk] : b[kk * n + j]);
            double rel = fabs(c[i * n + j] - s) / (s * U_F32);
            if (rel > worst) worst = rel;
        }
    if (!(worst <= 20.0)) fprintf(stderr, "%s: K = %lld: error %.1f u of the sum, allowed 20\n", what, (long long)k, worst);
    CHECK(worst <= 20.0);
    free(a);
    free(b);
    free(c);
}

static kiln_gemm_kernel *compile(const kiln_llvm_target *t, kiln_gemm_desc d) {
    kiln_gemm_kernel *k = NULL;
    CHECK_OK(kiln_gemm_compile(t, &d, &k));
    return k;
}

static const int64_t shapes[][3] = {
    {1, 1, 1},       {2, 3, 5},     {7, 13, 29}, {17, 31, 16},  {33, 65, 47}, {14, 32, 256},   {15, 33, 257},
    {300, 257, 513}, {64, 1, 64},   {1, 50, 1},  {3, 100, 700}, {4, 77, 33},  {5, 129, 17},    {28, 96, 300},
    {1, 768, 300},   {2, 1000, 19}, {6, 0, 5},   {0, 4, 5},     {9, 11, 0},   {16, 200, 1100}, {40, 90, 61},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Every shape through one kernel with both accumulate settings. */
static void sweep(kiln_gemm_kernel *kern, int trans_a, int trans_b, kiln_threadpool *pool, const char *what) {
    if (!kern) return;
    for (int s = 0; s < N_SHAPES; s++) {
        problem p = {.m = shapes[s][0],
                     .n = shapes[s][1],
                     .k = shapes[s][2],
                     .batch = 1,
                     .trans_a = trans_a,
                     .trans_b = trans_b,
                     .pad_c = s % 3};
        run_problem(kern, &p, pool, what);
        p.accumulate = 1;
        if (s % 2 == 0) run_problem(kern, &p, pool, what);
    }
    /* Batches: separate B per batch, and one shared B (weights). */
    problem p = {.m = 19, .n = 45, .k = 37, .batch = 3, .trans_a = trans_a, .trans_b = trans_b, .pad_c = 2};
    run_problem(kern, &p, pool, what);
    p.shared_b = 1;
    run_problem(kern, &p, pool, what);
    p.m = 2; /* small-M path with a batch */
    run_problem(kern, &p, pool, what);
}

int main(void) {
    kiln_llvm_target *host = NULL;
    CHECK_OK(kiln_llvm_target_host(&host));
    if (!host) return test_finish("test_gemm");
    kiln_threadpool *pool2 = NULL, *pool3 = NULL;
    CHECK_OK(kiln_threadpool_create(2, &pool2));
    CHECK_OK(kiln_threadpool_create(3, &pool3));

    /* All four layouts with default tuning, on 2 threads; then the same with
     * the streaming path off, so every shape also goes through packing. */
    for (int stream = 1; stream >= 0; stream--)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                kiln_gemm_desc d = {.trans_a = ta, .trans_b = tb, .small_m = stream ? 0 : -1};
                kiln_gemm_kernel *k = compile(host, d);
                char what[64];
                snprintf(what, sizeof what, "%s %s%s", stream ? "default" : "packed", ta ? "T" : "N", tb ? "T" : "N");
                sweep(k, ta, tb, pool2, what);
                if (stream && !ta && k) long_k(k, tb, what);
                kiln_gemm_kernel_free(k);
            }

    /* Tiny blocks force many M, N and K blocks on small inputs, through both
     * the shared-B path (M > mc) and the independent-blocks path; no small-M
     * path, so M = 1..4 go through the blocked paths too. */
    for (int tb = 0; tb < 2; tb++) {
        kiln_gemm_desc d = {.trans_b = tb, .kc = 16, .small_m = -1, .k_unroll = 3};
        CHECK_OK(kiln_gemm_resolve(host, &d, &d));
        d.mc = d.mr;
        d.nc = d.nr_vectors * kiln_llvm_target_f32_lanes(host);
        d.nc_shared = 2 * d.nc;
        kiln_gemm_kernel *k = compile(host, d);
        sweep(k, 0, tb, pool3, tb ? "tiny blocks NT" : "tiny blocks NN");
        if (k) {
            problem p = {.m = 3, .n = 70, .k = 50, .batch = 1, .trans_b = tb};
            run_problem(k, &p, NULL, "tiny blocks, no pool");
        }
        kiln_gemm_kernel_free(k);
    }

    /* An AVX2-only build (8-wide vectors, 16 registers) on this machine. */
    if (strstr(host->features, "+avx2") && strstr(host->features, "+fma")) {
        kiln_llvm_target *avx2 = NULL;
        CHECK_OK(kiln_llvm_target_create(NULL, "haswell", "+avx,+avx2,+fma,+f16c,+sse4.2,+popcnt", &avx2));
        if (avx2) {
            CHECK(kiln_llvm_target_f32_lanes(avx2) == 8);
            for (int tb = 0; tb < 2; tb++) {
                kiln_gemm_desc d = {.trans_b = tb};
                kiln_gemm_kernel *k = compile(avx2, d);
                sweep(k, 0, tb, pool2, tb ? "avx2 NT" : "avx2 NN");
                kiln_gemm_kernel_free(k);
            }
        }
        kiln_llvm_target_free(avx2);
    }

    kiln_threadpool_free(pool2);
    kiln_threadpool_free(pool3);
    kiln_llvm_target_free(host);
    return test_finish("test_gemm");
}
