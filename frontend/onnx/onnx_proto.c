/* Decoding ONNX messages. Each message is read in two passes over its
 * bytes: the first validates every field and counts the repeated ones, the
 * second allocates exact arrays and fills them. Unknown fields are
 * skipped; known fields with the wrong wire type are errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_proto.h"
#include "pb.h"

/* ---- arena --------------------------------------------------------------- */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_chunk;

struct onnx_arena {
    arena_chunk *head;
};

onnx_arena *onnx_arena_new(void) { return calloc(1, sizeof(onnx_arena)); }

void onnx_arena_free(onnx_arena *a) {
    if (!a) return;
    for (arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *onnx_arena_alloc(onnx_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

#define NOMEM kiln_error(KILN_ERR_NOMEM, "out of memory decoding ONNX")

static void *alloc_array(onnx_arena *a, size_t count, size_t size) {
    if (count && size > SIZE_MAX / count) return NULL;
    return onnx_arena_alloc(a, count * size);
}

static const char *arena_str(onnx_arena *a, const pb_field *f) {
    char *s = onnx_arena_alloc(a, f->len + 1);
    if (!s) return NULL;
    if (f->len) memcpy(s, f->p, f->len);
    s[f->len] = 0;
    return s;
}

const char *onnx_dtype_name(int t) {
    static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                  "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
                                  "float8e5m2fnuz", "uint4", "int4", "float4e2m1", "float8e8m0", "uint2", "int2",
                                  "float6e2m3", "float6e3m2"};
    if (t >= 0 && t < (int)(sizeof names / sizeof names[0])) return names[t];
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "type %d", t);
    return buf;
}

const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name) {
    for (int i = 0; i < n->nattrs; i++)
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

/* Counts of repeated fields by field number (all such fields in ONNX
 * have numbers below 32). For packed scalar fields the count is of values. */
typedef struct field_counts {
    size_t n[32];
} field_counts;

typedef struct rep_spec {
    uint32_t num;
    int wire; /* element wire type of a scalar field, or PB_LEN for repeated messages/strings */
    const char *name;
} rep_spec;

/* First pass: validates the wire format of the whole message and counts
 * the repeated fields in specs. */
static kiln_status count_pass(pb_msg m, const rep_spec *specs, int nspecs, field_counts *c) {
    memset(c, 0, sizeof *c);
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(&m, &f, &done));
        if (done) return KILN_OK;
        for (int i = 0; i < nspecs; i++) {
            if (specs[i].num != f.num) continue;
            size_t k = 1;
            if (specs[i].wire == PB_LEN) KILN_TRY(pb_expect(&m, &f, PB_LEN, specs[i].name));
            else KILN_TRY(pb_packed_count(&m, &f, specs[i].wire, specs[i].name, &k));
            if (c->n[f.num] + k < k) return pb_field_error(&m, &f, specs[i].name, "too many values");
            c->n[f.num] += k;
        }
    }
}

enum { K_I64, K_I32, K_F32, K_F64, K_U64 };

/* Appends the values of a packed or single scalar field to dst. */
static kiln_status append_scalars(const pb_msg *m, const pb_field *f, int wire, const char *name, int kind, void *dst,
                                  size_t cap, size_t *filled) {
    pb_packed it;
    KILN_TRY(pb_packed_begin(m, f, wire, name, &it));
    for (;;) {
        uint64_t v;
        int done;
        KILN_TRY(pb_packed_next(&it, &v, &done));
        if (done) return KILN_OK;
        if (*filled >= cap) return pb_field_error(m, f, name, "more values than counted");
        size_t i = (*filled)++;
        switch (kind) {
        case K_I64: ((int64_t *)dst)[i] = (int64_t)v; break;
        case K_I32: ((int32_t *)dst)[i] = (int32_t)(uint32_t)v; break;
        case K_U64: ((uint64_t *)dst)[i] = v; break;
        case K_F32: {
            uint32_t b = (uint32_t)v;
            float x;
            memcpy(&x, &b, 4);
            ((float *)dst)[i] = x;
            break;
        }
        default: {
            double x;
            memcpy(&x, &v, 8);
            ((double *)dst)[i] = x;
            break;
        }
        }
    }
}

