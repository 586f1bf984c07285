/* The CPU backend (only with KILN_WITH_LLVM): a graph compiled through the
 * passes and kiln_plan_compile into kernels, every kernel emitted as LLVM IR
 * into one module per plan, optimized (default<O3>) and JIT-compiled for the
 * host CPU; or the same module written ahead of time as a .kmod file (object
 * code + serialized plan + optional weights) and loaded without re-running
 * the optimizer.
 *
 *   kiln_cpu_compile     graph -> program (plan + JIT'd kernels)
 *   kiln_cpu_exec_*      program + weights -> runs (arena per symbol binding,
 *                        weights bound once, zero-copy where dtype matches)
 *   kiln_kmod_*          programs ahead of time
 *
 * Sessions (kiln/session.h) with --device cpu use this through
 * `kiln_cpu_backend`. */
#ifndef KILN_CPU_H
#define KILN_CPU_H

#include <stdio.h>

#include "ir.h"
#include "plan.h"
#include "session.h"
#include "tensor.h"

typedef struct kiln_cpu_options {
    int threads;          /* worker threads; 0 = the process-wide pool (all cores, or --threads) */
    int profile;          /* per-kernel timings (kiln_cpu_exec_print_profile) */
    int no_fusion;        /* one kernel per node (tests) */
    /* Ahead-of-time modules for another CPU (NULL = the host's name and full
     * feature list): the code uses the architecture's baseline plus exactly
     * `features` ("+avx2,+fma") and is tuned for `cpu` (LLVM's tune-cpu), so
     * the feature list a .kmod records is all the code needs. */
    const char *cpu;
    const char *features;
} kiln_cpu_options;

/* Where compile time went, in seconds. */
typedef struct kiln_cpu_timings {
    double plan;     /* passes, fusion, lowering */
    double codegen;  /* LLVM IR emission */
    double optimize; /* verify + default<O3> */
    double jit;      /* LLJIT code generation and linking (or object emission/load) */
    double total;
    int kernels;     /* in the plan */
    int unique;      /* distinct kernels emitted (equal code is emitted once) */
} kiln_cpu_timings;

typedef struct kiln_cpu_program kiln_cpu_program;

kiln_status kiln_cpu_compile(const kiln_graph *g, const kiln_cpu_options *opt, kiln_cpu_program **out);

/* ---- the kernel cache ------------------------------------------------------
 * kiln_cpu_compile through an on-disk cache of compiled programs, one .kmod
 * (without weights) per entry, named by a 128-bit hash of the graph's IR
 * text, the options that change the code, the kiln version, the build of
 * the running executable (its GNU build id, else its bytes) and the host's
 * triple, CPU name and features. A hit loads in milliseconds (no passes,
 * no LLVM optimization); a miss compiles once, emits the object and stores
 * it (atomically; a cache that cannot be written is only a miss). An entry
 * that does not load (truncated, corrupt, another kiln) is compiled again
 * and replaced. dir NULL: $XDG_CACHE_HOME/kiln/cpu, else ~/.cache/kiln/cpu.
 * The directory is kept under about 512 MB, least recently used first. */
typedef enum kiln_cpu_cache_result {
    KILN_CPU_CACHE_OFF,   /* no_cache, or no cache directory: compiled */
    KILN_CPU_CACHE_MISS,  /* compiled and stored */
    KILN_CPU_CACHE_HIT,   /* loaded */
    KILN_CPU_CACHE_STALE, /* the entry would not load: compiled and replaced */
} kiln_cpu_cache_result;

kiln_status kiln_cpu_compile_cached(const kiln_graph *g, const kiln_cpu_options *opt, const char *dir, int no_cache,
                                    kiln_cpu_program **out, kiln_cpu_cache_result *result);
/* The file a graph's entry has (or would have) in dir (NULL: the default). */
kiln_status kiln_cpu_cache_path(const kiln_graph *g, const kiln_cpu_options *opt, const char *dir, char *buf,
                                size_t cap);
