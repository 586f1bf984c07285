/* The graph passes: each keeps the graph's meaning (reference interpreter
 * on the same random inputs before and after) and has its structural
 * effect (node counts, a transpose gone, duplicates merged). dce, cse,
 * constfold and simplify change no arithmetic, so results must be
 * bit-identical: the tolerance is 0. */
#include <math.h>
#include <stdlib.h>

#include "kiln/passes.h"
#include "test_pass_util.h"

/* ref(before) == ref(after) exactly, on random inputs. */
static void check_same(const kiln_graph *before, const kiln_graph *after, const tp_sym *syms, const char *what) {
    kiln_tensor_map *w, *in;
    tp_feed(before, syms, 3, 7, &w, &in);
    kiln_tensor_map *a = tp_ref(before, w, in), *b = tp_ref(after, w, in);
    if (a && b && !tp_maps_close(a, b, 0, 0, what)) test_failures++;
    kiln_tensor_map_free(a);
    kiln_tensor_map_free(b);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
}

static kiln_graph *run_pass(const char *name, const kiln_graph *g) {
    kiln_graph *out = NULL;
    CHECK_OK(kiln_run_pass(name, g, &out));
    if (out) CHECK_OK(kiln_graph_verify(out));
    if (!out) exit(1);
    return out;
}

static void test_dce(void) {
    kiln_graph *g = kiln_graph_new("dce");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(n));
    tp_input(g, "unused", KILN_F32, 1, DIMS(3));
    kiln_value w = tp_param(g, "dead_weight", KILN_F32, 1, DIMS(3));
    TP1(g, KILN_OP_EXP, x); /* nobody reads it */
    TP1(g, KILN_OP_SIN, w);
    CHECK_OK(kiln_graph_add_output(g, "y", TP1(g, KILN_OP_NEG, x)));
    kiln_graph *h = run_pass("dce", g);
    /* x, the kept input "unused", neg */
    CHECK(kiln_graph_node_count(h) == 3);
    CHECK(tp_count_op(h, KILN_OP_EXP) == 0 && tp_count_op(h, KILN_OP_PARAM) == 0);
    CHECK(tp_count_op(h, KILN_OP_INPUT) == 2);
    check_same(g, h, (tp_sym[]){{"n", 5}, {NULL, 0}}, "dce");
    kiln_graph_free(g);
    kiln_graph_free(h);
}

static void test_cse(void) {
    kiln_graph *g = kiln_graph_new("cse");
    kiln_dim b = kiln_dim_symbol(g, "batch");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(b, 4));
    kiln_value e1 = TP1(g, KILN_OP_EXP, x), e2 = TP1(g, KILN_OP_EXP, x);
    kiln_value c = TP2(g, KILN_OP_ADD, e1, e2);
    kiln_value k1 = tp_scalar(g, KILN_F32, 2.0), k2 = tp_scalar(g, KILN_F32, 2.0);
    CHECK_OK(kiln_graph_add_output(g, "d", TP2(g, KILN_OP_MUL, c, k1)));
    CHECK_OK(kiln_graph_add_output(g, "e", TP2(g, KILN_OP_MUL, c, k2)));
    /* +0.0 and -0.0 differ in their bits and in x + c: must stay apart */
    kiln_value zp = tp_scalar(g, KILN_F32, 0.0), zn = tp_scalar(g, KILN_F32, -0.0);
    CHECK_OK(kiln_graph_add_output(g, "p", TP2(g, KILN_OP_ADD, x, zp)));
    CHECK_OK(kiln_graph_add_output(g, "q", TP2(g, KILN_OP_ADD, x, zn)));
    /* same op and input, different attributes: not merged */
    int64_t ax0 = 0, ax1 = 1;
    kiln_named_attr r0 = kiln_a_ints("axes", 1, &ax0), r1 = kiln_a_ints("axes", 1, &ax1);
    CHECK_OK(kiln_graph_add_output(g, "s0", tp_node(g, KILN_OP_REDUCE_SUM, 1, &x, 1, &r0)));
    CHECK_OK(kiln_graph_add_output(g, "s1", tp_node(g, KILN_OP_REDUCE_SUM, 1, &x, 1, &r1)));
    kiln_graph *h = run_pass("cse", g);
    CHECK(tp_count_op(h, KILN_OP_EXP) == 1);
    CHECK(tp_count_op(h, KILN_OP_MUL) == 1);              /* d and e became one node */
    CHECK(kiln_graph_output_value(h, 0) == kiln_graph_output_value(h, 1));
    CHECK(tp_count_op(h, KILN_OP_CONST) == 3);            /* 2.0 once, +0.0, -0.0 */
    CHECK(tp_count_op(h, KILN_OP_ADD) == 3);              /* e1+e2, x+0, x-0 */
    CHECK(tp_count_op(h, KILN_OP_REDUCE_SUM) == 2);
    check_same(g, h, (tp_sym[]){{"batch", 3}, {NULL, 0}}, "cse");
    kiln_graph_free(g);
    kiln_graph_free(h);
}

