/* The kernel IR contract itself: hand-built kernels evaluated against
 * hand-computed results, the validator rejecting malformed kernels, guarded
 * and out-of-range loads, the strided-view descriptors lowering produces,
 * and the printer. */
#include <stdlib.h>

#include "kiln/kernel.h"
#include "test_kernel_util.h"

/* out[i, j] = 2 * a[j * 2 + i] for out [2, 3] and a [3, 2]: a transpose and
 * a scale. With a = 1..6: out = [[2, 6, 10], [4, 8, 12]]. An optional
 * guard (index < limit) makes the load guarded. */
static kiln_kexpr exprs[] = {
    {KILN_KX_COORD, KILN_I64, 0, -1, -1, -1, 0, 0, 0},        /* e0 i */
    {KILN_KX_COORD, KILN_I64, 0, -1, -1, -1, 1, 0, 0},        /* e1 j */
    {KILN_KX_CONST, KILN_I64, 0, -1, -1, -1, -1, 0, 2},       /* e2 2 */
    {KILN_KX_MATH, KILN_I64, KILN_OP_MUL, 1, 2, -1, -1, 0, 0},/* e3 j*2 */
    {KILN_KX_MATH, KILN_I64, KILN_OP_ADD, 3, 0, -1, -1, 0, 0},/* e4 j*2+i */
    {KILN_KX_DIM, KILN_I64, 0, -1, -1, -1, 2, 0, 0},          /* e5 limit (dim slot 2) */
    {KILN_KX_MATH, KILN_BOOL, KILN_OP_LT, 4, 5, -1, -1, 0, 0},/* e6 index < limit */
    {KILN_KX_LOAD, KILN_F32, 0, 4, -1, -1, 1, 0, 0},          /* e7 a[e4] (guard set per test) */
    {KILN_KX_CONST, KILN_F32, 0, -1, -1, -1, -1, 2.0, 0},     /* e8 2.0 */
    {KILN_KX_MATH, KILN_F32, KILN_OP_MUL, 7, 8, -1, -1, 0, 0},/* e9 */
};

static kiln_kbuf bufs[] = {{0, KILN_F32, KILN_KBUF_WRITE, 0}, {1, KILN_F32, KILN_KBUF_READ, 0}};
static kiln_dim dims[] = {2, 3, 6};

static kiln_kernel pointwise(kiln_kexpr *e, kiln_kbuf *b) {
    kiln_kernel k;
    memset(&k, 0, sizeof k);
    k.name = "hand";
    k.kind = KILN_K_POINTWISE;
    k.nbufs = 2;
    k.bufs = b;
    k.ndims = 3;
    k.dims = dims;
    k.nexprs = 10;
    k.exprs = e;
    k.out_buf = 0;
    k.out_rank = 2;
    k.out_extent[0] = 0;
    k.out_extent[1] = 1;
    k.out_expr = 9;
    k.scale_dim = -1;
    return k;
}

static void test_hand_kernel(void) {
    kiln_kexpr e[10];
    memcpy(e, exprs, sizeof e);
    kiln_kbuf b[2];
    memcpy(b, bufs, sizeof b);
    kiln_kernel k = pointwise(e, b);
    CHECK_OK(kiln_kernel_validate(&k));
    kiln_tensor out, a;
    if (kiln_tensor_alloc(&out, KILN_F32, 2, (int64_t[]){2, 3}) || kiln_tensor_alloc(&a, KILN_F32, 2, (int64_t[]){3, 2})) exit(1);
    for (int i = 0; i < 6; i++) ((float *)a.data)[i] = (float)(i + 1);
    kiln_tensor *slots[2] = {&out, &a};
    int64_t dv[3] = {2, 3, 6};
    CHECK_OK(kiln_kernel_eval(&k, dv, slots));
    float want[6] = {2, 6, 10, 4, 8, 12};
    for (int i = 0; i < 6; i++) CHECK(((float *)out.data)[i] == want[i]);

    /* a smaller buffer: element (1, 2) reads index 5, past a's 5 elements */
    a.shape[0] = 5;
    a.rank = 1;
    CHECK_ERR(kiln_kernel_eval(&k, dv, slots), "load from slot 1 at index 5 outside its 5 elements");
    /* guarded by index < 5: nothing is read there and the value is 0 */
    e[7].b = 6;
    dv[2] = 5;
    CHECK_OK(kiln_kernel_eval(&k, dv, slots));
    CHECK(((float *)out.data)[5] == 0.0f && ((float *)out.data)[4] == 8.0f);
    /* extents must be non-negative; other dim slots may be negative (a
     * backwards slice's offset and strides): here the guard bound -1
     * turns every load off, so every element is 0 */
    dv[1] = -1;
    CHECK_ERR(kiln_kernel_eval(&k, dv, slots), "output extent 1 (dim slot 1) is -1");
    dv[1] = 3;
    dv[2] = -1;
    CHECK_OK(kiln_kernel_eval(&k, dv, slots));
    for (int i = 0; i < 6; i++) CHECK(((float *)out.data)[i] == 0.0f);
    /* buffers must have the slot's dtype */
    dv[2] = 5;
    a.dtype = KILN_F64;
    CHECK_ERR(kiln_kernel_eval(&k, dv, slots), "slot 1 is not bound to a f32 tensor");
    a.dtype = KILN_F32;

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_OK(kiln_kernel_print(&k, NULL, f));
    fclose(f);
    CHECK(text && strstr(text, "kernel \"hand\" pointwise"));
    CHECK(text && strstr(text, "e7 = load buf 1 [e4] if e6 : f32"));
    CHECK(text && strstr(text, "e9 = mul e7, e8 : f32"));
    CHECK(text && strstr(text, "out buf 0 [d0, d1] = e9"));
    free(text);
    kiln_tensor_release(&out);
    a.shape[0] = 3;
    kiln_tensor_release(&a);
}

