/* Binding weights to PARAM nodes and run inputs to INPUT nodes: dtype
 * conversions, views vs copies, defaults, symbol values, and the errors
 * (which must name the tensor, what was expected and found, and the weight
 * file). */
#include <stdint.h>

#include "kiln/runtime.h"
#include "test_ref_util.h"

static kiln_value param(kiln_graph *g, const char *name, kiln_dtype dt, int rank, const kiln_dim *dims) {
    kiln_shape s = {rank, {0}};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    kiln_value v = KILN_NONE;
    CHECK_OK(kiln_graph_add_param(g, name, dt, &s, &v));
    return v;
}

static kiln_value input(kiln_graph *g, const char *name, kiln_dtype dt, int rank, const kiln_dim *dims) {
    kiln_shape s = {rank, {0}};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    kiln_value v = KILN_NONE;
    CHECK_OK(kiln_graph_add_input(g, name, dt, &s, &v));
    return v;
}

static void set_default(kiln_graph *g, kiln_value v, double value) {
    kiln_graph_node(g, v)->attrs[0] = (kiln_attr){KILN_ATTR_FLOAT, 0, value, 0, NULL, NULL};
}

static void test_params(void) {
    kiln_graph *g = kiln_graph_new("params");
    kiln_value w = param(g, "w", KILN_F32, 2, (kiln_dim[]){2, 2});
    kiln_value b = param(g, "b", KILN_F32, 1, (kiln_dim[]){2});
    kiln_value h = param(g, "h", KILN_F16, 1, (kiln_dim[]){2});
    kiln_value ids = param(g, "ids", KILN_I64, 1, (kiln_dim[]){3});
    kiln_tensor_map *m = kiln_tensor_map_new();
    kiln_tensor_map_set_origin(m, "model.safetensors");
    /* f16 file data for an f32 graph: 0.5, -2, 1/3 -> f16 0.333251953125, 65504 (f16 max) */
    CHECK_OK(kiln_tensor_map_put(m, "w", make_tensor(KILN_F16, 2, SHAPE(2, 2), VALS(0.5, -2, 1.0 / 3, 65504))));
    CHECK_OK(kiln_tensor_map_put(m, "b", make_tensor(KILN_F32, 1, SHAPE(2), VALS(7, 8))));
    CHECK_OK(kiln_tensor_map_put(m, "h", make_tensor(KILN_F64, 1, SHAPE(2), VALS(0.1, 3))));
    CHECK_OK(kiln_tensor_map_put(m, "ids", make_tensor(KILN_I32, 1, SHAPE(3), VALS(-1, 0, 70000))));
    CHECK_OK(kiln_tensor_map_put(m, "unused", make_tensor(KILN_F32, 1, SHAPE(1), VALS(0))));
    kiln_bound_params bp;
    CHECK_OK(kiln_bind_params(g, m, &bp));
    CHECK(bp.count == 4);
    if (bp.count == 4) {
        CHECK(bp.nodes[0] == w && bp.nodes[1] == b && bp.nodes[2] == h && bp.nodes[3] == ids);
        CHECK(bp.tensors[0].dtype == KILN_F32 && bp.tensors[0].owns_data); /* converted copy */
        CHECK_TENSOR(&bp.tensors[0], 2, SHAPE(2, 2), VALS(0.5, -2, 0.333251953125, 65504), 0);
        CHECK(bp.tensors[1].data == kiln_tensor_map_get(m, "b")->data && !bp.tensors[1].owns_data); /* a view */
        /* f64 -> f16: 0.1 -> nearest f16 0.0999755859375 (0.1 * 2^14 = 1638.4 -> 1638 / 2^14) */
        CHECK(bp.tensors[2].dtype == KILN_F16);
        CHECK_TENSOR(&bp.tensors[2], 1, SHAPE(2), VALS(0.0999755859375, 3), 0);
        CHECK(bp.tensors[3].dtype == KILN_I64);
        CHECK_TENSOR(&bp.tensors[3], 1, SHAPE(3), VALS(-1, 0, 70000), 0);
    }
    kiln_bound_params_free(&bp);

    /* wrong shape */
    CHECK_OK(kiln_tensor_map_put(m, "w", make_tensor(KILN_F32, 2, SHAPE(3, 2), NULL)));
    CHECK_ERR(kiln_bind_params(g, m, &bp), "parameter 'w' in model.safetensors has shape f32[3, 2], the graph expects f32[2, 2]");
    /* integer data for a float parameter */
    CHECK_OK(kiln_tensor_map_put(m, "w", make_tensor(KILN_I32, 2, SHAPE(2, 2), NULL)));
    CHECK_ERR(kiln_bind_params(g, m, &bp), "parameter 'w' in model.safetensors is i32 (integer), the graph expects f32 (floating-point)");
    /* float data for an integer parameter */
    CHECK_OK(kiln_tensor_map_put(m, "w", make_tensor(KILN_F32, 2, SHAPE(2, 2), NULL)));
    CHECK_OK(kiln_tensor_map_put(m, "ids", make_tensor(KILN_F32, 1, SHAPE(3), NULL)));
    CHECK_ERR(kiln_bind_params(g, m, &bp), "parameter 'ids' in model.safetensors is f32");
    CHECK(bp.count == 0 && bp.tensors == NULL); /* nothing left behind on failure */
    CHECK_OK(kiln_tensor_map_put(m, "ids", make_tensor(KILN_I64, 1, SHAPE(3), NULL)));
    CHECK_OK(kiln_bind_params(g, m, &bp));
    kiln_bound_params_free(&bp);
    /* missing */
    param(g, "lm_head", KILN_F32, 1, (kiln_dim[]){3});
    CHECK_ERR(kiln_bind_params(g, m, &bp), "parameter 'lm_head' (f32[3]) is not in model.safetensors");
    CHECK_ERR(kiln_bind_params(g, NULL, &bp), "parameter 'w' (f32[2, 2]) is not in the weights (none were given)");
    kiln_tensor_map_free(m);
    kiln_graph_free(g);

    /* symbolic parameter shapes cannot be bound; no parameters at all is fine */
    g = kiln_graph_new("sym");
    param(g, "p", KILN_F32, 1, (kiln_dim[]){kiln_dim_symbol(g, "n")});
    m = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(m, "p", make_tensor(KILN_F32, 1, SHAPE(3), NULL)));
    CHECK_ERR(kiln_bind_params(g, m, &bp), "parameter 'p' has a symbolic shape [n]");
    kiln_tensor_map_free(m);
    kiln_graph_free(g);
    g = kiln_graph_new("none");
    CHECK_OK(kiln_bind_params(g, NULL, &bp));
    CHECK(bp.count == 0);
    kiln_bound_params_free(&bp);
    kiln_graph_free(g);
}

