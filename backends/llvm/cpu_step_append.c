/* KV caches appended in place during replayed steps (cpu_step_fast.c).
 *
 * A carry present = concat(past, new, axis A) written by a pointwise kernel
 * Kc costs a copy of the whole cache every token when the cache is dense.
 * Instead the carry lives in a buffer with room for CAP rows along A (the
 * "capacity layout": the strides of the axes before A use CAP, not the
 * current length), and per step
 *  - Kc runs with its dims evaluated for past = 0 (the growing symbol
 *    sigma set to 0), which makes it compute exactly the new rows into a
 *    small scratch; they are copied to rows [sigma, sigma + new) of every
 *    outer block;
 *  - the kernels that read the carry (attention) get the capacity strides
 *    in the dim slots that hold the dense strides.
 * Both are checked on the kernel IR before they are used:
 *  - Kc at sigma = 0 must compute the same new rows as at the real binding.
 *    Each integer expression of Kc is tracked as (value at the real
 *    binding) = (value at sigma = 0) + c * sigma, with COORD(A) shifted by
 *    sigma (row past + j there is row j here); comparisons and loads are
 *    equal when their operands' shifts agree; selects and guarded loads use
 *    the branch their condition takes at sigma = 0, found by interval
 *    arithmetic over the coordinates. The output must come out equal.
 *  - In a reader, a dim slot that depends on sigma and equals (as a
 *    polynomial over the symbols) a dense stride of an axis before A of
 *    the carry may only appear as a factor of a linear index of a load
 *    from the carries (or as a stride of a strided view of them), so
 *    replacing it by the capacity stride moves exactly those loads.
 *  - The past input is read by Kc alone (at sigma = 0 not at all), all
 *    appended carries have the same shape, and their growing dim is
 *    exactly sigma + (something without sigma).
 * Anything else keeps the dense double-buffered carries. */
#include <stdlib.h>
#include <string.h>

#include "codegen_internal.h"
#include "cpu_step_internal.h"
#include "ir/graph_internal.h"

#define POLY_VARS 8
#define POLY_TERMS 64

/* ---- polynomials over the symbols (exact identities of dims) ---- */
typedef struct pterm {
    int64_t coef;
    uint8_t e[POLY_VARS];
} pterm;
typedef struct poly {
    int n, bad;
    pterm t[POLY_TERMS];
} poly;

static void poly_add_term(poly *p, int64_t coef, const uint8_t *e) {
    if (!coef) return;
    for (int i = 0; i < p->n; i++)
        if (memcmp(p->t[i].e, e, POLY_VARS) == 0) {
            p->t[i].coef += coef;
            if (!p->t[i].coef) p->t[i] = p->t[--p->n];
            return;
        }
    if (p->n == POLY_TERMS) {
        p->bad = 1;
        return;
    }
    p->t[p->n].coef = coef;
    memcpy(p->t[p->n].e, e, POLY_VARS);
    p->n++;
}

static poly poly_of(const kiln_graph *g, kiln_dim d) {
    poly p;
    memset(&p, 0, sizeof p);
    uint8_t e[POLY_VARS] = {0};
    if (kiln_dim_is_const(d)) {
        poly_add_term(&p, d, e);
        return p;
    }
    const dim_expr *x = graph_dim_expr(g, d);
    if (!x) {
        p.bad = 1;
        return p;
    }
    poly_add_term(&p, x->c, e);
    for (int i = 0; i < x->nt; i++) {
        memset(e, 0, sizeof e);
        for (int k = 0; k < x->t[i].nf; k++) {
            int s = x->t[i].f[k];
            if (s >= POLY_VARS) {
                p.bad = 1;
                return p;
            }
            e[s]++;
        }
        poly_add_term(&p, x->t[i].coef, e);
    }
    return p;
}

static poly poly_mul(const poly *a, const poly *b) {
    poly p;
    memset(&p, 0, sizeof p);
    p.bad = a->bad || b->bad;
    for (int i = 0; i < a->n && !p.bad; i++)
        for (int j = 0; j < b->n; j++) {
            uint8_t e[POLY_VARS];
            for (int v = 0; v < POLY_VARS; v++) e[v] = (uint8_t)(a->t[i].e[v] + b->t[j].e[v]);
            poly_add_term(&p, a->t[i].coef * b->t[j].coef, e);
        }
    return p;
}

