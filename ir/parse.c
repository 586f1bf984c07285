/* Textual IR: reading. Accepts what ir/print.c writes (grammar in
 * docs/ir.md) plus comments and free whitespace. Non-source nodes go
 * through kiln_build, so shape rules run and the declared type is checked
 * against the inferred one. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"

/* ---- one node statement -------------------------------------------------- */
typedef struct parser {
    ir_lexer lx;
    dim_reader dims;
    kiln_graph *g;
    name_map labels;
    name_map params; /* param names seen, keyed by the graph's copy of the name */
} parser;

typedef struct node_stmt {
    const char *label;
    size_t label_n, op_pos, type_pos;
    const kiln_op_def *def;
    char *name; /* input / param */
    kiln_value *inputs;
    int ninputs;
    parsed_attr attrs[KILN_MAX_ATTRS];
    int nattrs;
    kiln_dtype dtype;
    kiln_shape shape;
    kiln_tensor data;
    kiln_loc loc;
    char *loc_file;
} node_stmt;

static void stmt_release(node_stmt *st) {
    free(st->name);
    free(st->inputs);
    for (int i = 0; i < st->nattrs; i++) parsed_attr_release(&st->attrs[i]);
    kiln_tensor_release(&st->data);
    free(st->loc_file);
}

static int is_source(kiln_op op) { return op == KILN_OP_INPUT || op == KILN_OP_PARAM || op == KILN_OP_CONST; }

/* "%a" as a use: it must be defined already. */
static kiln_status use_label(parser *p, const char *what, kiln_value *out) {
    const char *s;
    size_t n;
    lex_peek(&p->lx);
    size_t pos = p->lx.pos;
    KILN_TRY(lex_label(&p->lx, what, &s, &n));
    *out = name_map_find(&p->labels, s, n);
    if (*out < 0)
        return lex_error_at(&p->lx, pos, KILN_ERR_FORMAT, "%.*s is not defined (a value must be defined before it is used)",
                            (int)n, s);
    return KILN_OK;
}

/* "(%a, _, %b)" */
static kiln_status parse_inputs(parser *p, node_stmt *st) {
    int cap = 0;
    KILN_TRY(lex_expect(&p->lx, '(', "before the op's inputs"));
    if (lex_accept(&p->lx, ')')) return KILN_OK;
    do {
        if (st->ninputs == PARSE_MAX_INPUTS)
            return lex_error_at(&p->lx, p->lx.pos, KILN_ERR_LIMIT, "more than %d inputs", PARSE_MAX_INPUTS);
        if (st->ninputs == cap) {
            cap = cap ? 2 * cap : 4;
            kiln_value *v = realloc(st->inputs, sizeof(kiln_value) * (size_t)cap);
            if (!v) return kiln_error(KILN_ERR_NOMEM, "out of memory");
            st->inputs = v;
        }
        kiln_value *slot = &st->inputs[st->ninputs];
        size_t pos = (lex_peek(&p->lx), p->lx.pos);
        if (lex_accept_word(&p->lx, "_")) {
            if (st->ninputs < st->def->min_inputs)
                return lex_error_at(&p->lx, pos, KILN_ERR_FORMAT, "input %d of '%s' is required: it cannot be '_'",
                                    st->ninputs, st->def->name);
            *slot = KILN_NONE;
        } else {
            KILN_TRY(use_label(p, "an input value or '_'", slot));
        }
        st->ninputs++;
    } while (lex_accept(&p->lx, ','));
    return lex_expect(&p->lx, ')', "after the op's inputs (or ',' before another input)");
}

/* "{name = value, ...}" by the op's schema. */
static kiln_status parse_attrs(parser *p, node_stmt *st) {
    if (!lex_accept(&p->lx, '{')) return KILN_OK;
    if (lex_accept(&p->lx, '}')) return KILN_OK;
    int seen[KILN_MAX_ATTRS] = {0};
    do {
        char name[PARSE_MAX_NAME + 1];
        size_t pos = (lex_peek(&p->lx), p->lx.pos);
        KILN_TRY(lex_ident(&p->lx, "an attribute name", name, sizeof name));
        int k = kiln_op_attr_index(st->def->op, name);
        if (k < 0) {
            char known[256] = "";
            for (int i = 0; i < st->def->nattrs; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                         st->def->attrs[i].name);
            return lex_error_at(&p->lx, pos, KILN_ERR_FORMAT, "'%s' has no attribute '%s' (%s%s)", st->def->name, name,
                                st->def->nattrs ? "it has: " : "it takes no attributes", known);
        }
        if (seen[k]) return lex_error_at(&p->lx, pos, KILN_ERR_FORMAT, "attribute '%s' is given twice", name);
        seen[k] = 1;
        KILN_TRY(lex_expect(&p->lx, '=', "after the attribute name"));
        st->nattrs++; /* counted first so that a half-read value is released too */
        KILN_TRY(parse_attr_value(&p->dims, &st->def->attrs[k], &st->attrs[st->nattrs - 1]));
    } while (lex_accept(&p->lx, ','));
    return lex_expect(&p->lx, '}', "to close the attributes (or ',' before another)");
}

