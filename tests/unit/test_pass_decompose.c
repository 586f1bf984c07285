/* The decompose passes: ref(composite) == ref(decomposed) on random
 * inputs, and no composite is left.
 *
 * Tolerance (f32): the reference computes a composite in double and
 * rounds once; the decomposition rounds every step to f32 (half an ulp,
 * 6e-8 relative, each). Chains here are at most ~12 steps with sums over
 * at most 16 terms of values in [-1, 1] and results of order 1, so the
 * error stays below 1e-6 relative plus 1e-6 absolute; 1e-5 / 1e-5 leaves
 * room without hiding a wrong formula (those give errors of order 0.1).
 * Integer results (rel_pos_bucket) must agree exactly. */
#include <math.h>
#include <stdlib.h>

#include "kiln/passes.h"
#include "test_pass_util.h"

static const kiln_op composites[] = {KILN_OP_SOFTMAX, KILN_OP_LOG_SOFTMAX, KILN_OP_LAYER_NORM, KILN_OP_RMS_NORM,
                                     KILN_OP_ROPE, KILN_OP_ATTENTION, KILN_OP_REL_POS_BUCKET, KILN_OP_GELU,
                                     KILN_OP_GELU_TANH, KILN_OP_SILU};

/* Decomposes g with `pass`, checks what is left and compares. Inputs get
 * ints in [0, int_hi). Takes ownership of g. */
static void check(kiln_graph *g, const char *pass, const tp_sym *syms, int64_t int_hi, const char *what) {
    CHECK_OK(kiln_graph_verify(g));
    kiln_graph *d = NULL;
    CHECK_OK(kiln_run_pass(pass, g, &d));
    if (!d) {
        fprintf(stderr, "  (%s)\n", what);
        kiln_graph_free(g);
        return;
    }
    CHECK_OK(kiln_graph_verify(d));
    int all = strcmp(pass, "decompose") == 0;
    for (size_t i = 0; i < sizeof composites / sizeof composites[0]; i++) {
        kiln_op op = composites[i];
        int injective = op == KILN_OP_ROPE || op == KILN_OP_REL_POS_BUCKET;
        if ((all || injective) && tp_count_op(d, op)) {
            fprintf(stderr, "%s: %s is left after %s\n", what, kiln_op_name(op), pass);
            test_failures++;
        }
    }
    for (int seed = 1; seed <= 2; seed++) {
        kiln_tensor_map *w, *in;
        tp_feed(g, syms, int_hi, (uint64_t)seed, &w, &in);
        kiln_tensor_map *a = tp_ref(g, w, in), *b = tp_ref(d, w, in);
        if (a && b && !tp_maps_close(a, b, 1e-5, 1e-5, what)) test_failures++;
        kiln_tensor_map_free(a);
        kiln_tensor_map_free(b);
        kiln_tensor_map_free(w);
        kiln_tensor_map_free(in);
    }
    kiln_graph_free(g);
    kiln_graph_free(d);
}

static void test_rows(void) {
    kiln_graph *g = kiln_graph_new("rows");
    kiln_dim b = kiln_dim_symbol(g, "batch");
    kiln_value x = tp_input(g, "x", KILN_F32, 3, DIMS(b, 5, 7));
    kiln_value w = tp_param(g, "w", KILN_F32, 1, DIMS(7)), bias = tp_param(g, "b", KILN_F32, 1, DIMS(7));
    kiln_named_attr ax1 = kiln_a_int("axis", 1), eps = kiln_a_float("eps", 1e-3);
    CHECK_OK(kiln_graph_add_output(g, "softmax1", tp_node(g, KILN_OP_SOFTMAX, 1, &x, 1, &ax1)));
    CHECK_OK(kiln_graph_add_output(g, "softmax", tp_node(g, KILN_OP_SOFTMAX, 1, &x, 0, NULL)));
    CHECK_OK(kiln_graph_add_output(g, "log_softmax", tp_node(g, KILN_OP_LOG_SOFTMAX, 1, &x, 1, &ax1)));
    CHECK_OK(kiln_graph_add_output(g, "ln", tp_node(g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, w, bias}, 1, &eps)));
    CHECK_OK(kiln_graph_add_output(g, "ln_plain", tp_node(g, KILN_OP_LAYER_NORM, 1, &x, 0, NULL)));
    CHECK_OK(kiln_graph_add_output(g, "ln_bias_only", tp_node(g, KILN_OP_LAYER_NORM, 3, (kiln_value[]){x, KILN_NONE, bias}, 0, NULL)));
    CHECK_OK(kiln_graph_add_output(g, "rms", tp_node(g, KILN_OP_RMS_NORM, 2, (kiln_value[]){x, w}, 0, NULL)));
    check(g, "decompose", (tp_sym[]){{"batch", 3}, {NULL, 0}}, 1, "softmax and norms");
}

