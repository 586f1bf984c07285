/* Every op through the Vulkan backend's generated GLSL against the
 * reference interpreter, unfused (one kernel per op: each op's own GLSL)
 * and fused, on random data, with symbolic dims bound at two values and
 * shapes that have 1s, primes, broadcasting and sizes that are not
 * multiples of any tile or workgroup. Runs with the validation layer
 * (including synchronization validation) on; any message fails the test.
 *
 * Tolerance for f32 results: rtol 2e-5, atol 2e-5. The reference computes
 * in double and rounds once per node; the GPU computes each op in f32,
 * where Vulkan allows exp/exp2/log/log2 3 ulp (+2 ulp per unit of |x| for
 * exp), pow via exp2(y log2 x), sin/cos/tan 2^-11 absolute outside
 * [-pi, pi] (our inputs stay within [-3, 3]) and 1/x 2.5 ulp; erf is a
 * polynomial/exp approximation good to 1.2e-7 absolute; sums of up to 15
 * terms of magnitude <= 3 accumulate about 15 f32 roundings (< 1e-5
 * absolute). 2e-5 covers these with margin and still catches any wrong
 * index or operand (errors of order 1e-1). Integer and bool results are
 * exact (any difference is >= 1). f16 chains round to f16 at each node on
 * both sides; differences of one f16 ulp (1e-3 relative) can appear where
 * the f32 value before rounding differs in its last bits: rtol 1e-3. */
#include <math.h>
#include <stdlib.h>

#include "test_vk_plan_util.h"

#define RT 2e-5
#define AT 2e-5

#ifdef KILN_WITH_VULKAN
static const tp_sym bind_a[] = {{"n", 1}, {"m", 3}, {NULL, 0}};
static const tp_sym bind_b[] = {{"n", 7}, {"m", 2}, {NULL, 0}};
static const tp_sym *const bindings[] = {bind_a, bind_b, NULL};

typedef struct ctx {
    kiln_graph *g;
    kiln_dim n, m;
} ctx;

static ctx start(const char *name) {
    ctx c;
    c.g = kiln_graph_new(name);
    c.n = kiln_dim_symbol(c.g, "n");
    c.m = kiln_dim_symbol(c.g, "m");
    tp_input(c.g, "n_", KILN_F32, 1, &c.n);
    tp_input(c.g, "m_", KILN_F32, 1, &c.m);
    return c;
}

static char covered[KILN_OP_COUNT];

static void finish_with(ctx *c, kiln_value y, int64_t int_hi, double rt, double at, const tp_sym *const *b,
                        const char *what) {
    if (kiln_graph_add_output(c->g, "y", y)) exit(1);
    int before = test_failures;
    vp_check(c->g, b, int_hi, rt, at, NULL, what);
    for (int v = 0; v < kiln_graph_node_count(c->g) && test_failures == before; v++)
        covered[kiln_graph_node(c->g, v)->op] = 1;
    kiln_graph_free(c->g);
}

static void finish(ctx *c, kiln_value y, int64_t int_hi, const char *what) {
    finish_with(c, y, int_hi, RT, AT, bindings, what);
}

/* A new op in ops.def fails here until the Vulkan backend is checked on it. */
static void check_coverage(void) {
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (op == KILN_OP_PARAM || op == KILN_OP_TOPK || covered[op]) continue;
        fprintf(stderr, "op '%s' is not checked on vulkan\n", kiln_op_name((kiln_op)op));
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
        kiln_value x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.n, 1, 5));
        x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 3)); /* [-3, 3): several integers, negatives */
        finish(&c, TP1(c.g, ops[i], x), 1, kiln_op_name(ops[i]));
    }
    static const kiln_op iops[] = {KILN_OP_NEG, KILN_OP_ABS, KILN_OP_SIGN, KILN_OP_RELU, KILN_OP_BITNOT};
    for (size_t i = 0; i < sizeof iops / sizeof iops[0]; i++) {
        ctx c = start("int unary");
        kiln_value x = tp_input(c.g, "x", KILN_I32, 2, DIMS(c.n, 3));
        x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, KILN_I32, 3));
        finish(&c, TP1(c.g, iops[i], x), 6, kiln_op_name(iops[i]));
    }
    ctx c = start("not");
    finish(&c, TP1(c.g, KILN_OP_NOT, tp_input(c.g, "x", KILN_BOOL, 2, DIMS(c.m, c.n))), 1, "not");
    c = start("f16");
    kiln_value h = tp_input(c.g, "x", KILN_F16, 2, DIMS(c.n, 4));
    finish_with(&c, TP2(c.g, KILN_OP_MUL, TP1(c.g, KILN_OP_EXP, h), h), 1, 1e-3, 1e-4, bindings, "f16 exp*x");
    c = start("bf16");
    kiln_value bh = tp_input(c.g, "x", KILN_BF16, 2, DIMS(c.n, 4));
    finish_with(&c, TP2(c.g, KILN_OP_ADD, TP1(c.g, KILN_OP_TANH, bh), bh), 1, 8e-3, 1e-3, bindings, "bf16 tanh+x");
    c = start("f64");
    kiln_value d = tp_input(c.g, "x", KILN_F64, 2, DIMS(c.n, 4));
    /* f64 arithmetic is exact-ish on the GPU; exp is computed in float there (GLSL has no double exp) */
    finish_with(&c, TP2(c.g, KILN_OP_MUL, TP1(c.g, KILN_OP_EXP, d), d), 1, 1e-6, 1e-6, bindings, "f64 exp*x");
}

