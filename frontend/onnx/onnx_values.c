/* The importer's value table: named ONNX values, known data, symbolic
 * integer tensors, and their IR nodes built on first use. */
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

void ox_ctx_free(ox_ctx *c) {
    for (int i = 0; i < c->nvals; i++) {
        kiln_tensor_release(&c->vals[i].k);
        free(c->vals[i].sym);
        free(c->vals[i].bad);
    }
    free(c->vals);
    free(c->hash);
    free(c->scope_names);
    c->scope_names = NULL;
    c->nscope = c->scope_cap = c->scope_depth = 0;
    c->vals = NULL;
    c->hash = NULL;
    c->nvals = c->cap = c->hcap = c->nnames = 0;
}

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The table maps each name to the value it currently denotes. */
typedef struct name_slot {
    const char *name;
    ox_id id;
} name_slot;

static name_slot *slots(ox_ctx *c) { return (name_slot *)c->hash; }

static kiln_status grow_hash(ox_ctx *c) {
    int ncap = c->hcap ? c->hcap * 2 : 256;
    name_slot *ns = malloc(sizeof(name_slot) * (size_t)ncap);
    if (!ns) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ncap; i++) ns[i].name = NULL;
    name_slot *old = slots(c);
    for (int i = 0; i < c->hcap; i++) {
        if (!old[i].name) continue;
        uint32_t h = hash_str(old[i].name) & (uint32_t)(ncap - 1);
        while (ns[h].name) h = (h + 1) & (uint32_t)(ncap - 1);
        ns[h] = old[i];
    }
    free(c->hash);
    c->hash = (int *)ns;
    c->hcap = ncap;
    return KILN_OK;
}

ox_id ox_lookup(ox_ctx *c, const char *name) {
    if (!c->hcap || !name) return OX_NONE;
    uint32_t h = hash_str(name) & (uint32_t)(c->hcap - 1);
    name_slot *s = slots(c);
    while (s[h].name) {
        if (strcmp(s[h].name, name) == 0) return s[h].id;
        h = (h + 1) & (uint32_t)(c->hcap - 1);
    }
    return OX_NONE;
}

/* Names bound inside a scope (an unrolled loop body) are recorded so that
 * ox_scope_end can unbind them for the next iteration; an unbound slot
 * keeps its name with id OX_NONE and is reused when bound again. */
static kiln_status scope_record(ox_ctx *c, const char *name) {
    if (!c->scope_depth) return KILN_OK;
    if (c->nscope == c->scope_cap) {
        int cap = c->scope_cap ? c->scope_cap * 2 : 64;
        const char **p = realloc(c->scope_names, sizeof(char *) * (size_t)cap);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        c->scope_names = p;
        c->scope_cap = cap;
    }
    c->scope_names[c->nscope++] = name;
    return KILN_OK;
}

kiln_status ox_bind_name(ox_ctx *c, const char *name, ox_id id) {
    if (!c->hcap || (c->nnames + 1) * 2 > c->hcap) KILN_TRY(grow_hash(c));
    uint32_t h = hash_str(name) & (uint32_t)(c->hcap - 1);
    name_slot *s = slots(c);
    while (s[h].name && strcmp(s[h].name, name) != 0) h = (h + 1) & (uint32_t)(c->hcap - 1);
    if (s[h].name && s[h].id != OX_NONE)
        return kiln_error(KILN_ERR_FORMAT, "value '%s' is produced more than once", name);
    if (!s[h].name) c->nnames++;
    s[h].name = name;
    s[h].id = id;
    if (!c->vals[id].name) c->vals[id].name = name;
    return scope_record(c, name);
}

int ox_scope_begin(ox_ctx *c) {
    c->scope_depth++;
    return c->nscope;
}

void ox_scope_end(ox_ctx *c, int mark) {
    name_slot *s = slots(c);
    for (int i = mark; i < c->nscope; i++) {
        const char *name = c->scope_names[i];
        uint32_t h = hash_str(name) & (uint32_t)(c->hcap - 1);
        while (s[h].name) {
            if (strcmp(s[h].name, name) == 0) {
                s[h].id = OX_NONE;
                break;
            }
            h = (h + 1) & (uint32_t)(c->hcap - 1);
        }
    }
    c->nscope = mark;
    c->scope_depth--;
}

static kiln_status new_val(ox_ctx *c, ox_id *out) {
    if (c->nvals == c->cap) {
        int cap = c->cap ? c->cap * 2 : 256;
        ox_val *p = realloc(c->vals, sizeof(ox_val) * (size_t)cap);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        c->vals = p;
        c->cap = cap;
    }
    ox_val *v = &c->vals[c->nvals];
    memset(v, 0, sizeof *v);
    v->v = KILN_NONE;
    *out = c->nvals++;
    return KILN_OK;
}

