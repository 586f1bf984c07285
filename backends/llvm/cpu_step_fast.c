/* Generation steps after the first, replayed from tables built once per
 * set of carries. A decode step differs from the last one only in a symbol
 * or two (`past` grows by one), so instead of binding inputs by name,
 * planning memory and evaluating every kernel's dims again, a step
 *  - takes the carried tensors as they are and looks up only the other
 *    inputs (the tokens), with no allocation,
 *  - reads the symbols off the input dims that are bare symbols,
 *  - re-evaluates only the dims (a table of the distinct symbolic dims,
 *    each with the set of symbols it depends on) that those symbols reach,
 *    and patches them into the kernels' dim arrays,
 *  - keeps the memory plan while every arena tensor whose size moved still
 *    fits its planned region (and in-place pairs still agree); otherwise
 *    plans again with room for the growing symbols,
 *  - launches the kernels in schedule order.
 * Anything the tables cannot describe (an input that needs converting, a
 * symbol no input dim names) goes through the general path. */
#include <stdlib.h>
#include <string.h>

#include "codegen_internal.h"
#include "cpu_step_internal.h"
#include "ir/graph_internal.h" /* dim_expr: which symbols a dim depends on */

typedef struct fdim {
    kiln_dim d;
    uint64_t dep; /* symbols it depends on */
    int64_t v;    /* its value for the binding in step_fast.sym */
} fdim;

/* A shape over the table: entry at[i] >= 0, else the constant c[i]. */
typedef struct fshape {
    int rank;
    int32_t at[KILN_MAX_RANK];
    int64_t c[KILN_MAX_RANK];
    uint64_t dep;
} fshape;

typedef struct fpatch {
    int64_t *dst; /* a kernel's dim slot */
    int32_t at;
    uint64_t dep;
} fpatch;

enum { IN_GIVEN, IN_CARRY, IN_DEFAULT };

typedef struct finput {
    const kiln_node *node;
    int kind, carry;
    fshape shape;
    void *fill;       /* IN_DEFAULT: the default value, filled once per growth */
    size_t fill_cap;
    kiln_tensor t;    /* this step's tensor */
} finput;

struct step_fast {
    int unusable;     /* the graph is beyond the tables (or KILN_CPU_STEP_GENERAL=1): the general path */
    int nsyms;
    int64_t sym[STEP_MAX_SYMS]; /* binding the table holds (-1: none yet) */
    int src_in[STEP_MAX_SYMS], src_dim[STEP_MAX_SYMS];
    int ndim, dimcap;
    fdim *dim;
    int nin;
    finput *in;
    int64_t *kdims;   /* every kernel's dim values, kernel k at kdim_at[k] */
    int *kdim_at;
    int npatch;
    fpatch *patch;
    int nt;
    fshape *tshape;   /* per plan tensor */
    void **ptr0;      /* per plan tensor: weights and constants */
    /* the memory plan in force (copied: the plan's cache may drop it) */
    int planned;
    int64_t *off, *bytes;
    int *inplace;
    int64_t arena_bytes, unplanned;
    int *moving, nmoving; /* arena tensors whose size depends on a symbol */
    int *pair, npair;     /* (t, u): t in place over u, either size symbolic */
    char *carried;    /* per plan tensor: the output of a carry */
    void **obuf;      /* per plan tensor: outputs that are not carried */
    size_t *ocap;
    int *attn, nattn;
    size_t gemm_per, gemm_shared;
    step_append *app; /* KV caches appended in place (cpu_step_append.c), or NULL */
};

void cpu_step_fast_free(step_fast *f) {
    if (!f) return;
    cpu_append_free(f->app);
    for (int i = 0; i < f->nin; i++) free(f->in[i].fill);
    for (int t = 0; f->obuf && t < f->nt; t++) free(f->obuf[t]);
    free(f->dim);
    free(f->in);
    free(f->kdims);
    free(f->kdim_at);
    free(f->patch);
    free(f->tshape);
    free(f->ptr0);
    free(f->off);
    free(f->bytes);
    free(f->inplace);
    free(f->moving);
    free(f->pair);
    free(f->carried);
    free(f->obuf);
    free(f->ocap);
    free(f->attn);
    free(f);
}

static kiln_status oom(void) { return kiln_error(KILN_ERR_NOMEM, "out of memory"); }

