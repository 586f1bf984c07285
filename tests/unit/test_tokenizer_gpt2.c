/* GPT-2 byte-level BPE: encodings against transformers' GPT2Tokenizer
 * (tests/data/tokenizer/gpt2_cases.json, made by
 * tests/tools/gen_tokenizer_cases.py), byte-exact round trips, streaming
 * decode, the in-memory constructor, merge semantics on a hand-made
 * vocabulary, and malformed files. */
#include "runtime/unicode.h"
#include "test_tokenizer_util.h"

#define GPT2_DIR "models/gpt2-tokenizer"

static kiln_tokenizer *load_gpt2(void) {
    kiln_tokenizer *t = NULL;
    CHECK_OK(kiln_tokenizer_load_gpt2(tt_shared(GPT2_DIR "/encoder.json"), tt_shared(GPT2_DIR "/vocab.bpe"), &t));
    return t;
}

/* Every reference case: same ids, and decoding them token by token gives
 * back the text's exact bytes. */
static void check_cases(const kiln_tokenizer *t, const char *label) {
    kiln_json *cases = tt_json(tt_data("gpt2_cases.json"));
    CHECK(cases->type == KILN_JSON_ARRAY && cases->count >= 30);
    for (int i = 0; i < cases->count; i++) {
        const kiln_json *text = kiln_json_get(&cases->items[i], "text");
        const kiln_json *want = kiln_json_get(&cases->items[i], "ids");
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(kiln_tokenizer_encode(t, text->string, text->len, 0, 0, &ids, &n));
        if (!tt_ids_equal(ids, n, want)) {
            fprintf(stderr, "%s: case %d (\"%s\") encodes differently\n", label, i, text->string);
            tt_print_ids("got", ids, n);
            test_failures++;
        }
        size_t dl;
        char *dec = tt_decode_all(t, -1, ids, n, &dl);
        CHECK(dl == text->len && memcmp(dec, text->string, dl) == 0);
        free(dec);
        free(ids);
    }
    kiln_json_free(cases);
}

static void test_reference_cases(void) {
    kiln_tokenizer *t = load_gpt2();
    if (!t) return;
    CHECK(kiln_tokenizer_get_kind(t) == KILN_TOKENIZER_GPT2);
    CHECK(kiln_tokenizer_vocab_size(t) == 50257);
    CHECK(kiln_tokenizer_bos(t) == 50256 && kiln_tokenizer_eos(t) == 50256);
    check_cases(t, "files");

    /* add_bos / add_eos wrap the plain encoding ("Hello world" is case 1 of
     * the references: 15496 995). */
    int32_t *ids;
    size_t n;
    CHECK_OK(kiln_tokenizer_encode(t, "Hello world", 11, 1, 1, &ids, &n));
    CHECK(n == 4 && ids[0] == 50256 && ids[1] == 15496 && ids[2] == 995 && ids[3] == 50256);
    free(ids);
    CHECK_OK(kiln_tokenizer_encode(t, "", 0, 0, 0, &ids, &n));
    CHECK(n == 0 && ids == NULL);
    kiln_tokenizer_free(t);
}

/* A character split across tokens: the emoji U+1F600 (F0 9F 98 80) is two
 * GPT-2 tokens; each yields part of its bytes, the two together all. */
static void test_streaming_decode(void) {
    kiln_tokenizer *t = load_gpt2();
    if (!t) return;
    int32_t *ids;
    size_t n;
    CHECK_OK(kiln_tokenizer_encode(t, "\xF0\x9F\x98\x80", 4, 0, 0, &ids, &n));
    CHECK(n == 2);
    if (n == 2) {
        const char *a, *b;
        size_t la, lb;
        CHECK_OK(kiln_tokenizer_decode(t, -1, ids[0], &a, &la));
        CHECK(la > 0 && la < 4 && memcmp(a, "\xF0\x9F\x98\x80", la) == 0);
        CHECK_OK(kiln_tokenizer_decode(t, ids[0], ids[1], &b, &lb));
        CHECK(la + lb == 4 && memcmp(b, "\xF0\x9F\x98\x80" + la, lb) == 0);
    }
    free(ids);
    /* <|endoftext|> decodes to its own text, as transformers does with
     * skip_special_tokens=False. */
    const char *p;
    size_t pl;
    CHECK_OK(kiln_tokenizer_decode(t, -1, 50256, &p, &pl));
    CHECK(pl == 13 && memcmp(p, "<|endoftext|>", 13) == 0);
    CHECK_ERR(kiln_tokenizer_decode(t, -1, 50257, &p, &pl), "outside the vocabulary");
    CHECK_ERR(kiln_tokenizer_decode(t, -1, -3, &p, &pl), "outside the vocabulary");
    kiln_tokenizer_free(t);
}

