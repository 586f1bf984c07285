/* Symbolic dims: polynomials over named symbols, kept in a canonical form
 * and interned per graph so that equal expressions get equal handles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

int kiln_graph_symbol_count(const kiln_graph *g) { return g->nsyms; }
const char *kiln_graph_symbol_name(const kiln_graph *g, int i) { return i >= 0 && i < g->nsyms ? g->syms[i] : "?"; }

int kiln_graph_symbol_find(const kiln_graph *g, const char *name) {
    for (int i = 0; i < g->nsyms; i++)
        if (strcmp(g->syms[i], name) == 0) return i;
    return -1;
}

const dim_expr *graph_dim_expr(const kiln_graph *g, kiln_dim d) {
    if (d < KILN_DIM_SYM_BASE) return NULL;
    int64_t i = d - KILN_DIM_SYM_BASE;
    return i < g->ndexprs ? &g->dexprs[i] : NULL;
}

static int term_cmp(const dim_term *a, const dim_term *b) {
    if (a->nf != b->nf) return a->nf - b->nf;
    for (int i = 0; i < a->nf; i++)
        if (a->f[i] != b->f[i]) return a->f[i] < b->f[i] ? -1 : 1;
    return 0;
}

/* Intern an expression already in canonical form. */
static kiln_dim intern(kiln_graph *g, const dim_expr *e) {
    if (e->nt == 0) return e->c;
    int found = graph_index_find_dim(g, e);
    if (found >= 0) return KILN_DIM_SYM_BASE + found;
    if (g->ndexprs == g->dcap) {
        int cap = g->dcap ? g->dcap * 2 : 16;
        dim_expr *p = realloc(g->dexprs, (size_t)cap * sizeof *p);
        if (!p) return KILN_DIM_INVALID;
        g->dexprs = p;
        g->dcap = cap;
    }
    g->dexprs[g->ndexprs] = *e;
    g->ndexprs++;
    if (!graph_index_add_dim(g, g->ndexprs - 1)) {
        g->ndexprs--;
        return KILN_DIM_INVALID;
    }
    return KILN_DIM_SYM_BASE + g->ndexprs - 1;
}

/* Expression view of any dim (constants become c-only expressions). */
static int to_expr(const kiln_graph *g, kiln_dim d, dim_expr *out) {
    if (d == KILN_DIM_INVALID) return 0;
    const dim_expr *e = graph_dim_expr(g, d);
    if (e) {
        *out = *e;
        return 1;
    }
    if (d >= KILN_DIM_SYM_BASE) return 0;
    memset(out, 0, sizeof *out);
    out->c = d;
    return 1;
}

/* Checked arithmetic: 0 on overflow or when a constant would leave the
 * range constant dims have (below KILN_DIM_SYM_BASE in magnitude), so
 * hostile shapes give KILN_DIM_INVALID instead of wrapping. */
static int dim_ok(int64_t v) { return v < KILN_DIM_SYM_BASE && v > -KILN_DIM_SYM_BASE; }
static int add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r) && dim_ok(*r); }
static int mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r) && dim_ok(*r); }

/* Sort terms, merge equal ones, drop zeros. Returns 0 if too many terms. */
static int canonicalize(dim_term *terms, int n, int64_t c, dim_expr *out) {
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && term_cmp(&terms[j - 1], &terms[j]) > 0; j--) {
            dim_term t = terms[j];
            terms[j] = terms[j - 1];
            terms[j - 1] = t;
        }
    memset(out, 0, sizeof *out);
    out->c = c;
    for (int i = 0; i < n; i++) {
        if (out->nt && term_cmp(&out->t[out->nt - 1], &terms[i]) == 0) {
            if (!add_ok(out->t[out->nt - 1].coef, terms[i].coef, &out->t[out->nt - 1].coef)) return 0;
            if (out->t[out->nt - 1].coef == 0) out->nt--;
            continue;
        }
        if (terms[i].coef == 0) continue;
        if (out->nt == DIM_MAX_TERMS) return 0;
        out->t[out->nt++] = terms[i];
    }
    return 1;
}

kiln_dim kiln_dim_symbol(kiln_graph *g, const char *name) {
    int id = kiln_graph_symbol_find(g, name);
    if (id < 0) {
        if (g->nsyms == g->symcap) {
            int cap = g->symcap ? g->symcap * 2 : 8;
            const char **p = realloc(g->syms, (size_t)cap * sizeof *p);
            if (!p) return KILN_DIM_INVALID;
            g->syms = p;
            g->symcap = cap;
        }
        const char *s = kiln_graph_intern(g, name);
        if (!s) return KILN_DIM_INVALID;
        id = g->nsyms;
        g->syms[g->nsyms++] = s;
    }
    dim_expr e;
    memset(&e, 0, sizeof e);
    e.nt = 1;
    e.t[0].coef = 1;
    e.t[0].nf = 1;
    e.t[0].f[0] = id;
    return intern(g, &e);
}

