/* The generator's KV cache: feeding a sequence in chunks (a prefill, then
 * single tokens and small groups) gives, at the end of every chunk, the
 * logits the uncached FORWARD graph computes for that position over the
 * whole sequence. The forward pass runs on the reference interpreter; the
 * generator on every device in $KILN_TEST_DEVICES (default ref).
 *
 * Tolerance |cached - forward| <= 1e-4 + 1e-3 |forward|: the two paths
 * compute the same sums but over differently shaped tensors (a 1-row
 * query against a concatenated cache vs. the full causal square), so a
 * backend may order its float32 accumulations differently; such rounding
 * is ~1e-6 relative, while a wrong position, mask or cache layout changes
 * logits by O(0.1). The worst difference seen is printed.
 *
 * Also: the context limit, bad tokens, end tokens, callbacks, reuse, and
 * models that cannot generate. */
#include <math.h>

#include "kiln/ref.h"
#include "test_generate_util.h"

#define ATOL 1e-4
#define RTOL 1e-3

static void cached_matches_forward(const char *what, const char *path, const int32_t *seq, int n,
                                   const int32_t *enc, int n_enc, const int *chunks, kiln_device_spec dev,
                                   const char *devname) {
    kiln_model *m = tg_load(path, NULL);
    kiln_generator *g = NULL;
    kiln_session_options so = {dev, 0, 0, 0, NULL};
    if (m) CHECK_OK(kiln_generator_new(m, &so, &g));
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    if (!g) goto done;
    int enc_dec = kiln_generator_info(g)->encoder_decoder;
    int64_t vocab = kiln_generator_info(g)->vocab_size;
    int64_t sq[2] = {1, n}, se[2] = {1, n_enc};
    kiln_tensor t;
    CHECK_OK(kiln_tensor_alloc(&t, KILN_I64, 2, sq));
    for (int i = 0; i < n; i++) ((int64_t *)t.data)[i] = seq[i];
    CHECK_OK(kiln_tensor_map_put(in, enc_dec ? "decoder_input_ids" : "input_ids", t));
    if (enc_dec) {
        CHECK_OK(kiln_tensor_alloc(&t, KILN_I64, 2, se));
        for (int i = 0; i < n_enc; i++) ((int64_t *)t.data)[i] = enc[i];
        CHECK_OK(kiln_tensor_map_put(in, "input_ids", t));
        CHECK_OK(kiln_generator_set_encoder_input(g, enc, n_enc));
    }
    CHECK_OK(kiln_ref_run(m->graph, m->weights, in, &out));
    const kiln_tensor *fl = out ? kiln_tensor_map_get(out, "logits") : NULL;
    CHECK(fl && fl->rank == 3 && fl->shape[1] == n && fl->shape[2] == vocab && fl->dtype == KILN_F32);
    if (!fl || fl->rank != 3 || fl->shape[1] != n || fl->shape[2] != vocab || fl->dtype != KILN_F32) goto done;
    double worst = 0;
    int bad = 0, pos = 0;
    for (int c = 0; chunks[c] && pos < n && !bad; c++) {
        const float *lg = NULL;
        kiln_status s = kiln_generator_feed(g, seq + pos, chunks[c], &lg);
        CHECK_OK(s);
        if (s) break;
        pos += chunks[c];
        CHECK(kiln_generator_position(g) == pos);
        const float *ref = (const float *)fl->data + (size_t)(pos - 1) * (size_t)vocab;
        for (int64_t v = 0; v < vocab; v++) {
            double d = fabs((double)lg[v] - ref[v]);
            if (d > worst) worst = d;
            if (!(d <= ATOL + RTOL * fabs(ref[v]))) bad = 1;
        }
        if (bad) fprintf(stderr, "%s on %s: cached logits differ after position %d\n", what, devname, pos - 1);
    }
    CHECK(!bad && pos == n);
    fprintf(stderr, "  %s on %s: %d positions in chunks match the forward pass (max |d| %.2g)\n", what, devname, pos,
            worst);
done:
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_generator_free(g);
    kiln_model_free(m);
}

