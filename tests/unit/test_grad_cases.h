/* Finite-difference checks of every differentiable op's gradient rule,
 * shared by test_grad_ops.c (ref and cpu) and test_grad_vk.c. Step and
 * tolerances: see test_grad_util.h (h 1e-2, atol 2e-4, rtol 2e-3 unless a
 * case says otherwise). Inputs are drawn away from kinks (relu, abs,
 * max/min, mod) by more than the step, and reductions by max/min see
 * distinct values. Also a small symbolic-dim block under two bindings and
 * a tied embedding. */
#ifndef KILN_TEST_GRAD_CASES_H
#define KILN_TEST_GRAD_CASES_H

#include "test_grad_util.h"

#define H 1e-2
#define RTOL 2e-3
#define ATOL 2e-4

static const char *dev; /* the device the cases run on */

/* ---- elementwise unary --------------------------------------------------- */
static void unary(kiln_op op, double lo, double hi, double away) {
    gt t;
    char name[64];
    snprintf(name, sizeof name, "%s", kiln_op_name(op));
    gt_begin(&t, name, NULL);
    kiln_value x = gt_param(&t, "x", 2, DIMS(3, 4), lo, hi);
    if (away > 0) gt_away(&t, away);
    gt_check(&t, GT1(&t, op, x), dev, H, RTOL, ATOL);
}

static void test_unary(void) {
    unary(KILN_OP_NEG, -1, 1, 0);
    unary(KILN_OP_ABS, -1, 1, 0.1);
    unary(KILN_OP_EXP, -1, 1, 0);
    unary(KILN_OP_LOG, 0.5, 2, 0);
    unary(KILN_OP_SQRT, 0.5, 2, 0);
    unary(KILN_OP_RSQRT, 0.5, 2, 0);
    unary(KILN_OP_RECIP, 0.5, 2, 0);
    unary(KILN_OP_TANH, -2, 2, 0);
    unary(KILN_OP_SIGMOID, -3, 3, 0);
    unary(KILN_OP_ERF, -2, 2, 0);
    unary(KILN_OP_SIN, -3, 3, 0);
    unary(KILN_OP_COS, -3, 3, 0);
    unary(KILN_OP_RELU, -1, 1, 0.1);
    unary(KILN_OP_GELU, -3, 3, 0);
    unary(KILN_OP_GELU_TANH, -3, 3, 0);
    unary(KILN_OP_SILU, -4, 4, 0);
    unary(KILN_OP_TAN, -1, 1, 0);
    unary(KILN_OP_ASIN, -0.7, 0.7, 0);
    unary(KILN_OP_ACOS, -0.7, 0.7, 0);
    unary(KILN_OP_ATAN, -2, 2, 0);
    unary(KILN_OP_SINH, -1.5, 1.5, 0);
    unary(KILN_OP_COSH, -1.5, 1.5, 0);
    unary(KILN_OP_ASINH, -2, 2, 0);
    unary(KILN_OP_ACOSH, 1.3, 3, 0);
    unary(KILN_OP_ATANH, -0.7, 0.7, 0);
}

static void test_cast(void) {
    gt t;
    gt_begin(&t, "cast f32->f32", NULL);
    kiln_value x = gt_param(&t, "x", 2, DIMS(3, 4), -1, 1);
    kiln_named_attr a = kiln_a_dtype("dtype", KILN_F32);
    kiln_value c = gt_op(&t, KILN_OP_CAST, 1, &x, 1, &a);
    gt_check(&t, GT2(&t, KILN_OP_MUL, c, c), dev, H, RTOL, ATOL);
}

/* ---- binary with broadcasting ---------------------------------------------- */
typedef struct bin_case {
    kiln_op op;
    int ra;
    kiln_dim a[3];
    int rb;
    kiln_dim b[3];
    double alo, ahi, aaway, blo, bhi, baway;
} bin_case;

