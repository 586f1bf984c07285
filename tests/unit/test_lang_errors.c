/* Every class of .kiln error names FILE:LINE:COL on one line and says
 * what was expected; limits stop runaway programs. Line and column of
 * each expectation are counted by hand in the source strings. */
#include "test_lang_util.h"

#define TAIL "\ninput z: f32[2]\noutput o = z\n"

static void check_one_line(const char *src) {
    kiln_graph *g = NULL;
    kiln_status s = kiln_lang_compile(src, "t.kiln", NULL, &g, NULL);
    CHECK(s && !strchr(kiln_status_message(s), '\n'));
    kiln_status_free(s);
    kiln_graph_free(g);
}

static void test_syntax(void) {
    LANG_ERR("x = (1 + 2\ny = 3" TAIL, NULL, "t.kiln:2:1: expected ')', got 'y'");
    LANG_ERR("x = 1 + )" TAIL, NULL, "t.kiln:1:9: expected an expression, got ')'");
    LANG_ERR("x = \"abc" TAIL, NULL, "t.kiln:1:5: unterminated string");
    LANG_ERR("x = \"a\\qb\"" TAIL, NULL, "t.kiln:1:7: unknown escape");
    LANG_ERR("x = 1 $ 2" TAIL, NULL, "t.kiln:1:7: unexpected character '$'");
    LANG_ERR("x = \"{1 +}\"" TAIL, NULL, "t.kiln:1:10: expected an expression");
    LANG_ERR("x = \"{a\"" TAIL, NULL, "t.kiln:1:6: unclosed '{' in string");
    LANG_ERR("x = \"a}\"" TAIL, NULL, "t.kiln:1:7: single '}' in string");
    LANG_ERR("fn f(a {\n}" TAIL, NULL, "t.kiln:1:8: expected ',' or ')'");
    LANG_ERR("if true {\n  x = 1\n", NULL, "t.kiln:3:1: missing '}' at end of file");
    LANG_ERR("x = 1 }" TAIL, NULL, "t.kiln:1:7: '}' without a matching '{'");
    LANG_ERR("x = 1 2" TAIL, NULL, "t.kiln:1:7: expected end of line, got '2'");
    LANG_ERR("1 = x" TAIL, NULL, "t.kiln:1:1: can only assign to a name");
    LANG_ERR("x = 1 < 2 < 3" TAIL, NULL, "t.kiln:1:11: comparisons cannot be chained");
    LANG_ERR("return 1" TAIL, NULL, "t.kiln:1:1: 'return' outside a function");
    LANG_ERR("if true {\n  fn f() { return 1 }\n}" TAIL, NULL, "t.kiln:2:3: functions may only be defined at the top level");
    LANG_ERR("fn f(a, a) { return 1 }" TAIL, NULL, "t.kiln:1:9: parameter 'a' appears twice");
    LANG_ERR("fn f(a=1, b) { return 1 }" TAIL, NULL, "t.kiln:1:11: parameter 'b' without a default");
    LANG_ERR("f(a=1, 2)" TAIL, NULL, "t.kiln:1:8: positional argument after keyword argument");
    LANG_ERR("config {\n  a = 1\n  a = 2\n}" TAIL, NULL, "t.kiln:3:3: config 'a' is declared twice");
    LANG_ERR("input x f32[2]" TAIL, NULL, "t.kiln:1:9: expected ':' and a type");
    LANG_ERR("x = 99999999999999999999" TAIL, NULL, "t.kiln:1:5: integer literal too large");
    LANG_ERR("x = 1.5e" TAIL, NULL, "t.kiln:1:5: malformed number exponent");
    LANG_ERR("x = [1, 2][]" TAIL, NULL, "t.kiln:1:11: empty subscript");
    LANG_ERR("fn f() { return 1 }\nfn f() { return 2 }" TAIL, NULL, "t.kiln:2:1: function 'f' is defined twice (first at line 1)");
    check_one_line("x = (1 +\n\n\n");
}

