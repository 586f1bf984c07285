/* Attribute values (read by the kind the op's schema gives) and constant
 * data in IR text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"

void parsed_attr_release(parsed_attr *p) {
    free(p->list);
    free(p->str);
    p->list = NULL;
    p->str = NULL;
}

/* "[a, b, ...]" of integers (dims == 0) or dim expressions (dims == 1). */
static kiln_status parse_list(dim_reader *r, const char *what, int dims, parsed_attr *out) {
    ir_lexer *lx = r->lx;
    char context[PARSE_MAX_NAME + 96], entry[PARSE_MAX_NAME + 96];
    snprintf(context, sizeof context, "to start %s (%s)", what, dims ? "a list of dimensions" : "a list of integers");
    snprintf(entry, sizeof entry, "an entry of %s", what);
    KILN_TRY(lex_expect(lx, '[', context));
    int n = 0, cap = 0;
    if (!lex_accept(lx, ']')) {
        do {
            if (n == PARSE_MAX_LIST)
                return lex_error_at(lx, lx->pos, KILN_ERR_LIMIT, "%s has more than %d entries", what, PARSE_MAX_LIST);
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                int64_t *p = realloc(out->list, sizeof(int64_t) * (size_t)cap);
                if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
                out->list = p;
            }
            if (dims) KILN_TRY(parse_dim(r, &out->list[n]));
            else KILN_TRY(lex_int(lx, entry, &out->list[n]));
            n++;
        } while (lex_accept(lx, ','));
        KILN_TRY(lex_expect(lx, ']', "to close the list (or ',' to continue it)"));
    }
    out->a.value.n = n;
    out->a.value.list = out->list;
    return KILN_OK;
}

kiln_status parse_attr_value(dim_reader *r, const kiln_attr_def *def, parsed_attr *out) {
    ir_lexer *lx = r->lx;
    char what[PARSE_MAX_NAME + 64];
    snprintf(what, sizeof what, "attribute '%s'", def->name);
    memset(out, 0, sizeof *out);
    lex_peek(lx);
    out->pos = lx->pos;
    out->a.name = def->name;
    kiln_attr *v = &out->a.value;
    v->kind = def->kind;
    switch (def->kind) {
    case KILN_ATTR_INT: return lex_int(lx, what, &v->i);
    case KILN_ATTR_FLOAT: return lex_float(lx, what, &v->f);
    case KILN_ATTR_BOOL:
        if (lex_accept_word(lx, "true")) v->i = 1;
        else if (lex_accept_word(lx, "false")) v->i = 0;
        else {
            char got[64];
            return lex_error_at(lx, out->pos, KILN_ERR_FORMAT, "expected %s (true or false), got %s", what,
                                lex_describe(lx, out->pos, got, sizeof got));
        }
        return KILN_OK;
    case KILN_ATTR_INTS: return parse_list(r, what, 0, out);
    case KILN_ATTR_DIMS:
        KILN_TRY(parse_list(r, what, 1, out));
        return check_dims_size(lx, out->pos, r->g, v->n, v->list, what);
    case KILN_ATTR_DIM:
        KILN_TRY(parse_dim(r, &v->i));
        return check_dims_size(lx, out->pos, r->g, 1, &v->i, what);
    case KILN_ATTR_DTYPE: {
        char name[PARSE_MAX_NAME + 1];
        KILN_TRY(lex_ident(lx, "a dtype name", name, sizeof name));
        kiln_dtype t;
        kiln_status s = kiln_dtype_parse(name, &t);
        if (s) return lex_wrap_at(lx, out->pos, s);
        v->i = t;
        return KILN_OK;
    }
    case KILN_ATTR_STR:
        KILN_TRY(lex_string(lx, what, &out->str));
        v->s = out->str;
        return KILN_OK;
    default: return lex_error_at(lx, out->pos, KILN_ERR_INTERNAL, "attribute '%s' has no readable kind", def->name);
    }
}