static void binary(const bin_case *c) {
    gt t;
    char name[96];
    snprintf(name, sizeof name, "%s rank %d x rank %d", kiln_op_name(c->op), c->ra, c->rb);
    gt_begin(&t, name, NULL);
    kiln_value a = gt_param(&t, "a", c->ra, c->a, c->alo, c->ahi);
    if (c->aaway > 0) gt_away(&t, c->aaway);
    kiln_value b = gt_param(&t, "b", c->rb, c->b, c->blo, c->bhi);
    if (c->baway > 0) gt_away(&t, c->baway);
    gt_check(&t, GT2(&t, c->op, a, b), dev, H, RTOL, ATOL);
}

static void test_binary(void) {
    static const bin_case cases[] = {
        {KILN_OP_ADD, 3, {2, 3, 4}, 2, {3, 1}, -1, 1, 0, -1, 1, 0},
        {KILN_OP_SUB, 2, {3, 1}, 2, {1, 4}, -1, 1, 0, -1, 1, 0},
        {KILN_OP_MUL, 2, {2, 3}, 2, {2, 3}, -1, 1, 0, -1, 1, 0},
        {KILN_OP_MUL, 3, {2, 3, 4}, 1, {4}, -1, 1, 0, -1, 1, 0},
        {KILN_OP_DIV, 2, {3, 4}, 1, {4}, -1, 1, 0, 0.5, 2, 0.5},
        {KILN_OP_DIV, 1, {4}, 2, {3, 4}, -1, 1, 0, 0.5, 2, 0.5},
        {KILN_OP_POW, 2, {3, 4}, 2, {3, 4}, 0.5, 2, 0, -1.5, 1.5, 0},
        /* |a| in [0.3, 0.6], |b| in [0.7, 1]: never within 0.1 of each other */
        {KILN_OP_MAX, 2, {3, 4}, 2, {3, 4}, -0.6, 0.6, 0.3, -1, 1, 0.7},
        {KILN_OP_MIN, 2, {3, 4}, 1, {4}, -0.6, 0.6, 0.3, -1, 1, 0.7},
        /* |a| / b in [1.1, 1.75]: the quotient's floor / trunc stays put */
        {KILN_OP_MOD, 2, {3, 4}, 2, {3, 4}, -2.8, 2.8, 2.2, 1.6, 2.0, 0},
        {KILN_OP_FMOD, 2, {3, 4}, 1, {4}, -2.8, 2.8, 2.2, 1.6, 2.0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) binary(&cases[i]);

    gt t; /* pow(x, constant): the exponent gets no gradient */
    gt_begin(&t, "pow(x, 3)", NULL);
    kiln_value x = gt_param(&t, "x", 2, DIMS(3, 4), 0.5, 1.5);
    gt_check(&t, GT2(&t, KILN_OP_POW, x, tp_scalar(t.g, KILN_F32, 3.0)), dev, H, RTOL, ATOL);

    gt_begin(&t, "where", NULL); /* condition from data; both branches broadcast */
    kiln_value c = gt_data(&t, "c", KILN_F32, 2, DIMS(3, 4), -1, 1);
    kiln_value a = gt_param(&t, "a", 2, DIMS(3, 4), -1, 1), b = gt_param(&t, "b", 1, DIMS(4), -1, 1);
    kiln_value cond = GT2(&t, KILN_OP_GT, c, tp_scalar(t.g, KILN_F32, 0));
    gt_check(&t, tp_node(t.g, KILN_OP_WHERE, 3, (kiln_value[]){cond, a, b}, 0, NULL), dev, H, RTOL, ATOL);
}

/* ---- reductions and scans ------------------------------------------------------ */
static void reduce(kiln_op op, int naxes, const int64_t *axes, int keep, double lo, double hi, double away, int distinct) {
    gt t;
    char name[96];
    snprintf(name, sizeof name, "%s axes %d..%d keep %d", kiln_op_name(op), naxes ? (int)axes[0] : -1,
             naxes ? (int)axes[naxes - 1] : -1, keep);
    gt_begin(&t, name, NULL);
    kiln_value x = gt_param(&t, "x", 3, DIMS(2, 3, 4), lo, hi);
    if (away > 0) gt_away(&t, away);
    if (distinct) gt_distinct(&t);
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keep)};
    gt_check(&t, gt_op(&t, op, 1, &x, 2, a), dev, H, RTOL, ATOL);
}

