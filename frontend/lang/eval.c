/* The evaluator's core: locations and errors, name tables, expressions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

/* ---- locations and errors ----------------------------------------------- */
void ev_set_loc(eval *ev, const src_file *f, int line, int col) {
    if (!f || f->is_prelude) return; /* prelude code reports its caller's line */
    ev->loc_file = f;
    ev->loc_line = line;
    ev->loc_col = col;
}

/* " (in f, called from FILE:LINE:COL; in g, called from ...)" */
static void call_chain(eval *ev, char *buf, size_t cap) {
    size_t n = 0;
    int shown = 0;
    buf[0] = 0;
    for (int d = ev->depth; d >= 1; d--) {
        const frame *fr = &ev->frames[d];
        if (!fr->call_file || fr->call_file->is_prelude) continue;
        if (shown == 6) {
            n += (size_t)snprintf(buf + n, cap - n, "; ...");
            break;
        }
        int w = snprintf(buf + n, cap - n, "%s%s, called from %s:%d:%d", shown ? "; in " : " (in ", fr->fn->names[0],
                         fr->call_file->name, fr->call_line, fr->call_col);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
        shown++;
    }
    if (shown && n + 2 < cap) {
        buf[n++] = ')';
        buf[n] = 0;
    }
}

static kiln_status verror(eval *ev, const src_file *f, int line, int col, kiln_code code, const char *fmt, va_list ap) {
    char msg[1024], chain[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    call_chain(ev, chain, sizeof chain);
    if (f && f->is_prelude) {
        f = ev->loc_file;
        line = ev->loc_line;
        col = ev->loc_col;
    }
    if (!f) return kiln_error(code, "%s%s", msg, chain);
    return kiln_error(code, "%s:%d:%d: %s%s", f->name, line, col, msg, chain);
}

kiln_status ev_error_at(eval *ev, const src_file *f, int line, int col, kiln_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = verror(ev, f, line, col, code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status ev_error(eval *ev, kiln_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = verror(ev, ev->loc_file, ev->loc_line, ev->loc_col, code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status ev_oom(eval *ev) {
    return ev_error(ev, KILN_ERR_LIMIT, "memory limit exceeded (%zu MiB) while evaluating", LANG_MAX_MEMORY >> 20);
}

kiln_status ev_wrap(eval *ev, kiln_status s) {
    if (!s) return s;
    char loc[512] = "", chain[1024];
    if (ev->loc_file) snprintf(loc, sizeof loc, "%s:%d:%d", ev->loc_file->name, ev->loc_line, ev->loc_col);
    call_chain(ev, chain, sizeof chain);
    const char *m = kiln_status_message(s);
    kiln_status r;
    if (!loc[0] || strncmp(m, loc, strlen(loc)) == 0) r = kiln_error(kiln_status_code(s), "%s%s", m, chain);
    else r = kiln_error(kiln_status_code(s), "%s: %s%s", loc, m, chain);
    kiln_status_free(s);
    return r;
}

/* ---- name tables (open addressing keyed by interned pointer) ----------- */
static size_t ptr_hash(const char *p) {
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return (size_t)x;
}

static binding *table_find(binding *t, size_t cap, const char *name) {
    if (!cap) return NULL;
    size_t j = ptr_hash(name) & (cap - 1);
    while (t[j].name) {
        if (t[j].name == name) return &t[j];
        j = (j + 1) & (cap - 1);
    }
    return NULL;
}

static int table_put(binding **t, size_t *cap, size_t *count, const char *name, val v) {
    binding *b = table_find(*t, *cap, name);
    if (b) {
        b->v = v;
        return 1;
    }
    if ((*count + 1) * 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        binding *nt = calloc(ncap, sizeof *nt);
        if (!nt) return 0;
        for (size_t i = 0; i < *cap; i++) {
            if (!(*t)[i].name) continue;
            size_t j = ptr_hash((*t)[i].name) & (ncap - 1);
            while (nt[j].name) j = (j + 1) & (ncap - 1);
            nt[j] = (*t)[i];
        }
        free(*t);
        *t = nt;
        *cap = ncap;
    }
    size_t j = ptr_hash(name) & (*cap - 1);
    while ((*t)[j].name) j = (j + 1) & (*cap - 1);
    (*t)[j].name = name;
    (*t)[j].v = v;
    (*count)++;
    return 1;
}

kiln_status ev_set_global(eval *ev, const char *name, val v) {
    if (!table_put(&ev->globals, &ev->gcap, &ev->gcount, name, v)) return ev_oom(ev);
    return KILN_OK;
}

kiln_status ev_set_builtin(eval *ev, const char *name, val v) {
    if (!table_put(&ev->builtins, &ev->bcap, &ev->bcount, name, v)) return ev_oom(ev);
    return KILN_OK;
}

int ev_builtin_find(eval *ev, const char *name, val *out) {
    binding *b = table_find(ev->builtins, ev->bcap, name);
    if (!b) return 0;
    *out = b->v;
    return 1;
}

val *ev_lookup(eval *ev, const char *name) {
    if (ev->depth > 0) {
        scope *sc = &ev->frames[ev->depth].locals;
        for (int i = sc->n - 1; i >= 0; i--)
            if (sc->b[i].name == name) return &sc->b[i].v;
    }
    binding *b = table_find(ev->globals, ev->gcap, name);
    return b ? &b->v : NULL;
}

kiln_status ev_assign(eval *ev, const char *name, val v) {
    if (ev->depth == 0) return ev_set_global(ev, name, v);
    scope *sc = &ev->frames[ev->depth].locals;
    for (int i = 0; i < sc->n; i++)
        if (sc->b[i].name == name) {
            sc->b[i].v = v;
            return KILN_OK;
        }
    if (sc->n == sc->cap) {
        int cap = sc->cap ? sc->cap * 2 : 8;
        binding *nb = arena_alloc(ev->a, sizeof *nb * (size_t)cap);
        if (!nb) return ev_oom(ev);
        if (sc->n) memcpy(nb, sc->b, sizeof *nb * (size_t)sc->n);
        sc->b = nb;
        sc->cap = cap;
    }
    sc->b[sc->n].name = name;
    sc->b[sc->n].v = v;
    sc->n++;
    return KILN_OK;
}

/* ---- expressions -------------------------------------------------------- */
static kiln_status step(eval *ev) {
    if (++ev->steps > ev->max_steps)
        return ev_error(ev, KILN_ERR_LIMIT, "evaluation limit exceeded (%lld steps; an endless loop?)",
                        (long long)ev->max_steps);
    return KILN_OK;
}

static kiln_status eval_string(eval *ev, const expr *e, val *out) {
    if (e->n == 0) {
        *out = v_str(e->s);
        return KILN_OK;
    }
    size_t len = 0, cap = 64;
    char *buf = malloc(cap);
    if (!buf) return ev_oom(ev);
    kiln_status st = KILN_OK;
    for (int i = 0; i < e->n && !st; i++) {
        const char *piece;
        const expr *part = e->items[i];
        if (part->k == X_STR && part->n == 0) {
            piece = part->s;
        } else {
            val v;
            st = eval_expr(ev, part, &v);
            if (!st) st = val_to_str(ev, v, 0, &piece);
            if (st) break;
        }
        size_t n = strlen(piece);
        if (len + n + 1 > LANG_MAX_STRING) {
            st = ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_LIMIT, "string too long (more than %d bytes)",
                             LANG_MAX_STRING);
            break;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                st = ev_oom(ev);
                break;
            }
            buf = nb;
        }
        memcpy(buf + len, piece, n);
        len += n;
    }
    if (!st) {
        char *s = arena_strndup(ev->a, buf, len);
        if (!s) st = ev_oom(ev);
        else *out = v_str(s);
    }
    free(buf);
    return st;
}

static kiln_status eval_name(eval *ev, const expr *e, val *out) {
    val *v = ev_lookup(ev, e->s);
    if (v) {
        *out = *v;
        return KILN_OK;
    }
    if (ev_builtin_find(ev, e->s, out)) return KILN_OK;
    return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_NOT_FOUND, "unknown name '%s'", e->s);
}

static kiln_status eval_call(eval *ev, const expr *e, val *out) {
    val fn;
    KILN_TRY(eval_expr(ev, e->a, &fn));
    val argv[64];
    if (e->n > 64) return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_LIMIT, "more than 64 arguments in one call");
    for (int i = 0; i < e->n; i++) KILN_TRY(eval_expr(ev, e->items[i], &argv[i]));
    ev_set_loc(ev, e->file, e->line, e->col);
    const src_file *sf = ev->site_file;
    int sl = ev->site_line, sc = ev->site_col;
    ev->site_file = e->file;
    ev->site_line = e->line;
    ev->site_col = e->col;
    kiln_status st = ev_call(ev, fn, e->n, argv, e->kw, out);
    ev->site_file = sf;
    ev->site_line = sl;
    ev->site_col = sc;
    return st;
}

static kiln_status eval_inner(eval *ev, const expr *e, val *out) {
    val a, b;
    int t;
    switch (e->k) {
    case X_INT: *out = v_int(e->ival); return KILN_OK;
    case X_FLOAT: *out = v_float(e->fval); return KILN_OK;
    case X_BOOL: *out = v_bool((int)e->ival); return KILN_OK;
    case X_NONE: *out = v_none(); return KILN_OK;
    case X_STR: return eval_string(ev, e, out);
    case X_NAME:
        if (ev->dims_mode && !ev_lookup(ev, e->s) && !ev_builtin_find(ev, e->s, out)) {
            /* an undefined name in an input's dims declares a symbol */
            *out = v_int(kiln_dim_symbol(ev->g, e->s));
            if (out->i == KILN_DIM_INVALID) return ev_oom(ev);
            KILN_TRY(ev_check_dim(ev, out->i));
            return ev_set_global(ev, e->s, *out);
        }
        return eval_name(ev, e, out);
    case X_LIST: {
        vlist *l = list_new(ev, e->n);
        if (!l) return ev_oom(ev);
        for (int i = 0; i < e->n; i++) KILN_TRY(eval_expr(ev, e->items[i], &l->v[i]));
        out->k = V_LIST;
        out->l = l;
        return KILN_OK;
    }
    case X_NEG:
        KILN_TRY(eval_expr(ev, e->a, &a));
        ev_set_loc(ev, e->file, e->line, e->col);
        if (a.k == V_INT) {
            kiln_dim r;
            KILN_TRY(ev_dim_arith(ev, T_STAR, a.i, -1, &r));
            *out = v_int(r);
        } else if (a.k == V_FLOAT) {
            *out = v_float(-a.f);
        } else if (a.k == V_TENSOR) {
            kiln_value r;
            KILN_TRY(ev_build(ev, KILN_OP_NEG, 1, &a.t, 0, NULL, &r));
            *out = v_tensor(r);
        } else {
            return ev_error(ev, KILN_ERR_TYPE, "cannot negate a %s", val_type_name(&a));
        }
        return KILN_OK;
    case X_NOT:
        KILN_TRY(eval_expr(ev, e->a, &a));
        ev_set_loc(ev, e->file, e->line, e->col);
        if (a.k == V_TENSOR) return ev_error(ev, KILN_ERR_TYPE, "'not' needs a compile-time value; use logical_not(x) for tensors");
        if (!val_truthy(ev, a, &t)) return ev_error(ev, KILN_ERR_TYPE, "a symbolic dimension has no truth value");
        *out = v_bool(!t);
        return KILN_OK;
    case X_AND:
    case X_OR:
        KILN_TRY(eval_expr(ev, e->a, &a));
        ev_set_loc(ev, e->file, e->line, e->col);
        if (a.k == V_TENSOR)
            return ev_error(ev, KILN_ERR_TYPE, "'%s' needs compile-time values; use logical_%s(a, b) for tensors",
                            e->k == X_AND ? "and" : "or", e->k == X_AND ? "and" : "or");
        if (!val_truthy(ev, a, &t)) return ev_error(ev, KILN_ERR_TYPE, "a symbolic dimension has no truth value");
        if ((e->k == X_AND && !t) || (e->k == X_OR && t)) {
            *out = a;
            return KILN_OK;
        }
        KILN_TRY(eval_expr(ev, e->b, &b));
        if (b.k == V_TENSOR)
            return ev_error_at(ev, e->b->file, e->b->line, e->b->col, KILN_ERR_TYPE,
                               "'%s' needs compile-time values; use logical_%s(a, b) for tensors",
                               e->k == X_AND ? "and" : "or", e->k == X_AND ? "and" : "or");
        *out = b;
        return KILN_OK;
    case X_COND:
        KILN_TRY(eval_expr(ev, e->b, &b));
        if (b.k == V_TENSOR)
            return ev_error_at(ev, e->b->file, e->b->line, e->b->col, KILN_ERR_TYPE,
                               "the condition of 'a if cond else b' must be known at compile time; use where(cond, a, b) for tensors");
        if (!val_truthy(ev, b, &t))
            return ev_error_at(ev, e->b->file, e->b->line, e->b->col, KILN_ERR_TYPE, "a symbolic dimension has no truth value");
        return eval_expr(ev, t ? e->a : e->c, out);
    case X_BIN:
        KILN_TRY(eval_expr(ev, e->a, &a));
        KILN_TRY(eval_expr(ev, e->b, &b));
        ev_set_loc(ev, e->file, e->line, e->col);
        return ev_binary(ev, e->op, a, b, out);
    case X_CALL: return eval_call(ev, e, out);
    case X_INDEX:
        KILN_TRY(eval_expr(ev, e->a, &a));
        return ev_index(ev, a, e->n, (const expr *const *)e->items, out);
    case X_SLICE:
    case X_ELLIPSIS:
        return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_FORMAT, "'%s' may only appear inside [ ]",
                           e->k == X_SLICE ? ":" : "...");
    }
    return ev_error_at(ev, e->file, e->line, e->col, KILN_ERR_INTERNAL, "unknown expression");
}

kiln_status eval_expr(eval *ev, const expr *e, val *out) {
    ev_set_loc(ev, e->file, e->line, e->col);
    KILN_TRY(step(ev));
    if (++ev->cdepth > LANG_MAX_EVAL_DEPTH) {
        ev->cdepth--;
        return ev_error(ev, KILN_ERR_LIMIT, "evaluation nested too deeply");
    }
    kiln_status st = eval_inner(ev, e, out);
    ev->cdepth--;
    return st;
}

kiln_status ev_step(eval *ev) { return step(ev); }
