/* Language helpers beyond the IR ops: param, shape queries, conversions,
 * split, activation, cache, strings and assertions. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/hf_names.h"
#include "kiln/quant.h"
#include "lang_internal.h"

/* Binds positional and keyword arguments to named parameters; the first
 * `nreq` are required, the rest come back as none when absent. */
static kiln_status bind(eval *ev, const char *fname, int nargs, const val *args, const char *const *kw,
                        const char *const *names, int nparams, int nreq, val *out) {
    int given[8] = {0};
    int npos = 0;
    while (npos < nargs && !(kw && kw[npos])) npos++;
    if (npos > nparams)
        return ev_error(ev, KILN_ERR_INVALID, "%s() takes %s%d argument%s, got %d", fname, nreq < nparams ? "at most " : "",
                        nparams, nparams == 1 ? "" : "s", npos);
    for (int i = 0; i < nparams; i++) out[i] = v_none();
    for (int i = 0; i < npos; i++) {
        out[i] = args[i];
        given[i] = 1;
    }
    for (int i = npos; i < nargs; i++) {
        int k = -1;
        for (int j = 0; j < nparams; j++)
            if (strcmp(names[j], kw[i]) == 0) k = j;
        if (k < 0) return ev_error(ev, KILN_ERR_INVALID, "%s() has no parameter '%s'", fname, kw[i]);
        if (given[k]) return ev_error(ev, KILN_ERR_INVALID, "%s() got two values for '%s'", fname, kw[i]);
        out[k] = args[i];
        given[k] = 1;
    }
    for (int j = 0; j < nreq; j++)
        if (!given[j]) return ev_error(ev, KILN_ERR_INVALID, "%s() is missing argument '%s'", fname, names[j]);
    return KILN_OK;
}

#define BIND(fname, nreq, ...)                                                                   \
    static const char *const pnames_[] = {__VA_ARGS__};                                           \
    val a[sizeof pnames_ / sizeof pnames_[0]];                                                    \
    KILN_TRY(bind(ev, fname, nargs, args, kw, pnames_, (int)(sizeof pnames_ / sizeof pnames_[0]), nreq, a))

static kiln_status want(eval *ev, const char *fname, const char *param, const val *v, vkind k) {
    if (v->k == k) return KILN_OK;
    return ev_error(ev, KILN_ERR_TYPE, "%s(): '%s' must be a %s, got %s", fname, param, val_kind_name(k),
                    val_type_name(v));
}

static kiln_status want_const_int(eval *ev, const char *fname, const char *param, const val *v) {
    if (v->k == V_INT && kiln_dim_is_const(v->i)) return KILN_OK;
    return ev_error(ev, KILN_ERR_TYPE, "%s(): '%s' must be a constant integer, got %s", fname, param,
                    v->k == V_INT ? "a symbolic dimension" : val_type_name(v));
}

