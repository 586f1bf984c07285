/* Every op through plan + kernel evaluator against the reference
 * interpreter, unfused (one kernel per node) and fused, on random data,
 * with shapes that have 1s, primes and broadcasting, and symbolic dims
 * bound at two different values.
 *
 * Tolerance: the evaluator computes like the reference (double, rounded
 * to the node's dtype at the same points), so most results are identical.
 * The exceptions are roundings the kernel form adds: a norm's weight and
 * bias are applied in the epilogue after the normalised value is rounded
 * to f32 (two extra f32 roundings, < 2e-7 relative), and rope is lowered as
 * f32 primitives (a few ulp). rtol 1e-6 plus atol 1e-6 (for results that
 * cancel to near zero) covers those and nothing of a wrong index. */
#include <math.h>
#include <stdlib.h>

#include "test_kernel_util.h"

#define RT 1e-6
#define AT 1e-6

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
    /* inputs that bind n and m even where no other input has them alone */
    tp_input(c.g, "n_", KILN_F32, 1, &c.n);
    tp_input(c.g, "m_", KILN_F32, 1, &c.m);
    return c;
}

/* ops that went through plan and evaluator (checked for coverage at the end) */
static char covered[KILN_OP_COUNT];

static void finish(ctx *c, kiln_value y, int64_t int_hi, const char *what) {
    if (kiln_graph_add_output(c->g, "y", y)) exit(1);
    int before = test_failures;
    tp_plan_vs_ref(c->g, bindings, int_hi, RT, AT, what);
    for (int v = 0; v < kiln_graph_node_count(c->g) && test_failures == before; v++) covered[kiln_graph_node(c->g, v)->op] = 1;
    kiln_graph_free(c->g);
}

/* A new op in ops.def fails here until it has a kernel form and a case above. */
static void check_coverage(void) {
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (op == KILN_OP_PARAM || covered[op]) continue;
        fprintf(stderr, "op '%s' is not checked through plan and evaluator\n", kiln_op_name((kiln_op)op));
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
        /* scaled to [-3, 3] so floor/round/ceil see several integers */
        x = TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 3));
        finish(&c, TP1(c.g, ops[i], x), 1, kiln_op_name(ops[i]));
    }
    static const kiln_op iops[] = {KILN_OP_NEG, KILN_OP_ABS, KILN_OP_SIGN, KILN_OP_RELU, KILN_OP_BITNOT};
    for (size_t i = 0; i < sizeof iops / sizeof iops[0]; i++) {
        ctx c = start("int unary");
        kiln_value x = tp_input(c.g, "x", KILN_I32, 2, DIMS(c.n, 3));
        x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, KILN_I32, 3)); /* [-3, 3) */
        finish(&c, TP1(c.g, iops[i], x), 6, kiln_op_name(iops[i]));
    }
    ctx c = start("not");
    finish(&c, TP1(c.g, KILN_OP_NOT, tp_input(c.g, "x", KILN_BOOL, 2, DIMS(c.m, c.n))), 1, "not");
    /* f16 math rounds to f16 at every node on both sides */
    c = start("f16");
    kiln_value h = tp_input(c.g, "x", KILN_F16, 2, DIMS(c.n, 4));
    finish(&c, TP2(c.g, KILN_OP_MUL, TP1(c.g, KILN_OP_EXP, h), h), 1, "f16 exp*x");
}

static void test_cast(void) {
    static const kiln_dtype from[] = {KILN_F32, KILN_F32, KILN_F32, KILN_I64, KILN_BOOL, KILN_I32, KILN_F32};
    static const kiln_dtype to[] = {KILN_I32, KILN_BOOL, KILN_F16, KILN_F32, KILN_F32, KILN_I8, KILN_U8};
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
        /* [n, 1, 5] with [3, 1]: both sides broadcast */
        kiln_value a = tp_input(c.g, "a", KILN_F32, 3, DIMS(c.n, 1, 5)), b = tp_input(c.g, "b", KILN_F32, 2, DIMS(3, 1));
        finish(&c, TP2(c.g, ops[i], a, b), 1, kiln_op_name(ops[i]));
        c = start("int binary");
        /* ints in [-2, 3), zero divisors included */
        kiln_value x = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "a", KILN_I64, 2, DIMS(c.m, c.n)), tp_scalar(c.g, KILN_I64, 2));
        kiln_value y = TP2(c.g, KILN_OP_SUB, tp_input(c.g, "b", KILN_I64, 1, DIMS(c.n)), tp_scalar(c.g, KILN_I64, 2));
        finish(&c, TP2(c.g, ops[i], x, y), 5, kiln_op_name(ops[i]));
    }
    {
        ctx c = start("fmod");
        kiln_value a = tp_input(c.g, "a", KILN_F32, 2, DIMS(c.n, 3)), b = tp_input(c.g, "b", KILN_F32, 1, DIMS(3));
        a = TP2(c.g, KILN_OP_MUL, a, tp_scalar(c.g, KILN_F32, 5));
        finish(&c, TP2(c.g, KILN_OP_FMOD, a, b), 1, "fmod");
    }
    /* bitwise and shifts on i8 and u8: counts in [-2, 10) cover < 0 and >= bits */
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
}

