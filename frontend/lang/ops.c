/* Operators: compile-time arithmetic on numbers and symbolic dims, IR ops
 * on tensors (numbers become scalar constants of the tensor's dtype). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lang_internal.h"

#define INT_LIMIT (INT64_C(1) << 62)

kiln_status ev_check_dim(eval *ev, kiln_dim d) {
    if (d >= KILN_DIM_SYM_BASE + LANG_MAX_DIM_EXPRS)
        return ev_error(ev, KILN_ERR_LIMIT, "more than %d distinct symbolic dimension expressions", LANG_MAX_DIM_EXPRS);
    return KILN_OK;
}

kiln_status ev_charge_names(eval *ev) {
    ev->name_work += kiln_graph_node_count(ev->g) + kiln_graph_output_count(ev->g);
    if (ev->name_work > LANG_MAX_NAME_WORK)
        return ev_error(ev, KILN_ERR_LIMIT, "too many inputs, parameters and outputs for a graph this large");
    return KILN_OK;
}

kiln_status ev_build(eval *ev, kiln_op op, int nin, const kiln_value *in, int nattrs, const kiln_named_attr *attrs,
                     kiln_value *out) {
    if (kiln_graph_node_count(ev->g) >= LANG_MAX_NODES)
        return ev_error(ev, KILN_ERR_LIMIT, "the graph has more than %d nodes", LANG_MAX_NODES);
    kiln_loc loc = {ev->loc_file ? ev->loc_file->name : NULL, ev->loc_line, ev->loc_col};
    kiln_graph_set_loc(ev->g, loc);
    KILN_TRY(ev_wrap(ev, kiln_build(ev->g, op, nin, in, nattrs, attrs, out)));
    const kiln_node *n = kiln_graph_node(ev->g, *out);
    for (int i = 0; i < n->shape.rank; i++) KILN_TRY(ev_check_dim(ev, n->shape.dims[i]));
    return KILN_OK;
}

kiln_status ev_reshape(eval *ev, kiln_value x, int rank, const kiln_dim *dims, kiln_value *out) {
    kiln_named_attr a = kiln_a_dims("shape", rank, dims);
    return ev_build(ev, KILN_OP_RESHAPE, 1, &x, 1, &a, out);
}

kiln_status ev_slice(eval *ev, kiln_value x, int axis, kiln_dim start, kiln_dim end, int64_t step, kiln_value *out) {
    kiln_named_attr a[4] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end),
                            kiln_a_int("step", step)};
    return ev_build(ev, KILN_OP_SLICE, 1, &x, 4, a, out);
}

kiln_status ev_dim_arith(eval *ev, tok_kind op, kiln_dim a, kiln_dim b, kiln_dim *out) {
    if (kiln_dim_is_const(a) && kiln_dim_is_const(b)) {
        int64_t r = 0;
        int of = 0;
        switch (op) {
        case T_PLUS: of = __builtin_add_overflow(a, b, &r); break;
        case T_MINUS: of = __builtin_sub_overflow(a, b, &r); break;
        case T_STAR: of = __builtin_mul_overflow(a, b, &r); break;
        case T_DSLASH:
        case T_PERCENT:
            if (b == 0) return ev_error(ev, KILN_ERR_INVALID, "integer division by zero");
            r = a / b;
            if ((a % b != 0) && ((a < 0) != (b < 0))) r--; /* floor, as in Python */
            if (op == T_PERCENT) r = a - r * b;
            break;
        default: return ev_error(ev, KILN_ERR_INTERNAL, "bad integer operator");
        }
        if (of || r >= INT_LIMIT || r <= -INT_LIMIT) return ev_error(ev, KILN_ERR_LIMIT, "integer overflow");
        *out = r;
        return KILN_OK;
    }
    kiln_dim r;
    switch (op) {
    case T_PLUS: r = kiln_dim_add(ev->g, a, b); break;
    case T_MINUS: r = kiln_dim_sub(ev->g, a, b); break;
    case T_STAR: r = kiln_dim_mul(ev->g, a, b); break;
    case T_DSLASH: {
        kiln_status s = kiln_dim_div(ev->g, a, b, &r);
        if (s) return ev_wrap(ev, s);
        break;
    }
    default:
        return ev_error(ev, KILN_ERR_TYPE, "'%%' needs constant integers, not symbolic dimensions");
    }
    if (r == KILN_DIM_INVALID) return ev_error(ev, KILN_ERR_LIMIT, "symbolic dimension too complex");
    KILN_TRY(ev_check_dim(ev, r));
    return (*out = r), KILN_OK;
}

