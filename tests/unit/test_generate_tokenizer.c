/* Loading llama2.c .bin and GGUF files as models, finding the tokenizer
 * that goes with a model, and the end tokens generation stops at. */
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/gguf.h"
#include "test_generate_util.h"

static char tmp_root[64];

static void link_into(const char *dir, const char *name, const char *target) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK(symlink(target, p) == 0);
}

static int has(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static void test_stories_formats(void) {
    const char *files[2] = {"models/stories260K/stories260K.bin", "models/stories260K/stories260K.gguf"};
    const char *formats[2] = {"llama2c", "gguf"};
    int32_t *enc[2] = {NULL, NULL};
    size_t nenc[2] = {0, 0};
    const char *text = "Lily saw a big dog. \"Hello!\" she said.";
    for (int f = 0; f < 2; f++) {
        kiln_model *m = tg_load(tg_shared(files[f]), NULL);
        if (!m) continue;
        CHECK(strcmp(m->format, formats[f]) == 0 && strcmp(m->name, "stories260K") == 0);
        kiln_tokenizer *tok = NULL;
        int add_bos = -1;
        CHECK_OK(kiln_tokenizer_for_model(m, NULL, &tok, &add_bos));
        if (tok) {
            CHECK(kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_LLAMA && kiln_tokenizer_vocab_size(tok) == 512);
            CHECK(add_bos == 1 && kiln_tokenizer_bos(tok) == 1 && kiln_tokenizer_eos(tok) == 2);
            CHECK_OK(kiln_tokenizer_encode(tok, text, strlen(text), 1, 0, &enc[f], &nenc[f]));
        }
        /* end tokens: EOS 2 always; BOS 1 only where run.c stops at it */
        int32_t stop[8];
        kiln_generation_info info = {0};
        info.bos_id = 1;
        info.eos_id = 2;
        int n = kiln_generation_stop_ids(m, &info, tok, stop, 8);
        CHECK(has(stop, n, 2) && has(stop, n, 1) == (f == 0) && n == (f == 0 ? 2 : 1));
        kiln_tokenizer_free(tok);
        kiln_model_free(m);
    }
    /* the same vocabulary, read from tok512.bin and from the GGUF metadata */
    CHECK(nenc[0] > 5 && nenc[0] == nenc[1] && enc[0] && enc[1] &&
          memcmp(enc[0], enc[1], nenc[0] * sizeof *enc[0]) == 0);
    free(enc[0]);
    free(enc[1]);

    /* an explicit tokenizer file wins: tok512.bin for the GGUF model */
    kiln_model *m = tg_load(tg_shared(files[1]), NULL);
    kiln_tokenizer *tok = NULL;
    if (m) CHECK_OK(kiln_tokenizer_for_model(m, tg_shared("models/stories260K/tok512.bin"), &tok, NULL));
    CHECK(tok && kiln_tokenizer_vocab_size(tok) == 512);
    kiln_tokenizer_free(tok);
    tok = NULL;
    if (m) CHECK_ERR(kiln_tokenizer_for_model(m, "/nonexistent/tok.bin", &tok, NULL), "no such tokenizer file");
    if (m) CHECK_ERR(kiln_tokenizer_for_model(m, tmp_root, &tok, NULL), "no tokenizer in this folder");
    CHECK(tok == NULL);
    kiln_model_free(m);
}

/* A .bin checkpoint with no tokenizer beside it. */
static void test_llama2c_without_tokenizer(void) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/alone", tmp_root);
    CHECK(mkdir(dir, 0700) == 0);
    link_into(dir, "model.bin", tg_shared("models/stories260K/stories260K.bin"));
    char path[512];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    kiln_model *m = tg_load(path, NULL);
    kiln_tokenizer *tok = NULL;
    if (m) CHECK(strcmp(m->name, "model") == 0);
    if (m) CHECK_ERR(kiln_tokenizer_for_model(m, NULL, &tok, NULL), "no tokenizer found (looked for");
    CHECK(tok == NULL);
    kiln_model_free(m);
    /* tokenizer.bin is the other name llama2.c uses */
    link_into(dir, "tokenizer.bin", tg_shared("models/stories260K/tok512.bin"));
    m = tg_load(path, NULL);
    if (m) CHECK_OK(kiln_tokenizer_for_model(m, NULL, &tok, NULL));
    CHECK(tok != NULL);
    kiln_tokenizer_free(tok);
    kiln_model_free(m);
}

