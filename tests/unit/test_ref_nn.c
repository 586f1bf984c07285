/* softmax, log_softmax, layer_norm and rms_norm on the reference
 * interpreter: hand-worked rows plus the properties that define them. */
#include <stdint.h>

#include "test_ref_util.h"

#define LN3 1.0986122886681098

static void test_softmax(void) {
    /* rows [1,2,3,4] and [-1,0,0,1000]; the second would overflow exp()
     * without subtracting the row max first */
    const double xv[] = {1, 2, 3, 4, -1, 0, 0, 1000};
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(2, 4), xv), y;
    const kiln_tensor *ins[1] = {&x};
    CHECK_OK(op_eval(KILN_OP_SOFTMAX, 1, ins, 0, NULL, &y));
    if (y.data) {
        for (int r = 0; r < 2; r++) {
            double sum = 0;
            for (int i = 0; i < 4; i++) {
                double v = at(&y, (size_t)(r * 4 + i));
                CHECK(v >= 0 && v <= 1);
                sum += v;
            }
            CHECK(fabs(sum - 1) < 1e-6); /* 4 f32 roundings of at most 6e-8 each */
        }
        /* ratios in row 0: y_i / y_j = exp(x_i - x_j) */
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                CHECK(fabs(at(&y, (size_t)i) / at(&y, (size_t)j) - exp(xv[i] - xv[j])) < 1e-6 * exp(xv[i] - xv[j]) * 4);
        CHECK(fabs(at(&y, 7) - 1) < 1e-6 && at(&y, 4) == 0); /* e^-1001 underflows */
    }
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);

    /* axis 0 of [[0, ln3], [ln3, 0]]: columns [0, ln3] -> [1/(1+3), 3/(1+3)] */
    kiln_tensor c = make_tensor(KILN_F32, 2, SHAPE(2, 2), VALS(0, LN3, LN3, 0));
    ins[0] = &c;
    kiln_named_attr ax = kiln_a_int("axis", 0);
    CHECK_OK(op_eval(KILN_OP_SOFTMAX, 1, ins, 1, &ax, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(0.25, 0.75, 0.75, 0.25), 1e-6);
    kiln_tensor_release(&y);
    /* log_softmax: log(1/4) = -1.3862944, log(3/4) = -0.2876821 */
    CHECK_OK(op_eval(KILN_OP_LOG_SOFTMAX, 1, ins, 1, &ax, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(-1.3862943611198906, -0.2876820724517809, -0.2876820724517809, -1.3862943611198906), 1e-6);
    kiln_tensor_release(&y);
    kiln_tensor_release(&c);

    /* f16 input: ln3 is stored as the nearest f16, 1.0986328 (spacing 2^-10
     * in [1,2)), so the 1/4 : 3/4 split holds to ~1e-4; then 0.25 and 0.75
     * are exact f16 values and the f16 result rounds onto them (spacing
     * 2^-11 near 0.25 and 0.75 is ~5e-4 -> tolerance 1e-3). */
    kiln_tensor h = make_tensor(KILN_F16, 1, SHAPE(2), VALS(0, LN3));
    ins[0] = &h;
    CHECK_OK(op_eval(KILN_OP_SOFTMAX, 1, ins, 0, NULL, &y));
    CHECK(y.dtype == KILN_F16);
    CHECK_TENSOR(&y, 1, SHAPE(2), VALS(0.25, 0.75), 1e-3);
    kiln_tensor_release(&y);
    kiln_tensor_release(&h);
}

static void test_layer_norm(void) {
    /* [1,2,3], eps 0: mean 2, population variance (1 + 0 + 1)/3 = 2/3,
     * 1/sqrt(2/3) = 1.2247449 -> [-1.2247449, 0, 1.2247449] */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(1, 3), VALS(1, 2, 3)), y;
    kiln_tensor w = make_tensor(KILN_F32, 1, SHAPE(3), VALS(1, 2, 3));
    kiln_tensor b = make_tensor(KILN_F32, 1, SHAPE(3), VALS(0.5, 0.5, 0.5));
    kiln_named_attr eps0 = kiln_a_float("eps", 0);
    const kiln_tensor *ins[3] = {&x, NULL, NULL};
    CHECK_OK(op_eval(KILN_OP_LAYER_NORM, 1, ins, 1, &eps0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 3), VALS(-1.224744871391589, 0, 1.224744871391589), 1e-6);
    kiln_tensor_release(&y);
    /* * w + b: -1.2247449*1 + 0.5 = -0.7247449, 0*2 + 0.5, 1.2247449*3 + 0.5 = 4.1742346 */
    ins[1] = &w;
    ins[2] = &b;
    CHECK_OK(op_eval(KILN_OP_LAYER_NORM, 3, ins, 1, &eps0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 3), VALS(-0.724744871391589, 0.5, 4.174234614174767), 1e-6);
    kiln_tensor_release(&y);
    /* bias without weight (weight omitted) */
    ins[1] = NULL;
    CHECK_OK(op_eval(KILN_OP_LAYER_NORM, 3, ins, 1, &eps0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 3), VALS(-0.724744871391589, 0.5, 1.724744871391589), 1e-6);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);

    /* any row: mean 0 and population variance var/(var+eps) after normalising */
    double rv[3 * 8];
    for (int i = 0; i < 24; i++) rv[i] = sin(i * 1.7) * (1 + i % 5) + i % 3;
    kiln_tensor r = make_tensor(KILN_F32, 2, SHAPE(3, 8), rv);
    ins[0] = &r;
    CHECK_OK(op_eval(KILN_OP_LAYER_NORM, 1, ins, 0, NULL, &y)); /* default eps 1e-5 */
    for (int row = 0; y.data && row < 3; row++) {
        double m = 0, v = 0, xm = 0, xv = 0;
        for (int i = 0; i < 8; i++) {
            m += at(&y, (size_t)(row * 8 + i)) / 8;
            xm += rv[row * 8 + i] / 8;
        }
        for (int i = 0; i < 8; i++) {
            v += pow(at(&y, (size_t)(row * 8 + i)) - m, 2) / 8;
            xv += pow(rv[row * 8 + i] - xm, 2) / 8;
        }
        CHECK(fabs(m) < 1e-6);                       /* f32 storage error only */
        CHECK(fabs(v - xv / (xv + 1e-5)) < 1e-6);
    }
    kiln_tensor_release(&y);
    kiln_tensor_release(&r);
    kiln_tensor_release(&w);
    kiln_tensor_release(&b);
}