#define EXPECT(w, fname) KILN_TRY(pb_expect(m, &f, (w), (fname)))
#define STR_FIELD(dst, fname)                 \
    do {                                      \
        EXPECT(PB_LEN, fname);                \
        if (!((dst) = arena_str(a, &f))) return NOMEM; \
    } while (0)

/* ---- StringStringEntryProto (external data) ------------------------------ */
static kiln_status decode_entry(const pb_msg *parent, const pb_field *pf, pb_field *key, pb_field *val) {
    pb_msg mm, *m = &mm;
    KILN_TRY(pb_msg_sub(parent, pf, "StringStringEntryProto", m));
    memset(key, 0, sizeof *key);
    memset(val, 0, sizeof *val);
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) return KILN_OK;
        if (f.num == 1) {
            EXPECT(PB_LEN, "key");
            *key = f;
        } else if (f.num == 2) {
            EXPECT(PB_LEN, "value");
            *val = f;
        }
    }
}

static int field_is(const pb_field *f, const char *s) {
    size_t n = strlen(s);
    return f->p && f->len == n && memcmp(f->p, s, n) == 0;
}

static int parse_decimal(const pb_field *f, int64_t *out) {
    if (!f->p || f->len == 0 || f->len > 18) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->p[i] < '0' || f->p[i] > '9') return 0;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = v;
    return 1;
}

/* ---- TensorProto -------------------------------------------------------- */
static kiln_status decode_tensor_msg(onnx_arena *a, pb_msg msg, onnx_tensor_proto *t) {
    static const rep_spec specs[] = {
        {1, PB_VARINT, "dims"},         {4, PB_I32, "float_data"},      {5, PB_VARINT, "int32_data"},
        {6, PB_LEN, "string_data"},     {7, PB_VARINT, "int64_data"},   {10, PB_I64, "double_data"},
        {11, PB_VARINT, "uint64_data"},
    };
    field_counts c;
    memset(t, 0, sizeof *t);
    t->ext_offset = t->ext_length = -1;
    t->off = msg.origin;
    KILN_TRY(count_pass(msg, specs, (int)(sizeof specs / sizeof specs[0]), &c));
    if (c.n[1] > 64) return kiln_error(KILN_ERR_FORMAT, "byte %zu: TensorProto has %zu dims", msg.origin, c.n[1]);
    t->dims = alloc_array(a, c.n[1], sizeof(int64_t));
    t->float_data = alloc_array(a, c.n[4], sizeof(float));
    t->int32_data = alloc_array(a, c.n[5], sizeof(int32_t));
    t->int64_data = alloc_array(a, c.n[7], sizeof(int64_t));
    t->double_data = alloc_array(a, c.n[10], sizeof(double));
    t->uint64_data = alloc_array(a, c.n[11], sizeof(uint64_t));
    if (!t->dims || !t->float_data || !t->int32_data || !t->int64_data || !t->double_data || !t->uint64_data)
        return NOMEM;
    t->n_string = c.n[6];
    size_t ndims = 0;
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) break;
        switch (f.num) {
        case 1: KILN_TRY(append_scalars(m, &f, PB_VARINT, "dims", K_I64, t->dims, c.n[1], &ndims)); break;
        case 2: EXPECT(PB_VARINT, "data_type"); t->data_type = (int)(int32_t)f.v; break;
        case 3: EXPECT(PB_LEN, "segment"); t->has_segment = 1; break;
        case 4: KILN_TRY(append_scalars(m, &f, PB_I32, "float_data", K_F32, t->float_data, c.n[4], &t->n_float)); break;
        case 5: KILN_TRY(append_scalars(m, &f, PB_VARINT, "int32_data", K_I32, t->int32_data, c.n[5], &t->n_int32)); break;
        case 7: KILN_TRY(append_scalars(m, &f, PB_VARINT, "int64_data", K_I64, t->int64_data, c.n[7], &t->n_int64)); break;
        case 8: STR_FIELD(t->name, "name"); break;
        case 9:
            EXPECT(PB_LEN, "raw_data");
            t->has_raw = 1;
            t->raw = (onnx_bytes){f.p, f.len, f.data_off};
            break;
        case 10: KILN_TRY(append_scalars(m, &f, PB_I64, "double_data", K_F64, t->double_data, c.n[10], &t->n_double)); break;
        case 11: KILN_TRY(append_scalars(m, &f, PB_VARINT, "uint64_data", K_U64, t->uint64_data, c.n[11], &t->n_uint64)); break;
        case 13: {
            EXPECT(PB_LEN, "external_data");
            pb_field key, val;
            KILN_TRY(decode_entry(m, &f, &key, &val));
            if (field_is(&key, "location")) {
                if (!(t->location = arena_str(a, &val))) return NOMEM;
                if (strlen(t->location) != val.len)
                    return pb_field_error(m, &f, "external_data", "location contains a NUL byte");
            } else if (field_is(&key, "offset") || field_is(&key, "length")) {
                int64_t v;
                if (!parse_decimal(&val, &v))
                    return pb_field_error(m, &f, "external_data", "%s is not a decimal number",
                                          field_is(&key, "offset") ? "offset" : "length");
                if (field_is(&key, "offset")) t->ext_offset = v;
                else t->ext_length = v;
            }
            break;
        }
        case 14: EXPECT(PB_VARINT, "data_location"); t->external = f.v == 1; break;
        default: break;
        }
    }
    t->ndims = (int)ndims;
    return KILN_OK;
}