static kiln_value const_of(kiln_graph *g, kiln_dtype t, int rank, const int64_t *shape, const double *vals) {
    kiln_tensor c;
    if (kiln_tensor_alloc(&c, t, rank, shape)) exit(1);
    for (int64_t i = 0; i < kiln_tensor_numel(&c); i++) kiln_store_f64(c.data, t, (size_t)i, vals ? vals[i] : (double)i);
    kiln_value v;
    CHECK_OK(kiln_graph_add_const(g, &c, &v));
    kiln_tensor_release(&c);
    return v;
}

static void test_constfold(void) {
    kiln_graph *g = kiln_graph_new("fold");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(3, 2));
    /* c = [[1,2,3],[4,5,6]] + 10, transposed: [[11,14],[12,15],[13,16]] */
    kiln_value c = const_of(g, KILN_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    kiln_value t = TP2(g, KILN_OP_ADD, c, tp_scalar(g, KILN_F32, 10));
    kiln_named_attr perm = kiln_a_ints("perm", 2, (int64_t[]){1, 0});
    t = tp_node(g, KILN_OP_TRANSPOSE, 1, &t, 1, &perm);
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_MUL, x, t)));
    CHECK_OK(kiln_graph_add_output(g, "c", t));
    /* one element over the limit: left alone */
    int64_t big = KILN_CONSTFOLD_MAX_ELEMS + 1;
    kiln_value bc = const_of(g, KILN_F32, 1, &big, NULL);
    CHECK_OK(kiln_graph_add_output(g, "big", TP1(g, KILN_OP_NEG, bc)));
    kiln_graph *f = run_pass("constfold", g), *h = run_pass("dce", f);
    CHECK(tp_count_op(h, KILN_OP_TRANSPOSE) == 0);
    CHECK(tp_count_op(h, KILN_OP_ADD) == 0);
    CHECK(tp_count_op(h, KILN_OP_NEG) == 1);
    const kiln_node *folded = kiln_graph_node(h, kiln_graph_output_value(h, 1));
    CHECK(folded->op == KILN_OP_CONST && folded->value.rank == 2 && folded->value.shape[0] == 3);
    double want[6] = {11, 14, 12, 15, 13, 16};
    for (int i = 0; folded->op == KILN_OP_CONST && i < 6; i++) CHECK(((float *)folded->value.data)[i] == want[i]);
    check_same(g, h, NULL, "constfold");
    kiln_graph_free(f);
    kiln_graph_free(h);
    kiln_graph_free(g);

    /* an out-of-range gather of constants is not folded: the run reports it */
    g = kiln_graph_new("fold_error");
    kiln_value data = const_of(g, KILN_F32, 1, (int64_t[]){3}, NULL);
    kiln_value idx = const_of(g, KILN_I64, 1, (int64_t[]){1}, (double[]){7});
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_GATHER, data, idx)));
    h = run_pass("constfold", g);
    CHECK(tp_count_op(h, KILN_OP_GATHER) == 1);
    kiln_tensor_map *out = NULL;
    CHECK_ERR(kiln_ref_run(h, NULL, NULL, &out), "out of range");
    kiln_graph_free(g);
    kiln_graph_free(h);
}

