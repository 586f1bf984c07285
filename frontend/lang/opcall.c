/* Calling an IR op by name: positional tensors fill the op's inputs,
 * remaining positional values fill its attributes in schema order, and
 * keywords name attributes. On plain numbers the math ops compute at
 * compile time (sqrt(64) is 8.0). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang_internal.h"

static const char *lang_op_name(kiln_op op) {
    switch (op) {
    case KILN_OP_AND: return "logical_and";
    case KILN_OP_OR: return "logical_or";
    case KILN_OP_NOT: return "logical_not";
    default: return kiln_op_name(op);
    }
}

int ev_number_math(kiln_op op) {
    switch (op) {
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_EXP: case KILN_OP_LOG:
    case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_RECIP: case KILN_OP_TANH: case KILN_OP_SIGMOID:
    case KILN_OP_ERF: case KILN_OP_SIN: case KILN_OP_COS: case KILN_OP_FLOOR: case KILN_OP_CEIL:
    case KILN_OP_ROUND: case KILN_OP_RELU: case KILN_OP_MAX: case KILN_OP_MIN: case KILN_OP_POW:
        return 1;
    default: return 0;
    }
}

static kiln_status number_math(eval *ev, kiln_op op, int n, const val *a, val *out) {
    const char *name = lang_op_name(op);
    int arity = (op == KILN_OP_MAX || op == KILN_OP_MIN || op == KILN_OP_POW) ? 2 : 1;
    if (n != arity) return ev_error(ev, KILN_ERR_INVALID, "%s() on numbers takes %d argument%s, got %d", name, arity, arity == 1 ? "" : "s", n);
    if (op == KILN_OP_MAX || op == KILN_OP_MIN) {
        if (a[0].k == V_INT && a[1].k == V_INT) {
            if (a[0].i == a[1].i) return (*out = a[0]), KILN_OK;
            if (!kiln_dim_is_const(a[0].i) || !kiln_dim_is_const(a[1].i))
                return ev_error(ev, KILN_ERR_TYPE, "%s() cannot compare symbolic dimensions", name);
            int first = op == KILN_OP_MAX ? a[0].i > a[1].i : a[0].i < a[1].i;
            return (*out = first ? a[0] : a[1]), KILN_OK;
        }
    }
    for (int i = 0; i < n; i++)
        if (!val_is_number(&a[i]) || a[i].k == V_BOOL)
            return ev_error(ev, KILN_ERR_TYPE, "%s() needs numbers or tensors, got %s", name,
                            a[i].k == V_INT ? "a symbolic dimension" : val_type_name(&a[i]));
    double x = val_number(&a[0]), y = n > 1 ? val_number(&a[1]) : 0, r;
    int is_int = a[0].k == V_INT && (n == 1 || a[1].k == V_INT);
    switch (op) {
    case KILN_OP_NEG: r = -x; break;
    case KILN_OP_ABS: r = fabs(x); break;
    case KILN_OP_SIGN: r = (x > 0) - (x < 0); break;
    case KILN_OP_RELU: r = x > 0 ? x : 0; break;
    case KILN_OP_MAX: r = x > y ? x : y; break;
    case KILN_OP_MIN: r = x < y ? x : y; break;
    case KILN_OP_EXP: r = exp(x); is_int = 0; break;
    case KILN_OP_LOG:
        if (x <= 0) return ev_error(ev, KILN_ERR_INVALID, "log() of a number <= 0");
        r = log(x); is_int = 0; break;
    case KILN_OP_SQRT:
        if (x < 0) return ev_error(ev, KILN_ERR_INVALID, "sqrt() of a negative number");
        r = sqrt(x); is_int = 0; break;
    case KILN_OP_RSQRT:
        if (x <= 0) return ev_error(ev, KILN_ERR_INVALID, "rsqrt() of a number <= 0");
        r = 1 / sqrt(x); is_int = 0; break;
    case KILN_OP_RECIP:
        if (x == 0) return ev_error(ev, KILN_ERR_INVALID, "recip() of zero");
        r = 1 / x; is_int = 0; break;
    case KILN_OP_TANH: r = tanh(x); is_int = 0; break;
    case KILN_OP_SIGMOID: r = 1 / (1 + exp(-x)); is_int = 0; break;
    case KILN_OP_ERF: r = erf(x); is_int = 0; break;
    case KILN_OP_SIN: r = sin(x); is_int = 0; break;
    case KILN_OP_COS: r = cos(x); is_int = 0; break;
    case KILN_OP_FLOOR: r = floor(x); is_int = 1; break;
    case KILN_OP_CEIL: r = ceil(x); is_int = 1; break;
    case KILN_OP_ROUND: r = nearbyint(x); is_int = 1; break;
    case KILN_OP_POW:
        if (is_int && y >= 0) return ev_binary(ev, T_POW, a[0], a[1], out);
        r = pow(x, y); is_int = 0; break;
    default: return ev_error(ev, KILN_ERR_INTERNAL, "no compile-time math for %s", name);
    }
    if (is_int) {
        if (!(fabs(r) < 4.6e18)) return ev_error(ev, KILN_ERR_LIMIT, "%s() result does not fit an integer", name);
        *out = v_int((int64_t)r);
    } else {
        *out = v_float(r);
    }
    return KILN_OK;
}

/* Convert a value to an attribute of the schema's kind; lists are copied
 * into the arena (kiln_build copies them again into the graph). */
