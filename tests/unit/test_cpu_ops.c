/* Every op on the CPU backend (LLVM codegen) against the reference
 * interpreter, one kernel per node and fused, on random data, with symbols
 * bound at three values: n = 1, 7, 37 and m = 3, 2, 19 (ones, primes, sizes
 * below, between and above the 4/8/16-lane vectors, so every loop runs its
 * masked tail), shapes with broadcasting, and a few large cases that take
 * the packed GEMM paths and long rows.
 *
 * Tolerance: the CPU computes f32 in f32 where the reference computes in
 * double and rounds once. The vector exp/tanh/sigmoid/gelu are within 8 ulp
 * (1e-6 relative), erf within 5e-7 absolute, libm's functions within 1-2
 * ulp; f32 sums of up to a few thousand terms in [-1, 1] are off by at most
 * n * 2^-24 * sum|x| (< 1e-5 relative to the terms for the sizes here, the
 * vector partial sums doing better than that bound). So rtol 2e-5 + atol
 * 2e-5; a wrong index or a missed element shows as an O(0.1..1) difference
 * on data in [-1, 1]. Integer results are exact either way. f16 graphs
 * round every node to f16 on both sides, but a value computed in f32 may
 * round to the other neighbouring f16 than the double one: 1 f16 ulp,
 * rtol 2e-3. */
#include <stdlib.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "kiln/quant.h"
#include "test_cpu_util.h"

#define RT 2e-5
#define AT 2e-5

static const tp_sym bind_a[] = {{"n", 1}, {"m", 3}, {NULL, 0}};
static const tp_sym bind_b[] = {{"n", 7}, {"m", 2}, {NULL, 0}};
static const tp_sym bind_c[] = {{"n", 37}, {"m", 19}, {NULL, 0}};
static const tp_sym *const bindings[] = {bind_a, bind_b, bind_c, NULL};

typedef struct ctx {
    kiln_graph *g;
    kiln_dim n, m;
} ctx;

static ctx start(const char *name) {
    ctx c;
    c.g = kiln_graph_new(name);
    c.n = kiln_dim_symbol(c.g, "n");
    c.m = kiln_dim_symbol(c.g, "m");
    /* inputs that bind n and m even where no other input has them alone */
    tp_input(c.g, "n_", KILN_F32, 1, &c.n);
    tp_input(c.g, "m_", KILN_F32, 1, &c.m);
    return c;
}

static char covered[KILN_OP_COUNT];

static void finish_tol(ctx *c, kiln_value y, int64_t int_hi, double rt, double at, const char *what) {
    if (kiln_graph_add_output(c->g, "y", y)) exit(1);
    int before = test_failures;
    tc_cpu_vs_ref(c->g, bindings, int_hi, rt, at, what);
    for (int v = 0; v < kiln_graph_node_count(c->g) && test_failures == before; v++)
        covered[kiln_graph_node(c->g, v)->op] = 1;
    kiln_graph_free(c->g);
}

static void finish(ctx *c, kiln_value y, int64_t int_hi, const char *what) { finish_tol(c, y, int_hi, RT, AT, what); }

/* A new op fails here until the CPU runs it and a case above covers it. */
static void check_coverage(void) {
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (op == KILN_OP_PARAM || op == KILN_OP_TOPK || covered[op]) continue;
        fprintf(stderr, "op '%s' is not checked on the cpu\n", kiln_op_name((kiln_op)op));
        test_failures++;
    }
}