/* Text no Python str can hold (invalid UTF-8) still encodes byte by byte
 * and round-trips exactly; so do long runs (no quadratic blow-up). */
static void test_bytes_and_long_runs(void) {
    kiln_tokenizer *t = load_gpt2();
    if (!t) return;
    const char bad[] = "\xFF\xFE\x80 abc\xE2\x82 \xED\xA0\x80z\xC0\xAF";
    int32_t *ids;
    size_t n, dl;
    CHECK_OK(kiln_tokenizer_encode(t, bad, sizeof bad - 1, 0, 0, &ids, &n));
    char *dec = tt_decode_all(t, -1, ids, n, &dl);
    CHECK(dl == sizeof bad - 1 && memcmp(dec, bad, dl) == 0);
    free(dec);
    free(ids);

    size_t big = 200000;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = i < big / 2 ? 'a' : ' ';
    CHECK_OK(kiln_tokenizer_encode(t, text, big, 0, 0, &ids, &n));
    /* GPT-2's vocabulary has "aa" and "aaaa" (no longer a-runs) and no
     * multi-space token: 100000 a's -> 50000 "aa" -> 25000 "aaaa"; the
     * trailing whitespace run is one pre-token of 100000 single spaces. */
    CHECK(n == 25000 + 100000);
    dec = tt_decode_all(t, -1, ids, n, &dl);
    CHECK(dl == big && memcmp(dec, text, big) == 0);
    free(dec);
    free(ids);
    free(text);
    kiln_tokenizer_free(t);
}

/* The GGUF-style constructor from the same tokens and merges agrees. */
static void test_from_memory(void) {
    kiln_json *enc = tt_json(tt_shared(GPT2_DIR "/encoder.json"));
    size_t bl;
    char *bpe = tt_read(tt_shared(GPT2_DIR "/vocab.bpe"), &bl);
    int nt = enc->count;
    const char **tokens = calloc((size_t)nt, sizeof *tokens);
    for (int i = 0; i < nt; i++) tokens[enc->items[i].integer] = enc->keys[i];
    const char **merges = malloc(bl * sizeof *merges); /* more than enough */
    int nm = 0;
    for (char *line = strtok(bpe, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "#version", 8) != 0) merges[nm++] = line;
    CHECK(nm == 50000);
    kiln_tokenizer *t = NULL;
    CHECK_OK(kiln_tokenizer_from_gpt2_vocab(tokens, NULL, nt, merges, nm, -1, -1, &t));
    if (t) {
        CHECK(kiln_tokenizer_bos(t) == 50256 && kiln_tokenizer_eos(t) == 50256);
        check_cases(t, "memory");
        kiln_tokenizer_free(t);
    }
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tokens, NULL, nt, merges, nm, 50257, -1, &t), "BOS id 50257");
    const char *bad_merge[] = {"Ġ t", "h e", "Ġt he", "zz\xC3\xBF qq"};
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tokens, NULL, nt, bad_merge, 4, -1, -1, &t), "merges[3]");
    CHECK(t == NULL);
    free(merges);
    free(tokens);
    free(bpe);
    kiln_json_free(enc);
}

/* A small vocabulary: the 256 byte tokens (spelled in GPT-2's alphabet,
 * built here from its definition) plus extra tokens. */
static const char **byte_vocab(int extra, const char *const *more) {
    static char spelled[256][5];
    const char **tok = calloc(256 + (size_t)extra, sizeof *tok);
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int l = kiln_utf8_encode(self ? (uint32_t)b : (uint32_t)next++, spelled[b]);
        spelled[b][l] = '\0';
        tok[b] = spelled[b];
    }
    for (int i = 0; i < extra; i++) tok[256 + i] = more[i];
    return tok;
}

static void expect_ids(const kiln_tokenizer *t, const char *text, const int32_t *want, size_t nw) {
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(kiln_tokenizer_encode(t, text, strlen(text), 0, 0, &ids, &n));
    int ok = n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "encoding \"%s\" differs\n", text);
        tt_print_ids("got", ids, n);
        tt_print_ids("want", want, nw);
        test_failures++;
    }
    free(ids);
}

