/* JSON reader: every value type, escapes, surrogates, numbers, positions,
 * each malformed case with its line:col, the depth limit, duplicates,
 * large objects and files. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/json.h"

static kiln_json *parse(const char *text) {
    kiln_json *j = NULL;
    CHECK_OK(kiln_json_parse(text, strlen(text), "t", &j));
    return j;
}

/* Parse must fail; its message must start with "t:LINE:COL: " and contain needle. */
static void bad_at(const char *text, size_t len, int line, int col, const char *needle, int src_line) {
    kiln_json *j = (kiln_json *)1;
    kiln_status s = kiln_json_parse(text, len, "t", &j);
    if (!s) {
        fprintf(stderr, "test_json.c:%d: expected parse of \"%s\" to fail\n", src_line, text);
        test_failures++;
        kiln_json_free(j);
        return;
    }
    if (j != NULL) {
        fprintf(stderr, "test_json.c:%d: *out not NULL after an error\n", src_line);
        test_failures++;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "t:%d:%d: ", line, col);
    const char *msg = kiln_status_message(s);
    if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, needle)) {
        fprintf(stderr, "test_json.c:%d: got \"%s\", want prefix \"%s\" and \"%s\"\n", src_line, msg, prefix, needle);
        test_failures++;
    }
    kiln_status_free(s);
}
#define BAD(text, line, col, needle) bad_at((text), strlen(text), (line), (col), (needle), __LINE__)
#define BADN(text, len, line, col, needle) bad_at((text), (len), (line), (col), (needle), __LINE__)

static void test_types(void) {
    kiln_json *j = parse("{\"n\":null,\"t\":true,\"f\":false,\"i\":42,\"d\":2.5,\"s\":\"hi\","
                         "\"a\":[1,[2],[]],\"o\":{\"x\":{}}}");
    if (!j) return;
    CHECK(j->type == KILN_JSON_OBJECT && j->count == 8);
    CHECK(strcmp(j->keys[0], "n") == 0 && strcmp(j->keys[7], "o") == 0); /* members keep file order */
    CHECK(kiln_json_get(j, "n")->type == KILN_JSON_NULL);
    CHECK(kiln_json_get(j, "t")->type == KILN_JSON_BOOL && kiln_json_get(j, "t")->boolean == 1);
    CHECK(kiln_json_get(j, "f")->type == KILN_JSON_BOOL && kiln_json_get(j, "f")->boolean == 0);
    const kiln_json *i = kiln_json_get(j, "i");
    CHECK(i->type == KILN_JSON_NUMBER && i->is_integer && i->integer == 42 && i->number == 42.0);
    const kiln_json *d = kiln_json_get(j, "d");
    CHECK(d->type == KILN_JSON_NUMBER && !d->is_integer && d->number == 2.5);
    const kiln_json *s = kiln_json_get(j, "s");
    CHECK(s->type == KILN_JSON_STRING && s->len == 2 && strcmp(s->string, "hi") == 0);
    const kiln_json *a = kiln_json_get(j, "a");
    CHECK(a->type == KILN_JSON_ARRAY && a->count == 3);
    CHECK(a->items[1].type == KILN_JSON_ARRAY && a->items[1].count == 1 && a->items[1].items[0].integer == 2);
    CHECK(a->items[2].type == KILN_JSON_ARRAY && a->items[2].count == 0);
    const kiln_json *o = kiln_json_get(j, "o");
    CHECK(o->type == KILN_JSON_OBJECT && kiln_json_get(o, "x")->type == KILN_JSON_OBJECT);
    CHECK(kiln_json_get(kiln_json_get(o, "x"), "anything") == NULL);
    CHECK(kiln_json_get(j, "missing") == NULL);
    CHECK(kiln_json_get(a, "0") == NULL);   /* not an object */
    CHECK(kiln_json_get(NULL, "a") == NULL);
    kiln_json_free(j);

    /* Scalars at the top level, surrounded by every kind of whitespace. */
    j = parse(" \t\r\n 7 \r\n");
    if (j) CHECK(j->type == KILN_JSON_NUMBER && j->integer == 7 && j->line == 2 && j->col == 2);
    kiln_json_free(j);
    j = parse("\"\"");
    if (j) CHECK(j->type == KILN_JSON_STRING && j->len == 0 && j->string[0] == 0);
    kiln_json_free(j);
    j = parse("\xEF\xBB\xBF{}"); /* byte order mark is skipped */
    if (j) CHECK(j->type == KILN_JSON_OBJECT && j->count == 0 && j->col == 1);
    kiln_json_free(j);
    CHECK(strcmp(kiln_json_type_name(KILN_JSON_ARRAY), "array") == 0);
}

