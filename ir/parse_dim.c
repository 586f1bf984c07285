/* Dim expressions in IR text: integers, symbols, + - * and parentheses.
 *
 * The expression is evaluated into a local polynomial with overflow checks
 * and only the result is handed to the graph (through kiln_dim_add/mul), so
 * hostile text can neither overflow int64 inside the dim arithmetic nor
 * flood the graph's interned expressions with intermediates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"

typedef enum { POLY_OK, POLY_OVERFLOW, POLY_COMPLEX } poly_result;

static int term_order(const dim_term *a, const dim_term *b) {
    if (a->nf != b->nf) return a->nf - b->nf;
    for (int i = 0; i < a->nf; i++)
        if (a->f[i] != b->f[i]) return a->f[i] < b->f[i] ? -1 : 1;
    return 0;
}

/* Sort, merge equal monomials, drop zero terms. */
static poly_result canon(dim_term *terms, int n, int64_t c, dim_expr *out) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && term_order(&terms[j - 1], &terms[j]) > 0; j--) {
            dim_term t = terms[j];
            terms[j] = terms[j - 1];
            terms[j - 1] = t;
        }
    memset(out, 0, sizeof *out);
    out->c = c;
    dim_term merged[(DIM_MAX_TERMS + 1) * (DIM_MAX_TERMS + 1)];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && term_order(&merged[m - 1], &terms[i]) == 0) {
            if (__builtin_add_overflow(merged[m - 1].coef, terms[i].coef, &merged[m - 1].coef)) return POLY_OVERFLOW;
        } else {
            merged[m++] = terms[i];
        }
    }
    for (int i = 0; i < m; i++) {
        if (merged[i].coef == 0) continue;
        if (out->nt == DIM_MAX_TERMS) return POLY_COMPLEX;
        out->t[out->nt++] = merged[i];
    }
    return POLY_OK;
}

static poly_result poly_add(const dim_expr *a, const dim_expr *b, int negate_b, dim_expr *out) {
    dim_term terms[2 * DIM_MAX_TERMS];
    int n = 0;
    int64_t c, bc = b->c;
    if (negate_b && __builtin_sub_overflow((int64_t)0, bc, &bc)) return POLY_OVERFLOW;
    if (__builtin_add_overflow(a->c, bc, &c)) return POLY_OVERFLOW;
    for (int i = 0; i < a->nt; i++) terms[n++] = a->t[i];
    for (int i = 0; i < b->nt; i++) {
        terms[n] = b->t[i];
        if (negate_b && __builtin_sub_overflow((int64_t)0, b->t[i].coef, &terms[n].coef)) return POLY_OVERFLOW;
        n++;
    }
    return canon(terms, n, c, out);
}

static poly_result poly_mul(const dim_expr *a, const dim_expr *b, dim_expr *out) {
    /* the constant is a term without factors */
    dim_term ta[DIM_MAX_TERMS + 1], tb[DIM_MAX_TERMS + 1];
    int na = 0, nb = 0;
    for (int i = 0; i < a->nt; i++) ta[na++] = a->t[i];
    if (a->c) ta[na++] = (dim_term){a->c, 0, {0}};
    for (int i = 0; i < b->nt; i++) tb[nb++] = b->t[i];
    if (b->c) tb[nb++] = (dim_term){b->c, 0, {0}};
    dim_term prod[(DIM_MAX_TERMS + 1) * (DIM_MAX_TERMS + 1)];
    int n = 0;
    int64_t c = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            dim_term t;
            if (ta[i].nf + tb[j].nf > DIM_MAX_FACTORS) return POLY_COMPLEX;
            if (__builtin_mul_overflow(ta[i].coef, tb[j].coef, &t.coef)) return POLY_OVERFLOW;
            t.nf = 0;
            int x = 0, y = 0; /* merge the sorted factor lists */
            while (x < ta[i].nf || y < tb[j].nf) {
                if (y >= tb[j].nf || (x < ta[i].nf && ta[i].f[x] <= tb[j].f[y])) t.f[t.nf++] = ta[i].f[x++];
                else t.f[t.nf++] = tb[j].f[y++];
            }
            if (t.nf == 0) {
                if (__builtin_add_overflow(c, t.coef, &c)) return POLY_OVERFLOW;
            } else {
                prod[n++] = t;
            }
        }
    return canon(prod, n, c, out);
}

static kiln_status poly_check(dim_reader *r, size_t pos, poly_result res) {
    if (res == POLY_OVERFLOW)
        return lex_error_at(r->lx, pos, KILN_ERR_LIMIT, "dimension expression overflows 64-bit integers");
    if (res == POLY_COMPLEX)
        return lex_error_at(r->lx, pos, KILN_ERR_LIMIT,
                            "dimension expression too complex (at most %d terms of %d symbols each)", DIM_MAX_TERMS,
                            DIM_MAX_FACTORS);
    return KILN_OK;
}

