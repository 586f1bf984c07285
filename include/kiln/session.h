/* A session: a graph compiled for one device and bound to its weights,
 * ready to run many times. This is the one entry point the CLI, generation
 * and the tests use, whatever the device. */
#ifndef KILN_SESSION_H
#define KILN_SESSION_H

#include "ir.h"
#include "tensor.h"

typedef enum kiln_device_kind {
    KILN_DEVICE_REF,    /* the reference interpreter: slow, obviously correct */
    KILN_DEVICE_CPU,    /* native code through LLVM */
    KILN_DEVICE_VULKAN, /* Vulkan compute shaders */
    KILN_DEVICE_KIR,    /* fused kernels run by the kernel-IR evaluator (testing) */
    KILN_DEVICE_KIND_COUNT
} kiln_device_kind;

typedef struct kiln_device_spec {
    kiln_device_kind kind;
    int index; /* vulkan:N; -1 picks the best */
} kiln_device_spec;

/* "ref", "cpu", "vulkan", "vulkan:N", "kir", or "auto" (Vulkan when a GPU is
 * present and the backend is built, else cpu, else ref). */
kiln_status kiln_device_parse(const char *text, kiln_device_spec *out);
const char *kiln_device_name(kiln_device_kind kind);

typedef struct kiln_session_options {
    kiln_device_spec device;
    int threads;         /* cpu: worker threads; 0 = all cores */
    int profile;         /* collect per-kernel timings */
    int no_cache;        /* bypass on-disk shader/kernel caches */
    const char *precision; /* "fp32" (default) or "fp16" where supported */
} kiln_session_options;

typedef struct kiln_session kiln_session;

/* A backend: how one device kind creates sessions. Backends register in
 * runtime/session.c; a kind whose backend is not built reports that. */
typedef struct kiln_backend {
    kiln_device_kind kind;
    const char *name;
    kiln_status (*create)(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                          void **state);
    kiln_status (*run)(void *state, const kiln_tensor_map *inputs, kiln_tensor_map **outputs);
    void (*destroy)(void *state);
    /* optional: print a per-kernel profile of the last run */
    void (*print_profile)(void *state, void *file);
} kiln_backend;

/* ---- optional backend hooks ---------------------------------------------
 * What some backends offer beyond kiln_backend, registered beside it in
 * runtime/session.c (a separate table, so existing kiln_backend
 * initializers stay as they are). A NULL member is not supported; the
 * kiln_session_* wrappers then return KILN_ERR_UNSUPPORTED. */

/* One generation step with state kept on the device (runtime/generate.c):
 * the step runs like kiln_session_run, except that
 *  - output carry_out[i] stays on the device and is the next step's input
 *    carry_in[i]; after `reset` (and on the first step) carry_in[i] comes
 *    from `inputs` like any input, otherwise `inputs` need not hold it;
 *  - of the outputs only the last row of `row_output` (its last axis, of
 *    row_len elements) comes back: whole into `row` when topk == 0, else
 *    its topk largest (value descending, lower id first on ties, NaN
 *    never) into ids/vals, *count of them (fewer when the row has fewer
 *    non-NaN values). */
typedef struct kiln_step_io {
    int ncarry;
    const char *const *carry_in;
    const char *const *carry_out;
    int reset;
    const char *row_output;
    int64_t row_len;
    int topk;
    float *row;
    int32_t *ids;
    float *vals;
    int count;
} kiln_step_io;

typedef struct kiln_backend_hooks {
    /* write a Chrome trace (JSON) of each later run's kernels to path; NULL stops */
    kiln_status (*set_trace)(void *state, const char *path);
    kiln_status (*step)(void *state, const kiln_tensor_map *inputs, kiln_step_io *io);
    int max_topk; /* largest topk `step` takes */
} kiln_backend_hooks;

kiln_status kiln_session_set_trace(kiln_session *s, const char *path);
/* The largest topk kiln_session_step takes (>= 1), or 0 without a step hook. */
int kiln_session_step_topk(const kiln_session *s);
kiln_status kiln_session_step(kiln_session *s, const kiln_tensor_map *inputs, kiln_step_io *io);

/* Compiles g for the device and binds the weights (which must outlive the
 * session). The graph is copied where a backend needs to keep it. */
kiln_status kiln_session_create(const kiln_graph *g, const kiln_tensor_map *weights, const kiln_session_options *opt,
                                kiln_session **out);
/* Runs with inputs by name; *outputs gets one owned tensor per graph output. */
kiln_status kiln_session_run(kiln_session *s, const kiln_tensor_map *inputs, kiln_tensor_map **outputs);
void kiln_session_print_profile(kiln_session *s, void *file);
kiln_device_kind kiln_session_device(const kiln_session *s);
void kiln_session_free(kiln_session *s);

#endif