static kiln_status norm_axis(eval *ev, const char *fname, int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank)
        return ev_error(ev, KILN_ERR_SHAPE, "%s(): axis %lld is out of range for rank %d", fname, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

static kiln_status ret_list(eval *ev, int n, const val *items, val *out) {
    vlist *l = list_new(ev, n);
    if (!l) return ev_oom(ev);
    if (n) memcpy(l->v, items, sizeof(val) * (size_t)n);
    out->k = V_LIST;
    out->l = l;
    return KILN_OK;
}

/* ---- weights ------------------------------------------------------------ */
/* A block-quantized weight enters the graph as its raw u8 blocks and a
 * dequantize to the declared (logical) shape, so descriptions need not know
 * how a checkpoint stores a tensor. The declared shape must be the
 * tensor's, since the dequantize bakes it in. */
static kiln_status quantized_param(eval *ev, const char *name, const kiln_tensor *t, kiln_dtype dt, const kiln_shape *shape,
                                   val *out) {
    const char *origin = kiln_tensor_map_origin(ev->opt->weights);
    kiln_status s = kiln_quant_tensor_check(t, name);
    if (s) {
        kiln_status r = ev_error(ev, KILN_ERR_SHAPE, "param('%s'): malformed quantized tensor in %s: %s", name,
                                 origin ? origin : "the weights", kiln_status_message(s));
        kiln_status_free(s);
        return r;
    }
    if (!kiln_dtype_is_float(dt))
        return ev_error(ev, KILN_ERR_TYPE, "param('%s'): the weights hold %s blocks, which dequantize to floats, not %s", name,
                        kiln_ggml_type_name(t->quant), kiln_dtype_name(dt));
    int64_t logical[KILN_MAX_RANK];
    kiln_tensor_logical_shape(t, logical);
    int same = shape->rank == t->rank;
    for (int i = 0; same && i < t->rank; i++) same = shape->dims[i] == logical[i];
    if (!same) {
        char want[256], got[256];
        kiln_tensor lt = kiln_tensor_view(KILN_F32, t->rank, logical, NULL);
        return ev_error(ev, KILN_ERR_SHAPE, "param('%s') is declared %s, but %s holds it as %s %s", name,
                        kiln_shape_str(ev->g, shape, want, sizeof want), origin ? origin : "the weights",
                        kiln_ggml_type_name(t->quant), strchr(kiln_tensor_shape_str(&lt, got, sizeof got), '['));
    }
    kiln_shape raw = {t->rank, {0}};
    for (int i = 0; i < t->rank; i++) raw.dims[i] = t->shape[i];
    kiln_value p, d;
    KILN_TRY(ev_wrap(ev, kiln_graph_add_param(ev->g, name, KILN_U8, &raw, &p)));
    kiln_named_attr at[2] = {kiln_a_str("type", kiln_ggml_type_name(t->quant)), kiln_a_dims("shape", shape->rank, shape->dims)};
    KILN_TRY(ev_build(ev, KILN_OP_DEQUANTIZE, 1, &p, 2, at, &d));
    if (dt != KILN_F32) {
        kiln_named_attr c = kiln_a_dtype("dtype", dt);
        KILN_TRY(ev_build(ev, KILN_OP_CAST, 1, &d, 1, &c, &d));
    }
    *out = v_tensor(d);
    return KILN_OK;
}

static kiln_status b_param(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("param", 1, "name", "shape", "dtype");
    KILN_TRY(want(ev, "param", "name", &a[0], V_STR));
    kiln_dtype dt = KILN_F32;
    if (a[2].k != V_NONE) {
        KILN_TRY(want(ev, "param", "dtype", &a[2], V_DTYPE));
        dt = a[2].dt;
    }
    kiln_shape shape;
    const kiln_tensor *t = ev->opt && ev->opt->weights ? kiln_weights_find(ev->opt->weights, a[0].s, NULL) : NULL;
    if (a[1].k == V_NONE) {
        if (!t)
            return ev_error(ev, KILN_ERR_NOT_FOUND,
                            ev->opt && ev->opt->weights ? "param('%s') has no shape and no such tensor is in the weights"
                                                        : "param('%s') needs a shape (no weights were given to take it from)",
                            a[0].s);
        int64_t logical[KILN_MAX_RANK];
        kiln_tensor_logical_shape(t, logical);
        shape.rank = t->rank;
        for (int i = 0; i < t->rank; i++) shape.dims[i] = logical[i];
    } else {
        if (a[1].k == V_INT) {
            vlist *l = list_new(ev, 1);
            if (!l) return ev_oom(ev);
            l->v[0] = a[1];
            a[1].k = V_LIST;
            a[1].l = l;
        }
        KILN_TRY(want(ev, "param", "shape", &a[1], V_LIST));
        if (a[1].l->n > KILN_MAX_RANK) return ev_error(ev, KILN_ERR_SHAPE, "param(): rank %d exceeds %d", a[1].l->n, KILN_MAX_RANK);
        shape.rank = a[1].l->n;
        for (int i = 0; i < shape.rank; i++) {
            const val *d = &a[1].l->v[i];
            if (d->k != V_INT || !kiln_dim_is_const(d->i) || d->i < 0)
                return ev_error(ev, KILN_ERR_TYPE, "param('%s'): dimension %d must be a constant non-negative integer, got %s",
                                a[0].s, i, d->k == V_INT ? (kiln_dim_is_const(d->i) ? "a negative one" : "a symbolic dimension") : val_type_name(d));
            shape.dims[i] = d->i;
        }
    }
    kiln_value v;
    kiln_graph_set_loc(ev->g, (kiln_loc){ev->loc_file ? ev->loc_file->name : NULL, ev->loc_line, ev->loc_col});
    KILN_TRY(ev_charge_names(ev));
    if (t && t->quant) return quantized_param(ev, a[0].s, t, dt, &shape, out);
    KILN_TRY(ev_wrap(ev, kiln_graph_add_param(ev->g, a[0].s, dt, &shape, &v)));
    *out = v_tensor(v);
    return KILN_OK;
}

static kiln_status b_has_weight(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("has_weight", 1, "name");
    KILN_TRY(want(ev, "has_weight", "name", &a[0], V_STR));
    /* without weights every parameter is assumed present */
    *out = v_bool(!ev->opt || !ev->opt->weights || kiln_weights_find(ev->opt->weights, a[0].s, NULL));
    return KILN_OK;
}

/* ---- shapes ------------------------------------------------------------- */
static kiln_status b_shape(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("shape", 1, "x");
    KILN_TRY(want(ev, "shape", "x", &a[0], V_TENSOR));
    kiln_node *n = ev_node(ev, a[0]);
    val items[KILN_MAX_RANK];
    for (int i = 0; i < n->shape.rank; i++) items[i] = v_int(n->shape.dims[i]);
    return ret_list(ev, n->shape.rank, items, out);
}

static kiln_status b_dim(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("dim", 2, "x", "axis");
    KILN_TRY(want(ev, "dim", "x", &a[0], V_TENSOR));
    KILN_TRY(want_const_int(ev, "dim", "axis", &a[1]));
    kiln_node *n = ev_node(ev, a[0]);
    int ax = 0;
    KILN_TRY(norm_axis(ev, "dim", a[1].i, n->shape.rank, &ax));
    *out = v_int(n->shape.dims[ax]);
    return KILN_OK;
}

static kiln_status b_rank(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("rank", 1, "x");
    KILN_TRY(want(ev, "rank", "x", &a[0], V_TENSOR));
    *out = v_int(ev_node(ev, a[0])->shape.rank);
    return KILN_OK;
}

static kiln_status b_dtype(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("dtype", 1, "x");
    KILN_TRY(want(ev, "dtype", "x", &a[0], V_TENSOR));
    out->k = V_DTYPE;
    out->dt = ev_node(ev, a[0])->dtype;
    return KILN_OK;
}

/* ---- conversions and lists ---------------------------------------------- */
static kiln_status b_len(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("len", 1, "x");
    if (a[0].k == V_LIST) *out = v_int(a[0].l->n);
    else if (a[0].k == V_STR) *out = v_int((int64_t)strlen(a[0].s));
    else return ev_error(ev, KILN_ERR_TYPE, "len() needs a list or a string, got %s", val_type_name(&a[0]));
    return KILN_OK;
}

static kiln_status b_range(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("range", 1, "a", "b");
    int64_t lo = 0, hi;
    KILN_TRY(want_const_int(ev, "range", "a", &a[0]));
    hi = a[0].i;
    if (a[1].k != V_NONE) {
        KILN_TRY(want_const_int(ev, "range", "b", &a[1]));
        lo = a[0].i;
        hi = a[1].i;
    }
    int64_t n = hi > lo ? hi - lo : 0;
    if (n > LANG_MAX_LIST) return ev_error(ev, KILN_ERR_LIMIT, "range() of more than %d elements", LANG_MAX_LIST);
    vlist *l = list_new(ev, (int)n);
    if (!l) return ev_oom(ev);
    for (int64_t i = 0; i < n; i++) l->v[i] = v_int(lo + i);
    out->k = V_LIST;
    out->l = l;
    return KILN_OK;
}

static kiln_status b_int(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("int", 1, "x");
    switch (a[0].k) {
    case V_INT: *out = a[0]; return KILN_OK;
    case V_BOOL: *out = v_int(a[0].b); return KILN_OK;
    case V_FLOAT:
        if (!(fabs(a[0].f) < 4.6e18)) return ev_error(ev, KILN_ERR_INVALID, "int(): %g does not fit an integer", a[0].f);
        *out = v_int((int64_t)a[0].f);
        return KILN_OK;
    case V_STR: {
        char *end;
        errno = 0;
        long long v = strtoll(a[0].s, &end, 10);
        if (errno || end == a[0].s || *end || v >= (INT64_C(1) << 62) || v <= -(INT64_C(1) << 62))
            return ev_error(ev, KILN_ERR_INVALID, "int(): \"%.40s\" is not an integer", a[0].s);
        *out = v_int(v);
        return KILN_OK;
    }
    default: return ev_error(ev, KILN_ERR_TYPE, "int() cannot convert a %s", val_type_name(&a[0]));
    }
}

static kiln_status b_float(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("float", 1, "x");
    if (val_is_number(&a[0])) {
        *out = v_float(val_number(&a[0]));
        return KILN_OK;
    }
    if (a[0].k == V_STR) {
        char *end;
        double v = strtod(a[0].s, &end);
        if (end == a[0].s || *end) return ev_error(ev, KILN_ERR_INVALID, "float(): \"%.40s\" is not a number", a[0].s);
        *out = v_float(v);
        return KILN_OK;
    }
    return ev_error(ev, KILN_ERR_TYPE, "float() cannot convert a %s", a[0].k == V_INT ? "symbolic dimension" : val_type_name(&a[0]));
}

static kiln_status b_str(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("str", 1, "x");
    const char *s;
    KILN_TRY(val_to_str(ev, a[0], 0, &s));
    *out = v_str(s);
    return KILN_OK;
}

/* ---- strings ------------------------------------------------------------ */
static kiln_status b_startswith(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("startswith", 2, "s", "prefix");
    KILN_TRY(want(ev, "startswith", "s", &a[0], V_STR));
    KILN_TRY(want(ev, "startswith", "prefix", &a[1], V_STR));
    *out = v_bool(strncmp(a[0].s, a[1].s, strlen(a[1].s)) == 0);
    return KILN_OK;
}

static kiln_status b_endswith(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("endswith", 2, "s", "suffix");
    KILN_TRY(want(ev, "endswith", "s", &a[0], V_STR));
    KILN_TRY(want(ev, "endswith", "suffix", &a[1], V_STR));
    size_t n = strlen(a[0].s), m = strlen(a[1].s);
    *out = v_bool(m <= n && strcmp(a[0].s + n - m, a[1].s) == 0);
    return KILN_OK;
}

static kiln_status b_replace(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("replace", 3, "s", "old", "new");
    for (int i = 0; i < 3; i++) KILN_TRY(want(ev, "replace", pnames_[i], &a[i], V_STR));
    const char *s = a[0].s, *o = a[1].s, *nw = a[2].s;
    size_t lo = strlen(o), ln = strlen(nw), count = 0;
    if (!lo) return ev_error(ev, KILN_ERR_INVALID, "replace(): 'old' must not be empty");
    for (const char *p = strstr(s, o); p; p = strstr(p + lo, o)) count++;
    size_t len = strlen(s) + count * ln;
    if (len > LANG_MAX_STRING) return ev_error(ev, KILN_ERR_LIMIT, "replace(): result too long");
    char *r = arena_alloc(ev->a, len + 1), *w = r;
    if (!r) return ev_oom(ev);
    for (const char *p = s;;) {
        const char *q = strstr(p, o);
        if (!q) {
            strcpy(w, p);
            break;
        }
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, nw, ln);
        w += ln;
        p = q + lo;
    }
    *out = v_str(r);
    return KILN_OK;
}

