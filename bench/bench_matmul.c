/* fp32 matmul throughput: kiln's JIT'd GEMM next to OpenBLAS's cblas_sgemm,
 * same thread count, same process, same buffers.
 *
 * Each case runs rounds; in each round kiln and then OpenBLAS get W warmup
 * runs and R timed runs back to back (each library's threads stay awake
 * through its own runs, as in a model step; alternating rounds spreads a noisy
 * neighbour over both). The best time of each is reported as GFLOP/s
 * (2*M*N*K / seconds), with their ratio. The two results are also compared, as
 * a sanity check that the timed code computes the right thing. For M = 1
 * (decode steps) cblas_sgemv is timed as well, since it is what a
 * hand-written decoder would call.
 *
 *   kiln-bench-matmul [--threads N] [--reps R] [--warmup W] [--rounds N] [--cpu-time] [--shape MxNxK[t]]...
 *
 * --cpu-time (with --threads 1) times with the thread's CPU clock instead of
 * the wall clock, so time the thread spends descheduled on a busy machine is
 * not counted: the way to compare kernels while other jobs run.
 *
 * A trailing 't' on a shape means B is [N,K] (NT, Hugging Face weights).
 * --cpu/--features build the kernels for another (smaller) CPU, e.g.
 * --cpu haswell --features +avx,+avx2,+fma to measure the AVX2 kernels.
 * --mr/--nrv/--mc/--kc/--nc/--nc-shared/--unroll/--small-m/--small-mk override the kernel's tuning
 * (kiln_gemm_desc) for experiments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/llvm.h"
#include "kiln/threadpool.h"

#ifdef KILN_BENCH_OPENBLAS
#include <cblas.h>
#endif

typedef struct shape {
    long m, n, k;
    int trans_b;
} shape;

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_random(size_t n, unsigned seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return p;
}

static int parse_shape(const char *s, shape *out) {
    char t = 0;
    int n = sscanf(s, "%ldx%ldx%ld%c", &out->m, &out->n, &out->k, &t);
    if (n < 3 || out->m < 1 || out->n < 1 || out->k < 1 || (n == 4 && t != 't')) return 0;
    out->trans_b = n == 4;
    return 1;
}

static int usage(void) {
    fprintf(stderr,
            "usage: kiln-bench-matmul [--threads N] [--reps R] [--warmup W] [--rounds N] [--cpu-time] [--shape MxNxK[t]]...\n"
            "       [--cpu NAME --features +a,+b,...]\n"
            "       [--mr R] [--nrv V] [--mc M] [--kc K] [--nc N] [--nc-shared N] [--unroll U] [--small-m M] "
            "[--small-mk MK]\n");
    return 2;
}

int main(int argc, char **argv) {
    int threads = 0, reps = 10, warmup = 2, rounds = 3, n_shapes = 0;
    kiln_gemm_desc tune = {0};                /* --mr --nrv --mc --kc --nc --unroll override the defaults */
    const char *cpu = NULL, *features = NULL; /* --cpu/--features: build for another CPU than the host */
    shape shapes[32];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && v)
            reps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && v)
            warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--rounds") && v)
            rounds = atoi(argv[++i]);
        else if (!strcmp(a, "--cpu-time"))
            bench_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(a, "--cpu") && v)
            cpu = argv[++i];
        else if (!strcmp(a, "--features") && v)
            features = argv[++i];
        else if (!strcmp(a, "--mr") && v)
            tune.mr = atoi(argv[++i]);
        else if (!strcmp(a, "--nrv") && v)
            tune.nr_vectors = atoi(argv[++i]);
        else if (!strcmp(a, "--mc") && v)
            tune.mc = atoi(argv[++i]);
        else if (!strcmp(a, "--kc") && v)
            tune.kc = atoi(argv[++i]);
        else if (!strcmp(a, "--nc") && v)
            tune.nc = atoi(argv[++i]);
        else if (!strcmp(a, "--nc-shared") && v)
            tune.nc_shared = atoi(argv[++i]);
        else if (!strcmp(a, "--unroll") && v)
            tune.k_unroll = atoi(argv[++i]);
        else if (!strcmp(a, "--small-m") && v)
            tune.small_m = atoi(argv[++i]);
        else if (!strcmp(a, "--small-mk") && v)
            tune.small_mk = atol(argv[++i]);
        else if (!strcmp(a, "--shape") && v && n_shapes < 32) {
            if (!parse_shape(argv[++i], &shapes[n_shapes++])) return usage();
        } else
            return usage();
    }
    if (reps < 1 || warmup < 0 || rounds < 1 || threads < 0) return usage();
    if (bench_clock != CLOCK_MONOTONIC && threads != 1) {
        fprintf(stderr, "kiln-bench-matmul: --cpu-time needs --threads 1\n");
        return 2;
    }
    if (!n_shapes) {
        const shape def[] = {{1024, 1024, 1024, 0}, {2048, 2048, 2048, 0}, {1024, 1024, 1024, 1},
                             {1, 3072, 768, 1},     {1, 50257, 768, 1},    {1, 3072, 768, 0}};
        n_shapes = (int)(sizeof def / sizeof def[0]);
        memcpy(shapes, def, sizeof def);
    }
    if (!threads) threads = kiln_cpu_count();

    kiln_llvm_target *t = NULL;
    kiln_threadpool *pool = NULL;
    kiln_status s = cpu ? kiln_llvm_target_create(NULL, cpu, features, &t) : kiln_llvm_target_host(&t);
    if (!s) s = kiln_threadpool_create(threads, &pool);
    if (s) {
        fprintf(stderr, "kiln-bench-matmul: %s\n", kiln_status_message(s));
        return 1;
    }