/* Table entry of a symbolic dim (added on first sight); -1 for constants. */
static int intern(step_fast *f, const kiln_graph *g, kiln_dim d, int *err) {
    if (kiln_dim_is_const(d)) return -1;
    for (int i = 0; i < f->ndim; i++)
        if (f->dim[i].d == d) return i;
    const dim_expr *e = graph_dim_expr(g, d);
    if (!e) {
        *err = 1;
        return -1;
    }
    uint64_t dep = 0;
    for (int t = 0; t < e->nt; t++)
        for (int k = 0; k < e->t[t].nf; k++) dep |= UINT64_C(1) << e->t[t].f[k];
    if (f->ndim == f->dimcap) {
        int cap = f->dimcap ? 2 * f->dimcap : 64;
        fdim *p = realloc(f->dim, (size_t)cap * sizeof *p);
        if (!p) {
            *err = 1;
            return -1;
        }
        f->dim = p;
        f->dimcap = cap;
    }
    f->dim[f->ndim] = (fdim){d, dep, -1};
    return f->ndim++;
}

static void intern_shape(step_fast *f, const kiln_graph *g, const kiln_shape *s, fshape *out, int *err) {
    out->rank = s->rank;
    out->dep = 0;
    for (int i = 0; i < s->rank; i++) {
        out->at[i] = intern(f, g, s->dims[i], err);
        out->c[i] = s->dims[i];
        if (out->at[i] >= 0) out->dep |= f->dim[out->at[i]].dep;
    }
}

static kiln_status shape_of(const step_fast *f, const fshape *s, int64_t *out) {
    for (int i = 0; i < s->rank; i++) {
        out[i] = s->at[i] >= 0 ? f->dim[s->at[i]].v : s->c[i];
        if (out[i] < 0) return kiln_error(KILN_ERR_SHAPE, "dimension %d evaluates to %lld", i, (long long)out[i]);
    }
    return KILN_OK;
}

static int64_t numel_of(const step_fast *f, const fshape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->at[i] >= 0 ? f->dim[s->at[i]].v : s->c[i];
    return n;
}

/* The symbol a dim is exactly (1 * sym), or -1. */
static int bare_symbol(const kiln_graph *g, kiln_dim d) {
    const dim_expr *e = kiln_dim_is_const(d) ? NULL : graph_dim_expr(g, d);
    if (e && e->nt == 1 && e->c == 0 && e->t[0].coef == 1 && e->t[0].nf == 1) return e->t[0].f[0];
    return -1;
}

static int carry_of(const struct cpu_step_state *st, const char *name) {
    for (int c = 0; c < st->n; c++)
        if (strcmp(st->c[c].in, name) == 0) return c;
    return -1;
}

/* The tables for this exec and these carries (f->unusable when the graph
 * is beyond them). */
