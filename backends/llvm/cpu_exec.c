/* Running a CPU program: weights bound once, inputs bound per run (symbol
 * values from their shapes), memory planned per symbol binding (the plan
 * caches the last few), one arena grown to the largest binding seen, and
 * the kernels launched in schedule order with their dims evaluated for the
 * binding (MATMUL kernels on the GEMM path through cpu_launch_gemm.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen_internal.h"
#include "cpu_internal.h"
#include "cpu_step_internal.h"
#include "kiln/runtime.h"

static int needs_runtime_check(const kiln_graph *g, const kiln_node *n);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void kiln_cpu_exec_free(kiln_cpu_exec *e) {
    if (!e) return;
    if (e->profile_at_exit && e->runs) kiln_cpu_exec_print_profile(e, stderr);
    if (e->have_rt) kiln_jit_rt_release(&e->rt);
    if (e->own_pool) kiln_threadpool_free(e->pool);
    kiln_bound_params_free(&e->params);
    free(e->slot_of);
    free(e->checks);
    free(e->arena);
    for (int i = 0; i < 3; i++) free(e->buf[i]);
    free(e->ptrs);
    free(e->dest);
    cpu_step_release(e);
    free(e->outs);
    free(e->dims);
    free(e->bufs);
    free(e->prof_s);
    free(e->prof_n);
    if (e->owns_prog) kiln_cpu_program_free(e->prog);
    free(e);
}

kiln_status kiln_cpu_exec_create(kiln_cpu_program *p, const kiln_tensor_map *weights, const kiln_cpu_options *opt,
                                 kiln_cpu_exec **out) {
    if (!p || !out) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_exec_create: NULL argument");
    *out = NULL;
    kiln_cpu_exec *e = calloc(1, sizeof *e);
    if (!e) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    e->prog = p;
    const kiln_plan *plan = p->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    kiln_status s = kiln_bind_params(g, weights, &e->params);
    if (s) {
        free(e);
        return s;
    }
    int nt = kiln_plan_tensor_count(plan);
    e->slot_of = malloc(((size_t)nt + 1) * sizeof *e->slot_of);
    e->ptrs = calloc((size_t)nt + 1, sizeof *e->ptrs);
    e->outs = calloc((size_t)nt + 1, sizeof *e->outs);
    e->dest = calloc((size_t)nt + 1, sizeof *e->dest);
    for (int k = 0; k < p->nkernels; k++) {
        const kiln_kernel *kn = kiln_plan_kernel(plan, k);
        if (kn->ndims > e->maxdims) e->maxdims = kn->ndims;
        if (kn->nbufs > e->maxbufs) e->maxbufs = kn->nbufs;
    }
    e->dims = calloc((size_t)e->maxdims + 1, sizeof *e->dims);
    e->bufs = calloc((size_t)e->maxbufs + 1, sizeof *e->bufs);
    const char *env = getenv("KILN_CPU_PROFILE");
    e->profile_at_exit = env && *env && strcmp(env, "0") != 0;
    e->profile = (opt && opt->profile) || e->profile_at_exit;
    e->prof_s = calloc((size_t)p->nkernels + 1, sizeof *e->prof_s);
    e->prof_n = calloc((size_t)p->nkernels + 1, sizeof *e->prof_n);
    if (!e->slot_of || !e->ptrs || !e->outs || !e->dest || !e->dims || !e->bufs || !e->prof_s || !e->prof_n) {
        kiln_cpu_exec_free(e);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; t < nt; t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        e->slot_of[t] = -1;
        if (pt->kind == KILN_PT_INPUT) {
            for (int i = 0, k = 0; i < kiln_graph_node_count(g); i++)
                if (kiln_graph_node(g, i)->op == KILN_OP_INPUT) {
                    if (i == pt->node) e->slot_of[t] = k;
                    k++;
                }
        } else if (pt->kind == KILN_PT_PARAM) {
            for (int i = 0; i < e->params.count; i++)
                if (e->params.nodes[i] == pt->node) e->slot_of[t] = i;
        }
    }
    e->checks = malloc(((size_t)kiln_graph_node_count(g) + 1) * sizeof *e->checks);
    if (!e->checks) {
        kiln_cpu_exec_free(e);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < kiln_graph_node_count(g); v++)
        if (needs_runtime_check(g, kiln_graph_node(g, v))) e->checks[e->nchecks++] = v;
    int threads = opt ? opt->threads : 0;
    if (threads > 0) {
        kiln_status ds = kiln_threadpool_set_default_threads(threads);
        if (ds) { /* the process pool exists with another size: our own */
            kiln_status_free(ds);
            s = kiln_threadpool_create(threads, &e->pool);
            e->own_pool = !s;
        } else {
            e->pool = kiln_threadpool_default();
        }
    } else {
        e->pool = kiln_threadpool_default();
    }
    if (s) {
        kiln_cpu_exec_free(e);
        return s;
    }
    *out = e;
    return KILN_OK;
}