static kiln_status to_attr(eval *ev, const char *opname, const kiln_attr_def *def, val v, kiln_attr *out) {
    memset(out, 0, sizeof *out);
    const char *want = "?";
    switch (def->kind) {
    case KILN_ATTR_INT:
        want = "an integer";
        if (v.k == V_BOOL) v = v_int(v.b);
        if (v.k != V_INT || !kiln_dim_is_const(v.i)) break;
        out->kind = KILN_ATTR_INT;
        out->i = v.i;
        return KILN_OK;
    case KILN_ATTR_BOOL:
        want = "a bool";
        if (v.k == V_INT && kiln_dim_is_const(v.i)) v = v_bool(v.i != 0);
        if (v.k != V_BOOL) break;
        out->kind = KILN_ATTR_BOOL;
        out->i = v.b;
        return KILN_OK;
    case KILN_ATTR_FLOAT:
        want = "a number";
        if (!val_is_number(&v) || v.k == V_BOOL) break;
        out->kind = KILN_ATTR_FLOAT;
        out->f = val_number(&v);
        return KILN_OK;
    case KILN_ATTR_DIM:
        want = "an integer";
        if (v.k != V_INT) break;
        out->kind = KILN_ATTR_DIM;
        out->i = v.i;
        return KILN_OK;
    case KILN_ATTR_DTYPE:
        want = "a dtype";
        if (v.k != V_DTYPE) break;
        out->kind = KILN_ATTR_DTYPE;
        out->i = v.dt;
        return KILN_OK;
    case KILN_ATTR_STR:
        want = "a string";
        if (v.k != V_STR) break;
        out->kind = KILN_ATTR_STR;
        out->s = v.s;
        return KILN_OK;
    case KILN_ATTR_INTS:
    case KILN_ATTR_DIMS: {
        int ints = def->kind == KILN_ATTR_INTS;
        want = ints ? "a list of constant integers" : "a list of integers";
        int n = v.k == V_LIST ? v.l->n : v.k == V_INT ? 1 : -1;
        if (n < 0 || n > 4096) break;
        int64_t *list = arena_alloc(ev->a, sizeof(int64_t) * (size_t)(n ? n : 1));
        if (!list) return ev_oom(ev);
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            val e = v.k == V_LIST ? v.l->v[i] : v;
            ok = e.k == V_INT && (!ints || kiln_dim_is_const(e.i));
            if (ok) list[i] = e.i;
        }
        if (!ok) break;
        out->kind = def->kind;
        out->n = n;
        out->list = list;
        return KILN_OK;
    }
    case KILN_ATTR_NONE: break;
    }
    return ev_error(ev, KILN_ERR_TYPE, "%s(): '%s' must be %s, got %s", opname, def->name, want,
                    v.k == V_INT ? "a symbolic dimension" : val_type_name(&v));
}

