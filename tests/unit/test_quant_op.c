/* The dequantize op (docs/ops.md) on every block type kiln decodes (q8_0,
 * q4_0, q4_K, q6_K): the reference interpreter and the kernel-IR path
 * (plan + host evaluator, fused and unfused) must both equal
 * kiln_dequantize bit for bit. kiln_dequantize is the oracle because it is
 * checked against gguf-py's dequantizers in test_quant; the kernel-IR path
 * is a separate implementation (byte loads and scalar math written by
 * passes/lower_quant.c), so agreement is not the code echoing itself.
 * Exactness holds because every step is a single f32 operation that the
 * evaluator rounds to f32 exactly as C does (docs/compiler.md).
 *
 * Also: fusion makes matmul(x, dequantize(w)) and matmul(x,
 * transpose(dequantize(w))) one kernel whose B view is a quantized view,
 * gather from a quantized table never materializes the f32 table, and the
 * shape rule rejects raw tensors whose bytes do not fit the declared
 * shape. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "kiln/plan.h"
#include "kiln/quant.h"
#include "kiln/ref.h"

static const uint32_t types[] = {KILN_GGML_Q8_0, KILN_GGML_Q4_0, KILN_GGML_Q4_K, KILN_GGML_Q6_K};
#define NTYPES 4

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint8_t rand_byte(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static void put_half(uint8_t *p, float v) {
    uint16_t h = kiln_f32_to_f16(v);
    memcpy(p, &h, 2);
}

/* Random blocks; with `finite`, the f16 scale fields hold finite values
 * (|d| in [2^-14, 2)) so every output is a number. */
static void random_blocks(uint32_t type, uint8_t *raw, size_t nbytes, int finite) {
    for (size_t i = 0; i < nbytes; i++) raw[i] = rand_byte();
    if (!finite) return;
    const kiln_ggml_type_info *ti = kiln_ggml_type_get(type);
    for (size_t b = 0; b + (size_t)ti->type_size <= nbytes; b += (size_t)ti->type_size) {
        float d = ldexpf((float)(rand_byte() + 1) / 256.0f, -(int)(rand_byte() % 14)) * (rand_byte() & 1 ? -1.0f : 1.0f);
        switch (type) {
        case KILN_GGML_Q8_0:
        case KILN_GGML_Q4_0: put_half(raw + b, d); break;
        case KILN_GGML_Q4_K:
            put_half(raw + b, d);
            put_half(raw + b + 2, d * 0.5f);
            break;
        case KILN_GGML_Q6_K: put_half(raw + b + 208, d); break;
        }
    }
}

/* Same bits, or both NaN (a NaN's payload is not part of the contract). */
static int same_floats(const float *a, const float *b, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        if ((a[i] != a[i]) && (b[i] != b[i])) continue;
        if (memcmp(&a[i], &b[i], 4) != 0) {
            fprintf(stderr, "%s: element %lld is %.9g, expected %.9g\n", what, (long long)i, a[i], b[i]);
            return 0;
        }
    }
    return 1;
}

/* param "w" (raw u8) -> dequantize -> output "y" */
static kiln_graph *dequant_graph(uint32_t type, int rank, const int64_t *logical, const int64_t *raw) {
    kiln_graph *g = kiln_graph_new("dequant");
    kiln_shape rs = {rank, {0}};
    kiln_dim ls[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) rs.dims[i] = raw[i], ls[i] = logical[i];
    kiln_value w, y;
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_U8, &rs, &w));
    kiln_named_attr at[2] = {kiln_a_str("type", kiln_ggml_type_name(type)), kiln_a_dims("shape", rank, ls)};
    CHECK_OK(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &w, 2, at, &y));
    CHECK_OK(kiln_graph_add_output(g, "y", y));
    return g;
}

