/* Generation steps on the CPU exec (kiln_cpu_exec_step): carries, resets,
 * the returned row and its top k, and argument errors, on a graph small
 * enough to check by hand:
 *   present = concat(past, x)   [1, p + 5]   (the carry)
 *   y = x + sum(past)           [1, 5]       (the row)
 * so after steps with x1, x2, ... the carry holds x1 x2 ... and step k's
 * row is x_k plus the sum of every earlier x. Values are small integers,
 * exact in f32. (The models' KV caches through this path are tested by
 * test_generate and test_generate_cache on the cpu device.) */
#include <math.h>
#include <string.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "kiln/cpu.h"
#include "test_pass_util.h"

static kiln_graph *build(void) {
    kiln_graph *g = kiln_graph_new("step");
    kiln_dim p = kiln_dim_symbol(g, "p");
    kiln_value past = tp_input(g, "past", KILN_F32, 2, DIMS(1, p)), x = tp_input(g, "x", KILN_F32, 2, DIMS(1, 5));
    kiln_named_attr ax = kiln_a_int("axis", 1);
    kiln_value present = tp_node(g, KILN_OP_CONCAT, 2, (kiln_value[]){past, x}, 1, &ax);
    kiln_named_attr ra[2] = {kiln_a_ints("axes", 1, (int64_t[]){1}), kiln_a_bool("keepdims", 1)};
    kiln_value sum = tp_node(g, KILN_OP_REDUCE_SUM, 1, &past, 2, ra);
    kiln_value y = TP2(g, KILN_OP_ADD, x, sum);
    if (kiln_graph_add_output(g, "present", present) || kiln_graph_add_output(g, "y", y)) return NULL;
    return g;
}

static kiln_tensor_map *feed(const float *x, const float *past, int64_t np) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    kiln_tensor t;
    int64_t xs[2] = {1, 5}, ps[2] = {1, np};
    CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 2, xs));
    memcpy(t.data, x, 5 * sizeof *x);
    CHECK_OK(kiln_tensor_map_put(m, "x", t));
    if (past) {
        CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 2, ps));
        if (np) memcpy(t.data, past, (size_t)np * sizeof *past);
        CHECK_OK(kiln_tensor_map_put(m, "past", t));
    }
    return m;
}

static const char *in_names[] = {"past"}, *out_names[] = {"present"};

static kiln_step_io io_for(int reset, int topk, float *row, int32_t *ids, float *vals) {
    kiln_step_io io = {1, in_names, out_names, reset, "y", 5, topk, row, ids, vals, 0};
    return io;
}

static void test_steps(kiln_cpu_exec *e) {
    float row[5];
    /* step 1: reset, an empty cache */
    float x1[5] = {1, 2, 3, 4, 5}, none[1] = {0};
    kiln_tensor_map *in = feed(x1, none, 0);
    kiln_step_io io = io_for(1, 0, row, NULL, NULL);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io));
    for (int i = 0; i < 5; i++) CHECK(row[i] == x1[i]);
    kiln_tensor_map_free(in);
    /* step 2: the carry (x1, sum 15) comes from the exec, not the inputs */
    float x2[5] = {10, 20, 30, 40, 50};
    in = feed(x2, NULL, 0);
    io = io_for(0, 0, row, NULL, NULL);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io));
    for (int i = 0; i < 5; i++) CHECK(row[i] == x2[i] + 15);
    kiln_tensor_map_free(in);
    /* step 3: carry x1 x2 (sum 165); top 3 of {165+7, NaN, 165+9, 165+7, 165-1}:
     * 174 (id 2), then the tie 172 at ids 0 and 3, lower id first */
    float x3[5] = {7, NAN, 9, 7, -1};
    in = feed(x3, NULL, 0);
    int32_t ids[8];
    float vals[8];
    io = io_for(0, 3, NULL, ids, vals);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io));
    CHECK(io.count == 3);
    CHECK(ids[0] == 2 && vals[0] == 174.0f);
    CHECK(ids[1] == 0 && vals[1] == 172.0f);
    CHECK(ids[2] == 3 && vals[2] == 172.0f);
    kiln_tensor_map_free(in);
    /* step 4: top 8 of a row with one NaN gives the 4 others */
    float x4[5] = {0, 0, 0, 0, 0};
    in = feed(x4, NULL, 0);
    io = io_for(0, 8, NULL, ids, vals);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io));
    /* the carry now holds x3's NaN: every row value is NaN, none comes back */
    CHECK(io.count == 0);
    kiln_tensor_map_free(in);
    /* a reset takes the cache from the inputs again: past = {100, 1} */
    float past[2] = {100, 1}, x5[5] = {1, 1, 1, 1, 1};
    in = feed(x5, past, 2);
    io = io_for(1, 0, row, NULL, NULL);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io));
    for (int i = 0; i < 5; i++) CHECK(row[i] == 102);
    kiln_tensor_map_free(in);
    in = feed(x5, NULL, 0);
    io = io_for(0, 0, row, NULL, NULL);
    CHECK_OK(kiln_cpu_exec_step(e, in, &io)); /* carry 100 1 1 1 1 1 1: sum 106 */
    for (int i = 0; i < 5; i++) CHECK(row[i] == 107);
    kiln_tensor_map_free(in);
}

static void test_errors(kiln_cpu_exec *e) {
    float row[5], x[5] = {0}, none[1] = {0};
    kiln_tensor_map *in = feed(x, none, 0);
    kiln_step_io io = io_for(1, 0, row, NULL, NULL);
    const char *bad_in[] = {"nope"};
    io.carry_in = bad_in;
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "no input 'nope'");
    io = io_for(1, 0, row, NULL, NULL);
    io.row_output = "logits";
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "no output 'logits'");
    io = io_for(1, 0, row, NULL, NULL);
    io.row_len = 4;
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "rows of 4");
    io = io_for(1, 257, row, NULL, NULL);
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "at most 256");
    kiln_tensor_map_free(in);
    /* a reset step without the cache among the inputs names it */
    in = feed(x, NULL, 0);
    io = io_for(1, 0, row, NULL, NULL);
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "input 'past' is missing");
    /* and after a failed step the carry is gone: a step without reset
     * cannot run on a stale cache */
    io = io_for(0, 0, row, NULL, NULL);
    CHECK_ERR(kiln_cpu_exec_step(e, in, &io), "input 'past' is missing");
    kiln_tensor_map_free(in);
}

int main(void) {
    kiln_graph *g = build();
    CHECK(g != NULL);
    kiln_cpu_program *p = NULL;
    kiln_cpu_exec *e = NULL;
    kiln_cpu_options o = {0};
    if (g) CHECK_OK(kiln_cpu_compile(g, &o, &p));
    if (p) CHECK_OK(kiln_cpu_exec_create(p, NULL, &o, &e));
    if (e) {
        test_steps(e);
        test_errors(e);
    }
    kiln_cpu_exec_free(e);
    kiln_cpu_program_free(p);
    kiln_graph_free(g);
    return test_finish("test_cpu_step");
}
#else
int main(void) {
    printf("test_cpu_step: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
