/* Internals of the ONNX importer: the table of ONNX values, the emitters
 * that build IR (folding constants and symbolic shape arithmetic on the
 * way), and the op converters.
 *
 * Every ONNX value is an `ox_id` into the context's value table. A value
 * may be
 *   - known: its data is in `k` (initializers, Constant, folded results),
 *   - symbolic: a small static-shaped integer tensor whose elements are
 *     kiln_dims (`sym`), e.g. Shape(x) when x has a `seq` dim,
 *   - an IR value (`v`), built lazily for known/symbolic values the first
 *     time an IR node needs them (ox_ir).
 * Shape-computing subgraphs thus never reach the IR: Reshape, Expand,
 * Slice, ConstantOfShape and Range read their shape inputs as dims. */
#ifndef KILN_FRONTEND_ONNX_IMPORT_H
#define KILN_FRONTEND_ONNX_IMPORT_H

#include "kiln/ir.h"
#include "kiln/tensor.h"
#include "onnx_proto.h"

typedef int ox_id;
#define OX_NONE (-1)

/* Constant dims beyond this (from corrupt or hostile files) are rejected:
 * products of a few of them must stay far from int64 overflow. */
#define OX_MAX_DIM (INT64_C(1) << 31)
/* Results of at most this many elements are folded at import time. */
#define OX_FOLD_MAX (1 << 16)
/* Symbolic integer tensors hold at most this many elements. */
#define OX_SYM_MAX 64
/* Initializers up to this many elements become constants, larger ones
 * parameters bound to the weight map. */
#define OX_CONST_MAX 64

typedef struct ox_val {
    const char *name; /* ONNX name; NULL for intermediates */
    kiln_dtype dtype;
    kiln_shape shape;
    kiln_value v;      /* IR value, or KILN_NONE until needed */
    int known;         /* k holds the data */
    kiln_tensor k;
    kiln_dim *sym;     /* numel entries when symbolic (malloc'd), else NULL */
    const char *param; /* initializer name: becomes a PARAM when large */
    char *bad;         /* why this value cannot be used (unsupported type), malloc'd */
} ox_val;

typedef struct ox_ctx {
    kiln_graph *g;
    kiln_tensor_map *weights;
    const char *path; /* model file, for messages */
    const onnx_model *model;
    int64_t opset;     /* default-domain opset of the model */
    ox_val *vals;
    int nvals, cap;
    int *hash; /* open addressing over named values; -1 empty */
    int hcap, nnames;
    /* names bound inside unrolled loop bodies, unbound per iteration */
    const char **scope_names;
    int nscope, scope_cap, scope_depth;
    int64_t converted; /* nodes converted, unrolled copies included (bounded) */
    /* the node being converted */
    const onnx_node *node;
    int node_index;
} ox_ctx;

static inline ox_val *OV(ox_ctx *c, ox_id id) { return &c->vals[id]; }

/* ---- value table (onnx_values.c) ------------------------------------------ */
void ox_ctx_free(ox_ctx *c);
kiln_status ox_bind_name(ox_ctx *c, const char *name, ox_id id); /* name -> value */
ox_id ox_lookup(ox_ctx *c, const char *name);                     /* OX_NONE if unknown */
/* Names bound between begin and end are unbound again at end. */
int ox_scope_begin(ox_ctx *c);
void ox_scope_end(ox_ctx *c, int mark);

/* A value wrapping IR value v. */
kiln_status ox_from_ir(ox_ctx *c, kiln_value v, ox_id *out);
/* A known value; takes over t's data when it owns it, else copies. */
kiln_status ox_from_tensor(ox_ctx *c, kiln_tensor *t, ox_id *out);
/* A known value viewing t (which must outlive the import). */
kiln_status ox_from_view(ox_ctx *c, const kiln_tensor *t, ox_id *out);
/* Known scalars and integer vectors. */
kiln_status ox_scalar(ox_ctx *c, kiln_dtype dt, double v, ox_id *out);
kiln_status ox_scalar_i(ox_ctx *c, kiln_dtype dt, int64_t v, ox_id *out);
kiln_status ox_ints(ox_ctx *c, kiln_dtype dt, int n, const int64_t *v, ox_id *out); /* 1-D */
/* An integer tensor of static shape whose elements are dims. */
kiln_status ox_from_dims(ox_ctx *c, kiln_dtype dt, int rank, const int64_t *shape, const kiln_dim *dims, ox_id *out);

/* The IR value of id, building PARAM/CONST/shape nodes on first use. */
kiln_status ox_ir(ox_ctx *c, ox_id id, kiln_value *out);

