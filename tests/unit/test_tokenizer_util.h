/* Helpers for the tokenizer tests: paths, files, hex, JSON id lists and
 * streaming decode. */
#ifndef KILN_TEST_TOKENIZER_UTIL_H
#define KILN_TEST_TOKENIZER_UTIL_H

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/json.h"
#include "kiln/tokenizer.h"

/* "$KILN_SOURCE_DIR/tests/data/tokenizer/<name>" or "<shared>/<name>". */
static inline const char *tt_data(const char *name) {
    static char buf[4][1024];
    static int k;
    const char *src = getenv("KILN_SOURCE_DIR");
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/tests/data/tokenizer/%s", src && *src ? src : ".", name);
    return p;
}
static inline const char *tt_shared(const char *name) {
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", test_shared_dir(), name);
    return p;
}

/* A scratch file path unique to this process. */
static inline const char *tt_tmp(const char *name) {
    static char buf[4][1024];
    static int k;
    const char *dir = getenv("KILN_BUILD_DIR");
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/tok_test_%d_%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    return p;
}

static inline void tt_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Whole file, malloc'd, NUL-terminated; exits on failure. */
static inline char *tt_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) exit(1);
    p[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return p;
}

static inline kiln_json *tt_json(const char *path) {
    kiln_json *j = NULL;
    kiln_status s = kiln_json_parse_file(path, &j);
    if (s) {
        fprintf(stderr, "%s\n", kiln_status_message(s));
        exit(1);
    }
    return j;
}

/* Hex string -> malloc'd bytes. */
static inline char *tt_unhex(const char *hex, size_t *n) {
    size_t l = strlen(hex) / 2;
    char *out = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[l] = '\0';
    *n = l;
    return out;
}

/* Do ids[0..n) equal the JSON array of integers `arr`? */
static inline int tt_ids_equal(const int32_t *ids, size_t n, const kiln_json *arr) {
    if (!arr || arr->type != KILN_JSON_ARRAY || (size_t)arr->count != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (arr->items[i].integer != ids[i]) return 0;
    return 1;
}

/* Decode ids one at a time the way a streaming caller would, starting
 * after `prev`; returns the concatenated bytes (malloc'd). */
static inline char *tt_decode_all(const kiln_tokenizer *t, int32_t prev, const int32_t *ids, size_t n, size_t *len) {
    size_t cap = 64, o = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        const char *b;
        size_t bl;
        CHECK_OK(kiln_tokenizer_decode(t, prev, ids[i], &b, &bl));
        while (o + bl + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + o, b, bl);
        o += bl;
        prev = ids[i];
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static inline void tt_print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

#endif