static int poly_equal(const poly *a, const poly *b) {
    if (a->bad || b->bad || a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        int found = 0;
        for (int j = 0; j < b->n && !found; j++)
            found = a->t[i].coef == b->t[j].coef && memcmp(a->t[i].e, b->t[j].e, POLY_VARS) == 0;
        if (!found) return 0;
    }
    return 1;
}

static int poly_has(const poly *p, int s) {
    for (int i = 0; i < p->n; i++)
        if (p->t[i].e[s]) return 1;
    return 0;
}

/* p = c * s + (terms without s): 1 and *c; else 0. */
static int poly_linear_in(const poly *p, int s, int64_t *c) {
    if (p->bad) return 0;
    *c = 0;
    for (int i = 0; i < p->n; i++) {
        if (!p->t[i].e[s]) continue;
        for (int v = 0; v < POLY_VARS; v++)
            if (p->t[i].e[v] != (v == s)) return 0;
        *c = p->t[i].coef;
    }
    return 1;
}

/* ---- the state ---- */
typedef struct acarry {
    int carry;          /* index into st->c */
    int O, P, kc;       /* present and past plan tensors, the kernel writing present */
    void *buf;          /* CAP rows along A */
    size_t buf_cap;
    void *scratch;      /* Kc's new rows */
    size_t scratch_cap;
    int64_t rows;       /* rows held */
    int active;         /* buf holds the carry (else it is dense in st->c) */
} acarry;

typedef struct override {
    int k, slot, axis;  /* reader kernel, its dim slot, the carry axis whose stride it is */
} override;

struct step_append {
    int sigma, axis, rank;
    kiln_dim dims[KILN_MAX_RANK]; /* the carries' shape (present) */
    size_t esize;
    int n;
    acarry *c;
    int64_t cap;         /* rows of room along A, all carries */
    int64_t key[STEP_MAX_SYMS]; /* binding (sigma = 0) Kc's dims were evaluated for */
    int nsyms;
    int dead;            /* Kc did not check out for a binding: dense from then on */
    int64_t *kc_dims;    /* per carry: Kc's dims at sigma = 0 */
    int *kc_ndims;
    int nov;
    override *ov;
    char *is_kc;         /* per kernel */
};

void cpu_append_free(step_append *a) {
    if (!a) return;
    for (int i = 0; i < a->n; i++) {
        free(a->c[i].buf);
        free(a->c[i].scratch);
    }
    free(a->c);
    free(a->kc_dims);
    free(a->kc_ndims);
    free(a->ov);
    free(a->is_kc);
    free(a);
}

/* ---- Kc at sigma = 0 computes the same rows ---- */
typedef struct kinfo {
    int shift_known;    /* integers: value here = value at sigma 0 + shift * sigma */
    int64_t shift;
    int eq;             /* the same value in both (integers: shift 0) */
    int has_iv;         /* integers at sigma = 0: lo <= value <= hi */
    int64_t lo, hi;
    int def;            /* booleans at sigma = 0: 1 true, 0 false, -1 either */
} kinfo;

static int is_cmp(kiln_op op) {
    return op == KILN_OP_EQ || op == KILN_OP_NE || op == KILN_OP_LT || op == KILN_OP_LE || op == KILN_OP_GT ||
           op == KILN_OP_GE;
}

static int cmp_def(kiln_op op, const kinfo *a, const kinfo *b) {
    if (!a->has_iv || !b->has_iv) return -1;
    switch (op) {
    case KILN_OP_LT: return a->hi < b->lo ? 1 : a->lo >= b->hi ? 0 : -1;
    case KILN_OP_LE: return a->hi <= b->lo ? 1 : a->lo > b->hi ? 0 : -1;
    case KILN_OP_GT: return a->lo > b->hi ? 1 : a->hi <= b->lo ? 0 : -1;
    case KILN_OP_GE: return a->lo >= b->hi ? 1 : a->hi < b->lo ? 0 : -1;
    case KILN_OP_EQ: return a->hi < b->lo || b->hi < a->lo ? 0 : a->lo == a->hi && b->lo == b->hi ? 1 : -1;
    case KILN_OP_NE: return a->hi < b->lo || b->hi < a->lo ? 1 : a->lo == a->hi && b->lo == b->hi ? 0 : -1;
    default: return -1;
    }
}

static void set_shift(kinfo *r, int known, int64_t shift) {
    r->shift_known = known;
    r->shift = shift;
    r->eq = known && shift == 0;
}

