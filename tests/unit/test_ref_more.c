/* The ops added for the ONNX importer on the reference interpreter:
 * inverse and hyperbolic trig, fmod, bitwise ops and shifts, cumsum and
 * cumprod, gather_elements and topk. Expected values are worked out in the
 * comments (transcendental constants from Python's math module). */
#include <stdint.h>

#include "test_ref_util.h"

/* Runs op on the given inputs and compares with want (doubles). */
static void run_case(kiln_op op, int nin, const kiln_tensor *const *ins, int nattrs, const kiln_named_attr *attrs,
                     int rank, const int64_t *shape, const double *want, double tol, int line) {
    kiln_tensor y;
    kiln_status s = op_eval(op, nin, ins, nattrs, attrs, &y);
    if (s) {
        fprintf(stderr, "line %d: %s failed: %s\n", line, kiln_op_name(op), kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return;
    }
    if (!check_tensor_(&y, rank, shape, want, tol, __FILE__, line)) fprintf(stderr, "  (op %s)\n", kiln_op_name(op));
    kiln_tensor_release(&y);
}

static void unary(kiln_op op, int n, const double *xs, const double *want, int line) {
    kiln_tensor x = make_tensor(KILN_F64, 1, SHAPE(n), xs);
    const kiln_tensor *ins[1] = {&x};
    run_case(op, 1, ins, 0, NULL, 1, SHAPE(n), want, 1e-12, line);
    kiln_tensor_release(&x);
}
#define UNARY(op, n, xs, want) unary(KILN_OP_##op, n, xs, want, __LINE__)

static void test_trig(void) {
    /* tan(pi/4) = 1, tan(0) = 0, tan(-pi/4) = -1 */
    UNARY(TAN, 3, VALS(0.7853981633974483, 0, -0.7853981633974483), VALS(1, 0, -1));
    /* asin(1) = pi/2, asin(0.5) = pi/6, asin(2) outside the domain */
    UNARY(ASIN, 3, VALS(1, 0.5, 2), VALS(1.5707963267948966, 0.5235987755982989, NAN));
    /* acos(1) = 0, acos(0) = pi/2, acos(-1) = pi */
    UNARY(ACOS, 3, VALS(1, 0, -1), VALS(0, 1.5707963267948966, 3.141592653589793));
    /* atan(1) = pi/4, atan(inf) = pi/2 */
    UNARY(ATAN, 2, VALS(1, INFINITY), VALS(0.7853981633974483, 1.5707963267948966));
    /* sinh(1) = (e - 1/e)/2 = 1.1752011936438014, cosh(1) = 1.5430806348152437 */
    UNARY(SINH, 2, VALS(1, 0), VALS(1.1752011936438014, 0));
    UNARY(COSH, 2, VALS(1, 0), VALS(1.5430806348152437, 1));
    /* asinh(1) = ln(1 + sqrt 2) = 0.881373587019543, acosh(2) = ln(2 + sqrt 3) = 1.3169578969248166 */
    UNARY(ASINH, 2, VALS(1, 0), VALS(0.881373587019543, 0));
    UNARY(ACOSH, 3, VALS(2, 1, 0.5), VALS(1.3169578969248166, 0, NAN));
    /* atanh(0.5) = ln(3)/2 = 0.5493061443340549, atanh(1) = inf */
    UNARY(ATANH, 2, VALS(0.5, 1), VALS(0.5493061443340549, INFINITY));
    /* integers are rejected when the graph is built */
    kiln_tensor x = make_tensor(KILN_I32, 1, SHAPE(1), VALS(1)), y;
    const kiln_tensor *ins[1] = {&x};
    CHECK_ERR(op_eval(KILN_OP_TAN, 1, ins, 0, NULL, &y), "needs a floating-point input");
    kiln_tensor_release(&x);
}

static void test_fmod(void) {
    /* the sign follows the dividend: 5.5 = 2*2 + 1.5; -5.5 = -2*2 - 1.5; 5.5 = -2*-2 + 1.5 */
    kiln_tensor a = make_tensor(KILN_F32, 1, SHAPE(3), VALS(5.5, -5.5, 5.5)), b = make_tensor(KILN_F32, 1, SHAPE(3), VALS(2, 2, -2));
    const kiln_tensor *ins[2] = {&a, &b};
    run_case(KILN_OP_FMOD, 2, ins, 0, NULL, 1, SHAPE(3), VALS(1.5, -1.5, 1.5), 0, __LINE__);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
    /* ints with broadcasting: -7 fmod 3 = -1 (C remainder), 7 fmod -3 = 1, x fmod 0 = 0 */
    kiln_tensor ia = make_ints(KILN_I32, 2, SHAPE(3, 1), (const int64_t[]){-7, 7, 8});
    kiln_tensor ib = make_ints(KILN_I32, 1, SHAPE(3), (const int64_t[]){3, -3, 0});
    const kiln_tensor *iins[2] = {&ia, &ib};
    run_case(KILN_OP_FMOD, 2, iins, 0, NULL, 2, SHAPE(3, 3), VALS(-1, -1, 0, 1, 1, 0, 2, 2, 0), 0, __LINE__);
    kiln_tensor_release(&ia);
    kiln_tensor_release(&ib);
}

static void test_bitwise(void) {
    /* 12 = 0b1100, 10 = 0b1010: and 8, or 14, xor 6 */
    kiln_tensor a = make_ints(KILN_U8, 1, SHAPE(2), (const int64_t[]){12, 255});
    kiln_tensor b = make_ints(KILN_U8, 1, SHAPE(2), (const int64_t[]){10, 15});
    const kiln_tensor *ins[2] = {&a, &b};
    run_case(KILN_OP_BITAND, 2, ins, 0, NULL, 1, SHAPE(2), VALS(8, 15), 0, __LINE__);
    run_case(KILN_OP_BITOR, 2, ins, 0, NULL, 1, SHAPE(2), VALS(14, 255), 0, __LINE__);
    run_case(KILN_OP_BITXOR, 2, ins, 0, NULL, 1, SHAPE(2), VALS(6, 240), 0, __LINE__);
    /* ~12 in 8 bits = 243, ~255 = 0 */
    run_case(KILN_OP_BITNOT, 1, ins, 0, NULL, 1, SHAPE(2), VALS(243, 0), 0, __LINE__);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
    /* u8 shifts: 3 << 2 = 12, 200 << 1 = 400 mod 256 = 144, by 8 or more = 0;
     * 3 >> 2 = 0, 200 >> 1 = 100, 7 >> 8 = 0, 1 >> 9 = 0 */
    kiln_tensor x = make_ints(KILN_U8, 1, SHAPE(4), (const int64_t[]){3, 200, 7, 1});
    kiln_tensor k = make_ints(KILN_U8, 1, SHAPE(4), (const int64_t[]){2, 1, 8, 9});
    const kiln_tensor *sh[2] = {&x, &k};
    run_case(KILN_OP_SHL, 2, sh, 0, NULL, 1, SHAPE(4), VALS(12, 144, 0, 0), 0, __LINE__);
    run_case(KILN_OP_SHR, 2, sh, 0, NULL, 1, SHAPE(4), VALS(0, 100, 0, 0), 0, __LINE__);
    kiln_tensor_release(&x);
    kiln_tensor_release(&k);
    /* i8: arithmetic shift right: -8 >> 1 = -4, -1 >> 7 = -1, -8 >> 8 (out of range) = -1, 8 >> 8 = 0 */
    kiln_tensor sx = make_ints(KILN_I8, 1, SHAPE(4), (const int64_t[]){-8, -1, -8, 8});
    kiln_tensor sk = make_ints(KILN_I8, 1, SHAPE(4), (const int64_t[]){1, 7, 8, 8});
    const kiln_tensor *ss[2] = {&sx, &sk};
    run_case(KILN_OP_SHR, 2, ss, 0, NULL, 1, SHAPE(4), VALS(-4, -1, -1, 0), 0, __LINE__);
    kiln_tensor_release(&sx);
    kiln_tensor_release(&sk);
    /* u64 keeps the top bit: (2^63 + 2) >> 1 = 2^62 + 1 */
    kiln_tensor ux = make_ints(KILN_U64, 1, SHAPE(1), (const int64_t[]){(int64_t)(UINT64_C(1) << 63 | 2)});
    kiln_tensor uk = make_ints(KILN_U64, 1, SHAPE(1), (const int64_t[]){1});
    const kiln_tensor *us[2] = {&ux, &uk};
    kiln_tensor y;
    CHECK_OK(op_eval(KILN_OP_SHR, 2, us, 0, NULL, &y));
    CHECK(y.dtype == KILN_U64 && ((uint64_t *)y.data)[0] == (UINT64_C(1) << 62 | 1));
    kiln_tensor_release(&y);
    kiln_tensor_release(&ux);
    kiln_tensor_release(&uk);
    /* floats are rejected */
    kiln_tensor f = make_tensor(KILN_F32, 1, SHAPE(1), VALS(1));
    const kiln_tensor *ff[2] = {&f, &f};
    CHECK_ERR(op_eval(KILN_OP_BITAND, 2, ff, 0, NULL, &y), "needs integer inputs");
    kiln_tensor_release(&f);
}

static void test_scans(void) {
    /* x = [[1, 2, 3], [4, 5, 6]] */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    const kiln_tensor *ins[1] = {&x};
    kiln_named_attr a1[1] = {kiln_a_int("axis", 1)};
    run_case(KILN_OP_CUMSUM, 1, ins, 1, a1, 2, SHAPE(2, 3), VALS(1, 3, 6, 4, 9, 15), 0, __LINE__);
    /* exclusive: [0, 1, 3], [0, 4, 9] */
    kiln_named_attr ex[2] = {kiln_a_int("axis", -1), kiln_a_bool("exclusive", 1)};
    run_case(KILN_OP_CUMSUM, 1, ins, 2, ex, 2, SHAPE(2, 3), VALS(0, 1, 3, 0, 4, 9), 0, __LINE__);
    /* reverse: [6, 5, 3], [15, 11, 6]; both: [5, 3, 0], [11, 6, 0] */
    kiln_named_attr rv[2] = {kiln_a_int("axis", 1), kiln_a_bool("reverse", 1)};
    run_case(KILN_OP_CUMSUM, 1, ins, 2, rv, 2, SHAPE(2, 3), VALS(6, 5, 3, 15, 11, 6), 0, __LINE__);
    kiln_named_attr both[3] = {kiln_a_int("axis", 1), kiln_a_bool("exclusive", 1), kiln_a_bool("reverse", 1)};
    run_case(KILN_OP_CUMSUM, 1, ins, 3, both, 2, SHAPE(2, 3), VALS(5, 3, 0, 11, 6, 0), 0, __LINE__);
    /* along axis 0: [1, 2, 3], [5, 7, 9]; product: [1, 2, 3], [4, 10, 18] */
    kiln_named_attr a0[1] = {kiln_a_int("axis", 0)};
    run_case(KILN_OP_CUMSUM, 1, ins, 1, a0, 2, SHAPE(2, 3), VALS(1, 2, 3, 5, 7, 9), 0, __LINE__);
    run_case(KILN_OP_CUMPROD, 1, ins, 1, a0, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 10, 18), 0, __LINE__);
    /* exclusive product along 1: [1, 1, 2], [1, 4, 20] */
    run_case(KILN_OP_CUMPROD, 1, ins, 2, ex, 2, SHAPE(2, 3), VALS(1, 1, 2, 1, 4, 20), 0, __LINE__);
    kiln_tensor_release(&x);
    /* i8 wraps: 100 + 100 = -56 */
    kiln_tensor i = make_ints(KILN_I8, 1, SHAPE(2), (const int64_t[]){100, 100});
    const kiln_tensor *ii[1] = {&i};
    kiln_named_attr z[1] = {kiln_a_int("axis", 0)};
    run_case(KILN_OP_CUMSUM, 1, ii, 1, z, 1, SHAPE(2), VALS(100, -56), 0, __LINE__);
    kiln_tensor_release(&i);
}

