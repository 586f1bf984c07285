/* Recursive-descent parser from tokens to the syntax tree. Nesting is
 * bounded so that no input can exhaust the C stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

typedef struct parser {
    lexer lx;
    token cur, next;
    int has_next;
    arena *a;
    interner *in;
    const src_file *f;
    int *depth;   /* shared with sub-parsers of string interpolations */
    int in_fn;    /* inside a function body */
    int nested;   /* inside a block (not the top level) */
} parser;

static kiln_status perr(parser *p, int line, int col, const char *fmt, ...) KILN_PRINTF(4, 5);
static kiln_status perr(parser *p, int line, int col, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_error(KILN_ERR_FORMAT, "%s:%d:%d: %s", p->f->name, line, col, msg);
}

static kiln_status oom(parser *p) { return perr(p, p->cur.line, p->cur.col, "out of memory (program too large)"); }

static kiln_status advance(parser *p) {
    if (p->has_next) {
        p->cur = p->next;
        p->has_next = 0;
        return KILN_OK;
    }
    return lexer_next(&p->lx, &p->cur);
}

static kiln_status peek(parser *p, token *out) {
    if (!p->has_next) {
        KILN_TRY(lexer_next(&p->lx, &p->next));
        p->has_next = 1;
    }
    *out = p->next;
    return KILN_OK;
}

static int is_word(const token *t, const char *w) {
    return t->k == T_NAME && (int)strlen(w) == t->len && memcmp(t->start, w, (size_t)t->len) == 0;
}

/* "expected X, got Y" */
static kiln_status unexpected(parser *p, const char *wanted) {
    char got[64];
    if (p->cur.k == T_NAME || p->cur.k == T_INT || p->cur.k == T_FLOAT) {
        int n = p->cur.len > 40 ? 40 : p->cur.len;
        snprintf(got, sizeof got, "'%.*s'", n, p->cur.start);
    } else {
        snprintf(got, sizeof got, "%s", tok_name(p->cur.k));
    }
    return perr(p, p->cur.line, p->cur.col, "expected %s, got %s", wanted, got);
}

static kiln_status expect(parser *p, tok_kind k, const char *wanted) {
    if (p->cur.k != k) return unexpected(p, wanted ? wanted : tok_name(k));
    return advance(p);
}

static kiln_status skip_newlines(parser *p) {
    while (p->cur.k == T_NEWLINE) KILN_TRY(advance(p));
    return KILN_OK;
}

static kiln_status enter(parser *p) {
    if (++*p->depth > LANG_MAX_NESTING) return perr(p, p->cur.line, p->cur.col, "expression or block nested too deeply");
    return KILN_OK;
}
static void leave(parser *p) { --*p->depth; }

static expr *new_expr(parser *p, xkind k, int line, int col) {
    expr *e = arena_alloc(p->a, sizeof *e);
    if (!e) return NULL;
    e->k = k;
    e->file = p->f;
    e->line = line;
    e->col = col;
    return e;
}

/* Growable arrays are built in malloc'd buffers, then copied to the arena. */
typedef struct vec {
    void **v;
    int n, cap;
} vec;

static int vec_push(vec *v, void *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        void **nv = realloc(v->v, (size_t)cap * sizeof *nv);
        if (!nv) return 0;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 1;
}

static void **vec_finish(parser *p, vec *v) {
    void **out = arena_alloc(p->a, sizeof(void *) * (size_t)(v->n ? v->n : 1));
    if (out && v->n) memcpy(out, v->v, sizeof(void *) * (size_t)v->n);
    free(v->v);
    v->v = NULL;
    return out;
}

static kiln_status parse_expr(parser *p, expr **out);
static kiln_status parse_block(parser *p, block *out);