/* "f32[batch, 4]" */
static kiln_status parse_type(parser *p, node_stmt *st) {
    char name[PARSE_MAX_NAME + 1];
    size_t pos = (lex_peek(&p->lx), p->lx.pos);
    st->type_pos = pos;
    KILN_TRY(lex_ident(&p->lx, "a dtype", name, sizeof name));
    kiln_status s = kiln_dtype_parse(name, &st->dtype);
    if (s) return lex_wrap_at(&p->lx, pos, s);
    KILN_TRY(lex_expect(&p->lx, '[', "to start the shape"));
    st->shape.rank = 0;
    if (!lex_accept(&p->lx, ']')) {
        do {
            size_t dpos = (lex_peek(&p->lx), p->lx.pos);
            if (st->shape.rank == KILN_MAX_RANK)
                return lex_error_at(&p->lx, dpos, KILN_ERR_LIMIT, "rank exceeds the maximum of %d", KILN_MAX_RANK);
            kiln_dim d;
            KILN_TRY(parse_dim(&p->dims, &d));
            if (kiln_dim_is_const(d) && d < 0)
                return lex_error_at(&p->lx, dpos, KILN_ERR_SHAPE, "dimension %lld is negative", (long long)d);
            st->shape.dims[st->shape.rank++] = d;
        } while (lex_accept(&p->lx, ','));
        KILN_TRY(lex_expect(&p->lx, ']', "to close the shape (or ',' before another dimension)"));
    }
    return check_dims_size(&p->lx, pos, p->g, st->shape.rank, st->shape.dims, "the shape");
}

/* "@ "file":line:col" */
static kiln_status parse_loc(parser *p, node_stmt *st) {
    int64_t v[2];
    KILN_TRY(lex_string(&p->lx, "a source file name after '@'", &st->loc_file));
    for (int i = 0; i < 2; i++) {
        KILN_TRY(lex_expect(&p->lx, ':', i ? "between line and column" : "after the file name"));
        size_t pos = (lex_peek(&p->lx), p->lx.pos);
        KILN_TRY(lex_int(&p->lx, i ? "a column number" : "a line number", &v[i]));
        if (v[i] < INT_MIN || v[i] > INT_MAX)
            return lex_error_at(&p->lx, pos, KILN_ERR_FORMAT, "%s is out of range", i ? "column" : "line");
    }
    st->loc = (kiln_loc){st->loc_file, (int)v[0], (int)v[1]};
    return KILN_OK;
}

/* Copy a parsed attribute straight onto a source node (the builder has no
 * entry point for them; its lists and strings must live in the graph). */
static kiln_status set_source_attr(kiln_graph *g, kiln_node *n, const parsed_attr *pa) {
    int k = kiln_op_attr_index(n->op, pa->a.name);
    kiln_attr a = pa->a.value;
    if (a.kind == KILN_ATTR_INTS || a.kind == KILN_ATTR_DIMS) {
        int64_t *copy = graph_alloc(g, sizeof(int64_t) * (size_t)(a.n ? a.n : 1));
        if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        if (a.n) memcpy(copy, a.list, sizeof(int64_t) * (size_t)a.n);
        a.list = copy;
    }
    if (a.kind == KILN_ATTR_STR && !(a.s = kiln_graph_intern(g, a.s))) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    n->attrs[k] = a;
    return KILN_OK;
}

