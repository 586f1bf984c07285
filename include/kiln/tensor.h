/* Host tensors: a dtype, a concrete shape and contiguous row-major data. */
#ifndef KILN_TENSOR_H
#define KILN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

#define KILN_MAX_RANK 8

typedef struct kiln_tensor {
    kiln_dtype dtype;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    void *data;
    size_t nbytes;
    int owns_data; /* kiln_tensor_release frees data only when set */
    /* Block-quantized weights (GGUF q8_0, q4_0, q4_K, q6_K; see
     * include/kiln/quant.h and docs/quantization.md). quant is 0 for plain
     * tensors; otherwise it is the kiln_ggml_type, dtype is u8 and shape is
     * the raw form [..., row_bytes] whose last dim holds one row's blocks.
     * The logical f32 tensor has the same shape with the last dim
     * quant_cols. Graphs read such a tensor as a u8 parameter followed by
     * a `dequantize` op (docs/ops.md). */
    uint32_t quant;
    int64_t quant_cols;
} kiln_tensor;

int64_t kiln_shape_numel(int rank, const int64_t *shape);
static inline int64_t kiln_tensor_numel(const kiln_tensor *t) { return kiln_shape_numel(t->rank, t->shape); }

/* Allocate zeroed, owned data for the given shape. */
kiln_status kiln_tensor_alloc(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *shape);
/* A non-owning view of existing memory. */
kiln_tensor kiln_tensor_view(kiln_dtype dtype, int rank, const int64_t *shape, void *data);
/* Deep copy (owned), optionally converting to another dtype. */
kiln_status kiln_tensor_convert(const kiln_tensor *src, kiln_dtype dtype, kiln_tensor *dst);
void kiln_tensor_release(kiln_tensor *t);
/* "f32[2, 3]" into buf. */
const char *kiln_tensor_shape_str(const kiln_tensor *t, char *buf, size_t cap);

/* A named list of host tensors: weights, run inputs and run outputs.
 * Entries either own their data or point into a mapping the map owns. */
typedef struct kiln_tensor_map kiln_tensor_map;

kiln_tensor_map *kiln_tensor_map_new(void);
void kiln_tensor_map_free(kiln_tensor_map *m);
/* Adds (or replaces) name; takes ownership of t's data when it owns it. */
kiln_status kiln_tensor_map_put(kiln_tensor_map *m, const char *name, kiln_tensor t);
const kiln_tensor *kiln_tensor_map_get(const kiln_tensor_map *m, const char *name);
int kiln_tensor_map_count(const kiln_tensor_map *m);
const char *kiln_tensor_map_name(const kiln_tensor_map *m, int i);
const kiln_tensor *kiln_tensor_map_at(const kiln_tensor_map *m, int i);
/* Keep a resource alive as long as the map (e.g. an mmap); release(ctx) on free. */
kiln_status kiln_tensor_map_hold(kiln_tensor_map *m, void *ctx, void (*release)(void *ctx));
/* Where the tensors came from, for error messages ("model.safetensors"). */
void kiln_tensor_map_set_origin(kiln_tensor_map *m, const char *origin);
const char *kiln_tensor_map_origin(const kiln_tensor_map *m);

#endif