static void test_cache_equivalence(kiln_device_spec dev, const char *devname) {
    char path[1024];
    int32_t seq[64], enc[64];
    /* stories260K: BOS and the first 15 expected tokens */
    seq[0] = 1;
    int n = tg_read_ids(tg_shared("models/stories260K/expected_greedy_200_token_ids.txt"), seq + 1, 15) + 1;
    CHECK(n == 16);
    cached_matches_forward("stories260K.bin", tg_shared("models/stories260K/stories260K.bin"), seq, n, NULL, 0,
                           (const int[]){5, 1, 1, 3, 1, 5, 0}, dev, devname);

    const char *hf[] = {"llama-tiny", "gpt2-tiny", "t5-tiny"};
    const int chunks[3][8] = {{7, 1, 1, 1, 4, 1, 5, 0}, {1, 1, 5, 1, 8, 0}, {1, 2, 1, 2, 0}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/fixtures/hf/%s/expected.safetensors", test_shared_dir(), hf[i]);
        kiln_tensor_map *exp = NULL;
        CHECK_OK(kiln_safetensors_load(path, &exp));
        if (!exp) continue;
        int t5 = i == 2;
        int ns = tg_tensor_ids(exp, t5 ? "decoder_input_ids" : "input_ids", seq, 64);
        int ne = t5 ? tg_tensor_ids(exp, "input_ids", enc, 64) : 0;
        snprintf(path, sizeof path, "%s/fixtures/hf/%s", test_shared_dir(), hf[i]);
        CHECK(ns > 0);
        if (ns > 0) cached_matches_forward(hf[i], path, seq, ns, enc, ne, chunks[i], dev, devname);
        kiln_tensor_map_free(exp);
    }
}

static int stop_after_3(void *user, int32_t t) {
    (void)t;
    return ++*(int *)user == 3;
}

/* llama-tiny with its context cut to 10 positions by a config override. */
static void test_limits_and_stops(void) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/fixtures/hf/llama-tiny", test_shared_dir());
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    kiln_tensor_map *exp = NULL;
    CHECK_OK(kiln_safetensors_load(path, &exp));
    const char *set[] = {"max_position_embeddings=10"};
    kiln_model_options opt = {NULL, set, 1};
    kiln_model *m = tg_load(dir, &opt);
    kiln_generator *g = NULL;
    if (m) CHECK_OK(kiln_generator_new(m, NULL, &g));
    int32_t prompt[64], tokens[64];
    int np = exp ? tg_tensor_ids(exp, "greedy_prompt", prompt, 64) : -1;
    int nt = exp ? tg_tensor_ids(exp, "greedy_tokens", tokens, 64) : -1;
    CHECK(np == 6 && nt == 30);
    if (!g || np != 6 || nt != 30) goto done;
    const kiln_generation_info *info = kiln_generator_info(g);
    CHECK(info->context == 10 && info->context_key && strcmp(info->context_key, "max_position_embeddings") == 0);
    CHECK(info->vocab_size == 512 && info->eos_id == 2 && info->bos_id == 1 && !info->encoder_decoder);

    /* 6 prompt positions + 4 fed new tokens fill the 10; the 5th new token
     * is predicted at position 9 and never fed */
    kiln_generate_params p = {100, KILN_SAMPLING_GREEDY, NULL, 0, NULL, NULL};
    int32_t *out = NULL;
    int64_t nout = 0;
    CHECK_OK(kiln_generate(g, prompt, np, &p, &out, &nout, NULL));
    CHECK(nout == 5 && out && memcmp(out, tokens + 6, 5 * sizeof *out) == 0);
    CHECK(kiln_generator_position(g) == 10);
    free(out);
    const float *lg = NULL;
    CHECK_ERR(kiln_generator_feed(g, tokens + 10, 1, &lg), "would exceed the model's context of 10 (max_position_embeddings)");
    CHECK(kiln_generator_position(g) == 10);

    /* a bad token changes nothing: the next feed continues where it was */
    kiln_generator_reset(g);
    CHECK(kiln_generator_position(g) == 0);
    CHECK_OK(kiln_generator_feed(g, prompt, 5, &lg));
    CHECK_ERR(kiln_generator_feed(g, (const int32_t[]){512}, 1, &lg), "is 512, outside the vocabulary (0..511)");
    CHECK_ERR(kiln_generator_feed(g, (const int32_t[]){-1}, 1, &lg), "outside the vocabulary");
    CHECK(kiln_generator_position(g) == 5);
    CHECK_OK(kiln_generator_feed(g, prompt + 5, 1, &lg));
    CHECK(lg && kiln_sample_argmax(lg, 512) == tokens[6]);

    /* an end token stops generation after it is emitted; its first
     * occurrence in the expected continuation says when */
    int32_t stop = tokens[6 + 3];
    int first = 0;
    while (tokens[6 + first] != stop) first++;
    kiln_generate_params ps = {20, KILN_SAMPLING_GREEDY, &stop, 1, NULL, NULL};
    kiln_generate_stats st;
    CHECK_OK(kiln_generate(g, prompt, np, &ps, &out, &nout, &st));
    CHECK(nout == first + 1 && st.stopped_at_end && out && out[nout - 1] == stop);
    free(out);

    /* the callback can stop it; the generator is reusable (reset inside) */
    int calls = 0;
    kiln_generate_params pc = {20, KILN_SAMPLING_GREEDY, NULL, 0, stop_after_3, &calls};
    CHECK_OK(kiln_generate(g, prompt, np, &pc, &out, &nout, &st));
    CHECK(calls == 3 && nout == 3 && !st.stopped_at_end && out && memcmp(out, tokens + 6, 3 * sizeof *out) == 0);
    free(out);

    /* seeded sampling through the loop: same seed, same tokens */
    int32_t *a = NULL, *b = NULL, *c = NULL;
    int64_t na = 0, nb = 0, nc = 0;
    kiln_generate_params s1 = {4, {1.0, 0, 1.0, 7}, NULL, 0, NULL, NULL}, s2 = s1;
    s2.sampling.seed = 8;
    CHECK_OK(kiln_generate(g, prompt, np, &s1, &a, &na, NULL));
    CHECK_OK(kiln_generate(g, prompt, np, &s1, &b, &nb, NULL));
    CHECK_OK(kiln_generate(g, prompt, np, &s2, &c, &nc, NULL));
    CHECK(na == 4 && nb == 4 && nc == 4 && a && b && c && memcmp(a, b, 4 * sizeof *a) == 0);
    /* random-weight llama-tiny is nearly uniform over 512 tokens: the
     * seeds agreeing on all 4 draws by chance is ~512^-4 */
    CHECK(a && c && memcmp(a, c, 4 * sizeof *a) != 0);
    free(a);
    free(b);
    free(c);

    kiln_generate_params p0 = {0, KILN_SAMPLING_GREEDY, NULL, 0, NULL, NULL};
    CHECK_ERR(kiln_generate(g, prompt, np, &p0, &out, &nout, NULL), "must be >= 1");
    CHECK_ERR(kiln_generate(g, prompt, 0, &p, &out, &nout, NULL), "the prompt is empty");
    CHECK_ERR(kiln_generate(g, (const int32_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 11, &p, &out, &nout, NULL),
              "exceed the model's context of 10");
    CHECK_ERR(kiln_generator_set_encoder_input(g, prompt, np), "not an encoder-decoder model");
done:
    kiln_generator_free(g);
    kiln_model_free(m);
    kiln_tensor_map_free(exp);
}

