/* kiln_vk_graphs: the Vulkan backend on whole graphs, for GPU runs.
 *
 *   kiln_vk_graphs [--device vulkan:N] [--matmul N] [--gpt2 SEQ] [--reps R]
 *                  [--model FILE.kiln] [--layers L] [--trace FILE.json]
 *                  [--validation] [--no-cache]
 *
 *   1. matmul N x N x N through the generated kernels (the same code a
 *      model's matmul gets), fp32 and --precision fp16 (f16 storage, f32
 *      sums), B as [K, N] (NN) and as [N, K] (NT, how weights are stored):
 *      TFLOP/s from GPU timestamps (best of R runs), a few entries of C
 *      checked against double-precision dot products. N = 0 skips.
 *   2. GPT-2 124M (examples/gpt2.kiln, random weights) forward on 1 x SEQ
 *      tokens: host latency of a run (uploads, one submission, reading the
 *      logits back), GPU time, and the per-kernel profile, aggregated and
 *      for the first layer's dispatches. SEQ = 0 skips.
 * Times on lavapipe (a CPU) are smoke tests, not GPU numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/kiln.h"

#ifndef KILN_WITH_VULKAN
int main(void) {
    fprintf(stderr, "kiln_vk_graphs: kiln was built without Vulkan (KILN_WITH_VULKAN=OFF)\n");
    return 1;
}
#else
#include "backends/vulkan/vk_plan.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "."
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int failed(kiln_status s, const char *what) {
    fprintf(stderr, "kiln_vk_graphs: %s: %s\n", what, kiln_status_message(s));
    kiln_status_free(s);
    return 1;
}

typedef struct opts {
    const char *device, *model, *trace;
    int matmul, gpt2, reps, layers;
    kiln_vk_options vk;
} opts;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) { /* [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (float)((rng * 0x2545f4914f6cdd1dull) >> 40) / 8388608.0f - 1.0f;
}

static kiln_status random_tensor(kiln_dtype t, int rank, const int64_t *shape, float scale, kiln_tensor *out) {
    KILN_TRY(kiln_tensor_alloc(out, t, rank, shape));
    size_t n = (size_t)kiln_tensor_numel(out);
    for (size_t i = 0; i < n; i++) kiln_store_f64(out->data, t, i, uniform() * scale);
    return KILN_OK;
}

/* GPU microseconds of the last run's dispatches (all, or those named `name`). */
static double gpu_us(const kvk_session *s, const char *name) {
    double t = 0;
    for (int i = 0; i < s->nprof; i++)
        if (!name || strcmp(s->prof[i].name, name) == 0) t += s->prof[i].dur_us;
    return t;
}

