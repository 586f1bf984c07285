/* Public entry points: ONNX files and bytes to graphs, TensorProto files
 * to tensors, and the kiln_model loader for *.onnx. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/onnx.h"
#include "onnx_import.h"

typedef struct file_map {
    void *addr;
    size_t size;
} file_map;

static void unmap(void *ctx) {
    file_map *f = ctx;
    if (f->addr && f->size) munmap(f->addr, f->size);
    free(f);
}

static kiln_status map_file(const char *path, file_map **out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return kiln_error(KILN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "%s: not a regular file", path);
    }
    file_map *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    f->size = (size_t)st.st_size;
    if (f->size) {
        f->addr = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->addr == MAP_FAILED) {
            close(fd);
            free(f);
            return kiln_error(KILN_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
    }
    close(fd);
    *out = f;
    return KILN_OK;
}

static kiln_status import_bytes(const uint8_t *data, size_t len, const char *path, const char *base_dir, int copy,
                                const kiln_tensor_map *bind, kiln_graph **graph, kiln_tensor_map **weights) {
    onnx_arena *a = onnx_arena_new();
    if (!a) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    onnx_model m;
    kiln_status s = onnx_decode_model(a, data, len, &m);
    if (s) s = kiln_error_wrap(s, "%s", path);
    else s = onnx_import_model(&m, path, base_dir, copy, bind, graph, weights);
    onnx_arena_free(a);
    return s;
}

kiln_status kiln_onnx_load(const char *path, kiln_graph **graph, kiln_tensor_map **weights) {
    return kiln_onnx_load_bound(path, NULL, graph, weights);
}

kiln_status kiln_onnx_load_bound(const char *path, const kiln_tensor_map *bind, kiln_graph **graph,
                                 kiln_tensor_map **weights) {
    if (!path || !graph || !weights) return kiln_error(KILN_ERR_INVALID, "kiln_onnx_load: missing argument");
    *graph = NULL;
    *weights = NULL;
    file_map *f;
    KILN_TRY(map_file(path, &f));
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    kiln_status s = import_bytes(f->addr, f->size, path, dir, 0, bind, graph, weights);
    if (!s) s = kiln_tensor_map_hold(*weights, f, unmap); /* the weights view the file */
    else unmap(f);
    if (s && *graph) {
        kiln_graph_free(*graph);
        kiln_tensor_map_free(*weights);
        *graph = NULL;
        *weights = NULL;
    }
    return s;
}

kiln_status kiln_onnx_import(const void *data, size_t len, const char *name, kiln_graph **graph,
                             kiln_tensor_map **weights) {
    if (!graph || !weights || (!data && len)) return kiln_error(KILN_ERR_INVALID, "kiln_onnx_import: missing argument");
    return import_bytes(data, len, name ? name : "<memory>", NULL, 1, NULL, graph, weights);
}

kiln_status kiln_onnx_parse_tensor(const void *data, size_t len, const char *what, kiln_tensor *out, char **name) {
    memset(out, 0, sizeof *out);
    if (name) *name = NULL;
    if (!what) what = "<memory>";
    onnx_arena *a = onnx_arena_new();
    if (!a) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    onnx_tensor_proto t;
    kiln_tensor view;
    kiln_status s = onnx_decode_tensor(a, data, len, 0, &t);
    if (!s) s = onnx_tensor_data(&t, NULL, NULL, &view);
    if (!s) {
        if (view.owns_data) *out = view;
        else s = kiln_tensor_convert(&view, view.dtype, out);
    }
    if (!s && name && t.name && !(*name = strdup(t.name))) {
        kiln_tensor_release(out);
        s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    onnx_arena_free(a);
    return s ? kiln_error_wrap(s, "%s", what) : KILN_OK;
}

kiln_status kiln_onnx_read_tensor(const char *path, kiln_tensor *out, char **name) {
    memset(out, 0, sizeof *out);
    if (name) *name = NULL;
    file_map *f;
    KILN_TRY(map_file(path, &f));
    kiln_status s = kiln_onnx_parse_tensor(f->addr, f->size, path, out, name);
    unmap(f);
    return s;
}

void kiln_onnx_supported_ops(void (*fn)(const char *op_type, void *ctx), void *ctx) { onnx_list_ops(fn, ctx); }