static kiln_status b_assert(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("assert", 1, "cond", "message");
    int t;
    if (a[0].k == V_TENSOR || !val_truthy(ev, a[0], &t))
        return ev_error(ev, KILN_ERR_TYPE, "assert() needs a condition known at compile time");
    if (!t) {
        const char *msg = "assertion failed";
        if (a[1].k != V_NONE) KILN_TRY(val_to_str(ev, a[1], 0, &msg));
        return ev_error(ev, KILN_ERR_INVALID, "%s", msg);
    }
    *out = v_none();
    return KILN_OK;
}

/* ---- tensors ------------------------------------------------------------ */
static kiln_status b_split(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("split", 2, "x", "parts", "axis");
    KILN_TRY(want(ev, "split", "x", &a[0], V_TENSOR));
    int64_t axis = -1;
    if (a[2].k != V_NONE) {
        KILN_TRY(want_const_int(ev, "split", "axis", &a[2]));
        axis = a[2].i;
    }
    kiln_node *n = ev_node(ev, a[0]);
    int ax = 0;
    KILN_TRY(norm_axis(ev, "split", axis, n->shape.rank, &ax));
    kiln_dim size = n->shape.dims[ax];
    kiln_dim sizes[256];
    int parts;
    if (a[1].k == V_INT) {
        KILN_TRY(want_const_int(ev, "split", "parts", &a[1]));
        if (a[1].i < 1 || a[1].i > 256) return ev_error(ev, KILN_ERR_INVALID, "split(): parts must be 1..256");
        parts = (int)a[1].i;
        kiln_dim each;
        kiln_status s = kiln_dim_div(ev->g, size, parts, &each);
        if (s) {
            kiln_status_free(s);
            char b[256];
            return ev_error(ev, KILN_ERR_SHAPE, "split(): axis %d of size %s does not split into %d equal parts", ax,
                            kiln_dim_str(ev->g, size, b, sizeof b), parts);
        }
        for (int i = 0; i < parts; i++) sizes[i] = each;
    } else if (a[1].k == V_LIST) {
        parts = a[1].l->n;
        if (parts < 1 || parts > 256) return ev_error(ev, KILN_ERR_INVALID, "split(): 1..256 sizes");
        kiln_dim total = 0;
        for (int i = 0; i < parts; i++) {
            if (a[1].l->v[i].k != V_INT) return ev_error(ev, KILN_ERR_TYPE, "split(): sizes must be integers");
            sizes[i] = a[1].l->v[i].i;
            KILN_TRY(ev_dim_arith(ev, T_PLUS, total, sizes[i], &total));
        }
        if (total != size) {
            char b1[256], b2[256];
            return ev_error(ev, KILN_ERR_SHAPE, "split(): sizes add up to %s, but axis %d has size %s",
                            kiln_dim_str(ev->g, total, b1, sizeof b1), ax, kiln_dim_str(ev->g, size, b2, sizeof b2));
        }
    } else {
        return ev_error(ev, KILN_ERR_TYPE, "split(): 'parts' must be a count or a list of sizes, got %s", val_type_name(&a[1]));
    }
    vlist *l = list_new(ev, parts);
    if (!l) return ev_oom(ev);
    kiln_dim start = 0;
    for (int i = 0; i < parts; i++) {
        kiln_dim end;
        KILN_TRY(ev_dim_arith(ev, T_PLUS, start, sizes[i], &end));
        kiln_value v;
        KILN_TRY(ev_slice(ev, a[0].t, ax, start, end, 1, &v));
        l->v[i] = v_tensor(v);
        start = end;
    }
    out->k = V_LIST;
    out->l = l;
    return KILN_OK;
}

