/* safetensors reader: 8-byte little-endian header length N, N bytes of JSON
 * header, then the tensor data. Every header field is validated before a
 * single tensor is exposed, so a malformed file never leads to a read
 * outside the data. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/json.h"
#include "kiln/safetensors.h"

/* The same limit Python's safetensors applies: headers are a few hundred
 * KB even for the largest models, so anything bigger is a corrupt length. */
#define MAX_HEADER_BYTES 100000000ull

static const struct {
    const char *name;
    kiln_dtype dtype;
} dtype_names[] = {
    {"F64", KILN_F64}, {"F32", KILN_F32}, {"F16", KILN_F16}, {"BF16", KILN_BF16}, {"I64", KILN_I64},
    {"I32", KILN_I32}, {"I16", KILN_I16}, {"I8", KILN_I8},   {"U8", KILN_U8},     {"U16", KILN_U16},
    {"U32", KILN_U32}, {"U64", KILN_U64}, {"BOOL", KILN_BOOL},
};

typedef struct {
    const char *name; /* points into the parsed header */
    int order;        /* position in the header, to keep sorting stable */
    kiln_dtype dtype;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    uint64_t begin, end, nbytes;
} entry;

static kiln_status bad(kiln_code code, const char *what, const char *tensor, const char *fmt, ...) KILN_PRINTF(4, 5);
static kiln_status bad(kiln_code code, const char *what, const char *tensor, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (tensor) return kiln_error(code, "%s: tensor \"%.200s\": %s", what, tensor, msg);
    return kiln_error(code, "%s: %s", what, msg);
}

/* A JSON value as it should appear in a message: "-3", "2.5", "a string". */
static const char *describe(const kiln_json *v, char *buf, size_t cap) {
    if (v->type == KILN_JSON_NUMBER) {
        if (v->is_integer) snprintf(buf, cap, "%lld", (long long)v->integer);
        else if (fabs(v->number) < 1e15 && v->number == (double)(int64_t)v->number)
            snprintf(buf, cap, "%.1f", v->number); /* "2.0", so it does not read as an integer */
        else snprintf(buf, cap, "%.17g", v->number);
        return buf;
    }
    snprintf(buf, cap, "a%s %s", v->type == KILN_JSON_ARRAY || v->type == KILN_JSON_OBJECT ? "n" : "",
             kiln_json_type_name(v->type));
    return buf;
}

static const char *dtype_file_name(kiln_dtype t) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (dtype_names[i].dtype == t) return dtype_names[i].name;
    return "?";
}

/* "F32[2, 3]"; by hand because the dims may not have been checked yet. */
static const char *entry_shape_str(const entry *e, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "%s[", dtype_file_name(e->dtype));
    for (int i = 0; i < e->rank && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)e->shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

static kiln_status check_metadata(const kiln_json *meta, const char *what) {
    char d[64];
    if (meta->type != KILN_JSON_OBJECT)
        return bad(KILN_ERR_FORMAT, what, NULL, "__metadata__ is %s, expected an object of strings",
                   describe(meta, d, sizeof d));
    for (int i = 0; i < meta->count; i++)
        if (meta->items[i].type != KILN_JSON_STRING)
            return bad(KILN_ERR_FORMAT, what, NULL, "__metadata__ \"%.100s\" is %s, expected a string", meta->keys[i],
                       describe(&meta->items[i], d, sizeof d));
    return KILN_OK;
}

static kiln_status read_dtype(const kiln_json *info, const char *what, entry *e) {
    const kiln_json *dt = kiln_json_get(info, "dtype");
    char d[64];
    if (!dt) return bad(KILN_ERR_FORMAT, what, e->name, "missing \"dtype\"");
    if (dt->type != KILN_JSON_STRING)
        return bad(KILN_ERR_FORMAT, what, e->name, "\"dtype\" is %s, expected a string such as \"F32\"",
                   describe(dt, d, sizeof d));
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++) {
        if (strlen(dtype_names[i].name) == dt->len && strcmp(dt->string, dtype_names[i].name) == 0) {
            e->dtype = dtype_names[i].dtype;
            return KILN_OK;
        }
    }
    return bad(KILN_ERR_UNSUPPORTED, what, e->name,
               "dtype \"%.40s\" is not supported (kiln reads F64 F32 F16 BF16 I64 I32 I16 I8 U8 U16 U32 U64 BOOL)",
               dt->string);
}