/* Identities must only go where they are exact: x + 0.0 is not x for x =
 * -0.0, so the feed has -0.0 in it and the comparison looks at sign bits. */
static void test_simplify_identities(void) {
    kiln_graph *g = kiln_graph_new("identities");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(2, 3));
    kiln_value i = tp_input(g, "i", KILN_I32, 2, DIMS(2, 3));
    kiln_named_attr same = kiln_a_dims("shape", 2, DIMS(2, 3)), id = kiln_a_ints("perm", 2, (int64_t[]){0, 1});
    kiln_named_attr swap = kiln_a_ints("perm", 2, (int64_t[]){1, 0}), f32 = kiln_a_dtype("dtype", KILN_F32);
    kiln_value ones = const_of(g, KILN_F32, 2, (int64_t[]){1, 3}, (double[]){1, 1, 1});
    kiln_value outs[] = {
        tp_node(g, KILN_OP_RESHAPE, 1, &x, 1, &same),
        tp_node(g, KILN_OP_EXPAND, 1, &x, 1, &same),
        tp_node(g, KILN_OP_TRANSPOSE, 1, &x, 1, &id),
        tp_node(g, KILN_OP_CAST, 1, &x, 1, &f32),
        TP2(g, KILN_OP_MUL, x, ones),
        TP2(g, KILN_OP_MUL, tp_scalar(g, KILN_F32, 1), x),
        TP2(g, KILN_OP_DIV, x, tp_scalar(g, KILN_F32, 1)),
        TP2(g, KILN_OP_ADD, x, tp_scalar(g, KILN_F32, -0.0)),
        TP2(g, KILN_OP_SUB, x, tp_scalar(g, KILN_F32, 0.0)),
        TP2(g, KILN_OP_ADD, tp_scalar(g, KILN_I32, 0), i),
    };
    int nid = (int)(sizeof outs / sizeof outs[0]);
    for (int k = 0; k < nid; k++) {
        char name[16];
        snprintf(name, sizeof name, "id%d", k);
        CHECK_OK(kiln_graph_add_output(g, name, outs[k]));
    }
    kiln_value t = tp_node(g, KILN_OP_TRANSPOSE, 1, &x, 1, &swap);
    kiln_value keep[] = {
        TP2(g, KILN_OP_ADD, x, tp_scalar(g, KILN_F32, 0.0)),   /* -0 + +0 = +0: kept */
        TP2(g, KILN_OP_MUL, x, const_of(g, KILN_F32, 3, (int64_t[]){2, 1, 1}, (double[]){1, 1})), /* grows to [2,2,3] */
        tp_node(g, KILN_OP_TRANSPOSE, 1, &t, 1, &swap),      /* transpose twice: x */
    };
    CHECK_OK(kiln_graph_add_output(g, "plus_zero", keep[0]));
    CHECK_OK(kiln_graph_add_output(g, "grown", keep[1]));
    CHECK_OK(kiln_graph_add_output(g, "twice", keep[2]));
    kiln_graph *s = run_pass("simplify", g), *h = run_pass("dce", s);
    for (int k = 0; k < nid; k++) {
        kiln_value v = kiln_graph_output_value(h, k);
        CHECK(kiln_graph_node(h, v)->op == KILN_OP_INPUT);
    }
    CHECK(kiln_graph_node(h, kiln_graph_output_value(h, nid))->op == KILN_OP_ADD);
    CHECK(kiln_graph_node(h, kiln_graph_output_value(h, nid + 1))->op == KILN_OP_MUL);
    CHECK(kiln_graph_node(h, kiln_graph_output_value(h, nid + 2))->op == KILN_OP_INPUT);
    CHECK(tp_count_op(h, KILN_OP_TRANSPOSE) == 0 && tp_count_op(h, KILN_OP_RESHAPE) == 0);

    /* x = [-0, 1, -2, 0, 5, -0]: sign bits of every output must agree */
    kiln_tensor_map *w = kiln_tensor_map_new(), *in = kiln_tensor_map_new();
    kiln_tensor xt, it;
    if (kiln_tensor_alloc(&xt, KILN_F32, 2, (int64_t[]){2, 3}) || kiln_tensor_alloc(&it, KILN_I32, 2, (int64_t[]){2, 3}))
        exit(1);
    float xv[6] = {-0.0f, 1, -2, 0, 5, -0.0f};
    for (int k = 0; k < 6; k++) {
        ((float *)xt.data)[k] = xv[k];
        ((int32_t *)it.data)[k] = k - 3;
    }
    CHECK_OK(kiln_tensor_map_put(in, "x", xt));
    CHECK_OK(kiln_tensor_map_put(in, "i", it));
    kiln_tensor_map *a = tp_ref(g, w, in), *b = tp_ref(h, w, in);
    if (a && b) {
        CHECK(tp_maps_close(a, b, 0, 0, "simplify identities"));
        for (int k = 0; k < kiln_tensor_map_count(a); k++) {
            const kiln_tensor *ta = kiln_tensor_map_at(a, k), *tb = kiln_tensor_map_get(b, kiln_tensor_map_name(a, k));
            if (ta->dtype != KILN_F32) continue;
            for (int64_t e = 0; e < kiln_tensor_numel(ta); e++)
                CHECK(signbit(((float *)ta->data)[e]) == signbit(((float *)tb->data)[e]));
        }
        /* and +0 really is what x + 0.0 gives for x = -0 */
        CHECK(!signbit(((float *)kiln_tensor_map_get(b, "plus_zero")->data)[0]));
    }
    kiln_tensor_map_free(a);
    kiln_tensor_map_free(b);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
    kiln_graph_free(s);
    kiln_graph_free(h);
}