static void test_validate(void) {
    kiln_kexpr e[10];
    kiln_kbuf b[2];
#define BROKEN(change, needle)                 \
    do {                                       \
        memcpy(e, exprs, sizeof e);            \
        memcpy(b, bufs, sizeof b);             \
        kiln_kernel k = pointwise(e, b);       \
        change;                                \
        CHECK_ERR(kiln_kernel_validate(&k), needle); \
    } while (0)
    BROKEN(e[4].a = 9, "expression 4 uses 9, not defined before it");
    BROKEN(e[7].type = KILN_F16, "type other than its buffer's");
    BROKEN(e[7].slot = 2, "loads from slot 2");
    BROKEN(e[7].b = 4, "non-bool guard");
    BROKEN(e[9].op = KILN_OP_MATMUL, "not a unary or binary op");
    BROKEN(e[9].b = -1, "not a unary or binary op");
    BROKEN(e[5].slot = 3, "reads dim slot 3");
    BROKEN(b[1].access = KILN_KBUF_WRITE, "slot 1 is written but is not the output");
    BROKEN(k.out_expr = 10, "no output expression");
    BROKEN(k.out_extent[1] = 3, "output extent 1 is no dim slot");
    BROKEN(k.nviews = 1, "1 views for its template");
    BROKEN((k.kind = KILN_K_MATMUL, k.nviews = 2, k.views[0].rank = 2, k.views[1].rank = 2, k.views[0].expr = 9,
            k.views[1].expr = 9, k.views[1].extent[1] = 7), "view 1 extent 1 is no dim slot");
#undef BROKEN
}

/* Lowered matmul(x, transpose(w)) with w [N, K]: B is a strided view of w
 * whose K stride is 1 and N stride is K, the form a GEMM packer wants. */
