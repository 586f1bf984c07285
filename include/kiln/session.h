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