static void test_reduce(void) {
    static const int64_t a1[] = {1}, a02[] = {0, 2}, a2[] = {2}, all[] = {0, 1, 2};
    reduce(KILN_OP_REDUCE_SUM, 1, a1, 0, -1, 1, 0, 0);
    reduce(KILN_OP_REDUCE_SUM, 2, a02, 1, -1, 1, 0, 0);
    reduce(KILN_OP_REDUCE_MEAN, 1, a2, 0, -1, 1, 0, 0);
    reduce(KILN_OP_REDUCE_MEAN, 3, all, 0, -1, 1, 0, 0);
    reduce(KILN_OP_REDUCE_MAX, 1, a1, 0, -1, 1, 0, 1);   /* 24 values 0.087 apart */
    reduce(KILN_OP_REDUCE_MIN, 2, a02, 1, -1, 1, 0, 1);
    reduce(KILN_OP_REDUCE_PROD, 1, a1, 1, -1.5, 1.5, 0.5, 0);

    for (int k = 0; k < 4; k++) {
        gt t;
        kiln_op op = k < 2 ? KILN_OP_CUMSUM : KILN_OP_CUMPROD;
        char name[64];
        snprintf(name, sizeof name, "%s exclusive %d reverse %d", kiln_op_name(op), k & 1, k & 1);
        gt_begin(&t, name, NULL);
        kiln_value x = gt_param(&t, "x", 2, DIMS(3, 5), 0.5, 1.5);
        kiln_named_attr a[3] = {kiln_a_int("axis", 1), kiln_a_bool("exclusive", k & 1), kiln_a_bool("reverse", k & 1)};
        gt_check(&t, gt_op(&t, op, 1, &x, 3, a), dev, H, RTOL, ATOL);
    }
}

/* ---- matmul ----------------------------------------------------------------------- */
static void matmul(int ra, const kiln_dim *a, int rb, const kiln_dim *b, int tb) {
    gt t;
    char name[96];
    snprintf(name, sizeof name, "matmul rank %d x rank %d%s", ra, rb, tb ? " trans_b" : "");
    gt_begin(&t, name, NULL);
    kiln_value x = gt_param(&t, "a", ra, a, -1, 1), w = gt_param(&t, "b", rb, b, -1, 1);
    kiln_named_attr at = kiln_a_bool("trans_b", 1);
    gt_check(&t, gt_op(&t, KILN_OP_MATMUL, 2, (kiln_value[]){x, w}, tb, &at), dev, H, RTOL, ATOL);
}

static void test_matmul(void) {
    matmul(2, DIMS(3, 4), 2, DIMS(4, 5), 0);
    matmul(2, DIMS(3, 4), 2, DIMS(5, 4), 1);
    matmul(3, DIMS(2, 3, 4), 2, DIMS(4, 5), 0);       /* a linear layer: dB folds the batch */
    matmul(3, DIMS(2, 3, 4), 2, DIMS(5, 4), 1);
    matmul(4, DIMS(2, 1, 3, 4), 3, DIMS(3, 4, 2), 0); /* batch dims broadcast both ways */
    matmul(2, DIMS(3, 4), 3, DIMS(2, 4, 5), 0);       /* a broadcast over b's batch */
    matmul(3, DIMS(2, 3, 4), 3, DIMS(2, 5, 4), 1);
}