static void check_runs(const kiln_graph *g, const kiln_tensor_map *weights, const float *want, int64_t n, const char *what) {
    kiln_tensor_map *out = NULL;
    CHECK_OK(kiln_ref_run(g, weights, NULL, &out));
    const kiln_tensor *y = out ? kiln_tensor_map_get(out, "y") : NULL;
    CHECK(y && y->dtype == KILN_F32 && kiln_tensor_numel(y) == n && same_floats(y->data, want, n, what));
    kiln_tensor_map_free(out);
    for (int fuse = 0; fuse < 2; fuse++) {
        kiln_plan_options opt = {NULL, 0, !fuse};
        kiln_plan *p = NULL;
        CHECK_OK(kiln_plan_compile(g, &opt, &p));
        out = NULL;
        if (p) CHECK_OK(kiln_plan_run(p, weights, NULL, &out));
        y = out ? kiln_tensor_map_get(out, "y") : NULL;
        CHECK(y && kiln_tensor_numel(y) == n && same_floats(y->data, want, n, what));
        kiln_tensor_map_free(out);
        kiln_plan_free(p);
    }
}

/* Rank 3 ([2, 3, two blocks]) so leading dims are exercised too. */
static void test_every_type_exact(void) {
    for (int ti = 0; ti < NTYPES; ti++)
        for (int finite = 1; finite >= 0; finite--) {
            uint32_t type = types[ti];
            const kiln_ggml_type_info *info = kiln_ggml_type_get(type);
            int64_t logical[3] = {2, 3, 2 * info->block_size}, raw[3] = {2, 3, 2 * info->type_size};
            size_t nbytes = (size_t)(2 * 3 * 2 * info->type_size);
            int64_t n = 2 * 3 * logical[2];
            uint8_t *bytes = malloc(nbytes);
            float *want = malloc((size_t)n * sizeof *want);
            random_blocks(type, bytes, nbytes, finite);
            CHECK_OK(kiln_dequantize(type, bytes, nbytes, want, n));
            kiln_tensor_map *w = kiln_tensor_map_new();
            kiln_tensor t;
            CHECK_OK(kiln_quant_tensor_view(type, 3, logical, bytes, nbytes, &t));
            CHECK(t.dtype == KILN_U8 && t.shape[2] == raw[2] && t.quant == type && t.quant_cols == logical[2]);
            CHECK_OK(kiln_tensor_map_put(w, "w", t));
            kiln_graph *g = dequant_graph(type, 3, logical, raw);
            char what[64];
            snprintf(what, sizeof what, "dequantize %s (%s scales)", info->name, finite ? "finite" : "random");
            check_runs(g, w, want, n, what);
            /* kiln_tensor_dequantize is the same decode */
            kiln_tensor f;
            CHECK_OK(kiln_tensor_dequantize(kiln_tensor_map_get(w, "w"), &f));
            CHECK(f.rank == 3 && f.shape[2] == logical[2] && same_floats(f.data, want, n, what));
            kiln_tensor_release(&f);
            kiln_graph_free(g);
            kiln_tensor_map_free(w);
            free(bytes);
            free(want);
        }
}

/* One hand-made q8_0 and q4_0 row, independent of every decoder in kiln:
 * q8_0 d = 0.5 (f16 0x3800), qs[j] = j - 16  ->  x[j] = (j - 16) / 2;
 * q4_0 d = 2 (0x4000), byte j = j | (15 - j) << 4  ->  x[j] = 2 (j - 8),
 * x[j + 16] = 2 (15 - j - 8). */
