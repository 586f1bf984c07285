/* The .kiln language: lexical forms, every statement and expression form,
 * compile-time values. Expectations are worked out by hand in the
 * assert() lines (each assert is its own check: a false one fails the
 * compile, which test_assert_fails shows). */
#include "test_lang_util.h"

/* Every program needs an output; this one is appended to the snippets. */
#define TAIL "\ninput z: f32[2]\noutput o = z\n"

static void test_assert_fails(void) {
    kiln_graph_free(LANG_OK("assert(1 == 1)" TAIL, NULL));
    LANG_ERR("assert(1 == 2, \"one is not {1 + 1}\")" TAIL, NULL, "t.kiln:1:1: one is not 2");
    LANG_ERR("assert(false)" TAIL, NULL, "assertion failed");
}

static void test_lexical(void) {
    kiln_graph *g = LANG_OK(
        "# a comment line\n"
        "a = 1; b = 2   # two statements on one line\n"
        "assert(a + b == 3)\n"
        "c = [1,\n"
        "     2,\n"
        "     3]        # newlines inside brackets are ignored\n"
        "assert(len(c) == 3)\n"
        "d = (1 +\n"
        "     2)\n"
        "e = 1 +\n"
        "    2          # a trailing operator continues the line\n"
        "assert(d == 3 and e == 3)\n"
        "assert(1e-5 == 0.00001 and 2.5e3 == 2500.0 and 1E2 == 100.0)\n"
        "assert(\"a\\tb\\n\\\"q\\\"\\\\\" == \"a\" + \"\\t\" + \"b\\n\" + \"\\\"q\\\"\" + \"\\\\\")\n"
        "i = 3\n"
        "assert(\"h.{i}.attn\" == \"h.3.attn\")\n"
        "assert(\"{i * 2}-{i if i > 2 else 0}\" == \"6-3\")\n"
        "assert(len(\"\\{\\}\") == 2)\n"
        "assert(\"{1.5}|{true}|{none}|{[1, 2]}|{f32}\" == \"1.5|true|none|[1, 2]|f32\")\n"
        "assert(\"{1e-05}\" == \"1e-05\" and \"{2.0}\" == \"2.0\")\n" TAIL,
        NULL);
    kiln_graph_free(g);
}

static void test_operators(void) {
    kiln_graph *g = LANG_OK(
        "assert(2 + 3 * 4 == 14)\n"          /* * binds tighter than + */
        "assert((2 + 3) * 4 == 20)\n"
        "assert(-2 ** 2 == -4)\n"            /* ** binds tighter than unary minus */
        "assert(2 ** -1 == 0.5)\n"           /* the exponent may be negative */
        "assert(2 ** 3 ** 2 == 512)\n"       /* right associative: 2 ** 9 */
        "assert(7 // 2 == 3 and -7 // 2 == -4)\n" /* floor division */
        "assert(7 % 3 == 1 and -7 % 3 == 2)\n"    /* Python's modulo sign */
        "assert(7 / 2 == 3.5)\n"             /* / always gives a float */
        "assert(1 + 0.5 == 1.5)\n"
        "assert(10 - 2 - 3 == 5)\n"          /* left associative */
        "assert(1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2)\n"
        "assert(not (1 > 2))\n"
        "assert((none or 5) == 5 and (0 and 1) == 0)\n" /* and/or give an operand, as in Python */
        "assert(not (false and undefined_name))\n" /* short circuit: never evaluated */
        "assert(true or undefined_name)\n"
        "assert((1 if true else 2) == 1 and (1 if false else 2) == 2)\n"
        "assert((1 if false else 2 if false else 3) == 3)\n"
        "assert([1, 2] + [3] == [1, 2, 3] and [0] * 3 == [0, 0, 0])\n"
        "assert(\"ab\" + \"c\" == \"abc\" and \"a\" < \"b\")\n"
        "assert(none == none and 1 != none and \"1\" != 1)\n"
        "assert(1 == 1.0 and f32 == f32 and f32 != f16)\n" TAIL,
        NULL);
    kiln_graph_free(g);
}

