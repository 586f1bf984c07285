/* ctest-label: slow (200-token generations on every device: over 10 minutes under ASan; cli.generate and test_generate_cache cover the same paths there) */
/* Greedy generation against outputs made by other programs, on every
 * device in $KILN_TEST_DEVICES (default ref):
 *   - stories260K (.bin and .gguf), prompt "Once upon a time", 200 tokens:
 *     ../shared's expected_greedy_200.txt / expected_greedy_200_token_ids.txt.
 *     The id file holds 200 ids: the 4 prompt tokens (no BOS) then 196 new
 *     ones, which is how llama2.c's run.c counts -n 200 (prompt included),
 *     and the text is their decoding, as run.c prints it.
 *   - the HF fixtures' greedy_tokens (transformers' generate, greedy):
 *     gpt2-tiny and llama-tiny continue greedy_prompt by 24 tokens; t5-tiny
 *     decodes 12 tokens after decoder_start_token_id from input_ids. */
#include "test_generate_util.h"

typedef struct collect {
    int32_t ids[512];
    int n;
} collect;

static int on_token(void *user, int32_t t) {
    collect *c = user;
    if (c->n < 512) c->ids[c->n++] = t;
    return 0;
}

/* Decoded text of ids[0..n) that follow `prev`, appended to buf. */
static void decode_into(const kiln_tokenizer *tok, int32_t prev, const int32_t *ids, int n, char *buf, size_t cap) {
    size_t len = strlen(buf);
    for (int i = 0; i < n; i++) {
        const char *b;
        size_t bl;
        CHECK_OK(kiln_tokenizer_decode(tok, prev, ids[i], &b, &bl));
        if (len + bl < cap) memcpy(buf + len, b, bl), len += bl;
        buf[len] = 0;
        prev = ids[i];
    }
}

static void test_stories(const char *file, kiln_device_spec dev, const char *devname) {
    char path[1024];
    snprintf(path, sizeof path, "models/stories260K/%s", file);
    int32_t want[256];
    int nwant = tg_read_ids(tg_shared("models/stories260K/expected_greedy_200_token_ids.txt"), want, 256);
    char *want_text = tg_read(tg_shared("models/stories260K/expected_greedy_200.txt"), NULL);
    CHECK(nwant == 200 && want_text);
    kiln_model *m = tg_load(tg_shared(path), NULL);
    kiln_tokenizer *tok = NULL;
    int add_bos = 0;
    if (m) CHECK_OK(kiln_tokenizer_for_model(m, NULL, &tok, &add_bos));
    if (!m || !tok || nwant != 200 || !want_text) goto done;
    CHECK(add_bos == 1);

    const char *prompt = "Once upon a time";
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(kiln_tokenizer_encode(tok, prompt, strlen(prompt), 1, 0, &ids, &n));
    /* BOS, then the 4 tokens the id file starts with */
    CHECK(n == 5 && ids[0] == kiln_tokenizer_bos(tok) && memcmp(ids + 1, want, 4 * sizeof *ids) == 0);

    kiln_session_options so = {dev, 0, 0, 0, NULL};
    kiln_generator *g = NULL;
    CHECK_OK(kiln_generator_new(m, &so, &g));
    int32_t stop[8];
    collect c = {.n = 0};
    kiln_generate_params p = {196, KILN_SAMPLING_GREEDY, stop, 0, on_token, &c};
    if (g) p.nstop = kiln_generation_stop_ids(m, kiln_generator_info(g), tok, stop, 8);
    int32_t *out = NULL;
    int64_t nout = 0;
    kiln_generate_stats st;
    if (g && n == 5) CHECK_OK(kiln_generate(g, ids, 5, &p, &out, &nout, &st));
    CHECK(nout == 196 && c.n == 196);
    CHECK(out && memcmp(out, want + 4, (size_t)(nout < 196 ? nout : 196) * sizeof *out) == 0);
    CHECK(out && memcmp(c.ids, out, (size_t)c.n * sizeof *out) == 0); /* streamed = returned */
    CHECK(st.prompt_tokens == 5 && st.new_tokens == 196 && st.decode_steps == 195 && !st.stopped_at_end);

    /* the text run.c prints: the prompt's tokens after BOS, then the rest */
    static char text[8192];
    text[0] = 0;
    if (n == 5) decode_into(tok, ids[0], ids + 1, 4, text, sizeof text);
    if (out && nout > 0) decode_into(tok, ids[4], out, (int)nout, text, sizeof text);
    CHECK(strcmp(text, want_text) == 0);
    int same = out && nout == 196 && memcmp(out, want + 4, 196 * sizeof *out) == 0 && strcmp(text, want_text) == 0;
    if (same) fprintf(stderr, "  %s on %s: greedy 200 tokens match the expected ids and text\n", file, devname);
    else fprintf(stderr, "  %s on %s: got \"%s\"\n", file, devname, text);
    free(out);
    free(ids);
    kiln_generator_free(g);
done:
    kiln_tokenizer_free(tok);
    kiln_model_free(m);
    free(want_text);
}