/* ids i64 [batch, seq], mask f32 [batch, seq] default 1, x f32 [seq, 4] */
static kiln_graph *input_graph(void) {
    kiln_graph *g = kiln_graph_new("inputs");
    kiln_dim batch = kiln_dim_symbol(g, "batch"), seq = kiln_dim_symbol(g, "seq");
    input(g, "ids", KILN_I64, 2, (kiln_dim[]){batch, seq});
    set_default(g, input(g, "mask", KILN_F32, 2, (kiln_dim[]){batch, seq}), 1.0);
    input(g, "x", KILN_F32, 2, (kiln_dim[]){seq, 4});
    input(g, "small", KILN_I8, 1, (kiln_dim[]){2});
    return g;
}

static void test_inputs(void) {
    kiln_graph *g = input_graph();
    kiln_tensor_map *m = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(m, "ids", make_tensor(KILN_I32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6))));
    CHECK_OK(kiln_tensor_map_put(m, "x", make_tensor(KILN_F16, 2, SHAPE(3, 4), VALS(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))));
    CHECK_OK(kiln_tensor_map_put(m, "small", make_tensor(KILN_I64, 1, SHAPE(2), VALS(-128, 127))));
    kiln_bound_inputs bi;
    CHECK_OK(kiln_bind_inputs(g, m, &bi));
    CHECK(bi.count == 4 && bi.nsyms == 2);
    if (bi.count == 4) {
        CHECK(bi.symvals[kiln_graph_symbol_find(g, "batch")] == 2);
        CHECK(bi.symvals[kiln_graph_symbol_find(g, "seq")] == 3);
        CHECK(bi.tensors[0].dtype == KILN_I64); /* i32 -> i64 */
        CHECK_TENSOR(&bi.tensors[0], 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6), 0);
        CHECK(bi.tensors[1].dtype == KILN_F32); /* the default, shaped [batch, seq] */
        CHECK_TENSOR(&bi.tensors[1], 2, SHAPE(2, 3), VALS(1, 1, 1, 1, 1, 1), 0);
        CHECK(bi.tensors[2].dtype == KILN_F32); /* f16 -> f32 */
        CHECK_TENSOR(&bi.tensors[2], 2, SHAPE(3, 4), VALS(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 0);
        CHECK(bi.tensors[3].dtype == KILN_I8);
        CHECK_TENSOR(&bi.tensors[3], 1, SHAPE(2), VALS(-128, 127), 0);
    }
    kiln_bound_inputs_free(&bi);

    /* a given mask overrides the default, and must agree on the symbols */
    CHECK_OK(kiln_tensor_map_put(m, "mask", make_tensor(KILN_F32, 2, SHAPE(2, 4), NULL)));
    CHECK_ERR(kiln_bind_inputs(g, m, &bi), "input 'mask' has shape f32[2, 4], expected [batch, seq]");
    CHECK_OK(kiln_tensor_map_put(m, "mask", make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(0, 0, 0, 1, 1, 1))));
    CHECK_OK(kiln_bind_inputs(g, m, &bi));
    if (bi.count == 4) CHECK_TENSOR(&bi.tensors[1], 2, SHAPE(2, 3), VALS(0, 0, 0, 1, 1, 1), 0);
    kiln_bound_inputs_free(&bi);

    /* a constant dim that does not match, and a wrong rank */
    CHECK_OK(kiln_tensor_map_put(m, "x", make_tensor(KILN_F32, 2, SHAPE(3, 5), NULL)));
    CHECK_ERR(kiln_bind_inputs(g, m, &bi), "input 'x' has shape f32[3, 5], expected [seq, 4]");
    CHECK_OK(kiln_tensor_map_put(m, "x", make_tensor(KILN_F32, 1, SHAPE(12), NULL)));
    CHECK_ERR(kiln_bind_inputs(g, m, &bi), "input 'x' has rank 1");
    CHECK_OK(kiln_tensor_map_put(m, "x", make_tensor(KILN_F32, 2, SHAPE(3, 4), NULL)));
    /* integer values that do not fit the declared type, float for int */
    CHECK_OK(kiln_tensor_map_put(m, "small", make_tensor(KILN_I64, 1, SHAPE(2), VALS(0, 128))));
    CHECK_ERR(kiln_bind_inputs(g, m, &bi), "input 'small' element 1 is 128, which does not fit i8");
    CHECK_OK(kiln_tensor_map_put(m, "small", make_tensor(KILN_I8, 1, SHAPE(2), NULL)));
    CHECK_OK(kiln_tensor_map_put(m, "ids", make_tensor(KILN_F32, 2, SHAPE(2, 3), NULL)));
    CHECK_ERR(kiln_bind_inputs(g, m, &bi), "input 'ids' is f32[2, 3], the graph expects i64[batch, seq]");
    CHECK(bi.count == 0 && bi.tensors == NULL);
    kiln_tensor_map_free(m);

    /* missing, without a default: the message lists what the graph takes */
    m = kiln_tensor_map_new();
    CHECK_ERR(kiln_bind_inputs(g, m, &bi),
              "input 'ids' is missing; the graph takes inputs: ids (i64[batch, seq]), mask (f32[batch, seq]), "
              "x (f32[seq, 4]), small (i8[2])");
    CHECK_ERR(kiln_bind_inputs(g, NULL, &bi), "input 'ids' is missing");
    kiln_tensor_map_free(m);
    kiln_graph_free(g);

    /* a default whose shape no given input determines */
    g = kiln_graph_new("unbound");
    set_default(g, input(g, "extra", KILN_F32, 1, (kiln_dim[]){kiln_dim_symbol(g, "n")}), 0);
    CHECK_ERR(kiln_bind_inputs(g, NULL, &bi), "input 'extra' was not given and its default needs its shape: symbol 'n' has no value");
    kiln_graph_free(g);
}

int main(void) {
    test_params();
    test_inputs();
    return test_finish("test_bind");
}