/* Integers beyond +-2^61 (INT64_MAX as "to the end") clamped into the
 * range a constant kiln_dim can hold; beyond 2^40 they mean "unbounded"
 * wherever they are used. */
#define OX_DIM_LIMIT (INT64_C(1) << 61)
static inline kiln_dim ox_clamp_dim(int64_t v) { return v > OX_DIM_LIMIT ? OX_DIM_LIMIT : v < -OX_DIM_LIMIT ? -OX_DIM_LIMIT : v; }

/* Element values of a small integer tensor as dims (symbolic allowed):
 * count, or -1 when the value is not known at import time. */
int ox_dims(ox_ctx *c, ox_id id, kiln_dim *out, int max);
/* Same, but constant integers only (bool too). */
int ox_const_ints(ox_ctx *c, ox_id id, int64_t *out, int max);
/* A known scalar (or one-element tensor) as a double; 0 if not known. */
int ox_const_f64(ox_ctx *c, ox_id id, double *out);
static inline int ox_is_known(ox_ctx *c, ox_id id) { return id != OX_NONE && OV(c, id)->known; }

/* Build op on values: folds when every input is known and small, does
 * symbolic arithmetic on dims when it can, else emits IR. */
kiln_status ox_op(ox_ctx *c, kiln_op op, int n, const ox_id *in, int nattrs, const kiln_named_attr *attrs,
                  ox_id *out);

/* ---- emit helpers (onnx_emit.c) ------------------------------------------- */
kiln_status ox_unary(ox_ctx *c, kiln_op op, ox_id x, ox_id *out);
kiln_status ox_binary(ox_ctx *c, kiln_op op, ox_id a, ox_id b, ox_id *out);
/* binary op with a scalar constant of a's dtype */
kiln_status ox_binary_s(ox_ctx *c, kiln_op op, ox_id a, double s, ox_id *out);
kiln_status ox_where(ox_ctx *c, ox_id cond, ox_id a, ox_id b, ox_id *out);
kiln_status ox_cast(ox_ctx *c, ox_id x, kiln_dtype dt, ox_id *out);
kiln_status ox_reshape(ox_ctx *c, ox_id x, int rank, const kiln_dim *dims, ox_id *out);
kiln_status ox_transpose(ox_ctx *c, ox_id x, int rank, const int64_t *perm, ox_id *out);
kiln_status ox_slice(ox_ctx *c, ox_id x, int axis, kiln_dim start, kiln_dim end, int64_t step, ox_id *out);
kiln_status ox_concat(ox_ctx *c, int n, const ox_id *xs, int axis, ox_id *out);
kiln_status ox_expand(ox_ctx *c, ox_id x, int rank, const kiln_dim *dims, ox_id *out);
kiln_status ox_gather(ox_ctx *c, ox_id x, ox_id idx, int axis, ox_id *out);
kiln_status ox_reduce(ox_ctx *c, kiln_op op, ox_id x, int naxes, const int64_t *axes, int keepdims, ox_id *out);
kiln_status ox_matmul(ox_ctx *c, ox_id a, ox_id b, ox_id *out);
/* Inserts size-1 dims at (sorted, normalised) positions / removes them. */
kiln_status ox_unsqueeze(ox_ctx *c, ox_id x, int naxes, const int64_t *axes, ox_id *out);
kiln_status ox_squeeze(ox_ctx *c, ox_id x, int naxes, const int64_t *axes, ox_id *out);
/* Scalar constant of x's dtype. */
kiln_status ox_like(ox_ctx *c, ox_id x, double v, ox_id *out);
/* iota along `axis` of a tensor of `shape` (i64). */
kiln_status ox_iota(ox_ctx *c, int rank, const kiln_dim *shape, int axis, kiln_dim start, ox_id *out);

/* Rank of x and its dims. */
static inline int ox_rank(ox_ctx *c, ox_id x) { return OV(c, x)->shape.rank; }
static inline kiln_dtype ox_dtype(ox_ctx *c, ox_id x) { return OV(c, x)->dtype; }

/* ---- errors and attributes ----------------------------------------------- */
/* Error about the current node; the importer adds which node it is. */
kiln_status ox_unsupported(ox_ctx *c, const char *fmt, ...) KILN_PRINTF(2, 3);
kiln_status ox_invalid(ox_ctx *c, const char *fmt, ...) KILN_PRINTF(2, 3);