static void test_by_hand(void) {
    uint8_t q8[34], q4[18];
    q8[0] = 0x00, q8[1] = 0x38;
    for (int j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    q4[0] = 0x00, q4[1] = 0x40;
    for (int j = 0; j < 16; j++) q4[2 + j] = (uint8_t)(j | (15 - j) << 4);
    float w8[32], w4[32];
    for (int j = 0; j < 32; j++) w8[j] = (float)(j - 16) / 2.0f;
    for (int j = 0; j < 16; j++) w4[j] = 2.0f * (float)(j - 8), w4[j + 16] = 2.0f * (float)(15 - j - 8);
    const uint8_t *blocks[2] = {q8, q4};
    const float *wants[2] = {w8, w4};
    for (int i = 0; i < 2; i++) {
        uint32_t type = types[i];
        int64_t logical[1] = {32}, raw[1] = {kiln_ggml_type_get(type)->type_size};
        kiln_tensor_map *w = kiln_tensor_map_new();
        kiln_tensor t;
        CHECK_OK(kiln_quant_tensor_view(type, 1, logical, blocks[i], (size_t)raw[0], &t));
        CHECK_OK(kiln_tensor_map_put(w, "w", t));
        kiln_graph *g = dequant_graph(type, 1, logical, raw);
        check_runs(g, w, wants[i], 32, i ? "q4_0 by hand" : "q8_0 by hand");
        kiln_graph_free(g);
        kiln_tensor_map_free(w);
    }
}

/* ---- fusion --------------------------------------------------------------- */
static const kiln_kernel *only_kernel(const kiln_plan *p, const char *name) {
    int count = 0;
    const kiln_kernel *found = NULL;
    for (int i = 0; i < kiln_plan_kernel_count(p); i++)
        if (strcmp(kiln_plan_kernel(p, i)->name, name) == 0) found = kiln_plan_kernel(p, i), count++;
    return count == 1 ? found : NULL;
}

/* The plan's intermediates: none may be an f32 copy of a whole weight. */
static int materializes_shape(const kiln_plan *p, int64_t rows, int64_t cols) {
    for (int i = 0; i < kiln_plan_tensor_count(p); i++) {
        const kiln_ptensor *t = kiln_plan_tensor(p, i);
        if (t->kind == KILN_PT_INTERMEDIATE && t->dtype == KILN_F32 && t->shape.rank == 2 && t->shape.dims[0] == rows &&
            t->shape.dims[1] == cols)
            return 1;
    }
    return 0;
}

/* y = x @ transpose(dequantize(w)) (a linear layer; simplify turns it into
 * trans_b) and z = x @ dequantize(v): one "dequantize+matmul" kernel each,
 * B a quantized view with the strides that say which layout it is. */
static void test_matmul_fusion(uint32_t type) {
    const kiln_ggml_type_info *info = kiln_ggml_type_get(type);
    int64_t K = 2 * info->block_size, N = 3;
    kiln_graph *g = kiln_graph_new("linear");
    kiln_dim seq = kiln_dim_symbol(g, "seq");
    /* v is [K, N * block] logically so that its rows are whole blocks too */
    int64_t Nv = N * info->block_size;
    kiln_shape xs = {2, {seq, K}}, ws = {2, {N, 2 * info->type_size}}, vs = {2, {K, N * info->type_size}};
    kiln_value x, w, v, dw, dv, t, y, z;
    CHECK_OK(kiln_graph_add_input(g, "x", KILN_F32, &xs, &x));
    CHECK_OK(kiln_graph_add_param(g, "w", KILN_U8, &ws, &w));
    CHECK_OK(kiln_graph_add_param(g, "v", KILN_U8, &vs, &v));
    kiln_named_attr aw[2] = {kiln_a_str("type", info->name), kiln_a_dims("shape", 2, (kiln_dim[]){N, K})};
    kiln_named_attr av[2] = {kiln_a_str("type", info->name), kiln_a_dims("shape", 2, (kiln_dim[]){K, Nv})};
    int64_t perm[2] = {1, 0};
    kiln_named_attr ap = kiln_a_ints("perm", 2, perm);
    CHECK_OK(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &w, 2, aw, &dw));
    CHECK_OK(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &v, 2, av, &dv));
    CHECK_OK(kiln_build(g, KILN_OP_TRANSPOSE, 1, &dw, 1, &ap, &t));
    CHECK_OK(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, t}, 0, NULL, &y));
    CHECK_OK(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){x, dv}, 0, NULL, &z));
    CHECK_OK(kiln_graph_add_output(g, "y", y));
    CHECK_OK(kiln_graph_add_output(g, "z", z));

    kiln_plan *p = NULL;
    CHECK_OK(kiln_plan_compile(g, NULL, &p));
    if (!p) {
        kiln_graph_free(g);
        return;
    }
    CHECK(kiln_plan_kernel_count(p) == 2);
    const kiln_kernel *ky = kiln_plan_kernel(p, 0), *kz = kiln_plan_kernel(p, 1);
    CHECK(only_kernel(p, "dequantize+matmul") == NULL); /* two of them */
    const int64_t dims_of[2][2] = {{1, K}, {Nv, 1}}; /* (K-axis, N-axis) strides: [N, K] rows vs [K, N] rows */
    const kiln_kernel *ks[2] = {ky, kz};
    for (int i = 0; i < 2; i++) {
        const kiln_kernel *k = ks[i];
        CHECK(k->kind == KILN_K_MATMUL && strcmp(k->name, "dequantize+matmul") == 0);
        const kiln_kview *b = &k->views[KILN_KV_B];
        CHECK(b->qtype == type && !b->strided && k->bufs[b->buf].dtype == KILN_U8);
        CHECK(k->dims[b->qcols] == (i ? Nv : K));
        CHECK(k->dims[b->offset] == 0 && k->dims[b->stride[0]] == dims_of[i][0] && k->dims[b->stride[1]] == dims_of[i][1]);
    }
    /* the printed kernel names the quantized view */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_OK(kiln_plan_print_kernels(p, f));
    fclose(f);
    CHECK(text && strstr(text, info->name) && strstr(text, "bitcast") && strstr(text, " : f16"));
    free(text);

    /* values: the evaluator sums in double like the reference, and the
     * dequantized weights are bit-identical, so results agree exactly */
    kiln_tensor_map *wm = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *want = NULL, *got = NULL;
    size_t wb = (size_t)(N * 2 * info->type_size), vb = (size_t)(K * N * info->type_size);
    uint8_t *wbytes = malloc(wb), *vbytes = malloc(vb);
    random_blocks(type, wbytes, wb, 1);
    random_blocks(type, vbytes, vb, 1);
    kiln_tensor tw, tv, tx;
    CHECK_OK(kiln_quant_tensor_view(type, 2, (int64_t[]){N, K}, wbytes, wb, &tw));
    CHECK_OK(kiln_quant_tensor_view(type, 2, (int64_t[]){K, Nv}, vbytes, vb, &tv));
    CHECK_OK(kiln_tensor_map_put(wm, "w", tw));
    CHECK_OK(kiln_tensor_map_put(wm, "v", tv));
    CHECK_OK(kiln_tensor_alloc(&tx, KILN_F32, 2, (int64_t[]){5, K}));
    for (int64_t i = 0; i < 5 * K; i++) ((float *)tx.data)[i] = (float)((int)(rand_byte() % 17) - 8) / 4.0f;
    CHECK_OK(kiln_tensor_map_put(in, "x", tx));
    CHECK_OK(kiln_ref_run(g, wm, in, &want));
    CHECK_OK(kiln_plan_run(p, wm, in, &got));
    for (int o = 0; want && got && o < 2; o++) {
        const kiln_tensor *a = kiln_tensor_map_get(got, o ? "z" : "y"), *b = kiln_tensor_map_get(want, o ? "z" : "y");
        CHECK(a && b && kiln_tensor_numel(a) == kiln_tensor_numel(b) &&
              same_floats(a->data, b->data, kiln_tensor_numel(b), o ? "x @ dequantize(v)" : "linear(x, dequantize(w))"));
    }
    kiln_tensor_map_free(want);
    kiln_tensor_map_free(got);
    kiln_tensor_map_free(wm);
    kiln_tensor_map_free(in);
    free(wbytes);
    free(vbytes);
    kiln_plan_free(p);
    kiln_graph_free(g);
}