/* ---- data movement -------------------------------------------------------------------- */
static void test_movement(void) {
    gt t;
    gt_begin(&t, "reshape", NULL);
    kiln_value x = gt_param(&t, "x", 2, DIMS(2, 6), -1, 1);
    kiln_named_attr rs = kiln_a_dims("shape", 3, DIMS(3, 2, 2));
    gt_check(&t, gt_op(&t, KILN_OP_RESHAPE, 1, &x, 1, &rs), dev, H, RTOL, ATOL);

    gt_begin(&t, "transpose", NULL);
    x = gt_param(&t, "x", 3, DIMS(2, 3, 4), -1, 1);
    static const int64_t perm[] = {2, 0, 1};
    kiln_named_attr tp = kiln_a_ints("perm", 3, perm);
    gt_check(&t, gt_op(&t, KILN_OP_TRANSPOSE, 1, &x, 1, &tp), dev, H, RTOL, ATOL);

    gt_begin(&t, "expand", NULL);
    x = gt_param(&t, "x", 2, DIMS(3, 1), -1, 1);
    kiln_named_attr ex = kiln_a_dims("shape", 3, DIMS(2, 3, 4));
    gt_check(&t, gt_op(&t, KILN_OP_EXPAND, 1, &x, 1, &ex), dev, H, RTOL, ATOL);

    static const struct { int64_t start, end, step; } sl[] = {{1, 3, 1}, {0, 5, 2}, {-1, -100, -1}, {4, 0, -2}};
    for (size_t i = 0; i < sizeof sl / sizeof sl[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "slice %lld:%lld:%lld", (long long)sl[i].start, (long long)sl[i].end,
                 (long long)sl[i].step);
        gt_begin(&t, name, NULL);
        x = gt_param(&t, "x", 2, DIMS(3, 5), -1, 1);
        kiln_named_attr sa[4] = {kiln_a_int("axis", 1), kiln_a_dim("start", sl[i].start), kiln_a_dim("end", sl[i].end),
                                 kiln_a_int("step", sl[i].step)};
        gt_check(&t, gt_op(&t, KILN_OP_SLICE, 1, &x, 4, sa), dev, H, RTOL, ATOL);
    }

    /* slices of one x whose padded adjoints autodiff sums piece by piece
     * (grad_accumulate.c): overlapping (cols 3), a gap (cols 0 and 7 of the
     * first three get nothing) and an exact split (0:3, 3:8) */
    gt_begin(&t, "slices summed", NULL);
    x = gt_param(&t, "x", 2, DIMS(3, 8), -1, 1);
    static const int64_t cuts[][2] = {{6, 7}, {1, 4}, {3, 6}, {0, 3}, {3, 8}};
    kiln_value parts[5];
    for (int i = 0; i < 5; i++) {
        kiln_named_attr sa[3] = {kiln_a_int("axis", 1), kiln_a_dim("start", cuts[i][0]), kiln_a_dim("end", cuts[i][1])};
        parts[i] = gt_op(&t, KILN_OP_SLICE, 1, &x, 3, sa);
    }
    kiln_named_attr pa = kiln_a_int("axis", 1);
    gt_check(&t, gt_op(&t, KILN_OP_CONCAT, 5, parts, 1, &pa), dev, H, RTOL, ATOL);

    gt_begin(&t, "concat", NULL); /* one input twice */
    x = gt_param(&t, "x", 2, DIMS(3, 2), -1, 1);
    kiln_value y = gt_param(&t, "y", 2, DIMS(3, 3), -1, 1);
    kiln_named_attr ca = kiln_a_int("axis", 1);
    gt_check(&t, gt_op(&t, KILN_OP_CONCAT, 3, (kiln_value[]){x, y, x}, 1, &ca), dev, H, RTOL, ATOL);

    gt_begin(&t, "gather embedding", NULL); /* repeated and negative ids */
    x = gt_param(&t, "table", 2, DIMS(5, 3), -1, 1);
    kiln_value ids = gt_data(&t, "ids", KILN_I64, 2, DIMS(2, 4), -5, 4);
    gt_check(&t, GT2(&t, KILN_OP_GATHER, x, ids), dev, H, RTOL, ATOL);

    gt_begin(&t, "gather axis 1", NULL);
    x = gt_param(&t, "table", 3, DIMS(2, 5, 3), -1, 1);
    ids = gt_data(&t, "ids", KILN_I32, 1, DIMS(4), 0, 4);
    kiln_named_attr ga = kiln_a_int("axis", 1);
    gt_check(&t, gt_op(&t, KILN_OP_GATHER, 2, (kiln_value[]){x, ids}, 1, &ga), dev, H, RTOL, ATOL);

    gt_begin(&t, "gather_elements", NULL);
    x = gt_param(&t, "x", 2, DIMS(3, 4), -1, 1);
    ids = gt_data(&t, "ids", KILN_I64, 2, DIMS(3, 6), -4, 3);
    gt_check(&t, gt_op(&t, KILN_OP_GATHER_ELEMENTS, 2, (kiln_value[]){x, ids}, 1, &ga), dev, H, RTOL, ATOL);

    gt_begin(&t, "gather_elements smaller", NULL); /* rows of x that idx does not reach get zeros */
    x = gt_param(&t, "x", 2, DIMS(3, 4), -1, 1);
    ids = gt_data(&t, "ids", KILN_I64, 2, DIMS(2, 3), 0, 3);
    gt_check(&t, gt_op(&t, KILN_OP_GATHER_ELEMENTS, 2, (kiln_value[]){x, ids}, 1, &ga), dev, H, RTOL, ATOL);
}

