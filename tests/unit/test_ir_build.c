/* Builder, symbolic dims and shape rules. */
#include <string.h>

#include "harness.h"

static void test_dims(void) {
    kiln_graph *g = kiln_graph_new("dims");
    kiln_dim b = kiln_dim_symbol(g, "batch"), s = kiln_dim_symbol(g, "seq");
    CHECK(!kiln_dim_is_const(b));
    CHECK(kiln_dim_symbol(g, "batch") == b);
    kiln_dim bs = kiln_dim_mul(g, b, s), sb = kiln_dim_mul(g, s, b);
    CHECK(bs == sb); /* canonical: commutative */
    kiln_dim e = kiln_dim_add(g, kiln_dim_mul(g, bs, 768), 3);
    char buf[128];
    CHECK(strcmp(kiln_dim_str(g, e, buf, sizeof buf), "768*batch*seq + 3") == 0);
    CHECK(kiln_dim_sub(g, kiln_dim_add(g, s, b), b) == s);
    CHECK(kiln_dim_sub(g, s, s) == 0);
    kiln_dim q;
    CHECK_OK(kiln_dim_div(g, kiln_dim_mul(g, bs, 768), kiln_dim_mul(g, b, 768), &q));
    CHECK(q == s);
    CHECK_OK(kiln_dim_div(g, kiln_dim_mul(g, s, 12), 4, &q));
    CHECK(q == kiln_dim_mul(g, s, 3));
    CHECK_ERR(kiln_dim_div(g, kiln_dim_add(g, s, 1), s, &q), "cannot divide");
    CHECK_ERR(kiln_dim_div(g, 10, 4, &q), "not divisible");
    int64_t vals[2] = {2, 5}, r = 0;
    CHECK_OK(kiln_dim_eval(g, e, vals, &r));
    CHECK(r == 768 * 10 + 3);
    int64_t unbound[2] = {2, -1};
    CHECK_ERR(kiln_dim_eval(g, e, unbound, &r), "seq");
    kiln_graph_free(g);
}

static void test_build(void) {
    kiln_graph *g = kiln_graph_new("mlp");
    kiln_dim b = kiln_dim_symbol(g, "batch");
    kiln_shape xs = {2, {b, 4}}, ws = {2, {4, 3}}, bias = {1, {3}};
    kiln_value x, w, c, mm, add, act, bad;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &xs, &x));
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_F32, &ws, &w));
    CHECK_OK(kiln_graph_add_param(g, "b", KILN_F32, &bias, &c));
    kiln_value again;
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_F32, &ws, &again));
    CHECK(again == w);
    CHECK_ERR(kiln_graph_add_param(g, "w", KILN_F32, &bias, &again), "'w'");
    CHECK_OK(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, w}, 0, NULL, &mm));
    CHECK(kiln_graph_node(g, mm)->shape.dims[0] == b && kiln_graph_node(g, mm)->shape.dims[1] == 3);
    CHECK_OK(kiln_build(g, KILN_OP_ADD, 2, (kiln_value[]){mm, c}, 0, NULL, &add));
    CHECK_OK(kiln_build(g, KILN_OP_GELU, 1, &add, 0, NULL, &act));
    CHECK_ERR(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, x}, 0, NULL, &bad), "inner dimensions");
    CHECK_ERR(kiln_build(g, KILN_OP_ADD, 1, &x, 0, NULL, &bad), "takes 2 inputs");
    CHECK_ERR(kiln_build(g, KILN_OP_SOFTMAX, 1, &x, 1, (kiln_named_attr[]){kiln_a_int("axis", 5)}, &bad),
              "out of range");
    CHECK_ERR(kiln_build(g, KILN_OP_SOFTMAX, 1, &x, 1, (kiln_named_attr[]){kiln_a_int("axes", 1)}, &bad),
              "no attribute 'axes'");
    kiln_value sm;
    CHECK_OK(kiln_build(g, KILN_OP_SOFTMAX, 1, &act, 0, NULL, &sm));
    CHECK(kiln_graph_node(g, sm)->attrs[0].i == 1); /* axis -1 normalised */
    kiln_value r;
    CHECK_OK(kiln_build(g, KILN_OP_REDUCE_SUM, 1, &sm, 2,
                        (kiln_named_attr[]){kiln_a_ints("axes", 1, (int64_t[]){-1}), kiln_a_bool("keepdims", 1)}, &r));
    CHECK(kiln_graph_node(g, r)->shape.rank == 2 && kiln_graph_node(g, r)->shape.dims[1] == 1);
    kiln_value rs;
    kiln_dim target[2] = {kiln_dim_mul(g, b, 3), 1};
    CHECK_OK(kiln_build(g, KILN_OP_RESHAPE, 1, &sm, 1, (kiln_named_attr[]){kiln_a_dims("shape", 2, target)}, &rs));
    kiln_dim wrong[1] = {b};
    CHECK_ERR(kiln_build(g, KILN_OP_RESHAPE, 1, &sm, 1, (kiln_named_attr[]){kiln_a_dims("shape", 1, wrong)}, &bad),
              "element counts differ");
    CHECK_OK(kiln_graph_add_output(g, "y", sm));
    CHECK_ERR(kiln_graph_add_output(g, "y", act), "twice");
    CHECK_OK(kiln_graph_verify(g));
    char *text = NULL;
    CHECK_OK(kiln_graph_to_string(g, &text));
    if (text) {
        CHECK(strstr(text, "matmul(%0, %1) : f32[batch, 3]") != NULL);
        free(text);
    }
    kiln_graph_free(g);
}

int main(void) {
    test_dims();
    test_build();
    return test_finish("test_ir_build");
}
