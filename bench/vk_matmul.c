/* kiln_vk_bench: GFLOP/s of the Vulkan tiled fp32 matmul.
 *
 *   kiln_vk_bench [--device vulkan:N] [--sizes 1024,2048,4096] [--layout nn|nt|both]
 *                 [--seconds S] [--no-cache] [--validation] [--trace FILE.json]
 *
 * Each size runs once to compile and warm up, then enough back-to-back
 * dispatches in one command buffer to fill about S seconds (default 1).
 * Times come from GPU timestamps when the device has them, else from the
 * host clock around the submission. A few entries of C are checked against
 * a double-precision dot product so a fast wrong kernel cannot pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/vulkan.h"

#ifndef KILN_WITH_VULKAN
int main(void) {
    fprintf(stderr, "kiln_vk_bench: kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)\n");
    return 1;
}
#else

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(kiln_status s) {
    fprintf(stderr, "kiln_vk_bench: error: %s\n", kiln_status_message(s));
    kiln_status_free(s);
    return 1;
}

#define TRY(x)                        \
    do {                              \
        kiln_status s_ = (x);         \
        if (s_) return fail(s_);      \
    } while (0)

typedef struct bench_opts {
    const char *device, *trace;
    uint32_t sizes[16];
    int nsizes, sizes_given;
    int layouts[2], nlayouts;
    double seconds;
    kiln_vk_options vk;
} bench_opts;

static int usage(void) {
    fprintf(stderr, "usage: kiln_vk_bench [--device vulkan:N] [--sizes 1024,2048,4096] [--layout nn|nt|both]\n"
                    "                     [--seconds S] [--no-cache] [--validation] [--trace FILE.json]\n");
    return 2;
}

static int parse(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->device = "vulkan";
    o->seconds = 1.0;
    o->sizes[0] = 1024, o->sizes[1] = 2048, o->sizes[2] = 4096, o->nsizes = 3;
    o->layouts[0] = KILN_VK_MATMUL_NN, o->layouts[1] = KILN_VK_MATMUL_NT, o->nlayouts = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-cache") == 0) o->vk.no_cache = 1;
        else if (strcmp(a, "--validation") == 0) o->vk.validation = 1;
        else if (!v) return usage();
        else if (strcmp(a, "--device") == 0) o->device = v, i++;
        else if (strcmp(a, "--trace") == 0) o->trace = v, i++;
        else if (strcmp(a, "--seconds") == 0) o->seconds = atof(v), i++;
        else if (strcmp(a, "--layout") == 0) {
            i++;
            if (strcmp(v, "nn") == 0) o->layouts[0] = KILN_VK_MATMUL_NN, o->nlayouts = 1;
            else if (strcmp(v, "nt") == 0) o->layouts[0] = KILN_VK_MATMUL_NT, o->nlayouts = 1;
            else if (strcmp(v, "both") != 0) return usage();
        } else if (strcmp(a, "--sizes") == 0) {
            i++;
            o->nsizes = 0;
            o->sizes_given = 1;
            for (char *p = (char *)v; *p && o->nsizes < 16;) {
                long n = strtol(p, &p, 10);
                if (n <= 0 || n > 65536) return usage();
                o->sizes[o->nsizes++] = (uint32_t)n;
                if (*p == ',') p++;
                else if (*p) return usage();
            }
        } else return usage();
    }
    return o->seconds > 0 && o->nsizes > 0 ? 0 : usage();
}

/* Runs `iters` matmuls in one command buffer; returns seconds per matmul. */
static kiln_status run(kiln_vk_device *dev, const kiln_vk_matmul_args *args, int iters, const char *trace,
                       double *per_iter) {
    const kiln_vk_device_info *info = kiln_vk_device_get_info(dev);
    kiln_vk_recorder *r;
    KILN_TRY(kiln_vk_recorder_create(dev, info->timestamps ? KILN_VK_REC_PROFILE : 0, &r));
    kiln_status s = KILN_OK;
    for (int i = 0; i < iters && !s; i++) s = kiln_vk_record_matmul(r, args);
    double t0 = now_s();
    if (!s) s = kiln_vk_recorder_submit(r);
    double host = now_s() - t0;
    if (!s) {
        *per_iter = host / iters;
        const kiln_vk_profile_entry *e;
        int n;
        if (info->timestamps && !kiln_vk_recorder_profile(r, &e, &n) && n > 0) {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += e[i].dur_us;
            *per_iter = sum * 1e-6 / n;
            if (trace) s = kiln_vk_trace_write(trace, e, n);
        }
    }
    kiln_vk_recorder_destroy(r);
    return s;
}

/* The largest |C - reference| over sampled entries, relative to the bound
 * K * 2^-23 * sum |a||b| on fp32 dot-product error. */
