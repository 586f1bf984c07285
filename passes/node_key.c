/* Hashing and comparing nodes by what determines their value. Floats
 * compare by bits, so 0.0 and -0.0 (or two NaNs) are told apart exactly as
 * the data would be. */
#include <string.h>

#include "node_key.h"

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t f64_bits(double f) {
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t attr_hash(uint64_t h, const kiln_attr *a) {
    h = mix(h, (uint64_t)a->kind);
    switch (a->kind) {
    case KILN_ATTR_FLOAT: return mix(h, f64_bits(a->f));
    case KILN_ATTR_INTS:
    case KILN_ATTR_DIMS:
        h = mix(h, (uint64_t)a->n);
        for (int i = 0; i < a->n; i++) h = mix(h, (uint64_t)a->list[i]);
        return h;
    case KILN_ATTR_STR: return mix_bytes(h, a->s, a->s ? strlen(a->s) : 0);
    case KILN_ATTR_NONE: return h;
    default: return mix(h, (uint64_t)a->i);
    }
}

static int attr_equal(const kiln_attr *a, const kiln_attr *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case KILN_ATTR_FLOAT: return f64_bits(a->f) == f64_bits(b->f);
    case KILN_ATTR_INTS:
    case KILN_ATTR_DIMS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (a->list[i] != b->list[i]) return 0;
        return 1;
    case KILN_ATTR_STR: return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
    case KILN_ATTR_NONE: return 1;
    default: return a->i == b->i;
    }
}

uint64_t node_key_hash(const kiln_node *n) {
    uint64_t h = mix(0x12345, (uint64_t)n->op);
    h = mix(h, (uint64_t)n->dtype);
    h = mix(h, (uint64_t)n->shape.rank);
    for (int i = 0; i < n->shape.rank; i++) h = mix(h, (uint64_t)n->shape.dims[i]);
    h = mix(h, (uint64_t)n->ninputs);
    for (int i = 0; i < n->ninputs; i++) h = mix(h, (uint64_t)(int64_t)n->inputs[i]);
    for (int i = 0; i < KILN_MAX_ATTRS; i++) h = attr_hash(h, &n->attrs[i]);
    if (n->name) h = mix_bytes(h, n->name, strlen(n->name));
    if (n->op == KILN_OP_CONST && n->value.data) h = mix_bytes(h, n->value.data, n->value.nbytes);
    return h;
}

int node_key_equal(const kiln_node *a, const kiln_node *b) {
    if (a->op != b->op || a->dtype != b->dtype || !kiln_shape_equal(&a->shape, &b->shape) || a->ninputs != b->ninputs)
        return 0;
    for (int i = 0; i < a->ninputs; i++)
        if (a->inputs[i] != b->inputs[i]) return 0;
    for (int i = 0; i < KILN_MAX_ATTRS; i++)
        if (!attr_equal(&a->attrs[i], &b->attrs[i])) return 0;
    if ((a->name || b->name) && (!a->name || !b->name || strcmp(a->name, b->name) != 0)) return 0;
    if (a->op == KILN_OP_CONST) {
        if (a->value.nbytes != b->value.nbytes) return 0;
        if (a->value.nbytes && memcmp(a->value.data, b->value.data, a->value.nbytes) != 0) return 0;
    }
    return 1;
}
