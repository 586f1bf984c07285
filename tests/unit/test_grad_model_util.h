/* Whole-model gradient checks (test_grad_models.c, test_grad_vk.c): an
 * examples/ .kiln description with a tiny config and random weights,
 * loss = sum over its outputs of output * fixed random weights, gradients
 * for every parameter against differences of an f64 copy on ref. */
#ifndef KILN_TEST_GRAD_MODEL_UTIL_H
#define KILN_TEST_GRAD_MODEL_UTIL_H

#include "kiln/model.h"
#include "test_grad_util.h"


typedef struct model_case {
    const char *file;
    const char *overrides[12];
} model_case;

static const model_case cases[] = {
    {"gpt2.kiln", {"vocab_size=13", "n_positions=8", "n_embd=8", "n_layer=2", "n_head=2"}},
    {"gpt2_relu.kiln", {"vocab_size=13", "n_positions=8", "n_embd=8", "n_layer=1", "n_head=2"}},
    {"gpt2_rmsnorm.kiln", {"vocab_size=13", "n_positions=8", "n_embd=8", "n_layer=1", "n_head=2"}},
    {"gpt2_rope.kiln", {"vocab_size=13", "n_positions=8", "n_embd=8", "n_layer=1", "n_head=2"}},
    {"llama.kiln",
     {"vocab_size=13", "hidden_size=8", "intermediate_size=12", "num_hidden_layers=1", "num_attention_heads=2",
      "num_key_value_heads=1", "max_position_embeddings=16"}},
    {"bert.kiln",
     {"vocab_size=13", "hidden_size=8", "num_hidden_layers=1", "num_attention_heads=2", "intermediate_size=12",
      "max_position_embeddings=8"}},
    {"t5.kiln",
     {"vocab_size=13", "d_model=8", "d_kv=4", "d_ff=12", "num_layers=1", "num_heads=2",
      "relative_attention_num_buckets=4", "relative_attention_max_distance=8"}},
};

static const tp_sym syms[] = {{"batch", 2}, {"seq", 4}, {"dec_seq", 3}, {NULL, 0}};

static int norm_like(const char *name) {
    return strstr(name, "norm") || strstr(name, "Norm") || strstr(name, "ln_");
}

static void check_model(const model_case *c, const char *dev, double h, double rtol, double atol) {
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s", getenv("KILN_SOURCE_DIR") ? getenv("KILN_SOURCE_DIR") : "..", c->file);
    int nov = 0;
    while (nov < 12 && c->overrides[nov]) nov++;
    kiln_model_options mo = {NULL, c->overrides, nov};
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(path, &mo, &m);
    if (s) {
        fprintf(stderr, "%s: %s\n", path, kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return;
    }
    gt t;
    char name[128];
    snprintf(name, sizeof name, "%s", c->file);
    gt_begin(&t, name, syms);
    kiln_graph_free(t.g);
    /* a private copy, through the text form */
    char *text = NULL;
    CHECK_OK(kiln_graph_to_string(m->graph, &text));
    t.g = NULL;
    if (text) CHECK_OK(kiln_graph_parse(text, c->file, &t.g));
    free(text);
    kiln_model_free(m);
    if (!t.g) return;
    t.fd64 = 1;
    kiln_value loss = KILN_NONE;
    int nout = kiln_graph_output_count(t.g);
    for (int i = 0; i < nout; i++) {
        kiln_value y = kiln_graph_output_value(t.g, i);
        if (kiln_graph_node(t.g, y)->dtype == KILN_F32) loss = gt_weighted_sum(&t, y, loss, i);
    }
    CHECK_OK(kiln_graph_add_output(t.g, "loss", loss));
    for (int v = 0; v < kiln_graph_node_count(t.g); v++) {
        const kiln_node *n = kiln_graph_node(t.g, v);
        if (n->op == KILN_OP_INPUT && n->dtype != KILN_F32) {
            /* token ids within the vocabulary; masks all ones, one padded key in batch row 1 would change nothing here */
            int ids = strstr(n->name, "ids") != NULL && !strstr(n->name, "type");
            gt_dist_add(&t, n->name, ids ? 0 : strstr(n->name, "type") ? 0 : 1, ids ? 12 : 1);
        }
        if (n->op != KILN_OP_PARAM || n->dtype != KILN_F32 || t.nwrt == GT_MAX) continue;
        if (norm_like(n->name) && n->shape.rank == 1 && strstr(n->name, "weight")) gt_dist_add(&t, n->name, 0.5, 1.5);
        else gt_dist_add(&t, n->name, -0.5, 0.5);
        t.wrt[t.nwrt++] = n->name;
    }
    gt_verify(&t, dev, h, rtol, atol, 0);
}

#endif