static double check_samples(const float *a, const float *b, const float *c, uint32_t m, uint32_t n, uint32_t k, int nt) {
    double worst = 0;
    for (int s = 0; s < 16; s++) {
        uint32_t i = (uint32_t)((s * 7919u) % m), j = (uint32_t)((s * 104729u) % n);
        double ref = 0, mag = 0;
        for (uint32_t l = 0; l < k; l++) {
            double bv = nt ? b[(size_t)j * k + l] : b[(size_t)l * n + j];
            ref += (double)a[(size_t)i * k + l] * bv;
            mag += fabs((double)a[(size_t)i * k + l] * bv);
        }
        double bound = (double)k * ldexp(1.0, -23) * mag + 1e-30;
        double r = fabs(c[(size_t)i * n + j] - ref) / bound;
        if (r > worst) worst = r;
    }
    return worst;
}

int main(int argc, char **argv) {
    bench_opts o;
    if (parse(argc, argv, &o)) return 2;
    kiln_vk_device *dev;
    TRY(kiln_vk_open(&o.vk, o.device, &dev));
    const kiln_vk_device_info *info = kiln_vk_device_get_info(dev);
    printf("device: %s (%s, subgroup %u, %u KiB shared)\n", info->name, kiln_vk_device_type_name(info->type),
           info->subgroup_size, info->max_shared_memory / 1024);
    if (info->type == KILN_VK_TYPE_CPU) {
        printf("note: a CPU Vulkan device; these numbers are a smoke test only\n");
        if (!o.sizes_given) { /* 4096^3 would take many minutes here */
            o.sizes[0] = 256, o.sizes[1] = 512, o.sizes[2] = 1024;
            printf("note: default sizes reduced to 256, 512, 1024 (--sizes overrides)\n");
        }
    }
    printf("%-6s %6s %6s %6s  %-14s %10s %10s %8s\n", "layout", "M", "N", "K", "tile", "ms", "GFLOP/s", "err/bound");
    int rc = 0;
    for (int si = 0; si < o.nsizes && !rc; si++) {
        uint32_t sz = o.sizes[si];
        size_t elems = (size_t)sz * sz, bytes = elems * 4;
        float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
        if (!a || !b || !c) {
            fprintf(stderr, "kiln_vk_bench: out of host memory for %u^3\n", sz);
            return 1;
        }
        srand(1234);
        for (size_t i = 0; i < elems; i++) {
            a[i] = (float)rand() / RAND_MAX - 0.5f;
            b[i] = (float)rand() / RAND_MAX - 0.5f;
        }
        kiln_vk_buffer *ba, *bb, *bc;
        TRY(kiln_vk_buffer_create(dev, bytes, "A", &ba));
        TRY(kiln_vk_buffer_create(dev, bytes, "B", &bb));
        TRY(kiln_vk_buffer_create(dev, bytes, "C", &bc));
        TRY(kiln_vk_buffer_write(ba, 0, a, bytes));
        TRY(kiln_vk_buffer_write(bb, 0, b, bytes));
        for (int li = 0; li < o.nlayouts; li++) {
            kiln_vk_matmul_args args = {
                .a = {ba, 0, 0, KILN_VK_READ}, .b = {bb, 0, 0, KILN_VK_READ}, .c = {bc, 0, 0, KILN_VK_WRITE},
                .batch = 1, .m = sz, .n = sz, .k = sz, .layout = (kiln_vk_matmul_layout)o.layouts[li],
            };
            kiln_vk_matmul_config cfg = kiln_vk_matmul_pick(info, 1, sz, sz, sz);
            double t1;
            TRY(run(dev, &args, 1, NULL, &t1)); /* compile, warm up */
            int iters = (int)(o.seconds / (t1 > 1e-6 ? t1 : 1e-6));
            iters = iters < 1 ? 1 : iters > 200 ? 200 : iters;
            double t;
            TRY(run(dev, &args, iters, o.trace, &t));
            TRY(kiln_vk_buffer_read(bc, 0, c, bytes));
            double err = check_samples(a, b, c, sz, sz, sz, o.layouts[li] == KILN_VK_MATMUL_NT);
            char tile[32];
            snprintf(tile, sizeof tile, "%ux%ux%u/%ux%u", cfg.bm, cfg.bn, cfg.bk, cfg.tm, cfg.tn);
            printf("%-6s %6u %6u %6u  %-14s %10.3f %10.1f %8.3f%s\n", o.layouts[li] ? "NT" : "NN", sz, sz, sz, tile,
                   t * 1e3, 2.0 * sz * sz * (double)sz / t * 1e-9, err, err > 1 ? "  WRONG" : "");
            fflush(stdout);
            if (err > 1) rc = 1;
        }
        kiln_vk_buffer_destroy(ba);
        kiln_vk_buffer_destroy(bb);
        kiln_vk_buffer_destroy(bc);
        free(a);
        free(b);
        free(c);
    }
    uint64_t msgs = kiln_vk_validation_messages(kiln_vk_device_instance(dev));
    kiln_vk_device_close(dev);
    if (msgs) {
        fprintf(stderr, "kiln_vk_bench: %llu validation message(s)\n", (unsigned long long)msgs);
        rc = 1;
    }
    return rc;
}
#endif
