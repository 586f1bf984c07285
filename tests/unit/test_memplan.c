/* Memory planning: liveness intervals, best-fit arena offsets, in-place
 * reuse. The central property is checked exhaustively on every plan: two
 * arena tensors whose live ranges (producer .. last reader, in kernels)
 * overlap never share bytes, unless the later one was placed in place of
 * the earlier at the kernel where the earlier dies. */
#include <stdlib.h>

#include "kiln/lang.h"
#include "test_kernel_util.h"

static int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }

/* Independent liveness from the kernels' slots. */
static void check_liveness(const kiln_plan *p) {
    for (int t = 0; t < kiln_plan_tensor_count(p); t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(p, t);
        int producer = -1, last = -1;
        for (int k = 0; k < kiln_plan_kernel_count(p); k++) {
            const kiln_kernel *kn = kiln_plan_kernel(p, k);
            for (int s = 0; s < kn->nbufs; s++) {
                if (kn->bufs[s].tensor != t) continue;
                if (kn->bufs[s].access & KILN_KBUF_WRITE) {
                    CHECK(producer < 0); /* written once */
                    producer = k;
                }
                if (kn->bufs[s].access & KILN_KBUF_READ) {
                    CHECK(producer >= 0 || pt->kind != KILN_PT_INTERMEDIATE); /* read after written */
                    last = k;
                }
            }
        }
        CHECK(pt->producer == producer);
        if (producer >= 0) CHECK(pt->last_use == (last > producer ? last : producer));
        CHECK((producer >= 0) == (pt->kind == KILN_PT_INTERMEDIATE || pt->kind == KILN_PT_OUTPUT));
    }
}

/* Every pair of arena tensors, exhaustively. Returns the number of pairs
 * that were live together (so callers can see the check had work). */
static int check_no_overlap(const kiln_plan *p, const kiln_memplan *m) {
    int together = 0;
    int64_t top = 0;
    for (int a = 0; a < kiln_plan_tensor_count(p); a++) {
        const kiln_ptensor *ta = kiln_plan_tensor(p, a);
        if (ta->kind != KILN_PT_INTERMEDIATE) {
            CHECK(m->offset[a] == -1);
            continue;
        }
        CHECK(m->offset[a] >= 0 && m->offset[a] % KILN_ARENA_ALIGN == 0);
        if (m->offset[a] + m->bytes[a] > top) top = m->offset[a] + m->bytes[a];
        for (int b = a + 1; b < kiln_plan_tensor_count(p); b++) {
            const kiln_ptensor *tb = kiln_plan_tensor(p, b);
            if (tb->kind != KILN_PT_INTERMEDIATE || !m->bytes[a] || !m->bytes[b]) continue;
            int live = ta->producer <= tb->last_use && tb->producer <= ta->last_use;
            if (!live) continue;
            together++;
            /* in place: the later tensor took over at the kernel where the earlier died */
            const kiln_ptensor *early = ta->producer < tb->producer ? ta : tb, *late = early == ta ? tb : ta;
            int ie = early == ta ? a : b, il = early == ta ? b : a;
            if (m->inplace_of[il] == ie && early->last_use == late->producer && m->offset[ie] == m->offset[il]) continue;
            int apart = m->offset[a] + m->bytes[a] <= m->offset[b] || m->offset[b] + m->bytes[b] <= m->offset[a];
            if (!apart) {
                fprintf(stderr, "t%d [%lld, +%lld) live %d..%d overlaps t%d [%lld, +%lld) live %d..%d\n", a,
                        (long long)m->offset[a], (long long)m->bytes[a], ta->producer, ta->last_use, b,
                        (long long)m->offset[b], (long long)m->bytes[b], tb->producer, tb->last_use);
                test_failures++;
            }
        }
    }
    CHECK(top <= m->arena_bytes);
    return together;
}

static void check_plan(kiln_plan *p, const int64_t *symvals, const kiln_memplan **out) {
    const kiln_memplan *m = NULL;
    CHECK_OK(kiln_plan_memory(p, symvals, &m));
    *out = m;
    if (!m) return;
    check_liveness(p);
    check_no_overlap(p, m);
    int64_t sum = 0;
    for (int t = 0; t < kiln_plan_tensor_count(p); t++)
        if (kiln_plan_tensor(p, t)->kind == KILN_PT_INTERMEDIATE) sum += align64(m->bytes[t]);
    CHECK(m->unplanned_bytes == sum);
    CHECK(m->arena_bytes <= m->unplanned_bytes);
    /* an in-place pair: the donor dies at the kernel that produces the taker */
    for (int t = 0; t < kiln_plan_tensor_count(p); t++) {
        int u = m->inplace_of[t];
        if (u < 0) continue;
        CHECK(kiln_plan_tensor(p, u)->last_use == kiln_plan_tensor(p, t)->producer && m->bytes[u] == m->bytes[t]);
    }
}