/* A tied quantized embedding: gather for the input, the LM head for the
 * output. The dequantize has two consumers but is recomputed by each (it
 * is "cheap"), so no kernel writes an f32 copy of the table. */
static void test_tied_embedding(void) {
    const int64_t V = 40, H = 64;
    kiln_graph *g = kiln_graph_new("tied");
    kiln_dim seq = kiln_dim_symbol(g, "seq");
    kiln_shape is = {1, {seq}}, es = {2, {V, 2 * 34}};
    kiln_value ids, e, d, h, logits;
    CHECK_OK(kiln_graph_add_input(g, "ids", KILN_I64, &is, &ids));
    CHECK_OK(kiln_graph_add_param(g, "emb", KILN_U8, &es, &e));
    kiln_named_attr at[2] = {kiln_a_str("type", "q8_0"), kiln_a_dims("shape", 2, (kiln_dim[]){V, H})};
    CHECK_OK(kiln_build(g, KILN_OP_DEQUANTIZE, 1, &e, 2, at, &d));
    CHECK_OK(kiln_build(g, KILN_OP_GATHER, 2, (kiln_value[]){d, ids}, 0, NULL, &h));
    kiln_named_attr tb = kiln_a_bool("trans_b", 1);
    CHECK_OK(kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){h, d}, 1, &tb, &logits));
    CHECK_OK(kiln_graph_add_output(g, "logits", logits));
    CHECK_OK(kiln_graph_add_output(g, "h", h)); /* else the gather is inlined into the matmul's A view */
    kiln_plan *p = NULL;
    CHECK_OK(kiln_plan_compile(g, NULL, &p));
    if (p) {
        CHECK(kiln_plan_kernel_count(p) == 2);
        CHECK(only_kernel(p, "dequantize+gather") != NULL && only_kernel(p, "dequantize+matmul") != NULL);
        CHECK(!materializes_shape(p, V, H));
        kiln_tensor_map *wm = kiln_tensor_map_new(), *in = kiln_tensor_map_new(), *want = NULL, *got = NULL;
        uint8_t *bytes = malloc((size_t)(V * 68));
        random_blocks(KILN_GGML_Q8_0, bytes, (size_t)(V * 68), 1);
        kiln_tensor te, ti;
        CHECK_OK(kiln_quant_tensor_view(KILN_GGML_Q8_0, 2, (int64_t[]){V, H}, bytes, (size_t)(V * 68), &te));
        CHECK_OK(kiln_tensor_map_put(wm, "emb", te));
        CHECK_OK(kiln_tensor_alloc(&ti, KILN_I64, 1, (int64_t[]){4}));
        int64_t idv[4] = {0, 39, 7, 7};
        memcpy(ti.data, idv, sizeof idv);
        CHECK_OK(kiln_tensor_map_put(in, "ids", ti));
        CHECK_OK(kiln_ref_run(g, wm, in, &want));
        CHECK_OK(kiln_plan_run(p, wm, in, &got));
        const kiln_tensor *a = got ? kiln_tensor_map_get(got, "logits") : NULL, *b = want ? kiln_tensor_map_get(want, "logits") : NULL;
        CHECK(a && b && same_floats(a->data, b->data, 4 * V, "tied embedding"));
        kiln_tensor_map_free(want);
        kiln_tensor_map_free(got);
        kiln_tensor_map_free(wm);
        kiln_tensor_map_free(in);
        free(bytes);
        kiln_plan_free(p);
    }
    kiln_graph_free(g);
}

