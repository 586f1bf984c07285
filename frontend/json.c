/* JSON reader (RFC 8259). One recursive-descent pass over the bytes; the
 * depth limit bounds the recursion. Every error carries WHAT:LINE:COL. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/json.h"

/* Objects with more members than this get a hash index; smaller ones are
 * searched linearly, which is faster for them. */
#define SMALL_OBJECT 8

struct kiln_json_index {
    size_t mask;   /* slot count - 1 (a power of two minus one) */
    int slot[];    /* member index + 1, or 0 when empty */
};

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    const char *what;
    int depth;
    /* Position bookkeeping so that every value knows its line and column:
     * col = pos - line_start - line_cont + 1, where line_cont counts the
     * UTF-8 continuation bytes consumed on this line (only strings hold any). */
    int line;
    size_t line_start, line_cont;
    /* Scratch space where strings are decoded before being copied out. */
    char *buf;
    size_t buf_len, buf_cap;
} parser;

const char *kiln_json_type_name(kiln_json_type t) {
    switch (t) {
    case KILN_JSON_NULL: return "null";
    case KILN_JSON_BOOL: return "boolean";
    case KILN_JSON_NUMBER: return "number";
    case KILN_JSON_STRING: return "string";
    case KILN_JSON_ARRAY: return "array";
    case KILN_JSON_OBJECT: return "object";
    }
    return "unknown";
}

/* ---- errors ---------------------------------------------------------- */

static void locate(const parser *p, size_t pos, int *line, int *col) {
    size_t start = p->line_start;
    long ln = p->line, c = 1;
    if (pos < start) { /* not expected, but stay correct: rescan from the top */
        start = 0;
        ln = 1;
    }
    for (size_t i = start; i < pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            if (ln < INT_MAX) ln++;
            c = 1;
        } else if ((p->s[i] & 0xC0) != 0x80 && c < INT_MAX) {
            c++;
        }
    }
    *line = (int)ln;
    *col = (int)c;
}

static kiln_status fail(const parser *p, size_t pos, kiln_code code, const char *fmt, ...) KILN_PRINTF(4, 5);
static kiln_status fail(const parser *p, size_t pos, kiln_code code, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    locate(p, pos, &line, &col);
    return kiln_error(code, "%s:%d:%d: %s", p->what, line, col, msg);
}

/* What sits at pos, for "but found ..." */
static const char *found(const parser *p, size_t pos, char *buf, size_t cap) {
    if (pos >= p->len) return "end of input";
    unsigned char c = p->s[pos];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, cap, "'%c'", c);
    else snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

/* ---- small helpers --------------------------------------------------- */

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c == '\n') {
            p->pos++;
            if (p->line < INT_MAX) p->line++;
            p->line_start = p->pos;
            p->line_cont = 0;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else {
            break;
        }
    }
}

static int col_now(const parser *p) {
    size_t c = p->pos - p->line_start - p->line_cont + 1;
    return c > INT_MAX ? INT_MAX : (int)c;
}

static int buf_put(parser *p, const void *data, size_t n) {
    if (p->buf_cap - p->buf_len < n) {
        size_t cap = p->buf_cap ? p->buf_cap : 64;
        while (cap - p->buf_len < n) {
            if (cap > SIZE_MAX / 2) return 0;
            cap *= 2;
        }
        char *b = realloc(p->buf, cap);
        if (!b) return 0;
        p->buf = b;
        p->buf_cap = cap;
    }
    memcpy(p->buf + p->buf_len, data, n);
    p->buf_len += n;
    return 1;
}

static kiln_status nomem(void) { return kiln_error(KILN_ERR_NOMEM, "out of memory parsing JSON"); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid:
 * no overlong forms, no encoded surrogates, nothing above U+10FFFF. */
static int utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }
    else return 0;
    if (avail < (size_t)n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4]) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits at pos; on error reports the first bad one. */
static kiln_status read_hex4(parser *p, size_t pos, uint32_t *out) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = pos + i < p->len ? hex_value(p->s[pos + i]) : -1;
        if (h < 0) {
            char b[16];
            return fail(p, pos + i, KILN_ERR_FORMAT, "expected 4 hex digits after \\u but found %s",
                        found(p, pos + i, b, sizeof b));
        }
        v = v * 16 + (uint32_t)h;
    }
    *out = v;
    return KILN_OK;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- values ---------------------------------------------------------- */

