/* Protobuf wire format: varints, fixed-width values, length-delimited
 * payloads and packed repeated scalars, all bounds-checked. */
#include "pb.h"

#include <stdarg.h>
#include <stdio.h>

static const char *wire_name(int w) {
    switch (w) {
    case PB_VARINT: return "varint";
    case PB_I64: return "fixed64";
    case PB_LEN: return "length-delimited";
    case PB_SGROUP: return "start-group";
    case PB_EGROUP: return "end-group";
    case PB_I32: return "fixed32";
    default: return "invalid";
    }
}

pb_msg pb_msg_root(const uint8_t *p, size_t len, size_t origin, const char *what) {
    pb_msg m = {p, len, 0, origin, what, 0};
    return m;
}

static kiln_status at_error(const pb_msg *m, size_t pos, const char *fmt, const char *detail) {
    return kiln_error(KILN_ERR_FORMAT, "byte %zu: %s: %s%s", m->origin + pos, m->what, fmt, detail ? detail : "");
}

/* A varint starting at m->pos; at most 10 bytes, the 10th only 0 or 1. */
static kiln_status read_varint(pb_msg *m, uint64_t *out) {
    uint64_t v = 0;
    size_t start = m->pos;
    for (int shift = 0; shift < 70; shift += 7) {
        if (m->pos >= m->len) return at_error(m, start, "truncated varint", NULL);
        uint8_t b = m->p[m->pos++];
        if (shift == 63 && b > 1) return at_error(m, start, "varint longer than 64 bits", NULL);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return KILN_OK;
        }
    }
    return at_error(m, start, "varint longer than 10 bytes", NULL);
}

kiln_status pb_next(pb_msg *m, pb_field *f, int *done) {
    *done = 0;
    if (m->pos >= m->len) {
        *done = 1;
        return KILN_OK;
    }
    size_t key_pos = m->pos;
    uint64_t key;
    KILN_TRY(read_varint(m, &key));
    f->off = m->origin + key_pos;
    f->wire = (int)(key & 7);
    f->num = (uint32_t)(key >> 3);
    f->p = NULL;
    f->len = 0;
    f->v = 0;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) return at_error(m, key_pos, "invalid field number", NULL);
    size_t left;
    switch (f->wire) {
    case PB_VARINT: return read_varint(m, &f->v);
    case PB_I64:
    case PB_I32: {
        size_t n = f->wire == PB_I64 ? 8 : 4;
        left = m->len - m->pos;
        if (left < n) return at_error(m, key_pos, "truncated fixed-width field", NULL);
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v |= (uint64_t)m->p[m->pos + i] << (8 * i);
        f->v = v;
        m->pos += n;
        return KILN_OK;
    }
    case PB_LEN: {
        uint64_t n;
        KILN_TRY(read_varint(m, &n));
        left = m->len - m->pos;
        if (n > left) {
            char detail[96];
            snprintf(detail, sizeof detail, " (field %u: length %llu, %zu bytes left)", f->num, (unsigned long long)n,
                     left);
            return at_error(m, key_pos, "length runs past the end of the message", detail);
        }
        f->p = m->p + m->pos;
        f->len = (size_t)n;
        f->data_off = m->origin + m->pos;
        m->pos += (size_t)n;
        return KILN_OK;
    }
    default: {
        char detail[64];
        snprintf(detail, sizeof detail, " %s (field %u)", wire_name(f->wire), f->num);
        return at_error(m, key_pos, "unsupported wire type", detail);
    }
    }
}

kiln_status pb_msg_sub(const pb_msg *parent, const pb_field *f, const char *what, pb_msg *out) {
    if (parent->depth + 1 > PB_MAX_DEPTH)
        return kiln_error(KILN_ERR_LIMIT, "byte %zu: %s nested more than %d messages deep", f->off, what, PB_MAX_DEPTH);
    *out = pb_msg_root(f->p, f->len, f->data_off, what);
    out->depth = parent->depth + 1;
    return KILN_OK;
}

kiln_status pb_field_error(const pb_msg *m, const pb_field *f, const char *field_name, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_error(KILN_ERR_FORMAT, "byte %zu: %s.%s (field %u): %s", f->off, m->what, field_name, f->num, msg);
}

kiln_status pb_expect(const pb_msg *m, const pb_field *f, int wire, const char *field_name) {
    if (f->wire == wire) return KILN_OK;
    return pb_field_error(m, f, field_name, "expected a %s value, found %s", wire_name(wire), wire_name(f->wire));
}

kiln_status pb_packed_count(const pb_msg *m, const pb_field *f, int elem_wire, const char *field_name, size_t *count) {
    if (f->wire == elem_wire) {
        *count = 1;
        return KILN_OK;
    }
    if (f->wire != PB_LEN)
        return pb_field_error(m, f, field_name, "expected %s or packed values, found %s", wire_name(elem_wire),
                              wire_name(f->wire));
    if (elem_wire == PB_VARINT) {
        size_t n = 0;
        for (size_t i = 0; i < f->len; i++) n += !(f->p[i] & 0x80);
        if (f->len && (f->p[f->len - 1] & 0x80)) return pb_field_error(m, f, field_name, "packed varints end mid-value");
        *count = n;
        return KILN_OK;
    }
    size_t w = elem_wire == PB_I64 ? 8 : 4;
    if (f->len % w)
        return pb_field_error(m, f, field_name, "packed length %zu is not a multiple of %zu", f->len, w);
    *count = f->len / w;
    return KILN_OK;
}

kiln_status pb_packed_begin(const pb_msg *m, const pb_field *f, int elem_wire, const char *field_name, pb_packed *it) {
    size_t count;
    KILN_TRY(pb_packed_count(m, f, elem_wire, field_name, &count)); /* validates the layout */
    it->wire = elem_wire;
    it->single = f->wire == elem_wire;
    it->v = f->v;
    if (!it->single) it->sub = pb_msg_root(f->p, f->len, f->data_off, m->what);
    else it->sub = pb_msg_root(NULL, 0, f->off, m->what);
    return KILN_OK;
}

kiln_status pb_packed_next(pb_packed *it, uint64_t *v, int *done) {
    *done = 0;
    if (it->single) {
        *v = it->v;
        it->single = 0; /* the sub message is empty: the next call ends */
        return KILN_OK;
    }
    pb_msg *m = &it->sub;
    if (m->pos >= m->len) {
        *done = 1;
        return KILN_OK;
    }
    if (it->wire == PB_VARINT) return read_varint(m, v);
    size_t w = it->wire == PB_I64 ? 8 : 4;
    if (m->len - m->pos < w) return at_error(m, m->pos, "truncated packed value", NULL);
    uint64_t x = 0;
    for (size_t b = 0; b < w; b++) x |= (uint64_t)m->p[m->pos + b] << (8 * b);
    m->pos += w;
    *v = x;
    return KILN_OK;
}
