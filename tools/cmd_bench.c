/* kiln bench: model benchmarks (programs, not tests).
 *   kiln bench forward MODEL   one forward pass, timed over several runs, on
 *                              random token ids (random weights when the
 *                              model has none, e.g. examples/gpt2.kiln: the
 *                              GPT-2 124M shape)
 *   kiln bench compile MODEL.. compile time per model for the CPU, split by
 *                              stage, and the .kmod load time beside it */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "kiln/plan.h"
#include "kiln/session.h"
#include "model_args.h"
#ifdef KILN_WITH_LLVM
#include "kiln/cpu.h"
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* "batch=1,seq=128" -> symbol values (unnamed symbols: 1, past: 0). */
static kiln_status parse_shape(const kiln_graph *g, const char *text, int64_t *symvals) {
    int n = kiln_graph_symbol_count(g);
    for (int i = 0; i < n; i++) {
        const char *name = kiln_graph_symbol_name(g, i);
        symvals[i] = strcmp(name, "past") == 0 ? 0 : strcmp(name, "seq") == 0 ? 128 : 1;
    }
    const char *p = text;
    while (p && *p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end) return kiln_error(KILN_ERR_INVALID, "--shape: expected SYM=N at '%s'", p);
        char name[64];
        size_t len = (size_t)(eq - p) < sizeof name - 1 ? (size_t)(eq - p) : sizeof name - 1;
        memcpy(name, p, len);
        name[len] = 0;
        int id = kiln_graph_symbol_find(g, name);
        if (id < 0) return kiln_error(KILN_ERR_NOT_FOUND, "--shape: the model has no symbol '%s'", name);
        char *stop;
        long long v = strtoll(eq + 1, &stop, 10);
        if (stop != end || v < 0) return kiln_error(KILN_ERR_INVALID, "--shape: bad value for '%s'", name);
        symvals[id] = v;
        p = *end ? end + 1 : end;
    }
    return KILN_OK;
}

/* Random token ids (below 100, valid for any vocabulary) for every integer
 * input named *ids (other inputs take their defaults). */
static kiln_status make_inputs(const kiln_graph *g, const int64_t *symvals, kiln_tensor_map **out) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    uint64_t st = 12345;
    kiln_status s = KILN_OK;
    for (int i = 0; i < kiln_graph_input_count(g) && !s; i++) {
        const kiln_node *n = kiln_graph_node(g, kiln_graph_input_value(g, i));
        if (!strstr(n->name, "ids") || strstr(n->name, "type") || kiln_dtype_is_float(n->dtype)) continue;
        int64_t shape[KILN_MAX_RANK];
        kiln_tensor t;
        s = kiln_shape_eval(g, &n->shape, symvals, shape);
        if (!s) s = kiln_tensor_alloc(&t, n->dtype, n->shape.rank, shape);
        for (int64_t k = 0; !s && k < kiln_tensor_numel(&t); k++)
            kiln_store_i64(t.data, t.dtype, (size_t)k, (int64_t)(next(&st) % 100));
        if (!s) s = kiln_tensor_map_put(m, n->name, t);
    }
    if (s) kiln_tensor_map_free(m);
    else *out = m;
    return s;
}

/* Uniform in [-0.05, 0.05) for every parameter (std ~0.03, GPT-2's init
 * scale): activations stay finite through any depth. */
static kiln_status random_weights(const kiln_graph *g, kiln_tensor_map **out) {
    kiln_tensor_map *m = kiln_tensor_map_new();
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    uint64_t st = 777;
    kiln_status s = KILN_OK;
    for (int v = 0; v < kiln_graph_node_count(g) && !s; v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_PARAM) continue;
        int64_t shape[KILN_MAX_RANK];
        kiln_tensor t;
        s = kiln_shape_eval(g, &n->shape, NULL, shape);
        if (!s) s = kiln_tensor_alloc(&t, n->dtype, n->shape.rank, shape);
        if (s) break;
        int64_t cnt = kiln_tensor_numel(&t);
        if (n->dtype == KILN_F32)
            for (int64_t k = 0; k < cnt; k++) ((float *)t.data)[k] = (float)((double)(next(&st) >> 11) / 9007199254740992.0 * 0.1 - 0.05);
        s = kiln_tensor_map_put(m, n->name, t);
    }
    if (s) kiln_tensor_map_free(m);
    else *out = m;
    return s;
}

