/* kiln_model_load beyond the happy path: the GPT-2 variants on gpt2-tiny's
 * weights, .kiln files with their own `weights`, checkpoint naming
 * variants, and malformed folders and files (clear errors, no crash). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/model.h"
#include "kiln/ref.h"
#include "kiln/safetensors.h"

static char tmp_root[256];

static void fixture(char *buf, size_t cap, const char *name, const char *file) {
    snprintf(buf, cap, "%s/fixtures/hf/%s%s%s", test_shared_dir(), name, file ? "/" : "", file ? file : "");
}

static void example(char *buf, size_t cap, const char *name) {
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(buf, cap, "%s/examples/%s", src && *src ? src : "..", name);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* A fresh folder under the test's temporary root. */
static void make_dir(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmp_root, name);
    CHECK(mkdir(buf, 0700) == 0);
}

static void link_into(const char *dir, const char *name, const char *target) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(symlink(target, path) == 0);
}

static kiln_tensor_map *run(const kiln_model *m, const kiln_tensor_map *inputs) {
    kiln_tensor_map *out = NULL;
    CHECK_OK(kiln_ref_run(m->graph, m->weights, inputs, &out));
    return out;
}

/* ---- variants ----------------------------------------------------------- */
/* gpt2-tiny's sizes, given as --set strings: config.json would also set
 * activation_function and undo the ReLU variant */
static const char *const tiny_sizes[] = {"n_embd=32", "n_head=4", "n_layer=2", "n_positions=128", "vocab_size=50257"};

static kiln_model *load_variant(const char *file, const char *extra) {
    char path[1024], weights[1024];
    example(path, sizeof path, file);
    fixture(weights, sizeof weights, "gpt2-tiny", "model.safetensors");
    const char *sets[8];
    int n = 0;
    for (; n < 5; n++) sets[n] = tiny_sizes[n];
    if (extra) sets[n++] = extra;
    kiln_model_options o = {weights, sets, n};
    kiln_model *m = NULL;
    CHECK_OK(kiln_model_load(path, &o, &m));
    return m;
}

static const kiln_tensor *logits_of(const kiln_tensor_map *out) { return out ? kiln_tensor_map_get(out, "logits") : NULL; }

static double max_diff(const kiln_tensor *a, const kiln_tensor *b) {
    double d = 0;
    for (int64_t i = 0; i < kiln_tensor_numel(a); i++) {
        double x = fabs(kiln_load_f64(a->data, a->dtype, (size_t)i) - kiln_load_f64(b->data, b->dtype, (size_t)i));
        if (!(x <= d)) d = x;
    }
    return d;
}

static int all_finite(const kiln_tensor *t) {
    for (int64_t i = 0; i < kiln_tensor_numel(t); i++)
        if (!isfinite(kiln_load_f64(t->data, t->dtype, (size_t)i))) return 0;
    return 1;
}

/* The variants run on gpt2-tiny's weights: finite, shaped [1, 16, vocab],
 * different from gpt2.kiln; gpt2_relu equals gpt2.kiln with the
 * activation overridden to relu (the same graph, so bit for bit). */
static void test_variants(void) {
    char path[1024];
    fixture(path, sizeof path, "gpt2-tiny", "expected.safetensors");
    kiln_tensor_map *expected = NULL;
    CHECK_OK(kiln_safetensors_load(path, &expected));
    if (!expected) return;
    kiln_model *base = load_variant("gpt2.kiln", NULL);
    kiln_tensor_map *base_out = base ? run(base, expected) : NULL;
    const kiln_tensor *bl = logits_of(base_out), *want = kiln_tensor_map_get(expected, "logits");
    /* gpt2.kiln loaded as a .kiln file reproduces transformers as the HF loader does
     * (tolerance as in test_model_hf: float32 rounding, observed < 1e-6) */
    CHECK(bl && want && max_diff(bl, want) < 1e-4);

    static const char *const variants[] = {"gpt2_relu.kiln", "gpt2_rmsnorm.kiln", "gpt2_rope.kiln"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        kiln_model *m = load_variant(variants[i], NULL);
        kiln_tensor_map *out = m ? run(m, expected) : NULL;
        const kiln_tensor *l = logits_of(out);
        CHECK(l && l->rank == 3 && l->shape[0] == 1 && l->shape[1] == 16 && l->shape[2] == 50257);
        CHECK(l && all_finite(l));
        /* a real change moves the logits by far more than rounding */
        CHECK(l && bl && max_diff(l, bl) > 1e-2);
        if (l && bl) fprintf(stderr, "  %s: max |logits - gpt2.kiln logits| = %g\n", variants[i], max_diff(l, bl));
        if (i == 0) {
            kiln_model *r = load_variant("gpt2.kiln", "activation_function=relu");
            kiln_tensor_map *rout = r ? run(r, expected) : NULL;
            CHECK(l && logits_of(rout) && max_diff(l, logits_of(rout)) == 0);
            kiln_tensor_map_free(rout);
            kiln_model_free(r);
        }
        kiln_tensor_map_free(out);
        kiln_model_free(m);
    }
    kiln_tensor_map_free(base_out);
    kiln_model_free(base);
    kiln_tensor_map_free(expected);
}

