/* libFuzzer target for the JSON reader. Beyond "no crash", every tree that
 * parses is checked for internal consistency and printed back to JSON,
 * which must parse to an equal tree.
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *     tests/fuzz/fuzz_json.c frontend/json.c ir/status.c -lm -o fuzz_json
 *   ./fuzz_json tests/fuzz/corpus/json
 *
 * tests/unit/test_fuzz_corpus.c includes this file to replay the corpus;
 * it defines FUZZ_CHECK to count failures instead of aborting. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/json.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)
#endif

typedef struct {
    char *p;
    size_t len, cap;
} fj_buf;

static void fj_put(fj_buf *b, const char *s, size_t n) {
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void fj_string(fj_buf *b, const char *s, size_t len) {
    fj_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            fj_put(b, esc, 6);
        } else {
            fj_put(b, s + i, 1);
        }
    }
    fj_put(b, "\"", 1);
}

/* Prints v as JSON: strings byte for byte (they are valid UTF-8), numbers
 * so that they read back to the same value. */
static void fj_print(fj_buf *b, const kiln_json *v) {
    char num[40];
    switch (v->type) {
    case KILN_JSON_NULL: fj_put(b, "null", 4); break;
    case KILN_JSON_BOOL: v->boolean ? fj_put(b, "true", 4) : fj_put(b, "false", 5); break;
    case KILN_JSON_NUMBER:
        if (v->is_integer && v->integer == 0 && signbit(v->number)) snprintf(num, sizeof num, "-0");
        else if (v->is_integer) snprintf(num, sizeof num, "%lld", (long long)v->integer);
        else snprintf(num, sizeof num, "%.17g", v->number);
        fj_put(b, num, strlen(num));
        break;
    case KILN_JSON_STRING: fj_string(b, v->string, v->len); break;
    case KILN_JSON_ARRAY:
    case KILN_JSON_OBJECT:
        fj_put(b, v->type == KILN_JSON_ARRAY ? "[" : "{", 1);
        for (int i = 0; i < v->count; i++) {
            if (i) fj_put(b, ",", 1);
            if (v->type == KILN_JSON_OBJECT) {
                fj_string(b, v->keys[i], v->key_lens[i]);
                fj_put(b, ":", 1);
            }
            fj_print(b, &v->items[i]);
        }
        fj_put(b, v->type == KILN_JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

static int fj_equal(const kiln_json *a, const kiln_json *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case KILN_JSON_NULL: return 1;
    case KILN_JSON_BOOL: return a->boolean == b->boolean;
    case KILN_JSON_NUMBER:
        if (a->number != b->number) return 0;
        return !a->is_integer || (b->is_integer && a->integer == b->integer);
    case KILN_JSON_STRING: return a->len == b->len && memcmp(a->string, b->string, a->len) == 0;
    case KILN_JSON_ARRAY:
    case KILN_JSON_OBJECT:
        if (a->count != b->count) return 0;
        for (int i = 0; i < a->count; i++) {
            if (a->type == KILN_JSON_OBJECT &&
                (a->key_lens[i] != b->key_lens[i] || memcmp(a->keys[i], b->keys[i], a->key_lens[i]) != 0))
                return 0;
            if (!fj_equal(&a->items[i], &b->items[i])) return 0;
        }
        return 1;
    }
    return 0;
}

/* Structural invariants of a parsed tree. */
static void fj_check(const kiln_json *v, int depth) {
    FUZZ_CHECK(depth <= KILN_JSON_MAX_DEPTH);
    FUZZ_CHECK(v->line >= 1 && v->col >= 1);
    if (v->type == KILN_JSON_STRING) {
        FUZZ_CHECK(v->string && v->string[v->len] == 0 && strlen(v->string) <= v->len);
    } else if (v->type == KILN_JSON_NUMBER && v->is_integer) {
        FUZZ_CHECK(v->number == (double)v->integer);
    } else if (v->type == KILN_JSON_ARRAY || v->type == KILN_JSON_OBJECT) {
        FUZZ_CHECK(v->count >= 0 && (v->count == 0 || v->items));
        for (int i = 0; i < v->count; i++) {
            fj_check(&v->items[i], depth + 1);
            if (v->type != KILN_JSON_OBJECT) continue;
            FUZZ_CHECK(v->keys[i][v->key_lens[i]] == 0);
            /* keys are unique, so a lookup finds this very member */
            if (strlen(v->keys[i]) == v->key_lens[i]) FUZZ_CHECK(kiln_json_get(v, v->keys[i]) == &v->items[i]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_json *j = NULL;
    kiln_status s = kiln_json_parse((const char *)data, size, "fuzz", &j);
    if (s) {
        FUZZ_CHECK(j == NULL);
        FUZZ_CHECK(strncmp(kiln_status_message(s), "fuzz:", 5) == 0);
        kiln_status_free(s);
        return 0;
    }
    fj_check(j, 0);
    fj_buf b = {0};
    fj_print(&b, j);
    kiln_json *again = NULL;
    s = kiln_json_parse(b.p, b.len, "reprinted", &again);
    if (s) fprintf(stderr, "%s\n", kiln_status_message(s));
    FUZZ_CHECK(s == NULL);
    if (again) FUZZ_CHECK(fj_equal(j, again));
    kiln_status_free(s);
    kiln_json_free(again);
    kiln_json_free(j);
    free(b.p);
    return 0;
}
