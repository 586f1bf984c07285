/* kiln_autodiff on graphs: symbolic dims kept by the backward graph (and
 * through the passes and the text form), tensors the loss does not reach
 * (exact zeros), gradients stopped at integer edges, the wrt = NULL
 * default with a hand-computed result, and errors. (Symbolic and tied
 * blocks checked by finite differences are in test_grad_cases.h.) */
#include "kiln/passes.h"
#include "test_grad_util.h"

#define H 1e-2
#define RTOL 2e-3
#define ATOL 2e-4

static const char *dev;

/* The backward graph keeps the symbols: no dim of any node was bound. */
static void symbolic_shapes_kept(void) {
    kiln_graph *g = kiln_graph_new("sym");
    kiln_dim S = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(S, 3));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(3, 3));
    kiln_value y = TP2(g, KILN_OP_MATMUL, x, w);
    static const int64_t all[] = {0, 1};
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 2, all), kiln_a_bool("keepdims", 0)};
    kiln_value mean = tp_node(g, KILN_OP_REDUCE_MEAN, 1, (kiln_value[]){TP2(g, KILN_OP_MUL, y, y)}, 2, ra);
    CHECK_OK(kiln_graph_add_output(g, "loss", mean));
    const char *wrt[] = {"x", "w"};
    kiln_grad_options o = {"loss", wrt, 2};
    kiln_graph *bwd = NULL;
    CHECK_OK(kiln_autodiff(g, &o, &bwd));
    if (bwd) {
        CHECK_OK(kiln_graph_verify(bwd));
        CHECK(kiln_graph_output_count(bwd) == 3);
        CHECK(strcmp(kiln_graph_output_name(bwd, 1), "grad.x") == 0);
        CHECK(strcmp(kiln_graph_output_name(bwd, 2), "grad.w") == 0);
        const kiln_node *gx = kiln_graph_node(bwd, kiln_graph_output_value(bwd, 1));
        CHECK(gx->shape.rank == 2 && !kiln_dim_is_const(gx->shape.dims[0]) && gx->shape.dims[1] == 3);
        /* and it survives the default passes and a text round trip */
        kiln_graph *opt = NULL, *back = NULL;
        char *text = NULL;
        CHECK_OK(kiln_run_default_passes(bwd, NULL, &opt));
        if (opt) CHECK_OK(kiln_graph_to_string(opt, &text));
        if (text) CHECK_OK(kiln_graph_parse(text, "bwd", &back));
        free(text);
        kiln_graph_free(back);
        kiln_graph_free(opt);
    }
    kiln_graph_free(bwd);
    kiln_graph_free(g);
}

/* grad of a tensor the loss does not reach, or reaches only through
 * integer / piecewise-constant edges: exact zeros of its shape. */
static void unreachable(void) {
    gt t;
    gt_begin(&t, "unreachable", NULL);
    kiln_value x = gt_param(&t, "x", 2, DIMS(3, 4), -1, 1);
    kiln_value u = gt_param(&t, "unused", 2, DIMS(2, 5), -1, 1);
    kiln_value a = gt_param(&t, "via_argmax", 2, DIMS(3, 4), -1, 1);
    kiln_value f = gt_param(&t, "via_floor", 1, DIMS(4), -3, 3);
    kiln_named_attr am = kiln_a_int("axis", 1);
    kiln_value idx = gt_op(&t, KILN_OP_ARGMAX, 1, &a, 1, &am); /* [3] i64 */
    kiln_named_attr cf = kiln_a_dtype("dtype", KILN_F32);
    kiln_value idxf = gt_op(&t, KILN_OP_CAST, 1, &idx, 1, &cf);
    kiln_named_attr rs = kiln_a_dims("shape", 2, DIMS(3, 1));
    kiln_value col = gt_op(&t, KILN_OP_RESHAPE, 1, &idxf, 1, &rs);
    kiln_value y = GT2(&t, KILN_OP_ADD, GT2(&t, KILN_OP_MUL, x, col), GT1(&t, KILN_OP_FLOOR, f));
    CHECK_OK(kiln_graph_add_output(t.g, "other", GT1(&t, KILN_OP_EXP, u)));
    kiln_tensor_map *out = gt_check_keep(&t, y, dev, H, RTOL, ATOL, 1);
    const char *zero[] = {"grad.unused", "grad.via_argmax", "grad.via_floor"};
    for (int k = 0; out && k < 3; k++) {
        const kiln_tensor *z = kiln_tensor_map_get(out, zero[k]);
        CHECK(z != NULL);
        int nonzero = 0;
        for (int64_t i = 0; z && i < kiln_tensor_numel(z); i++) nonzero += ((float *)z->data)[i] != 0.0f;
        CHECK(nonzero == 0);
    }
    const kiln_tensor *z = out ? kiln_tensor_map_get(out, "grad.unused") : NULL;
    CHECK(!out || (z && z->rank == 2 && z->shape[0] == 2 && z->shape[1] == 5));
    kiln_tensor_map_free(out);
}

