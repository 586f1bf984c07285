/* The optimizer half of the training graph (runtime/train_optim.c) on every
 * device, against AdamW and clip_grad_norm_ written out here in double
 * precision from torch's documented formulas; and the loss graph
 * (runtime/train_graph.c) against cross-entropy computed by hand. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kiln/train.h"
#include "runtime/train_internal.h"

#define NP 2
static const char *const names[NP] = {"w", "b"};
static const int64_t sizes[NP] = {6, 3};

/* A graph shaped like kiln_autodiff's result: inputs w [2,3], b [3] and
 * their "gradients" as inputs gw, gb; outputs loss and grad.w, grad.b. */
static kiln_graph *fake_grad_graph(void) {
    kiln_graph *g = kiln_graph_new("opt");
    kiln_shape sw = {2, {2, 3}}, sb = {1, {3}}, one = {1, {1}};
    kiln_value w, b, gw, gb, l, x, y;
    CHECK_OK(kiln_graph_add_input(g, "w", KILN_F32, &sw, &w));
    CHECK_OK(kiln_graph_add_input(g, "b", KILN_F32, &sb, &b));
    CHECK_OK(kiln_graph_add_input(g, "gw", KILN_F32, &sw, &gw));
    CHECK_OK(kiln_graph_add_input(g, "gb", KILN_F32, &sb, &gb));
    CHECK_OK(kiln_graph_add_input(g, "l", KILN_F32, &one, &l));
    /* neg(neg(x)) keeps outputs distinct nodes from the inputs */
    CHECK_OK(kiln_build(g, KILN_OP_NEG, 1, &gw, 0, NULL, &x));
    CHECK_OK(kiln_build(g, KILN_OP_NEG, 1, &x, 0, NULL, &x));
    CHECK_OK(kiln_build(g, KILN_OP_NEG, 1, &gb, 0, NULL, &y));
    CHECK_OK(kiln_build(g, KILN_OP_NEG, 1, &y, 0, NULL, &y));
    CHECK_OK(kiln_graph_add_output(g, "loss", l));
    CHECK_OK(kiln_graph_add_output(g, "grad.w", x));
    CHECK_OK(kiln_graph_add_output(g, "grad.b", y));
    return g;
}

/* torch.optim.AdamW (single-tensor path) after clip_grad_norm_, in double */
typedef struct ref_state {
    double p[NP][6], m[NP][6], v[NP][6];
} ref_state;

static double ref_step(ref_state *st, double g[NP][6], int t, double lr, const kiln_train_graph_options *o) {
    double sq = 0;
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < sizes[i]; k++) sq += g[i][k] * g[i][k];
    double norm = sqrt(sq), coef = 1;
    if (o->grad_clip > 0) {
        coef = o->grad_clip / (norm + 1e-6);
        if (coef > 1) coef = 1;
    }
    double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < sizes[i]; k++) {
            double gr = g[i][k] * coef;
            st->p[i][k] *= 1 - lr * o->weight_decay;
            st->m[i][k] = o->beta1 * st->m[i][k] + (1 - o->beta1) * gr;
            st->v[i][k] = o->beta2 * st->v[i][k] + (1 - o->beta2) * gr * gr;
            double denom = sqrt(st->v[i][k]) / sqrt(bc2) + o->eps;
            st->p[i][k] -= lr / bc1 * st->m[i][k] / denom;
        }
    return norm;
}

static kiln_tensor_map *state_map(const float *buf) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    const char *pre[3] = {"", "adam.m.", "adam.v."};
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < NP; i++) {
            char key[64];
            snprintf(key, sizeof key, "%s%s", pre[j], names[i]);
            int64_t shape[2] = {2, 3};
            const float *src = buf + (j * NP + i) * 6;
            kiln_tensor t = i == 0 ? kiln_tensor_view(KILN_F32, 2, shape, (void *)src)
                                   : kiln_tensor_view(KILN_F32, 1, &shape[1], (void *)src);
            CHECK_OK(kiln_tensor_map_put(m, key, t));
        }
    return m;
}

/* Three steps with gradients that change per step; parameters and moments
 * fed back from the outputs. Tolerance: f32 arithmetic on values of order
 * 1 against double; after 3 steps the difference stays near 1e-6 relative,
 * so rtol 2e-5, atol 1e-6. */