static void test_gather_elements(void) {
    /* data [[1, 2], [3, 4]], indices [[0, 0], [1, 0]] on axis 1: [[1, 1], [4, 3]] */
    kiln_tensor d = make_tensor(KILN_F32, 2, SHAPE(2, 2), VALS(1, 2, 3, 4));
    kiln_tensor idx = make_ints(KILN_I64, 2, SHAPE(2, 2), (const int64_t[]){0, 0, 1, 0});
    const kiln_tensor *ins[2] = {&d, &idx};
    kiln_named_attr a1[1] = {kiln_a_int("axis", 1)};
    run_case(KILN_OP_GATHER_ELEMENTS, 2, ins, 1, a1, 2, SHAPE(2, 2), VALS(1, 1, 4, 3), 0, __LINE__);
    /* axis 0: out[i][j] = d[idx[i][j]][j] = [[1, 2], [3, 2]] */
    kiln_named_attr a0[1] = {kiln_a_int("axis", 0)};
    run_case(KILN_OP_GATHER_ELEMENTS, 2, ins, 1, a0, 2, SHAPE(2, 2), VALS(1, 2, 3, 2), 0, __LINE__);
    kiln_tensor_release(&idx);
    /* a smaller indices tensor and a negative index: [[-1]] on axis 1 -> [[2]] */
    kiln_tensor neg = make_ints(KILN_I32, 2, SHAPE(1, 1), (const int64_t[]){-1});
    const kiln_tensor *ns[2] = {&d, &neg};
    run_case(KILN_OP_GATHER_ELEMENTS, 2, ns, 1, a1, 2, SHAPE(1, 1), VALS(2), 0, __LINE__);
    kiln_tensor_release(&neg);
    kiln_tensor bad = make_ints(KILN_I64, 2, SHAPE(1, 1), (const int64_t[]){2});
    const kiln_tensor *bs[2] = {&d, &bad};
    kiln_tensor y;
    CHECK_ERR(op_eval(KILN_OP_GATHER_ELEMENTS, 2, bs, 1, a1, &y), "index 2 (element 0 of the indices) is out of range for axis 1 of size 2");
    kiln_tensor_release(&bad);
    kiln_tensor wide = make_ints(KILN_I64, 2, SHAPE(3, 1), (const int64_t[]){0, 0, 0});
    const kiln_tensor *ws[2] = {&d, &wide};
    CHECK_ERR(op_eval(KILN_OP_GATHER_ELEMENTS, 2, ws, 1, a1, &y), "exceed data");
    kiln_tensor_release(&wide);
    kiln_tensor_release(&d);
}

