/* Internals of the .kiln language shared by its files: memory arena,
 * tokens, syntax tree, values and the evaluator's state. */
#ifndef KILN_LANG_INTERNAL_H
#define KILN_LANG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/ir.h"
#include "kiln/json.h"
#include "kiln/lang.h"

/* ---- limits (every input must finish quickly and in bounded memory) ---- */
#define LANG_MAX_NESTING 100           /* parser: nested brackets/blocks/expressions */
#define LANG_MAX_CALL_DEPTH 64         /* nested calls of kiln functions */
#define LANG_MAX_EVAL_DEPTH 1500       /* nested evaluator frames in C */
#define LANG_DEFAULT_MAX_STEPS 50000000
#define LANG_MAX_MEMORY ((size_t)512 << 20)
#define LANG_MAX_LIST 1000000          /* elements in one list */
#define LANG_MAX_STRING (1 << 20)      /* bytes in one string */
#define LANG_MAX_NODES 1000000         /* graph nodes one program may build */
#define LANG_MAX_DIM_EXPRS 20000       /* distinct symbolic dim expressions (the IR interns them by linear search) */
#define LANG_MAX_NAME_WORK 1000000000  /* nodes scanned by the IR's by-name lookups when adding inputs/params/outputs */

/* ---- arena: everything a compilation allocates, freed at once ---------- */
typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *chunks;
    size_t used_total, limit;
} arena;

void arena_init(arena *a, size_t limit);
void arena_free(arena *a);
/* Zeroed memory, or NULL when the limit is reached or malloc fails. */
void *arena_alloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);

/* String interner: equal names get the same pointer, so the evaluator
 * compares names by address. */
typedef struct interner {
    arena *a;
    const char **slots;
    size_t cap, count;
} interner;

void interner_init(interner *in, arena *a);
void interner_free(interner *in);
const char *intern(interner *in, const char *s, size_t n); /* NULL on exhaustion */

/* ---- tokens ------------------------------------------------------------- */
typedef enum tok_kind {
    T_EOF, T_NEWLINE, T_NAME, T_INT, T_FLOAT, T_STRING,
    /* keywords (config/input/output/weights are contextual: see parser.c) */
    T_FN, T_RETURN, T_FOR, T_IN, T_IF, T_ELSE, T_TRUE, T_FALSE, T_NONE, T_AND, T_OR, T_NOT,
    /* punctuation */
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE, T_COMMA, T_COLON, T_SEMI,
    T_DOTDOT, T_ELLIPSIS, T_ASSIGN,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH, T_PERCENT, T_AT, T_POW,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
} tok_kind;

typedef struct token {
    tok_kind k;
    int line, col;
    const char *start; /* in the source text; strings: the raw text between quotes */
    int len;
    int64_t ival;
    double fval;
} token;

typedef struct lexer {
    const char *file, *src, *p, *end;
    int line, col;
    char brackets[LANG_MAX_NESTING + 1]; /* open ( [ { : newlines count only outside ( and [ */
    int depth;
} lexer;

/* A source file the evaluator knows (for locations and error messages). */
typedef struct src_file {
    const char *name;
    int is_prelude; /* errors and node locations point at the caller instead */
} src_file;

void lexer_init(lexer *lx, const src_file *f, const char *src, size_t len, int line, int col);
/* Next token; on a lexical error returns a status naming FILE:LINE:COL. */
kiln_status lexer_next(lexer *lx, token *t);
const char *tok_name(tok_kind k);

/* ---- syntax tree -------------------------------------------------------- */
typedef enum xkind {
    X_INT, X_FLOAT, X_STR, X_BOOL, X_NONE, X_NAME, X_LIST,
    X_NEG, X_NOT, X_BIN, X_AND, X_OR, X_COND, X_CALL, X_INDEX, X_SLICE, X_ELLIPSIS,
} xkind;