/* ---- strings with {interpolation} --------------------------------------- */
static kiln_status parse_string(parser *p, const token *t, expr **out) {
    expr *e = new_expr(p, X_STR, t->line, t->col);
    if (!e) return oom(p);
    vec parts = {0};
    char *buf = malloc((size_t)t->len + 1);
    if (!buf) return oom(p);
    int blen = 0, nparts_interp = 0;
    kiln_status st = KILN_OK;
    for (int i = 0; i < t->len && !st;) {
        char c = t->start[i];
        if (c == '\\') {
            char esc = t->start[i + 1];
            buf[blen++] = esc == 'n' ? '\n' : esc == 't' ? '\t' : esc;
            i += 2;
        } else if (c == '{') {
            int j = i + 1, depth = 1;
            while (j < t->len && depth) {
                if (t->start[j] == '{') depth++;
                else if (t->start[j] == '}') depth--;
                if (depth) j++;
            }
            if (j >= t->len) {
                st = perr(p, t->line, t->col + 1 + i, "unclosed '{' in string (write \\{ for a brace)");
                break;
            }
            if (blen) {
                expr *lit = new_expr(p, X_STR, t->line, t->col);
                if (!lit || !(lit->s = arena_strndup(p->a, buf, (size_t)blen)) || !vec_push(&parts, lit)) {
                    st = oom(p);
                    break;
                }
                blen = 0;
            }
            parser sub;
            memset(&sub, 0, sizeof sub);
            sub.a = p->a;
            sub.in = p->in;
            sub.f = p->f;
            sub.depth = p->depth;
            lexer_init(&sub.lx, p->f, t->start + i + 1, (size_t)(j - i - 1), t->line, t->col + 2 + i);
            expr *x = NULL;
            st = enter(p);
            if (!st) st = advance(&sub);
            if (!st && sub.cur.k == T_EOF) st = perr(p, t->line, t->col + 1 + i, "empty {} in string");
            if (!st) st = parse_expr(&sub, &x);
            if (!st && sub.cur.k != T_EOF) st = unexpected(&sub, "'}' ending the interpolation");
            leave(p);
            if (!st && !vec_push(&parts, x)) st = oom(p);
            nparts_interp++;
            i = j + 1;
        } else if (c == '}') {
            st = perr(p, t->line, t->col + 1 + i, "single '}' in string (write \\} for a brace)");
        } else {
            buf[blen++] = c;
            i++;
        }
    }
    if (!st) {
        if (!nparts_interp) {
            e->s = arena_strndup(p->a, buf, (size_t)blen);
            if (!e->s) st = oom(p);
        } else if (blen) {
            expr *lit = new_expr(p, X_STR, t->line, t->col);
            if (!lit || !(lit->s = arena_strndup(p->a, buf, (size_t)blen)) || !vec_push(&parts, lit)) st = oom(p);
        }
    }
    free(buf);
    if (st) {
        free(parts.v);
        return st;
    }
    e->n = parts.n;
    e->items = (expr **)vec_finish(p, &parts);
    if (!e->items) return oom(p);
    *out = e;
    return KILN_OK;
}

/* ---- expressions -------------------------------------------------------- */
static kiln_status parse_list(parser *p, expr **out) {
    expr *e = new_expr(p, X_LIST, p->cur.line, p->cur.col);
    if (!e) return oom(p);
    KILN_TRY(advance(p)); /* [ */
    vec items = {0};
    kiln_status st = KILN_OK;
    while (!st && p->cur.k != T_RBRACK) {
        expr *x = NULL;
        st = parse_expr(p, &x);
        if (!st && !vec_push(&items, x)) st = oom(p);
        if (!st && p->cur.k == T_COMMA) st = advance(p);
        else if (!st && p->cur.k != T_RBRACK) st = unexpected(p, "',' or ']'");
    }
    if (!st) st = advance(p);
    if (st) {
        free(items.v);
        return st;
    }
    e->n = items.n;
    e->items = (expr **)vec_finish(p, &items);
    if (!e->items) return oom(p);
    *out = e;
    return KILN_OK;
}

static kiln_status parse_primary(parser *p, expr **out) {
    token t = p->cur;
    expr *e = NULL;
    switch (t.k) {
    case T_INT:
        if (!(e = new_expr(p, X_INT, t.line, t.col))) return oom(p);
        e->ival = t.ival;
        break;
    case T_FLOAT:
        if (!(e = new_expr(p, X_FLOAT, t.line, t.col))) return oom(p);
        e->fval = t.fval;
        break;
    case T_TRUE:
    case T_FALSE:
        if (!(e = new_expr(p, X_BOOL, t.line, t.col))) return oom(p);
        e->ival = t.k == T_TRUE;
        break;
    case T_NONE:
        if (!(e = new_expr(p, X_NONE, t.line, t.col))) return oom(p);
        break;
    case T_NAME:
        if (!(e = new_expr(p, X_NAME, t.line, t.col))) return oom(p);
        if (!(e->s = intern(p->in, t.start, (size_t)t.len))) return oom(p);
        break;
    case T_STRING:
        KILN_TRY(parse_string(p, &t, &e));
        break;
    case T_LPAREN:
        KILN_TRY(advance(p));
        KILN_TRY(parse_expr(p, &e));
        if (p->cur.k != T_RPAREN) return unexpected(p, "')'");
        break;
    case T_LBRACK:
        return parse_list(p, out);
    default:
        return unexpected(p, "an expression");
    }
    *out = e;
    return advance(p);
}

