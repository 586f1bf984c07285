/* kiln_plan_compile_limited: kernels that would read more tensors than a
 * backend binds are split by materializing inlined values. Checked: every
 * kernel fits the limit, the split plan computes what the reference does
 * (exactly: the same f32 additions in the same order, only stored between
 * kernels), the unlimited plan stays one kernel, and an op that alone reads
 * too many tensors fails by name. */
#include <stdlib.h>

#include "test_kernel_util.h"

static const tp_sym bind[] = {{NULL, 0}};

/* Plan of g with at most `limit` buffers per kernel, run against the
 * reference; returns the kernel count (-1 on failure). */
static int split_run(const kiln_graph *g, int limit, const char *what) {
    kiln_plan *p = NULL;
    kiln_status s = kiln_plan_compile_limited(g, NULL, limit, &p);
    if (s) {
        fprintf(stderr, "%s: %s\n", what, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return -1;
    }
    for (int k = 0; k < kiln_plan_kernel_count(p); k++)
        if (limit > 0 && kiln_plan_kernel(p, k)->nbufs > limit) {
            fprintf(stderr, "%s: kernel %d has %d buffers, limit %d\n", what, k, kiln_plan_kernel(p, k)->nbufs, limit);
            test_failures++;
        }
    kiln_tensor_map *w, *in, *got = NULL;
    tp_feed(g, bind, 4, 7, &w, &in);
    kiln_tensor_map *want = tp_ref(g, w, in);
    s = kiln_plan_run(p, w, in, &got);
    if (s) {
        fprintf(stderr, "%s: running: %s\n", what, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    } else if (!want || !tp_maps_close(want, got, 0, 0, what)) {
        test_failures++;
    }
    int n = kiln_plan_kernel_count(p);
    kiln_tensor_map_free(want);
    kiln_tensor_map_free(got);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
    kiln_plan_free(p);
    return n;
}

/* ((x0 + x1) + x2) + ... + x(n-1), halved (and summed over axis 1): one
 * kernel reading n tensors when nothing limits it */
static kiln_graph *sum_chain(int n, int reduce) {
    kiln_graph *g = kiln_graph_new("sum chain");
    kiln_value acc = KILN_NONE;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        kiln_value x = tp_input(g, name, KILN_F32, 2, DIMS(3, 5));
        acc = i ? TP2(g, KILN_OP_ADD, acc, x) : x;
    }
    acc = TP2(g, KILN_OP_MUL, acc, tp_scalar(g, KILN_F32, 0.5));
    if (reduce) {
        kiln_named_attr a[2] = {kiln_a_ints("axes", 1, (int64_t[]){1}), kiln_a_bool("keepdims", 0)};
        acc = tp_node(g, KILN_OP_REDUCE_SUM, 1, &acc, 2, a);
    }
    if (kiln_graph_add_output(g, "y", acc)) exit(1);
    return g;
}

int main(void) {
    kiln_graph *g = sum_chain(20, 0);
    CHECK(split_run(g, 0, "sum of 20, no limit") == 1);
    int k = split_run(g, 6, "sum of 20, 6 buffers");
    CHECK(k > 1 && k <= 5); /* 20 inputs, 5 new reads per kernel at worst */
    CHECK(split_run(g, 16, "sum of 20, 16 buffers") == 2);
    /* the same through a reduction's prologue */
    kiln_graph_free(g);
    g = sum_chain(12, 1);
    CHECK(split_run(g, 4, "reduce over a sum of 12, 4 buffers") > 1);
    kiln_graph_free(g);

    /* one concat reading 8 tensors cannot fit 4 buffers */
    g = kiln_graph_new("wide concat");
    kiln_value xs[8];
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        xs[i] = tp_input(g, name, KILN_F32, 1, DIMS(2));
    }
    kiln_named_attr ax = kiln_a_int("axis", 0);
    if (kiln_graph_add_output(g, "y", tp_node(g, KILN_OP_CONCAT, 8, xs, 1, &ax))) exit(1);
    kiln_plan *p = NULL;
    CHECK_ERR(kiln_plan_compile_limited(g, NULL, 4, &p), "reads 8 tensors and cannot be split into kernels of at most 4");
    CHECK(p == NULL);
    kiln_graph_free(g);
    return test_finish("test_plan_split");
}
