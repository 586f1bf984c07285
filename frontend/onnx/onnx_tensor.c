/* TensorProto data as kiln tensors: raw_data, the typed fields, and
 * external data files next to the model (mapped once, confined to the
 * model's directory). Little-endian hosts only, like the format. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_import.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX reader assumes a little-endian host"
#endif

typedef struct ext_file {
    char *location;
    void *addr;
    size_t size;
} ext_file;

struct onnx_ext_files {
    int n, cap;
    ext_file *files;
};

static void release_files(void *ctx) {
    onnx_ext_files *e = ctx;
    for (int i = 0; i < e->n; i++) {
        if (e->files[i].addr && e->files[i].size) munmap(e->files[i].addr, e->files[i].size);
        free(e->files[i].location);
    }
    free(e->files);
    free(e);
}

void onnx_ext_files_free(onnx_ext_files *e) {
    if (e) release_files(e);
}

kiln_status onnx_ext_files_hold(onnx_ext_files *e, kiln_tensor_map *m) {
    if (!e) return KILN_OK;
    return kiln_tensor_map_hold(m, e, release_files);
}

/* `location` relative to base_dir, without `..`, and (after resolving
 * symlinks) still inside base_dir. */
static kiln_status resolve_location(const char *base_dir, const char *loc, char *out, size_t cap) {
    if (!*loc) return kiln_error(KILN_ERR_FORMAT, "external data has an empty location");
    if (loc[0] == '/' || loc[0] == '\\')
        return kiln_error(KILN_ERR_INVALID, "external data location '%s' is an absolute path", loc);
    for (const char *p = loc; *p;) {
        const char *e = p;
        while (*e && *e != '/' && *e != '\\') e++;
        if (e - p == 2 && p[0] == '.' && p[1] == '.')
            return kiln_error(KILN_ERR_INVALID, "external data location '%s' leaves the model's directory", loc);
        p = *e ? e + 1 : e;
    }
    char joined[PATH_MAX + 1], base_real[PATH_MAX + 1];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", base_dir, loc) >= sizeof joined)
        return kiln_error(KILN_ERR_LIMIT, "external data path '%s' is too long", loc);
    if (!realpath(base_dir, base_real)) return kiln_error(KILN_ERR_IO, "%s: cannot resolve directory", base_dir);
    if (!realpath(joined, out))
        return kiln_error(KILN_ERR_IO, "external data file '%s': %s", joined, strerror(errno));
    size_t bl = strlen(base_real);
    if (strncmp(out, base_real, bl) != 0 || (out[bl] != '/' && strcmp(base_real, "/") != 0))
        return kiln_error(KILN_ERR_INVALID, "external data location '%s' resolves outside the model's directory", loc);
    (void)cap;
    return KILN_OK;
}

static kiln_status map_external(const char *base_dir, onnx_ext_files **pe, const char *loc, const uint8_t **data,
                                size_t *size) {
    onnx_ext_files *e = *pe;
    if (!e) {
        e = *pe = calloc(1, sizeof *e);
        if (!e) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->files[i].location, loc) == 0) {
            *data = e->files[i].addr;
            *size = e->files[i].size;
            return KILN_OK;
        }
    char path[PATH_MAX + 1];
    KILN_TRY(resolve_location(base_dir, loc, path, sizeof path));
    int fd = open(path, O_RDONLY);
    if (fd < 0) return kiln_error(KILN_ERR_IO, "%s: cannot open external data: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s: external data is not a regular file", path);
    }
    void *addr = NULL;
    size_t n = (size_t)st.st_size;
    if (n) {
        addr = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            close(fd);
            return kiln_error(KILN_ERR_IO, "%s: cannot map external data: %s", path, strerror(errno));
        }
    }
    close(fd);
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 4;
        ext_file *p = realloc(e->files, sizeof *p * (size_t)cap);
        if (!p) {
            if (addr) munmap(addr, n);
            return kiln_error(KILN_ERR_NOMEM, "out of memory");
        }
        e->files = p;
        e->cap = cap;
    }
    char *copy = strdup(loc);
    if (!copy) {
        if (addr) munmap(addr, n);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    e->files[e->n++] = (ext_file){copy, addr, n};
    *data = addr;
    *size = n;
    return KILN_OK;
}

/* A view of bytes when aligned for the dtype, else an owned copy. */
static kiln_status bytes_tensor(kiln_dtype dt, int rank, const int64_t *shape, const uint8_t *p, kiln_tensor *out) {
    size_t es = kiln_dtype_size(dt);
    if (((uintptr_t)p % es) == 0) {
        *out = kiln_tensor_view(dt, rank, shape, (void *)p);
        return KILN_OK;
    }
    KILN_TRY(kiln_tensor_alloc(out, dt, rank, shape));
    memcpy(out->data, p, out->nbytes);
    return KILN_OK;
}

