/* Config overrides (config.json objects and --set strings, with their
 * type rules) and the FORWARD / CACHED modes. */
#include "kiln/json.h"
#include "test_lang_util.h"

static const char *cfg_src =
    "config {\n"                      /* 1 */
    "    n_head = 4\n"                /* 2 */
    "    eps = 1e-5\n"                /* 3 */
    "    act = \"gelu\"\n"            /* 4 */
    "    tied = true\n"               /* 5 */
    "    inner = none\n"              /* 6 */
    "    theta = 10000.0\n"           /* 7 */
    "    double_heads = n_head * 2\n" /* 8: later entries see earlier ones */
    "}\n"
    "input z: f32[2]\n"
    "output o = z\n";

/* Compiles cfg_src with a JSON text and --set strings; returns the
 * config text ("name = value" lines) or NULL with the error in *err. */
static char *config_of(const char *json, const char *const *sets, int nsets, kiln_status *err) {
    kiln_json *j = NULL;
    *err = KILN_OK;
    if (json) {
        *err = kiln_json_parse(json, strlen(json), "config.json", &j);
        if (*err) return NULL;
    }
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.config = j;
    o.overrides = sets;
    o.noverrides = nsets;
    kiln_graph *g = NULL;
    kiln_lang_info info;
    *err = kiln_lang_compile(cfg_src, "t.kiln", &o, &g, &info);
    kiln_graph_free(g);
    kiln_json_free(j);
    if (*err) return NULL;
    free(info.weights_path);
    return info.config_text;
}

static void expect_config(const char *json, const char *const *sets, int nsets, const char *needle) {
    kiln_status s;
    char *text = config_of(json, sets, nsets, &s);
    if (s) {
        fprintf(stderr, "config failed: %s\n", kiln_status_message(s));
        kiln_status_free(s);
        test_failures++;
        return;
    }
    if (!text || !strstr(text, needle)) {
        fprintf(stderr, "config text:\n%s\nlacks \"%s\"\n", text ? text : "(none)", needle);
        test_failures++;
    }
    free(text);
}

static void expect_config_err(const char *json, const char *const *sets, int nsets, const char *needle) {
    kiln_status s;
    char *text = config_of(json, sets, nsets, &s);
    free(text);
    CHECK_ERR(s, needle);
}

static void test_defaults(void) {
    expect_config(NULL, NULL, 0,
                  "n_head = 4\neps = 1e-05\nact = \"gelu\"\ntied = true\ninner = none\ntheta = 10000.0\ndouble_heads = 8\n");
}

static void test_json(void) {
    const char *j = "{\"n_head\": 8, \"eps\": 1e-6, \"act\": \"relu\", \"tied\": false, \"inner\": 128,"
                    " \"unrelated\": [1, 2], \"rope_parameters\": {\"theta\": 500000}}";
    expect_config(j, NULL, 0, "n_head = 8\neps = 1e-06\nact = \"relu\"\ntied = false\ninner = 128\n");
    expect_config(j, NULL, 0, "theta = 500000.0\n"); /* one level down; an integer fits a float */
    expect_config(j, NULL, 0, "double_heads = 16\n"); /* computed from the override */
    expect_config("{\"tied\": null}", NULL, 0, "tied = none\n"); /* null gives none */
    expect_config("{\"inner\": \"wide\"}", NULL, 0, "inner = \"wide\"\n");      /* none takes any scalar */
    expect_config("{\"theta\": 5, \"rope_parameters\": {\"theta\": 7}}", NULL, 0, "theta = 5.0\n"); /* top level wins */
    expect_config_err("{\"n_head\": \"four\"}", NULL, 0, "t.kiln:2:5: config.json: 'n_head' must be an integer, got a string");
    expect_config_err("{\"n_head\": 4.5}", NULL, 0, "config.json: 'n_head' must be an integer, got the number 4.5");
    expect_config_err("{\"eps\": true}", NULL, 0, "t.kiln:3:5: config.json: 'eps' must be a number, got a bool");
    expect_config_err("{\"act\": 3}", NULL, 0, "config.json: 'act' must be a string, got an integer");
    expect_config_err("{\"tied\": 1}", NULL, 0, "config.json: 'tied' must be true or false, got an integer");
    expect_config_err("{\"inner\": {\"a\": 1}}", NULL, 0, "config.json: 'inner' must be a number, bool or string, got an object");
}