static void run_optimizer(kiln_device_kind dev, const kiln_train_graph_options *o) {
    kiln_graph *src = fake_grad_graph(), *g = NULL;
    CHECK_OK(train_append_optimizer(src, names, NP, o, &g));
    if (!g) {
        kiln_graph_free(src);
        return;
    }
    kiln_session_options so = {{dev, -1}, 1, 0, 1, NULL};
    kiln_session *s = NULL;
    CHECK_OK(kiln_session_create(g, NULL, &so, &s));
    float buf[3 * NP * 6]; /* p, m, v for w then b */
    ref_state st;
    memset(&st, 0, sizeof st);
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < NP; i++)
        for (int k = 0; k < sizes[i]; k++) {
            double x = 0.3 * sin(1.0 + 7 * i + k);
            st.p[i][k] = (float)x;
            buf[i * 6 + k] = (float)x;
        }
    double lr = 0.01;
    for (int t = 1; t <= 3 && s; t++) {
        double g64[NP][6];
        float gf[NP][6];
        for (int i = 0; i < NP; i++)
            for (int k = 0; k < 6; k++) {
                gf[i][k] = (float)(0.8 * cos(0.5 * t + 3 * i + 1.7 * k)); /* global norm > 1: clipping acts */
                g64[i][k] = gf[i][k];
            }
        kiln_tensor_map *in = state_map(buf);
        int64_t sw[2] = {2, 3}, one = 1;
        float fl = (float)lr, ft = (float)t, loss = 2.5f;
        CHECK_OK(kiln_tensor_map_put(in, "gw", kiln_tensor_view(KILN_F32, 2, sw, gf[0])));
        CHECK_OK(kiln_tensor_map_put(in, "gb", kiln_tensor_view(KILN_F32, 1, &sw[1], gf[1])));
        CHECK_OK(kiln_tensor_map_put(in, "l", kiln_tensor_view(KILN_F32, 1, &one, &loss)));
        CHECK_OK(kiln_tensor_map_put(in, "train.lr", kiln_tensor_view(KILN_F32, 1, &one, &fl)));
        CHECK_OK(kiln_tensor_map_put(in, "train.step", kiln_tensor_view(KILN_F32, 1, &one, &ft)));
        kiln_tensor_map *out = NULL;
        CHECK_OK(kiln_session_run(s, in, &out));
        double norm = ref_step(&st, g64, t, lr, o);
        if (out) {
            const kiln_tensor *l = kiln_tensor_map_get(out, "loss"), *n = kiln_tensor_map_get(out, "grad_norm");
            CHECK(l && ((float *)l->data)[0] == 2.5f);
            CHECK(n && fabs(((float *)n->data)[0] - norm) <= 1e-5 * norm);
            const char *pre[3] = {"new.", "new.adam.m.", "new.adam.v."};
            for (int j = 0; j < 3; j++)
                for (int i = 0; i < NP; i++) {
                    char key[64];
                    snprintf(key, sizeof key, "%s%s", pre[j], names[i]);
                    const kiln_tensor *x = kiln_tensor_map_get(out, key);
                    CHECK(x && kiln_tensor_numel(x) == sizes[i]);
                    for (int k = 0; x && k < sizes[i]; k++) {
                        double want = j == 0 ? st.p[i][k] : j == 1 ? st.m[i][k] : st.v[i][k];
                        double got = ((float *)x->data)[k];
                        if (!(fabs(got - want) <= 1e-6 + 2e-5 * fabs(want))) {
                            fprintf(stderr, "%s step %d %s[%d]: %.9g, want %.9g\n", kiln_device_name(dev), t, key, k, got,
                                    want);
                            test_failures++;
                        }
                        buf[(j * NP + i) * 6 + k] = (float)got;
                    }
                }
            CHECK((kiln_tensor_map_get(out, "grad.w") != NULL) == (o->keep_grads != 0));
        }
        kiln_tensor_map_free(out);
        kiln_tensor_map_free(in);
    }
    kiln_session_free(s);
    kiln_graph_free(g);
    kiln_graph_free(src);
}

/* ---- the loss graph ---- */

