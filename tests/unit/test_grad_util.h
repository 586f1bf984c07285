/* Finite-difference gradient checks for kiln_autodiff (test_grad*.c).
 *
 * A case builds a forward graph whose op result y is reduced to
 *     loss = sum(y * w)
 * with w a fixed random input (so every element of y matters, each with a
 * different weight). kiln_autodiff differentiates the loss; the backward
 * graph runs on a device, and each gradient element is compared with the
 * central difference (L(x + h) - L(x - h)) / (x+h - x-h) of the forward
 * graph on the same device. The forward graph for the differences has its
 * params turned into inputs (through the text form), so one compiled
 * session serves every perturbation.
 *
 * Tolerances (f32 evaluation): |analytic - fd| <= atol + rtol |fd|. The
 * difference quotient carries a rounding error of about
 * eps_f32 |L| / h = 6e-8 * 10 / 1e-2 = 6e-5 for the |L| <= 10 of these
 * small cases, and a truncation error of h^2 |f'''| / 6 = 1.7e-5 |f'''|
 * per unit weight; inputs are drawn where |f'''| stays below ~5 and away
 * from kinks by more than the step, so per-op checks use atol 2e-4 and
 * rtol 2e-3 (the worst case seen is ~1/20 of that), while a wrong rule (a
 * missing factor, a sign, a wrong axis) misses by 1e-2 or more. Whole
 * models, deeper in f32, state their own. Cases with larger curvature state their own. */
#ifndef KILN_TEST_GRAD_UTIL_H
#define KILN_TEST_GRAD_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/autodiff.h"
#include "kiln/session.h"
#include "test_pass_util.h"

#define GT_MAX 64

typedef struct gt_dist {
    const char *name;
    double lo, hi, away; /* uniform in [lo, hi], and |x| >= away */
    int distinct;        /* a shuffled even grid over [lo, hi] instead (no ties) */
} gt_dist;

typedef struct gt {
    kiln_graph *g;
    const char *name;
    const tp_sym *syms;
    gt_dist d[GT_MAX];
    int nd;
    const char *wrt[GT_MAX];
    int nwrt;
    uint64_t seed;
    /* Differences from an f64 copy of the forward graph on ref (every f32
     * in its text turned into f64, feeds converted) instead of the f32
     * graph on the device: for deep graphs, where f32 rounding would need
     * a step that crosses relu kinks. */
    int fd64;
} gt;

static int gt_max_elems = 40; /* gradient elements checked per tensor */

static inline void gt_begin(gt *t, const char *name, const tp_sym *syms) {
    memset(t, 0, sizeof *t);
    t->g = kiln_graph_new(name);
    t->name = name;
    t->syms = syms;
    t->seed = 0x51ed;
    for (const char *p = name; *p; p++) t->seed = t->seed * 131 + (uint64_t)*p;
}

static inline void gt_dist_add(gt *t, const char *name, double lo, double hi) {
    if (t->nd == GT_MAX) exit(1);
    t->d[t->nd++] = (gt_dist){name, lo, hi, 0, 0};
}

/* f32 param, differentiated */
static inline kiln_value gt_param(gt *t, const char *name, int rank, const kiln_dim *dims, double lo, double hi) {
    gt_dist_add(t, name, lo, hi);
    t->wrt[t->nwrt++] = name;
    return tp_param(t->g, name, KILN_F32, rank, dims);
}

/* f32 input (dims may be symbolic), differentiated */
static inline kiln_value gt_input(gt *t, const char *name, int rank, const kiln_dim *dims, double lo, double hi) {
    gt_dist_add(t, name, lo, hi);
    t->wrt[t->nwrt++] = name;
    return tp_input(t->g, name, KILN_F32, rank, dims);
}

/* an input that is not differentiated (ints: integers in [lo, hi]) */
static inline kiln_value gt_data(gt *t, const char *name, kiln_dtype dt, int rank, const kiln_dim *dims, double lo,
                                 double hi) {
    gt_dist_add(t, name, lo, hi);
    return tp_input(t->g, name, dt, rank, dims);
}

static inline void gt_away(gt *t, double away) { t->d[t->nd - 1].away = away; }
static inline void gt_distinct(gt *t) { t->d[t->nd - 1].distinct = 1; }

