/* Shared by the quantized-matmul kernel tests (test_quant_kernels*.c): one
 * graph per block type with six products over quantized weights, random
 * blocks, feeds for a given row count, and the checks.
 *
 *   y1 = xa @ dequantize(w1)^T              NT layout (linear), plain
 *   y2 = silu(xa @ dequantize(w2)^T + b2) + r2   NT, bias + activation + residual
 *   y3 = xb @ dequantize(v3)                NN layout ([K, N] weight), plain
 *   y4 = silu(xb @ dequantize(v4) + b4) + r4     NN with the epilogue
 *   y5 = xc @ dequantize(w1)^T              xc [2, seq, K]: batch folded into M
 *   y6 = xa @ dequantize(w1)[1:]^T          a row slice: the view has an offset,
 *                                           so kernels must take the generic path
 *
 * Expected values come from kiln_dequantize (checked against gguf-py in
 * test_quant, so independent of the kernels' decoders) and a double
 * precision dot product written here.
 *
 * Tolerance (per element, derived, not tuned). The weights are exact f32
 * values, x is exact f32, so the only error of a product is the f32
 * summation: whatever the order, with or without fused multiply-adds, each
 * of the at most K roundings errs by at most u = 2^-24 times a partial sum
 * bounded by S = sum_k |x_k w_k| (times (1+u)^K ~ 1), hence
 *     |acc - exact| <= (K + 1) u S.
 * The epilogue adds: the bias add (u |z|), silu (|silu'| <= 1.1 scales the
 * input error, plus the backend's stated accuracy of the activation, in
 * ulps of its result: act.ulps + act.per_z |z|), the residual add (u |y|). A decode
 * error (a wrong nibble, scale or sign) moves a product by about one
 * weight times |x| ~ S / K or more, far outside (K + 1) u S for these
 * sizes, and the one-hot runs (x rows with a single 1) must give the
 * decoded weights exactly: 1 * w plus zeros is exact in any order. */
#ifndef KILN_TEST_QUANT_KERNELS_UTIL_H
#define KILN_TEST_QUANT_KERNELS_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kiln/quant.h"

static const uint32_t qk_types[] = {KILN_GGML_Q8_0, KILN_GGML_Q4_0, KILN_GGML_Q4_K, KILN_GGML_Q6_K};
#define QK_NTYPES 4
#define QK_NOUT 6

static uint64_t qk_rng = 0x9e3779b97f4a7c15ull;
static uint32_t qk_u32(void) {
    qk_rng ^= qk_rng << 13;
    qk_rng ^= qk_rng >> 7;
    qk_rng ^= qk_rng << 17;
    return (uint32_t)(qk_rng >> 16);
}
static float qk_unit(void) { return (float)(qk_u32() % 2001) / 1000.0f - 1.0f; } /* [-1, 1] */

/* Sizes for a type: K along NT rows (whole blocks), N of the NT products
 * (not multiples of any tile), the NN products' K and N (whole blocks). */
typedef struct qk_dims {
    int64_t ka, n1, n2, kb, n3, n4;
} qk_dims;

static qk_dims qk_dims_for(uint32_t type) {
    int64_t bs = kiln_ggml_type_get(type)->block_size;
    qk_dims d;
    /* q8_0 gets a long K (32 blocks) to exercise the accumulation bound */
    d.ka = type == KILN_GGML_Q8_0 ? 1024 : type == KILN_GGML_Q4_0 ? 96 : 2 * bs;
    d.n1 = 37;
    d.n2 = 130;
    d.kb = 50;
    d.n3 = 3 * bs;
    d.n4 = bs;
    return d;
}

/* A raw weight: `rows` rows of `cols` logical columns. */
typedef struct qk_weight {
    uint32_t type;
    int64_t rows, cols, row_bytes;
    uint8_t *raw;
    float *deq; /* kiln_dequantize of raw, rows x cols */
} qk_weight;

static void qk_put_half(uint8_t *p, float v) {
    uint16_t h = kiln_f32_to_f16(v);
    memcpy(p, &h, 2);
}

/* Random bytes with finite scales |d| in [2^-8, 1) (K types: dmin = d/2),
 * so every weight is a number and products stay well scaled. */
