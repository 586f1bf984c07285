/* Elementwise unary ops and cast on the reference interpreter. Expected
 * values are worked out in the comments (transcendental constants from
 * Python's math module at development time). */
#include <stdint.h>

#include "test_ref_util.h"

/* Runs a one-input op on xs (n values of dtype dt) and compares. */
static void unary_case(kiln_op op, kiln_dtype dt, int n, const double *xs, const double *want, double tol, int line) {
    kiln_tensor x = make_tensor(dt, 1, SHAPE(n), xs), y;
    const kiln_tensor *ins[1] = {&x};
    kiln_status s = op_eval(op, 1, ins, 0, NULL, &y);
    if (s) {
        fprintf(stderr, "line %d: %s failed: %s\n", line, kiln_op_name(op), kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    } else {
        if (!check_tensor_(&y, 1, SHAPE(n), want, tol, __FILE__, line))
            fprintf(stderr, "  (op %s, dtype %s)\n", kiln_op_name(op), kiln_dtype_name(dt));
        CHECK(y.dtype == dt);
        kiln_tensor_release(&y);
    }
    kiln_tensor_release(&x);
}
#define UNARY(op, dt, n, xs, want, tol) unary_case(KILN_OP_##op, dt, n, xs, want, tol, __LINE__)

/* f32 stores: tolerance 1e-6 relative covers the final rounding to float. */
#define TF 1e-6

static void test_float_ops(void) {
    const double x[] = {-2, -0.5, 0, 0.5, 2};
    UNARY(NEG, KILN_F32, 5, x, VALS(2, 0.5, 0, -0.5, -2), 0);
    UNARY(ABS, KILN_F32, 5, x, VALS(2, 0.5, 0, 0.5, 2), 0);
    UNARY(SIGN, KILN_F32, 5, x, VALS(-1, -1, 0, 1, 1), 0);
    UNARY(RELU, KILN_F32, 5, x, VALS(0, 0, 0, 0.5, 2), 0);
    /* exp(1) = e = 2.718281828, exp(0) = 1, exp(-2) = 1/e^2 = 0.135335283 */
    UNARY(EXP, KILN_F32, 3, VALS(1, 0, -2), VALS(2.718281828459045, 1, 0.1353352832366127), TF);
    /* log(e) = 1, log(1) = 0, log(0) = -inf, log(-1) = NaN */
    UNARY(LOG, KILN_F32, 4, VALS(2.718281828459045, 1, 0, -1), VALS(1, 0, -INFINITY, NAN), TF);
    UNARY(SQRT, KILN_F32, 3, VALS(4, 2.25, 0), VALS(2, 1.5, 0), 0);
    /* rsqrt = 1/sqrt: 1/2, 1/1.5 = 0.6667 */
    UNARY(RSQRT, KILN_F32, 2, VALS(4, 2.25), VALS(0.5, 0.6666666666666666), TF);
    UNARY(RECIP, KILN_F32, 3, VALS(4, -0.5, 0), VALS(0.25, -2, INFINITY), 0);
    /* tanh(0.5) = (e - 1)/(e + 1) = 0.4621171573; odd function */
    UNARY(TANH, KILN_F32, 3, VALS(0.5, 0, -0.5), VALS(0.46211715726000974, 0, -0.46211715726000974), TF);
    /* sigmoid(-2) = 1/(1 + e^2) = 1/8.389056 = 0.1192029220; sigmoid(0) = 0.5 */
    UNARY(SIGMOID, KILN_F32, 3, VALS(-2, 0, 2), VALS(0.11920292202211755, 0.5, 0.8807970779778824), TF);
    /* erf(0.5) = 0.5204998778 (table value); odd */
    UNARY(ERF, KILN_F32, 3, VALS(0.5, 0, -0.5), VALS(0.5204998778130465, 0, -0.5204998778130465), TF);
    /* sin(pi/6) = 0.5, cos(pi/3) = 0.5, sin(0) = 0, cos(0) = 1 */
    UNARY(SIN, KILN_F32, 2, VALS(3.14159265358979 / 6, 0), VALS(0.5, 0), TF);
    UNARY(COS, KILN_F32, 2, VALS(3.14159265358979 / 3, 0), VALS(0.5, 1), TF);
    UNARY(FLOOR, KILN_F32, 4, VALS(-1.5, -0.5, 0.5, 2.7), VALS(-2, -1, 0, 2), 0);
    UNARY(CEIL, KILN_F32, 4, VALS(-1.5, -0.5, 0.5, 2.2), VALS(-1, 0, 1, 3), 0);
    /* half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2; 2.6 -> 3 */
    UNARY(ROUND, KILN_F32, 6, VALS(0.5, 1.5, 2.5, -1.5, -2.5, 2.6), VALS(0, 2, 2, -2, -2, 3), 0);
    /* silu(1) = 1 * sigmoid(1) = 1/(1 + 1/e) = 0.7310585786; silu(-1) = -sigmoid(-1) = -0.2689414214 */
    UNARY(SILU, KILN_F32, 3, VALS(1, -1, 0), VALS(0.7310585786300049, -0.2689414213699951, 0), TF);
    /* gelu(1) = 0.5 * (1 + erf(1/sqrt2)) = 0.5 * (1 + 0.6826894921) = 0.8413447461
     * gelu(-1) = -1 * 0.5 * (1 - 0.6826894921) = -0.1586552539 */
    UNARY(GELU, KILN_F32, 3, VALS(1, -1, 0), VALS(0.8413447460685429, -0.15865525393145707, 0), TF);
    /* gelu_tanh(1): sqrt(2/pi) = 0.7978845608, * (1 + 0.044715) = 0.8335619689,
     * tanh(0.8335619689) = 0.6823839812, 0.5 * 1.6823839812 = 0.8411919906 */
    UNARY(GELU_TANH, KILN_F32, 2, VALS(1, 0), VALS(0.8411919906082768, 0), TF);
}

static void test_int_ops(void) {
    const double x[] = {-3, 0, 5};
    UNARY(NEG, KILN_I32, 3, x, VALS(3, 0, -5), 0);
    UNARY(ABS, KILN_I32, 3, x, VALS(3, 0, 5), 0);
    UNARY(SIGN, KILN_I32, 3, x, VALS(-1, 0, 1), 0);
    UNARY(RELU, KILN_I64, 3, x, VALS(0, 0, 5), 0);
    /* -INT64_MIN wraps to itself (two's complement) instead of trapping */
    kiln_tensor m = make_ints(KILN_I64, 1, SHAPE(1), (const int64_t[]){INT64_MIN}), y;
    const kiln_tensor *ins[1] = {&m};
    CHECK_OK(op_eval(KILN_OP_NEG, 1, ins, 0, NULL, &y));
    CHECK(iat(&y, 0) == INT64_MIN);
    kiln_tensor_release(&y);
    kiln_tensor_release(&m);
    /* exp takes no integers: rejected when the graph is built */
    kiln_tensor xi = make_tensor(KILN_I32, 1, SHAPE(1), VALS(1));
    ins[0] = &xi;
    CHECK_ERR(op_eval(KILN_OP_EXP, 1, ins, 0, NULL, &y), "floating-point");
    kiln_tensor_release(&xi);
}

static void test_half_types(void) {
    /* f16 has 10 mantissa bits: in [2, 4) the spacing is 2^-9 = 0.001953125;
     * e = 2.7182818 / 0.001953125 = 1391.76 steps -> 1392 * 2^-9 = 2.71875 */
    UNARY(EXP, KILN_F16, 2, VALS(1, 0), VALS(2.71875, 1), 0);
    /* bf16 has 7 mantissa bits: in [1, 2) the spacing is 2^-7 = 0.0078125;
     * sqrt(2) = 1.4142136 / 0.0078125 = 181.02 steps -> 181 * 2^-7 = 1.4140625 */
    UNARY(SQRT, KILN_BF16, 1, VALS(2), VALS(1.4140625), 0);
    /* f64 keeps full precision: exp(1) exactly as libm's double */
    UNARY(EXP, KILN_F64, 1, VALS(1), VALS(2.718281828459045), 1e-15);
}

static void test_not(void) {
    kiln_tensor b = make_tensor(KILN_BOOL, 1, SHAPE(2), VALS(0, 1)), y;
    const kiln_tensor *ins[1] = {&b};
    CHECK_OK(op_eval(KILN_OP_NOT, 1, ins, 0, NULL, &y));
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(1, 0), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&b);
}

