#include <string.h>

#include "harness.h"

int test_failures = 0;

void check_err_(kiln_status s, const char *needle, const char *expr, const char *file, int line) {
    if (!s) {
        fprintf(stderr, "%s:%d: expected %s to fail\n", file, line, expr);
        test_failures++;
        return;
    }
    if (needle && !strstr(kiln_status_message(s), needle)) {
        fprintf(stderr, "%s:%d: %s failed with \"%s\", expected it to mention \"%s\"\n", file, line, expr,
                kiln_status_message(s), needle);
        test_failures++;
    }
    kiln_status_free(s);
}

const char *test_shared_dir(void) {
    const char *d = getenv("KILN_SHARED");
    return d && *d ? d : "../shared";
}

unsigned char *test_read_file(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = len >= 0 ? malloc((size_t)len + 1) : NULL;
    *n = p ? fread(p, 1, (size_t)len, f) : 0;
    fclose(f);
    return p;
}

void test_write_file(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

int test_finish(const char *name) {
    if (test_failures) fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
    else fprintf(stderr, "%s: all checks passed\n", name);
    return test_failures ? 1 : 0;
}
