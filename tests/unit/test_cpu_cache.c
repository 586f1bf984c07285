/* The on-disk cache of compiled CPU programs (kiln_cpu_compile_cached):
 *  - a miss compiles, stores one entry and runs like kiln_cpu_compile;
 *  - the next compile of the same graph is a hit that loads the entry and
 *    gives the same outputs bit for bit (the same object code);
 *  - no_cache neither reads nor writes (the entry's bytes stay as they are);
 *  - a corrupt entry (flipped bytes, truncated, not a module at all) is
 *    reported stale, compiled again and replaced, so the next one hits;
 *  - another graph or other code-changing options get another entry;
 *  - a cache directory that cannot be created means compiling uncached. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "kiln/model.h"
#include "test_cpu_util.h"

static char dir[512];

static kiln_model *load_gpt2(int layers) {
    char path[1024], nl[32];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/examples/gpt2.kiln", src ? src : "..");
    snprintf(nl, sizeof nl, "n_layer=%d", layers);
    const char *sets[] = {"vocab_size=97", "n_embd=32", "n_head=4", nl, "n_positions=64"};
    kiln_model_options o = {NULL, sets, 5};
    kiln_model *m = NULL;
    CHECK_OK(kiln_model_load(path, &o, &m));
    return m;
}

static int maps_equal(const kiln_tensor_map *a, const kiln_tensor_map *b) {
    if (!a || !b || kiln_tensor_map_count(a) != kiln_tensor_map_count(b)) return 0;
    for (int i = 0; i < kiln_tensor_map_count(a); i++) {
        const kiln_tensor *x = kiln_tensor_map_at(a, i), *y = kiln_tensor_map_get(b, kiln_tensor_map_name(a, i));
        if (!y || x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes) != 0) return 0;
    }
    return 1;
}

/* Compiles through the cache; checks the result kind and the outputs. */
static void expect(const kiln_graph *g, const kiln_cpu_options *o, const char *cdir, int no_cache,
                   kiln_cpu_cache_result want, const kiln_tensor_map *w, const kiln_tensor_map *in,
                   const kiln_tensor_map *ref, const char *what) {
    kiln_cpu_program *p = NULL;
    kiln_cpu_cache_result r = (kiln_cpu_cache_result)-1;
    CHECK_OK(kiln_cpu_compile_cached(g, o, cdir, no_cache, &p, &r));
    if (r != want) {
        fprintf(stderr, "  %s: cache result %d, expected %d\n", what, (int)r, (int)want);
        CHECK(r == want);
    }
    if (!p) return;
    kiln_tensor_map *got = tc_run(p, w, in, what);
    if (!maps_equal(ref, got)) {
        fprintf(stderr, "  %s: outputs differ from the uncached compile\n", what);
        CHECK(0);
    }
    kiln_tensor_map_free(got);
    kiln_cpu_program_free(p);
}

static void test_cache(void) {
    kiln_model *m = load_gpt2(1);
    if (!m) return;
    static const tp_sym syms[] = {{"batch", 1}, {"seq", 7}, {NULL, 0}};
    kiln_tensor_map *w, *in;
    tp_feed(m->graph, syms, 97, 3, &w, &in);
    kiln_cpu_program *jit = tc_compile(m->graph, 0, "jit");
    kiln_tensor_map *ref = jit ? tc_run(jit, w, in, "jit") : NULL;
    CHECK(ref != NULL);
    kiln_cpu_options o = {0};
    char cdir[600], path[4200];
    snprintf(cdir, sizeof cdir, "%s/cache", dir);
    CHECK_OK(kiln_cpu_cache_path(m->graph, &o, cdir, path, sizeof path));
    CHECK(strncmp(path, cdir, strlen(cdir)) == 0 && strstr(path, ".kmod") != NULL);

    expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_MISS, w, in, ref, "first compile");
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
    expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_HIT, w, in, ref, "second compile");

    /* no_cache: compiled, the entry neither read nor rewritten */
    size_t n0 = 0, n1 = 0;
    unsigned char *before = test_read_file(path, &n0);
    test_write_file(path, (const unsigned char *)"junk", 4);
    expect(m->graph, &o, cdir, 1, KILN_CPU_CACHE_OFF, w, in, ref, "no_cache");
    unsigned char *after = test_read_file(path, &n1);
    CHECK(n1 == 4 && after && memcmp(after, "junk", 4) == 0);
    free(after);

    /* corrupt entries: not a module, a flipped byte in the object, truncated */
    expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_STALE, w, in, ref, "junk entry");
    expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_HIT, w, in, ref, "replaced entry");
    if (before && n0 > 64) {
        before[n0 / 2] ^= 0x55;
        test_write_file(path, before, n0);
        expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_STALE, w, in, ref, "flipped byte");
        before[n0 / 2] ^= 0x55;
        test_write_file(path, before, n0 / 3);
        expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_STALE, w, in, ref, "truncated entry");
        expect(m->graph, &o, cdir, 0, KILN_CPU_CACHE_HIT, w, in, ref, "after truncation");
    }
    free(before);

    /* other graphs and options: other entries */
    kiln_model *m2 = load_gpt2(2);
    char path2[4200], path3[4200];
    kiln_cpu_options unfused = {.no_fusion = 1}, threads = {.threads = 1, .profile = 1};
    if (m2) {
        CHECK_OK(kiln_cpu_cache_path(m2->graph, &o, cdir, path2, sizeof path2));
        CHECK(strcmp(path, path2) != 0);
    }
    CHECK_OK(kiln_cpu_cache_path(m->graph, &unfused, cdir, path3, sizeof path3));
    CHECK(strcmp(path, path3) != 0);
    CHECK_OK(kiln_cpu_cache_path(m->graph, &threads, cdir, path3, sizeof path3));
    CHECK(strcmp(path, path3) == 0); /* threads and profiling do not change the code */
    kiln_model_free(m2);

    /* a directory that cannot exist (below a regular file): compiled uncached */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/cache", path);
    expect(m->graph, &o, bad, 0, KILN_CPU_CACHE_OFF, w, in, ref, "unusable directory");

    kiln_tensor_map_free(ref);
    kiln_cpu_program_free(jit);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
    kiln_model_free(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/kiln_test_cpu_cache_XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    test_cache();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_cpu_cache");
}
#else
int main(void) {
    printf("test_cpu_cache: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
