/* Memory planning: liveness over the kernel schedule, best-fit offsets in
 * one arena, in-place reuse (kiln/plan.h). Plans are cached per symbol
 * binding. */
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

void memplan_release(kiln_memplan *m) {
    free(m->offset);
    free(m->bytes);
    free(m->inplace_of);
    memset(m, 0, sizeof *m);
}

kiln_status plan_tensor_bytes(const kiln_plan *p, int t, const int64_t *symvals, int64_t *out) {
    const kiln_ptensor *pt = &p->tensors[t];
    int64_t shape[KILN_MAX_RANK];
    kiln_status s = kiln_shape_eval(p->graph, &pt->shape, symvals, shape);
    if (s) return kiln_error_wrap(s, "tensor t%d (%%%d)", t, (int)pt->node);
    uint64_t bytes = kiln_dtype_size(pt->dtype);
    for (int i = 0; i < pt->shape.rank; i++)
        if (__builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes) || bytes > (UINT64_C(1) << 52))
            return kiln_error(KILN_ERR_LIMIT, "tensor t%d (%%%d) is too large", t, (int)pt->node);
    *out = (int64_t)bytes;
    return KILN_OK;
}

static int64_t align_up(int64_t n) { return (n + KILN_ARENA_ALIGN - 1) / KILN_ARENA_ALIGN * KILN_ARENA_ALIGN; }

/* Free blocks, sorted by offset, coalesced. */
typedef struct freelist {
    int64_t *off, *size;
    int n, cap;
    int64_t top; /* arena size so far */
} freelist;

