/* GGUF reader: maps the file and validates every field before anything is
 * handed out, so that later code can trust counts, lengths and offsets. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/gguf_internal.h"

#define GGUF_MAGIC "GGUF"

/* ---- arena and name index ---- */

struct gguf_arena_chunk {
    gguf_arena_chunk *next;
    size_t used, cap;
    _Alignas(8) unsigned char data[];
};

void *gguf_arena_alloc(gguf_arena *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (n < ((size_t)1 << 16) && a->head && a->head->cap - a->head->used >= n) {
        void *p = a->head->data + a->head->used;
        a->head->used += n;
        return p;
    }
    /* Big requests get a chunk of their own behind the current one so the
     * current chunk keeps serving small ones. */
    size_t cap = n < ((size_t)1 << 16) ? ((size_t)1 << 16) : n;
    if (cap > SIZE_MAX - sizeof(gguf_arena_chunk)) return NULL;
    gguf_arena_chunk *c = calloc(1, sizeof *c + cap);
    if (!c) return NULL;
    c->cap = cap;
    c->used = n;
    if (n >= ((size_t)1 << 16) && a->head) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c->data;
}

void gguf_arena_free(gguf_arena *a) {
    gguf_arena_chunk *c = a->head;
    while (c) {
        gguf_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int gguf_index_init(gguf_index *ix, gguf_arena *a, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    ix->slots = gguf_arena_alloc(a, cap * sizeof *ix->slots);
    ix->cap = ix->slots ? cap : 0;
    return ix->slots != NULL;
}

int gguf_index_insert(gguf_index *ix, const char *name, int id) {
    size_t i = (size_t)hash_name(name) & (ix->cap - 1);
    while (ix->slots[i].name) {
        if (strcmp(ix->slots[i].name, name) == 0) return ix->slots[i].id;
        i = (i + 1) & (ix->cap - 1);
    }
    ix->slots[i].name = name;
    ix->slots[i].id = id;
    return -1;
}

int gguf_index_find(const gguf_index *ix, const char *name) {
    if (!ix->cap || !name) return -1;
    size_t i = (size_t)hash_name(name) & (ix->cap - 1);
    while (ix->slots[i].name) {
        if (strcmp(ix->slots[i].name, name) == 0) return ix->slots[i].id;
        i = (i + 1) & (ix->cap - 1);
    }
    return -1;
}

/* ---- cursor over the file bytes ---- */

typedef struct cursor {
    kiln_gguf *g;
    size_t pos;
} cursor;

static kiln_status fail_at(const kiln_gguf *g, uint64_t offset, kiln_code code, const char *fmt, ...)
    KILN_PRINTF(4, 5);
static kiln_status fail_at(const kiln_gguf *g, uint64_t offset, kiln_code code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_error(code, "%s: offset %llu: %s", g->name, (unsigned long long)offset, msg);
}

static size_t remaining(const cursor *c) { return c->g->size - c->pos; }

/* Reads n bytes; `what` describes the field for the error message. */
static kiln_status take(cursor *c, size_t n, const void **out, const char *what, const char *ctx) {
    if (n > remaining(c))
        return fail_at(c->g, c->pos, KILN_ERR_FORMAT, "%s%s%s needs %zu bytes but the file ends after %zu (size %zu)",
                       ctx, *ctx ? ": " : "", what, n, remaining(c), c->g->size);
    *out = c->g->base + c->pos;
    c->pos += n;
    return KILN_OK;
}

static kiln_status read_u32(cursor *c, uint32_t *v, const char *what, const char *ctx) {
    const void *p = NULL;
    KILN_TRY(take(c, 4, &p, what, ctx));
    memcpy(v, p, 4);
    return KILN_OK;
}

static kiln_status read_u64(cursor *c, uint64_t *v, const char *what, const char *ctx) {
    const void *p = NULL;
    KILN_TRY(take(c, 8, &p, what, ctx));
    memcpy(v, p, 8);
    return KILN_OK;
}

/* A length-prefixed string, copied NUL-terminated into the arena. */
static kiln_status read_string(cursor *c, kiln_gguf_string *out, const char *what, const char *ctx) {
    uint64_t len;
    size_t at = c->pos;
    KILN_TRY(read_u64(c, &len, what, ctx));
    if (len > remaining(c))
        return fail_at(c->g, at, KILN_ERR_FORMAT, "%s%s%s length %llu runs past the end of the file (%zu bytes left)",
                       ctx, *ctx ? ": " : "", what, (unsigned long long)len, remaining(c));
    char *s = gguf_arena_alloc(&c->g->arena, (size_t)len + 1);
    if (!s) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory reading a string", c->g->name);
    memcpy(s, c->g->base + c->pos, (size_t)len);
    s[len] = 0;
    c->pos += (size_t)len;
    out->str = s;
    out->len = len;
    return KILN_OK;
}

/* ---- metadata values ---- */

static const char *const type_names[KILN_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool",  "string", "array", "uint64", "int64", "float64",
};

const char *kiln_gguf_type_name(uint32_t type) {
    return type < KILN_GGUF_TYPE_COUNT ? type_names[type] : "unknown";
}

/* Bytes of a scalar type, 0 for string/array/unknown. */
static size_t scalar_size(uint32_t type) {
    switch (type) {
    case KILN_GGUF_UINT8: case KILN_GGUF_INT8: case KILN_GGUF_BOOL: return 1;
    case KILN_GGUF_UINT16: case KILN_GGUF_INT16: return 2;
    case KILN_GGUF_UINT32: case KILN_GGUF_INT32: case KILN_GGUF_FLOAT32: return 4;
    case KILN_GGUF_UINT64: case KILN_GGUF_INT64: case KILN_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static void decode_scalar(uint32_t type, const uint8_t *p, kiln_gguf_value *v) {
    switch (type) {
    case KILN_GGUF_UINT8: v->v.u = p[0]; break;
    case KILN_GGUF_INT8: v->v.i = (int8_t)p[0]; break;
    case KILN_GGUF_BOOL: v->v.i = p[0]; break;
    case KILN_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->v.u = x; break; }
    case KILN_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->v.i = x; break; }
    case KILN_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); v->v.u = x; break; }
    case KILN_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->v.i = x; break; }
    case KILN_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->v.f = x; break; }
    case KILN_GGUF_UINT64: memcpy(&v->v.u, p, 8); break;
    case KILN_GGUF_INT64: memcpy(&v->v.i, p, 8); break;
    case KILN_GGUF_FLOAT64: memcpy(&v->v.f, p, 8); break;
    default: break;
    }
}

