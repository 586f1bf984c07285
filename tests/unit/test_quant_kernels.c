/* The CPU backend's quantized-weight matmul kernels
 * (backends/llvm/codegen_qmatmul*.c) on every block type, both weight
 * layouts, rows 1, 2, 7 and 64 (the two batched products: 2, 4, 14, 128),
 * plain and with a bias + silu + residual epilogue, against the exact
 * product (test_quant_kernels_util.h: expectations and the derived
 * tolerance). Each run goes through three settings of the launcher:
 * its defaults (few rows: _qmv; more: dequantize + GEMM), every row count
 * on _qmv, and every row count on dequantize + GEMM with chunks of 64 or
 * 256 columns (so products span several chunks and the epilogue sees each
 * chunk's column offset). The launch counters prove the fast path ran for
 * the five products whose views allow it, and not for the sliced weight.
 * act_ulps = 8: the CPU's vector exp is within 4 ulp and silu within 8
 * (include/kiln/llvm.h). test_unit_edges: output counts around the NT
 * decode GEMV's unit of columns. */
#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "backends/llvm/codegen_qmatmul.h"
#include "kiln/cpu.h"
#include "kiln/plan.h"
#include "test_quant_kernels_util.h"

/* The fused plan: six matmul kernels, the first five with a quantized B
 * view whose layout the fast path knows. */
static void check_plan(const kiln_cpu_program *p, const char *what) {
    const kiln_plan *plan = kiln_cpu_program_plan(p);
    int mm = 0, fast = 0;
    for (int i = 0; i < kiln_plan_kernel_count(plan); i++) {
        const kiln_kernel *k = kiln_plan_kernel(plan, i);
        if (k->kind != KILN_K_MATMUL) continue;
        mm++;
        fast += cgq_layout(k) != CGQ_NONE;
    }
    if (mm != QK_NOUT || kiln_plan_kernel_count(plan) != QK_NOUT || fast != QK_NOUT) {
        fprintf(stderr, "%s: %d kernels, %d matmuls, %d with a quantized layout\n", what, kiln_plan_kernel_count(plan), mm, fast);
        test_failures++;
    }
}

static void test_type(uint32_t type) {
    const char *tn = kiln_ggml_type_name(type);
    qk_model m;
    qk_model_build(&m, type);
    kiln_cpu_options o = {0};
    o.threads = 2;
    kiln_cpu_program *p = NULL;
    kiln_cpu_exec *e = NULL;
    CHECK_OK(kiln_cpu_compile(m.g, &o, &p));
    if (p) {
        check_plan(p, tn);
        CHECK_OK(kiln_cpu_exec_create(p, m.weights, &o, &e));
    }
    static const int64_t seqs[4] = {1, 2, 7, 64};
    const cgq_tuning modes[3] = {
        {CGQ_DEFAULT_MAX_ROWS, CGQ_DEFAULT_CHUNK_BYTES},
        {1 << 20, CGQ_DEFAULT_CHUNK_BYTES},
        {0, 1}, /* chunks of one unit: 64 columns, 256 for the K types */
    };
    static const char *mode_names[3] = {"default", "all _qmv", "all dequantize+GEMM in small chunks"};
    for (int mode = 0; mode < 3 && e; mode++)
        for (int si = 0; si < 4; si++)
            for (int one_hot = 0; one_hot < 2; one_hot++) {
                cgq_tune = modes[mode];
                cgq_counters before = cgq_count;
                kiln_tensor_map *in = qk_feed(&m, seqs[si], one_hot), *out = NULL;
                CHECK_OK(kiln_cpu_exec_run(e, in, &out));
                char what[160];
                snprintf(what, sizeof what, "%s, seq %lld, %s%s", tn, (long long)seqs[si], mode_names[mode],
                         one_hot ? ", one-hot rows" : "");
                qk_check_run(&m, in, out, seqs[si], one_hot, (qk_act){8.0, 0.0}, what);
                int64_t fast = cgq_count.launches - before.launches;
                if (fast != QK_NOUT - 1) {
                    fprintf(stderr, "%s: %lld launches on the fast path, expected %d\n", what, (long long)fast, QK_NOUT - 1);
                    test_failures++;
                }
                kiln_tensor_map_free(in);
                kiln_tensor_map_free(out);
            }
    cgq_tune = (cgq_tuning){CGQ_DEFAULT_MAX_ROWS, CGQ_DEFAULT_CHUNK_BYTES};
    kiln_cpu_exec_free(e);
    kiln_cpu_program_free(p);
    qk_model_free(&m);
}

/* NT products around the decode GEMV's unit of CGQ_NT_UNIT columns: N
 * below it (the launcher hands those to dequantize + GEMM), exactly one
 * unit, one unit and a column (the last unit starts early and must leave
 * the column before it alone, which the residual add would otherwise add
 * twice), and two units and one. y = x @ dequantize(w)^T + r, checked
 * against the double-precision product with the tolerance of
 * test_quant_kernels_util.h plus the rounding of the add, u |y|. The
 * launch counters show which path each product took. */