/* Multiply-adds of the matmul and attention kernels (dense, 2 flops each). */
static double model_flops(const kiln_graph *g, const int64_t *symvals) {
    kiln_plan *p = NULL;
    kiln_status s = kiln_plan_compile(g, NULL, &p);
    if (s) {
        kiln_status_free(s);
        return 0;
    }
    const kiln_graph *pg = kiln_plan_graph(p);
    double flops = 0;
    int64_t d[256];
    for (int i = 0; i < kiln_plan_kernel_count(p); i++) {
        const kiln_kernel *k = kiln_plan_kernel(p, i);
        if (k->ndims > 256 || kiln_kernel_dims(k, pg, symvals, d)) continue;
        if (k->kind == KILN_K_MATMUL) {
            double f = 2.0 * (double)d[k->views[KILN_KV_A].extent[k->out_rank - 1]];
            for (int r = 0; r < k->out_rank; r++) f *= (double)d[k->out_extent[r]];
            flops += f;
        } else if (k->kind == KILN_K_ATTENTION) {
            const int32_t *q = k->views[KILN_KV_Q].extent;
            double T = (double)d[k->views[KILN_KV_K].extent[2]], Dv = (double)d[k->views[KILN_KV_V].extent[3]];
            flops += 2.0 * (double)d[q[0]] * (double)d[q[1]] * (double)d[q[2]] * T * ((double)d[q[3]] + Dv);
        }
    }
    kiln_plan_free(p);
    return flops;
}