static kiln_status parse_subscript(parser *p, expr **out) {
    int line = p->cur.line, col = p->cur.col;
    if (p->cur.k == T_ELLIPSIS) {
        if (!(*out = new_expr(p, X_ELLIPSIS, line, col))) return oom(p);
        return advance(p);
    }
    expr *lo = NULL;
    if (p->cur.k != T_COLON) {
        KILN_TRY(parse_expr(p, &lo));
        if (p->cur.k != T_COLON) {
            *out = lo;
            return KILN_OK;
        }
    }
    expr *s = new_expr(p, X_SLICE, line, col);
    if (!s) return oom(p);
    s->a = lo;
    KILN_TRY(advance(p)); /* : */
    if (p->cur.k != T_COLON && p->cur.k != T_COMMA && p->cur.k != T_RBRACK) KILN_TRY(parse_expr(p, &s->b));
    if (p->cur.k == T_COLON) {
        KILN_TRY(advance(p));
        if (p->cur.k != T_COMMA && p->cur.k != T_RBRACK) KILN_TRY(parse_expr(p, &s->c));
    }
    *out = s;
    return KILN_OK;
}

static kiln_status parse_call_args(parser *p, expr *call) {
    vec args = {0}, kws = {0};
    int seen_kw = 0;
    kiln_status st = advance(p); /* ( */
    while (!st && p->cur.k != T_RPAREN) {
        const char *kw = NULL;
        if (p->cur.k == T_NAME) {
            token nx;
            st = peek(p, &nx);
            if (!st && nx.k == T_ASSIGN) {
                kw = intern(p->in, p->cur.start, (size_t)p->cur.len);
                if (!kw) st = oom(p);
                for (int i = 0; !st && i < kws.n; i++)
                    if (kws.v[i] == kw) st = perr(p, p->cur.line, p->cur.col, "keyword argument '%s' given twice", kw);
                if (!st) st = advance(p);
                if (!st) st = advance(p);
                seen_kw = 1;
            }
        }
        if (!st && !kw && seen_kw) st = perr(p, p->cur.line, p->cur.col, "positional argument after keyword argument");
        expr *x = NULL;
        if (!st) st = parse_expr(p, &x);
        if (!st && (!vec_push(&args, x) || !vec_push(&kws, (void *)kw))) st = oom(p);
        if (!st && p->cur.k == T_COMMA) st = advance(p);
        else if (!st && p->cur.k != T_RPAREN) st = unexpected(p, "',' or ')'");
    }
    if (!st) st = advance(p);
    if (st) {
        free(args.v);
        free(kws.v);
        return st;
    }
    call->n = args.n;
    call->items = (expr **)vec_finish(p, &args);
    call->kw = (const char **)vec_finish(p, &kws);
    if (!call->items || !call->kw) return oom(p);
    return KILN_OK;
}

static kiln_status parse_postfix(parser *p, expr **out) {
    KILN_TRY(parse_primary(p, out));
    int links = 0;
    while (p->cur.k == T_LPAREN || p->cur.k == T_LBRACK) {
        if (++links > LANG_MAX_NESTING) return perr(p, p->cur.line, p->cur.col, "too many chained calls or subscripts");
        if (p->cur.k == T_LPAREN) {
            expr *c = new_expr(p, X_CALL, (*out)->line, (*out)->col);
            if (!c) return oom(p);
            c->a = *out;
            KILN_TRY(parse_call_args(p, c));
            *out = c;
        } else {
            expr *ix = new_expr(p, X_INDEX, p->cur.line, p->cur.col);
            if (!ix) return oom(p);
            ix->a = *out;
            KILN_TRY(advance(p));
            vec items = {0};
            kiln_status st = KILN_OK;
            while (!st && p->cur.k != T_RBRACK) {
                expr *x = NULL;
                st = parse_subscript(p, &x);
                if (!st && !vec_push(&items, x)) st = oom(p);
                if (!st && p->cur.k == T_COMMA) st = advance(p);
                else if (!st && p->cur.k != T_RBRACK) st = unexpected(p, "',' or ']'");
            }
            if (!st && items.n == 0) st = perr(p, ix->line, ix->col, "empty subscript");
            if (!st) st = advance(p);
            if (st) {
                free(items.v);
                return st;
            }
            ix->n = items.n;
            ix->items = (expr **)vec_finish(p, &items);
            if (!ix->items) return oom(p);
            *out = ix;
        }
    }
    return KILN_OK;
}

