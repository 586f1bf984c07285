/* Quantized tensors as kiln_tensors (quant.h): naming types, building and
 * checking the raw [..., row_bytes] form, and dequantizing whole tensors. */
#include <string.h>

#include "kiln/quant.h"

kiln_status kiln_ggml_type_parse(const char *name, uint32_t *out) {
    for (uint32_t t = 0; name && t < 64; t++) {
        const kiln_ggml_type_info *ti = kiln_ggml_type_get(t);
        if (!ti) continue;
        int same = strcmp(ti->name, name) == 0;
        /* "q4_k" for "q4_K": ggml names differ from lowercase only in the K */
        if (!same && strlen(ti->name) == strlen(name)) {
            same = 1;
            for (size_t i = 0; same && name[i]; i++)
                same = ti->name[i] == name[i] || (ti->name[i] == 'K' && name[i] == 'k');
        }
        if (same) {
            *out = t;
            return KILN_OK;
        }
    }
    return kiln_error(KILN_ERR_NOT_FOUND, "'%s' is not a ggml type name (q8_0, q4_0, q4_K, q6_K, ...)",
                      name ? name : "(null)");
}

int kiln_ggml_type_is_block(uint32_t type) {
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    return ti && ti->block_size > 1 && ti->can_dequantize;
}

/* Raw shape of a logical one: the last dim becomes its row's byte count. */
static kiln_status raw_shape(uint32_t type, int rank, const int64_t *logical, int64_t *raw, size_t *total) {
    if (!kiln_ggml_type_is_block(type))
        return kiln_error(KILN_ERR_UNSUPPORTED, "ggml type %s is not a block type kiln dequantizes (q8_0, q4_0, q4_K, q6_K)",
                          kiln_ggml_type_name(type));
    if (rank < 1 || rank > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_SHAPE, "a %s tensor needs rank 1..%d, got %d", kiln_ggml_type_name(type), KILN_MAX_RANK,
                          rank);
    size_t row;
    KILN_TRY(kiln_ggml_nbytes(type, logical[rank - 1], &row));
    uint64_t n = row;
    for (int i = 0; i < rank - 1; i++) {
        if (logical[i] < 0) return kiln_error(KILN_ERR_SHAPE, "negative dimension %lld", (long long)logical[i]);
        if (logical[i] && n > SIZE_MAX / (uint64_t)logical[i]) return kiln_error(KILN_ERR_LIMIT, "tensor too large");
        n *= (uint64_t)logical[i];
        raw[i] = logical[i];
    }
    raw[rank - 1] = (int64_t)row;
    *total = (size_t)n;
    return KILN_OK;
}

kiln_status kiln_quant_tensor_view(uint32_t type, int rank, const int64_t *logical_shape, const void *data,
                                   size_t nbytes, kiln_tensor *out) {
    memset(out, 0, sizeof *out);
    int64_t raw[KILN_MAX_RANK];
    size_t need;
    KILN_TRY(raw_shape(type, rank, logical_shape, raw, &need));
    if (nbytes != need)
        return kiln_error(KILN_ERR_SHAPE, "%s data of %zu bytes does not hold a [%lld ...] tensor of %zu bytes",
                          kiln_ggml_type_name(type), nbytes, (long long)logical_shape[0], need);
    if (need && !data) return kiln_error(KILN_ERR_INVALID, "quantized tensor without data");
    *out = kiln_tensor_view(KILN_U8, rank, raw, (void *)data);
    out->quant = type;
    out->quant_cols = logical_shape[rank - 1];
    return KILN_OK;
}

kiln_status kiln_quant_tensor_check(const kiln_tensor *t, const char *name) {
    if (!name) name = "tensor";
    if (!t->quant) return kiln_error(KILN_ERR_TYPE, "%s is not block-quantized", name);
    if (t->dtype != KILN_U8)
        return kiln_error(KILN_ERR_TYPE, "%s: %s blocks must be stored as u8, not %s", name, kiln_ggml_type_name(t->quant),
                          kiln_dtype_name(t->dtype));
    if (t->rank < 1 || t->rank > KILN_MAX_RANK) return kiln_error(KILN_ERR_SHAPE, "%s: rank %d", name, t->rank);
    int64_t logical[KILN_MAX_RANK], raw[KILN_MAX_RANK];
    kiln_tensor_logical_shape(t, logical);
    size_t need;
    kiln_status s = raw_shape(t->quant, t->rank, logical, raw, &need);
    if (s) return kiln_error_wrap(s, "%s", name);
    if (raw[t->rank - 1] != t->shape[t->rank - 1] || need != t->nbytes) {
        char got[128];
        return kiln_error(KILN_ERR_SHAPE, "%s: %lld %s columns take %lld bytes a row (%zu in all), but the data is %s (%zu bytes)",
                          name, (long long)t->quant_cols, kiln_ggml_type_name(t->quant), (long long)raw[t->rank - 1], need,
                          kiln_tensor_shape_str(t, got, sizeof got), t->nbytes);
    }
    return KILN_OK;
}

void kiln_tensor_logical_shape(const kiln_tensor *t, int64_t *shape) {
    for (int i = 0; i < t->rank; i++) shape[i] = t->shape[i];
    if (t->quant && t->rank > 0) shape[t->rank - 1] = t->quant_cols;
}

kiln_status kiln_tensor_dequantize(const kiln_tensor *t, kiln_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!t->quant) {
        if (!kiln_dtype_is_float(t->dtype))
            return kiln_error(KILN_ERR_TYPE, "cannot dequantize a %s tensor to f32", kiln_dtype_name(t->dtype));
        return kiln_tensor_convert(t, KILN_F32, out);
    }
    KILN_TRY(kiln_quant_tensor_check(t, "quantized tensor"));
    int64_t logical[KILN_MAX_RANK];
    kiln_tensor_logical_shape(t, logical);
    KILN_TRY(kiln_tensor_alloc(out, KILN_F32, t->rank, logical));
    kiln_status s = kiln_dequantize(t->quant, t->data, t->nbytes, out->data, kiln_tensor_numel(out));
    if (s) kiln_tensor_release(out);
    return s;
}