#ifdef KILN_BENCH_OPENBLAS
    openblas_set_num_threads(threads);
    printf("# kiln vs OpenBLAS (%s), %d thread%s, cpu %s, best of %d rounds x %d runs (after %d warmup), %s time\n",
           openblas_get_corename(), threads, threads == 1 ? "" : "s", t->cpu, rounds, reps, warmup,
           bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
#else
    printf("# kiln (no OpenBLAS peer in this build), %d threads, cpu %s\n", threads, t->cpu);
#endif
    printf("%-22s %10s %10s %8s %10s\n", "shape (MxNxK)", "kiln GF/s", "BLAS GF/s", "ratio", "max diff");

    kiln_gemm_kernel *kern[2] = {NULL, NULL};
    for (int i = 0; i < n_shapes; i++) {
        shape sh = shapes[i];
        if (!kern[sh.trans_b]) {
            kiln_gemm_desc d = tune;
            d.trans_b = sh.trans_b;
            double t0 = now();
            s = kiln_gemm_compile(t, &d, &kern[sh.trans_b]);
            if (s) {
                fprintf(stderr, "kiln-bench-matmul: %s\n", kiln_status_message(s));
                return 1;
            }
            const kiln_gemm_desc *r = kiln_gemm_kernel_desc(kern[sh.trans_b]);
            printf("# %s kernel: tile %dx%d, mc %d kc %d nc %d nc_shared %d, compiled in %.0f ms\n",
                   sh.trans_b ? "NT" : "NN", r->mr, r->nr_vectors * kiln_llvm_target_f32_lanes(t), r->mc, r->kc, r->nc,
                   r->nc_shared, (now() - t0) * 1e3);
        }
        size_t na = (size_t)(sh.m * sh.k), nb = (size_t)(sh.k * sh.n), nc = (size_t)(sh.m * sh.n);
        float *a = alloc_random(na, 1), *b = alloc_random(nb, 2), *c = alloc_random(nc, 3),
              *c_ref = alloc_random(nc, 4), *c_gemv = alloc_random(nc, 5);
        if (!a || !b || !c || !c_ref || !c_gemv) {
            fprintf(stderr, "kiln-bench-matmul: out of memory\n");
            return 1;
        }
        kiln_gemm_args args = {.m = sh.m,
                               .n = sh.n,
                               .k = sh.k,
                               .batch = 1,
                               .a = a,
                               .lda = sh.k,
                               .b = b,
                               .ldb = sh.trans_b ? sh.k : sh.n,
                               .c = c,
                               .ldc = sh.n};
        /* For M = 1, OpenBLAS's matrix-vector routine is the fairer peer; it is
         * timed too and shown on its own line. */
        double best_kiln = 1e30, best_blas = 1e30, best_gemv = 1e30;
        /* Rounds of back-to-back runs per library: each keeps its threads
         * awake through its own runs (as in a model step), and alternating
         * rounds spreads a noisy neighbour over both. */
        for (int round = 0; round < rounds; round++) {
            for (int r = 0; r < warmup + reps; r++) {
                double t0 = now();
                s = kiln_gemm_run(kern[sh.trans_b], &args, pool);
                double dt = now() - t0;
                if (s) {
                    fprintf(stderr, "kiln-bench-matmul: %s\n", kiln_status_message(s));
                    return 1;
                }
                if (r >= warmup && dt < best_kiln) best_kiln = dt;
            }
#ifdef KILN_BENCH_OPENBLAS
            for (int r = 0; r < warmup + reps; r++) {
                double t0 = now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, sh.trans_b ? CblasTrans : CblasNoTrans, (int)sh.m,
                            (int)sh.n, (int)sh.k, 1.0f, a, (int)sh.k, b, (int)args.ldb, 0.0f, c_ref, (int)sh.n);
                double dt = now() - t0;
                if (r >= warmup && dt < best_blas) best_blas = dt;
            }
            for (int r = 0; sh.m == 1 && r < warmup + reps; r++) {
                double t0 = now();
                if (sh.trans_b)
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)sh.n, (int)sh.k, 1.0f, b, (int)sh.k, a, 1, 0.0f,
                                c_gemv, 1);
                else
                    cblas_sgemv(CblasRowMajor, CblasTrans, (int)sh.k, (int)sh.n, 1.0f, b, (int)sh.n, a, 1, 0.0f,
                                c_gemv, 1);
                double dt = now() - t0;
                if (r >= warmup && dt < best_gemv) best_gemv = dt;
            }