kiln_status onnx_decode_tensor(onnx_arena *a, const uint8_t *data, size_t len, size_t origin, onnx_tensor_proto *out) {
    return decode_tensor_msg(a, pb_msg_root(data, len, origin, "TensorProto"), out);
}

static kiln_status decode_tensor_field(onnx_arena *a, const pb_msg *m, const pb_field *f, onnx_tensor_proto *out) {
    pb_msg sub;
    KILN_TRY(pb_msg_sub(m, f, "TensorProto", &sub));
    return decode_tensor_msg(a, sub, out);
}

static kiln_status decode_graph(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_graph *g);

/* ---- AttributeProto ----------------------------------------------------- */
static kiln_status decode_attr(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_attr *at) {
    static const rep_spec specs[] = {
        {7, PB_I32, "floats"},  {8, PB_VARINT, "ints"},   {9, PB_LEN, "strings"},       {10, PB_LEN, "tensors"},
        {11, PB_LEN, "graphs"}, {23, PB_LEN, "sparse_tensors"}, {15, PB_LEN, "type_protos"},
    };
    pb_msg msg;
    KILN_TRY(pb_msg_sub(parent, pf, "AttributeProto", &msg));
    field_counts c;
    KILN_TRY(count_pass(msg, specs, (int)(sizeof specs / sizeof specs[0]), &c));
    memset(at, 0, sizeof *at);
    at->floats = alloc_array(a, c.n[7], sizeof(float));
    at->ints = alloc_array(a, c.n[8], sizeof(int64_t));
    at->strings = alloc_array(a, c.n[9], sizeof(char *));
    at->tensors = alloc_array(a, c.n[10], sizeof(onnx_tensor_proto));
    if (!at->floats || !at->ints || !at->strings || !at->tensors) return NOMEM;
    at->n_graphs = c.n[11];
    at->n_other = c.n[23] + c.n[15];
    int has_f = 0, has_i = 0, has_s = 0;
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) break;
        switch (f.num) {
        case 1: STR_FIELD(at->name, "name"); break;
        case 21: STR_FIELD(at->ref_attr_name, "ref_attr_name"); break;
        case 20: EXPECT(PB_VARINT, "type"); at->type = (int)(int32_t)f.v; break;
        case 2: {
            EXPECT(PB_I32, "f");
            uint32_t b = (uint32_t)f.v;
            memcpy(&at->f, &b, 4);
            has_f = 1;
            break;
        }
        case 3: EXPECT(PB_VARINT, "i"); at->i = (int64_t)f.v; has_i = 1; break;
        case 4:
            STR_FIELD(at->s, "s");
            at->s_len = f.len;
            has_s = 1;
            break;
        case 5:
            EXPECT(PB_LEN, "t");
            if (!(at->t = onnx_arena_alloc(a, sizeof *at->t))) return NOMEM;
            KILN_TRY(decode_tensor_field(a, m, &f, at->t));
            break;
        case 6: /* a subgraph (If branches): nesting is bounded by PB_MAX_DEPTH */
            EXPECT(PB_LEN, "g");
            at->has_graph = 1;
            if (!(at->g = onnx_arena_alloc(a, sizeof *at->g))) return NOMEM;
            KILN_TRY(decode_graph(a, m, &f, at->g));
            break;
        case 22: case 14:
            EXPECT(PB_LEN, f.num == 22 ? "sparse_tensor" : "tp");
            at->has_graph = 1;
            break;
        case 7: KILN_TRY(append_scalars(m, &f, PB_I32, "floats", K_F32, at->floats, c.n[7], &at->n_floats)); break;
        case 8: KILN_TRY(append_scalars(m, &f, PB_VARINT, "ints", K_I64, at->ints, c.n[8], &at->n_ints)); break;
        case 9:
            if (!(at->strings[at->n_strings++] = arena_str(a, &f))) return NOMEM;
            break;
        case 10: KILN_TRY(decode_tensor_field(a, m, &f, &at->tensors[at->n_tensors++])); break;
        default: break;
        }
    }
    if (!at->name) return kiln_error(KILN_ERR_FORMAT, "byte %zu: AttributeProto without a name", pf->off);
    if (at->type == ONNX_ATTR_UNDEFINED) { /* IR version < 2 files: infer from what is set */
        if (has_f) at->type = ONNX_ATTR_FLOAT;
        else if (has_i) at->type = ONNX_ATTR_INT;
        else if (has_s) at->type = ONNX_ATTR_STRING;
        else if (at->t) at->type = ONNX_ATTR_TENSOR;
        else if (at->has_graph) at->type = ONNX_ATTR_GRAPH;
        else if (at->n_floats) at->type = ONNX_ATTR_FLOATS;
        else if (at->n_ints) at->type = ONNX_ATTR_INTS;
        else if (at->n_strings) at->type = ONNX_ATTR_STRINGS;
        else if (at->n_tensors) at->type = ONNX_ATTR_TENSORS;
        else if (at->n_graphs) at->type = ONNX_ATTR_GRAPHS;
    }
    return KILN_OK;
}

