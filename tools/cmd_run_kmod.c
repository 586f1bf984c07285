/* kiln run MODEL.kmod: load a module made by `kiln compile` (no LLVM
 * optimization at load) and run one forward pass. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "kiln/safetensors.h"
#include "kmod_run.h"
#ifdef KILN_WITH_LLVM
#include "kiln/cpu.h"
#endif

int kmod_is_module(const char *path) {
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".kmod") == 0) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == 8 && memcmp(magic, "KILNMOD", 8) == 0;
}

#ifdef KILN_WITH_LLVM
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_outputs(const kiln_tensor_map *outs) {
    for (int i = 0; i < kiln_tensor_map_count(outs); i++) {
        const kiln_tensor *t = kiln_tensor_map_at(outs, i);
        char shape[256];
        printf("%s: %s [", kiln_tensor_map_name(outs, i), kiln_tensor_shape_str(t, shape, sizeof shape));
        int64_t n = kiln_tensor_numel(t);
        for (int64_t k = 0; k < n && k < 6; k++) {
            if (kiln_dtype_is_float(t->dtype)) printf("%s%.6g", k ? ", " : "", kiln_load_f64(t->data, t->dtype, (size_t)k));
            else printf("%s%lld", k ? ", " : "", (long long)kiln_load_i64(t->data, t->dtype, (size_t)k));
        }
        printf("%s]\n", n > 6 ? ", ..." : "");
    }
}
#endif

int kmod_run(const char *path, const char *inputs_path, const char *out_path, const char *device, int threads,
             int profile, const char *weights_path, int nsets) {
#ifndef KILN_WITH_LLVM
    (void)inputs_path, (void)out_path, (void)device, (void)threads, (void)profile, (void)weights_path, (void)nsets;
    return fail("%s: this kiln was built without the CPU backend, which runs .kmod modules", path);
#else
    if (strcmp(device, "auto") != 0 && strcmp(device, "cpu") != 0)
        return fail("%s is a CPU module: run it with --device cpu (or auto), not '%s'", path, device);
    if (nsets) return fail("%s: --set changes a model's config, which a compiled module has fixed", path);
    double t0 = now_seconds();
    kiln_cpu_program *p = NULL;
    kiln_tensor_map *embedded = NULL, *file_weights = NULL, *inputs = NULL, *outputs = NULL;
    kiln_kmod_info info;
    kiln_cpu_exec *e = NULL;
    kiln_status s = kiln_kmod_load(path, &p, &embedded, &info);
    double t1 = now_seconds();
    if (!s && weights_path) s = kiln_safetensors_load(weights_path, &file_weights);
    if (!s && !weights_path && !embedded)
        s = kiln_error(KILN_ERR_NOT_FOUND, "%s has no embedded weights: pass --weights FILE (or compile with --embed-weights)",
                       path);
    if (!s && inputs_path) s = kiln_safetensors_load(inputs_path, &inputs);
    if (!s && !inputs) {
        inputs = kiln_tensor_map_new();
        if (!inputs) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    kiln_cpu_options co = {0};
    co.threads = threads;
    co.profile = profile;
    if (!s) {
        s = kiln_cpu_exec_create_owning(p, file_weights ? file_weights : embedded, &co, &e);
        p = NULL;
    }
    double t2 = now_seconds();
    if (!s) s = kiln_cpu_exec_run(e, inputs, &outputs);
    double t3 = now_seconds();
    if (!s && out_path) s = kiln_safetensors_save(out_path, outputs);
    if (!s) {
        if (out_path)
            fprintf(stderr, "kiln: %s on cpu: loaded in %.3f s (%d kernels, built for %s), bound in %.3f s, ran in %.3f s; "
                            "wrote %d output(s) to %s\n",
                    path, t1 - t0, info.kernels, info.cpu, t2 - t1, t3 - t2, kiln_tensor_map_count(outputs), out_path);
        else print_outputs(outputs);
        if (profile) kiln_cpu_exec_print_profile(e, stderr);
    }
    kiln_kmod_info_release(&info);
    kiln_cpu_exec_free(e);
    kiln_cpu_program_free(p);
    kiln_tensor_map_free(outputs);
    kiln_tensor_map_free(inputs);
    kiln_tensor_map_free(file_weights);
    kiln_tensor_map_free(embedded);
    return s ? fail_status(s) : 0;
#endif
}