static kiln_status parse_unary(parser *p, expr **out);

static kiln_status parse_pow(parser *p, expr **out) {
    KILN_TRY(parse_postfix(p, out));
    if (p->cur.k == T_POW) {
        expr *e = new_expr(p, X_BIN, p->cur.line, p->cur.col);
        if (!e) return oom(p);
        e->op = T_POW;
        e->a = *out;
        KILN_TRY(advance(p));
        KILN_TRY(skip_newlines(p));
        KILN_TRY(parse_unary(p, &e->b)); /* right associative; 2 ** -1 works */
        *out = e;
    }
    return KILN_OK;
}

static kiln_status parse_unary(parser *p, expr **out) {
    KILN_TRY(enter(p));
    kiln_status st;
    if (p->cur.k == T_MINUS || p->cur.k == T_PLUS) {
        int neg = p->cur.k == T_MINUS;
        expr *e = new_expr(p, X_NEG, p->cur.line, p->cur.col);
        if (!e) return oom(p);
        st = advance(p);
        if (!st) st = parse_unary(p, &e->a);
        if (!st) *out = neg ? e : e->a;
    } else {
        st = parse_pow(p, out);
    }
    leave(p);
    return st;
}

/* Left-associative binary levels, from @ (tightest) up to + -. */
typedef kiln_status (*level_fn)(parser *p, expr **out);

static kiln_status parse_binary_level(parser *p, expr **out, level_fn next, const tok_kind *ops, int nops) {
    KILN_TRY(next(p, out));
    for (;;) {
        int match = 0;
        for (int i = 0; i < nops; i++) match |= p->cur.k == ops[i];
        if (!match) return KILN_OK;
        expr *e = new_expr(p, X_BIN, p->cur.line, p->cur.col);
        if (!e) return oom(p);
        e->op = p->cur.k;
        e->a = *out;
        KILN_TRY(advance(p));
        KILN_TRY(skip_newlines(p));
        KILN_TRY(next(p, &e->b));
        *out = e;
    }
}

static kiln_status parse_matmul(parser *p, expr **out) {
    static const tok_kind ops[] = {T_AT};
    return parse_binary_level(p, out, parse_unary, ops, 1);
}
static kiln_status parse_mul(parser *p, expr **out) {
    static const tok_kind ops[] = {T_STAR, T_SLASH, T_DSLASH, T_PERCENT};
    return parse_binary_level(p, out, parse_matmul, ops, 4);
}
static kiln_status parse_add(parser *p, expr **out) {
    static const tok_kind ops[] = {T_PLUS, T_MINUS};
    return parse_binary_level(p, out, parse_mul, ops, 2);
}

static int is_cmp(tok_kind k) { return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT || k == T_GE; }

static kiln_status parse_cmp(parser *p, expr **out) {
    KILN_TRY(parse_add(p, out));
    if (!is_cmp(p->cur.k)) return KILN_OK;
    expr *e = new_expr(p, X_BIN, p->cur.line, p->cur.col);
    if (!e) return oom(p);
    e->op = p->cur.k;
    e->a = *out;
    KILN_TRY(advance(p));
    KILN_TRY(skip_newlines(p));
    KILN_TRY(parse_add(p, &e->b));
    if (is_cmp(p->cur.k)) return perr(p, p->cur.line, p->cur.col, "comparisons cannot be chained; use 'and'");
    *out = e;
    return KILN_OK;
}

