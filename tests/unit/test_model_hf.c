/* Hugging Face folders loaded with kiln_model_load and run on the
 * reference interpreter against transformers' outputs.
 *
 * Fixtures: ../shared/fixtures/hf/{gpt2,bert,t5,llama}-tiny (outputs from
 * transformers 5.17 in float32). Held-out cases: folders made by
 * tests/tools/make_hf_cases.py in $KILN_HF_CASES (skipped when unset).
 *
 * Tolerance |kiln - hf| <= 1e-4 + 1e-3 * |hf|: the reference interpreter
 * accumulates in double while torch uses float32 with its own summation
 * order, so results differ by float32 rounding (observed <= 3e-6 here);
 * the bound leaves room for larger held-out sizes while still catching any
 * wrong op, scale or layout (those give errors of order 1e-1). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "kiln/model.h"
#include "kiln/ref.h"
#include "kiln/safetensors.h"

#define ATOL 1e-4
#define RTOL 1e-3

/* Compares every output that `expected` holds; returns the number of
 * mismatching tensors (0 also requires at least one compared). */
static int compare(const char *what, const kiln_tensor_map *out, const kiln_tensor_map *expected) {
    int bad = 0, compared = 0;
    for (int i = 0; i < kiln_tensor_map_count(out); i++) {
        const char *name = kiln_tensor_map_name(out, i);
        const kiln_tensor *a = kiln_tensor_map_at(out, i), *e = kiln_tensor_map_get(expected, name);
        if (!e) continue;
        compared++;
        int same_shape = a->rank == e->rank;
        for (int d = 0; same_shape && d < a->rank; d++) same_shape = a->shape[d] == e->shape[d];
        if (!same_shape) {
            char s1[128], s2[128];
            fprintf(stderr, "%s: output %s has shape %s, expected %s\n", what, name, kiln_tensor_shape_str(a, s1, sizeof s1),
                    kiln_tensor_shape_str(e, s2, sizeof s2));
            bad++;
            continue;
        }
        int64_t n = kiln_tensor_numel(e), nbad = 0, worst = -1;
        double worst_d = 0;
        for (int64_t k = 0; k < n; k++) {
            double x = kiln_load_f64(a->data, a->dtype, (size_t)k), y = kiln_load_f64(e->data, e->dtype, (size_t)k);
            double d = fabs(x - y);
            if (!(d <= ATOL + RTOL * fabs(y))) {
                nbad++;
                if (!(d <= worst_d)) worst_d = d, worst = k;
            }
        }
        if (nbad) {
            fprintf(stderr, "%s: output %s: %lld of %lld values off (worst at %lld: |d| = %g)\n", what, name,
                    (long long)nbad, (long long)n, (long long)worst, worst_d);
            bad++;
        }
    }
    if (!compared) {
        fprintf(stderr, "%s: no output matched a name in expected.safetensors\n", what);
        bad++;
    }
    return bad;
}

