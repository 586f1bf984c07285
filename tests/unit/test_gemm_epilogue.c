/* GEMM epilogues: bias along N, activations, residual add, scaling, a gating
 * multiply and a custom hook that sees the row/column/batch indices, through
 * the blocked path (with several K blocks, so an epilogue applied per K block
 * instead of once would show) and the small-M path, both B layouts, batched.
 *
 * Reference: the product in double, then each step in double. Tolerance
 * (propagated step by step, u = 2^-24):
 *   product:        (K + 2) u sum|a b| + u |C_old|   (see test_gemm.c)
 *   add/mul/scale:  err * max(1, |factor|) + u |result|  (one rounding)
 *   gelu/silu:      1.13 err + 64 u |x|: both are x * s(x) with 0 <= s <= 1
 *                   and |slope| <= 1.13; the computed s has an absolute
 *                   error of about 10 u (exp within 2e-7, a few roundings),
 *                   so 64 u |x| is a 6x margin
 *   relu:           err (1-Lipschitz, exact) */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/llvm.h"

#define U_F32 (1.0 / 16777216.0)

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* Custom hook: acc + batch*1e6 + row*1000 + col (exact in f32 for the sizes used). */
static LLVMValueRef index_hook(kiln_ir *ir, const kiln_gemm_site *s, LLVMValueRef acc, void *user) {
    (void)user;
    LLVMValueRef lanes[64];
    for (int i = 0; i < s->width; i++)
        lanes[i] = kiln_ir_i64c(ir, i);
    LLVMValueRef iota = s->width == 1 ? lanes[0] : LLVMConstVector(lanes, (unsigned)s->width);
    LLVMValueRef base = LLVMBuildAdd(ir->b, LLVMBuildMul(ir->b, s->batch, kiln_ir_i64c(ir, 1000000), ""),
                                     LLVMBuildMul(ir->b, s->row, kiln_ir_i64c(ir, 1000), ""), "");
    base = LLVMBuildAdd(ir->b, base, s->col, "");
    LLVMValueRef idx = LLVMBuildAdd(ir->b, kiln_ir_splat(ir, base, s->width), iota, "");
    LLVMValueRef f = LLVMBuildSIToFP(ir->b, idx, LLVMTypeOf(acc), "");
    return LLVMBuildFAdd(ir->b, acc, f, "");
}

static double gelu_tanh_ref(double x) {
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
static double gelu_erf_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double silu_ref(double x) { return x / (1.0 + exp(-x)); }

typedef struct chain {
    const char *name;
    int n;
    kiln_gemm_epilogue_step steps[KILN_GEMM_MAX_EPILOGUE];
} chain;

/* Operand 0: bias [N] (strides 0). Operand 1: residual shaped like C.
 * Operand 2: gate, one row per batch ([batch, N], row stride 0). */
static void run(kiln_gemm_kernel *kern, kiln_threadpool *pool, const chain *ch, int trans_b, int64_t m, int64_t n,
                int64_t k, int64_t batch, int accumulate) {
    int64_t ldc = n + 1, sa = m * k, sb = k * n, sc = m * ldc;
    size_t na = (size_t)(sa * batch), nb = (size_t)(sb * batch), nc = (size_t)(sc * batch);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *c0 = malloc(nc * 4);
    float *bias = malloc((size_t)n * 4), *res = malloc(nc * 4), *gate = malloc((size_t)(n * batch) * 4);
    for (size_t i = 0; i < na; i++)
        a[i] = frand();
    for (size_t i = 0; i < nb; i++)
        b[i] = frand();
    for (size_t i = 0; i < nc; i++)
        c0[i] = c[i] = frand();
    for (int64_t i = 0; i < n; i++)
        bias[i] = 4 * frand();
    for (size_t i = 0; i < nc; i++)
        res[i] = 4 * frand();
    for (int64_t i = 0; i < n * batch; i++)
        gate[i] = 2 * frand();
    kiln_gemm_args args = {.m = m,
                           .n = n,
                           .k = k,
                           .batch = batch,
                           .a = a,
                           .lda = k,
                           .stride_a = sa,
                           .b = b,
                           .ldb = trans_b ? k : n,
                           .stride_b = sb,
                           .c = c,
                           .ldc = ldc,
                           .stride_c = sc,
                           .accumulate = accumulate};
    args.operands[0] = (kiln_gemm_operand){bias, 0, 0};
    args.operands[1] = (kiln_gemm_operand){res, ldc, sc};
    args.operands[2] = (kiln_gemm_operand){gate, 0, n};
    CHECK_OK(kiln_gemm_run(kern, &args, pool));

    int bad = 0;
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double x = 0, mag = 0;
                for (int64_t kk = 0; kk < k; kk++) {
                    double p =
                        (double)a[bi * sa + i * k + kk] * (trans_b ? b[bi * sb + j * k + kk] : b[bi * sb + kk * n + j]);
                    x += p;
                    mag += fabs(p);
                }
                size_t ci = (size_t)(bi * sc + i * ldc + j);
                double old = accumulate ? c0[ci] : 0;
                x += old;
                double err = (double)(k + 2) * U_F32 * mag + U_F32 * fabs(old) + 1e-30;
                for (int s = 0; s < ch->n; s++) {
                    const kiln_gemm_epilogue_step *st = &ch->steps[s];
                    double f;
                    switch (st->kind) {
                    case KILN_EPI_ADD_OPERAND:
                        x += st->operand == 0 ? bias[j] : res[ci];
                        err += U_F32 * fabs(x);
                        break;
                    case KILN_EPI_MUL_OPERAND:
                        f = gate[bi * n + j];
                        x *= f;
                        err = err * fmax(1, fabs(f)) + U_F32 * fabs(x);
                        break;
                    case KILN_EPI_SCALE:
                        x *= st->value;
                        err = err * fmax(1, fabs(st->value)) + U_F32 * fabs(x);
                        break;
                    case KILN_EPI_GELU_TANH:
                        err = 1.13 * err + 64 * U_F32 * fabs(x);
                        x = gelu_tanh_ref(x);
                        break;
                    case KILN_EPI_GELU_ERF:
                        err = 1.13 * err + 64 * U_F32 * fabs(x);
                        x = gelu_erf_ref(x);
                        break;
                    case KILN_EPI_SILU:
                        err = 1.13 * err + 64 * U_F32 * fabs(x);
                        x = silu_ref(x);
                        break;
                    case KILN_EPI_RELU: x = x < 0 ? 0 : x; break;
                    case KILN_EPI_CUSTOM:
                        x += (double)(bi * 1000000 + i * 1000 + j);
                        err += U_F32 * fabs(x);
                        break;
                    }
                }
                double got = c[ci];
                if (!(fabs(got - x) <= err)) {
                    if (bad < 3)
                        fprintf(stderr,
                                "%s %s %lldx%lldx%lld batch %lld acc %d: C[%lld][%lld][%lld] = %.9g, want %.9g (tol "
                                "%.3g)\n",
                                ch->name, trans_b ? "NT" : "NN", (long long)m, (long long)n, (long long)k,
                                (long long)batch, accumulate, (long long)bi, (long long)i, (long long)j, got, x, err);
                    bad++;
                }
            }
    /* The padding column of each row is never written. */
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t i = 0; i < m; i++) {
            size_t ci = (size_t)(bi * sc + i * ldc + n);
            bad += c[ci] != c0[ci];
        }
    CHECK(bad == 0);
    free(a);
    free(b);
    free(c);
    free(c0);
    free(bias);
    free(res);
    free(gate);
}

