/* Helpers for the generation tests: the devices to test, shared paths,
 * whole-file reads and id lists. */
#ifndef KILN_TEST_GENERATE_UTIL_H
#define KILN_TEST_GENERATE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kiln/generate.h"
#include "kiln/safetensors.h"

/* Devices named in $KILN_TEST_DEVICES (space separated; default "ref"),
 * so later backends rerun the same checks. */
static inline int tg_devices(kiln_device_spec *out, const char **names, int cap) {
    static char buf[256];
    const char *env = getenv("KILN_TEST_DEVICES");
    snprintf(buf, sizeof buf, "%s", env && *env ? env : "ref");
    int n = 0;
    for (char *tok = strtok(buf, " ,"); tok && n < cap; tok = strtok(NULL, " ,")) {
        kiln_status s = kiln_device_parse(tok, &out[n]);
        if (s) {
            fprintf(stderr, "KILN_TEST_DEVICES: %s\n", kiln_status_message(s));
            kiln_status_free(s);
            test_failures++;
            continue;
        }
        names[n++] = tok;
    }
    return n;
}

/* "<shared>/<rel>" */
static inline const char *tg_shared(const char *rel) {
    static char buf[4][2048];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%.1000s/%.1000s", test_shared_dir(), rel);
    return p;
}

/* Whole file, NUL-terminated (malloc'd); NULL when unreadable. */
static inline char *tg_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0;
    if (b && len) *len = (size_t)n;
    return b;
}

/* Whitespace-separated integers from a file into ids (up to cap); count. */
static inline int tg_read_ids(const char *path, int32_t *ids, int cap) {
    char *text = tg_read(path, NULL);
    if (!text) return -1;
    int n = 0;
    char *p = text, *end;
    for (long v; n < cap && (v = strtol(p, &end, 10), end != p); p = end) ids[n++] = (int32_t)v;
    free(text);
    return n;
}

/* An integer tensor of a safetensors map as int32 (batch row 0); count. */
static inline int tg_tensor_ids(const kiln_tensor_map *m, const char *name, int32_t *ids, int cap) {
    const kiln_tensor *t = kiln_tensor_map_get(m, name);
    if (!t || t->rank != 2) return -1;
    int n = (int)t->shape[1];
    for (int i = 0; i < n && i < cap; i++) ids[i] = (int32_t)kiln_load_i64(t->data, t->dtype, (size_t)i);
    return n < cap ? n : cap;
}

static inline kiln_model *tg_load(const char *path, const kiln_model_options *opt) {
    kiln_model *m = NULL;
    CHECK_OK(kiln_model_load(path, opt, &m));
    return m;
}

#endif
