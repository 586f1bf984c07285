/* Host tensors and named tensor maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/quant.h"
#include "kiln/tensor.h"

int64_t kiln_shape_numel(int rank, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return n;
}

kiln_status kiln_tensor_alloc(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (rank < 0 || rank > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_LIMIT, "tensor rank %d exceeds the maximum of %d", rank, KILN_MAX_RANK);
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return kiln_error(KILN_ERR_SHAPE, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] && n > (UINT64_MAX >> 8) / (uint64_t)shape[i])
            return kiln_error(KILN_ERR_LIMIT, "tensor too large");
        n *= (uint64_t)shape[i];
        t->shape[i] = shape[i];
    }
    t->dtype = dtype;
    t->rank = rank;
    t->nbytes = (size_t)(n * kiln_dtype_size(dtype));
    t->data = calloc(t->nbytes ? t->nbytes : 1, 1);
    if (!t->data) return kiln_error(KILN_ERR_NOMEM, "out of memory allocating %zu bytes", t->nbytes);
    t->owns_data = 1;
    return KILN_OK;
}

kiln_tensor kiln_tensor_view(kiln_dtype dtype, int rank, const int64_t *shape, void *data) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.shape[i] = shape[i];
    t.data = data;
    t.nbytes = (size_t)kiln_shape_numel(rank, shape) * kiln_dtype_size(dtype);
    return t;
}

kiln_status kiln_tensor_convert(const kiln_tensor *src, kiln_dtype dtype, kiln_tensor *dst) {
    /* raw blocks are bytes, not values: only a same-dtype copy keeps their meaning */
    if (src->quant && dtype != src->dtype) {
        memset(dst, 0, sizeof *dst);
        return kiln_error(KILN_ERR_TYPE, "tensor holds block-quantized %s data; dequantize it before converting to %s",
                          kiln_ggml_type_name(src->quant), kiln_dtype_name(dtype));
    }
    KILN_TRY(kiln_tensor_alloc(dst, dtype, src->rank, src->shape));
    dst->quant = src->quant;
    dst->quant_cols = src->quant_cols;
    size_t n = (size_t)kiln_tensor_numel(src);
    if (dtype == src->dtype) {
        memcpy(dst->data, src->data, dst->nbytes);
    } else if (kiln_dtype_is_float(dtype) || kiln_dtype_is_float(src->dtype)) {
        for (size_t i = 0; i < n; i++) kiln_store_f64(dst->data, dtype, i, kiln_load_f64(src->data, src->dtype, i));
    } else {
        for (size_t i = 0; i < n; i++) kiln_store_i64(dst->data, dtype, i, kiln_load_i64(src->data, src->dtype, i));
    }
    return KILN_OK;
}

void kiln_tensor_release(kiln_tensor *t) {
    if (t->owns_data) free(t->data);
    t->data = NULL;
    t->owns_data = 0;
}

const char *kiln_tensor_shape_str(const kiln_tensor *t, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "%s[", kiln_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

typedef struct {
    void *ctx;
    void (*release)(void *);
} held;

struct kiln_tensor_map {
    char **names;
    kiln_tensor *tensors;
    int count, cap;
    held *holds;
    int nholds;
    char *origin;
};

kiln_tensor_map *kiln_tensor_map_new(void) { return calloc(1, sizeof(kiln_tensor_map)); }

void kiln_tensor_map_free(kiln_tensor_map *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) {
        free(m->names[i]);
        kiln_tensor_release(&m->tensors[i]);
    }
    for (int i = m->nholds - 1; i >= 0; i--) m->holds[i].release(m->holds[i].ctx);
    free(m->holds);
    free(m->names);
    free(m->tensors);
    free(m->origin);
    free(m);
}

static int find(const kiln_tensor_map *m, const char *name) {
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->names[i], name) == 0) return i;
    return -1;
}

kiln_status kiln_tensor_map_put(kiln_tensor_map *m, const char *name, kiln_tensor t) {
    int i = find(m, name);
    if (i >= 0) {
        kiln_tensor_release(&m->tensors[i]);
        m->tensors[i] = t;
        return KILN_OK;
    }
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 16;
        char **names = realloc(m->names, (size_t)cap * sizeof *names);
        if (names) m->names = names;
        kiln_tensor *ts = realloc(m->tensors, (size_t)cap * sizeof *ts);
        if (ts) m->tensors = ts;
        if (!names || !ts) return kiln_error(KILN_ERR_NOMEM, "out of memory growing tensor map");
        m->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    m->names[m->count] = copy;
    m->tensors[m->count] = t;
    m->count++;
    return KILN_OK;
}

const kiln_tensor *kiln_tensor_map_get(const kiln_tensor_map *m, const char *name) {
    int i = find(m, name);
    return i >= 0 ? &m->tensors[i] : NULL;
}

int kiln_tensor_map_count(const kiln_tensor_map *m) { return m->count; }
const char *kiln_tensor_map_name(const kiln_tensor_map *m, int i) { return m->names[i]; }
const kiln_tensor *kiln_tensor_map_at(const kiln_tensor_map *m, int i) { return &m->tensors[i]; }

kiln_status kiln_tensor_map_hold(kiln_tensor_map *m, void *ctx, void (*release)(void *ctx)) {
    held *h = realloc(m->holds, (size_t)(m->nholds + 1) * sizeof *h);
    if (!h) {
        release(ctx);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    m->holds = h;
    m->holds[m->nholds++] = (held){ctx, release};
    return KILN_OK;
}

void kiln_tensor_map_set_origin(kiln_tensor_map *m, const char *origin) {
    free(m->origin);
    m->origin = origin ? strdup(origin) : NULL;
}

const char *kiln_tensor_map_origin(const kiln_tensor_map *m) { return m->origin ? m->origin : "weights"; }