static void test_activations(void) {
    kiln_graph *g = kiln_graph_new("act");
    kiln_value x = tp_input(g, "x", KILN_F32, 2, DIMS(4, 9));
    /* spread to [-4, 4] so the tails of erf and tanh are exercised */
    kiln_value x4 = TP2(g, KILN_OP_MUL, x, tp_scalar(g, KILN_F32, 4));
    CHECK_OK(kiln_graph_add_output(g, "gelu", TP1(g, KILN_OP_GELU, x4)));
    CHECK_OK(kiln_graph_add_output(g, "gelu_tanh", TP1(g, KILN_OP_GELU_TANH, x4)));
    CHECK_OK(kiln_graph_add_output(g, "silu", TP1(g, KILN_OP_SILU, x4)));
    check(g, "decompose", NULL, 1, "activations");
}

/* attention(q [B,H,S,D], k/v [B,Hk,T,*], mask?) with the given options */
static void attention_case(int H, int Hk, int S, int T, int causal, int mask_kind, int scale_set, const char *what) {
    kiln_graph *g = kiln_graph_new("att");
    kiln_dim B = kiln_dim_symbol(g, "batch");
    kiln_value q = tp_input(g, "q", KILN_F32, 4, DIMS(B, H, S, 6));
    kiln_value k = tp_input(g, "k", KILN_F32, 4, DIMS(B, Hk, T, 6));
    kiln_value v = tp_input(g, "v", KILN_F32, 4, DIMS(B, Hk, T, 5));
    kiln_value ins[4] = {q, k, v, KILN_NONE};
    int nin = 3;
    if (mask_kind == 1) { /* bool [B, 1, S, T] */
        ins[3] = tp_input(g, "mask", KILN_BOOL, 4, DIMS(B, 1, S, T));
        nin = 4;
    } else if (mask_kind == 2) { /* additive [S, T] */
        ins[3] = tp_input(g, "mask", KILN_F32, 2, DIMS(S, T));
        nin = 4;
    }
    kiln_named_attr a[2] = {kiln_a_bool("causal", causal), kiln_a_float("scale", 0.3)};
    CHECK_OK(kiln_graph_add_output(g, "y", tp_node(g, KILN_OP_ATTENTION, nin, ins, scale_set ? 2 : 1, a)));
    check(g, "decompose", (tp_sym[]){{"batch", 2}, {NULL, 0}}, 2, what);
}