static void test_cast(void) {
    static const kiln_dtype from[] = {KILN_F32, KILN_F32, KILN_F32, KILN_I64, KILN_BOOL, KILN_I32, KILN_F32, KILN_F32, KILN_I32};
    static const kiln_dtype to[] = {KILN_I32, KILN_BOOL, KILN_F16, KILN_F32, KILN_F32, KILN_I8, KILN_U8, KILN_I64, KILN_U32};
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        ctx c = start("cast");
        kiln_value x = tp_input(c.g, "x", from[i], 2, DIMS(c.n, 3));
        if (kiln_dtype_is_float(from[i])) x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, from[i], 300)); /* saturates i8/u8 */
        else if (from[i] != KILN_BOOL) x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, from[i], 97));
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
        kiln_value a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, 1, 5)), b = tp_input(c.g, "b", KILN_F32, 2, DIMS(3, 1));
        finish(&c, TP2(c.g, ops[i], a, b), 1, kiln_op_name(ops[i]));
        c = start("int binary");
        /* ints in [-2, 3), zero divisors included */
        kiln_value x = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "a", KILN_I64, 2, DIMS(c.m, c.n)), tp_scalar(c.g, KILN_I64, 2));
        kiln_value y = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "b", KILN_I64, 1, DIMS(c.n)), tp_scalar(c.g, KILN_I64, 2));
        finish(&c, TP2(c.g, ops[i], x, y), 5, kiln_op_name(ops[i]));
        c = start("i32 binary");
        x = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "a", KILN_I32, 2, DIMS(c.m, c.n)), tp_scalar(c.g, KILN_I32, 2));
        y = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "b", KILN_I32, 1, DIMS(c.n)), tp_scalar(c.g, KILN_I32, 2));
        finish(&c, TP2(c.g, ops[i], x, y), 5, kiln_op_name(ops[i]));
    }
    {
        ctx c = start("fmod");
        kiln_value a = tp_input(c.g, "a", KILN_F32, 2, DIMS(c.n, 3)), b = tp_input(c.g, "b", KILN_F32, 1, DIMS(3));
        a = TP2(c.g, KILN_OP_MUL, a, tp_scalar(c.g, KILN_F32, 5));
        finish(&c, TP2(c.g, KILN_OP_FMOD, a, b), 1, "fmod");
    }
    /* bitwise and shifts on i8, u8, i64, u32: counts in [-2, 10) cover < 0 and >= bits */
    static const kiln_op bops[] = {KILN_OP_BITAND, KILN_OP_BITOR, KILN_OP_BITXOR, KILN_OP_SHL, KILN_OP_SHR, KILN_OP_FMOD};
    static const kiln_dtype btypes[] = {KILN_I8, KILN_U8, KILN_I64, KILN_U32, KILN_I16};
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
}

static void reduce_case(kiln_op op, kiln_dtype t, int naxes, const int64_t *axes, int keep, kiln_dim d3) {
    ctx c = start("reduce");
    kiln_value x = tp_input(c.g, "x", t, 4, DIMS(c.n, 3, 1, d3));
    if (t != KILN_F32) x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, t, 2));
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keep)};
    if (op == KILN_OP_ARGMAX || op == KILN_OP_ARGMIN) a[0] = kiln_a_int("axis", axes[0]);
    /* long sums: up to 3 * 1031 terms in f32, error ~ 1e-4 absolute on sums of magnitude ~20 */
    double at = d3 > 100 ? 2e-4 : AT;
    finish_with(&c, tp_node(c.g, op, 1, &x, 2, a), 5, RT, at, bindings, kiln_op_name(op));
}

