/* attention on the reference interpreter, checked against (a) hand-worked
 * tiny cases and (b) the same computation composed in the test from the
 * primitive ops: reshape/expand for grouped-query heads, transpose,
 * matmul, a scale, an additive mask built from iota and compare, softmax,
 * matmul. */
#include <stdint.h>

#include "test_ref_util.h"

#define LN3 1.0986122886681098

typedef struct att_case {
    int64_t B, H, Hk, S, T, D, Dv;
    int causal;
    double scale;        /* 0: the default 1/sqrt(D) */
    int mask;            /* 0 none, 1 float [S,T], 2 bool [B,1,S,T] */
} att_case;

static kiln_value build(kiln_graph *g, kiln_op op, int n, const kiln_value *in, int na, const kiln_named_attr *a) {
    kiln_value v = KILN_NONE;
    CHECK_OK(kiln_build(g, op, n, in, na, a, &v));
    return v;
}

static kiln_value scalar(kiln_graph *g, double v) {
    kiln_value s = KILN_NONE;
    CHECK_OK(kiln_graph_add_scalar(g, KILN_F32, v, &s));
    return s;
}

/* Graph with two outputs: "fused" (the attention op) and "composed". */
static kiln_graph *make_graph(const att_case *c) {
    kiln_graph *g = kiln_graph_new("attention");
    kiln_shape qs = {4, {c->B, c->H, c->S, c->D}}, ks = {4, {c->B, c->Hk, c->T, c->D}},
               vs = {4, {c->B, c->Hk, c->T, c->Dv}};
    kiln_shape ms = c->mask == 1 ? (kiln_shape){2, {c->S, c->T}} : (kiln_shape){4, {c->B, 1, c->S, c->T}};
    kiln_value q, k, v, m = KILN_NONE;
    CHECK_OK(kiln_graph_add_input(g, "q", KILN_F32, &qs, &q));
    CHECK_OK(kiln_graph_add_input(g, "k", KILN_F32, &ks, &k));
    CHECK_OK(kiln_graph_add_input(g, "v", KILN_F32, &vs, &v));
    if (c->mask) CHECK_OK(kiln_graph_add_input(g, "mask", c->mask == 1 ? KILN_F32 : KILN_BOOL, &ms, &m));

    kiln_named_attr fa[2] = {kiln_a_bool("causal", c->causal), kiln_a_float("scale", c->scale)};
    kiln_value fused = build(g, KILN_OP_ATTENTION, c->mask ? 4 : 3, (kiln_value[]){q, k, v, m}, c->scale ? 2 : 1, fa);

    /* kv heads repeated group times: [B,Hk,T,X] -> [B,Hk,1,T,X] -> [B,Hk,G,T,X] -> [B,H,T,X] */
    int64_t G = c->H / c->Hk;
    kiln_value kv[2] = {k, v};
    int64_t last[2] = {c->D, c->Dv};
    for (int i = 0; i < 2; i++) {
        kiln_named_attr r5 = kiln_a_dims("shape", 5, (kiln_dim[]){c->B, c->Hk, 1, c->T, last[i]});
        kiln_named_attr e5 = kiln_a_dims("shape", 5, (kiln_dim[]){c->B, c->Hk, G, c->T, last[i]});
        kiln_named_attr r4 = kiln_a_dims("shape", 4, (kiln_dim[]){c->B, c->H, c->T, last[i]});
        kv[i] = build(g, KILN_OP_RESHAPE, 1, &kv[i], 1, &r5);
        kv[i] = build(g, KILN_OP_EXPAND, 1, &kv[i], 1, &e5);
        kv[i] = build(g, KILN_OP_RESHAPE, 1, &kv[i], 1, &r4);
    }
    kiln_named_attr perm = kiln_a_ints("perm", 4, SHAPE(0, 1, 3, 2));
    kiln_value kt = build(g, KILN_OP_TRANSPOSE, 1, &kv[0], 1, &perm);
    kiln_value sc = build(g, KILN_OP_MATMUL, 2, (kiln_value[]){q, kt}, 0, NULL);
    double scale = c->scale ? c->scale : 1.0 / sqrt((double)c->D);
    sc = build(g, KILN_OP_MUL, 2, (kiln_value[]){sc, scalar(g, scale)}, 0, NULL);
    if (c->mask == 1) sc = build(g, KILN_OP_ADD, 2, (kiln_value[]){sc, m}, 0, NULL);
    if (c->mask == 2) sc = build(g, KILN_OP_WHERE, 3, (kiln_value[]){m, sc, scalar(g, -INFINITY)}, 0, NULL);
    if (c->causal) {
        /* key t allowed for query s when t <= s + (T - S) */
        kiln_named_attr rows[3] = {kiln_a_dims("shape", 2, (kiln_dim[]){c->S, c->T}), kiln_a_int("axis", 0),
                                   kiln_a_dim("start", c->T - c->S)};
        kiln_named_attr cols[2] = {kiln_a_dims("shape", 2, (kiln_dim[]){c->S, c->T}), kiln_a_int("axis", 1)};
        kiln_value limit = build(g, KILN_OP_IOTA, 0, NULL, 3, rows), t = build(g, KILN_OP_IOTA, 0, NULL, 2, cols);
        kiln_value ok = build(g, KILN_OP_LE, 2, (kiln_value[]){t, limit}, 0, NULL);
        sc = build(g, KILN_OP_WHERE, 3, (kiln_value[]){ok, sc, scalar(g, -INFINITY)}, 0, NULL);
    }
    kiln_value p = build(g, KILN_OP_SOFTMAX, 1, &sc, 0, NULL);
    kiln_value composed = build(g, KILN_OP_MATMUL, 2, (kiln_value[]){p, kv[1]}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "fused", fused));
    CHECK_OK(kiln_graph_add_output(g, "composed", composed));
    CHECK_OK(kiln_graph_verify(g));
    return g;
}