static int bench_matmul(kiln_vk_device *dev, const opts *o) {
    int64_t n = o->matmul;
    printf("matmul %lld x %lld x %lld (%.1f GFLOP), best of %d runs, GPU timestamps\n", (long long)n, (long long)n,
           (long long)n, 2.0 * (double)n * n * n * 1e-9, o->reps);
    kiln_tensor a, b;
    int64_t sh[2] = {n, n};
    kiln_status st = random_tensor(KILN_F32, 2, sh, 1.0f, &a);
    if (!st) st = random_tensor(KILN_F32, 2, sh, 1.0f, &b);
    if (st) return failed(st, "random matrices");
    for (int nt = 0; nt < 2; nt++) {
        kiln_graph *g = kiln_graph_new("matmul");
        kiln_shape s2 = {2, {n, n}};
        kiln_value va, vb, y;
        kiln_named_attr tb = kiln_a_bool("trans_b", nt);
        st = kiln_graph_add_param(g, "a", KILN_F32, &s2, &va);
        if (!st) st = kiln_graph_add_param(g, "b", KILN_F32, &s2, &vb);
        if (!st) st = kiln_build(g, KILN_OP_MATMUL, 2, (kiln_value[]){va, vb}, nt, &tb, &y);
        if (!st) st = kiln_graph_add_output(g, "c", y);
        kiln_tensor_map *w = kiln_tensor_map_new();
        if (!st) st = kiln_tensor_map_put(w, "a", kiln_tensor_view(KILN_F32, 2, sh, a.data));
        if (!st) st = kiln_tensor_map_put(w, "b", kiln_tensor_view(KILN_F32, 2, sh, b.data));
        for (int h = 0; !st && h < 2; h++) {
            kiln_session_options so = {.device = {KILN_DEVICE_VULKAN, -1}, .profile = 1, .no_cache = o->vk.no_cache,
                                       .precision = h ? "fp16" : "fp32"};
            kvk_session *s = NULL;
            st = kvk_session_create(dev, g, w, &so, NULL, &s);
            double best = 1e30;
            kiln_tensor_map *out = NULL;
            for (int r = 0; !st && r <= o->reps; r++) {
                kiln_tensor_map_free(out);
                out = NULL;
                st = kvk_session_run(s, NULL, &out);
                if (!st && r > 0 && gpu_us(s, NULL) < best) best = gpu_us(s, NULL); /* run 0 warms up */
            }
            /* a few entries of C against double dot products */
            double worst = 0;
            const kiln_tensor *c = out ? kiln_tensor_map_get(out, "c") : NULL;
            for (int k = 0; !st && c && k < 16; k++) {
                int64_t i = (k * 7919) % n, j = (k * 104729 + 13) % n;
                double ref = 0, mag = 0;
                for (int64_t q = 0; q < n; q++) {
                    double x = ((float *)a.data)[i * n + q], yv = nt ? ((float *)b.data)[j * n + q] : ((float *)b.data)[q * n + j];
                    if (h) { /* fp16 rounds the operands */
                        x = kiln_f16_to_f32(kiln_f32_to_f16((float)x));
                        yv = kiln_f16_to_f32(kiln_f32_to_f16((float)yv));
                    }
                    ref += x * yv;
                    mag += fabs(x * yv);
                }
                double err = fabs(((float *)c->data)[i * n + j] - ref) / (mag + 1e-30);
                if (err > worst) worst = err;
            }
            if (!st)
                printf("  %-4s %s: %11.1f us  %8.3f TFLOP/s (%.1f GFLOP/s)  max error %.1e of sum |a*b|%s\n",
                       h ? "fp16" : "fp32", nt ? "NT" : "NN", best, 2.0 * (double)n * n * n / (best * 1e-6) * 1e-12,
                       2.0 * (double)n * n * n / (best * 1e-6) * 1e-9, worst, worst > 1e-4 ? ", WRONG" : "");
            kiln_tensor_map_free(out);
            kvk_session_destroy(s);
        }
        kiln_tensor_map_free(w);
        kiln_graph_free(g);
        if (st) break;
    }
    kiln_tensor_release(&a);
    kiln_tensor_release(&b);
    return st ? failed(st, "matmul") : 0;
}

/* Random weights for every parameter of g (scaled like GPT-2's init). */
static kiln_status random_weights(const kiln_graph *g, kiln_tensor_map **out) {
    kiln_tensor_map *w = kiln_tensor_map_new();
    if (!w) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status st = KILN_OK;
    for (int v = 0; !st && v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_PARAM) continue;
        int64_t shape[KILN_MAX_RANK];
        st = kiln_shape_eval(g, &n->shape, NULL, shape);
        kiln_tensor t;
        int is_norm = strstr(n->name, "ln_") != NULL;
        if (!st) st = random_tensor(n->dtype, n->shape.rank, shape, is_norm ? 1.0f : 0.02f, &t);
        if (!st && is_norm && strstr(n->name, ".weight"))
            for (int64_t i = 0; i < kiln_tensor_numel(&t); i++) ((float *)t.data)[i] = 1.0f;
        if (!st) st = kiln_tensor_map_put(w, n->name, t);
    }
    if (st) {
        kiln_tensor_map_free(w);
        return st;
    }
    *out = w;
    return KILN_OK;
}