static inline kiln_value gt_op(gt *t, kiln_op op, int n, const kiln_value *in, int na, const kiln_named_attr *a) {
    return tp_node(t->g, op, n, in, na, a);
}
#define GT1(t, op, x) tp_node((t)->g, (op), 1, (kiln_value[]){x}, 0, NULL)
#define GT2(t, op, x, y) tp_node((t)->g, (op), 2, (kiln_value[]){x, y}, 0, NULL)

static inline const gt_dist *gt_dist_for(const gt *t, const char *name) {
    static const gt_dist fallback = {NULL, -1, 1, 0, 0};
    for (int i = 0; i < t->nd; i++)
        if (strcmp(t->d[i].name, name) == 0) return &t->d[i];
    return &fallback;
}

/* Random data for node n by its distribution. */
static inline kiln_tensor gt_tensor_for(const gt *t, const kiln_graph *g, const kiln_node *n, uint64_t *st) {
    kiln_tensor x = tp_random_for(g, n, t->syms, 1, st);
    const gt_dist *d = gt_dist_for(t, n->name);
    size_t count = (size_t)kiln_tensor_numel(&x);
    for (size_t i = 0; i < count; i++) {
        double u = (tp_uniform(st) + 1) / 2, v;
        if (!kiln_dtype_is_float(n->dtype)) {
            v = floor(d->lo + u * (d->hi - d->lo + 1));
            if (v > d->hi) v = d->hi;
            kiln_store_i64(x.data, n->dtype, i, (int64_t)v);
            continue;
        }
        if (d->distinct) v = d->lo + (d->hi - d->lo) * (count > 1 ? (double)i / (double)(count - 1) : 0.5);
        else if (d->away > 0) { /* |v| in [away, hi], either sign */
            v = d->away + u * (d->hi - d->away);
            if (tp_next(st) & 1) v = -v;
        } else v = d->lo + u * (d->hi - d->lo);
        kiln_store_f64(x.data, n->dtype, i, v);
    }
    if (d->distinct) /* shuffle the grid */
        for (size_t i = count; i > 1; i--) {
            size_t j = (size_t)(tp_next(st) % i);
            double a = kiln_load_f64(x.data, n->dtype, i - 1), b = kiln_load_f64(x.data, n->dtype, j);
            kiln_store_f64(x.data, n->dtype, i - 1, b);
            kiln_store_f64(x.data, n->dtype, j, a);
        }
    return x;
}

/* g with its params as inputs of the same name (through the text form),
 * in f64 when asked. */
static inline kiln_graph *gt_params_as_inputs(const kiln_graph *g, int f64) {
    char *text = NULL;
    kiln_status s = kiln_graph_to_string(g, &text);
    kiln_graph *out = NULL;
    if (!s) {
        for (char *p = strstr(text, "= param \""); p; p = strstr(p, "= param \"")) memcpy(p, "= input", 7);
        for (char *p = strstr(text, "f32"); f64 && p; p = strstr(p, "f32")) memcpy(p, "f64", 3);
        s = kiln_graph_parse(text, "fd", &out);
    }
    free(text);
    if (s) {
        fprintf(stderr, "params as inputs: %s\n", kiln_status_message(s));
        exit(1);
    }
    return out;
}

static inline kiln_session *gt_session(const kiln_graph *g, const kiln_tensor_map *w, const char *device,
                                       const char *what) {
    kiln_session_options o = {{KILN_DEVICE_REF, -1}, 1, 0, 1, NULL};
    kiln_session *s = NULL;
    kiln_status st = kiln_device_parse(device, &o.device);
    if (!st) st = kiln_session_create(g, w, &o, &s);
    if (st) {
        fprintf(stderr, "%s on %s: creating the session: %s\n", what, device, kiln_status_message(st));
        kiln_status_free(st);
        test_failures++;
        return NULL;
    }
    return s;
}