/* Range of integer dtypes other than u64. */
static void int_range(kiln_dtype t, int64_t *lo, int64_t *hi) {
    switch (t) {
    case KILN_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case KILN_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case KILN_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case KILN_U8: *lo = 0, *hi = UINT8_MAX; break;
    case KILN_U16: *lo = 0, *hi = UINT16_MAX; break;
    case KILN_U32: *lo = 0, *hi = UINT32_MAX; break;
    case KILN_BOOL: *lo = 0, *hi = 1; break;
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
    }
}

static kiln_status read_element(ir_lexer *lx, kiln_dtype t, void *data, size_t i) {
    if (kiln_dtype_is_float(t)) {
        double v;
        KILN_TRY(lex_float(lx, "a constant value", &v));
        kiln_store_f64(data, t, i, v); /* rounds to the dtype; overflow gives inf */
        return KILN_OK;
    }
    if (t == KILN_U64) {
        uint64_t v;
        KILN_TRY(lex_uint(lx, "a u64 constant value", &v));
        ((uint64_t *)data)[i] = v;
        return KILN_OK;
    }
    if (t == KILN_BOOL) { /* the printer writes 0 and 1; true and false read too */
        int b = lex_accept_word(lx, "true");
        if (b || lex_accept_word(lx, "false")) {
            kiln_store_i64(data, t, i, b);
            return KILN_OK;
        }
    }
    int64_t v, lo, hi;
    size_t pos = (lex_peek(lx), lx->pos);
    char what[32];
    snprintf(what, sizeof what, "a %s constant value", kiln_dtype_name(t));
    KILN_TRY(lex_int(lx, what, &v));
    int_range(t, &lo, &hi);
    if (v < lo || v > hi)
        return lex_error_at(lx, pos, KILN_ERR_FORMAT, "value %lld is out of the %s range [%lld, %lld]", (long long)v,
                            kiln_dtype_name(t), (long long)lo, (long long)hi);
    kiln_store_i64(data, t, i, v);
    return KILN_OK;
}

kiln_status parse_const_data(ir_lexer *lx, kiln_dtype dtype, const kiln_shape *shape, kiln_tensor *out) {
    memset(out, 0, sizeof *out);
    int64_t dims[KILN_MAX_RANK];
    for (int i = 0; i < shape->rank; i++) dims[i] = shape->dims[i];
    uint64_t numel = (uint64_t)kiln_shape_numel(shape->rank, dims); /* bounded by check_dims_size */
    lex_peek(lx);
    size_t open = lx->pos;
    char type[1100];
    snprintf(type, sizeof type, "%s", kiln_dtype_name(dtype));
    kiln_shape_str(NULL, shape, type + strlen(type), sizeof type - strlen(type)); /* static: no graph needed */
    /* every value takes at least one byte of text, so this bounds the allocation by the input's size */
    if (numel > lx->len - open)
        return lex_error_at(lx, open, KILN_ERR_FORMAT, "constant %s needs %llu values, more than the text holds", type,
                            (unsigned long long)numel);
    KILN_TRY(lex_expect(lx, '[', "to start the constant's data"));
    KILN_TRY(kiln_tensor_alloc(out, dtype, shape->rank, dims));
    uint64_t n = 0;
    kiln_status s = KILN_OK;
    if (!lex_accept(lx, ']')) {
        do {
            lex_peek(lx);
            if (n == numel) {
                s = lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "too many values: constant %s holds %llu", type,
                                 (unsigned long long)numel);
                break;
            }
            s = read_element(lx, dtype, out->data, (size_t)n);
            if (s) break;
            n++;
        } while (lex_accept(lx, ','));
        if (!s) s = lex_expect(lx, ']', "to close the constant's data (or ',' to continue it)");
    }
    if (!s && n != numel)
        s = lex_error_at(lx, open, KILN_ERR_FORMAT, "constant %s needs %llu values, got %llu", type,
                         (unsigned long long)numel, (unsigned long long)n);
    if (s) kiln_tensor_release(out);
    return s;
}