static void test_names_and_calls(void) {
    LANG_ERR("x = 1\ny = x + undefined" TAIL, NULL, "t.kiln:2:9: unknown name 'undefined'");
    LANG_ERR("fn f(a, b) { return a }\nx = f(1)" TAIL, NULL, "t.kiln:2:5: f() is missing argument 'b'");
    LANG_ERR("fn f(a) { return a }\nx = f(1, 2)" TAIL, NULL, "t.kiln:2:5: f() takes 1 argument, got 2");
    LANG_ERR("fn f(a) { return a }\nx = f(c=2)" TAIL, NULL, "t.kiln:2:5: f() has no parameter 'c'");
    LANG_ERR("x = len(1, 2)" TAIL, NULL, "t.kiln:1:5: len() takes 1 argument, got 2");
    LANG_ERR("x = split()" TAIL, NULL, "t.kiln:1:5: split() is missing argument 'x'");
    LANG_ERR("input a: f32[2]\nx = softmax(a, 0, 1)" TAIL, NULL,
             "t.kiln:2:5: softmax() got too many arguments (after its tensor inputs it takes: axis)");
    LANG_ERR("input a: f32[2]\nx = softmax(a, axes=0)" TAIL, NULL, "t.kiln:2:5: softmax() has no attribute 'axes' (it has: axis)");
    LANG_ERR("input a: f32[2]\nx = add(a)" TAIL, NULL, "t.kiln:2:5: add() needs 2 tensor inputs, got 1");
    LANG_ERR("x = 3\ny = x(1)" TAIL, NULL, "t.kiln:2:5: a int is not a function");
    LANG_ERR("a, b = [1, 2, 3]" TAIL, NULL, "t.kiln:1:1: expected 2 values to unpack, got 3");
    LANG_ERR("x = [1][3]" TAIL, NULL, "t.kiln:1:9: list index 3 is out of range for a list of 1");
}

static void test_types(void) {
    LANG_ERR("x = \"a\" + 1" TAIL, NULL, "t.kiln:1:9: cannot apply '+' to a string and a int");
    LANG_ERR("x = -\"a\"" TAIL, NULL, "t.kiln:1:5: cannot negate a string");
    LANG_ERR("input a: f32[2]\nif a { x = 1 }" TAIL, NULL, "t.kiln:2:4: an 'if' condition must be known at compile time");
    LANG_ERR("input a: f32[2]\nx = a and a" TAIL, NULL, "t.kiln:2:7: 'and' needs compile-time values; use logical_and(a, b)");
    LANG_ERR("input a: f32[2]\nx = 1 if a else 2" TAIL, NULL, "t.kiln:2:10: the condition of 'a if cond else b' must be known");
    LANG_ERR("input a: i64[2]\nx = a * 0.5" TAIL, NULL, "t.kiln:2:7: cannot use the fractional number 0.5 with a i64 tensor");
    LANG_ERR("input a: f32[2]\nx = softmax(a, axis=\"x\")" TAIL, NULL, "t.kiln:2:5: softmax(): 'axis' must be an integer, got string");
    LANG_ERR("x = param(1, [2])" TAIL, NULL, "t.kiln:1:5: param(): 'name' must be a string, got int");
    LANG_ERR("input a: f32[n]\nx = 5 % dim(a, 0)" TAIL, NULL, "t.kiln:2:7: '%' needs constant integers");
    LANG_ERR("input a: f32[n]\nif dim(a, 0) > 2 { x = 1 }" TAIL, NULL, "t.kiln:2:14: '>' on a symbolic dimension");
    LANG_ERR("input a: f33[2]" TAIL, NULL, "t.kiln:1:10: 'f33' is not a dtype");
    LANG_ERR("input a: f32[2.5]" TAIL, NULL, "t.kiln:1:14: an input dimension must be a non-negative integer or a symbol, got float");
    LANG_ERR("output q = 3" TAIL, NULL, "t.kiln:1:1: output 'q' must be a tensor, got int");
    LANG_ERR("input a: f32[2]\ninput a: f32[2]\noutput o = a", NULL, "t.kiln:2:1: input 'a' is declared twice");
    LANG_ERR("x = 1", NULL, "t.kiln: the description declares no outputs");
    LANG_ERR("x = 10 // 0" TAIL, NULL, "t.kiln:1:8: integer division by zero");
    LANG_ERR("x = 2 ** 70" TAIL, NULL, "t.kiln:1:7: integer overflow");
}

