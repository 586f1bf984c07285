/* Fusion: the groups a graph becomes (kernel count, template, fused nodes,
 * views) and that the fused plan still computes what the reference does.
 * Tolerance as in test_kernel_ops.c (the evaluator rounds where the
 * reference does, except a norm's weight/bias epilogue): 1e-6. */
#include <stdlib.h>

#include "kiln/lang.h"
#include "test_kernel_util.h"

static const tp_sym b1[] = {{"batch", 1}, {"seq", 1}, {"past", 0}, {NULL, 0}};
static const tp_sym b2[] = {{"batch", 2}, {"seq", 5}, {"past", 3}, {NULL, 0}};
static const tp_sym *const bindings[] = {b1, b2, NULL};

/* The plan's graph is g after the passes; node numbers differ, so tests
 * find kernels by name and template. */
static const kiln_kernel *kernel_named(const kiln_plan *p, const char *name) {
    for (int i = 0; i < kiln_plan_kernel_count(p); i++)
        if (strcmp(kiln_plan_kernel(p, i)->name, name) == 0) return kiln_plan_kernel(p, i);
    return NULL;
}

static void check_numbers(const kiln_graph *g, const char *what) {
    CHECK(tp_plan_vs_ref(g, bindings, 3, 1e-6, 1e-6, what) > 0);
}

/* x + gelu(x @ w + b): matmul, bias, activation and residual in one kernel. */
static void test_matmul_epilogue(void) {
    kiln_graph *g = kiln_graph_new("mlp");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(s, 8));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(8, 8)), b = tp_param(g, "b", KILN_F32, 1, DIMS(8));
    kiln_value h = TP1(g, KILN_OP_GELU, TP2(g, KILN_OP_ADD, TP2(g, KILN_OP_MATMUL, x, w), b));
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_ADD, x, h)));
    kiln_plan *p = tp_compile(g);
    if (!p) return;
    CHECK(kiln_plan_kernel_count(p) == 1);
    const kiln_kernel *k = kiln_plan_kernel(p, 0);
    CHECK(k->kind == KILN_K_MATMUL && strcmp(k->name, "matmul+add+gelu+add") == 0);
    CHECK(k->nnodes == 4);
    /* a and b read straight from the input and the weight */
    CHECK(k->views[KILN_KV_A].strided && k->views[KILN_KV_B].strided);
    kiln_plan_free(p);
    check_numbers(g, "matmul epilogue");

    /* an output in the middle ends the epilogue there */
    CHECK_OK(kiln_graph_add_output(g, "pre", TP2(g, KILN_OP_ADD, TP2(g, KILN_OP_MATMUL, x, w), b)));
    kiln_graph *g2 = kiln_graph_new("mlp2");
    kiln_dim s2 = kiln_dim_symbol(g2, "seq");
    x = tp_input(g2, "x", KILN_F32, 2, DIMS(s2, 8));
    w = tp_param(g2, "w", KILN_F32, 2, DIMS(8, 8));
    b = tp_param(g2, "b", KILN_F32, 1, DIMS(8));
    kiln_value pre = TP2(g2, KILN_OP_ADD, TP2(g2, KILN_OP_MATMUL, x, w), b);
    CHECK_OK(kiln_graph_add_output(g2, "pre", pre));
    CHECK_OK(kiln_graph_add_output(g2, "y", TP2(g2, KILN_OP_ADD, x, TP1(g2, KILN_OP_GELU, pre))));
    p = tp_compile(g2);
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 2);
        CHECK(kernel_named(p, "matmul+add") && kernel_named(p, "gelu+add"));
        kiln_plan_free(p);
    }
    check_numbers(g2, "epilogue cut by an output");
    kiln_graph_free(g);
    kiln_graph_free(g2);
}