static void reduce_case(kiln_op op, kiln_dtype t, int naxes, const int64_t *axes, int keep) {
    ctx c = start("reduce");
    kiln_value x = tp_input(c.g, "x", t, 4, DIMS(c.n, 3, 1, 5));
    if (t != KILN_F32) x = TP2(c.g, KILN_OP_SUB, x, tp_scalar(c.g, t, 2));
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keep)};
    if (op == KILN_OP_ARGMAX || op == KILN_OP_ARGMIN) a[0] = kiln_a_int("axis", axes[0]);
    finish(&c, tp_node(c.g, op, 1, &x, 2, a), 5, kiln_op_name(op));
}

static void test_reduce(void) {
    static const kiln_op ops[] = {KILN_OP_REDUCE_SUM, KILN_OP_REDUCE_MEAN, KILN_OP_REDUCE_MAX, KILN_OP_REDUCE_MIN,
                                  KILN_OP_REDUCE_PROD};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        reduce_case(ops[i], KILN_F32, 1, (int64_t[]){3}, 0);
        reduce_case(ops[i], KILN_F32, 2, (int64_t[]){0, 2}, 1);
        reduce_case(ops[i], KILN_I32, 2, (int64_t[]){1, 3}, 0);
        reduce_case(ops[i], KILN_F32, 0, NULL, 0); /* no axes: the identity */
    }
    reduce_case(KILN_OP_ARGMAX, KILN_F32, 1, (int64_t[]){1}, 0);
    reduce_case(KILN_OP_ARGMIN, KILN_I64, 1, (int64_t[]){3}, 1);
    reduce_case(KILN_OP_ARGMAX, KILN_I64, 1, (int64_t[]){0}, 1); /* ties among small ints: first wins */
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

    c = start("concat");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(3, c.n)), y = tp_input(c.g, "y", KILN_F32, 2, DIMS(3, 2));
    kiln_value z = tp_input(c.g, "z", KILN_F32, 2, DIMS(3, c.m));
    kiln_named_attr axis = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_CONCAT, 3, (kiln_value[]){x, y, z}, 1, &axis), 1, "concat");
    /* more pieces than lowering once allowed (64): x's 70 columns in reverse */
    c = start("concat 70");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 70));
    kiln_value cols[70];
    for (int i = 0; i < 70; i++) {
        kiln_named_attr sa[3] = {kiln_a_int("axis", 1), kiln_a_dim("start", 69 - i), kiln_a_dim("end", 70 - i)};
        cols[i] = tp_node(c.g, KILN_OP_SLICE, 1, &x, 3, sa);
    }
    finish(&c, tp_node(c.g, KILN_OP_CONCAT, 70, cols, 1, &axis), 1, "concat of 70 pieces");

    c = start("slice");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 9));
    kiln_named_attr s1[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", 1), kiln_a_dim("end", 8), kiln_a_int("step", 3)};
    finish(&c, tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, s1), 1, "slice step 3");
    c = start("slice back");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 9));
    kiln_named_attr s2[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", -2), kiln_a_dim("end", -10), kiln_a_int("step", -2)};
    finish(&c, tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, s2), 1, "slice backwards");
    /* a reversed axis as a template's strided view: its offset is 8 and its
     * stride -1 (dim slots that are negative; only extents may not be) --
     * ONNX's ArgMax select_last_index and ConvTranspose's flipped kernel */
    c = start("argmax reversed");
    x = tp_input(c.g, "x", KILN_I32, 2, DIMS(c.n, 9));
    kiln_named_attr rv[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", -1), kiln_a_dim("end", -10), kiln_a_int("step", -1)};
    kiln_named_attr am = kiln_a_int("axis", 1);
    finish(&c, tp_node(c.g, KILN_OP_ARGMAX, 1, (kiln_value[]){tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, rv)}, 1, &am), 3,
           "argmax of a reversed axis");
    c = start("matmul reversed");
    x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 9));
    kiln_value w = tp_input(c.g, "w", KILN_F32, 2, DIMS(9, 4));
    finish(&c, TP2(c.g, KILN_OP_MATMUL, tp_node(c.g, KILN_OP_SLICE, 1, &x, 4, rv), w), 1, "matmul of a reversed axis");
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
    /* a symbolic head size without a scale: 1/sqrt(m) evaluated at launch */
    c = start("attention symbolic head");
    q = tp_input(c.g, "q", KILN_F32, 4, DIMS(1, 2, c.n, c.m));
    k = tp_input(c.g, "k", KILN_F32, 4, DIMS(1, 2, 3, c.m));
    v = tp_input(c.g, "v", KILN_F32, 4, DIMS(1, 2, 3, 2));
    finish(&c, tp_node(c.g, KILN_OP_ATTENTION, 3, (kiln_value[]){q, k, v}, 0, NULL), 1, "attention symbolic head size");
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
    /* topk lowers to two counting reductions (passes/decompose_topk.c):
     * floats floored to few values (ties) with NaNs among them, both
     * orders; ints with a symbolic k equal to the whole axis */
    for (int largest = 0; largest < 2; largest++) {
        c = start("topk");
        kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.n, 7));
        kiln_value fl = TP1(c.g, KILN_OP_FLOOR, TP2(c.g, KILN_OP_MUL, x, tp_scalar(c.g, KILN_F32, 3)));
        x = tp_node(c.g, KILN_OP_WHERE, 3,
                    (kiln_value[]){TP2(c.g, KILN_OP_GT, x, tp_scalar(c.g, KILN_F32, 0.6)), tp_scalar(c.g, KILN_F32, NAN), fl}, 0,
                    NULL);
        kiln_named_attr ta[3] = {kiln_a_dim("k", 3), kiln_a_int("axis", 1), kiln_a_bool("largest", largest)};
        finish(&c, tp_node(c.g, KILN_OP_TOPK, 1, &x, 3, ta), 1, largest ? "topk largest" : "topk smallest");
    }
    c = start("topk int");
    kiln_value xi = tp_input(c.g, "x", KILN_I64, 3, DIMS(c.m, c.n, 2));
    kiln_named_attr ti[3] = {kiln_a_dim("k", c.m), kiln_a_int("axis", 0), kiln_a_bool("largest", 1)};
    finish(&c, tp_node(c.g, KILN_OP_TOPK, 1, &xi, 3, ti), 3, "topk int");
}