static void test_unary(void) {
    static const kiln_op ops[] = {KILN_OP_NEG, KILN_OP_ABS, KILN_OP_SIGN, KILN_OP_EXP, KILN_OP_LOG, KILN_OP_SQRT,
                                  KILN_OP_RSQRT, KILN_OP_RECIP, KILN_OP_TANH, KILN_OP_SIGMOID, KILN_OP_ERF, KILN_OP_SIN,
                                  KILN_OP_COS, KILN_OP_FLOOR, KILN_OP_CEIL, KILN_OP_ROUND, KILN_OP_RELU, KILN_OP_GELU,
                                  KILN_OP_GELU_TANH, KILN_OP_SILU, KILN_OP_TAN, KILN_OP_ASIN, KILN_OP_ACOS,
                                  KILN_OP_ATAN, KILN_OP_SINH, KILN_OP_COSH, KILN_OP_ASINH, KILN_OP_ACOSH, KILN_OP_ATANH};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ctx c = start(kiln_op_name(ops[i]));
        /* [n, 1, 5] and a second axis of m: the vector loop runs along m*... */
        kiln_value x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.n, 1, c.m));
        /* scaled to [-3, 3] so floor/round/ceil see several integers and
         * log/sqrt/acosh see their NaN range too */
        x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 3));
        finish(&c, TP1(c.g, ops[i], x), 1, kiln_op_name(ops[i]));
    }
    static const kiln_op iops[] = {KILN_OP_NEG, KILN_OP_ABS, KILN_OP_SIGN, KILN_OP_RELU, KILN_OP_BITNOT};
    for (size_t i = 0; i < sizeof iops / sizeof iops[0]; i++) {
        ctx c = start("int unary");
        kiln_value x = tp_input(c.g, "x", KILN_I32, 2, DIMS(c.n, c.m));
        x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, KILN_I32, 3)); /* [-3, 3) */
        finish(&c, TP1(c.g, iops[i], x), 6, kiln_op_name(iops[i]));
    }
    ctx c = start("not");
    finish(&c, TP1(c.g, KILN_OP_NOT, tp_input(c.g, "x", KILN_BOOL, 2, DIMS(c.m, c.n))), 1, "not");
    c = start("f16");
    kiln_value h = tp_input(c.g, "x", KILN_F16, 2, DIMS(c.n, c.m));
    finish_tol(&c, TP2(c.g, KILN_OP_MUL, TP1(c.g, KILN_OP_EXP, h), h), 1, 2e-3, 1e-3, "f16 exp*x");
    c = start("bf16");
    kiln_value bh = tp_input(c.g, "x", KILN_BF16, 2, DIMS(c.n, c.m));
    finish_tol(&c, TP2(c.g, KILN_OP_ADD, TP1(c.g, KILN_OP_TANH, bh), bh), 1, 1.6e-2, 8e-3, "bf16 tanh+x");
    c = start("f64");
    kiln_value d = tp_input(c.g, "x", KILN_F64, 2, DIMS(c.n, c.m));
    /* f64 is computed in double with libm: as close as the reference */
    finish_tol(&c, TP1(c.g, KILN_OP_GELU, TP2(c.g, KILN_OP_MUL, TP1(c.g, KILN_OP_SIN, d), d)), 1, 1e-12, 1e-12, "f64 gelu(sin x * x)");
}

static void test_cast(void) {
    static const kiln_dtype from[] = {KILN_F32, KILN_F32, KILN_F32, KILN_I64, KILN_BOOL, KILN_I32, KILN_F32, KILN_F32, KILN_I64};
    static const kiln_dtype to[] = {KILN_I32, KILN_BOOL, KILN_F16, KILN_F32, KILN_F32, KILN_I8, KILN_U8, KILN_BF16, KILN_U16};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        ctx c = start("cast");
        kiln_value x = tp_input(c.g, "x", from[i], 2, DIMS(c.n, c.m));
        if (kiln_dtype_is_float(from[i])) x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, from[i], 300)); /* saturates i8/u8 */
        else if (from[i] != KILN_BOOL) x = TP2(c.g, KILN_OP_SUB, TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, from[i], 97)), tp_scalar(c.g, from[i], 200));
        kiln_named_attr a = kiln_a_dtype("dtype", to[i]);
        finish(&c, tp_node(c.g, KILN_OP_CAST, 1, &x, 1, &a), 5, "cast");
    }
}