kiln_status ev_scalar(eval *ev, val num, kiln_dtype dt, kiln_value *out) {
    if (num.k == V_INT && !kiln_dim_is_const(num.i)) {
        /* a symbolic dim as a tensor: iota of one element starting there */
        kiln_dim one = 1;
        kiln_named_attr a[3] = {kiln_a_dims("shape", 1, &one), kiln_a_dim("start", num.i), kiln_a_dtype("dtype", KILN_I64)};
        kiln_value t, r;
        KILN_TRY(ev_build(ev, KILN_OP_IOTA, 0, NULL, 3, a, &t));
        KILN_TRY(ev_reshape(ev, t, 0, NULL, &r));
        if (dt == KILN_I64) return (*out = r), KILN_OK;
        kiln_named_attr c = kiln_a_dtype("dtype", dt);
        return ev_build(ev, KILN_OP_CAST, 1, &r, 1, &c, out);
    }
    if (!val_is_number(&num))
        return ev_error(ev, KILN_ERR_TYPE, "cannot use a %s as a %s tensor", val_type_name(&num), kiln_dtype_name(dt));
    double v = val_number(&num);
    if (!kiln_dtype_is_float(dt)) {
        if (v != floor(v))
            return ev_error(ev, KILN_ERR_TYPE, "cannot use the fractional number %g with a %s tensor", v, kiln_dtype_name(dt));
        if (dt == KILN_BOOL && v != 0 && v != 1)
            return ev_error(ev, KILN_ERR_TYPE, "cannot use %g with a bool tensor", v);
        if (!kiln_dtype_get(dt)->is_signed && dt != KILN_BOOL && v < 0)
            return ev_error(ev, KILN_ERR_TYPE, "cannot use a negative number with a %s tensor", kiln_dtype_name(dt));
    }
    if (kiln_graph_node_count(ev->g) >= LANG_MAX_NODES)
        return ev_error(ev, KILN_ERR_LIMIT, "the graph has more than %d nodes", LANG_MAX_NODES);
    kiln_graph_set_loc(ev->g, (kiln_loc){ev->loc_file ? ev->loc_file->name : NULL, ev->loc_line, ev->loc_col});
    return ev_wrap(ev, kiln_graph_add_scalar(ev->g, dt, v, out));
}

static const char *op_text(tok_kind op) { return tok_name(op); }

