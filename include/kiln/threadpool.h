/* A fixed pool of worker threads running parallel_for loops.
 *
 * The calling thread takes part in every loop (it is thread 0), so a pool of
 * n threads starts n - 1 workers. Tasks are handed out one at a time from a
 * shared counter, so uneven tasks balance themselves. Idle workers spin for a
 * short while after a loop ends (so back-to-back kernels dispatch in
 * microseconds) and then sleep on a condition variable.
 *
 * The task function is a plain C function pointer, so JIT'd kernels can pass
 * one of their own functions (see kiln_jit_rt in kiln/llvm.h). */
#ifndef KILN_THREADPOOL_H
#define KILN_THREADPOOL_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_threadpool kiln_threadpool;

/* Runs task number `task` (0 <= task < n_tasks) on thread `thread`
 * (0 <= thread < pool size; threads use it to pick per-thread scratch). */
typedef void (*kiln_task_fn)(void *ctx, int64_t task, int32_t thread);

/* n_threads <= 0 means one per online CPU core. */
kiln_status kiln_threadpool_create(int n_threads, kiln_threadpool **out) KILN_NODISCARD;
/* Joins the workers. Must not be called while a loop runs. NULL is a no-op. */
void kiln_threadpool_free(kiln_threadpool *pool);
int kiln_threadpool_size(const kiln_threadpool *pool);

/* Runs fn(ctx, t, thread) for every t in [0, n_tasks) and returns when all
 * have finished. A NULL pool, n_tasks <= 1 or a call made from inside a
 * task (nesting, with the task's thread index) runs the tasks inline on the
 * calling thread, so nesting never deadlocks. A call from another thread
 * while the pool runs a loop waits for that loop to finish (running inline
 * as thread 0 would share thread 0's scratch with the running loop). */
void kiln_threadpool_parallel_for(kiln_threadpool *pool, int64_t n_tasks, kiln_task_fn fn, void *ctx);

/* The same call with the pool as an untyped pointer: the shape JIT'd code
 * calls through kiln_jit_rt. */
void kiln_threadpool_parallel_for_untyped(void *pool, int64_t n_tasks, kiln_task_fn fn, void *ctx);

/* How long idle workers (and a caller waiting for the last tasks) spin
 * before sleeping, in microseconds (default 50: back-to-back kernels of one
 * model step find the workers awake). 0 makes them sleep at once: kind to a
 * busy machine. */
void kiln_threadpool_set_spin_us(kiln_threadpool *pool, int spin_us);

/* A process-wide pool created on first use with kiln_threadpool_set_default_threads'
 * count (default: all cores, e.g. from `--threads N`). Returns NULL only when
 * thread creation fails, in which case callers run inline. */
kiln_threadpool *kiln_threadpool_default(void);
/* Takes effect if called before the first kiln_threadpool_default(). Returns
 * an error if the default pool already exists with another size. */
kiln_status kiln_threadpool_set_default_threads(int n_threads) KILN_NODISCARD;

/* Online CPU cores (at least 1). */
int kiln_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