typedef struct expr expr;
struct expr {
    xkind k;
    tok_kind op;             /* X_BIN: the operator */
    const src_file *file;
    int line, col;
    int64_t ival;            /* X_INT, X_BOOL */
    double fval;             /* X_FLOAT */
    const char *s;           /* X_NAME (interned), X_STR literal text */
    expr *a, *b, *c;         /* operands; X_COND: a if b else c; X_SLICE: a:b:c (NULL = omitted) */
    expr **items;            /* X_LIST elements, X_CALL args, X_INDEX subscripts, X_STR parts */
    const char **kw;         /* X_CALL: keyword name per argument or NULL */
    int n;
};

typedef enum skind { S_EXPR, S_ASSIGN, S_CONFIG, S_WEIGHTS, S_INPUT, S_OUTPUT, S_FN, S_RETURN, S_FOR, S_IF } skind;

typedef struct stmt stmt;
typedef struct block {
    stmt **s;
    int n;
} block;

struct stmt {
    skind k;
    const src_file *file;
    int line, col;
    const char **names;   /* ASSIGN targets, CONFIG entries, FOR variable, INPUT/OUTPUT name, FN name + params */
    int *name_line, *name_col; /* CONFIG entries: where each is declared */
    int nnames;
    expr **exprs;         /* CONFIG values, INPUT dims, FN parameter defaults (NULL = required) */
    int nexprs;
    expr *e, *e2, *e3;    /* value / condition / iterable; FOR range end; INPUT dtype, default */
    int is_range;         /* FOR over a..b */
    block body, orelse;
};

typedef struct program {
    block top;
} program;

/* Parses a whole file. Names are interned in `in`; nodes live in `a`. */
kiln_status lang_parse(arena *a, interner *in, const src_file *f, const char *src, size_t len, program *out);

/* ---- values ------------------------------------------------------------- */
typedef enum vkind { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_DTYPE, V_TENSOR, V_LIST, V_FN, V_BUILTIN } vkind;

typedef struct vlist vlist;
typedef struct val {
    vkind k;
    union {
        int b;
        kiln_dim i;         /* constant or symbolic */
        double f;
        const char *s;
        kiln_dtype dt;
        kiln_value t;
        vlist *l;
        const stmt *fn;
        int bi;             /* >= 0: helper index; < 0: op -(bi + 1) */
    };
} val;

struct vlist {
    int n;
    val v[];
};

/* ---- evaluator ---------------------------------------------------------- */
typedef struct binding {
    const char *name; /* interned */
    val v;
} binding;

typedef struct scope {
    binding *b;
    int n, cap;
} scope;

typedef struct frame {
    const stmt *fn;            /* NULL for the top level */
    const src_file *call_file; /* where it was called */
    int call_line, call_col;
    scope locals;
} frame;

typedef struct override {
    const char *name; /* interned */
    const char *text; /* value text */
    const char *raw;  /* the whole "name=value" string for messages */
    int used;
} override;

typedef struct eval {
    kiln_graph *g;
    arena *a;
    interner *in;
    const kiln_lang_options *opt;
    /* globals: open addressing keyed by interned name */
    binding *globals;
    size_t gcap, gcount;
    /* builtins: name -> index */
    binding *builtins;
    size_t bcap, bcount;
    frame frames[LANG_MAX_CALL_DEPTH + 1];
    int depth;      /* frames in use; frames[0] is the top level */
    int cdepth;     /* C recursion depth of the evaluator */
    int64_t steps, max_steps;
    int64_t name_work; /* see LANG_MAX_NAME_WORK */
    /* current location (user files only) for errors and node stamping */
    const src_file *loc_file;
    int loc_line, loc_col;
    /* the call expression being evaluated (any file) */
    const src_file *site_file;
    int site_line, site_col;
    int dims_mode;  /* evaluating an input's dims: unknown names become symbols */
    /* control flow */
    int returning;
    val retval;
    /* config and overrides */
    const char **config_names;
    int nconfig, config_cap;
    override *overrides;
    int noverrides;
    char *config_text;
    size_t config_text_len, config_text_cap;
    /* results */
    char *weights_path;
    const char *cached_sym_name;
} eval;