static void test_binary(void) {
    static const kiln_op ops[] = {KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL, KILN_OP_DIV, KILN_OP_POW, KILN_OP_MOD,
                                  KILN_OP_MAX, KILN_OP_MIN, KILN_OP_EQ, KILN_OP_NE, KILN_OP_LT, KILN_OP_LE,
                                  KILN_OP_GT, KILN_OP_GE};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ctx c = start("binary");
        /* [n, 1, m] with [3, 1]: both sides broadcast */
        kiln_value a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, 1, c.m)), b = tp_input(c.g, "b", KILN_F32, 2, DIMS(3, 1));
        finish(&c, TP2(c.g, ops[i], a, b), 1, kiln_op_name(ops[i]));
        c = start("int binary");
        /* ints in [-2, 3), zero divisors included */
        kiln_value x = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "a", KILN_I64, 2, DIMS(c.m, c.n)), tp_scalar(c.g, KILN_I64, 2));
        kiln_value y = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "b", KILN_I64, 1, DIMS(c.n)), tp_scalar(c.g, KILN_I64, 2));
        finish(&c, TP2(c.g, ops[i], x, y), 5, kiln_op_name(ops[i]));
    }
    {
        ctx c = start("fmod");
        kiln_value a = tp_input(c.g, "a", KILN_F32, 2, DIMS(c.n, c.m)), b = tp_input(c.g, "b", KILN_F32, 1, DIMS(c.m));
        a = TP2(c.g, KILN_OP_MUL, a, tp_scalar(c.g, KILN_F32, 5));
        finish(&c, TP2(c.g, KILN_OP_FMOD, a, b), 1, "fmod");
    }
    /* bitwise and shifts on i8, u8, i64: counts in [-2, 10) cover < 0 and >= bits */
    static const kiln_op bops[] = {KILN_OP_BITAND, KILN_OP_BITOR, KILN_OP_BITXOR, KILN_OP_SHL, KILN_OP_SHR, KILN_OP_FMOD};
    static const kiln_dtype btypes[] = {KILN_I8, KILN_U8, KILN_I64};
    for (size_t i = 0; i < sizeof bops / sizeof bops[0]; i++)
        for (size_t t = 0; t < sizeof btypes / sizeof btypes[0]; t++) {
            ctx c = start("bitwise");
            kiln_value x = tp_input(c.g, "a", btypes[t], 2, DIMS(c.m, c.n));
            x = TP2(c.g, KILN_OP_SUB, TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, btypes[t], 37)), tp_scalar(c.g, btypes[t], 90));
            kiln_value y = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "b", btypes[t], 1, DIMS(c.n)), tp_scalar(c.g, btypes[t], 2));
            finish(&c, TP2(c.g, bops[i], x, y), 12, kiln_op_name(bops[i]));
        }
    static const kiln_op lops[] = {KILN_OP_AND, KILN_OP_OR, KILN_OP_XOR, KILN_OP_EQ};
    for (size_t i = 0; i < sizeof lops / sizeof lops[0]; i++) {
        ctx c = start("logic");
        kiln_value a = tp_input(c.g, "a", KILN_BOOL, 2, DIMS(c.m, 1)), b = tp_input(c.g, "b", KILN_BOOL, 1, DIMS(c.n));
        finish(&c, TP2(c.g, lops[i], a, b), 1, kiln_op_name(lops[i]));
    }
    ctx c = start("where");
    kiln_value cond = tp_input(c.g, "c", KILN_BOOL, 3, DIMS(c.m, 1, c.n));
    kiln_value a = tp_input(c.g, "a", KILN_F32, 2, DIMS(4, 1)), b = tp_input(c.g, "b", KILN_F32, 0, NULL);
    finish(&c, tp_node(c.g, KILN_OP_WHERE, 3, (kiln_value[]){cond, a, b}, 0, NULL), 1, "where");
    /* a long contiguous row (1000 = 62 vectors of 16 + a tail of 8) */
    c = start("long row");
    a = tp_input(c.g, "a", KILN_F32, 2, DIMS(c.n, 1000));
    b = tp_input(c.g, "b", KILN_F32, 1, DIMS(1000));
    finish(&c, TP1(c.g, KILN_OP_SILU, TP2(c.g, KILN_OP_ADD, a, b)), 1, "silu(a + b) over 1000 columns");
}

static void reduce_case(kiln_op op, kiln_dtype t, int naxes, const int64_t *axes, int keep) {
    ctx c = start("reduce");
    kiln_value x = tp_input(c.g, "x", t, 4, DIMS(c.n, 3, c.m, 5));
    if (t != KILN_F32) x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, t, 2));
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keep)};
    if (op == KILN_OP_ARGMAX || op == KILN_OP_ARGMIN) a[0] = kiln_a_int("axis", axes[0]);
    finish(&c, tp_node(c.g, op, 1, &x, 2, a), 5, kiln_op_name(op));
}

