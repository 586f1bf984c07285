/* Graphs and a structural comparison shared by the IR text tests
 * (test_ir_text*.c). Not a test program itself: only test_*.c files are. */
#ifndef KILN_TEST_IR_TEXT_GRAPHS_H
#define KILN_TEST_IR_TEXT_GRAPHS_H

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "harness.h"

/* ---- building ------------------------------------------------------------ */
typedef struct gb {
    kiln_graph *g;
    int failed;
} gb;

static inline void gb_check(gb *b, kiln_status s, const char *what) {
    if (!s) return;
    fprintf(stderr, "building the test graph failed at %s: %s\n", what, kiln_status_message(s));
    kiln_status_free(s);
    b->failed = 1;
}

static inline kiln_value gb_op(gb *b, kiln_op op, int nin, const kiln_value *in, int na, const kiln_named_attr *a) {
    kiln_value v = KILN_NONE;
    gb_check(b, kiln_build(b->g, op, nin, in, na, a, &v), kiln_op_name(op));
    return v;
}
#define UNPAREN(...) __VA_ARGS__
#define OP1(op, x) gb_op(&b, KILN_OP_##op, 1, (kiln_value[]){x}, 0, NULL)
#define OP2(op, x, y) gb_op(&b, KILN_OP_##op, 2, (kiln_value[]){x, y}, 0, NULL)
/* OPA(SLICE, (x), (kiln_a_int("axis", 1), ...)): inputs and attributes in parentheses */
#define OPA(op, ins, attrs)                                                                                    \
    gb_op(&b, KILN_OP_##op, (int)(sizeof((kiln_value[]){UNPAREN ins}) / sizeof(kiln_value)),                  \
          (kiln_value[]){UNPAREN ins}, (int)(sizeof((kiln_named_attr[]){UNPAREN attrs}) / sizeof(kiln_named_attr)), \
          (kiln_named_attr[]){UNPAREN attrs})

static inline kiln_value gb_input(gb *b, const char *name, kiln_dtype t, kiln_shape s) {
    kiln_value v = KILN_NONE;
    gb_check(b, kiln_graph_add_input(b->g, name, t, &s, &v), name);
    return v;
}
static inline kiln_value gb_param(gb *b, const char *name, kiln_dtype t, kiln_shape s) {
    kiln_value v = KILN_NONE;
    gb_check(b, kiln_graph_add_param(b->g, name, t, &s, &v), name);
    return v;
}
/* A constant from raw element bytes. */
static inline kiln_value gb_const(gb *b, kiln_dtype t, int rank, const int64_t *shape, const void *data) {
    kiln_tensor x = kiln_tensor_view(t, rank, shape, (void *)data);
    kiln_value v = KILN_NONE;
    gb_check(b, kiln_graph_add_const(b->g, &x, &v), kiln_dtype_name(t));
    return v;
}

/* One constant of every dtype, with the awkward values: nan, +-inf, -0,
 * subnormals, extremes of every integer type. */