/* ---- NodeProto ---------------------------------------------------------- */
static kiln_status decode_node(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_node *n) {
    static const rep_spec specs[] = {{1, PB_LEN, "input"}, {2, PB_LEN, "output"}, {5, PB_LEN, "attribute"}};
    pb_msg msg;
    KILN_TRY(pb_msg_sub(parent, pf, "NodeProto", &msg));
    field_counts c;
    KILN_TRY(count_pass(msg, specs, 3, &c));
    if (c.n[1] > 100000 || c.n[2] > 100000 || c.n[5] > 100000)
        return kiln_error(KILN_ERR_LIMIT, "byte %zu: NodeProto has too many inputs, outputs or attributes", pf->off);
    memset(n, 0, sizeof *n);
    n->inputs = alloc_array(a, c.n[1], sizeof(char *));
    n->outputs = alloc_array(a, c.n[2], sizeof(char *));
    n->attrs = alloc_array(a, c.n[5], sizeof(onnx_attr));
    if (!n->inputs || !n->outputs || !n->attrs) return NOMEM;
    n->domain = "";
    n->name = "";
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) break;
        switch (f.num) {
        case 1: STR_FIELD(n->inputs[n->ninputs++], "input"); break;
        case 2: STR_FIELD(n->outputs[n->noutputs++], "output"); break;
        case 3: STR_FIELD(n->name, "name"); break;
        case 4: STR_FIELD(n->op_type, "op_type"); break;
        case 7: STR_FIELD(n->domain, "domain"); break;
        case 5: KILN_TRY(decode_attr(a, m, &f, &n->attrs[n->nattrs++])); break;
        default: break;
        }
    }
    if (!n->op_type) return kiln_error(KILN_ERR_FORMAT, "byte %zu: NodeProto '%s' has no op_type", pf->off, n->name);
    return KILN_OK;
}