static kiln_status parse_value(parser *p, kiln_json *v);
static void free_contents(kiln_json *v);

/* Decodes the string starting at the opening quote into p->buf. */
static kiln_status scan_string(parser *p) {
    size_t open = p->pos;
    size_t cont = 0;
    p->pos++;
    p->buf_len = 0;
    char b[16];
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = p->s[p->pos];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            p->pos++;
        }
        if (p->pos > run && !buf_put(p, p->s + run, p->pos - run)) return nomem();
        if (p->pos >= p->len) {
            int l, c;
            locate(p, open, &l, &c);
            return fail(p, p->pos, KILN_ERR_FORMAT,
                        "expected '\"' to close the string that starts at %d:%d but found end of input", l, c);
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            if (c == '\n' || c == '\r')
                return fail(p, p->pos, KILN_ERR_FORMAT, "expected '\"' to close the string before the end of the line");
            return fail(p, p->pos, KILN_ERR_FORMAT,
                        "expected control character 0x%02x in a string to be escaped (\\u%04x)", c, c);
        }
        if (c >= 0x80) {
            int n = utf8_seq_len(p->s + p->pos, p->len - p->pos);
            if (!n)
                return fail(p, p->pos, KILN_ERR_FORMAT,
                            "expected valid UTF-8 but found an invalid sequence starting with byte 0x%02x", c);
            if (!buf_put(p, p->s + p->pos, (size_t)n)) return nomem();
            cont += (size_t)n - 1;
            p->pos += (size_t)n;
            continue;
        }
        /* backslash escape */
        size_t esc = p->pos;
        p->pos++;
        if (p->pos >= p->len)
            return fail(p, p->pos, KILN_ERR_FORMAT, "expected an escape character after '\\' but found end of input");
        char e = (char)p->s[p->pos];
        char plain = 0;
        switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': break;
        default:
            return fail(p, p->pos, KILN_ERR_FORMAT,
                        "expected an escape character (\" \\ / b f n r t u) after '\\' but found %s",
                        found(p, p->pos, b, sizeof b));
        }
        if (plain) {
            if (!buf_put(p, &plain, 1)) return nomem();
            p->pos++;
            continue;
        }
        uint32_t cp;
        KILN_TRY(read_hex4(p, p->pos + 1, &cp));
        p->pos += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(p, esc, KILN_ERR_FORMAT,
                        "expected a high surrogate (\\uD800-\\uDBFF) before the low surrogate \\u%04X", (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            int paired = p->pos + 1 < p->len && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u';
            if (paired) KILN_TRY(read_hex4(p, p->pos + 2, &lo));
            if (!paired || lo < 0xDC00 || lo > 0xDFFF)
                return fail(p, esc, KILN_ERR_FORMAT,
                            "expected a low surrogate (\\uDC00-\\uDFFF) after the high surrogate \\u%04X", (unsigned)cp);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p->pos += 6;
        }
        unsigned char u[4];
        if (!buf_put(p, u, utf8_encode(cp, u))) return nomem();
    }
    p->line_cont += cont;
    return KILN_OK;
}

/* Copies the decoded scratch string out. */
static kiln_status take_string(parser *p, char **out, size_t *len) {
    char *s = malloc(p->buf_len + 1);
    if (!s) return nomem();
    if (p->buf_len) memcpy(s, p->buf, p->buf_len);
    s[p->buf_len] = 0;
    *out = s;
    *len = p->buf_len;
    return KILN_OK;
}

static int is_digit(const parser *p, size_t i) { return i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; }

/* Converts the literal s[0..n) (already checked against the grammar) with
 * strtod, whatever the process's locale uses as decimal point. */
static int literal_to_double(const unsigned char *s, size_t n, double *out) {
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp && *dp ? strlen(dp) : 1;
    char small[80];
    size_t cap = n * dpl + 1;
    char *tmp = cap <= sizeof small ? small : malloc(cap);
    if (!tmp) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && dp && *dp) {
            memcpy(tmp + o, dp, dpl);
            o += dpl;
        } else {
            tmp[o++] = (char)s[i];
        }
    }
    tmp[o] = 0;
    char *end;
    *out = strtod(tmp, &end);
    int ok = end == tmp + o;
    if (tmp != small) free(tmp);
    return ok;
}

