/* The loss graph: a model's forward graph with its f32 parameters turned
 * into inputs and Hugging Face's causal-LM cross-entropy on its logits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/rewrite.h"
#include "runtime/train_internal.h"

/* ---- sticky-status builder helpers ---- */

static kiln_value tg_build(tg_builder *b, kiln_op op, int nin, const kiln_value *ins, int na, const kiln_named_attr *a) {
    if (b->s) return KILN_NONE;
    kiln_value v = KILN_NONE;
    b->s = kiln_build(b->g, op, nin, ins, na, a, &v);
    return b->s ? KILN_NONE : v;
}

kiln_value tg_op1(tg_builder *b, kiln_op op, kiln_value a) { return tg_build(b, op, 1, &a, 0, NULL); }

kiln_value tg_op2(tg_builder *b, kiln_op op, kiln_value a, kiln_value c) {
    kiln_value ins[2] = {a, c};
    return tg_build(b, op, 2, ins, 0, NULL);
}

kiln_value tg_scalar(tg_builder *b, double v) {
    if (b->s) return KILN_NONE;
    kiln_value out = KILN_NONE;
    b->s = kiln_graph_add_scalar(b->g, KILN_F32, v, &out);
    return b->s ? KILN_NONE : out;
}

kiln_value tg_sum_all(tg_builder *b, kiln_value a) {
    if (b->s) return KILN_NONE;
    const kiln_node *n = kiln_graph_node(b->g, a);
    if (n->shape.rank == 0) return a;
    int64_t axes[KILN_MAX_RANK];
    for (int i = 0; i < n->shape.rank; i++) axes[i] = i;
    kiln_named_attr at = kiln_a_ints("axes", n->shape.rank, axes);
    return tg_build(b, KILN_OP_REDUCE_SUM, 1, &a, 1, &at);
}

kiln_value tg_reshape1(tg_builder *b, kiln_value a) {
    if (b->s) return KILN_NONE;
    kiln_dim one = 1;
    kiln_named_attr at = kiln_a_dims("shape", 1, &one);
    return tg_build(b, KILN_OP_RESHAPE, 1, &a, 1, &at);
}

static kiln_value tg_slice(tg_builder *b, kiln_value a, int axis, kiln_dim start, kiln_dim end) {
    kiln_named_attr at[3] = {kiln_a_int("axis", axis), kiln_a_dim("start", start), kiln_a_dim("end", end)};
    return tg_build(b, KILN_OP_SLICE, 1, &a, 3, at);
}

/* ---- parameters ---- */

static int trainable(const kiln_node *n) { return n->op == KILN_OP_PARAM && n->dtype == KILN_F32; }

const char *train_key(char *buf, const char *prefix, const char *name) {
    size_t cap = TRAIN_KEY_CAP;
    snprintf(buf, cap, "%s%s", prefix, name);
    return buf;
}

kiln_status train_param_names(const kiln_graph *g, const char ***names, int *n) {
    *names = NULL;
    *n = 0;
    int count = 0;
    for (int v = 0; v < kiln_graph_node_count(g); v++) count += trainable(kiln_graph_node(g, v));
    const char **list = malloc((size_t)(count ? count : 1) * sizeof *list);
    if (!list) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *p = kiln_graph_node(g, v);
        if (!trainable(p)) continue;
        if (!kiln_shape_is_static(&p->shape)) {
            free(list);
            return kiln_error(KILN_ERR_SHAPE, "parameter '%s' has a symbolic shape; trainable parameters need fixed ones",
                              p->name);
        }
        if (strlen(p->name) >= TRAIN_MAX_NAME) {
            free(list);
            return kiln_error(KILN_ERR_LIMIT, "parameter name '%.60s...' is longer than %d bytes", p->name, TRAIN_MAX_NAME);
        }
        list[k++] = p->name;
    }
    *names = list;
    *n = k;
    return KILN_OK;
}

/* ---- the loss ---- */

static int find_output(const kiln_graph *g, const char *name) {
    for (int i = 0; i < kiln_graph_output_count(g); i++)
        if (strcmp(kiln_graph_output_name(g, i), name) == 0) return i;
    return -1;
}

static kiln_status no_logits(const kiln_graph *g, const char *name) {
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < kiln_graph_output_count(g) && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", kiln_graph_output_name(g, i));
    return kiln_error(KILN_ERR_NOT_FOUND,
                      "%s: no output '%s' (its outputs: %s); training needs a language model whose '%s' output is "
                      "f32 [batch, seq, vocab]",
                      kiln_graph_name(g), name, list[0] ? list : "none", name);
}

/* Mean over every position of -log_softmax(logits[:, :-1])[label] with
 * labels input_ids[:, 1:]; the label's log-probability is picked by a
 * one-hot product, which needs only elementwise ops and a reduction. */
