/* The host-side kernel evaluator (kernel.h): slow, plain, and the oracle
 * for fusion and lowering. Views are evaluated element by element into
 * dense arrays, then each template runs the textbook algorithm in double
 * (wrapping int64 for ints), the way the reference interpreter does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/scalar.h"
#include "kiln/kernel.h"

typedef struct evaluator {
    const kiln_kernel *k;
    const int64_t *dims;
    kiln_tensor *const *bufs;
    kiln_scalar *val;
    int64_t coords[KILN_KMAX_RANK];
    kiln_scalar value0;
} evaluator;

/* Expressions reachable from root, ascending (operands come first). */
typedef struct program {
    int32_t *list;
    int n;
    int32_t root;
} program;

static kiln_status compile(const kiln_kernel *k, int32_t root, program *p) {
    p->root = root;
    p->n = 0;
    p->list = malloc(((size_t)k->nexprs + 1) * sizeof *p->list);
    char *mark = calloc((size_t)k->nexprs + 1, 1);
    if (!p->list || !mark) {
        free(p->list);
        free(mark);
        p->list = NULL;
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    mark[root] = 1;
    for (int e = root; e >= 0; e--) {
        if (!mark[e]) continue;
        const kiln_kexpr *x = &k->exprs[e];
        if (x->a >= 0) mark[x->a] = 1;
        if (x->b >= 0) mark[x->b] = 1;
        if (x->c >= 0) mark[x->c] = 1;
    }
    for (int e = 0; e <= root; e++)
        if (mark[e]) p->list[p->n++] = e;
    free(mark);
    return KILN_OK;
}

static kiln_status run(evaluator *E, const program *p, kiln_scalar *out) {
    const kiln_kernel *k = E->k;
    for (int i = 0; i < p->n; i++) {
        int32_t e = p->list[i];
        const kiln_kexpr *x = &k->exprs[e];
        kiln_scalar r = {0, 0};
        switch (x->kind) {
        case KILN_KX_CONST:
            if (kiln_dtype_is_float(x->type)) r.f = x->f;
            else r.i = x->i;
            break;
        case KILN_KX_DIM: r.i = E->dims[x->slot]; break;
        case KILN_KX_COORD:
            if (x->slot < 0 || x->slot >= KILN_KMAX_RANK)
                return kiln_error(KILN_ERR_INTERNAL, "kernel '%s': coordinate %d", k->name, x->slot);
            r.i = E->coords[x->slot];
            break;
        case KILN_KX_LOAD: {
            if (x->b >= 0 && !E->val[x->b].i) break; /* guarded off: nothing read, 0 */
            const kiln_tensor *t = E->bufs[x->slot];
            int64_t idx = E->val[x->a].i, n = kiln_tensor_numel(t);
            if (idx < 0 || idx >= n)
                return kiln_error(KILN_ERR_INTERNAL, "kernel '%s': load from slot %d at index %lld outside its %lld elements",
                                  k->name, x->slot, (long long)idx, (long long)n);
            r = kiln_scalar_load(t->data, t->dtype, (size_t)idx);
            break;
        }
        case KILN_KX_MATH:
            if (x->b < 0) r = kiln_scalar_unary(x->op, x->type, E->val[x->a]);
            else r = kiln_scalar_binary(x->op, k->exprs[x->a].type, x->type, E->val[x->a], E->val[x->b]);
            break;
        case KILN_KX_SELECT: r = E->val[x->a].i ? E->val[x->b] : E->val[x->c]; break;
        case KILN_KX_CAST: r = kiln_scalar_cast(k->exprs[x->a].type, x->type, E->val[x->a]); break;
        case KILN_KX_VALUE: r = E->value0; break;
        case KILN_KX_BITCAST: r = kiln_scalar_bitcast(k->exprs[x->a].type, x->type, E->val[x->a]); break;
        }
        E->val[e] = r;
    }
    *out = E->val[p->root];
    return KILN_OK;
}

static kiln_status extent_product(const evaluator *E, int rank, const int32_t *ext, int64_t *out) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        int64_t d = E->dims[ext[i]];
        if (d < 0 || (d && n > ((int64_t)1 << 40) / d))
            return kiln_error(KILN_ERR_LIMIT, "kernel '%s': extents too large for the evaluator", E->k->name);
        n *= d;
    }
    *out = n;
    return KILN_OK;
}

