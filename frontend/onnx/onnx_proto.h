/* ONNX messages decoded from the protobuf wire format (field numbers from
 * onnx.proto). Strings are copied (NUL-terminated) into an arena that the
 * decoded model owns; bulk tensor bytes (raw_data) stay spans into the
 * caller's buffer, which must outlive the decoded messages. */
#ifndef KILN_FRONTEND_ONNX_PROTO_H
#define KILN_FRONTEND_ONNX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/status.h"

/* TensorProto.DataType */
enum {
    ONNX_UNDEFINED = 0, ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_UINT16 = 4, ONNX_INT16 = 5,
    ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_STRING = 8, ONNX_BOOL = 9, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11,
    ONNX_UINT32 = 12, ONNX_UINT64 = 13, ONNX_COMPLEX64 = 14, ONNX_COMPLEX128 = 15, ONNX_BFLOAT16 = 16,
};

/* AttributeProto.AttributeType */
enum {
    ONNX_ATTR_UNDEFINED = 0, ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2, ONNX_ATTR_STRING = 3, ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5, ONNX_ATTR_FLOATS = 6, ONNX_ATTR_INTS = 7, ONNX_ATTR_STRINGS = 8, ONNX_ATTR_TENSORS = 9,
    ONNX_ATTR_GRAPHS = 10, ONNX_ATTR_SPARSE_TENSOR = 11, ONNX_ATTR_SPARSE_TENSORS = 12, ONNX_ATTR_TYPE_PROTO = 13,
    ONNX_ATTR_TYPE_PROTOS = 14,
};

/* A memory arena: everything decoded lives here and is freed at once. */
typedef struct onnx_arena onnx_arena;
onnx_arena *onnx_arena_new(void);
void onnx_arena_free(onnx_arena *a);
void *onnx_arena_alloc(onnx_arena *a, size_t n); /* zeroed; NULL on exhaustion */

typedef struct onnx_bytes {
    const uint8_t *p;
    size_t len;
    size_t off; /* file offset, for messages */
} onnx_bytes;

typedef struct onnx_tensor_proto {
    const char *name;
    int data_type;
    int ndims;
    int64_t *dims;
    int has_raw;
    onnx_bytes raw;
    /* typed fields, decoded */
    size_t n_float, n_int32, n_int64, n_double, n_uint64, n_string;
    float *float_data;
    int32_t *int32_data;
    int64_t *int64_data;
    double *double_data;
    uint64_t *uint64_data;
    /* external data */
    int external; /* data_location == EXTERNAL */
    const char *location;
    int64_t ext_offset, ext_length; /* -1 when absent */
    int has_segment;
    size_t off; /* file offset of the message, for errors */
} onnx_tensor_proto;

/* One dimension of a ValueInfo's shape. */
typedef struct onnx_dim {
    int kind; /* 0 unknown, 1 value, 2 param */
    int64_t value;
    const char *param;
} onnx_dim;

enum { ONNX_TYPE_NONE, ONNX_TYPE_TENSOR, ONNX_TYPE_SEQUENCE, ONNX_TYPE_MAP, ONNX_TYPE_OPTIONAL, ONNX_TYPE_SPARSE,
       ONNX_TYPE_OTHER };

typedef struct onnx_value_info {
    const char *name;
    int type_kind; /* ONNX_TYPE_* */
    int elem_type;
    int has_shape;
    int ndims;
    onnx_dim *dims;
} onnx_value_info;

typedef struct onnx_attr {
    const char *name;
    const char *ref_attr_name; /* set inside functions only */
    int type;                  /* ONNX_ATTR_*; inferred from the fields when missing */
    float f;
    int64_t i;
    const char *s; /* NUL-terminated copy; s_len may include NULs */
    size_t s_len;
    onnx_tensor_proto *t;
    size_t n_floats, n_ints, n_strings, n_tensors, n_graphs, n_other;
    float *floats;
    int64_t *ints;
    const char **strings;
    onnx_tensor_proto *tensors;
    int has_graph;          /* g, sparse_tensor or tp present */
    struct onnx_graph *g;   /* the decoded subgraph (GRAPH attributes) */
} onnx_attr;

typedef struct onnx_node {
    int ninputs, noutputs, nattrs;
    const char **inputs; /* "" marks an omitted optional input */
    const char **outputs;
    const char *name;
    const char *op_type;
    const char *domain;
    onnx_attr *attrs;
} onnx_node;

typedef struct onnx_graph {
    const char *name;
    int nnodes, ninits, ninputs, noutputs, nvalue_infos, nsparse_inits;
    onnx_node *nodes;
    onnx_tensor_proto *inits;
    onnx_value_info *inputs, *outputs, *value_infos;
} onnx_graph;

typedef struct onnx_opset {
    const char *domain;
    int64_t version;
} onnx_opset;

typedef struct onnx_model {
    int64_t ir_version;
    int nopsets;
    onnx_opset *opsets;
    const char *producer_name, *producer_version;
    int has_graph;
    onnx_graph graph;
    int nfunctions;
    int ntraining_infos;
} onnx_model;

/* Decoders. `origin` is the file offset of data[0] (0 for a whole file).
 * Errors name the byte offset and the message/field; the caller prefixes
 * the file name. */
kiln_status onnx_decode_model(onnx_arena *a, const uint8_t *data, size_t len, onnx_model *out);
kiln_status onnx_decode_tensor(onnx_arena *a, const uint8_t *data, size_t len, size_t origin, onnx_tensor_proto *out);

/* Attribute lookup on a node; NULL when absent. */
const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name);

/* "float", "int64", ... or "type 99" (in a static buffer for unknown ones). */
const char *onnx_dtype_name(int data_type);

#endif