static int64_t clamp_mul(int64_t a, int64_t b, int *ok) {
    __int128 p = (__int128)a * b;
    if (p > INT64_MAX / 4 || p < INT64_MIN / 4) *ok = 0;
    return (int64_t)p;
}

/* shift: per dim slot, its value's shift (or -1 flag in known[]); b0:
 * values at sigma = 0; ext0: output extents at sigma = 0. */
static int kc_equivalent(const kiln_kernel *k, int axis, const int64_t *shift, const char *shift_ok,
                         const int64_t *b0) {
    kinfo *in = calloc((size_t)k->nexprs + 1, sizeof *in);
    if (!in) return 0;
    int64_t ext0[KILN_MAX_RANK];
    for (int i = 0; i < k->out_rank; i++) ext0[i] = b0[k->out_extent[i]];
    for (int i = 0; i < k->nexprs; i++) {
        const kiln_kexpr *x = &k->exprs[i];
        kinfo *r = &in[i];
        const kinfo *a = x->a >= 0 ? &in[x->a] : NULL, *b = x->b >= 0 ? &in[x->b] : NULL,
                    *c = x->c >= 0 ? &in[x->c] : NULL;
        int is_int = kiln_dtype_is_int(x->type) && x->type != KILN_BOOL;
        r->def = -1;
        switch (x->kind) {
        case KILN_KX_CONST:
            set_shift(r, 1, 0);
            r->has_iv = 1;
            r->lo = r->hi = x->i;
            if (x->type == KILN_BOOL) r->def = x->i != 0;
            break;
        case KILN_KX_DIM:
            set_shift(r, shift_ok[x->slot], shift[x->slot]);
            r->has_iv = 1;
            r->lo = r->hi = b0[x->slot];
            break;
        case KILN_KX_COORD:
            if (x->slot >= k->out_rank || ext0[x->slot] < 1) goto fail;
            set_shift(r, 1, x->slot == axis);
            r->has_iv = 1;
            r->lo = 0;
            r->hi = ext0[x->slot] - 1;
            break;
        case KILN_KX_LOAD:
            r->eq = a->eq && (!b || b->eq);
            if (b && b->eq && b->def == 0) r->eq = 1; /* never read in either */
            break;
        case KILN_KX_SELECT:
            if (a->eq && a->def == 1) *r = *b;
            else if (a->eq && a->def == 0) *r = *c;
            else {
                r->eq = a->eq && b->eq && c->eq;
                if (is_int) set_shift(r, r->eq, 0);
            }
            r->has_iv = 0;
            if (a->def == 1 && b->has_iv) r->has_iv = 1, r->lo = b->lo, r->hi = b->hi;
            if (a->def == 0 && c->has_iv) r->has_iv = 1, r->lo = c->lo, r->hi = c->hi;
            if (x->type == KILN_BOOL) r->def = a->def == 1 ? b->def : a->def == 0 ? c->def : -1;
            break;
        case KILN_KX_CAST:
            if (is_int && kiln_dtype_is_int(k->exprs[x->a].type) && k->exprs[x->a].type != KILN_BOOL) {
                *r = *a;
            } else {
                r->eq = a->eq;
                if (is_int) set_shift(r, a->eq, 0);
                if (x->type == KILN_BOOL) r->def = -1;
            }
            break;
        case KILN_KX_BITCAST: r->eq = a->eq; break;
        case KILN_KX_MATH: {
            kiln_op op = x->op;
            int ok = 1;
            if (is_int && (op == KILN_OP_ADD || op == KILN_OP_SUB)) {
                set_shift(r, a->shift_known && b->shift_known, op == KILN_OP_ADD ? a->shift + b->shift : a->shift - b->shift);
                if (a->has_iv && b->has_iv) {
                    r->has_iv = 1;
                    r->lo = op == KILN_OP_ADD ? a->lo + b->lo : a->lo - b->hi;
                    r->hi = op == KILN_OP_ADD ? a->hi + b->hi : a->hi - b->lo;
                }
            } else if (is_int && op == KILN_OP_MUL) {
                const kiln_kexpr *xa = &k->exprs[x->a], *xb = &k->exprs[x->b];
                if (xa->kind == KILN_KX_CONST && b->shift_known) set_shift(r, 1, clamp_mul(xa->i, b->shift, &ok));
                else if (xb->kind == KILN_KX_CONST && a->shift_known) set_shift(r, 1, clamp_mul(xb->i, a->shift, &ok));
                else set_shift(r, a->eq && b->eq, 0);
                if (a->has_iv && b->has_iv) {
                    int64_t p[4] = {clamp_mul(a->lo, b->lo, &ok), clamp_mul(a->lo, b->hi, &ok),
                                    clamp_mul(a->hi, b->lo, &ok), clamp_mul(a->hi, b->hi, &ok)};
                    r->has_iv = 1;
                    r->lo = r->hi = p[0];
                    for (int j = 1; j < 4; j++) {
                        if (p[j] < r->lo) r->lo = p[j];
                        if (p[j] > r->hi) r->hi = p[j];
                    }
                }
                if (!ok) r->has_iv = 0, set_shift(r, 0, 0);
            } else if (is_cmp(op) && x->type == KILN_BOOL) {
                int ints = kiln_dtype_is_int(k->exprs[x->a].type) && k->exprs[x->a].type != KILN_BOOL;
                r->eq = ints ? a->shift_known && b->shift_known && a->shift == b->shift : a->eq && b->eq;
                r->def = ints ? cmp_def(op, a, b) : -1;
            } else if (x->type == KILN_BOOL && (op == KILN_OP_AND || op == KILN_OP_OR || op == KILN_OP_NOT)) {
                r->eq = a->eq && (!b || b->eq);
                if (op == KILN_OP_NOT) r->def = a->def < 0 ? -1 : !a->def;
                else if (op == KILN_OP_AND) r->def = a->def == 0 || b->def == 0 ? 0 : a->def == 1 && b->def == 1 ? 1 : -1;
                else r->def = a->def == 1 || b->def == 1 ? 1 : a->def == 0 && b->def == 0 ? 0 : -1;
                /* an operand false (AND) or true (OR) in both decides it */
                int decisive = op == KILN_OP_AND ? 0 : 1;
                if (op != KILN_OP_NOT && ((a->eq && a->def == decisive) || (b->eq && b->def == decisive))) r->eq = 1;
            } else {
                r->eq = a->eq && (!b || b->eq);
                if (is_int) set_shift(r, r->eq, 0);
            }
            break;
        }
        default: goto fail; /* VALUE: not a pointwise kernel */
        }
    }
    int ok = in[k->out_expr].eq;
    free(in);
    return ok;
fail:
    free(in);
    return 0;
}