static void test_simplify_chains(void) {
    kiln_graph *g = kiln_graph_new("chains");
    kiln_dim b = kiln_dim_symbol(g, "batch");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(b, 2, 6));
    /* reshape chain: [b,2,6] -> [b,12] -> [b,3,4]: one reshape */
    kiln_named_attr r1 = kiln_a_dims("shape", 2, DIMS(b, 12)), r2 = kiln_a_dims("shape", 3, DIMS(b, 3, 4));
    kiln_value y = tp_node(g, KILN_OP_RESHAPE, 1, &x, 1, &r1);
    CHECK_OK(kiln_graph_add_output(g, "reshaped", tp_node(g, KILN_OP_RESHAPE, 1, &y, 1, &r2)));
    /* transpose chain [0,2,1] then [1,0,2]: out dim i = x dim [2,0,1][i] */
    kiln_named_attr p1 = kiln_a_ints("perm", 3, (int64_t[]){0, 2, 1}), p2 = kiln_a_ints("perm", 3, (int64_t[]){1, 0, 2});
    kiln_value t = tp_node(g, KILN_OP_TRANSPOSE, 1, &x, 1, &p1);
    CHECK_OK(kiln_graph_add_output(g, "transposed", tp_node(g, KILN_OP_TRANSPOSE, 1, &t, 1, &p2)));
    kiln_graph *s = run_pass("simplify", g), *h = run_pass("dce", s);
    CHECK(tp_count_op(h, KILN_OP_RESHAPE) == 1 && tp_count_op(h, KILN_OP_TRANSPOSE) == 1);
    const kiln_node *tn = kiln_graph_node(h, kiln_graph_output_value(h, 1));
    CHECK(tn->op == KILN_OP_TRANSPOSE && tn->inputs[0] == 0);
    CHECK(tn->attrs[0].list[0] == 2 && tn->attrs[0].list[1] == 0 && tn->attrs[0].list[2] == 1);
    check_same(g, h, (tp_sym[]){{"batch", 3}, {NULL, 0}}, "simplify chains");
    kiln_graph_free(g);
    kiln_graph_free(s);
    kiln_graph_free(h);
}

/* x @ transpose(w) with w [out, in] (an nn.Linear weight) reads w with
 * trans_b; a batched transpose of the last two axes folds too, a transpose
 * of other axes does not. */