/* Row kernels take an elementwise prologue and epilogue. */
static void test_rows(void) {
    kiln_graph *g = kiln_graph_new("rows");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(s, 7)), m = tp_input(g, "m", KILN_F32, 2, DIMS(1, 7));
    kiln_value sm = tp_node(g, KILN_OP_SOFTMAX, 1, (kiln_value[]){TP2(g, KILN_OP_ADD, TP2(g, KILN_OP_MUL, x, tp_scalar(g, KILN_F32, 0.5)), m)}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "softmax", TP2(g, KILN_OP_MUL, sm, tp_scalar(g, KILN_F32, 3))));
    kiln_value w = tp_param(g, "w", KILN_F32, 1, DIMS(7)), bias = tp_param(g, "b", KILN_F32, 1, DIMS(7));
    kiln_value y = tp_input(g, "y", KILN_F32, 2, DIMS(s, 7));
    kiln_value ln = tp_node(g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){TP2(g, KILN_OP_SUB, y, m), w, bias}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "layer_norm", TP1(g, KILN_OP_RELU, ln)));
    kiln_value rms = tp_node(g, KILN_OP_RMS_NORM, 2, (kiln_value[]){TP1(g, KILN_OP_EXP, y), w}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "rms_norm", TP2(g, KILN_OP_ADD, rms, bias)));
    kiln_plan *p = tp_compile(g);
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 3);
        for (int i = 0; i < kiln_plan_kernel_count(p); i++) CHECK(kiln_plan_kernel(p, i)->kind == KILN_K_ROW);
        CHECK(kernel_named(p, "mul+add+softmax+mul"));
        CHECK(kernel_named(p, "sub+layer_norm+relu"));
        CHECK(kernel_named(p, "exp+rms_norm+add"));
        kiln_plan_free(p);
    }
    check_numbers(g, "row prologues and epilogues");
    /* a reduction the same way: mean(x * x) + 1 */
    kiln_graph *r = kiln_graph_new("reduce");
    s = kiln_dim_symbol(r, "seq");
    x = tp_input(r, "x", KILN_F32, 2, DIMS(s, 6));
    kiln_named_attr ax[2] = {kiln_a_ints("axes", 1, (int64_t[]){1}), kiln_a_bool("keepdims", 1)};
    kiln_value mean = tp_node(r, KILN_OP_REDUCE_MEAN, 1, (kiln_value[]){TP2(r, KILN_OP_MUL, x, x)}, 2, ax);
    CHECK_OK(kiln_graph_add_output(r, "y", TP2(r, KILN_OP_ADD, mean, tp_scalar(r, KILN_F32, 1))));
    p = tp_compile(r);
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 1 && kiln_plan_kernel(p, 0)->kind == KILN_K_REDUCE);
        CHECK(strcmp(kiln_plan_kernel(p, 0)->name, "mul+reduce_mean+add") == 0);
        kiln_plan_free(p);
    }
    check_numbers(r, "reduce prologue and epilogue");
    kiln_graph_free(g);
    kiln_graph_free(r);
}

/* One fused qkv projection feeding attention through split + reshape +
 * transpose views: grouped heads (4 query, 2 kv), causal, with a KV cache
 * (keys = past ++ new). Two kernels: the projection and the attention. */