/* ---- readers: the dense strides become capacity strides ---- */

/* Slots of kernel k that may be replaced: every use of a replaced slot is
 * a factor of a linear index (sums and differences of products) of a load
 * from one of the carries `bufs` (buffer slots), or a stride of a strided
 * view of them. */
static int slot_uses_ok(const kiln_kernel *k, const char *carry_buf, const char *replaced) {
    int n = k->nexprs;
    /* lin[i]: expression i is used only inside linear indices of carry loads */
    char *lin = calloc((size_t)n + 1, 1);
    int *users = calloc((size_t)n + 1, sizeof *users);
    if (!lin || !users) {
        free(lin);
        free(users);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const kiln_kexpr *x = &k->exprs[i];
        if (x->a >= 0) users[x->a]++;
        if (x->b >= 0) users[x->b]++;
        if (x->c >= 0) users[x->c]++;
    }
    /* roots (views, output) count as uses that are not indices */
    int roots[KILN_KMAX_VIEWS + 1], nroots = 0;
    for (int v = 0; v < k->nviews; v++) roots[nroots++] = k->views[v].expr;
    roots[nroots++] = k->out_expr;
    /* good[i]: uses of i seen so far that are linear-index uses */
    int *good = calloc((size_t)n + 1, sizeof *good);
    if (!good) {
        free(lin);
        free(users);
        return 0;
    }
    for (int i = n - 1; i >= 0; i--) {
        int is_root = 0;
        for (int r = 0; r < nroots; r++) is_root |= roots[r] == i;
        lin[i] = !is_root && users[i] > 0 && good[i] == users[i];
        const kiln_kexpr *x = &k->exprs[i];
        if (x->kind == KILN_KX_LOAD && x->slot >= 0 && carry_buf[x->slot] && x->a >= 0 && x->a != x->b) good[x->a]++;
        if (lin[i] && x->kind == KILN_KX_MATH && (x->op == KILN_OP_ADD || x->op == KILN_OP_SUB)) {
            good[x->a]++;
            good[x->b]++;
        }
        if (lin[i] && x->kind == KILN_KX_MATH && x->op == KILN_OP_MUL) {
            /* a product is linear in a replaced slot when only one side holds one */
            good[x->a]++;
            good[x->b]++;
        }
    }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const kiln_kexpr *x = &k->exprs[i];
        if (x->kind == KILN_KX_DIM && replaced[x->slot] && !lin[i]) ok = 0;
    }
    /* a product of two replaced slots is not linear */
    for (int i = 0; i < n && ok; i++) {
        const kiln_kexpr *x = &k->exprs[i];
        if (x->kind != KILN_KX_MATH || x->op != KILN_OP_MUL) continue;
        const kiln_kexpr *xa = &k->exprs[x->a], *xb = &k->exprs[x->b];
        if (xa->kind == KILN_KX_DIM && replaced[xa->slot] && xb->kind == KILN_KX_DIM && replaced[xb->slot]) ok = 0;
    }
    /* slots elsewhere: extents, offsets, strides of other views, scale */
    for (int i = 0; i < k->out_rank && ok; i++) ok = !replaced[k->out_extent[i]];
    for (int v = 0; v < k->nviews && ok; v++) {
        const kiln_kview *w = &k->views[v];
        for (int i = 0; i < w->rank && ok; i++) {
            ok = !replaced[w->extent[i]];
            if (ok && w->strided && replaced[w->stride[i]]) ok = carry_buf[w->buf];
        }
        if (ok && w->strided) ok = !replaced[w->offset];
        if (ok && w->qtype) ok = !replaced[w->qcols];
    }
    if (ok && k->scale_dim >= 0) ok = !replaced[k->scale_dim];
    free(lin);
    free(users);
    free(good);
    return ok;
}

