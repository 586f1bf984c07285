/* Pieces shared by the textual IR reader (ir/lex.c, ir/parse_dim.c,
 * ir/parse_value.c, ir/parse.c). The grammar is in docs/ir.md. */
#ifndef KILN_PARSE_INTERNAL_H
#define KILN_PARSE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "graph_internal.h"

/* Limits that keep hostile input from exhausting time or memory. */
#define PARSE_MAX_NAME 128        /* identifiers: ops, attributes, symbols, dtypes */
#define PARSE_MAX_LABEL 64        /* %labels */
#define PARSE_MAX_NUMBER 512      /* characters in one numeric literal */
#define PARSE_MAX_DEPTH 64        /* nesting of parentheses and unary minus in dims */
#define PARSE_MAX_LIST 4096       /* entries of an ints/dims attribute (the builder's limit) */
#define PARSE_MAX_INPUTS 65536    /* inputs of one node */
#define PARSE_MAX_SYMBOLS 4096
#define PARSE_MAX_DIM_EXPRS 8192 /* symbolic dims interned in one graph */
/* Products of dims (element counts) must stay below this so that the
 * builder's dim arithmetic never overflows int64. */
#define PARSE_MAX_MAGNITUDE (UINT64_C(1) << 62)

/* ---- lexer (ir/lex.c) ---------------------------------------------------
 * A cursor over NUL-terminated text. Every reader skips whitespace and
 * '#' comments first and reports errors as "FILE:LINE:COL: message". */
typedef struct ir_lexer {
    const char *text;
    size_t len, pos;
    const char *file;
} ir_lexer;

void lex_init(ir_lexer *lx, const char *text, const char *file);
/* Skip whitespace and comments; returns the next byte or -1 at the end. */
int lex_peek(ir_lexer *lx);
/* Consume c if it is the next byte. */
int lex_accept(ir_lexer *lx, char c);
kiln_status lex_expect(ir_lexer *lx, char c, const char *context);
/* Is the next token the identifier kw? (consumes it when it is) */
int lex_accept_word(ir_lexer *lx, const char *kw);
int lex_at_word(ir_lexer *lx, const char *kw);

kiln_status lex_error_at(const ir_lexer *lx, size_t pos, kiln_code code, const char *fmt, ...) KILN_PRINTF(4, 5);
/* Prefix an existing error with FILE:LINE:COL of pos. */
kiln_status lex_wrap_at(const ir_lexer *lx, size_t pos, kiln_status s);
/* The token at pos for messages: "'foo'", "'('", "end of input". */
const char *lex_describe(const ir_lexer *lx, size_t pos, char *buf, size_t cap);

/* Readers; `what` names the thing expected, for the message. */
kiln_status lex_ident(ir_lexer *lx, const char *what, char *buf, size_t cap);
kiln_status lex_label(ir_lexer *lx, const char *what, const char **start, size_t *n);
kiln_status lex_string(ir_lexer *lx, const char *what, char **out); /* malloc'd, escapes decoded */
kiln_status lex_int(ir_lexer *lx, const char *what, int64_t *out);
kiln_status lex_uint(ir_lexer *lx, const char *what, uint64_t *out);
kiln_status lex_float(ir_lexer *lx, const char *what, double *out); /* also nan, inf, -inf */

/* ---- name -> int maps (ir/parse_names.c) -------------------------------
 * Keys are not copied: they must outlive the map (slices of the text, or
 * strings the graph owns). */
typedef struct name_entry {
    const char *name; /* NULL: empty slot */
    size_t n;
    int v;
} name_entry;

typedef struct name_map {
    name_entry *slots;
    size_t cap, count;
} name_map;

int name_map_find(const name_map *m, const char *s, size_t n); /* -1 if absent */
kiln_status name_map_put(name_map *m, const char *s, size_t n, int v);
void name_map_free(name_map *m);

/* ---- dims (ir/parse_dim.c) ---------------------------------------------- */
typedef struct dim_reader {
    ir_lexer *lx;
    kiln_graph *g;
    int strict;      /* a symbols line was given: symbols must be declared */
    name_map syms;   /* symbol name -> id, mirroring the graph's symbols */
    kiln_dim *sym_dims; /* id -> the symbol as a dim */
    /* expressions already built, so a repeated one skips the graph's
     * (linear) interning: serialised polynomial -> index into `built` */
    name_map seen;
    char **keys;
    kiln_dim *built;
    int nbuilt;
} dim_reader;

kiln_status parse_dim(dim_reader *r, kiln_dim *out);
/* Declare a new symbol (it must not exist yet); pos is for messages. */
kiln_status dim_declare_symbol(dim_reader *r, const char *name, size_t pos);
void dim_reader_release(dim_reader *r);
/* |c| + sum of |coef| (saturating): bounds any coefficient a product of
 * dims can reach, so products of magnitudes bound element counts. */
uint64_t dim_magnitude(const kiln_graph *g, kiln_dim d);
/* Fails (at pos) when the product of the dims' magnitudes is too large or
 * a dim is too long to print. */
kiln_status check_dims_size(const ir_lexer *lx, size_t pos, const kiln_graph *g, int n, const kiln_dim *dims,
                            const char *what);

/* ---- attribute values and constant data (ir/parse_value.c) -------------- */
/* One parsed attribute value; lists and strings are heap-owned here. */
typedef struct parsed_attr {
    kiln_named_attr a;
    int64_t *list;
    char *str;
    size_t pos; /* where the value starts, for messages */
} parsed_attr;

kiln_status parse_attr_value(dim_reader *r, const kiln_attr_def *def, parsed_attr *out);
void parsed_attr_release(parsed_attr *p);
/* "[v, ...]" for a constant of the given static type; *out is an owned tensor. */
kiln_status parse_const_data(ir_lexer *lx, kiln_dtype dtype, const kiln_shape *shape, kiln_tensor *out);

#endif