/* reshape: one -1 entry is whatever makes the element counts agree. */
static kiln_status resolve_reshape(eval *ev, kiln_value x, kiln_attr *a) {
    int at = -1;
    for (int i = 0; i < a->n; i++)
        if (a->list[i] == -1) {
            if (at >= 0) return ev_error(ev, KILN_ERR_SHAPE, "reshape(): only one -1 is allowed in the shape");
            at = i;
        }
    if (at < 0) return KILN_OK;
    kiln_node *n = kiln_graph_node(ev->g, x);
    kiln_dim total = kiln_shape_numel_dim(ev->g, &n->shape), rest = 1;
    for (int i = 0; i < a->n; i++)
        if (i != at) KILN_TRY(ev_dim_arith(ev, T_STAR, rest, a->list[i], &rest));
    if (rest == 0) return ev_error(ev, KILN_ERR_SHAPE, "reshape(): cannot infer -1 next to a zero dimension");
    kiln_dim q;
    kiln_status s = kiln_dim_div(ev->g, total, rest, &q);
    if (s) {
        kiln_status_free(s);
        char s1[256], s2[256];
        return ev_error(ev, KILN_ERR_SHAPE, "reshape(): %s elements do not divide into parts of %s",
                        kiln_dim_str(ev->g, total, s1, sizeof s1), kiln_dim_str(ev->g, rest, s2, sizeof s2));
    }
    ((int64_t *)a->list)[at] = q;
    return KILN_OK;
}

static int is_tensor_list(const val *v) {
    if (v->k != V_LIST || v->l->n == 0) return 0;
    for (int i = 0; i < v->l->n; i++)
        if (v->l->v[i].k != V_TENSOR) return 0;
    return 1;
}