/* Every key of query row 0 masked out: the reference gives zeros there. */
static void test_attention_empty_row(void) {
    kiln_graph *g = kiln_graph_new("att_empty");
    kiln_value q = tp_input(g, "q", KILN_F32, 4, DIMS(1, 1, 2, 3)), k = tp_input(g, "k", KILN_F32, 4, DIMS(1, 1, 4, 3));
    kiln_value v = tp_input(g, "v", KILN_F32, 4, DIMS(1, 1, 4, 3));
    kiln_tensor mt;
    if (kiln_tensor_alloc(&mt, KILN_BOOL, 2, (int64_t[]){2, 4})) exit(1);
    uint8_t mv[8] = {0, 0, 0, 0, 1, 0, 1, 1};
    memcpy(mt.data, mv, 8);
    kiln_value m;
    CHECK_OK(kiln_graph_add_const(g, &mt, &m));
    kiln_tensor_release(&mt);
    kiln_value y = tp_node(g, KILN_OP_ATTENTION, 4, (kiln_value[]){q, k, v, m}, 0, NULL);
    CHECK_OK(kiln_graph_add_output(g, "y", y));
    kiln_graph *d = NULL;
    CHECK_OK(kiln_run_pass("decompose", g, &d));
    kiln_tensor_map *w, *in;
    tp_feed(g, NULL, 1, 3, &w, &in);
    kiln_tensor_map *out = d ? tp_ref(d, w, in) : NULL;
    const kiln_tensor *t = out ? kiln_tensor_map_get(out, "y") : NULL;
    for (int i = 0; t && i < 3; i++) CHECK(((float *)t->data)[i] == 0.0f);
    CHECK(t && ((float *)t->data)[3] != 0.0f);
    kiln_tensor_map_free(out);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
    kiln_graph_free(d);
    check(g, "decompose", NULL, 1, "attention with an empty row");
}

static void rope_case(kiln_dtype t, int interleaved, int rotary, const char *pass, const char *what) {
    kiln_graph *g = kiln_graph_new("rope");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value x = tp_input(g, "x", t, 4, DIMS(2, 3, s, 8));
    kiln_value pos = tp_input(g, "pos", KILN_I32, 1, DIMS(s));
    kiln_named_attr a[3] = {kiln_a_float("theta", 500), kiln_a_bool("interleaved", interleaved), kiln_a_int("rotary_dim", rotary)};
    CHECK_OK(kiln_graph_add_output(g, "y", tp_node(g, KILN_OP_ROPE, 2, (kiln_value[]){x, pos}, 3, a)));
    /* positions up to 1000: angles far from 0 exercise the f32 steps */
    check(g, pass, (tp_sym[]){{"seq", 5}, {NULL, 0}}, 1000, what);
}

static void rel_case(int bidirectional, int nb, int md, const char *what) {
    kiln_graph *g = kiln_graph_new("rel");
    kiln_dim s = kiln_dim_symbol(g, "seq");
    kiln_value qp = tp_input(g, "qpos", KILN_I64, 1, DIMS(s)), kp = tp_input(g, "kpos", KILN_I32, 1, DIMS(11));
    kiln_named_attr a[3] = {kiln_a_bool("bidirectional", bidirectional), kiln_a_int("num_buckets", nb), kiln_a_int("max_distance", md)};
    CHECK_OK(kiln_graph_add_output(g, "b", tp_node(g, KILN_OP_REL_POS_BUCKET, 2, (kiln_value[]){qp, kp}, 3, a)));
    check(g, "decompose-injective", (tp_sym[]){{"seq", 13}, {NULL, 0}}, 300, what);
}

int main(void) {
    test_rows();
    test_activations();
    attention_case(2, 2, 3, 3, 0, 0, 0, "attention");
    attention_case(4, 2, 3, 5, 1, 0, 1, "attention gqa causal past");
    attention_case(3, 1, 4, 4, 1, 1, 0, "attention mqa bool mask");
    attention_case(2, 2, 1, 6, 0, 2, 1, "attention additive mask decode");
    test_attention_empty_row();
    rope_case(KILN_F32, 0, 0, "decompose-injective", "rope");
    rope_case(KILN_F32, 1, 0, "decompose", "rope interleaved");
    rope_case(KILN_F32, 0, 4, "decompose", "rope partial");
    rope_case(KILN_F32, 1, 6, "decompose-injective", "rope interleaved partial");
    rel_case(1, 32, 128, "rel_pos_bucket bidirectional");
    rel_case(0, 32, 128, "rel_pos_bucket causal");
    rel_case(1, 8, 20, "rel_pos_bucket small");
    return test_finish("test_pass_decompose");
}