/* ---- composites ------------------------------------------------------------------------- */
static void test_norms(void) {
    for (int k = 0; k < 4; k++) {
        gt t;
        kiln_op op = k < 2 ? KILN_OP_SOFTMAX : KILN_OP_LOG_SOFTMAX;
        int axis = k & 1 ? 0 : -1;
        char name[64];
        snprintf(name, sizeof name, "%s axis %d", kiln_op_name(op), axis);
        gt_begin(&t, name, NULL);
        kiln_value x = gt_param(&t, "x", 3, DIMS(2, 3, 5), -2, 2);
        kiln_named_attr a = kiln_a_int("axis", axis);
        gt_check(&t, gt_op(&t, op, 1, &x, 1, &a), dev, H, RTOL, ATOL);
    }
    for (int k = 0; k < 5; k++) {
        gt t;
        kiln_op op = k < 3 ? KILN_OP_LAYER_NORM : KILN_OP_RMS_NORM;
        int nin = k < 3 ? 3 - k : 5 - k; /* layer_norm: x w b, x w, x; rms_norm: x w, x */
        char name[64];
        snprintf(name, sizeof name, "%s with %d inputs", kiln_op_name(op), nin);
        gt_begin(&t, name, NULL);
        kiln_value in[3];
        in[0] = gt_param(&t, "x", 3, DIMS(2, 3, 6), -2, 2);
        if (nin > 1) in[1] = gt_param(&t, "w", 1, DIMS(6), 0.5, 1.5);
        if (nin > 2) in[2] = gt_param(&t, "b", 1, DIMS(6), -1, 1);
        kiln_named_attr a = kiln_a_float("eps", 1e-5);
        gt_check(&t, gt_op(&t, op, nin, in, 1, &a), dev, H, RTOL, ATOL);
    }
}

static void test_rope(void) {
    static const struct { int interleaved, rotary; } cfg[] = {{0, 0}, {1, 0}, {0, 4}, {1, 4}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        gt t;
        char name[64];
        snprintf(name, sizeof name, "rope interleaved %d rotary %d", cfg[i].interleaved, cfg[i].rotary);
        gt_begin(&t, name, NULL);
        kiln_value x = gt_param(&t, "x", 4, DIMS(1, 2, 3, 6), -1, 1);
        kiln_value pos = gt_data(&t, "pos", KILN_I64, 1, DIMS(3), 0, 20);
        kiln_named_attr a[3] = {kiln_a_float("theta", 100.0), kiln_a_bool("interleaved", cfg[i].interleaved),
                                kiln_a_int("rotary_dim", cfg[i].rotary)};
        gt_check(&t, gt_op(&t, KILN_OP_ROPE, 2, (kiln_value[]){x, pos}, 3, a), dev, H, RTOL, ATOL);
    }
}