/* ---- .kiln files -------------------------------------------------------- */
static void test_kiln_files(void) {
    char dir[512], path[1024], wpath[1024];
    make_dir(dir, sizeof dir, "kiln");
    /* a description naming its weights, relative to itself */
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    kiln_tensor_map *w = kiln_tensor_map_new();
    kiln_tensor t;
    CHECK_OK(kiln_tensor_alloc(&t, KILN_F32, 1, (int64_t[]){3}));
    float *v = t.data;
    v[0] = 1, v[1] = 2, v[2] = 3;
    CHECK_OK(kiln_tensor_map_put(w, "scale", t));
    CHECK_OK(kiln_safetensors_save(wpath, w));
    kiln_tensor_map_free(w);
    snprintf(path, sizeof path, "%s/scale.kiln", dir);
    write_file(path, "weights \"w.safetensors\"\ninput x: f32[3]\noutput y = x * param(\"scale\", [3])\n");
    kiln_model *m = NULL;
    CHECK_OK(kiln_model_load(path, NULL, &m));
    CHECK(m && m->weights && m->weights_path && strcmp(m->weights_path, wpath) == 0);
    CHECK(m && strcmp(m->format, "kiln") == 0 && strcmp(m->name, "scale") == 0);
    if (m) {
        kiln_tensor_map *in = kiln_tensor_map_new();
        kiln_tensor x;
        CHECK_OK(kiln_tensor_alloc(&x, KILN_F32, 1, (int64_t[]){3}));
        float *xv = x.data;
        xv[0] = 2, xv[1] = 2, xv[2] = 2;
        CHECK_OK(kiln_tensor_map_put(in, "x", x));
        kiln_tensor_map *out = run(m, in);
        const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
        CHECK(y && ((float *)y->data)[0] == 2 && ((float *)y->data)[2] == 6); /* [1 2 3] * 2 */
        kiln_tensor_map_free(out);
        kiln_tensor_map_free(in);
        /* the model compiles again in CACHED mode (nothing cached here) */
        kiln_graph *g = NULL;
        CHECK_OK(kiln_model_compile(m, KILN_LANG_CACHED, &g));
        kiln_graph_free(g);
    }
    kiln_model_free(m);

    /* errors in a .kiln file name it with line and column */
    snprintf(path, sizeof path, "%s/bad_syntax.kiln", dir);
    write_file(path, "input x: f32[3]\noutput y = x +* 2\n");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "bad_syntax.kiln:2:15: expected an expression, got '*'");
    snprintf(path, sizeof path, "%s/bad_type.kiln", dir);
    write_file(path, "input x: f32[3]\noutput y = x + \"one\"\n");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "bad_type.kiln:2:14: cannot apply '+' to a tensor and a string");
    /* a parameter the weights lack, with the .kiln line that wants it */
    snprintf(path, sizeof path, "%s/missing.kiln", dir);
    write_file(path, "weights \"w.safetensors\"\ninput x: f32[3]\noutput y = x * param(\"bias\", [3])\n");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "missing.kiln:3:16: parameter 'bias' is not in");
    snprintf(path, sizeof path, "%s/wrong_shape.kiln", dir);
    write_file(path, "weights \"w.safetensors\"\ninput x: f32[4]\noutput y = x * param(\"scale\", [4])\n");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "parameter 'scale' is f32[3] in");
    snprintf(path, sizeof path, "%s/no_weights_file.kiln", dir);
    write_file(path, "weights \"nothere.safetensors\"\ninput x: f32[4]\noutput y = x\n");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "nothere.safetensors");
    /* --set against a .kiln */
    snprintf(path, sizeof path, "%s/cfg.kiln", dir);
    write_file(path, "config {\n  n = 3\n}\ninput x: f32[n]\noutput y = x\n");
    const char *sets[] = {"n=five"};
    kiln_model_options o = {NULL, sets, 1};
    CHECK_ERR(kiln_model_load(path, &o, &m), "cfg.kiln:2:3: --set n=five: 'n' must be an integer, got a string");
    const char *good[] = {"n=5"};
    o.overrides = good;
    CHECK_OK(kiln_model_load(path, &o, &m));
    CHECK(m && m->config_text && strstr(m->config_text, "n = 5"));
    kiln_model_free(m);
}

