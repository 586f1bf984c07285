/* A tiny test harness: CHECK macros count failures; test_main returns them. */
#ifndef KILN_TEST_HARNESS_H
#define KILN_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include "kiln/kiln.h"

extern int test_failures;

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

/* Status must be OK; prints its message otherwise. */
#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        kiln_status check_s_ = (expr);                                          \
        if (check_s_) {                                                         \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
                    kiln_status_message(check_s_));                             \
            kiln_status_free(check_s_);                                         \
            test_failures++;                                                    \
        }                                                                       \
    } while (0)

/* Status must fail and its message contain `needle`. */
#define CHECK_ERR(expr, needle) check_err_((expr), (needle), #expr, __FILE__, __LINE__)
void check_err_(kiln_status s, const char *needle, const char *expr, const char *file, int line);

/* Directory of ../shared (KILN_SHARED), or NULL with a note when absent. */
const char *test_shared_dir(void);
/* Summary line and exit code. */
int test_finish(const char *name);

#endif
