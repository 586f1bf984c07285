/* Whole models on the CPU backend against the reference interpreter: the
 * .kiln examples (GPT-2 and its variants, BERT, T5, Llama with GQA) with
 * small configs and random weights, forward and with a KV cache, with the
 * symbols bound at two values each. These exercise every fused pattern the
 * compiler makes from real models: embeddings (gather+gather+add), norms
 * with weight and bias epilogues, qkv projections with bias, attention over
 * strided q/k/v views of one projection (causal, padding masks, GQA, a KV
 * cache), c_proj reading merge_heads' transpose+reshape (packed for the
 * GEMM), bias+residual epilogues written in place of the residual stream,
 * gated MLPs, rope, T5's relative position buckets.
 *
 * Also the targets of the CPU backend issue: a GPT-2 layer is at most 8
 * kernels (7), and the planned arena is smaller than the unplanned sum.
 *
 * Tolerance: as tests/cli/fixtures.sh, atol 1e-4 + rtol 1e-3: f32 in f32
 * through several layers against double-then-round; a wrong element is an
 * O(1) difference. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "kiln/model.h"
#include "test_cpu_util.h"

static kiln_model *load(const char *file, const char *const *sets, int nsets) {
    char path[1024];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/examples/%s", src ? src : "..", file);
    kiln_model_options o = {NULL, sets, nsets};
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(path, &o, &m);
    if (s) {
        fprintf(stderr, "loading %s: %s\n", path, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
    }
    return m;
}

/* Token ids below the vocabulary, masks of 0/1 (mostly 1), type ids 0/1. */
static void fix_inputs(kiln_tensor_map *in, int64_t vocab) {
    for (int i = 0; i < kiln_tensor_map_count(in); i++) {
        const char *name = kiln_tensor_map_name(in, i);
        const kiln_tensor *t = kiln_tensor_map_at(in, i);
        if (kiln_dtype_is_float(t->dtype)) continue;
        for (int64_t k = 0; k < kiln_tensor_numel(t); k++) {
            int64_t v = kiln_load_i64(t->data, t->dtype, (size_t)k);
            if (strstr(name, "mask")) v = (v % 5) != 0 || k == 0;
            else if (strstr(name, "type")) v &= 1;
            else v %= vocab;
            kiln_store_i64(t->data, t->dtype, (size_t)k, v);
        }
    }
}

static void compare(const kiln_graph *g, const tp_sym *const *bindings, int64_t vocab, const char *what) {
    kiln_cpu_program *p = tc_compile(g, 0, what);
    if (!p) return;
    for (int b = 0; bindings[b]; b++) {
        kiln_tensor_map *w, *in;
        tp_feed(g, bindings[b], 1 << 20, (uint64_t)(b + 3), &w, &in);
        fix_inputs(in, vocab);
        kiln_tensor_map *want = tp_ref(g, w, in);
        kiln_cpu_exec *e = NULL;
        kiln_tensor_map *got = NULL;
        kiln_cpu_options o = {0};
        CHECK_OK(kiln_cpu_exec_create(p, w, &o, &e));
        if (e) CHECK_OK(kiln_cpu_exec_run(e, in, &got));
        if (want && got && !tp_maps_close(want, got, 1e-3, 1e-4, what)) {
            fprintf(stderr, "  (binding %d)\n", b);
            test_failures++;
        }
        int64_t planned = 0, unplanned = 0;
        kiln_cpu_exec_arena(e, &planned, &unplanned);
        CHECK(got == NULL || planned < unplanned);
        kiln_cpu_exec_free(e);
        kiln_tensor_map_free(want);
        kiln_tensor_map_free(got);
        kiln_tensor_map_free(w);
        kiln_tensor_map_free(in);
    }
    kiln_cpu_program_free(p);
}

static void model_case(const char *file, const char *const *sets, int nsets, int cached, const char *what) {
    static const tp_sym f1[] = {{"batch", 1}, {"seq", 5}, {"dec_seq", 3}, {NULL, 0}};
    static const tp_sym f2[] = {{"batch", 2}, {"seq", 17}, {"dec_seq", 6}, {NULL, 0}};
    static const tp_sym c1[] = {{"batch", 1}, {"seq", 1}, {"past", 6}, {NULL, 0}};
    static const tp_sym c2[] = {{"batch", 2}, {"seq", 4}, {"past", 0}, {NULL, 0}};
    static const tp_sym *const fwd[] = {f1, f2, NULL};
    static const tp_sym *const cch[] = {c1, c2, NULL};
    kiln_model *m = load(file, sets, nsets);
    if (!m) return;
    compare(m->graph, fwd, 97, what);
    if (cached) {
        kiln_graph *g = NULL;
        CHECK_OK(kiln_model_compile(m, KILN_LANG_CACHED, &g));
        char w[256];
        snprintf(w, sizeof w, "%s, KV cache", what);
        if (g) compare(g, cch, 97, w);
        kiln_graph_free(g);
    }
    kiln_model_free(m);
}

/* A GPT-2 layer is 7 kernels: the difference between 3 and 2 layers. */
static void test_gpt2_kernels_per_layer(void) {
    int counts[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const char *sets[] = {"vocab_size=97", "n_embd=32", "n_head=4", "n_positions=64", i ? "n_layer=3" : "n_layer=2"};
        kiln_model *m = load("gpt2.kiln", sets, 5);
        if (!m) return;
        kiln_cpu_program *p = tc_compile(m->graph, 0, "gpt2 kernels");
        if (p) counts[i] = kiln_plan_kernel_count(kiln_cpu_program_plan(p));
        /* equal kernels of the layers are emitted once */
        if (p) CHECK(kiln_cpu_program_timings(p)->unique < counts[i]);
        kiln_cpu_program_free(p);
        kiln_model_free(m);
    }
    int per_layer = counts[1] - counts[0];
    if (per_layer != 7) fprintf(stderr, "gpt2: %d kernels per layer\n", per_layer);
    CHECK(per_layer == 7);
}

int main(void) {
    test_gpt2_kernels_per_layer();
    const char *gpt2[] = {"vocab_size=97", "n_embd=32", "n_head=4", "n_layer=2", "n_positions=64"};
    model_case("gpt2.kiln", gpt2, 5, 1, "gpt2");
    model_case("gpt2_rope.kiln", gpt2, 5, 1, "gpt2_rope");
    model_case("gpt2_rmsnorm.kiln", gpt2, 5, 0, "gpt2_rmsnorm");
    model_case("gpt2_relu.kiln", gpt2, 5, 0, "gpt2_relu");
    const char *bert[] = {"vocab_size=97", "hidden_size=32", "num_hidden_layers=2", "num_attention_heads=4",
                          "intermediate_size=48", "max_position_embeddings=64"};
    model_case("bert.kiln", bert, 6, 0, "bert");
    const char *t5[] = {"vocab_size=97", "d_model=32", "d_kv=8", "d_ff=40", "num_layers=2", "num_heads=4",
                        "feed_forward_proj=\"gated-gelu\"", "tie_word_embeddings=false"};
    model_case("t5.kiln", t5, 8, 0, "t5");
    const char *llama[] = {"vocab_size=97", "hidden_size=48", "intermediate_size=40", "num_hidden_layers=2",
                           "num_attention_heads=6", "num_key_value_heads=2", "max_position_embeddings=64"};
    model_case("llama.kiln", llama, 7, 1, "llama (GQA)");
    return test_finish("test_cpu_models");
}
#else
int main(void) {
    printf("test_cpu_models: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