static void test_cannot_generate(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/hf/bert-tiny", test_shared_dir());
    kiln_model *m = tg_load(dir, NULL);
    kiln_generator *g = NULL;
    if (m) CHECK_ERR(kiln_generator_new(m, NULL, &g), "cannot generate text: it has no output logits");
    CHECK(g == NULL);
    kiln_model_free(m);

    snprintf(dir, sizeof dir, "%s/fixtures/hf/t5-tiny", test_shared_dir());
    m = tg_load(dir, NULL);
    if (m) CHECK_OK(kiln_generator_new(m, NULL, &g));
    const float *lg;
    if (g) {
        CHECK(kiln_generator_info(g)->encoder_decoder && kiln_generator_info(g)->decoder_start_id == 0);
        CHECK(kiln_generator_info(g)->context == -1); /* relative positions: no table to run out of */
        CHECK_ERR(kiln_generator_feed(g, (const int32_t[]){0}, 1, &lg), "set the encoder input");
        CHECK_ERR(kiln_generator_set_encoder_input(g, (const int32_t[]){1024}, 1), "outside the vocabulary");
    }
    kiln_generator_free(g);
    kiln_model_free(m);
}

int main(void) {
    kiln_device_spec devs[8];
    const char *names[8];
    int nd = tg_devices(devs, names, 8);
    for (int d = 0; d < nd; d++) test_cache_equivalence(devs[d], names[d]);
    test_limits_and_stops();
    test_cannot_generate();
    return test_finish("test_generate_cache");
}