static kiln_status expr(dim_reader *r, int depth, dim_expr *out);

kiln_status dim_declare_symbol(dim_reader *r, const char *name, size_t pos) {
    int id = kiln_graph_symbol_count(r->g);
    if (id >= PARSE_MAX_SYMBOLS) return lex_error_at(r->lx, pos, KILN_ERR_LIMIT, "more than %d symbols", PARSE_MAX_SYMBOLS);
    if (id % 64 == 0) {
        kiln_dim *p = realloc(r->sym_dims, sizeof(kiln_dim) * (size_t)(id + 64));
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        r->sym_dims = p;
    }
    kiln_dim d = kiln_dim_symbol(r->g, name);
    if (d == KILN_DIM_INVALID || kiln_graph_symbol_count(r->g) != id + 1) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    r->sym_dims[id] = d;
    const char *kept = kiln_graph_symbol_name(r->g, id);
    return name_map_put(&r->syms, kept, strlen(kept), id);
}

void dim_reader_release(dim_reader *r) {
    name_map_free(&r->syms);
    name_map_free(&r->seen);
    for (int i = 0; i < r->nbuilt; i++) free(r->keys[i]);
    free(r->keys);
    free(r->built);
    free(r->sym_dims);
    r->keys = NULL;
    r->built = r->sym_dims = NULL;
    r->nbuilt = 0;
}

static kiln_status symbol(dim_reader *r, dim_expr *out) {
    char name[PARSE_MAX_NAME + 1];
    size_t pos = r->lx->pos;
    KILN_TRY(lex_ident(r->lx, "a dimension (integer, symbol or expression)", name, sizeof name));
    int id = name_map_find(&r->syms, name, strlen(name));
    if (id < 0) {
        if (r->strict)
            return lex_error_at(r->lx, pos, KILN_ERR_FORMAT, "unknown symbol '%s': it is not declared on the symbols line",
                                name);
        KILN_TRY(dim_declare_symbol(r, name, pos)); /* first use creates it */
        id = kiln_graph_symbol_count(r->g) - 1;
    }
    memset(out, 0, sizeof *out);
    out->nt = 1;
    out->t[0].coef = 1;
    out->t[0].nf = 1;
    out->t[0].f[0] = id;
    return KILN_OK;
}

static kiln_status primary(dim_reader *r, int depth, dim_expr *out) {
    ir_lexer *lx = r->lx;
    int c = lex_peek(lx);
    size_t pos = lx->pos;
    if (depth > PARSE_MAX_DEPTH)
        return lex_error_at(lx, pos, KILN_ERR_LIMIT, "dimension expression nested more than %d deep", PARSE_MAX_DEPTH);
    if (c == '(') {
        lx->pos++;
        KILN_TRY(expr(r, depth + 1, out));
        return lex_expect(lx, ')', "to close the parenthesis");
    }
    if (c == '-') {
        lx->pos++;
        dim_expr inner, zero;
        memset(&zero, 0, sizeof zero);
        KILN_TRY(primary(r, depth + 1, &inner));
        return poly_check(r, pos, poly_add(&zero, &inner, 1, out));
    }
    if (c >= '0' && c <= '9') {
        int64_t v;
        KILN_TRY(lex_int(lx, "a dimension", &v));
        memset(out, 0, sizeof *out);
        out->c = v;
        return KILN_OK;
    }
    return symbol(r, out);
}

static kiln_status product(dim_reader *r, int depth, dim_expr *out) {
    KILN_TRY(primary(r, depth, out));
    while (lex_peek(r->lx) == '*') {
        size_t pos = r->lx->pos++;
        dim_expr rhs, acc = *out;
        KILN_TRY(primary(r, depth, &rhs));
        KILN_TRY(poly_check(r, pos, poly_mul(&acc, &rhs, out)));
    }
    return KILN_OK;
}

static kiln_status expr(dim_reader *r, int depth, dim_expr *out) {
    KILN_TRY(product(r, depth, out));
    for (;;) {
        int c = lex_peek(r->lx);
        if (c != '+' && c != '-') return KILN_OK;
        size_t pos = r->lx->pos++;
        dim_expr rhs, acc = *out;
        KILN_TRY(product(r, depth, &rhs));
        KILN_TRY(poly_check(r, pos, poly_add(&acc, &rhs, c == '-', out)));
    }
}

/* The polynomial's fields, packed so that equal polynomials give equal bytes. */
static size_t serialise(const dim_expr *e, int64_t *buf) {
    size_t n = 0;
    buf[n++] = e->c;
    buf[n++] = e->nt;
    for (int i = 0; i < e->nt; i++) {
        buf[n++] = e->t[i].coef;
        buf[n++] = e->t[i].nf;
        for (int k = 0; k < e->t[i].nf; k++) buf[n++] = e->t[i].f[k];
    }
    return n * sizeof(int64_t);
}