static void test_reduce(void) {
    static const kiln_op ops[] = {KILN_OP_REDUCE_SUM, KILN_OP_REDUCE_MEAN, KILN_OP_REDUCE_MAX, KILN_OP_REDUCE_MIN,
                                  KILN_OP_REDUCE_PROD};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        reduce_case(ops[i], KILN_F32, 1, (int64_t[]){3}, 0, 5);
        reduce_case(ops[i], KILN_F32, 2, (int64_t[]){0, 2}, 1, 5);
        reduce_case(ops[i], KILN_I32, 2, (int64_t[]){1, 3}, 0, 5);
        reduce_case(ops[i], KILN_F32, 0, NULL, 0, 5);
        if (ops[i] != KILN_OP_REDUCE_PROD) /* one workgroup per output: 1031 or 3 * 1031 elements */
            reduce_case(ops[i], KILN_F32, 2, (int64_t[]){1, 3}, 0, 1031);
    }
    reduce_case(KILN_OP_ARGMAX, KILN_F32, 1, (int64_t[]){1}, 0, 5);
    reduce_case(KILN_OP_ARGMIN, KILN_I64, 1, (int64_t[]){3}, 1, 5);
    reduce_case(KILN_OP_ARGMAX, KILN_I64, 1, (int64_t[]){0}, 1, 5);     /* ties among small ints: first wins */
    reduce_case(KILN_OP_ARGMAX, KILN_I32, 1, (int64_t[]){3}, 0, 1031);  /* ties across threads: first wins */
    reduce_case(KILN_OP_ARGMIN, KILN_F32, 1, (int64_t[]){3}, 0, 1031);
}

static void test_matmul(void) {
    ctx c = start("matmul");
    /* [n, 1, m, 5] @ [3, 5, 7] -> [n, 3, m, 7]: broadcast batch, a few rows (the GEMV form) */
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
    /* tiles: 67 x 37 @ 37 x 131 (primes across several tiles), times n */
    static const tp_sym big_a[] = {{"n", 1}, {"m", 67}, {NULL, 0}};
    static const tp_sym big_b[] = {{"n", 2}, {"m", 5}, {NULL, 0}};
    static const tp_sym *const big[] = {big_a, big_b, NULL};
    for (int t = 0; t < 2; t++) {
        c = start("matmul tiles");
        a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, c.m, 37));
        b = tp_param(c.g, "w", KILN_F32, 2, DIMS(t ? 131 : 37, t ? 37 : 131));
        kiln_named_attr tr = kiln_a_bool("trans_b", t);
        kiln_value y = tp_node(c.g, KILN_OP_MATMUL, 2, (kiln_value[]){a, b}, t, &tr);
        /* an epilogue: bias, gelu and a residual read at the output coordinate */
        kiln_value bias = tp_param(c.g, "bias", KILN_F32, 1, DIMS(131));
        kiln_value res = tp_input(c.g, "r", KILN_F32, 3, DIMS(c.n, c.m, 131));
        y = TP2(c.g, KILN_OP_ADD, TP1(c.g, KILN_OP_GELU, TP2(c.g, KILN_OP_ADD, y, bias)), res);
        /* 37-term dot products of values in [-1, 1): ~37 roundings, < 1e-5 absolute */
        finish_with(&c, y, 1, RT, 5e-5, big, t ? "matmul tiles NT + epilogue" : "matmul tiles NN + epilogue");
    }
    /* A through a transposed view (not k-contiguous): [n, 37, m] -> [n, m, 37] */
    c = start("matmul transposed a");
    a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, 37, c.m));
    kiln_named_attr pm = kiln_a_ints("perm", 3, (int64_t[]){0, 2, 1});
    a = tp_node(c.g, KILN_OP_TRANSPOSE, 1, &a, 1, &pm);
    b = tp_param(c.g, "w", KILN_F32, 2, DIMS(37, 19));
    finish_with(&c, TP2(c.g, KILN_OP_MATMUL, a, b), 1, RT, 5e-5, big, "matmul transposed a");
}

