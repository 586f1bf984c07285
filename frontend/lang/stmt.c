/* Statements, function calls and the program as a whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

/* ---- calls -------------------------------------------------------------- */
static kiln_status call_fn(eval *ev, const stmt *fn, int nargs, const val *args, const char *const *kw, val *out) {
    const char *name = fn->names[0];
    int nparams = fn->nnames - 1;
    if (ev->depth >= LANG_MAX_CALL_DEPTH)
        return ev_error(ev, KILN_ERR_LIMIT, "recursion too deep: more than %d nested calls (calling '%s')",
                        LANG_MAX_CALL_DEPTH, name);
    if (nparams > 64 || nargs > 64) return ev_error(ev, KILN_ERR_LIMIT, "%s(): more than 64 parameters", name);
    int npos = 0;
    while (npos < nargs && !(kw && kw[npos])) npos++;
    if (npos > nparams)
        return ev_error(ev, KILN_ERR_INVALID, "%s() takes %d argument%s, got %d", name, nparams, nparams == 1 ? "" : "s",
                        npos);
    val bound[64];
    int given[64] = {0};
    for (int i = 0; i < npos; i++) {
        bound[i] = args[i];
        given[i] = 1;
    }
    for (int i = npos; i < nargs; i++) {
        int k = -1;
        for (int j = 0; j < nparams; j++)
            if (fn->names[j + 1] == kw[i]) k = j;
        if (k < 0) return ev_error(ev, KILN_ERR_INVALID, "%s() has no parameter '%s'", name, kw[i]);
        if (given[k]) return ev_error(ev, KILN_ERR_INVALID, "%s() got two values for '%s'", name, kw[i]);
        bound[k] = args[i];
        given[k] = 1;
    }
    for (int j = 0; j < nparams; j++)
        if (!given[j] && !fn->exprs[j])
            return ev_error(ev, KILN_ERR_INVALID, "%s() is missing argument '%s'", name, fn->names[j + 1]);

    frame *fr = &ev->frames[++ev->depth];
    memset(fr, 0, sizeof *fr);
    fr->fn = fn;
    fr->call_file = ev->site_file;
    fr->call_line = ev->site_line;
    fr->call_col = ev->site_col;
    kiln_status st = KILN_OK;
    for (int j = 0; j < nparams && !st; j++) {
        val v = bound[j];
        if (!given[j]) st = eval_expr(ev, fn->exprs[j], &v); /* defaults see globals and earlier parameters */
        if (!st) st = ev_assign(ev, fn->names[j + 1], v);
    }
    if (!st) st = eval_block(ev, &fn->body);
    val r = (!st && ev->returning) ? ev->retval : v_none();
    ev->returning = 0;
    ev->retval = v_none();
    *out = r;
    ev->depth--;
    return st;
}

kiln_status ev_call(eval *ev, val fnv, int nargs, const val *args, const char *const *kw, val *out) {
    if (fnv.k == V_FN) return call_fn(ev, fnv.fn, nargs, args, kw, out);
    if (fnv.k == V_BUILTIN) {
        if (fnv.bi >= 0) return lang_builtins[fnv.bi].fn(ev, nargs, args, kw, out);
        return ev_call_op(ev, (kiln_op)(-fnv.bi - 1), nargs, args, kw, out);
    }
    return ev_error(ev, KILN_ERR_TYPE, "a %s is not a function", val_type_name(&fnv));
}

/* ---- statements --------------------------------------------------------- */
static kiln_status const_int(eval *ev, const expr *e, const char *what, int64_t *out) {
    val v;
    KILN_TRY(eval_expr(ev, e, &v));
    if (v.k != V_INT || !kiln_dim_is_const(v.i))
        return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_TYPE, "%s must be a constant integer, got %s", what,
                           v.k == V_INT ? "a symbolic dimension" : val_type_name(&v));
    *out = v.i;
    return KILN_OK;
}