/* ---- building ---- */

static int bare_symbol(const kiln_graph *g, kiln_dim d) {
    const dim_expr *e = kiln_dim_is_const(d) ? NULL : graph_dim_expr(g, d);
    if (e && e->nt == 1 && e->c == 0 && e->t[0].coef == 1 && e->t[0].nf == 1) return e->t[0].f[0];
    return -1;
}

static int input_tensor(const kiln_plan *plan, const char *name) {
    for (int t = 0; t < kiln_plan_tensor_count(plan); t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        if (pt->kind == KILN_PT_INPUT && pt->name && strcmp(pt->name, name) == 0) return t;
    }
    return -1;
}

/* The carries as appends, or NULL (*out) when the graph does not allow it. */
kiln_status cpu_append_build(kiln_cpu_exec *e, const struct cpu_step_state *st, step_append **out) {
    *out = NULL;
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    int nk = kiln_plan_kernel_count(plan), nsyms = kiln_graph_symbol_count(g);
    const char *env = getenv("KILN_CPU_STEP_APPEND"); /* =0: keep the dense double-buffered carries */
    if (st->n == 0 || nsyms > POLY_VARS || nsyms > STEP_MAX_SYMS || (env && strcmp(env, "0") == 0)) return KILN_OK;
    step_append *a = calloc(1, sizeof *a);
    if (!a) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    a->c = calloc((size_t)st->n, sizeof *a->c);
    a->is_kc = calloc((size_t)nk + 1, 1);
    a->kc_ndims = calloc((size_t)st->n, sizeof *a->kc_ndims);
    a->ov = calloc((size_t)nk * 8 + 1, sizeof *a->ov);
    char *carry_t = calloc((size_t)kiln_plan_tensor_count(plan) + 1, 1);
    int ok = a->c && a->is_kc && a->kc_ndims && a->ov && carry_t;
    a->n = st->n;
    a->nsyms = nsyms;
    a->sigma = -1;
    int64_t total_kdims = 0;
    for (int i = 0; ok && i < st->n; i++) {
        acarry *c = &a->c[i];
        c->carry = i;
        c->O = st->c[i].tensor;
        c->P = input_tensor(plan, st->c[i].in);
        const kiln_ptensor *po = kiln_plan_tensor(plan, c->O), *pp = c->P >= 0 ? kiln_plan_tensor(plan, c->P) : NULL;
        ok = pp && po->kind == KILN_PT_OUTPUT && po->producer >= 0 && po->dtype == pp->dtype &&
             po->shape.rank == pp->shape.rank && kiln_plan_kernel(plan, po->producer)->kind == KILN_K_POINTWISE;
        if (!ok) break;
        c->kc = po->producer;
        a->is_kc[c->kc] = 1;
        carry_t[c->O] = 1;
        /* the growing axis: past's bare symbol, present = sigma + (no sigma) */
        int axis = -1, sigma = -1;
        for (int d = 0; d < pp->shape.rank; d++) {
            if (po->shape.dims[d] == pp->shape.dims[d]) continue;
            if (axis >= 0) ok = 0; /* grows along one axis */
            axis = d;
            sigma = bare_symbol(g, pp->shape.dims[d]);
        }
        if (!ok || axis < 0 || sigma < 0) {
            ok = 0;
            break;
        }
        poly pa = poly_of(g, po->shape.dims[axis]);
        int64_t coef;
        ok = poly_linear_in(&pa, sigma, &coef) && coef == 1;
        for (int d = 0; ok && d < po->shape.rank; d++) {
            poly pd = poly_of(g, po->shape.dims[d]);
            if (d != axis) ok = !pd.bad && !poly_has(&pd, sigma);
        }
        if (i == 0) {
            a->axis = axis;
            a->sigma = sigma;
            a->rank = po->shape.rank;
            a->esize = kiln_dtype_size(po->dtype);
            memcpy(a->dims, po->shape.dims, sizeof a->dims);
        } else {
            ok = ok && axis == a->axis && sigma == a->sigma && po->shape.rank == a->rank &&
                 kiln_dtype_size(po->dtype) == a->esize;
            for (int d = 0; ok && d < a->rank; d++) ok = po->shape.dims[d] == a->dims[d];
        }
        a->kc_ndims[i] = kiln_plan_kernel(plan, c->kc)->ndims;
        total_kdims += a->kc_ndims[i];
    }
    /* past is read by its Kc only; Kc computes the new rows at sigma = 0 */
    for (int i = 0; ok && i < st->n; i++) {
        const acarry *c = &a->c[i];
        for (int k = 0; ok && k < nk; k++) {
            const kiln_kernel *kn = kiln_plan_kernel(plan, k);
            for (int b = 0; ok && b < kn->nbufs; b++)
                if (kn->bufs[b].tensor == c->P && k != c->kc) ok = 0;
        }
        const kiln_kernel *kc = kiln_plan_kernel(plan, c->kc);
        /* the output's extents: the growing axis is the carry's, the others fixed */
        for (int d = 0; ok && d < kc->out_rank; d++) ok = kc->dims[kc->out_extent[d]] == a->dims[d];
    }
    /* readers: replace the dense strides of the axes before A */
    poly strides[KILN_MAX_RANK];
    for (int i = 0; ok && i < a->rank; i++) {
        memset(&strides[i], 0, sizeof strides[i]);
        uint8_t z[POLY_VARS] = {0};
        poly_add_term(&strides[i], 1, z);
        for (int j = i + 1; j < a->rank; j++) {
            poly pj = poly_of(g, a->dims[j]);
            strides[i] = poly_mul(&strides[i], &pj);
        }
        ok = !strides[i].bad;
    }
    for (int k = 0; ok && k < nk; k++) {
        if (a->is_kc[k]) continue;
        const kiln_kernel *kn = kiln_plan_kernel(plan, k);
        char carry_buf[256] = {0}, replaced[1024] = {0};
        int reads = 0;
        if (kn->nbufs > 256 || kn->ndims > 1024) {
            ok = 0;
            break;
        }
        for (int b = 0; b < kn->nbufs; b++) {
            carry_buf[b] = carry_t[kn->bufs[b].tensor];
            if (carry_buf[b]) reads = 1;
            if (carry_buf[b] && b == kn->out_buf) ok = 0;
        }
        if (!reads || !ok) continue;
        int first = a->nov;
        for (int d = 0; ok && d < kn->ndims; d++) {
            poly p = poly_of(g, kn->dims[d]);
            if (p.bad) ok = 0;
            if (!ok || !poly_has(&p, a->sigma)) continue;
            for (int ax = 0; ax < a->axis; ax++)
                if (poly_equal(&p, &strides[ax])) {
                    replaced[d] = 1;
                    a->ov[a->nov++] = (override){k, d, ax};
                    break;
                }
            if (a->nov > nk * 8) ok = 0;
        }
        if (ok && a->nov > first) ok = slot_uses_ok(kn, carry_buf, replaced);
        /* every load of a carry must go through a linear index: a reader
         * whose indices do not use the replaced strides (a constant
         * stride, say) would read the dense layout */
        for (int x = 0; ok && x < kn->nexprs; x++) {
            const kiln_kexpr *ex = &kn->exprs[x];
            if (ex->kind == KILN_KX_LOAD && carry_buf[ex->slot] && a->nov == first) ok = 0;
        }
    }
    free(carry_t);
    a->kc_dims = calloc((size_t)total_kdims + 1, sizeof *a->kc_dims);
    if (!a->kc_dims) ok = 0;
    for (int s = 0; s < STEP_MAX_SYMS; s++) a->key[s] = -2;
    if (!ok) {
        cpu_append_free(a);
        return KILN_OK;
    }
    *out = a;
    return KILN_OK;
}