static void test_attention_views(void) {
    kiln_graph *g = kiln_graph_new("attn");
    kiln_dim B = kiln_dim_symbol(g, "batch"), S = kiln_dim_symbol(g, "seq"), P = kiln_dim_symbol(g, "past");
    const int H = 4, Hk = 2, D = 3;
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(B, S, 8));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS((H + 2 * Hk) * D, 8));
    kiln_value pk = tp_input(g, "past_k", KILN_F32, 4, DIMS(B, Hk, P, D)), pv = tp_input(g, "past_v", KILN_F32, 4, DIMS(B, Hk, P, D));
    kiln_named_attr tr = kiln_a_ints("perm", 2, (int64_t[]){1, 0});
    kiln_value qkv = TP2(g, KILN_OP_MATMUL, x, tp_node(g, KILN_OP_TRANSPOSE, 1, &w, 1, &tr));
    kiln_value parts[3];
    int64_t lo = 0, widths[3] = {H * D, Hk * D, Hk * D}, heads[3] = {H, Hk, Hk};
    kiln_named_attr perm = kiln_a_ints("perm", 4, (int64_t[]){0, 2, 1, 3});
    for (int i = 0; i < 3; i++) {
        kiln_named_attr sl[3] = {kiln_a_int("axis", 2), kiln_a_dim("start", lo), kiln_a_dim("end", lo + widths[i])};
        kiln_value piece = tp_node(g, KILN_OP_SLICE, 1, &qkv, 3, sl);
        kiln_named_attr rs = kiln_a_dims("shape", 4, DIMS(B, S, heads[i], D));
        piece = tp_node(g, KILN_OP_RESHAPE, 1, &piece, 1, &rs);
        parts[i] = tp_node(g, KILN_OP_TRANSPOSE, 1, &piece, 1, &perm);
        lo += widths[i];
    }
    kiln_named_attr cat = kiln_a_int("axis", 2), causal = kiln_a_bool("causal", 1);
    kiln_value k = tp_node(g, KILN_OP_CONCAT, 2, (kiln_value[]){pk, parts[1]}, 1, &cat);
    kiln_value v = tp_node(g, KILN_OP_CONCAT, 2, (kiln_value[]){pv, parts[2]}, 1, &cat);
    kiln_value att = tp_node(g, KILN_OP_ATTENTION, 3, (kiln_value[]){parts[0], k, v}, 1, &causal);
    /* merge heads back for a projection: the c_proj matmul reads through it */
    kiln_value merged = tp_node(g, KILN_OP_TRANSPOSE, 1, &att, 1, &perm);
    kiln_named_attr rs = kiln_a_dims("shape", 3, DIMS(B, S, H * D));
    merged = tp_node(g, KILN_OP_RESHAPE, 1, &merged, 1, &rs);
    kiln_value wo = tp_param(g, "wo", KILN_F32, 2, DIMS(H * D, 8));
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_MATMUL, merged, wo)));
    kiln_plan *p = tp_compile(g);
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 3);
        const kiln_kernel *a = kernel_named(p, "attention");
        CHECK(a && a->kind == KILN_K_ATTENTION && a->causal && a->nviews == 3);
        if (a) {
            /* q is a strided view of the projection's output; k and v join the cache and the projection */
            const kiln_kernel *proj = kiln_plan_kernel(p, 0);
            int qkv_tensor = proj->bufs[proj->out_buf].tensor;
            CHECK(a->views[KILN_KV_Q].strided && a->bufs[a->views[KILN_KV_Q].buf].tensor == qkv_tensor);
            CHECK(!a->views[KILN_KV_K].strided);
            int reads_cache = 0;
            for (int i = 0; i < a->nbufs; i++) {
                const kiln_ptensor *t = kiln_plan_tensor(p, a->bufs[i].tensor);
                reads_cache += t->kind == KILN_PT_INPUT && t->name && strncmp(t->name, "past_", 5) == 0;
            }
            CHECK(reads_cache == 2);
        }
        /* the projection took the transposed weight as trans_b */
        CHECK(kiln_plan_kernel(p, 0)->kind == KILN_K_MATMUL && kiln_plan_kernel(p, 2)->kind == KILN_K_MATMUL);
        kiln_plan_free(p);
    }
    check_numbers(g, "attention views");
    kiln_graph_free(g);
}

/* Pointwise nodes with several consumers are materialized, unless they
 * only move data (then every consumer recomputes the index). */
static void test_materialization(void) {
    kiln_graph *g = kiln_graph_new("shared");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(s, 4));
    kiln_value w1 = tp_param(g, "w1", KILN_F32, 2, DIMS(4, 4)), w2 = tp_param(g, "w2", KILN_F32, 2, DIMS(4, 4));
    kiln_value e = TP1(g, KILN_OP_EXP, x);
    kiln_named_attr tr = kiln_a_ints("perm", 2, (int64_t[]){1, 0});
    kiln_value xt = tp_node(g, KILN_OP_TRANSPOSE, 1, &x, 1, &tr); /* [4, seq] */
    CHECK_OK(kiln_graph_add_output(g, "a", TP2(g, KILN_OP_MATMUL, e, w1)));
    CHECK_OK(kiln_graph_add_output(g, "b", TP2(g, KILN_OP_MATMUL, e, w2)));
    CHECK_OK(kiln_graph_add_output(g, "c", TP2(g, KILN_OP_MATMUL, w1, xt)));
    CHECK_OK(kiln_graph_add_output(g, "d", TP2(g, KILN_OP_MATMUL, w2, xt)));
    kiln_plan *p = tp_compile(g);
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 5); /* exp + four matmuls; the transpose is inlined twice */
        CHECK(kernel_named(p, "exp") != NULL);
        kiln_plan_free(p);
    }
    check_numbers(g, "materialization");
    kiln_graph_free(g);
}