static void test_escapes(void) {
    /* Expected bytes by hand: U+00E9 = 000 1110 1001 -> 110 00011, 10 101001
     * = C3 A9; U+20AC = 0010 0000 1010 1100 -> 1110 0010, 10 000010,
     * 10 101100 = E2 82 AC. */
    kiln_json *j = parse("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u20AC \\u0000!\"");
    const char want[] = "\" \\ / \b \f \n \r \t A \xC3\xA9 \xE2\x82\xAC \0!";
    if (j) {
        CHECK(j->len == sizeof want - 1);
        CHECK(memcmp(j->string, want, sizeof want) == 0);
    }
    kiln_json_free(j);

    /* Raw UTF-8 of every length passes through unchanged. */
    const char *raw = "\"\x41\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"";
    j = parse(raw);
    if (j) CHECK(j->len == 10 && memcmp(j->string, raw + 1, 10) == 0);
    kiln_json_free(j);

    /* Surrogate pair: (0xD83D - 0xD800) << 10 | (0xDE00 - 0xDC00) = 0xF600,
     * + 0x10000 = U+1F600 = 0 0001 1111 0110 0000 0000
     * -> 11110 000, 10 011111, 10 011000, 10 000000 = F0 9F 98 80. */
    j = parse("\"\\ud83d\\ude00\"");
    if (j) CHECK(j->len == 4 && memcmp(j->string, "\xF0\x9F\x98\x80", 4) == 0);
    kiln_json_free(j);
    /* Highest pair: U+10FFFF = F4 8F BF BF. */
    j = parse("\"\\uDBFF\\uDFFF\"");
    if (j) CHECK(j->len == 4 && memcmp(j->string, "\xF4\x8F\xBF\xBF", 4) == 0);
    kiln_json_free(j);

    BAD("\"\\ud83d\"", 1, 2, "expected a low surrogate");
    BAD("\"\\ud83dx\"", 1, 2, "expected a low surrogate");
    BAD("\"\\ud83d\\u0041\"", 1, 2, "expected a low surrogate");
    BAD("\"\\ud83d\\ud83d\"", 1, 2, "expected a low surrogate");
    BAD("\"\\ude00\"", 1, 2, "expected a high surrogate");
    BAD("\"ab\\x\"", 1, 5, "expected an escape character");
    BAD("\"\\u12G4\"", 1, 6, "expected 4 hex digits after \\u but found 'G'");
    BAD("\"\\u12", 1, 6, "expected 4 hex digits after \\u but found end of input");
    BAD("\"\\", 1, 3, "expected an escape character after '\\' but found end of input");
}