/* ---- Hugging Face folders ------------------------------------------------ */
/* A folder holding `config` (text) and the given fixture's weights
 * renamed by `rename` (NULL keeps names; returning NULL drops a tensor). */
static void make_hf(const char *dir, const char *config, const char *from, const char *(*rename)(const char *, char *)) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_file(path, config);
    if (!from) return;
    char src[1024];
    fixture(src, sizeof src, from, "model.safetensors");
    if (!rename) {
        link_into(dir, "model.safetensors", src);
        return;
    }
    kiln_tensor_map *w = NULL, *renamed = kiln_tensor_map_new();
    CHECK_OK(kiln_safetensors_load(src, &w));
    for (int i = 0; w && i < kiln_tensor_map_count(w); i++) {
        char buf[512];
        const char *name = rename(kiln_tensor_map_name(w, i), buf);
        if (!name) continue;
        kiln_tensor t = *kiln_tensor_map_at(w, i);
        t.owns_data = 0;
        CHECK_OK(kiln_tensor_map_put(renamed, name, t));
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(kiln_safetensors_save(path, renamed));
    kiln_tensor_map_free(renamed);
    kiln_tensor_map_free(w);
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static const char *drop_transformer(const char *name, char *buf) {
    (void)buf;
    return strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
}
static const char *add_bert(const char *name, char *buf) {
    snprintf(buf, 512, "bert.%s", name);
    return buf;
}
static const char *drop_one(const char *name, char *buf) {
    (void)buf;
    return strcmp(name, "transformer.h.1.ln_2.bias") == 0 ? NULL : name;
}

/* Loads dir and checks its outputs against the fixture's expected ones. */
static void check_matches(const char *dir, const char *fixture_name) {
    char path[1024];
    fixture(path, sizeof path, fixture_name, "expected.safetensors");
    kiln_model *m = NULL;
    kiln_tensor_map *expected = NULL;
    CHECK_OK(kiln_model_load(dir, NULL, &m));
    CHECK_OK(kiln_safetensors_load(path, &expected));
    kiln_tensor_map *out = m && expected ? run(m, expected) : NULL;
    int compared = 0;
    for (int i = 0; out && i < kiln_tensor_map_count(out); i++) {
        const kiln_tensor *e = kiln_tensor_map_get(expected, kiln_tensor_map_name(out, i));
        if (!e) continue;
        compared++;
        /* float32 rounding only; see test_model_hf */
        CHECK(max_diff(kiln_tensor_map_at(out, i), e) < 1e-4);
    }
    CHECK(compared > 0);
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(expected);
    kiln_model_free(m);
}

static void test_naming_variants(void) {
    char dir[512], cfg[1024];
    fixture(cfg, sizeof cfg, "gpt2-tiny", "config.json");
    char *gpt2_cfg = strdup(read_all(cfg));
    fixture(cfg, sizeof cfg, "bert-tiny", "config.json");
    char *bert_cfg = strdup(read_all(cfg));
    /* GPT2Model names: "h.0.attn..." instead of "transformer.h.0.attn..." */
    make_dir(dir, sizeof dir, "gpt2_no_prefix");
    make_hf(dir, gpt2_cfg, "gpt2-tiny", drop_transformer);
    check_matches(dir, "gpt2-tiny");
    /* BertFor* names: "bert.embeddings..." */
    make_dir(dir, sizeof dir, "bert_prefix");
    make_hf(dir, bert_cfg, "bert-tiny", add_bert);
    check_matches(dir, "bert-tiny");
    free(gpt2_cfg);
    free(bert_cfg);
}

/* A malloc'd copy of s with the first `from` replaced by `to`. */
static char *replaced(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    CHECK(p != NULL);
    if (!p) return strdup(s);
    size_t a = (size_t)(p - s), n = strlen(s) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    memcpy(r, s, a);
    strcpy(r + a, to);
    strcat(r, p + strlen(from));
    return r;
}

static void test_malformed(void) {
    char dir[512], cfg_path[1024];
    kiln_model *m = NULL;
    fixture(cfg_path, sizeof cfg_path, "gpt2-tiny", "config.json");
    char *gpt2_cfg = strdup(read_all(cfg_path));

    make_dir(dir, sizeof dir, "bad_json");
    make_hf(dir, "{\"model_type\": \"gpt2\",\n \"n_embd\": }", "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "config.json:2:");

    make_dir(dir, sizeof dir, "not_object");
    make_hf(dir, "[1, 2]", "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "config.json: must be a JSON object");

    make_dir(dir, sizeof dir, "no_type");
    make_hf(dir, "{\"n_embd\": 32}", "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "needs a \"model_type\" string (supported: gpt2, bert, t5, llama)");

    make_dir(dir, sizeof dir, "unknown_type");
    make_hf(dir, "{\"model_type\": \"mamba\"}", "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "model_type \"mamba\" is not supported (supported: gpt2, bert, t5, llama)");

    make_dir(dir, sizeof dir, "bad_value");
    char *cfg = replaced(gpt2_cfg, "\"n_head\": 4", "\"n_head\": \"4\"");
    make_hf(dir, cfg, "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "config.json: 'n_head' must be an integer, got a string");
    free(cfg);

    make_dir(dir, sizeof dir, "shape_mismatch");
    cfg = replaced(gpt2_cfg, "\"n_embd\": 32", "\"n_embd\": 64");
    make_hf(dir, cfg, "gpt2-tiny", NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m),
              "gpt2.kiln:54:7: parameter 'transformer.wte.weight' is f32[50257, 32] in");
    free(cfg);

    make_dir(dir, sizeof dir, "missing_tensor");
    make_hf(dir, gpt2_cfg, "gpt2-tiny", drop_one);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "parameter 'transformer.h.1.ln_2.bias' is not in");

    make_dir(dir, sizeof dir, "torch_only");
    make_hf(dir, gpt2_cfg, NULL, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    write_file(path, "not really a pickle");
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "has pytorch_model.bin but no model.safetensors");

    make_dir(dir, sizeof dir, "no_weights");
    make_hf(dir, gpt2_cfg, NULL, NULL);
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "no weights (model.safetensors or model.safetensors.index.json)");

    make_dir(dir, sizeof dir, "no_config");
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "not a Hugging Face model folder (no config.json)");

    make_dir(dir, sizeof dir, "bad_index");
    make_hf(dir, gpt2_cfg, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, "{\"weight_map\": {\"transformer.wte.weight\": \"model-1.safetensors\"}}");
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "model-1.safetensors");
    write_file(path, "{\"weight_map\": {\"transformer.wte.weight\": \"../../etc/passwd\"}}");
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "names no usable shard file");
    char shard[1024];
    fixture(shard, sizeof shard, "gpt2-tiny", "model.safetensors");
    link_into(dir, "model-1.safetensors", shard);
    write_file(path, "{\"weight_map\": {\"lm_head.weight\": \"model-1.safetensors\"}}");
    CHECK_ERR(kiln_model_load(dir, NULL, &m), "lists \"lm_head.weight\" in model-1.safetensors, which does not contain it");

    snprintf(path, sizeof path, "%s/model.xyz", tmp_root);
    write_file(path, "not a model");
    CHECK_ERR(kiln_model_load(path, NULL, &m), "unsupported model format '.xyz'");
    snprintf(path, sizeof path, "%s/does_not_exist.kiln", tmp_root);
    CHECK_ERR(kiln_model_load(path, NULL, &m), "no such file or directory");
    CHECK(m == NULL);
    free(gpt2_cfg);
}