int main(void) {
    kiln_llvm_target *t = NULL;
    CHECK_OK(kiln_llvm_target_host(&t));
    if (!t) return test_finish("test_gemm_epilogue");
    kiln_threadpool *pool = NULL;
    CHECK_OK(kiln_threadpool_create(2, &pool));

    const chain chains[] = {
        {"bias+gelu_tanh+residual",
         3,
         {{.kind = KILN_EPI_ADD_OPERAND, .operand = 0},
          {.kind = KILN_EPI_GELU_TANH},
          {.kind = KILN_EPI_ADD_OPERAND, .operand = 1}}},
        {"bias+gelu_erf", 2, {{.kind = KILN_EPI_ADD_OPERAND, .operand = 0}, {.kind = KILN_EPI_GELU_ERF}}},
        {"scale+silu*gate",
         3,
         {{.kind = KILN_EPI_SCALE, .value = 0.5f},
          {.kind = KILN_EPI_SILU},
          {.kind = KILN_EPI_MUL_OPERAND, .operand = 2}}},
        {"relu+index hook", 2, {{.kind = KILN_EPI_RELU}, {.kind = KILN_EPI_CUSTOM, .fn = index_hook}}},
    };
    /* Shapes: K spanning several K blocks (K > kc) with edge tiles, for M
     * below mc (independent blocks) and above it (shared-B path); small M
     * with an N tail and a K tail. */
    const int64_t shapes[][4] = {{37, 70, 700, 1}, {30, 45, 33, 2}, {1, 77, 300, 1}, {3, 100, 41, 2}, {180, 40, 600, 1}};
    /* Each chain through a default kernel (small shapes stream) and one with
     * streaming off (every shape packs; K = 700 spans several K blocks). */
    for (int c = 0; c < (int)(sizeof chains / sizeof chains[0]); c++)
        for (int v = 0; v < 4; v++) {
            int tb = v & 1;
            kiln_gemm_desc d = {.trans_b = tb, .n_epilogue = chains[c].n, .small_m = v & 2 ? -1 : 0};
            memcpy(d.epilogue, chains[c].steps, sizeof chains[c].steps);
            kiln_gemm_kernel *kern = NULL;
            CHECK_OK(kiln_gemm_compile(t, &d, &kern));
            if (!kern) continue;
            for (int s = 0; s < 5; s++)
                run(kern, pool, &chains[c], tb, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], s == 1);
            kiln_gemm_kernel_free(kern);
        }

    kiln_threadpool_free(pool);
    kiln_llvm_target_free(t);
    return test_finish("test_gemm_epilogue");
}