static void test_lists_and_strings(void) {
    kiln_graph *g = LANG_OK(
        "l = [10, 20, 30, 40]\n"
        "assert(l[0] == 10 and l[-1] == 40)\n"
        "assert(l[1:3] == [20, 30] and l[:2] == [10, 20] and l[2:] == [30, 40] and l[-2:] == [30, 40])\n"
        "assert(l[5:] == [])\n"
        "a, b, c = [1, 2, 3]\n"
        "assert(a == 1 and b == 2 and c == 3)\n"
        "assert(range(3) == [0, 1, 2] and range(2, 4) == [2, 3] and range(3, 1) == [])\n"
        "assert(len([]) == 0 and len(\"abc\") == 3)\n"
        "assert(int(\"42\") == 42 and int(2.9) == 2 and int(true) == 1)\n"
        "assert(float(3) == 3.0 and float(\"2.5\") == 2.5)\n"
        "assert(str(12) == \"12\" and str(0.5) == \"0.5\" and str(\"s\") == \"s\")\n"
        "assert(startswith(\"gated-gelu\", \"gated-\") and not startswith(\"relu\", \"gated-\"))\n"
        "assert(endswith(\"model.safetensors\", \".safetensors\"))\n"
        "assert(replace(\"gated-gelu\", \"gated-\", \"\") == \"gelu\" and replace(\"aXbX\", \"X\", \"yy\") == \"ayybyy\")\n" TAIL,
        NULL);
    kiln_graph_free(g);
}

static void test_number_math(void) {
    /* builtin math on plain numbers is computed at compile time */
    kiln_graph *g = LANG_OK(
        "assert(sqrt(64) == 8.0 and max(3, 5) == 5 and min(3, 5) == 3 and abs(-2) == 2)\n"
        "assert(floor(2.5) == 2 and ceil(2.1) == 3 and floor(-0.5) == -1)\n"
        "assert(pow(2, 10) == 1024 and pow(4, 0.5) == 2.0)\n"
        "assert(exp(0) == 1.0 and log(1) == 0.0 and tanh(0) == 0.0)\n"
        "assert(sigmoid(0) == 0.5 and rsqrt(4) == 0.5)\n" TAIL,
        NULL);
    CHECK(g && count_op(g, KILN_OP_CONST) == 0); /* no tensors were made for them */
    kiln_graph_free(g);
    LANG_ERR("x = sqrt(-1)" TAIL, NULL, "t.kiln:1:5: sqrt() of a negative number");
}

static void test_functions(void) {
    kiln_graph *g = LANG_OK(
        "fn add(a, b=10) { return a + b }\n"
        "assert(add(1) == 11 and add(1, 2) == 3 and add(b=1, a=2) == 3)\n"
        "assert(later(2) == 4)\n" /* functions are hoisted */
        "fn later(x) { return x * 2 }\n"
        "fn fact(n) {\n"
        "    if n <= 1 { return 1 }\n"
        "    return n * fact(n - 1)\n"
        "}\n"
        "assert(fact(5) == 120)\n"
        "fn early(x) {\n"
        "    for i in 0..10 {\n"
        "        if i == x { return i * 100 }\n"
        "    }\n"
        "    return -1\n"
        "}\n"
        "assert(early(3) == 300 and early(20) == -1)\n"
        "fn nothing() { x = 1 }\n"
        "assert(nothing() == none)\n"
        "g = 5\n"
        "fn reads_global() { return g }\n"
        "fn shadows() { g = 7\n return g }\n"
        "assert(reads_global() == 5 and shadows() == 7 and g == 5)\n" /* locals do not leak */
        "fn apply(f, x) { return f(x) }\n"
        "assert(apply(later, 3) == 6 and apply(sqrt, 9) == 3.0)\n"  /* functions are values */
        "fn d(x, y=x + 1) { return y }\n"
        "assert(d(1) == 2)\n" TAIL, /* defaults see earlier parameters */
        NULL);
    kiln_graph_free(g);
}