kiln_status kiln_cpu_exec_create_owning(kiln_cpu_program *p, const kiln_tensor_map *weights,
                                        const kiln_cpu_options *opt, kiln_cpu_exec **out) {
    kiln_status s = kiln_cpu_exec_create(p, weights, opt, out);
    if (s) {
        kiln_cpu_program_free(p);
        return s;
    }
    (*out)->owns_prog = 1;
    return KILN_OK;
}

void kiln_cpu_exec_arena(const kiln_cpu_exec *e, int64_t *planned, int64_t *unplanned) {
    if (planned) *planned = e ? e->planned : 0;
    if (unplanned) *unplanned = e ? e->unplanned : 0;
}

/* What kernels cannot report (the reference interpreter fails these runs):
 * symbolic slice bounds outside their dim, argmax over an empty axis. */
static int needs_runtime_check(const kiln_graph *g, const kiln_node *n) {
    if (n->op == KILN_OP_ARGMAX || n->op == KILN_OP_ARGMIN) return 1;
    if (n->op != KILN_OP_SLICE) return 0;
    kiln_dim sized = kiln_graph_node(g, n->inputs[0])->shape.dims[n->attrs[0].i];
    return !(kiln_dim_is_const(sized) && kiln_dim_is_const(n->attrs[1].i) && kiln_dim_is_const(n->attrs[2].i));
}

static kiln_status check_runtime(const kiln_graph *g, const int *nodes, int count, const int64_t *symvals) {
    if (count == 0) return KILN_OK;
    for (int i = 0; i < count; i++) {
        int v = nodes[i];
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op == KILN_OP_SLICE) {
            kiln_dim sized = kiln_graph_node(g, n->inputs[0])->shape.dims[n->attrs[0].i];
            int64_t size, start, end, len;
            KILN_TRY(kiln_dim_eval(g, sized, symvals, &size));
            KILN_TRY(kiln_dim_eval(g, n->attrs[1].i, symvals, &start));
            KILN_TRY(kiln_dim_eval(g, n->attrs[2].i, symvals, &end));
            KILN_TRY(kiln_dim_eval(g, n->shape.dims[n->attrs[0].i], symvals, &len));
            if (start < 0 || start > size || end - start != len || end > size)
                return kiln_error(KILN_ERR_SHAPE,
                                  "slice %%%d: bounds %lld:%lld on a dim of size %lld do not give the %lld elements the "
                                  "graph expects",
                                  v, (long long)start, (long long)end, (long long)size, (long long)len);
        } else if (n->op == KILN_OP_ARGMAX || n->op == KILN_OP_ARGMIN) {
            const kiln_node *x = kiln_graph_node(g, n->inputs[0]);
            int64_t len, shape[KILN_MAX_RANK];
            KILN_TRY(kiln_dim_eval(g, x->shape.dims[n->attrs[0].i], symvals, &len));
            KILN_TRY(kiln_shape_eval(g, &n->shape, symvals, shape));
            if (len == 0 && kiln_shape_numel(n->shape.rank, shape) > 0)
                return kiln_error(KILN_ERR_SHAPE, "%s %%%d: axis %lld is empty: no index to return",
                                  kiln_op_name(n->op), v, (long long)n->attrs[0].i);
        }
    }
    return KILN_OK;
}

kiln_status cpu_exec_reserve_rt(kiln_cpu_exec *e, size_t per, size_t shared) {
    if (e->have_rt && per <= e->rt_scratch && shared <= e->rt_shared) return KILN_OK;
    if (e->have_rt) kiln_jit_rt_release(&e->rt);
    e->have_rt = 0;
    if (per < e->rt_scratch) per = e->rt_scratch;
    if (shared < e->rt_shared) shared = e->rt_shared;
    KILN_TRY(kiln_jit_rt_init(&e->rt, e->pool, per, shared));
    e->have_rt = 1;
    e->rt_inline = e->rt;
    e->rt_inline.pool = NULL;
    e->rt_inline.n_threads = 1;
    e->rt_scratch = per;
    e->rt_shared = shared;
    return KILN_OK;
}

