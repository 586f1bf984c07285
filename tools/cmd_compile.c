/* kiln compile: a model compiled ahead of time for the CPU into a .kmod
 * module (object code + plan [+ weights]), or, without -o, compiled in
 * process with the JIT to report where compile time goes. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "model_args.h"
#ifdef KILN_WITH_LLVM
#include "kiln/cpu.h"
#endif

#ifdef KILN_WITH_LLVM
static void print_timings(const char *what, const kiln_cpu_timings *t) {
    fprintf(stderr,
            "kiln: %s: %d kernels (%d distinct) in %.3f s: plan %.3f s, codegen %.3f s, optimize %.3f s, %s %.3f s\n",
            what, t->kernels, t->unique, t->total, t->plan, t->codegen, t->optimize, "machine code", t->jit);
}
#endif

int cmd_compile(int argc, char **argv) {
    model_args ma = {0};
    const char *out_path = NULL, *device = "cpu", *cpu = NULL, *features = NULL;
    int embed = 0;
    const opt_spec opts[] = {
        {"out", 'o', OPT_STRING, &out_path, "FILE", "write the module here (.kmod); without it, compile and report times"},
        {"device", 'd', OPT_STRING, &device, "DEV", "cpu (the only device with ahead-of-time modules)"},
        {"embed-weights", 0, OPT_FLAG, &embed, NULL, "store the weights in the module"},
        {"cpu", 0, OPT_STRING, &cpu, "NAME", "build for another CPU than the host, tuned for NAME (e.g. znver3)"},
        {"features", 0, OPT_STRING, &features, "LIST", "with --cpu: the features the code may use (e.g. +avx2,+fma)"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "compile", "MODEL --device cpu -o OUT.kmod [--embed-weights] [options]",
        "Compile MODEL ahead of time for the CPU into a module that 'kiln run' loads without compiling.",
        "The module holds the kernels' object code for the target CPU (the host's name and features\n"
        "unless --cpu/--features say otherwise), the plan (the optimized graph, kernels, input and\n"
        "output names, weight names and shapes) and, with --embed-weights, the weights. Without\n"
        "embedded weights, run it with --weights FILE (safetensors named like the model's weights).\n"
        "A module is refused by another kiln version and by a CPU that lacks the features it needs.\n"
        "With --cpu the code uses the architecture's baseline plus exactly --features (a CPU name\n"
        "implies more features than can be checked at load), scheduled for NAME.\n\n"
        "example:\n  kiln compile ../shared/fixtures/hf/gpt2-tiny --device cpu -o gpt2.kmod --embed-weights\n"
        "  kiln run gpt2.kmod --inputs in.safetensors --out out.safetensors",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (strcmp(device, "cpu") != 0)
        return fail("kiln compile makes modules for --device cpu only (got '%s'); other devices compile at 'kiln run'",
                    device);
    if (features && !cpu) return fail("--features needs --cpu (the host's CPU takes the host's features)");
#ifndef KILN_WITH_LLVM
    (void)embed;
    (void)ma;
    return fail("this kiln was built without the CPU backend (configure with -DKILN_WITH_LLVM=ON)");
#else
    if (embed && !out_path) return fail("--embed-weights needs -o FILE");
    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    kiln_cpu_options co = {0};
    co.cpu = cpu;
    co.features = features;
    kiln_cpu_timings t;
    kiln_status s;
    if (out_path) {
        if (embed && !m->weights) {
            kiln_model_free(m);
            return fail("--embed-weights: %s has no weights", pos[0]);
        }
        s = kiln_kmod_write(out_path, m->graph, embed ? m->weights : NULL, &co, &t);
        if (!s) {
            char what[1200];
            snprintf(what, sizeof what, "wrote %s (%s weights)", out_path, embed ? "with" : "without");
            print_timings(what, &t);
        }
    } else {
        if (cpu) {
            kiln_model_free(m);
            return fail("--cpu needs -o FILE (code for another CPU is not run here)");
        }
        kiln_cpu_program *p = NULL;
        s = kiln_cpu_compile(m->graph, &co, &p);
        if (!s) print_timings(m->name, kiln_cpu_program_timings(p));
        kiln_cpu_program_free(p);
    }
    kiln_model_free(m);
    return s ? fail_status(s) : 0;
#endif
}