static kiln_status build(kiln_cpu_exec *e, const struct cpu_step_state *st, step_fast *f) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    int err = 0;
    const char *env = getenv("KILN_CPU_STEP_GENERAL"); /* to compare the two paths */
    f->nsyms = kiln_graph_symbol_count(g);
    if (f->nsyms > STEP_MAX_SYMS || (env && *env && strcmp(env, "0") != 0)) {
        f->unusable = 1;
        return KILN_OK;
    }
    for (int s = 0; s < f->nsyms; s++) f->sym[s] = -1, f->src_in[s] = -1;
    /* inputs, in node order (the order of e->slot_of) */
    f->nin = kiln_graph_input_count(g);
    f->in = calloc((size_t)f->nin + 1, sizeof *f->in);
    if (!f->in) return oom();
    for (int v = 0, i = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_INPUT) continue;
        finput *in = &f->in[i];
        in->node = n;
        in->carry = carry_of(st, n->name);
        in->kind = in->carry >= 0 ? IN_CARRY : n->attrs[0].kind == KILN_ATTR_FLOAT ? IN_DEFAULT : IN_GIVEN;
        intern_shape(f, g, &n->shape, &in->shape, &err);
        if (in->kind != IN_DEFAULT)
            for (int d = 0; d < n->shape.rank; d++) {
                int s = bare_symbol(g, n->shape.dims[d]);
                if (s >= 0 && f->src_in[s] < 0) f->src_in[s] = i, f->src_dim[s] = d;
            }
        i++;
    }
    for (int s = 0; s < f->nsyms; s++)
        if (f->src_in[s] < 0) f->unusable = 1; /* a symbol no input names: the general binder's job */
    /* kernels' dims: constants once, symbolic ones patched from the table */
    int nk = e->prog->nkernels, total = 0;
    f->kdim_at = malloc(((size_t)nk + 1) * sizeof *f->kdim_at);
    if (!f->kdim_at) return oom();
    for (int k = 0; k < nk; k++) f->kdim_at[k] = total, total += kiln_plan_kernel(plan, k)->ndims;
    f->kdims = calloc((size_t)total + 1, sizeof *f->kdims);
    f->patch = malloc(((size_t)total + 1) * sizeof *f->patch);
    f->attn = malloc(((size_t)nk + 1) * sizeof *f->attn);
    if (!f->kdims || !f->patch || !f->attn) return oom();
    for (int k = 0; k < nk; k++) {
        const kiln_kernel *kn = kiln_plan_kernel(plan, k);
        if (kn->kind == KILN_K_ATTENTION) f->attn[f->nattn++] = k;
        for (int j = 0; j < kn->ndims; j++) {
            int64_t *dst = &f->kdims[f->kdim_at[k] + j];
            int at = intern(f, g, kn->dims[j], &err);
            if (at < 0) *dst = kn->dims[j];
            else f->patch[f->npatch++] = (fpatch){dst, at, 0};
        }
    }
    /* tensors */
    f->nt = kiln_plan_tensor_count(plan);
    size_t nt1 = (size_t)f->nt + 1;
    f->tshape = calloc(nt1, sizeof *f->tshape);
    f->ptr0 = calloc(nt1, sizeof *f->ptr0);
    f->off = calloc(nt1, sizeof *f->off);
    f->bytes = calloc(nt1, sizeof *f->bytes);
    f->inplace = calloc(nt1, sizeof *f->inplace);
    f->moving = calloc(nt1, sizeof *f->moving);
    f->pair = calloc(2 * nt1, sizeof *f->pair);
    f->obuf = calloc(nt1, sizeof *f->obuf);
    f->ocap = calloc(nt1, sizeof *f->ocap);
    f->carried = calloc(nt1, 1);
    if (!f->tshape || !f->ptr0 || !f->off || !f->bytes || !f->inplace || !f->moving || !f->pair || !f->obuf || !f->ocap ||
        !f->carried)
        return oom();
    for (int i = 0; i < st->n; i++) f->carried[st->c[i].tensor] = 1;
    for (int t = 0; t < f->nt; t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        intern_shape(f, g, &pt->shape, &f->tshape[t], &err);
        if (pt->kind == KILN_PT_PARAM) f->ptr0[t] = e->slot_of[t] >= 0 ? e->params.tensors[e->slot_of[t]].data : NULL;
        if (pt->kind == KILN_PT_CONST) f->ptr0[t] = kiln_graph_node(g, pt->node)->value.data;
        if (pt->kind == KILN_PT_INTERMEDIATE && f->tshape[t].dep) f->moving[f->nmoving++] = t;
    }
    if (err) return oom();
    /* the patches' dependencies, now that the table is complete */
    for (int i = 0; i < f->npatch; i++) f->patch[i].dep = f->dim[f->patch[i].at].dep;
    cpu_exec_gemm_scratch(e, &f->gemm_per, &f->gemm_shared);
    if (!f->unusable) KILN_TRY(cpu_append_build(e, st, &f->app));
    return KILN_OK;
}

kiln_status cpu_step_fast_leave(struct cpu_step_state *st, int reset) {
    step_fast *f = st->fast;
    if (!f || !f->app) return KILN_OK;
    if (reset) {
        cpu_append_reset(f->app);
        return KILN_OK;
    }
    return cpu_append_densify(f->app, st);
}

/* The carries stay dense from now on; the readers get their dense strides
 * back. */
static kiln_status drop_append(step_fast *f, struct cpu_step_state *st) {
    kiln_status s = cpu_append_densify(f->app, st);
    cpu_append_free(f->app);
    f->app = NULL;
    for (int i = 0; i < f->npatch; i++) *f->patch[i].dst = f->dim[f->patch[i].at].v;
    return s;
}

static int64_t tensor_bytes(const kiln_plan *plan, const step_fast *f, int t) {
    return numel_of(f, &f->tshape[t]) * (int64_t)kiln_dtype_size(kiln_plan_tensor(plan, t)->dtype);
}

/* Every moving arena tensor fits its planned region, and tensors sharing
 * memory in place have equal sizes. */
