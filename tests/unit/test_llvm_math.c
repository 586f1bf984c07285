/* Vector math emitters (exp, sigmoid, tanh, erf, gelu, silu, relu) JIT'd at
 * full vector width and as scalars, against libm in double over a dense grid
 * plus special values (inf, NaN, overflow and underflow edges).
 *
 * Bounds (u = 2^-24 = 6e-8): exp relative error <= 4u over its whole range
 * (a degree-6 minimax polynomial on |r| <= ln2/2 is good to ~1u; argument
 * reduction and scaling add a few roundings); the others are built from exp,
 * one division and a few operations, so <= 8u relative where the function
 * is not near zero, and absolute <= 8u where it is. Results below FLT_MIN
 * have absolute precision only: exp gets one subnormal step (1.4e-45), and
 * sigmoid, which flushes them to 0, gets FLT_MIN. tanh near 0 uses an odd
 * polynomial (relative accuracy kept). erf is Abramowitz-Stegun 7.1.26:
 * 1.5e-7 absolute by construction, plus ~2.5e-7 from evaluating it in f32
 * (five roundings on terms near 0.8 ahead of the final 1 - p e^{-x^2}), so
 * 5e-7 absolute. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/llvm.h"

#define U_F32 (1.0 / 16777216.0)

typedef LLVMValueRef (*emit_fn)(kiln_ir *, LLVMValueRef);
typedef void (*map_fn)(const float *in, float *out, int64_t n);

typedef struct fn_case {
    const char *name;
    emit_fn emit;
    double (*ref)(double);
    double rel, abs_tol; /* pass if err <= rel*|ref| or err <= abs_tol */
    double lo, hi;       /* grid range */
} fn_case;