kiln_status onnx_tensor_data(const onnx_tensor_proto *t, const char *base_dir, onnx_ext_files **ext, kiln_tensor *out) {
    memset(out, 0, sizeof *out);
    const char *name = t->name ? t->name : "";
    kiln_dtype dt;
    kiln_status s = onnx_to_kiln_dtype(t->data_type, &dt);
    if (s) return kiln_error_wrap(s, "tensor '%s'", name);
    if (t->ndims > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_UNSUPPORTED, "tensor '%s' has rank %d (kiln supports up to %d)", name, t->ndims,
                          KILN_MAX_RANK);
    if (t->has_segment) return kiln_error(KILN_ERR_UNSUPPORTED, "tensor '%s' is a segment of a larger tensor", name);
    int64_t shape[KILN_MAX_RANK];
    uint64_t numel = 1;
    for (int i = 0; i < t->ndims; i++) {
        if (t->dims[i] < 0)
            return kiln_error(KILN_ERR_FORMAT, "tensor '%s' has a negative dimension %lld", name, (long long)t->dims[i]);
        if (t->dims[i] > OX_MAX_DIM)
            return kiln_error(KILN_ERR_LIMIT, "tensor '%s': dimension %lld is too large", name, (long long)t->dims[i]);
        shape[i] = t->dims[i];
        if (t->dims[i] && numel > (UINT64_C(1) << 48) / (uint64_t)t->dims[i])
            return kiln_error(KILN_ERR_LIMIT, "tensor '%s' is too large", name);
        numel *= (uint64_t)t->dims[i];
    }
    size_t es = kiln_dtype_size(dt), nbytes = (size_t)numel * es;
    if (t->external) {
        if (!base_dir) return kiln_error(KILN_ERR_UNSUPPORTED, "tensor '%s' has external data, but the model was not read from a file", name);
        if (!t->location) return kiln_error(KILN_ERR_FORMAT, "tensor '%s' is external but names no location", name);
        const uint8_t *data;
        size_t size;
        KILN_TRY(map_external(base_dir, ext, t->location, &data, &size));
        int64_t off = t->ext_offset < 0 ? 0 : t->ext_offset;
        int64_t len = t->ext_length < 0 ? (int64_t)size - off : t->ext_length;
        if ((uint64_t)off > size || len < 0 || (uint64_t)len > size - (uint64_t)off)
            return kiln_error(KILN_ERR_FORMAT, "tensor '%s': external data [%lld, +%lld) lies outside '%s' (%zu bytes)",
                              name, (long long)off, (long long)len, t->location, size);
        if ((uint64_t)len != nbytes)
            return kiln_error(KILN_ERR_FORMAT, "tensor '%s': external data holds %lld bytes, its shape needs %zu", name,
                              (long long)len, nbytes);
        return bytes_tensor(dt, t->ndims, shape, data + off, out);
    }
    if (t->has_raw) {
        if (t->raw.len != nbytes)
            return kiln_error(KILN_ERR_FORMAT, "tensor '%s': raw_data holds %zu bytes, %s%s needs %zu", name, t->raw.len,
                              onnx_dtype_name(t->data_type), t->ndims ? " of its shape" : " scalar", nbytes);
        return bytes_tensor(dt, t->ndims, shape, t->raw.p, out);
    }
    /* typed fields */
    size_t have;
    const char *field;
    switch (t->data_type) {
    case ONNX_FLOAT: have = t->n_float; field = "float_data"; break;
    case ONNX_INT64: have = t->n_int64; field = "int64_data"; break;
    case ONNX_DOUBLE: have = t->n_double; field = "double_data"; break;
    case ONNX_UINT32: case ONNX_UINT64: have = t->n_uint64; field = "uint64_data"; break;
    default: have = t->n_int32; field = "int32_data"; break;
    }
    if (have != numel)
        return kiln_error(KILN_ERR_FORMAT, "tensor '%s': %s holds %zu values, its shape needs %llu", name, field, have,
                          (unsigned long long)numel);
    KILN_TRY(kiln_tensor_alloc(out, dt, t->ndims, shape));
    for (size_t i = 0; i < numel; i++) {
        switch (t->data_type) {
        case ONNX_FLOAT: ((float *)out->data)[i] = t->float_data[i]; break;
        case ONNX_DOUBLE: ((double *)out->data)[i] = t->double_data[i]; break;
        case ONNX_INT64: ((int64_t *)out->data)[i] = t->int64_data[i]; break;
        case ONNX_UINT32: ((uint32_t *)out->data)[i] = (uint32_t)t->uint64_data[i]; break;
        case ONNX_UINT64: ((uint64_t *)out->data)[i] = t->uint64_data[i]; break;
        case ONNX_FLOAT16: case ONNX_BFLOAT16: ((uint16_t *)out->data)[i] = (uint16_t)t->int32_data[i]; break;
        case ONNX_BOOL: ((uint8_t *)out->data)[i] = t->int32_data[i] != 0; break;
        default: kiln_store_i64(out->data, dt, i, t->int32_data[i]); break;
        }
    }
    return KILN_OK;
}
