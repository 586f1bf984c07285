/* Whole-graph runs on the reference interpreter: symbolic batch at two
 * sizes, outputs that are inputs/params/shared values, long chains (whose
 * intermediates are freed as they die), and the errors a caller can hit. */
#include <stdint.h>

#include "kiln/runtime.h"
#include "test_ref_util.h"

static kiln_value node(kiln_graph *g, kiln_op op, int n, const kiln_value *in, int na, const kiln_named_attr *a) {
    kiln_value v = KILN_NONE;
    CHECK_OK(kiln_build(g, op, n, in, na, a, &v));
    return v;
}

/* y = relu(x @ W + b), s = sum(y, axis 1), with x [batch, 3]. */
static kiln_graph *mlp(void) {
    kiln_graph *g = kiln_graph_new("mlp");
    kiln_dim batch = kiln_dim_symbol(g, "batch");
    kiln_shape xs = {2, {batch, 3}}, ws = {2, {3, 2}}, bs = {1, {2}};
    kiln_value x, w, b;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &xs, &x));
    CHECK_OK(kiln_graph_add_param(g, "W", KILN_F32, &ws, &w));
    CHECK_OK(kiln_graph_add_param(g, "b", KILN_F32, &bs, &b));
    kiln_value mm = node(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, w}, 0, NULL);
    kiln_value add = node(g, KILN_OP_ADD, 2, (kiln_value[]){mm, b}, 0, NULL);
    kiln_value y = node(g, KILN_OP_RELU, 1, &add, 0, NULL);
    kiln_named_attr axes = kiln_a_ints("axes", 1, (int64_t[]){1});
    kiln_value s = node(g, KILN_OP_REDUCE_SUM, 1, &y, 1, &axes);
    /* a dead branch with a bad gather index: never run, so never an error */
    kiln_value bad;
    int64_t nine = 9;
    kiln_tensor idx = kiln_tensor_view(KILN_I64, 1, (int64_t[]){1}, &nine);
    CHECK_OK(kiln_graph_add_const(g, &idx, &bad));
    node(g, KILN_OP_GATHER, 2, (kiln_value[]){w, bad}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "y", y));
    CHECK_OK(kiln_graph_add_output(g, "s", s));
    CHECK_OK(kiln_graph_add_output(g, "x_again", x)); /* an input straight through */
    CHECK_OK(kiln_graph_add_output(g, "W_out", w));   /* a parameter */
    CHECK_OK(kiln_graph_add_output(g, "y_twice", y)); /* the same value twice */
    CHECK_OK(kiln_graph_verify(g));
    return g;
}

static void test_symbolic_batch(void) {
    kiln_graph *g = mlp();
    const double W[6] = {1, -1, 0.5, 2, -2, 0.25}, b[2] = {0.5, -1};
    kiln_tensor_map *weights = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(weights, "W", make_tensor(KILN_F32, 2, SHAPE(3, 2), W)));
    CHECK_OK(kiln_tensor_map_put(weights, "b", make_tensor(KILN_F32, 1, SHAPE(2), b)));
    for (int batch = 1; batch <= 4; batch += 3) {
        double x[12], y[8], s[4];
        for (int i = 0; i < batch * 3; i++) x[i] = (i % 4) - 1.5;
        for (int r = 0; r < batch; r++) {
            s[r] = 0;
            for (int c = 0; c < 2; c++) {
                double v = b[c];
                for (int k = 0; k < 3; k++) v += x[r * 3 + k] * W[k * 2 + c];
                y[r * 2 + c] = v > 0 ? v : 0;
                s[r] += y[r * 2 + c];
            }
        }
        kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
        CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F32, 2, SHAPE(batch, 3), x)));
        CHECK_OK(kiln_ref_run(g, weights, in, &out));
        if (out) {
            CHECK(kiln_tensor_map_count(out) == 5);
            CHECK_TENSOR(kiln_tensor_map_get(out, "y"), 2, SHAPE(batch, 2), y, 1e-6);
            CHECK_TENSOR(kiln_tensor_map_get(out, "s"), 1, SHAPE(batch), s, 1e-6);
            CHECK_TENSOR(kiln_tensor_map_get(out, "x_again"), 2, SHAPE(batch, 3), x, 0);
            CHECK_TENSOR(kiln_tensor_map_get(out, "W_out"), 2, SHAPE(3, 2), W, 0);
            CHECK_TENSOR(kiln_tensor_map_get(out, "y_twice"), 2, SHAPE(batch, 2), y, 1e-6);
            /* outputs own their data: none aliases the inputs, weights or each other */
            const kiln_tensor *xa = kiln_tensor_map_get(out, "x_again"), *wo = kiln_tensor_map_get(out, "W_out");
            CHECK(xa->owns_data && xa->data != kiln_tensor_map_get(in, "x")->data);
            CHECK(wo->owns_data && wo->data != kiln_tensor_map_get(weights, "W")->data);
            CHECK(kiln_tensor_map_get(out, "y")->data != kiln_tensor_map_get(out, "y_twice")->data);
        }
        kiln_tensor_map_free(out);
        kiln_tensor_map_free(in);
    }
    kiln_tensor_map_free(weights);
    kiln_graph_free(g);
}