int64_t ox_attr_i(const onnx_node *n, const char *name, int64_t dflt);
double ox_attr_f(const onnx_node *n, const char *name, double dflt);
const char *ox_attr_s(const onnx_node *n, const char *name, const char *dflt);
/* ints attribute: count, or -1 when absent */
int ox_attr_ints(const onnx_node *n, const char *name, const int64_t **out);
int ox_has_attr(const onnx_node *n, const char *name);

/* Normalise an axis for rank; error naming the attribute. */
kiln_status ox_axis(ox_ctx *c, int64_t axis, int rank, const char *what, int *out);

/* ONNX <-> kiln dtypes. */
kiln_status onnx_to_kiln_dtype(int onnx_type, kiln_dtype *out);
int kiln_to_onnx_dtype(kiln_dtype t);

/* TensorProto -> tensor: a view of its bytes when possible, else an owned
 * copy. `base_dir` resolves external data (NULL: external data is an
 * error); `ext` keeps the mappings of external files alive. */
typedef struct onnx_ext_files onnx_ext_files;
kiln_status onnx_tensor_data(const onnx_tensor_proto *t, const char *base_dir, onnx_ext_files **ext, kiln_tensor *out);
void onnx_ext_files_free(onnx_ext_files *e);
kiln_status onnx_ext_files_hold(onnx_ext_files *e, kiln_tensor_map *m); /* hands the mappings to m */

/* Converts a subgraph's nodes in place, its inputs bound to `ins` (its
 * names join the current scope; wrap in ox_scope_begin/end to reuse it),
 * and returns its outputs (onnx_import.c). */
kiln_status ox_inline_graph(ox_ctx *c, const onnx_graph *g, int nin, const ox_id *ins, ox_id *outs, int nouts);

/* Conv of x with w by the node's conv attributes, no bias (onnx_ops_conv.c). */
kiln_status ox_conv_apply(ox_ctx *c, const onnx_node *n, ox_id x, ox_id w, ox_id *out);

/* ---- converters ------------------------------------------------------------ */
typedef kiln_status (*ox_convert_fn)(ox_ctx *c, const onnx_node *n, const ox_id *in, int nin, ox_id *out, int nout);

typedef struct ox_converter {
    const char *op_type;
    ox_convert_fn fn;
} ox_converter;

/* Converters of ops in other domains (ai.onnx.ml, ai.onnx.preview.training). */
typedef struct ox_domain_converter {
    const char *domain, *op_type;
    ox_convert_fn fn;
} ox_domain_converter;
extern const ox_domain_converter ox_domain_ops[];
extern const ox_domain_converter ox_preview_ops[];

/* Converter tables of each family file, NULL-terminated. */
extern const ox_converter ox_elementwise_ops[];
extern const ox_converter ox_reduce_ops[];
extern const ox_converter ox_shape_ops[];
extern const ox_converter ox_nn_ops[];
extern const ox_converter ox_more_ops[];
extern const ox_converter ox_conv_ops[];
extern const ox_converter ox_resize_ops[];
extern const ox_converter ox_scatter_ops[];
extern const ox_converter ox_quant_ops[];
extern const ox_converter ox_misc_ops[];
extern const ox_converter ox_rnn_ops[];
extern const ox_converter ox_loop_ops[];
extern const ox_converter ox_dft_ops[];
extern const ox_converter ox_gridsample_ops[];

/* The whole import (onnx_import.c): graph and weight map for a decoded
 * model. Initializers view the model's bytes unless copy_weights is set;
 * base_dir resolves external data (NULL: not allowed); graph inputs named
 * in `bind` (may be NULL) are fixed to its values. */
kiln_status onnx_import_model(const onnx_model *m, const char *path, const char *base_dir, int copy_weights,
                              const kiln_tensor_map *bind, kiln_graph **graph, kiln_tensor_map **weights);
int onnx_op_supported(const char *domain, const char *op_type);
void onnx_list_ops(void (*fn)(const char *op_type, void *ctx), void *ctx);

/* Input i of the node, or OX_NONE when omitted. */
static inline ox_id ox_in(const ox_id *in, int nin, int i) { return i < nin ? in[i] : OX_NONE; }
/* Input i, which the op requires. */
kiln_status ox_req(ox_ctx *c, const ox_id *in, int nin, int i, ox_id *out);

/* Converter definition helper. */
#define OX_CONV(fn) static kiln_status fn(ox_ctx *c, const onnx_node *n, const ox_id *in, int nin, ox_id *out, int nout)
#define OX_REQ(var, i) ox_id var; KILN_TRY(ox_req(c, in, nin, (i), &var))

#endif