static void test_control_flow(void) {
    kiln_graph *g = LANG_OK(
        "s = 0\n"
        "for i in 0..5 { s = s + i }\n"
        "assert(s == 10)\n" /* 0+1+2+3+4 */
        "t = 0\n"
        "for x in [3, 4] { t = t + x }\n"
        "assert(t == 7)\n"
        "for i in 3..1 { assert(false) }\n" /* empty range */
        "n = 4\n"
        "if n > 5 { k = 1 } else if n > 3 { k = 2 } else { k = 3 }\n"
        "assert(k == 2)\n"
        "if false {\n  k = 9\n}\nelse {\n  k = 8\n}\n"
        "assert(k == 8)\n"
        "if none { k = 0 }\n"
        "assert(k == 8)\n" TAIL,
        NULL);
    kiln_graph_free(g);
}

/* Tensor arithmetic runs through the reference interpreter; every value
 * below is small-integer arithmetic exact in float32, so tol 0. */
static void test_tensor_ops(void) {
    kiln_graph *g = LANG_OK(
        "input x: f32[3]\n"
        "input w: f32[3, 2]\n"
        "output add = x * 2 + 1\n"
        "output rsub = 10 - x\n"
        "output neg = -x\n"
        "output pw = x ** 2\n"
        "output mm = reshape(x, [1, 3]) @ w * 2\n" /* @ binds tighter than *: (x @ w) * 2 */
        "output cmp = where(x > 1.5, x, 0.0)\n"
        "output idx = w[:, -1]\n"
        "output row = w[1]\n"
        "output ell = w[..., 0:1]\n"
        "output rev = x[::-1]\n"
        "output sm = reduce_sum(w, [0])\n"
        "output cat = concat([x, x], 0)\n"
        "output tr = transpose(w)\n"
        "output rs = reshape(w, [-1])\n"
        "a, b = split(w, 2)\n"
        "output sp = b\n"
        "parts = split(x, [1, 2])\n"
        "output sp2 = parts[1]\n"
        "output fl = x // 2.0\n"
        "output full1 = full([2], 7.0)\n",
        NULL);
    if (!g) return;
    kiln_tensor_map *in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "x", f32_tensor(1, (int64_t[]){3}, (float[]){1, 2, 3})));
    CHECK_OK(kiln_tensor_map_put(in, "w", f32_tensor(2, (int64_t[]){3, 2}, (float[]){1, 2, 3, 4, 5, 6})));
    kiln_tensor_map *out = RUN_REF(g, NULL, in);
    CHECK_VALUES(out, "add", 3, ((double[]){3, 5, 7}), 0);
    CHECK_VALUES(out, "rsub", 3, ((double[]){9, 8, 7}), 0);
    CHECK_VALUES(out, "neg", 3, ((double[]){-1, -2, -3}), 0);
    CHECK_VALUES(out, "pw", 3, ((double[]){1, 4, 9}), 0);
    /* [1 2 3] @ [[1 2] [3 4] [5 6]] = [1+6+15, 2+8+18] = [22, 28], times 2 */
    CHECK_VALUES(out, "mm", 2, ((double[]){44, 56}), 0);
    CHECK_VALUES(out, "cmp", 3, ((double[]){0, 2, 3}), 0);
    CHECK_VALUES(out, "idx", 3, ((double[]){2, 4, 6}), 0);
    CHECK_VALUES(out, "row", 2, ((double[]){3, 4}), 0);
    CHECK_VALUES(out, "ell", 3, ((double[]){1, 3, 5}), 0);
    CHECK_VALUES(out, "rev", 3, ((double[]){3, 2, 1}), 0);
    CHECK_VALUES(out, "sm", 2, ((double[]){9, 12}), 0);
    CHECK_VALUES(out, "cat", 6, ((double[]){1, 2, 3, 1, 2, 3}), 0);
    CHECK_VALUES(out, "tr", 6, ((double[]){1, 3, 5, 2, 4, 6}), 0);
    CHECK_VALUES(out, "rs", 6, ((double[]){1, 2, 3, 4, 5, 6}), 0);
    CHECK_VALUES(out, "sp", 3, ((double[]){2, 4, 6}), 0);
    CHECK_VALUES(out, "sp2", 2, ((double[]){2, 3}), 0);
    CHECK_VALUES(out, "fl", 3, ((double[]){0, 1, 1}), 0);
    CHECK_VALUES(out, "full1", 2, ((double[]){7, 7}), 0);
    /* shapes: w[:, -1] drops the axis, w[..., 0:1] keeps it */
    const kiln_tensor *t = out ? kiln_tensor_map_get(out, "idx") : NULL;
    CHECK(t && t->rank == 1 && t->shape[0] == 3);
    t = out ? kiln_tensor_map_get(out, "ell") : NULL;
    CHECK(t && t->rank == 2 && t->shape[0] == 3 && t->shape[1] == 1);
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}