static kiln_dim add_scaled(kiln_graph *g, kiln_dim a, kiln_dim b, int64_t sign) {
    int64_t v;
    if (kiln_dim_is_const(a) && kiln_dim_is_const(b)) return add_ok(a, sign * b, &v) ? v : KILN_DIM_INVALID;
    dim_expr ea, eb, r;
    if (!to_expr(g, a, &ea) || !to_expr(g, b, &eb)) return KILN_DIM_INVALID;
    dim_term terms[2 * DIM_MAX_TERMS];
    int n = 0;
    for (int i = 0; i < ea.nt; i++) terms[n++] = ea.t[i];
    for (int i = 0; i < eb.nt; i++) {
        terms[n] = eb.t[i];
        terms[n++].coef *= sign; /* coefficients stay below 2^62: no overflow */
    }
    if (!add_ok(ea.c, sign * eb.c, &v) || !canonicalize(terms, n, v, &r)) return KILN_DIM_INVALID;
    return intern(g, &r);
}

kiln_dim kiln_dim_add(kiln_graph *g, kiln_dim a, kiln_dim b) { return add_scaled(g, a, b, 1); }
kiln_dim kiln_dim_sub(kiln_graph *g, kiln_dim a, kiln_dim b) { return add_scaled(g, a, b, -1); }

/* Product of two terms; 0 when the factor count overflows. */
static int term_mul(const dim_term *a, const dim_term *b, dim_term *out) {
    if (a->nf + b->nf > DIM_MAX_FACTORS) return 0;
    if (!mul_ok(a->coef, b->coef, &out->coef)) return 0;
    out->nf = 0;
    int i = 0, j = 0;
    while (i < a->nf || j < b->nf) {
        if (j >= b->nf || (i < a->nf && a->f[i] <= b->f[j])) out->f[out->nf++] = a->f[i++];
        else out->f[out->nf++] = b->f[j++];
    }
    return 1;
}

kiln_dim kiln_dim_mul(kiln_graph *g, kiln_dim a, kiln_dim b) {
    int64_t v;
    if (kiln_dim_is_const(a) && kiln_dim_is_const(b)) return mul_ok(a, b, &v) ? v : KILN_DIM_INVALID;
    dim_expr ea, eb, r;
    if (!to_expr(g, a, &ea) || !to_expr(g, b, &eb)) return KILN_DIM_INVALID;
    /* treat the constant as a term with no factors */
    dim_term ta[DIM_MAX_TERMS + 1], tb[DIM_MAX_TERMS + 1];
    int na = 0, nb = 0;
    for (int i = 0; i < ea.nt; i++) ta[na++] = ea.t[i];
    if (ea.c) ta[na++] = (dim_term){ea.c, 0, {0}};
    for (int i = 0; i < eb.nt; i++) tb[nb++] = eb.t[i];
    if (eb.c) tb[nb++] = (dim_term){eb.c, 0, {0}};
    dim_term prod[(DIM_MAX_TERMS + 1) * (DIM_MAX_TERMS + 1)];
    int n = 0;
    int64_t c = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            dim_term t;
            if (!term_mul(&ta[i], &tb[j], &t)) return KILN_DIM_INVALID;
            if (t.nf == 0) {
                if (!add_ok(c, t.coef, &c)) return KILN_DIM_INVALID;
            } else {
                prod[n++] = t;
            }
        }
    if (!canonicalize(prod, n, c, &r)) return KILN_DIM_INVALID;
    return intern(g, &r);
}

/* Remove the factors of m from t; 0 if t lacks one of them. */
static int term_div(const dim_term *t, const dim_term *m, dim_term *out) {
    if (m->coef == 0 || t->coef % m->coef) return 0;
    *out = *t;
    out->coef = t->coef / m->coef;
    for (int k = 0; k < m->nf; k++) {
        int found = -1;
        for (int i = 0; i < out->nf; i++)
            if (out->f[i] == m->f[k]) {
                found = i;
                break;
            }
        if (found < 0) return 0;
        memmove(&out->f[found], &out->f[found + 1], (size_t)(out->nf - found - 1) * sizeof out->f[0]);
        out->nf--;
    }
    return 1;
}