/* Sets E->coords to the row-major coordinates of linear index i. */
static void unravel(evaluator *E, int rank, const int32_t *ext, int64_t i) {
    for (int d = rank - 1; d >= 0; d--) {
        int64_t n = E->dims[ext[d]];
        E->coords[d] = n ? i % n : 0;
        i = n ? i / n : 0;
    }
}

/* Every element of a view, row-major. */
static kiln_status materialize(evaluator *E, const kiln_kview *v, kiln_scalar **out, int64_t *count) {
    *out = NULL;
    KILN_TRY(extent_product(E, v->rank, v->extent, count));
    kiln_scalar *a = malloc(((size_t)*count + 1) * sizeof *a);
    if (!a) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    program p = {NULL, 0, 0};
    kiln_status s = compile(E->k, v->expr, &p);
    for (int64_t i = 0; !s && i < *count; i++) {
        unravel(E, v->rank, v->extent, i);
        s = run(E, &p, &a[i]);
    }
    free(p.list);
    if (s) {
        free(a);
        return s;
    }
    *out = a;
    return KILN_OK;
}

/* Stores the output expression at every output coordinate; value(i) gives
 * VALUE(0) for output element i. */
typedef kiln_scalar (*value_fn)(void *ctx, int64_t i);

static kiln_status epilogue(evaluator *E, value_fn value, void *ctx) {
    const kiln_kernel *k = E->k;
    kiln_tensor *out = E->bufs[k->out_buf];
    int64_t n = 0;
    KILN_TRY(extent_product(E, k->out_rank, k->out_extent, &n));
    if (n != kiln_tensor_numel(out))
        return kiln_error(KILN_ERR_INTERNAL, "kernel '%s': output buffer holds %lld elements, the kernel writes %lld", k->name,
                          (long long)kiln_tensor_numel(out), (long long)n);
    program p;
    KILN_TRY(compile(k, k->out_expr, &p));
    kiln_status s = KILN_OK;
    for (int64_t i = 0; !s && i < n; i++) {
        unravel(E, k->out_rank, k->out_extent, i);
        if (value) E->value0 = kiln_scalar_round(k->value_type, value(ctx, i));
        kiln_scalar r;
        s = run(E, &p, &r);
        if (!s) kiln_scalar_store(out->data, out->dtype, (size_t)i, r);
    }
    free(p.list);
    return s;
}

/* ---- templates -------------------------------------------------------------- */
typedef struct tctx {
    evaluator *E;
    kiln_scalar *a, *b, *c, *m;  /* materialized views */
    int64_t n1, n2, n3, n4; /* template extents */
    kiln_dtype ta, tb;    /* view types */
    double *rowbuf;
} tctx;

static kiln_dtype view_type(const evaluator *E, int i) { return E->k->exprs[E->k->views[i].expr].type; }