/* Smallest encoding of one element of `type`, to bound counts before
 * allocating: an array element that is a string takes at least its 8-byte
 * length, an array at least its 4-byte type and 8-byte count. */
static size_t min_size(uint32_t type) {
    if (type == KILN_GGUF_STRING) return 8;
    if (type == KILN_GGUF_ARRAY) return 12;
    return scalar_size(type);
}

static kiln_status read_value(cursor *c, uint32_t type, int depth, const char *key, kiln_gguf_value *out);

static kiln_status read_array(cursor *c, int depth, const char *key, kiln_gguf_value *out) {
    kiln_gguf *g = c->g;
    size_t at = c->pos;
    uint32_t elem;
    uint64_t count;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "key '%s'", key);
    KILN_TRY(read_u32(c, &elem, "array element type", ctx));
    if (elem >= KILN_GGUF_TYPE_COUNT)
        return fail_at(g, at, KILN_ERR_FORMAT, "key '%s': unknown array element type %u", key, elem);
    if (elem == KILN_GGUF_ARRAY && depth + 1 >= KILN_GGUF_MAX_ARRAY_DEPTH)
        return fail_at(g, at, KILN_ERR_LIMIT, "key '%s': arrays nested deeper than %d", key,
                       KILN_GGUF_MAX_ARRAY_DEPTH);
    size_t count_at = c->pos;
    KILN_TRY(read_u64(c, &count, "array count", ctx));
    if (count > remaining(c) / min_size(elem))
        return fail_at(g, count_at, KILN_ERR_FORMAT,
                       "key '%s': array of %llu %s elements cannot fit in the %zu bytes left in the file", key,
                       (unsigned long long)count, kiln_gguf_type_name(elem), remaining(c));
    out->elem_type = (kiln_gguf_type)elem;
    out->count = count;
    size_t esize = scalar_size(elem);
    if (esize) {
        const void *p = NULL;
        KILN_TRY(take(c, (size_t)count * esize, &p, "array data", ctx));
        if (elem == KILN_GGUF_BOOL)
            for (uint64_t i = 0; i < count; i++)
                if (((const uint8_t *)p)[i] > 1)
                    return fail_at(g, (uint64_t)((const uint8_t *)p - g->base) + i, KILN_ERR_FORMAT,
                                   "key '%s': bool array element %llu is %u (not 0 or 1)", key,
                                   (unsigned long long)i, ((const uint8_t *)p)[i]);
        out->v.raw = p;
        return KILN_OK;
    }
    if (elem == KILN_GGUF_STRING) {
        kiln_gguf_string *items = gguf_arena_alloc(&g->arena, (size_t)count * sizeof *items + 1);
        if (!items) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for key '%s'", g->name, key);
        for (uint64_t i = 0; i < count; i++) KILN_TRY(read_string(c, &items[i], "array string", ctx));
        out->v.strs = items;
        return KILN_OK;
    }
    kiln_gguf_value *items = gguf_arena_alloc(&g->arena, (size_t)count * sizeof *items + 1);
    if (!items) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for key '%s'", g->name, key);
    for (uint64_t i = 0; i < count; i++) KILN_TRY(read_value(c, KILN_GGUF_ARRAY, depth + 1, key, &items[i]));
    out->v.items = items;
    return KILN_OK;
}

