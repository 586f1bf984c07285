/* Gradient clipping and AdamW as graph ops, appended to a graph that
 * computes a loss and its gradients (kiln_autodiff's result).
 *
 * torch.optim.AdamW step t (from 1), for every parameter p with gradient g:
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g
 *   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * after torch.nn.utils.clip_grad_norm_: with n the L2 norm of all the
 * gradients together, each g is scaled by min(clip / (n + 1e-6), 1). lr and
 * t are inputs so that one compiled graph serves every step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/rewrite.h"
#include "runtime/train_internal.h"

void kiln_train_graph_options_default(kiln_train_graph_options *o) {
    memset(o, 0, sizeof *o);
    o->weight_decay = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->grad_clip = 1.0;
}

static int find_output(const kiln_graph *g, const char *name) {
    for (int i = 0; i < kiln_graph_output_count(g); i++)
        if (strcmp(kiln_graph_output_name(g, i), name) == 0) return i;
    return -1;
}

static kiln_value add_input(tg_builder *b, const char *name, const kiln_shape *shape) {
    if (b->s) return KILN_NONE;
    kiln_value v = KILN_NONE;
    b->s = kiln_graph_add_input(b->g, name, KILN_F32, shape, &v);
    return b->s ? KILN_NONE : v;
}

static void add_output(tg_builder *b, const char *prefix, const char *name, kiln_value v) {
    if (b->s) return;
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *full = malloc(n);
    if (!full) {
        b->s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        return;
    }
    snprintf(full, n, "%s%s", prefix, name);
    b->s = kiln_graph_add_output(b->g, full, v);
    free(full);
}

static kiln_status check_options(const kiln_train_graph_options *o) {
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return kiln_error(KILN_ERR_INVALID, "AdamW betas must be in [0, 1) (got %g, %g)", o->beta1, o->beta2);
    if (!(o->eps > 0)) return kiln_error(KILN_ERR_INVALID, "AdamW eps must be positive (got %g)", o->eps);
    if (!(o->weight_decay >= 0)) return kiln_error(KILN_ERR_INVALID, "weight decay must be >= 0 (got %g)", o->weight_decay);
    if (!(o->grad_clip >= 0)) return kiln_error(KILN_ERR_INVALID, "gradient clip must be >= 0 (got %g)", o->grad_clip);
    return KILN_OK;
}

/* The per-parameter update; writes the three new tensors' values. */
static void adamw(tg_builder *b, const kiln_train_graph_options *o, kiln_value p, kiln_value g, kiln_value m,
                  kiln_value v, kiln_value decay, kiln_value step_size, kiln_value bc2_sqrt, kiln_value out[3]) {
    kiln_value p1 = tg_op2(b, KILN_OP_MUL, p, decay);
    kiln_value m1 = tg_op2(b, KILN_OP_ADD, tg_op2(b, KILN_OP_MUL, m, tg_scalar(b, o->beta1)),
                           tg_op2(b, KILN_OP_MUL, g, tg_scalar(b, 1.0 - o->beta1)));
    kiln_value v1 = tg_op2(b, KILN_OP_ADD, tg_op2(b, KILN_OP_MUL, v, tg_scalar(b, o->beta2)),
                           tg_op2(b, KILN_OP_MUL, tg_op2(b, KILN_OP_MUL, g, g), tg_scalar(b, 1.0 - o->beta2)));
    kiln_value denom = tg_op2(b, KILN_OP_ADD, tg_op2(b, KILN_OP_DIV, tg_op1(b, KILN_OP_SQRT, v1), bc2_sqrt),
                              tg_scalar(b, o->eps));
    kiln_value upd = tg_op2(b, KILN_OP_MUL, step_size, tg_op2(b, KILN_OP_DIV, m1, denom));
    out[0] = tg_op2(b, KILN_OP_SUB, p1, upd);
    out[1] = m1;
    out[2] = v1;
}

/* The sum of n f32 [] values, as reductions over concatenations of at most
 * GROUP of them at a time: one long chain of adds would fuse into a single
 * kernel reading every value, more buffers than a Vulkan shader binds. */
#define GROUP 8
static kiln_value sum_scalars(tg_builder *b, kiln_value *v, int n) {
    if (n == 0) return tg_scalar(b, 0.0);
    while (n > 1 && !b->s) {
        int m = 0;
        for (int i = 0; i < n && !b->s; i += GROUP, m++) {
            int k = n - i < GROUP ? n - i : GROUP;
            if (k == 1) {
                v[m] = v[i];
                continue;
            }
            kiln_value parts[GROUP];
            for (int j = 0; j < k; j++) parts[j] = tg_reshape1(b, v[i + j]);
            kiln_value cat = KILN_NONE;
            if (!b->s) {
                kiln_named_attr ax = kiln_a_int("axis", 0);
                b->s = kiln_build(b->g, KILN_OP_CONCAT, k, parts, 1, &ax, &cat);
            }
            v[m] = tg_sum_all(b, cat);
        }
        n = m;
    }
    return b->s ? KILN_NONE : v[0];
}

