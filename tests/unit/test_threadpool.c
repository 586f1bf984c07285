/* Thread pool: every task runs exactly once, thread indices stay in range,
 * nesting and concurrent callers neither deadlock nor lose tasks, and
 * back-to-back loops of different sizes never mix their tasks. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "kiln/threadpool.h"

#define MAX_TASKS 5000

typedef struct counts {
    _Atomic int hits[MAX_TASKS];
    _Atomic int bad_thread;
    int pool_size;
} counts;

static void count_task(void *ctx, int64_t task, int32_t thread) {
    counts *c = ctx;
    atomic_fetch_add(&c->hits[task], 1);
    if (thread < 0 || thread >= c->pool_size) atomic_fetch_add(&c->bad_thread, 1);
}

/* Runs one loop of n tasks and checks each ran once. */
static void check_loop(kiln_threadpool *pool, int64_t n) {
    static counts c;
    memset(&c, 0, sizeof c);
    c.pool_size = kiln_threadpool_size(pool);
    kiln_threadpool_parallel_for(pool, n, count_task, &c);
    int wrong = 0;
    for (int64_t i = 0; i < n; i++)
        wrong += atomic_load(&c.hits[i]) != 1;
    for (int64_t i = n; i < MAX_TASKS; i++)
        wrong += atomic_load(&c.hits[i]) != 0;
    CHECK(wrong == 0);
    CHECK(atomic_load(&c.bad_thread) == 0);
}

/* Nested parallel_for: the inner loop must run inline, on the outer thread. */
typedef struct nested {
    kiln_threadpool *pool;
    _Atomic int inner_total;
    _Atomic int thread_mismatch;
} nested;

typedef struct inner_ctx {
    nested *n;
    int32_t outer_thread;
} inner_ctx;

static void inner_task(void *ctx, int64_t task, int32_t thread) {
    inner_ctx *ic = ctx;
    (void)task;
    atomic_fetch_add(&ic->n->inner_total, 1);
    if (thread != ic->outer_thread) atomic_fetch_add(&ic->n->thread_mismatch, 1);
}

static void outer_task(void *ctx, int64_t task, int32_t thread) {
    (void)task;
    inner_ctx ic = {ctx, thread};
    kiln_threadpool_parallel_for(((nested *)ctx)->pool, 7, inner_task, &ic);
}

/* Several external threads share one pool: loops serialize, none is lost. */
typedef struct caller_arg {
    kiln_threadpool *pool;
    _Atomic long *sum;
} caller_arg;

static void add_task(void *ctx, int64_t task, int32_t thread) {
    (void)thread;
    atomic_fetch_add((_Atomic long *)ctx, (long)task + 1);
}

static void *caller_main(void *arg) {
    caller_arg *a = arg;
    for (int i = 0; i < 200; i++)
        kiln_threadpool_parallel_for(a->pool, 10, add_task, a->sum);
    return NULL;
}

/* Back-to-back loops of alternating sizes, like a GEMM's pack loop (2 tasks)
 * and compute loop (40): the worker that finishes the short loop's last task
 * looks at the task counter again just as the caller publishes the long
 * loop. It must not claim "task 2" of the short loop, which the long loop's
 * count makes look valid (that ran a task twice and let the caller return
 * while a task still ran). Loops run in batches with nothing between them
 * (the race needs the caller quick), each with its own zeroed counts,
 * checked after the batch: a task that ran twice, never, or for the wrong
 * loop shows. */
#define BATCH 1024
#define STRESS_TASKS 40
#define STRESS_SLOTS (STRESS_TASKS + 8)

typedef struct stress_counts {
    _Atomic int hits[STRESS_SLOTS];
    int64_t n;
} stress_counts;

