/* The graph IR: a typed SSA graph of tensor values.
 *
 * Each node produces exactly one value, identified by its index (kiln_value).
 * Nodes are stored in topological order: a node's inputs always come before
 * it. Shapes are made of kiln_dim values which are either plain integers or
 * handles to interned symbolic expressions over named symbols such as
 * `batch`, `seq` or `past`; compiled code receives the symbols' values at run
 * time. */
#ifndef KILN_IR_H
#define KILN_IR_H

#include <stdint.h>
#include <stdio.h>

#include "dtype.h"
#include "status.h"
#include "tensor.h"

typedef int32_t kiln_value;
#define KILN_NONE ((kiln_value)-1)

/* ---- dims ---------------------------------------------------------------
 * A kiln_dim below KILN_DIM_SYM_BASE is a constant (it may be negative in
 * attributes such as slice bounds); at or above it, it names an interned
 * polynomial over symbols (canonical form, so equal expressions have equal
 * handles within one graph). */
typedef int64_t kiln_dim;
#define KILN_DIM_SYM_BASE (INT64_C(1) << 62)
#define KILN_DIM_INVALID INT64_MIN
static inline int kiln_dim_is_const(kiln_dim d) { return d < KILN_DIM_SYM_BASE && d != KILN_DIM_INVALID; }

typedef struct kiln_shape {
    int rank;
    kiln_dim dims[KILN_MAX_RANK];
} kiln_shape;

typedef struct kiln_graph kiln_graph;

/* Symbol `name` as a dim (created on first use). */
kiln_dim kiln_dim_symbol(kiln_graph *g, const char *name);
int kiln_graph_symbol_count(const kiln_graph *g);
const char *kiln_graph_symbol_name(const kiln_graph *g, int i);
int kiln_graph_symbol_find(const kiln_graph *g, const char *name); /* -1 if absent */
/* Arithmetic on dims. Results that would need more terms than the
 * canonical form holds come back as KILN_DIM_INVALID. */
kiln_dim kiln_dim_add(kiln_graph *g, kiln_dim a, kiln_dim b);
kiln_dim kiln_dim_sub(kiln_graph *g, kiln_dim a, kiln_dim b);
kiln_dim kiln_dim_mul(kiln_graph *g, kiln_dim a, kiln_dim b);
/* Exact division: fails unless b divides a for every value of the symbols
 * (a constant dividing all coefficients, or a monomial common to all terms). */
kiln_status kiln_dim_div(kiln_graph *g, kiln_dim a, kiln_dim b, kiln_dim *out);
/* Value of d given values for every symbol (indexed by symbol id). */
kiln_status kiln_dim_eval(const kiln_graph *g, kiln_dim d, const int64_t *symvals, int64_t *out);
/* Text form: "batch*seq + 3". Writes into buf and returns it. */
const char *kiln_dim_str(const kiln_graph *g, kiln_dim d, char *buf, size_t cap);
/* "[batch, seq, 768]" */
const char *kiln_shape_str(const kiln_graph *g, const kiln_shape *s, char *buf, size_t cap);
int kiln_shape_equal(const kiln_shape *a, const kiln_shape *b);
/* Number of elements as a dim. */
kiln_dim kiln_shape_numel_dim(kiln_graph *g, const kiln_shape *s);
int kiln_shape_is_static(const kiln_shape *s);
/* Bind all symbols and produce a concrete shape. */
kiln_status kiln_shape_eval(const kiln_graph *g, const kiln_shape *s, const int64_t *symvals, int64_t *out);

/* ---- ops ---------------------------------------------------------------- */
typedef enum kiln_op {
#define KILN_OP(id, name, mi, ma, fc, rule, attrs, grad) KILN_OP_##id,
#include "ops.def"
#undef KILN_OP
    KILN_OP_COUNT
} kiln_op;

/* Fusion classes, ordered as in TVM's op-pattern lattice. */
typedef enum kiln_fusion_class {
    KILN_FUSE_ELEMWISE,
    KILN_FUSE_BROADCAST,
    KILN_FUSE_INJECTIVE,
    KILN_FUSE_REDUCTION,
    KILN_FUSE_MATMUL, /* contraction whose output takes an elementwise epilogue */
    KILN_FUSE_OPAQUE,
} kiln_fusion_class;