void cpu_exec_gemm_scratch(const kiln_cpu_exec *e, size_t *per, size_t *shared) {
    const kiln_cpu_program *p = e->prog;
    *per = *shared = 0;
    for (int k = 0; k < p->nkernels; k++) {
        const cpu_kernel *ck = &p->kernels[k];
        if (!ck->gemm) continue;
        size_t a = kiln_gemm_scratch_bytes(p->target, &ck->desc), b = kiln_gemm_shared_bytes(p->target, &ck->desc);
        if (a > *per) *per = a;
        if (b > *shared) *shared = b;
    }
}

/* Per-thread scratch the kernels need for these symbol values. */
static kiln_status ensure_rt(kiln_cpu_exec *e, const int64_t *symvals) {
    kiln_cpu_program *p = e->prog;
    const kiln_graph *g = kiln_plan_graph(p->plan);
    size_t per = 0, shared = 0;
    cpu_exec_gemm_scratch(e, &per, &shared);
    for (int k = 0; k < p->nkernels; k++) {
        const kiln_kernel *kn = kiln_plan_kernel(p->plan, k);
        if (kn->kind != KILN_K_ATTENTION) continue;
        KILN_TRY(kiln_kernel_dims(kn, g, symvals, e->dims));
        size_t a = cg_attention_scratch(kn, e->dims);
        if (a > per) per = a;
    }
    return cpu_exec_reserve_rt(e, per, shared);
}

/* ---- a run ---- */

static kiln_status locate(kiln_cpu_exec *e, const kiln_bound_inputs *bi, const kiln_memplan *mp) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    int nt = kiln_plan_tensor_count(plan);
    for (int t = 0; t < nt; t++) {
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        void *data = NULL;
        switch (pt->kind) {
        case KILN_PT_INPUT: data = e->slot_of[t] >= 0 ? bi->tensors[e->slot_of[t]].data : NULL; break;
        case KILN_PT_PARAM: data = e->slot_of[t] >= 0 ? e->params.tensors[e->slot_of[t]].data : NULL; break;
        case KILN_PT_CONST: data = kiln_graph_node(g, pt->node)->value.data; break;
        case KILN_PT_INTERMEDIATE: data = e->arena + mp->offset[t]; break;
        case KILN_PT_OUTPUT: {
            if (e->dest[t]) {
                data = e->dest[t];
                break;
            }
            int64_t shape[KILN_MAX_RANK];
            KILN_TRY(kiln_shape_eval(g, &pt->shape, bi->symvals, shape));
            /* kernels write every element: no zeroing (the KV cache outputs of
             * a decode step are rewritten whole every token) */
            kiln_tensor o = kiln_tensor_view(pt->dtype, pt->shape.rank, shape, NULL);
            if (pt->shape.rank > KILN_MAX_RANK || o.nbytes > ((size_t)1 << 46))
                return kiln_error(KILN_ERR_LIMIT, "output '%s' of %zu bytes", pt->name ? pt->name : "?", o.nbytes);
            o.data = malloc(o.nbytes ? o.nbytes : 1);
            if (!o.data) return kiln_error(KILN_ERR_NOMEM, "out of memory for output '%s' (%zu bytes)", pt->name ? pt->name : "?", o.nbytes);
            o.owns_data = 1;
            e->outs[t] = o;
            data = o.data;
            break;
        }
        }
        e->ptrs[t] = data;
    }
    return KILN_OK;
}

