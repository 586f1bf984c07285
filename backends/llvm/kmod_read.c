/* Loading .kmod files (kmod_format.h). Every length is checked against what
 * is left of the file and every record against its checksum before it is
 * used; the kiln version and the CPU features are checked before any code
 * is linked; the plan is rebuilt from the stored graph without passes and
 * must give exactly the kernels the object was made from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_internal.h"
#include "kiln/safetensors.h"
#include "kmod_format.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct span {
    const unsigned char *p;
    uint64_t n;
    int present;
} span;

typedef struct kmod {
    const char *path;
    unsigned char *data;
    size_t size;
    span vers, trgt, obj, plan, wght;
} kmod;

static kiln_status read_all(const char *path, unsigned char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot open", path);
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return kiln_error(KILN_ERR_IO, "%s: cannot read", path);
    }
    unsigned char *p = malloc((size_t)len + 1);
    if (!p) {
        fclose(f);
        return kiln_error(KILN_ERR_NOMEM, "%s: out of memory for %ld bytes", path, len);
    }
    size_t got = fread(p, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(p);
        return kiln_error(KILN_ERR_IO, "%s: read %zu of %ld bytes", path, got, len);
    }
    *data = p;
    *size = (size_t)len;
    return KILN_OK;
}

static const char *tag_name(uint32_t tag, char *buf) {
    for (int i = 0; i < 4; i++) {
        char ch = (char)(tag >> (8 * i));
        buf[i] = ch >= 32 && ch < 127 ? ch : '?';
    }
    buf[4] = 0;
    return buf;
}

static kiln_status check_version(const kmod *m) {
    const char *want = KILN_VERSION;
    if (m->vers.n != strlen(want) || memcmp(m->vers.p, want, m->vers.n) != 0) {
        char got[64];
        size_t n = m->vers.n < sizeof got - 1 ? (size_t)m->vers.n : sizeof got - 1;
        for (size_t i = 0; i < n; i++) got[i] = m->vers.p[i] >= 32 && m->vers.p[i] < 127 ? (char)m->vers.p[i] : '?';
        got[n] = 0;
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s was built by kiln %s; this is kiln %s (compile the model again with 'kiln compile')",
                          m->path, got, want);
    }
    return KILN_OK;
}

static kiln_status parse_records(kmod *m) {
    const unsigned char *d = m->data;
    size_t size = m->size;
    if (size < 12 || memcmp(d, KMOD_MAGIC, 8) != 0)
        return kiln_error(KILN_ERR_FORMAT, "%s: not a kiln module (no KILNMOD header)", m->path);
    uint32_t fmt = kmod_u32(d + 8);
    if (fmt != KMOD_FORMAT)
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: module format %u; this kiln (%s) reads format %d", m->path, fmt,
                          KILN_VERSION, KMOD_FORMAT);
    size_t pos = 12;
    int ended = 0;
    for (int i = 0; !ended; i++) {
        char tn[5];
        if (size - pos < KMOD_RECORD_HEADER)
            return kiln_error(KILN_ERR_FORMAT, "%s: truncated (record %d at byte %zu: %zu bytes left)", m->path, i, pos,
                              size - pos);
        uint32_t tag = kmod_u32(d + pos);
        uint64_t len = kmod_u64(d + pos + 8), hash = kmod_u64(d + pos + 16);
        pos += KMOD_RECORD_HEADER;
        if (kmod_u32(d + pos - 20) != 0 || len > size - pos)
            return kiln_error(KILN_ERR_FORMAT, "%s: truncated or corrupt (record %s at byte %zu claims %llu bytes, %zu left)",
                              m->path, tag_name(tag, tn), pos - KMOD_RECORD_HEADER, (unsigned long long)len, size - pos);
        if (kmod_hash(d + pos, (size_t)len) != hash)
            return kiln_error(KILN_ERR_FORMAT, "%s: record %s (byte %zu) is corrupt: checksum mismatch", m->path,
                              tag_name(tag, tn), pos - KMOD_RECORD_HEADER);
        span sp = {d + pos, len, 1};
        span *slot = NULL;
        if (i == 0 && tag != KMOD_VERS) return kiln_error(KILN_ERR_FORMAT, "%s: the first record is not VERS", m->path);
        switch (tag) {
        case KMOD_VERS: slot = &m->vers; break;
        case KMOD_TRGT: slot = &m->trgt; break;
        case KMOD_OBJ: slot = &m->obj; break;
        case KMOD_PLAN: slot = &m->plan; break;
        case KMOD_WGHT: slot = &m->wght; break;
        case KMOD_END: ended = 1; break;
        default: break; /* padding and records of later minor versions */
        }
        if (slot) {
            if (slot->present) return kiln_error(KILN_ERR_FORMAT, "%s: record %s appears twice", m->path, tag_name(tag, tn));
            *slot = sp;
        }
        if (tag == KMOD_VERS) KILN_TRY(check_version(m));
        pos += (size_t)len;
    }
    if (pos != size) return kiln_error(KILN_ERR_FORMAT, "%s: %zu bytes after the END record", m->path, size - pos);
    if (!m->trgt.present || !m->obj.present || !m->plan.present)
        return kiln_error(KILN_ERR_FORMAT, "%s: missing the %s record", m->path,
                          !m->trgt.present ? "TRGT" : !m->obj.present ? "OBJ" : "PLAN");
    return KILN_OK;
}

