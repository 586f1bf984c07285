/* kiln_autodiff: reverse-mode differentiation of one scalar loss.
 *
 * The forward graph is copied; then one sweep visits the nodes the loss
 * depends on in reverse topological order (node order, since graphs are
 * topologically sorted), calls each node's gradient rule from the op
 * registry with its output's adjoint, and sums the adjoints its inputs
 * receive. Only values that depend on a differentiated tensor get
 * adjoints; a rule named grad_none (integer results, comparisons,
 * sources) stops the flow. The result is one graph holding the forward
 * outputs and one "grad.<name>" output per differentiated tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/autodiff.h"
#include "grad.h"
#include "rewrite.h"

void grad_mark_required(const kiln_graph *g, kiln_value lo, kiln_value hi, unsigned char *req) {
    for (kiln_value v = lo; v <= hi; v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op == KILN_OP_INPUT || n->op == KILN_OP_PARAM || n->op == KILN_OP_CONST) continue; /* set by the caller */
        req[v] = 0;
        if (!kiln_dtype_is_float(n->dtype) || kiln_op_get(n->op)->grad == grad_none) continue;
        for (int i = 0; i < n->ninputs && !req[v]; i++)
            if (n->inputs[i] != KILN_NONE && req[n->inputs[i]]) req[v] = 1;
    }
}

/* adj[to] += v */
static kiln_status accumulate(kiln_graph *g, kiln_value *adj, kiln_value to, kiln_value v) {
    if (adj[to] == KILN_NONE) {
        adj[to] = v;
        return KILN_OK;
    }
    return grad_accumulate(g, adj[to], v, &adj[to]);
}