void kiln_cpu_program_free(kiln_cpu_program *p);
const kiln_plan *kiln_cpu_program_plan(const kiln_cpu_program *p);
const kiln_cpu_timings *kiln_cpu_program_timings(const kiln_cpu_program *p);

/* A program bound to its weights. The program must outlive it (or be
 * handed over with kiln_cpu_exec_create_owning). Runs are not thread-safe:
 * one run at a time per exec. */
typedef struct kiln_cpu_exec kiln_cpu_exec;

kiln_status kiln_cpu_exec_create(kiln_cpu_program *p, const kiln_tensor_map *weights, const kiln_cpu_options *opt,
                                 kiln_cpu_exec **out);
/* Same, and the exec frees the program (also when this fails). */
kiln_status kiln_cpu_exec_create_owning(kiln_cpu_program *p, const kiln_tensor_map *weights,
                                        const kiln_cpu_options *opt, kiln_cpu_exec **out);
/* Inputs by name (like kiln_ref_run); *outputs gets one owned tensor per
 * graph output. */
kiln_status kiln_cpu_exec_run(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_tensor_map **outputs);
/* A generation step (kiln_step_io in kiln/session.h): carry_out outputs
 * are written into buffers the exec keeps (two per carry, swapped each
 * step) and become the next step's carry_in inputs; only the last row of
 * row_output (or its top k, k <= 256) comes back. */
kiln_status kiln_cpu_exec_step(kiln_cpu_exec *e, const kiln_tensor_map *inputs, kiln_step_io *io);
/* Per kernel (in schedule order): calls, total and mean time, share. */
void kiln_cpu_exec_print_profile(kiln_cpu_exec *e, FILE *f);
/* The arena of the last run: planned bytes and the unplanned sum. */
void kiln_cpu_exec_arena(const kiln_cpu_exec *e, int64_t *planned, int64_t *unplanned);
void kiln_cpu_exec_free(kiln_cpu_exec *e);

/* Compile, bind, run, free: the CPU as a one-shot device (tests). */
kiln_status kiln_cpu_run(const kiln_graph *g, const kiln_cpu_options *opt, const kiln_tensor_map *weights,
                         const kiln_tensor_map *inputs, kiln_tensor_map **outputs);

/* ---- ahead of time: .kmod files ------------------------------------------
 * Layout (little endian; docs/cpu.md):
 *   header   magic "KILNMOD\0", format version, kiln version, target triple,
 *            CPU name and features the code was built for
 *   sections each (tag, length): the object file, the plan (the optimized
 *            graph in IR text, symbol and I/O names, one record per kernel:
 *            name, template, code index, fingerprint), and with
 *            --embed-weights the weights (a safetensors image)
 * Loading checks the kiln version and that this CPU has every feature the
 * code needs, rebuilds the plan from the graph (no passes: the graph is
 * already optimized), checks every kernel's fingerprint against the
 * record, and links the object into an LLJIT (no LLVM optimization). */
typedef struct kiln_kmod_info {
    char kiln_version[32];
    char triple[128], cpu[64];
    char *features;   /* owned; free with kiln_kmod_info_release */
    int has_weights;
    int kernels, unique;
    size_t object_bytes, plan_bytes, weight_bytes;
    double load_seconds; /* read + checks + plan + JIT link */
} kiln_kmod_info;

/* Compiles g and writes the module. weights: embedded when not NULL.
 * timings (optional) gets the compile's. */
kiln_status kiln_kmod_write(const char *path, const kiln_graph *g, const kiln_tensor_map *weights,
                            const kiln_cpu_options *opt, kiln_cpu_timings *timings);
/* Loads a module. *weights gets the embedded weights (NULL when the module
 * has none; the map keeps its bytes alive). info may be NULL. */
kiln_status kiln_kmod_load(const char *path, kiln_cpu_program **out, kiln_tensor_map **weights, kiln_kmod_info *info);
void kiln_kmod_info_release(kiln_kmod_info *info);

#endif
