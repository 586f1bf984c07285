/* Tokens of .kiln text. Newlines end statements except inside ( ) and
 * [ ], so long calls and lists may span lines. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

static const struct {
    const char *word;
    tok_kind k;
} keywords[] = {
    {"fn", T_FN},     {"return", T_RETURN}, {"for", T_FOR},   {"in", T_IN},   {"if", T_IF},   {"else", T_ELSE},
    {"true", T_TRUE}, {"false", T_FALSE},   {"none", T_NONE}, {"and", T_AND}, {"or", T_OR}, {"not", T_NOT},
};

const char *tok_name(tok_kind k) {
    switch (k) {
    case T_EOF: return "end of file";
    case T_NEWLINE: return "end of line";
    case T_NAME: return "a name";
    case T_INT: return "an integer";
    case T_FLOAT: return "a number";
    case T_STRING: return "a string";
    case T_FN: return "'fn'";
    case T_RETURN: return "'return'";
    case T_FOR: return "'for'";
    case T_IN: return "'in'";
    case T_IF: return "'if'";
    case T_ELSE: return "'else'";
    case T_TRUE: return "'true'";
    case T_FALSE: return "'false'";
    case T_NONE: return "'none'";
    case T_AND: return "'and'";
    case T_OR: return "'or'";
    case T_NOT: return "'not'";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_LBRACK: return "'['";
    case T_RBRACK: return "']'";
    case T_LBRACE: return "'{'";
    case T_RBRACE: return "'}'";
    case T_COMMA: return "','";
    case T_COLON: return "':'";
    case T_SEMI: return "';'";
    case T_DOTDOT: return "'..'";
    case T_ELLIPSIS: return "'...'";
    case T_ASSIGN: return "'='";
    case T_PLUS: return "'+'";
    case T_MINUS: return "'-'";
    case T_STAR: return "'*'";
    case T_SLASH: return "'/'";
    case T_DSLASH: return "'//'";
    case T_PERCENT: return "'%'";
    case T_AT: return "'@'";
    case T_POW: return "'**'";
    case T_EQ: return "'=='";
    case T_NE: return "'!='";
    case T_LT: return "'<'";
    case T_LE: return "'<='";
    case T_GT: return "'>'";
    case T_GE: return "'>='";
    }
    return "?";
}

void lexer_init(lexer *lx, const src_file *f, const char *src, size_t len, int line, int col) {
    lx->file = f->name;
    lx->src = lx->p = src;
    lx->end = src + len;
    lx->line = line;
    lx->col = col;
    lx->depth = 0;
}

static kiln_status lex_error(lexer *lx, int line, int col, const char *fmt, const char *arg) {
    return kiln_error(KILN_ERR_FORMAT, "%s:%d:%d: %s%s", lx->file, line, col, fmt, arg ? arg : "");
}

static int peekc(lexer *lx, int off) { return lx->p + off < lx->end ? (unsigned char)lx->p[off] : -1; }

static void advance(lexer *lx, int n) {
    for (int i = 0; i < n && lx->p < lx->end; i++) {
        if (*lx->p == '\n') {
            lx->line++;
            lx->col = 1;
        } else {
            lx->col++;
        }
        lx->p++;
    }
}

static int newlines_count(const lexer *lx) { return lx->depth == 0 || lx->brackets[lx->depth - 1] == '{'; }

static kiln_status lex_number(lexer *lx, token *t) {
    const char *s = lx->p;
    int n = 0, is_float = 0;
    while (isdigit(peekc(lx, n))) n++;
    if (peekc(lx, n) == '.' && isdigit(peekc(lx, n + 1))) {
        is_float = 1;
        n++;
        while (isdigit(peekc(lx, n))) n++;
    }
    if (peekc(lx, n) == 'e' || peekc(lx, n) == 'E') {
        int m = n + 1;
        if (peekc(lx, m) == '+' || peekc(lx, m) == '-') m++;
        if (!isdigit(peekc(lx, m))) return lex_error(lx, lx->line, lx->col, "malformed number exponent", NULL);
        while (isdigit(peekc(lx, m))) m++;
        n = m;
        is_float = 1;
    }
    if (isalpha(peekc(lx, n)) || peekc(lx, n) == '_')
        return lex_error(lx, lx->line, lx->col, "malformed number", NULL);
    char buf[128];
    if (n >= (int)sizeof buf) return lex_error(lx, lx->line, lx->col, "number literal too long", NULL);
    memcpy(buf, s, (size_t)n);
    buf[n] = 0;
    t->start = s;
    t->len = n;
    if (is_float) {
        t->k = T_FLOAT;
        t->fval = strtod(buf, NULL);
    } else {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno || v >= (long long)(INT64_C(1) << 62))
            return lex_error(lx, lx->line, lx->col, "integer literal too large: ", buf);
        t->k = T_INT;
        t->ival = v;
    }
    advance(lx, n);
    return KILN_OK;
}

/* Strings keep their raw text; the parser splits escapes and {interpolation}. */
static kiln_status lex_string(lexer *lx, token *t) {
    int line = lx->line, col = lx->col;
    advance(lx, 1);
    t->start = lx->p;
    int n = 0;
    for (;;) {
        int c = peekc(lx, n);
        if (c < 0 || c == '\n') return lex_error(lx, line, col, "unterminated string", NULL);
        if (c == '"') break;
        if (c == '\\') {
            int e = peekc(lx, n + 1);
            if (e != 'n' && e != 't' && e != '"' && e != '\\' && e != '{' && e != '}')
                return lex_error(lx, lx->line, lx->col + n, "unknown escape in string (use \\n \\t \\\" \\\\ \\{ \\})",
                                 NULL);
            n += 2;
            continue;
        }
        n++;
    }
    if (n > LANG_MAX_STRING) return lex_error(lx, line, col, "string literal too long", NULL);
    t->len = n;
    t->k = T_STRING;
    advance(lx, n + 1);
    return KILN_OK;
}