/* ---- ValueInfoProto / TypeProto ----------------------------------------- */
static kiln_status decode_shape(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_value_info *vi) {
    static const rep_spec specs[] = {{1, PB_LEN, "dim"}};
    pb_msg msg;
    KILN_TRY(pb_msg_sub(parent, pf, "TensorShapeProto", &msg));
    field_counts c;
    KILN_TRY(count_pass(msg, specs, 1, &c));
    if (c.n[1] > 64) return kiln_error(KILN_ERR_FORMAT, "byte %zu: TensorShapeProto has %zu dims", pf->off, c.n[1]);
    vi->dims = alloc_array(a, c.n[1], sizeof(onnx_dim));
    if (!vi->dims) return NOMEM;
    vi->has_shape = 1;
    vi->ndims = 0;
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) return KILN_OK;
        if (f.num != 1) continue;
        onnx_dim *d = &vi->dims[vi->ndims++];
        pb_msg dm;
        KILN_TRY(pb_msg_sub(m, &f, "TensorShapeProto.Dimension", &dm));
        for (;;) {
            pb_field g;
            KILN_TRY(pb_next(&dm, &g, &done));
            if (done) break;
            if (g.num == 1) {
                KILN_TRY(pb_expect(&dm, &g, PB_VARINT, "dim_value"));
                d->kind = 1;
                d->value = (int64_t)g.v;
            } else if (g.num == 2) {
                KILN_TRY(pb_expect(&dm, &g, PB_LEN, "dim_param"));
                d->kind = 2;
                if (!(d->param = arena_str(a, &g))) return NOMEM;
            }
        }
    }
}

static kiln_status decode_type(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_value_info *vi) {
    pb_msg mm, *m = &mm;
    KILN_TRY(pb_msg_sub(parent, pf, "TypeProto", m));
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) return KILN_OK;
        switch (f.num) {
        case 1: {
            EXPECT(PB_LEN, "tensor_type");
            vi->type_kind = ONNX_TYPE_TENSOR;
            pb_msg tm;
            KILN_TRY(pb_msg_sub(m, &f, "TypeProto.Tensor", &tm));
            for (;;) {
                pb_field g;
                KILN_TRY(pb_next(&tm, &g, &done));
                if (done) break;
                if (g.num == 1) {
                    KILN_TRY(pb_expect(&tm, &g, PB_VARINT, "elem_type"));
                    vi->elem_type = (int)(int32_t)g.v;
                } else if (g.num == 2) {
                    KILN_TRY(pb_expect(&tm, &g, PB_LEN, "shape"));
                    KILN_TRY(decode_shape(a, &tm, &g, vi));
                }
            }
            break;
        }
        case 4: EXPECT(PB_LEN, "sequence_type"); vi->type_kind = ONNX_TYPE_SEQUENCE; break;
        case 5: EXPECT(PB_LEN, "map_type"); vi->type_kind = ONNX_TYPE_MAP; break;
        case 9: EXPECT(PB_LEN, "optional_type"); vi->type_kind = ONNX_TYPE_OPTIONAL; break;
        case 8: EXPECT(PB_LEN, "sparse_tensor_type"); vi->type_kind = ONNX_TYPE_SPARSE; break;
        case 7: EXPECT(PB_LEN, "opaque_type"); vi->type_kind = ONNX_TYPE_OTHER; break;
        default: break;
        }
    }
}

static kiln_status decode_value_info(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_value_info *vi) {
    pb_msg mm, *m = &mm;
    KILN_TRY(pb_msg_sub(parent, pf, "ValueInfoProto", m));
    memset(vi, 0, sizeof *vi);
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) break;
        if (f.num == 1) STR_FIELD(vi->name, "name");
        else if (f.num == 2) {
            EXPECT(PB_LEN, "type");
            KILN_TRY(decode_type(a, m, &f, vi));
        }
    }
    if (!vi->name) vi->name = "";
    return KILN_OK;
}

