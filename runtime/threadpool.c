/* Fixed worker threads for parallel_for loops (see kiln/threadpool.h).
 *
 * One loop at a time: the caller publishes the job, bumps `generation` and
 * takes tasks itself. Tasks are claimed with a compare-and-swap on `next`,
 * whose high bits carry the loop's tag, so a worker that wakes late (the
 * machine is shared; workers get descheduled) can never claim a task of a
 * newer loop it has not seen, nor (the old tag is retired before the new
 * task count is published) an index past the end of an older one. The
 * caller waits for `completed` to reach the task count, not for every worker
 * to check in, so a sleeping or descheduled worker never delays a loop. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/threadpool.h"

#define TAG_SHIFT 40
#define INDEX_MASK ((UINT64_C(1) << TAG_SHIFT) - 1)
#define TAG_MASK ((UINT64_C(1) << (64 - TAG_SHIFT)) - 1)
#define DEFAULT_SPIN_US 50

struct kiln_threadpool {
    int n_threads; /* including the caller */
    pthread_t *workers;
    int n_started;

    pthread_mutex_t call_lock; /* one loop at a time across callers */
    pthread_mutex_t lock;      /* guards sleeping on wake / done */
    pthread_cond_t wake;
    pthread_cond_t done;

    _Atomic uint64_t generation;
    _Atomic uint64_t next; /* tag << TAG_SHIFT | next task index */
    _Atomic int64_t completed;
    _Atomic int64_t n_tasks;
    _Atomic(kiln_task_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int sleepers;
    _Atomic int stop;
    _Atomic int spin_us;
};

/* Set while this thread runs a pool task; a parallel_for from inside a task
 * runs inline with the same thread index. */
static _Thread_local int tls_in_task;
static _Thread_local int32_t tls_thread;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int kiln_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static void run_inline(int64_t n_tasks, kiln_task_fn fn, void *ctx, int32_t thread) {
    int was = tls_in_task;
    tls_in_task = 1;
    for (int64_t t = 0; t < n_tasks; t++)
        fn(ctx, t, thread);
    tls_in_task = was;
}