static void cast_case(kiln_dtype from, kiln_dtype to, int n, const double *xs, const double *want, int line) {
    kiln_tensor x = make_tensor(from, 1, SHAPE(n), xs), y;
    const kiln_tensor *ins[1] = {&x};
    kiln_named_attr a = kiln_a_dtype("dtype", to);
    kiln_status s = op_eval(KILN_OP_CAST, 1, ins, 1, &a, &y);
    if (s) {
        fprintf(stderr, "line %d: cast failed: %s\n", line, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    } else {
        CHECK(y.dtype == to);
        check_tensor_(&y, 1, SHAPE(n), want, 0, __FILE__, line);
        kiln_tensor_release(&y);
    }
    kiln_tensor_release(&x);
}
#define CAST(from, to, n, xs, want) cast_case(from, to, n, xs, want, __LINE__)

static void test_cast(void) {
    /* truncation toward zero; NaN -> 0; saturation at the i32 range */
    CAST(KILN_F32, KILN_I32, 7, VALS(-2.7, -0.5, 0.5, 2.7, NAN, 1e10, -1e10),
         VALS(-2, 0, 0, 2, 0, 2147483647.0, -2147483648.0));
    /* saturation at the target type, not at int64: 300 -> 127 in i8, -1 -> 0 in u8 */
    CAST(KILN_F32, KILN_I8, 2, VALS(300, -300), VALS(127, -128));
    CAST(KILN_F32, KILN_U8, 2, VALS(-1, 255.9), VALS(0, 255));
    /* -> bool is x != 0: -0.0 is zero, NaN is not */
    CAST(KILN_F32, KILN_BOOL, 4, VALS(0, -0.0, 2, NAN), VALS(0, 0, 1, 1));
    CAST(KILN_I64, KILN_BOOL, 3, VALS(0, -7, 1), VALS(0, 1, 1));
    CAST(KILN_BOOL, KILN_F32, 2, VALS(0, 1), VALS(0, 1));
    CAST(KILN_BOOL, KILN_I64, 2, VALS(1, 0), VALS(1, 0));
    /* integer narrowing wraps modulo 2^32: 2^32 + 5 -> 5, 2^31 -> -2^31 */
    CAST(KILN_I64, KILN_I32, 2, VALS(4294967301.0, 2147483648.0), VALS(5, -2147483648.0));
    /* f32 -> f16 rounds to nearest: 1/3 lies in [0.25, 0.5) where f16's
     * spacing is 2^-12; 1/3 * 4096 = 1365.33 -> 1365 / 4096 = 0.333251953125 */
    CAST(KILN_F32, KILN_F16, 1, VALS(1.0 / 3.0), VALS(0.333251953125));
    CAST(KILN_I32, KILN_F32, 2, VALS(-7, 16777217), VALS(-7, 16777216)); /* 2^24 + 1 is not an f32 */
}

int main(void) {
    test_float_ops();
    test_int_ops();
    test_half_types();
    test_not();
    test_cast();
    return test_finish("test_ref_unary");
}