static void test_simplify_matmul_transpose(void) {
    kiln_graph *g = kiln_graph_new("linear");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(2, s, 5));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(7, 5));
    kiln_value k = tp_input(g, "k", KILN_F32, 3, DIMS(2, 7, 5));
    kiln_value m = tp_input(g, "m", KILN_F32, 3, DIMS(5, 2, 3));
    kiln_named_attr swap2 = kiln_a_ints("perm", 2, (int64_t[]){1, 0}), swap3 = kiln_a_ints("perm", 3, (int64_t[]){0, 2, 1});
    kiln_named_attr other = kiln_a_ints("perm", 3, (int64_t[]){1, 0, 2});
    kiln_value wt = tp_node(g, KILN_OP_TRANSPOSE, 1, &w, 1, &swap2);
    kiln_value kt = tp_node(g, KILN_OP_TRANSPOSE, 1, &k, 1, &swap3);
    kiln_value mt = tp_node(g, KILN_OP_TRANSPOSE, 1, &m, 1, &other);
    CHECK_OK(kiln_graph_add_output(g, "linear", TP2(g, KILN_OP_MATMUL, x, wt)));
    CHECK_OK(kiln_graph_add_output(g, "scores", TP2(g, KILN_OP_MATMUL, x, kt)));
    CHECK_OK(kiln_graph_add_output(g, "other", TP2(g, KILN_OP_MATMUL, x, mt)));
    kiln_graph *p = run_pass("simplify", g), *h = run_pass("dce", p);
    CHECK(tp_count_op(h, KILN_OP_TRANSPOSE) == 1); /* only the non-swapping one */
    for (int i = 0; i < 2; i++) {
        const kiln_node *mm = kiln_graph_node(h, kiln_graph_output_value(h, i));
        CHECK(mm->op == KILN_OP_MATMUL && mm->attrs[0].kind == KILN_ATTR_BOOL && mm->attrs[0].i == 1);
        CHECK(kiln_graph_node(h, mm->inputs[1])->op != KILN_OP_TRANSPOSE);
    }
    check_same(g, h, (tp_sym[]){{"seq", 3}, {NULL, 0}}, "matmul transpose");
    /* folding again through a second transpose turns trans_b back off */
    kiln_graph *g2 = kiln_graph_new("twice");
    kiln_value a = tp_input(g2, "a", KILN_F32, 2, DIMS(3, 4)), bw = tp_input(g2, "b", KILN_F32, 2, DIMS(4, 5));
    kiln_value bt = tp_node(g2, KILN_OP_TRANSPOSE, 1, &bw, 1, &swap2);
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    CHECK_OK(kiln_graph_add_output(g2, "y", tp_node(g2, KILN_OP_MATMUL, 2, (kiln_value[]){a, bt}, 1, &tb)));
    kiln_graph *p2 = run_pass("simplify", g2), *h2 = run_pass("dce", p2);
    const kiln_node *mm = kiln_graph_node(h2, kiln_graph_output_value(h2, 0));
    CHECK(tp_count_op(h2, KILN_OP_TRANSPOSE) == 0 && !(mm->attrs[0].kind == KILN_ATTR_BOOL && mm->attrs[0].i));
    check_same(g2, h2, NULL, "double transpose");
    kiln_graph_free(g);
    kiln_graph_free(p);
    kiln_graph_free(h);
    kiln_graph_free(g2);
    kiln_graph_free(p2);
    kiln_graph_free(h2);
}

/* A pass's output keeps dim handles: "past + seq" built again by a shape
 * rule in the new graph must be the handle the copied input declares, or
 * broadcasting [past + seq] against it would fail. */
static void test_dims_survive(void) {
    kiln_graph *g = kiln_graph_new("dims");
    kiln_dim p = kiln_dim_symbol(g, "past"), s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(kiln_dim_add(g, p, s)));
    kiln_value y = tp_input(g, "y", KILN_F32, 1, DIMS(p)), z = tp_input(g, "z", KILN_F32, 1, DIMS(s));
    kiln_named_attr ax = kiln_a_int("axis", 0);
    kiln_value cat = tp_node(g, KILN_OP_CONCAT, 2, (kiln_value[]){y, z}, 1, &ax);
    CHECK_OK(kiln_graph_add_output(g, "o", TP2(g, KILN_OP_ADD, cat, x)));
    for (int i = 0; i < kiln_pass_count(); i++) {
        kiln_graph *h = NULL;
        CHECK_OK(kiln_run_pass(kiln_pass_name(i), g, &h));
        if (!h) continue;
        CHECK_OK(kiln_graph_verify(h));
        const kiln_node *o = kiln_graph_node(h, kiln_graph_output_value(h, 0));
        CHECK(o->shape.rank == 1 && o->shape.dims[0] == kiln_graph_node(g, x)->shape.dims[0]);
        kiln_graph_free(h);
    }
    check_same(g, g, (tp_sym[]){{"past", 2}, {"seq", 3}, {NULL, 0}}, "dims");
    kiln_graph_free(g);
}