kiln_status cpu_exec_launch(kiln_cpu_exec *e, int ki, const int64_t *dims, int aliased) {
    kiln_cpu_program *p = e->prog;
    const kiln_kernel *k = kiln_plan_kernel(p->plan, ki);
    const cpu_kernel *ck = &p->kernels[ki];
    /* extents must not be negative (strides and offsets may be: a slice
     * with a negative step walks backwards) */
    for (int i = 0; i < k->out_rank; i++)
        if (dims[k->out_extent[i]] < 0)
            return kiln_error(KILN_ERR_SHAPE, "kernel %d '%s': output extent %d is %lld", ki, k->name, i,
                              (long long)dims[k->out_extent[i]]);
    for (int v = 0; v < k->nviews; v++)
        for (int i = 0; i < k->views[v].rank; i++)
            if (dims[k->views[v].extent[i]] < 0)
                return kiln_error(KILN_ERR_SHAPE, "kernel %d '%s': view %d extent %d is %lld", ki, k->name, v, i,
                                  (long long)dims[k->views[v].extent[i]]);
    for (int i = 0; i < k->nbufs; i++) e->bufs[i] = e->ptrs[k->bufs[i].tensor];
    if (k->kind == KILN_K_ATTENTION) {
        int64_t H = dims[k->views[KILN_KV_Q].extent[1]], Hk = dims[k->views[KILN_KV_K].extent[1]];
        if (Hk <= 0 || H % Hk)
            return kiln_error(KILN_ERR_SHAPE, "kernel %d '%s': %lld heads for %lld kv heads", ki, k->name,
                              (long long)H, (long long)Hk);
    }
    double t0 = e->profile ? now() : 0;
    if (ck->gemm) {
        KILN_TRY(kiln_error_wrap(cpu_launch_gemm(e, k, ck, dims, aliased), "kernel %d '%s'", ki, k->name));
    } else {
        cg_args args = {e->bufs, dims, NULL, 0};
        ck->entry(&args, &e->rt);
    }
    if (e->profile) {
        e->prof_s[ki] += now() - t0;
        e->prof_n[ki]++;
    }
    return KILN_OK;
}

static kiln_status run_kernels(kiln_cpu_exec *e, const int64_t *symvals, const kiln_memplan *mp) {
    kiln_cpu_program *p = e->prog;
    const kiln_graph *g = kiln_plan_graph(p->plan);
    for (int ki = 0; ki < p->nkernels; ki++) {
        const kiln_kernel *k = kiln_plan_kernel(p->plan, ki);
        KILN_TRY(kiln_kernel_dims(k, g, symvals, e->dims));
        KILN_TRY(cpu_exec_launch(e, ki, e->dims, mp->inplace_of[k->bufs[k->out_buf].tensor] >= 0));
    }
    return KILN_OK;
}

static kiln_status collect(kiln_cpu_exec *e, const int64_t *symvals, kiln_tensor_map **outputs) {
    const kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    kiln_tensor_map *map = kiln_tensor_map_new();
    if (!map) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    int no = kiln_plan_output_count(plan);
    for (int i = 0; i < no && !s; i++) {
        int t = kiln_plan_output_tensor(plan, i), later = 0;
        for (int j = i + 1; j < no; j++) later |= kiln_plan_output_tensor(plan, j) == t;
        const kiln_ptensor *pt = kiln_plan_tensor(plan, t);
        kiln_tensor r;
        if (pt->kind == KILN_PT_OUTPUT && !later) {
            r = e->outs[t];
            memset(&e->outs[t], 0, sizeof e->outs[t]);
        } else {
            int64_t shape[KILN_MAX_RANK];
            s = kiln_shape_eval(g, &pt->shape, symvals, shape);
            kiln_tensor view = kiln_tensor_view(pt->dtype, pt->shape.rank, shape, e->ptrs[t]);
            if (!s) s = kiln_tensor_convert(&view, pt->dtype, &r);
        }
        if (!s) s = kiln_tensor_map_put(map, kiln_graph_output_name(g, i), r);
    }
    if (s) {
        kiln_tensor_map_free(map);
        return s;
    }
    kiln_tensor_map_set_origin(map, "cpu outputs");
    *outputs = map;
    return KILN_OK;
}

kiln_status cpu_exec_begin(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_bound_inputs *bi) {
    kiln_plan *plan = e->prog->plan;
    const kiln_graph *g = kiln_plan_graph(plan);
    KILN_TRY(kiln_bind_inputs(g, inputs, bi));
    const kiln_memplan *mp = NULL;
    kiln_status s = check_runtime(g, e->checks, e->nchecks, bi->symvals);
    if (!s) s = kiln_plan_memory(plan, bi->symvals, &mp);
    if (!s) s = cpu_grow((void **)&e->arena, &e->arena_cap, (size_t)mp->arena_bytes, KILN_ARENA_ALIGN);
    if (!s) {
        e->planned = mp->arena_bytes;
        e->unplanned = mp->unplanned_bytes;
        s = ensure_rt(e, bi->symvals);
    }
    if (!s && e->prepare) s = e->prepare(e, bi->symvals, e->prepare_ctx);
    if (!s) s = locate(e, bi, mp);
    if (!s) s = run_kernels(e, bi->symvals, mp);
    if (s) cpu_exec_end(e, bi);
    return s;
}