kiln_status lexer_next(lexer *lx, token *t) {
    memset(t, 0, sizeof *t);
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r') {
            advance(lx, 1);
        } else if (c == '#') {
            while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n') advance(lx, 1);
        } else if (c == '\\' && peekc(lx, 1) == '\n') {
            advance(lx, 2); /* explicit line continuation */
        } else if (c == '\n' && !newlines_count(lx)) {
            advance(lx, 1);
        } else {
            break;
        }
    }
    t->line = lx->line;
    t->col = lx->col;
    t->start = lx->p;
    int c = peekc(lx, 0);
    if (c < 0) {
        t->k = T_EOF;
        return KILN_OK;
    }
    if (c == '\n') {
        t->k = T_NEWLINE;
        t->len = 1;
        advance(lx, 1);
        return KILN_OK;
    }
    if (isdigit(c)) return lex_number(lx, t);
    if (c == '.' && isdigit(peekc(lx, 1))) return lex_error(lx, t->line, t->col, "write numbers with a leading digit (0.5)", NULL);
    if (isalpha(c) || c == '_') {
        int n = 0;
        while (isalnum(peekc(lx, n)) || peekc(lx, n) == '_') n++;
        if (n > 256) return lex_error(lx, t->line, t->col, "name too long", NULL);
        t->k = T_NAME;
        t->len = n;
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
            if ((int)strlen(keywords[i].word) == n && memcmp(keywords[i].word, lx->p, (size_t)n) == 0) t->k = keywords[i].k;
        advance(lx, n);
        return KILN_OK;
    }
    if (c == '"') return lex_string(lx, t);

    /* punctuation: longest match first */
    static const struct {
        const char *s;
        tok_kind k;
    } punct[] = {
        {"...", T_ELLIPSIS}, {"..", T_DOTDOT}, {"**", T_POW}, {"//", T_DSLASH}, {"==", T_EQ}, {"!=", T_NE},
        {"<=", T_LE},        {">=", T_GE},     {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK}, {"]", T_RBRACK},
        {"{", T_LBRACE},     {"}", T_RBRACE},  {",", T_COMMA},  {":", T_COLON},  {";", T_SEMI},   {"=", T_ASSIGN},
        {"+", T_PLUS},       {"-", T_MINUS},   {"*", T_STAR},   {"/", T_SLASH},  {"%", T_PERCENT}, {"@", T_AT},
        {"<", T_LT},         {">", T_GT},
    };
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++) {
        int n = (int)strlen(punct[i].s);
        if (lx->end - lx->p >= n && memcmp(lx->p, punct[i].s, (size_t)n) == 0) {
            t->k = punct[i].k;
            t->len = n;
            if (t->k == T_LPAREN || t->k == T_LBRACK || t->k == T_LBRACE) {
                if (lx->depth >= LANG_MAX_NESTING) return lex_error(lx, t->line, t->col, "brackets nested too deeply", NULL);
                lx->brackets[lx->depth++] = punct[i].s[0];
            } else if (t->k == T_RPAREN || t->k == T_RBRACK || t->k == T_RBRACE) {
                /* unmatched closers are the parser's to report */
                if (lx->depth > 0) lx->depth--;
            }
            advance(lx, n);
            return KILN_OK;
        }
    }
    char what[16];
    if (c >= 0x20 && c < 0x7f) snprintf(what, sizeof what, "'%c'", c);
    else snprintf(what, sizeof what, "byte 0x%02x", c);
    return lex_error(lx, t->line, t->col, "unexpected character ", what);
}