static void test_reduce(void) {
    static const kiln_op ops[] = {KILN_OP_REDUCE_SUM, KILN_OP_REDUCE_MEAN, KILN_OP_REDUCE_MAX, KILN_OP_REDUCE_MIN,
                                  KILN_OP_REDUCE_PROD};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        reduce_case(ops[i], KILN_F32, 1, (int64_t[]){3}, 0);        /* innermost: rows */
        reduce_case(ops[i], KILN_F32, 2, (int64_t[]){0, 2}, 1);     /* outer axes: columns */
        reduce_case(ops[i], KILN_I32, 2, (int64_t[]){1, 3}, 0);
        reduce_case(ops[i], KILN_F32, 1, (int64_t[]){2}, 0);        /* a symbolic middle axis */
        reduce_case(ops[i], KILN_F32, 0, NULL, 0);                  /* no axes: the identity */
    }
    reduce_case(KILN_OP_ARGMAX, KILN_F32, 1, (int64_t[]){1}, 0);
    reduce_case(KILN_OP_ARGMIN, KILN_I64, 1, (int64_t[]){3}, 1);
    reduce_case(KILN_OP_ARGMAX, KILN_I64, 1, (int64_t[]){0}, 1); /* ties among small ints: first wins */
    reduce_case(KILN_OP_ARGMIN, KILN_F32, 1, (int64_t[]){2}, 0);
    /* a long reduction: 3000 terms */
    ctx c = start("sum 3000");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 3000));
    kiln_named_attr a[1] = {kiln_a_ints("axes", 1, (int64_t[]){1})};
    finish(&c, tp_node(c.g, KILN_OP_REDUCE_SUM, 1, &x, 1, a), 1, "sum over 3000");
}

static void test_matmul(void) {
    ctx c = start("matmul");
    /* [n, 1, m, 5] @ [3, 5, 7] -> [n, 3, m, 7] */
    kiln_value a = tp_input(c.g, "a", KILN_F32, 4, DIMS(c.n, 1, c.m, 5)), b = tp_param(c.g, "b", KILN_F32, 3, DIMS(3, 5, 7));
    finish(&c, TP2(c.g, KILN_OP_MATMUL, a, b), 1, "matmul batched");
    c = start("matmul trans_b");
    a = tp_input(c.g, "a", KILN_F32, 3, DIMS(2, c.n, 5));
    b = tp_param(c.g, "w", KILN_F32, 2, DIMS(11, 5));
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    finish(&c, tp_node(c.g, KILN_OP_MATMUL, 2, (kiln_value[]){a, b}, 1, &tb), 1, "matmul trans_b");
    c = start("matmul int");
    a = tp_input(c.g, "a", KILN_I32, 2, DIMS(c.m, c.n));
    b = tp_input(c.g, "b", KILN_I32, 2, DIMS(c.n, 1));
    finish(&c, TP2(c.g, KILN_OP_MATMUL, a, b), 9, "matmul int, K symbolic");
    c = start("matmul f64");
    a = tp_input(c.g, "a", KILN_F64, 2, DIMS(c.m, c.n));
    b = tp_input(c.g, "b", KILN_F64, 2, DIMS(c.n, 6));
    finish_tol(&c, TP2(c.g, KILN_OP_MATMUL, a, b), 1, 1e-12, 1e-12, "matmul f64");
    /* A transposed (a strided view with a unit stride along M: the GEMM's
     * trans_a), batch axes that do not fold into M */
    c = start("matmul trans_a");
    a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.m, 6, c.n));
    kiln_named_attr pm = kiln_a_ints("perm", 3, (int64_t[]){0, 2, 1});
    a = tp_node(c.g, KILN_OP_TRANSPOSE, 1, &a, 1, &pm);
    b = tp_input(c.g, "b", KILN_F32, 3, DIMS(c.m, 6, 9));
    finish(&c, TP2(c.g, KILN_OP_MATMUL, a, b), 1, "matmul of a transposed A, batched B");
    /* large: M 200 > the blocked path's M block (shared-B path), K 300
     * spans several K blocks, N 130 has an edge tile; then M 40 (blocked).
     * f32 sums of 300 products of [-1, 1] values: |error| <= 300 * 2^-24
     * * sum|a b| < 3e-4 in the worst case; rtol 1e-4 + atol 1e-4 */
    int64_t ms[2] = {200, 40};
    for (int i = 0; i < 2; i++) {
        c = start("matmul large");
        a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, ms[i], 300));
        b = tp_param(c.g, "w", KILN_F32, 2, DIMS(300, 130));
        kiln_value bias = tp_param(c.g, "bias", KILN_F32, 1, DIMS(130));
        finish_tol(&c, TP2(c.g, KILN_OP_ADD, TP2(c.g, KILN_OP_MATMUL, a, b), bias), 1, 1e-4, 1e-4, "large matmul + bias");
    }
}