static kiln_status exec_for(eval *ev, const stmt *s) {
    const char *var = s->names[0];
    if (s->is_range) {
        int64_t a = 0, b = 0;
        KILN_TRY(const_int(ev, s->e, "a range start", &a));
        KILN_TRY(const_int(ev, s->e2, "a range end", &b));
        for (int64_t i = a; i < b; i++) {
            ev_set_loc(ev, s->file, s->line, s->col);
            KILN_TRY(ev_step(ev));
            KILN_TRY(ev_assign(ev, var, v_int(i)));
            KILN_TRY(eval_block(ev, &s->body));
            if (ev->returning) break;
        }
        return KILN_OK;
    }
    val it;
    KILN_TRY(eval_expr(ev, s->e, &it));
    if (it.k != V_LIST)
        return ev_error_at(ev, s->e->file, s->e->line, s->e->col, KILN_ERR_TYPE,
                           "'for' needs a list or a range a..b, got %s", val_type_name(&it));
    for (int i = 0; i < it.l->n; i++) {
        ev_set_loc(ev, s->file, s->line, s->col);
        KILN_TRY(ev_step(ev));
        KILN_TRY(ev_assign(ev, var, it.l->v[i]));
        KILN_TRY(eval_block(ev, &s->body));
        if (ev->returning) break;
    }
    return KILN_OK;
}

static kiln_status exec_input(eval *ev, const stmt *s) {
    val dt;
    const expr *de = s->e2;
    ev_set_loc(ev, de->file, de->line, de->col);
    val *dv = ev_lookup(ev, de->s);
    if (dv) dt = *dv;
    else if (!ev_builtin_find(ev, de->s, &dt)) dt = v_none();
    if (dt.k != V_DTYPE)
        return ev_error(ev, KILN_ERR_TYPE, "'%s' is not a dtype (use f32, f16, bf16, f64, i8, i16, i32, i64, u8 or bool)",
                        de->s);
    kiln_shape shape;
    shape.rank = s->nexprs;
    ev->dims_mode = 1;
    for (int i = 0; i < s->nexprs; i++) {
        val d;
        kiln_status st = eval_expr(ev, s->exprs[i], &d);
        if (st) {
            ev->dims_mode = 0;
            return st;
        }
        if (d.k != V_INT || (kiln_dim_is_const(d.i) && d.i < 0)) {
            ev->dims_mode = 0;
            return ev_error_at(ev, s->exprs[i]->file, s->exprs[i]->line, s->exprs[i]->col, KILN_ERR_TYPE,
                               "an input dimension must be a non-negative integer or a symbol, got %s",
                               d.k == V_INT ? "a negative integer" : val_type_name(&d));
        }
        shape.dims[i] = d.i;
    }
    ev->dims_mode = 0;
    val dflt = v_none();
    if (s->e3) {
        KILN_TRY(eval_expr(ev, s->e3, &dflt));
        if (!val_is_number(&dflt))
            return ev_error_at(ev, s->e3->file, s->e3->line, s->e3->col, KILN_ERR_TYPE,
                               "an input's default must be a number, got %s", val_type_name(&dflt));
    }
    ev_set_loc(ev, s->file, s->line, s->col);
    kiln_graph_set_loc(ev->g, (kiln_loc){s->file->name, s->line, s->col});
    kiln_value v;
    KILN_TRY(ev_charge_names(ev));
    KILN_TRY(ev_wrap(ev, kiln_graph_add_input(ev->g, s->names[0], dt.dt, &shape, &v)));
    if (dflt.k != V_NONE) {
        kiln_node *n = kiln_graph_node(ev->g, v);
        n->attrs[0].kind = KILN_ATTR_FLOAT;
        n->attrs[0].f = val_number(&dflt);
    }
    return ev_set_global(ev, s->names[0], v_tensor(v));
}

static kiln_status exec_weights(eval *ev, const stmt *s) {
    val p;
    KILN_TRY(eval_expr(ev, s->e, &p));
    ev_set_loc(ev, s->file, s->line, s->col);
    if (p.k != V_STR || !p.s[0]) return ev_error(ev, KILN_ERR_TYPE, "'weights' needs a file name");
    if (ev->weights_path) return ev_error(ev, KILN_ERR_INVALID, "'weights' is given twice");
    const char *src = ev->opt ? ev->opt->source_path : NULL;
    const char *slash = src ? strrchr(src, '/') : NULL;
    size_t dirlen = (p.s[0] != '/' && slash) ? (size_t)(slash - src) + 1 : 0;
    ev->weights_path = malloc(dirlen + strlen(p.s) + 1);
    if (!ev->weights_path) return ev_oom(ev);
    if (dirlen) memcpy(ev->weights_path, src, dirlen);
    strcpy(ev->weights_path + dirlen, p.s);
    return KILN_OK;
}

