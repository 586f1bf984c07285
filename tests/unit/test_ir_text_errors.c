/* Textual IR: every malformed input fails with "FILE:LINE:COL: message"
 * pointing at the fault (line and column counted by hand, 1-based). */
#include <string.h>

#include "harness.h"

#define HEAD "graph \"g\" {\n  %0 = input \"x\" : f32[2, 3]\n" /* lines 1-2 */

typedef struct bad_case {
    const char *text;
    const char *where;  /* expected "e.ir:LINE:COL" prefix */
    const char *needle; /* words the message must contain */
} bad_case;

static const bad_case cases[] = {
    /* structure */
    {"", "e.ir:1:1", "expected 'graph'"},
    {"  # only a comment\n", "e.ir:2:1", "expected 'graph' to start the IR text, got end of input"},
    {"graf \"g\" {}", "e.ir:1:1", "expected 'graph'"},
    {"graph g {}", "e.ir:1:7", "expected the graph's name (a quoted string), got 'g'"},
    {"graph \"g\" }", "e.ir:1:11", "expected '{' after the graph's name"},
    {"graph \"g\" {", "e.ir:1:12", "expected a node ('%N = op ...'), 'output' or '}', got end of input"},
    {"graph \"g\" {} x", "e.ir:1:14", "expected end of input after the graph's '}', got 'x'"},
    {"graph \"g\" {}}", "e.ir:1:13", "expected end of input"},
    {HEAD "  oops\n}", "e.ir:3:3", "expected a node"},
    {HEAD "  %1 = neg(%0) : f32[2, 3]\n  symbols a\n}", "e.ir:4:3", "symbols line must come first"},
    /* labels */
    {HEAD "  %1 = neg(%2) : f32[2, 3]\n}", "e.ir:3:12", "%2 is not defined"},
    {HEAD "  %1 = neg(%1) : f32[2, 3]\n}", "e.ir:3:12", "%1 is not defined"},
    {HEAD "  %0 = neg(%0) : f32[2, 3]\n}", "e.ir:3:3", "%0 is defined twice"},
    {HEAD "  % = neg(%0) : f32[2, 3]\n}", "e.ir:3:3", "expected a label name after '%'"},
    {HEAD "  output \"y\" = %9\n}", "e.ir:3:16", "%9 is not defined"},
    {HEAD "  output \"y\" = %0\n  output \"y\" = %0\n}", "e.ir:4:3", "output 'y' is declared twice"},
    {HEAD "  output y = %0\n}", "e.ir:3:10", "expected the output's name (a quoted string)"},
    /* ops, inputs, attributes */
    {HEAD "  %1 = frobnicate(%0) : f32[2, 3]\n}", "e.ir:3:8", "unknown op 'frobnicate'"},
    {HEAD "  %1 = add(%0) : f32[2, 3]\n}", "e.ir:3:8", "add: takes 2 inputs, got 1"},
    {HEAD "  %1 = add(%0, _) : f32[2, 3]\n}", "e.ir:3:16", "input 1 of 'add' is required: it cannot be '_'"},
    {HEAD "  %1 = add(%0 %0) : f32[2, 3]\n}", "e.ir:3:15", "expected ')' after the op's inputs (or ',' before another input), got '%0'"},
    {HEAD "  %1 = neg %0 : f32[2, 3]\n}", "e.ir:3:12", "expected '(' before the op's inputs, got '%0'"},
    {HEAD "  %1 = softmax(%0) {axes = 1} : f32[2, 3]\n}", "e.ir:3:21", "'softmax' has no attribute 'axes' (it has: axis)"},
    {HEAD "  %1 = neg(%0) {axis = 1} : f32[2, 3]\n}", "e.ir:3:17", "'neg' has no attribute 'axis' (it takes no attributes)"},
    {HEAD "  %1 = softmax(%0) {axis = 1, axis = 1} : f32[2, 3]\n}", "e.ir:3:31", "attribute 'axis' is given twice"},
    {HEAD "  %1 = cast(%0) : f16[2, 3]\n}", "e.ir:3:8", "cast: missing attribute 'dtype'"},
    {HEAD "  %1 = cast(%0) {dtype = f99} : f16[2, 3]\n}", "e.ir:3:26", "unknown dtype 'f99'"},
    {HEAD "  %1 = softmax(%0) {axis = 1.5} : f32[2, 3]\n}", "e.ir:3:28", "expected attribute 'axis' (an integer), got '1.5'"},
    {HEAD "  %1 = softmax(%0) {axis = true} : f32[2, 3]\n}", "e.ir:3:28", "expected attribute 'axis' (an integer), got 'true'"},
    {HEAD "  %1 = reduce_sum(%0) {axes = [1], keepdims = 2} : f32[2]\n}", "e.ir:3:47", "expected attribute 'keepdims' (true or false), got '2'"},
    {HEAD "  %1 = reduce_sum(%0) {axes = 1} : f32[2]\n}", "e.ir:3:31", "expected '[' to start attribute 'axes' (a list of integers), got '1'"},
    {HEAD "  %1 = reduce_sum(%0) {axes = [1,]} : f32[2]\n}", "e.ir:3:34", "expected an entry of attribute 'axes' (an integer), got ']'"},
    {HEAD "  %1 = layer_norm(%0) {eps = x} : f32[2, 3]\n}", "e.ir:3:30", "expected attribute 'eps' (a number, nan or inf), got 'x'"},
    {HEAD "  %1 = softmax(%0) {axis = 1 : f32[2, 3]\n}", "e.ir:3:30", "expected '}' to close the attributes (or ',' before another), got ':'"},
    {HEAD "  %1 = softmax(%0) {axis = 7} : f32[2, 3]\n}", "e.ir:3:8", "softmax: axis 7 is out of range for rank 2"},
    /* types */
    {HEAD "  %1 = neg(%0) : f32[3, 2]\n}", "e.ir:3:18", "declared type f32[3, 2] does not match the type 'neg' infers from its inputs, f32[2, 3]"},
    {HEAD "  %1 = neg(%0) : f64[2, 3]\n}", "e.ir:3:18", "declared type f64[2, 3] does not match"},
    {HEAD "  %1 = neg(%0) : f32[2, 3] @ \"f\":1:2 extra\n}", "e.ir:3:38", "expected a node"},
    {HEAD "  %1 = neg(%0) f32[2, 3]\n}", "e.ir:3:16", "expected ':' before the node's type, got 'f32'"},
    {HEAD "  %1 = neg(%0) : float32x[2, 3]\n}", "e.ir:3:18", "unknown dtype 'float32x'"},
    {HEAD "  %1 = neg(%0) : f32(2, 3)\n}", "e.ir:3:21", "expected '[' to start the shape"},
    {HEAD "  %1 = neg(%0) : f32[2; 3]\n}", "e.ir:3:23", "expected ']' to close the shape"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[1, 1, 1, 1, 1, 1, 1, 1, 1]\n}", "e.ir:2:48", "rank exceeds the maximum of 8"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[4294967296, 4294967296]\n}", "e.ir:2:20", "the shape is too large"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[2, -3]\n}", "e.ir:2:27", "dimension -3 is negative"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[99999999999999999999]\n}", "e.ir:2:24", "a dimension is out of the 64-bit integer range"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[4611686018427387904]\n}", "e.ir:2:24", "dimension 4611686018427387904 is out of range"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[4000000000*4000000000*n]\n}", "e.ir:2:34", "overflows 64-bit integers"},
    /* 3e9*3e9 = 9e18 fits int64 but not a dim coefficient (< 2^62 = 4.6e18) */
    {"graph \"g\" {\n  %0 = input \"x\" : f32[3000000000*3000000000*n]\n}", "e.ir:2:24", "dimension coefficient out of range"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[a+b+c+d+e+f+g+h+i]\n}", "e.ir:2:39", "too complex"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[a*b*c*d*e]\n}", "e.ir:2:31", "too complex"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[(2 + n]\n}", "e.ir:2:30", "expected ')' to close the parenthesis, got ']'"},
    {"graph \"g\" {\n  %0 = input \"x\" : f32[2n]\n}", "e.ir:2:24", "expected a dimension (an integer), got '2n'"},
    {"graph \"g\" {\n  symbols n\n  %0 = input \"x\" : f32[n, m]\n}", "e.ir:3:27", "unknown symbol 'm': it is not declared on the symbols line"},
    {"graph \"g\" {\n  symbols n, n\n}", "e.ir:2:14", "symbol 'n' is declared twice"},
    {"graph \"g\" {\n  symbols\n}", "e.ir:3:1", "expected a symbol name, got '}'"},
    /* constants */
    {"graph \"g\" {\n  %0 = const : f32[3] = [1, 2]\n}", "e.ir:2:25", "constant f32[3] needs 3 values, got 2"},
    {"graph \"g\" {\n  %0 = const : f32[2] = [1, 2, 3]\n}", "e.ir:2:32", "too many values: constant f32[2] holds 2"},
    {"graph \"g\" {\n  %0 = const : f32[2]\n}", "e.ir:3:1", "expected '=' before the constant's data, got '}'"},
    {"graph \"g\" {\n  %0 = const : f32[n] = [1]\n}", "e.ir:2:16", "a constant's shape must be static"},
    {"graph \"g\" {\n  %0 = const : f32[1000000] = [1]\n}", "e.ir:2:31", "needs 1000000 values, more than the text holds"},
    {"graph \"g\" {\n  %0 = const : i8[2] = [1, 128]\n}", "e.ir:2:28", "value 128 is out of the i8 range [-128, 127]"},
    {"graph \"g\" {\n  %0 = const : u8[1] = [-1]\n}", "e.ir:2:25", "value -1 is out of the u8 range"},
    {"graph \"g\" {\n  %0 = const : u64[1] = [-1]\n}", "e.ir:2:26", "expected a u64 constant value (an unsigned integer), got '-1'"},
    {"graph \"g\" {\n  %0 = const : u64[1] = [18446744073709551616]\n}", "e.ir:2:26", "out of the 64-bit unsigned range"},
    {"graph \"g\" {\n  %0 = const : i32[1] = [1.5]\n}", "e.ir:2:26", "expected a i32 constant value (an integer), got '1.5'"},
    {"graph \"g\" {\n  %0 = const : bool[1] = [2]\n}", "e.ir:2:27", "value 2 is out of the bool range [0, 1]"},
    {"graph \"g\" {\n  %0 = const : f32[1] = [one]\n}", "e.ir:2:26", "expected a constant value (a number, nan or inf), got 'one'"},
    {"graph \"g\" {\n  %0 = const : f32[1] = [1e]\n}", "e.ir:2:26", "(a number, nan or inf), got '1e'"},
    {HEAD "  %1 = neg(%0) : f32[2, 3] = [1]\n}", "e.ir:3:28", "only const nodes carry data"},
    /* sources */
    {HEAD "  %1 = input \"x\" : f32[2]\n}", "e.ir:3:8", "input 'x' is declared twice"},
    {"graph \"g\" {\n  %0 = param \"w\" : f32[2]\n  %1 = param \"w\" : f32[2]\n}", "e.ir:3:8", "param 'w' is declared twice"},
    {"graph \"g\" {\n  %0 = input \"\" : f32[2]\n}", "e.ir:2:8", "input name must not be empty"},
    {"graph \"g\" {\n  %0 = input x : f32[2]\n}", "e.ir:2:14", "expected the tensor's name (a quoted string), got 'x'"},
    /* strings */
    {"graph \"g {}\n", "e.ir:1:7", "unterminated string (the graph's name): expected a closing '\"'"},
    {"graph \"g\" {\n  %0 = input \"x", "e.ir:2:14", "unterminated string (the tensor's name)"},
    {"graph \"g\\q\" {}", "e.ir:1:9", "bad escape in string: expected \\\", \\\\ or \\xNN"},
    {"graph \"g\\x4g\" {}", "e.ir:1:9", "bad escape: expected two hex digits after \\x"},
    {"graph \"g\\x\" {}", "e.ir:1:9", "bad escape: expected two hex digits"},
    {"graph \"g\\x00\" {}", "e.ir:1:9", "\\x00 cannot appear in a name"},
    {"graph \"g\tx\" {}", "e.ir:1:9", "control byte 0x09 in a string: write it as \\x09"},
    /* locations */
    {HEAD "  %1 = neg(%0) : f32[2, 3] @ f:1:2\n}", "e.ir:3:30", "expected a source file name after '@' (a quoted string), got 'f'"},
    {HEAD "  %1 = neg(%0) : f32[2, 3] @ \"f\":1\n}", "e.ir:4:1", "expected ':' between line and column, got '}'"},
    {HEAD "  %1 = neg(%0) : f32[2, 3] @ \"f\":x:1\n}", "e.ir:3:34", "expected a line number (an integer)"},
    {HEAD "  %1 = neg(%0) : f32[2, 3] @ \"f\":1:99999999999\n}", "e.ir:3:36", "column is out of range"},
};

