/* Replays every file of the fuzz corpora (tests/fuzz/corpus/{json,safetensors})
 * through both fuzz targets, i.e. through the JSON reader and the
 * safetensors reader and writer, as a regression test that needs no fuzzer.
 * The targets' invariant checks count as failures here instead of aborting. */
#include <dirent.h>
#include <string.h>

#include "harness.h"

#define FUZZ_CHECK(cond)                                                                            \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "%s:%d: fuzz invariant failed on %s: %s\n", __FILE__, __LINE__, current, #cond); \
            test_failures++;                                                                        \
        }                                                                                           \
    } while (0)

static const char *current = "";

#define LLVMFuzzerTestOneInput fuzz_json_one
#include "../fuzz/fuzz_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput

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

static int replay_dir(const char *src, const char *sub) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src, sub);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 0;
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
        /* An exact-size copy, so ASan catches a read one byte past the end. */
        unsigned char *exact = malloc(len ? len : 1);
        if (len) memcpy(exact, data, len);
        fuzz_json_one(exact, len);
        fuzz_safetensors_one(exact, len);
        free(exact);
        free(data);
        files++;
    }
    closedir(d);
    return files;
}

int main(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    if (!src || !*src) src = "..";
    int nj = replay_dir(src, "json"), ns = replay_dir(src, "safetensors");
    fprintf(stderr, "replayed %d json and %d safetensors corpus files\n", nj, ns);
    /* A corpus that went missing must not pass silently. */
    CHECK(nj >= 10);
    CHECK(ns >= 10);
    return test_finish("test_fuzz_corpus");
}