static kiln_status b_activation(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("activation", 2, "x", "name");
    KILN_TRY(want(ev, "activation", "x", &a[0], V_TENSOR));
    KILN_TRY(want(ev, "activation", "name", &a[1], V_STR));
    kiln_value r;
    KILN_TRY(ev_activation(ev, a[0].t, a[1].s, &r));
    *out = v_tensor(r);
    return KILN_OK;
}

static kiln_status b_embedding(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("embedding", 2, "table", "ids");
    KILN_TRY(want(ev, "embedding", "table", &a[0], V_TENSOR));
    KILN_TRY(want(ev, "embedding", "ids", &a[1], V_TENSOR));
    kiln_value r;
    KILN_TRY(ev_build(ev, KILN_OP_GATHER, 2, (kiln_value[]){a[0].t, a[1].t}, 0, NULL, &r));
    *out = v_tensor(r);
    return KILN_OK;
}

static kiln_status b_scalar(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("scalar", 1, "value", "dtype");
    kiln_dtype dt = KILN_F32;
    if (a[1].k != V_NONE) {
        KILN_TRY(want(ev, "scalar", "dtype", &a[1], V_DTYPE));
        dt = a[1].dt;
    }
    kiln_value r;
    KILN_TRY(ev_scalar(ev, a[0], dt, &r));
    *out = v_tensor(r);
    return KILN_OK;
}