/* ---- per step ---- */

static void layout(const step_append *a, const int64_t *shape, int64_t *outer, size_t *inner) {
    *outer = 1;
    *inner = a->esize;
    for (int d = 0; d < a->axis; d++) *outer *= shape[d];
    for (int d = a->axis + 1; d < a->rank; d++) *inner *= (size_t)shape[d];
}

/* Copies rows [0, rows) of each outer block between layouts of `from` and
 * `to` rows of room. */
static void copy_rows(void *dst, int64_t to, const void *src, int64_t from, int64_t rows, int64_t outer, size_t inner) {
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)dst + (size_t)(o * to) * inner, (const char *)src + (size_t)(o * from) * inner, (size_t)rows * inner);
}

int cpu_append_is_kernel(const step_append *a, int k) { return a && a->is_kc[k]; }
int cpu_append_owns(const step_append *a, int carry) { return a && a->c[carry].active; }

/* Capacity for `rows`, each carry in its capacity buffer; Kc's dims at
 * sigma = 0 (checked to compute the same rows); readers' strides. */
kiln_status cpu_append_prepare(kiln_cpu_exec *e, step_append *a, struct cpu_step_state *st, const int64_t *sym,
                               int64_t *kdims, const int *kdim_at, int *usable) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    *usable = 0;
    if (a->dead) return KILN_OK;
    int64_t shape[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_eval(g, &kiln_plan_tensor(plan, a->c[0].O)->shape, sym, shape));
    int64_t rows = shape[a->axis], outer;
    size_t inner;
    layout(a, shape, &outer, &inner);
    /* Kc's dims at sigma = 0, when the other symbols moved */
    int64_t b0[STEP_MAX_SYMS];
    memcpy(b0, sym, (size_t)a->nsyms * sizeof *b0);
    b0[a->sigma] = 0;
    if (memcmp(b0, a->key, (size_t)a->nsyms * sizeof *b0) != 0) {
        int64_t *at = a->kc_dims;
        for (int i = 0; i < a->n; i++) {
            const kiln_kernel *kc = kiln_plan_kernel(plan, a->c[i].kc);
            KILN_TRY(kiln_kernel_dims(kc, g, b0, at));
            int64_t *shift = calloc((size_t)kc->ndims + 1, sizeof *shift);
            char *shift_ok = calloc((size_t)kc->ndims + 1, 1);
            int ok = shift && shift_ok;
            for (int d = 0; ok && d < kc->ndims; d++) {
                poly p = poly_of(g, kc->dims[d]);
                shift_ok[d] = (char)poly_linear_in(&p, a->sigma, &shift[d]);
            }
            ok = ok && kc_equivalent(kc, a->axis, shift, shift_ok, at);
            free(shift);
            free(shift_ok);
            if (!ok) { /* not for this binding: the dense path from now on */
                a->dead = 1;
                return KILN_OK;
            }
            at += kc->ndims;
        }
        memcpy(a->key, b0, (size_t)a->nsyms * sizeof *b0);
    }
    /* room along A: doubles */
    int64_t new_rows = rows; /* after this step */
    int64_t cap = a->cap;
    if (cap < new_rows) {
        cap = a->cap ? a->cap : 64;
        while (cap < new_rows) cap *= 2;
    }
    for (int i = 0; i < a->n; i++) {
        acarry *c = &a->c[i];
        step_carry *sc = &st->c[c->carry];
        size_t need = (size_t)(outer * cap) * inner;
        if (need > c->buf_cap || cap != a->cap) {
            void *p = malloc(need ? need : 1);
            if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory for carry '%s' (%zu bytes)", sc->out, need);
            if (c->active) copy_rows(p, cap, c->buf, a->cap, c->rows, outer, inner);
            free(c->buf);
            c->buf = p;
            c->buf_cap = need;
        }
        if (!c->active) { /* from the dense carry of the last step */
            int64_t prev = sc->cur >= 0 ? sc->t.shape[a->axis] : 0;
            if (prev > 0) copy_rows(c->buf, cap, sc->t.data, prev, prev, outer, inner);
            c->rows = prev;
            c->active = 1;
        }
        if (c->rows != sym[a->sigma])
            return kiln_error(KILN_ERR_INTERNAL, "step: carry '%s' holds %lld rows, the step starts at %lld", sc->out,
                              (long long)c->rows, (long long)sym[a->sigma]);
        /* Kc's new rows at sigma = 0 */
        int64_t s0[KILN_MAX_RANK];
        memcpy(s0, shape, sizeof s0);
        s0[a->axis] = new_rows - c->rows;
        size_t sbytes = (size_t)(outer * s0[a->axis]) * inner;
        if (sbytes > c->scratch_cap) {
            void *p = realloc(c->scratch, sbytes);
            if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
            c->scratch = p;
            c->scratch_cap = sbytes;
        }
    }
    a->cap = cap;
    /* readers: capacity strides */
    for (int i = 0; i < a->nov; i++) {
        const override *o = &a->ov[i];
        int64_t v = 1;
        for (int d = o->axis + 1; d < a->rank; d++) v *= d == a->axis ? cap : shape[d];
        kdims[kdim_at[o->k] + o->slot] = v;
    }
    *usable = 1;
    return KILN_OK;
}