static inline double gt_loss(kiln_session *s, const kiln_tensor_map *in, int *ok) {
    kiln_tensor_map *out = NULL;
    kiln_status st = kiln_session_run(s, in, &out);
    double v = NAN;
    if (st) {
        fprintf(stderr, "forward run: %s\n", kiln_status_message(st));
        kiln_status_free(st);
        *ok = 0;
    } else {
        const kiln_tensor *l = kiln_tensor_map_get(out, "loss");
        if (l) v = kiln_load_f64(l->data, l->dtype, 0);
    }
    kiln_tensor_map_free(out);
    return v;
}

/* loss += sum(y * w) with a fresh weight input "gt.w<k>" shaped like y */
static inline kiln_value gt_weighted_sum(gt *t, kiln_value y, kiln_value loss, int k) {
    kiln_graph *g = t->g;
    kiln_shape ys = kiln_graph_node(g, y)->shape;
    char wname[32];
    snprintf(wname, sizeof wname, "gt.w%d", k);
    kiln_value w = tp_input(g, kiln_graph_intern(g, wname), KILN_F32, ys.rank, ys.dims);
    kiln_value prod = GT2(t, KILN_OP_MUL, y, w);
    int64_t axes[KILN_MAX_RANK];
    for (int i = 0; i < ys.rank; i++) axes[i] = i;
    kiln_named_attr ra[2] = {kiln_a_ints("axes", ys.rank, axes), kiln_a_bool("keepdims", 0)};
    kiln_value sum = ys.rank ? tp_node(g, KILN_OP_REDUCE_SUM, 1, &prod, 2, ra) : prod;
    return loss == KILN_NONE ? sum : GT2(t, KILN_OP_ADD, loss, sum);
}

static inline kiln_tensor_map *gt_verify(gt *t, const char *device, double h, double rtol, double atol, int keep);

/* The loss of result y, kiln_autodiff, and the check on `device`. Returns
 * the backward outputs (NULL on failure) when keep is set, for callers
 * that look at them further. Frees t->g. */
static inline kiln_tensor_map *gt_check_keep(gt *t, kiln_value y, const char *device, double h, double rtol,
                                             double atol, int keep) {
    CHECK_OK(kiln_graph_add_output(t->g, "loss", gt_weighted_sum(t, y, KILN_NONE, 0)));
    return gt_verify(t, device, h, rtol, atol, keep);
}

/* Differentiates t->g's output "loss" with respect to t->wrt and checks
 * the gradients against central differences on `device`. Frees t->g. */
