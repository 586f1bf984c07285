/* Elementwise binary ops, broadcasting and where() on the reference
 * interpreter. Integer semantics (division, modulo, power) are the ones
 * docs/ops.md promises; each expected value is worked out in a comment. */
#include <stdint.h>

#include "test_ref_util.h"

static kiln_tensor run2(kiln_op op, const kiln_tensor *a, const kiln_tensor *b) {
    kiln_tensor y;
    const kiln_tensor *ins[2] = {a, b};
    kiln_status s = op_eval(op, 2, ins, 0, NULL, &y);
    if (s) {
        fprintf(stderr, "%s failed: %s\n", kiln_op_name(op), kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        memset(&y, 0, sizeof y);
    }
    return y;
}

/* Element-by-element on two 1-D tensors of dtype dt. */
static void pair_case(kiln_op op, kiln_dtype dt, int n, const double *a, const double *b, const double *want,
                      double tol, int line) {
    kiln_tensor ta = make_tensor(dt, 1, SHAPE(n), a), tb = make_tensor(dt, 1, SHAPE(n), b);
    kiln_tensor y = run2(op, &ta, &tb);
    if (y.data && !check_tensor_(&y, 1, SHAPE(n), want, tol, __FILE__, line))
        fprintf(stderr, "  (op %s, dtype %s)\n", kiln_op_name(op), kiln_dtype_name(dt));
    kiln_tensor_release(&y);
    kiln_tensor_release(&ta);
    kiln_tensor_release(&tb);
}
#define PAIR(op, dt, n, a, b, want, tol) pair_case(KILN_OP_##op, dt, n, a, b, want, tol, __LINE__)

static void test_arith(void) {
    const double a[] = {1.5, -2, 6, 0}, b[] = {0.5, 4, -3, 2};
    PAIR(ADD, KILN_F32, 4, a, b, VALS(2, 2, 3, 2), 0);
    PAIR(SUB, KILN_F32, 4, a, b, VALS(1, -6, 9, -2), 0);
    PAIR(MUL, KILN_F32, 4, a, b, VALS(0.75, -8, -18, 0), 0);
    PAIR(DIV, KILN_F32, 4, a, b, VALS(3, -0.5, -2, 0), 0);
    PAIR(DIV, KILN_F32, 2, VALS(1, -1), VALS(0, 0), VALS(INFINITY, -INFINITY), 0);
    /* 4^0.5 = 2, 2^-1 = 0.5, 2^0.5 = 1.414213562, (-8)^(1/3) is NaN like C pow */
    PAIR(POW, KILN_F32, 4, VALS(4, 2, 2, -8), VALS(0.5, -1, 0.5, 1.0 / 3), VALS(2, 0.5, 1.4142135623730951, NAN), 1e-6);
    /* max/min; NaN propagates like numpy.maximum */
    PAIR(MAX, KILN_F32, 3, VALS(1, -1, NAN), VALS(2, -3, 0), VALS(2, -1, NAN), 0);
    PAIR(MIN, KILN_F32, 3, VALS(1, -1, 0), VALS(2, -3, NAN), VALS(1, -3, NAN), 0);
}

static void test_int_semantics(void) {
    /* division truncates toward zero: 7/2 = 3, -7/2 = -3, 7/-2 = -3, -7/-2 = 3; x/0 = 0 */
    PAIR(DIV, KILN_I32, 5, VALS(7, -7, 7, -7, 5), VALS(2, 2, -2, -2, 0), VALS(3, -3, -3, 3, 0), 0);
    /* modulo takes the divisor's sign (Python): 7%3 = 1, -7%3 = 2 (-7 = -3*3 + 2),
     * 7%-3 = -2 (7 = -3*-3 - 2), -7%-3 = -1; x%0 = 0 */
    PAIR(MOD, KILN_I32, 5, VALS(7, -7, 7, -7, 5), VALS(3, 3, -3, -3, 0), VALS(1, 2, -2, -1, 0), 0);
    /* float modulo likewise: 7.5 % 2 = 1.5, -7.5 % 2 = 0.5, 7.5 % -2 = -0.5 */
    PAIR(MOD, KILN_F32, 3, VALS(7.5, -7.5, 7.5), VALS(2, 2, -2), VALS(1.5, 0.5, -0.5), 0);
    /* integer power: 2^10 = 1024, 3^0 = 1, (-2)^3 = -8, 2^-1 -> 0, 1^-5 = 1,
     * (-1)^-3 = -1, (-1)^-2 = 1, 0^2 = 0 */
    PAIR(POW, KILN_I64, 8, VALS(2, 3, -2, 2, 1, -1, -1, 0), VALS(10, 0, 3, -1, -5, -3, -2, 2),
         VALS(1024, 1, -8, 0, 1, -1, 1, 0), 0);
    PAIR(MAX, KILN_I64, 2, VALS(-5, 3), VALS(-2, 1), VALS(-2, 3), 0);
    PAIR(MIN, KILN_I64, 2, VALS(-5, 3), VALS(-2, 1), VALS(-5, 1), 0);
    /* i8 wraps: 100 + 100 = 200 = 256 - 56 -> -56; 100 * 3 = 300 - 256 = 44 */
    PAIR(ADD, KILN_I8, 1, VALS(100), VALS(100), VALS(-56), 0);
    PAIR(MUL, KILN_I8, 1, VALS(100), VALS(3), VALS(44), 0);

    /* the traps C would take: INT64_MIN / -1 and INT64_MIN % -1 */
    kiln_tensor a = make_ints(KILN_I64, 1, SHAPE(2), (const int64_t[]){INT64_MIN, INT64_MIN});
    kiln_tensor b = make_ints(KILN_I64, 1, SHAPE(2), (const int64_t[]){-1, -1});
    kiln_tensor q = run2(KILN_OP_DIV, &a, &b), r = run2(KILN_OP_MOD, &a, &b);
    if (q.data) CHECK(iat(&q, 0) == INT64_MIN); /* -INT64_MIN wraps to INT64_MIN */
    if (r.data) CHECK(iat(&r, 0) == 0);
    kiln_tensor_release(&q);
    kiln_tensor_release(&r);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

static void test_compare_logic(void) {
    const double a[] = {1, 2, 3, NAN}, b[] = {2, 2, 2, NAN};
    PAIR(EQ, KILN_F32, 4, a, b, VALS(0, 1, 0, 0), 0);
    PAIR(NE, KILN_F32, 4, a, b, VALS(1, 0, 1, 1), 0); /* NaN != NaN */
    PAIR(LT, KILN_F32, 4, a, b, VALS(1, 0, 0, 0), 0);
    PAIR(LE, KILN_F32, 4, a, b, VALS(1, 1, 0, 0), 0);
    PAIR(GT, KILN_F32, 4, a, b, VALS(0, 0, 1, 0), 0);
    PAIR(GE, KILN_F32, 4, a, b, VALS(0, 1, 1, 0), 0);
    PAIR(LT, KILN_I64, 3, VALS(-1, 5, 7), VALS(0, 5, 6), VALS(1, 0, 0), 0);
    /* truth tables over (0,0) (0,1) (1,0) (1,1) */
    const double p[] = {0, 0, 1, 1}, q[] = {0, 1, 0, 1};
    PAIR(AND, KILN_BOOL, 4, p, q, VALS(0, 0, 0, 1), 0);
    PAIR(OR, KILN_BOOL, 4, p, q, VALS(0, 1, 1, 1), 0);
    PAIR(XOR, KILN_BOOL, 4, p, q, VALS(0, 1, 1, 0), 0);
    PAIR(EQ, KILN_BOOL, 4, p, q, VALS(1, 0, 0, 1), 0);
}

static void test_broadcast(void) {
    /* [2,3] + [3]: each row gets [10, 20, 30] */
    kiln_tensor a = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    kiln_tensor row = make_tensor(KILN_F32, 1, SHAPE(3), VALS(10, 20, 30));
    kiln_tensor col = make_tensor(KILN_F32, 2, SHAPE(2, 1), VALS(100, 200));
    kiln_tensor sc = make_tensor(KILN_F32, 0, NULL, VALS(-1));
    kiln_tensor y = run2(KILN_OP_ADD, &a, &row);
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(11, 22, 33, 14, 25, 36), 0);
    kiln_tensor_release(&y);
    /* [2,1] * [2,3]: row i scaled by col[i]; broadcast on the left operand */
    y = run2(KILN_OP_MUL, &col, &a);
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(100, 200, 300, 800, 1000, 1200), 0);
    kiln_tensor_release(&y);
    /* scalar (rank 0) - [2,3] */
    y = run2(KILN_OP_SUB, &sc, &a);
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(-2, -3, -4, -5, -6, -7), 0);
    kiln_tensor_release(&y);
    /* [3] vs [2,1] -> [2,3]: both sides broadcast */
    y = run2(KILN_OP_SUB, &row, &col);
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(-90, -80, -70, -190, -180, -170), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&row);
    kiln_tensor_release(&col);
    kiln_tensor_release(&sc);

    /* rank difference plus size-1 dims on both sides:
     * p [2,1,3] + q [4,1] -> [2,4,3], out[i,j,k] = p[i,0,k] + q[j,0] */
    double pv[6], qv[4], want[24];
    for (int i = 0; i < 6; i++) pv[i] = i + 1;
    for (int j = 0; j < 4; j++) qv[j] = 10 * (j + 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) want[(i * 4 + j) * 3 + k] = pv[i * 3 + k] + qv[j];
    kiln_tensor p = make_tensor(KILN_F32, 3, SHAPE(2, 1, 3), pv), q = make_tensor(KILN_F32, 2, SHAPE(4, 1), qv);
    y = run2(KILN_OP_ADD, &p, &q);
    CHECK_TENSOR(&y, 3, SHAPE(2, 4, 3), want, 0);
    kiln_tensor_release(&y);
    /* comparisons broadcast too: p > q elementwise of the same layout */
    y = run2(KILN_OP_GT, &p, &q);
    for (int i = 0; i < 24; i++) want[i] = pv[(i / 12) * 3 + i % 3] > qv[(i / 3) % 4];
    CHECK(y.dtype == KILN_BOOL);
    CHECK_TENSOR(&y, 3, SHAPE(2, 4, 3), want, 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&p);
    kiln_tensor_release(&q);
}