static kiln_tensor filled(kiln_dtype dt, int rank, const int64_t *shape, double (*f)(int64_t)) {
    kiln_tensor t = make_tensor(dt, rank, shape, NULL);
    for (int64_t i = 0; i < kiln_tensor_numel(&t); i++) kiln_store_f64(t.data, dt, (size_t)i, f(i));
    return t;
}
static double fq(int64_t i) { return sin(0.7 * (double)i) * 1.5; }
static double fk(int64_t i) { return cos(1.3 * (double)i + 0.2); }
static double fv(int64_t i) { return (double)(i % 7) - 3 + 0.25 * (double)(i % 3); }
static double fmask(int64_t i) { return (double)(i % 3) * -0.75; }
static double fbool(int64_t i) { return (i % 5) != 2; } /* some keys off, never a whole row of 3+ */

static void compare_case(const att_case *c, int line) {
    kiln_graph *g = make_graph(c);
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(in, "q", filled(KILN_F32, 4, SHAPE(c->B, c->H, c->S, c->D), fq)));
    CHECK_OK(kiln_tensor_map_put(in, "k", filled(KILN_F32, 4, SHAPE(c->B, c->Hk, c->T, c->D), fk)));
    CHECK_OK(kiln_tensor_map_put(in, "v", filled(KILN_F32, 4, SHAPE(c->B, c->Hk, c->T, c->Dv), fv)));
    if (c->mask == 1) CHECK_OK(kiln_tensor_map_put(in, "mask", filled(KILN_F32, 2, SHAPE(c->S, c->T), fmask)));
    if (c->mask == 2) CHECK_OK(kiln_tensor_map_put(in, "mask", filled(KILN_BOOL, 4, SHAPE(c->B, 1, c->S, c->T), fbool)));
    CHECK_OK(kiln_ref_run(g, NULL, in, &out));
    if (out) {
        const kiln_tensor *f = kiln_tensor_map_get(out, "fused"), *p = kiln_tensor_map_get(out, "composed");
        double want[4096];
        CHECK(kiln_tensor_numel(p) <= 4096);
        for (int64_t i = 0; i < kiln_tensor_numel(p) && i < 4096; i++) {
            want[i] = at(p, (size_t)i);
            CHECK(!isnan(want[i])); /* NaN would match NaN below: keep cases NaN-free */
        }
        /* the composition rounds to f32 after every step (scores, scale,
         * softmax, product): a few f32 ulps, so 1e-5 relative */
        if (!check_tensor_(f, 4, SHAPE(c->B, c->H, c->S, c->Dv), want, 1e-5, __FILE__, line))
            fprintf(stderr, "  (case at line %d)\n", line);
    }
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}
#define COMPARE(...) compare_case(&(att_case){__VA_ARGS__}, __LINE__)