static kiln_graph *gpt2(int layers, kiln_lang_mode mode) {
    const char *dir = getenv("KILN_SOURCE_DIR");
    char path[4096], nl[32];
    snprintf(path, sizeof path, "%s/examples/gpt2.kiln", dir ? dir : ".");
    snprintf(nl, sizeof nl, "n_layer=%d", layers);
    const char *ov[] = {nl, "n_embd=12", "n_head=3", "vocab_size=17", "n_positions=16"};
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.overrides = ov;
    o.noverrides = 5;
    o.mode = mode;
    kiln_graph *g = NULL;
    CHECK_OK(kiln_lang_compile_file(path, &o, &g, NULL));
    return g;
}

/* A GPT-2 layer is 7 kernels: ln_1, qkv matmul+bias, attention, proj
 * matmul+bias+residual, ln_2, fc matmul+bias+gelu, proj matmul+bias+residual.
 * Counted as the difference between 3 and 2 layers: from 2 layers on, the
 * padding mask all layers share is one kernel of its own. */
static void test_gpt2(void) {
    int counts[4] = {0, 0, 0, 0};
    kiln_plan *plans[4] = {NULL, NULL, NULL, NULL};
    for (int layers = 1; layers <= 3; layers++) {
        kiln_graph *g = gpt2(layers, KILN_LANG_FORWARD);
        if (!g) return;
        plans[layers] = tp_compile(g);
        counts[layers] = plans[layers] ? kiln_plan_kernel_count(plans[layers]) : -1;
        if (layers < 3) check_numbers(g, layers == 1 ? "gpt2 1 layer" : "gpt2 2 layers");
        kiln_graph_free(g);
    }
    int per_layer = counts[3] - counts[2];
    fprintf(stderr, "gpt2: %d, %d, %d kernels for 1, 2, 3 layers: %d per layer\n", counts[1], counts[2], counts[3], per_layer);
    CHECK(per_layer <= 8);
    CHECK(per_layer == 7);
    /* one layer's kernels, in order */
    static const char *const layer[] = {"layer_norm", "matmul+add", "attention", "matmul+add+add",
                                        "layer_norm", "matmul+add+gelu_tanh", "matmul+add+add"};
    const kiln_plan *p = plans[3];
    int found = 0;
    for (int start = 0; p && start + 7 <= kiln_plan_kernel_count(p); start++) {
        int ok = 1;
        for (int i = 0; i < 7 && ok; i++) ok = strcmp(kiln_plan_kernel(p, start + i)->name, layer[i]) == 0;
        found += ok;
    }
    CHECK(found == 2); /* the first layer also has the shared mask kernel scheduled inside it */
    for (int i = 1; i <= 3; i++) kiln_plan_free(plans[i]);

    /* with a KV cache: the same numbers, present.* outputs written by concat kernels */
    kiln_graph *g = gpt2(2, KILN_LANG_CACHED);
    if (g) {
        check_numbers(g, "gpt2 cached");
        kiln_graph_free(g);
    }
}

static void test_print(void) {
    kiln_graph *g = kiln_graph_new("print");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(s, 4));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(4, 4)), b = tp_param(g, "b", KILN_F32, 1, DIMS(4));
    CHECK_OK(kiln_graph_add_output(g, "y", TP1(g, KILN_OP_GELU_TANH, TP2(g, KILN_OP_ADD, TP2(g, KILN_OP_MATMUL, x, w), b))));
    kiln_plan *p = tp_compile(g);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (p) {
        CHECK_OK(kiln_plan_print_groups(p, f));
        CHECK_OK(kiln_plan_print_kernels(p, f));
        int64_t seq = 3;
        CHECK_OK(kiln_plan_print_stats(p, &seq, f));
    }
    fclose(f);
    CHECK(text && strstr(text, "kernel 0 \"matmul+add+gelu_tanh\" matmul root %"));
    CHECK(text && strstr(text, "in: t") && strstr(text, "'w' f32[4, 4] (param)"));
    CHECK(text && strstr(text, "out: t") && strstr(text, "'y' f32[seq, 4] (output)"));
    CHECK(text && strstr(text, "= value 0 : f32") && strstr(text, "gelu_tanh e"));
    CHECK(text && strstr(text, "kernels: 1 (pointwise 0, reduce 0, row 0, matmul 1, attention 0)"));
    free(text);
    kiln_plan_free(p);
    kiln_graph_free(g);
}

int main(void) {
    test_matmul_epilogue();
    test_rows();
    test_attention_views();
    test_materialization();
    test_gpt2();
    test_print();
    return test_finish("test_fusion");
}