static void test_numbers(void) {
    kiln_json *j = parse("[9223372036854775807, -9223372036854775808, 9223372036854775808,"
                         " -9223372036854775809, 1e308, -0, 1.5e-7, 0.1, 1E+2, 1e-400, 0, -1.25e2]");
    if (!j) return;
    CHECK(j->count == 12);
    const kiln_json *n = j->items;
    CHECK(n[0].is_integer && n[0].integer == INT64_MAX);
    CHECK(n[1].is_integer && n[1].integer == INT64_MIN && n[1].number == -9223372036854775808.0);
    /* One past int64: not an exact integer any more, but still a number. */
    CHECK(!n[2].is_integer && n[2].number == 9223372036854775808.0);
    CHECK(!n[3].is_integer && n[3].number == -9223372036854775809.0);
    CHECK(!n[4].is_integer && n[4].number == 1e308);
    CHECK(n[5].is_integer && n[5].integer == 0 && n[5].number == 0.0 && signbit(n[5].number));
    CHECK(!n[6].is_integer && n[6].number == 1.5e-7); /* the C compiler's conversion is the reference */
    CHECK(n[7].number == 0.1);
    CHECK(!n[8].is_integer && n[8].number == 100.0); /* an exponent makes it not an integer literal */
    CHECK(n[9].number == 0.0);                        /* underflow rounds to zero, like Python */
    CHECK(n[10].is_integer && n[10].integer == 0 && !signbit(n[10].number));
    CHECK(n[11].number == -125.0);
    kiln_json_free(j);

    BAD("01", 1, 2, "leading zeros are not allowed");
    BAD("[-012]", 1, 4, "leading zeros are not allowed");
    BAD("-", 1, 2, "expected a digit after '-' but found end of input");
    BAD("-a", 1, 2, "expected a digit after '-' but found 'a'");
    BAD("1.", 1, 3, "expected a digit after '.'");
    BAD("1.e5", 1, 3, "expected a digit after '.'");
    BAD("1e", 1, 3, "expected a digit in the exponent");
    BAD("1e+", 1, 4, "expected a digit in the exponent");
    BAD(".5", 1, 1, "expected a value");
    BAD("+1", 1, 1, "expected a value");
    BAD("[1e400]", 1, 2, "expected a number within the range of a double");
    BAD("-1e400", 1, 1, "expected a number within the range of a double");

    /* A comma-decimal locale must not change how numbers read. */
    const char *locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++) {
        if (!setlocale(LC_NUMERIC, locales[i])) continue;
        j = parse("2.5");
        if (j) CHECK(j->number == 2.5);
        kiln_json_free(j);
        setlocale(LC_NUMERIC, "C");
        break;
    }
}

static void test_positions(void) {
    const char *text = "{\n"
                       "  \"a\": [1,\n"
                       "        true],\n"
                       "  \"\xC3\xA9\": \"x\"\n"
                       "}";
    kiln_json *j = parse(text);
    if (!j) return;
    CHECK(j->line == 1 && j->col == 1);
    const kiln_json *a = kiln_json_get(j, "a");
    CHECK(a->line == 2 && a->col == 8);
    CHECK(a->items[0].line == 2 && a->items[0].col == 9);
    CHECK(a->items[1].line == 3 && a->items[1].col == 9);
    /* Columns count characters: `  "é": "x"` puts the value at column 8. */
    const kiln_json *e = kiln_json_get(j, "\xC3\xA9");
    CHECK(e && e->line == 4 && e->col == 8);
    kiln_json_free(j);
}

