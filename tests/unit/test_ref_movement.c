/* Data movement and iota on the reference interpreter: gather, concat,
 * slice, reshape, transpose, expand, iota, including symbolic bounds. */
#include <stdint.h>

#include "test_ref_util.h"

static void test_gather(void) {
    /* table [4,3] = 0..11 (row r holds 3r, 3r+1, 3r+2); indices [[3,0],[-1,1]]:
     * -1 counts from the end -> row 3 */
    double tv[12];
    for (int i = 0; i < 12; i++) tv[i] = i;
    kiln_tensor table = make_tensor(KILN_F32, 2, SHAPE(4, 3), tv), y;
    kiln_tensor idx = make_ints(KILN_I64, 2, SHAPE(2, 2), (const int64_t[]){3, 0, -1, 1});
    const kiln_tensor *ins[2] = {&table, &idx};
    CHECK_OK(op_eval(KILN_OP_GATHER, 2, ins, 0, NULL, &y));
    CHECK_TENSOR(&y, 3, SHAPE(2, 2, 3), VALS(9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5), 0);
    kiln_tensor_release(&y);
    /* along axis 1 with i32 indices [2, -3] (-3 + 3 = 0): columns 2 and 0 of each row */
    kiln_tensor cols = make_ints(KILN_I32, 1, SHAPE(2), (const int64_t[]){2, -3});
    ins[1] = &cols;
    kiln_named_attr ax = kiln_a_int("axis", 1);
    CHECK_OK(op_eval(KILN_OP_GATHER, 2, ins, 1, &ax, &y));
    CHECK_TENSOR(&y, 2, SHAPE(4, 2), VALS(2, 0, 5, 3, 8, 6, 11, 9), 0);
    kiln_tensor_release(&y);
    /* out of range, both ways: the error names the node and the index */
    kiln_tensor bad = make_ints(KILN_I64, 1, SHAPE(3), (const int64_t[]){0, 4, 1});
    ins[1] = &bad;
    CHECK_ERR(op_eval(KILN_OP_GATHER, 2, ins, 0, NULL, &y), "gather %2: index 4 (element 1 of the indices) is out of range for axis 0 of size 4");
    kiln_tensor bad2 = make_ints(KILN_I64, 1, SHAPE(1), (const int64_t[]){-5});
    ins[1] = &bad2;
    CHECK_ERR(op_eval(KILN_OP_GATHER, 2, ins, 0, NULL, &y), "index -5");
    kiln_tensor_release(&bad);
    kiln_tensor_release(&bad2);
    kiln_tensor_release(&cols);
    kiln_tensor_release(&idx);
    kiln_tensor_release(&table);
}