static void test_fixture(const char *name, kiln_device_spec dev, const char *devname) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/fixtures/hf/%s", test_shared_dir(), name);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    kiln_tensor_map *exp = NULL;
    CHECK_OK(kiln_safetensors_load(path, &exp));
    kiln_model *m = tg_load(dir, NULL);
    kiln_generator *g = NULL;
    kiln_session_options so = {dev, 0, 0, 0, NULL};
    if (m) CHECK_OK(kiln_generator_new(m, &so, &g));
    if (!exp || !g) goto done;
    int32_t prompt[64], tokens[64];
    int enc_dec = kiln_generator_info(g)->encoder_decoder;
    int np = tg_tensor_ids(exp, enc_dec ? "input_ids" : "greedy_prompt", prompt, 64);
    int nt = tg_tensor_ids(exp, "greedy_tokens", tokens, 64);
    /* decoder-only: greedy_tokens = prompt + new; T5: decoder start + new */
    int skip = enc_dec ? 1 : np;
    CHECK(np > 0 && nt > skip);
    if (np <= 0 || nt <= skip) goto done;
    if (enc_dec) CHECK(tokens[0] == kiln_generator_info(g)->decoder_start_id);
    else CHECK(memcmp(tokens, prompt, (size_t)np * sizeof *prompt) == 0);
    int32_t stop[8];
    int nstop = kiln_generation_stop_ids(m, kiln_generator_info(g), NULL, stop, 8);
    kiln_generate_params p = {nt - skip, KILN_SAMPLING_GREEDY, stop, nstop, NULL, NULL};
    int32_t *out = NULL;
    int64_t nout = 0;
    CHECK_OK(kiln_generate(g, prompt, np, &p, &out, &nout, NULL));
    int ok = nout == nt - skip && out && memcmp(out, tokens + skip, (size_t)nout * sizeof *out) == 0;
    CHECK(ok);
    if (ok) fprintf(stderr, "  %s on %s: %lld greedy tokens match transformers\n", name, devname, (long long)nout);
    free(out);
done:
    kiln_generator_free(g);
    kiln_model_free(m);
    kiln_tensor_map_free(exp);
}

int main(void) {
    kiln_device_spec devs[8];
    const char *names[8];
    int nd = tg_devices(devs, names, 8);
    for (int d = 0; d < nd; d++) {
        test_stories("stories260K.bin", devs[d], names[d]);
        test_stories("stories260K.gguf", devs[d], names[d]);
        test_fixture("gpt2-tiny", devs[d], names[d]);
        test_fixture("llama-tiny", devs[d], names[d]);
        test_fixture("t5-tiny", devs[d], names[d]);
    }
    return test_finish("test_generate");
}