/* REDUCE: a = src over (out..., reduced...), n1 = reduced count */
static kiln_scalar reduce_value(void *ctx, int64_t o) {
    tctx *t = ctx;
    kiln_kreduce op = t->E->k->reduce;
    const kiln_scalar *x = t->a + o * t->n1;
    int64_t n = t->n1;
    kiln_scalar r = {0, 0};
    int is_float = kiln_dtype_is_float(t->ta);
    if (op == KILN_KR_ARGMAX || op == KILN_KR_ARGMIN) {
        int64_t best = -1;
        kiln_scalar bv = {0, 0};
        for (int64_t i = 0; i < n; i++) {
            if (is_float && x[i].f != x[i].f) continue;
            int better = op == KILN_KR_ARGMAX ? (is_float ? x[i].f > bv.f : x[i].i > bv.i)
                                              : (is_float ? x[i].f < bv.f : x[i].i < bv.i);
            if (best < 0 || better) {
                best = i;
                bv = x[i];
            }
        }
        r.i = best < 0 ? 0 : best;
        return r;
    }
    if (is_float) {
        double acc = op == KILN_KR_PROD ? 1.0 : op == KILN_KR_MAX ? -INFINITY : op == KILN_KR_MIN ? INFINITY : 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i].f;
            if (op == KILN_KR_PROD) acc *= v;
            else if (op == KILN_KR_MAX) acc = acc != acc || v != v ? NAN : v > acc ? v : acc;
            else if (op == KILN_KR_MIN) acc = acc != acc || v != v ? NAN : v < acc ? v : acc;
            else acc += v;
        }
        r.f = op == KILN_KR_MEAN ? acc / (double)n : acc;
        return r;
    }
    /* empty max/min: the type's lowest/highest value (u64 highest as int64 max) */
    int64_t acc = op == KILN_KR_PROD ? 1 : 0;
    if (op == KILN_KR_MAX || op == KILN_KR_MIN) {
        kiln_scalar m = kiln_scalar_cast(KILN_F64, t->ta, (kiln_scalar){op == KILN_KR_MAX ? -INFINITY : INFINITY, 0});
        acc = op == KILN_KR_MIN && t->ta == KILN_U64 ? INT64_MAX : m.i;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v = x[i].i;
        if (op == KILN_KR_PROD) acc = (int64_t)((uint64_t)acc * (uint64_t)v);
        else if (op == KILN_KR_MAX) acc = v > acc ? v : acc;
        else if (op == KILN_KR_MIN) acc = v < acc ? v : acc;
        else acc = (int64_t)((uint64_t)acc + (uint64_t)v);
    }
    if (op == KILN_KR_MEAN) acc = n > 0 ? acc / n : 0;
    r.i = acc;
    return r;
}

/* ROW: n1 outer, n2 row length, n3 inner; the row of output element o is
 * cached in rowbuf once per row */
static kiln_scalar row_value(void *ctx, int64_t o) {
    tctx *t = ctx;
    const kiln_kernel *k = t->E->k;
    int64_t inner = t->n3, len = t->n2, row = (o / inner / len) * inner + o % inner, at = (o / inner) % len;
    double *y = t->rowbuf;
    if (t->n4 != row) {
        t->n4 = row;
        const kiln_scalar *x = t->a;
        int64_t base = (row / inner) * len * inner + row % inner;
#define X(j) (x[base + (j) * inner].f)
        if (k->row == KILN_KROW_SOFTMAX || k->row == KILN_KROW_LOG_SOFTMAX) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++) {
                if (X(j) > mx || X(j) != X(j)) mx = X(j);
                if (mx != mx) break;
            }
            for (int64_t j = 0; j < len; j++) sum += exp(X(j) - mx);
            for (int64_t j = 0; j < len; j++)
                y[j] = k->row == KILN_KROW_LOG_SOFTMAX ? (X(j) - mx) - log(sum) : exp(X(j) - mx) / sum;
        } else {
            double mean = 0, var = 0;
            for (int64_t j = 0; j < len; j++) mean += X(j);
            mean /= (double)len;
            for (int64_t j = 0; j < len; j++) {
                double d = k->row == KILN_KROW_RMS_NORM ? X(j) : X(j) - mean;
                var += d * d;
            }
            var /= (double)len;
            double inv = 1.0 / sqrt(var + k->eps);
            for (int64_t j = 0; j < len; j++) y[j] = (k->row == KILN_KROW_RMS_NORM ? X(j) : X(j) - mean) * inv;
        }
#undef X
    }
    kiln_scalar r = {y[at], 0};
    return r;
}

/* MATMUL: a [batch, M, K], b [batch, K, N]; n1 = M, n2 = K, n3 = N */
static kiln_scalar matmul_value(void *ctx, int64_t o) {
    tctx *t = ctx;
    int64_t M = t->n1, K = t->n2, N = t->n3, bt = o / (M * N), m = (o / N) % M, n = o % N;
    const kiln_scalar *a = t->a + (bt * M + m) * K, *b = t->b + bt * K * N + n;
    kiln_scalar r = {0, 0};
    if (kiln_dtype_is_float(t->ta)) {
        for (int64_t i = 0; i < K; i++) r.f += a[i].f * b[i * N].f;
    } else {
        uint64_t s = 0;
        for (int64_t i = 0; i < K; i++) s += (uint64_t)a[i].i * (uint64_t)b[i * N].i;
        r.i = (int64_t)s;
    }
    return r;
}