/* Kc for the new rows, copied into place; readers then see the buffer. */
kiln_status cpu_append_launch(kiln_cpu_exec *e, step_append *a, int k, const int64_t *sym) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    int64_t *at = a->kc_dims;
    for (int i = 0; i < a->n; i++) {
        acarry *c = &a->c[i];
        if (c->kc != k) {
            at += a->kc_ndims[i];
            continue;
        }
        int64_t shape[KILN_MAX_RANK], outer;
        size_t inner;
        KILN_TRY(kiln_shape_eval(g, &kiln_plan_tensor(plan, c->O)->shape, sym, shape));
        layout(a, shape, &outer, &inner);
        int64_t add = shape[a->axis] - c->rows;
        e->ptrs[c->O] = c->scratch;
        KILN_TRY(cpu_exec_launch(e, k, at, 0));
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)c->buf + (size_t)(o * a->cap + c->rows) * inner, (char *)c->scratch + (size_t)(o * add) * inner,
                   (size_t)add * inner);
        e->ptrs[c->O] = c->buf;
        return KILN_OK;
    }
    return kiln_error(KILN_ERR_INTERNAL, "step: kernel %d appends no carry", k);
}

/* After the step: each carry is its buffer, as long as the graph says
 * (its data is in the capacity layout: only Kc, at sigma = 0, takes it). */