typedef struct hook_log {
    int calls;
    char names[16][32];
} hook_log;

static void hook(void *ctx, const char *pass, const kiln_graph *after, double seconds) {
    hook_log *l = ctx;
    CHECK(after != NULL && seconds >= 0);
    if (l->calls < 16) snprintf(l->names[l->calls], sizeof l->names[0], "%s", pass);
    l->calls++;
}

static void test_manager(void) {
    CHECK(kiln_pass_find("cse") >= 0 && kiln_pass_find("nope") < 0);
    CHECK(kiln_default_pipeline_count() >= 5);
    for (int i = 0; i < kiln_default_pipeline_count(); i++) CHECK(kiln_pass_find(kiln_default_pipeline_pass(i)) >= 0);
    for (int i = 0; i < kiln_pass_count(); i++) CHECK(kiln_pass_summary(i) && kiln_pass_summary(i)[0]);
    kiln_graph *g = kiln_graph_new("m"), *h = NULL;
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(4));
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_ADD, TP1(g, KILN_OP_EXP, x), TP1(g, KILN_OP_EXP, x))));
    CHECK_ERR(kiln_run_pass("frobnicate", g, &h), "unknown pass 'frobnicate'");
    CHECK(h == NULL);

    char *printed = NULL, *timed = NULL;
    size_t plen = 0, tlen = 0;
    FILE *pf = open_memstream(&printed, &plen), *tf = open_memstream(&timed, &tlen);
    hook_log log = {0, {{0}}};
    kiln_pass_options opt = {.print_after = "cse", .print_to = pf, .time_passes = 1, .time_to = tf, .verify = 1,
                             .hook = hook, .hook_ctx = &log};
    CHECK_OK(kiln_run_default_passes(g, &opt, &h));
    fclose(pf);
    fclose(tf);
    CHECK(log.calls == kiln_default_pipeline_count());
    CHECK(strcmp(log.names[0], kiln_default_pipeline_pass(0)) == 0);
    CHECK(printed && strstr(printed, "; after pass 'cse'") && strstr(printed, "graph \"m\""));
    /* printed after cse: the two exp nodes are one */
    const char *first = printed ? strstr(printed, "exp(") : NULL;
    CHECK(first && !strstr(first + 1, "exp("));
    CHECK(timed && strstr(timed, "pass cse") && strstr(timed, "pass dce"));
    CHECK(h && tp_count_op(h, KILN_OP_EXP) == 1);
    free(printed);
    free(timed);
    kiln_graph_free(h);
    h = NULL;

    /* a pass the pipeline does not run: an error, not silence */
    kiln_pass_options bad = {.print_after = "decompose"};
    CHECK_ERR(kiln_run_default_passes(g, &bad, &h), "has no such pass");
    bad.print_after = "nonsense";
    CHECK_ERR(kiln_run_default_passes(g, &bad, &h), "unknown pass 'nonsense'");
    CHECK_ERR(kiln_run_pipeline("cse,,dce", g, NULL, &h), "bad pass list");
    CHECK_OK(kiln_run_pipeline("cse,dce", g, NULL, &h));
    CHECK(h && kiln_graph_node_count(h) == 3);
    kiln_graph_free(h);
    kiln_graph_free(g);
}

int main(void) {
    test_dce();
    test_cse();
    test_constfold();
    test_simplify_identities();
    test_simplify_chains();
    test_simplify_matmul_transpose();
    test_dims_survive();
    test_manager();
    return test_finish("test_passes");
}