static int plan_fits(const kiln_plan *plan, const step_fast *f, uint64_t changed) {
    if (!f->planned) return 0;
    for (int i = 0; i < f->nmoving; i++) {
        int t = f->moving[i];
        if ((f->tshape[t].dep & changed) && tensor_bytes(plan, f, t) > f->bytes[t]) return 0;
    }
    for (int i = 0; i < f->npair; i++) {
        int t = f->pair[2 * i], u = f->pair[2 * i + 1];
        if (((f->tshape[t].dep | f->tshape[u].dep) & changed) && tensor_bytes(plan, f, t) != tensor_bytes(plan, f, u))
            return 0;
    }
    return 1;
}

/* Plans memory for `at` and keeps a copy. */
static kiln_status adopt_plan(kiln_cpu_exec *e, step_fast *f, const int64_t *at) {
    const kiln_memplan *mp = NULL;
    f->planned = 0;
    KILN_TRY(kiln_plan_memory(e->prog->plan, at, &mp));
    memcpy(f->off, mp->offset, (size_t)f->nt * sizeof *f->off);
    memcpy(f->bytes, mp->bytes, (size_t)f->nt * sizeof *f->bytes);
    memcpy(f->inplace, mp->inplace_of, (size_t)f->nt * sizeof *f->inplace);
    f->arena_bytes = mp->arena_bytes;
    f->unplanned = mp->unplanned_bytes;
    f->npair = 0;
    for (int t = 0; t < f->nt; t++) {
        int u = f->inplace[t];
        if (u >= 0 && (f->tshape[t].dep | f->tshape[u].dep)) {
            f->pair[2 * f->npair] = t;
            f->pair[2 * f->npair + 1] = u;
            f->npair++;
        }
    }
    KILN_TRY(cpu_grow((void **)&e->arena, &e->arena_cap, (size_t)f->arena_bytes, KILN_ARENA_ALIGN));
    f->planned = 1;
    return KILN_OK;
}

/* A plan that holds for the table's binding: for symbols that grew since
 * the last step, with room to grow further (a decode step's `past` gets
 * as many positions again, at least 64), so that plans are rare. */
static kiln_status replan(kiln_cpu_exec *e, step_fast *f, const struct cpu_step_state *st) {
    const kiln_plan *plan = e->prog->plan;
    int64_t at[STEP_MAX_SYMS];
    for (int s = 0; s < f->nsyms; s++) {
        at[s] = f->sym[s];
        if (s < st->nsyms && f->sym[s] > st->last_sym[s]) at[s] += f->sym[s] > 64 ? f->sym[s] : 64;
    }
    KILN_TRY(adopt_plan(e, f, at));
    if (plan_fits(plan, f, ~UINT64_C(0))) return KILN_OK;
    /* sizes that do not grow with the symbols: plan for exactly this binding */
    KILN_TRY(adopt_plan(e, f, f->sym));
    if (!plan_fits(plan, f, ~UINT64_C(0)))
        return kiln_error(KILN_ERR_INTERNAL, "step: the memory plan does not fit its own binding");
    return KILN_OK;
}

/* Inputs of this step; 0 when one needs the general path. */
static int take_inputs(step_fast *f, const struct cpu_step_state *st, const kiln_tensor_map *inputs) {
    for (int i = 0; i < f->nin; i++) {
        finput *in = &f->in[i];
        if (in->kind == IN_CARRY) {
            in->t = st->c[in->carry].t;
        } else if (in->kind == IN_GIVEN) {
            const kiln_tensor *t = inputs ? kiln_tensor_map_get(inputs, in->node->name) : NULL;
            if (!t || t->dtype != in->node->dtype || t->rank != in->node->shape.rank) return 0;
            if (!t->data && kiln_tensor_numel(t) > 0) return 0;
            in->t = *t;
            in->t.owns_data = 0;
        }
    }
    return 1;
}

/* Fills default inputs for the binding; their buffers only grow. */
static kiln_status fill_defaults(step_fast *f) {
    for (int i = 0; i < f->nin; i++) {
        finput *in = &f->in[i];
        if (in->kind != IN_DEFAULT) continue;
        int64_t shape[KILN_MAX_RANK];
        KILN_TRY(shape_of(f, &in->shape, shape));
        kiln_tensor t = kiln_tensor_view(in->node->dtype, in->shape.rank, shape, NULL);
        if (t.nbytes > in->fill_cap || !in->fill) {
            size_t cap = t.nbytes + t.nbytes / 2 + 64, es = kiln_dtype_size(in->node->dtype);
            void *p = realloc(in->fill, cap);
            if (!p) return oom();
            in->fill = p;
            in->fill_cap = cap;
            for (size_t k = 0; k < cap / es; k++) kiln_store_f64(p, in->node->dtype, k, in->node->attrs[0].f);
        }
        t.data = in->fill;
        in->t = t;
    }
    return KILN_OK;
}