#endif
        }
        double flops = 2.0 * (double)sh.m * (double)sh.n * (double)sh.k;
        char name[64];
        snprintf(name, sizeof name, "%ldx%ldx%ld%s", sh.m, sh.n, sh.k, sh.trans_b ? " NT" : "");
#ifdef KILN_BENCH_OPENBLAS
        double diff = 0;
        for (size_t j = 0; j < nc; j++) {
            double dd = fabs((double)c[j] - c_ref[j]) / (1.0 + fabs(c_ref[j]));
            if (dd > diff) diff = dd;
        }
        printf("%-22s %10.1f %10.1f %8.3f %10.2g\n", name, flops / best_kiln * 1e-9, flops / best_blas * 1e-9,
               best_blas / best_kiln, diff);
        if (sh.m == 1)
            printf("%-22s %10s %10.1f %8.3f %10s\n", "  (vs cblas_sgemv)", "", flops / best_gemv * 1e-9,
                   best_gemv / best_kiln, "");
#else
        printf("%-22s %10.1f %10s %8s %10s\n", name, flops / best_kiln * 1e-9, "-", "-", "-");
#endif
        fflush(stdout);
        free(a);
        free(b);
        free(c);
        free(c_ref);
        free(c_gemv);
    }
    kiln_gemm_kernel_free(kern[0]);
    kiln_gemm_kernel_free(kern[1]);
    kiln_threadpool_free(pool);
    kiln_llvm_target_free(t);
    return 0;
}