static void test_rms_norm(void) {
    /* [3,4], eps 0: mean of squares (9 + 16)/2 = 12.5, sqrt = 3.5355339
     * -> [0.8485281, 1.1313708]; with w = [2, 0.5] -> [1.6970563, 0.5656854] */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(2, 2), VALS(3, 4, 0, 0)), y;
    kiln_tensor w = make_tensor(KILN_F32, 1, SHAPE(2), VALS(2, 0.5));
    kiln_named_attr eps0 = kiln_a_float("eps", 0);
    const kiln_tensor *ins[2] = {&x, &w};
    CHECK_OK(op_eval(KILN_OP_RMS_NORM, 2, ins, 1, &eps0, &y));
    /* the all-zero row is 0/0 with eps 0: NaN, as the formula says */
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(1.697056274847714, 0.565685424949238, NAN, NAN), 1e-6);
    kiln_tensor_release(&y);
    /* default eps 1e-6 keeps the zero row at 0 / sqrt(1e-6) = 0 */
    CHECK_OK(op_eval(KILN_OP_RMS_NORM, 1, ins, 0, NULL, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(0.848528137423857, 1.131370849898476, 0, 0), 1e-6);
    kiln_tensor_release(&y);
    /* bf16 input: 0.8485 and 1.1314 round to the bf16 grid (spacing 2^-8 in
     * [0.5,1), 2^-7 in [1,2)): 0.8485*256 = 217.2 -> 217/256 = 0.84765625,
     * 1.1314*128 = 144.8 -> 145/128 = 1.1328125 */
    kiln_tensor xb = make_tensor(KILN_BF16, 2, SHAPE(1, 2), VALS(3, 4));
    ins[0] = &xb;
    CHECK_OK(op_eval(KILN_OP_RMS_NORM, 1, ins, 1, &eps0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 2), VALS(0.84765625, 1.1328125), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&xb);
    kiln_tensor_release(&x);
    kiln_tensor_release(&w);
}

int main(void) {
    test_softmax();
    test_layer_norm();
    test_rms_norm();
    return test_finish("test_ref_nn");
}
