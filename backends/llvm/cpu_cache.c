/* The on-disk cache of compiled CPU programs (kiln/cpu.h): .kmod entries
 * without weights, named by a hash of everything the code depends on. */
#include <dirent.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "cpu_internal.h"
#include "kmod_format.h"

#define CACHE_MAX_BYTES ((int64_t)512 << 20)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Two independent 64-bit FNV-1a streams: a 128-bit key. */
typedef struct hash128 {
    uint64_t a, b;
} hash128;

static void hash_bytes(hash128 *h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * UINT64_C(1099511628211);
        h->b = (h->b ^ p[i] ^ 0x5c) * UINT64_C(0x100000001b3f);
    }
}

/* A string with its length, so that fields cannot run into each other. */
static void hash_str(hash128 *h, const char *s) {
    uint64_t n = s ? strlen(s) : 0;
    hash_bytes(h, &n, sizeof n);
    if (n) hash_bytes(h, s, (size_t)n);
}

typedef struct build_note {
    const void *id;
    size_t len;
} build_note;

/* The GNU build id of the main executable (the first object listed). */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    build_note *bn = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof *nh, *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 && nh->n_descsz) {
                bn->id = desc;
                bn->len = nh->n_descsz;
                return 1;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* only the first object: the executable */
}

/* What identifies this build of kiln's code generator and the machine it
 * builds for, computed once per process: the executable's build id (else a
 * hash of its bytes: kiln is linked into it) and the host's triple, CPU
 * name and features. */
static hash128 identity;
static int identity_ok;
static pthread_once_t identity_once = PTHREAD_ONCE_INIT;

static void find_identity(void) {
    hash128 b = {0, 0};
    build_note bn = {NULL, 0};
    dl_iterate_phdr(find_build_id, &bn);
    if (bn.id) {
        hash_str(&b, "build-id");
        hash_bytes(&b, bn.id, bn.len);
    } else {
        FILE *f = fopen("/proc/self/exe", "rb");
        if (!f) return;
        unsigned char chunk[1 << 16];
        size_t n;
        hash_str(&b, "exe");
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hash_bytes(&b, chunk, n);
        fclose(f);
    }
    kiln_llvm_target *host = NULL;
    kiln_status s = kiln_llvm_target_host(&host);
    if (s) {
        kiln_status_free(s);
        return;
    }
    hash_str(&b, host->triple);
    hash_str(&b, host->cpu);
    hash_str(&b, host->features);
    kiln_llvm_target_free(host);
    identity = b;
    identity_ok = 1;
}

static kiln_status hash_identity(hash128 *h) {
    pthread_once(&identity_once, find_identity);
    if (!identity_ok) return kiln_error(KILN_ERR_IO, "cpu cache: cannot identify this build or the host CPU");
    hash_bytes(h, &identity, sizeof identity);
    return KILN_OK;
}

static kiln_status cache_dir(const char *dir, char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (dir && *dir) n = snprintf(buf, cap, "%s", dir);
    else if (xdg && *xdg) n = snprintf(buf, cap, "%s/kiln/cpu", xdg);
    else if (home && *home) n = snprintf(buf, cap, "%s/.cache/kiln/cpu", home);
    else return kiln_error(KILN_ERR_NOT_FOUND, "cpu cache: no cache directory (neither XDG_CACHE_HOME nor HOME is set)");
    if (n < 0 || (size_t)n >= cap) return kiln_error(KILN_ERR_LIMIT, "cpu cache: directory path is too long");
    return KILN_OK;
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

kiln_status kiln_cpu_cache_path(const kiln_graph *g, const kiln_cpu_options *opt, const char *dir, char *buf,
                                size_t cap) {
    if (!g || !buf || cap == 0) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_cache_path: NULL argument");
    char d[4096];
    KILN_TRY(cache_dir(dir, d, sizeof d));
    hash128 h = {UINT64_C(1469598103934665603), UINT64_C(0x9E3779B97F4A7C15)};
    hash_str(&h, "kiln cpu cache 1");
    hash_str(&h, KILN_VERSION);
    KILN_TRY(hash_identity(&h));
    int64_t no_fusion = opt ? opt->no_fusion : 0;
    hash_bytes(&h, &no_fusion, sizeof no_fusion);
    char *text = NULL;
    KILN_TRY(kiln_graph_to_string(g, &text));
    hash_str(&h, text);
    free(text);
    int n = snprintf(buf, cap, "%s/%016llx%016llx.kmod", d, (unsigned long long)h.a, (unsigned long long)h.b);
    if (n < 0 || (size_t)n >= cap) return kiln_error(KILN_ERR_LIMIT, "cpu cache: path is too long");
    return KILN_OK;
}

typedef struct entry {
    char name[64];
    time_t mtime;
    int64_t bytes;
} entry;

static int by_age(const void *a, const void *b) {
    const entry *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Drops the least recently used entries while the directory holds more
 * than CACHE_MAX_BYTES (hits refresh an entry's time). */
static void prune(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    entry *list = NULL;
    size_t n = 0, cap = 0;
    int64_t total = 0;
    struct dirent *de;
    char path[4200];
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || len >= sizeof list->name || strcmp(de->d_name + len - 5, ".kmod") != 0) continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            entry *p = realloc(list, cap * sizeof *p);
            if (!p) break;
            list = p;
        }
        memcpy(list[n].name, de->d_name, len + 1); /* len fits: checked above */
        list[n].mtime = st.st_mtime;
        list[n].bytes = (int64_t)st.st_size;
        total += list[n].bytes;
        n++;
    }
    closedir(d);
    if (total > CACHE_MAX_BYTES) {
        qsort(list, n, sizeof *list, by_age);
        for (size_t i = 0; i < n && total > CACHE_MAX_BYTES; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
            if (remove(path) == 0) total -= list[i].bytes;
        }
    }
    free(list);
}