kiln_status ox_from_ir(ox_ctx *c, kiln_value v, ox_id *out) {
    KILN_TRY(new_val(c, out));
    ox_val *x = OV(c, *out);
    const kiln_node *n = kiln_graph_node(c->g, v);
    x->v = v;
    x->dtype = n->dtype;
    x->shape = n->shape;
    return KILN_OK;
}

static void shape_of_tensor(const kiln_tensor *t, kiln_shape *s) {
    s->rank = t->rank;
    for (int i = 0; i < t->rank; i++) s->dims[i] = t->shape[i];
}

kiln_status ox_from_tensor(ox_ctx *c, kiln_tensor *t, ox_id *out) {
    kiln_tensor own = *t;
    if (!t->owns_data) KILN_TRY(kiln_tensor_convert(t, t->dtype, &own));
    kiln_status s = new_val(c, out);
    if (s) {
        kiln_tensor_release(&own);
        return s;
    }
    t->owns_data = 0; /* taken over */
    ox_val *x = OV(c, *out);
    x->known = 1;
    x->k = own;
    x->dtype = own.dtype;
    shape_of_tensor(&own, &x->shape);
    return KILN_OK;
}

kiln_status ox_from_view(ox_ctx *c, const kiln_tensor *t, ox_id *out) {
    KILN_TRY(new_val(c, out));
    ox_val *x = OV(c, *out);
    x->known = 1;
    x->k = *t;
    x->k.owns_data = 0;
    x->dtype = t->dtype;
    shape_of_tensor(t, &x->shape);
    return KILN_OK;
}

kiln_status ox_scalar(ox_ctx *c, kiln_dtype dt, double v, ox_id *out) {
    kiln_tensor t;
    KILN_TRY(kiln_tensor_alloc(&t, dt, 0, NULL));
    kiln_store_f64(t.data, dt, 0, v);
    return ox_from_tensor(c, &t, out);
}

kiln_status ox_scalar_i(ox_ctx *c, kiln_dtype dt, int64_t v, ox_id *out) {
    kiln_tensor t;
    KILN_TRY(kiln_tensor_alloc(&t, dt, 0, NULL));
    kiln_store_i64(t.data, dt, 0, v);
    return ox_from_tensor(c, &t, out);
}

kiln_status ox_ints(ox_ctx *c, kiln_dtype dt, int n, const int64_t *v, ox_id *out) {
    kiln_tensor t;
    int64_t shape[1] = {n};
    KILN_TRY(kiln_tensor_alloc(&t, dt, 1, shape));
    for (int i = 0; i < n; i++) kiln_store_i64(t.data, dt, (size_t)i, v[i]);
    return ox_from_tensor(c, &t, out);
}

kiln_status ox_from_dims(ox_ctx *c, kiln_dtype dt, int rank, const int64_t *shape, const kiln_dim *dims, ox_id *out) {
    int64_t n = kiln_shape_numel(rank, shape);
    int all_const = 1;
    for (int64_t i = 0; i < n; i++)
        if (!kiln_dim_is_const(dims[i])) all_const = 0;
    if (!all_const && !kiln_dtype_is_int(dt))
        return kiln_error(KILN_ERR_UNSUPPORTED, "symbolic dims in a %s tensor", kiln_dtype_name(dt));
    if (all_const) {
        kiln_tensor t;
        KILN_TRY(kiln_tensor_alloc(&t, dt, rank, shape));
        for (int64_t i = 0; i < n; i++) kiln_store_i64(t.data, dt, (size_t)i, dims[i]);
        return ox_from_tensor(c, &t, out);
    }
    if (n > OX_SYM_MAX) return kiln_error(KILN_ERR_LIMIT, "symbolic integer tensor of %lld elements", (long long)n);
    KILN_TRY(new_val(c, out));
    ox_val *x = OV(c, *out);
    x->sym = malloc(sizeof(kiln_dim) * (size_t)(n ? n : 1));
    if (!x->sym) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    memcpy(x->sym, dims, sizeof(kiln_dim) * (size_t)n);
    x->dtype = dt;
    x->shape.rank = rank;
    for (int i = 0; i < rank; i++) x->shape.dims[i] = shape[i];
    return KILN_OK;
}

/* ---- reading known values -------------------------------------------------- */
static int64_t static_numel(const kiln_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (!kiln_dim_is_const(s->dims[i])) return -1;
        n *= s->dims[i];
    }
    return n;
}