static void test_movement(void) {
    ctx c = start("gather");
    kiln_value data = tp_param(c.g, "d", KILN_F32, 3, DIMS(2, 5, 3));
    kiln_value idx = tp_input(c.g, "i", KILN_I64, 2, DIMS(c.n, c.m));
    idx = TP2(c.g, KILN_OP_SUB, idx, tp_scalar(c.g, KILN_I64, 2));
    kiln_named_attr ax1 = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_GATHER, 2, (kiln_value[]){data, idx}, 1, &ax1), 5, "gather axis 1");
    c = start("gather0");
    data = tp_input(c.g, "d", KILN_I32, 2, DIMS(c.m, 4));
    idx = tp_input(c.g, "i", KILN_I32, 1, DIMS(c.n));
    finish(&c, TP2(c.g, KILN_OP_GATHER, data, idx), 2, "gather axis 0");

    c = start("concat");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(3, c.n)), y = tp_input(c.g, "y", KILN_F32, 2, DIMS(3, 2));
    kiln_value z = tp_input(c.g, "z", KILN_F32, 2, DIMS(3, c.m));
    kiln_named_attr axis = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_CONCAT, 3, (kiln_value[]){x, y, z}, 1, &axis), 1, "concat");

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
    x = tp_input(c.g, "x", KILN_I64, 3, DIMS(c.n, 1, 5));
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
    kiln_value x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.n, 5, 3));
    kiln_named_attr ax1 = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_SOFTMAX, 1, &x, 1, &ax1), 1, "softmax axis 1");
    c = start("log_softmax");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 7));
    finish(&c, tp_node(c.g, KILN_OP_LOG_SOFTMAX, 1, &x, 0, NULL), 1, "log_softmax");
    c = start("layer_norm");
    x = tp_input(c.g, "x", KILN_F32, 3, DIMS(c.m, c.n, 6));
    kiln_value w = tp_param(c.g, "w", KILN_F32, 1, DIMS(6)), b = tp_param(c.g, "b", KILN_F32, 1, DIMS(6));
    finish(&c, tp_node(c.g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, w, b}, 0, NULL), 1, "layer_norm");
    c = start("layer_norm plain");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 5));
    finish(&c, tp_node(c.g, KILN_OP_LAYER_NORM, 1, &x, 0, NULL), 1, "layer_norm without weights");
    c = start("rms_norm");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 5));
    w = tp_param(c.g, "w", KILN_F32, 1, DIMS(5));
    finish(&c, tp_node(c.g, KILN_OP_RMS_NORM, 2, (kiln_value[]){x, w}, 0, NULL), 1, "rms_norm");
    /* long rows: cached in registers (1031) and re-read per pass (4099 > 4 x 1024), with a prologue */
    static const tp_sym long_a[] = {{"n", 2}, {"m", 1031}, {NULL, 0}};
    static const tp_sym long_b[] = {{"n", 1}, {"m", 4099}, {NULL, 0}};
    static const tp_sym *const longs[] = {long_a, long_b, NULL};
    static const kiln_op rows[] = {KILN_OP_SOFTMAX, KILN_OP_LOG_SOFTMAX, KILN_OP_LAYER_NORM, KILN_OP_RMS_NORM};
    for (int i = 0; i < 4; i++) {
        c = start("long rows");
        x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, c.m));
        x = TP1(c.g, KILN_OP_TANH, TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 4)));
        /* softmax of 4099 entries is ~2.4e-4 each; sums of 4099 f32 terms: rtol 1e-4 */
        finish_with(&c, tp_node(c.g, rows[i], 1, &x, 0, NULL), 1, 1e-4, 1e-5, longs, "long rows");
    }
    c = start("rope");
    x = tp_input(c.g, "x", KILN_F32, 3, DIMS(2, c.n, 6));
    kiln_value pos = tp_input(c.g, "pos", KILN_I64, 1, DIMS(c.n));
    kiln_named_attr ra[2] = {kiln_a_bool("interleaved", 1), kiln_a_int("rotary_dim", 4)};
    /* positions up to 50 rad: sin/cos of large arguments lose absolute accuracy (~1e-5 at 50) */
    finish_with(&c, tp_node(c.g, KILN_OP_ROPE, 2, (kiln_value[]){x, pos}, 2, ra), 50, RT, 1e-4, bindings, "rope");
    c = start("rel_pos_bucket");
    kiln_value qp = tp_input(c.g, "q", KILN_I64, 1, DIMS(c.n)), kp = tp_input(c.g, "k", KILN_I64, 1, DIMS(c.m));
    kiln_named_attr rb = kiln_a_bool("bidirectional", 1);
    finish(&c, tp_node(c.g, KILN_OP_REL_POS_BUCKET, 2, (kiln_value[]){qp, kp}, 1, &rb), 200, "rel_pos_bucket");
}