/* Generic op calls: positional tensors fill inputs, later positionals fill
 * attributes in schema order, keywords name them, none skips an optional
 * input, numbers become scalars of the first tensor's dtype. */
static void test_op_calls(void) {
    kiln_graph *g = LANG_OK(
        "input x: f32[2, 2]\n"
        "input ids: i64[3]\n"
        "output s0 = softmax(x, 0)\n"          /* axis positionally */
        "output s1 = softmax(x, axis=0)\n"
        "output ln = layer_norm(x, none, none, 0.5)\n" /* eps after two omitted inputs */
        "output mx = max(x, 2.5)\n"            /* 2.5 becomes an f32 scalar */
        "output eqs = ids == 1\n"              /* 1 becomes an i64 scalar */
        "output io = iota([3], start=2, dtype=f32)\n"
        "output ca = cast(ids, f32)\n"
        "output g = embedding(x, ids[0:2])\n"
        "output lg = logical_and(ids > 0, ids < 3)\n"
        "output unsq = unsqueeze(x, -1)\n",
        NULL);
    if (!g) return;
    const kiln_node *ln = find_op(g, KILN_OP_LAYER_NORM);
    CHECK(ln && ln->ninputs == 1 && ln->attrs[0].f == 0.5); /* trailing none inputs are dropped */
    const kiln_node *sm = find_op(g, KILN_OP_SOFTMAX);
    CHECK(sm && sm->attrs[0].i == 0);
    kiln_tensor_map *in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "x", f32_tensor(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4})));
    CHECK_OK(kiln_tensor_map_put(in, "ids", i64_tensor(1, (int64_t[]){3}, (int64_t[]){0, 1, 2})));
    kiln_tensor_map *out = RUN_REF(g, NULL, in);
    CHECK_VALUES(out, "mx", 4, ((double[]){2.5, 2.5, 3, 4}), 0);
    CHECK_VALUES(out, "eqs", 3, ((double[]){0, 1, 0}), 0);
    CHECK_VALUES(out, "io", 3, ((double[]){2, 3, 4}), 0);
    CHECK_VALUES(out, "ca", 3, ((double[]){0, 1, 2}), 0);
    CHECK_VALUES(out, "g", 4, ((double[]){1, 2, 3, 4}), 0);
    CHECK_VALUES(out, "lg", 3, ((double[]){0, 1, 1}), 0);
    /* softmax over axis 0 of [[1 2] [3 4]]: each column is softmax([a, a+2]):
     * 1 / (1 + e^2) = 0.11920292, e^2 / (1 + e^2) = 0.88079708 (float32: 1e-6) */
    CHECK_VALUES(out, "s0", 4, ((double[]){0.11920292, 0.11920292, 0.88079708, 0.88079708}), 1e-6);
    CHECK_VALUES(out, "s1", 4, ((double[]){0.11920292, 0.11920292, 0.88079708, 0.88079708}), 1e-6);
    /* layer_norm of [1 2]: mean 1.5, var 0.25, eps 0.5: (x - 1.5) / sqrt(0.75) = -+0.57735027 */
    CHECK_VALUES(out, "ln", 4, ((double[]){-0.57735027, 0.57735027, -0.57735027, 0.57735027}), 1e-6);
    const kiln_tensor *u = out ? kiln_tensor_map_get(out, "unsq") : NULL;
    CHECK(u && u->rank == 3 && u->shape[2] == 1);
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}