kiln_status ev_call_op(eval *ev, kiln_op op, int nargs, const val *args, const char *const *kw, val *out) {
    const kiln_op_def *d = kiln_op_get(op);
    const char *name = lang_op_name(op);
    int npos = 0;
    while (npos < nargs && !(kw && kw[npos])) npos++;

    int any_tensor = 0;
    for (int i = 0; i < npos; i++) any_tensor |= args[i].k == V_TENSOR || is_tensor_list(&args[i]);
    if (!any_tensor && ev_number_math(op) && npos == nargs) return number_math(ev, op, npos, args, out);

    /* dtype for numbers standing in for tensors */
    kiln_dtype dt = KILN_DTYPE_COUNT, first = KILN_DTYPE_COUNT;
    for (int i = 0; i < npos; i++) {
        const val *v = &args[i];
        if (is_tensor_list(v)) v = &v->l->v[0];
        if (v->k != V_TENSOR) continue;
        kiln_dtype t = ev_node(ev, *v)->dtype;
        if (first == KILN_DTYPE_COUNT) first = t;
        if (dt == KILN_DTYPE_COUNT && t != KILN_BOOL) dt = t;
    }
    if (dt == KILN_DTYPE_COUNT && op != KILN_OP_WHERE) dt = first;

    kiln_value in[64];
    int nin = 0, i = 0;
    int maxin = d->max_inputs < 0 ? 64 : d->max_inputs;
    for (; i < npos; i++) {
        const val *v = &args[i];
        if (v->k == V_TENSOR && nin < maxin) {
            in[nin++] = v->t;
        } else if (is_tensor_list(v) && d->max_inputs < 0) {
            if (nin + v->l->n > 64) return ev_error(ev, KILN_ERR_LIMIT, "%s(): more than 64 inputs", name);
            for (int j = 0; j < v->l->n; j++) in[nin++] = v->l->v[j].t;
        } else if (v->k == V_NONE && nin >= d->min_inputs && nin < maxin) {
            in[nin++] = KILN_NONE;
        } else if (nin < d->min_inputs && (val_is_number(v) || v->k == V_INT)) {
            kiln_dtype t = dt;
            if (t == KILN_DTYPE_COUNT) t = v->k == V_FLOAT ? KILN_F32 : v->k == V_BOOL ? KILN_BOOL : KILN_I64;
            if (!any_tensor && op != KILN_OP_WHERE && op != KILN_OP_IOTA)
                return ev_error(ev, KILN_ERR_TYPE, "%s() needs a tensor argument", name);
            KILN_TRY(ev_scalar(ev, *v, t, &in[nin++]));
        } else {
            break;
        }
    }
    while (nin > d->min_inputs && in[nin - 1] == KILN_NONE) nin--;
    if (nin < d->min_inputs) {
        if (i < npos && args[i].k != V_TENSOR)
            return ev_error(ev, KILN_ERR_TYPE, "%s(): argument %d must be a tensor, got %s", name, i + 1,
                            val_type_name(&args[i]));
        return ev_error(ev, KILN_ERR_INVALID, "%s() needs %s%d tensor input%s, got %d", name,
                        d->min_inputs == d->max_inputs ? "" : "at least ", d->min_inputs, d->min_inputs == 1 ? "" : "s",
                        nin);
    }

    kiln_named_attr attrs[KILN_MAX_ATTRS];
    int set[KILN_MAX_ATTRS] = {0};
    int nat = 0, slot = 0;
    for (; i < npos; i++) {
        if (args[i].k == V_TENSOR || is_tensor_list(&args[i]))
            return ev_error(ev, KILN_ERR_INVALID, "%s() takes at most %d tensor input%s", name, maxin, maxin == 1 ? "" : "s");
        if (slot >= d->nattrs) {
            char names[256] = "";
            for (int k = 0; k < d->nattrs; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", d->attrs[k].name);
            return ev_error(ev, KILN_ERR_INVALID, "%s() got too many arguments (after its tensor inputs it takes: %s)",
                            name, d->nattrs ? names : "nothing");
        }
        attrs[nat].name = d->attrs[slot].name;
        KILN_TRY(to_attr(ev, name, &d->attrs[slot], args[i], &attrs[nat].value));
        set[slot++] = 1;
        nat++;
    }
    for (; i < nargs; i++) {
        int k = kiln_op_attr_index(op, kw[i]);
        if (k < 0) {
            char names[256] = "";
            for (int j = 0; j < d->nattrs; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? ", " : "", d->attrs[j].name);
            return ev_error(ev, KILN_ERR_INVALID, "%s() has no attribute '%s' (it has: %s)", name, kw[i],
                            d->nattrs ? names : "none");
        }
        if (set[k]) return ev_error(ev, KILN_ERR_INVALID, "%s(): '%s' is given twice", name, kw[i]);
        attrs[nat].name = d->attrs[k].name;
        KILN_TRY(to_attr(ev, name, &d->attrs[k], args[i], &attrs[nat].value));
        set[k] = 1;
        nat++;
    }

    /* conveniences: transpose(x) swaps the last two axes; reshape takes -1 */
    if (op == KILN_OP_TRANSPOSE && !set[0] && nin == 1) {
        int r = kiln_graph_node(ev->g, in[0])->shape.rank;
        if (r < 2) return ev_error(ev, KILN_ERR_SHAPE, "transpose(x) without perm needs rank >= 2");
        int64_t *perm = arena_alloc(ev->a, sizeof(int64_t) * (size_t)r);
        if (!perm) return ev_oom(ev);
        for (int k = 0; k < r; k++) perm[k] = k;
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        attrs[nat++] = kiln_a_ints("perm", r, perm);
    }
    if (op == KILN_OP_RESHAPE && set[0] && nin == 1) {
        for (int k = 0; k < nat; k++)
            if (strcmp(attrs[k].name, "shape") == 0) KILN_TRY(resolve_reshape(ev, in[0], &attrs[k].value));
    }
    if (op == KILN_OP_INPUT || op == KILN_OP_PARAM || op == KILN_OP_CONST)
        return ev_error(ev, KILN_ERR_INVALID, "%s() cannot be called; use an 'input' statement or param()", name);

    kiln_value r;
    KILN_TRY(ev_build(ev, op, nin, in, nat, attrs, &r));
    *out = v_tensor(r);
    return KILN_OK;
}