/* attention(q [B,H,S,D], k [B,Hk,T,D], v [B,Hk,T,Dv], mask?) */
static void attention(const char *name, int hk, int s, int tt, int causal, int mask_kind, int scaled) {
    gt t;
    gt_begin(&t, name, NULL);
    kiln_value in[4];
    in[0] = gt_param(&t, "q", 4, DIMS(2, 4, s, 3), -1, 1);
    in[1] = gt_param(&t, "k", 4, DIMS(2, hk, tt, 3), -1, 1);
    in[2] = gt_param(&t, "v", 4, DIMS(2, hk, tt, 2), -1, 1);
    int nin = 3;
    if (mask_kind == 1) { /* bool padding mask [B, 1, 1, T] from data; key 0 always visible */
        kiln_value m = gt_data(&t, "m", KILN_F32, 4, DIMS(2, 1, 1, tt), -1, 1);
        kiln_value iota = gt_op(&t, KILN_OP_IOTA, 0, NULL, 2,
                                (kiln_named_attr[]){kiln_a_dims("shape", 4, DIMS(1, 1, 1, tt)), kiln_a_int("axis", 3)});
        kiln_value first = GT2(&t, KILN_OP_EQ, iota, tp_scalar(t.g, KILN_I64, 0));
        in[nin++] = GT2(&t, KILN_OP_OR, GT2(&t, KILN_OP_GT, m, tp_scalar(t.g, KILN_F32, -0.3)), first);
    } else if (mask_kind == 2) { /* an additive float mask, differentiated too */
        in[nin++] = gt_param(&t, "mask", 4, DIMS(1, 4, s, tt), -1, 1);
    }
    kiln_named_attr a[2] = {kiln_a_bool("causal", causal), kiln_a_float("scale", 0.7)};
    gt_check(&t, gt_op(&t, KILN_OP_ATTENTION, nin, in, scaled ? 2 : 1, a), dev, H, RTOL, ATOL);
}

static void test_attention(void) {
    attention("attention", 4, 3, 3, 0, 0, 0);
    attention("attention causal scaled", 4, 3, 3, 1, 0, 1);
    attention("attention causal with past keys", 4, 2, 4, 1, 0, 0);
    attention("attention bool mask", 4, 3, 4, 0, 1, 1);
    attention("attention float mask causal", 4, 3, 3, 1, 2, 0);
    attention("attention grouped heads", 2, 3, 3, 1, 0, 0);
    attention("attention grouped heads masked", 1, 3, 4, 0, 1, 1);
}

/* ---- blocks --------------------------------------------------------------------------------- */
/* x [batch, seq, 4] (an input) -> a little pre-norm attention block with
 * an embedding of token ids, reduce_mean over the symbolic seq axis and a
 * causal attention whose key count is seq. */