static kiln_status read_shape(const kiln_json *info, const char *what, entry *e) {
    const kiln_json *sh = kiln_json_get(info, "shape");
    char d[64];
    if (!sh) return bad(KILN_ERR_FORMAT, what, e->name, "missing \"shape\"");
    if (sh->type != KILN_JSON_ARRAY)
        return bad(KILN_ERR_FORMAT, what, e->name, "\"shape\" is %s, expected an array of non-negative integers",
                   describe(sh, d, sizeof d));
    if (sh->count > KILN_MAX_RANK)
        return bad(KILN_ERR_LIMIT, what, e->name, "rank %d exceeds the maximum of %d", sh->count, KILN_MAX_RANK);
    e->rank = sh->count;
    /* The product of the non-zero dims must fit in int64 bytes even when a
     * zero dim makes the tensor empty, so later shape arithmetic (which
     * multiplies dims in order) can never overflow. */
    uint64_t prod = 1;
    int empty = 0;
    size_t size = kiln_dtype_size(e->dtype);
    for (int i = 0; i < sh->count; i++) {
        const kiln_json *v = &sh->items[i];
        if (v->type != KILN_JSON_NUMBER || !v->is_integer || v->integer < 0)
            return bad(KILN_ERR_FORMAT, what, e->name, "shape[%d] is %s, expected a non-negative integer", i,
                       describe(v, d, sizeof d));
        uint64_t dim = (uint64_t)v->integer;
        e->shape[i] = v->integer;
        if (dim == 0) {
            empty = 1;
        } else if (prod > (uint64_t)INT64_MAX / size / dim) {
            char s[160];
            return bad(KILN_ERR_FORMAT, what, e->name, "shape %s is too large (its byte size overflows 63 bits)",
                       entry_shape_str(e, s, sizeof s));
        } else {
            prod *= dim;
        }
    }
    e->nbytes = empty ? 0 : prod * size;
    return KILN_OK;
}