static kiln_status read_value(cursor *c, uint32_t type, int depth, const char *key, kiln_gguf_value *out) {
    char ctx[160];
    snprintf(ctx, sizeof ctx, "key '%s'", key);
    out->type = (kiln_gguf_type)type;
    out->offset = c->pos;
    if (type == KILN_GGUF_STRING) return read_string(c, &out->v.s, "string value", ctx);
    if (type == KILN_GGUF_ARRAY) return read_array(c, depth, key, out);
    size_t n = scalar_size(type);
    const void *p = NULL;
    KILN_TRY(take(c, n, &p, kiln_gguf_type_name(type), ctx));
    if (type == KILN_GGUF_BOOL && *(const uint8_t *)p > 1)
        return fail_at(c->g, out->offset, KILN_ERR_FORMAT, "key '%s': bool value is %u (not 0 or 1)", key,
                       *(const uint8_t *)p);
    decode_scalar(type, p, out);
    return KILN_OK;
}

static kiln_status read_kvs(cursor *c, uint64_t n_kv) {
    kiln_gguf *g = c->g;
    g->keys = gguf_arena_alloc(&g->arena, (size_t)n_kv * sizeof *g->keys + 1);
    g->values = gguf_arena_alloc(&g->arena, (size_t)n_kv * sizeof *g->values + 1);
    if (!g->keys || !g->values || !gguf_index_init(&g->key_index, &g->arena, (size_t)n_kv))
        return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for %llu keys", g->name, (unsigned long long)n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        size_t at = c->pos;
        char ctx[160];
        snprintf(ctx, sizeof ctx, "key/value %llu", (unsigned long long)i);
        kiln_gguf_string key;
        KILN_TRY(read_string(c, &key, "key", ctx));
        if (key.len == 0 || strlen(key.str) != key.len)
            return fail_at(g, at, KILN_ERR_FORMAT, "%s: key is empty or contains a NUL byte", ctx);
        if (gguf_index_insert(&g->key_index, key.str, (int)i) >= 0)
            return fail_at(g, at, KILN_ERR_FORMAT, "duplicate key '%s'", key.str);
        size_t type_at = c->pos;
        uint32_t type;
        snprintf(ctx, sizeof ctx, "key '%s'", key.str);
        KILN_TRY(read_u32(c, &type, "value type", ctx));
        if (type >= KILN_GGUF_TYPE_COUNT)
            return fail_at(g, type_at, KILN_ERR_FORMAT, "key '%s': unknown value type %u", key.str, type);
        g->keys[i] = key.str;
        KILN_TRY(read_value(c, type, 0, key.str, &g->values[i]));
        g->n_kv = (int)i + 1;
    }
    return KILN_OK;
}