/* A sharded folder built from a fixture: every tensor in its own shard. */
static void test_sharded(void) {
    char dir[512], src[1024], path[1024];
    make_dir(dir, sizeof dir, "sharded");
    fixture(src, sizeof src, "llama-tiny", "config.json");
    make_hf(dir, read_all(src), NULL, NULL);
    fixture(src, sizeof src, "llama-tiny", "model.safetensors");
    kiln_tensor_map *w = NULL;
    CHECK_OK(kiln_safetensors_load(src, &w));
    if (!w) return;
    char *index = malloc(65536);
    size_t len = (size_t)snprintf(index, 65536, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < kiln_tensor_map_count(w); i++) {
        kiln_tensor_map *one = kiln_tensor_map_new();
        kiln_tensor t = *kiln_tensor_map_at(w, i);
        t.owns_data = 0;
        CHECK_OK(kiln_tensor_map_put(one, kiln_tensor_map_name(w, i), t));
        snprintf(path, sizeof path, "%s/part-%d.safetensors", dir, i);
        CHECK_OK(kiln_safetensors_save(path, one));
        kiln_tensor_map_free(one);
        len += (size_t)snprintf(index + len, 65536 - len, "%s\"%s\": \"part-%d.safetensors\"", i ? ", " : "",
                                kiln_tensor_map_name(w, i), i);
    }
    snprintf(index + len, 65536 - len, "}}");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, index);
    free(index);
    kiln_tensor_map_free(w);
    check_matches(dir, "llama-tiny");
}

static int remove_tree(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/kiln-test-model-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    test_variants();
    test_kiln_files();
    test_naming_variants();
    test_malformed();
    test_sharded();
    if (remove_tree(tmp_root) != 0) fprintf(stderr, "note: could not remove %s\n", tmp_root);
    return test_finish("test_model_load");
}
