/* rope and rel_pos_bucket on the reference interpreter. */
#include <stdint.h>

#include "test_ref_util.h"

static kiln_status rope(const kiln_tensor *x, const kiln_tensor *pos, int interleaved, int rotary_dim, kiln_tensor *y) {
    const kiln_tensor *ins[2] = {x, pos};
    kiln_named_attr a[2] = {kiln_a_bool("interleaved", interleaved), kiln_a_int("rotary_dim", rotary_dim)};
    return op_eval(KILN_OP_ROPE, 2, ins, 2, a, y);
}

static void test_rope_hand(void) {
    /* D = 2: one pair, inv_freq = 1 / 10000^0 = 1, angle = position.
     * [1, 0] at position 0 stays; at position 1 it turns by 1 rad to
     * [cos 1, sin 1] = [0.5403023, 0.8414710]; [0, 2] at position 1 goes
     * to [-2 sin 1, 2 cos 1] = [-1.6829420, 1.0806046]. */
    kiln_tensor x = make_tensor(KILN_F32, 2, SHAPE(3, 2), VALS(1, 0, 1, 0, 0, 2));
    kiln_tensor pos = make_ints(KILN_I64, 1, SHAPE(3), (const int64_t[]){0, 1, 1}), y;
    CHECK_OK(rope(&x, &pos, 0, 0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(3, 2),
                 VALS(1, 0, 0.5403023058681398, 0.8414709848078965, -1.682941969615793, 1.0806046117362795), 1e-6);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);
    kiln_tensor_release(&pos);

    /* D = 4, position 2, x = [1, 2, 3, 4]. Frequencies: i = 0 -> 1,
     * i = 1 -> 1/10000^(2/4) = 0.01; angles 2 and 0.02.
     * cos 2 = -0.4161468, sin 2 = 0.9092974; cos .02 = 0.9998000, sin .02 = 0.0199987.
     * non-interleaved pairs (0,2) and (1,3):
     *   (1,3) by 2:    1*c - 3*s = -3.1440390,  3*c + 1*s = -0.3391431
     *   (2,4) by 0.02: 2*c - 4*s =  1.9196053,  4*c + 2*s =  4.0391975
     * interleaved pairs (0,1) and (2,3):
     *   (1,2) by 2:    1*c - 2*s = -2.2347417,  2*c + 1*s =  0.0770037
     *   (3,4) by 0.02: 3*c - 4*s =  2.9194052,  4*c + 3*s =  4.0591961 */
    x = make_tensor(KILN_F32, 2, SHAPE(1, 4), VALS(1, 2, 3, 4));
    pos = make_ints(KILN_I32, 1, SHAPE(1), (const int64_t[]){2});
    CHECK_OK(rope(&x, &pos, 0, 0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 4), VALS(-3.1440390, 1.9196053, -0.3391431, 4.0391975), 1e-6);
    kiln_tensor_release(&y);
    CHECK_OK(rope(&x, &pos, 1, 0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 4), VALS(-2.2347417, 0.0770037, 2.9194052, 4.0591961), 1e-6);
    kiln_tensor_release(&y);
    kiln_tensor_release(&x);
    kiln_tensor_release(&pos);
}

/* x [2, 3, 5, 8] with rotary_dim 4 (dims 4..7 pass through) and with the
 * full head, both pairings, against the rotation formula evaluated here in
 * double. The kernel computes frequencies and angles in float32 (as HF
 * does); positions up to 40 make the angle error up to ~40 * 2^-24 * 2,
 * about 5e-6 rad, hence the 2e-5 tolerance. */
static void test_rope_formula(void) {
    const int64_t B = 2, H = 3, S = 5, D = 8;
    const int64_t positions[5] = {0, 3, 7, 21, 40};
    double xv[2 * 3 * 5 * 8], want[2 * 3 * 5 * 8];
    for (int i = 0; i < 240; i++) xv[i] = sin(0.37 * i) + 0.1 * (i % 4);
    kiln_tensor x = make_tensor(KILN_F32, 4, SHAPE(B, H, S, D), xv);
    kiln_tensor pos = make_ints(KILN_I64, 1, SHAPE(S), positions);
    for (int mode = 0; mode < 4; mode++) {
        int interleaved = mode & 1, R = mode & 2 ? 4 : 8, half = R / 2;
        for (int64_t r = 0; r < B * H * S; r++) {
            const double *row = xv + r * D;
            double *w = want + r * D;
            for (int64_t k = 0; k < D; k++) w[k] = row[k];
            for (int i = 0; i < half; i++) {
                double angle = (double)positions[r % S] * pow(10000.0, -2.0 * i / R);
                int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
                w[a] = row[a] * cos(angle) - row[b] * sin(angle);
                w[b] = row[b] * cos(angle) + row[a] * sin(angle);
            }
        }
        kiln_tensor y;
        CHECK_OK(rope(&x, &pos, interleaved, R, &y));
        if (!CHECK_TENSOR(&y, 4, SHAPE(B, H, S, D), want, 2e-5))
            fprintf(stderr, "  (interleaved %d, rotary_dim %d)\n", interleaved, R);
        kiln_tensor_release(&y);
    }
    kiln_tensor_release(&x);
    kiln_tensor_release(&pos);
}