static void test_set(void) {
    const char *sets[] = {"n_head=2", "eps = 0.5", "act=silu", "tied=false", "inner=64", "theta=1e4"};
    expect_config(NULL, sets, 6, "n_head = 2\neps = 0.5\nact = \"silu\"\ntied = false\ninner = 64\ntheta = 10000.0\n");
    /* --set wins over config.json; the last --set of a name wins */
    const char *two[] = {"n_head=6", "n_head=10"};
    expect_config("{\"n_head\": 8}", two, 2, "n_head = 10\n");
    const char *quoted[] = {"act=\"gelu_new\"", "tied=none"};
    expect_config(NULL, quoted, 2, "act = \"gelu_new\"\ntied = none\n");
    const char *digits[] = {"act=123"}; /* a string config takes the text as it is */
    expect_config(NULL, digits, 1, "act = \"123\"\n");
    const char *bad_int[] = {"n_head=abc"};
    expect_config_err(NULL, bad_int, 1, "t.kiln:2:5: --set n_head=abc: 'n_head' must be an integer, got a string");
    const char *bad_bool[] = {"tied=yes"};
    expect_config_err(NULL, bad_bool, 1, "--set tied=yes: 'tied' must be true or false, got a string");
    const char *bad_float[] = {"eps=small"};
    expect_config_err(NULL, bad_float, 1, "--set eps=small: 'eps' must be a number, got a string");
    const char *unknown[] = {"n_heads=3"};
    expect_config_err(NULL, unknown, 1,
                      "--set n_heads=3: unknown config name 'n_heads' (config names: n_head, eps, act, tied, inner, theta, "
                      "double_heads)");
    const char *noeq[] = {"n_head"};
    expect_config_err(NULL, noeq, 1, "--set 'n_head': expected name=value");
    /* a description without a config block */
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.overrides = unknown;
    o.noverrides = 1;
    LANG_ERR("input z: f32[2]\noutput o = z\n", &o, "--set n_heads=3: the description has no config block");
}

/* FORWARD: past is 0 and cache() is the identity. CACHED: past is a
 * symbol, cache() adds past.NAME inputs and present.NAME outputs. */