/* dequantize on random bytes (NaN/inf scales included: NaN matches NaN);
 * every type exactly, in test_quant_op */
static void test_dequantize(void) {
    ctx c = start("dequantize");
    kiln_value raw = tp_input(c.g, "raw", KILN_U8, 2, DIMS(c.n, 144));
    kiln_named_attr at[2] = {kiln_a_str("type", "q4_K"), kiln_a_dims("shape", 2, DIMS(c.n, 256))};
    finish(&c, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &raw, 2, at), 256, "dequantize q4_K");
    c = start("dequantize+matmul");
    kiln_value x = tp_input(c.g, "x", KILN_F32, 2, DIMS(c.m, 64)), w = tp_input(c.g, "w", KILN_U8, 2, DIMS(c.n, 68));
    kiln_named_attr q8[2] = {kiln_a_str("type", "q8_0"), kiln_a_dims("shape", 2, DIMS(c.n, 64))}, tb = kiln_a_bool("trans_b", 1);
    finish(&c, tp_node(c.g, KILN_OP_MATMUL, 2, (kiln_value[]){x, tp_node(c.g, KILN_OP_DEQUANTIZE, 1, &w, 2, q8)}, 1, &tb), 256,
           "dequantize+matmul");
}

int main(void) {
    test_unary();
    test_cast();
    test_binary();
    test_reduce();
    test_matmul();
    test_movement();
    test_composites();
    test_more_index();
    test_dequantize();
    check_coverage();
    return test_finish("test_kernel_ops");
}
