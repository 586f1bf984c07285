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
 * (include/kiln/llvm.h). */
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

int main(void) {
    for (int i = 0; i < QK_NTYPES; i++) test_type(qk_types[i]);
    return test_finish("test_quant_kernels");
}
#else
int main(void) {
    fprintf(stderr, "test_quant_kernels: built without LLVM, skipped\n");
    return test_finish("test_quant_kernels");
}
#endif