void cpu_append_finish(step_append *a, struct cpu_step_state *st, const kiln_plan *plan, const int64_t *sym) {
    const kiln_graph *g = kiln_plan_graph(plan);
    for (int i = 0; i < a->n; i++) {
        acarry *c = &a->c[i];
        const kiln_ptensor *pt = kiln_plan_tensor(plan, c->O);
        int64_t shape[KILN_MAX_RANK];
        kiln_status s = kiln_shape_eval(g, &pt->shape, sym, shape);
        kiln_status_free(s);
        c->rows = shape[a->axis];
        st->c[c->carry].t = kiln_tensor_view(pt->dtype, pt->shape.rank, shape, c->buf);
    }
}

/* The carries back in their dense double buffers (for the general path). */
kiln_status cpu_append_densify(step_append *a, struct cpu_step_state *st) {
    for (int i = 0; a && i < a->n; i++) {
        acarry *c = &a->c[i];
        if (!c->active) continue;
        step_carry *sc = &st->c[c->carry];
        int64_t outer;
        size_t inner;
        layout(a, sc->t.shape, &outer, &inner);
        sc->target = 0;
        KILN_TRY(cpu_step_reserve_carry(sc, (size_t)(outer * c->rows) * inner));
        copy_rows(sc->buf[0], c->rows, c->buf, a->cap, c->rows, outer, inner);
        sc->t.data = sc->buf[0];
        sc->cur = 0;
        c->active = 0;
    }
    return KILN_OK;
}

void cpu_append_reset(step_append *a) {
    for (int i = 0; a && i < a->n; i++) a->c[i].active = 0;
}