/* ---- tensor infos ---- */

static kiln_status read_tensor_info(cursor *c, uint64_t index, kiln_gguf_tensor *t) {
    kiln_gguf *g = c->g;
    size_t at = c->pos;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "tensor info %llu", (unsigned long long)index);
    kiln_gguf_string name = {0};
    t->info_offset = at;
    KILN_TRY(read_string(c, &name, "name", ctx));
    if (name.len == 0 || strlen(name.str) != name.len)
        return fail_at(g, at, KILN_ERR_FORMAT, "%s: name is empty or contains a NUL byte", ctx);
    t->name = name.str;
    snprintf(ctx, sizeof ctx, "tensor '%s'", name.str);
    if (gguf_index_insert(&g->tensor_index, name.str, (int)index) >= 0)
        return fail_at(g, at, KILN_ERR_FORMAT, "duplicate tensor '%s'", name.str);
    size_t dims_at = c->pos;
    uint32_t n_dims;
    KILN_TRY(read_u32(c, &n_dims, "dimension count", ctx));
    if (n_dims > KILN_GGUF_MAX_DIMS)
        return fail_at(g, dims_at, KILN_ERR_FORMAT, "tensor '%s': %u dimensions (at most %d)", name.str, n_dims,
                       KILN_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    /* The product of the non-zero dims must fit even when another dim is
     * zero, so that the verdict does not depend on the order of dims. */
    int64_t nonzero = 1;
    int empty = 0;
    for (uint32_t d = 0; d < n_dims; d++) {
        size_t ne_at = c->pos;
        uint64_t ne;
        KILN_TRY(read_u64(c, &ne, "dimension", ctx));
        if (ne > (uint64_t)INT64_MAX)
            return fail_at(g, ne_at, KILN_ERR_FORMAT, "tensor '%s': dimension %u is negative (%lld)", name.str, d,
                           (long long)(int64_t)ne);
        if (ne && nonzero > INT64_MAX / (int64_t)ne)
            return fail_at(g, ne_at, KILN_ERR_FORMAT, "tensor '%s': element count overflows", name.str);
        if (ne) nonzero *= (int64_t)ne;
        else empty = 1;
        t->ne[d] = (int64_t)ne;
        t->shape[n_dims - 1 - d] = (int64_t)ne;
    }
    int64_t numel = empty ? 0 : nonzero;
    t->numel = numel;
    size_t type_at = c->pos;
    KILN_TRY(read_u32(c, &t->ggml_type, "type", ctx));
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(t->ggml_type);
    if (!ti)
        return fail_at(g, type_at, KILN_ERR_FORMAT, "tensor '%s': unknown ggml type %u", name.str, t->ggml_type);
    if (n_dims > 0 && t->ne[0] % ti->block_size)
        return fail_at(g, type_at, KILN_ERR_FORMAT,
                       "tensor '%s': row length %lld is not a multiple of the %s block size %d", name.str,
                       (long long)t->ne[0], ti->name, ti->block_size);
    if (n_dims == 0 && ti->block_size != 1)
        return fail_at(g, type_at, KILN_ERR_FORMAT, "tensor '%s': a scalar cannot be of block type %s", name.str,
                       ti->name);
    kiln_status s = kiln_ggml_nbytes(t->ggml_type, numel, &t->nbytes);
    if (s) {
        kiln_status_free(s);
        return fail_at(g, type_at, KILN_ERR_FORMAT, "tensor '%s': byte size overflows", name.str);
    }
    KILN_TRY(read_u64(c, &t->offset, "data offset", ctx));
    return KILN_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
    const kiln_gguf_tensor *x = *(const kiln_gguf_tensor *const *)a, *y = *(const kiln_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Offsets aligned, data inside the file, no two tensors sharing bytes. */
static kiln_status place_tensors(kiln_gguf *g) {
    if (g->n_tensors == 0) return KILN_OK;
    if (g->data_offset > g->size)
        return fail_at(g, g->size, KILN_ERR_FORMAT, "file ends before its data section (which starts at %llu)",
                       (unsigned long long)g->data_offset);
    uint64_t data_size = g->size - g->data_offset;
    for (int i = 0; i < g->n_tensors; i++) {
        kiln_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return fail_at(g, t->info_offset, KILN_ERR_FORMAT,
                           "tensor '%s': data offset %llu is not a multiple of the alignment %u", t->name,
                           (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return fail_at(g, t->info_offset, KILN_ERR_FORMAT,
                           "tensor '%s': data [%llu, +%zu) runs past the end of the data section (%llu bytes)",
                           t->name, (unsigned long long)t->offset, t->nbytes, (unsigned long long)data_size);
        t->file_offset = g->data_offset + t->offset;
        t->data = g->base + t->file_offset;
    }
    kiln_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory", g->name);
    for (int i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    kiln_status s = KILN_OK;
    const kiln_gguf_tensor *prev = NULL;
    for (int i = 0; i < g->n_tensors && !s; i++) {
        const kiln_gguf_tensor *t = order[i];
        if (t->nbytes == 0) continue;
        if (prev && t->offset < prev->offset + prev->nbytes)
            s = fail_at(g, t->file_offset, KILN_ERR_FORMAT, "tensors '%s' and '%s' overlap", prev->name, t->name);
        prev = t;
    }
    free(order);
    return s;
}

/* ---- header and whole file ---- */

static kiln_status parse(kiln_gguf *g) {
    cursor c = {g, 0};
    const void *magic = NULL;
    KILN_TRY(take(&c, 4, &magic, "magic", ""));
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return fail_at(g, 0, KILN_ERR_FORMAT, "not a GGUF file (magic is not \"GGUF\")");
    KILN_TRY(read_u32(&c, &g->version, "version", ""));
    if (g->version != 2 && g->version != 3) {
        if (g->version == 1)
            return fail_at(g, 4, KILN_ERR_UNSUPPORTED, "GGUF version 1 is not supported (only 2 and 3)");
        if ((g->version & 0xffff) == 0)
            return fail_at(g, 4, KILN_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
        return fail_at(g, 4, KILN_ERR_UNSUPPORTED, "unknown GGUF version %u (only 2 and 3)", g->version);
    }
    uint64_t n_tensors, n_kv;
    KILN_TRY(read_u64(&c, &n_tensors, "tensor count", ""));
    KILN_TRY(read_u64(&c, &n_kv, "key/value count", ""));
    /* A key/value takes at least 13 bytes (key length, type, 1-byte value),
     * a tensor info at least 24 (name length, dim count, type, offset). */
    if (n_kv > remaining(&c) / 13 || n_kv > INT32_MAX / 2)
        return fail_at(g, 16, KILN_ERR_FORMAT, "key/value count %llu cannot fit in a %zu-byte file",
                       (unsigned long long)n_kv, g->size);
    if (n_tensors > remaining(&c) / 24 || n_tensors > INT32_MAX / 2)
        return fail_at(g, 8, KILN_ERR_FORMAT, "tensor count %llu cannot fit in a %zu-byte file",
                       (unsigned long long)n_tensors, g->size);
    KILN_TRY(read_kvs(&c, n_kv));

    g->alignment = KILN_GGUF_DEFAULT_ALIGNMENT;
    int ai = gguf_index_find(&g->key_index, "general.alignment");
    if (ai >= 0) {
        const kiln_gguf_value *v = &g->values[ai];
        if (v->type != KILN_GGUF_UINT32)
            return fail_at(g, v->offset, KILN_ERR_FORMAT, "key 'general.alignment' is %s, expected uint32",
                           kiln_gguf_type_name(v->type));
        if (v->v.u == 0 || (v->v.u & (v->v.u - 1)))
            return fail_at(g, v->offset, KILN_ERR_FORMAT, "key 'general.alignment' is %llu, not a power of two",
                           (unsigned long long)v->v.u);
        g->alignment = (uint32_t)v->v.u;
    }

    if (n_tensors > remaining(&c) / 24)
        return fail_at(g, c.pos, KILN_ERR_FORMAT, "%llu tensor infos cannot fit in the %zu bytes left",
                       (unsigned long long)n_tensors, remaining(&c));
    g->tensors = gguf_arena_alloc(&g->arena, (size_t)n_tensors * sizeof *g->tensors + 1);
    if (!g->tensors || !gguf_index_init(&g->tensor_index, &g->arena, (size_t)n_tensors))
        return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for %llu tensors", g->name,
                          (unsigned long long)n_tensors);
    for (uint64_t i = 0; i < n_tensors; i++) {
        KILN_TRY(read_tensor_info(&c, i, &g->tensors[i]));
        g->n_tensors = (int)i + 1;
    }
    g->data_offset = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    return place_tensors(g);
}

static kiln_gguf *new_reader(const char *name) {
    kiln_gguf *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->refs = 1;
    g->name = strdup(name ? name : "<memory>");
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

kiln_status kiln_gguf_open_memory(const void *data, size_t size, const char *name, kiln_gguf **out) {
    *out = NULL;
    if (!data && size) return kiln_error(KILN_ERR_INVALID, "kiln_gguf_open_memory: NULL data");
    kiln_gguf *g = new_reader(name);
    if (!g) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    g->base = data;
    g->size = size;
    kiln_status s = parse(g);
    if (s) {
        kiln_gguf_close(g);
        return s;
    }
    *out = g;
    return KILN_OK;
}

kiln_status kiln_gguf_open(const char *path, kiln_gguf **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return kiln_error(KILN_ERR_FORMAT, "%s: empty file, not a GGUF file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return kiln_error(KILN_ERR_LIMIT, "%s: too large to map", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return kiln_error(KILN_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    kiln_gguf *g = new_reader(path);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    g->map = map;
    g->base = map;
    g->size = (size_t)st.st_size;
    kiln_status s = parse(g);
    if (s) {
        kiln_gguf_close(g);
        return s;
    }
    *out = g;
    return KILN_OK;
}

kiln_gguf *kiln_gguf_retain(kiln_gguf *g) {
    if (g) g->refs++;
    return g;
}

void kiln_gguf_close(kiln_gguf *g) {
    if (!g || --g->refs > 0) return;
    if (g->map) munmap(g->map, g->size);
    gguf_arena_free(&g->arena);
    free(g->name);
    free(g);
}

const char *kiln_gguf_name(const kiln_gguf *g) { return g->name; }
uint32_t kiln_gguf_version(const kiln_gguf *g) { return g->version; }
uint32_t kiln_gguf_alignment(const kiln_gguf *g) { return g->alignment; }
uint64_t kiln_gguf_data_offset(const kiln_gguf *g) { return g->data_offset; }
uint64_t kiln_gguf_file_size(const kiln_gguf *g) { return g->size; }

int kiln_gguf_kv_count(const kiln_gguf *g) { return g->n_kv; }
const char *kiln_gguf_kv_key(const kiln_gguf *g, int i) { return i >= 0 && i < g->n_kv ? g->keys[i] : NULL; }
const kiln_gguf_value *kiln_gguf_kv_value(const kiln_gguf *g, int i) {
    return i >= 0 && i < g->n_kv ? &g->values[i] : NULL;
}
const kiln_gguf_value *kiln_gguf_find(const kiln_gguf *g, const char *key) {
    int i = gguf_index_find(&g->key_index, key);
    return i >= 0 ? &g->values[i] : NULL;
}

int kiln_gguf_tensor_count(const kiln_gguf *g) { return g->n_tensors; }
const kiln_gguf_tensor *kiln_gguf_tensor_at(const kiln_gguf *g, int i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}
const kiln_gguf_tensor *kiln_gguf_tensor_find(const kiln_gguf *g, const char *name) {
    int i = gguf_index_find(&g->tensor_index, name);
    return i >= 0 ? &g->tensors[i] : NULL;
}