static int fl_insert(freelist *fl, int64_t off, int64_t size) {
    if (fl->n == fl->cap) {
        int cap = fl->cap ? 2 * fl->cap : 16;
        int64_t *o = realloc(fl->off, (size_t)cap * sizeof *o);
        if (!o) return 0;
        fl->off = o;
        int64_t *s = realloc(fl->size, (size_t)cap * sizeof *s);
        if (!s) return 0;
        fl->size = s;
        fl->cap = cap;
    }
    int i = 0;
    while (i < fl->n && fl->off[i] < off) i++;
    memmove(&fl->off[i + 1], &fl->off[i], (size_t)(fl->n - i) * sizeof *fl->off);
    memmove(&fl->size[i + 1], &fl->size[i], (size_t)(fl->n - i) * sizeof *fl->size);
    fl->off[i] = off;
    fl->size[i] = size;
    fl->n++;
    /* merge with the next, then the previous neighbour */
    if (i + 1 < fl->n && fl->off[i] + fl->size[i] == fl->off[i + 1]) {
        fl->size[i] += fl->size[i + 1];
        memmove(&fl->off[i + 1], &fl->off[i + 2], (size_t)(fl->n - i - 2) * sizeof *fl->off);
        memmove(&fl->size[i + 1], &fl->size[i + 2], (size_t)(fl->n - i - 2) * sizeof *fl->size);
        fl->n--;
    }
    if (i > 0 && fl->off[i - 1] + fl->size[i - 1] == fl->off[i]) {
        fl->size[i - 1] += fl->size[i];
        memmove(&fl->off[i], &fl->off[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->off);
        memmove(&fl->size[i], &fl->size[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->size);
        fl->n--;
    }
    return 1;
}

static void fl_remove(freelist *fl, int i) {
    memmove(&fl->off[i], &fl->off[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->off);
    memmove(&fl->size[i], &fl->size[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->size);
    fl->n--;
}

/* Best fit: the smallest free block that holds size; else grow the arena
 * (from a free block at its end, when there is one). */
static int64_t fl_alloc(freelist *fl, int64_t size) {
    int best = -1;
    for (int i = 0; i < fl->n; i++)
        if (fl->size[i] >= size && (best < 0 || fl->size[i] < fl->size[best])) best = i;
    if (best >= 0) {
        int64_t off = fl->off[best];
        fl->off[best] += size;
        fl->size[best] -= size;
        if (fl->size[best] == 0) fl_remove(fl, best);
        return off;
    }
    if (fl->n && fl->off[fl->n - 1] + fl->size[fl->n - 1] == fl->top) {
        int64_t off = fl->off[fl->n - 1];
        fl_remove(fl, fl->n - 1);
        fl->top = off + size;
        return off;
    }
    int64_t off = fl->top;
    fl->top += size;
    return off;
}

static int in_arena(const kiln_plan *p, int t) { return p->tensors[t].kind == KILN_PT_INTERMEDIATE; }

/* The input of kernel k whose memory its output may take over, or -1. */
static int inplace_candidate(const kiln_plan *p, const kiln_memplan *m, int k, int out, const char *taken) {
    const kiln_kernel *kn = &p->kernels[k];
    for (int s = 0; s < kn->nbufs; s++) {
        int t = kn->bufs[s].tensor;
        if (t == out || !kn->bufs[s].same_index_as_output || !in_arena(p, t) || taken[t]) continue;
        if (p->tensors[t].last_use != k || m->bytes[t] != m->bytes[out] || m->bytes[t] == 0) continue;
        if (kiln_dtype_size(p->tensors[t].dtype) != kiln_dtype_size(p->tensors[out].dtype)) continue;
        return t;
    }
    return -1;
}

static kiln_status plan(kiln_plan *p, const int64_t *symvals, kiln_memplan *m) {
    int nt = p->ntensors;
    m->ntensors = nt;
    m->offset = malloc(((size_t)nt + 1) * sizeof *m->offset);
    m->bytes = calloc((size_t)nt + 1, sizeof *m->bytes);
    m->inplace_of = malloc(((size_t)nt + 1) * sizeof *m->inplace_of);
    char *taken = calloc((size_t)nt + 1, 1);
    freelist fl;
    memset(&fl, 0, sizeof fl);
    kiln_status s = !m->offset || !m->bytes || !m->inplace_of || !taken ? kiln_error(KILN_ERR_NOMEM, "out of memory") : KILN_OK;
    for (int t = 0; !s && t < nt; t++) {
        m->offset[t] = -1;
        m->inplace_of[t] = -1;
        s = plan_tensor_bytes(p, t, symvals, &m->bytes[t]);
        if (!s && in_arena(p, t)) m->unplanned_bytes += align_up(m->bytes[t]);
    }
    for (int k = 0; !s && k < p->nkernels; k++) {
        const kiln_kernel *kn = &p->kernels[k];
        int out = kn->bufs[kn->out_buf].tensor;
        if (in_arena(p, out) && m->bytes[out] > 0) {
            int u = inplace_candidate(p, m, k, out, taken);
            if (u >= 0) {
                m->offset[out] = m->offset[u];
                m->inplace_of[out] = u;
                taken[u] = 1; /* its block now belongs to out */
                m->ninplace++;
            } else {
                m->offset[out] = fl_alloc(&fl, align_up(m->bytes[out]));
            }
        } else if (in_arena(p, out)) {
            m->offset[out] = 0;
        }
        /* blocks of tensors whose last reader (or unread producer) is k */
        for (int sl = 0; sl < kn->nbufs && !s; sl++) {
            int t = kn->bufs[sl].tensor;
            if (!in_arena(p, t) || p->tensors[t].last_use != k || taken[t] || m->bytes[t] == 0) continue;
            int dup = 0;
            for (int j = 0; j < sl; j++) dup |= kn->bufs[j].tensor == t;
            if (dup) continue;
            if (!fl_insert(&fl, m->offset[t], align_up(m->bytes[t]))) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        }
    }
    m->arena_bytes = fl.top;
    free(fl.off);
    free(fl.size);
    free(taken);
    if (s) memplan_release(m);
    return s;
}

kiln_status kiln_plan_memory(kiln_plan *p, const int64_t *symvals, const kiln_memplan **out) {
    *out = NULL;
    int ns = kiln_graph_symbol_count(p->graph);
    if (ns && !symvals) return kiln_error(KILN_ERR_INVALID, "memory planning needs values for the graph's %d symbols", ns);
    for (int i = 0; i < PLAN_CACHE; i++)
        if (p->cache[i].symvals && (ns == 0 || memcmp(p->cache[i].symvals, symvals, (size_t)ns * sizeof *symvals) == 0)) {
            *out = &p->cache[i].mp;
            return KILN_OK;
        }
    plan_cached *c = &p->cache[p->next_cache];
    p->next_cache = (p->next_cache + 1) % PLAN_CACHE;
    free(c->symvals);
    memplan_release(&c->mp);
    c->symvals = malloc(((size_t)ns + 1) * sizeof *c->symvals);
    if (!c->symvals) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (ns) memcpy(c->symvals, symvals, (size_t)ns * sizeof *symvals);
    kiln_status s = plan(p, symvals, &c->mp);
    if (s) {
        free(c->symvals);
        c->symvals = NULL;
        return s;
    }
    *out = &c->mp;
    return KILN_OK;
}