int ox_dims(ox_ctx *c, ox_id id, kiln_dim *out, int max) {
    if (id == OX_NONE) return -1;
    ox_val *x = OV(c, id);
    int64_t n = static_numel(&x->shape);
    if (n < 0 || n > max) return -1;
    if (x->sym) {
        memcpy(out, x->sym, sizeof(kiln_dim) * (size_t)n);
        return (int)n;
    }
    if (!x->known || kiln_dtype_is_float(x->dtype)) return -1;
    for (int64_t i = 0; i < n; i++) out[i] = ox_clamp_dim(kiln_load_i64(x->k.data, x->dtype, (size_t)i));
    return (int)n;
}

int ox_const_ints(ox_ctx *c, ox_id id, int64_t *out, int max) {
    if (id == OX_NONE) return -1;
    ox_val *x = OV(c, id);
    if (!x->known || kiln_dtype_is_float(x->dtype)) return -1;
    int64_t n = kiln_tensor_numel(&x->k);
    if (n > max) return -1;
    for (int64_t i = 0; i < n; i++) out[i] = kiln_load_i64(x->k.data, x->dtype, (size_t)i);
    return (int)n;
}

int ox_const_f64(ox_ctx *c, ox_id id, double *out) {
    if (id == OX_NONE) return 0;
    ox_val *x = OV(c, id);
    if (!x->known || kiln_tensor_numel(&x->k) != 1) return 0;
    *out = kiln_load_f64(x->k.data, x->dtype, 0);
    return 1;
}

/* ---- building IR for values ---------------------------------------------- */
/* A symbolic integer tensor at run time: constant runs as CONST nodes,
 * each symbolic element as iota(shape=[1], start=dim), concatenated. */
static kiln_status build_sym(ox_ctx *c, ox_val *x, kiln_value *out) {
    int64_t n = static_numel(&x->shape);
    kiln_value parts[OX_SYM_MAX] = {0};
    int np = 0;
    for (int64_t i = 0; i < n;) {
        if (kiln_dim_is_const(x->sym[i])) {
            int64_t j = i;
            while (j < n && kiln_dim_is_const(x->sym[j])) j++;
            kiln_tensor t;
            int64_t len = j - i;
            KILN_TRY(kiln_tensor_alloc(&t, KILN_I64, 1, &len));
            for (int64_t k = i; k < j; k++) ((int64_t *)t.data)[k - i] = x->sym[k];
            kiln_status s = kiln_graph_add_const(c->g, &t, &parts[np++]);
            kiln_tensor_release(&t);
            KILN_TRY(s);
            i = j;
        } else {
            kiln_dim one = 1;
            kiln_named_attr a[3] = {kiln_a_dims("shape", 1, &one), kiln_a_dim("start", x->sym[i]),
                                    kiln_a_dtype("dtype", KILN_I64)};
            KILN_TRY(kiln_build(c->g, KILN_OP_IOTA, 0, NULL, 3, a, &parts[np++]));
            i++;
        }
    }
    kiln_value v = parts[0];
    if (np > 1) {
        kiln_named_attr a = kiln_a_int("axis", 0);
        KILN_TRY(kiln_build(c->g, KILN_OP_CONCAT, np, parts, 1, &a, &v));
    }
    if (x->dtype != KILN_I64) {
        kiln_named_attr a = kiln_a_dtype("dtype", x->dtype);
        KILN_TRY(kiln_build(c->g, KILN_OP_CAST, 1, &v, 1, &a, &v));
    }
    if (x->shape.rank != 1) {
        kiln_named_attr a = kiln_a_dims("shape", x->shape.rank, x->shape.dims);
        KILN_TRY(kiln_build(c->g, KILN_OP_RESHAPE, 1, &v, 1, &a, &v));
    }
    *out = v;
    return KILN_OK;
}

kiln_status ox_ir(ox_ctx *c, ox_id id, kiln_value *out) {
    ox_val *x = OV(c, id);
    if (x->v != KILN_NONE) {
        *out = x->v;
        return KILN_OK;
    }
    kiln_value v;
    if (x->param && x->known && kiln_tensor_numel(&x->k) > OX_CONST_MAX) {
        KILN_TRY(kiln_graph_add_param(c->g, x->param, x->dtype, &x->shape, &v));
    } else if (x->known) {
        KILN_TRY(kiln_graph_add_const(c->g, &x->k, &v));
    } else if (x->sym) {
        KILN_TRY(build_sym(c, x, &v));
    } else {
        return kiln_error(KILN_ERR_INTERNAL, "value '%s' has no data", x->name ? x->name : "?");
    }
    x = OV(c, id);
    x->v = v;
    *out = v;
    return KILN_OK;
}