static void test_attention(void) {
    /* GQA, causal with T = m + n keys for n queries (a KV cache of m), bool mask */
    ctx c = start("attention");
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
    c = start("attention symbolic head");
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(1, 2, c.n, c.m));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(1, 2, 3, c.m));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(1, 2, 3, 2));
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 3, (kiln_value[]){q, k, v}, 0, NULL), 1, "attention symbolic head size");
    /* several query blocks and key tiles: S = 37 or 1 (a decode step), T = 53 + S, head sizes 24 and 40,
     * 6 heads over 2 kv heads, causal over a cache, a bool mask */
    static const tp_sym at_a[] = {{"n", 37}, {"m", 53}, {NULL, 0}};
    static const tp_sym at_b[] = {{"n", 1}, {"m", 53}, {NULL, 0}};
    static const tp_sym *const ats[] = {at_a, at_b, NULL};
    c = start("attention tiles");
    T = kiln_dim_add(c.g, c.m, c.n);
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(2, 6, c.n, 24));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(2, 2, T, 24));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(2, 2, T, 40));
    mask = tp_input(c.g, "mask", KILN_BOOL, 4, DIMS(2, 1, 1, T));
    /* 24-term dots and softmax-weighted sums of up to 90 values in [-1, 1) */
    finish_with(&c, tp_node(c.g, KILN_OP_ATTENTION, 4, (kiln_value[]){q, k, v, mask}, 1, &ca), 1, 1e-4, 5e-5, ats,
                "attention tiles, GQA, causal over a cache");
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

/* dequantize on random bytes (NaN/inf scales included: NaN matches NaN):
 * the view's expression unpacks blocks with integer ops and bitcasts;
 * values reach 6e4 * 127, so the tolerance is relative (f32 products) */
static void test_dequantize(void) {
    static const char *types[] = {"q4_K", "q8_0", "q4_0", "q6_K"};
    static const int64_t bytes[] = {144, 34, 18, 210}, elems[] = {256, 32, 32, 256};
    for (int i = 0; i < 4; i++) {
        ctx c = start("dequantize");
        kiln_value raw = tp_input(c.g, "raw", KILN_U8, 2, DIMS(c.n, 2 * bytes[i]));
        kiln_named_attr at[2] = {kiln_a_str("type", types[i]), kiln_a_dims("shape", 2, DIMS(c.n, 2 * elems[i]))};
        finish(&c, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &raw, 2, at), 256, types[i]);
    }
    /* a q8_0 weight read by the matmul through its quantized view (the
     * view's expression: no fast path); bytes 0..59 keep the f16 scales
     * finite (at most 0x3b3b = 0.9) */
    ctx c = start("dequantize+matmul");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.m, 64)), w = tp_input(c.g, "w", KILN_U8, 2, DIMS(c.n, 68));
    kiln_named_attr q8[2] = {kiln_a_str("type", "q8_0"), kiln_a_dims("shape", 2, DIMS(c.n, 64))},
                    tb = kiln_a_bool("trans_b", 1);
    kiln_value y = tp_node(c.g, KILN_OP_MATMUL, 2, (kiln_value[]){x, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &w, 2, q8)}, 1, &tb);
    /* 64 products of |x| < 1 and |w| < 0.9 * 59 */
    finish_with(&c, y, 60, RT, 1e-3, bindings, "dequantize+matmul");
}

/* The optional tensor-core matmul (GL_NV_cooperative_matrix) cannot run
 * here: check only that its GLSL, with a fused epilogue and a transposed
 * weight, compiles to SPIR-V (glslang's semantic checks). */