static double exp_ref(double x) { return exp(x); }
static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }
static double tanh_ref(double x) { return tanh(x); }
static double erf_ref(double x) { return erf(x); }
static double gelu_tanh_ref(double x) { return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
static double gelu_erf_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double silu_ref(double x) { return x / (1 + exp(-x)); }
static double relu_ref(double x) { return x < 0 ? 0 : x; }

/* void name(const float *in, float *out, i64 n) at the given width. */
static void build_map(kiln_ir *ir, const char *name, emit_fn emit, int w) {
    LLVMTypeRef params[3] = {ir->ptr, ir->ptr, ir->i64};
    LLVMValueRef fn = kiln_ir_function(ir, name, ir->void_t, params, 3, 0);
    LLVMValueRef in = LLVMGetParam(fn, 0), out = LLVMGetParam(fn, 1), n = LLVMGetParam(fn, 2);
    kiln_ir_loop l;
    kiln_ir_loop_begin(ir, &l, kiln_ir_i64c(ir, 0), n, kiln_ir_i64c(ir, w), "i");
    LLVMValueRef mask = w > 1 ? kiln_ir_lane_mask(ir, LLVMBuildSub(ir->b, n, l.index, ""), w) : NULL;
    LLVMValueRef x = kiln_ir_load_f32(ir, in, l.index, w, mask, 4);
    kiln_ir_store_f32(ir, emit(ir, x), out, l.index, mask, 4);
    kiln_ir_loop_end(ir, &l);
    LLVMBuildRetVoid(ir->b);
}

int main(void) {
    kiln_llvm_target *t = NULL;
    CHECK_OK(kiln_llvm_target_host(&t));
    if (!t) return test_finish("test_llvm_math");
    const fn_case cases[] = {
        {"exp", kiln_ir_exp, exp_ref, 4 * U_F32, 1.5e-45, -103, 88.7},
        {"sigmoid", kiln_ir_sigmoid, sigmoid_ref, 8 * U_F32, 1.2e-38, -100, 100},
        {"tanh", kiln_ir_tanh, tanh_ref, 8 * U_F32, 0, -12, 12},
        {"erf", kiln_ir_erf, erf_ref, 0, 5e-7, -6, 6},
        {"gelu_tanh", kiln_ir_gelu_tanh, gelu_tanh_ref, 8 * U_F32, 8 * U_F32, -12, 12},
        {"gelu_erf", kiln_ir_gelu_erf, gelu_erf_ref, 8 * U_F32, 8 * U_F32, -8, 8},
        {"silu", kiln_ir_silu, silu_ref, 8 * U_F32, 8 * U_F32, -90, 90},
        {"relu", kiln_ir_relu, relu_ref, 0, 0, -3, 3},
    };
    const int n_cases = (int)(sizeof cases / sizeof cases[0]);
    int widths[2] = {kiln_llvm_target_f32_lanes(t), 1};

    kiln_llvm_module *m = NULL;
    CHECK_OK(kiln_llvm_module_create(t, "math", &m));
    if (!m) return test_finish("test_llvm_math");
    kiln_ir ir;
    kiln_ir_init(&ir, m, t);
    char name[64];
    for (int c = 0; c < n_cases; c++)
        for (int wi = 0; wi < 2; wi++) {
            snprintf(name, sizeof name, "%s_w%d", cases[c].name, widths[wi]);
            build_map(&ir, name, cases[c].emit, widths[wi]);
        }
    CHECK_OK(kiln_llvm_module_verify(m));
    CHECK_OK(kiln_llvm_module_optimize(m, t, NULL));
    kiln_llvm_jit *jit = NULL;
    CHECK_OK(kiln_llvm_jit_create(t, &jit));
    CHECK_OK(kiln_llvm_jit_add_module(jit, m));
    kiln_llvm_module_free(m);

    enum { GRID = 200001 };
    static float in[GRID + 16], out[GRID + 16];
    for (int c = 0; c < n_cases && jit; c++) {
        const fn_case *fc = &cases[c];
        for (int wi = 0; wi < 2; wi++) {
            void *addr = NULL;
            snprintf(name, sizeof name, "%s_w%d", fc->name, widths[wi]);
            CHECK_OK(kiln_llvm_jit_lookup(jit, name, &addr));
            if (!addr) continue;
            map_fn f = (map_fn)addr;
            int n = 0;
            for (int i = 0; i < GRID; i++)
                in[n++] = (float)(fc->lo + (fc->hi - fc->lo) * i / (GRID - 1));
            /* Small arguments, where relative accuracy is hardest. */
            for (float x = 1e-6f; x < 1.0f && n < GRID + 8; x *= 3.7f)
                in[n++] = x;
            f(in, out, n);
            double worst = 0;
            int bad = 0;
            for (int i = 0; i < n; i++) {
                double want = fc->ref(in[i]), err = fabs(out[i] - want);
                int ok = err <= fc->rel * fabs(want) || err <= fc->abs_tol;
                if (!ok && bad++ < 3)
                    fprintf(stderr, "%s: f(%.9g) = %.9g, want %.9g (err %.3g)\n", name, in[i], out[i], want, err);
                double scaled = err / fmax(fc->rel * fabs(want), fmax(fc->abs_tol, 1e-45));
                if (scaled > worst) worst = scaled;
            }
            CHECK(bad == 0);
            if (wi == 0) fprintf(stderr, "%-10s worst error %.2f of its bound\n", fc->name, worst);
        }
    }

    /* Special values through the vector versions. */
    void *addr = NULL;
    snprintf(name, sizeof name, "exp_w%d", widths[0]);
    if (jit) CHECK_OK(kiln_llvm_jit_lookup(jit, name, &addr));
    if (addr) {
        float sp[6] = {INFINITY, -INFINITY, NAN, 89.0f, -104.0f, 0.0f}, r[6];
        ((map_fn)addr)(sp, r, 6);
        CHECK(isinf(r[0]) && r[0] > 0);
        CHECK(r[1] == 0.0f);
        CHECK(isnan(r[2]));
        CHECK(isinf(r[3]));
        CHECK(r[4] == 0.0f);
        CHECK(r[5] == 1.0f);
    }
    const char *names[] = {"tanh", "gelu_tanh", "sigmoid", "relu"};
    for (int i = 0; i < 4 && jit; i++) {
        snprintf(name, sizeof name, "%s_w%d", names[i], widths[0]);
        CHECK_OK(kiln_llvm_jit_lookup(jit, name, &addr));
        if (!addr) continue;
        float sp[4] = {INFINITY, -INFINITY, NAN, -50.0f}, r[4];
        ((map_fn)addr)(sp, r, 4);
        CHECK(isnan(r[2])); /* NaN propagates through every function */
        if (!strcmp(names[i], "tanh")) CHECK(r[0] == 1.0f && r[1] == -1.0f && r[3] == -1.0f);
        if (!strcmp(names[i], "sigmoid")) CHECK(r[0] == 1.0f && r[1] == 0.0f);
        if (!strcmp(names[i], "gelu_tanh")) CHECK(r[3] == 0.0f);
        if (!strcmp(names[i], "relu")) CHECK(r[0] == INFINITY && r[1] == 0.0f && r[3] == 0.0f);
    }
    kiln_llvm_jit_free(jit);
    kiln_llvm_target_free(t);
    return test_finish("test_llvm_math");
}
