/* Typed access to GGUF metadata: conversions with range checks and errors
 * that name the file, the key and the type actually stored. */
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf_internal.h"

static kiln_status lookup(const kiln_gguf *g, const char *key, const kiln_gguf_value **out) {
    *out = kiln_gguf_find(g, key);
    if (!*out) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no key '%s'", g->name, key);
    return KILN_OK;
}

static kiln_status wrong_type(const kiln_gguf *g, const char *key, const kiln_gguf_value *v, const char *want) {
    if (v->type == KILN_GGUF_ARRAY)
        return kiln_error(KILN_ERR_TYPE, "%s: key '%s' (offset %llu) is an array of %s, expected %s", g->name, key,
                          (unsigned long long)v->offset, kiln_gguf_type_name(v->elem_type), want);
    return kiln_error(KILN_ERR_TYPE, "%s: key '%s' (offset %llu) is %s, expected %s", g->name, key,
                      (unsigned long long)v->offset, kiln_gguf_type_name(v->type), want);
}

static int is_unsigned(kiln_gguf_type t) {
    return t == KILN_GGUF_UINT8 || t == KILN_GGUF_UINT16 || t == KILN_GGUF_UINT32 || t == KILN_GGUF_UINT64;
}
static int is_signed(kiln_gguf_type t) {
    return t == KILN_GGUF_INT8 || t == KILN_GGUF_INT16 || t == KILN_GGUF_INT32 || t == KILN_GGUF_INT64;
}
static int is_float(kiln_gguf_type t) { return t == KILN_GGUF_FLOAT32 || t == KILN_GGUF_FLOAT64; }

kiln_status kiln_gguf_get_string(const kiln_gguf *g, const char *key, kiln_gguf_string *out) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    if (v->type != KILN_GGUF_STRING) return wrong_type(g, key, v, "string");
    *out = v->v.s;
    return KILN_OK;
}

kiln_status kiln_gguf_get_int(const kiln_gguf *g, const char *key, int64_t *out) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    if (is_signed(v->type)) {
        *out = v->v.i;
        return KILN_OK;
    }
    if (!is_unsigned(v->type)) return wrong_type(g, key, v, "an integer");
    if (v->v.u > (uint64_t)INT64_MAX)
        return kiln_error(KILN_ERR_INVALID, "%s: key '%s' is %llu, too large", g->name, key,
                          (unsigned long long)v->v.u);
    *out = (int64_t)v->v.u;
    return KILN_OK;
}

kiln_status kiln_gguf_get_float(const kiln_gguf *g, const char *key, double *out) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    if (is_float(v->type)) *out = v->v.f;
    else if (is_signed(v->type)) *out = (double)v->v.i;
    else if (is_unsigned(v->type)) *out = (double)v->v.u;
    else return wrong_type(g, key, v, "a number");
    return KILN_OK;
}

kiln_status kiln_gguf_get_bool(const kiln_gguf *g, const char *key, int *out) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    if (v->type != KILN_GGUF_BOOL) return wrong_type(g, key, v, "bool");
    *out = v->v.i != 0;
    return KILN_OK;
}

kiln_status kiln_gguf_get_strings(const kiln_gguf *g, const char *key, const kiln_gguf_string **items,
                                  uint64_t *count) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    if (v->type != KILN_GGUF_ARRAY || v->elem_type != KILN_GGUF_STRING)
        return wrong_type(g, key, v, "an array of strings");
    *items = v->v.strs;
    *count = v->count;
    return KILN_OK;
}

