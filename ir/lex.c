/* Lexer for the textual IR: whitespace, comments, names, strings, numbers,
 * and "FILE:LINE:COL: message" errors. Never reads past the text's end. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static int is_label_char(int c) { return is_alnum(c) || c == '.'; }

void lex_init(ir_lexer *lx, const char *text, const char *file) {
    lx->text = text;
    lx->len = strlen(text);
    lx->pos = 0;
    lx->file = file ? file : "<string>";
}

/* Byte at offset i, or -1 past the end. */
static int at(const ir_lexer *lx, size_t i) { return i < lx->len ? (unsigned char)lx->text[i] : -1; }

int lex_peek(ir_lexer *lx) {
    for (;;) {
        int c = at(lx, lx->pos);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            lx->pos++;
        } else if (c == '#') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n') lx->pos++;
        } else {
            return c;
        }
    }
}

int lex_accept(ir_lexer *lx, char c) {
    if (lex_peek(lx) != (unsigned char)c) return 0;
    lx->pos++;
    return 1;
}

static void line_col(const ir_lexer *lx, size_t pos, int *line, int *col) {
    int l = 1;
    size_t start = 0;
    if (pos > lx->len) pos = lx->len;
    for (size_t i = 0; i < pos; i++)
        if (lx->text[i] == '\n') {
            l++;
            start = i + 1;
        }
    *line = l;
    *col = (int)(pos - start) + 1;
}

kiln_status lex_wrap_at(const ir_lexer *lx, size_t pos, kiln_status s) {
    int line, col;
    line_col(lx, pos, &line, &col);
    return kiln_error_wrap(s, "%s:%d:%d", lx->file, line, col);
}

kiln_status lex_error_at(const ir_lexer *lx, size_t pos, kiln_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = kiln_errorv(code, fmt, ap);
    va_end(ap);
    return lex_wrap_at(lx, pos, s);
}

const char *lex_describe(const ir_lexer *lx, size_t pos, char *buf, size_t cap) {
    int c = at(lx, pos);
    if (c < 0) {
        snprintf(buf, cap, "end of input");
    } else if (is_label_char(c) || c == '%' || c == '-') {
        /* a word-like token: show up to 24 bytes of it */
        size_t n = 1;
        while (n < 24 && is_label_char(at(lx, pos + n))) n++;
        snprintf(buf, cap, "'%.*s'", (int)n, lx->text + pos);
    } else if (c == '"') {
        snprintf(buf, cap, "a string");
    } else if (c > 0x20 && c < 0x7f) {
        snprintf(buf, cap, "'%c'", c);
    } else {
        snprintf(buf, cap, "byte 0x%02x", c);
    }
    return buf;
}

kiln_status lex_expect(ir_lexer *lx, char c, const char *context) {
    if (lex_accept(lx, c)) return KILN_OK;
    char got[64];
    return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected '%c' %s, got %s", c, context,
                        lex_describe(lx, lx->pos, got, sizeof got));
}

/* Length of the identifier at pos (0 when there is none). */
static size_t ident_len(const ir_lexer *lx, size_t pos) {
    if (!is_alpha(at(lx, pos))) return 0;
    size_t n = 1;
    while (is_alnum(at(lx, pos + n))) n++;
    return n;
}

int lex_at_word(ir_lexer *lx, const char *kw) {
    lex_peek(lx);
    size_t n = ident_len(lx, lx->pos);
    return n && n == strlen(kw) && memcmp(lx->text + lx->pos, kw, n) == 0;
}

int lex_accept_word(ir_lexer *lx, const char *kw) {
    if (!lex_at_word(lx, kw)) return 0;
    lx->pos += strlen(kw);
    return 1;
}