/* Merge order by rank, all occurrences left to right, by hand:
 *   merges [a b, b c]: "abc" -> (a b) first -> [ab, c]; no (ab c) merge.
 *   merges [b c, a b]: "abc" -> (b c) first -> [a, bc].
 *   merges [a a]: "aaa" -> [aa, a] (leftmost), "aaaa" -> [aa, aa]. */
static void test_merge_semantics(void) {
    const char *more[] = {"ab", "bc", "aa", "<|endoftext|>"}; /* ids 256.. */
    const char **tok = byte_vocab(4, more);
    kiln_tokenizer *t = NULL;
    const char *m1[] = {"a b", "b c", "a a"};
    CHECK_OK(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, m1, 3, -1, -1, &t));
    if (t) {
        CHECK(kiln_tokenizer_bos(t) == 259);
        expect_ids(t, "abc", (const int32_t[]){256, 'c'}, 2); /* 'c' is its own byte token: self-spelled */
        expect_ids(t, "aaa", (const int32_t[]){258, 'a'}, 2);
        expect_ids(t, "aaaa", (const int32_t[]){258, 258}, 2);
        /* " abc": GPT-2's byte 0x20 is spelled U+0120, token 0x20 here. */
        expect_ids(t, " abc", (const int32_t[]){0x20, 256, 'c'}, 3);
        kiln_tokenizer_free(t);
    }
    const char *m2[] = {"b c", "a b"};
    CHECK_OK(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, m2, 2, 7, 8, &t));
    if (t) {
        CHECK(kiln_tokenizer_bos(t) == 7 && kiln_tokenizer_eos(t) == 8);
        expect_ids(t, "abc", (const int32_t[]){'a', 257}, 2);
        kiln_tokenizer_free(t);
    }
    /* Missing byte token: vocabulary of only 255 bytes. */
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok + 1, NULL, 255, NULL, 0, -1, -1, &t), "no token for byte 0x00");
    const char *bad1[] = {"a b", "a  b"}, *bad2[] = {"a q q"}, *bad3[] = {"b a"}, *bad4[] = {"ab"};
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, bad1, 2, -1, -1, &t), "merges[1]");
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, bad2, 1, -1, -1, &t), "two tokens, one space");
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, bad3, 1, -1, -1, &t), "merge result \"ba\" is not a token");
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, bad4, 1, -1, -1, &t), "two tokens");
    const char *unknown[] = {"ab zz"};
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, unknown, 1, -1, -1, &t), "unknown token \"zz\"");
    const char *nulls[] = {NULL};
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, nulls, 1, -1, -1, &t), "merges[0] is NULL");
    tok[3] = NULL;
    CHECK_ERR(kiln_tokenizer_from_gpt2_vocab(tok, NULL, 260, NULL, 0, -1, -1, &t), "token 3 is NULL");
    free(tok);
}

/* Malformed encoder.json / vocab.bpe: errors name the file and line. */
static void test_malformed_files(void) {
    const char **tok = byte_vocab(0, NULL);
    /* A valid encoder.json of the 256 byte tokens, then broken variants. */
    size_t cap = 1 << 14, o = 0;
    char *json = malloc(cap);
    o += (size_t)snprintf(json + o, cap - o, "{");
    for (int b = 0; b < 256; b++) {
        if (tok[b][0] == '"' || tok[b][0] == '\\') o += (size_t)snprintf(json + o, cap - o, "%s\"\\%s\": %d", b ? ", " : "", tok[b], b);
        else o += (size_t)snprintf(json + o, cap - o, "%s\"%s\": %d", b ? ", " : "", tok[b], b);
    }
    o += (size_t)snprintf(json + o, cap - o, "}");
    const char *enc = tt_tmp("encoder.json"), *bpe = tt_tmp("vocab.bpe");
    kiln_tokenizer *t = NULL;
    tt_write(enc, json, o);
    tt_write(bpe, "#version: 0.2\na b\n", 18);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "vocab.bpe:2: merge result \"ab\" is not a token");
    tt_write(bpe, "#version: 0.2\n\nq zz\n", 19);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "vocab.bpe:3: merge names unknown token \"zz\"");
    tt_write(bpe, "#version: 0.2\n", 14);
    CHECK_OK(kiln_tokenizer_load_gpt2(enc, bpe, &t)); /* no merges: bytes only */
    if (t) {
        CHECK(kiln_tokenizer_bos(t) == -1);
        int32_t *ids;
        size_t n;
        CHECK_ERR(kiln_tokenizer_encode(t, "x", 1, 1, 0, &ids, &n), "no BOS token");
        expect_ids(t, "hi", (const int32_t[]){'h', 'i'}, 2);
        kiln_tokenizer_free(t);
    }
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, tt_tmp("missing.bpe"), &t), "missing.bpe");

    tt_write(enc, json, o - 1); /* unterminated object */
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "encoder.json");
    json[o - 2] = '9';          /* last id 255 -> 259: outside 0..255 */
    tt_write(enc, json, o);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "must be an integer in 0..255");
    json[o - 2] = '4';          /* 254 twice */
    tt_write(enc, json, o);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "id 254 is given to both");
    tt_write(enc, "[1, 2]", 6);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "JSON object");
    tt_write(enc, "{\"a\": 0}", 8);
    CHECK_ERR(kiln_tokenizer_load_gpt2(enc, bpe, &t), "no token for byte 0x00");
    CHECK_ERR(kiln_tokenizer_load_gpt2(tt_tmp("missing.json"), bpe, &t), "missing.json");
    CHECK(t == NULL);
    unlink(enc);
    unlink(bpe);
    free(json);
    free(tok);
}