static void stress_task(void *ctx, int64_t task, int32_t thread) {
    (void)thread;
    stress_counts *c = ctx;
    if (task >= 0 && task < STRESS_SLOTS) atomic_fetch_add(&c->hits[task], 1);
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs batches of alternating loops for about `seconds`; returns the number of bad loops. */
static int stress_alternating(kiln_threadpool *pool, double seconds) {
    static stress_counts batch[BATCH];
    int bad = 0;
    double end = seconds_now() + seconds;
    for (int round = 0; round < 10000 && (round == 0 || seconds_now() < end); round++) {
        memset(batch, 0, sizeof batch);
        for (int r = 0; r < BATCH; r++) {
            batch[r].n = (r & 1) ? STRESS_TASKS : 2;
            kiln_threadpool_parallel_for(pool, batch[r].n, stress_task, &batch[r]);
        }
        for (int r = 0; r < BATCH; r++) {
            int wrong = 0;
            for (int64_t i = 0; i < STRESS_SLOTS; i++)
                wrong += atomic_load(&batch[r].hits[i]) != (i < batch[r].n);
            bad += wrong != 0;
        }
    }
    return bad;
}

int main(void) {
    CHECK(kiln_cpu_count() >= 1);

    /* A NULL pool runs inline; zero and negative task counts do nothing. */
    check_loop(NULL, 13);
    check_loop(NULL, 0);
    kiln_threadpool_parallel_for(NULL, -5, count_task, NULL);

    CHECK_ERR(kiln_threadpool_create(5000, &(kiln_threadpool *){0}), "limit");
    CHECK_ERR(kiln_threadpool_create(2, NULL), "NULL");

    for (int size = 1; size <= 4; size++) {
        kiln_threadpool *pool = NULL;
        CHECK_OK(kiln_threadpool_create(size, &pool));
        if (!pool) continue;
        CHECK(kiln_threadpool_size(pool) == size);
        int sizes[] = {1, 2, 3, 17, 1000, MAX_TASKS};
        for (int i = 0; i < 6; i++)
            check_loop(pool, sizes[i]);
        /* Back-to-back loops exercise the spin/sleep handoff many times. */
        for (int r = 0; r < 300; r++)
            check_loop(pool, 1 + r % 9);
        /* With spinning off every wakeup goes through the condition variable. */
        kiln_threadpool_set_spin_us(pool, 0);
        for (int r = 0; r < 100; r++)
            check_loop(pool, 1 + r % 5);
        kiln_threadpool_set_spin_us(pool, 50);

        nested n = {.pool = pool};
        kiln_threadpool_parallel_for(pool, 11, outer_task, &n);
        CHECK(atomic_load(&n.inner_total) == 11 * 7);
        CHECK(atomic_load(&n.thread_mismatch) == 0);

        /* 3 callers x 200 loops x (1 + ... + 10 = 55). */
        _Atomic long sum = 0;
        caller_arg ca = {pool, &sum};
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&t[i], NULL, caller_main, &ca);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        CHECK(atomic_load(&sum) == 3L * 200 * 55);
        kiln_threadpool_free(pool);
    }

    /* Two and three threads (the GEMM tests' pools), then more threads than
     * this machine has cores, so workers get descheduled mid-loop. About one
     * second each: before the pool retired the old tag first (threadpool.c),
     * every run failed here (1-100 bad loops a second under ASan, thousands
     * in a Release build). */
    int many = 2 * kiln_cpu_count() + 2;
    int stress_sizes[3] = {2, 3, many < 18 ? many : 18};
    for (int i = 0; i < 3; i++) {
        kiln_threadpool *pool = NULL;
        CHECK_OK(kiln_threadpool_create(stress_sizes[i], &pool));
        if (!pool) continue;
        int bad = stress_alternating(pool, 1.0);
        if (bad) fprintf(stderr, "alternating loops on %d threads: %d bad loops\n", stress_sizes[i], bad);
        CHECK(bad == 0);
        kiln_threadpool_free(pool);
    }

    /* The default pool takes the configured size once. */
    CHECK_ERR(kiln_threadpool_set_default_threads(-1), "--threads");
    CHECK_OK(kiln_threadpool_set_default_threads(2));
    kiln_threadpool *def = kiln_threadpool_default();
    CHECK(def != NULL);
    CHECK(kiln_threadpool_size(def) == 2);
    CHECK(kiln_threadpool_default() == def);
    CHECK_ERR(kiln_threadpool_set_default_threads(3), "already");
    CHECK_OK(kiln_threadpool_set_default_threads(2));
    check_loop(def, 100);
    kiln_threadpool_free(NULL);
    return test_finish("test_threadpool");
}