/* Symbols off the inputs; the table and kernel dims brought up to date;
 * every input's shape checked. *changed: the symbols that moved. */
static kiln_status bind(step_fast *f, const kiln_graph *g, uint64_t *changed) {
    int64_t sym[STEP_MAX_SYMS];
    uint64_t ch = 0;
    for (int s = 0; s < f->nsyms; s++) {
        sym[s] = f->in[f->src_in[s]].t.shape[f->src_dim[s]];
        if (sym[s] != f->sym[s]) ch |= UINT64_C(1) << s;
    }
    if (ch) {
        memcpy(f->sym, sym, (size_t)f->nsyms * sizeof *sym);
        for (int i = 0; i < f->ndim; i++)
            if (f->dim[i].dep & ch) {
                kiln_status s = kiln_dim_eval(g, f->dim[i].d, f->sym, &f->dim[i].v);
                if (s) {
                    for (int k = 0; k < f->nsyms; k++) f->sym[k] = -1; /* the table is stale */
                    return s;
                }
            }
        for (int i = 0; i < f->npatch; i++)
            if (f->patch[i].dep & ch) *f->patch[i].dst = f->dim[f->patch[i].at].v;
    }
    *changed = ch;
    for (int i = 0; i < f->nin; i++) {
        finput *in = &f->in[i];
        if (in->kind == IN_DEFAULT) continue;
        int64_t want[KILN_MAX_RANK];
        kiln_status s = shape_of(f, &in->shape, want);
        for (int d = 0; !s && d < in->shape.rank; d++)
            if (want[d] != in->t.shape[d]) {
                char got[256], exp[256];
                s = kiln_error(KILN_ERR_SHAPE, "input '%s' has shape %s, expected %s (dim %d is %lld, not %lld)",
                               in->node->name, kiln_tensor_shape_str(&in->t, got, sizeof got),
                               kiln_shape_str(g, &in->node->shape, exp, sizeof exp), d, (long long)in->t.shape[d],
                               (long long)want[d]);
            }
        if (s) return kiln_error_wrap(s, "input '%s'", in->node->name);
    }
    return KILN_OK;
}

/* Scratch for the attention kernels at this binding (the GEMMs' is fixed). */
static kiln_status reserve_scratch(kiln_cpu_exec *e, step_fast *f) {
    size_t per = f->gemm_per;
    for (int i = 0; i < f->nattn; i++) {
        int k = f->attn[i];
        size_t a = cg_attention_scratch(kiln_plan_kernel(e->prog->plan, k), f->kdims + f->kdim_at[k]);
        if (a > per) per = a;
    }
    return cpu_exec_reserve_rt(e, per, f->gemm_shared);
}

/* Every tensor's data for this step; carries' targets chosen and sized. */
static kiln_status place(kiln_cpu_exec *e, step_fast *f, struct cpu_step_state *st) {
    const kiln_plan *plan = e->prog->plan;
    for (int i = 0; i < st->n; i++) {
        step_carry *c = &st->c[i];
        if (cpu_append_owns(f->app, i)) continue;
        c->target = c->cur == 0 ? 1 : 0;
        KILN_TRY(cpu_step_reserve_carry(c, (size_t)tensor_bytes(plan, f, c->tensor)));
    }
    for (int t = 0; t < f->nt; t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        void *data = f->ptr0[t];
        switch (pt->kind) {
        case KILN_PT_INPUT: data = e->slot_of[t] >= 0 ? f->in[e->slot_of[t]].t.data : NULL; break;
        case KILN_PT_INTERMEDIATE: data = e->arena + f->off[t]; break;
        case KILN_PT_OUTPUT: {
            if (f->carried[t]) break; /* placed below */
            size_t b = (size_t)tensor_bytes(plan, f, t);
            if (b > f->ocap[t] || !f->obuf[t]) {
                size_t cap = b + b / 4 + 64;
                void *p = realloc(f->obuf[t], cap);
                if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory for output '%s' (%zu bytes)", pt->name ? pt->name : "?", cap);
                f->obuf[t] = p;
                f->ocap[t] = cap;
            }
            data = f->obuf[t];
            break;
        }
        default: break;
        }
        e->ptrs[t] = data;
    }
    for (int i = 0; i < st->n; i++) { /* a carried output is written straight into its buffer */
        step_carry *c = &st->c[i];
        if (cpu_append_owns(f->app, i)) continue; /* placed when its kernel runs */
        if (kiln_plan_tensor(plan, c->tensor)->kind == KILN_PT_OUTPUT) e->ptrs[c->tensor] = c->buf[c->target];
    }
    return KILN_OK;
}

