/* A tiny protobuf writer for the ONNX tests: builds ModelProto /
 * TensorProto bytes field by field (field numbers from onnx.proto), so the
 * tests can make exactly the models, and the malformed variants, they need
 * without any other tool. */
#ifndef KILN_TEST_ONNX_UTIL_H
#define KILN_TEST_ONNX_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pbw {
    unsigned char *p;
    size_t len, cap;
} pbw;

static inline void pbw_raw(pbw *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}

static inline void pbw_varint(pbw *b, uint64_t v) {
    do {
        unsigned char c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        pbw_raw(b, &c, 1);
    } while (v);
}

static inline void pbw_key(pbw *b, uint32_t field, int wire) { pbw_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }
static inline void pbw_int(pbw *b, uint32_t field, int64_t v) {
    pbw_key(b, field, 0);
    pbw_varint(b, (uint64_t)v);
}
static inline void pbw_bytes(pbw *b, uint32_t field, const void *d, size_t n) {
    pbw_key(b, field, 2);
    pbw_varint(b, n);
    pbw_raw(b, d, n);
}
static inline void pbw_str(pbw *b, uint32_t field, const char *s) { pbw_bytes(b, field, s, strlen(s)); }
static inline void pbw_f32(pbw *b, uint32_t field, float f) {
    pbw_key(b, field, 5);
    pbw_raw(b, &f, 4);
}
/* Appends sub as a length-delimited field and frees it. */
static inline void pbw_msg(pbw *b, uint32_t field, pbw *sub) {
    pbw_bytes(b, field, sub->p, sub->len);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}
static inline void pbw_packed(pbw *b, uint32_t field, int n, const int64_t *v) {
    pbw tmp = {0};
    for (int i = 0; i < n; i++) pbw_varint(&tmp, (uint64_t)v[i]);
    pbw_msg(b, field, &tmp);
}

/* ---- ONNX messages ----------------------------------------------------------------- */
enum { T_FLOAT = 1, T_INT32 = 6, T_INT64 = 7, T_STRING = 8, T_BOOL = 9, T_FLOAT16 = 10, T_UINT64 = 13 };

/* TensorProto with raw little-endian data */
static inline pbw tensor_raw(const char *name, int dtype, int ndims, const int64_t *dims, const void *data, size_t n) {
    pbw t = {0};
    for (int i = 0; i < ndims; i++) pbw_int(&t, 1, dims[i]);
    pbw_int(&t, 2, dtype);
    if (name) pbw_str(&t, 8, name);
    pbw_bytes(&t, 9, data, n);
    return t;
}

/* One dimension: a value, or a dim_param name, or unknown (both unset). */
typedef struct tdim {
    int64_t v;
    const char *param;
    int unknown;
} tdim;

static inline pbw value_info(const char *name, int elem, int ndims, const tdim *dims) {
    pbw shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int i = 0; i < ndims; i++) {
        pbw d = {0};
        if (dims[i].param) pbw_str(&d, 2, dims[i].param);
        else if (!dims[i].unknown) pbw_int(&d, 1, dims[i].v);
        pbw_msg(&shape, 1, &d);
    }
    pbw_int(&tt, 1, elem);
    pbw_msg(&tt, 2, &shape);
    pbw_msg(&tp, 1, &tt);
    pbw_str(&vi, 1, name);
    pbw_msg(&vi, 2, &tp);
    return vi;
}

/* NodeProto: inputs and outputs as NULL-terminated lists; attributes are
 * appended by the caller with node_attr_* before node is added. */
static inline pbw node(const char *op, const char *name, const char *const *ins, const char *const *outs) {
    pbw n = {0};
    for (int i = 0; ins && ins[i]; i++) pbw_str(&n, 1, ins[i]);
    for (int i = 0; outs && outs[i]; i++) pbw_str(&n, 2, outs[i]);
    if (name) pbw_str(&n, 3, name);
    pbw_str(&n, 4, op);
    return n;
}

static inline void node_attr_int(pbw *n, const char *name, int64_t v) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 2); /* INT */
    pbw_int(&a, 3, v);
    pbw_msg(n, 5, &a);
}

static inline void node_attr_ints(pbw *n, const char *name, int k, const int64_t *v) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 7); /* INTS */
    pbw_packed(&a, 8, k, v);
    pbw_msg(n, 5, &a);
}

static inline void node_attr_tensor(pbw *n, const char *name, pbw *t) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 4); /* TENSOR */
    pbw_msg(&a, 5, t);
    pbw_msg(n, 5, &a);
}

static inline void node_attr_graph(pbw *n, const char *name) {
    pbw a = {0}, g = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 5); /* GRAPH */
    pbw_str(&g, 2, "body");
    pbw_msg(&a, 6, &g);
    pbw_msg(n, 5, &a);
}

/* ModelProto around a graph, importing the default domain at `opset`. */
static inline pbw model(int64_t opset, pbw *graph) {
    pbw m = {0}, o = {0};
    pbw_int(&m, 1, 8); /* ir_version */
    pbw_str(&o, 1, "");
    pbw_int(&o, 2, opset);
    pbw_msg(&m, 8, &o);
    pbw_str(&m, 2, "kiln-test");
    pbw_msg(&m, 7, graph);
    return m;
}

/* GraphProto fields: 1 node, 2 name, 5 initializer, 11 input, 12 output */
enum { G_NODE = 1, G_NAME = 2, G_INIT = 5, G_INPUT = 11, G_OUTPUT = 12 };

#define STRS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