static inline void add_all_constants(gb *b) {
    static const float f32[] = {1.5f, -0.0f, NAN, INFINITY, -INFINITY, FLT_MAX, 1e-45f /* smallest subnormal */,
                                0.1f, 1.0f / 3.0f};
    /* raw bit patterns: 1, 65504 (max), 2^-24 (smallest subnormal), -0, inf, -inf, nan, 1/3 rounded, -2 */
    static const uint16_t f16[] = {0x3c00, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0xc000};
    /* 1, max, smallest subnormal, -0, nan, -inf, 0.1 rounded */
    static const uint16_t bf16[] = {0x3f80, 0x7f7f, 0x0001, 0x8000, 0x7fc0, 0xff80, 0x3dcd};
    static const double f64[] = {1.0 / 3.0, -0.0, NAN, -INFINITY, DBL_MAX, 4.9406564584124654e-324, 1e300};
    static const int8_t i8[] = {INT8_MIN, -1, 0, INT8_MAX};
    static const int16_t i16[] = {INT16_MIN, INT16_MAX};
    static const int32_t i32[] = {INT32_MIN, 7, INT32_MAX};
    static const int64_t i64[] = {INT64_MIN, -1, INT64_MAX};
    static const uint8_t u8[] = {0, 255};
    static const uint16_t u16[] = {0, 65535};
    static const uint32_t u32[] = {0, UINT32_MAX};
    static const uint64_t u64[] = {0, UINT64_C(9223372036854775808), UINT64_MAX};
    static const uint8_t bools[] = {1, 0, 1};
#define N(a) ((int64_t)(sizeof a / sizeof a[0]))
    gb_const(b, KILN_F32, 1, (int64_t[]){N(f32)}, f32);
    gb_const(b, KILN_F16, 1, (int64_t[]){N(f16)}, f16);
    gb_const(b, KILN_BF16, 1, (int64_t[]){N(bf16)}, bf16);
    gb_const(b, KILN_F64, 1, (int64_t[]){N(f64)}, f64);
    gb_const(b, KILN_I8, 2, (int64_t[]){2, 2}, i8);
    gb_const(b, KILN_I16, 1, (int64_t[]){N(i16)}, i16);
    gb_const(b, KILN_I32, 1, (int64_t[]){N(i32)}, i32);
    gb_const(b, KILN_I64, 1, (int64_t[]){N(i64)}, i64);
    gb_const(b, KILN_U8, 1, (int64_t[]){N(u8)}, u8);
    gb_const(b, KILN_U16, 1, (int64_t[]){N(u16)}, u16);
    gb_const(b, KILN_U32, 1, (int64_t[]){N(u32)}, u32);
    gb_const(b, KILN_U64, 1, (int64_t[]){N(u64)}, u64);
    gb_const(b, KILN_BOOL, 1, (int64_t[]){N(bools)}, bools);
#undef N
    float scalar = 2.0f;
    gb_const(b, KILN_F32, 0, NULL, &scalar); /* rank 0 */
    int32_t none[1] = {0};
    gb_const(b, KILN_I32, 2, (int64_t[]){0, 3}, none); /* no elements */
    float many[40]; /* more than one printed line of 16 */
    for (int i = 0; i < 40; i++) many[i] = (float)i * 0.25f - 3.0f;
    gb_const(b, KILN_F32, 3, (int64_t[]){2, 4, 5}, many);
}

/* A graph using every op in ops.def and every attribute kind the ops have,
 * symbolic dims with products, sums and negative coefficients, names that
 * need escapes, and source locations. NULL if building failed. */