/* GPT-2: tokenizer files in the Hugging Face folder, or named. "Hello
 * world" is [15496, 995] in GPT-2's vocabulary (OpenAI's encoder.json:
 * "Hello" = 15496, "\u0120world" = 995). */
static void test_hf_folders(void) {
    char dir[256], fix[1024];
    snprintf(dir, sizeof dir, "%s/gpt2", tmp_root);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(fix, sizeof fix, "%s/fixtures/hf/gpt2-tiny", test_shared_dir());
    char p[1100];
    snprintf(p, sizeof p, "%s/config.json", fix);
    link_into(dir, "config.json", p);
    snprintf(p, sizeof p, "%s/model.safetensors", fix);
    link_into(dir, "model.safetensors", p);
    link_into(dir, "encoder.json", tg_shared("models/gpt2-tokenizer/encoder.json"));
    link_into(dir, "vocab.bpe", tg_shared("models/gpt2-tokenizer/vocab.bpe"));
    kiln_model *m = tg_load(dir, NULL);
    kiln_tokenizer *tok = NULL;
    int add_bos = -1;
    if (m) CHECK_OK(kiln_tokenizer_for_model(m, NULL, &tok, &add_bos));
    if (tok) {
        CHECK(kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_GPT2 && add_bos == 0);
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(kiln_tokenizer_encode(tok, "Hello world", 11, 0, 0, &ids, &n));
        CHECK(n == 2 && ids && ids[0] == 15496 && ids[1] == 995);
        free(ids);
        int32_t stop[8];
        int ns = kiln_generation_stop_ids(m, NULL, tok, stop, 8);
        CHECK(ns == 1 && stop[0] == 50256);
    }
    kiln_tokenizer_free(tok);
    kiln_model_free(m);

    /* the fixture folder itself has no tokenizer; one can be named */
    m = tg_load(fix, NULL);
    tok = NULL;
    if (m) {
        CHECK_ERR(kiln_tokenizer_for_model(m, NULL, &tok, NULL), "no tokenizer found (looked for vocab.json + merges.txt");
        CHECK_OK(kiln_tokenizer_for_model(m, tg_shared("models/gpt2-tokenizer"), &tok, NULL));
        CHECK(tok && kiln_tokenizer_vocab_size(tok) == 50257);
        kiln_tokenizer_free(tok);
        tok = NULL;
        CHECK_OK(kiln_tokenizer_for_model(m, tg_shared("models/gpt2-tokenizer/encoder.json"), &tok, NULL));
        CHECK(tok && kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_GPT2);
        kiln_tokenizer_free(tok);
    }
    kiln_model_free(m);

    /* T5 stops at its config's eos_token_id (1) */
    snprintf(fix, sizeof fix, "%s/fixtures/hf/t5-tiny", test_shared_dir());
    m = tg_load(fix, NULL);
    if (m) {
        int32_t stop[8];
        kiln_generation_info info = {0};
        info.eos_id = 1;
        info.bos_id = -1;
        int ns = kiln_generation_stop_ids(m, &info, NULL, stop, 8);
        CHECK(ns == 1 && stop[0] == 1);
    }
    kiln_model_free(m);
}

/* GGUF tokenizer metadata of both kinds, written with the GGUF writer. */
static void write_gguf_tokenizer(const char *path, const char *model, const char *const *tokens, int n,
                                 const char *const *merges, int nm, int add_bos) {
    kiln_gguf_writer *w = NULL;
    CHECK_OK(kiln_gguf_writer_new(&w));
    if (!w) return;
    CHECK_OK(kiln_gguf_writer_add_string(w, "tokenizer.ggml.model", model));
    CHECK_OK(kiln_gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, (uint64_t)n));
    if (merges) CHECK_OK(kiln_gguf_writer_add_string_array(w, "tokenizer.ggml.merges", merges, (uint64_t)nm));
    if (strcmp(model, "llama") == 0) {
        float scores[300] = {0};
        CHECK_OK(kiln_gguf_writer_add_array(w, "tokenizer.ggml.scores", KILN_GGUF_FLOAT32, scores, (uint64_t)n));
    }
    if (add_bos >= 0) CHECK_OK(kiln_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", add_bos));
    CHECK_OK(kiln_gguf_writer_write(w, path));
    kiln_gguf_writer_free(w);
}