/* ATTENTION: q [B,H,S,D], k [B,Hk,T,D], v [B,Hk,T,Dv], mask [B,H,S,T] */
typedef struct att {
    tctx base;
    int64_t B, H, Hk, S, T, D, Dv;
    double scale;
    double *score, *acc;
    unsigned char *keep;
    int64_t cached_row;
} att;

static kiln_scalar attention_value(void *ctx, int64_t o) {
    att *a = ctx;
    const kiln_kernel *k = a->base.E->k;
    int64_t j = o % a->Dv, row = o / a->Dv, s = row % a->S, h = (row / a->S) % a->H, b = row / a->S / a->H;
    if (row != a->cached_row) {
        a->cached_row = row;
        int64_t hk = h / (a->H / a->Hk);
        const kiln_scalar *q = a->base.a + row * a->D;
        double mx = -INFINITY, sum = 0;
        int64_t kept = 0;
        for (int64_t t = 0; t < a->T; t++) {
            const kiln_scalar *kk = a->base.b + ((b * a->Hk + hk) * a->T + t) * a->D;
            double dot = 0;
            for (int64_t i = 0; i < a->D; i++) dot += q[i].f * kk[i].f;
            a->score[t] = dot * a->scale;
            a->keep[t] = !(k->causal && t > s + (a->T - a->S));
            if (k->mask != KILN_KMASK_NONE) {
                kiln_scalar m = a->base.m[((b * a->H + h) * a->S + s) * a->T + t];
                if (k->mask == KILN_KMASK_BOOL) a->keep[t] &= m.i != 0;
                else a->score[t] += m.f;
            }
            if (a->score[t] == -INFINITY) a->keep[t] = 0;
            if (a->keep[t] && (a->score[t] > mx || a->score[t] != a->score[t])) mx = a->score[t];
        }
        for (int64_t i = 0; i < a->Dv; i++) a->acc[i] = 0;
        for (int64_t t = 0; t < a->T; t++) {
            if (!a->keep[t]) continue;
            kept++;
            double p = exp(a->score[t] - mx);
            sum += p;
            const kiln_scalar *vv = a->base.c + ((b * a->Hk + hk) * a->T + t) * a->Dv;
            for (int64_t i = 0; i < a->Dv; i++) a->acc[i] += p * vv[i].f;
        }
        for (int64_t i = 0; i < a->Dv; i++) a->acc[i] = kept ? a->acc[i] / sum : 0.0;
    }
    kiln_scalar r = {a->acc[j], 0};
    return r;
}

static int64_t dimv(const evaluator *E, int view, int axis) { return E->dims[E->k->views[view].extent[axis]]; }