static void test_against_composition(void) {
    /*      B  H  Hk S  T  D  Dv causal scale mask */
    COMPARE(1, 1, 1, 1, 1, 4, 4, 0, 0, 0);
    COMPARE(2, 3, 3, 4, 4, 8, 5, 0, 0, 0);
    COMPARE(2, 4, 2, 3, 5, 4, 4, 0, 0, 0);    /* grouped-query: 2 query heads per kv head */
    COMPARE(1, 6, 1, 2, 2, 4, 3, 0, 0, 0);    /* multi-query: one kv head */
    COMPARE(1, 2, 2, 4, 4, 4, 4, 1, 0, 0);    /* causal, square */
    COMPARE(2, 4, 2, 3, 7, 4, 6, 1, 0, 0);    /* causal with a KV cache: T = past 4 + S 3 */
    COMPARE(1, 2, 1, 1, 9, 8, 8, 1, 0, 0);    /* one decode step over 9 keys */
    COMPARE(1, 2, 2, 3, 4, 4, 4, 0, 0.3, 0);  /* explicit scale */
    COMPARE(2, 2, 2, 3, 4, 4, 4, 0, 0, 1);    /* float mask [S,T], broadcast over B,H */
    COMPARE(2, 4, 2, 3, 6, 4, 4, 1, 0, 2);    /* bool mask [B,1,S,T] + causal + GQA */
}

static kiln_status run_att(const kiln_tensor *q, const kiln_tensor *k, const kiln_tensor *v, const kiln_tensor *m,
                           int causal, kiln_tensor *y) {
    const kiln_tensor *ins[4] = {q, k, v, m};
    kiln_named_attr a = kiln_a_bool("causal", causal);
    return op_eval(KILN_OP_ATTENTION, m ? 4 : 3, ins, 1, &a, y);
}

static void test_hand_cases(void) {
    /* D = 4, default scale 1/sqrt(4) = 1/2. q = [1,1,1,1]; keys k0 = 0,
     * k1 = [ln3/2]*4: scores 0 and 4 * ln3/2 * 1/2 = ln3, so the weights
     * are 1/(1+3) and 3/(1+3). v0 = 4, v1 = 8 -> 1/4*4 + 3/4*8 = 7. */
    double h = LN3 / 2;
    kiln_tensor q = make_tensor(KILN_F32, 4, SHAPE(1, 1, 1, 4), VALS(1, 1, 1, 1));
    kiln_tensor k = make_tensor(KILN_F32, 4, SHAPE(1, 1, 2, 4), VALS(0, 0, 0, 0, h, h, h, h));
    kiln_tensor v = make_tensor(KILN_F32, 4, SHAPE(1, 1, 2, 1), VALS(4, 8)), y;
    CHECK_OK(run_att(&q, &k, &v, NULL, 0, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 1, 1), VALS(7), 1e-6);
    kiln_tensor_release(&y);
    /* causal with S = 1, T = 2: the single query is the last position
     * (offset T - S = 1), so it sees both keys: still 7 */
    CHECK_OK(run_att(&q, &k, &v, NULL, 1, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 1, 1), VALS(7), 1e-6);
    kiln_tensor_release(&y);
    /* bool mask hiding key 1: only v0 remains -> 4; hiding both: zeros */
    kiln_tensor m = make_tensor(KILN_BOOL, 1, SHAPE(2), VALS(1, 0));
    CHECK_OK(run_att(&q, &k, &v, &m, 0, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 1, 1), VALS(4), 1e-6);
    kiln_tensor_release(&y);
    kiln_store_f64(m.data, KILN_BOOL, 0, 0);
    CHECK_OK(run_att(&q, &k, &v, &m, 0, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 1, 1), VALS(0), 0);
    kiln_tensor_release(&y);
    /* a float mask of -inf on every key also counts as "all excluded" */
    kiln_tensor fm = make_tensor(KILN_F32, 1, SHAPE(2), VALS(-INFINITY, -INFINITY));
    CHECK_OK(run_att(&q, &k, &v, &fm, 0, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 1, 1), VALS(0), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&fm);
    kiln_tensor_release(&m);
    kiln_tensor_release(&q);
    kiln_tensor_release(&k);
    kiln_tensor_release(&v);

    /* causal S = T = 2: query 0 sees key 0 only -> v0 = 4 exactly; query 1
     * sees both with scores 0 and ln3 (q1 = q0) -> 7 */
    q = make_tensor(KILN_F32, 4, SHAPE(1, 1, 2, 4), VALS(1, 1, 1, 1, 1, 1, 1, 1));
    k = make_tensor(KILN_F32, 4, SHAPE(1, 1, 2, 4), VALS(0, 0, 0, 0, h, h, h, h));
    v = make_tensor(KILN_F32, 4, SHAPE(1, 1, 2, 1), VALS(4, 8));
    CHECK_OK(run_att(&q, &k, &v, NULL, 1, &y));
    CHECK_TENSOR(&y, 4, SHAPE(1, 1, 2, 1), VALS(4, 7), 1e-6);
    kiln_tensor_release(&y);
    kiln_tensor_release(&q);
    kiln_tensor_release(&k);
    kiln_tensor_release(&v);
}

int main(void) {
    test_against_composition();
    test_hand_cases();
    return test_finish("test_ref_attention");
}