/* The residual projection of a transformer layer: r (a materialized
 * residual stream) feeds a layer norm, then y = a @ w + bias + r, where r
 * dies at the matmul kernel, so memory planning writes y over r. The GEMM
 * stores partial sums of its K blocks into its output before the epilogue
 * reads r: the backend must not let them land on r. The shapes take the
 * GEMM's packed paths (M*K above its streaming limit, K over several K
 * blocks): M 40 (independent blocks) and 200 (shared B). */
static void test_matmul_in_place(void) {
    int64_t ms[2] = {40, 200}, ks[2] = {5000, 1200};
    for (int i = 0; i < 2; i++) {
        ctx c = start("matmul in place");
        kiln_value x = tp_input(c.g, "x", KILN_F32, 3, DIMS(2, ms[i], 64));
        kiln_value r = TP1(c.g, KILN_OP_TANH, x);
        kiln_value ln = tp_node(c.g, KILN_OP_LAYER_NORM, 1, &r, 0, NULL);
        kiln_value a = tp_input(c.g, "a", KILN_F32, 3, DIMS(2, ms[i], ks[i]));
        kiln_value w = tp_param(c.g, "w", KILN_F32, 2, DIMS(ks[i], 64)), bias = tp_param(c.g, "bias", KILN_F32, 1, DIMS(64));
        kiln_value y = TP2(c.g, KILN_OP_ADD, TP2(c.g, KILN_OP_ADD, TP2(c.g, KILN_OP_MATMUL, a, w), bias), r);
        if (kiln_graph_add_output(c.g, "ln", ln)) exit(1);
        /* sums of up to 5000 products of [-1, 1] values (|sum| ~ 40): f32
         * error ~ sqrt(K) * 2^-24 * 40 ~ 2e-4 absolute on the logits; after
         * the softmax (values <= 1, derivative <= 1/4) 1e-4 + 1e-3 relative */
        finish_tol(&c, tp_node(c.g, KILN_OP_SOFTMAX, 1, &y, 0, NULL), 1, 1e-3, 1e-4, "matmul+add+add written over its residual");
    }
}