/* triple \0 cpu \0 features */
static kiln_status parse_target(const kmod *m, char **triple, char **cpu, char **features) {
    const char *p = (const char *)m->trgt.p;
    size_t n = (size_t)m->trgt.n;
    const char *z1 = memchr(p, 0, n);
    const char *z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - p)) : NULL;
    if (!z2) return kiln_error(KILN_ERR_FORMAT, "%s: malformed TRGT record", m->path);
    *triple = strndup(p, (size_t)(z1 - p));
    *cpu = strndup(z1 + 1, (size_t)(z2 - z1 - 1));
    *features = strndup(z2 + 1, n - (size_t)(z2 + 1 - p));
    if (!*triple || !*cpu || !*features) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    return KILN_OK;
}

typedef struct krec {
    uint32_t code, kind;
    uint64_t fingerprint;
} krec;

typedef struct reader {
    const unsigned char *p;
    uint64_t n, pos;
    int bad;
} reader;

static uint32_t rd_u32(reader *r) {
    if (r->bad || r->n - r->pos < 4) return r->bad = 1, 0;
    uint32_t v = kmod_u32(r->p + r->pos);
    r->pos += 4;
    return v;
}
static uint64_t rd_u64(reader *r) {
    if (r->bad || r->n - r->pos < 8) return r->bad = 1, 0;
    uint64_t v = kmod_u64(r->p + r->pos);
    r->pos += 8;
    return v;
}
static const unsigned char *rd_bytes(reader *r, uint64_t n) {
    if (r->bad || r->n - r->pos < n) return r->bad = 1, NULL;
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* Rebuilds the plan from the stored graph and checks it against the
 * kernel records. */
static kiln_status load_plan(const kmod *m, kiln_plan **out, krec **recs, uint32_t *nk, uint32_t *ncode) {
    reader r = {m->plan.p, m->plan.n, 0, 0};
    *nk = rd_u32(&r);
    *ncode = rd_u32(&r);
    if (r.bad || *nk > r.n / 20 || *ncode > *nk)
        return kiln_error(KILN_ERR_FORMAT, "%s: malformed PLAN record (kernel count)", m->path);
    *recs = calloc((size_t)*nk + 1, sizeof **recs);
    if (!*recs) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < *nk && !r.bad; i++) {
        (*recs)[i].code = rd_u32(&r);
        (*recs)[i].kind = rd_u32(&r);
        (*recs)[i].fingerprint = rd_u64(&r);
        uint32_t len = rd_u32(&r);
        rd_bytes(&r, len);
        if ((*recs)[i].code >= *ncode) r.bad = 1;
    }
    uint64_t glen = rd_u64(&r);
    const unsigned char *gtext = rd_bytes(&r, glen);
    if (r.bad || r.pos != r.n) return kiln_error(KILN_ERR_FORMAT, "%s: malformed PLAN record", m->path);
    char *text = malloc((size_t)glen + 1);
    if (!text) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    memcpy(text, gtext, (size_t)glen);
    text[glen] = 0;
    kiln_graph *g = NULL;
    kiln_status s = kiln_graph_parse(text, m->path, &g);
    free(text);
    if (s) return kiln_error_wrap(s, "%s: the stored graph", m->path);
    kiln_plan_options po = {NULL, 1, 0}; /* already optimized */
    s = kiln_plan_compile(g, &po, out);
    kiln_graph_free(g);
    return s ? kiln_error_wrap(s, "%s: rebuilding the plan", m->path) : KILN_OK;
}