static kiln_status parse_not(parser *p, expr **out) {
    if (p->cur.k != T_NOT) return parse_cmp(p, out);
    KILN_TRY(enter(p));
    expr *e = new_expr(p, X_NOT, p->cur.line, p->cur.col);
    kiln_status st = e ? advance(p) : oom(p);
    if (!st) st = parse_not(p, &e->a);
    leave(p);
    if (!st) *out = e;
    return st;
}

static kiln_status parse_andor(parser *p, expr **out, int is_or) {
    if (is_or) KILN_TRY(parse_andor(p, out, 0));
    else KILN_TRY(parse_not(p, out));
    while (p->cur.k == (is_or ? T_OR : T_AND)) {
        expr *e = new_expr(p, is_or ? X_OR : X_AND, p->cur.line, p->cur.col);
        if (!e) return oom(p);
        e->a = *out;
        KILN_TRY(advance(p));
        KILN_TRY(skip_newlines(p));
        if (is_or) KILN_TRY(parse_andor(p, &e->b, 0));
        else KILN_TRY(parse_not(p, &e->b));
        *out = e;
    }
    return KILN_OK;
}

static kiln_status parse_expr(parser *p, expr **out) {
    KILN_TRY(enter(p));
    kiln_status st = parse_andor(p, out, 1);
    if (!st && p->cur.k == T_IF) {
        expr *e = new_expr(p, X_COND, p->cur.line, p->cur.col);
        if (!e) st = oom(p);
        if (!st) {
            e->a = *out;
            st = advance(p);
        }
        if (!st) st = parse_andor(p, &e->b, 1);
        if (!st) st = expect(p, T_ELSE, "'else' in 'a if cond else b'");
        if (!st) st = parse_expr(p, &e->c);
        if (!st) *out = e;
    }
    leave(p);
    return st;
}

/* ---- statements --------------------------------------------------------- */
static stmt *new_stmt(parser *p, skind k, int line, int col) {
    stmt *s = arena_alloc(p->a, sizeof *s);
    if (!s) return NULL;
    s->k = k;
    s->file = p->f;
    s->line = line;
    s->col = col;
    return s;
}

static kiln_status name_of(parser *p, const char **out, const char *what) {
    if (p->cur.k != T_NAME) return unexpected(p, what);
    if (!(*out = intern(p->in, p->cur.start, (size_t)p->cur.len))) return oom(p);
    return advance(p);
}

static kiln_status parse_fn(parser *p, stmt **out) {
    stmt *s = new_stmt(p, S_FN, p->cur.line, p->cur.col);
    if (!s) return oom(p);
    if (p->nested || p->in_fn) return perr(p, s->line, s->col, "functions may only be defined at the top level");
    KILN_TRY(advance(p));
    vec names = {0}, defs = {0};
    const char *nm = NULL;
    kiln_status st = name_of(p, &nm, "a function name");
    if (!st && !vec_push(&names, (void *)nm)) st = oom(p);
    if (!st) st = expect(p, T_LPAREN, "'(' after the function name");
    int seen_default = 0;
    while (!st && p->cur.k != T_RPAREN) {
        int line = p->cur.line, col = p->cur.col;
        const char *pn = NULL;
        st = name_of(p, &pn, "a parameter name");
        for (int i = 1; !st && i < names.n; i++)
            if (names.v[i] == pn) st = perr(p, line, col, "parameter '%s' appears twice", pn);
        expr *d = NULL;
        if (!st && p->cur.k == T_ASSIGN) {
            st = advance(p);
            if (!st) st = parse_expr(p, &d);
            seen_default = 1;
        } else if (!st && seen_default) {
            st = perr(p, line, col, "parameter '%s' without a default follows one with a default", pn);
        }
        if (!st && (!vec_push(&names, (void *)pn) || !vec_push(&defs, d))) st = oom(p);
        if (!st && p->cur.k == T_COMMA) st = advance(p);
        else if (!st && p->cur.k != T_RPAREN) st = unexpected(p, "',' or ')'");
    }
    if (!st) st = advance(p);
    if (st) {
        free(names.v);
        free(defs.v);
        return st;
    }
    s->nnames = names.n;
    s->names = (const char **)vec_finish(p, &names);
    s->nexprs = defs.n;
    s->exprs = (expr **)vec_finish(p, &defs);
    if (!s->names || !s->exprs) return oom(p);
    p->in_fn = 1;
    st = parse_block(p, &s->body);
    p->in_fn = 0;
    if (st) return st;
    *out = s;
    return KILN_OK;
}