kiln_status train_append_optimizer(const kiln_graph *src, const char *const *names, int n,
                                   const kiln_train_graph_options *o, kiln_graph **out) {
    *out = NULL;
    KILN_TRY(check_options(o));
    int loss_i = find_output(src, "loss");
    if (loss_i < 0) return kiln_error(KILN_ERR_NOT_FOUND, "%s: no output 'loss'", kiln_graph_name(src));
    kiln_value *pv = calloc((size_t)(n ? n : 1), 4 * sizeof *pv);
    if (!pv) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_value *gv = pv + n, *mv = pv + 2 * n, *vv = pv + 3 * n;
    rewriter r;
    kiln_status s = rw_begin(&r, src);
    if (s) {
        free(pv);
        return s;
    }
    for (int v = 0; v < r.nsrc && !s; v++) s = rw_copy(&r, v);
    /* the parameters and their gradients */
    for (int i = 0; i < n && !s; i++) {
        kiln_value p = kiln_graph_find_input(src, names[i]);
        char gname[TRAIN_KEY_CAP];
        train_key(gname, "grad.", names[i]);
        int gi = find_output(src, gname);
        if (p == KILN_NONE || gi < 0)
            s = kiln_error(KILN_ERR_NOT_FOUND, "%s: no %s '%s'", kiln_graph_name(src), p == KILN_NONE ? "input" : "output",
                           p == KILN_NONE ? names[i] : gname);
        else {
            pv[i] = r.map[p];
            gv[i] = r.map[kiln_graph_output_value(src, gi)];
        }
    }
    tg_builder b = {r.dst, s};
    kiln_shape one = {1, {1}};
    kiln_value lr = add_input(&b, "train.lr", &one), t = add_input(&b, "train.step", &one);
    for (int i = 0; i < n && !b.s; i++) {
        const kiln_shape shape = kiln_graph_node(b.g, pv[i])->shape; /* a copy: adding inputs moves the nodes */
        char name[TRAIN_KEY_CAP];
        train_key(name, "adam.m.", names[i]);
        mv[i] = add_input(&b, name, &shape);
        train_key(name, "adam.v.", names[i]);
        vv[i] = add_input(&b, name, &shape);
    }
    /* global norm before clipping */
    kiln_value *sums = calloc((size_t)(n ? n : 1), sizeof *sums);
    if (!sums && !b.s) b.s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !b.s; i++) sums[i] = tg_sum_all(&b, tg_op2(&b, KILN_OP_MUL, gv[i], gv[i]));
    kiln_value norm = tg_op1(&b, KILN_OP_SQRT, sum_scalars(&b, sums, n));
    free(sums);
    kiln_value coef = KILN_NONE;
    if (o->grad_clip > 0)
        coef = tg_op2(&b, KILN_OP_MIN,
                      tg_op2(&b, KILN_OP_DIV, tg_scalar(&b, o->grad_clip), tg_op2(&b, KILN_OP_ADD, norm, tg_scalar(&b, 1e-6))),
                      tg_scalar(&b, 1.0));
    /* step-wide scalars */
    kiln_value decay = tg_op2(&b, KILN_OP_SUB, tg_scalar(&b, 1.0), tg_op2(&b, KILN_OP_MUL, lr, tg_scalar(&b, o->weight_decay)));
    kiln_value bc1 = tg_op2(&b, KILN_OP_SUB, tg_scalar(&b, 1.0), tg_op2(&b, KILN_OP_POW, tg_scalar(&b, o->beta1), t));
    kiln_value bc2 = tg_op2(&b, KILN_OP_SUB, tg_scalar(&b, 1.0), tg_op2(&b, KILN_OP_POW, tg_scalar(&b, o->beta2), t));
    kiln_value step_size = tg_op2(&b, KILN_OP_DIV, lr, bc1), bc2_sqrt = tg_op1(&b, KILN_OP_SQRT, bc2);

    if (!b.s) b.s = kiln_graph_add_output(b.g, "loss", tg_reshape1(&b, r.map[kiln_graph_output_value(src, loss_i)]));
    if (!b.s) b.s = kiln_graph_add_output(b.g, "grad_norm", tg_reshape1(&b, norm));
    for (int i = 0; i < n && !b.s; i++) {
        kiln_value g = coef == KILN_NONE ? gv[i] : tg_op2(&b, KILN_OP_MUL, gv[i], coef);
        kiln_value res[3];
        adamw(&b, o, pv[i], g, mv[i], vv[i], decay, step_size, bc2_sqrt, res);
        add_output(&b, "new.", names[i], res[0]);
        add_output(&b, "new.adam.m.", names[i], res[1]);
        add_output(&b, "new.adam.v.", names[i], res[2]);
        if (o->keep_grads) add_output(&b, "grad.", names[i], gv[i]);
    }
    free(pv);
    if (b.s) {
        rw_abort(&r);
        return kiln_error_wrap(b.s, "%s: building the optimizer step", kiln_graph_name(src));
    }
    *out = r.dst;
    r.dst = NULL;
    rw_abort(&r);
    return KILN_OK;
}