static inline kiln_graph *build_coverage_graph(void) {
    gb b = {kiln_graph_new("cover \"all\" \\ ops\x01"), 0};
    kiln_graph *g = b.g;
    kiln_dim batch = kiln_dim_symbol(g, "batch"), seq = kiln_dim_symbol(g, "seq"), past = kiln_dim_symbol(g, "past");
    kiln_dim total = kiln_dim_add(g, past, seq);
    /* 2*batch*seq + 3 */
    kiln_dim odd = kiln_dim_add(g, kiln_dim_mul(g, kiln_dim_mul(g, batch, seq), 2), 3);
    /* -3*past + 4*seq - 1: negative coefficients */
    kiln_dim negc = kiln_dim_sub(g, kiln_dim_sub(g, kiln_dim_mul(g, seq, 4), kiln_dim_mul(g, past, 3)), 1);

    kiln_graph_set_loc(g, (kiln_loc){"model \"x\".kiln", 3, 14});
    kiln_value x = gb_input(&b, "x", KILN_F32, (kiln_shape){3, {batch, seq, 8}});
    kiln_graph_node(g, x)->attrs[0] = (kiln_attr){KILN_ATTR_FLOAT, 0, -0.25, 0, 0, 0}; /* input default */
    kiln_graph_set_loc(g, (kiln_loc){"model \"x\".kiln", 4, 1});
    kiln_value ids = gb_input(&b, "ids\t\"quoted\"\\", KILN_I64, (kiln_shape){2, {batch, seq}});
    kiln_graph_set_loc(g, (kiln_loc){"other.kiln", 0, 0});
    kiln_value mask = gb_input(&b, "mask", KILN_BOOL, (kiln_shape){4, {batch, 1, seq, total}});
    kiln_graph_set_loc(g, (kiln_loc){NULL, 0, 0});
    kiln_value oddin = gb_input(&b, "odd", KILN_F32, (kiln_shape){1, {odd}});
    kiln_value negin = gb_input(&b, "neg", KILN_F16, (kiln_shape){2, {negc, 2}});
    kiln_value pos = gb_input(&b, "pos", KILN_I32, (kiln_shape){1, {seq}});
    kiln_value kpos = gb_input(&b, "kpos", KILN_I32, (kiln_shape){1, {total}});
    kiln_value w = gb_param(&b, "w\xc3\xa9ights", KILN_F32, (kiln_shape){2, {8, 8}});
    kiln_value bias = gb_param(&b, "bias", KILN_F32, (kiln_shape){1, {8}});
    kiln_value emb = gb_param(&b, "emb", KILN_F32, (kiln_shape){2, {100, 8}});
    kiln_value q = gb_input(&b, "q", KILN_F32, (kiln_shape){4, {batch, 4, seq, 8}});
    kiln_value k = gb_input(&b, "k", KILN_F32, (kiln_shape){4, {batch, 2, total, 8}});
    kiln_value v = gb_input(&b, "v", KILN_F32, (kiln_shape){4, {batch, 2, total, 6}});
    add_all_constants(&b);

    /* elementwise unary */
    kiln_value e = x;
    static const kiln_op unary[] = {KILN_OP_NEG,  KILN_OP_ABS,   KILN_OP_SIGN,  KILN_OP_EXP,   KILN_OP_LOG,
                                    KILN_OP_SQRT, KILN_OP_RSQRT, KILN_OP_RECIP, KILN_OP_TANH,  KILN_OP_SIGMOID,
                                    KILN_OP_ERF,  KILN_OP_SIN,   KILN_OP_COS,   KILN_OP_FLOOR, KILN_OP_CEIL,
                                    KILN_OP_ROUND, KILN_OP_RELU, KILN_OP_GELU,  KILN_OP_GELU_TANH, KILN_OP_SILU};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        kiln_graph_set_loc(g, (kiln_loc){"ops.kiln", 10 + (int)i, 5});
        e = gb_op(&b, unary[i], 1, &e, 0, NULL);
    }
    kiln_graph_set_loc(g, (kiln_loc){NULL, 0, 0});
    kiln_value h = OPA(CAST, (e), (kiln_a_dtype("dtype", KILN_F16)));
    (void)h;
    /* binary, compare, logic, where */
    kiln_value mm = OP2(MATMUL, x, w);
    OPA(MATMUL, (x, w), (kiln_a_bool("trans_b", 1)));
    kiln_value y = OP2(ADD, mm, bias);
    static const kiln_op binary[] = {KILN_OP_SUB, KILN_OP_MUL, KILN_OP_DIV, KILN_OP_POW,
                                     KILN_OP_MOD, KILN_OP_MAX, KILN_OP_MIN};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) y = gb_op(&b, binary[i], 2, (kiln_value[]){y, x}, 0, NULL);
    kiln_value c1 = OP2(EQ, y, x), c2 = OP2(NE, y, x), c3 = OP2(LT, y, x), c4 = OP2(LE, y, x), c5 = OP2(GT, y, x),
               c6 = OP2(GE, y, x);
    kiln_value lg = OP2(AND, c1, c2);
    lg = OP2(OR, lg, c3);
    lg = OP2(XOR, lg, c4);
    lg = OP2(AND, lg, OP1(NOT, c5));
    lg = OP2(OR, lg, c6);
    kiln_value wh = gb_op(&b, KILN_OP_WHERE, 3, (kiln_value[]){lg, y, x}, 0, NULL);
    /* reductions */
    int64_t ax_last[] = {-1}, ax_two[] = {2, 0};
    OPA(REDUCE_SUM, (wh), (kiln_a_ints("axes", 1, ax_last), kiln_a_bool("keepdims", 1)));
    OPA(REDUCE_MEAN, (wh), (kiln_a_ints("axes", 2, ax_two)));
    OPA(REDUCE_MAX, (wh), (kiln_a_ints("axes", 0, NULL)));
    OPA(REDUCE_MIN, (wh), (kiln_a_ints("axes", 1, ax_last), kiln_a_bool("keepdims", 0)));
    OPA(REDUCE_PROD, (wh), (kiln_a_ints("axes", 1, ax_two)));
    OPA(ARGMAX, (wh), (kiln_a_int("axis", -1)));
    OPA(ARGMIN, (wh), (kiln_a_int("axis", 1), kiln_a_bool("keepdims", 1)));
    /* data movement */
    kiln_value gat = OPA(GATHER, (emb, ids), (kiln_a_int("axis", 0)));
    kiln_value cat = OPA(CONCAT, (gat, wh, x), (kiln_a_int("axis", 1))); /* seq + seq + seq = 3*seq */
    kiln_value sl = OPA(SLICE, (cat), (kiln_a_int("axis", 1), kiln_a_dim("start", 1), kiln_a_dim("end", seq)));
    OPA(SLICE, (cat), (kiln_a_int("axis", -2), kiln_a_dim("start", -3), kiln_a_dim("end", kiln_dim_mul(g, seq, 2))));
    OPA(SLICE, (w), (kiln_a_int("axis", 0), kiln_a_dim("start", 7), kiln_a_dim("end", -9), kiln_a_int("step", -2)));
    kiln_dim flat[2] = {kiln_dim_mul(g, batch, kiln_dim_sub(g, seq, 1)), 8};
    kiln_value rs = OPA(RESHAPE, (sl), (kiln_a_dims("shape", 2, flat)));
    int64_t perm[] = {1, 0};
    OPA(TRANSPOSE, (rs), (kiln_a_ints("perm", 2, perm)));
    kiln_dim target[3] = {batch, seq, 8};
    OPA(EXPAND, (bias), (kiln_a_dims("shape", 3, target)));
    kiln_dim ishape[2] = {total, 4};
    kiln_named_attr iota_attrs[] = {kiln_a_dims("shape", 2, ishape), kiln_a_int("axis", 0), kiln_a_dim("start", past),
                                    kiln_a_dtype("dtype", KILN_I32)};
    gb_op(&b, KILN_OP_IOTA, 0, NULL, 4, iota_attrs);
    /* composites */
    OPA(SOFTMAX, (y), (kiln_a_int("axis", 1)));
    OP1(LOG_SOFTMAX, y);
    OPA(LAYER_NORM, (y, KILN_NONE, bias), (kiln_a_float("eps", 1e-12)));
    gb_op(&b, KILN_OP_LAYER_NORM, 3, (kiln_value[]){y, bias, bias}, 0, NULL);
    gb_op(&b, KILN_OP_RMS_NORM, 2, (kiln_value[]){y, bias}, 0, NULL);
    OPA(ROPE, (q, pos), (kiln_a_float("theta", 500000.0), kiln_a_bool("interleaved", 1), kiln_a_int("rotary_dim", 4)));
    kiln_value att = OPA(ATTENTION, (q, k, v, mask), (kiln_a_bool("causal", 1), kiln_a_float("scale", 0.125)));
    OPA(ATTENTION, (q, k, v), (kiln_a_bool("causal", 0)));
    OPA(REL_POS_BUCKET, (pos, kpos), (kiln_a_bool("bidirectional", 1), kiln_a_int("num_buckets", 32)));
    OP1(NEG, oddin);
    OP1(ABS, negin);
    /* the ops added for the ONNX importer */
    static const kiln_op more_unary[] = {KILN_OP_TAN,  KILN_OP_ASIN,  KILN_OP_ACOS,  KILN_OP_ATAN, KILN_OP_SINH,
                                         KILN_OP_COSH, KILN_OP_ASINH, KILN_OP_ACOSH, KILN_OP_ATANH};
    kiln_value t = y;
    for (size_t i = 0; i < sizeof more_unary / sizeof more_unary[0]; i++) t = gb_op(&b, more_unary[i], 1, &t, 0, NULL);
    OP2(FMOD, t, x);
    kiln_value bits = OP1(BITNOT, ids);
    static const kiln_op bitwise[] = {KILN_OP_BITAND, KILN_OP_BITOR, KILN_OP_BITXOR, KILN_OP_SHL, KILN_OP_SHR};
    for (size_t i = 0; i < sizeof bitwise / sizeof bitwise[0]; i++)
        bits = gb_op(&b, bitwise[i], 2, (kiln_value[]){bits, ids}, 0, NULL);
    OPA(CUMSUM, (y), (kiln_a_int("axis", -1), kiln_a_bool("exclusive", 1)));
    OPA(CUMPROD, (y), (kiln_a_int("axis", 1), kiln_a_bool("reverse", 1)));
    kiln_value idx3 = OPA(CAST, (x), (kiln_a_dtype("dtype", KILN_I64)));
    OPA(GATHER_ELEMENTS, (x, idx3), (kiln_a_int("axis", 1)));
    OPA(TOPK, (y), (kiln_a_dim("k", 3), kiln_a_int("axis", 2), kiln_a_bool("largest", 0)));
    OPA(TOPK, (x), (kiln_a_dim("k", kiln_dim_sub(g, seq, 1)), kiln_a_int("axis", 1)));
    /* block-quantized weights: 2 rows of 64 q8_0 columns are 2 x 68 raw bytes */
    kiln_value qw = gb_param(&b, "qw", KILN_U8, (kiln_shape){2, {2, 68}});
    kiln_dim qshape[2] = {2, 64};
    OPA(DEQUANTIZE, (qw), (kiln_a_str("type", "q8_0"), kiln_a_dims("shape", 2, qshape)));
    if (!b.failed) {
        gb_check(&b, kiln_graph_add_output(g, "attention out", att), "output");
        gb_check(&b, kiln_graph_add_output(g, "y\n\"2\"", y), "output");
        gb_check(&b, kiln_graph_add_output(g, "x again", x), "output");
    }
    kiln_graph_set_loc(g, (kiln_loc){NULL, 0, 0});
    if (b.failed) {
        kiln_graph_free(g);
        return NULL;
    }
    return g;
}

