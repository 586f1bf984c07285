/* safetensors writer. Python's reader rejects gaps between tensors, so the
 * data is written back to back in map order; the header is padded with
 * spaces so that the data section starts at a multiple of 8. Assumes a
 * little-endian host, like the reader. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/safetensors.h"

static const char *const file_dtype[KILN_DTYPE_COUNT] = {
    [KILN_F32] = "F32", [KILN_F16] = "F16", [KILN_BF16] = "BF16", [KILN_F64] = "F64", [KILN_I8] = "I8",
    [KILN_I16] = "I16", [KILN_I32] = "I32", [KILN_I64] = "I64",   [KILN_U8] = "U8",   [KILN_U16] = "U16",
    [KILN_U32] = "U32", [KILN_U64] = "U64", [KILN_BOOL] = "BOOL",
};

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_printf(strbuf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) b->failed = 1;
    else sb_put(b, tmp, (size_t)n);
}

/* Names go into the header verbatim, so they must already be UTF-8. */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned char c = *s;
        int n;
        uint32_t cp;
        if (c < 0x80) { s++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
        else return 0;
        for (int i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += n;
    }
    return 1;
}

static void put_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static kiln_status check_tensor(const char *path, const char *name, const kiln_tensor *t) {
    if ((unsigned)t->dtype >= KILN_DTYPE_COUNT || !file_dtype[t->dtype])
        return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": invalid dtype %d", path, name, (int)t->dtype);
    if (t->rank < 0 || t->rank > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": invalid rank %d", path, name, t->rank);
    uint64_t numel = 1;
    int empty = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": negative dimension %lld", path, name,
                              (long long)t->shape[i]);
        if (t->shape[i] == 0) empty = 1;
        else if (numel > UINT64_MAX / 8 / (uint64_t)t->shape[i])
            return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": shape too large", path, name);
        else numel *= (uint64_t)t->shape[i];
    }
    uint64_t nbytes = empty ? 0 : numel * kiln_dtype_size(t->dtype);
    if (nbytes != t->nbytes)
        return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": holds %zu bytes but its shape needs %llu", path, name,
                          t->nbytes, (unsigned long long)nbytes);
    if (nbytes && !t->data) return kiln_error(KILN_ERR_INVALID, "%s: tensor \"%s\": no data", path, name);
    if (strcmp(name, "__metadata__") == 0)
        return kiln_error(KILN_ERR_INVALID, "%s: a tensor may not be named __metadata__", path);
    if (!valid_utf8((const unsigned char *)name))
        return kiln_error(KILN_ERR_INVALID, "%s: tensor name \"%s\" is not valid UTF-8", path, name);
    return KILN_OK;
}

static kiln_status build_header(const char *path, const kiln_tensor_map *m, strbuf *b) {
    static const char meta[] = "{\"__metadata__\":{\"format\":\"pt\"}";
    sb_put(b, meta, sizeof meta - 1);
    uint64_t offset = 0;
    for (int i = 0; i < kiln_tensor_map_count(m); i++) {
        const char *name = kiln_tensor_map_name(m, i);
        const kiln_tensor *t = kiln_tensor_map_at(m, i);
        KILN_TRY(check_tensor(path, name, t));
        sb_put(b, ",", 1);
        put_json_string(b, name);
        sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", file_dtype[t->dtype]);
        for (int d = 0; d < t->rank; d++) sb_printf(b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + t->nbytes));
        offset += t->nbytes;
    }
    sb_put(b, "}", 1);
    while (b->len % 8) sb_put(b, " ", 1); /* 8 + len is then a multiple of 8 too */
    if (b->failed) return kiln_error(KILN_ERR_NOMEM, "out of memory writing the header of %s", path);
    return KILN_OK;
}

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

kiln_status kiln_safetensors_save(const char *path, const kiln_tensor_map *m) {
    strbuf hdr = {0};
    kiln_status s = build_header(path, m, &hdr);
    if (s) {
        free(hdr.p);
        return s;
    }
    /* A new file renamed over the old one: a map that still has the old
     * file mapped keeps reading the old bytes instead of crashing. */
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    int fd = -1;
    for (int attempt = 0; tmp && fd < 0 && attempt < 100; attempt++) {
        snprintf(tmp, tlen, "%s.tmp%ld.%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int err = errno;
        free(hdr.p);
        free(tmp);
        return kiln_error(KILN_ERR_IO, "cannot create %s: %s", path, strerror(err));
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) close(fd);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    int ok = f && write_all(f, len8, 8) && write_all(f, hdr.p, hdr.len);
    for (int i = 0; ok && i < kiln_tensor_map_count(m); i++) {
        const kiln_tensor *t = kiln_tensor_map_at(m, i);
        ok = write_all(f, t->data, t->nbytes);
    }
    int err = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        s = kiln_error(KILN_ERR_IO, "cannot write %s: %s", path, strerror(err));
    }
    free(hdr.p);
    free(tmp);
    return s;
}