static kiln_status run_template(evaluator *E) {
    const kiln_kernel *k = E->k;
    kiln_scalar *v[KILN_KMAX_VIEWS] = {NULL, NULL, NULL, NULL};
    int64_t count = 0;
    kiln_status s = KILN_OK;
    for (int i = 0; i < k->nviews && !s; i++) s = materialize(E, &k->views[i], &v[i], &count);
    att a;
    memset(&a, 0, sizeof a);
    tctx *t = &a.base;
    t->E = E;
    t->a = v[0];
    t->b = v[1];
    t->c = v[2];
    t->m = v[3];
    t->n4 = -1;
    if (k->nviews) t->ta = view_type(E, 0);
    if (!s) switch (k->kind) {
        case KILN_K_POINTWISE: s = epilogue(E, NULL, NULL); break;
        case KILN_K_REDUCE: {
            t->n1 = 1;
            for (int i = k->out_rank; i < k->views[0].rank; i++) t->n1 *= dimv(E, 0, i);
            s = epilogue(E, reduce_value, t);
            break;
        }
        case KILN_K_ROW: {
            t->n1 = t->n3 = 1;
            for (int i = 0; i < k->axis; i++) t->n1 *= dimv(E, 0, i);
            t->n2 = dimv(E, 0, k->axis);
            for (int i = k->axis + 1; i < k->out_rank; i++) t->n3 *= dimv(E, 0, i);
            t->rowbuf = malloc(((size_t)t->n2 + 1) * sizeof *t->rowbuf);
            s = t->rowbuf ? epilogue(E, row_value, t) : kiln_error(KILN_ERR_NOMEM, "out of memory");
            free(t->rowbuf);
            break;
        }
        case KILN_K_MATMUL: {
            int R = k->out_rank;
            t->n1 = dimv(E, 0, R - 2);
            t->n2 = dimv(E, 0, R - 1);
            t->n3 = dimv(E, 1, R - 1);
            s = epilogue(E, matmul_value, t);
            break;
        }
        case KILN_K_ATTENTION: {
            a.B = dimv(E, 0, 0), a.H = dimv(E, 0, 1), a.S = dimv(E, 0, 2), a.D = dimv(E, 0, 3);
            a.Hk = dimv(E, 1, 1), a.T = dimv(E, 1, 2), a.Dv = dimv(E, 2, 3);
            a.scale = k->scale_dim >= 0 ? 1.0 / sqrt((double)E->dims[k->scale_dim]) : k->scale;
            a.cached_row = -1;
            if (a.Hk <= 0 || a.H % a.Hk) {
                s = kiln_error(KILN_ERR_SHAPE, "kernel '%s': %lld heads for %lld kv heads", k->name, (long long)a.H,
                               (long long)a.Hk);
                break;
            }
            a.score = malloc(((size_t)a.T + 1) * sizeof *a.score);
            a.keep = malloc((size_t)a.T + 1);
            a.acc = malloc(((size_t)a.Dv + 1) * sizeof *a.acc);
            s = a.score && a.keep && a.acc ? epilogue(E, attention_value, &a) : kiln_error(KILN_ERR_NOMEM, "out of memory");
            free(a.score);
            free(a.keep);
            free(a.acc);
            break;
        }
        }
    for (int i = 0; i < KILN_KMAX_VIEWS; i++) free(v[i]);
    return s;
}

kiln_status kiln_kernel_eval(const kiln_kernel *k, const int64_t *dimvals, kiln_tensor *const *bufs) {
    if (!k || !bufs || (k->ndims && !dimvals)) return kiln_error(KILN_ERR_INVALID, "kiln_kernel_eval: missing arguments");
    KILN_TRY(kiln_kernel_validate(k));
    for (int i = 0; i < k->nbufs; i++)
        if (!bufs[i] || bufs[i]->dtype != k->bufs[i].dtype || (!bufs[i]->data && kiln_tensor_numel(bufs[i])))
            return kiln_error(KILN_ERR_INVALID, "kernel '%s': slot %d is not bound to a %s tensor", k->name, i,
                              kiln_dtype_name(k->bufs[i].dtype));
    /* Only extents must be non-negative: offsets and strides of a backwards
     * slice's view (step < 0) are legitimately negative. */
    for (int i = 0; i < k->out_rank; i++)
        if (dimvals[k->out_extent[i]] < 0)
            return kiln_error(KILN_ERR_SHAPE, "kernel '%s': output extent %d (dim slot %d) is %lld", k->name, i,
                              (int)k->out_extent[i], (long long)dimvals[k->out_extent[i]]);
    for (int v = 0; v < k->nviews; v++)
        for (int i = 0; i < k->views[v].rank; i++)
            if (dimvals[k->views[v].extent[i]] < 0)
                return kiln_error(KILN_ERR_SHAPE, "kernel '%s': view %d extent %d (dim slot %d) is %lld", k->name, v, i,
                                  (int)k->views[v].extent[i], (long long)dimvals[k->views[v].extent[i]]);
    evaluator E;
    memset(&E, 0, sizeof E);
    E.k = k;
    E.dims = dimvals;
    E.bufs = bufs;
    E.val = calloc((size_t)k->nexprs + 1, sizeof *E.val);
    if (!E.val) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = run_template(&E);
    free(E.val);
    return s;
}