/* logits = embedding(W [V, V], input_ids): then logits row t is W[ids[t]]. */
static void check_loss(kiln_device_kind dev) {
    enum { V = 7, B = 2, T = 5 };
    kiln_graph *f = kiln_graph_new("toy");
    kiln_dim batch = kiln_dim_symbol(f, "batch"), seq = kiln_dim_symbol(f, "seq");
    kiln_shape sids = {2, {batch, seq}}, sw = {2, {V, V}};
    kiln_value ids, w, lg;
    CHECK_OK(kiln_graph_add_input(f, "input_ids", KILN_I64, &sids, &ids));
    CHECK_OK(kiln_graph_add_param(f, "emb", KILN_F32, &sw, &w));
    kiln_value gin[2] = {w, ids};
    CHECK_OK(kiln_build(f, KILN_OP_GATHER, 2, gin, 0, NULL, &lg));
    CHECK_OK(kiln_graph_add_output(f, "logits", lg));
    kiln_graph *g = NULL;
    CHECK_OK(kiln_loss_graph_build(f, NULL, &g));
    if (!g) {
        kiln_graph_free(f);
        return;
    }
    CHECK(kiln_graph_output_count(g) == 1 && strcmp(kiln_graph_output_name(g, 0), "loss") == 0);
    CHECK(kiln_graph_find_param(g, "emb") == KILN_NONE && kiln_graph_find_input(g, "emb") != KILN_NONE);
    float W[V * V];
    for (int i = 0; i < V * V; i++) W[i] = (float)(1.5 * sin(0.7 * i + 0.2));
    int64_t idv[B * T] = {1, 4, 4, 0, 6, 3, 2, 5, 1, 1};
    /* HF: mean over b and t < T-1 of logsumexp(W[ids[b,t]]) - W[ids[b,t]][ids[b,t+1]] */
    double want = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++) {
            const float *row = W + idv[b * T + t] * V;
            double mx = row[0], se = 0;
            for (int k = 1; k < V; k++) mx = row[k] > mx ? row[k] : mx;
            for (int k = 0; k < V; k++) se += exp(row[k] - mx);
            want += mx + log(se) - row[idv[b * T + t + 1]];
        }
    want /= B * (T - 1);
    kiln_session_options so = {{dev, -1}, 1, 0, 1, NULL};
    kiln_session *s = NULL;
    CHECK_OK(kiln_session_create(g, NULL, &so, &s));
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    int64_t s1[2] = {B, T}, s2[2] = {V, V};
    CHECK_OK(kiln_tensor_map_put(in, "input_ids", kiln_tensor_view(KILN_I64, 2, s1, idv)));
    CHECK_OK(kiln_tensor_map_put(in, "emb", kiln_tensor_view(KILN_F32, 2, s2, W)));
    if (s) CHECK_OK(kiln_session_run(s, in, &out));
    const kiln_tensor *l = out ? kiln_tensor_map_get(out, "loss") : NULL;
    CHECK(l && l->rank == 1 && l->shape[0] == 1);
    /* f32 log-softmax of values of order 1: rtol 1e-5 */
    if (l && !(fabs(((float *)l->data)[0] - want) <= 1e-5 * want)) {
        fprintf(stderr, "%s: loss %.8g, want %.8g\n", kiln_device_name(dev), ((float *)l->data)[0], want);
        test_failures++;
    }
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_session_free(s);
    kiln_graph_free(g);
    /* errors: no logits output, wrong rank */
    CHECK_ERR(kiln_loss_graph_build(f, "scores", &g), "no output 'scores'");
    kiln_graph_free(f);
}

static int device_enabled(const char *name) {
    const char *list = getenv("KILN_TEST_DEVICES");
    if (!list) list = "ref kir";
    size_t n = strlen(name);
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* Lavapipe or a GPU; without one the Vulkan runs are skipped unless
 * KILN_REQUIRE_VULKAN=1. */
static int vulkan_works(void) {
    kiln_graph *g = kiln_graph_new("probe");
    kiln_shape sh = {1, {1}};
    kiln_value x, y;
    kiln_status st = kiln_graph_add_input(g, "x", KILN_F32, &sh, &x);
    if (!st) st = kiln_build(g, KILN_OP_NEG, 1, &x, 0, NULL, &y);
    if (!st) st = kiln_graph_add_output(g, "y", y);
    kiln_session_options so = {{KILN_DEVICE_VULKAN, -1}, 1, 0, 1, NULL};
    kiln_session *s = NULL;
    if (!st) st = kiln_session_create(g, NULL, &so, &s);
    kiln_session_free(s);
    kiln_graph_free(g);
    if (!st) return 1;
    const char *req = getenv("KILN_REQUIRE_VULKAN");
    fprintf(stderr, "train_optim: vulkan %s: %s\n", req && strcmp(req, "0") ? "FAILED" : "skipped", kiln_status_message(st));
    if (req && strcmp(req, "0")) test_failures++;
    kiln_status_free(st);
    return 0;
}

int main(void) {
    static const kiln_device_kind devs[] = {KILN_DEVICE_REF, KILN_DEVICE_KIR, KILN_DEVICE_CPU, KILN_DEVICE_VULKAN};
    for (size_t d = 0; d < sizeof devs / sizeof devs[0]; d++) {
        if (!device_enabled(kiln_device_name(devs[d]))) continue;
        if (devs[d] == KILN_DEVICE_VULKAN && !vulkan_works()) continue;
        kiln_train_graph_options o;
        kiln_train_graph_options_default(&o);
        o.weight_decay = 0.1;
        run_optimizer(devs[d], &o); /* clipping at 1 */
        o.grad_clip = 0;
        o.keep_grads = 1;
        o.beta1 = 0.8;
        run_optimizer(devs[d], &o);
        check_loss(devs[d]);
    }
    /* option errors */
    kiln_train_graph_options o;
    kiln_train_graph_options_default(&o);
    o.beta2 = 1.0;
    kiln_graph *src = fake_grad_graph(), *g = NULL;
    CHECK_ERR(train_append_optimizer(src, names, NP, &o, &g), "betas");
    kiln_train_graph_options_default(&o);
    const char *missing[1] = {"nope"};
    CHECK_ERR(train_append_optimizer(src, missing, 1, &o, &g), "nope");
    kiln_graph_free(src);
    return test_finish("train_optim");
}