static void qk_weight_random(qk_weight *w, uint32_t type, int64_t rows, int64_t cols) {
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    w->type = type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = cols / ti->block_size * ti->type_size;
    size_t n = (size_t)(rows * w->row_bytes);
    w->raw = malloc(n);
    for (size_t i = 0; i < n; i++) w->raw[i] = (uint8_t)qk_u32();
    for (size_t b = 0; b < n; b += (size_t)ti->type_size) {
        float d = ldexpf((float)(qk_u32() % 256 + 1) / 256.0f, -(int)(qk_u32() % 8)) * (qk_u32() & 1 ? -1.0f : 1.0f);
        if (type == KILN_GGML_Q6_K) qk_put_half(w->raw + b + 208, d);
        else qk_put_half(w->raw + b, d);
        if (type == KILN_GGML_Q4_K) qk_put_half(w->raw + b + 2, d * 0.5f);
    }
    w->deq = malloc((size_t)(rows * cols) * sizeof(float));
    CHECK_OK(kiln_dequantize(type, w->raw, n, w->deq, rows * cols));
}

static void qk_weight_free(qk_weight *w) {
    free(w->raw);
    free(w->deq);
}

static void qk_put_weight(kiln_tensor_map *m, const char *name, const qk_weight *w) {
    kiln_tensor t;
    CHECK_OK(kiln_quant_tensor_view(w->type, 2, (int64_t[]){w->rows, w->cols}, w->raw, (size_t)(w->rows * w->row_bytes), &t));
    CHECK_OK(kiln_tensor_map_put(m, name, t));
}

/* The test graph and its weights for one type. */
typedef struct qk_model {
    uint32_t type;
    qk_dims d;
    kiln_graph *g;
    qk_weight w1, w2, v3, v4;
    kiln_tensor_map *weights;
    float *b2, *b4;
} qk_model;

static kiln_value qk_dq(kiln_graph *g, const char *name, uint32_t type, int64_t rows, int64_t cols) {
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    kiln_shape rs = {2, {rows, cols / ti->block_size * ti->type_size}};
    kiln_value p, v;
    CHECK_OK(kiln_graph_add_param(g, name, KILN_U8, &rs, &p));
    kiln_named_attr at[2] = {kiln_a_str("type", ti->name), kiln_a_dims("shape", 2, (kiln_dim[]){rows, cols})};
    CHECK_OK(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &p, 2, at, &v));
    return v;
}

static kiln_value qk_op1(kiln_graph *g, kiln_op op, kiln_value a) {
    kiln_value r;
    CHECK_OK(kiln_build(g, op, 1, &a, 0, NULL, &r));
    return r;
}
static kiln_value qk_op2(kiln_graph *g, kiln_op op, kiln_value a, kiln_value b) {
    kiln_value r;
    CHECK_OK(kiln_build(g, op, 2, (kiln_value[]){a, b}, 0, NULL, &r));
    return r;
}
static kiln_value qk_t(kiln_graph *g, kiln_value a) {
    kiln_value r;
    int64_t perm[2] = {1, 0};
    kiln_named_attr ap = kiln_a_ints("perm", 2, perm);
    CHECK_OK(kiln_build(g, KILN_OP_TRANSPOSE, 1, &a, 1, &ap, &r));
    return r;
}