/* One node's rule; its adjoints checked against its inputs' types. */
static kiln_status visit(kiln_graph *g, kiln_value v, const unsigned char *req, kiln_value *adj) {
    const kiln_node *n = kiln_graph_node(g, v);
    kiln_grad_rule rule = kiln_op_get(n->op)->grad;
    int nin = n->ninputs, any = 0;
    kiln_value *buf = malloc(sizeof *buf * (size_t)(2 * nin + 1));
    unsigned char *need = malloc((size_t)nin + 1);
    if (!buf || !need) {
        free(buf);
        free(need);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    kiln_value *ins = buf, *gx = buf + nin;
    for (int i = 0; i < nin; i++) {
        ins[i] = n->inputs[i];
        need[i] = ins[i] != KILN_NONE && req[ins[i]];
        any |= need[i];
        gx[i] = KILN_NONE;
    }
    kiln_status s = KILN_OK;
    if (any) {
        kiln_grad_ctx c = {g, v, adj[v], nin, ins, need, gx, req, KILN_OK};
        kiln_graph_set_loc(g, n->loc); /* backward nodes point at the forward line */
        s = rule(&c);
        if (!s) s = c.s;
    }
    for (int i = 0; !s && i < nin; i++) {
        if (!need[i]) continue;
        const kiln_node *x = kiln_graph_node(g, ins[i]), *d = gx[i] == KILN_NONE ? NULL : kiln_graph_node(g, gx[i]);
        n = kiln_graph_node(g, v);
        if (!d || d->dtype != x->dtype || !kiln_shape_equal(&d->shape, &x->shape)) {
            char s1[256], s2[256];
            s = kiln_error(KILN_ERR_INTERNAL, "gradient rule of %s %%%d gave input %d %s %s (wanted %s %s)",
                           kiln_op_name(n->op), (int)v, i, d ? kiln_dtype_name(d->dtype) : "no adjoint",
                           d ? kiln_shape_str(g, &d->shape, s1, sizeof s1) : "", kiln_dtype_name(x->dtype),
                           kiln_shape_str(g, &x->shape, s2, sizeof s2));
            break;
        }
        s = accumulate(g, adj, ins[i], gx[i]);
    }
    free(buf);
    free(need);
    return s;
}

kiln_status grad_sweep(kiln_graph *g, kiln_value lo, kiln_value hi, kiln_value seed, const unsigned char *req,
                       kiln_value *adj) {
    adj[hi] = seed;
    for (kiln_value v = hi; v >= lo; v--) {
        if (adj[v] == KILN_NONE || !req[v]) continue;
        if (kiln_op_get(kiln_graph_node(g, v)->op)->grad == grad_none) continue;
        KILN_TRY(visit(g, v, req, adj));
    }
    return KILN_OK;
}

/* ---- the public entry --------------------------------------------------- */

static kiln_value find_output(const kiln_graph *g, const char *name) {
    for (int i = 0; i < kiln_graph_output_count(g); i++)
        if (strcmp(kiln_graph_output_name(g, i), name) == 0) return kiln_graph_output_value(g, i);
    return KILN_NONE;
}

/* The forward values to differentiate, in wrt order. */
static kiln_status resolve_wrt(const kiln_graph *g, const kiln_grad_options *opt, kiln_value **out, int *count) {
    *out = NULL;
    *count = 0;
    int n = 0;
    kiln_value *w;
    if (!opt->wrt) {
        w = malloc(sizeof *w * (size_t)(kiln_graph_node_count(g) + 1));
        if (!w) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (kiln_value v = 0; v < kiln_graph_node_count(g); v++) {
            const kiln_node *nd = kiln_graph_node(g, v);
            if (nd->op == KILN_OP_PARAM && nd->dtype == KILN_F32) w[n++] = v;
        }
    } else {
        if (opt->nwrt < 0) return kiln_error(KILN_ERR_INVALID, "autodiff: nwrt is %d", opt->nwrt);
        w = malloc(sizeof *w * (size_t)(opt->nwrt + 1));
        if (!w) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (int i = 0; i < opt->nwrt; i++) {
            const char *name = opt->wrt[i];
            kiln_value v = name ? kiln_graph_find_param(g, name) : KILN_NONE;
            if (name && v == KILN_NONE) v = kiln_graph_find_input(g, name);
            kiln_status s = KILN_OK;
            if (v == KILN_NONE)
                s = kiln_error(KILN_ERR_NOT_FOUND, "autodiff: graph '%s' has no param or input named '%s'",
                               kiln_graph_name(g), name ? name : "(null)");
            else if (!kiln_dtype_is_float(kiln_graph_node(g, v)->dtype))
                s = kiln_error(KILN_ERR_TYPE, "autodiff: '%s' is %s; only floating-point tensors have gradients", name,
                               kiln_dtype_name(kiln_graph_node(g, v)->dtype));
            for (int j = 0; !s && j < n; j++)
                if (w[j] == v) s = kiln_error(KILN_ERR_INVALID, "autodiff: '%s' is named twice in wrt", name);
            if (s) {
                free(w);
                return s;
            }
            w[n++] = v;
        }
    }
    *out = w;
    *count = n;
    return KILN_OK;
}

static kiln_status check_loss(const kiln_graph *g, const char *name, kiln_value v) {
    const kiln_node *n = kiln_graph_node(g, v);
    char buf[256];
    if (!kiln_dtype_is_float(n->dtype))
        return kiln_error(KILN_ERR_TYPE, "autodiff: loss '%s' is %s, not a floating-point scalar", name,
                          kiln_dtype_name(n->dtype));
    for (int i = 0; i < n->shape.rank; i++)
        if (n->shape.dims[i] != 1)
            return kiln_error(KILN_ERR_SHAPE, "autodiff: loss '%s' has shape %s; it must be a scalar ([] or [1])", name,
                              kiln_shape_str(g, &n->shape, buf, sizeof buf));
    return KILN_OK;
}

/* ones shaped like the loss (every dim 1) */
static kiln_status seed_ones(kiln_graph *g, kiln_value loss, kiln_value *out) {
    kiln_dtype t = kiln_graph_node(g, loss)->dtype;
    kiln_shape shape = kiln_graph_node(g, loss)->shape;
    kiln_value one = KILN_NONE;
    KILN_TRY(kiln_graph_add_scalar(g, t, 1.0, &one));
    if (shape.rank == 0) {
        *out = one;
        return KILN_OK;
    }
    kiln_named_attr a = kiln_a_dims("shape", shape.rank, shape.dims);
    return kiln_build(g, KILN_OP_EXPAND, 1, &one, 1, &a, out);
}

kiln_status kiln_autodiff(const kiln_graph *fwd, const kiln_grad_options *opt, kiln_graph **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "autodiff: no place for the result");
    *out = NULL;
    if (!fwd || !opt || !opt->loss) return kiln_error(KILN_ERR_INVALID, "autodiff: needs a graph and a loss name");
    kiln_value loss_src = find_output(fwd, opt->loss);
    if (loss_src == KILN_NONE)
        return kiln_error(KILN_ERR_NOT_FOUND, "autodiff: graph '%s' has no output named '%s'", kiln_graph_name(fwd),
                          opt->loss);
    KILN_TRY(check_loss(fwd, opt->loss, loss_src));
    kiln_value *wrt = NULL;
    int nwrt = 0;
    KILN_TRY(resolve_wrt(fwd, opt, &wrt, &nwrt));

    rewriter r;
    kiln_status s = rw_begin(&r, fwd);
    for (int v = 0; !s && v < r.nsrc; v++) s = rw_copy(&r, v);
    kiln_graph *g = r.dst;
    kiln_value loss = s ? KILN_NONE : r.map[loss_src];
    unsigned char *req = NULL;
    kiln_value *adj = NULL, *grads = NULL;
    if (!s) {
        req = calloc((size_t)loss + 1, 1);
        adj = malloc(sizeof *adj * ((size_t)loss + 1));
        grads = malloc(sizeof *grads * ((size_t)nwrt + 1));
        if (!req || !adj || !grads) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    if (!s) {
        for (kiln_value v = 0; v <= loss; v++) adj[v] = KILN_NONE;
        for (int i = 0; i < nwrt; i++)
            if (r.map[wrt[i]] <= loss) req[r.map[wrt[i]]] = 1;
        grad_mark_required(g, 0, loss, req);
        if (req[loss]) {
            kiln_value seed = KILN_NONE;
            kiln_graph_set_loc(g, kiln_graph_node(g, loss)->loc);
            s = seed_ones(g, loss, &seed);
            if (!s) s = grad_sweep(g, 0, loss, seed, req, adj);
        }
    }
    for (int i = 0; !s && i < nwrt; i++) {
        kiln_value w = r.map[wrt[i]];
        grads[i] = w <= loss ? adj[w] : KILN_NONE;
        if (grads[i] != KILN_NONE) continue;
        /* the loss does not depend on it: zeros of its shape */
        kiln_graph_set_loc(g, kiln_graph_node(g, w)->loc);
        kiln_grad_ctx c = {g, w, KILN_NONE, 0, NULL, NULL, NULL, req, KILN_OK};
        kiln_shape shape = kiln_graph_node(g, w)->shape;
        grads[i] = g_zeros(&c, kiln_graph_node(g, w)->dtype, &shape);
        s = c.s;
    }
    if (s) {
        rw_abort(&r);
    } else {
        s = rw_finish(&r, out);
    }
    for (int i = 0; !s && i < nwrt; i++) {
        const char *name = kiln_graph_node(fwd, wrt[i])->name;
        size_t len = strlen(name) + 6;
        char *oname = malloc(len);
        if (!oname) {
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(oname, len, "grad.%s", name);
        s = kiln_graph_add_output(*out, oname, grads[i]);
        free(oname);
    }
    if (s && *out) {
        kiln_graph_free(*out);
        *out = NULL;
    }
    free(req);
    free(adj);
    free(grads);
    free(wrt);
    return s;
}