static void test_half_types(void) {
    /* f16: 1 + 2^-11 is exactly halfway between 1 and the next f16 (1 + 2^-10);
     * round-to-even keeps 1. 1 + 3*2^-11 is halfway between 1+2^-10 and 1+2^-9,
     * and rounds to the even 1 + 2^-9 = 1.001953125. */
    PAIR(ADD, KILN_F16, 2, VALS(1, 1), VALS(0.00048828125, 0.00146484375), VALS(1, 1.001953125), 0);
    /* bf16: 3 * 1.25 = 3.75 is exact (mantissa 1.111b); 1/3 -> nearest bf16 of
     * 0.33333 in [0.25, 0.5), spacing 2^-9: 170.67 steps -> 171 * 2^-9 = 0.333984375 */
    PAIR(MUL, KILN_BF16, 1, VALS(3), VALS(1.25), VALS(3.75), 0);
    PAIR(DIV, KILN_BF16, 1, VALS(1), VALS(3), VALS(0.333984375), 0);
}

static void test_where(void) {
    /* cond [2,1], a [3], b scalar -> [2,3]: row 0 takes a, row 1 takes b */
    kiln_tensor cond = make_tensor(KILN_BOOL, 2, SHAPE(2, 1), VALS(1, 0));
    kiln_tensor a = make_tensor(KILN_I64, 1, SHAPE(3), VALS(1, 2, 3));
    kiln_tensor b = make_tensor(KILN_I64, 0, NULL, VALS(-9));
    const kiln_tensor *ins[3] = {&cond, &a, &b};
    kiln_tensor y;
    CHECK_OK(op_eval(KILN_OP_WHERE, 3, ins, 0, NULL, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 3), VALS(1, 2, 3, -9, -9, -9), 0);
    kiln_tensor_release(&y);
    /* elementwise condition on f16 values: copied bit for bit */
    kiln_tensor c2 = make_tensor(KILN_BOOL, 1, SHAPE(3), VALS(0, 1, 0));
    kiln_tensor x = make_tensor(KILN_F16, 1, SHAPE(3), VALS(0.5, 1.5, 2.5));
    kiln_tensor z = make_tensor(KILN_F16, 1, SHAPE(3), VALS(-1, -2, -3));
    const kiln_tensor *ins2[3] = {&c2, &x, &z};
    CHECK_OK(op_eval(KILN_OP_WHERE, 3, ins2, 0, NULL, &y));
    CHECK_TENSOR(&y, 1, SHAPE(3), VALS(-1, 1.5, -3), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&c2);
    kiln_tensor_release(&x);
    kiln_tensor_release(&z);
    kiln_tensor_release(&cond);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

int main(void) {
    test_arith();
    test_int_semantics();
    test_compare_logic();
    test_broadcast();
    test_half_types();
    test_where();
    return test_finish("test_ref_binary");
}