static kiln_status remember(dim_reader *r, const int64_t *key, size_t len, kiln_dim d) {
    if (r->nbuilt % 64 == 0) {
        char **k = realloc(r->keys, sizeof(char *) * (size_t)(r->nbuilt + 64));
        if (k) r->keys = k;
        kiln_dim *b = realloc(r->built, sizeof(kiln_dim) * (size_t)(r->nbuilt + 64));
        if (b) r->built = b;
        if (!k || !b) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    char *copy = malloc(len);
    if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    memcpy(copy, key, len);
    r->keys[r->nbuilt] = copy;
    r->built[r->nbuilt] = d;
    return name_map_put(&r->seen, copy, len, r->nbuilt++);
}

/* Rebuild the polynomial as a graph dim. Coefficients were checked, and
 * partial sums of distinct monomials never exceed them. */
static kiln_status to_dim(dim_reader *r, size_t pos, const dim_expr *e, kiln_dim *out) {
    if (e->nt == 0) {
        if (e->c == KILN_DIM_INVALID || e->c >= KILN_DIM_SYM_BASE)
            return lex_error_at(r->lx, pos, KILN_ERR_LIMIT, "dimension %lld is out of range (at most 2^62 - 1)",
                                (long long)e->c);
        *out = e->c;
        return KILN_OK;
    }
    /* coefficients travel as constant dims, so they must be in that range */
    int ok = e->c > -KILN_DIM_SYM_BASE && e->c < KILN_DIM_SYM_BASE;
    for (int i = 0; i < e->nt; i++) ok &= e->t[i].coef > -KILN_DIM_SYM_BASE && e->t[i].coef < KILN_DIM_SYM_BASE;
    if (!ok) return lex_error_at(r->lx, pos, KILN_ERR_LIMIT, "dimension coefficient out of range (at most 2^62 - 1)");
    int64_t key[2 + DIM_MAX_TERMS * (2 + DIM_MAX_FACTORS)];
    size_t len = serialise(e, key);
    int i = name_map_find(&r->seen, (const char *)key, len);
    if (i >= 0) {
        *out = r->built[i];
        return KILN_OK;
    }
    kiln_dim d = KILN_DIM_INVALID;
    for (int i = 0; i < e->nt; i++) {
        kiln_dim t = r->sym_dims[e->t[i].f[0]];
        for (int k = 1; k < e->t[i].nf && t != KILN_DIM_INVALID; k++) t = kiln_dim_mul(r->g, t, r->sym_dims[e->t[i].f[k]]);
        if (e->t[i].coef != 1) t = kiln_dim_mul(r->g, t, e->t[i].coef);
        d = i ? kiln_dim_add(r->g, d, t) : t;
        if (d == KILN_DIM_INVALID) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    if (e->c) d = kiln_dim_add(r->g, d, e->c);
    if (d == KILN_DIM_INVALID) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (r->g->ndexprs > PARSE_MAX_DIM_EXPRS)
        return lex_error_at(r->lx, pos, KILN_ERR_LIMIT, "more than %d distinct symbolic dimensions",
                            PARSE_MAX_DIM_EXPRS);
    *out = d;
    return remember(r, key, len, d);
}

kiln_status parse_dim(dim_reader *r, kiln_dim *out) {
    lex_peek(r->lx);
    size_t pos = r->lx->pos;
    dim_expr e;
    KILN_TRY(expr(r, 0, &e));
    return to_dim(r, pos, &e, out);
}

static uint64_t abs_u64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t dim_magnitude(const kiln_graph *g, kiln_dim d) {
    const dim_expr *e = graph_dim_expr(g, d);
    if (!e) return abs_u64(d);
    uint64_t m = abs_u64(e->c);
    for (int i = 0; i < e->nt; i++) m = add_sat(m, abs_u64(e->t[i].coef));
    return m;
}

/* Longest dim text the printer keeps: it formats each dim of a shape into
 * 128 bytes and a whole shape into 1024. */
#define PRINTABLE_DIM 120

kiln_status check_dims_size(const ir_lexer *lx, size_t pos, const kiln_graph *g, int n, const kiln_dim *dims,
                            const char *what) {
    uint64_t prod = 1;
    for (int i = 0; i < n; i++) {
        uint64_t m = dim_magnitude(g, dims[i]);
        if (m == 0) m = 1; /* a zero dim does not stop a partial product overflowing */
        if (prod > (PARSE_MAX_MAGNITUDE - 1) / m)
            return lex_error_at(lx, pos, KILN_ERR_LIMIT, "%s is too large (sizes must multiply to less than 2^62)",
                                what);
        prod *= m;
        char buf[256];
        if (strlen(kiln_dim_str(g, dims[i], buf, sizeof buf)) > PRINTABLE_DIM)
            return lex_error_at(lx, pos, KILN_ERR_LIMIT, "%s has a dimension longer than %d characters", what,
                                PRINTABLE_DIM);
    }
    return KILN_OK;
}
