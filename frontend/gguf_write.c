/* GGUF writer: metadata is serialised as it is added; tensors are recorded
 * by reference and laid out, each aligned, when the file is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/gguf.h"

typedef struct wtensor {
    char *name;
    uint32_t type;
    int n_dims;
    uint64_t ne[KILN_GGUF_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wtensor;

struct kiln_gguf_writer {
    uint8_t *kv;
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    char **keys;
    size_t n_keys, keys_cap;
    wtensor *tensors;
    size_t n_tensors, tensors_cap;
    uint32_t alignment;
};

kiln_status kiln_gguf_writer_new(kiln_gguf_writer **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    (*out)->alignment = KILN_GGUF_DEFAULT_ALIGNMENT;
    return KILN_OK;
}

void kiln_gguf_writer_free(kiln_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_keys; i++) free(w->keys[i]);
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv);
    free(w);
}

/* ---- metadata bytes ---- */

static int put(kiln_gguf_writer *w, const void *p, size_t n) {
    if (n > SIZE_MAX / 2 - w->kv_len) return 0;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 256;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *kv = realloc(w->kv, cap);
        if (!kv) return 0;
        w->kv = kv;
        w->kv_cap = cap;
    }
    if (n) memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 1;
}
static int put_u32(kiln_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static int put_u64(kiln_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static int put_str(kiln_gguf_writer *w, const char *s, uint64_t len) { return put_u64(w, len) && put(w, s, (size_t)len); }

static size_t scalar_size(uint32_t t) {
    switch (t) {
    case KILN_GGUF_UINT8: case KILN_GGUF_INT8: case KILN_GGUF_BOOL: return 1;
    case KILN_GGUF_UINT16: case KILN_GGUF_INT16: return 2;
    case KILN_GGUF_UINT32: case KILN_GGUF_INT32: case KILN_GGUF_FLOAT32: return 4;
    case KILN_GGUF_UINT64: case KILN_GGUF_INT64: case KILN_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Starts a key: refuses duplicates, handles general.alignment, writes the
 * key and the value type. On failure nothing is left in the buffer. */
static kiln_status begin_key(kiln_gguf_writer *w, const char *key, uint32_t type, const kiln_gguf_value *v) {
    if (!key || !*key) return kiln_error(KILN_ERR_INVALID, "gguf writer: empty key");
    for (size_t i = 0; i < w->n_keys; i++)
        if (strcmp(w->keys[i], key) == 0) return kiln_error(KILN_ERR_INVALID, "gguf writer: duplicate key '%s'", key);
    if (strcmp(key, "general.alignment") == 0) {
        if (type != KILN_GGUF_UINT32)
            return kiln_error(KILN_ERR_TYPE, "gguf writer: general.alignment must be uint32, not %s",
                              kiln_gguf_type_name(type));
        uint64_t a = v->v.u;
        if (a == 0 || (a & (a - 1)))
            return kiln_error(KILN_ERR_INVALID, "gguf writer: alignment %llu is not a power of two",
                              (unsigned long long)a);
        w->alignment = (uint32_t)a;
    }
    if (w->n_keys == w->keys_cap) {
        size_t cap = w->keys_cap ? 2 * w->keys_cap : 16;
        char **keys = realloc(w->keys, cap * sizeof *keys);
        if (!keys) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        w->keys = keys;
        w->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!put_str(w, key, strlen(key)) || !put_u32(w, type)) {
        free(copy);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    w->keys[w->n_keys++] = copy;
    w->n_kv++;
    return KILN_OK;
}

/* The body of a value (after its type). */
static int put_value(kiln_gguf_writer *w, const kiln_gguf_value *v, int depth) {
    if (v->type == KILN_GGUF_STRING) return (v->v.s.str || !v->v.s.len) && put_str(w, v->v.s.str, v->v.s.len);
    if (v->type != KILN_GGUF_ARRAY) {
        size_t n = scalar_size(v->type);
        uint8_t b[8];
        switch (v->type) {
        case KILN_GGUF_FLOAT32: { float f = (float)v->v.f; memcpy(b, &f, 4); break; }
        case KILN_GGUF_FLOAT64: memcpy(b, &v->v.f, 8); break;
        default: { uint64_t u = v->v.u; memcpy(b, &u, n); break; } /* little-endian: low bytes first */
        }
        return put(w, b, n);
    }
    if (depth >= KILN_GGUF_MAX_ARRAY_DEPTH || v->elem_type >= KILN_GGUF_TYPE_COUNT) return 0;
    if (!put_u32(w, v->elem_type) || !put_u64(w, v->count)) return 0;
    if (v->count == 0) return 1;
    size_t es = scalar_size(v->elem_type);
    if (es) return v->count <= SIZE_MAX / es && v->v.raw && put(w, v->v.raw, (size_t)v->count * es);
    for (uint64_t i = 0; i < v->count; i++) {
        if (v->elem_type == KILN_GGUF_STRING) {
            const kiln_gguf_string *e = v->v.strs ? &v->v.strs[i] : NULL;
            if (!e || (!e->str && e->len) || !put_str(w, e->str, e->len)) return 0;
        } else {
            if (!v->v.items || v->v.items[i].type != KILN_GGUF_ARRAY || !put_value(w, &v->v.items[i], depth + 1))
                return 0;
        }
    }
    return 1;
}

kiln_status kiln_gguf_writer_add_value(kiln_gguf_writer *w, const char *key, const kiln_gguf_value *v) {
    if (!v || v->type >= KILN_GGUF_TYPE_COUNT) return kiln_error(KILN_ERR_INVALID, "gguf writer: bad value for '%s'", key);
    size_t mark = w->kv_len;
    KILN_TRY(begin_key(w, key, v->type, v));
    if (!put_value(w, v, 0)) {
        w->kv_len = mark; /* drop the half-written entry */
        free(w->keys[--w->n_keys]);
        w->n_kv--;
        return kiln_error(KILN_ERR_INVALID, "gguf writer: cannot encode value of '%s' (bad array or out of memory)",
                          key);
    }
    return KILN_OK;
}

static kiln_status add_scalar(kiln_gguf_writer *w, const char *key, kiln_gguf_type t, uint64_t u, double f) {
    kiln_gguf_value v = {.type = t};
    if (t == KILN_GGUF_FLOAT32 || t == KILN_GGUF_FLOAT64) v.v.f = f;
    else v.v.u = u;
    return kiln_gguf_writer_add_value(w, key, &v);
}

kiln_status kiln_gguf_writer_set_alignment(kiln_gguf_writer *w, uint32_t a) {
    return add_scalar(w, "general.alignment", KILN_GGUF_UINT32, a, 0);
}
kiln_status kiln_gguf_writer_add_uint32(kiln_gguf_writer *w, const char *key, uint32_t v) {
    return add_scalar(w, key, KILN_GGUF_UINT32, v, 0);
}
kiln_status kiln_gguf_writer_add_int32(kiln_gguf_writer *w, const char *key, int32_t v) {
    return add_scalar(w, key, KILN_GGUF_INT32, (uint32_t)v, 0);
}
kiln_status kiln_gguf_writer_add_uint64(kiln_gguf_writer *w, const char *key, uint64_t v) {
    return add_scalar(w, key, KILN_GGUF_UINT64, v, 0);
}
kiln_status kiln_gguf_writer_add_float32(kiln_gguf_writer *w, const char *key, float v) {
    return add_scalar(w, key, KILN_GGUF_FLOAT32, 0, v);
}
kiln_status kiln_gguf_writer_add_bool(kiln_gguf_writer *w, const char *key, int v) {
    return add_scalar(w, key, KILN_GGUF_BOOL, v != 0, 0);
}
kiln_status kiln_gguf_writer_add_string(kiln_gguf_writer *w, const char *key, const char *s) {
    if (!s) return kiln_error(KILN_ERR_INVALID, "gguf writer: NULL string for '%s'", key);
    kiln_gguf_value v = {.type = KILN_GGUF_STRING, .v.s = {s, strlen(s)}};
    return kiln_gguf_writer_add_value(w, key, &v);
}

kiln_status kiln_gguf_writer_add_array(kiln_gguf_writer *w, const char *key, kiln_gguf_type elem_type,
                                       const void *data, uint64_t count) {
    if (!scalar_size(elem_type))
        return kiln_error(KILN_ERR_INVALID, "gguf writer: '%s': add_array takes scalar elements, not %s", key,
                          kiln_gguf_type_name(elem_type));
    kiln_gguf_value v = {.type = KILN_GGUF_ARRAY, .elem_type = elem_type, .count = count, .v.raw = data};
    return kiln_gguf_writer_add_value(w, key, &v);
}

kiln_status kiln_gguf_writer_add_string_array(kiln_gguf_writer *w, const char *key, const char *const *strs,
                                              uint64_t count) {
    kiln_gguf_string *items = malloc((size_t)count * sizeof *items + 1);
    if (!items) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < count; i++) {
        if (!strs[i]) {
            free(items);
            return kiln_error(KILN_ERR_INVALID, "gguf writer: '%s': string %llu is NULL", key, (unsigned long long)i);
        }
        items[i] = (kiln_gguf_string){strs[i], strlen(strs[i])};
    }
    kiln_gguf_value v = {.type = KILN_GGUF_ARRAY, .elem_type = KILN_GGUF_STRING, .count = count, .v.strs = items};
    kiln_status s = kiln_gguf_writer_add_value(w, key, &v);
    free(items);
    return s;
}

/* ---- tensors ---- */

kiln_status kiln_gguf_writer_add_tensor(kiln_gguf_writer *w, const char *name, uint32_t type, int rank,
                                        const int64_t *shape, const void *data, size_t nbytes) {
    if (!name || !*name) return kiln_error(KILN_ERR_INVALID, "gguf writer: tensor without a name");
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    if (!ti) return kiln_error(KILN_ERR_TYPE, "gguf writer: tensor '%s': unknown ggml type %u", name, type);
    if (rank < 0 || rank > KILN_GGUF_MAX_DIMS)
        return kiln_error(KILN_ERR_SHAPE, "gguf writer: tensor '%s': rank %d (GGUF allows 0..%d)", name, rank,
                          KILN_GGUF_MAX_DIMS);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return kiln_error(KILN_ERR_INVALID, "gguf writer: duplicate tensor '%s'", name);
    wtensor t = {.type = type, .n_dims = rank, .data = data, .nbytes = nbytes};
    int64_t nonzero = 1; /* same rule as the reader: non-zero dims must not overflow */
    int empty = 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || (shape[i] && nonzero > INT64_MAX / shape[i]))
            return kiln_error(KILN_ERR_SHAPE, "gguf writer: tensor '%s': bad dimension %lld", name,
                              (long long)shape[i]);
        if (shape[i]) nonzero *= shape[i];
        else empty = 1;
        t.ne[rank - 1 - i] = (uint64_t)shape[i];
    }
    int64_t numel = empty ? 0 : nonzero;
    if ((rank > 0 && (int64_t)t.ne[0] % ti->block_size) || (rank == 0 && ti->block_size != 1))
        return kiln_error(KILN_ERR_SHAPE, "gguf writer: tensor '%s': rows of %lld are not whole %s blocks of %d", name,
                          rank ? (long long)t.ne[0] : 1LL, ti->name, ti->block_size);
    size_t want;
    kiln_status s = kiln_ggml_nbytes(type, numel, &want);
    if (s) return kiln_error_wrap(s, "gguf writer: tensor '%s'", name);
    if (want != nbytes)
        return kiln_error(KILN_ERR_SHAPE, "gguf writer: tensor '%s': %s data of %lld elements is %zu bytes, got %zu",
                          name, ti->name, (long long)numel, want, nbytes);
    if (nbytes && !data) return kiln_error(KILN_ERR_INVALID, "gguf writer: tensor '%s': NULL data", name);
    if (w->n_tensors == w->tensors_cap) {
        size_t cap = w->tensors_cap ? 2 * w->tensors_cap : 16;
        wtensor *ts = realloc(w->tensors, cap * sizeof *ts);
        if (!ts) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        w->tensors = ts;
        w->tensors_cap = cap;
    }
    t.name = strdup(name);
    if (!t.name) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    w->tensors[w->n_tensors++] = t;
    return KILN_OK;
}

/* ---- output ---- */

static uint64_t align_up(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

static int write_zeros(FILE *f, uint64_t n) {
    static const uint8_t zeros[64];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k) return 0;
        n -= k;
    }
    return 1;
}

static int emit(const kiln_gguf_writer *w, FILE *f) {
    uint32_t version = 3;
    uint64_t n_tensors = w->n_tensors;
    if (fwrite("GGUF", 1, 4, f) != 4 || fwrite(&version, 4, 1, f) != 1 || fwrite(&n_tensors, 8, 1, f) != 1 ||
        fwrite(&w->n_kv, 8, 1, f) != 1)
        return 0;
    if (w->kv_len && fwrite(w->kv, 1, w->kv_len, f) != w->kv_len) return 0;
    uint64_t pos = 24 + w->kv_len, data_pos = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name), offset = data_pos;
        uint32_t n_dims = (uint32_t)t->n_dims;
        if (fwrite(&len, 8, 1, f) != 1 || fwrite(t->name, 1, len, f) != len || fwrite(&n_dims, 4, 1, f) != 1 ||
            (n_dims && fwrite(t->ne, 8, n_dims, f) != n_dims) || fwrite(&t->type, 4, 1, f) != 1 ||
            fwrite(&offset, 8, 1, f) != 1)
            return 0;
        pos += 8 + len + 4 + 8ull * n_dims + 4 + 8;
        data_pos = align_up(data_pos + t->nbytes, w->alignment);
    }
    if (!write_zeros(f, align_up(pos, w->alignment) - pos)) return 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes) return 0;
        if (!write_zeros(f, align_up(t->nbytes, w->alignment) - t->nbytes)) return 0;
    }
    return 1;
}

kiln_status kiln_gguf_writer_write(const kiln_gguf_writer *w, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int ok = emit(w, f);
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        remove(path);
        return kiln_error(KILN_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return KILN_OK;
}

kiln_status kiln_gguf_writer_write_memory(const kiln_gguf_writer *w, void **data, size_t *size) {
    char *buf = NULL;
    size_t len = 0;
    *data = NULL;
    *size = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return kiln_error(KILN_ERR_NOMEM, "gguf writer: cannot open a memory stream");
    int ok = emit(w, f);
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        free(buf);
        return kiln_error(KILN_ERR_NOMEM, "gguf writer: writing to memory failed");
    }
    *data = buf;
    *size = len;
    return KILN_OK;
}