/* wrt NULL: every f32 param, in graph order; inputs and i64 params left out. */
static void default_wrt(void) {
    kiln_graph *g = kiln_graph_new("defaults");
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(3));
    kiln_value a = tp_param(g, "a", KILN_F32, 1, DIMS(3));
    tp_param(g, "n", KILN_I64, 1, DIMS(3));
    kiln_value b = tp_param(g, "b", KILN_F32, 0, NULL);
    static const int64_t ax[] = {0};
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 1, ax), kiln_a_bool("keepdims", 0)};
    kiln_value l = tp_node(g, KILN_OP_REDUCE_SUM, 1, (kiln_value[]){TP2(g, KILN_OP_MUL, TP2(g, KILN_OP_MUL, x, a), b)}, 2, ra);
    CHECK_OK(kiln_graph_add_output(g, "loss", l));
    kiln_grad_options o = {"loss", NULL, 0};
    kiln_graph *bwd = NULL;
    CHECK_OK(kiln_autodiff(g, &o, &bwd));
    CHECK(bwd && kiln_graph_output_count(bwd) == 3);
    if (bwd && kiln_graph_output_count(bwd) == 3) {
        CHECK(strcmp(kiln_graph_output_name(bwd, 1), "grad.a") == 0);
        CHECK(strcmp(kiln_graph_output_name(bwd, 2), "grad.b") == 0);
        /* d loss / d b = sum(x * a): x = (1, 2, 3), a = (4, 5, 6), b = 2 gives 32, and d/da = x b = (2, 4, 6) */
        kiln_tensor_map *w = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *out = NULL;
        float xv[] = {1, 2, 3}, av[] = {4, 5, 6}, bv[] = {2};
        int64_t n3 = 3, ni[] = {0, 0, 0};
        CHECK_OK(kiln_tensor_map_put(in, "x", kiln_tensor_view(KILN_F32, 1, &n3, xv)));
        CHECK_OK(kiln_tensor_map_put(w, "a", kiln_tensor_view(KILN_F32, 1, &n3, av)));
        CHECK_OK(kiln_tensor_map_put(w, "n", kiln_tensor_view(KILN_I64, 1, &n3, ni)));
        CHECK_OK(kiln_tensor_map_put(w, "b", kiln_tensor_view(KILN_F32, 0, NULL, bv)));
        kiln_session *s = gt_session(bwd, w, dev, "default wrt");
        if (s) CHECK_OK(kiln_session_run(s, in, &out));
        const kiln_tensor *ga = out ? kiln_tensor_map_get(out, "grad.a") : NULL, *gb = out ? kiln_tensor_map_get(out, "grad.b") : NULL;
        CHECK(ga && gb && gb->rank == 0);
        if (ga && gb) {
            CHECK(((float *)gb->data)[0] == 32.0f);
            for (int i = 0; i < 3; i++) CHECK(((float *)ga->data)[i] == 2.0f * (float)(i + 1));
        }
        kiln_tensor_map_free(out);
        kiln_session_free(s);
        kiln_tensor_map_free(w);
        kiln_tensor_map_free(in);
    }
    kiln_graph_free(bwd);
    kiln_graph_free(g);
}

/* A long contraction (an LM head's vocabulary): y = a @ b (or a @ b^T),
 * loss = sum(y * w), so d loss / d a = w @ b^T exactly, computed here in
 * double. The backends sum a long K in chunks (cpu and vulkan since the
 * gpt2-tiny training fixture; a single f32 running total over 50257 terms
 * put one AdamW weight over tolerance), so the f32 result is within a few
 * ulp of terms ~0.25 summed 256 at a time: rtol 1e-5 + atol 1e-5 holds. */
