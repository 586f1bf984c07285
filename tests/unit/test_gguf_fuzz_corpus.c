/* Replays the GGUF fuzz corpus (tests/fuzz/corpus/gguf: hand seeds plus a
 * coverage-minimized selection of small libFuzzer finds) through the fuzz
 * target, i.e. the GGUF reader, getters, llama mapping, writer round trip
 * and llama2.c header check, as a regression test that needs no fuzzer. */
#include <dirent.h>
#include <string.h>

#include "harness.h"

static const char *current = "";

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: fuzz invariant failed on %s: %s\n", __FILE__, __LINE__, current, \
                    #cond);                                                                       \
            test_failures++;                                                                      \
        }                                                                                         \
    } while (0)
#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "../fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput

int main(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/gguf", src ? src : ".");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* An exact-size copy so that over-reads are visible to ASan. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        current = e->d_name;
        fuzz_gguf_one(copy, len);
        free(copy);
        n++;
    }
    if (d) closedir(d);
    fprintf(stderr, "replayed %d gguf corpus files\n", n);
    CHECK(n >= 5); /* the seeds at least: a corpus that went missing must not pass */
    return test_finish("test_gguf_fuzz_corpus");
}