static void test_topk(void) {
    /* rows [3, 1, 3, 2] and [NaN, 0, 5, -1] */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(2, 4), VALS(3, 1, 3, 2, NAN, 0, 5, -1));
    const kiln_tensor *ins[1] = {&x};
    /* largest 3: ties keep the lower index first; NaN counts as largest */
    kiln_named_attr big[2] = {kiln_a_dim("k", 3), kiln_a_int("axis", 1)};
    run_case(KILN_OP_TOPK, 1, ins, 2, big, 2, SHAPE(2, 3), VALS(0, 2, 3, 0, 2, 1), 0, __LINE__);
    /* smallest 2 */
    kiln_named_attr small[3] = {kiln_a_dim("k", 2), kiln_a_int("axis", -1), kiln_a_bool("largest", 0)};
    run_case(KILN_OP_TOPK, 1, ins, 3, small, 2, SHAPE(2, 2), VALS(1, 3, 3, 1), 0, __LINE__);
    /* along axis 0: per column the larger row first (NaN wins column 0) */
    kiln_named_attr col[2] = {kiln_a_dim("k", 1), kiln_a_int("axis", 0)};
    run_case(KILN_OP_TOPK, 1, ins, 2, col, 2, SHAPE(1, 4), VALS(1, 0, 1, 0), 0, __LINE__);
    kiln_named_attr over[2] = {kiln_a_dim("k", 5), kiln_a_int("axis", 1)};
    kiln_tensor y;
    CHECK_ERR(op_eval(KILN_OP_TOPK, 1, ins, 2, over, &y), "k 5 exceeds the axis size 4");
    kiln_tensor_release(&x);
    /* integers: [5, -3, 9] -> largest 2 = indices [2, 0] */
    kiln_tensor i = make_ints(KILN_I64, 1, SHAPE(3), (const int64_t[]){5, -3, 9});
    const kiln_tensor *ii[1] = {&i};
    kiln_named_attr two[1] = {kiln_a_dim("k", 2)};
    run_case(KILN_OP_TOPK, 1, ii, 1, two, 1, SHAPE(2), VALS(2, 0), 0, __LINE__);
    kiln_tensor_release(&i);
}

int main(void) {
    test_trig();
    test_fmod();
    test_bitwise();
    test_scans();
    test_gather_elements();
    test_topk();
    return test_finish("test_ref_more");
}
