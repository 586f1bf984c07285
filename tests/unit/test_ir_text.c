/* Textual IR: print -> parse -> print round trips, hand-written text read
 * with comments and free layout, and values checked against hand-worked
 * expectations. Errors are in test_ir_text_errors.c, robustness in
 * test_ir_text_robust.c. */
#include <string.h>

#include "ir/parse_internal.h" /* white-box: str attributes (no op has one yet) */
#include "test_ir_text_graphs.h"

/* print(g) parses to a graph structurally equal to g that prints the same. */
static void check_round_trip(const kiln_graph *g, const char *label) {
    char *t1 = NULL, *t2 = NULL, why[256] = "";
    kiln_graph *back = NULL;
    CHECK_OK(kiln_graph_to_string(g, &t1));
    if (!t1) return;
    kiln_status s = kiln_graph_parse(t1, label, &back);
    if (s) {
        fprintf(stderr, "%s: printed text does not parse back: %s\n--- text ---\n%s\n", label, kiln_status_message(s), t1);
        kiln_status_free(s);
        test_failures++;
        free(t1);
        return;
    }
    if (!graphs_same(g, back, why, sizeof why)) {
        fprintf(stderr, "%s: parsed graph differs: %s\n", label, why);
        test_failures++;
    }
    CHECK_OK(kiln_graph_verify(back));
    CHECK_OK(kiln_graph_to_string(back, &t2));
    if (t2 && strcmp(t1, t2) != 0) {
        fprintf(stderr, "%s: reprinted text differs\n--- first ---\n%s--- second ---\n%s", label, t1, t2);
        test_failures++;
    }
    free(t1);
    free(t2);
    kiln_graph_free(back);
}

static void test_coverage_round_trip(void) {
    kiln_graph *g = build_coverage_graph();
    CHECK(g != NULL);
    if (!g) return;
    CHECK_OK(kiln_graph_verify(g));
    /* the graph must really cover every op and every attribute kind the ops use */
    int op_seen[KILN_OP_COUNT] = {0}, kind_seen[KILN_ATTR_STR + 1] = {0}, kind_used[KILN_ATTR_STR + 1] = {0};
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        op_seen[n->op] = 1;
        for (int i = 0; i < KILN_MAX_ATTRS; i++) kind_seen[n->attrs[i].kind] = 1;
    }
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (!op_seen[op]) fprintf(stderr, "coverage graph lacks op '%s'\n", kiln_op_name((kiln_op)op));
        CHECK(op_seen[op]);
        const kiln_op_def *d = kiln_op_get((kiln_op)op);
        for (int i = 0; i < d->nattrs; i++) kind_used[d->attrs[i].kind] = 1;
    }
    for (int k = KILN_ATTR_INT; k <= KILN_ATTR_STR; k++)
        if (kind_used[k] && !kind_seen[k]) {
            fprintf(stderr, "coverage graph lacks an attribute of kind %d\n", k);
            test_failures++;
        }
    check_round_trip(g, "coverage.ir");

    /* spot checks of the text itself, written out by hand */
    char *t = NULL;
    CHECK_OK(kiln_graph_to_string(g, &t));
    if (t) {
        CHECK(strstr(t, "graph \"cover \\\"all\\\" \\\\ ops\\x01\" {") != NULL);
        CHECK(strstr(t, "  symbols batch, seq, past\n") != NULL);
        CHECK(strstr(t, "f32[2*batch*seq + 3]") != NULL);
        CHECK(strstr(t, "f16[4*seq - 3*past - 1, 2]") != NULL);
        CHECK(strstr(t, "@ \"model \\\"x\\\".kiln\":3:14") != NULL);
        CHECK(strstr(t, "input \"ids\\x09\\\"quoted\\\"\\\\\"") != NULL);
        CHECK(strstr(t, "= [1, 65504, 5.96046448e-08, -0, inf, -inf, nan,") != NULL); /* f16 */
        CHECK(strstr(t, "= [0, 9223372036854775808, 18446744073709551615]") != NULL);  /* u64 */
        CHECK(strstr(t, "= [-9223372036854775808, -1, 9223372036854775807]") != NULL); /* i64 */
        free(t);
    }
    kiln_graph_free(g);
}

/* Small graphs with one feature each, so a failure points at it. */
static void test_small_round_trips(void) {
    kiln_graph *g = kiln_graph_new("");
    check_round_trip(g, "empty.ir"); /* no symbols, nodes or outputs */
    kiln_graph_free(g);

    /* symbols created in an order unlike their first use keep their ids */
    g = kiln_graph_new("ids");
    kiln_dim z = kiln_dim_symbol(g, "zeta"), a = kiln_dim_symbol(g, "alpha");
    kiln_shape s = {2, {a, kiln_dim_mul(g, z, a)}};
    kiln_value x, y;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &s, &x));
    CHECK_OK(kiln_build(g, KILN_OP_EXP, 1, &x, 0, NULL, &y));
    CHECK_OK(kiln_graph_add_output(g, "y", y));
    check_round_trip(g, "symbol-ids.ir");
    kiln_graph_free(g);

    /* a symbol declared but never used */
    g = kiln_graph_new("unused");
    kiln_dim_symbol(g, "lonely");
    check_round_trip(g, "unused-symbol.ir");
    kiln_graph_free(g);
}