static kiln_status parse_number(parser *p, kiln_json *v) {
    size_t start = p->pos, i = p->pos;
    char b[16];
    int neg = 0, integral = 1;
    if (p->s[i] == '-') {
        neg = 1;
        i++;
    }
    if (!is_digit(p, i))
        return fail(p, i, KILN_ERR_FORMAT, "expected a digit after '-' but found %s", found(p, i, b, sizeof b));
    size_t digits = i;
    if (p->s[i] == '0') {
        i++;
        if (is_digit(p, i))
            return fail(p, i, KILN_ERR_FORMAT, "expected '.', 'e' or the end of the number after a leading 0 "
                                               "(leading zeros are not allowed)");
    } else {
        while (is_digit(p, i)) i++;
    }
    size_t digits_end = i;
    if (i < p->len && p->s[i] == '.') {
        integral = 0;
        i++;
        if (!is_digit(p, i))
            return fail(p, i, KILN_ERR_FORMAT, "expected a digit after '.' but found %s", found(p, i, b, sizeof b));
        while (is_digit(p, i)) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (!is_digit(p, i))
            return fail(p, i, KILN_ERR_FORMAT, "expected a digit in the exponent but found %s", found(p, i, b, sizeof b));
        while (is_digit(p, i)) i++;
    }
    p->pos = i;
    v->type = KILN_JSON_NUMBER;
    if (integral) {
        /* Exact int64 when it fits: magnitudes up to 2^63 for negatives. */
        uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (size_t k = digits; k < digits_end && fits; k++) {
            unsigned d = (unsigned)(p->s[k] - '0');
            if (mag > (limit - d) / 10) fits = 0;
            else mag = mag * 10 + d;
        }
        if (fits) {
            v->is_integer = 1;
            v->integer = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
            v->number = neg && mag == 0 ? -0.0 : (double)v->integer;
            return KILN_OK;
        }
    }
    double d;
    if (!literal_to_double(p->s + start, i - start, &d))
        return fail(p, start, KILN_ERR_INTERNAL, "could not convert the number");
    if (isinf(d))
        return fail(p, start, KILN_ERR_FORMAT, "expected a number within the range of a double (about 1.8e308)");
    v->number = d;
    return KILN_OK;
}

static kiln_status parse_literal(parser *p, kiln_json *v, const char *word, kiln_json_type type, int boolean) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        /* point at the first byte that differs */
        size_t k = 0;
        while (k < n && p->pos + k < p->len && p->s[p->pos + k] == (unsigned char)word[k]) k++;
        char b[16];
        return fail(p, p->pos + k, KILN_ERR_FORMAT, "expected '%s' but found %s", word, found(p, p->pos + k, b, sizeof b));
    }
    p->pos += n;
    v->type = type;
    v->boolean = boolean;
    return KILN_OK;
}

static kiln_status enter(parser *p) {
    if (p->depth >= KILN_JSON_MAX_DEPTH)
        return fail(p, p->pos, KILN_ERR_LIMIT, "expected at most %d levels of nested arrays and objects",
                    KILN_JSON_MAX_DEPTH);
    p->depth++;
    p->pos++; /* the bracket */
    return KILN_OK;
}

static kiln_status parse_array(parser *p, kiln_json *v) {
    KILN_TRY(enter(p));
    kiln_json *items = NULL;
    int n = 0, cap = 0;
    kiln_status s = KILN_OK;
    char b[16];
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        goto done;
    }
    for (;;) {
        if (n == cap) {
            if (cap > INT_MAX / 2) {
                s = fail(p, p->pos, KILN_ERR_LIMIT, "expected fewer array elements");
                goto error;
            }
            int ncap = cap ? cap * 2 : 4;
            kiln_json *ni = realloc(items, (size_t)ncap * sizeof *ni);
            if (!ni) {
                s = nomem();
                goto error;
            }
            items = ni;
            cap = ncap;
        }
        s = parse_value(p, &items[n]);
        if (s) goto error;
        n++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        s = fail(p, p->pos, KILN_ERR_FORMAT, "expected ',' or ']' after an array element but found %s",
                 found(p, p->pos, b, sizeof b));
        goto error;
    }
done:
    if (n == 0) {
        free(items);
        items = NULL;
    } else if (n < cap) {
        kiln_json *shrunk = realloc(items, (size_t)n * sizeof *items);
        if (shrunk) items = shrunk;
    }
    v->type = KILN_JSON_ARRAY;
    v->items = items;
    v->count = n;
    p->depth--;
    return KILN_OK;
