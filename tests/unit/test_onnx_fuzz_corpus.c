/* Replays tests/fuzz/corpus/onnx (seeds from tests/tools/onnx_fuzz_seeds.py
 * and inputs libFuzzer found) through the ONNX fuzz target, i.e. through
 * kiln_onnx_import and kiln_onnx_parse_tensor, as a regression test that
 * needs no fuzzer. The target's invariants count as failures here. */
#include <dirent.h>
#include <string.h>

#include "harness.h"

static const char *current = "";

#define FUZZ_CHECK(cond)                                                                            \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "%s:%d: fuzz invariant failed on %s: %s\n", __FILE__, __LINE__, current, #cond); \
            test_failures++;                                                                        \
        }                                                                                           \
    } while (0)

#include "../fuzz/fuzz_onnx.c"

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *p = malloc(cap);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *q = realloc(p, cap * 2);
        if (!q) free(p);
        p = q;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return p;
}

int main(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    if (!src || !*src) src = "..";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/onnx", src);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        unsigned char *data = read_all(path, &len);
        CHECK(data != NULL);
        if (!data) continue;
        current = path;
        /* an exact-size copy, so ASan builds catch a read one byte past the end */
        unsigned char *exact = malloc(len ? len : 1);
        if (len) memcpy(exact, data, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        free(data);
        files++;
    }
    closedir(d);
    fprintf(stderr, "replayed %d onnx corpus files\n", files);
    CHECK(files >= 10); /* a corpus that went missing must not pass silently */
    return test_finish("test_onnx_fuzz_corpus");
}