static kiln_status parse_config(parser *p, stmt **out) {
    stmt *s = new_stmt(p, S_CONFIG, p->cur.line, p->cur.col);
    if (!s) return oom(p);
    if (p->nested || p->in_fn) return perr(p, s->line, s->col, "'config' may only appear at the top level");
    KILN_TRY(advance(p)); /* config */
    KILN_TRY(expect(p, T_LBRACE, "'{' after 'config'"));
    vec names = {0}, vals = {0}, lines = {0}, cols = {0};
    kiln_status st = KILN_OK;
    for (;;) {
        while (!st && (p->cur.k == T_NEWLINE || p->cur.k == T_SEMI)) st = advance(p);
        if (st || p->cur.k == T_RBRACE) break;
        intptr_t line = p->cur.line, col = p->cur.col;
        const char *nm = NULL;
        expr *v = NULL;
        st = name_of(p, &nm, "a config name");
        for (int i = 0; !st && i < names.n; i++)
            if (names.v[i] == nm) st = perr(p, (int)line, (int)col, "config '%s' is declared twice", nm);
        if (!st) st = expect(p, T_ASSIGN, "'=' after the config name");
        if (!st) st = parse_expr(p, &v);
        if (!st && p->cur.k != T_NEWLINE && p->cur.k != T_SEMI && p->cur.k != T_RBRACE)
            st = unexpected(p, "end of line after the config value");
        if (!st && (!vec_push(&names, (void *)nm) || !vec_push(&vals, v) || !vec_push(&lines, (void *)line) ||
                    !vec_push(&cols, (void *)col)))
            st = oom(p);
    }
    if (!st) st = advance(p);
    if (!st) {
        s->nnames = s->nexprs = names.n;
        s->name_line = arena_alloc(p->a, sizeof(int) * (size_t)(names.n ? names.n : 1));
        s->name_col = arena_alloc(p->a, sizeof(int) * (size_t)(names.n ? names.n : 1));
        if (!s->name_line || !s->name_col) st = oom(p);
        for (int i = 0; !st && i < names.n; i++) {
            s->name_line[i] = (int)(intptr_t)lines.v[i];
            s->name_col[i] = (int)(intptr_t)cols.v[i];
        }
    }
    free(lines.v);
    free(cols.v);
    if (st) {
        free(names.v);
        free(vals.v);
        return st;
    }
    s->names = (const char **)vec_finish(p, &names);
    s->exprs = (expr **)vec_finish(p, &vals);
    if (!s->names || !s->exprs) return oom(p);
    *out = s;
    return KILN_OK;
}

/* input NAME: DTYPE[dims] [= default] */
static kiln_status parse_input(parser *p, stmt **out) {
    stmt *s = new_stmt(p, S_INPUT, p->cur.line, p->cur.col);
    if (!s) return oom(p);
    if (p->nested || p->in_fn) return perr(p, s->line, s->col, "'input' may only appear at the top level");
    KILN_TRY(advance(p));
    s->names = arena_alloc(p->a, sizeof(char *));
    if (!s->names) return oom(p);
    s->nnames = 1;
    KILN_TRY(name_of(p, &s->names[0], "the input's name"));
    KILN_TRY(expect(p, T_COLON, "':' and a type, as in 'input ids: i64[batch, seq]'"));
    if (p->cur.k != T_NAME) return unexpected(p, "a dtype such as f32 or i64");
    if (!(s->e2 = new_expr(p, X_NAME, p->cur.line, p->cur.col))) return oom(p);
    KILN_TRY(name_of(p, &s->e2->s, "a dtype"));
    if (p->cur.k != T_LBRACK) return unexpected(p, "'[' and the input's dimensions");
    KILN_TRY(advance(p));
    vec dims = {0};
    kiln_status st = KILN_OK;
    while (!st && p->cur.k != T_RBRACK) {
        expr *d = NULL;
        st = parse_expr(p, &d);
        if (!st && !vec_push(&dims, d)) st = oom(p);
        if (!st && p->cur.k == T_COMMA) st = advance(p);
        else if (!st && p->cur.k != T_RBRACK) st = unexpected(p, "',' or ']'");
    }
    if (!st) st = advance(p);
    if (!st && dims.n > KILN_MAX_RANK) st = perr(p, s->line, s->col, "an input has at most %d dimensions", KILN_MAX_RANK);
    if (st) {
        free(dims.v);
        return st;
    }
    s->nexprs = dims.n;
    s->exprs = (expr **)vec_finish(p, &dims);
    if (!s->exprs) return oom(p);
    if (p->cur.k == T_ASSIGN) {
        KILN_TRY(advance(p));
        KILN_TRY(parse_expr(p, &s->e3));
    }
    *out = s;
    return KILN_OK;
}