static void long_contraction(int trans) {
    enum { M = 3, K = 4, N = 5000 };
    kiln_graph *g = kiln_graph_new("long");
    kiln_value a = tp_param(g, "a", KILN_F32, 2, DIMS(M, K));
    kiln_value b = trans ? tp_param(g, "b", KILN_F32, 2, DIMS(N, K)) : tp_param(g, "b", KILN_F32, 2, DIMS(K, N));
    kiln_value w = tp_input(g, "w", KILN_F32, 2, DIMS(M, N));
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    kiln_value y = tp_node(g, KILN_OP_MATMUL, 2, (kiln_value[]){a, b}, trans, &tb);
    static const int64_t all[] = {0, 1};
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 2, all), kiln_a_bool("keepdims", 0)};
    CHECK_OK(kiln_graph_add_output(g, "loss", tp_node(g, KILN_OP_REDUCE_SUM, 1, (kiln_value[]){TP2(g, KILN_OP_MUL, y, w)}, 2, ra)));
    const char *wrt[] = {"a"};
    kiln_grad_options o = {"loss", wrt, 1};
    kiln_graph *bwd = NULL;
    CHECK_OK(kiln_autodiff(g, &o, &bwd));
    static float av[M * K], bv[K * N], wv[M * N];
    uint64_t st = 7 + (uint64_t)trans;
    for (int i = 0; i < M * K; i++) av[i] = (float)tp_uniform(&st);
    for (int i = 0; i < K * N; i++) bv[i] = (float)tp_uniform(&st);
    for (int i = 0; i < M * N; i++) wv[i] = (float)tp_uniform(&st);
    int64_t as[2] = {M, K}, bs[2] = {trans ? N : K, trans ? K : N}, ws[2] = {M, N};
    kiln_tensor_map *wm = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(wm, "a", kiln_tensor_view(KILN_F32, 2, as, av)));
    CHECK_OK(kiln_tensor_map_put(wm, "b", kiln_tensor_view(KILN_F32, 2, bs, bv)));
    CHECK_OK(kiln_tensor_map_put(in, "w", kiln_tensor_view(KILN_F32, 2, ws, wv)));
    kiln_session *s = bwd ? gt_session(bwd, wm, dev, "long contraction") : NULL;
    if (s) CHECK_OK(kiln_session_run(s, in, &out));
    const kiln_tensor *ga = out ? kiln_tensor_map_get(out, "grad.a") : NULL;
    CHECK(ga != NULL);
    int bad = 0;
    for (int i = 0; ga && i < M; i++)
        for (int k = 0; k < K; k++) {
            double want = 0;
            for (int n = 0; n < N; n++) want += (double)wv[i * N + n] * (trans ? bv[n * K + k] : bv[k * N + n]);
            double got = ((float *)ga->data)[i * K + k];
            if (!(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want)) && bad++ == 0)
                fprintf(stderr, "long contraction%s [%s]: grad.a[%d][%d] = %.9g, exact %.9g\n", trans ? " trans_b" : "",
                        dev, i, k, got, want);
        }
    CHECK(bad == 0);
    kiln_tensor_map_free(out);
    kiln_session_free(s);
    kiln_tensor_map_free(wm);
    kiln_tensor_map_free(in);
    kiln_graph_free(bwd);
    kiln_graph_free(g);
}

/* An embedding table of 5000 rows (>= 4096, so the rule takes its
 * deduplicated form: same-id sums, then one gather per row) looked up by
 * batch x 6 ids with repeats, a negative id naming the last row and rows
 * never looked up: loss = sum(gather(table, ids) * w), so
 * d table[v] = sum of w over the lookups of v, exactly, computed here by a
 * scatter loop in double. batch is symbolic (the training graph's case).
 * Sums of at most 4 terms in [-1, 1]: f32 within 1e-6. */