typedef enum kiln_attr_kind {
    KILN_ATTR_NONE,
    KILN_ATTR_INT,
    KILN_ATTR_BOOL,
    KILN_ATTR_FLOAT,
    KILN_ATTR_INTS,
    KILN_ATTR_DIM,
    KILN_ATTR_DIMS,
    KILN_ATTR_DTYPE,
    KILN_ATTR_STR,
} kiln_attr_kind;

typedef struct kiln_attr {
    kiln_attr_kind kind; /* KILN_ATTR_NONE when unset */
    int64_t i;           /* INT, BOOL, DIM, DTYPE */
    double f;            /* FLOAT */
    int n;               /* INTS, DIMS: count */
    const int64_t *list; /* INTS, DIMS: owned by the graph */
    const char *s;       /* STR: owned by the graph */
} kiln_attr;

#define KILN_MAX_ATTRS 8

typedef struct kiln_attr_def {
    const char *name;
    kiln_attr_kind kind;
    int required;
    kiln_attr dflt; /* kind NONE when there is no default */
} kiln_attr_def;

typedef struct kiln_node kiln_node;
/* Shape rule: computes dtype and shape of n from its inputs and attrs,
 * normalising attributes (negative axes) in place. */
typedef kiln_status (*kiln_shape_rule)(kiln_graph *g, kiln_node *n);
/* Gradient rule (reverse mode): given a node, its inputs and the adjoint of
 * its output, builds the adjoints of its inputs. The context is private to
 * the autodiff pass (passes/grad.h); see include/kiln/autodiff.h. */
typedef struct kiln_grad_ctx kiln_grad_ctx;
typedef kiln_status (*kiln_grad_rule)(kiln_grad_ctx *c);

typedef struct kiln_op_def {
    kiln_op op;
    const char *name;
    int min_inputs, max_inputs; /* max -1: variadic */
    kiln_fusion_class fusion;
    kiln_shape_rule infer;
    int nattrs;
    kiln_attr_def attrs[KILN_MAX_ATTRS];
    kiln_grad_rule grad; /* grad_none: no gradient flows through the op */
} kiln_op_def;

const kiln_op_def *kiln_op_get(kiln_op op);
kiln_status kiln_op_lookup(const char *name, kiln_op *out);
const char *kiln_op_name(kiln_op op);
int kiln_op_attr_index(kiln_op op, const char *attr); /* -1 if the op has none such */

/* ---- nodes and graphs --------------------------------------------------- */
typedef struct kiln_loc {
    const char *file; /* interned in the graph; NULL when unknown */
    int line, col;
} kiln_loc;

struct kiln_node {
    kiln_op op;
    kiln_dtype dtype;
    kiln_shape shape;
    int ninputs;
    kiln_value *inputs; /* KILN_NONE marks an omitted optional input */
    kiln_attr attrs[KILN_MAX_ATTRS]; /* in the op's schema order */
    const char *name;   /* INPUT/PARAM: tensor name; otherwise NULL */
    kiln_loc loc;
    kiln_tensor value;  /* CONST: the data, owned by the graph */
};

kiln_graph *kiln_graph_new(const char *name);
void kiln_graph_free(kiln_graph *g);
const char *kiln_graph_name(const kiln_graph *g);
int kiln_graph_node_count(const kiln_graph *g);
kiln_node *kiln_graph_node(const kiln_graph *g, kiln_value v);
/* Copy a string into the graph's storage. */
const char *kiln_graph_intern(kiln_graph *g, const char *s);

/* Location stamped on nodes built from now on (for error messages). */
void kiln_graph_set_loc(kiln_graph *g, kiln_loc loc);
kiln_loc kiln_graph_loc(const kiln_graph *g);
/* "file:line:col" of a node, or "" when unknown. */
const char *kiln_loc_str(kiln_loc loc, char *buf, size_t cap);

/* A named attribute for kiln_build. */
typedef struct kiln_named_attr {
    const char *name;
    kiln_attr value;
} kiln_named_attr;