/* 200 chained ops over x [16]: x -> x*1.01 + 1 -> ... Each step's value
 * dies at the next, so the run holds a couple of buffers at a time. */
static void test_long_chain(void) {
    kiln_graph *g = kiln_graph_new("chain");
    kiln_shape xs = {1, {16}};
    kiln_value x, k, one, v;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F64, &xs, &x));
    CHECK_OK(kiln_graph_add_scalar(g, KILN_F64, 1.01, &k));
    CHECK_OK(kiln_graph_add_scalar(g, KILN_F64, 1.0, &one));
    v = x;
    for (int i = 0; i < 100; i++) {
        v = node(g, KILN_OP_MUL, 2, (kiln_value[]){v, k}, 0, NULL);
        v = node(g, KILN_OP_ADD, 2, (kiln_value[]){v, one}, 0, NULL);
    }
    CHECK_OK(kiln_graph_add_output(g, "y", v));
    double xv[16], want[16];
    for (int i = 0; i < 16; i++) {
        xv[i] = i;
        /* affine recurrence v <- 1.01 v + 1 after 100 steps:
         * 1.01^100 x + (1.01^100 - 1) / 0.01 */
        double p = pow(1.01, 100);
        want[i] = p * xv[i] + (p - 1) / 0.01;
    }
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F64, 1, SHAPE(16), xv)));
    CHECK_OK(kiln_ref_run(g, NULL, in, &out));
    if (out) CHECK_TENSOR(kiln_tensor_map_get(out, "y"), 1, SHAPE(16), want, 1e-12); /* f64 rounding over 200 steps */
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}