/* Input declarations: symbolic dims, dims from expressions, defaults. */
static void test_inputs_outputs(void) {
    kiln_graph *g = LANG_OK(
        "n = 4\n"
        "input a: i64[batch, seq] = 1\n"
        "input b: f16[batch, 2 * n]\n"
        "input c: f32[]\n"
        "assert(seq == dim(a, 1))\n" /* an input's new symbols become names */
        "assert(shape(b)[1] == 8 and rank(b) == 2 and dtype(b) == f16)\n"
        "output o = cast(a, f32)\n",
        NULL);
    if (!g) return;
    CHECK(kiln_graph_input_count(g) == 3);
    const kiln_node *a = kiln_graph_node(g, kiln_graph_find_input(g, "a"));
    CHECK(a && a->dtype == KILN_I64 && a->attrs[0].kind == KILN_ATTR_FLOAT && a->attrs[0].f == 1);
    CHECK(a && !kiln_dim_is_const(a->shape.dims[0]) && kiln_graph_symbol_find(g, "batch") >= 0);
    const kiln_node *b = kiln_graph_node(g, kiln_graph_find_input(g, "b"));
    CHECK(b && b->dtype == KILN_F16 && b->shape.dims[1] == 8 && b->shape.dims[0] == a->shape.dims[0]);
    const kiln_node *c = kiln_graph_node(g, kiln_graph_find_input(g, "c"));
    CHECK(c && c->shape.rank == 0 && c->attrs[0].kind == KILN_ATTR_NONE);
    CHECK(kiln_graph_output_count(g) == 1 && strcmp(kiln_graph_output_name(g, 0), "o") == 0);
    /* nodes carry the .kiln line that made them */
    CHECK(a && a->loc.file && strcmp(a->loc.file, "t.kiln") == 0 && a->loc.line == 2 && a->loc.col == 1);
    const kiln_node *cast = find_op(g, KILN_OP_CAST);
    CHECK(cast && cast->loc.line == 7 && cast->loc.col == 12);
    kiln_graph_free(g);
}

static void test_symbolic_dims(void) {
    kiln_graph *g = LANG_OK(
        "input x: f32[batch, seq, 8]\n"
        "b, s, d = shape(x)\n"
        "assert(s * 2 == 2 * s and s + 1 - 1 == s and (s * 4) // 2 == s * 2)\n"
        "assert(s != b and str(s * 2 + b) == \"batch + 2*seq\")\n"
        "y = reshape(x, [b * s, -1])\n"         /* -1 resolved symbolically */
        "assert(shape(y) == [b * s, 8])\n"
        "z = reshape(x, [b, -1])\n"
        "assert(shape(z) == [b, s * 8])\n"
        "output o = x[:, -1] + x[:, 0]\n"       /* symbolic -1 index */
        "output last = x[:, s - 1:]\n",
        NULL);
    if (!g) return;
    const kiln_node *sl = find_op(g, KILN_OP_SLICE);
    CHECK(sl && !kiln_dim_is_const(sl->attrs[1].i)); /* start = seq - 1 */
    kiln_graph_free(g);
}