error:
    for (int i = 0; i < n; i++) free_contents(&items[i]);
    free(items);
    return s;
}

/* Open-addressing table of member indices, used while an object is parsed
 * (to find duplicates) and kept afterwards for kiln_json_get. */
static struct kiln_json_index *index_build(char **keys, const size_t *lens, int n) {
    size_t slots = 16;
    while (slots < (size_t)n * 2) slots *= 2;
    struct kiln_json_index *ix = calloc(1, sizeof *ix + slots * sizeof(int));
    if (!ix) return NULL;
    ix->mask = slots - 1;
    for (int i = 0; i < n; i++) {
        size_t h = (size_t)hash_bytes(keys[i], lens[i]) & ix->mask;
        while (ix->slot[h]) h = (h + 1) & ix->mask;
        ix->slot[h] = i + 1;
    }
    return ix;
}

/* Index of key in the object, or -1. With add_as >= 0 a missing key is
 * entered with that index. */
static int index_find(struct kiln_json_index *ix, char **keys, const size_t *lens, const char *key, size_t len,
                      int add_as) {
    size_t h = (size_t)hash_bytes(key, len) & ix->mask;
    while (ix->slot[h]) {
        int i = ix->slot[h] - 1;
        if (lens[i] == len && memcmp(keys[i], key, len) == 0) return i;
        h = (h + 1) & ix->mask;
    }
    if (add_as >= 0) ix->slot[h] = add_as + 1;
    return -1;
}

static kiln_status parse_object(parser *p, kiln_json *v) {
    KILN_TRY(enter(p));
    kiln_json *items = NULL;
    char **keys = NULL;
    size_t *lens = NULL;
    struct kiln_json_index *ix = NULL;
    int n = 0, cap = 0;
    kiln_status s = KILN_OK;
    char *key = NULL;
    char b[16];
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        goto done;
    }
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            s = fail(p, p->pos, KILN_ERR_FORMAT, n ? "expected '\"' to start an object key but found %s"
                                                   : "expected '\"' or '}' after '{' but found %s",
                     found(p, p->pos, b, sizeof b));
            goto error;
        }
        size_t klen = 0;
        s = scan_string(p);
        if (!s) s = take_string(p, &key, &klen);
        if (s) goto error;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            s = fail(p, p->pos, KILN_ERR_FORMAT, "expected ':' after the object key \"%.40s\" but found %s", key,
                     found(p, p->pos, b, sizeof b));
            goto error;
        }
        p->pos++;
        kiln_json value;
        s = parse_value(p, &value);
        if (s) goto error;

        /* Duplicate key: the last value wins, at the first one's position. */
        int dup = -1;
        if (ix) {
            dup = index_find(ix, keys, lens, key, klen, -1);
        } else {
            for (int i = 0; i < n; i++)
                if (lens[i] == klen && memcmp(keys[i], key, klen) == 0) dup = i;
        }
        if (dup >= 0) {
            free_contents(&items[dup]);
            items[dup] = value;
            free(key);
            key = NULL;
        } else {
            if (n == cap) {
                int ncap = cap ? cap * 2 : 4;
                kiln_json *ni = cap > INT_MAX / 2 ? NULL : realloc(items, (size_t)ncap * sizeof *ni);
                if (ni) items = ni;
                char **nk = ni ? realloc(keys, (size_t)ncap * sizeof *nk) : NULL;
                if (nk) keys = nk;
                size_t *nl = nk ? realloc(lens, (size_t)ncap * sizeof *nl) : NULL;
                if (nl) lens = nl;
                if (!nl) {
                    free_contents(&value);
                    s = cap > INT_MAX / 2 ? fail(p, p->pos, KILN_ERR_LIMIT, "expected fewer object members") : nomem();
                    goto error;
                }
                cap = ncap;
            }
            items[n] = value;
            keys[n] = key;
            lens[n] = klen;
            key = NULL;
            n++;
            if (ix && (size_t)n * 2 > ix->mask + 1) {
                free(ix);
                ix = NULL;
            }
            if (ix) {
                index_find(ix, keys, lens, keys[n - 1], lens[n - 1], n - 1);
            } else if (n > SMALL_OBJECT) {
                ix = index_build(keys, lens, n);
                if (!ix) {
                    s = nomem();
                    goto error;
                }
            }
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        s = fail(p, p->pos, KILN_ERR_FORMAT, "expected ',' or '}' after an object member but found %s",
                 found(p, p->pos, b, sizeof b));
        goto error;
    }
