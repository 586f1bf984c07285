/* matmul on the reference interpreter: a hand-worked case, batch
 * broadcasting against direct loops, integers, and double accumulation
 * for half-precision inputs. */
#include <stdint.h>

#include "test_ref_util.h"

static kiln_status mm(const kiln_tensor *a, const kiln_tensor *b, kiln_tensor *y) {
    const kiln_tensor *ins[2] = {a, b};
    return op_eval(KILN_OP_MATMUL, 2, ins, 0, NULL, y);
}

static void test_small(void) {
    /* [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]]:
     * row 0: 1*7+2*9+3*11 = 58, 1*8+2*10+3*12 = 64
     * row 1: 4*7+5*9+6*11 = 139, 4*8+5*10+6*12 = 154 */
    kiln_tensor a = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    kiln_tensor b = make_tensor(KILN_F32, 2, SHAPE(3, 2), VALS(7, 8, 9, 10, 11, 12)), y;
    CHECK_OK(mm(&a, &b, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(58, 64, 139, 154), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
    /* the same in i32 */
    a = make_tensor(KILN_I32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    b = make_tensor(KILN_I32, 2, SHAPE(3, 2), VALS(7, 8, 9, 10, 11, 12));
    CHECK_OK(mm(&a, &b, &y));
    CHECK(y.dtype == KILN_I32);
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(58, 64, 139, 154), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

/* a [2,1,2,3] @ b [3,3,2] -> [2,3,2,2]: a's dim 1 and b's missing lead dim broadcast. */
static void test_batch_broadcast(void) {
    double av[12], bv[18], want[24];
    for (int i = 0; i < 12; i++) av[i] = i % 5 - 2;
    for (int i = 0; i < 18; i++) bv[i] = (i * 3) % 7 - 3;
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 3; q++)
            for (int m = 0; m < 2; m++)
                for (int n = 0; n < 2; n++) {
                    double s = 0;
                    for (int k = 0; k < 3; k++) s += av[(p * 2 + m) * 3 + k] * bv[(q * 3 + k) * 2 + n];
                    want[((p * 3 + q) * 2 + m) * 2 + n] = s;
                }
    kiln_tensor a = make_tensor(KILN_F32, 4, SHAPE(2, 1, 2, 3), av), b = make_tensor(KILN_F32, 3, SHAPE(3, 3, 2), bv), y;
    CHECK_OK(mm(&a, &b, &y));
    CHECK_TENSOR(&y, 4, SHAPE(2, 3, 2, 2), want, 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

/* trans_b reads b as [..., N, K]: the matrix of test_small stored
 * transposed, [[7,9,11],[8,10,12]], gives the same 58, 64, 139, 154. Then a
 * batched, broadcast case against direct loops over the [N, K] layout. */
static void test_trans_b(void) {
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    kiln_tensor a = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    kiln_tensor b = make_tensor(KILN_F32, 2, SHAPE(2, 3), VALS(7, 9, 11, 8, 10, 12)), y;
    const kiln_tensor *ins[2] = {&a, &b};
    CHECK_OK(op_eval(KILN_OP_MATMUL, 2, ins, 1, &tb, &y));
    CHECK_TENSOR(&y, 2, SHAPE(2, 2), VALS(58, 64, 139, 154), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);

    /* a [2,1,2,3] with b [3,4,3] (batch 3, N 4, K 3) -> [2,3,2,4] */
    double av[12], bv[36], want[48];
    for (int i = 0; i < 12; i++) av[i] = i % 5 - 2;
    for (int i = 0; i < 36; i++) bv[i] = (i * 5) % 7 - 3;
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 3; q++)
            for (int m = 0; m < 2; m++)
                for (int n = 0; n < 4; n++) {
                    double sum = 0;
                    for (int k = 0; k < 3; k++) sum += av[(p * 2 + m) * 3 + k] * bv[(q * 4 + n) * 3 + k];
                    want[((p * 3 + q) * 2 + m) * 4 + n] = sum;
                }
    a = make_tensor(KILN_F32, 4, SHAPE(2, 1, 2, 3), av);
    b = make_tensor(KILN_F32, 3, SHAPE(3, 4, 3), bv);
    CHECK_OK(op_eval(KILN_OP_MATMUL, 2, ins, 1, &tb, &y));
    CHECK_TENSOR(&y, 4, SHAPE(2, 3, 2, 4), want, 0);
    kiln_tensor_release(&y);
    /* without trans_b the same b has K = 4 rows, which a's K = 3 does not match */
    CHECK_ERR(op_eval(KILN_OP_MATMUL, 2, ins, 0, NULL, &y), "inner dimensions");
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

/* 3000 ones dotted with 3000 ones is 3000, which f16 represents (even, below
 * 4096). Summing in f16 would stall at 2048 (2048 + 1 rounds back to 2048),
 * so this shows the accumulation happens in wider precision. */
static void test_half_accumulation(void) {
    kiln_tensor a = make_tensor(KILN_F16, 2, SHAPE(1, 3000), NULL), b = make_tensor(KILN_F16, 2, SHAPE(3000, 1), NULL), y;
    for (int i = 0; i < 3000; i++) {
        kiln_store_f64(a.data, KILN_F16, (size_t)i, 1);
        kiln_store_f64(b.data, KILN_F16, (size_t)i, 1);
    }
    CHECK_OK(mm(&a, &b, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 1), VALS(3000), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
}

int main(void) {
    test_small();
    test_batch_broadcast();
    test_trans_b();
    test_half_accumulation();
    return test_finish("test_ref_matmul");
}
