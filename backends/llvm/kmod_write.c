/* Writing .kmod files (kmod_format.h): compile the graph for the target CPU
 * (the host unless --cpu/--features say otherwise), emit the module as an
 * object, and store it with the plan and, when asked, the weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_internal.h"
#include "kiln/runtime.h"
#include "kiln/safetensors.h"
#include "kmod_format.h"

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} buf;

static unsigned char *reserve(buf *b, size_t n) {
    if (b->oom) return NULL;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return NULL;
        }
        b->p = q;
        b->cap = cap;
    }
    unsigned char *r = b->p + b->n;
    b->n += n;
    return r;
}
static void put(buf *b, const void *v, size_t n) {
    unsigned char *p = reserve(b, n);
    if (p && n) memcpy(p, v, n);
}
static void put_u32(buf *b, uint32_t v) {
    unsigned char *p = reserve(b, 4);
    if (p) kmod_put_u32(p, v);
}
static void put_u64(buf *b, uint64_t v) {
    unsigned char *p = reserve(b, 8);
    if (p) kmod_put_u64(p, v);
}
static void put_str(buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void record(buf *out, uint32_t tag, const void *payload, size_t n) {
    put_u32(out, tag);
    put_u32(out, 0);
    put_u64(out, n);
    put_u64(out, kmod_hash(payload, n));
    put(out, payload, n);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The graph's parameters (converted to the graph's dtypes, as bound) as a
 * safetensors image. */
static kiln_status weights_image(const kiln_graph *g, const kiln_tensor_map *weights, const char *path, buf *out) {
    kiln_bound_params bp;
    KILN_TRY(kiln_bind_params(g, weights, &bp));
    kiln_tensor_map *m = kiln_tensor_map_new();
    kiln_status s = m ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < bp.count && !s; i++) {
        const kiln_tensor *t = &bp.tensors[i];
        s = kiln_tensor_map_put(m, kiln_graph_node(g, bp.nodes[i])->name,
                                kiln_tensor_view(t->dtype, t->rank, t->shape, t->data));
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.weights.%ld.tmp", path, (long)getpid());
    if (!s) s = kiln_safetensors_save(tmp, m);
    if (!s) {
        FILE *f = fopen(tmp, "rb");
        if (!f) s = kiln_error(KILN_ERR_IO, "%s: cannot read back the weights", tmp);
        long len = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        if (f && !s && len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            unsigned char *p = reserve(out, (size_t)len);
            if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) s = kiln_error(KILN_ERR_IO, "%s: reading the weights back", tmp);
        } else if (f && !s) {
            s = kiln_error(KILN_ERR_IO, "%s: reading the weights back", tmp);
        }
        if (f) fclose(f);
    }
    remove(tmp);
    kiln_tensor_map_free(m);
    kiln_bound_params_free(&bp);
    return s;
}

static kiln_status plan_payload(const kiln_cpu_program *p, buf *b) {
    put_u32(b, (uint32_t)p->nkernels);
    put_u32(b, (uint32_t)p->ncode);
    for (int i = 0; i < p->nkernels; i++) {
        const kiln_kernel *k = kiln_plan_kernel(p->plan, i);
        put_u32(b, (uint32_t)p->kernels[i].code);
        put_u32(b, (uint32_t)k->kind);
        put_u64(b, p->kernels[i].fingerprint);
        put_str(b, k->name);
    }
    char *text = NULL;
    KILN_TRY(kiln_graph_to_string(kiln_plan_graph(p->plan), &text));
    put_u64(b, strlen(text));
    put(b, text, strlen(text));
    free(text);
    return b->oom ? kiln_error(KILN_ERR_NOMEM, "out of memory") : KILN_OK;
}

static kiln_status write_file(const char *path, const buf *b) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot create the module file", path);
    int ok = fwrite(b->p, 1, b->n, f) == b->n;
    ok &= fclose(f) == 0;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) {
        remove(tmp);
        return kiln_error(KILN_ERR_IO, "%s: writing the module failed", path);
    }
    return KILN_OK;
}

kiln_status cpu_kmod_store(const char *path, const kiln_cpu_program *p, const kiln_llvm_object *obj,
                           const kiln_tensor_map *weights) {
    buf out = {0}, pl = {0}, w = {0}, tg = {0};
    kiln_status s = plan_payload(p, &pl);
    if (!s && weights) s = weights_image(kiln_plan_graph(p->plan), weights, path, &w);
    if (!s) {
        put(&out, KMOD_MAGIC, 8);
        put_u32(&out, KMOD_FORMAT);
        record(&out, KMOD_VERS, KILN_VERSION, strlen(KILN_VERSION));
        put(&tg, obj->triple, strlen(obj->triple) + 1);
        put(&tg, obj->cpu, strlen(obj->cpu) + 1);
        put(&tg, obj->features, strlen(obj->features));
        record(&out, KMOD_TRGT, tg.p, tg.n);
        record(&out, KMOD_OBJ, obj->data, obj->size);
        record(&out, KMOD_PLAN, pl.p, pl.n);
        if (weights) {
            /* pad so the weights start 64-byte aligned in the file: loaded
             * tensors are then views of the file's bytes, not copies */
            static const unsigned char zeros[64];
            size_t pad = (64 - (out.n + 2 * KMOD_RECORD_HEADER) % 64) % 64;
            record(&out, KMOD_TAG('P', 'A', 'D', ' '), zeros, pad);
            record(&out, KMOD_WGHT, w.p, w.n);
        }
        record(&out, KMOD_END, "", 0);
        s = out.oom || tg.oom ? kiln_error(KILN_ERR_NOMEM, "out of memory") : write_file(path, &out);
    }
    free(out.p);
    free(pl.p);
    free(w.p);
    free(tg.p);
    return s;
}

kiln_status kiln_kmod_write(const char *path, const kiln_graph *g, const kiln_tensor_map *weights,
                            const kiln_cpu_options *opt, kiln_cpu_timings *timings) {
    if (!path || !g) return kiln_error(KILN_ERR_INVALID, "kiln_kmod_write: NULL argument");
    double t0 = now();
    kiln_plan *plan = NULL;
    kiln_plan_options po = {NULL, 0, 0};
    KILN_TRY(kiln_plan_compile(g, &po, &plan));
    double t1 = now();
    kiln_cpu_program *p = NULL;
    KILN_TRY(cpu_program_new(plan, opt, &p));
    p->timings.plan = t1 - t0;
    kiln_llvm_object obj;
    kiln_status s = cpu_emit_object(p, &obj);
    if (!s) s = cpu_kmod_store(path, p, &obj, weights);
    p->timings.total = now() - t0;
    if (timings) *timings = p->timings;
    kiln_llvm_object_release(&obj);
    kiln_cpu_program_free(p);
    return s ? kiln_error_wrap(s, "writing %s", path) : KILN_OK;
}