kiln_status kiln_dim_div(kiln_graph *g, kiln_dim a, kiln_dim b, kiln_dim *out) {
    char sa[128], sb[128];
    if (kiln_dim_is_const(a) && kiln_dim_is_const(b)) {
        if (b == 0 || a % b) return kiln_error(KILN_ERR_SHAPE, "%lld is not divisible by %lld", (long long)a, (long long)b);
        *out = a / b;
        return KILN_OK;
    }
    dim_expr ea, eb;
    if (!to_expr(g, a, &ea) || !to_expr(g, b, &eb)) return kiln_error(KILN_ERR_SHAPE, "invalid dimension");
    /* the divisor must be a single monomial (or a constant) */
    dim_term m;
    if (eb.nt == 0) m = (dim_term){eb.c, 0, {0}};
    else if (eb.nt == 1 && eb.c == 0) m = eb.t[0];
    else goto fail;
    dim_term terms[DIM_MAX_TERMS];
    int n = 0;
    int64_t c = 0;
    if (ea.c) {
        if (m.nf || m.coef == 0 || ea.c % m.coef) goto fail;
        c = ea.c / m.coef;
    }
    for (int i = 0; i < ea.nt; i++) {
        dim_term t;
        if (!term_div(&ea.t[i], &m, &t)) goto fail;
        if (t.nf == 0) c += t.coef;
        else terms[n++] = t;
    }
    dim_expr r;
    if (!canonicalize(terms, n, c, &r)) goto fail;
    *out = intern(g, &r);
    return KILN_OK;
fail:
    return kiln_error(KILN_ERR_SHAPE, "cannot divide %s by %s exactly", kiln_dim_str(g, a, sa, sizeof sa),
                      kiln_dim_str(g, b, sb, sizeof sb));
}

kiln_status kiln_dim_eval(const kiln_graph *g, kiln_dim d, const int64_t *symvals, int64_t *out) {
    if (kiln_dim_is_const(d)) {
        *out = d;
        return KILN_OK;
    }
    const dim_expr *e = graph_dim_expr(g, d);
    if (!e) return kiln_error(KILN_ERR_INVALID, "invalid dimension handle");
    int64_t v = e->c;
    for (int i = 0; i < e->nt; i++) {
        int64_t t = e->t[i].coef;
        for (int k = 0; k < e->t[i].nf; k++) {
            int s = e->t[i].f[k];
            if (!symvals || symvals[s] < 0)
                return kiln_error(KILN_ERR_SHAPE, "symbol '%s' has no value", kiln_graph_symbol_name(g, s));
            t *= symvals[s];
        }
        v += t;
    }
    *out = v;
    return KILN_OK;
}

const char *kiln_dim_str(const kiln_graph *g, kiln_dim d, char *buf, size_t cap) {
    if (cap == 0) return buf;
    buf[0] = 0;
    if (d == KILN_DIM_INVALID) {
        snprintf(buf, cap, "<invalid>");
        return buf;
    }
    if (kiln_dim_is_const(d)) {
        snprintf(buf, cap, "%lld", (long long)d);
        return buf;
    }
    const dim_expr *e = graph_dim_expr(g, d);
    if (!e) {
        snprintf(buf, cap, "<invalid>");
        return buf;
    }
    size_t o = 0;
#define PUT(...) (o += o < cap ? (size_t)snprintf(buf + o, cap - o, __VA_ARGS__) : 0)
    for (int i = 0; i < e->nt; i++) {
        int64_t coef = e->t[i].coef;
        if (i > 0) PUT(coef < 0 ? " - " : " + ");
        else if (coef < 0) PUT("-");
        int64_t mag = coef < 0 ? -coef : coef;
        if (mag != 1) PUT("%lld*", (long long)mag);
        for (int k = 0; k < e->t[i].nf; k++) PUT("%s%s", k ? "*" : "", kiln_graph_symbol_name(g, e->t[i].f[k]));
    }
    if (e->c > 0) PUT(" + %lld", (long long)e->c);
    else if (e->c < 0) PUT(" - %lld", (long long)-e->c);
#undef PUT
    return buf;
}

const char *kiln_shape_str(const kiln_graph *g, const kiln_shape *s, char *buf, size_t cap) {
    size_t o = 0;
    char d[128];
    if (cap == 0) return buf;
    o += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < s->rank && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", kiln_dim_str(g, s->dims[i], d, sizeof d));
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

int kiln_shape_equal(const kiln_shape *a, const kiln_shape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

kiln_dim kiln_shape_numel_dim(kiln_graph *g, const kiln_shape *s) {
    kiln_dim n = 1;
    for (int i = 0; i < s->rank; i++) n = kiln_dim_mul(g, n, s->dims[i]);
    return n;
}

int kiln_shape_is_static(const kiln_shape *s) {
    for (int i = 0; i < s->rank; i++)
        if (!kiln_dim_is_const(s->dims[i])) return 0;
    return 1;
}

kiln_status kiln_shape_eval(const kiln_graph *g, const kiln_shape *s, const int64_t *symvals, int64_t *out) {
    for (int i = 0; i < s->rank; i++) {
        KILN_TRY(kiln_dim_eval(g, s->dims[i], symvals, &out[i]));
        if (out[i] < 0) return kiln_error(KILN_ERR_SHAPE, "dimension %d evaluates to %lld", i, (long long)out[i]);
    }
    return KILN_OK;
}