static kiln_status tensor_binary(eval *ev, tok_kind op, val a, val b, val *out) {
    if (a.k == V_LIST || b.k == V_LIST || a.k == V_STR || b.k == V_STR || a.k == V_NONE || b.k == V_NONE ||
        a.k == V_DTYPE || b.k == V_DTYPE || a.k == V_FN || b.k == V_FN || a.k == V_BUILTIN || b.k == V_BUILTIN)
        return ev_error(ev, KILN_ERR_TYPE, "cannot apply %s to a %s and a %s", op_text(op), val_type_name(&a),
                        val_type_name(&b));
    kiln_dtype dt = a.k == V_TENSOR ? ev_node(ev, a)->dtype : ev_node(ev, b)->dtype;
    kiln_value x, y, r;
    if (a.k == V_TENSOR) x = a.t;
    else KILN_TRY(ev_scalar(ev, a, dt, &x));
    if (b.k == V_TENSOR) y = b.t;
    else KILN_TRY(ev_scalar(ev, b, dt, &y));
    if (op == T_AT && (a.k != V_TENSOR || b.k != V_TENSOR))
        return ev_error(ev, KILN_ERR_TYPE, "'@' needs two tensors");
    kiln_op o;
    switch (op) {
    case T_PLUS: o = KILN_OP_ADD; break;
    case T_MINUS: o = KILN_OP_SUB; break;
    case T_STAR: o = KILN_OP_MUL; break;
    case T_SLASH: o = KILN_OP_DIV; break;
    case T_POW: o = KILN_OP_POW; break;
    case T_PERCENT: o = KILN_OP_MOD; break;
    case T_AT: o = KILN_OP_MATMUL; break;
    case T_EQ: o = KILN_OP_EQ; break;
    case T_NE: o = KILN_OP_NE; break;
    case T_LT: o = KILN_OP_LT; break;
    case T_LE: o = KILN_OP_LE; break;
    case T_GT: o = KILN_OP_GT; break;
    case T_GE: o = KILN_OP_GE; break;
    case T_DSLASH: {
        if (!kiln_dtype_is_float(dt))
            return ev_error(ev, KILN_ERR_TYPE, "'//' on %s tensors is not supported; use '/' ", kiln_dtype_name(dt));
        kiln_value q;
        KILN_TRY(ev_build(ev, KILN_OP_DIV, 2, (kiln_value[]){x, y}, 0, NULL, &q));
        KILN_TRY(ev_build(ev, KILN_OP_FLOOR, 1, &q, 0, NULL, &r));
        *out = v_tensor(r);
        return KILN_OK;
    }
    default: return ev_error(ev, KILN_ERR_TYPE, "%s does not apply to tensors", op_text(op));
    }
    KILN_TRY(ev_build(ev, o, 2, (kiln_value[]){x, y}, 0, NULL, &r));
    *out = v_tensor(r);
    return KILN_OK;
}

static kiln_status list_concat(eval *ev, vlist *a, vlist *b, val *out) {
    if ((int64_t)a->n + b->n > LANG_MAX_LIST) return ev_error(ev, KILN_ERR_LIMIT, "list too long");
    vlist *l = list_new(ev, a->n + b->n);
    if (!l) return ev_oom(ev);
    memcpy(l->v, a->v, sizeof(val) * (size_t)a->n);
    memcpy(l->v + a->n, b->v, sizeof(val) * (size_t)b->n);
    out->k = V_LIST;
    out->l = l;
    return KILN_OK;
}

static kiln_status number_binary(eval *ev, tok_kind op, val a, val b, val *out) {
    int ints = a.k == V_INT && b.k == V_INT;
    int symbolic = (a.k == V_INT && !kiln_dim_is_const(a.i)) || (b.k == V_INT && !kiln_dim_is_const(b.i));
    if (ints && (op == T_PLUS || op == T_MINUS || op == T_STAR || op == T_DSLASH || op == T_PERCENT)) {
        kiln_dim r;
        KILN_TRY(ev_dim_arith(ev, op, a.i, b.i, &r));
        *out = v_int(r);
        return KILN_OK;
    }
    if (symbolic)
        return ev_error(ev, KILN_ERR_TYPE, "%s on a symbolic dimension needs integers and one of + - * //",
                        op_text(op));
    double x = val_number(&a), y = val_number(&b);
    if (ints && op == T_POW && b.i >= 0) {
        int64_t r = 1;
        for (int64_t i = 0; i < b.i; i++) {
            if (__builtin_mul_overflow(r, a.i, &r) || r >= INT_LIMIT || r <= -INT_LIMIT)
                return ev_error(ev, KILN_ERR_LIMIT, "integer overflow");
            if (r == 0 || r == 1) break;
        }
        if (a.i == -1) r = (b.i % 2) ? -1 : 1;
        *out = v_int(r);
        return KILN_OK;
    }
    switch (op) {
    case T_PLUS: *out = v_float(x + y); return KILN_OK;
    case T_MINUS: *out = v_float(x - y); return KILN_OK;
    case T_STAR: *out = v_float(x * y); return KILN_OK;
    case T_SLASH:
        if (y == 0) return ev_error(ev, KILN_ERR_INVALID, "division by zero");
        *out = v_float(x / y);
        return KILN_OK;
    case T_DSLASH:
        if (y == 0) return ev_error(ev, KILN_ERR_INVALID, "division by zero");
        *out = v_float(floor(x / y));
        return KILN_OK;
    case T_PERCENT:
        if (y == 0) return ev_error(ev, KILN_ERR_INVALID, "division by zero");
        *out = v_float(x - floor(x / y) * y);
        return KILN_OK;
    case T_POW: *out = v_float(pow(x, y)); return KILN_OK;
    case T_LT: *out = v_bool(x < y); return KILN_OK;
    case T_LE: *out = v_bool(x <= y); return KILN_OK;
    case T_GT: *out = v_bool(x > y); return KILN_OK;
    case T_GE: *out = v_bool(x >= y); return KILN_OK;
    default: return ev_error(ev, KILN_ERR_TYPE, "%s needs tensors", op_text(op));
    }
}