/* Shape errors from ops point at the call in the user's file, with the
 * chain of calls that led there. */
static void test_shape_errors(void) {
    const char *src =
        "input x: f32[2, 3]\n"              /* 1 */
        "fn proj(h) {\n"                    /* 2 */
        "    return h @ param(\"w\", [4, 4])\n" /* 3: col 14 is '@' */
        "}\n"                               /* 4 */
        "fn block(h) {\n"                   /* 5 */
        "    return proj(h) + 1\n"          /* 6: col 12 is 'proj' */
        "}\n"                               /* 7 */
        "output o = block(x)\n";            /* 8: col 12 is 'block' */
    LANG_ERR(src, NULL,
             "t.kiln:3:14: matmul: inner dimensions differ: [2, 3] @ [4, 4] (in proj, called from t.kiln:6:12; in "
             "block, called from t.kiln:8:12)");
    /* an error inside a prelude function is reported at the user's call */
    LANG_ERR("input x: f32[2, 3]\noutput o = linear(x, param(\"w\", [4, 4]))\n", NULL,
             "t.kiln:2:12: matmul: inner dimensions differ: [2, 3] @ [4, 4] (in linear, called from t.kiln:2:12)");
    LANG_ERR("input x: f32[2, 3]\ny = x + param(\"b\", [4])" TAIL, NULL, "t.kiln:2:7: add: shapes [2, 3] and [4] do not broadcast");
    LANG_ERR("input x: f32[2, 3]\ny = reshape(x, [4, 2])" TAIL, NULL, "t.kiln:2:5: reshape: cannot reshape [2, 3] to [4, 2]");
    LANG_ERR("input x: f32[2, 3]\ny = reshape(x, [4, -1])" TAIL, NULL, "t.kiln:2:5: reshape(): 6 elements do not divide into parts of 4");
    LANG_ERR("input x: f32[2, 3]\ny = x[0, 0, 0]" TAIL, NULL, "t.kiln:2:7: 3 indices for a tensor of rank 2");
    LANG_ERR("input x: f32[2, 3]\ny = x[:, 5]" TAIL, NULL, "t.kiln:2:10: index 5 is out of range for axis 1 of size 3");
    LANG_ERR("input x: f32[2, 3]\ny = split(x, 2)" TAIL, NULL, "t.kiln:2:5: split(): axis 1 of size 3 does not split into 2 equal parts");
    LANG_ERR("input x: f32[2, 3]\ny = softmax(x, 4)" TAIL, NULL, "t.kiln:2:5: softmax: axis 4 is out of range for rank 2");
    /* the failing op is not left half-built in the node locations */
    check_one_line(src);
}

static void test_limits(void) {
    /* recursion depth */
    LANG_ERR("fn f(n) { return f(n + 1) }\nx = f(0)" TAIL, NULL, "recursion too deep: more than 64 nested calls");
    /* evaluation steps: a loop that would run for a long time */
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.max_steps = 10000;
    LANG_ERR("s = 0\nfor i in 0..1000000000 {\n  s = s + i\n}" TAIL, &o, "evaluation limit exceeded");
    /* the default limit also stops it (50 million steps, about a second) */
    LANG_ERR("for i in 0..1000000000000 {\n}" TAIL, NULL, "t.kiln:1:1: evaluation limit exceeded");
    /* nesting */
    char deep[1200];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "x = ");
    for (int i = 0; i < 300; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 300; i++) deep[n++] = ')';
    deep[n] = 0;
    LANG_ERR(deep, NULL, "nested too deeply");
    /* distinct symbolic expressions: seq, 2*seq, 3*seq, ... */
    LANG_ERR("input a: f32[seq]\ns = 0\nfor i in 0..30000 {\n  s = s + seq\n}" TAIL, NULL,
             "t.kiln:4:9: more than 20000 distinct symbolic dimension expressions");
    LANG_ERR("x = range(0, 100000000)" TAIL, NULL, "range() of more than");
    LANG_ERR("s = \"ab\"\nfor i in 0..30 { s = s + s }" TAIL, NULL, "string too long");
}

int main(void) {
    test_syntax();
    test_names_and_calls();
    test_types();
    test_shape_errors();
    test_limits();
    return test_finish("test_lang_errors");
}
