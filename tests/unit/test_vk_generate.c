/* Generation steps with the KV cache kept on the Vulkan device and tokens
 * picked there (kiln_session_step, runtime/generate.c):
 *   - the top-k shader on rows built to have ties, NaN, +-inf: expected
 *     order computed here by sorting (value descending, lower id first);
 *   - device top-k equals the host's top-k of the same step's logits row
 *     (downloaded through the row path of a second generator fed the same
 *     tokens; both run the same kernels, so rows are bit-identical);
 *   - sampled text (temperature, top-k, top-p, seed) equals the reference
 *     interpreter's, token for token;
 *   - with push descriptors no descriptor set is ever allocated, however
 *     the offsets move from step to step. */
#include <math.h>

#include "test_generate_util.h"
#include "test_vk_plan_util.h"
#include "runtime/generate_internal.h"

#ifdef KILN_WITH_VULKAN

typedef struct cand {
    int32_t id;
    float v;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The expected top-k of row[0..n): NaN dropped, sorted. Returns the count. */
static int host_topk(const float *row, int64_t n, int k, cand *out) {
    cand *all = malloc((size_t)n * sizeof *all);
    int m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(row[i])) all[m++] = (cand){(int32_t)i, row[i]};
    qsort(all, (size_t)m, sizeof *all, cand_cmp);
    int c = m < k ? m : k;
    memcpy(out, all, (size_t)c * sizeof *out);
    free(all);
    return c;
}

/* A graph "logits = x * 1" run through the step hook on crafted rows. */
static void test_topk_shader(void) {
    kiln_graph *g = kiln_graph_new("rows");
    kiln_dim seq = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(1, seq, 1000));
    kiln_value y = TP2(g, KILN_OP_MUL, x, tp_scalar(g, KILN_F32, 1));
    CHECK_OK(kiln_graph_add_output(g, "logits", y));
    kvk_session *s = NULL;
    CHECK_OK(kvk_session_create(vp_env.dev, g, NULL, NULL, NULL, &s));
    if (!s) {
        kiln_graph_free(g);
        return;
    }
    static float data[3 * 1000];
    for (int i = 0; i < 3000; i++) data[i] = (float)((i * 7919) % 1013) * 0.01f - 5.0f; /* many exact ties */
    float *row = data + 2000;                                                        /* the last row counts */
    row[3] = NAN;
    row[10] = INFINITY;
    row[11] = -INFINITY;
    row[500] = INFINITY; /* a tie at +inf: 10 before 500 */
    row[999] = NAN;
    data[5] = 1e30f; /* in an earlier row: must not be picked */
    int64_t shape[3] = {1, 3, 1000};
    kiln_tensor_map *in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "x", kiln_tensor_view(KILN_F32, 3, shape, data)));
    static const int ks[] = {1, 2, 7, 64, 256};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int32_t ids[256];
        float vals[256];
        kiln_step_io io = {.row_output = "logits", .row_len = 1000, .topk = ks[i], .ids = ids, .vals = vals};
        CHECK_OK(kvk_session_step(s, in, &io));
        cand want[256];
        int n = host_topk(row, 1000, ks[i], want);
        CHECK(io.count == n);
        int same = io.count == n;
        for (int j = 0; same && j < n; j++) same = ids[j] == want[j].id && vals[j] == want[j].v;
        if (!same) fprintf(stderr, "top-%d differs from the sorted row\n", ks[i]);
        CHECK(same);
    }
    /* the whole row */
    static float back[1000];
    kiln_step_io io = {.row_output = "logits", .row_len = 1000, .row = back};
    CHECK_OK(kvk_session_step(s, in, &io));
    int same = io.count == 1000;
    for (int i = 0; same && i < 1000; i++) same = (isnan(row[i]) && isnan(back[i])) || row[i] == back[i];
    CHECK(same);
    /* an all-NaN row finds nothing */
    for (int i = 0; i < 1000; i++) row[i] = NAN;
    int32_t ids[4];
    float vals[4];
    kiln_step_io none = {.row_output = "logits", .row_len = 1000, .topk = 4, .ids = ids, .vals = vals};
    CHECK_OK(kvk_session_step(s, in, &none));
    CHECK(none.count == 0);
    kiln_step_io bad = {.row_output = "nope", .row_len = 1000, .topk = 4, .ids = ids, .vals = vals};
    CHECK_ERR(kvk_session_step(s, in, &bad), "no output 'nope'");
    kiln_tensor_map_free(in);
    kvk_session_destroy(s);
    kiln_graph_free(g);
}

/* Device top-k against the host's top-k of the same step's row. */
static void test_device_picks(kiln_model *m) {
    kiln_session_options so = {{KILN_DEVICE_VULKAN, -1}, 0, 0, 0, NULL};
    kiln_generator *a = NULL, *b = NULL;
    CHECK_OK(kiln_generator_new(m, &so, &a));
    CHECK_OK(kiln_generator_new(m, &so, &b));
    if (!a || !b) goto done;
    CHECK(kiln_generator_device_topk(a) >= 40);
    int32_t tokens[5] = {1, 403, 407, 261, 378};
    int32_t next = 0;
    for (int step = 0; step < 12; step++) {
        const int32_t *feed = step == 0 ? tokens : &next;
        int64_t n = step == 0 ? 5 : 1;
        const float *logits = NULL;
        const int32_t *ids = NULL;
        const float *vals = NULL;
        int count = 0, k = step % 2 ? 40 : 1;
        CHECK_OK(kiln_generator_feed(a, feed, n, &logits));
        CHECK_OK(kiln_generator_feed_topk(b, feed, n, k, &ids, &vals, &count));
        if (!logits || !ids) break;
        cand want[40];
        int c = host_topk(logits, kiln_generator_info(a)->vocab_size, k, want);
        int same = c == count;
        for (int j = 0; same && j < c; j++) same = ids[j] == want[j].id && vals[j] == want[j].v;
        CHECK(same);
        next = want[0].id;
    }
    int32_t big = 0;
    const int32_t *ids;
    const float *vals;
    int count;
    CHECK_ERR(kiln_generator_feed_topk(b, &big, 1, 100000, &ids, &vals, &count), "cannot pick the top 100000");
done:
    kiln_generator_free(a);
    kiln_generator_free(b);
}