static void test_malformed(void) {
    BAD("", 1, 1, "expected a value but found end of input");
    BAD("  \n ", 2, 2, "expected a value but found end of input");
    BAD("{\"a\":1} x", 1, 9, "expected end of input after the JSON value but found 'x'");
    BAD("[1]]", 1, 4, "expected end of input");
    BAD("\"abc", 1, 5, "expected '\"' to close the string that starts at 1:1 but found end of input");
    BAD("[\"a\nb\"]", 1, 4, "expected '\"' to close the string before the end of the line");
    BAD("\"a\tb\"", 1, 3, "expected control character 0x09 in a string to be escaped");
    BADN("\"a\0b\"", 5, 1, 3, "expected control character 0x00");
    BAD("\"\xFF\"", 1, 2, "expected valid UTF-8");
    BAD("\"\xC0\xAF\"", 1, 2, "expected valid UTF-8");         /* overlong '/' */
    BAD("\"\xED\xA0\x80\"", 1, 2, "expected valid UTF-8");     /* encoded surrogate */
    BAD("\"\xF4\x90\x80\x80\"", 1, 2, "expected valid UTF-8"); /* above U+10FFFF */
    BAD("\"\xE2\x82\"", 1, 2, "expected valid UTF-8");         /* truncated */
    BAD("\"\x80\"", 1, 2, "expected valid UTF-8");             /* stray continuation */
    BAD("\xFF", 1, 1, "expected a value (object, array, string, number, true, false or null) but found byte 0xff");
    BAD("{\"a\" 1}", 1, 6, "expected ':' after the object key \"a\" but found '1'");
    BAD("{\"a\":1 \"b\":2}", 1, 8, "expected ',' or '}' after an object member but found '\"'");
    BAD("{\"a\":1", 1, 7, "expected ',' or '}' after an object member but found end of input");
    BAD("[1 2]", 1, 4, "expected ',' or ']' after an array element but found '2'");
    BAD("[1", 1, 3, "expected ',' or ']'");
    BAD("[1,]", 1, 4, "expected a value");
    BAD("{\"a\":1,}", 1, 8, "expected '\"' to start an object key but found '}'");
    BAD("{1:2}", 1, 2, "expected '\"' or '}' after '{' but found '1'");
    BAD("{\"a\":}", 1, 6, "expected a value");
    BAD("tru", 1, 4, "expected 'true' but found end of input");
    BAD("nul1", 1, 4, "expected 'null' but found '1'");
    BAD("falsy", 1, 5, "expected 'false' but found 'y'");
    BAD("truex", 1, 5, "expected end of input");
    BAD("[True]", 1, 2, "expected a value");
    /* Positions after newlines and after multi-byte characters. */
    BAD("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':'");
    BAD("[\"\xC3\xA9\" 1]", 1, 6, "expected ',' or ']'");
    BAD("[\"\xC3\xA9\", \"\xFF\"]", 1, 8, "expected valid UTF-8");
    BAD("[1,\r\n 2 x]", 2, 4, "expected ',' or ']'");
    /* Null text with a length is a caller error, not a crash. */
    kiln_json *j = NULL;
    CHECK_ERR(kiln_json_parse(NULL, 3, "t", &j), "no text");
}

static void test_depth(void) {
    enum { N = KILN_JSON_MAX_DEPTH };
    char buf[2 * (N + 1) + 1];
    memset(buf, '[', N);
    memset(buf + N, ']', N);
    buf[2 * N] = 0;
    kiln_json *j = parse(buf);
    int depth = 0;
    for (const kiln_json *v = j; v && v->type == KILN_JSON_ARRAY; v = v->count ? &v->items[0] : NULL) depth++;
    CHECK(depth == N);
    kiln_json_free(j);

    /* One more level fails at the bracket that exceeds the limit. */
    memset(buf, '[', N + 1);
    memset(buf + N + 1, ']', N + 1);
    buf[2 * N + 2] = 0;
    BAD(buf, 1, N + 1, "expected at most 256 levels of nested arrays and objects");
    kiln_status s = kiln_json_parse(buf, strlen(buf), "t", &j);
    CHECK(kiln_status_code(s) == KILN_ERR_LIMIT);
    kiln_status_free(s);

    /* Far deeper input (objects and arrays mixed) must not exhaust the stack. */
    size_t big = 1000000;
    char *deep = malloc(big);
    if (!deep) return;
    for (size_t i = 0; i < big; i += 6) memcpy(deep + i, "{\"a\":[", i + 6 <= big ? 6 : big - i);
    kiln_status s2 = kiln_json_parse(deep, big, "t", &j);
    CHECK(kiln_status_code(s2) == KILN_ERR_LIMIT);
    kiln_status_free(s2);
    free(deep);
}

static void test_duplicates(void) {
    /* Like Python: the last value wins, at the first key's position. */
    kiln_json *j = parse("{\"a\":1,\"b\":2,\"a\":[3]}");
    if (j) {
        CHECK(j->count == 2);
        CHECK(strcmp(j->keys[0], "a") == 0 && j->items[0].type == KILN_JSON_ARRAY && j->items[0].items[0].integer == 3);
        CHECK(kiln_json_get(j, "b")->integer == 2);
    }
    kiln_json_free(j);

    /* The same in an object large enough to be hashed. */
    char text[512];
    size_t o = 0;
    o += (size_t)snprintf(text + o, sizeof text - o, "{");
    for (int i = 0; i < 20; i++) o += (size_t)snprintf(text + o, sizeof text - o, "\"k%d\":%d,", i, i);
    snprintf(text + o, sizeof text - o, "\"k3\":99,\"k19\":-1}");
    j = parse(text);
    if (j) {
        CHECK(j->count == 20);
        CHECK(kiln_json_get(j, "k3")->integer == 99 && strcmp(j->keys[3], "k3") == 0);
        CHECK(kiln_json_get(j, "k19")->integer == -1);
        CHECK(kiln_json_get(j, "k0")->integer == 0 && kiln_json_get(j, "k20") == NULL);
    }
    kiln_json_free(j);

    /* Keys differing only after a \u0000 are different keys; lookups by C
     * string never match a key that holds a NUL. */
    j = parse("{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3}");
    if (j) {
        CHECK(j->count == 3);
        CHECK(j->key_lens[0] == 3 && j->key_lens[2] == 1);
        CHECK(kiln_json_get(j, "a")->integer == 3);
    }
    kiln_json_free(j);
}