/* Loads dir, runs it on expected.safetensors' inputs, compares. */
static int run_folder(const char *dir) {
    kiln_model *m = NULL;
    kiln_status s = kiln_model_load(dir, NULL, &m);
    if (s) {
        fprintf(stderr, "%s: load failed: %s\n", dir, kiln_status_message(s));
        kiln_status_free(s);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    kiln_tensor_map *expected = NULL, *out = NULL;
    int bad = 0;
    s = kiln_safetensors_load(path, &expected);
    if (!s) s = kiln_ref_run(m->graph, m->weights, expected, &out);
    if (s) {
        fprintf(stderr, "%s: %s\n", dir, kiln_status_message(s));
        kiln_status_free(s);
        bad = 1;
    } else {
        bad = compare(dir, out, expected);
    }
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(expected);
    kiln_model_free(m);
    return bad;
}

static void test_fixtures(void) {
    static const char *const names[] = {"gpt2-tiny", "bert-tiny", "t5-tiny", "llama-tiny"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/fixtures/hf/%s", test_shared_dir(), names[i]);
        int bad = run_folder(dir);
        CHECK(bad == 0);
        if (!bad) fprintf(stderr, "  %s matches transformers\n", names[i]);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every sub-folder of $KILN_HF_CASES with a config.json. */
static void test_held_out(void) {
    const char *root = getenv("KILN_HF_CASES");
    if (!root || !*root) {
        fprintf(stderr, "  held-out cases skipped (set KILN_HF_CASES to a folder made by tests/tools/make_hf_cases.py)\n");
        return;
    }
    DIR *d = opendir(root);
    CHECK(d != NULL);
    if (!d) return;
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        char cfg[2048];
        snprintf(cfg, sizeof cfg, "%s/%s/config.json", root, e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' && stat(cfg, &st) == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    int passed = 0;
    for (int i = 0; i < n; i++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        int bad = run_folder(dir);
        CHECK(bad == 0);
        passed += bad == 0;
        free(names[i]);
    }
    CHECK(n > 0);
    fprintf(stderr, "  held-out cases: %d of %d match transformers\n", passed, n);
}

/* A CACHED-mode graph fed one token at a time (past.* from the previous
 * step's present.*) must give the same logits as the FORWARD pass over
 * the whole sequence, which equals transformers' output. */
static void test_cached_decode(const char *fixture, const char *ids_name, int prefill) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/fixtures/hf/%s", test_shared_dir(), fixture);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    kiln_model *m = NULL;
    kiln_tensor_map *expected = NULL;
    kiln_graph *g = NULL;
    CHECK_OK(kiln_model_load(dir, NULL, &m));
    CHECK_OK(kiln_safetensors_load(path, &expected));
    if (m) CHECK_OK(kiln_model_compile(m, KILN_LANG_CACHED, &g));
    if (!m || !expected || !g) goto done;
    const kiln_tensor *ids = kiln_tensor_map_get(expected, ids_name), *logits = kiln_tensor_map_get(expected, "logits");
    CHECK(ids && logits && ids->rank == 2 && logits->rank == 3);
    if (!ids || !logits || ids->rank != 2 || logits->rank != 3) goto done;
    int64_t batch = ids->shape[0], seq = ids->shape[1], vocab = logits->shape[2];
    kiln_tensor_map *past = kiln_tensor_map_new();
    /* empty caches for the first step: every past.* input with past = 0 */
    for (int i = 0; i < kiln_graph_input_count(g); i++) {
        const kiln_node *n = kiln_graph_node(g, kiln_graph_input_value(g, i));
        if (strncmp(n->name, "past.", 5) != 0) continue;
        int64_t shape[KILN_MAX_RANK];
        for (int k = 0; k < n->shape.rank; k++) shape[k] = kiln_dim_is_const(n->shape.dims[k]) ? n->shape.dims[k] : k == 0 ? batch : 0;
        kiln_tensor t;
        CHECK_OK(kiln_tensor_alloc(&t, n->dtype, n->shape.rank, shape));
        CHECK_OK(kiln_tensor_map_put(past, n->name, t));
    }
    int bad = 0;
    for (int64_t pos = 0; pos < seq && !bad;) {
        int64_t step = pos == 0 ? prefill : 1;
        kiln_tensor_map *in = kiln_tensor_map_new();
        for (int i = 0; i < kiln_tensor_map_count(past); i++) {
            kiln_tensor v = *kiln_tensor_map_at(past, i);
            v.owns_data = 0;
            CHECK_OK(kiln_tensor_map_put(in, kiln_tensor_map_name(past, i), v));
        }
        /* the step's tokens; T5's encoder input stays whole */
        kiln_tensor chunk;
        CHECK_OK(kiln_tensor_alloc(&chunk, KILN_I64, 2, (int64_t[]){batch, step}));
        for (int64_t b = 0; b < batch; b++)
            for (int64_t t = 0; t < step; t++)
                ((int64_t *)chunk.data)[b * step + t] = kiln_load_i64(ids->data, ids->dtype, (size_t)(b * seq + pos + t));
        CHECK_OK(kiln_tensor_map_put(in, ids_name, chunk));
        if (strcmp(ids_name, "decoder_input_ids") == 0) {
            kiln_tensor enc = *kiln_tensor_map_get(expected, "input_ids");
            enc.owns_data = 0;
            CHECK_OK(kiln_tensor_map_put(in, "input_ids", enc));
        }
        kiln_tensor_map *out = NULL;
        kiln_status s = kiln_ref_run(g, m->weights, in, &out);
        if (s) {
            fprintf(stderr, "%s: cached step at %lld: %s\n", fixture, (long long)pos, kiln_status_message(s));
            kiln_status_free(s);
            bad = 1;
        } else {
            const kiln_tensor *l = kiln_tensor_map_get(out, "logits");
            CHECK(l && l->shape[1] == step);
            for (int64_t b = 0; l && b < batch; b++)
                for (int64_t t = 0; t < step * vocab; t++) {
                    double x = kiln_load_f64(l->data, l->dtype, (size_t)(b * step * vocab + t));
                    double y = kiln_load_f64(logits->data, logits->dtype, (size_t)((b * seq + pos) * vocab + t));
                    if (!(fabs(x - y) <= ATOL + RTOL * fabs(y))) bad = 1;
                }
            if (bad) fprintf(stderr, "%s: cached logits differ at position %lld\n", fixture, (long long)pos);
            /* present.X becomes past.X */
            kiln_tensor_map *next = kiln_tensor_map_new();
            for (int i = 0; i < kiln_tensor_map_count(out); i++) {
                const char *name = kiln_tensor_map_name(out, i);
                if (strncmp(name, "present.", 8) != 0) continue;
                char pname[512];
                snprintf(pname, sizeof pname, "past.%s", name + 8);
                kiln_tensor copy;
                CHECK_OK(kiln_tensor_convert(kiln_tensor_map_at(out, i), kiln_tensor_map_at(out, i)->dtype, &copy));
                CHECK_OK(kiln_tensor_map_put(next, pname, copy));
            }
            CHECK(kiln_tensor_map_count(next) == kiln_tensor_map_count(past));
            kiln_tensor_map_free(past);
            past = next;
        }
        kiln_tensor_map_free(out);
        kiln_tensor_map_free(in);
        pos += step;
    }
    CHECK(!bad);
    if (!bad) fprintf(stderr, "  %s: CACHED decode matches the full forward pass\n", fixture);
    kiln_tensor_map_free(past);
done:
    kiln_graph_free(g);
    kiln_tensor_map_free(expected);
    kiln_model_free(m);
}

int main(void) {
    test_fixtures();
    test_cached_decode("gpt2-tiny", "input_ids", 5);
    test_cached_decode("llama-tiny", "input_ids", 7);
    test_cached_decode("t5-tiny", "decoder_input_ids", 2);
    test_held_out();
    return test_finish("test_model_hf");
}