/* Sampling on the device's candidates draws what the reference draws. */
static void test_sampling(kiln_model *m) {
    static const kiln_sampling modes[] = {{0.8, 10, 1.0, 5}, {1.0, 40, 0.9, 9}, {0.0, 0, 1.0, 0}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int32_t *got[2] = {NULL, NULL};
        int64_t n[2] = {0, 0};
        for (int d = 0; d < 2; d++) {
            kiln_session_options so = {{d ? KILN_DEVICE_VULKAN : KILN_DEVICE_REF, -1}, 0, 0, 0, NULL};
            kiln_generator *g = NULL;
            CHECK_OK(kiln_generator_new(m, &so, &g));
            int32_t prompt[5] = {1, 403, 407, 261, 378};
            kiln_generate_params p = {60, modes[i], NULL, 0, NULL, NULL};
            if (g) CHECK_OK(kiln_generate(g, prompt, 5, &p, &got[d], &n[d], NULL));
            kiln_generator_free(g);
        }
        CHECK(n[0] == 60 && n[1] == 60 && got[0] && got[1] && memcmp(got[0], got[1], 60 * sizeof(int32_t)) == 0);
        free(got[0]);
        free(got[1]);
    }
}

/* Steps at growing positions bind new ranges; pushed descriptors allocate nothing. */
static void test_no_descriptor_sets(kiln_model *m) {
    kiln_graph *g = NULL;
    CHECK_OK(kiln_model_compile(m, KILN_LANG_CACHED, &g));
    if (!g) return;
    kvk_session *s = NULL;
    CHECK_OK(kvk_session_create(vp_env.dev, g, m->weights, NULL, NULL, &s));
    kiln_vk_device_stats before, after;
    kiln_vk_device_get_stats(vp_env.dev, &before);
    if (s) {
        int32_t ids[64];
        float vals[64];
        kiln_tensor_map *in = kiln_tensor_map_new();
        int64_t ish[2] = {1, 1};
        int64_t idv = 1;
        CHECK_OK(kiln_tensor_map_put(in, "input_ids", kiln_tensor_view(KILN_I64, 2, ish, &idv)));
        /* zero-length caches for the first step */
        int nin = kiln_graph_input_count(g);
        kiln_tensor empties[64];
        const char *pin[64], *pout[64];
        char names[64][2][64];
        int nc = 0;
        for (int i = 0; i < nin && nc < 64; i++) {
            const kiln_node *nd = kiln_graph_node(g, kiln_graph_input_value(g, i));
            if (strncmp(nd->name, "past.", 5) != 0) continue;
            int64_t sh[KILN_MAX_RANK];
            for (int d = 0; d < nd->shape.rank; d++) sh[d] = kiln_dim_is_const(nd->shape.dims[d]) ? nd->shape.dims[d] : 0;
            sh[0] = 1;
            CHECK_OK(kiln_tensor_alloc(&empties[nc], nd->dtype, nd->shape.rank, sh));
            CHECK_OK(kiln_tensor_map_put(in, nd->name, empties[nc]));
            snprintf(names[nc][0], 64, "%s", nd->name);
            snprintf(names[nc][1], 64, "present.%s", nd->name + 5);
            pin[nc] = names[nc][0];
            pout[nc] = names[nc][1];
            nc++;
        }
        for (int step = 0; step < 8; step++) {
            kiln_step_io io = {nc, pin, pout, step == 0, "logits", 512, 1, NULL, ids, vals, 0};
            CHECK_OK(kvk_session_step(s, in, &io));
            CHECK(io.count == 1);
            idv = ids[0];
        }
        kiln_tensor_map_free(in);
    }
    kiln_vk_device_get_stats(vp_env.dev, &after);
    if (kvk_has_push_descriptors(vp_env.dev)) CHECK(after.descriptor_sets == before.descriptor_sets);
    else fprintf(stderr, "  (no push descriptors on this device: sets come from the cache)\n");
    kvk_session_destroy(s);
    kiln_graph_free(g);
}

int main(void) {
    int rc = 0;
    if (!vp_open("test_vk_generate", &rc)) return rc;
    test_topk_shader();
    kiln_model *m = tg_load(tg_shared("models/stories260K/stories260K.bin"), NULL);
    CHECK(m != NULL);
    if (m) {
        test_device_picks(m);
        test_sampling(m);
        test_no_descriptor_sets(m);
    }
    kiln_model_free(m);
    vp_close();
    return test_finish("test_vk_generate");
}
#else
int main(void) { return vk_skip("test_vk_generate", "kiln was built without Vulkan"); }
#endif