kiln_status lex_ident(ir_lexer *lx, const char *what, char *buf, size_t cap) {
    lex_peek(lx);
    size_t n = ident_len(lx, lx->pos);
    char got[64];
    if (!n)
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected %s, got %s", what,
                            lex_describe(lx, lx->pos, got, sizeof got));
    if (n >= cap || n > PARSE_MAX_NAME)
        return lex_error_at(lx, lx->pos, KILN_ERR_LIMIT, "%s is longer than %d characters", what, PARSE_MAX_NAME);
    memcpy(buf, lx->text + lx->pos, n);
    buf[n] = 0;
    lx->pos += n;
    return KILN_OK;
}

kiln_status lex_label(ir_lexer *lx, const char *what, const char **start, size_t *n) {
    char got[64];
    if (lex_peek(lx) != '%')
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected %s (a %%label), got %s", what,
                            lex_describe(lx, lx->pos, got, sizeof got));
    size_t k = 0;
    while (is_label_char(at(lx, lx->pos + 1 + k))) k++;
    if (!k)
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected a label name after '%%' (%s)", what);
    if (k > PARSE_MAX_LABEL)
        return lex_error_at(lx, lx->pos, KILN_ERR_LIMIT, "label is longer than %d characters", PARSE_MAX_LABEL);
    *start = lx->text + lx->pos;
    *n = k + 1;
    lx->pos += k + 1;
    return KILN_OK;
}

static int hex_val(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

kiln_status lex_string(ir_lexer *lx, const char *what, char **out) {
    char got[64];
    *out = NULL;
    if (lex_peek(lx) != '"')
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected %s (a quoted string), got %s", what,
                            lex_describe(lx, lx->pos, got, sizeof got));
    size_t open = lx->pos, i = open + 1;
    /* the decoded string is never longer than its source */
    size_t end = i;
    while (end < lx->len && lx->text[end] != '"' && lx->text[end] != '\n') end += lx->text[end] == '\\' ? 2 : 1;
    char *buf = malloc((end > lx->len ? lx->len : end) - open + 1);
    if (!buf) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (;;) {
        int c = at(lx, i);
        if (c < 0 || c == '\n') {
            free(buf);
            return lex_error_at(lx, open, KILN_ERR_FORMAT, "unterminated string (%s): expected a closing '\"'", what);
        }
        if (c == '"') break;
        if (c < 0x20 || c == 0x7f) {
            free(buf);
            return lex_error_at(lx, i, KILN_ERR_FORMAT, "control byte 0x%02x in a string: write it as \\x%02x", c, c);
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            i++;
            continue;
        }
        int e = at(lx, i + 1);
        if (e == '"' || e == '\\') {
            buf[n++] = (char)e;
            i += 2;
        } else if (e == 'x') {
            int h = hex_val(at(lx, i + 2)), l = h < 0 ? -1 : hex_val(at(lx, i + 3));
            if (h < 0 || l < 0) {
                free(buf);
                return lex_error_at(lx, i, KILN_ERR_FORMAT, "bad escape: expected two hex digits after \\x");
            }
            if (h == 0 && l == 0) {
                free(buf);
                return lex_error_at(lx, i, KILN_ERR_FORMAT, "bad escape: \\x00 cannot appear in a name");
            }
            buf[n++] = (char)(h * 16 + l);
            i += 4;
        } else {
            free(buf);
            return lex_error_at(lx, i, KILN_ERR_FORMAT, "bad escape in string: expected \\\", \\\\ or \\xNN");
        }
    }
    buf[n] = 0;
    lx->pos = i + 1;
    *out = buf;
    return KILN_OK;
}

/* Digits of an unsigned integer at pos into *v; returns the count or -1 on overflow. */
static long read_digits(const ir_lexer *lx, size_t pos, uint64_t *v) {
    uint64_t x = 0;
    long n = 0;
    while (is_digit(at(lx, pos + (size_t)n))) {
        int d = at(lx, pos + (size_t)n) - '0';
        if (x > (UINT64_MAX - (uint64_t)d) / 10) return -1;
        x = x * 10 + (uint64_t)d;
        n++;
    }
    *v = x;
    return n;
}