static kiln_graph *gpt2(int layers) {
    const char *dir = getenv("KILN_SOURCE_DIR");
    char path[4096], nl[32];
    snprintf(path, sizeof path, "%s/examples/gpt2.kiln", dir ? dir : ".");
    snprintf(nl, sizeof nl, "n_layer=%d", layers);
    const char *ov[] = {nl, "n_embd=64", "n_head=4", "vocab_size=50", "n_positions=128"};
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.overrides = ov;
    o.noverrides = 5;
    kiln_graph *g = NULL;
    CHECK_OK(kiln_lang_compile_file(path, &o, &g, NULL));
    return g;
}

static void test_gpt2_arena(void) {
    kiln_graph *g = gpt2(4);
    kiln_plan *p = g ? tp_compile(g) : NULL;
    if (!p) {
        kiln_graph_free(g);
        return;
    }
    /* symbols in the plan graph's order */
    const kiln_graph *pg = kiln_plan_graph(p);
    const tp_sym small[] = {{"batch", 1}, {"seq", 7}, {NULL, 0}}, big[] = {{"batch", 2}, {"seq", 128}, {NULL, 0}};
    const tp_sym *binds[2] = {small, big};
    int64_t arena[2] = {0, 0};
    for (int b = 0; b < 2; b++) {
        int64_t sv[8];
        for (int i = 0; i < kiln_graph_symbol_count(pg); i++) sv[i] = tp_sym_value(pg, binds[b], i);
        const kiln_memplan *m = NULL;
        check_plan(p, sv, &m);
        if (!m) continue;
        arena[b] = m->arena_bytes;
        fprintf(stderr, "gpt2 4 layers, n_embd 64, batch %lld seq %lld: arena %lld bytes, unplanned %lld (%.1f%%), %d in place\n",
                (long long)sv[kiln_graph_symbol_find(pg, "batch")], (long long)sv[kiln_graph_symbol_find(pg, "seq")],
                (long long)m->arena_bytes, (long long)m->unplanned_bytes, 100.0 * (double)m->arena_bytes / (double)m->unplanned_bytes,
                m->ninplace);
        /* a deep model reuses memory heavily: well under half the unplanned sum */
        CHECK(2 * m->arena_bytes < m->unplanned_bytes);
        CHECK(m->ninplace > 0);
        /* cached per binding: the same plan object comes back */
        const kiln_memplan *again = NULL;
        CHECK_OK(kiln_plan_memory(p, sv, &again));
        CHECK(again == m);
    }
    CHECK(arena[1] > arena[0]);
    /* and the planned arena really works: run it against the reference */
    tp_plan_vs_ref(g, (const tp_sym *const[]){small, NULL}, 50, 1e-5, 1e-5, "gpt2 4 layers");
    kiln_plan_free(p);
    kiln_graph_free(g);
}

/* Unfused, a chain of elementwise kernels runs in place: each input dies
 * where the next output is written, at the same index. A transpose reads
 * elsewhere and a broadcast has another size: neither is in place. */
static void test_inplace(void) {
    kiln_graph *g = kiln_graph_new("chain");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(n, 16));
    kiln_value a = TP1(g, KILN_OP_SIN, x), b = TP1(g, KILN_OP_EXP, a), c = TP1(g, KILN_OP_NEG, b);
    kiln_named_attr tr = kiln_a_ints("perm", 2, (int64_t[]){1, 0});
    kiln_value t = tp_node(g, KILN_OP_TRANSPOSE, 1, &c, 1, &tr);
    kiln_value cs = TP1(g, KILN_OP_COS, t); /* runs before the reduction, which reads t again */
    kiln_value r = tp_node(g, KILN_OP_REDUCE_SUM, 1, &t, 1, (kiln_named_attr[]){kiln_a_ints("axes", 1, (int64_t[]){0})});
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_ADD, cs, r)));
    kiln_plan_options opt = {NULL, 0, 1};
    kiln_plan *p = NULL;
    CHECK_OK(kiln_plan_compile(g, &opt, &p));
    if (!p) return;
    int64_t nv = 5;
    const kiln_memplan *m = NULL;
    check_plan(p, &nv, &m);
    if (m) {
        /* sin -> exp -> neg share one block; the transpose needs its own */
        int exp_t = -1, neg_t = -1, tr_t = -1, cos_t = -1;
        for (int k = 0; k < kiln_plan_kernel_count(p); k++) {
            const kiln_kernel *kn = kiln_plan_kernel(p, k);
            int out = kn->bufs[kn->out_buf].tensor;
            if (!strcmp(kn->name, "exp")) exp_t = out;
            if (!strcmp(kn->name, "neg")) neg_t = out;
            if (!strcmp(kn->name, "transpose")) tr_t = out;
            if (!strcmp(kn->name, "cos")) cos_t = out;
        }
        CHECK(exp_t >= 0 && neg_t >= 0 && tr_t >= 0 && cos_t >= 0);
        if (exp_t >= 0 && neg_t >= 0 && tr_t >= 0 && cos_t >= 0) {
            CHECK(m->inplace_of[exp_t] >= 0 && m->inplace_of[neg_t] == exp_t);
            CHECK(m->inplace_of[tr_t] < 0);
            /* t is read by cos and by the reduction after it: cos is not in place of t */
            CHECK(m->inplace_of[cos_t] < 0);
        }
        /* 5 x 16 floats = 320 bytes a tensor: the chain's block, the transpose,
         * then the reduction, cos and the sum reuse freed blocks */
        CHECK(m->arena_bytes < m->unplanned_bytes);
    }
    tp_plan_vs_ref(g, (const tp_sym *const[]){(const tp_sym[]){{"n", 5}, {NULL, 0}}, NULL}, 1, 1e-6, 1e-6, "in-place chain");
    kiln_plan_free(p);
    kiln_graph_free(g);
}