static void test_movement(void) {
    ctx c = start("gather");
    kiln_value data = tp_param(c.g, "d", KILN_F32, 3, DIMS(2, 5, 3));
    kiln_value idx = tp_input(c.g, "i", KILN_I64, 2, DIMS(c.n, c.m));
    idx = TP2(c.g, KILN_OP_SUB, idx, tp_scalar(c.g, KILN_I64, 2)); /* [-2, 3): negatives count from the end */
    kiln_named_attr ax1 = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_GATHER, 2, (kiln_value[]){data, idx}, 1, &ax1), 5, "gather axis 1");
    c = start("gather0");
    data = tp_input(c.g, "d", KILN_I32, 2, DIMS(c.m, 4));
    idx = tp_input(c.g, "i", KILN_I32, 1, DIMS(c.n));
    finish(&c, TP2(c.g, KILN_OP_GATHER, data, idx), 2, "gather axis 0");
    c = start("embedding");
    data = tp_param(c.g, "wte", KILN_F32, 2, DIMS(50, 40));
    idx = tp_input(c.g, "i", KILN_I64, 2, DIMS(c.n, c.m));
    finish(&c, TP2(c.g, KILN_OP_GATHER, data, idx), 50, "embedding rows of 40");

    c = start("concat");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(3, c.n)), y = tp_input(c.g, "y", KILN_F32, 2, DIMS(3, 2));
    kiln_value z = tp_input(c.g, "z", KILN_F32, 2, DIMS(3, c.m));
    kiln_named_attr axis = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_CONCAT, 3, (kiln_value[]){x, y, z}, 1, &axis), 1, "concat");

    /* 60 pieces (lowering takes up to 64): a select chain 60 deep */
    c = start("concat 60");
    kiln_value pieces[70];
    for (int i = 0; i < 60; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        pieces[i] = tp_input(c.g, name, KILN_F32, 2, DIMS(c.n, 1 + i % 3));
    }
    finish(&c, tp_node(c.g, KILN_OP_CONCAT, 60, pieces, 1, &axis), 1, "concat of 60 pieces");
    /* a sum of 70 inputs: one pointwise kernel with 71 buffer slots */
    c = start("sum 70");
    kiln_value acc = tp_input(c.g, "q0", KILN_F32, 2, DIMS(c.n, 3));
    for (int i = 1; i < 70; i++) {
        char name[16];
        snprintf(name, sizeof name, "q%d", i);
        acc = TP2(c.g, KILN_OP_ADD, acc, tp_input(c.g, name, KILN_F32, 2, DIMS(c.n, 3)));
    }
    finish(&c, acc, 1, "sum of 70 inputs");

    c = start("slice");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 9));
    kiln_named_attr s1[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", 1), kiln_a_dim("end", 8), kiln_a_int("step", 3)};
    finish(&c, tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, s1), 1, "slice step 3");
    c = start("slice back");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 9));
    kiln_named_attr s2[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", -2), kiln_a_dim("end", -10), kiln_a_int("step", -2)};
    finish(&c, tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, s2), 1, "slice backwards");
    c = start("slice symbolic");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(kiln_dim_add(c.g, c.n, c.m), 2));
    kiln_named_attr s3[3] = {kiln_a_int("axis", 0), kiln_a_dim("start", c.m), kiln_a_dim("end", kiln_dim_add(c.g, c.n, c.m))};
    finish(&c, tp_node(c.g, KILN_OP_SLICE, 1, &x, 3, s3), 1, "slice symbolic");

    c = start("reshape");
    x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.n, 6, 2));
    kiln_named_attr r = kiln_a_dims("shape", 3, DIMS(4, c.n, 3));
    finish(&c, tp_node(c.g, KILN_OP_RESHAPE, 1, &x, 1, &r), 1, "reshape regroup");
    c = start("transpose");
    x = tp_input(c.g, "x", KILN_I64, 3, DIMS(c.n, 1, c.m));
    kiln_named_attr pm = kiln_a_ints("perm", 3, (int64_t[]){2, 0, 1});
    finish(&c, tp_node(c.g, KILN_OP_TRANSPOSE, 1, &x, 1, &pm), 7, "transpose");
    c = start("expand");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(3, 1));
    kiln_named_attr e = kiln_a_dims("shape", 3, DIMS(c.n, 1, c.m));
    finish(&c, tp_node(c.g, KILN_OP_EXPAND, 1, &x, 1, &e), 1, "expand bidirectional");
    c = start("iota");
    kiln_named_attr io[4] = {kiln_a_dims("shape", 2, DIMS(c.n, 4)), kiln_a_int("axis", 0), kiln_a_dim("start", c.m),
                             kiln_a_dtype("dtype", KILN_F32)};
    finish(&c, tp_node(c.g, KILN_OP_IOTA, 0, NULL, 4, io), 1, "iota");
}

