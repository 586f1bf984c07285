/* dequantize: raw GGUF blocks to f32, row by row through kiln_dequantize,
 * so the reference is bit-identical to ggml's dequantizers. */
#include "kiln/quant.h"
#include "ref_quant.h"

REF_KERNEL(ref_dequantize) {
    const kiln_tensor *x = in[0];
    uint32_t type;
    kiln_status s = kiln_ggml_type_parse(c->n->attrs[0].s, &type);
    if (s) return kiln_error_wrap(s, "dequantize");
    int r = out->rank;
    int64_t cols = r ? out->shape[r - 1] : 0, rows = cols ? kiln_tensor_numel(out) / cols : 0;
    size_t row_bytes;
    s = kiln_ggml_nbytes(type, cols, &row_bytes);
    if (s) return kiln_error_wrap(s, "dequantize");
    /* the graph checked this; the kernel never trusts it with memory */
    if (x->rank != r || (r && (size_t)x->shape[r - 1] != row_bytes) || x->nbytes != (size_t)rows * row_bytes)
        return ref_error(c, KILN_ERR_SHAPE, "raw input of %zu bytes does not hold %lld rows of %lld %s columns", x->nbytes,
                         (long long)rows, (long long)cols, kiln_ggml_type_name(type));
    const uint8_t *src = x->data;
    float *dst = out->data;
    for (int64_t i = 0; i < rows; i++) {
        s = kiln_dequantize(type, src + (size_t)i * row_bytes, row_bytes, dst + i * cols, cols);
        if (s) return kiln_error_wrap(s, "dequantize row %lld", (long long)i);
    }
    return KILN_OK;
}