static void test_params(void) {
    kiln_graph *g = LANG_OK(
        "input x: f32[2, 3]\n"
        "w = param(\"w\", [4, 3])\n"
        "w2 = param(\"w\", [4, 3])\n"     /* same name: the same node (tied weights) */
        "h = param(\"half\", 3, dtype=f16)\n"
        "output o = linear(x, w, param(\"b\", [4])) + linear(x, w2)\n"
        "output p = cast(h, f32)\n",
        NULL);
    if (!g) return;
    CHECK(count_op(g, KILN_OP_PARAM) == 3);
    const kiln_node *h = kiln_graph_node(g, kiln_graph_find_param(g, "half"));
    CHECK(h && h->dtype == KILN_F16 && h->shape.rank == 1 && h->shape.dims[0] == 3);
    kiln_graph_free(g);
    LANG_ERR("a = param(\"w\", [2])\nb = param(\"w\", [3])" TAIL, NULL, "t.kiln:2:5: parameter 'w' is used as f32[2] and as f32[3]");
    LANG_ERR("a = param(\"w\")" TAIL, NULL, "needs a shape");

    /* with a weight map the shape may come from the file; has_weight asks */
    kiln_tensor_map *wm = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(wm, "bert.embeddings.word.weight", f32_tensor(2, (int64_t[]){5, 2}, (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9})));
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.weights = wm;
    g = LANG_OK("e = param(\"embeddings.word.weight\")\n" /* found under the "bert." prefix */
                "assert(shape(e) == [5, 2])\n"
                "assert(has_weight(\"embeddings.word.weight\") and not has_weight(\"pooler.dense.weight\"))\n"
                "output o = e\n",
                &o);
    kiln_graph_free(g);
    /* without weights every weight is assumed present */
    g = LANG_OK("assert(has_weight(\"anything\"))" TAIL, NULL);
    kiln_graph_free(g);
    kiln_tensor_map_free(wm);
}

static void test_activations(void) {
    static const struct {
        const char *name;
        kiln_op op;
    } cases[] = {{"gelu", KILN_OP_GELU},         {"gelu_new", KILN_OP_GELU_TANH}, {"gelu_pytorch_tanh", KILN_OP_GELU_TANH},
                 {"gelu_fast", KILN_OP_GELU_TANH}, {"relu", KILN_OP_RELU},       {"silu", KILN_OP_SILU},
                 {"swish", KILN_OP_SILU},        {"tanh", KILN_OP_TANH},         {"sigmoid", KILN_OP_SIGMOID},
                 {"quick_gelu", KILN_OP_SIGMOID}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "input x: f32[2]\noutput o = activation(x, \"%s\")\n", cases[i].name);
        kiln_graph *g = LANG_OK(src, NULL);
        CHECK(g && find_op(g, cases[i].op));
        kiln_graph_free(g);
    }
    kiln_graph *g = LANG_OK("input x: f32[2]\noutput o = activation(x, \"linear\")\n", NULL);
    CHECK(g && kiln_graph_node_count(g) == 1); /* identity: the output is the input */
    kiln_graph_free(g);
    LANG_ERR("input x: f32[2]\noutput o = activation(x, \"gelu_magic\")\n", NULL,
             "t.kiln:2:12: unknown activation 'gelu_magic' (known: gelu, ");

    /* quick_gelu(x) = x * sigmoid(1.702 x); relu6 clips; values by hand:
     * quick_gelu(1) = 1 / (1 + e^-1.702) = 0.84579577; relu6(8) = 6 */
    g = LANG_OK("input x: f32[2]\noutput q = activation(x, \"quick_gelu\")\noutput r = activation(x * 8, \"relu6\")\n", NULL);
    kiln_tensor_map *in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "x", f32_tensor(1, (int64_t[]){2}, (float[]){1, -1})));
    kiln_tensor_map *out = g ? RUN_REF(g, NULL, in) : NULL;
    /* quick_gelu(-1) = -1 / (1 + e^1.702) = -0.15420423; float32 rounding: 1e-6 */
    CHECK_VALUES(out, "q", 2, ((double[]){0.84579577, -0.15420423}), 1e-6);
    CHECK_VALUES(out, "r", 2, ((double[]){6, 0}), 0);
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}

int main(void) {
    test_assert_fails();
    test_lexical();
    test_operators();
    test_lists_and_strings();
    test_number_math();
    test_functions();
    test_control_flow();
    test_tensor_ops();
    test_op_calls();
    test_inputs_outputs();
    test_symbolic_dims();
    test_params();
    test_activations();
    return test_finish("test_lang_eval");
}