static kiln_status make_source(parser *p, node_stmt *st, kiln_value *out) {
    kiln_graph *g = p->g;
    kiln_op op = st->def->op;
    kiln_status s;
    if (op == KILN_OP_CONST) {
        s = kiln_graph_add_const(g, &st->data, out);
    } else {
        if (!st->name[0])
            return lex_error_at(&p->lx, st->op_pos, KILN_ERR_FORMAT, "%s name must not be empty", st->def->name);
        /* the builder would hand back the first param of that name instead */
        if (op == KILN_OP_PARAM && name_map_find(&p->params, st->name, strlen(st->name)) >= 0)
            return lex_error_at(&p->lx, st->op_pos, KILN_ERR_FORMAT, "param '%s' is declared twice", st->name);
        s = op == KILN_OP_INPUT ? kiln_graph_add_input(g, st->name, st->dtype, &st->shape, out)
                                : kiln_graph_add_param(g, st->name, st->dtype, &st->shape, out);
        if (!s && op == KILN_OP_PARAM) {
            const char *kept = kiln_graph_node(g, *out)->name;
            s = name_map_put(&p->params, kept, strlen(kept), *out);
        }
    }
    if (s) return lex_wrap_at(&p->lx, st->op_pos, s);
    for (int i = 0; i < st->nattrs; i++) KILN_TRY(set_source_attr(g, kiln_graph_node(g, *out), &st->attrs[i]));
    return KILN_OK;
}

static kiln_status make_op(parser *p, node_stmt *st, kiln_value *out) {
    kiln_graph *g = p->g;
    kiln_named_attr named[KILN_MAX_ATTRS];
    for (int i = 0; i < st->nattrs; i++) named[i] = st->attrs[i].a;
    kiln_status s = kiln_build(g, st->def->op, st->ninputs, st->inputs, st->nattrs, named, out);
    if (s) return lex_wrap_at(&p->lx, st->op_pos, s);
    kiln_node *n = kiln_graph_node(g, *out);
    if (n->dtype != st->dtype || !kiln_shape_equal(&n->shape, &st->shape)) {
        char s1[1100], s2[1100];
        return lex_error_at(&p->lx, st->type_pos, KILN_ERR_SHAPE,
                            "declared type %s%s does not match the type '%s' infers from its inputs, %s%s",
                            kiln_dtype_name(st->dtype), kiln_shape_str(g, &st->shape, s1, sizeof s1), st->def->name,
                            kiln_dtype_name(n->dtype), kiln_shape_str(g, &n->shape, s2, sizeof s2));
    }
    /* shape rules normalise attributes (slice bounds); keep them printable */
    for (int i = 0; i < st->def->nattrs; i++) {
        const kiln_attr *a = &n->attrs[i];
        if (a->kind == KILN_ATTR_DIM) KILN_TRY(check_dims_size(&p->lx, st->op_pos, g, 1, &a->i, "a normalised attribute"));
        if (a->kind == KILN_ATTR_DIMS)
            KILN_TRY(check_dims_size(&p->lx, st->op_pos, g, a->n, a->list, "a normalised attribute"));
    }
    return KILN_OK;
}

/* %label = op [ "name" | (inputs) ] [{attrs}] : type [= [data]] [@ "file":line:col] */
static kiln_status parse_node(parser *p, node_stmt *st) {
    ir_lexer *lx = &p->lx;
    size_t label_pos = (lex_peek(lx), lx->pos);
    KILN_TRY(lex_label(lx, "a node label", &st->label, &st->label_n));
    if (name_map_find(&p->labels, st->label, st->label_n) >= 0)
        return lex_error_at(lx, label_pos, KILN_ERR_FORMAT, "%.*s is defined twice", (int)st->label_n, st->label);
    KILN_TRY(lex_expect(lx, '=', "after the node's label"));
    char op_name[PARSE_MAX_NAME + 1];
    st->op_pos = (lex_peek(lx), lx->pos);
    KILN_TRY(lex_ident(lx, "an op name", op_name, sizeof op_name));
    kiln_op op;
    kiln_status s = kiln_op_lookup(op_name, &op);
    if (s) {
        kiln_status_free(s);
        return lex_error_at(lx, st->op_pos, KILN_ERR_FORMAT, "unknown op '%s'", op_name);
    }
    st->def = kiln_op_get(op);
    if (op == KILN_OP_INPUT || op == KILN_OP_PARAM) KILN_TRY(lex_string(lx, "the tensor's name", &st->name));
    else if (op != KILN_OP_CONST) KILN_TRY(parse_inputs(p, st));
    KILN_TRY(parse_attrs(p, st));
    KILN_TRY(lex_expect(lx, ':', "before the node's type"));
    KILN_TRY(parse_type(p, st));
    if (op == KILN_OP_CONST) {
        if (!kiln_shape_is_static(&st->shape))
            return lex_error_at(lx, st->type_pos, KILN_ERR_SHAPE, "a constant's shape must be static");
        KILN_TRY(lex_expect(lx, '=', "before the constant's data"));
        KILN_TRY(parse_const_data(lx, st->dtype, &st->shape, &st->data));
    } else if (lex_peek(lx) == '=') {
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "only const nodes carry data");
    }
    if (lex_accept(lx, '@')) KILN_TRY(parse_loc(p, st));
    kiln_graph_set_loc(p->g, st->loc);
    kiln_value v;
    KILN_TRY(is_source(op) ? make_source(p, st, &v) : make_op(p, st, &v));
    return name_map_put(&p->labels, st->label, st->label_n, v);
}