static void test_concat(void) {
    kiln_tensor a = make_tensor(KILN_I64, 2, SHAPE(2, 1), VALS(1, 2));
    kiln_tensor b = make_tensor(KILN_I64, 2, SHAPE(2, 2), VALS(3, 4, 5, 6));
    kiln_tensor e = make_tensor(KILN_I64, 2, SHAPE(2, 0), NULL), y;
    const kiln_tensor *ins[3] = {&a, &e, &b};
    kiln_named_attr ax = kiln_a_int("axis", -1);
    CHECK_OK(op_eval(KILN_OP_CONCAT, 3, ins, 1, &ax, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(1, 3, 4, 2, 5, 6), 0);
    kiln_tensor_release(&y);
    /* axis 0: rows stacked */
    const kiln_tensor *ins2[2] = {&b, &b};
    ax = kiln_a_int("axis", 0);
    CHECK_OK(op_eval(KILN_OP_CONCAT, 2, ins2, 1, &ax, &y));
    CHECK_TENSOR(&y, 2, SHAPE(4, 2), VALS(3, 4, 5, 6, 3, 4, 5, 6), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
    kiln_tensor_release(&e);
}

static void slice_case(const kiln_tensor *x, int axis, int64_t start, int64_t end, int64_t step, int n,
                       const int64_t *shape, const double *want, int line) {
    const kiln_tensor *ins[1] = {x};
    kiln_named_attr a[4] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end),
                            kiln_a_int("step", step)};
    kiln_tensor y;
    kiln_status s = op_eval(KILN_OP_SLICE, 1, ins, 4, a, &y);
    if (s) {
        fprintf(stderr, "line %d: slice failed: %s\n", line, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return;
    }
    check_tensor_(&y, x->rank, shape, want, 0, __FILE__, line);
    (void)n;
    kiln_tensor_release(&y);
}
#define SLICE(x, ax, st, en, sp, n, shape, want) slice_case(x, ax, st, en, sp, n, shape, want, __LINE__)

static void test_slice(void) {
    kiln_tensor x = make_tensor(KILN_F32, 1, SHAPE(6), VALS(0, 1, 2, 3, 4, 5));
    /* Python list(range(6))[...] for each case: */
    SLICE(&x, 0, 1, 5, 2, 2, SHAPE(2), VALS(1, 3));            /* [1:5:2] */
    SLICE(&x, 0, -2, 100, 1, 2, SHAPE(2), VALS(4, 5));         /* [-2:100] */
    SLICE(&x, 0, 4, -10, -1, 5, SHAPE(5), VALS(4, 3, 2, 1, 0)); /* [4:-10:-1]: end clamps before 0 */
    SLICE(&x, 0, -1, 0, -2, 3, SHAPE(3), VALS(5, 3, 1));       /* [-1:0:-2] */
    SLICE(&x, 0, 4, 2, 1, 0, SHAPE(0), VALS(0));               /* [4:2] is empty */
    kiln_tensor m = make_tensor(KILN_I32, 2, SHAPE(2, 4), VALS(0, 1, 2, 3, 4, 5, 6, 7));
    SLICE(&m, 1, 1, 3, 1, 4, SHAPE(2, 2), VALS(1, 2, 5, 6)); /* m[:, 1:3] */
    kiln_tensor_release(&m);
    kiln_tensor_release(&x);
}

static void test_reshape_transpose_expand(void) {
    double xv[24];
    for (int i = 0; i < 24; i++) xv[i] = i;
    kiln_tensor x = make_tensor(KILN_F32, 3, SHAPE(2, 3, 4), xv), y;
    const kiln_tensor *ins[1] = {&x};
    /* reshape keeps row-major order */
    kiln_named_attr r = kiln_a_dims("shape", 2, SHAPE(4, 6));
    CHECK_OK(op_eval(KILN_OP_RESHAPE, 1, ins, 1, &r, &y));
    CHECK_TENSOR(&y, 2, SHAPE(4, 6), xv, 0);
    kiln_tensor_release(&y);
    /* transpose perm [2,0,1]: out [4,2,3], out[i,j,k] = x[j,k,i] */
    double want[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) want[(i * 2 + j) * 3 + k] = xv[(j * 3 + k) * 4 + i];
    kiln_named_attr p = kiln_a_ints("perm", 3, SHAPE(2, 0, 1));
    CHECK_OK(op_eval(KILN_OP_TRANSPOSE, 1, ins, 1, &p, &y));
    CHECK_TENSOR(&y, 3, SHAPE(4, 2, 3), want, 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);

    /* expand is bidirectional: [3,1] to shape [2,1,4] gives [2,3,4], out[i,j,k] = c[j] */
    kiln_tensor c = make_tensor(KILN_BF16, 2, SHAPE(3, 1), VALS(1, 2, 3));
    ins[0] = &c;
    kiln_named_attr e = kiln_a_dims("shape", 3, SHAPE(2, 1, 4));
    for (int i = 0; i < 24; i++) want[i] = (i / 4) % 3 + 1;
    CHECK_OK(op_eval(KILN_OP_EXPAND, 1, ins, 1, &e, &y));
    CHECK(y.dtype == KILN_BF16);
    CHECK_TENSOR(&y, 3, SHAPE(2, 3, 4), want, 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&c);
}

static void test_iota(void) {
    kiln_tensor y;
    kiln_named_attr a[4] = {kiln_a_dims("shape", 2, SHAPE(2, 3)), kiln_a_int("axis", 1), kiln_a_dim("start", 5),
                            kiln_a_dtype("dtype", KILN_I32)};
    CHECK_OK(op_eval(KILN_OP_IOTA, 0, NULL, 4, a, &y));
    CHECK(y.dtype == KILN_I32);
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(5, 6, 7, 5, 6, 7), 0);
    kiln_tensor_release(&y);
    a[1] = kiln_a_int("axis", 0);
    a[2] = kiln_a_dim("start", -1);
    a[3] = kiln_a_dtype("dtype", KILN_F32);
    CHECK_OK(op_eval(KILN_OP_IOTA, 0, NULL, 4, a, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(-1, -1, -1, 0, 0, 0), 0);
    kiln_tensor_release(&y);
}

/* Symbolic bounds: positions = iota([seq], start=past), the last two rows
 * of x [seq, 2] by slice(start=-2, end=seq), and x[1:seq]. Run at two
 * sizes; also a constant end beyond the run-time size is an error. */
static void test_symbolic(void) {
    kiln_graph *g = kiln_graph_new("sym");
    kiln_dim seq = kiln_dim_symbol(g, "seq"), past = kiln_dim_symbol(g, "past");
    kiln_shape xs = {2, {seq, 2}}, cs = {2, {past, 2}};
    kiln_value x, cache, pos, tail, rest, over;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &xs, &x));
    CHECK_OK(kiln_graph_add_input(g, "cache", KILN_F32, &cs, &cache));
    kiln_named_attr ia[2] = {kiln_a_dims("shape", 1, (kiln_dim[]){seq}), kiln_a_dim("start", past)};
    CHECK_OK(kiln_build(g, KILN_OP_IOTA, 0, NULL, 2, ia, &pos));
    kiln_named_attr sa[3] = {kiln_a_int("axis", 0), kiln_a_dim("start", -2), kiln_a_dim("end", seq)};
    CHECK_OK(kiln_build(g, KILN_OP_SLICE, 1, &x, 3, sa, &tail));
    sa[1] = kiln_a_dim("start", 1);
    CHECK_OK(kiln_build(g, KILN_OP_SLICE, 1, &x, 3, sa, &rest));
    sa[2] = kiln_a_dim("end", 3);
    CHECK_OK(kiln_build(g, KILN_OP_SLICE, 1, &x, 3, sa, &over)); /* x[1:3]: 2 rows, needs seq >= 3 */
    CHECK_OK(kiln_graph_add_output(g, "pos", pos));
    CHECK_OK(kiln_graph_add_output(g, "tail", tail));
    CHECK_OK(kiln_graph_add_output(g, "rest", rest));
    kiln_graph *g2 = NULL; /* a second graph holding only `over` */
    CHECK_OK(kiln_graph_verify(g));

    for (int run = 0; run < 2; run++) {
        int64_t S = run ? 5 : 3, P = run ? 7 : 0;
        double xv[10], cv[14];
        for (int i = 0; i < 2 * S; i++) xv[i] = i;
        for (int i = 0; i < 2 * P; i++) cv[i] = -i;
        kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
        CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F32, 2, SHAPE(S, 2), xv)));
        CHECK_OK(kiln_tensor_map_put(in, "cache", make_tensor(KILN_F32, 2, SHAPE(P, 2), cv)));
        CHECK_OK(kiln_ref_run(g, NULL, in, &out));
        if (out) {
            double want[10];
            for (int i = 0; i < S; i++) want[i] = (double)(P + i); /* past, past+1, ... */
            CHECK_TENSOR(kiln_tensor_map_get(out, "pos"), 1, SHAPE(S), want, 0);
            for (int i = 0; i < 4; i++) want[i] = (double)(2 * (S - 2) + i); /* rows S-2, S-1 */
            CHECK_TENSOR(kiln_tensor_map_get(out, "tail"), 2, SHAPE(2, 2), want, 0);
            for (int i = 0; i < 2 * (S - 1); i++) want[i] = (double)(2 + i); /* rows 1..S-1 */
            CHECK_TENSOR(kiln_tensor_map_get(out, "rest"), 2, SHAPE(S - 1, 2), want, 0);
        }
        kiln_tensor_map_free(out);
        kiln_tensor_map_free(in);
    }

    /* x[1:3] on a run with seq = 2: the graph promised 2 rows, there is 1 */
    g2 = kiln_graph_new("over");
    kiln_dim seq2 = kiln_dim_symbol(g2, "seq");
    kiln_shape xs2 = {1, {seq2}};
    CHECK_OK(kiln_graph_add_input(g2, "x", KILN_F32, &xs2, &x));
    kiln_named_attr oa[3] = {kiln_a_int("axis", 0), kiln_a_dim("start", 1), kiln_a_dim("end", 3)};
    CHECK_OK(kiln_build(g2, KILN_OP_SLICE, 1, &x, 3, oa, &over));
    CHECK_OK(kiln_graph_add_output(g2, "y", over));
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(in, "x", make_tensor(KILN_F32, 1, SHAPE(2), VALS(1, 2))));
    CHECK_ERR(kiln_ref_run(g2, NULL, in, &out), "give 1 elements, the graph expects 2");
    CHECK(out == NULL);
    kiln_tensor_map_free(in);
    kiln_graph_free(g2);
    kiln_graph_free(g);
}

int main(void) {
    test_gather();
    test_concat();
    test_slice();
    test_reshape_transpose_expand();
    test_iota();
    test_symbolic();
    return test_finish("test_ref_movement");
}