/* Element i of an array of scalars, read from the (unaligned) file bytes. */
static void element(const kiln_gguf_value *v, uint64_t i, int64_t *iv, uint64_t *uv, double *fv) {
    const uint8_t *p = v->v.raw;
    kiln_gguf_value tmp = {0};
    switch (v->elem_type) {
    case KILN_GGUF_UINT8: tmp.v.u = p[i]; break;
    case KILN_GGUF_INT8: tmp.v.i = (int8_t)p[i]; break;
    case KILN_GGUF_BOOL: tmp.v.i = p[i]; break;
    case KILN_GGUF_UINT16: { uint16_t x; memcpy(&x, p + 2 * i, 2); tmp.v.u = x; break; }
    case KILN_GGUF_INT16: { int16_t x; memcpy(&x, p + 2 * i, 2); tmp.v.i = x; break; }
    case KILN_GGUF_UINT32: { uint32_t x; memcpy(&x, p + 4 * i, 4); tmp.v.u = x; break; }
    case KILN_GGUF_INT32: { int32_t x; memcpy(&x, p + 4 * i, 4); tmp.v.i = x; break; }
    case KILN_GGUF_FLOAT32: { float x; memcpy(&x, p + 4 * i, 4); tmp.v.f = x; break; }
    case KILN_GGUF_UINT64: memcpy(&tmp.v.u, p + 8 * i, 8); break;
    case KILN_GGUF_INT64: memcpy(&tmp.v.i, p + 8 * i, 8); break;
    case KILN_GGUF_FLOAT64: memcpy(&tmp.v.f, p + 8 * i, 8); break;
    default: break;
    }
    if (is_unsigned(v->elem_type)) {
        *uv = tmp.v.u;
        *iv = tmp.v.u > (uint64_t)INT64_MAX ? -1 : (int64_t)tmp.v.u;
        *fv = (double)tmp.v.u;
    } else if (is_float(v->elem_type)) {
        *fv = tmp.v.f;
        *iv = 0;
        *uv = 0;
    } else {
        *iv = tmp.v.i;
        *uv = (uint64_t)tmp.v.i;
        *fv = (double)tmp.v.i;
    }
}

static kiln_status scalar_array(const kiln_gguf *g, const char *key, int want_float, const kiln_gguf_value **out) {
    const kiln_gguf_value *v = NULL;
    KILN_TRY(lookup(g, key, &v));
    const char *want = want_float ? "an array of numbers" : "an array of integers";
    if (v->type != KILN_GGUF_ARRAY || v->elem_type == KILN_GGUF_STRING || v->elem_type == KILN_GGUF_ARRAY)
        return wrong_type(g, key, v, want);
    if (!want_float && is_float(v->elem_type)) return wrong_type(g, key, v, want);
    if (want_float && v->elem_type == KILN_GGUF_BOOL) return wrong_type(g, key, v, want);
    *out = v;
    return KILN_OK;
}

kiln_status kiln_gguf_get_floats(const kiln_gguf *g, const char *key, float **out, uint64_t *count) {
    const kiln_gguf_value *v = NULL;
    *out = NULL;
    KILN_TRY(scalar_array(g, key, 1, &v));
    float *a = malloc((size_t)v->count * sizeof *a + 1);
    if (!a) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for key '%s'", g->name, key);
    for (uint64_t i = 0; i < v->count; i++) {
        int64_t iv;
        uint64_t uv;
        double fv;
        element(v, i, &iv, &uv, &fv);
        a[i] = (float)fv;
    }
    *out = a;
    *count = v->count;
    return KILN_OK;
}

kiln_status kiln_gguf_get_ints(const kiln_gguf *g, const char *key, int64_t **out, uint64_t *count) {
    const kiln_gguf_value *v = NULL;
    *out = NULL;
    KILN_TRY(scalar_array(g, key, 0, &v));
    int64_t *a = malloc((size_t)v->count * sizeof *a + 1);
    if (!a) return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for key '%s'", g->name, key);
    for (uint64_t i = 0; i < v->count; i++) {
        int64_t iv;
        uint64_t uv;
        double fv;
        element(v, i, &iv, &uv, &fv);
        if (is_unsigned(v->elem_type) && uv > (uint64_t)INT64_MAX) {
            free(a);
            return kiln_error(KILN_ERR_INVALID, "%s: key '%s' element %llu is %llu, too large", g->name, key,
                              (unsigned long long)i, (unsigned long long)uv);
        }
        a[i] = iv;
    }
    *out = a;
    *count = v->count;
    return KILN_OK;
}

/* ---- tokenizer.ggml.* ---- */

