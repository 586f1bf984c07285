/* Graph verifier: valid graphs pass; graphs corrupted through the public
 * kiln_node fields fail with a message naming the node and the problem. */
#include <string.h>

#include "harness.h"

/* Node numbering of the test graph, fixed by build order. */
enum { X, X2, W, W2, C, MM, ADD, SM, CAST, NODES };

/* x: f32[b, 4], x2: f32[b, 4], w: f32[4, 3], w2: f32[3], c: f32[3] = [1, 2, 3],
 * mm = matmul(x, w), add = add(mm, c), sm = softmax(add), cast(sm) to f16 */
static kiln_graph *make_graph(void) {
    kiln_graph *g = kiln_graph_new("v");
    kiln_dim b = kiln_dim_symbol(g, "b");
    kiln_value v[NODES];
    float data[3] = {1, 2, 3};
    kiln_tensor t = kiln_tensor_view(KILN_F32, 1, (int64_t[]){3}, data);
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &(kiln_shape){2, {b, 4}}, &v[X]));
    CHECK_OK(kiln_graph_add_input(g, "x2", KILN_F32, &(kiln_shape){2, {b, 4}}, &v[X2]));
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_F32, &(kiln_shape){2, {4, 3}}, &v[W]));
    CHECK_OK(kiln_graph_add_param(g, "w2", KILN_F32, &(kiln_shape){1, {3}}, &v[W2]));
    CHECK_OK(kiln_graph_add_const(g, &t, &v[C]));
    CHECK_OK(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){v[X], v[W]}, 0, NULL, &v[MM]));
    CHECK_OK(kiln_build(g, KILN_OP_ADD, 2, (kiln_value[]){v[MM], v[C]}, 0, NULL, &v[ADD]));
    CHECK_OK(kiln_build(g, KILN_OP_SOFTMAX, 1, &v[ADD], 0, NULL, &v[SM]));
    CHECK_OK(kiln_build(g, KILN_OP_CAST, 1, &v[SM], 1, (kiln_named_attr[]){kiln_a_dtype("dtype", KILN_F16)}, &v[CAST]));
    CHECK_OK(kiln_graph_add_output(g, "y", v[CAST]));
    CHECK_OK(kiln_graph_add_output(g, "z", v[SM]));
    for (int i = 0; i < NODES; i++) CHECK(v[i] == i);
    CHECK_OK(kiln_graph_verify(g)); /* the uncorrupted graph is valid */
    return g;
}

typedef void (*corruption)(kiln_graph *g);

static void wrong_dtype(kiln_graph *g) { kiln_graph_node(g, ADD)->dtype = KILN_F16; }
static void wrong_shape(kiln_graph *g) { kiln_graph_node(g, MM)->shape.dims[1] = 5; }
static void wrong_rank(kiln_graph *g) { kiln_graph_node(g, SM)->shape.rank = 1; }
static void input_forward(kiln_graph *g) { kiln_graph_node(g, MM)->inputs[1] = SM; }
static void input_self(kiln_graph *g) { kiln_graph_node(g, ADD)->inputs[0] = ADD; }
static void input_missing(kiln_graph *g) { kiln_graph_node(g, ADD)->inputs[1] = KILN_NONE; }
static void input_count(kiln_graph *g) { kiln_graph_node(g, ADD)->ninputs = 1; }
static void attr_wrong_kind(kiln_graph *g) { kiln_graph_node(g, SM)->attrs[0].kind = KILN_ATTR_FLOAT; }
static void attr_missing(kiln_graph *g) { kiln_graph_node(g, CAST)->attrs[0].kind = KILN_ATTR_NONE; }
static void attr_out_of_range(kiln_graph *g) { kiln_graph_node(g, SM)->attrs[0].i = 9; }
static void dup_input(kiln_graph *g) { kiln_graph_node(g, X2)->name = kiln_graph_node(g, X)->name; }
static void dup_param(kiln_graph *g) { kiln_graph_node(g, W2)->name = kiln_graph_intern(g, "w"); }
static void unnamed_input(kiln_graph *g) { kiln_graph_node(g, X2)->name = ""; }
static void const_dtype(kiln_graph *g) { kiln_graph_node(g, C)->dtype = KILN_F64; }
static void const_value_dtype(kiln_graph *g) { kiln_graph_node(g, C)->value.dtype = KILN_I32; }
static void const_shape(kiln_graph *g) { kiln_graph_node(g, C)->value.shape[0] = 4; }
static void const_bytes(kiln_graph *g) { kiln_graph_node(g, C)->value.nbytes = 8; }
static void const_symbolic(kiln_graph *g) { kiln_graph_node(g, C)->shape.dims[0] = kiln_dim_symbol(g, "b"); }
static void negative_dim(kiln_graph *g) { kiln_graph_node(g, X)->shape.dims[1] = -4; }
static void bad_dim_handle(kiln_graph *g) { kiln_graph_node(g, X)->shape.dims[1] = KILN_DIM_SYM_BASE + 1000; }
static void bad_op(kiln_graph *g) { kiln_graph_node(g, SM)->op = KILN_OP_COUNT; }
static void output_nowhere(kiln_graph *g) { kiln_graph_set_output_value(g, 0, NODES + 5); }
static void output_negative(kiln_graph *g) { kiln_graph_set_output_value(g, 1, -1); }