/* The generated class table on code points whose class is known by hand. */
static void test_unicode_classes(void) {
    CHECK(kiln_unicode_class('A') == KILN_UC_LETTER && kiln_unicode_class('z') == KILN_UC_LETTER);
    CHECK(kiln_unicode_class('7') == KILN_UC_NUMBER && kiln_unicode_class(0x0663) == KILN_UC_NUMBER); /* Arabic-Indic 3 */
    CHECK(kiln_unicode_class(0x00BD) == KILN_UC_NUMBER); /* 1/2 (No) */
    CHECK(kiln_unicode_class(0x216B) == KILN_UC_NUMBER); /* Roman numeral twelve (Nl) */
    CHECK(kiln_unicode_class(0x4E2D) == KILN_UC_LETTER); /* CJK "middle" (Lo) */
    CHECK(kiln_unicode_class(0x00E9) == KILN_UC_LETTER); /* e acute */
    CHECK(kiln_unicode_class(0x0301) == KILN_UC_OTHER);  /* combining acute (Mn) */
    CHECK(kiln_unicode_class(0x1F600) == KILN_UC_OTHER); /* emoji (So) */
    CHECK(kiln_unicode_class(' ') == KILN_UC_SPACE && kiln_unicode_class('\t') == KILN_UC_SPACE);
    CHECK(kiln_unicode_class(0x0B) == KILN_UC_SPACE && kiln_unicode_class(0x85) == KILN_UC_SPACE);
    CHECK(kiln_unicode_class(0xA0) == KILN_UC_SPACE && kiln_unicode_class(0x3000) == KILN_UC_SPACE);
    CHECK(kiln_unicode_class(0x1C) == KILN_UC_OTHER); /* separator control: not White_Space */
    CHECK(kiln_unicode_class(0x200B) == KILN_UC_OTHER); /* zero width space is Cf */
    CHECK(kiln_unicode_class(0x10FFFF) == KILN_UC_OTHER && kiln_unicode_class(0x110000) == KILN_UC_OTHER);
    CHECK(strcmp(kiln_unicode_version, "14.0.0") == 0);
    /* Ranges sorted and disjoint (binary search depends on it). */
    for (int i = 1; i < kiln_unicode_range_count; i++)
        CHECK(kiln_unicode_ranges[i - 1].hi < kiln_unicode_ranges[i].lo);
    int32_t cp;
    CHECK(kiln_utf8_decode((const unsigned char *)"\xE2\x82\xAC", 3, &cp) == 3 && cp == 0x20AC);
    CHECK(kiln_utf8_decode((const unsigned char *)"\xE2\x82", 2, &cp) == 1 && cp == -1);
    CHECK(kiln_utf8_decode((const unsigned char *)"\xC0\xAF", 2, &cp) == 1 && cp == -1); /* overlong */
    CHECK(kiln_utf8_decode((const unsigned char *)"\xED\xA0\x80", 3, &cp) == 1 && cp == -1); /* surrogate */
    CHECK(kiln_utf8_decode((const unsigned char *)"\xF4\x90\x80\x80", 4, &cp) == 1 && cp == -1); /* > 10FFFF */
}

int main(void) {
    test_unicode_classes();
    test_reference_cases();
    test_streaming_decode();
    test_bytes_and_long_runs();
    test_from_memory();
    test_merge_semantics();
    test_malformed_files();
    return test_finish("test_tokenizer_gpt2");
}
