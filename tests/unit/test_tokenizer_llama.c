/* llama2.c / SentencePiece-style tokenizer: stories260K's tok512.bin against
 * llama2.c's own greedy output, against vectors from an independent Python
 * re-implementation of run.c (tests/tools/llama2c_tokenizer_ref.py via
 * gen_tokenizer_cases.py), the GGUF-style in-memory constructor, score
 * semantics on a hand-made vocabulary, and malformed .bin files. */
#include "test_tokenizer_util.h"

#define TOK512 "models/stories260K/tok512.bin"

static kiln_tokenizer *load_tok512(void) {
    kiln_tokenizer *t = NULL;
    CHECK_OK(kiln_tokenizer_load_llama2c(tt_shared(TOK512), 512, &t));
    return t;
}

/* expected_greedy_200_token_ids.txt holds the 200 tokens llama2.c's run
 * printed for prompt "Once upon a time": the prompt's tokens after BOS,
 * then the greedy continuation; expected_greedy_200.txt is the text it
 * printed, decoding each token after the previous one, starting after BOS. */
static void test_llama2c_output(void) {
    kiln_tokenizer *t = load_tok512();
    if (!t) return;
    CHECK(kiln_tokenizer_get_kind(t) == KILN_TOKENIZER_LLAMA);
    CHECK(kiln_tokenizer_vocab_size(t) == 512 && kiln_tokenizer_bos(t) == 1 && kiln_tokenizer_eos(t) == 2);
    char *list = tt_read(tt_shared("models/stories260K/expected_greedy_200_token_ids.txt"), NULL);
    int32_t want[256];
    size_t nw = 0;
    for (char *p = strtok(list, " \n"); p && nw < 256; p = strtok(NULL, " \n")) want[nw++] = atoi(p);
    free(list);
    CHECK(nw == 200);

    int32_t *ids;
    size_t n;
    CHECK_OK(kiln_tokenizer_encode(t, "Once upon a time", 16, 1, 0, &ids, &n));
    CHECK(n >= 2 && ids[0] == 1);
    int prefix = n >= 2 && n - 1 <= nw;
    for (size_t i = 1; prefix && i < n; i++) prefix = ids[i] == want[i - 1];
    if (!prefix) {
        tt_print_ids("prompt encodes to", ids, n);
        test_failures++;
    }
    free(ids);

    size_t tl, dl;
    char *text = tt_read(tt_shared("models/stories260K/expected_greedy_200.txt"), &tl);
    char *dec = tt_decode_all(t, 1, want, nw, &dl);
    CHECK(dl == tl && memcmp(dec, text, tl) == 0);
    free(dec);
    free(text);
    kiln_tokenizer_free(t);
}

/* Cases from the Python re-implementation: ids, and the bytes decoding them
 * one by one (from no previous token) gives. With BOS, decoding the tokens
 * after BOS gives back the text exactly (dummy-prefix space dropped). */
static void check_cases(const kiln_tokenizer *t, const char *label, int check_decode) {
    kiln_json *cases = tt_json(tt_data("llama2c_cases.json"));
    CHECK(cases->type == KILN_JSON_ARRAY && cases->count >= 15);
    for (int i = 0; i < cases->count; i++) {
        const kiln_json *c = &cases->items[i];
        size_t len, wl;
        char *text = tt_unhex(kiln_json_get(c, "hex")->string, &len);
        int bos = (int)kiln_json_get(c, "bos")->integer, eos = (int)kiln_json_get(c, "eos")->integer;
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(kiln_tokenizer_encode(t, text, len, bos, eos, &ids, &n));
        if (!tt_ids_equal(ids, n, kiln_json_get(c, "ids"))) {
            fprintf(stderr, "%s: case %d (hex %s, bos %d, eos %d) encodes differently\n", label, i,
                    kiln_json_get(c, "hex")->string, bos, eos);
            tt_print_ids("got", ids, n);
            test_failures++;
        }
        size_t dl;
        if (check_decode) {
            char *want = tt_unhex(kiln_json_get(c, "decoded_hex")->string, &wl);
            char *dec = tt_decode_all(t, -1, ids, n, &dl);
            CHECK(dl == wl && memcmp(dec, want, wl) == 0);
            free(dec);
            free(want);
        }
        if (bos && !eos && n >= 1) {
            char *dec = tt_decode_all(t, ids[0], ids + 1, n - 1, &dl);
            CHECK(dl == len && memcmp(dec, text, len) == 0);
            free(dec);
        }
        free(ids);
        free(text);
    }
    kiln_json_free(cases);
}

static void test_reference_cases(void) {
    kiln_tokenizer *t = load_tok512();
    if (!t) return;
    check_cases(t, "tok512.bin", 1);
    /* Byte tokens decode to their raw byte, also right after BOS:
     * token 3 + 0x20 is "<0x20>", a byte, not a piece with a leading space. */
    const char *b;
    size_t bl;
    CHECK_OK(kiln_tokenizer_decode(t, 1, 3 + 0x20, &b, &bl));
    CHECK(bl == 1 && b[0] == ' ');
    CHECK_OK(kiln_tokenizer_decode(t, -1, 3 + 0xE2, &b, &bl));
    CHECK(bl == 1 && (unsigned char)b[0] == 0xE2);
    CHECK_ERR(kiln_tokenizer_decode(t, -1, 512, &b, &bl), "outside the vocabulary");
    kiln_tokenizer_free(t);
}