static kiln_status parse_if(parser *p, stmt **out) {
    stmt *s = new_stmt(p, S_IF, p->cur.line, p->cur.col);
    if (!s) return oom(p);
    KILN_TRY(advance(p));
    KILN_TRY(parse_expr(p, &s->e));
    KILN_TRY(parse_block(p, &s->body));
    /* allow "}\nelse {" */
    if (p->cur.k == T_NEWLINE) {
        parser save = *p;
        KILN_TRY(skip_newlines(p));
        if (p->cur.k != T_ELSE) *p = save;
    }
    if (p->cur.k == T_ELSE) {
        KILN_TRY(advance(p));
        if (p->cur.k == T_IF) {
            KILN_TRY(enter(p));
            stmt *inner = NULL;
            kiln_status st = parse_if(p, &inner);
            leave(p);
            if (st) return st;
            s->orelse.s = arena_alloc(p->a, sizeof(stmt *));
            if (!s->orelse.s) return oom(p);
            s->orelse.s[0] = inner;
            s->orelse.n = 1;
        } else {
            KILN_TRY(parse_block(p, &s->orelse));
        }
    }
    *out = s;
    return KILN_OK;
}

static kiln_status parse_for(parser *p, stmt **out) {
    stmt *s = new_stmt(p, S_FOR, p->cur.line, p->cur.col);
    if (!s) return oom(p);
    KILN_TRY(advance(p));
    s->names = arena_alloc(p->a, sizeof(char *));
    if (!s->names) return oom(p);
    s->nnames = 1;
    KILN_TRY(name_of(p, &s->names[0], "the loop variable"));
    KILN_TRY(expect(p, T_IN, "'in'"));
    KILN_TRY(parse_expr(p, &s->e));
    if (p->cur.k == T_DOTDOT) {
        s->is_range = 1;
        KILN_TRY(advance(p));
        KILN_TRY(parse_expr(p, &s->e2));
    }
    KILN_TRY(parse_block(p, &s->body));
    *out = s;
    return KILN_OK;
}

/* expression statement or assignment "a = e" / "a, b = e" */
static kiln_status parse_simple(parser *p, stmt **out) {
    int line = p->cur.line, col = p->cur.col;
    expr *first = NULL;
    KILN_TRY(parse_expr(p, &first));
    if (p->cur.k != T_ASSIGN && p->cur.k != T_COMMA) {
        stmt *s = new_stmt(p, S_EXPR, line, col);
        if (!s) return oom(p);
        s->e = first;
        *out = s;
        return KILN_OK;
    }
    stmt *s = new_stmt(p, S_ASSIGN, line, col);
    if (!s) return oom(p);
    vec names = {0};
    kiln_status st = KILN_OK;
    if (first->k != X_NAME) st = perr(p, first->line, first->col, "can only assign to a name");
    if (!st && !vec_push(&names, (void *)first->s)) st = oom(p);
    while (!st && p->cur.k == T_COMMA) {
        st = advance(p);
        const char *nm = NULL;
        if (!st) st = name_of(p, &nm, "a name to assign");
        if (!st && !vec_push(&names, (void *)nm)) st = oom(p);
    }
    if (!st) st = expect(p, T_ASSIGN, "'='");
    if (!st) st = parse_expr(p, &s->e);
    if (st) {
        free(names.v);
        return st;
    }
    s->nnames = names.n;
    s->names = (const char **)vec_finish(p, &names);
    if (!s->names) return oom(p);
    *out = s;
    return KILN_OK;
}