static kiln_status run(kiln_cpu_exec *e, step_fast *f, struct cpu_step_state *st, const kiln_tensor_map *inputs,
                       kiln_step_io *io, int *ran) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    *ran = 0;
    if (!take_inputs(f, st, inputs)) return KILN_OK;
    *ran = 1;
    uint64_t changed = 0;
    KILN_TRY(bind(f, g, &changed));
    KILN_TRY(fill_defaults(f));
    KILN_TRY(cpu_exec_check_runtime(e, f->sym));
    if (!plan_fits(plan, f, changed)) KILN_TRY(replan(e, f, st));
    e->planned = f->arena_bytes;
    e->unplanned = f->unplanned;
    if (f->app) {
        int usable = 0;
        KILN_TRY(cpu_append_prepare(e, f->app, st, f->sym, f->kdims, f->kdim_at, &usable));
        if (!usable) KILN_TRY(drop_append(f, st));
    }
    if (changed) KILN_TRY(reserve_scratch(e, f));
    KILN_TRY(place(e, f, st));
    for (int k = 0; k < e->prog->nkernels; k++) {
        const kiln_kernel *kn = kiln_plan_kernel(plan, k);
        if (cpu_append_is_kernel(f->app, k)) KILN_TRY(cpu_append_launch(e, f->app, k, f->sym));
        else KILN_TRY(cpu_exec_launch(e, k, f->kdims + f->kdim_at[k], f->inplace[kn->bufs[kn->out_buf].tensor] >= 0));
    }
    /* the row, then the carries */
    const fshape *rs = &f->tshape[st->row_t];
    int64_t n = numel_of(f, rs);
    if (rs->rank < 1 || (rs->at[rs->rank - 1] >= 0 ? f->dim[rs->at[rs->rank - 1]].v : rs->c[rs->rank - 1]) != io->row_len ||
        n < io->row_len)
        return kiln_error(KILN_ERR_SHAPE, "step: output '%s' does not end in rows of %lld", io->row_output,
                          (long long)io->row_len);
    KILN_TRY(cpu_step_take_row(st, e->ptrs[st->row_t], kiln_plan_tensor(plan, st->row_t)->dtype, n, io));
    if (f->app) cpu_append_finish(f->app, st, plan, f->sym);
    for (int i = 0; i < st->n; i++) {
        step_carry *c = &st->c[i];
        if (cpu_append_owns(f->app, i)) continue;
        const kiln_ptensor *ct = kiln_plan_tensor(plan, c->tensor);
        int64_t shape[KILN_MAX_RANK];
        KILN_TRY(shape_of(f, &f->tshape[c->tensor], shape));
        kiln_tensor v = kiln_tensor_view(ct->dtype, ct->shape.rank, shape, c->buf[c->target]);
        if (ct->kind != KILN_PT_OUTPUT) memcpy(v.data, e->ptrs[c->tensor], v.nbytes);
        c->t = v;
        c->cur = c->target;
    }
    memcpy(st->last_sym, f->sym, (size_t)f->nsyms * sizeof *f->sym);
    st->nsyms = f->nsyms;
    return KILN_OK;
}

int cpu_step_fast(kiln_cpu_exec *e, struct cpu_step_state *st, const kiln_tensor_map *inputs, kiln_step_io *io,
                  kiln_status *s) {
    *s = KILN_OK;
    if (!st->fast) {
        if (!(st->fast = calloc(1, sizeof *st->fast))) {
            *s = oom();
            return 1;
        }
        kiln_status b = build(e, st, st->fast);
        if (b) {
            cpu_step_fast_free(st->fast);
            st->fast = NULL;
            *s = b;
            return 1;
        }
    }
    step_fast *f = st->fast;
    if (f->unusable) return 0;
    int ran = 0;
    *s = run(e, f, st, inputs, io, &ran);
    if (*s) f->planned = 0; /* whatever it was doing, plan again next time */
    return ran;
}
