/* Speed of one linear layer y = x @ W^T on the CPU backend with W in f32,
 * q8_0, q4_0, q4_K and q6_K, in the same run: microseconds per call and
 * the rate at which the weight bytes stream (the figure that matters for
 * decode, where every weight is read once per token).
 *
 *   kiln-bench-quant-matmul [-m ROWS] [-n N] [-k K] [-t THREADS] [-r REPEATS]
 *                           [--qmv-rows R]
 *
 * Defaults: one row (a decode step), 4096 x 4096, all threads, the best of
 * 5 rounds of enough calls for about 0.2 s. --qmv-rows sets the launcher's
 * switch from the decode kernel to dequantize + GEMM (codegen_qmatmul.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/llvm/codegen_qmatmul.h"
#include "kiln/cpu.h"
#include "kiln/kiln.h"
#include "kiln/quant.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) % 2001) / 1000.0f - 1.0f;
}

static int die(kiln_status s, const char *what) {
    fprintf(stderr, "%s: %s\n", what, kiln_status_message(s));
    kiln_status_free(s);
    exit(1);
}
#define TRY(x, what)                     \
    do {                                 \
        kiln_status s_ = (x);            \
        if (s_) die(s_, what);           \
    } while (0)

/* One type: graph, weights, program, timing. Returns microseconds per call. */
static double run_type(uint32_t type, int64_t M, int64_t N, int64_t K, int threads, int repeats, double *weight_bytes) {
    kiln_graph *g = kiln_graph_new("linear");
    kiln_value x, w, y, t;
    kiln_shape xs = {2, {M, K}};
    TRY(kiln_graph_add_input(g, "x", KILN_F32, &xs, &x), "input");
    float *wf = malloc((size_t)(N * K) * sizeof *wf);
    for (int64_t i = 0; i < N * K; i++) wf[i] = frand() * 0.05f;
    kiln_tensor_map *wm = kiln_tensor_map_new();
    uint8_t *raw = NULL;
    if (type == KILN_GGML_F32) {
        kiln_shape ws = {2, {N, K}};
        TRY(kiln_graph_add_param(g, "w", KILN_F32, &ws, &w), "param");
        TRY(kiln_tensor_map_put(wm, "w", kiln_tensor_view(KILN_F32, 2, (int64_t[]){N, K}, wf)), "weights");
        *weight_bytes = (double)N * (double)K * 4;
    } else {
        const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
        int64_t rb = K / ti->block_size * ti->type_size;
        size_t nb = (size_t)(N * rb);
        raw = malloc(nb);
        /* kiln writes q8_0/q4_0; the K types get random blocks with sane scales */
        if (ti->can_quantize) TRY(kiln_quantize(type, wf, N * K, raw, nb), "quantize");
        else
            for (size_t i = 0; i < nb; i++) raw[i] = (uint8_t)(frand() * 127 + 128);
        if (!ti->can_quantize)
            for (size_t b = 0; b < nb; b += (size_t)ti->type_size) {
                uint16_t h = kiln_f32_to_f16(0.001f);
                memcpy(raw + b + (type == KILN_GGML_Q6_K ? 208 : 0), &h, 2);
            }
        kiln_shape rs = {2, {N, rb}};
        TRY(kiln_graph_add_param(g, "w", KILN_U8, &rs, &w), "param");
        kiln_named_attr at[2] = {kiln_a_str("type", ti->name), kiln_a_dims("shape", 2, (kiln_dim[]){N, K})};
        TRY(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &w, 2, at, &w), "dequantize");
        kiln_tensor q;
        TRY(kiln_quant_tensor_view(type, 2, (int64_t[]){N, K}, raw, nb, &q), "view");
        TRY(kiln_tensor_map_put(wm, "w", q), "weights");
        *weight_bytes = (double)nb;
    }
    int64_t perm[2] = {1, 0};
    kiln_named_attr ap = kiln_a_ints("perm", 2, perm);
    TRY(kiln_build(g, KILN_OP_TRANSPOSE, 1, &w, 1, &ap, &t), "transpose");
    TRY(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, t}, 0, NULL, &y), "matmul");
    TRY(kiln_graph_add_output(g, "y", y), "output");
    kiln_cpu_options o = {0};
    o.threads = threads;
    kiln_cpu_program *p = NULL;
    kiln_cpu_exec *e = NULL;
    TRY(kiln_cpu_compile(g, &o, &p), "compile");
    TRY(kiln_cpu_exec_create(p, wm, &o, &e), "exec");
    kiln_tensor_map *in = kiln_tensor_map_new();
    kiln_tensor tx;
    TRY(kiln_tensor_alloc(&tx, KILN_F32, 2, (int64_t[]){M, K}), "alloc");
    for (int64_t i = 0; i < M * K; i++) ((float *)tx.data)[i] = frand();
    TRY(kiln_tensor_map_put(in, "x", tx), "input");
    kiln_tensor_map *out = NULL;
    TRY(kiln_cpu_exec_run(e, in, &out), "run"); /* warm-up */
    kiln_tensor_map_free(out);
    double t0 = now();
    int calls = 0;
    while (now() - t0 < 0.05 || calls < 3) {
        TRY(kiln_cpu_exec_run(e, in, &out), "run");
        kiln_tensor_map_free(out);
        calls++;
    }
    int per_round = (int)(calls * 0.2 / (now() - t0)) + 1;
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t1 = now();
        for (int i = 0; i < per_round; i++) {
            TRY(kiln_cpu_exec_run(e, in, &out), "run");
            kiln_tensor_map_free(out);
        }
        double us = (now() - t1) / per_round * 1e6;
        if (us < best) best = us;
    }
    kiln_tensor_map_free(in);
    kiln_cpu_exec_free(e);
    kiln_cpu_program_free(p);
    kiln_tensor_map_free(wm);
    kiln_graph_free(g);
    free(wf);
    free(raw);
    return best;
}

int main(int argc, char **argv) {
    int64_t M = 1, N = 4096, K = 4096;
    int threads = 0, repeats = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) M = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-n")) N = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-k")) K = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--qmv-rows")) cgq_tune.max_rows = atoll(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (K % 256) {
        fprintf(stderr, "K must be a multiple of 256 (the K types' block)\n");
        return 2;
    }
    char tn[16];
    snprintf(tn, sizeof tn, "%d", threads);
    printf("y[%lld, %lld] = x[%lld, %lld] @ W^T, threads %s, best of %d\n", (long long)M, (long long)N, (long long)M,
           (long long)K, threads ? tn : "all", repeats);
    static const uint32_t types[] = {KILN_GGML_F32, KILN_GGML_Q8_0, KILN_GGML_Q4_0, KILN_GGML_Q4_K, KILN_GGML_Q6_K};
    double f32_us = 0;
    for (int i = 0; i < 5; i++) {
        double bytes = 0, us = run_type(types[i], M, N, K, threads, repeats, &bytes);
        if (i == 0) f32_us = us;
        printf("  %-5s %10.1f us  %7.2f GB/s of weights  %6.1f GFLOP/s  %.2fx f32\n", kiln_ggml_type_name(types[i]), us,
               bytes / us * 1e-3, 2.0 * (double)M * (double)N * (double)K / us * 1e-3, f32_us / us);
    }
    return 0;
}