/* Long input finishes quickly (the merge loop is O(n log n)) and
 * round-trips. */
static void test_long_input(void) {
    kiln_tokenizer *t = load_tok512();
    if (!t) return;
    const char *story = "Once upon a time, there was a little girl named Lily. She loved to play outside. ";
    size_t sl = strlen(story), reps = 2000, len = sl * reps, dl;
    char *text = malloc(len);
    for (size_t i = 0; i < reps; i++) memcpy(text + i * sl, story, sl);
    int32_t *ids;
    size_t n;
    CHECK_OK(kiln_tokenizer_encode(t, text, len, 1, 0, &ids, &n));
    CHECK(n > reps && n < len / 2);
    char *dec = tt_decode_all(t, ids[0], ids + 1, n - 1, &dl);
    CHECK(dl == len && memcmp(dec, text, len) == 0);
    free(dec);
    free(ids);
    free(text);
    kiln_tokenizer_free(t);
}

/* stories260K.gguf's vocabulary (U+2581 spaces, "<s>" control tokens, byte
 * type 6) encodes exactly like tok512.bin. */
static void test_gguf_vocab(void) {
    kiln_json *v = tt_json(tt_data("stories260K_gguf_vocab.json"));
    const kiln_json *jt = kiln_json_get(v, "tokens"), *js = kiln_json_get(v, "scores"), *jy = kiln_json_get(v, "types");
    int n = jt->count;
    CHECK(n == 512 && js->count == n && jy->count == n);
    const char **tokens = malloc((size_t)n * sizeof *tokens);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    float *scores = malloc((size_t)n * sizeof *scores);
    int32_t *types = malloc((size_t)n * sizeof *types);
    for (int i = 0; i < n; i++) {
        tokens[i] = jt->items[i].string;
        lens[i] = jt->items[i].len;
        scores[i] = (float)js->items[i].number;
        types[i] = (int32_t)jy->items[i].integer;
    }
    kiln_tokenizer *g = NULL, *g2 = NULL, *bin = load_tok512();
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tokens, lens, scores, types, n, (int32_t)kiln_json_get(v, "bos")->integer,
                                             (int32_t)kiln_json_get(v, "eos")->integer, &g));
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tokens, NULL, scores, NULL, n, -1, -1, &g2)); /* no types */
    if (g && g2 && bin) {
        CHECK(kiln_tokenizer_bos(g) == 1 && kiln_tokenizer_eos(g) == 2);
        check_cases(g, "gguf vocab", 0);
        check_cases(g2, "gguf vocab, no types", 0);
        /* Same bytes for every non-control token, with and without BOS
         * before it (control pieces differ: "<s>" vs "\n<s>\n"). */
        for (int32_t id = 3; id < n; id++) {
            for (int prev = -1; prev <= 1; prev += 2) {
                const char *a, *b;
                size_t la, lb;
                CHECK_OK(kiln_tokenizer_decode(bin, prev, id, &a, &la));
                CHECK_OK(kiln_tokenizer_decode(g, prev, id, &b, &lb));
                if (la != lb || memcmp(a, b, la) != 0) {
                    fprintf(stderr, "token %d after %d decodes differently\n", id, prev);
                    test_failures++;
                }
            }
        }
    }
    kiln_tokenizer_free(g);
    kiln_tokenizer_free(g2);
    kiln_tokenizer_free(bin);

    /* A byte-typed token not spelled <0xXX> is rejected. */
    int32_t saved = types[300];
    types[300] = 6;
    CHECK_ERR(kiln_tokenizer_from_llama_vocab(tokens, lens, scores, types, n, -1, -1, &g), "token 300 has the byte type");
    types[300] = saved;
    scores[7] = 0.0f / 0.0f;
    CHECK_ERR(kiln_tokenizer_from_llama_vocab(tokens, lens, scores, types, n, -1, -1, &g), "token 7 has a NaN score");
    CHECK_ERR(kiln_tokenizer_from_llama_vocab(tokens, lens, scores, types, n, 512, -1, &g), "BOS id 512");
    CHECK_ERR(kiln_tokenizer_from_llama_vocab(tokens, lens, scores, types, 0, -1, -1, &g), "must be positive");
    CHECK(g == NULL);
    free(tokens);
    free(lens);
    free(scores);
    free(types);
    kiln_json_free(v);
}

static void expect_ids(const kiln_tokenizer *t, const char *text, int bos, const int32_t *want, size_t nw) {
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(kiln_tokenizer_encode(t, text, strlen(text), bos, 0, &ids, &n));
    if (!(n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0))) {
        fprintf(stderr, "encoding \"%s\" differs\n", text);
        tt_print_ids("got", ids, n);
        tt_print_ids("want", want, nw);
        test_failures++;
    }
    free(ids);
}