void cpu_exec_end(kiln_cpu_exec *e, kiln_bound_inputs *bi) {
    int nt = kiln_plan_tensor_count(e->prog->plan);
    for (int t = 0; t < nt; t++) kiln_tensor_release(&e->outs[t]);
    kiln_bound_inputs_free(bi);
}

kiln_status cpu_exec_check_runtime(kiln_cpu_exec *e, const int64_t *symvals) {
    return check_runtime(kiln_plan_graph(e->prog->plan), e->checks, e->nchecks, symvals);
}

void *cpu_exec_tensor_data(const kiln_cpu_exec *e, int t) { return e->ptrs[t]; }
void cpu_exec_set_dest(kiln_cpu_exec *e, int t, void *data) { e->dest[t] = data; }
void cpu_exec_set_prepare(kiln_cpu_exec *e, cpu_prepare_fn fn, void *ctx) {
    e->prepare = fn;
    e->prepare_ctx = ctx;
}
const kiln_cpu_program *cpu_exec_program(const kiln_cpu_exec *e) { return e->prog; }
void cpu_exec_count_run(kiln_cpu_exec *e) { e->runs++; }
struct cpu_step_state **cpu_exec_step_state(kiln_cpu_exec *e) { return &e->step; }

kiln_status kiln_cpu_exec_run(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    if (!e || !outputs) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_exec_run: NULL argument");
    *outputs = NULL;
    const kiln_graph *g = kiln_plan_graph(e->prog->plan);
    kiln_bound_inputs bi;
    kiln_status s = cpu_exec_begin(e, inputs, &bi);
    if (!s) {
        s = collect(e, bi.symvals, outputs);
        cpu_exec_end(e, &bi);
    }
    if (!s) e->runs++;
    return s ? kiln_error_wrap(s, "running graph '%s' on the cpu", kiln_graph_name(g)) : KILN_OK;
}

static const char *template_name(kiln_ktemplate t) {
    static const char *n[] = {"pointwise", "reduce", "row", "matmul", "attention"};
    return (unsigned)t <= KILN_K_ATTENTION ? n[t] : "?";
}

void kiln_cpu_exec_print_profile(kiln_cpu_exec *e, FILE *f) {
    if (!e || !f) return;
    kiln_cpu_program *p = e->prog;
    if (!e->profile) {
        fprintf(f, "kiln: no cpu profile (the session was created without profiling)\n");
        return;
    }
    double total = 0;
    for (int k = 0; k < p->nkernels; k++) total += e->prof_s[k];
    fprintf(f, "kiln: cpu profile over %d run(s), %d kernels (%d distinct), %.3f ms per run in kernels\n", e->runs,
            p->nkernels, p->ncode, e->runs ? total * 1e3 / e->runs : 0.0);
    fprintf(f, "  %4s  %-32s %-10s %7s %11s %10s %6s\n", "#", "kernel", "template", "calls", "total ms", "mean us",
            "share");
    for (int k = 0; k < p->nkernels; k++) {
        const kiln_kernel *kn = kiln_plan_kernel(p->plan, k);
        double ms = e->prof_s[k] * 1e3, mean = e->prof_n[k] ? e->prof_s[k] * 1e6 / (double)e->prof_n[k] : 0;
        fprintf(f, "  %4d  %-32.32s %-10s %7lld %11.3f %10.1f %5.1f%%\n", k, kn->name,
                template_name(kn->kind), (long long)e->prof_n[k], ms, mean, total > 0 ? 100.0 * e->prof_s[k] / total : 0.0);
    }
}

kiln_status kiln_cpu_run(const kiln_graph *g, const kiln_cpu_options *opt, const kiln_tensor_map *weights,
                         const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    *outputs = NULL;
    kiln_cpu_program *p = NULL;
    KILN_TRY(kiln_cpu_compile(g, opt, &p));
    kiln_cpu_exec *e = NULL;
    KILN_TRY(kiln_cpu_exec_create_owning(p, weights, opt, &e));
    kiln_status s = kiln_cpu_exec_run(e, inputs, outputs);
    kiln_cpu_exec_free(e);
    return s;
}