static int bench_forward(int argc, char **argv) {
    model_args ma = {0};
    const char *shape = "", *device = "cpu";
    long runs = 10, warmup = 2, threads = 0;
    int profile = 0, random = 0;
    const opt_spec opts[] = {
        {"shape", 0, OPT_STRING, &shape, "SYM=N,...", "symbol values (default seq=128, past=0, others 1)"},
        {"device", 'd', OPT_STRING, &device, "DEV", "cpu (default), ref, vulkan, ..."},
        {"runs", 'r', OPT_INT, &runs, "N", "timed runs (default 10)"},
        {"warmup", 0, OPT_INT, &warmup, "N", "untimed runs first (default 2)"},
        {"threads", 't', OPT_INT, &threads, "N", "CPU worker threads (default: all cores)"},
        {"random-weights", 0, OPT_FLAG, &random, NULL, "random weights even when the model has its own"},
        {"profile", 0, OPT_FLAG, &profile, NULL, "print the per-kernel profile (warm-up runs included)"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "bench forward", "MODEL [--shape batch=1,seq=128] [options]",
        "Time one forward pass of MODEL on random token ids.",
        "A model without weights (a .kiln description) gets random ones, so\n"
        "  kiln bench forward examples/gpt2.kiln --shape batch=1,seq=128\n"
        "times the GPT-2 124M shape (12 layers, 768 wide, 12 heads, vocab 50257).\n"
        "Reports compile time, mean and best time per forward, tokens/s and the GFLOP/s of the\n"
        "matmul and attention work (dense count).",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (runs < 1 || warmup < 0) return fail("--runs must be >= 1 and --warmup >= 0");
    kiln_session_options so = {{KILN_DEVICE_CPU, -1}, (int)threads, profile, 0, NULL};
    kiln_status s = kiln_device_parse(device, &so.device);
    if (s) return fail_status(s);
    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    int64_t symvals[64];
    kiln_tensor_map *inputs = NULL, *weights = NULL, *outputs = NULL;
    kiln_session *sess = NULL;
    if (kiln_graph_symbol_count(m->graph) > 64) s = kiln_error(KILN_ERR_LIMIT, "more than 64 symbols");
    if (!s) s = parse_shape(m->graph, shape, symvals);
    if (!s) s = make_inputs(m->graph, symvals, &inputs);
    if (!s && (random || !m->weights)) s = random_weights(m->graph, &weights);
    double t0 = now_seconds();
    if (!s) s = kiln_session_create(m->graph, weights ? weights : m->weights, &so, &sess);
    double t1 = now_seconds();
    for (long i = 0; i < warmup && !s; i++) {
        s = kiln_session_run(sess, inputs, &outputs);
        kiln_tensor_map_free(outputs);
        outputs = NULL;
    }
    double best = INFINITY, total = 0;
    for (long i = 0; i < runs && !s; i++) {
        double a = now_seconds();
        s = kiln_session_run(sess, inputs, &outputs);
        double b = now_seconds() - a;
        kiln_tensor_map_free(outputs);
        outputs = NULL;
        total += b;
        if (b < best) best = b;
    }
    if (!s) {
        int64_t tokens = 1;
        for (int i = 0; i < kiln_graph_symbol_count(m->graph); i++) {
            const char *nm = kiln_graph_symbol_name(m->graph, i);
            if (strcmp(nm, "batch") == 0 || strcmp(nm, "seq") == 0) tokens *= symvals[i];
        }
        double mean = total / (double)runs, flops = model_flops(m->graph, symvals);
        printf("%s on %s (%s): compiled in %.3f s\n", m->name, kiln_device_name(so.device.kind), shape[0] ? shape : "seq=128",
               t1 - t0);
        printf("  forward: mean %.2f ms, best %.2f ms over %ld runs (%ld warm-up); %.0f tokens/s\n", mean * 1e3,
               best * 1e3, runs, warmup, (double)tokens / mean);
        if (flops > 0)
            printf("  matmul+attention: %.2f GFLOP per forward, %.1f GFLOP/s (best run)\n", flops * 1e-9,
                   flops * 1e-9 / best);
        if (profile) kiln_session_print_profile(sess, stdout);
    }
    kiln_session_free(sess);
    kiln_tensor_map_free(inputs);
    kiln_tensor_map_free(weights);
    kiln_model_free(m);
    return s ? fail_status(s) : 0;
}

static int bench_compile(int argc, char **argv) {
    model_args ma = {0};
    const opt_spec opts[] = {MODEL_ARGS_OPTS(ma), {0}};
    const command_spec spec = {
        "bench compile", "MODEL... [--set NAME=VALUE]",
        "Compile each MODEL for the CPU and report where the time goes, and the time to load the same code from a .kmod.",
        "Stages: plan (passes, fusion, lowering), codegen (LLVM IR), optimize (verify + default<O3>),\n"
        "machine code (LLJIT code generation). The .kmod is written to a temporary file and loaded back.",
        opts, 1, 16};
    const char *pos[16];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
#ifndef KILN_WITH_LLVM
    return fail("this kiln was built without the CPU backend (configure with -DKILN_WITH_LLVM=ON)");
#else
    printf("%-24s %7s %6s %8s %8s %9s %9s %9s %9s\n", "model", "kernels", "codes", "plan s", "codegen", "optimize",
           "machine", "total s", "kmod load");
    int rc = 0;
    for (int i = 0; i < npos; i++) {
        kiln_model *m = load_model(pos[i], &ma);
        if (!m) {
            rc = 1;
            continue;
        }
        kiln_cpu_program *p = NULL;
        kiln_status s = kiln_cpu_compile(m->graph, NULL, &p);
        char tmp[256];
        snprintf(tmp, sizeof tmp, "/tmp/kiln-bench-%ld.kmod", (long)getpid());
        kiln_kmod_info info;
        memset(&info, 0, sizeof info);
        if (!s) s = kiln_kmod_write(tmp, m->graph, NULL, NULL, NULL);
        kiln_cpu_program *q = NULL;
        if (!s) s = kiln_kmod_load(tmp, &q, NULL, &info);
        remove(tmp);
        if (s) {
            fail_status(s);
            rc = 1;
        } else {
            const kiln_cpu_timings *t = kiln_cpu_program_timings(p);
            printf("%-24.24s %7d %6d %8.3f %8.3f %9.3f %9.3f %9.3f %9.4f\n", m->name, t->kernels, t->unique, t->plan,
                   t->codegen, t->optimize, t->jit, t->total, info.load_seconds);
        }
        kiln_kmod_info_release(&info);
        kiln_cpu_program_free(q);
        kiln_cpu_program_free(p);
        kiln_model_free(m);
    }
    return rc;
#endif
}

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "forward") == 0) return bench_forward(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "compile") == 0) return bench_compile(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? stdout : stderr;
    fprintf(f, "usage: kiln bench forward MODEL [options]   time a forward pass (random ids; random weights if none)\n"
               "       kiln bench compile MODEL...          CPU compile time per model, and .kmod load time\n"
               "Run 'kiln bench SUBCOMMAND --help' for options. Decode speed: 'kiln generate' prints tokens/s.\n");
    return f == stdout ? 0 : 2;
}