static kiln_status exec(eval *ev, const stmt *s) {
    ev_set_loc(ev, s->file, s->line, s->col);
    KILN_TRY(ev_step(ev));
    val v;
    switch (s->k) {
    case S_EXPR: return eval_expr(ev, s->e, &v);
    case S_ASSIGN:
        KILN_TRY(eval_expr(ev, s->e, &v));
        if (s->nnames == 1) return ev_assign(ev, s->names[0], v);
        ev_set_loc(ev, s->file, s->line, s->col);
        if (v.k != V_LIST)
            return ev_error(ev, KILN_ERR_TYPE, "cannot unpack a %s into %d names", val_type_name(&v), s->nnames);
        if (v.l->n != s->nnames)
            return ev_error(ev, KILN_ERR_INVALID, "expected %d values to unpack, got %d", s->nnames, v.l->n);
        for (int i = 0; i < s->nnames; i++) KILN_TRY(ev_assign(ev, s->names[i], v.l->v[i]));
        return KILN_OK;
    case S_CONFIG:
        for (int i = 0; i < s->nnames; i++) {
            val d;
            KILN_TRY(eval_expr(ev, s->exprs[i], &d));
            ev_set_loc(ev, s->file, s->name_line[i], s->name_col[i]);
            KILN_TRY(config_entry(ev, s, i, d, &v));
            KILN_TRY(ev_set_global(ev, s->names[i], v));
        }
        return KILN_OK;
    case S_WEIGHTS: return exec_weights(ev, s);
    case S_INPUT: return exec_input(ev, s);
    case S_OUTPUT:
        KILN_TRY(eval_expr(ev, s->e, &v));
        ev_set_loc(ev, s->file, s->line, s->col);
        if (v.k != V_TENSOR)
            return ev_error(ev, KILN_ERR_TYPE, "output '%s' must be a tensor, got %s", s->names[0], val_type_name(&v));
        KILN_TRY(ev_charge_names(ev));
        return ev_wrap(ev, kiln_graph_add_output(ev->g, s->names[0], v.t));
    case S_FN: return KILN_OK; /* hoisted */
    case S_RETURN:
        v = v_none();
        if (s->e) KILN_TRY(eval_expr(ev, s->e, &v));
        ev->retval = v;
        ev->returning = 1;
        return KILN_OK;
    case S_FOR: return exec_for(ev, s);
    case S_IF: {
        KILN_TRY(eval_expr(ev, s->e, &v));
        int t;
        if (v.k == V_TENSOR)
            return ev_error_at(ev, s->e->file, s->e->line, s->e->col, KILN_ERR_TYPE,
                               "an 'if' condition must be known at compile time; use where(cond, a, b) for tensors");
        if (!val_truthy(ev, v, &t))
            return ev_error_at(ev, s->e->file, s->e->line, s->e->col, KILN_ERR_TYPE,
                               "a symbolic dimension has no truth value");
        return eval_block(ev, t ? &s->body : &s->orelse);
    }
    }
    return ev_error(ev, KILN_ERR_INTERNAL, "unknown statement");
}

kiln_status eval_block(eval *ev, const block *b) {
    if (++ev->cdepth > LANG_MAX_EVAL_DEPTH) {
        ev->cdepth--;
        return ev_error(ev, KILN_ERR_LIMIT, "evaluation nested too deeply");
    }
    kiln_status st = KILN_OK;
    for (int i = 0; i < b->n && !st && !ev->returning; i++) st = exec(ev, b->s[i]);
    ev->cdepth--;
    return st;
}

/* Functions are hoisted so that a file may call ones defined further down. */
kiln_status eval_program(eval *ev, const program *p) {
    for (int i = 0; i < p->top.n; i++) {
        const stmt *s = p->top.s[i];
        if (s->k != S_FN) continue;
        val *old = ev_lookup(ev, s->names[0]);
        if (old && old->k == V_FN && old->fn->file == s->file)
            return ev_error_at(ev, s->file, s->line, s->col, KILN_ERR_INVALID,
                               "function '%s' is defined twice (first at line %d)", s->names[0], old->fn->line);
        val v = v_none();
        v.k = V_FN;
        v.fn = s;
        KILN_TRY(ev_set_global(ev, s->names[0], v));
    }
    return eval_block(ev, &p->top);
}
