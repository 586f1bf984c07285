/* A protobuf wire-format reader: just enough to walk the fields of a
 * message held in memory. It never reads past the bytes it was given:
 * every varint, fixed-width value and length is checked against what is
 * left of the enclosing message, and errors name the byte offset (from the
 * start of the file) and the message being read. */
#ifndef KILN_FRONTEND_ONNX_PB_H
#define KILN_FRONTEND_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/status.h"

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

/* Messages nest at most this deep (ONNX needs about 6). */
#define PB_MAX_DEPTH 32

/* One message's bytes. `origin` is the file offset of p[0], for messages. */
typedef struct pb_msg {
    const uint8_t *p;
    size_t len, pos;
    size_t origin;
    const char *what; /* "GraphProto", for messages */
    int depth;
} pb_msg;

/* One field as read from the wire. */
typedef struct pb_field {
    uint32_t num;
    int wire;
    uint64_t v;       /* VARINT, I32, I64: the raw value */
    const uint8_t *p; /* LEN: the payload */
    size_t len;
    size_t off;       /* file offset of the field's key */
    size_t data_off;  /* file offset of the payload (LEN) */
} pb_field;

pb_msg pb_msg_root(const uint8_t *p, size_t len, size_t origin, const char *what);
/* The payload of a LEN field as a nested message; fails past PB_MAX_DEPTH. */
kiln_status pb_msg_sub(const pb_msg *parent, const pb_field *f, const char *what, pb_msg *out);

/* Next field, or *done = 1 at the end. Groups (deprecated) are an error. */
kiln_status pb_next(pb_msg *m, pb_field *f, int *done);

/* Error at a field: "byte N: GraphProto field 5 (initializer): ..." */
kiln_status pb_field_error(const pb_msg *m, const pb_field *f, const char *field_name, const char *fmt, ...)
    KILN_PRINTF(4, 5);

/* Checks a field has the expected wire type. */
kiln_status pb_expect(const pb_msg *m, const pb_field *f, int wire, const char *field_name);

/* Packed repeated scalars. A LEN field holds packed values; a scalar field
 * holds one. Count first, then decode into an array of that size. */
kiln_status pb_packed_count(const pb_msg *m, const pb_field *f, int elem_wire, const char *field_name, size_t *count);
/* Iterates over the values of a packed (LEN) or single scalar field.
 * Varints come back as their 64 bits (two's complement for negatives),
 * fixed32/fixed64 as their raw bits. */
typedef struct pb_packed {
    pb_msg sub;
    int wire;
    int single;
    uint64_t v;
} pb_packed;
kiln_status pb_packed_begin(const pb_msg *m, const pb_field *f, int elem_wire, const char *field_name, pb_packed *it);
kiln_status pb_packed_next(pb_packed *it, uint64_t *v, int *done);

#endif