static void test_gguf_tokenizers(void) {
    kiln_model *m = tg_load(tg_shared("models/stories260K/stories260K.gguf"), NULL);
    if (!m) return;
    char path[256];
    snprintf(path, sizeof path, "%s/gpt2.gguf", tmp_root);
    /* byte-level BPE: tokens 0..255 are the bytes in GPT-2's printable
     * alphabet (bytes ! .. ~, 0xA1 .. 0xAC and 0xAE .. 0xFF stand for
     * themselves, the others for U+0100 onwards in byte order); then "hello"
     * merges h+e (rank 0), l+l (1), he+ll (2), hell+o (3) into token 259,
     * while "hole" has no merge pair and stays its bytes h o l e. */
    static char alpha[256][4];
    const char *tokens[260];
    int next = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        unsigned cp = keep ? (unsigned)b : 256u + (unsigned)next++;
        if (cp < 0x80) alpha[b][0] = (char)cp;
        else alpha[b][0] = (char)(0xC0 | (cp >> 6)), alpha[b][1] = (char)(0x80 | (cp & 0x3F));
        tokens[b] = alpha[b];
    }
    tokens[256] = "he";
    tokens[257] = "ll";
    tokens[258] = "hell";
    tokens[259] = "hello";
    const char *merges[] = {"h e", "l l", "he ll", "hell o"};
    write_gguf_tokenizer(path, "gpt2", tokens, 260, merges, 4, -1);
    kiln_tokenizer *tok = NULL;
    int add_bos = -1;
    CHECK_OK(kiln_tokenizer_for_model(m, path, &tok, &add_bos));
    if (tok) {
        CHECK(kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_GPT2 && add_bos == 0);
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(kiln_tokenizer_encode(tok, "hello", 5, 0, 0, &ids, &n));
        CHECK(n == 1 && ids && ids[0] == 259);
        free(ids);
        CHECK_OK(kiln_tokenizer_encode(tok, "hole", 4, 0, 0, &ids, &n));
        CHECK(n == 4 && ids && ids[0] == 'h' && ids[1] == 'o' && ids[2] == 'l' && ids[3] == 'e');
        free(ids);
    }
    kiln_tokenizer_free(tok);
    tok = NULL;
    /* a "gpt2" vocabulary needs its merges */
    write_gguf_tokenizer(path, "gpt2", tokens, 260, NULL, 0, -1);
    CHECK_ERR(kiln_tokenizer_for_model(m, path, &tok, NULL), "needs tokenizer.ggml.merges");
    /* add_bos_token overrides the llama default */
    const char *pieces[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "a"};
    write_gguf_tokenizer(path, "llama", pieces, 5, NULL, 0, 0);
    CHECK_OK(kiln_tokenizer_for_model(m, path, &tok, &add_bos));
    CHECK(tok && add_bos == 0 && kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_LLAMA);
    kiln_tokenizer_free(tok);
    tok = NULL;
    write_gguf_tokenizer(path, "bert", tokens, 260, NULL, 0, -1);
    CHECK_ERR(kiln_tokenizer_for_model(m, path, &tok, NULL), "tokenizer.ggml.model \"bert\" is not supported");
    CHECK(tok == NULL);
    kiln_model_free(m);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void test_bad_files(void) {
    char path[256];
    kiln_model *m = NULL;
    snprintf(path, sizeof path, "%s/short.bin", tmp_root);
    write_bytes(path, "\1\0\0\0", 4);
    CHECK_ERR(kiln_model_load(path, NULL, &m), "too short for a llama2.c header");
    snprintf(path, sizeof path, "%s/short.gguf", tmp_root);
    write_bytes(path, "GGUF", 4);
    CHECK_ERR(kiln_model_load(path, NULL, &m), "short.gguf: offset 4");
    CHECK(m == NULL);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/kiln-test-gen-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    test_stories_formats();
    test_llama2c_without_tokenizer();
    test_hf_folders();
    test_gguf_tokenizers();
    test_bad_files();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", tmp_root);
    return test_finish("test_generate_tokenizer");
}