static inline kiln_named_attr kiln_a_int(const char *n, int64_t v) {
    kiln_named_attr a = {n, {KILN_ATTR_INT, v, 0, 0, 0, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_bool(const char *n, int v) {
    kiln_named_attr a = {n, {KILN_ATTR_BOOL, v != 0, 0, 0, 0, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_float(const char *n, double v) {
    kiln_named_attr a = {n, {KILN_ATTR_FLOAT, 0, v, 0, 0, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_ints(const char *n, int count, const int64_t *v) {
    kiln_named_attr a = {n, {KILN_ATTR_INTS, 0, 0, count, v, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_dim(const char *n, kiln_dim v) {
    kiln_named_attr a = {n, {KILN_ATTR_DIM, v, 0, 0, 0, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_dims(const char *n, int count, const kiln_dim *v) {
    kiln_named_attr a = {n, {KILN_ATTR_DIMS, 0, 0, count, v, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_dtype(const char *n, kiln_dtype t) {
    kiln_named_attr a = {n, {KILN_ATTR_DTYPE, (int64_t)t, 0, 0, 0, 0}};
    return a;
}
static inline kiln_named_attr kiln_a_str(const char *n, const char *s) {
    kiln_named_attr a = {n, {KILN_ATTR_STR, 0, 0, 0, 0, s}};
    return a;
}

/* Build a node of any op: checks arity and attributes, fills defaults, runs
 * the op's shape rule. On failure nothing is added and the message names
 * the op (and the current location, when set). Attribute values of kind INT
 * are accepted where the schema wants BOOL, FLOAT, DIM or DTYPE. */
kiln_status kiln_build(kiln_graph *g, kiln_op op, int ninputs, const kiln_value *inputs, int nattrs,
                       const kiln_named_attr *attrs, kiln_value *out);

/* Graph inputs (fed at run time), parameters (bound to weight tensors by
 * name) and constants. Declaring a parameter twice returns the first node
 * when dtype and shape agree, and fails otherwise. */
kiln_status kiln_graph_add_input(kiln_graph *g, const char *name, kiln_dtype dtype, const kiln_shape *shape,
                                 kiln_value *out);
kiln_status kiln_graph_add_param(kiln_graph *g, const char *name, kiln_dtype dtype, const kiln_shape *shape,
                                 kiln_value *out);
/* Copies the tensor's data. */
kiln_status kiln_graph_add_const(kiln_graph *g, const kiln_tensor *t, kiln_value *out);
kiln_status kiln_graph_add_scalar(kiln_graph *g, kiln_dtype dtype, double v, kiln_value *out);
kiln_status kiln_graph_add_output(kiln_graph *g, const char *name, kiln_value v);

int kiln_graph_output_count(const kiln_graph *g);
const char *kiln_graph_output_name(const kiln_graph *g, int i);
kiln_value kiln_graph_output_value(const kiln_graph *g, int i);
/* Replace the value behind output i (passes use this). */
void kiln_graph_set_output_value(kiln_graph *g, int i, kiln_value v);
/* The value of the INPUT / PARAM node named `name`, or KILN_NONE. */
kiln_value kiln_graph_find_input(const kiln_graph *g, const char *name);
kiln_value kiln_graph_find_param(const kiln_graph *g, const char *name);

/* Checks: topological order, arity, attribute kinds, shape rules agree with
 * the recorded types, unique input/param/output names. */
kiln_status kiln_graph_verify(const kiln_graph *g);

/* Textual form (see docs/ir.md). print then parse yields the same graph. */
kiln_status kiln_graph_print(const kiln_graph *g, FILE *f);
kiln_status kiln_graph_to_string(const kiln_graph *g, char **out); /* malloc'd */
kiln_status kiln_graph_parse(const char *text, const char *filename, kiln_graph **out);

/* Values for every symbol, from the shapes of the given input tensors
 * (indexed like the graph's INPUT nodes, in node order; NULL entries are
 * skipped). Fails on a conflict, naming input and dim; symbols no input
 * determines are left at -1. */
kiln_status kiln_graph_bind_symbols(const kiln_graph *g, const kiln_tensor *const *inputs, int ninputs,
                                    int64_t *symvals);
/* Number of INPUT nodes and the i-th one. */
int kiln_graph_input_count(const kiln_graph *g);
kiln_value kiln_graph_input_value(const kiln_graph *g, int i);

#endif