/* output "name" = %label */
static kiln_status parse_output(parser *p, size_t pos) {
    ir_lexer *lx = &p->lx;
    char *name = NULL;
    kiln_value v;
    kiln_status s = lex_string(lx, "the output's name", &name);
    if (!s) s = lex_expect(lx, '=', "after the output's name");
    if (!s) s = use_label(p, "the output's value", &v);
    if (!s && (s = kiln_graph_add_output(p->g, name, v))) s = lex_wrap_at(lx, pos, s);
    free(name);
    return s;
}

/* symbols a, b, c: fixes their ids, and makes undeclared symbols errors */
static kiln_status parse_symbols(parser *p) {
    ir_lexer *lx = &p->lx;
    do {
        char name[PARSE_MAX_NAME + 1];
        size_t pos = (lex_peek(lx), lx->pos);
        KILN_TRY(lex_ident(lx, "a symbol name", name, sizeof name));
        if (name_map_find(&p->dims.syms, name, strlen(name)) >= 0)
            return lex_error_at(lx, pos, KILN_ERR_FORMAT, "symbol '%s' is declared twice", name);
        KILN_TRY(dim_declare_symbol(&p->dims, name, pos));
    } while (lex_accept(lx, ','));
    p->dims.strict = 1;
    return KILN_OK;
}

static kiln_status parse_body(parser *p) {
    ir_lexer *lx = &p->lx;
    char got[64];
    if (lex_accept_word(lx, "symbols")) KILN_TRY(parse_symbols(p));
    for (;;) {
        int c = lex_peek(lx);
        if (c == '}') {
            lx->pos++;
            break;
        }
        if (c == '%') {
            node_stmt st;
            memset(&st, 0, sizeof st);
            kiln_status s = parse_node(p, &st);
            stmt_release(&st);
            KILN_TRY(s);
        } else if (lex_at_word(lx, "output")) {
            size_t pos = lx->pos;
            lx->pos += strlen("output");
            KILN_TRY(parse_output(p, pos));
        } else if (lex_at_word(lx, "symbols")) {
            return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "the symbols line must come first, before any node");
        } else {
            return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected a node ('%%N = op ...'), 'output' or '}', got %s",
                                lex_describe(lx, lx->pos, got, sizeof got));
        }
    }
    kiln_graph_set_loc(p->g, (kiln_loc){NULL, 0, 0}); /* nodes built later get no stale location */
    if (lex_peek(lx) != -1)
        return lex_error_at(lx, lx->pos, KILN_ERR_FORMAT, "expected end of input after the graph's '}', got %s",
                            lex_describe(lx, lx->pos, got, sizeof got));
    return KILN_OK;
}

kiln_status kiln_graph_parse(const char *text, const char *filename, kiln_graph **out) {
    *out = NULL;
    if (!text) return kiln_error(KILN_ERR_INVALID, "%s: no text to parse", filename ? filename : "<string>");
    parser p;
    memset(&p, 0, sizeof p);
    lex_init(&p.lx, text, filename);
    char got[64];
    if (!lex_accept_word(&p.lx, "graph"))
        return lex_error_at(&p.lx, p.lx.pos, KILN_ERR_FORMAT, "expected 'graph' to start the IR text, got %s",
                            lex_describe(&p.lx, p.lx.pos, got, sizeof got));
    char *name = NULL;
    KILN_TRY(lex_string(&p.lx, "the graph's name", &name));
    p.g = kiln_graph_new(name);
    free(name);
    if (!p.g) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    p.dims.lx = &p.lx;
    p.dims.g = p.g;
    kiln_status s = lex_expect(&p.lx, '{', "after the graph's name");
    if (!s) s = parse_body(&p);
    name_map_free(&p.labels);
    name_map_free(&p.params);
    dim_reader_release(&p.dims);
    if (s) {
        kiln_graph_free(p.g);
        return s;
    }
    *out = p.g;
    return KILN_OK;
}
