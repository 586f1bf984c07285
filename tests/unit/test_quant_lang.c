/* param() over block-quantized weights: the .kiln language emits the raw
 * blocks as a u8 parameter plus a dequantize with the declared (logical)
 * shape, checks that shape against the tensor, and refuses tensors whose
 * raw bytes do not fit their quant fields. Model descriptions are the same
 * for f32 and quantized checkpoints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kiln/lang.h"
#include "kiln/quant.h"
#include "kiln/ref.h"

#define ROWS 4
#define COLS 64

static float weight_value(int i) { return (float)((i * 7) % 23 - 11) / 8.0f; }

/* "w": the q8_0 blocks of weight_value over [ROWS, COLS], owned by the map */
static kiln_tensor_map *quant_weights(void) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    kiln_tensor_map_set_origin(m, "weights.gguf");
    float x[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) x[i] = weight_value(i);
    size_t nb = ROWS * (COLS / 32) * 34;
    uint8_t *bytes = malloc(nb);
    CHECK_OK(kiln_quantize(KILN_GGML_Q8_0, x, ROWS * COLS, bytes, nb));
    kiln_tensor t;
    CHECK_OK(kiln_quant_tensor_view(KILN_GGML_Q8_0, 2, (int64_t[]){ROWS, COLS}, bytes, nb, &t));
    t.owns_data = 1;
    CHECK_OK(kiln_tensor_map_put(m, "w", t));
    /* "bad": claims 64 q8_0 columns (68 bytes a row) over rows of 60 bytes */
    kiln_tensor b;
    CHECK_OK(kiln_tensor_alloc(&b, KILN_U8, 2, (int64_t[]){ROWS, 60}));
    b.quant = KILN_GGML_Q8_0;
    b.quant_cols = COLS;
    CHECK_OK(kiln_tensor_map_put(m, "bad", b));
    return m;
}

static const kiln_node *find_op(const kiln_graph *g, kiln_op op) {
    for (int v = 0; v < kiln_graph_node_count(g); v++)
        if (kiln_graph_node(g, v)->op == op) return kiln_graph_node(g, v);
    return NULL;
}

static kiln_graph *compile(const char *src, const kiln_tensor_map *w, const char *needle) {
    kiln_lang_options opt = {0};
    opt.weights = w;
    kiln_graph *g = NULL;
    kiln_status s = kiln_lang_compile(src, "t.kiln", &opt, &g, NULL);
    if (needle) {
        CHECK_ERR(s, needle);
        kiln_graph_free(g);
        return NULL;
    }
    CHECK_OK(s);
    return g;
}

/* y = x @ transpose(w) on the reference against a sum written here over
 * the dequantized weights (kiln_dequantize: checked against gguf-py in
 * test_quant). The reference sums in double and rounds once; so does this
 * loop, so 1e-6 relative covers only the final rounding. */
static void check_linear(const kiln_graph *g, const kiln_tensor_map *w) {
    float deq[ROWS * COLS];
    const kiln_tensor *t = kiln_tensor_map_get(w, "w");
    CHECK_OK(kiln_dequantize(KILN_GGML_Q8_0, t->data, t->nbytes, deq, ROWS * COLS));
    kiln_tensor x;
    CHECK_OK(kiln_tensor_alloc(&x, KILN_F32, 2, (int64_t[]){3, COLS}));
    float *xv = x.data;
    for (int i = 0; i < 3 * COLS; i++) xv[i] = (float)(i % 9 - 4) * 0.25f;
    kiln_tensor_map *in = kiln_tensor_map_new(), *out = NULL;
    CHECK_OK(kiln_tensor_map_put(in, "x", x));
    CHECK_OK(kiln_ref_run(g, w, in, &out));
    const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
    CHECK(y && kiln_tensor_numel(y) == 3 * ROWS);
    for (int s = 0; y && s < 3; s++)
        for (int r = 0; r < ROWS; r++) {
            double acc = 0;
            for (int k = 0; k < COLS; k++) acc += (double)xv[s * COLS + k] * (double)deq[r * COLS + k];
            double got = ((const float *)y->data)[s * ROWS + r];
            CHECK(fabs(got - acc) <= 1e-6 * fabs(acc) + 1e-7);
        }
    kiln_tensor_map_free(in);
    kiln_tensor_map_free(out);
}

static void test_param_emits_dequantize(void) {
    kiln_tensor_map *w = quant_weights();
    const char *srcs[2] = {"input x: f32[seq, 64]\noutput y = linear(x, param(\"w\", [4, 64]))\n",
                           /* no shape: the logical one comes from the weights */
                           "input x: f32[seq, 64]\nassert(has_weight(\"w\"))\noutput y = linear(x, param(\"w\"))\n"};
    for (int i = 0; i < 2; i++) {
        kiln_graph *g = compile(srcs[i], w, NULL);
        if (!g) continue;
        const kiln_node *p = find_op(g, KILN_OP_PARAM), *d = find_op(g, KILN_OP_DEQUANTIZE);
        CHECK(p && strcmp(p->name, "w") == 0 && p->dtype == KILN_U8 && p->shape.rank == 2 && p->shape.dims[0] == ROWS &&
              p->shape.dims[1] == 68);
        CHECK(d && strcmp(d->attrs[0].s, "q8_0") == 0 && d->attrs[1].n == 2 && d->attrs[1].list[0] == ROWS &&
              d->attrs[1].list[1] == COLS && d->dtype == KILN_F32);
        CHECK(!find_op(g, KILN_OP_CAST));
        check_linear(g, w);
        kiln_graph_free(g);
    }
    /* a float dtype other than f32 is a cast after the dequantize */
    kiln_graph *g = compile("output y = param(\"w\", [4, 64], dtype=f16)\n", w, NULL);
    const kiln_node *c = g ? find_op(g, KILN_OP_CAST) : NULL;
    CHECK(c && c->dtype == KILN_F16 && kiln_graph_node(g, c->inputs[0])->op == KILN_OP_DEQUANTIZE);
    kiln_graph_free(g);
    kiln_tensor_map_free(w);
}

static void test_rejections(void) {
    kiln_tensor_map *w = quant_weights();
    compile("output y = param(\"w\", [4, 32])\n", w, "param('w') is declared [4, 32], but weights.gguf holds it as q8_0 [4, 64]");
    compile("output y = param(\"w\", [64, 4])\n", w, "declared [64, 4]");
    compile("output y = param(\"w\", [4, 64], dtype=i32)\n", w, "dequantize to floats, not i32");
    compile("output y = param(\"bad\", [4, 64])\n", w,
            "param('bad'): malformed quantized tensor in weights.gguf: bad: 64 q8_0 columns take 68 bytes a row");
    compile("output y = param(\"bad\")\n", w, "malformed quantized tensor");
    kiln_tensor_map_free(w);
}

int main(void) {
    test_param_emits_dequantize();
    test_rejections();
    return test_finish("test_quant_lang");
}