static void test_coopmat_compiles(void) {
    kiln_graph *g = kiln_graph_new("coopmat");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value a = tp_input(g, "a", KILN_F32, 2, DIMS(n, 96));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(80, 96)), bias = tp_param(g, "b", KILN_F32, 1, DIMS(80));
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    kiln_value y = tp_node(g, KILN_OP_MATMUL, 2, (kiln_value[]){a, w}, 1, &tb);
    CHECK_OK(kiln_graph_add_output(g, "y", TP1(g, KILN_OP_GELU, TP2(g, KILN_OP_ADD, y, bias))));
    kiln_plan *p = NULL;
    CHECK_OK(kiln_plan_compile(g, NULL, &p));
    const kiln_kernel *k = p ? kiln_plan_kernel(p, 0) : NULL;
    CHECK(k && k->kind == KILN_K_MATMUL);
    if (k && k->kind == KILN_K_MATMUL) {
        kvk_kinfo ki;
        CHECK_OK(kvk_kinfo_init(k, &ki));
        kvk_slot_map slots[8];
        for (int i = 0; i < k->nbufs && i < 8; i++)
            slots[i] = (kvk_slot_map){k->bufs[i].dtype == KILN_F32 && i ? KILN_F16 : k->bufs[i].dtype, i, 1, -1};
        kvk_variant v = {0, {64, 64, 32, 0, 0, 2}, k->nbufs, slots, k->nbufs, ki.ndim_push};
        kvk_cg_device cd = {32, 1, 49152, (uint64_t)1 << 31, 1, 1, 1};
        char *glsl = NULL;
        uint32_t wg = 0;
        CHECK_OK(kvk_codegen(&ki, &v, &cd, &glsl, &wg));
        CHECK(wg == 128);
        if (glsl) {
            kiln_vk_options o = {.no_cache = 1};
            kiln_vk_shader_source src = {.name = "coopmat matmul", .glsl = glsl};
            kiln_vk_spirv spv = {0};
            CHECK_OK(kiln_vk_compile_glsl(&o, &src, &spv));
            CHECK(spv.nwords > 0);
            kiln_vk_spirv_free(&spv);
        }
        free(glsl);
        kvk_kinfo_free(&ki);
    }
    kiln_plan_free(p);
    kiln_graph_free(g);
}

/* Tensors larger than a storage-buffer range are split over several
 * bindings: pretend the range is 4 KiB so these small tensors split. */
static void test_split_bindings(void) {
    setenv("KILN_VK_MAX_RANGE", "4096", 1);
    static const tp_sym sa[] = {{"n", 3}, {"m", 33}, {NULL, 0}};
    static const tp_sym *const sb[] = {sa, NULL};
    ctx c = start("split matmul");
    kiln_value a = tp_input(c.g, "a", KILN_F32, 2, DIMS(c.m, 40));           /* 5280 bytes: 2 chunks */
    kiln_value w = tp_param(c.g, "w", KILN_F32, 2, DIMS(40, 70));            /* 11200 bytes: 3 chunks */
    kiln_value y = TP2(c.g, KILN_OP_MATMUL, a, w);                           /* out 9240 bytes: 3 chunks */
    finish_with(&c, TP1(c.g, KILN_OP_RELU, y), 1, RT, 5e-5, sb, "matmul over split bindings");
    c = start("split gather");
    kiln_value table = tp_param(c.g, "t", KILN_F32, 2, DIMS(300, 7));        /* 8400 bytes */
    kiln_value ids = tp_input(c.g, "i", KILN_I64, 2, DIMS(c.n, c.m));
    finish_with(&c, TP2(c.g, KILN_OP_GATHER, table, ids), 300, RT, AT, sb, "gather over split bindings");
    unsetenv("KILN_VK_MAX_RANGE");
}

int main(void) {
    int rc = 0;
#ifdef VK_OPS_GPU_PARAMS
    /* test_vk_ops_gpu.c: the templates with the parameters a discrete GPU
     * gets (128x128 matmul tiles, 256-thread workgroups, 32-key attention
     * tiles), which lavapipe would otherwise never run */
    setenv("KILN_VK_GPU_PARAMS", "1", 1);
    setenv("KILN_VK_MATMUL_TILE", "128", 1);
    if (!vp_open("test_vk_ops_gpu", &rc)) return rc;
    test_reduce();
    test_matmul();
    test_composites();
    test_attention();
    vp_close();
    return test_finish("test_vk_ops_gpu");
#endif
    if (!vp_open("test_vk_ops", &rc)) return rc;
    test_unary();
    test_cast();
    test_binary();
    test_reduce();
    test_matmul();
    test_movement();
    test_composites();
    test_attention();
    test_more_index();
    test_dequantize();
    test_split_bindings();
    test_coopmat_compiles();
    check_coverage();
    vp_close();
    return test_finish("test_vk_ops");
}
#else
int main(void) { return vk_skip("test_vk_ops", "kiln was built without Vulkan"); }
#endif