static void test_composites(void) {
    ctx c = start("softmax");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.n, 5, c.m));
    kiln_named_attr ax1 = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_SOFTMAX, 1, &x, 1, &ax1), 1, "softmax axis 1 (lanes across rows)");
    c = start("softmax last");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 3001));
    x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 20));
    finish(&c, tp_node(c.g, KILN_OP_SOFTMAX, 1, &x, 0, NULL), 1, "softmax over 3001");
    c = start("log_softmax");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, c.m));
    finish(&c, tp_node(c.g, KILN_OP_LOG_SOFTMAX, 1, &x, 0, NULL), 1, "log_softmax");
    c = start("layer_norm");
    x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.m, c.n, 6));
    kiln_value w = tp_param(c.g, "w", KILN_F32, 1, DIMS(6)), b = tp_param(c.g, "b", KILN_F32, 1, DIMS(6));
    finish(&c, tp_node(c.g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, w, b}, 0, NULL), 1, "layer_norm");
    c = start("layer_norm wide");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 771));
    x = TP2(c.g, KILN_OP_ADD, x, tp_scalar(c.g, KILN_F32, 50)); /* a large mean: the two-pass variance matters */
    w = tp_param(c.g, "w", KILN_F32, 1, DIMS(771));
    b = tp_param(c.g, "b", KILN_F32, 1, DIMS(771));
    finish(&c, tp_node(c.g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, w, b}, 0, NULL), 1, "layer_norm over 771");
    c = start("layer_norm plain");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 5));
    finish(&c, tp_node(c.g, KILN_OP_LAYER_NORM, 1, &x, 0, NULL), 1, "layer_norm without weights");
    c = start("rms_norm");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, c.m));
    w = tp_input(c.g, "w", KILN_F32, 1, DIMS(c.m));
    finish(&c, tp_node(c.g, KILN_OP_RMS_NORM, 2, (kiln_value[]){x, w}, 0, NULL), 1, "rms_norm");
    c = start("rope");
    x = tp_input(c.g, "x", KILN_F32, 3, DIMS(2, c.n, 6));
    kiln_value pos = tp_input(c.g, "pos", KILN_I64, 1, DIMS(c.n));
    kiln_named_attr ra[2] = {kiln_a_bool("interleaved", 1), kiln_a_int("rotary_dim", 4)};
    finish(&c, tp_node(c.g, KILN_OP_ROPE, 2, (kiln_value[]){x, pos}, 2, ra), 50, "rope");
    c = start("rel_pos_bucket");
    kiln_value qp = tp_input(c.g, "q", KILN_I64, 1, DIMS(c.n)), kp = tp_input(c.g, "k", KILN_I64, 1, DIMS(c.m));
    kiln_named_attr rb = kiln_a_bool("bidirectional", 1);
    finish(&c, tp_node(c.g, KILN_OP_REL_POS_BUCKET, 2, (kiln_value[]){qp, kp}, 1, &rb), 200, "rel_pos_bucket");
    /* attention: GQA, causal with T = m + n keys for n queries, bool mask */
    c = start("attention");
    kiln_dim T = kiln_dim_add(c.g, c.m, c.n);
    kiln_value q = tp_input(c.g, "q", KILN_F32, 4, DIMS(1, 4, c.n, 3)), k = tp_input(c.g, "k", KILN_F32, 4, DIMS(1, 2, T, 3));
    kiln_value v = tp_input(c.g, "v", KILN_F32, 4, DIMS(1, 2, T, 5));
    kiln_value mask = tp_input(c.g, "mask", KILN_BOOL, 2, DIMS(1, T));
    kiln_named_attr ca = kiln_a_bool("causal", 1);
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 4, (kiln_value[]){q, k, v, mask}, 1, &ca), 1, "attention");
    c = start("attention additive");
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(c.m, 2, c.n, 4));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(c.m, 2, 3, 4));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(c.m, 2, 3, 2));
    mask = tp_input(c.g, "mask", KILN_F32, 4, DIMS(c.m, 1, c.n, 3));
    kiln_named_attr sc = kiln_a_float("scale", 0.7);
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 4, (kiln_value[]){q, k, v, mask}, 1, &sc), 1, "attention additive mask");
    /* a symbolic head size without a scale: 1/sqrt(m) evaluated at launch,
     * q and the accumulator in per-thread scratch */
    c = start("attention symbolic head");
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(1, 2, c.n, c.m));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(1, 2, 3, c.m));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(1, 2, 3, 2));
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 3, (kiln_value[]){q, k, v}, 0, NULL), 1, "attention symbolic head size");
    /* head size 64, 80 keys: several vectors per dot product; causal with
     * more keys than queries (a KV cache of m) */
    c = start("attention 64");
    T = kiln_dim_add(c.g, c.m, c.n);
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(2, 3, c.n, 64));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(2, 3, T, 64));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(2, 3, T, 64));
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 3, (kiln_value[]){q, k, v}, 1, &ca), 1, "attention head 64, causal");
}