static kiln_status bucket(const kiln_tensor *q, const kiln_tensor *k, int bidirectional, kiln_tensor *y) {
    const kiln_tensor *ins[2] = {q, k};
    kiln_named_attr a[3] = {kiln_a_bool("bidirectional", bidirectional), kiln_a_int("num_buckets", 32),
                            kiln_a_int("max_distance", 128)};
    return op_eval(KILN_OP_REL_POS_BUCKET, 2, ins, 3, a, y);
}

/* T5 buckets, num_buckets 32, max_distance 128. The hand values below
 * were also confirmed with transformers' T5Attention._relative_position_bucket
 * at development time. */
static void test_rel_pos_bucket(void) {
    /* Bidirectional: nb = 32/2 = 16, max_exact = 8, log(128/8) = log 16 = 2.7725887.
     * rel = k - q. Row q = 0, keys [0, 3, -3, 20, -200]:
     *    0: ret 0, n 0 < 8                      -> 0
     *    3: ret 16 (rel > 0), n 3               -> 19
     *   -3: ret 0, n 3                          -> 3
     *   20: ret 16, n 20: log(20/8) = 0.9162907 / 2.7725887 = 0.3304820 * 8 = 2.64 -> 2;
     *       8 + 2 = 10 (< 15)                   -> 26
     * -200: ret 0, log(200/8) = 3.2188758 / 2.7725887 = 1.1609640 * 8 = 9.29 -> 9;
     *       8 + 9 = 17, capped at 15            -> 15
     * Row q = 10, rel [-10, -7, -13, 10, -210]:
     *  -10: log(10/8) = 0.2231436 / 2.7725887 * 8 = 0.64 -> 0; 8 + 0 -> 8
     *   -7: n 7 < 8                             -> 7
     *  -13: log(13/8) = 0.4855078 / 2.7725887 * 8 = 1.40 -> 1; 8 + 1 -> 9
     *   10: 16 + 8                              -> 24
     * -210: log(26.25) = 3.2676660 / 2.7725887 * 8 = 9.43 -> 9; 17 capped -> 15 */
    kiln_tensor q = make_ints(KILN_I64, 1, SHAPE(2), (const int64_t[]){0, 10});
    kiln_tensor k = make_ints(KILN_I64, 1, SHAPE(5), (const int64_t[]){0, 3, -3, 20, -200}), y;
    CHECK_OK(bucket(&q, &k, 1, &y));
    CHECK(y.dtype == KILN_I64);
    CHECK_TENSOR(&y, 2, SHAPE(2, 5), VALS(0, 19, 3, 26, 15, 8, 7, 9, 24, 15), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&q);
    kiln_tensor_release(&k);

    /* Unidirectional (decoder): nb = 32, max_exact = 16, n = max(-rel, 0),
     * log(128/16) = log 8 = 2.0794415. Query 0, keys [5, -5, -40, -1000]:
     *     5: n 0                                -> 0
     *    -5: n 5 < 16                           -> 5
     *   -40: log(40/16) = 0.9162907 / 2.0794415 = 0.4406427 * 16 = 7.05 -> 7; 16 + 7 -> 23
     * -1000: log(62.5) = 4.1351666 / 2.0794415 = 1.9885948 * 16 = 31.8 -> 31; 47 capped -> 31 */
    q = make_ints(KILN_I32, 1, SHAPE(1), (const int64_t[]){0});
    k = make_ints(KILN_I32, 1, SHAPE(4), (const int64_t[]){5, -5, -40, -1000});
    CHECK_OK(bucket(&q, &k, 0, &y));
    CHECK_TENSOR(&y, 2, SHAPE(1, 4), VALS(0, 5, 23, 31), 0);
    kiln_tensor_release(&y);
    kiln_tensor_release(&q);
    kiln_tensor_release(&k);
}

int main(void) {
    test_rope_hand();
    test_rope_formula();
    test_rel_pos_bucket();
    return test_finish("test_ref_position");
}