/* Hand-written text: comments, odd spacing, named labels, no symbols line
 * (symbols appear in first-use order). Expected values are worked out by hand. */
static void test_hand_written(void) {
    const char *text =
        "# a hand-written graph\n"
        "graph   \"hand\"{\n"
        "  %x=input \"x\":f32[ batch , 2*batch*seq+3 ] # trailing comment\n"
        "  %p = input \"p\" : i64[past + seq]\n"
        "  %w = param \"w\" : f32[2*batch*seq + 3,\n"
        "                        4]\n"
        "  %c = const : f16[3] = [0.1, 65519, -1e-8]   @ \"a b.kiln\" : 7 : 9\n"
        "  %b = const : bf16[2] = [0.1, 3]\n"
        "  %u = const : u64[2] = [18446744073709551615, 0]\n"
        "  %k = const : bool[3] = [true, 0, 1]\n"
        "  %mm = matmul ( %x , %w ) : f32[batch, 4]\n"
        "  %s = slice(%p) {axis = 0, start = -2, end = seq + past} : i64[2]\n"
        "  %n = layer_norm(%mm, _, _) {eps = 1e-3} : f32[batch, 4]\n"
        "  output \"out\" = %n   output \"pos\"=%s\n"
        "}  # done\n";
    kiln_graph *g = NULL;
    CHECK_OK(kiln_graph_parse(text, "hand.ir", &g));
    if (!g) return;
    CHECK_OK(kiln_graph_verify(g));
    CHECK(kiln_graph_symbol_count(g) == 3);
    CHECK(strcmp(kiln_graph_symbol_name(g, 0), "batch") == 0);
    CHECK(strcmp(kiln_graph_symbol_name(g, 1), "seq") == 0);
    CHECK(strcmp(kiln_graph_symbol_name(g, 2), "past") == 0);
    CHECK(kiln_graph_node_count(g) == 10);
    /* batch=2, seq=5, past=7: 2*2*5+3 = 23; past+seq = 12 */
    int64_t vals[3] = {2, 5, 7}, d = 0;
    const kiln_node *x = kiln_graph_node(g, 0), *p = kiln_graph_node(g, 1);
    CHECK_OK(kiln_dim_eval(g, x->shape.dims[1], vals, &d));
    CHECK(d == 23);
    CHECK_OK(kiln_dim_eval(g, p->shape.dims[0], vals, &d));
    CHECK(d == 12);
    /* f16: 0.1 -> 0x2e66 (mantissa round(0.6*1024) = 614 = 0x266, exponent -4+15 = 11);
     * 65519 is below the 65520 overflow threshold -> max 0x7bff; -1e-8 is under half of
     * 2^-24 (5.96e-8) -> -0 (0x8000) */
    const kiln_node *c = kiln_graph_node(g, 3);
    CHECK(c->op == KILN_OP_CONST && c->dtype == KILN_F16);
    const uint16_t *h = c->value.data;
    CHECK(h[0] == 0x2e66 && h[1] == 0x7bff && h[2] == 0x8000);
    CHECK(c->loc.file && strcmp(c->loc.file, "a b.kiln") == 0 && c->loc.line == 7 && c->loc.col == 9);
    CHECK(x->loc.file == NULL);
    /* bf16: 0.1f = 0x3dcccccd, low half 0xcccd > 0x8000 rounds up -> 0x3dcd; 3 = 0x4040 */
    const uint16_t *bf = kiln_graph_node(g, 4)->value.data;
    CHECK(bf[0] == 0x3dcd && bf[1] == 0x4040);
    const uint64_t *u = kiln_graph_node(g, 5)->value.data;
    CHECK(u[0] == UINT64_MAX && u[1] == 0);
    const uint8_t *k = kiln_graph_node(g, 6)->value.data;
    CHECK(k[0] == 1 && k[1] == 0 && k[2] == 1);
    /* slice start -2 on a symbolic axis normalises to past + seq - 2 */
    const kiln_node *s = kiln_graph_node(g, 8);
    CHECK_OK(kiln_dim_eval(g, s->attrs[1].i, vals, &d));
    CHECK(d == 10);
    const kiln_node *n = kiln_graph_node(g, 9);
    CHECK(n->op == KILN_OP_LAYER_NORM && n->ninputs == 3 && n->inputs[1] == KILN_NONE && n->inputs[2] == KILN_NONE);
    CHECK(n->attrs[0].f == 1e-3);
    CHECK(kiln_graph_output_count(g) == 2 && kiln_graph_output_value(g, 1) == 8);
    check_round_trip(g, "hand-reprinted.ir");
    kiln_graph_free(g);
}