/* Best fit: after a big and a small block are freed, a small tensor takes
 * the small hole, not the big one. Kernels (unfused):
 *   0 a = sin(x)     [n, 64]   (big)
 *   1 s = sum(a)     [n]       (small; a stays live: read again by 4)
 *   2 s2 = exp(s)    [n]
 *   ...
 * checked through the general overlap property plus arena < unplanned. */
static void test_many_shapes(void) {
    kiln_graph *g = kiln_graph_new("shapes");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(n, 64));
    kiln_named_attr ax = kiln_a_ints("axes", 1, (int64_t[]){1});
    kiln_value a = TP1(g, KILN_OP_SIN, x);
    kiln_value s = tp_node(g, KILN_OP_REDUCE_SUM, 1, &a, 1, &ax);
    kiln_value s2 = TP1(g, KILN_OP_EXP, s);
    kiln_named_attr keep[2] = {kiln_a_ints("axes", 1, (int64_t[]){1}), kiln_a_bool("keepdims", 1)};
    kiln_value big = TP2(g, KILN_OP_MUL, a, tp_node(g, KILN_OP_REDUCE_MAX, 1, &a, 2, keep));
    kiln_value s3 = TP2(g, KILN_OP_ADD, s2, tp_node(g, KILN_OP_REDUCE_MIN, 1, &big, 1, &ax));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(64, 8));
    kiln_value mm = TP2(g, KILN_OP_MATMUL, big, w);
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_ADD, TP1(g, KILN_OP_TANH, mm), tp_node(g, KILN_OP_RESHAPE, 1, &s3, 1, (kiln_named_attr[]){kiln_a_dims("shape", 2, DIMS(n, 1))}))));
    for (int fuse = 0; fuse < 2; fuse++) {
        kiln_plan_options opt = {NULL, 0, !fuse};
        kiln_plan *p = NULL;
        CHECK_OK(kiln_plan_compile(g, &opt, &p));
        if (!p) continue;
        for (int64_t nv = 1; nv <= 9; nv += 4) {
            const kiln_memplan *m = NULL;
            check_plan(p, &nv, &m);
        }
        kiln_plan_free(p);
    }
    tp_plan_vs_ref(g, (const tp_sym *const[]){(const tp_sym[]){{"n", 3}, {NULL, 0}}, NULL}, 1, 1e-6, 1e-6, "many shapes");
    kiln_graph_free(g);
}

/* Zero-size tensors take no space; a graph with no symbols plans without values. */
static void test_edges(void) {
    kiln_graph *g = kiln_graph_new("edges");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(n, 3));
    kiln_value e = TP1(g, KILN_OP_EXP, x);
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_MUL, TP1(g, KILN_OP_SIN, e), TP1(g, KILN_OP_COS, e))));
    kiln_plan_options opt = {NULL, 0, 1};
    kiln_plan *p = NULL;
    CHECK_OK(kiln_plan_compile(g, &opt, &p));
    if (p) {
        int64_t zero = 0;
        const kiln_memplan *m = NULL;
        check_plan(p, &zero, &m);
        CHECK(m && m->arena_bytes == 0);
        CHECK_ERR(kiln_plan_memory(p, NULL, &m), "symbols");
        kiln_plan_free(p);
    }
    tp_plan_vs_ref(g, (const tp_sym *const[]){(const tp_sym[]){{"n", 0}, {NULL, 0}}, NULL}, 1, 0, 0, "zero rows");
    kiln_graph_free(g);

    g = kiln_graph_new("static");
    x = tp_input(g, "x", KILN_F32, 1, DIMS(4));
    CHECK_OK(kiln_graph_add_output(g, "y", TP1(g, KILN_OP_NEG, TP1(g, KILN_OP_EXP, x))));
    p = NULL;
    CHECK_OK(kiln_plan_compile(g, &opt, &p));
    if (p) {
        const kiln_memplan *m = NULL;
        check_plan(p, NULL, &m);
        CHECK(m && m->arena_bytes == 64); /* exp's 16 bytes, aligned */
        kiln_plan_free(p);
    }
    kiln_graph_free(g);
}

int main(void) {
    test_gpt2_arena();
    test_inplace();
    test_many_shapes();
    test_edges();
    return test_finish("test_memplan");
}