/* Claims and runs tasks of the loop tagged `tag` until none are left. */
static void take_tasks(kiln_threadpool *p, uint64_t tag, int32_t thread) {
    for (;;) {
        uint64_t v = atomic_load_explicit(&p->next, memory_order_acquire);
        if ((v >> TAG_SHIFT) != tag) return;
        /* Acquire: a count published after `v` was read comes with the store
         * that retired v's tag, so the claim below then fails. */
        int64_t n = atomic_load_explicit(&p->n_tasks, memory_order_acquire);
        if ((int64_t)(v & INDEX_MASK) >= n) return;
        if (!atomic_compare_exchange_weak_explicit(&p->next, &v, v + 1, memory_order_acq_rel, memory_order_relaxed))
            continue;
        /* The claim succeeded, so this loop is still current and fn/ctx are its own. */
        kiln_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        fn(ctx, (int64_t)(v & INDEX_MASK), thread);
        if (atomic_fetch_add_explicit(&p->completed, 1, memory_order_acq_rel) + 1 == n) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_broadcast(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

typedef struct worker_arg {
    kiln_threadpool *pool;
    int32_t index;
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    kiln_threadpool *p = wa->pool;
    int32_t index = wa->index;
    free(wa);
    tls_in_task = 1;
    tls_thread = index;
    uint64_t seen = atomic_load(&p->generation);
    for (;;) {
        uint64_t g = seen;
        /* Spin for a bounded time (PAUSE costs anything from 10 to 400 cycles
         * depending on the CPU and hypervisor, so iterations mean nothing). */
        uint64_t spin_ns = (uint64_t)atomic_load_explicit(&p->spin_us, memory_order_relaxed) * 1000u;
        uint64_t start = spin_ns ? now_ns() : 0;
        for (unsigned i = 0; spin_ns; i++) {
            g = atomic_load_explicit(&p->generation, memory_order_acquire);
            if (g != seen || atomic_load_explicit(&p->stop, memory_order_relaxed)) break;
            cpu_relax();
            if ((i & 15) == 15 && now_ns() - start > spin_ns) break;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->lock);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->lock);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        take_tasks(p, g & TAG_MASK, index);
    }
    return NULL;
}

kiln_status kiln_threadpool_create(int n_threads, kiln_threadpool **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_threadpool_create: NULL output pointer");
    *out = NULL;
    if (n_threads <= 0) n_threads = kiln_cpu_count();
    if (n_threads > 4096)
        return kiln_error(KILN_ERR_INVALID, "kiln_threadpool_create: %d threads is more than the limit of 4096",
                          n_threads);
    kiln_threadpool *p = calloc(1, sizeof *p);
    if (!p) return kiln_error(KILN_ERR_NOMEM, "kiln_threadpool_create: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->call_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->spin_us, DEFAULT_SPIN_US);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers) {
        kiln_threadpool_free(p);
        return kiln_error(KILN_ERR_NOMEM, "kiln_threadpool_create: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : ENOMEM;
        if (wa) {
            wa->pool = p;
            wa->index = i;
            rc = pthread_create(&p->workers[i - 1], NULL, worker_main, wa);
            if (rc) free(wa);
        }
        if (rc) {
            kiln_threadpool_free(p);
            return kiln_error(KILN_ERR_LIMIT, "kiln_threadpool_create: starting worker %d of %d failed: %s", i,
                              n_threads - 1, strerror(rc));
        }
        p->n_started++;
    }
    *out = p;
    return KILN_OK;
}

void kiln_threadpool_free(kiln_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->call_lock);
    free(p);
}

int kiln_threadpool_size(const kiln_threadpool *p) { return p ? p->n_threads : 1; }

void kiln_threadpool_set_spin_us(kiln_threadpool *p, int spin_us) {
    if (p) atomic_store(&p->spin_us, spin_us < 0 ? 0 : spin_us);
}

void kiln_threadpool_parallel_for(kiln_threadpool *p, int64_t n_tasks, kiln_task_fn fn, void *ctx) {
    if (n_tasks <= 0 || !fn) return;
    if (tls_in_task) {
        run_inline(n_tasks, fn, ctx, tls_thread);
        return;
    }
    if (!p || p->n_threads <= 1 || n_tasks == 1 || (uint64_t)n_tasks > INDEX_MASK) {
        run_inline(n_tasks, fn, ctx, 0);
        return;
    }
    pthread_mutex_lock(&p->call_lock);
    uint64_t g = atomic_load(&p->generation) + 1;
    uint64_t tag = g & TAG_MASK;
    /* Close the previous loop before changing n_tasks. A worker that ran its
     * last task reads `next` (the old tag, index == the old count) and then
     * n_tasks; were the new, larger count already there while `next` still
     * held the old tag, its claim of that index would succeed and run a task
     * of this loop twice, and its extra `completed` could let this call
     * return while a task still runs. With the old tag gone first, and the
     * count released after it, a worker that sees the new count fails that
     * claim. */
    atomic_store_explicit(&p->next, (tag << TAG_SHIFT) | INDEX_MASK, memory_order_relaxed);
    atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_release);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->completed, 0, memory_order_relaxed);
    atomic_store_explicit(&p->next, tag << TAG_SHIFT, memory_order_release);
    atomic_store(&p->generation, g);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }

    tls_in_task = 1;
    take_tasks(p, tag, 0);
    tls_in_task = 0;

    uint64_t spin_ns = (uint64_t)atomic_load_explicit(&p->spin_us, memory_order_relaxed) * 1000u;
    uint64_t start = spin_ns ? now_ns() : 0;
    for (unsigned i = 0; spin_ns && atomic_load_explicit(&p->completed, memory_order_acquire) < n_tasks; i++) {
        cpu_relax();
        if ((i & 15) == 15 && now_ns() - start > spin_ns) break;
    }
    if (atomic_load_explicit(&p->completed, memory_order_acquire) < n_tasks) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->completed) < n_tasks)
            pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->call_lock);
}

void kiln_threadpool_parallel_for_untyped(void *pool, int64_t n_tasks, kiln_task_fn fn, void *ctx) {
    kiln_threadpool_parallel_for(pool, n_tasks, fn, ctx);
}

/* ---- the process-wide default pool ---- */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static kiln_threadpool *default_pool;
static int default_threads; /* 0: all cores */
static int default_failed;

kiln_threadpool *kiln_threadpool_default(void) {
    pthread_mutex_lock(&default_lock);
    if (!default_pool && !default_failed) {
        kiln_status s = kiln_threadpool_create(default_threads, &default_pool);
        if (s) {
            default_failed = 1;
            kiln_status_free(s);
        }
    }
    kiln_threadpool *p = default_pool;
    pthread_mutex_unlock(&default_lock);
    return p;
}

kiln_status kiln_threadpool_set_default_threads(int n_threads) {
    if (n_threads < 0 || n_threads > 4096)
        return kiln_error(KILN_ERR_INVALID, "--threads %d: expected 0 (all cores) to 4096", n_threads);
    kiln_status s = KILN_OK;
    pthread_mutex_lock(&default_lock);
    int want = n_threads ? n_threads : kiln_cpu_count();
    if (default_pool && default_pool->n_threads != want)
        s = kiln_error(KILN_ERR_INVALID, "the default thread pool already runs %d threads; cannot change it to %d",
                       default_pool->n_threads, want);
    else
        default_threads = n_threads;
    pthread_mutex_unlock(&default_lock);
    return s;
}