static kiln_status parse_stmt(parser *p, stmt **out) {
    token nx;
    switch (p->cur.k) {
    case T_FN: return parse_fn(p, out);
    case T_IF: return parse_if(p, out);
    case T_FOR: return parse_for(p, out);
    case T_RETURN: {
        stmt *s = new_stmt(p, S_RETURN, p->cur.line, p->cur.col);
        if (!s) return oom(p);
        if (!p->in_fn) return perr(p, s->line, s->col, "'return' outside a function");
        KILN_TRY(advance(p));
        if (p->cur.k != T_NEWLINE && p->cur.k != T_SEMI && p->cur.k != T_RBRACE && p->cur.k != T_EOF)
            KILN_TRY(parse_expr(p, &s->e));
        *out = s;
        return KILN_OK;
    }
    case T_NAME:
        /* config/weights/input/output are statements only where their
         * shape says so; elsewhere they are ordinary names */
        KILN_TRY(peek(p, &nx));
        if (is_word(&p->cur, "config") && nx.k == T_LBRACE) return parse_config(p, out);
        if (is_word(&p->cur, "input") && nx.k == T_NAME) return parse_input(p, out);
        if (is_word(&p->cur, "weights") && nx.k == T_STRING) {
            stmt *s = new_stmt(p, S_WEIGHTS, p->cur.line, p->cur.col);
            if (!s) return oom(p);
            if (p->nested || p->in_fn) return perr(p, s->line, s->col, "'weights' may only appear at the top level");
            KILN_TRY(advance(p));
            token t = p->cur;
            KILN_TRY(parse_string(p, &t, &s->e));
            KILN_TRY(advance(p));
            *out = s;
            return KILN_OK;
        }
        if (is_word(&p->cur, "output") && nx.k == T_NAME) {
            stmt *s = new_stmt(p, S_OUTPUT, p->cur.line, p->cur.col);
            if (!s) return oom(p);
            if (p->in_fn) return perr(p, s->line, s->col, "'output' may not appear inside a function");
            KILN_TRY(advance(p));
            s->names = arena_alloc(p->a, sizeof(char *));
            if (!s->names) return oom(p);
            s->nnames = 1;
            KILN_TRY(name_of(p, &s->names[0], "the output's name"));
            KILN_TRY(expect(p, T_ASSIGN, "'=' after the output's name"));
            KILN_TRY(parse_expr(p, &s->e));
            *out = s;
            return KILN_OK;
        }
        return parse_simple(p, out);
    default: return parse_simple(p, out);
    }
}

/* Statements until '}' (in a block) or end of file. */
static kiln_status parse_stmts(parser *p, block *out, int in_block) {
    vec stmts = {0};
    kiln_status st = KILN_OK;
    for (;;) {
        while (!st && (p->cur.k == T_NEWLINE || p->cur.k == T_SEMI)) st = advance(p);
        if (st) break;
        if (p->cur.k == T_EOF) {
            if (in_block) st = perr(p, p->cur.line, p->cur.col, "missing '}' at end of file");
            break;
        }
        if (p->cur.k == T_RBRACE) {
            if (!in_block) st = perr(p, p->cur.line, p->cur.col, "'}' without a matching '{'");
            break;
        }
        stmt *s = NULL;
        st = parse_stmt(p, &s);
        if (!st && !vec_push(&stmts, s)) st = oom(p);
        if (!st && p->cur.k != T_NEWLINE && p->cur.k != T_SEMI && p->cur.k != T_EOF && p->cur.k != T_RBRACE)
            st = unexpected(p, "end of line");
    }
    if (st) {
        free(stmts.v);
        return st;
    }
    out->n = stmts.n;
    out->s = (stmt **)vec_finish(p, &stmts);
    return out->s ? KILN_OK : oom(p);
}

static kiln_status parse_block(parser *p, block *out) {
    if (p->cur.k != T_LBRACE) return unexpected(p, "'{'");
    KILN_TRY(enter(p));
    int was_nested = p->nested;
    p->nested = 1;
    kiln_status st = advance(p);
    if (!st) st = parse_stmts(p, out, 1);
    if (!st) st = advance(p); /* } */
    p->nested = was_nested;
    leave(p);
    return st;
}

kiln_status lang_parse(arena *a, interner *in, const src_file *f, const char *src, size_t len, program *out) {
    parser p;
    memset(&p, 0, sizeof p);
    int depth = 0;
    p.a = a;
    p.in = in;
    p.f = f;
    p.depth = &depth;
    lexer_init(&p.lx, f, src, len, 1, 1);
    KILN_TRY(advance(&p));
    return parse_stmts(&p, &out->top, 0);
}