/* ---- the shape rule -------------------------------------------------------- */
static kiln_status try_build(kiln_dtype dt, int rank, const kiln_dim *raw, const char *type, int srank, const kiln_dim *shape,
                             kiln_value *out) {
    kiln_graph *g = kiln_graph_new("bad");
    kiln_shape rs = {rank, {0}};
    for (int i = 0; i < rank; i++) rs.dims[i] = raw[i];
    kiln_value w;
    kiln_status s = kiln_graph_add_param(g, "w", dt, &rs, &w);
    kiln_named_attr at[2] = {kiln_a_str("type", type), kiln_a_dims("shape", srank, shape)};
    if (!s) s = kiln_build(g, KILN_OP_DEQUANTIZE, 1, &w, 2, at, out);
    if (!s) { /* report the canonical type name through the error channel for the caller */
        const kiln_node *n = kiln_graph_node(g, *out);
        s = strcmp(n->attrs[0].s, "q4_K") == 0 ? KILN_OK : kiln_error(KILN_ERR_INTERNAL, "type is '%s'", n->attrs[0].s);
        if (!s && (n->dtype != KILN_F32 || n->shape.rank != srank)) s = kiln_error(KILN_ERR_INTERNAL, "wrong result type");
    }
    kiln_graph_free(g);
    return s;
}

