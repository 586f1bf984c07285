/* Thread-pool dispatch overhead: the time one parallel_for of near-empty
 * tasks takes, back to back (workers still spinning) and after a pause long
 * enough that they went to sleep.
 *
 *   kiln-bench-threadpool [--threads N] [--calls C] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/threadpool.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void touch(void *ctx, int64_t task, int32_t thread) {
    (void)thread;
    ((volatile int64_t *)ctx)[task & 63] += task;
}

/* Median of the per-call times, in microseconds. */
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_call_us(kiln_threadpool *pool, int calls, int64_t tasks, double gap_s, int64_t *sink) {
    double *t = malloc((size_t)calls * sizeof *t);
    for (int i = 0; i < calls; i++) {
        if (gap_s > 0) {
            struct timespec ts = {0, (long)(gap_s * 1e9)};
            nanosleep(&ts, NULL);
        }
        double t0 = now();
        kiln_threadpool_parallel_for(pool, tasks, touch, sink);
        t[i] = now() - t0;
    }
    qsort(t, (size_t)calls, sizeof *t, cmp);
    double m = t[calls / 2] * 1e6;
    free(t);
    return m;
}

int main(int argc, char **argv) {
    int threads = 0, calls = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
            calls = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: kiln-bench-threadpool [--threads N] [--calls C]\n");
            return 2;
        }
    }
    if (calls < 1) calls = 1;
    kiln_threadpool *pool = NULL;
    kiln_status s = kiln_threadpool_create(threads, &pool);
    if (s) {
        fprintf(stderr, "kiln-bench-threadpool: %s\n", kiln_status_message(s));
        return 1;
    }
    static int64_t sink[64];
    int n = kiln_threadpool_size(pool);
    printf("# %d threads, median of %d calls\n", n, calls);
    printf("back-to-back, %d tasks:         %8.2f us\n", n, median_call_us(pool, calls, n, 0, sink));
    printf("back-to-back, 256 tasks:       %8.2f us\n", median_call_us(pool, calls, 256, 0, sink));
    printf("after 1 ms idle (workers slept): %6.2f us\n", median_call_us(pool, calls / 100 + 1, n, 1e-3, sink));
    kiln_threadpool_set_spin_us(pool, 0);
    printf("spin off, back-to-back:        %8.2f us\n", median_call_us(pool, calls / 10 + 1, n, 0, sink));
    kiln_threadpool_free(pool);
    return 0;
}