static void test_unit_edges(uint32_t type) {
    const char *tn = kiln_ggml_type_name(type);
    enum { NP = 4 };
    const int64_t U = CGQ_NT_UNIT, K = 2 * kiln_ggml_type_get(type)->block_size;
    const int64_t ns[NP] = {5, U, U + 1, 2 * U + 1};
    kiln_graph *g = kiln_graph_new("quant_unit_edges");
    kiln_dim seq = kiln_dim_symbol(g, "seq");
    kiln_value x, r[NP];
    kiln_shape s = {2, {seq, K}};
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &s, &x));
    qk_weight w[NP];
    kiln_tensor_map *weights = kiln_tensor_map_new();
    for (int i = 0; i < NP; i++) {
        char name[8];
        snprintf(name, sizeof name, "r%d", i);
        s = (kiln_shape){2, {seq, ns[i]}};
        CHECK_OK(kiln_graph_add_input(g, name, KILN_F32, &s, &r[i]));
        snprintf(name, sizeof name, "w%d", i);
        qk_weight_random(&w[i], type, ns[i], K);
        qk_put_weight(weights, name, &w[i]);
        kiln_value y = qk_op2(g, KILN_OP_ADD, qk_op2(g, KILN_OP_MATMUL, x, qk_t(g, qk_dq(g, name, type, ns[i], K))), r[i]);
        snprintf(name, sizeof name, "y%d", i);
        CHECK_OK(kiln_graph_add_output(g, name, y));
    }
    kiln_cpu_options o = {0};
    o.threads = 2;
    kiln_cpu_program *p = NULL;
    kiln_cpu_exec *e = NULL;
    CHECK_OK(kiln_cpu_compile(g, &o, &p));
    if (p) CHECK_OK(kiln_cpu_exec_create(p, weights, &o, &e));
    static const int64_t seqs[3] = {1, 3, 5};
    const double u = ldexp(1.0, -24);
    for (int si = 0; si < 3 && e; si++) {
        int64_t M = seqs[si];
        kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
        kiln_tensor t;
        CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 2, (int64_t[]){M, K}));
        float *xp = t.data;
        for (int64_t j = 0; j < M * K; j++) xp[j] = qk_unit();
        CHECK_OK(kiln_tensor_map_put(in, "x", t));
        const float *rp[NP];
        for (int i = 0; i < NP; i++) {
            char name[8];
            snprintf(name, sizeof name, "r%d", i);
            CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 2, (int64_t[]){M, ns[i]}));
            for (int64_t j = 0; j < M * ns[i]; j++) ((float *)t.data)[j] = qk_unit();
            rp[i] = t.data;
            CHECK_OK(kiln_tensor_map_put(in, name, t));
        }
        cgq_counters before = cgq_count;
        CHECK_OK(kiln_cpu_exec_run(e, in, &out));
        int64_t qmv = cgq_count.qmv - before.qmv, launches = cgq_count.launches - before.launches;
        if (launches != NP || qmv != NP - 1) {
            fprintf(stderr, "%s, seq %lld: %lld launches, %lld on _qmv; expected %d and %d\n", tn, (long long)M,
                    (long long)launches, (long long)qmv, NP, NP - 1);
            test_failures++;
        }
        for (int i = 0; i < NP && out; i++) {
            char name[8];
            snprintf(name, sizeof name, "y%d", i);
            const kiln_tensor *y = kiln_tensor_map_get(out, name);
            if (!y || kiln_tensor_numel(y) != M * ns[i]) {
                fprintf(stderr, "%s: %s missing or of the wrong size\n", tn, name);
                test_failures++;
                continue;
            }
            const float *yp = y->data;
            int bad = 0;
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < ns[i]; n++) {
                    double acc = 0, sa = 0;
                    for (int64_t k = 0; k < K; k++) {
                        double p2 = (double)xp[m * K + k] * (double)w[i].deq[n * K + k];
                        acc += p2;
                        sa += fabs(p2);
                    }
                    double want = acc + rp[i][m * ns[i] + n], tol = (double)(K + 1) * u * sa + u * fabs(want) + 1e-30;
                    double got = yp[m * ns[i] + n];
                    if (!(fabs(got - want) <= tol) && bad++ < 3) {
                        fprintf(stderr, "%s, seq %lld: %s[%lld, %lld] = %.9g, expected %.9g (tolerance %.3g)\n", tn,
                                (long long)M, name, (long long)m, (long long)n, got, want, tol);
                        test_failures++;
                    }
                }
        }
        kiln_tensor_map_free(in);
        kiln_tensor_map_free(out);
    }
    kiln_cpu_exec_free(e);
    kiln_cpu_program_free(p);
    kiln_tensor_map_free(weights);
    for (int i = 0; i < NP; i++) qk_weight_free(&w[i]);
    kiln_graph_free(g);
}

int main(void) {
    for (int i = 0; i < QK_NTYPES; i++) test_type(qk_types[i]);
    for (int i = 0; i < QK_NTYPES; i++) test_unit_edges(qk_types[i]);
    return test_finish("test_quant_kernels");
}
#else
int main(void) {
    fprintf(stderr, "test_quant_kernels: built without LLVM, skipped\n");
    return test_finish("test_quant_kernels");
}
#endif