static void qk_model_build(qk_model *m, uint32_t type) {
    memset(m, 0, sizeof *m);
    m->type = type;
    qk_dims d = m->d = qk_dims_for(type);
    kiln_graph *g = m->g = kiln_graph_new("quant_kernels");
    kiln_dim seq = kiln_dim_symbol(g, "seq");
    kiln_value xa, xb, xc, b2, b4, r2, r4;
    kiln_shape s;
    s = (kiln_shape){2, {seq, d.ka}};
    CHECK_OK(kiln_graph_add_input(g, "xa", KILN_F32, &s, &xa));
    s = (kiln_shape){2, {seq, d.kb}};
    CHECK_OK(kiln_graph_add_input(g, "xb", KILN_F32, &s, &xb));
    s = (kiln_shape){3, {2, seq, d.ka}};
    CHECK_OK(kiln_graph_add_input(g, "xc", KILN_F32, &s, &xc));
    s = (kiln_shape){2, {seq, d.n2}};
    CHECK_OK(kiln_graph_add_input(g, "r2", KILN_F32, &s, &r2));
    s = (kiln_shape){2, {seq, d.n4}};
    CHECK_OK(kiln_graph_add_input(g, "r4", KILN_F32, &s, &r4));
    s = (kiln_shape){1, {d.n2}};
    CHECK_OK(kiln_graph_add_param(g, "b2", KILN_F32, &s, &b2));
    s = (kiln_shape){1, {d.n4}};
    CHECK_OK(kiln_graph_add_param(g, "b4", KILN_F32, &s, &b4));
    kiln_value w1 = qk_dq(g, "w1", type, d.n1, d.ka), w2 = qk_dq(g, "w2", type, d.n2, d.ka);
    kiln_value v3 = qk_dq(g, "v3", type, d.kb, d.n3), v4 = qk_dq(g, "v4", type, d.kb, d.n4);
    kiln_value y[QK_NOUT];
    y[0] = qk_op2(g, KILN_OP_MATMUL, xa, qk_t(g, w1));
    y[1] = qk_op2(g, KILN_OP_ADD, qk_op1(g, KILN_OP_SILU, qk_op2(g, KILN_OP_ADD, qk_op2(g, KILN_OP_MATMUL, xa, qk_t(g, w2)), b2)), r2);
    y[2] = qk_op2(g, KILN_OP_MATMUL, xb, v3);
    y[3] = qk_op2(g, KILN_OP_ADD, qk_op1(g, KILN_OP_SILU, qk_op2(g, KILN_OP_ADD, qk_op2(g, KILN_OP_MATMUL, xb, v4), b4)), r4);
    y[4] = qk_op2(g, KILN_OP_MATMUL, xc, qk_t(g, w1));
    kiln_value sl;
    kiln_named_attr sa[4] = {kiln_a_int("axis", 0), kiln_a_dim("start", 1), kiln_a_dim("end", d.n1), kiln_a_int("step", 1)};
    CHECK_OK(kiln_build(g, KILN_OP_SLICE, 1, &w1, 4, sa, &sl));
    y[5] = qk_op2(g, KILN_OP_MATMUL, xa, qk_t(g, sl));
    for (int i = 0; i < QK_NOUT; i++) {
        char name[8];
        snprintf(name, sizeof name, "y%d", i + 1);
        CHECK_OK(kiln_graph_add_output(g, name, y[i]));
    }
    qk_weight_random(&m->w1, type, d.n1, d.ka);
    qk_weight_random(&m->w2, type, d.n2, d.ka);
    qk_weight_random(&m->v3, type, d.kb, d.n3);
    qk_weight_random(&m->v4, type, d.kb, d.n4);
    m->weights = kiln_tensor_map_new();
    qk_put_weight(m->weights, "w1", &m->w1);
    qk_put_weight(m->weights, "w2", &m->w2);
    qk_put_weight(m->weights, "v3", &m->v3);
    qk_put_weight(m->weights, "v4", &m->v4);
    kiln_tensor tb;
    CHECK_OK(kiln_tensor_alloc(&tb, KILN_F32, 1, (int64_t[]){d.n2}));
    m->b2 = tb.data;
    for (int64_t i = 0; i < d.n2; i++) m->b2[i] = qk_unit();
    CHECK_OK(kiln_tensor_map_put(m->weights, "b2", tb));
    CHECK_OK(kiln_tensor_alloc(&tb, KILN_F32, 1, (int64_t[]){d.n4}));
    m->b4 = tb.data;
    for (int64_t i = 0; i < d.n4; i++) m->b4[i] = qk_unit();
    CHECK_OK(kiln_tensor_map_put(m->weights, "b4", tb));
}

static void qk_model_free(qk_model *m) {
    kiln_tensor_map_free(m->weights); /* frees b2, b4 */
    qk_weight_free(&m->w1);
    qk_weight_free(&m->w2);
    qk_weight_free(&m->v3);
    qk_weight_free(&m->v4);
    kiln_graph_free(m->g);
}

/* Inputs for `seq` rows; one_hot: every x row holds a single 1 (at a
 * column that varies with the row), residuals random. */
static kiln_tensor_map *qk_feed(const qk_model *m, int64_t seq, int one_hot) {
    kiln_tensor_map *in = kiln_tensor_map_new();
    const char *names[5] = {"xa", "xb", "xc", "r2", "r4"};
    int64_t shapes[5][3] = {{seq, m->d.ka}, {seq, m->d.kb}, {2, seq, m->d.ka}, {seq, m->d.n2}, {seq, m->d.n4}};
    for (int i = 0; i < 5; i++) {
        kiln_tensor t;
        int rank = i == 2 ? 3 : 2;
        CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, rank, shapes[i]));
        float *p = t.data;
        int64_t cols = shapes[i][rank - 1], rows = kiln_tensor_numel(&t) / cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                p[r * cols + c] = one_hot && i < 3 ? (c == (r * 7 + 3) % cols ? 1.0f : 0.0f) : qk_unit();
        CHECK_OK(kiln_tensor_map_put(in, names[i], t));
    }
    return in;
}

