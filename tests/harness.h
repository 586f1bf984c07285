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
/* A whole file, malloc'd (one spare byte), or NULL when unreadable. */
unsigned char *test_read_file(const char *path, size_t *n);
/* Writes n bytes to path, replacing it (silently does nothing on failure:
 * the check that reads it back fails instead). */
void test_write_file(const char *path, const unsigned char *p, size_t n);
/* Summary line and exit code. */
int test_finish(const char *name);

#endif
