/* ONNX import on models written byte by byte (test_onnx_util.h): symbolic
 * dims through shape subgraphs, initializers as parameters and constants,
 * external data confined to the model's folder, typed TensorProto fields,
 * and errors for unsupported ops and malformed bytes. Expected values are
 * computed here from the ops' definitions, independently of kiln. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "kiln/onnx.h"
#include "kiln/ref.h"
#include "test_onnx_util.h"

static kiln_status import(const pbw *m, kiln_graph **g, kiln_tensor_map **w) {
    return kiln_onnx_import(m->p, m->len, "test.onnx", g, w);
}

/* Runs g with one float input `x` of the given shape holding 0, 1, 2, ... */
static kiln_status run_iota(const kiln_graph *g, const kiln_tensor_map *w, const char *name, kiln_dtype dt, int rank,
                            const int64_t *shape, kiln_tensor_map **out) {
    kiln_tensor x;
    KILN_TRY(kiln_tensor_alloc(&x, dt, rank, shape));
    for (int64_t i = 0; i < kiln_tensor_numel(&x); i++) kiln_store_f64(x.data, dt, (size_t)i, (double)i);
    kiln_tensor_map *in = kiln_tensor_map_new();
    kiln_status s = kiln_tensor_map_put(in, name, x);
    if (!s) s = kiln_ref_run(g, w, in, out);
    kiln_tensor_map_free(in);
    return s;
}

static int count_op(const kiln_graph *g, kiln_op op) {
    int k = 0;
    for (int v = 0; v < kiln_graph_node_count(g); v++) k += kiln_graph_node(g, v)->op == op;
    return k;
}

/* x [batch, seq, 4] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) * 2:
 * the target shape [batch, -1] is computed from the symbolic input shape at
 * import time, giving [batch, 4*seq]. */
