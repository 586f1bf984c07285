/* The CPU as a session backend (kiln/session.h): compile with the default
 * passes, JIT every kernel once, bind the weights once. */
#include <stdio.h>

#include "kiln/cpu.h"
#include "kiln/session.h"

static kiln_status cpu_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                              void **state) {
    kiln_cpu_options co = {0};
    if (opt) {
        co.threads = opt->threads;
        co.profile = opt->profile;
    }
    kiln_cpu_program *p = NULL;
    /* compiled programs come from the on-disk cache when they can */
    KILN_TRY(kiln_cpu_compile_cached(g, &co, NULL, opt && opt->no_cache, &p, NULL));
    kiln_cpu_exec *e = NULL;
    KILN_TRY(kiln_cpu_exec_create_owning(p, weights, &co, &e));
    *state = e;
    return KILN_OK;
}

static kiln_status cpu_run(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs) {
    return kiln_cpu_exec_run(state, inputs, outputs);
}

static void cpu_destroy(void *state) { kiln_cpu_exec_free(state); }

static void cpu_print_profile(void *state, void *file) { kiln_cpu_exec_print_profile(state, file); }

static kiln_status cpu_step(void *state, const kiln_tensor_map *inputs, kiln_step_io *io) {
    return kiln_cpu_exec_step(state, inputs, io);
}

const kiln_backend kiln_cpu_backend = {KILN_DEVICE_CPU, "cpu", cpu_create, cpu_run, cpu_destroy, cpu_print_profile};
/* generation keeps its KV caches in the exec's buffers (cpu_step.c) */
const kiln_backend_hooks kiln_cpu_hooks = {NULL, cpu_step, 256};