static void scan_case(kiln_op op, kiln_dtype t, int axis, int exclusive, int reverse) {
    ctx c = start("scan");
    kiln_value x = tp_input(c.g, "x", t, 3, DIMS(c.n, 5, 2));
    if (t != KILN_F32) x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, t, 1));
    kiln_named_attr a[3] = {kiln_a_int("axis", axis), kiln_a_bool("exclusive", exclusive), kiln_a_bool("reverse", reverse)};
    finish(&c, tp_node(c.g, op, 1, &x, 3, a), 3, kiln_op_name(op));
}

static void test_more_index(void) {
    for (int e = 0; e < 2; e++)
        for (int r = 0; r < 2; r++) {
            scan_case(KILN_OP_CUMSUM, KILN_F32, 1, e, r);
            scan_case(KILN_OP_CUMPROD, KILN_I32, 0, e, r);
        }
    ctx c = start("gather_elements");
    kiln_value data = tp_input(c.g, "d", KILN_F32, 2, DIMS(c.n, 4));
    kiln_value idx = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "i", KILN_I64, 2, DIMS(c.n, 6)), tp_scalar(c.g, KILN_I64, 2));
    kiln_named_attr ax = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_GATHER_ELEMENTS, 2, (kiln_value[]){data, idx}, 1, &ax), 6, "gather_elements");
}

/* Input "w" [rows, 68] becomes q8_0 blocks of random values in [-1, 1). */
static void quantize_w(kiln_tensor_map *weights, kiln_tensor_map *inputs) {
    (void)weights;
    const kiln_tensor *w = kiln_tensor_map_get(inputs, "w");
    uint64_t st = 99;
    for (int64_t r = 0; w && r < w->shape[0]; r++) {
        float row[64];
        for (int i = 0; i < 64; i++) row[i] = (float)tp_uniform(&st);
        CHECK_OK(kiln_quantize(KILN_GGML_Q8_0, row, 64, (uint8_t *)w->data + r * 68, 68));
    }
}

/* dequantize on random bytes (NaN/inf scales included: NaN matches NaN):
 * the view's expression unpacks blocks with integer ops and bitcasts */
static void test_dequantize(void) {
    static const char *types[] = {"q4_K", "q8_0", "q4_0", "q6_K"};
    static const int64_t bytes[] = {144, 34, 18, 210}, elems[] = {256, 32, 32, 256};
    for (int i = 0; i < 4; i++) {
        ctx c = start("dequantize");
        kiln_value raw = tp_input(c.g, "raw", KILN_U8, 2, DIMS(c.n, 2 * bytes[i]));
        kiln_named_attr at[2] = {kiln_a_str("type", types[i]), kiln_a_dims("shape", 2, DIMS(c.n, 2 * elems[i]))};
        finish(&c, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &raw, 2, at), 256, types[i]);
    }
    /* a q8_0 weight from kiln's quantizer (finite scales) feeding the GEMM
     * through the packed view */
    ctx c = start("dequantize+matmul");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.m, 64)), w = tp_input(c.g, "w", KILN_U8, 2, DIMS(c.n, 68));
    kiln_named_attr q8[2] = {kiln_a_str("type", "q8_0"), kiln_a_dims("shape", 2, DIMS(c.n, 64))}, tb = kiln_a_bool("trans_b", 1);
    tc_fix_feed = quantize_w;
    finish(&c, tp_node(c.g, KILN_OP_MATMUL, 2, (kiln_value[]){x, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &w, 2, q8)}, 1, &tb),
           256, "dequantize+matmul");
    tc_fix_feed = NULL;
}

int main(void) {
    test_dequantize();
    test_unary();
    test_cast();
    test_binary();
    test_reduce();
    test_matmul();
    test_matmul_in_place();
    test_movement();
    test_composites();
    test_more_index();
    check_coverage();
    return test_finish("test_cpu_ops");
}
#else
int main(void) {
    printf("test_cpu_ops: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