static kiln_status read_offsets(const kiln_json *info, const char *what, uint64_t data_size, entry *e) {
    const kiln_json *off = kiln_json_get(info, "data_offsets");
    char d[64];
    if (!off) return bad(KILN_ERR_FORMAT, what, e->name, "missing \"data_offsets\"");
    if (off->type != KILN_JSON_ARRAY)
        return bad(KILN_ERR_FORMAT, what, e->name, "\"data_offsets\" is %s, expected an array [begin, end]",
                   describe(off, d, sizeof d));
    if (off->count != 2)
        return bad(KILN_ERR_FORMAT, what, e->name, "\"data_offsets\" has %d elements, expected two: [begin, end]",
                   off->count);
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        const kiln_json *x = &off->items[i];
        if (x->type != KILN_JSON_NUMBER || !x->is_integer || x->integer < 0)
            return bad(KILN_ERR_FORMAT, what, e->name, "data_offsets[%d] is %s, expected a non-negative integer", i,
                       describe(x, d, sizeof d));
        v[i] = (uint64_t)x->integer;
    }
    e->begin = v[0];
    e->end = v[1];
    if (e->begin > e->end)
        return bad(KILN_ERR_FORMAT, what, e->name, "data_offsets [%llu, %llu] end before they begin",
                   (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return bad(KILN_ERR_FORMAT, what, e->name, "data_offsets end %llu is past the end of the data (%llu bytes)",
                   (unsigned long long)e->end, (unsigned long long)data_size);
    if (e->end - e->begin != e->nbytes) {
        char s[160];
        return bad(KILN_ERR_FORMAT, what, e->name, "data_offsets [%llu, %llu] span %llu bytes but %s needs %llu",
                   (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)(e->end - e->begin), entry_shape_str(e, s, sizeof s),
                   (unsigned long long)e->nbytes);
    }
    return KILN_OK;
}

static int by_offset(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order - y->order;
}

/* Validates the header and fills `m` with views of base[0..size). */
static kiln_status parse_into(kiln_tensor_map *m, const unsigned char *base, size_t size, const char *what) {
    if (size < 8)
        return bad(KILN_ERR_FORMAT, what, NULL, "file is %zu bytes, too short for the 8-byte header length", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | base[i];
    if (hlen > MAX_HEADER_BYTES)
        return bad(KILN_ERR_FORMAT, what, NULL, "header length %llu exceeds the limit of %llu bytes",
                   (unsigned long long)hlen, MAX_HEADER_BYTES);
    if (hlen > size - 8)
        return bad(KILN_ERR_FORMAT, what, NULL, "header length %llu is larger than the %zu bytes after it",
                   (unsigned long long)hlen, size - 8);
    const unsigned char *data = base + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;

    size_t wlen = strlen(what) + 8;
    char *hwhat = malloc(wlen);
    if (!hwhat) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    snprintf(hwhat, wlen, "%s header", what);
    kiln_json *hdr = NULL;
    kiln_status s = kiln_json_parse((const char *)base + 8, (size_t)hlen, hwhat, &hdr);
    free(hwhat);
    if (s) return s;

    entry *ents = NULL;
    int n = 0;
    char d[64];
    if (hdr->type != KILN_JSON_OBJECT) {
        s = bad(KILN_ERR_FORMAT, what, NULL, "header is %s, expected a JSON object", describe(hdr, d, sizeof d));
        goto out;
    }
    ents = calloc(hdr->count ? (size_t)hdr->count : 1, sizeof *ents);
    if (!ents) {
        s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < hdr->count && !s; i++) {
        const char *name = hdr->keys[i];
        const kiln_json *info = &hdr->items[i];
        if (strcmp(name, "__metadata__") == 0 && hdr->key_lens[i] == 12) {
            s = check_metadata(info, what);
            continue;
        }
        if (strlen(name) != hdr->key_lens[i]) {
            s = bad(KILN_ERR_FORMAT, what, name, "the name contains a NUL character");
            break;
        }
        entry *e = &ents[n++];
        e->name = name;
        e->order = i;
        if (info->type != KILN_JSON_OBJECT) {
            s = bad(KILN_ERR_FORMAT, what, name, "entry is %s, expected an object with dtype, shape and data_offsets",
                    describe(info, d, sizeof d));
            break;
        }
        s = read_dtype(info, what, e);
        if (!s) s = read_shape(info, what, e);
        if (!s) s = read_offsets(info, what, data_size, e);
    }
    if (s) goto out;

    qsort(ents, (size_t)n, sizeof *ents, by_offset);
    const entry *reach_owner = NULL;
    uint64_t reach = 0;
    for (int i = 0; i < n; i++) {
        const entry *e = &ents[i];
        if (e->end == e->begin) continue; /* empty tensors occupy no bytes */
        if (reach_owner && e->begin < reach) {
            s = bad(KILN_ERR_FORMAT, what, e->name, "bytes [%llu, %llu) overlap tensor \"%.200s\" at [%llu, %llu)",
                    (unsigned long long)e->begin, (unsigned long long)e->end, reach_owner->name,
                    (unsigned long long)reach_owner->begin, (unsigned long long)reach_owner->end);
            goto out;
        }
        if (e->end > reach) {
            reach = e->end;
            reach_owner = e;
        }
    }

    for (int i = 0; i < n && !s; i++) {
        const entry *e = &ents[i];
        const unsigned char *p = data + e->begin;
        kiln_tensor t;
        /* Loading a misaligned float is undefined behaviour: copy instead. */
        if ((uintptr_t)p % kiln_dtype_size(e->dtype) == 0) {
            t = kiln_tensor_view(e->dtype, e->rank, e->shape, (void *)p);
        } else if (e->nbytes == 0) {
            /* Nothing to copy, and its dims may be too large to allocate. */
            t = kiln_tensor_view(e->dtype, e->rank, e->shape, NULL);
            t.data = calloc(1, 8);
            t.owns_data = 1;
            if (!t.data) {
                s = kiln_error(KILN_ERR_NOMEM, "out of memory");
                break;
            }
        } else {
            s = kiln_tensor_alloc(&t, e->dtype, e->rank, e->shape);
            if (s) {
                s = kiln_error_wrap(s, "%s: tensor \"%.200s\"", what, e->name);
                break;
            }
            if (e->nbytes) memcpy(t.data, p, (size_t)e->nbytes);
        }
        s = kiln_tensor_map_put(m, e->name, t);
        if (s) kiln_tensor_release(&t);
    }
out:
    free(ents);
    kiln_json_free(hdr);
    return s;
}

kiln_status kiln_safetensors_load_memory(const void *data, size_t size, const char *what, kiln_tensor_map **out) {
    *out = NULL;
    if (!what) what = "safetensors";
    if (!data && size) return kiln_error(KILN_ERR_INVALID, "%s: no data", what);
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = parse_into(m, data ? data : (const void *)"", data ? size : 0, what);
    if (s) {
        kiln_tensor_map_free(m);
        return s;
    }
    kiln_tensor_map_set_origin(m, what);
    *out = m;
    return KILN_OK;
}

typedef struct {
    void *addr;
    size_t size;
} mapping;

static void unmap(void *ctx) {
    mapping *mp = ctx;
    munmap(mp->addr, mp->size);
    free(mp);
}

kiln_status kiln_safetensors_load(const char *path, kiln_tensor_map **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_error(KILN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return kiln_error(KILN_ERR_IO, "cannot stat %s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s is not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return bad(KILN_ERR_FORMAT, path, NULL, "file is %lld bytes, too short for the 8-byte header length",
                   (long long)st.st_size);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return kiln_error(KILN_ERR_LIMIT, "%s is too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the file alive */
    if (addr == MAP_FAILED) return kiln_error(KILN_ERR_IO, "cannot map %s: %s", path, strerror(err));
    mapping *mp = malloc(sizeof *mp);
    kiln_tensor_map *m = mp ? kiln_tensor_map_new() : NULL;
    if (!m) {
        free(mp);
        munmap(addr, size);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    mp->addr = addr;
    mp->size = size;
    kiln_status s = kiln_tensor_map_hold(m, mp, unmap); /* releases mp itself on failure */
    if (!s) s = parse_into(m, addr, size, path);
    if (s) {
        kiln_tensor_map_free(m);
        return s;
    }
    kiln_tensor_map_set_origin(m, path);
    *out = m;
    return KILN_OK;
}