/* ---- GraphProto --------------------------------------------------------- */
static kiln_status decode_graph(onnx_arena *a, const pb_msg *parent, const pb_field *pf, onnx_graph *g) {
    static const rep_spec specs[] = {{1, PB_LEN, "node"},   {5, PB_LEN, "initializer"}, {15, PB_LEN, "sparse_initializer"},
                                     {11, PB_LEN, "input"}, {12, PB_LEN, "output"},     {13, PB_LEN, "value_info"}};
    pb_msg msg;
    KILN_TRY(pb_msg_sub(parent, pf, "GraphProto", &msg));
    field_counts c;
    KILN_TRY(count_pass(msg, specs, (int)(sizeof specs / sizeof specs[0]), &c));
    const int nums[] = {1, 5, 11, 12, 13};
    for (int i = 0; i < 5; i++)
        if (c.n[nums[i]] > 10000000)
            return kiln_error(KILN_ERR_LIMIT, "byte %zu: GraphProto has %zu entries in field %d", pf->off, c.n[nums[i]],
                              nums[i]);
    memset(g, 0, sizeof *g);
    g->nodes = alloc_array(a, c.n[1], sizeof(onnx_node));
    g->inits = alloc_array(a, c.n[5], sizeof(onnx_tensor_proto));
    g->inputs = alloc_array(a, c.n[11], sizeof(onnx_value_info));
    g->outputs = alloc_array(a, c.n[12], sizeof(onnx_value_info));
    g->value_infos = alloc_array(a, c.n[13], sizeof(onnx_value_info));
    if (!g->nodes || !g->inits || !g->inputs || !g->outputs || !g->value_infos) return NOMEM;
    g->nsparse_inits = (int)c.n[15];
    g->name = "";
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) return KILN_OK;
        switch (f.num) {
        case 1: KILN_TRY(decode_node(a, m, &f, &g->nodes[g->nnodes++])); break;
        case 2: STR_FIELD(g->name, "name"); break;
        case 5: KILN_TRY(decode_tensor_field(a, m, &f, &g->inits[g->ninits++])); break;
        case 11: KILN_TRY(decode_value_info(a, m, &f, &g->inputs[g->ninputs++])); break;
        case 12: KILN_TRY(decode_value_info(a, m, &f, &g->outputs[g->noutputs++])); break;
        case 13: KILN_TRY(decode_value_info(a, m, &f, &g->value_infos[g->nvalue_infos++])); break;
        default: break;
        }
    }
}

/* ---- ModelProto --------------------------------------------------------- */
kiln_status onnx_decode_model(onnx_arena *a, const uint8_t *data, size_t len, onnx_model *out) {
    static const rep_spec specs[] = {{8, PB_LEN, "opset_import"}, {25, PB_LEN, "functions"}, {20, PB_LEN, "training_info"}};
    pb_msg msg = pb_msg_root(data, len, 0, "ModelProto");
    field_counts c;
    KILN_TRY(count_pass(msg, specs, 3, &c));
    if (c.n[8] > 10000) return kiln_error(KILN_ERR_LIMIT, "ModelProto has %zu opset imports", c.n[8]);
    memset(out, 0, sizeof *out);
    out->opsets = alloc_array(a, c.n[8], sizeof(onnx_opset));
    if (!out->opsets) return NOMEM;
    out->nfunctions = (int)c.n[25];
    out->ntraining_infos = (int)c.n[20];
    out->producer_name = out->producer_version = "";
    pb_msg mm = msg, *m = &mm;
    for (;;) {
        pb_field f;
        int done;
        KILN_TRY(pb_next(m, &f, &done));
        if (done) break;
        switch (f.num) {
        case 1: EXPECT(PB_VARINT, "ir_version"); out->ir_version = (int64_t)f.v; break;
        case 2: STR_FIELD(out->producer_name, "producer_name"); break;
        case 3: STR_FIELD(out->producer_version, "producer_version"); break;
        case 7:
            EXPECT(PB_LEN, "graph");
            KILN_TRY(decode_graph(a, m, &f, &out->graph));
            out->has_graph = 1;
            break;
        case 8: {
            onnx_opset *o = &out->opsets[out->nopsets++];
            o->domain = "";
            pb_msg om;
            KILN_TRY(pb_msg_sub(m, &f, "OperatorSetIdProto", &om));
            for (;;) {
                pb_field g;
                KILN_TRY(pb_next(&om, &g, &done));
                if (done) break;
                if (g.num == 1) {
                    KILN_TRY(pb_expect(&om, &g, PB_LEN, "domain"));
                    if (!(o->domain = arena_str(a, &g))) return NOMEM;
                } else if (g.num == 2) {
                    KILN_TRY(pb_expect(&om, &g, PB_VARINT, "version"));
                    o->version = (int64_t)g.v;
                }
            }
            break;
        }
        default: break;
        }
    }
    if (!out->has_graph) return kiln_error(KILN_ERR_FORMAT, "ModelProto has no graph (field 7)");
    return KILN_OK;
}
