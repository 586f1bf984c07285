/* Reductions and argmax/argmin on the reference interpreter. */
#include <stdint.h>

#include "test_ref_util.h"

static kiln_status reduce(kiln_op op, const kiln_tensor *x, int naxes, const int64_t *axes, int keep, kiln_tensor *y) {
    const kiln_tensor *ins[1] = {x};
    kiln_named_attr a[2] = {kiln_a_ints("axes", naxes, axes), kiln_a_bool("keepdims", keep)};
    return op_eval(op, 1, ins, 2, a, y);
}

static void test_2d(void) {
    /* x = [[1, 2, 3], [4, 5, 6]] */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6)), y;
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &x, 1, SHAPE(1), 0, &y)); /* rows: 1+2+3, 4+5+6 */
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(6, 15), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &x, 1, SHAPE(-2), 1, &y)); /* columns, axis -2 = 0, kept */
    CHECK_TENSOR(&y, 2, SHAPE(1, 3), VALS(5, 7, 9), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &x, 2, SHAPE(1, 0), 0, &y)); /* all: 21, axes given unsorted */
    CHECK_TENSOR(&y, 0, NULL, VALS(21), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_MEAN, &x, 1, SHAPE(1), 1, &y)); /* 6/3, 15/3 */
    CHECK_TENSOR(&y, 2, SHAPE(2, 1), VALS(2, 5), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_MAX, &x, 1, SHAPE(0), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(3), VALS(4, 5, 6), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_MIN, &x, 1, SHAPE(1), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(1, 4), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_PROD, &x, 1, SHAPE(1), 0, &y)); /* 1*2*3, 4*5*6 */
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(6, 120), 0);
    kiln_tensor_release(&y);
    /* an empty axis list reduces nothing: the input comes back */
    CHECK_OK(reduce(KILN_OP_REDUCE_MEAN, &x, 0, NULL, 0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);
}

/* x [2,3,4] reduced over axes {0, 2}, checked against direct loops. */
static void test_3d(void) {
    double xv[24], sum[3] = {0}, mx[3] = {-1e9, -1e9, -1e9};
    for (int i = 0; i < 24; i++) xv[i] = (i * 7) % 11 - 5; /* scrambled values */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                double v = xv[(i * 3 + j) * 4 + k];
                sum[j] += v;
                if (v > mx[j]) mx[j] = v;
            }
    kiln_tensor x = make_tensor(KILN_F64, 3, SHAPE(2, 3, 4), xv), y;
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &x, 2, SHAPE(0, 2), 1, &y));
    CHECK_TENSOR(&y, 3, SHAPE(1, 3, 1), sum, 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_MAX, &x, 2, SHAPE(2, 0), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(3), mx, 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);
}

static void test_ints_and_edges(void) {
    /* integer mean truncates toward zero: (1+2)/2 = 1, (-1-2)/2 = -1.5 -> -1 */
    kiln_tensor x = make_tensor(KILN_I32, 2, SHAPE(2, 2), VALS(1, 2, -1, -2)), y;
    CHECK_OK(reduce(KILN_OP_REDUCE_MEAN, &x, 1, SHAPE(1), 0, &y));
    CHECK(y.dtype == KILN_I32);
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(1, -1), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &x, 2, SHAPE(0, 1), 0, &y)); /* 1 + 2 - 1 - 2 */
    CHECK_TENSOR(&y, 0, NULL, VALS(0), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);

    /* NaN propagates through max; an empty reduction gives the identity
     * (sum 0, prod 1, max -inf) */
    kiln_tensor n = make_tensor(KILN_F32, 1, SHAPE(3), VALS(1, NAN, 3));
    CHECK_OK(reduce(KILN_OP_REDUCE_MAX, &n, 1, SHAPE(0), 0, &y));
    CHECK(y.data && isnan(at(&y, 0)));
    kiln_tensor_release(&y);
    kiln_tensor_release(&n);
    kiln_tensor e = make_tensor(KILN_F32, 2, SHAPE(2, 0), NULL);
    CHECK_OK(reduce(KILN_OP_REDUCE_SUM, &e, 1, SHAPE(1), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(0, 0), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_PROD, &e, 1, SHAPE(1), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(1, 1), 0);
    kiln_tensor_release(&y);
    CHECK_OK(reduce(KILN_OP_REDUCE_MAX, &e, 1, SHAPE(1), 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(-INFINITY, -INFINITY), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&e);
}

static kiln_status arg(kiln_op op, const kiln_tensor *x, int axis, int keep, kiln_tensor *y) {
    const kiln_tensor *ins[1] = {x};
    kiln_named_attr a[2] = {kiln_a_int("axis", axis), kiln_a_bool("keepdims", keep)};
    return op_eval(op, 1, ins, 2, a, y);
}

static void test_arg(void) {
    /* row 0: max 3 first at 1, min 1 at 0; row 1: NaNs skipped, max -1 first at 1, min -1 first at 1;
     * row 2: all NaN -> 0 */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(3, 4), VALS(1, 3, 3, 2, NAN, -1, NAN, -1, NAN, NAN, NAN, NAN)), y;
    CHECK_OK(arg(KILN_OP_ARGMAX, &x, 1, 0, &y));
    CHECK(y.dtype == KILN_I64);
    CHECK_TENSOR(&y, 1, SHAPE(3), VALS(1, 1, 0), 0);
    kiln_tensor_release(&y);
    CHECK_OK(arg(KILN_OP_ARGMIN, &x, -1, 1, &y));
    CHECK_TENSOR(&y, 2, SHAPE(3, 1), VALS(0, 1, 0), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);
    /* along axis 0 of an int tensor: columns [5,-2], [5,7] -> argmax 0 (tie, first), 1 */
    kiln_tensor xi = make_tensor(KILN_I64, 2, SHAPE(2, 2), VALS(5, 5, -2, 7));
    CHECK_OK(arg(KILN_OP_ARGMAX, &xi, 0, 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(0, 1), 0);
    kiln_tensor_release(&y);
    CHECK_OK(arg(KILN_OP_ARGMIN, &xi, 0, 0, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(1, 0), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&xi);
    /* an empty axis has no index to give */
    kiln_tensor e = make_tensor(KILN_F32, 2, SHAPE(2, 0), NULL);
    CHECK_ERR(arg(KILN_OP_ARGMAX, &e, 1, 0, &y), "empty");
    kiln_tensor_release(&e);
}

int main(void) {
    test_2d();
    test_3d();
    test_ints_and_edges();
    test_arg();
    return test_finish("test_ref_reduce");
}