kiln_status ev_binary(eval *ev, tok_kind op, val a, val b, val *out) {
    /* equality with none, strings, lists... is a compile-time question */
    if ((op == T_EQ || op == T_NE) && !((a.k == V_TENSOR && (val_is_number(&b) || b.k == V_TENSOR || b.k == V_INT)) ||
                                        (b.k == V_TENSOR && (val_is_number(&a) || a.k == V_INT)))) {
        int eq = val_equal(&a, &b);
        *out = v_bool(op == T_EQ ? eq : !eq);
        return KILN_OK;
    }
    if (a.k == V_TENSOR || b.k == V_TENSOR) return tensor_binary(ev, op, a, b, out);
    if (a.k == V_LIST && b.k == V_LIST && op == T_PLUS) return list_concat(ev, a.l, b.l, out);
    if (op == T_STAR && ((a.k == V_LIST && b.k == V_INT) || (a.k == V_INT && b.k == V_LIST))) {
        vlist *l = a.k == V_LIST ? a.l : b.l;
        kiln_dim n = a.k == V_INT ? a.i : b.i;
        if (!kiln_dim_is_const(n) || n < 0) return ev_error(ev, KILN_ERR_TYPE, "a list repeats a non-negative constant number of times");
        if (n * (int64_t)l->n > LANG_MAX_LIST) return ev_error(ev, KILN_ERR_LIMIT, "list too long");
        vlist *r = list_new(ev, (int)(n * l->n));
        if (!r) return ev_oom(ev);
        for (int64_t i = 0; i < n; i++) memcpy(r->v + i * l->n, l->v, sizeof(val) * (size_t)l->n);
        out->k = V_LIST;
        out->l = r;
        return KILN_OK;
    }
    if (a.k == V_STR && b.k == V_STR) {
        if (op == T_PLUS) {
            size_t na = strlen(a.s), nb = strlen(b.s);
            if (na + nb > LANG_MAX_STRING) return ev_error(ev, KILN_ERR_LIMIT, "string too long");
            char *s = arena_alloc(ev->a, na + nb + 1);
            if (!s) return ev_oom(ev);
            memcpy(s, a.s, na);
            memcpy(s + na, b.s, nb);
            *out = v_str(s);
            return KILN_OK;
        }
        int c = strcmp(a.s, b.s);
        switch (op) {
        case T_LT: *out = v_bool(c < 0); return KILN_OK;
        case T_LE: *out = v_bool(c <= 0); return KILN_OK;
        case T_GT: *out = v_bool(c > 0); return KILN_OK;
        case T_GE: *out = v_bool(c >= 0); return KILN_OK;
        default: break;
        }
    }
    int num_a = a.k == V_INT || a.k == V_FLOAT, num_b = b.k == V_INT || b.k == V_FLOAT;
    if (num_a && num_b && op != T_AT) return number_binary(ev, op, a, b, out);
    return ev_error(ev, KILN_ERR_TYPE, "cannot apply %s to a %s and a %s", op_text(op), val_type_name(&a),
                    val_type_name(&b));
}