/* Element (n, k) of output i's weight in product orientation. */
static float qk_weight_at(const qk_model *m, int i, int64_t n, int64_t k) {
    switch (i) {
    case 0:
    case 4: return m->w1.deq[n * m->d.ka + k];
    case 1: return m->w2.deq[n * m->d.ka + k];
    case 2: return m->v3.deq[k * m->d.n3 + n];
    case 3: return m->v4.deq[k * m->d.n4 + n];
    default: return m->w1.deq[(n + 1) * m->d.ka + k];
    }
}

/* A backend's accuracy for silu(z) = z / (1 + exp(-z)), in ulps of the
 * result: ulps + per_z * |z| (Vulkan's exp is allowed 3 + 2|x| ulps). */
typedef struct qk_act {
    double ulps, per_z;
} qk_act;

/* Checks output i (y{i+1}) of a run against the exact product and the
 * bound in the header comment. exact: the one-hot runs of plain products
 * must equal the weights bit for bit (as values: -0 == +0). */
static int qk_check_output(const qk_model *m, const kiln_tensor_map *in, const kiln_tensor_map *out, int i, int64_t seq,
                           int one_hot, qk_act act, const char *what) {
    static const char *xs[QK_NOUT] = {"xa", "xa", "xb", "xb", "xc", "xa"};
    char name[16];
    snprintf(name, sizeof name, "y%d", i + 1);
    const kiln_tensor *x = kiln_tensor_map_get(in, xs[i]), *y = kiln_tensor_map_get(out, name);
    int64_t K = i == 2 || i == 3 ? m->d.kb : m->d.ka;
    int64_t N = i == 0 || i == 4 ? m->d.n1 : i == 1 ? m->d.n2 : i == 2 ? m->d.n3 : i == 3 ? m->d.n4 : m->d.n1 - 1;
    int64_t M = i == 4 ? 2 * seq : seq;
    if (!y || y->dtype != KILN_F32 || kiln_tensor_numel(y) != M * N) {
        fprintf(stderr, "%s: %s missing or of the wrong size\n", what, name);
        return 0;
    }
    const float *xp = x->data, *yp = y->data;
    const float *res = i == 1 ? kiln_tensor_map_get(in, "r2")->data : i == 3 ? kiln_tensor_map_get(in, "r4")->data : NULL;
    const float *bias = i == 1 ? m->b2 : i == 3 ? m->b4 : NULL;
    const double u = ldexp(1.0, -24);
    float *wt = malloc((size_t)(N * K) * sizeof *wt);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) wt[n * K + k] = qk_weight_at(m, i, n, k);
    int bad = 0;
    for (int64_t r = 0; r < M && bad < 5; r++)
        for (int64_t n = 0; n < N && bad < 5; n++) {
            double acc = 0, s = 0;
            for (int64_t k = 0; k < K; k++) {
                double t = (double)xp[r * K + k] * (double)wt[n * K + k];
                acc += t;
                s += fabs(t);
            }
            double want = acc, tol = (double)(K + 1) * u * s;
            if (res) {
                double z = acc + bias[n], a = z / (1.0 + exp(-z));
                want = a + res[r * N + n];
                tol = 1.1 * (tol + u * fabs(z)) + (act.ulps + act.per_z * fabs(z)) * u * fabs(a) + u * fabs(want) + 1e-30;
            }
            double got = yp[r * N + n];
            int ok = one_hot && !res ? got == want : fabs(got - want) <= tol;
            if (!ok) {
                fprintf(stderr, "%s: %s[%lld, %lld] = %.9g, expected %.9g (tolerance %.3g, K %lld)\n", what, name,
                        (long long)r, (long long)n, got, want, one_hot && !res ? 0.0 : tol, (long long)K);
                bad++;
            }
        }
    free(wt);
    return bad == 0;
}

/* All six outputs of a run. */
static void qk_check_run(const qk_model *m, const kiln_tensor_map *in, const kiln_tensor_map *out, int64_t seq, int one_hot,
                         qk_act act, const char *what) {
    if (!out) {
        test_failures++;
        return;
    }
    for (int i = 0; i < QK_NOUT; i++)
        if (!qk_check_output(m, in, out, i, seq, one_hot, act, what)) test_failures++;
}

#endif
