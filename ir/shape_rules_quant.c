/* Shape rule of dequantize (docs/ops.md): raw GGUF blocks u8 [..., row_bytes]
 * with attributes type (a ggml type name) and shape (the logical shape) give
 * f32 [shape]. Everything an emitter relies on is checked here, once: the
 * row byte count matches the type and column count exactly. */
#include "graph_internal.h"
#include "kiln/quant.h"
#include "shape_rules.h"

kiln_status infer_dequantize(kiln_graph *g, kiln_node *n) {
    kiln_node *x = kiln_graph_node(g, n->inputs[0]);
    kiln_attr *type = &n->attrs[0], *shape = &n->attrs[1];
    char s1[256], s2[256];
    uint32_t t;
    kiln_status s = kiln_ggml_type_parse(type->s, &t);
    if (s) return node_wrap(g, n, s);
    if (!kiln_ggml_type_is_block(t))
        return node_error(g, n, KILN_ERR_UNSUPPORTED, "type %s is not a block type it can dequantize (q8_0, q4_0, q4_K, q6_K)",
                          kiln_ggml_type_name(t));
    type->s = kiln_graph_intern(g, kiln_ggml_type_name(t)); /* canonical spelling: q4_K, not q4_k */
    if (!type->s) return node_error(g, n, KILN_ERR_NOMEM, "out of memory");
    if (x->dtype != KILN_U8) return node_error(g, n, KILN_ERR_TYPE, "takes raw u8 blocks, got %s", kiln_dtype_name(x->dtype));
    int r = shape->n;
    if (r < 1 || r > KILN_MAX_RANK || r != x->shape.rank)
        return node_error(g, n, KILN_ERR_SHAPE, "shape has rank %d, the raw input %s has rank %d (they must agree, 1..%d)", r,
                          kiln_shape_str(g, &x->shape, s1, sizeof s1), x->shape.rank, KILN_MAX_RANK);
    kiln_shape out = {r, {0}};
    for (int i = 0; i < r; i++) out.dims[i] = shape->list[i];
    kiln_dim cols = out.dims[r - 1], have = x->shape.dims[r - 1];
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(t);
    if (!kiln_dim_is_const(cols) || cols < 0 || cols % ti->block_size)
        return node_error(g, n, KILN_ERR_SHAPE, "the last dim of shape %s must be a constant multiple of %s's block of %d",
                          kiln_shape_str(g, &out, s1, sizeof s1), ti->name, ti->block_size);
    size_t row;
    s = kiln_ggml_nbytes(t, cols, &row);
    if (s) return node_wrap(g, n, s);
    if (!kiln_dim_is_const(have) || have != (kiln_dim)row)
        return node_error(g, n, KILN_ERR_SHAPE, "%lld %s columns take %zu bytes a row, but the raw input is %s",
                          (long long)cols, ti->name, row, kiln_shape_str(g, &x->shape, s2, sizeof s2));
    for (int i = 0; i < r - 1; i++)
        if (out.dims[i] != x->shape.dims[i])
            return node_error(g, n, KILN_ERR_SHAPE, "shape %s and the raw input %s differ in dim %d (only the last may)",
                              kiln_shape_str(g, &out, s1, sizeof s1), kiln_shape_str(g, &x->shape, s2, sizeof s2), i);
    n->dtype = KILN_F32;
    n->shape = out;
    return KILN_OK;
}
