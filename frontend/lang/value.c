/* Values of the language: constructors, printing, equality, truth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

val v_none(void) {
    val v;
    memset(&v, 0, sizeof v);
    v.k = V_NONE;
    return v;
}
val v_bool(int b) {
    val v = v_none();
    v.k = V_BOOL;
    v.b = b != 0;
    return v;
}
val v_int(kiln_dim i) {
    val v = v_none();
    v.k = V_INT;
    v.i = i;
    return v;
}
val v_float(double f) {
    val v = v_none();
    v.k = V_FLOAT;
    v.f = f;
    return v;
}
val v_str(const char *s) {
    val v = v_none();
    v.k = V_STR;
    v.s = s;
    return v;
}
val v_tensor(kiln_value t) {
    val v = v_none();
    v.k = V_TENSOR;
    v.t = t;
    return v;
}

const char *val_kind_name(vkind k) {
    switch (k) {
    case V_NONE: return "none";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "string";
    case V_DTYPE: return "dtype";
    case V_TENSOR: return "tensor";
    case V_LIST: return "list";
    case V_FN:
    case V_BUILTIN: return "function";
    }
    return "?";
}

const char *val_type_name(const val *v) { return val_kind_name(v->k); }

vlist *list_new(eval *ev, int n) {
    if (n < 0 || n > LANG_MAX_LIST) return NULL;
    vlist *l = arena_alloc(ev->a, sizeof *l + sizeof(val) * (size_t)n);
    if (l) l->n = n;
    return l;
}

int val_is_number(const val *v) {
    return (v->k == V_INT && kiln_dim_is_const(v->i)) || v->k == V_FLOAT || v->k == V_BOOL;
}

double val_number(const val *v) {
    if (v->k == V_INT) return (double)v->i;
    if (v->k == V_BOOL) return v->b;
    return v->f;
}

kiln_node *ev_node(eval *ev, val v) { return kiln_graph_node(ev->g, v.t); }

/* Python's float text: the shortest digits that read back exactly, in
 * positional form for exponents -4..15, else as 1e+16; always with a '.'
 * or an exponent so that it reads as a float. */
static void format_float(double f, char *buf, size_t cap) {
    if (isnan(f)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    int prec = 1;
    char e[64];
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    if (prec > 17) prec = 17;
    const char *ep = strchr(e, 'e');
    int exp10 = ep ? atoi(ep + 1) : 0;
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = prec - 1 - exp10;
        snprintf(buf, cap, "%.*f", decimals > 0 ? decimals : 0, f);
        if (!strchr(buf, '.')) strncat(buf, ".0", cap - strlen(buf) - 1);
    } else {
        snprintf(buf, cap, "%s", e);
    }
}

/* Appends to a malloc'd buffer; returns 0 on failure or when too long. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > LANG_MAX_STRING) return 0;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return 0;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 1;
}

static int to_text(eval *ev, val v, int quote, sbuf *b, int depth) {
    char buf[512];
    switch (v.k) {
    case V_NONE: return sb_add(b, "none", 4);
    case V_BOOL: return v.b ? sb_add(b, "true", 4) : sb_add(b, "false", 5);
    case V_INT:
        kiln_dim_str(ev->g, v.i, buf, sizeof buf);
        return sb_add(b, buf, strlen(buf));
    case V_FLOAT:
        format_float(v.f, buf, sizeof buf);
        return sb_add(b, buf, strlen(buf));
    case V_STR:
        if (!quote) return sb_add(b, v.s, strlen(v.s));
        return sb_add(b, "\"", 1) && sb_add(b, v.s, strlen(v.s)) && sb_add(b, "\"", 1);
    case V_DTYPE: return sb_add(b, kiln_dtype_name(v.dt), strlen(kiln_dtype_name(v.dt)));
    case V_TENSOR: {
        kiln_node *n = ev_node(ev, v);
        char sh[400];
        snprintf(buf, sizeof buf, "tensor %s%s", kiln_dtype_name(n->dtype), kiln_shape_str(ev->g, &n->shape, sh, sizeof sh));
        return sb_add(b, buf, strlen(buf));
    }
    case V_LIST:
        if (depth > 32) return sb_add(b, "[...]", 5);
        if (!sb_add(b, "[", 1)) return 0;
        for (int i = 0; i < v.l->n; i++) {
            if (i && !sb_add(b, ", ", 2)) return 0;
            if (!to_text(ev, v.l->v[i], 1, b, depth + 1)) return 0;
        }
        return sb_add(b, "]", 1);
    case V_FN:
        snprintf(buf, sizeof buf, "fn %s", v.fn->names[0]);
        return sb_add(b, buf, strlen(buf));
    case V_BUILTIN:
        snprintf(buf, sizeof buf, "builtin %s", v.bi >= 0 ? lang_builtins[v.bi].name : kiln_op_name((kiln_op)(-v.bi - 1)));
        return sb_add(b, buf, strlen(buf));
    }
    return 0;
}

kiln_status val_to_str(eval *ev, val v, int quote_strings, const char **out) {
    if (v.k == V_STR && !quote_strings) {
        *out = v.s;
        return KILN_OK;
    }
    sbuf b = {0};
    int ok = to_text(ev, v, quote_strings, &b, 0);
    if (!ok) {
        free(b.s);
        return ev_error(ev, KILN_ERR_LIMIT, "string too long (more than %d bytes)", LANG_MAX_STRING);
    }
    char *s = arena_strndup(ev->a, b.s ? b.s : "", b.n);
    free(b.s);
    if (!s) return ev_oom(ev);
    *out = s;
    return KILN_OK;
}

int val_truthy(eval *ev, val v, int *out) {
    (void)ev;
    switch (v.k) {
    case V_NONE: *out = 0; return 1;
    case V_BOOL: *out = v.b; return 1;
    case V_INT:
        if (!kiln_dim_is_const(v.i)) return 0;
        *out = v.i != 0;
        return 1;
    case V_FLOAT: *out = v.f != 0; return 1;
    case V_STR: *out = v.s[0] != 0; return 1;
    case V_LIST: *out = v.l->n != 0; return 1;
    case V_DTYPE:
    case V_FN:
    case V_BUILTIN: *out = 1; return 1;
    case V_TENSOR: return 0;
    }
    return 0;
}

static int equal_at(const val *a, const val *b, int depth) {
    if ((a->k == V_INT || a->k == V_FLOAT) && (b->k == V_INT || b->k == V_FLOAT)) {
        if (a->k == V_INT && b->k == V_INT) return a->i == b->i; /* canonical dims: equal handles */
        if ((a->k == V_INT && !kiln_dim_is_const(a->i)) || (b->k == V_INT && !kiln_dim_is_const(b->i))) return 0;
        return val_number(a) == val_number(b);
    }
    if (a->k != b->k) return 0;
    switch (a->k) {
    case V_NONE: return 1;
    case V_BOOL: return a->b == b->b;
    case V_STR: return strcmp(a->s, b->s) == 0;
    case V_DTYPE: return a->dt == b->dt;
    case V_TENSOR: return a->t == b->t;
    case V_LIST:
        if (a->l->n != b->l->n) return 0;
        for (int i = 0; i < a->l->n; i++)
            if (depth > 64 || !equal_at(&a->l->v[i], &b->l->v[i], depth + 1)) return 0;
        return 1;
    case V_FN: return a->fn == b->fn;
    case V_BUILTIN: return a->bi == b->bi;
    default: return 0;
    }
}

int val_equal(const val *a, const val *b) { return equal_at(a, b, 0); }