static kiln_status optional_id(const kiln_gguf *g, const char *key, int64_t *out) {
    *out = -1;
    if (!kiln_gguf_find(g, key)) return KILN_OK;
    KILN_TRY(kiln_gguf_get_int(g, key, out));
    /* llama.cpp writes 0xffffffff (uint32 -1) for "no such token". */
    if (*out == 0xffffffffll) *out = -1;
    return KILN_OK;
}

static kiln_status optional_flag(const kiln_gguf *g, const char *key, int *out) {
    *out = -1;
    return kiln_gguf_find(g, key) ? kiln_gguf_get_bool(g, key, out) : KILN_OK;
}

static kiln_status tokenizer_get(const kiln_gguf *g, kiln_gguf_tokenizer *t) {
    kiln_gguf_string s = {0};
    KILN_TRY(kiln_gguf_get_string(g, "tokenizer.ggml.model", &s));
    t->model = s.str;
    if (kiln_gguf_find(g, "tokenizer.ggml.pre")) {
        KILN_TRY(kiln_gguf_get_string(g, "tokenizer.ggml.pre", &s));
        t->pre = s.str;
    }
    KILN_TRY(kiln_gguf_get_strings(g, "tokenizer.ggml.tokens", &t->tokens, &t->n_tokens));
    uint64_t n;
    if (kiln_gguf_find(g, "tokenizer.ggml.scores")) {
        KILN_TRY(kiln_gguf_get_floats(g, "tokenizer.ggml.scores", &t->scores, &n));
        if (n != t->n_tokens)
            return kiln_error(KILN_ERR_FORMAT, "%s: tokenizer.ggml.scores has %llu entries for %llu tokens", g->name,
                              (unsigned long long)n, (unsigned long long)t->n_tokens);
    }
    if (kiln_gguf_find(g, "tokenizer.ggml.token_type")) {
        int64_t *types;
        KILN_TRY(kiln_gguf_get_ints(g, "tokenizer.ggml.token_type", &types, &n));
        if (n != t->n_tokens) {
            free(types);
            return kiln_error(KILN_ERR_FORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %llu tokens",
                              g->name, (unsigned long long)n, (unsigned long long)t->n_tokens);
        }
        t->token_type = malloc((size_t)n * sizeof *t->token_type + 1);
        if (!t->token_type) {
            free(types);
            return kiln_error(KILN_ERR_NOMEM, "out of memory");
        }
        for (uint64_t i = 0; i < n; i++) t->token_type[i] = (int32_t)types[i];
        free(types);
    }
    if (kiln_gguf_find(g, "tokenizer.ggml.merges"))
        KILN_TRY(kiln_gguf_get_strings(g, "tokenizer.ggml.merges", &t->merges, &t->n_merges));
    KILN_TRY(optional_id(g, "tokenizer.ggml.bos_token_id", &t->bos_id));
    KILN_TRY(optional_id(g, "tokenizer.ggml.eos_token_id", &t->eos_id));
    KILN_TRY(optional_id(g, "tokenizer.ggml.unknown_token_id", &t->unk_id));
    KILN_TRY(optional_id(g, "tokenizer.ggml.padding_token_id", &t->pad_id));
    KILN_TRY(optional_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos));
    KILN_TRY(optional_flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos));
    const int64_t ids[4] = {t->bos_id, t->eos_id, t->unk_id, t->pad_id};
    for (int i = 0; i < 4; i++)
        if (ids[i] < -1 || ids[i] >= (int64_t)t->n_tokens)
            return kiln_error(KILN_ERR_FORMAT, "%s: special token id %lld is outside the %llu-token vocabulary",
                              g->name, (long long)ids[i], (unsigned long long)t->n_tokens);
    return KILN_OK;
}

kiln_status kiln_gguf_tokenizer_get(const kiln_gguf *g, kiln_gguf_tokenizer *out) {
    memset(out, 0, sizeof *out);
    kiln_status s = tokenizer_get(g, out);
    if (s) kiln_gguf_tokenizer_release(out);
    return s;
}

void kiln_gguf_tokenizer_release(kiln_gguf_tokenizer *t) {
    if (!t) return;
    free(t->scores);
    free(t->token_type);
    memset(t, 0, sizeof *t);
}