static const struct {
    const char *what;
    corruption corrupt;
    const char *needle;
} cases[] = {
    {"wrong recorded dtype", wrong_dtype, "add: node %6 is recorded as f16[b, 3] but its inputs give f32[b, 3]"},
    {"wrong recorded shape", wrong_shape, "matmul: node %5 is recorded as f32[b, 5] but its inputs give f32[b, 3]"},
    {"wrong recorded rank", wrong_rank, "softmax: node %7 is recorded as f32[b] but its inputs give f32[b, 3]"},
    {"input defined later", input_forward, "matmul: node %5: input 1 (%7) is not defined before it"},
    {"input is the node itself", input_self, "add: node %6: input 0 (%6) is not defined before it"},
    {"required input omitted", input_missing, "add: node %6: input 1 (%-1) is not defined before it"},
    {"too few inputs", input_count, "add: node %6 has 1 inputs"},
    {"attribute of the wrong kind", attr_wrong_kind, "softmax: node %7: attribute 'axis' has the wrong kind"},
    {"required attribute missing", attr_missing, "cast: node %8: missing attribute 'dtype'"},
    {"attribute out of range", attr_out_of_range, "softmax: axis 9 is out of range for rank 2"},
    {"duplicate input name", dup_input, "input: 'x' is declared twice (%0 and %1)"},
    {"duplicate param name", dup_param, "param: 'w' is declared twice (%2 and %3)"},
    {"input without a name", unnamed_input, "input: node %1 has no name"},
    {"constant recorded with another dtype", const_dtype, "const: node %4: constant data does not match its type"},
    {"constant data of another dtype", const_value_dtype, "const: node %4: constant data does not match its type"},
    {"constant data of another shape", const_shape, "const: node %4: constant data does not match its shape"},
    {"constant data of the wrong size", const_bytes, "const: node %4: constant data holds 8 bytes, its type needs 12"},
    {"constant with a symbolic shape", const_symbolic, "const: node %4: constant data does not match its type"},
    {"negative dimension", negative_dim, "input: node %0: invalid dimension 1"},
    {"dimension handle to nothing", bad_dim_handle, "input: node %0: invalid dimension 1"},
    {"unknown op", bad_op, "node %7: invalid op"},
    {"output past the last node", output_nowhere, "output 'y' refers to no value"},
    {"output to no node", output_negative, "output 'z' refers to no value"},
};

static void test_corruptions(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_graph *g = make_graph();
        cases[i].corrupt(g);
        kiln_status s = kiln_graph_verify(g);
        if (!s || !strstr(kiln_status_message(s), cases[i].needle)) {
            fprintf(stderr, "%s: expected \"%s\", got \"%s\"\n", cases[i].what, cases[i].needle,
                    s ? kiln_status_message(s) : "ok");
            test_failures++;
        }
        kiln_status_free(s);
        kiln_graph_free(g);
    }
}

/* Source locations of the node at fault lead the message. */
static void test_location_in_message(void) {
    kiln_graph *g = make_graph();
    kiln_graph_node(g, ADD)->loc = (kiln_loc){kiln_graph_intern(g, "model.kiln"), 7, 3};
    wrong_dtype(g);
    CHECK_ERR(kiln_graph_verify(g), "model.kiln:7:3: add: node %6 is recorded as f16");
    kiln_graph_free(g);
}

/* Optional inputs may be omitted and optional attributes left unset. */
static void test_valid_variants(void) {
    kiln_graph *g = kiln_graph_new("ok");
    kiln_value x, w, ln, att;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &(kiln_shape){4, {1, 2, 3, 4}}, &x));
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_F32, &(kiln_shape){1, {4}}, &w));
    CHECK_OK(kiln_build(g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, KILN_NONE, w}, 0, NULL, &ln));
    CHECK_OK(kiln_build(g, KILN_OP_ATTENTION, 3, (kiln_value[]){x, x, x}, 0, NULL, &att));
    CHECK(kiln_graph_node(g, att)->attrs[1].kind == KILN_ATTR_NONE); /* scale: optional, no default */
    CHECK_OK(kiln_graph_verify(g));
    kiln_graph_free(g);
}

int main(void) {
    test_corruptions();
    test_location_in_message();
    test_valid_variants();
    return test_finish("test_ir_verify");
}