/* An integer must not run on into letters or a fraction ("12ab", "1.5"). */
static kiln_status integer_end(ir_lexer *lx, size_t start, size_t end, const char *what) {
    int c = at(lx, end);
    if (is_alnum(c) || c == '.')
        return lex_error_at(lx, start, KILN_ERR_FORMAT, "expected %s (an integer), got %s", what,
                            lex_describe(lx, start, (char[64]){0}, 64));
    return KILN_OK;
}

kiln_status lex_int(ir_lexer *lx, const char *what, int64_t *out) {
    lex_peek(lx);
    size_t start = lx->pos, p = start;
    int neg = at(lx, p) == '-';
    if (neg) p++;
    uint64_t v;
    long n = read_digits(lx, p, &v);
    char got[64];
    if (n == 0)
        return lex_error_at(lx, start, KILN_ERR_FORMAT, "expected %s (an integer), got %s", what,
                            lex_describe(lx, start, got, sizeof got));
    if (n < 0 || v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return lex_error_at(lx, start, KILN_ERR_FORMAT, "%s is out of the 64-bit integer range", what);
    KILN_TRY(integer_end(lx, start, p + (size_t)n, what));
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    lx->pos = p + (size_t)n;
    return KILN_OK;
}

kiln_status lex_uint(ir_lexer *lx, const char *what, uint64_t *out) {
    lex_peek(lx);
    size_t start = lx->pos;
    uint64_t v;
    long n = read_digits(lx, start, &v);
    char got[64];
    if (n == 0)
        return lex_error_at(lx, start, KILN_ERR_FORMAT, "expected %s (an unsigned integer), got %s", what,
                            lex_describe(lx, start, got, sizeof got));
    if (n < 0) return lex_error_at(lx, start, KILN_ERR_FORMAT, "%s is out of the 64-bit unsigned range", what);
    KILN_TRY(integer_end(lx, start, start + (size_t)n, what));
    *out = v;
    lx->pos = start + (size_t)n;
    return KILN_OK;
}

kiln_status lex_float(ir_lexer *lx, const char *what, double *out) {
    lex_peek(lx);
    size_t start = lx->pos, p = start;
    char got[64];
    int neg = at(lx, p) == '-';
    if (neg) p++;
    size_t w = ident_len(lx, p);
    if (w == 3 && (memcmp(lx->text + p, "nan", 3) == 0 || memcmp(lx->text + p, "inf", 3) == 0)) {
        *out = lx->text[p] == 'n' ? NAN : neg ? -INFINITY : INFINITY;
        if (neg && lx->text[p] == 'n') *out = -*out;
        lx->pos = p + 3;
        return KILN_OK;
    }
    /* digits [. digits] [e [+-] digits], with at least one digit in the mantissa */
    size_t q = p, mant = 0;
    while (is_digit(at(lx, q))) q++, mant++;
    if (at(lx, q) == '.') {
        q++;
        while (is_digit(at(lx, q))) q++, mant++;
    }
    if (mant && (at(lx, q) == 'e' || at(lx, q) == 'E')) {
        size_t e = q + 1;
        if (at(lx, e) == '+' || at(lx, e) == '-') e++;
        if (is_digit(at(lx, e))) {
            while (is_digit(at(lx, e))) e++;
            q = e;
        }
    }
    if (!mant || is_alnum(at(lx, q)) || at(lx, q) == '.')
        return lex_error_at(lx, start, KILN_ERR_FORMAT, "expected %s (a number, nan or inf), got %s", what,
                            lex_describe(lx, start, got, sizeof got));
    if (q - start > PARSE_MAX_NUMBER)
        return lex_error_at(lx, start, KILN_ERR_LIMIT, "number is longer than %d characters", PARSE_MAX_NUMBER);
    char buf[PARSE_MAX_NUMBER + 1];
    memcpy(buf, lx->text + start, q - start);
    buf[q - start] = 0;
    errno = 0;
    *out = strtod(buf, NULL); /* the syntax is checked above; overflow rounds to +-inf */
    lx->pos = q;
    return KILN_OK;
}