static void test_symbolic_reshape(void) {
    pbw g = {0};
    tdim xd[3] = {{0, "batch", 0}, {0, "seq", 0}, {4, NULL, 0}};
    pbw vi = value_info("x", T_FLOAT, 3, xd);
    pbw_msg(&g, G_INPUT, &vi);
    tdim yd[2] = {{0, "batch", 0}, {0, NULL, 1}};
    vi = value_info("y", T_FLOAT, 2, yd);
    pbw_msg(&g, G_OUTPUT, &vi);
    int64_t zero = 0, one = 1, minus1 = -1;
    float two = 2;
    pbw t = tensor_raw("i0", T_INT64, 0, NULL, &zero, 8);
    pbw_msg(&g, G_INIT, &t);
    t = tensor_raw("ax0", T_INT64, 1, &one, &zero, 8);
    pbw_msg(&g, G_INIT, &t);
    t = tensor_raw("m1", T_INT64, 1, &one, &minus1, 8);
    pbw_msg(&g, G_INIT, &t);
    t = tensor_raw("two", T_FLOAT, 0, NULL, &two, 4);
    pbw_msg(&g, G_INIT, &t);
    pbw n = node("Shape", "shape", STRS("x"), STRS("s"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Gather", "gather", STRS("s", "i0"), STRS("b"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Unsqueeze", "unsq", STRS("b", "ax0"), STRS("b1"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Concat", "concat", STRS("b1", "m1"), STRS("shp"));
    node_attr_int(&n, "axis", 0);
    pbw_msg(&g, G_NODE, &n);
    n = node("Reshape", "reshape", STRS("x", "shp"), STRS("r"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Mul", "mul", STRS("r", "two"), STRS("y"));
    pbw_msg(&g, G_NODE, &n);
    pbw m = model(17, &g);

    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    CHECK_OK(import(&m, &kg, &w));
    free(m.p);
    if (!kg) return;
    CHECK(kiln_graph_symbol_count(kg) == 2);
    /* the shape arithmetic left no gather/concat behind */
    CHECK(count_op(kg, KILN_OP_GATHER) == 0 && count_op(kg, KILN_OP_CONCAT) == 0);
    const int64_t shapes[2][3] = {{2, 3, 4}, {1, 5, 4}};
    for (int k = 0; k < 2; k++) {
        kiln_tensor_map *out = NULL;
        CHECK_OK(run_iota(kg, w, "x", KILN_F32, 3, shapes[k], &out));
        const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
        CHECK(y && y->rank == 2 && y->shape[0] == shapes[k][0] && y->shape[1] == shapes[k][1] * 4);
        int ok = y != NULL;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) ok = ((float *)y->data)[i] == 2.0f * (float)i;
        CHECK(ok);
        kiln_tensor_map_free(out);
    }
    kiln_graph_free(kg);
    kiln_tensor_map_free(w);
}

/* The exporters' Expand pattern: Where(Equal(Shape(x), -1), 1, Shape(x))
 * decided at import time (a dim is never -1), then Expand(3, that). */
static void test_symbolic_expand(void) {
    pbw g = {0};
    tdim xd[2] = {{0, "batch", 0}, {0, NULL, 1}}; /* second dim unknown: a fresh symbol */
    pbw vi = value_info("x", T_FLOAT, 2, xd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("y", T_FLOAT, 2, xd);
    pbw_msg(&g, G_OUTPUT, &vi);
    int64_t minus1 = -1;
    float three = 3;
    pbw t = tensor_raw("m1", T_INT64, 0, NULL, &minus1, 8);
    pbw_msg(&g, G_INIT, &t);
    t = tensor_raw("three", T_FLOAT, 0, NULL, &three, 4);
    pbw_msg(&g, G_INIT, &t);
    pbw n = node("Shape", NULL, STRS("x"), STRS("s"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Shape", NULL, STRS("s"), STRS("ss"));
    pbw_msg(&g, G_NODE, &n);
    n = node("ConstantOfShape", NULL, STRS("ss"), STRS("ones"));
    int64_t onev = 1, len1 = 1;
    pbw val = tensor_raw("value", T_INT64, 1, &len1, &onev, 8);
    node_attr_tensor(&n, "value", &val);
    pbw_msg(&g, G_NODE, &n);
    n = node("Equal", NULL, STRS("s", "m1"), STRS("eq"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Where", NULL, STRS("eq", "ones", "s"), STRS("shp"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Expand", NULL, STRS("three", "shp"), STRS("e"));
    pbw_msg(&g, G_NODE, &n);
    n = node("Add", NULL, STRS("e", "x"), STRS("y"));
    pbw_msg(&g, G_NODE, &n);
    pbw m = model(13, &g);
    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    CHECK_OK(import(&m, &kg, &w));
    free(m.p);
    if (!kg) return;
    CHECK(kiln_graph_symbol_find(kg, "batch") >= 0 && kiln_graph_symbol_find(kg, "x_dim1") >= 0);
    const int64_t shape[2] = {2, 3};
    kiln_tensor_map *out = NULL;
    CHECK_OK(run_iota(kg, w, "x", KILN_F32, 2, shape, &out));
    const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
    int ok = y && y->rank == 2 && y->shape[0] == 2 && y->shape[1] == 3;
    for (int i = 0; ok && i < 6; i++) ok = ((float *)y->data)[i] == 3.0f + (float)i;
    CHECK(ok);
    kiln_tensor_map_free(out);
    kiln_graph_free(kg);
    kiln_tensor_map_free(w);
}

/* Gemm with a [10, 10] weight (a parameter in the weight map) and a [10]
 * bias (small: a constant): y = x W + b, checked against a plain loop. */
static void test_initializers(void) {
    pbw g = {0};
    tdim xd[2] = {{2, NULL, 0}, {10, NULL, 0}};
    pbw vi = value_info("x", T_FLOAT, 2, xd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("y", T_FLOAT, 2, xd);
    pbw_msg(&g, G_OUTPUT, &vi);
    float W[100], b[10];
    for (int i = 0; i < 100; i++) W[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < 10; i++) b[i] = 0.5f * (float)i;
    int64_t wd[2] = {10, 10}, bd = 10;
    pbw t = tensor_raw("W", T_FLOAT, 2, wd, W, sizeof W);
    pbw_msg(&g, G_INIT, &t);
    t = tensor_raw("b", T_FLOAT, 1, &bd, b, sizeof b);
    pbw_msg(&g, G_INIT, &t);
    pbw n = node("Gemm", "fc", STRS("x", "W", "b"), STRS("y"));
    pbw_msg(&g, G_NODE, &n);
    pbw m = model(17, &g);
    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    CHECK_OK(import(&m, &kg, &w));
    free(m.p);
    if (!kg) return;
    CHECK(kiln_graph_find_param(kg, "W") != KILN_NONE);
    CHECK(kiln_graph_find_param(kg, "b") == KILN_NONE); /* 10 elements: a constant */
    const kiln_tensor *wt = kiln_tensor_map_get(w, "W");
    CHECK(wt && wt->dtype == KILN_F32 && wt->shape[0] == 10 && ((float *)wt->data)[3] == W[3]);
    kiln_tensor_map *out = NULL;
    CHECK_OK(run_iota(kg, w, "x", KILN_F32, 2, (int64_t[]){2, 10}, &out));
    const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
    int ok = y && y->shape[0] == 2 && y->shape[1] == 10;
    for (int r = 0; ok && r < 2; r++)
        for (int c = 0; ok && c < 10; c++) {
            double acc = b[c];
            for (int k = 0; k < 10; k++) acc += (double)(r * 10 + k) * W[k * 10 + c];
            ok = fabs(((float *)y->data)[r * 10 + c] - acc) <= 1e-4 * fabs(acc) + 1e-4;
        }
    CHECK(ok);
    kiln_tensor_map_free(out);
    kiln_graph_free(kg);
    kiln_tensor_map_free(w);
}

static pbw one_node_model(const char *op, const char *name, const char *domain, int64_t opset, int subgraph) {
    pbw g = {0};
    tdim xd[1] = {{3, NULL, 0}};
    pbw vi = value_info("x", T_FLOAT, 1, xd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("y", T_FLOAT, 1, xd);
    pbw_msg(&g, G_OUTPUT, &vi);
    pbw n = node(op, name, STRS("x"), STRS("y"));
    if (domain) pbw_str(&n, 7, domain);
    if (subgraph) node_attr_graph(&n, "body");
    pbw_msg(&g, G_NODE, &n);
    return model(opset, &g);
}

static void test_errors(void) {
    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    pbw m = one_node_model("FancyOp", "fancy_1", NULL, 17, 0);
    kiln_status s = import(&m, &kg, &w);
    CHECK(s && kiln_status_code(s) == KILN_ERR_UNSUPPORTED);
    CHECK_ERR(s, "test.onnx: node 0 'fancy_1' (FancyOp, opset 17): unsupported op FancyOp (domain ai.onnx, opset 17)");
    free(m.p);
    m = one_node_model("Gelu", "g", "com.example", 17, 0);
    CHECK_ERR(import(&m, &kg, &w), "unsupported op Gelu (domain com.example");
    free(m.p);
    m = one_node_model("Abs", NULL, NULL, 17, 1);
    CHECK_ERR(import(&m, &kg, &w), "node 0 (Abs, opset 17): attribute 'body' is a subgraph");
    free(m.p);
    m = one_node_model("Abs", NULL, NULL, 17, 0);
    CHECK_OK(import(&m, &kg, &w));
    kiln_graph_free(kg);
    kiln_tensor_map_free(w);
    free(m.p);
    /* an input no earlier node produces */
    pbw g = {0};
    pbw n = node("Relu", "r", STRS("nowhere"), STRS("y"));
    pbw_msg(&g, G_NODE, &n);
    tdim yd[1] = {{3, NULL, 0}};
    pbw vi = value_info("y", T_FLOAT, 1, yd);
    pbw_msg(&g, G_OUTPUT, &vi);
    m = model(17, &g);
    CHECK_ERR(import(&m, &kg, &w), "input 'nowhere' is not produced by an earlier node");
    free(m.p);
}

/* Every proper prefix of a valid model fails cleanly; flipping any byte
 * never crashes (the result may even be valid). */
static void test_malformed(void) {
    pbw m = one_node_model("Abs", "abs", NULL, 17, 0);
    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    int clean = 1;
    for (size_t n = 0; n < m.len; n++) {
        kiln_status s = kiln_onnx_import(m.p, n, "test.onnx", &kg, &w);
        if (!s) {
            clean = 0;
            kiln_graph_free(kg);
            kiln_tensor_map_free(w);
            continue;
        }
        const char *msg = kiln_status_message(s);
        if (!strstr(msg, "test.onnx") || (!strstr(msg, "byte ") && !strstr(msg, "no graph"))) {
            fprintf(stderr, "prefix %zu: %s\n", n, msg);
            clean = 0;
        }
        kiln_status_free(s);
    }
    CHECK(clean);
    for (size_t i = 0; i < m.len; i++) {
        unsigned char keep = m.p[i];
        m.p[i] ^= 0xff;
        kiln_status s = kiln_onnx_import(m.p, m.len, "test.onnx", &kg, &w);
        if (s) kiln_status_free(s);
        else {
            kiln_graph_free(kg);
            kiln_tensor_map_free(w);
        }
        m.p[i] = keep;
    }
    free(m.p);
}

/* TensorProto files: typed fields and raw data. */
static void test_tensor_files(void) {
    kiln_tensor t;
    char *name = NULL;
    /* float_data packed: 1.5, -2, 3 */
    pbw b = {0};
    pbw_int(&b, 1, 3);
    pbw_int(&b, 2, T_FLOAT);
    pbw fl = {0};
    const float fv[3] = {1.5f, -2.0f, 3.0f};
    pbw_raw(&fl, fv, sizeof fv);
    pbw_msg(&b, 4, &fl);
    pbw_str(&b, 8, "weights");
    CHECK_OK(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, &name));
    CHECK(t.dtype == KILN_F32 && t.rank == 1 && t.shape[0] == 3 && ((float *)t.data)[1] == -2.0f);
    CHECK(name && strcmp(name, "weights") == 0);
    free(name);
    kiln_tensor_release(&t);
    free(b.p);
    /* int64_data unpacked (one varint field per value) */
    memset(&b, 0, sizeof b);
    pbw_int(&b, 1, 2);
    pbw_int(&b, 2, T_INT64);
    pbw_int(&b, 7, -5);
    pbw_int(&b, 7, 1LL << 40);
    CHECK_OK(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL));
    CHECK(t.dtype == KILN_I64 && ((int64_t *)t.data)[0] == -5 && ((int64_t *)t.data)[1] == (1LL << 40));
    kiln_tensor_release(&t);
    free(b.p);
    /* float16 in int32_data as bit patterns: 0x3c00 = 1.0, 0xc000 = -2.0 */
    memset(&b, 0, sizeof b);
    pbw_int(&b, 1, 2);
    pbw_int(&b, 2, T_FLOAT16);
    const int64_t bits[2] = {0x3c00, 0xc000};
    pbw_packed(&b, 5, 2, bits);
    CHECK_OK(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL));
    CHECK(t.dtype == KILN_F16 && kiln_load_f64(t.data, t.dtype, 0) == 1.0 && kiln_load_f64(t.data, t.dtype, 1) == -2.0);
    kiln_tensor_release(&t);
    free(b.p);
    /* uint64_data keeps all 64 bits */
    memset(&b, 0, sizeof b);
    pbw_int(&b, 2, T_UINT64);
    pbw_int(&b, 11, (int64_t)(UINT64_C(1) << 63 | 1));
    CHECK_OK(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL));
    CHECK(t.dtype == KILN_U64 && t.rank == 0 && ((uint64_t *)t.data)[0] == (UINT64_C(1) << 63 | 1));
    kiln_tensor_release(&t);
    free(b.p);
    /* errors: raw_data size, value count, strings, negative dims */
    int64_t d3 = 3;
    float two[2] = {1, 2};
    b = tensor_raw("r", T_FLOAT, 1, &d3, two, sizeof two);
    CHECK_ERR(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL), "t.pb: tensor 'r': raw_data holds 8 bytes");
    free(b.p);
    memset(&b, 0, sizeof b);
    pbw_int(&b, 1, 4);
    pbw_int(&b, 2, T_INT64);
    pbw_int(&b, 7, 1);
    CHECK_ERR(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL), "int64_data holds 1 values, its shape needs 4");
    free(b.p);
    memset(&b, 0, sizeof b);
    pbw_int(&b, 2, T_STRING);
    pbw_str(&b, 6, "hello");
    kiln_status s = kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL);
    CHECK(s && kiln_status_code(s) == KILN_ERR_UNSUPPORTED);
    CHECK_ERR(s, "element type string is not supported");
    free(b.p);
    memset(&b, 0, sizeof b);
    pbw_int(&b, 1, -2);
    pbw_int(&b, 2, T_FLOAT);
    CHECK_ERR(kiln_onnx_parse_tensor(b.p, b.len, "t.pb", &t, NULL), "negative dimension -2");
    free(b.p);
}

/* ---- external data ------------------------------------------------------------------ */
static void write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        test_failures++;
        return;
    }
    fwrite(d, 1, n, f);
    fclose(f);
}

/* y = x + w with w [4] stored in `location` at `offset`, `length` bytes */
static pbw ext_model(const char *location, int64_t offset, int64_t length) {
    pbw g = {0}, t = {0};
    tdim xd[1] = {{4, NULL, 0}};
    pbw vi = value_info("x", T_FLOAT, 1, xd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("y", T_FLOAT, 1, xd);
    pbw_msg(&g, G_OUTPUT, &vi);
    pbw_int(&t, 1, 4);
    pbw_int(&t, 2, T_FLOAT);
    pbw_str(&t, 8, "w");
    const char *keys[3] = {"location", "offset", "length"};
    char vals[3][64];
    snprintf(vals[0], sizeof vals[0], "%s", location);
    snprintf(vals[1], sizeof vals[1], "%lld", (long long)offset);
    snprintf(vals[2], sizeof vals[2], "%lld", (long long)length);
    for (int i = 0; i < 3; i++) {
        pbw e = {0};
        pbw_str(&e, 1, keys[i]);
        pbw_str(&e, 2, vals[i]);
        pbw_msg(&t, 13, &e);
    }
    pbw_int(&t, 14, 1); /* data_location = EXTERNAL */
    pbw_msg(&g, G_INIT, &t);
    pbw n = node("Add", "add", STRS("x", "w"), STRS("y"));
    pbw_msg(&g, G_NODE, &n);
    return model(17, &g);
}

static void write_ext_model(const char *path, const char *location, int64_t offset, int64_t length) {
    pbw m = ext_model(location, offset, length);
    write_file(path, m.p, m.len);
    free(m.p);
}

static void test_external_data(void) {
    char dir[] = "/tmp/kiln_onnx_ext_XXXXXX", sub[128], path[256], bin[256], outside[256];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        test_failures++;
        return;
    }
    snprintf(sub, sizeof sub, "%s/model", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/m.onnx", sub);
    snprintf(bin, sizeof bin, "%s/w.bin", sub);
    snprintf(outside, sizeof outside, "%s/outside.bin", dir);
    unsigned char buf[8 + 16];
    memset(buf, 0xee, 8);
    const float wv[4] = {10, 20, 30, 40};
    memcpy(buf + 8, wv, sizeof wv);
    write_file(bin, buf, sizeof buf);
    write_file(outside, buf, sizeof buf);

    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    write_ext_model(path, "w.bin", 8, 16);
    CHECK_OK(kiln_onnx_load(path, &kg, &w));
    if (kg) {
        kiln_tensor_map *out = NULL;
        CHECK_OK(run_iota(kg, w, "x", KILN_F32, 1, (int64_t[]){4}, &out));
        const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
        CHECK(y && ((float *)y->data)[0] == 10 && ((float *)y->data)[3] == 43);
        kiln_tensor_map_free(out);
        kiln_graph_free(kg);
        kiln_tensor_map_free(w);
    }
    write_ext_model(path, "w.bin", 8, 12);
    CHECK_ERR(kiln_onnx_load(path, &kg, &w), "external data holds 12 bytes, its shape needs 16");
    write_ext_model(path, "w.bin", 20, 16);
    CHECK_ERR(kiln_onnx_load(path, &kg, &w), "lies outside 'w.bin' (24 bytes)");
    write_ext_model(path, "../outside.bin", 8, 16);
    CHECK_ERR(kiln_onnx_load(path, &kg, &w), "leaves the model's directory");
    write_ext_model(path, outside, 8, 16);
    CHECK_ERR(kiln_onnx_load(path, &kg, &w), "is an absolute path");
    char link[256];
    snprintf(link, sizeof link, "%s/link.bin", sub);
    if (symlink(outside, link) == 0) {
        write_ext_model(path, "link.bin", 8, 16);
        CHECK_ERR(kiln_onnx_load(path, &kg, &w), "resolves outside the model's directory");
        unlink(link);
    }
    write_ext_model(path, "missing.bin", 0, 16);
    CHECK_ERR(kiln_onnx_load(path, &kg, &w), "missing.bin");
    /* from memory there is no folder to read external data from */
    pbw mem = ext_model("w.bin", 8, 16);
    CHECK_ERR(import(&mem, &kg, &w), "external data, but the model was not read from a file");
    free(mem.p);
    unlink(path);
    unlink(bin);
    unlink(outside);
    rmdir(sub);
    rmdir(dir);
}

/* Reshape(x, shape) with the shape a graph input: unknown when the graph
 * is built, unless bound with kiln_onnx_load_bound. */
static void test_bound_inputs(void) {
    pbw g = {0};
    tdim xd[2] = {{2, NULL, 0}, {3, NULL, 0}}, sd[1] = {{2, NULL, 0}};
    pbw vi = value_info("x", T_FLOAT, 2, xd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("shape", T_INT64, 1, sd);
    pbw_msg(&g, G_INPUT, &vi);
    vi = value_info("y", T_FLOAT, 2, xd);
    pbw_msg(&g, G_OUTPUT, &vi);
    pbw nd = node("Reshape", "r", STRS("x", "shape"), STRS("y"));
    pbw_msg(&g, G_NODE, &nd);
    pbw m = model(17, &g);
    char dir[] = "/tmp/kiln_onnx_bind_XXXXXX", path[128];
    if (!mkdtemp(dir)) {
        test_failures++;
        free(m.p);
        return;
    }
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    write_file(path, m.p, m.len);
    free(m.p);
    kiln_graph *kg = NULL;
    kiln_tensor_map *w = NULL;
    kiln_status s = kiln_onnx_load(path, &kg, &w);
    CHECK(s && kiln_status_code(s) == KILN_ERR_UNSUPPORTED);
    CHECK_ERR(s, "the target shape is computed at run time");
    kiln_tensor_map *bind = kiln_tensor_map_new();
    kiln_tensor shp;
    int64_t two = 2;
    CHECK_OK(kiln_tensor_alloc(&shp, KILN_I64, 1, &two));
    ((int64_t *)shp.data)[0] = 3;
    ((int64_t *)shp.data)[1] = -1; /* [3, 2] */
    CHECK_OK(kiln_tensor_map_put(bind, "shape", shp));
    CHECK_OK(kiln_onnx_load_bound(path, bind, &kg, &w));
    if (kg) {
        CHECK(kiln_graph_input_count(kg) == 1); /* only x stays an input */
        kiln_tensor_map *out = NULL;
        CHECK_OK(run_iota(kg, w, "x", KILN_F32, 2, (int64_t[]){2, 3}, &out));
        const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
        CHECK(y && y->rank == 2 && y->shape[0] == 3 && y->shape[1] == 2 && ((float *)y->data)[5] == 5);
        kiln_tensor_map_free(out);
        kiln_graph_free(kg);
        kiln_tensor_map_free(w);
    }
    kiln_tensor_map_free(bind);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_symbolic_reshape();
    test_symbolic_expand();
    test_initializers();
    test_errors();
    test_malformed();
    test_tensor_files();
    test_external_data();
    test_bound_inputs();
    return test_finish("test_onnx_import");
}