static void symbolic(const tp_sym *syms, const char *name) {
    gt t;
    gt_begin(&t, name, syms);
    kiln_graph *g = t.g;
    kiln_dim B = kiln_dim_symbol(g, "batch"), S = kiln_dim_symbol(g, "seq");
    kiln_value x = gt_input(&t, "x", 3, DIMS(B, S, 4), -1, 1);
    kiln_value ids = gt_data(&t, "ids", KILN_I64, 2, DIMS(B, S), 0, 5);
    kiln_value emb = gt_param(&t, "emb", 2, DIMS(6, 4), -1, 1);
    kiln_value w = gt_param(&t, "w", 2, DIMS(4, 12), -0.7, 0.7), b = gt_param(&t, "b", 1, DIMS(12), -0.5, 0.5);
    kiln_value ln_w = gt_param(&t, "ln.w", 1, DIMS(4), 0.5, 1.5);
    kiln_value h = GT2(&t, KILN_OP_ADD, x, GT2(&t, KILN_OP_GATHER, emb, ids));
    kiln_named_attr eps = kiln_a_float("eps", 1e-5);
    kiln_value n = gt_op(&t, KILN_OP_LAYER_NORM, 2, (kiln_value[]){h, ln_w}, 1, &eps);
    kiln_value qkv = GT2(&t, KILN_OP_ADD, GT2(&t, KILN_OP_MATMUL, n, w), b);
    kiln_value heads[3];
    static const int64_t perm[] = {0, 2, 1, 3};
    for (int i = 0; i < 3; i++) {
        kiln_named_attr sa[3] = {kiln_a_int("axis", 2), kiln_a_dim("start", 4 * i), kiln_a_dim("end", 4 * i + 4)};
        kiln_value part = gt_op(&t, KILN_OP_SLICE, 1, &qkv, 3, sa);
        kiln_named_attr rs = kiln_a_dims("shape", 4, DIMS(B, S, 2, 2));
        kiln_value r = gt_op(&t, KILN_OP_RESHAPE, 1, &part, 1, &rs);
        kiln_named_attr tp = kiln_a_ints("perm", 4, perm);
        heads[i] = gt_op(&t, KILN_OP_TRANSPOSE, 1, &r, 1, &tp);
    }
    kiln_named_attr causal = kiln_a_bool("causal", 1);
    kiln_value att = gt_op(&t, KILN_OP_ATTENTION, 3, heads, 1, &causal);
    kiln_named_attr tp = kiln_a_ints("perm", 4, perm);
    kiln_value merged = gt_op(&t, KILN_OP_TRANSPOSE, 1, &att, 1, &tp);
    kiln_named_attr rs = kiln_a_dims("shape", 3, DIMS(B, S, 4));
    merged = gt_op(&t, KILN_OP_RESHAPE, 1, &merged, 1, &rs);
    static const int64_t seq_axis[] = {1};
    kiln_named_attr mean[2] = {kiln_a_ints("axes", 1, seq_axis), kiln_a_bool("keepdims", 1)};
    kiln_value avg = gt_op(&t, KILN_OP_REDUCE_MEAN, 1, &h, 2, mean); /* [B, 1, 4], count seq */
    kiln_value y = GT2(&t, KILN_OP_MUL, GT2(&t, KILN_OP_ADD, h, merged), avg);
    kiln_named_attr last = kiln_a_int("axis", -1);
    gt_check(&t, gt_op(&t, KILN_OP_LOG_SOFTMAX, 1, &y, 1, &last), dev, H, RTOL, ATOL);
}

/* One param used as an embedding table and, transposed, as the output
 * projection (tied embeddings), plus x used three times. */
static void tied(void) {
    gt t;
    gt_begin(&t, "tied embedding", NULL);
    kiln_value e = gt_param(&t, "e", 2, DIMS(5, 3), -1, 1);
    kiln_value ids = gt_data(&t, "ids", KILN_I64, 2, DIMS(2, 3), 0, 4);
    kiln_value h = GT2(&t, KILN_OP_GATHER, e, ids); /* [2, 3, 3] */
    h = GT2(&t, KILN_OP_MUL, h, h);
    static const int64_t perm[] = {1, 0};
    kiln_named_attr tp = kiln_a_ints("perm", 2, perm);
    kiln_value et = gt_op(&t, KILN_OP_TRANSPOSE, 1, &e, 1, &tp);
    gt_check(&t, GT2(&t, KILN_OP_MATMUL, h, et), dev, H, RTOL, ATOL);
}

static void run_all(void) {
    test_unary();
    test_cast();
    test_binary();
    test_reduce();
    test_matmul();
    test_movement();
    test_norms();
    test_rope();
    test_attention();
    static const tp_sym b2s3[] = {{"batch", 2}, {"seq", 3}, {NULL, 0}}, b1s5[] = {{"batch", 1}, {"seq", 5}, {NULL, 0}};
    symbolic(b2s3, "symbolic block batch 2 seq 3"); /* one graph, two bindings */
    symbolic(b1s5, "symbolic block batch 1 seq 5");
    tied();
}

#endif