static void test_errors(void) {
    kiln_graph *g = mlp();
    kiln_tensor_map *weights = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *out = NULL;
    kiln_tensor_map_set_origin(weights, "mlp.safetensors");
    CHECK_OK(kiln_tensor_map_put(weights, "W", make_tensor(KILN_F32, 2, SHAPE(3, 2), NULL)));
    /* missing parameter: named, with the weight file */
    CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F32, 2, SHAPE(2, 3), NULL)));
    CHECK_ERR(kiln_ref_run(g, weights, in, &out), "parameter 'b' (f32[2]) is not in mlp.safetensors");
    CHECK(out == NULL);
    /* parameter shape mismatch */
    CHECK_OK(kiln_tensor_map_put(weights, "b", make_tensor(KILN_F32, 1, SHAPE(3), NULL)));
    CHECK_ERR(kiln_ref_run(g, weights, in, &out), "parameter 'b' in mlp.safetensors has shape f32[3], the graph expects f32[2]");
    CHECK_OK(kiln_tensor_map_put(weights, "b", make_tensor(KILN_F32, 1, SHAPE(2), NULL)));
    /* input shape mismatch */
    CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F32, 2, SHAPE(2, 4), NULL)));
    CHECK_ERR(kiln_ref_run(g, weights, in, &out), "input 'x' has shape f32[2, 4], expected [batch, 3]");
    /* missing input */
    kiln_tensor_map_free(in);
    in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "X", make_tensor(KILN_F32, 2, SHAPE(2, 3), NULL)));
    CHECK_ERR(kiln_ref_run(g, weights, in, &out), "input 'x' is missing; the graph takes inputs: x (f32[batch, 3])");
    CHECK(out == NULL);
    kiln_tensor_map_free(in);
    kiln_tensor_map_free(weights);
    kiln_graph_free(g);

    /* a kernel error during the run names the graph, the node and the index */
    g = kiln_graph_new("lookup");
    kiln_shape ts = {2, {4, 2}}, is = {1, {kiln_dim_symbol(g, "n")}};
    kiln_value t, ids;
    CHECK_OK(kiln_graph_add_param(g, "table", KILN_F32, &ts, &t));
    CHECK_OK(kiln_graph_add_input(g, "ids", KILN_I64, &is, &ids));
    kiln_value emb = node(g, KILN_OP_GATHER, 2, (kiln_value[]){t, ids}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "emb", emb));
    weights = kiln_tensor_map_new();
    in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(weights, "table", make_tensor(KILN_F32, 2, SHAPE(4, 2), NULL)));
    CHECK_OK(kiln_tensor_map_put(in, "ids", make_ints(KILN_I64, 1, SHAPE(3), (const int64_t[]){1, 2, 7})));
    CHECK_ERR(kiln_ref_run(g, weights, in, &out),
              "running graph 'lookup' on the reference interpreter: gather %2: index 7 (element 2 of the indices) "
              "is out of range for axis 0 of size 4");
    CHECK(out == NULL);

    /* the lower-level entries check what they are handed */
    kiln_bound_params bp;
    kiln_bound_inputs bi;
    kiln_tensor res[1];
    CHECK_OK(kiln_bind_params(g, weights, &bp));
    CHECK_OK(kiln_tensor_map_put(in, "ids", make_ints(KILN_I64, 1, SHAPE(2), (const int64_t[]){3, -4})));
    CHECK_OK(kiln_bind_inputs(g, in, &bi));
    CHECK_OK(kiln_ref_run_bound(g, &bp, &bi, res));
    kiln_tensor_release(&res[0]);
    CHECK_ERR(kiln_ref_run_bound(g, NULL, &bi, res), "parameter 'table' is not bound");
    bi.tensors[0].shape[0] = 5; /* no longer what the symbols say */
    CHECK_ERR(kiln_ref_run_bound(g, &bp, &bi, res), "input 'ids' is bound to i64[5], the graph needs i64[2]");
    bi.tensors[0].shape[0] = 2;
    bi.count = 0;
    CHECK_ERR(kiln_ref_run_bound(g, &bp, &bi, res), "takes 1 inputs and 1 symbols, 0 and 1 are bound");
    bi.count = 1;
    kiln_bound_inputs_free(&bi);
    kiln_bound_params_free(&bp);

    /* eval_node: inputs must match the graph's types; sources need a run */
    kiln_tensor table = make_tensor(KILN_F32, 2, SHAPE(4, 2), NULL), wrong = make_tensor(KILN_F32, 2, SHAPE(4, 3), NULL);
    kiln_tensor two = make_ints(KILN_I64, 1, SHAPE(2), (const int64_t[]){0, 1}), y;
    int64_t n2[1] = {2};
    CHECK_OK(kiln_ref_eval_node(g, kiln_graph_node(g, emb), n2, (const kiln_tensor *[]){&table, &two}, &y));
    kiln_tensor_release(&y);
    CHECK_ERR(kiln_ref_eval_node(g, kiln_graph_node(g, emb), n2, (const kiln_tensor *[]){&wrong, &two}, &y),
              "gather %2: input 0 is f32[4, 3], the graph says f32[4, 2]");
    CHECK_ERR(kiln_ref_eval_node(g, kiln_graph_node(g, emb), NULL, (const kiln_tensor *[]){&table, &two}, &y),
              "symbol 'n' has no value");
    CHECK_ERR(kiln_ref_eval_node(g, kiln_graph_node(g, ids), n2, NULL, &y), "'ids' has no data outside a run");
    kiln_tensor_release(&table);
    kiln_tensor_release(&wrong);
    kiln_tensor_release(&two);
    kiln_tensor_map_free(in);
    kiln_tensor_map_free(weights);
    kiln_graph_free(g);

    /* an output whose shape needs a symbol no input provides */
    g = kiln_graph_new("unbound");
    kiln_named_attr a = kiln_a_dims("shape", 1, (kiln_dim[]){kiln_dim_symbol(g, "n")});
    kiln_value io = node(g, KILN_OP_IOTA, 0, NULL, 1, &a);
    CHECK_OK(kiln_graph_add_output(g, "i", io));
    CHECK_ERR(kiln_ref_run(g, NULL, NULL, &out), "symbol 'n' has no value");
    kiln_graph_free(g);
}

int main(void) {
    test_symbolic_batch();
    test_long_chain();
    test_errors();
    return test_finish("test_ref_run");
}