static inline kiln_tensor_map *gt_verify(gt *t, const char *device, double h, double rtol, double atol, int keep) {
    char what[256];
    snprintf(what, sizeof what, "%s [%s]", t->name, device);
    kiln_graph *g = t->g;
    kiln_grad_options opt = {"loss", t->wrt, t->nwrt};
    kiln_graph *bwd = NULL;
    kiln_status st = kiln_autodiff(g, &opt, &bwd);
    if (st) {
        fprintf(stderr, "%s: kiln_autodiff: %s\n", what, kiln_status_message(st));
        kiln_status_free(st);
        test_failures++;
        kiln_graph_free(g);
        return NULL;
    }
    kiln_graph *fd = gt_params_as_inputs(g, t->fd64);
    const char *fd_device = t->fd64 ? "ref" : device;

    /* one random draw, shared by the backward run and the differences */
    kiln_tensor_map *weights = kiln_tensor_map_new(), *inputs = kiln_tensor_map_new(), *all = kiln_tensor_map_new();
    uint64_t rs = t->seed;
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_INPUT && n->op != KILN_OP_PARAM) continue;
        kiln_tensor x = gt_tensor_for(t, g, n, &rs), copy;
        CHECK_OK(kiln_tensor_convert(&x, t->fd64 && x.dtype == KILN_F32 ? KILN_F64 : x.dtype, &copy));
        CHECK_OK(kiln_tensor_map_put(n->op == KILN_OP_PARAM ? weights : inputs, n->name, x));
        CHECK_OK(kiln_tensor_map_put(all, n->name, copy));
    }

    kiln_tensor_map *grads = NULL;
    kiln_session *sb = gt_session(bwd, weights, device, what), *sf = gt_session(fd, NULL, fd_device, what);
    if (sb && sf) {
        st = kiln_session_run(sb, inputs, &grads);
        if (st) {
            fprintf(stderr, "%s: backward run: %s\n", what, kiln_status_message(st));
            kiln_status_free(st);
            test_failures++;
            grads = NULL;
        }
    }
    int ok = 1;
    double worst = 0;
    if (grads) {
        const kiln_tensor *lt = kiln_tensor_map_get(grads, "loss");
        double l0 = gt_loss(sf, all, &ok), lb = lt ? kiln_load_f64(lt->data, lt->dtype, 0) : NAN;
        if (!(fabs(l0 - lb) <= (t->fd64 ? 1e-4 : 1e-5) * (1 + fabs(l0)))) {
            fprintf(stderr, "%s: backward graph's loss %.9g differs from the forward's %.9g\n", what, lb, l0);
            ok = 0;
        }
        for (int k = 0; k < t->nwrt && ok; k++) {
            char gname[256];
            snprintf(gname, sizeof gname, "grad.%s", t->wrt[k]);
            const kiln_tensor *gr = kiln_tensor_map_get(grads, gname), *x = kiln_tensor_map_get(all, t->wrt[k]);
            if (!gr || !x || gr->dtype != KILN_F32 || kiln_tensor_numel(gr) != kiln_tensor_numel(x)) {
                fprintf(stderr, "%s: output %s missing or not shaped like its tensor\n", what, gname);
                ok = 0;
                break;
            }
            int64_t n = kiln_tensor_numel(x), stride = n > gt_max_elems ? (n + gt_max_elems - 1) / gt_max_elems : 1;
            for (int64_t i = 0; i < n && ok; i += stride) {
                double orig = kiln_load_f64(x->data, x->dtype, (size_t)i), xp = orig + h, xm = orig - h;
                if (x->dtype == KILN_F32) { /* the points f32 can hold */
                    xp = (float)xp;
                    xm = (float)xm;
                }
                kiln_store_f64(x->data, x->dtype, (size_t)i, xp);
                double lp = gt_loss(sf, all, &ok);
                kiln_store_f64(x->data, x->dtype, (size_t)i, xm);
                double lm = gt_loss(sf, all, &ok);
                kiln_store_f64(x->data, x->dtype, (size_t)i, orig);
                double fdv = (lp - lm) / (xp - xm), an = ((float *)gr->data)[i];
                double err = fabs(an - fdv), lim = atol + rtol * fabs(fdv);
                if (err / lim > worst) worst = err / lim;
                if (!(err <= lim)) {
                    fprintf(stderr, "%s: d loss / d %s[%lld] = %.7g, finite difference %.7g (|diff| %.3g > %.3g)\n",
                            what, t->wrt[k], (long long)i, an, fdv, err, lim);
                    ok = 0;
                }
            }
        }
        if (!ok) test_failures++;
    }
    if (getenv("KILN_GRAD_VERBOSE")) fprintf(stderr, "%s: worst error / tolerance %.3f\n", what, worst);
    kiln_session_free(sb);
    kiln_session_free(sf);
    kiln_tensor_map_free(weights);
    kiln_tensor_map_free(inputs);
    kiln_tensor_map_free(all);
    kiln_graph_free(fd);
    kiln_graph_free(bwd);
    kiln_graph_free(g);
    t->g = NULL;
    if (!keep || !ok) {
        kiln_tensor_map_free(grads);
        return NULL;
    }
    return grads;
}

static inline void gt_check(gt *t, kiln_value y, const char *device, double h, double rtol, double atol) {
    gt_check_keep(t, y, device, h, rtol, atol, 0);
}

/* The devices this build runs: ref always, cpu when built. */
static inline int gt_device_built(const char *device) {
    kiln_device_spec d;
    kiln_status s = kiln_device_parse(device, &d);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    kiln_graph *g = kiln_graph_new("probe");
    kiln_value x = tp_input(g, "x", KILN_F32, 1, DIMS(1));
    kiln_graph_add_output(g, "y", x);
    kiln_session_options o = {d, 1, 0, 1, NULL};
    kiln_session *ss = NULL;
    s = kiln_session_create(g, NULL, &o, &ss);
    int ok = !s;
    kiln_status_free(s);
    kiln_session_free(ss);
    kiln_graph_free(g);
    return ok;
}

#endif