done:
    v->type = KILN_JSON_OBJECT;
    v->items = items;
    v->keys = keys;
    v->key_lens = lens;
    v->index = ix;
    v->count = n;
    p->depth--;
    return KILN_OK;
error:
    free(key);
    for (int i = 0; i < n; i++) {
        free_contents(&items[i]);
        free(keys[i]);
    }
    free(items);
    free(keys);
    free(lens);
    free(ix);
    return s;
}

/* On error v owns nothing. */
static kiln_status parse_value(parser *p, kiln_json *v) {
    skip_ws(p);
    memset(v, 0, sizeof *v);
    v->line = p->line;
    v->col = col_now(p);
    char b[16];
    if (p->pos >= p->len) return fail(p, p->pos, KILN_ERR_FORMAT, "expected a value but found end of input");
    switch (p->s[p->pos]) {
    case '{': return parse_object(p, v);
    case '[': return parse_array(p, v);
    case '"': {
        KILN_TRY(scan_string(p));
        KILN_TRY(take_string(p, &v->string, &v->len));
        v->type = KILN_JSON_STRING;
        return KILN_OK;
    }
    case 't': return parse_literal(p, v, "true", KILN_JSON_BOOL, 1);
    case 'f': return parse_literal(p, v, "false", KILN_JSON_BOOL, 0);
    case 'n': return parse_literal(p, v, "null", KILN_JSON_NULL, 0);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(p, v);
    default:
        return fail(p, p->pos, KILN_ERR_FORMAT,
                    "expected a value (object, array, string, number, true, false or null) but found %s",
                    found(p, p->pos, b, sizeof b));
    }
}

/* ---- public ---------------------------------------------------------- */

kiln_status kiln_json_parse(const char *text, size_t len, const char *what, kiln_json **out) {
    *out = NULL;
    if (!what) what = "JSON";
    if (!text && len) return kiln_error(KILN_ERR_INVALID, "%s: no text to parse", what);
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)(text ? text : "");
    p.len = len;
    p.what = what;
    p.line = 1;
    if (len >= 3 && memcmp(p.s, "\xEF\xBB\xBF", 3) == 0) p.pos = p.line_start = 3; /* byte order mark */
    kiln_json *root = calloc(1, sizeof *root);
    if (!root) return nomem();
    kiln_status s = parse_value(&p, root);
    if (!s) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char b[16];
            s = fail(&p, p.pos, KILN_ERR_FORMAT, "expected end of input after the JSON value but found %s",
                     found(&p, p.pos, b, sizeof b));
        }
    }
    free(p.buf);
    if (s) {
        kiln_json_free(root);
        return s;
    }
    *out = root;
    return KILN_OK;
}

kiln_status kiln_json_parse_file(const char *path, kiln_json **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return kiln_error(KILN_ERR_IO, "cannot read %s: it is a directory", path);
    }
    /* Read to the end rather than trusting the size: pipes have none. */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) {
            fclose(f);
            return kiln_error(KILN_ERR_NOMEM, "out of memory reading %s", path);
        }
        len += fread(text + len, 1, cap - len, f);
        if (len < cap) break;
        char *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(text, cap * 2);
        if (!bigger) free(text);
        text = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return kiln_error(KILN_ERR_IO, "error reading %s", path);
    }
    kiln_status s = kiln_json_parse(text, len, path, out);
    free(text);
    return s;
}

static void free_contents(kiln_json *v) {
    free(v->string);
    for (int i = 0; i < v->count; i++) {
        free_contents(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v->index);
}

void kiln_json_free(kiln_json *j) {
    if (!j) return;
    free_contents(j);
    free(j);
}

const kiln_json *kiln_json_get(const kiln_json *obj, const char *key) {
    if (!obj || obj->type != KILN_JSON_OBJECT || !key) return NULL;
    size_t len = strlen(key);
    if (obj->index) {
        int i = index_find(obj->index, obj->keys, obj->key_lens, key, len, -1);
        return i >= 0 ? &obj->items[i] : NULL;
    }
    for (int i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == len && memcmp(obj->keys[i], key, len) == 0) return &obj->items[i];
    return NULL;
}