/* Score semantics by hand on a tiny vocabulary (no byte tokens; 0 = unk):
 *   0 <unk>  1 <s>  2 </s>  3 "▁"  4 a  5 b  6 ab(-5)  7 ba(-5 or -4)  8 ▁a(-10)
 * "aba" starts as [▁ a b a]; candidate merges ▁a -10, ab -5, ba -5.
 *   ba = -5: tie, the leftmost (ab) wins -> [▁ ab a]; nothing merges after.
 *   ba = -4: ba wins -> [▁ a ba]; then ▁a -> [▁a ba].
 * 'z' has no piece and no byte token: it becomes <unk>.
 * run.c only merges pieces scoring above -1e10: with ab and ba below that,
 * only ▁a merges -> [▁a b a]. */
static void test_score_semantics(void) {
    const char *tok[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab", "ba", "\xE2\x96\x81" "a"};
    float sc[] = {0, 0, 0, -1, -2, -3, -5, -5, -10};
    int32_t ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 1};
    kiln_tokenizer *t = NULL;
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tok, NULL, sc, ty, 9, -1, -1, &t));
    if (t) {
        expect_ids(t, "aba", 0, (const int32_t[]){3, 6, 4}, 3);
        expect_ids(t, "aza", 1, (const int32_t[]){1, 8, 0, 4}, 4);
        kiln_tokenizer_free(t);
    }
    sc[7] = -4;
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tok, NULL, sc, ty, 9, -1, -1, &t));
    if (t) {
        expect_ids(t, "aba", 0, (const int32_t[]){8, 7}, 2);
        kiln_tokenizer_free(t);
    }
    sc[6] = -2e10f;
    sc[7] = -3e10f;
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tok, NULL, sc, ty, 9, -1, -1, &t));
    if (t) {
        expect_ids(t, "aba", 0, (const int32_t[]){8, 5, 4}, 3);
        kiln_tokenizer_free(t);
    }
    /* Without types there is no <unk> to fall back to: encoding 'z' fails. */
    CHECK_OK(kiln_tokenizer_from_llama_vocab(tok, NULL, sc, NULL, 9, -1, -1, &t));
    if (t) {
        int32_t *ids;
        size_t n;
        CHECK_ERR(kiln_tokenizer_encode(t, "aza", 3, 0, 0, &ids, &n), "byte 0x7A at offset 1 has no token");
        kiln_tokenizer_free(t);
    }
}

/* Broken tokenizer .bin files: errors name the file, token and offset. */
static void test_malformed_bin(void) {
    size_t len;
    char *data = tt_read(tt_shared(TOK512), &len);
    const char *path = tt_tmp("tok.bin");
    kiln_tokenizer *t = NULL;
    /* Truncated in the middle of a token: token 0 "<unk>" spans offsets
     * 4..16 (score 4-7, length 8-11, bytes 12-16), token 1 starts at 17. */
    tt_write(path, data, 20);
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 259, &t), "truncated");
    /* Tokens 3.. are "<0xXX>": 8 + 6 bytes each, from offset 4 + 13 + 13 + 14
     * = 44; token 149 starts at 44 + 146 * 14 = 2088. Cut inside its header. */
    tt_write(path, data, 2092);
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 259, &t), "truncated at offset 2088: token 149 of 259");
    tt_write(path, data, len - 3); /* last token's bytes cut short */
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 512, &t), "token 511 at offset");
    /* Length of token 1 (at offset 17 + 4 = 21) set past the end. */
    char *bad = malloc(len);
    memcpy(bad, data, len);
    int32_t huge = 1 << 30, neg = -5;
    memcpy(bad + 21, &huge, 4);
    tt_write(path, bad, len);
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 512, &t), "token 1 at offset 21: length 1073741824 runs past the end");
    memcpy(bad + 21, &neg, 4);
    tt_write(path, bad, len);
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 512, &t), "length -5 is negative");
    CHECK_ERR(kiln_tokenizer_load_llama2c(tt_shared(TOK512), 100000, &t), "truncated");
    CHECK_ERR(kiln_tokenizer_load_llama2c(tt_shared(TOK512), 200, &t), "too small");
    CHECK_ERR(kiln_tokenizer_load_llama2c(tt_tmp("nonexistent.bin"), 512, &t), "nonexistent.bin");
    tt_write(path, data, 2);
    CHECK_ERR(kiln_tokenizer_load_llama2c(path, 512, &t), "truncated");
    CHECK(t == NULL);
    /* The file holds 512 tokens; a model saying 300 uses the first 300. */
    CHECK_OK(kiln_tokenizer_load_llama2c(tt_shared(TOK512), 300, &t));
    CHECK(t && kiln_tokenizer_vocab_size(t) == 300);
    kiln_tokenizer_free(t);
    unlink(path);
    free(bad);
    free(data);
}

int main(void) {
    test_llama2c_output();
    test_reference_cases();
    test_long_input();
    test_gguf_vocab();
    test_score_semantics();
    test_malformed_bin();
    return test_finish("test_tokenizer_llama");
}