/* 50,000 members, every one looked up: the parse must be linear and the
 * lookups hashed (this took ~15 ms here; a quadratic version takes seconds). */
static void test_large_object(void) {
    enum { N = 50000 };
    size_t cap = (size_t)N * 24 + 16, o = 0;
    char *text = malloc(cap);
    if (!text) return;
    text[o++] = '{';
    for (int i = 0; i < N; i++) o += (size_t)snprintf(text + o, cap - o, "%s\"key%d\":%d", i ? "," : "", i, i * 3);
    text[o++] = '}';
    clock_t t0 = clock();
    kiln_json *j = NULL;
    CHECK_OK(kiln_json_parse(text, o, "big", &j));
    int wrong = 0;
    if (j) {
        CHECK(j->count == N);
        char key[32];
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "key%d", i);
            const kiln_json *v = kiln_json_get(j, key);
            if (!v || v->integer != (int64_t)i * 3) wrong++;
        }
        CHECK(kiln_json_get(j, "key50000") == NULL);
    }
    CHECK(wrong == 0);
    fprintf(stderr, "large object: parse + %d lookups in %.1f ms CPU\n", N,
            1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC);
    kiln_json_free(j);
    free(text);
}

static void test_files(void) {
    kiln_json *j = (kiln_json *)1;
    CHECK_ERR(kiln_json_parse_file("/nonexistent/config.json", &j), "/nonexistent/config.json");
    CHECK(j == NULL);
    CHECK_ERR(kiln_json_parse_file("/tmp", &j), "/tmp");

    /* A file with an error: the message names the path and the position. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/kiln_test_json_%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("{\"a\": 1,\n \"b\": nope}", f);
        fclose(f);
        char want[96];
        snprintf(want, sizeof want, "%s:2:8: expected 'null'", path);
        CHECK_ERR(kiln_json_parse_file(path, &j), want);
        remove(path);
    }

    /* GPT-2's encoder.json (1 MB, 50,257 keys). Reference from Python:
     *   d = json.load(open("encoder.json")); len(d), d["<|endoftext|>"],
     *   d["hello"], d["\u0120the"]  ->  50257 50256 31373 262 */
    char enc[1024];
    snprintf(enc, sizeof enc, "%s/models/gpt2-tokenizer/encoder.json", test_shared_dir());
    clock_t t0 = clock();
    kiln_status s = kiln_json_parse_file(enc, &j);
    double ms = 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (s) {
        fprintf(stderr, "skipping encoder.json: %s\n", kiln_status_message(s));
        kiln_status_free(s);
        return;
    }
    fprintf(stderr, "encoder.json parsed in %.1f ms CPU\n", ms);
    CHECK(j->type == KILN_JSON_OBJECT && j->count == 50257);
    const kiln_json *v = kiln_json_get(j, "<|endoftext|>");
    CHECK(v && v->integer == 50256);
    v = kiln_json_get(j, "hello");
    CHECK(v && v->integer == 31373);
    v = kiln_json_get(j, "\xC4\xA0the"); /* U+0120 'Ġ' = C4 A0 */
    CHECK(v && v->integer == 262);
    kiln_json_free(j);
}

int main(void) {
    test_types();
    test_escapes();
    test_numbers();
    test_positions();
    test_malformed();
    test_depth();
    test_duplicates();
    test_large_object();
    test_files();
    return test_finish("test_json");
}