/* Build errors carry the node's source location as well as the text's. */
static void test_location_in_build_error(void) {
    kiln_graph *g = NULL;
    const char *text = HEAD "  %1 = matmul(%0, %0) : f32[2, 2] @ \"model.kiln\":12:5\n}";
    CHECK_ERR(kiln_graph_parse(text, "e.ir", &g), "e.ir:3:8: model.kiln:12:5: matmul: inner dimensions differ");
    CHECK(g == NULL);
}

/* Nesting is bounded: deep parentheses fail instead of recursing on. */
static void test_deep_nesting(void) {
    char text[8192];
    int n = snprintf(text, sizeof text, "graph \"g\" {\n  %%0 = input \"x\" : f32[");
    for (int i = 0; i < 2000; i++) text[n++] = '(';
    snprintf(text + n, sizeof text - (size_t)n, "1]\n}");
    kiln_graph *g = NULL;
    CHECK_ERR(kiln_graph_parse(text, "e.ir", &g), "nested more than 64 deep");
    n = snprintf(text, sizeof text, "graph \"g\" {\n  %%0 = input \"x\" : f32[");
    for (int i = 0; i < 2000; i++) text[n++] = '-';
    snprintf(text + n, sizeof text - (size_t)n, "1]\n}");
    CHECK_ERR(kiln_graph_parse(text, "e.ir", &g), "nested more than 64 deep");
    /* 60 levels are fine: (((...(n)...))) */
    n = snprintf(text, sizeof text, "graph \"g\" {\n  %%0 = input \"x\" : f32[");
    for (int i = 0; i < 60; i++) text[n++] = '(';
    text[n++] = 'n';
    for (int i = 0; i < 60; i++) text[n++] = ')';
    snprintf(text + n, sizeof text - (size_t)n, "]\n}");
    CHECK_OK(kiln_graph_parse(text, "e.ir", &g));
    kiln_graph_free(g);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_graph *g = (kiln_graph *)1;
        kiln_status s = kiln_graph_parse(cases[i].text, "e.ir", &g);
        const char *msg = kiln_status_message(s);
        char where[64];
        snprintf(where, sizeof where, "%s: ", cases[i].where);
        if (!s || strncmp(msg, where, strlen(where)) != 0 || !strstr(msg, cases[i].needle) || g != NULL) {
            fprintf(stderr, "case %zu: expected \"%s%s\", got \"%s\"\n--- text ---\n%s\n", i, where, cases[i].needle,
                    s ? msg : "success", cases[i].text);
            test_failures++;
        }
        kiln_status_free(s);
        if (!s) kiln_graph_free(g);
    }
    CHECK_ERR(kiln_graph_parse(NULL, "e.ir", &(kiln_graph *){NULL}), "e.ir: no text to parse");
    test_location_in_build_error();
    test_deep_nesting();
    return test_finish("test_ir_text_errors");
}