/* Graphs with constant shapes and little work (single-op tests) compile in
 * milliseconds the quick way (kiln_cpu_compile): caching them would only
 * fill the directory. The same measure as the quick compile: output
 * elements, reduced elements or multiply-adds, summed over kernels. */
static int small_static_plan(const kiln_plan *plan) {
    int64_t work = 0;
    for (int i = 0; i < kiln_plan_kernel_count(plan); i++) {
        const kiln_kernel *k = kiln_plan_kernel(plan, i);
        for (int d = 0; d < k->ndims; d++)
            if (!kiln_dim_is_const(k->dims[d]) || k->dims[d] > ((int64_t)1 << 20)) return 0;
        int64_t n = 1;
        for (int d = 0; d < k->out_rank; d++) n *= k->dims[k->out_extent[d]];
        if (k->kind == KILN_K_MATMUL || k->kind == KILN_K_ATTENTION || k->kind == KILN_K_REDUCE) {
            const kiln_kview *v = &k->views[k->kind == KILN_K_ATTENTION ? KILN_KV_K : 0];
            n *= k->dims[v->extent[v->rank - 1]];
        }
        work += n;
        if (work > ((int64_t)1 << 20)) return 0;
    }
    return 1;
}

/* Compiles g for the host through an object, which is stored at path
 * (when not NULL) and then linked. */
static kiln_status compile_and_store(const kiln_graph *g, const kiln_cpu_options *opt, const char *path,
                                     kiln_cpu_program **out, int *stored) {
    *stored = 0;
    double t0 = now();
    kiln_plan_options po = {.no_fusion = opt ? opt->no_fusion : 0};
    kiln_plan *plan = NULL;
    KILN_TRY(kiln_plan_compile(g, &po, &plan));
    if (small_static_plan(plan)) {
        kiln_plan_free(plan);
        return kiln_cpu_compile(g, opt, out);
    }
    double t1 = now();
    kiln_cpu_program *p = NULL;
    KILN_TRY(cpu_program_new(plan, NULL, &p));
    p->timings.plan = t1 - t0;
    kiln_llvm_object obj;
    kiln_status s = cpu_emit_object(p, &obj);
    double t2 = now();
    if (!s && path) {
        kiln_status w = cpu_kmod_store(path, p, &obj, NULL);
        *stored = !w;
        kiln_status_free(w); /* an unwritable cache is only a miss */
    }
    if (!s) s = kiln_llvm_jit_create(p->target, &p->jit);
    if (!s) s = kiln_llvm_jit_add_object(p->jit, &obj);
    if (!s) s = cpu_bind_symbols(p);
    kiln_llvm_object_release(&obj);
    p->timings.jit += now() - t2; /* storing and linking, after the object's emission */
    p->timings.total = now() - t0;
    if (s) {
        kiln_cpu_program_free(p);
        return kiln_error_wrap(s, "compiling graph '%s' for the CPU", kiln_graph_name(g));
    }
    *out = p;
    return KILN_OK;
}

kiln_status kiln_cpu_compile_cached(const kiln_graph *g, const kiln_cpu_options *opt, const char *dir, int no_cache,
                                    kiln_cpu_program **out, kiln_cpu_cache_result *result) {
    if (!g || !out) return kiln_error(KILN_ERR_INVALID, "kiln_cpu_compile_cached: NULL argument");
    *out = NULL;
    if (result) *result = KILN_CPU_CACHE_OFF;
    char path[4200], d[4096];
    kiln_status s = no_cache ? KILN_OK : kiln_cpu_cache_path(g, opt, dir, path, sizeof path);
    if (no_cache || s || cache_dir(dir, d, sizeof d) != KILN_OK || mkdir_p(d) != 0) {
        kiln_status_free(s); /* no cache to be had: compile as usual */
        return kiln_cpu_compile(g, opt, out);
    }
    int stale = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        kiln_cpu_program *p = NULL;
        s = kiln_kmod_load(path, &p, NULL, NULL);
        if (!s) {
            utime(path, NULL); /* recently used */
            if (result) *result = KILN_CPU_CACHE_HIT;
            *out = p;
            return KILN_OK;
        }
        kiln_status_free(s);
        stale = 1;
    }
    int stored = 0;
    KILN_TRY(compile_and_store(g, opt, path, out, &stored));
    if (stored) prune(d);
    if (result) *result = stale ? KILN_CPU_CACHE_STALE : stored ? KILN_CPU_CACHE_MISS : KILN_CPU_CACHE_OFF;
    return KILN_OK;
}