/* ---- structural comparison ----------------------------------------------- */
static inline int differ(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return 0;
}

static inline int same_dim(const kiln_graph *a, kiln_dim da, const kiln_graph *b, kiln_dim db) {
    char s1[256], s2[256];
    /* handles are graph-local; the canonical text identifies the expression */
    return strcmp(kiln_dim_str(a, da, s1, sizeof s1), kiln_dim_str(b, db, s2, sizeof s2)) == 0;
}

static inline int same_attr(const kiln_graph *ga, const kiln_attr *a, const kiln_graph *gb_, const kiln_attr *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case KILN_ATTR_NONE: return 1;
    case KILN_ATTR_INT:
    case KILN_ATTR_BOOL:
    case KILN_ATTR_DTYPE: return a->i == b->i;
    case KILN_ATTR_FLOAT: return (isnan(a->f) && isnan(b->f)) || memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case KILN_ATTR_DIM: return same_dim(ga, a->i, gb_, b->i);
    case KILN_ATTR_STR: return strcmp(a->s, b->s) == 0;
    case KILN_ATTR_INTS:
    case KILN_ATTR_DIMS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (a->kind == KILN_ATTR_INTS ? a->list[i] != b->list[i] : !same_dim(ga, a->list[i], gb_, b->list[i]))
                return 0;
        return 1;
    }
    return 0;
}