/* The same graph written by hand and built through the API compare equal. */
static void test_text_equals_builder(void) {
    kiln_graph *built = kiln_graph_new("mlp");
    kiln_dim b = kiln_dim_symbol(built, "b");
    kiln_value x, w, mm, sm;
    CHECK_OK(kiln_graph_add_input(built, "x", KILN_F32, &(kiln_shape){2, {b, 3}}, &x));
    CHECK_OK(kiln_graph_add_param(built, "w", KILN_F32, &(kiln_shape){2, {3, 5}}, &w));
    CHECK_OK(kiln_build(built, KILN_OP_MATMUL, 2, (kiln_value[]){x, w}, 0, NULL, &mm));
    kiln_graph_set_loc(built, (kiln_loc){"mlp.kiln", 2, 3});
    CHECK_OK(kiln_build(built, KILN_OP_SOFTMAX, 1, &mm, 0, NULL, &sm));
    CHECK_OK(kiln_graph_add_output(built, "probs", sm));
    const char *text = "graph \"mlp\" {\n"
                       "  %in = input \"x\" : f32[b, 3]\n"
                       "  %w = param \"w\" : f32[3, 5]\n"
                       "  %h = matmul(%in, %w) : f32[b, 5]\n"
                       "  %p = softmax(%h) {axis = -1} : f32[b, 5] @ \"mlp.kiln\":2:3\n"
                       "  output \"probs\" = %p\n"
                       "}\n";
    kiln_graph *parsed = NULL;
    char why[256] = "";
    CHECK_OK(kiln_graph_parse(text, "mlp.ir", &parsed));
    if (parsed) {
        CHECK(graphs_same(built, parsed, why, sizeof why));
        if (why[0]) fprintf(stderr, "text vs builder: %s\n", why);
        /* softmax's axis -1 was normalised to 1 by the shape rule */
        CHECK(kiln_graph_node(parsed, 3)->attrs[0].i == 1);
    }
    kiln_graph_free(parsed);
    kiln_graph_free(built);
}

/* Symbolic dims compare by canonical form: (s + 1)*b is b*s + b. */
static void test_canonical_dims(void) {
    const char *text = "graph \"eq\" {\n"
                       "  %0 = input \"x\" : f32[b, s + 1]\n"
                       "  %1 = reshape(%0) {shape = [(s + 1)*b]} : f32[b*s + b]\n"
                       "  %2 = reshape(%0) {shape = [b - -b*s]} : f32[(1 + s)*(b - 0)]\n"
                       "}\n";
    kiln_graph *g = NULL;
    CHECK_OK(kiln_graph_parse(text, "eq.ir", &g));
    if (g) CHECK(kiln_graph_node(g, 1)->shape.dims[0] == kiln_graph_node(g, 2)->shape.dims[0]);
    kiln_graph_free(g);
}

/* The example in docs/ir.md is exactly what the printer writes. */
static void test_doc_example(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "KILN_SOURCE_DIR not set: docs/ir.md example skipped\n");
        return;
    }
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/docs/ir.md", src);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    /* the indented block from "    # comments" to "    }" */
    char text[8192] = "";
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        if (!in && strncmp(line, "    # comments", 14) == 0) in = 1;
        else if (in && strncmp(line, "    ", 4) == 0) {
            strncat(text, line + 4, sizeof text - strlen(text) - 1);
            if (strcmp(line, "    }\n") == 0) break;
        }
    }
    fclose(f);
    kiln_graph *g = NULL;
    char *printed = NULL;
    CHECK_OK(kiln_graph_parse(text, "ir.md", &g));
    if (g) CHECK_OK(kiln_graph_to_string(g, &printed));
    CHECK(printed && strcmp(printed, text) == 0);
    free(printed);
    kiln_graph_free(g);
}

/* No op has a str attribute yet; read one through the attribute reader. */
static void test_str_attribute(void) {
    kiln_graph *g = kiln_graph_new("s");
    ir_lexer lx;
    lex_init(&lx, "\"a\\\"b\\\\c\\x41\\x7f\xc3\xa9\" rest", "s.ir");
    dim_reader r;
    memset(&r, 0, sizeof r);
    r.lx = &lx;
    r.g = g;
    kiln_attr_def def = {"label", KILN_ATTR_STR, 0, {0}};
    parsed_attr pa;
    CHECK_OK(parse_attr_value(&r, &def, &pa));
    CHECK(pa.a.value.kind == KILN_ATTR_STR && pa.a.value.s && strcmp(pa.a.value.s, "a\"b\\cA\x7f\xc3\xa9") == 0);
    CHECK(lex_at_word(&lx, "rest"));
    parsed_attr_release(&pa);
    lex_init(&lx, "\"bad \\q\"", "s.ir");
    CHECK_ERR(parse_attr_value(&r, &def, &pa), "s.ir:1:6: bad escape");
    parsed_attr_release(&pa);
    lex_init(&lx, "42", "s.ir");
    CHECK_ERR(parse_attr_value(&r, &def, &pa), "s.ir:1:1: expected attribute 'label' (a quoted string), got '42'");
    parsed_attr_release(&pa);
    dim_reader_release(&r);
    kiln_graph_free(g);
}

int main(void) {
    test_coverage_round_trip();
    test_small_round_trips();
    test_hand_written();
    test_text_equals_builder();
    test_canonical_dims();
    test_doc_example();
    test_str_attribute();
    return test_finish("test_ir_text");
}