/* Errors: "FILE:LINE:COL: message (in f, called from FILE:LINE:COL; ...)". */
kiln_status ev_error_at(eval *ev, const src_file *f, int line, int col, kiln_code code, const char *fmt, ...)
    KILN_PRINTF(6, 7);
/* At the current location. */
kiln_status ev_error(eval *ev, kiln_code code, const char *fmt, ...) KILN_PRINTF(3, 4);
/* Add location (unless present) and call chain to an error from the IR. */
kiln_status ev_wrap(eval *ev, kiln_status s);
/* Point the current location at an expression/statement (ignored inside the prelude). */
void ev_set_loc(eval *ev, const src_file *f, int line, int col);
kiln_status ev_oom(eval *ev);

/* names */
val *ev_lookup(eval *ev, const char *name); /* locals, globals; NULL if undefined */
kiln_status ev_assign(eval *ev, const char *name, val v);
kiln_status ev_set_global(eval *ev, const char *name, val v);
int ev_builtin_find(eval *ev, const char *name, val *out);
kiln_status ev_set_builtin(eval *ev, const char *name, val v);

/* evaluation */
kiln_status ev_step(eval *ev); /* counts one step against the limit */
kiln_status eval_expr(eval *ev, const expr *e, val *out);
kiln_status eval_block(eval *ev, const block *b);
kiln_status eval_program(eval *ev, const program *p);
kiln_status ev_call(eval *ev, val fnv, int nargs, const val *args, const char *const *kw, val *out);
kiln_status ev_binary(eval *ev, tok_kind op, val a, val b, val *out);
kiln_status ev_index(eval *ev, val base, int n, const expr *const *items, val *out);

/* values */
const char *val_kind_name(vkind k);
const char *val_type_name(const val *v); /* "int", "tensor f32[2, 3]" would be too long: kind only */
kiln_status val_to_str(eval *ev, val v, int quote_strings, const char **out);
int val_truthy(eval *ev, val v, int *out); /* 0 when v has no compile-time truth value */
int val_equal(const val *a, const val *b);
vlist *list_new(eval *ev, int n);
val v_none(void);
val v_bool(int b);
val v_int(kiln_dim i);
val v_float(double f);
val v_str(const char *s);
val v_tensor(kiln_value t);
int val_is_number(const val *v);  /* const int, float or bool */
double val_number(const val *v);
kiln_node *ev_node(eval *ev, val v); /* V_TENSOR's node */

/* tensors */
/* A scalar constant of dtype from a number value (error if it does not fit). */
kiln_status ev_scalar(eval *ev, val num, kiln_dtype dt, kiln_value *out);
kiln_status ev_build(eval *ev, kiln_op op, int nin, const kiln_value *in, int nattrs, const kiln_named_attr *attrs,
                     kiln_value *out);
kiln_status ev_reshape(eval *ev, kiln_value x, int rank, const kiln_dim *dims, kiln_value *out);
kiln_status ev_slice(eval *ev, kiln_value x, int axis, kiln_dim start, kiln_dim end, int64_t step, kiln_value *out);
kiln_status ev_dim_arith(eval *ev, tok_kind op, kiln_dim a, kiln_dim b, kiln_dim *out);
/* Guards against work the IR does in time quadratic in the graph. */
kiln_status ev_check_dim(eval *ev, kiln_dim d);
kiln_status ev_charge_names(eval *ev);

/* builtins */
typedef kiln_status (*builtin_fn)(eval *ev, int nargs, const val *args, const char *const *kw, val *out);
typedef struct builtin_def {
    const char *name;
    builtin_fn fn;
} builtin_def;
extern const builtin_def lang_builtins[];
extern const int lang_builtin_count;
kiln_status ev_call_op(eval *ev, kiln_op op, int nargs, const val *args, const char *const *kw, val *out);
/* Compile-time math on numbers for ops like sqrt/max; 0 when op has none. */
int ev_number_math(kiln_op op);
kiln_status ev_activation(eval *ev, kiln_value x, const char *name, kiln_value *out);

/* config */
kiln_status config_prepare(eval *ev, const program *prog);
kiln_status config_entry(eval *ev, const stmt *s, int i, val dflt, val *out);

#endif
