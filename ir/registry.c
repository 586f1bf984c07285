/* The op table, expanded from include/kiln/ops.def, with attribute schemas
 * parsed from their compact string form on first use. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "graph_internal.h"
#include "shape_rules.h"

typedef struct raw_op {
    const char *name;
    int min_inputs, max_inputs;
    kiln_fusion_class fusion;
    kiln_shape_rule infer;
    const char *schema;
    kiln_grad_rule grad;
} raw_op;

/* Gradient rules are defined with the autodiff pass (passes/grad_*.c). */
#define KILN_OP(id, nm, mi, ma, fc, rule, attrs, grad) kiln_status grad(kiln_grad_ctx *c);
#include "kiln/ops.def"
#undef KILN_OP

static const raw_op raw_ops[KILN_OP_COUNT] = {
#define KILN_OP(id, nm, mi, ma, fc, rule, attrs, grad) [KILN_OP_##id] = {#nm, mi, ma, KILN_FUSE_##fc, rule, attrs, grad},
#include "kiln/ops.def"
#undef KILN_OP
};

static kiln_op_def defs[KILN_OP_COUNT];
static pthread_once_t defs_once = PTHREAD_ONCE_INIT;

static kiln_attr_kind kind_from(const char *s, size_t n) {
    static const struct { const char *name; kiln_attr_kind kind; } kinds[] = {
        {"int", KILN_ATTR_INT},   {"bool", KILN_ATTR_BOOL}, {"float", KILN_ATTR_FLOAT},
        {"ints", KILN_ATTR_INTS}, {"dim", KILN_ATTR_DIM},   {"dims", KILN_ATTR_DIMS},
        {"dtype", KILN_ATTR_DTYPE}, {"str", KILN_ATTR_STR},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == n && strncmp(kinds[i].name, s, n) == 0) return kinds[i].kind;
    abort(); /* a typo in ops.def: caught by every test run */
}

/* "axes:ints keepdims:bool=0 scale:float?" */
static void parse_schema(kiln_op_def *d, const char *schema) {
    const char *p = schema;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (d->nattrs == KILN_MAX_ATTRS) abort();
        kiln_attr_def *a = &d->attrs[d->nattrs++];
        const char *colon = strchr(p, ':');
        if (!colon) abort();
        size_t nlen = (size_t)(colon - p);
        char *name = malloc(nlen + 1);
        if (!name) abort();
        memcpy(name, p, nlen);
        name[nlen] = 0;
        a->name = name;
        const char *k = colon + 1, *e = k;
        while (*e && *e != ' ' && *e != '=' && *e != '?') e++;
        a->kind = kind_from(k, (size_t)(e - k));
        a->required = 1;
        if (*e == '?') {
            a->required = 0;
            e++;
        } else if (*e == '=') {
            a->required = 0;
            const char *v = e + 1;
            a->dflt.kind = a->kind;
            if (a->kind == KILN_ATTR_FLOAT) a->dflt.f = strtod(v, NULL);
            else if (a->kind == KILN_ATTR_DTYPE) {
                kiln_dtype t = KILN_F32;
                char buf[16] = {0};
                size_t n = strcspn(v, " ");
                memcpy(buf, v, n < 15 ? n : 15);
                kiln_status s = kiln_dtype_parse(buf, &t);
                if (s) abort();
                a->dflt.i = t;
            } else a->dflt.i = strtoll(v, NULL, 10);
            e = v + strcspn(v, " ");
        }
        p = e;
    }
}

static void init_defs(void) {
    for (int i = 0; i < KILN_OP_COUNT; i++) {
        kiln_op_def *d = &defs[i];
        d->op = (kiln_op)i;
        d->name = raw_ops[i].name;
        d->min_inputs = raw_ops[i].min_inputs;
        d->max_inputs = raw_ops[i].max_inputs;
        d->fusion = raw_ops[i].fusion;
        d->infer = raw_ops[i].infer;
        d->grad = raw_ops[i].grad;
        parse_schema(d, raw_ops[i].schema);
    }
}

const kiln_op_def *kiln_op_get(kiln_op op) {
    if ((unsigned)op >= KILN_OP_COUNT) return NULL;
    pthread_once(&defs_once, init_defs);
    return &defs[op];
}

const char *kiln_op_name(kiln_op op) { return (unsigned)op < KILN_OP_COUNT ? raw_ops[op].name : "?"; }

kiln_status kiln_op_lookup(const char *name, kiln_op *out) {
    for (int i = 0; i < KILN_OP_COUNT; i++)
        if (strcmp(raw_ops[i].name, name) == 0) {
            *out = (kiln_op)i;
            return KILN_OK;
        }
    return kiln_error(KILN_ERR_NOT_FOUND, "unknown op '%s'", name);
}

int kiln_op_attr_index(kiln_op op, const char *attr) {
    const kiln_op_def *d = kiln_op_get(op);
    if (!d) return -1;
    for (int i = 0; i < d->nattrs; i++)
        if (strcmp(d->attrs[i].name, attr) == 0) return i;
    return -1;
}