static inline int same_data(const kiln_tensor *a, const kiln_tensor *b) {
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    size_t size = kiln_dtype_size(a->dtype), n = (size_t)kiln_tensor_numel(a);
    for (size_t i = 0; i < n; i++) {
        const char *pa = (const char *)a->data + i * size, *pb = (const char *)b->data + i * size;
        if (memcmp(pa, pb, size) == 0) continue;
        /* a nan reads back as a nan, its payload is not kept */
        if (kiln_dtype_is_float(a->dtype) && isnan(kiln_load_f64(a->data, a->dtype, i)) &&
            isnan(kiln_load_f64(b->data, b->dtype, i)))
            continue;
        return 0;
    }
    return 1;
}

/* 1 when a and b are the same graph up to dim handle numbering; otherwise
 * 0 with the first difference in why. */
static inline int graphs_same(const kiln_graph *a, const kiln_graph *b, char *why, size_t cap) {
    if (strcmp(kiln_graph_name(a), kiln_graph_name(b)) != 0) return differ(why, cap, "graph names differ");
    if (kiln_graph_symbol_count(a) != kiln_graph_symbol_count(b)) return differ(why, cap, "symbol counts differ");
    for (int i = 0; i < kiln_graph_symbol_count(a); i++)
        if (strcmp(kiln_graph_symbol_name(a, i), kiln_graph_symbol_name(b, i)) != 0)
            return differ(why, cap, "symbol %d differs", i);
    if (kiln_graph_node_count(a) != kiln_graph_node_count(b))
        return differ(why, cap, "node counts differ: %d vs %d", kiln_graph_node_count(a), kiln_graph_node_count(b));
    for (int v = 0; v < kiln_graph_node_count(a); v++) {
        const kiln_node *x = kiln_graph_node(a, v), *y = kiln_graph_node(b, v);
        if (x->op != y->op || x->dtype != y->dtype || x->shape.rank != y->shape.rank || x->ninputs != y->ninputs)
            return differ(why, cap, "node %%%d: op, dtype, rank or input count differ", v);
        for (int i = 0; i < x->shape.rank; i++)
            if (!same_dim(a, x->shape.dims[i], b, y->shape.dims[i])) return differ(why, cap, "node %%%d: dim %d", v, i);
        for (int i = 0; i < x->ninputs; i++)
            if (x->inputs[i] != y->inputs[i]) return differ(why, cap, "node %%%d: input %d", v, i);
        for (int i = 0; i < KILN_MAX_ATTRS; i++)
            if (!same_attr(a, &x->attrs[i], b, &y->attrs[i])) return differ(why, cap, "node %%%d: attribute %d", v, i);
        if ((x->name == NULL) != (y->name == NULL) || (x->name && strcmp(x->name, y->name) != 0))
            return differ(why, cap, "node %%%d: name", v);
        if ((x->loc.file == NULL) != (y->loc.file == NULL) || (x->loc.file && strcmp(x->loc.file, y->loc.file) != 0) ||
            x->loc.line != y->loc.line || x->loc.col != y->loc.col)
            return differ(why, cap, "node %%%d: location", v);
        if (x->op == KILN_OP_CONST && !same_data(&x->value, &y->value)) return differ(why, cap, "node %%%d: data", v);
    }
    if (kiln_graph_output_count(a) != kiln_graph_output_count(b)) return differ(why, cap, "output counts differ");
    for (int i = 0; i < kiln_graph_output_count(a); i++)
        if (strcmp(kiln_graph_output_name(a, i), kiln_graph_output_name(b, i)) != 0 ||
            kiln_graph_output_value(a, i) != kiln_graph_output_value(b, i))
            return differ(why, cap, "output %d differs", i);
    return 1;
}

#endif