static void test_strided_views(void) {
    kiln_graph *g = kiln_graph_new("linear");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(2, s, 5));
    kiln_value w = tp_param(g, "w", KILN_F32, 2, DIMS(7, 5));
    kiln_named_attr tr = kiln_a_ints("perm", 2, (int64_t[]){1, 0});
    CHECK_OK(kiln_graph_add_output(g, "y", TP2(g, KILN_OP_MATMUL, x, tp_node(g, KILN_OP_TRANSPOSE, 1, &w, 1, &tr))));
    kiln_plan *p = tp_compile(g);
    if (!p) return;
    const kiln_kernel *k = kiln_plan_kernel(p, 0);
    CHECK(kiln_plan_kernel_count(p) == 1 && k->kind == KILN_K_MATMUL);
    int64_t seq = 4, dv[64];
    CHECK(k->ndims <= 64);
    CHECK_OK(kiln_kernel_dims(k, kiln_plan_graph(p), &seq, dv));
    const kiln_kview *a = &k->views[KILN_KV_A], *bv = &k->views[KILN_KV_B];
    CHECK(a->strided && bv->strided && a->rank == 3 && bv->rank == 3);
    /* A [2, seq, 5] contiguous: strides (seq*5, 5, 1) = (20, 5, 1) at seq 4 */
    CHECK(dv[a->stride[0]] == 20 && dv[a->stride[1]] == 5 && dv[a->stride[2]] == 1 && dv[a->offset] == 0);
    /* B [batch, K, N] over w [N, K]: batch stride 0, k stride 1, n stride 5 */
    CHECK(dv[bv->stride[0]] == 0 && dv[bv->stride[1]] == 1 && dv[bv->stride[2]] == 5);
    CHECK(dv[bv->extent[1]] == 5 && dv[bv->extent[2]] == 7 && dv[k->out_extent[1]] == 4);
    CHECK(kiln_plan_tensor(p, k->bufs[bv->buf].tensor)->kind == KILN_PT_PARAM);
    kiln_plan_free(p);
    kiln_graph_free(g);

    /* a slice + reshape + transpose chain stays strided: offset = start * stride */
    g = kiln_graph_new("heads");
    s = kiln_dim_symbol(g, "seq");
    x = tp_input(g, "x", KILN_F32, 2, DIMS(s, 12));
    kiln_named_attr sl[3] = {kiln_a_int("axis", 1), kiln_a_dim("start", 4), kiln_a_dim("end", 10)};
    kiln_value v = tp_node(g, KILN_OP_SLICE, 1, &x, 3, sl);
    kiln_named_attr rs = kiln_a_dims("shape", 3, DIMS(s, 2, 3));
    v = tp_node(g, KILN_OP_RESHAPE, 1, &v, 1, &rs);
    kiln_named_attr pm = kiln_a_ints("perm", 3, (int64_t[]){1, 0, 2});
    v = tp_node(g, KILN_OP_TRANSPOSE, 1, &v, 1, &pm); /* [2, seq, 3] */
    kiln_named_attr ax = kiln_a_int("axis", 2);
    CHECK_OK(kiln_graph_add_output(g, "y", tp_node(g, KILN_OP_SOFTMAX, 1, &v, 1, &ax)));
    p = tp_compile(g);
    if (p) {
        k = kiln_plan_kernel(p, 0);
        CHECK(kiln_plan_kernel_count(p) == 1 && k->kind == KILN_K_ROW && k->views[0].strided);
        CHECK_OK(kiln_kernel_dims(k, kiln_plan_graph(p), &seq, dv));
        const kiln_kview *src = &k->views[0];
        /* element (h, t, d) of the view is x[t, 4 + 3h + d]: offset 4, strides (3, 12, 1) */
        CHECK(dv[src->offset] == 4 && dv[src->stride[0]] == 3 && dv[src->stride[1]] == 12 && dv[src->stride[2]] == 1);
        kiln_plan_free(p);
    }
    tp_plan_vs_ref(g, (const tp_sym *const[]){(const tp_sym[]){{"seq", 4}, {NULL, 0}}, NULL}, 1, 1e-6, 1e-6, "strided rows");
    kiln_graph_free(g);
}

/* Every kernel a real model lowers to passes the validator, and reads
 * only slots of the right dtype. */
static void test_lowered_kernels_validate(void) {
    kiln_graph *g = kiln_graph_new("mixed");
    kiln_dim n = kiln_dim_symbol(g, "n");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(n, 4, 6));
    kiln_value ids = tp_input(g, "ids", KILN_I64, 1, DIMS(n));
    kiln_value table = tp_param(g, "table", KILN_F32, 2, DIMS(9, 6));
    kiln_value emb = TP2(g, KILN_OP_GATHER, table, ids); /* [n, 6] */
    kiln_named_attr rs = kiln_a_dims("shape", 3, DIMS(n, 1, 6));
    kiln_value y = TP2(g, KILN_OP_ADD, x, tp_node(g, KILN_OP_RESHAPE, 1, &emb, 1, &rs));
    kiln_named_attr ax = kiln_a_ints("axes", 1, (int64_t[]){1});
    kiln_value r = tp_node(g, KILN_OP_REDUCE_MAX, 1, &y, 1, &ax);
    CHECK_OK(kiln_graph_add_output(g, "r", r));
    CHECK_OK(kiln_graph_add_output(g, "y", TP1(g, KILN_OP_TANH, y)));
    kiln_plan *p = tp_compile(g);
    for (int i = 0; p && i < kiln_plan_kernel_count(p); i++) {
        const kiln_kernel *k = kiln_plan_kernel(p, i);
        CHECK_OK(kiln_kernel_validate(k));
        for (int s = 0; s < k->nbufs; s++) CHECK(k->bufs[s].dtype == kiln_plan_tensor(p, k->bufs[s].tensor)->dtype);
    }
    kiln_plan_free(p);
    tp_plan_vs_ref(g, (const tp_sym *const[]){(const tp_sym[]){{"n", 3}, {NULL, 0}}, NULL}, 9, 1e-6, 1e-6, "mixed");
    kiln_graph_free(g);
}

int main(void) {
    test_hand_kernel();
    test_validate();
    test_strided_views();
    test_lowered_kernels_validate();
    return test_finish("test_kernel_ir");
}