static void test_shape_rule(void) {
    kiln_value v;
    /* 64 q8_0 columns are 2 blocks of 34 bytes = 68 */
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 60}, "q8_0", 2, (kiln_dim[]){4, 64}, &v),
              "64 q8_0 columns take 68 bytes a row, but the raw input is [4, 60]");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 68}, "q8_0", 2, (kiln_dim[]){4, 48}, &v), "constant multiple of q8_0's block of 32");
    CHECK_ERR(try_build(KILN_F32, 2, (kiln_dim[]){4, 68}, "q8_0", 2, (kiln_dim[]){4, 64}, &v), "takes raw u8 blocks, got f32");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 68}, "q9_0", 2, (kiln_dim[]){4, 64}, &v), "'q9_0' is not a ggml type name");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 128}, "f16", 2, (kiln_dim[]){4, 64}, &v), "f16 is not a block type");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 68}, "q8_0", 1, (kiln_dim[]){64}, &v), "shape has rank 1");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 68}, "q8_0", 2, (kiln_dim[]){5, 64}, &v), "differ in dim 0");
    CHECK_ERR(try_build(KILN_U8, 2, (kiln_dim[]){4, 136}, "q4_K", 2, (kiln_dim[]){4, 256}, &v), "256 q4_K columns take 144 bytes");
    /* "q4_k" is accepted and stored as ggml spells it */
    CHECK_OK(try_build(KILN_U8, 2, (kiln_dim[]){4, 144}, "q4_k", 2, (kiln_dim[]){4, 256}, &v));
    /* the raw view helper refuses byte counts that do not fit */
    kiln_tensor t;
    uint8_t bytes[68];
    CHECK_ERR(kiln_quant_tensor_view(KILN_GGML_Q8_0, 2, (int64_t[]){2, 32}, bytes, 34, &t), "does not hold");
    CHECK_ERR(kiln_quant_tensor_view(KILN_GGML_Q8_0, 1, (int64_t[]){33}, bytes, 34, &t), "not a whole number of q8_0 blocks");
    CHECK_ERR(kiln_quant_tensor_view(KILN_GGML_F16, 1, (int64_t[]){34}, bytes, 68, &t), "not a block type");
    /* and tensors whose fields disagree */
    CHECK_OK(kiln_quant_tensor_view(KILN_GGML_Q8_0, 2, (int64_t[]){2, 32}, bytes, 68, &t));
    t.quant_cols = 64;
    CHECK_ERR(kiln_quant_tensor_check(&t, "w"), "w: 64 q8_0 columns take 68 bytes a row");
    kiln_tensor f;
    CHECK_ERR(kiln_tensor_dequantize(&t, &f), "68 bytes a row");
    t.quant_cols = 32;
    CHECK_ERR(kiln_tensor_convert(&t, KILN_F32, &f), "block-quantized q8_0 data");
}

int main(void) {
    test_every_type_exact();
    test_by_hand();
    for (int i = 0; i < NTYPES; i++) test_matmul_fusion(types[i]);
    test_tied_embedding();
    test_shape_rule();
    return test_finish("test_quant_op");
}