static kiln_value causal_lm_loss(tg_builder *b, kiln_value logits, kiln_value ids) {
    if (b->s) return KILN_NONE;
    const kiln_node *ln = kiln_graph_node(b->g, logits);
    const kiln_node *in = kiln_graph_node(b->g, ids);
    kiln_dim seq = in->shape.dims[1], vocab = ln->shape.dims[2];
    kiln_value lg = tg_slice(b, logits, 1, 0, -1);
    kiln_value lab = tg_slice(b, ids, 1, 1, seq);
    kiln_value lsm = KILN_NONE;
    if (!b->s) {
        kiln_named_attr ax = kiln_a_int("axis", -1);
        lsm = tg_build(b, KILN_OP_LOG_SOFTMAX, 1, &lg, 1, &ax);
    }
    /* labels [b, t] -> [b, t, 1] against iota [vocab] */
    kiln_value lab3 = KILN_NONE, iota = KILN_NONE;
    if (!b->s) {
        const kiln_node *l = kiln_graph_node(b->g, lab);
        kiln_dim dims[3] = {l->shape.dims[0], l->shape.dims[1], 1};
        kiln_named_attr at = kiln_a_dims("shape", 3, dims);
        lab3 = tg_build(b, KILN_OP_RESHAPE, 1, &lab, 1, &at);
        kiln_named_attr ia[2] = {kiln_a_dims("shape", 1, &vocab), kiln_a_dtype("dtype", l->dtype)};
        iota = tg_build(b, KILN_OP_IOTA, 0, NULL, 2, ia);
    }
    kiln_value hot = tg_op2(b, KILN_OP_EQ, lab3, iota);
    if (!b->s) {
        kiln_named_attr at = kiln_a_dtype("dtype", KILN_F32);
        hot = tg_build(b, KILN_OP_CAST, 1, &hot, 1, &at);
    }
    kiln_value picked = tg_op2(b, KILN_OP_MUL, lsm, hot);
    if (!b->s) {
        int64_t last = 2, both[2] = {0, 1};
        kiln_named_attr a1 = kiln_a_ints("axes", 1, &last);
        picked = tg_build(b, KILN_OP_REDUCE_SUM, 1, &picked, 1, &a1);
        kiln_named_attr a2 = kiln_a_ints("axes", 2, both);
        picked = tg_build(b, KILN_OP_REDUCE_MEAN, 1, &picked, 1, &a2);
    }
    return tg_reshape1(b, tg_op1(b, KILN_OP_NEG, picked));
}

static kiln_status check_interface(const kiln_graph *fwd, const char *logits, kiln_value *lv, kiln_value *idv) {
    int oi = find_output(fwd, logits);
    if (oi < 0) return no_logits(fwd, logits);
    *lv = kiln_graph_output_value(fwd, oi);
    const kiln_node *ln = kiln_graph_node(fwd, *lv);
    char buf[256];
    if (ln->dtype != KILN_F32 || ln->shape.rank != 3 || !kiln_dim_is_const(ln->shape.dims[2]))
        return kiln_error(KILN_ERR_SHAPE, "%s: output '%s' is %s%s; training needs f32 [batch, seq, vocab]",
                          kiln_graph_name(fwd), logits, kiln_dtype_name(ln->dtype),
                          kiln_shape_str(fwd, &ln->shape, buf, sizeof buf));
    *idv = kiln_graph_find_input(fwd, "input_ids");
    if (*idv == KILN_NONE) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no input 'input_ids' to train on", kiln_graph_name(fwd));
    const kiln_node *in = kiln_graph_node(fwd, *idv);
    if (!kiln_dtype_is_int(in->dtype) || in->shape.rank != 2)
        return kiln_error(KILN_ERR_SHAPE, "%s: input 'input_ids' is %s%s; training needs integer [batch, seq]",
                          kiln_graph_name(fwd), kiln_dtype_name(in->dtype), kiln_shape_str(fwd, &in->shape, buf, sizeof buf));
    if (kiln_graph_find_input(fwd, "decoder_input_ids") != KILN_NONE)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: encoder-decoder models cannot be trained yet (causal LMs only)",
                          kiln_graph_name(fwd));
    return KILN_OK;
}

kiln_status kiln_loss_graph_build(const kiln_graph *fwd, const char *logits, kiln_graph **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_loss_graph_build: no output pointer");
    *out = NULL;
    if (!fwd) return kiln_error(KILN_ERR_INVALID, "kiln_loss_graph_build: no graph");
    if (!logits) logits = "logits";
    kiln_value lv, idv;
    KILN_TRY(check_interface(fwd, logits, &lv, &idv));
    rewriter r;
    KILN_TRY(rw_begin(&r, fwd));
    kiln_status s = KILN_OK;
    for (int v = 0; v < r.nsrc && !s; v++) {
        const kiln_node *n = kiln_graph_node(fwd, v);
        if (!trainable(n)) {
            s = rw_copy(&r, v);
            continue;
        }
        kiln_graph_set_loc(r.dst, n->loc);
        s = kiln_graph_add_input(r.dst, n->name, n->dtype, &n->shape, &r.map[v]);
    }
    tg_builder b = {r.dst, s};
    kiln_value loss = causal_lm_loss(&b, b.s ? KILN_NONE : r.map[lv], b.s ? KILN_NONE : r.map[idv]);
    if (!b.s) b.s = kiln_graph_add_output(r.dst, "loss", loss);
    if (b.s) {
        rw_abort(&r);
        return kiln_error_wrap(b.s, "%s: building the loss", kiln_graph_name(fwd));
    }
    *out = r.dst;
    r.dst = NULL;
    rw_abort(&r);
    return KILN_OK;
}