static kiln_status b_full(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("full", 2, "shape", "value", "dtype");
    KILN_TRY(want(ev, "full", "shape", &a[0], V_LIST));
    kiln_dtype dt = KILN_F32;
    if (a[2].k != V_NONE) {
        KILN_TRY(want(ev, "full", "dtype", &a[2], V_DTYPE));
        dt = a[2].dt;
    }
    if (a[0].l->n > KILN_MAX_RANK) return ev_error(ev, KILN_ERR_SHAPE, "full(): rank exceeds %d", KILN_MAX_RANK);
    kiln_dim dims[KILN_MAX_RANK];
    for (int i = 0; i < a[0].l->n; i++) {
        if (a[0].l->v[i].k != V_INT) return ev_error(ev, KILN_ERR_TYPE, "full(): the shape must hold integers");
        dims[i] = a[0].l->v[i].i;
    }
    kiln_value s, r;
    KILN_TRY(ev_scalar(ev, a[1], dt, &s));
    kiln_named_attr at = kiln_a_dims("shape", a[0].l->n, dims);
    KILN_TRY(ev_build(ev, KILN_OP_EXPAND, 1, &s, 1, &at, &r));
    *out = v_tensor(r);
    return KILN_OK;
}

/* cache(name, x, axis): the KV-cache hook. FORWARD: x. CACHED: input
 * past.NAME (x with `axis` sized `past`), output present.NAME = concat. */