static void large_table_gather(void) {
    enum { V = 5000, Q = 3, B = 2, I = 6 };
    kiln_graph *g = kiln_graph_new("embed");
    kiln_dim batch = kiln_dim_symbol(g, "batch");
    kiln_value table = tp_param(g, "table", KILN_F32, 2, DIMS(V, Q));
    kiln_value ids = tp_input(g, "ids", KILN_I64, 2, DIMS(batch, I));
    kiln_value w = tp_input(g, "w", KILN_F32, 3, DIMS(batch, I, Q));
    kiln_value y = TP2(g, KILN_OP_MUL, TP2(g, KILN_OP_GATHER, table, ids), w);
    static const int64_t all[] = {0, 1, 2};
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 3, all), kiln_a_bool("keepdims", 0)};
    CHECK_OK(kiln_graph_add_output(g, "loss", tp_node(g, KILN_OP_REDUCE_SUM, 1, &y, 2, ra)));
    const char *wrt[] = {"table"};
    kiln_grad_options o = {"loss", wrt, 1};
    kiln_graph *bwd = NULL;
    CHECK_OK(kiln_autodiff(g, &o, &bwd));
    static float tv[V * Q], wv[B * I * Q];
    static int64_t iv[B * I] = {7, 4999, 0, 7, -1, 123, 0, 0, 2500, 7, 4998, -5000};
    uint64_t st = 11;
    for (int i = 0; i < V * Q; i++) tv[i] = (float)tp_uniform(&st);
    for (int i = 0; i < B * I * Q; i++) wv[i] = (float)tp_uniform(&st);
    static double want[V * Q];
    memset(want, 0, sizeof want);
    for (int i = 0; i < B * I; i++)
        for (int q = 0; q < Q; q++) want[(iv[i] < 0 ? iv[i] + V : iv[i]) * Q + q] += wv[i * Q + q];
    int64_t ts[2] = {V, Q}, is[2] = {B, I}, ws[3] = {B, I, Q};
    kiln_tensor_map *wm = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(wm, "table", kiln_tensor_view(KILN_F32, 2, ts, tv)));
    CHECK_OK(kiln_tensor_map_put(in, "ids", kiln_tensor_view(KILN_I64, 2, is, iv)));
    CHECK_OK(kiln_tensor_map_put(in, "w", kiln_tensor_view(KILN_F32, 3, ws, wv)));
    kiln_session *s = bwd ? gt_session(bwd, wm, dev, "large table gather") : NULL;
    if (s) CHECK_OK(kiln_session_run(s, in, &out));
    const kiln_tensor *gt = out ? kiln_tensor_map_get(out, "grad.table") : NULL;
    CHECK(gt != NULL);
    int bad = 0;
    for (int i = 0; gt && i < V * Q; i++) {
        double got = ((float *)gt->data)[i];
        if (!(fabs(got - want[i]) <= 1e-6 + 1e-6 * fabs(want[i])) && bad++ == 0)
            fprintf(stderr, "large table gather [%s]: grad.table[%d][%d] = %.9g, exact %.9g\n", dev, i / Q, i % Q, got,
                    want[i]);
    }
    CHECK(bad == 0);
    kiln_tensor_map_free(out);
    kiln_session_free(s);
    kiln_tensor_map_free(wm);
    kiln_tensor_map_free(in);
    kiln_graph_free(bwd);
    kiln_graph_free(g);
}

static void errors(void) {
    kiln_graph *g = kiln_graph_new("errs");
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(3));
    tp_input(g, "ids", KILN_I64, 1, DIMS(3));
    kiln_value w = tp_param(g, "w", KILN_F32, 1, DIMS(3));
    kiln_value y = TP2(g, KILN_OP_MUL, x, w);
    static const int64_t ax[] = {0};
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 1, ax), kiln_a_bool("keepdims", 1)};
    CHECK_OK(kiln_graph_add_output(g, "vector", y));
    CHECK_OK(kiln_graph_add_output(g, "loss", tp_node(g, KILN_OP_REDUCE_SUM, 1, &y, 2, ra))); /* shape [1] */
    kiln_graph *out = NULL;
    kiln_grad_options o = {"nope", NULL, 0};
    CHECK_ERR(kiln_autodiff(g, &o, &out), "no output named 'nope'");
    o.loss = "vector";
    CHECK_ERR(kiln_autodiff(g, &o, &out), "must be a scalar");
    o.loss = "loss";
    const char *bad[] = {"missing"}, *ints[] = {"ids"}, *twice[] = {"w", "w"};
    o.wrt = bad;
    o.nwrt = 1;
    CHECK_ERR(kiln_autodiff(g, &o, &out), "no param or input named 'missing'");
    o.wrt = ints;
    CHECK_ERR(kiln_autodiff(g, &o, &out), "'ids' is i64");
    o.wrt = twice;
    o.nwrt = 2;
    CHECK_ERR(kiln_autodiff(g, &o, &out), "named twice");
    CHECK(out == NULL);
    CHECK_ERR(kiln_autodiff(NULL, &o, &out), "needs a graph");
    /* a loss of shape [1] works; the input x is differentiable too */
    const char *both[] = {"x", "w"};
    o.wrt = both;
    CHECK_OK(kiln_autodiff(g, &o, &out));
    CHECK(out && kiln_graph_output_count(out) == 4);
    kiln_graph_free(out);
    kiln_graph_free(g);
}

int main(void) {
    symbolic_shapes_kept();
    errors();
    const char *devices[] = {"ref", "cpu"};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        dev = devices[i];
        if (!gt_device_built(dev)) {
            fprintf(stderr, "test_grad_graphs: device %s not built, skipped\n", dev);
            continue;
        }
        unreachable();
        default_wrt();
        long_contraction(0);
        long_contraction(1);
        large_table_gather();
    }
    return test_finish("test_grad_graphs");
}