static kiln_status check_kernels(const kmod *m, const kiln_cpu_program *p, const krec *recs, uint32_t nk, uint32_t ncode) {
    if ((uint32_t)p->nkernels != nk || (uint32_t)p->ncode != ncode)
        return kiln_error(KILN_ERR_FORMAT, "%s: the stored graph gives %d kernels (%d distinct), the object has %u (%u)",
                          m->path, p->nkernels, p->ncode, nk, ncode);
    for (int i = 0; i < p->nkernels; i++) {
        const kiln_kernel *k = kiln_plan_kernel(p->plan, i);
        if (recs[i].code != (uint32_t)p->kernels[i].code || recs[i].kind != (uint32_t)k->kind ||
            recs[i].fingerprint != p->kernels[i].fingerprint)
            return kiln_error(KILN_ERR_FORMAT, "%s: kernel %d '%s' of the stored graph is not the one the object was built from",
                              m->path, i, k->name);
    }
    return KILN_OK;
}

static void free_buffer(void *p) { free(p); }

kiln_status kiln_kmod_load(const char *path, kiln_cpu_program **out, kiln_tensor_map **weights, kiln_kmod_info *info) {
    if (!path || !out) return kiln_error(KILN_ERR_INVALID, "kiln_kmod_load: NULL argument");
    *out = NULL;
    if (weights) *weights = NULL;
    if (info) memset(info, 0, sizeof *info);
    double t0 = now();
    kmod m;
    memset(&m, 0, sizeof m);
    m.path = path;
    KILN_TRY(read_all(path, &m.data, &m.size));
    char *triple = NULL, *cpu = NULL, *features = NULL;
    kiln_llvm_object obj;
    memset(&obj, 0, sizeof obj);
    krec *recs = NULL;
    uint32_t nk = 0, ncode = 0;
    kiln_plan *plan = NULL;
    kiln_cpu_program *p = NULL;
    kiln_tensor_map *w = NULL;
    kiln_status s = parse_records(&m);
    if (!s) s = parse_target(&m, &triple, &cpu, &features);
    if (!s) s = kiln_llvm_object_from_bytes(m.obj.p, (size_t)m.obj.n, triple, cpu, features, &obj);
    if (!s) s = kiln_error_wrap(kiln_llvm_object_check_cpu(&obj, NULL), "%s", path);
    if (!s) s = load_plan(&m, &plan, &recs, &nk, &ncode);
    if (!s) {
        s = cpu_program_new(plan, NULL, &p); /* takes the plan */
        plan = NULL;
    }
    if (!s) s = check_kernels(&m, p, recs, nk, ncode);
    double t1 = now();
    if (!s) s = kiln_llvm_jit_create(p->target, &p->jit);
    if (!s) s = kiln_llvm_jit_add_object(p->jit, &obj);
    if (!s) s = cpu_bind_symbols(p);
    if (!s) {
        p->timings.jit = now() - t1;
        p->timings.total = now() - t0;
    }
    if (!s && m.wght.present && weights) {
        s = kiln_safetensors_load_memory(m.wght.p, (size_t)m.wght.n, path, &w);
        if (!s) {
            s = kiln_tensor_map_hold(w, m.data, free_buffer);
            if (!s) m.data = NULL; /* the map owns the bytes now */
        }
    }
    if (!s && info) {
        snprintf(info->kiln_version, sizeof info->kiln_version, "%s", KILN_VERSION);
        snprintf(info->triple, sizeof info->triple, "%s", triple);
        snprintf(info->cpu, sizeof info->cpu, "%s", cpu);
        info->features = features;
        features = NULL;
        info->has_weights = m.wght.present;
        info->kernels = p->nkernels;
        info->unique = p->ncode;
        info->object_bytes = (size_t)m.obj.n;
        info->plan_bytes = (size_t)m.plan.n;
        info->weight_bytes = (size_t)m.wght.n;
        info->load_seconds = now() - t0;
    }
    free(triple);
    free(cpu);
    free(features);
    free(recs);
    kiln_llvm_object_release(&obj);
    kiln_plan_free(plan);
    free(m.data);
    if (s) {
        kiln_tensor_map_free(w);
        kiln_cpu_program_free(p);
        return s;
    }
    if (weights) *weights = w;
    *out = p;
    return KILN_OK;
}

void kiln_kmod_info_release(kiln_kmod_info *info) {
    if (!info) return;
    free(info->features);
    info->features = NULL;
}