static void test_modes(void) {
    const char *src =
        "input ids: i64[batch, seq]\n"
        "input mask: i64[batch, past + seq] = 1\n"
        "x = cast(reshape(ids, [batch, 1, seq, 1]), f32)\n"
        "k = cache(\"0.key\", x, 2)\n"
        "output y = k * 2\n"
        "output pos = positions(seq)\n"
        "assert(cached == (past != 0))\n";
    kiln_graph *g = LANG_OK(src, NULL);
    if (g) {
        CHECK(kiln_graph_input_count(g) == 2 && kiln_graph_output_count(g) == 2);
        CHECK(kiln_graph_symbol_find(g, "past") < 0);
        const kiln_node *m = kiln_graph_node(g, kiln_graph_find_input(g, "mask"));
        CHECK(m && m->shape.dims[1] == kiln_graph_node(g, kiln_graph_find_input(g, "ids"))->shape.dims[1]);
        CHECK(!find_op(g, KILN_OP_CONCAT));
    }
    kiln_graph_free(g);

    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.mode = KILN_LANG_CACHED;
    g = LANG_OK(src, &o);
    if (!g) return;
    int past = kiln_graph_symbol_find(g, "past");
    CHECK(past >= 0);
    kiln_value pv = kiln_graph_find_input(g, "past.0.key");
    CHECK(pv != KILN_NONE);
    const kiln_node *pn = kiln_graph_node(g, pv);
    char buf[256];
    CHECK(pn && strcmp(kiln_shape_str(g, &pn->shape, buf, sizeof buf), "[batch, 1, past, 1]") == 0);
    CHECK(kiln_graph_output_count(g) == 3);
    int found = 0;
    for (int i = 0; i < kiln_graph_output_count(g); i++)
        if (strcmp(kiln_graph_output_name(g, i), "present.0.key") == 0) {
            const kiln_node *c = kiln_graph_node(g, kiln_graph_output_value(g, i));
            found = c->op == KILN_OP_CONCAT &&
                    strcmp(kiln_shape_str(g, &c->shape, buf, sizeof buf), "[batch, 1, past + seq, 1]") == 0;
        }
    CHECK(found);
    const kiln_node *m = kiln_graph_node(g, kiln_graph_find_input(g, "mask"));
    CHECK(m && strcmp(kiln_shape_str(g, &m->shape, buf, sizeof buf), "[batch, past + seq]") == 0);
    const kiln_node *io = find_op(g, KILN_OP_IOTA);
    CHECK(io && !kiln_dim_is_const(io->attrs[2].i)); /* positions start at past */

    /* run one decode step: 2 cached tokens, 1 new one */
    kiln_tensor_map *in = kiln_tensor_map_new();
    CHECK_OK(kiln_tensor_map_put(in, "ids", i64_tensor(2, (int64_t[]){1, 1}, (int64_t[]){5})));
    CHECK_OK(kiln_tensor_map_put(in, "past.0.key", f32_tensor(4, (int64_t[]){1, 1, 2, 1}, (float[]){1, 2})));
    kiln_tensor_map *out = RUN_REF(g, NULL, in);
    CHECK_VALUES(out, "present.0.key", 3, ((double[]){1, 2, 5}), 0);
    CHECK_VALUES(out, "y", 3, ((double[]){2, 4, 10}), 0);
    CHECK_VALUES(out, "pos", 1, ((double[]){2}), 0); /* the new token is at position past = 2 */
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(in);
    kiln_graph_free(g);
}

static void test_weights_statement(void) {
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.source_path = "models/tiny/m.kiln";
    kiln_graph *g = NULL;
    kiln_lang_info info;
    CHECK_OK(kiln_lang_compile("weights \"w.safetensors\"\ninput z: f32[2]\noutput o = z\n", "m.kiln", &o, &g, &info));
    CHECK(info.weights_path && strcmp(info.weights_path, "models/tiny/w.safetensors") == 0);
    kiln_lang_info_free(&info);
    kiln_graph_free(g);
    CHECK_OK(kiln_lang_compile("weights \"/abs/w.safetensors\"\ninput z: f32[2]\noutput o = z\n", "m.kiln", &o, &g, &info));
    CHECK(info.weights_path && strcmp(info.weights_path, "/abs/w.safetensors") == 0);
    kiln_lang_info_free(&info);
    kiln_graph_free(g);
    CHECK_OK(kiln_lang_compile("input z: f32[2]\noutput o = z\n", "m.kiln", &o, &g, &info));
    CHECK(info.weights_path == NULL);
    kiln_lang_info_free(&info);
    kiln_graph_free(g);
    LANG_ERR("weights \"a\"\nweights \"b\"\ninput z: f32[2]\noutput o = z\n", NULL, "t.kiln:2:1: 'weights' is given twice");
    /* config, input and weights are ordinary names where no statement fits */
    g = LANG_OK("input = 3\nconfig = input + 1\nweights = [config]\nassert(weights == [4])\ninput z: f32[2]\noutput o = z\n", NULL);
    kiln_graph_free(g);
}

int main(void) {
    test_defaults();
    test_json();
    test_set();
    test_modes();
    test_weights_statement();
    return test_finish("test_lang_config");
}