static kiln_status b_cache(eval *ev, int nargs, const val *args, const char *const *kw, val *out) {
    BIND("cache", 3, "name", "x", "axis");
    KILN_TRY(want(ev, "cache", "name", &a[0], V_STR));
    KILN_TRY(want(ev, "cache", "x", &a[1], V_TENSOR));
    KILN_TRY(want_const_int(ev, "cache", "axis", &a[2]));
    kiln_node *n = ev_node(ev, a[1]);
    int ax = 0;
    KILN_TRY(norm_axis(ev, "cache", a[2].i, n->shape.rank, &ax));
    if (!ev->opt || ev->opt->mode != KILN_LANG_CACHED) {
        *out = a[1];
        return KILN_OK;
    }
    size_t len = strlen(a[0].s) + 16;
    char *pname = arena_alloc(ev->a, len), *oname = arena_alloc(ev->a, len);
    if (!pname || !oname) return ev_oom(ev);
    snprintf(pname, len, "past.%s", a[0].s);
    snprintf(oname, len, "present.%s", a[0].s);
    kiln_shape ps = n->shape;
    kiln_dtype dt = n->dtype;
    ps.dims[ax] = kiln_dim_symbol(ev->g, "past");
    kiln_value past, cat;
    kiln_graph_set_loc(ev->g, (kiln_loc){ev->loc_file ? ev->loc_file->name : NULL, ev->loc_line, ev->loc_col});
    KILN_TRY(ev_charge_names(ev));
    KILN_TRY(ev_wrap(ev, kiln_graph_add_input(ev->g, pname, dt, &ps, &past)));
    kiln_named_attr at = kiln_a_int("axis", ax);
    KILN_TRY(ev_build(ev, KILN_OP_CONCAT, 2, (kiln_value[]){past, a[1].t}, 1, &at, &cat));
    KILN_TRY(ev_wrap(ev, kiln_graph_add_output(ev->g, oname, cat)));
    *out = v_tensor(cat);
    return KILN_OK;
}

const builtin_def lang_builtins[] = {
    {"param", b_param},         {"has_weight", b_has_weight}, {"shape", b_shape},     {"dim", b_dim},
    {"rank", b_rank},           {"dtype", b_dtype},           {"len", b_len},         {"range", b_range},
    {"int", b_int},             {"float", b_float},           {"str", b_str},         {"startswith", b_startswith},
    {"endswith", b_endswith},   {"replace", b_replace},       {"assert", b_assert},   {"split", b_split},
    {"activation", b_activation}, {"embedding", b_embedding}, {"scalar", b_scalar},   {"full", b_full},
    {"cache", b_cache},
};
const int lang_builtin_count = (int)(sizeof lang_builtins / sizeof lang_builtins[0]);