static int bench_gpt2(kiln_vk_device *dev, const opts *o) {
    char layers[64];
    if (o->layers > 0) snprintf(layers, sizeof layers, "n_layer=%d", o->layers);
    else snprintf(layers, sizeof layers, "layers as described");
    const char *ov[1] = {layers};
    kiln_model_options mo = {NULL, ov, o->layers > 0};
    kiln_model *m = NULL;
    kiln_status st = kiln_model_load(o->model, &mo, &m);
    if (st) return failed(st, o->model);
    kiln_tensor_map *w = NULL, *in = kiln_tensor_map_new();
    st = random_weights(m->graph, &w);
    int64_t shape[2] = {1, o->gpt2};
    kiln_tensor ids;
    if (!st) st = kiln_tensor_alloc(&ids, KILN_I64, 2, shape);
    for (int64_t i = 0; !st && i < o->gpt2; i++) ((int64_t *)ids.data)[i] = (int64_t)((uniform() + 1) * 25000) % 50257;
    if (!st) st = kiln_tensor_map_put(in, "input_ids", ids);
    kiln_session_options so = {.device = {KILN_DEVICE_VULKAN, -1}, .profile = 1, .no_cache = o->vk.no_cache};
    kvk_session *s = NULL;
    double t0 = now_s();
    if (!st) st = kvk_session_create(dev, m->graph, w, &so, NULL, &s);
    double t1 = now_s();
    double best_wall = 1e30, best_gpu = 1e30, first = 0;
    for (int r = 0; !st && r <= o->reps; r++) {
        kiln_tensor_map *out = NULL;
        double a = now_s();
        st = kvk_session_run(s, in, &out);
        double wall = now_s() - a;
        if (r == 0) first = wall;
        else if (!st) {
            if (wall < best_wall) best_wall = wall;
            if (gpu_us(s, NULL) < best_gpu) best_gpu = gpu_us(s, NULL);
        }
        kiln_tensor_map_free(out);
    }
    if (!st) {
        printf("%s (%s, random weights) forward on 1 x %d tokens: session %.2f s, first run %.2f s (compiles)\n",
               m->name, layers, o->gpt2, t1 - t0, first);
        printf("  best of %d: %.2f ms per forward on the host clock, %.2f ms on the GPU (%d dispatches), %.0f tokens/s\n",
               o->reps, best_wall * 1e3, best_gpu * 1e-3, s->nprof, o->gpt2 / best_wall);
        printf("per-kernel profile of the last run:\n");
        kiln_vk_profile_print(s->prof, s->nprof, stdout);
        /* the first layer: from the first layer_norm to the dispatch before the second */
        printf("first layer, dispatch by dispatch:\n");
        int start = -1, lns = 0;
        for (int i = 0; i < s->nprof; i++) {
            int ln = strcmp(s->prof[i].name, "layer_norm") == 0;
            if (ln && ++lns == 3) break; /* ln_1 and ln_2 of layer 0, then layer 1's ln_1 */
            if (ln && start < 0) start = i;
            if (start >= 0) printf("  %-28s %10.1f us\n", s->prof[i].name, s->prof[i].dur_us);
        }
        if (o->trace) st = kiln_vk_trace_write(o->trace, s->prof, s->nprof);
    }
    kvk_session_destroy(s);
    kiln_tensor_map_free(in);
    kiln_tensor_map_free(w);
    kiln_model_free(m);
    return st ? failed(st, "gpt2") : 0;
}

static int usage(void) {
    fprintf(stderr, "usage: kiln_vk_graphs [--device vulkan:N] [--matmul N] [--gpt2 SEQ] [--reps R] [--model FILE.kiln]\n"
                    "                      [--layers L] [--trace FILE.json] [--validation] [--no-cache]\n");
    return 2;
}

int main(int argc, char **argv) {
    opts o = {.device = "vulkan", .model = KILN_SOURCE_DIR "/examples/gpt2.kiln", .matmul = 4096, .gpt2 = 1024, .reps = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--validation")) o.vk.validation = 1;
        else if (!strcmp(a, "--no-cache")) o.vk.no_cache = 1;
        else if (!v) return usage();
        else if (!strcmp(a, "--device")) o.device = v, i++;
        else if (!strcmp(a, "--model")) o.model = v, i++;
        else if (!strcmp(a, "--trace")) o.trace = v, i++;
        else if (!strcmp(a, "--matmul")) o.matmul = atoi(v), i++;
        else if (!strcmp(a, "--gpt2")) o.gpt2 = atoi(v), i++;
        else if (!strcmp(a, "--reps")) o.reps = atoi(v), i++;
        else if (!strcmp(a, "--layers")) o.layers = atoi(v), i++;
        else return usage();
    }
    if (o.reps < 1 || o.matmul < 0 || o.gpt2 < 0) return usage();
    kiln_vk_device *dev = NULL;
    kiln_status st = kiln_vk_open(&o.vk, o.device, &dev);
    if (st) return failed(st, "opening the device");
    const kiln_vk_device_info *info = kiln_vk_device_get_info(dev);
    printf("kiln_vk_graphs on %s (%s, %s)%s\n", info->name, kiln_vk_device_type_name(info->type), info->driver_info,
           info->type == KILN_VK_TYPE_CPU ? ": a CPU implementation, numbers are smoke tests only" : "");
    int rc = 0;
    if (o.matmul > 0) rc |= bench_matmul(dev, &o);
    if (o.gpt2 > 0) rc |= bench_gpt2(dev, &o);
    uint64_t msgs = kiln_vk_validation_messages(kiln_vk_device_instance(dev));
    kiln_vk_device_close(dev);
    if (msgs) fprintf(stderr, "kiln_vk_graphs: %llu validation message(s)\n", (unsigned long long)msgs), rc = 1;
    return rc;
}
#endif
