/* .kmod modules: a model written ahead of time and loaded again gives the
 * outputs of the JIT'd program bit for bit (the same optimized IR, only
 * linked differently), with embedded weights or weights given at load;
 * load time is reported against compile time. Refusals: a module from
 * another kiln version, one built for CPU features this machine lacks, a
 * plan that does not match the object, and corrupt or truncated files,
 * each with a message naming the file and the problem, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifdef KILN_WITH_LLVM
#include "backends/llvm/kmod_format.h"
#include "kiln/llvm.h"
#include "kiln/model.h"
#include "test_cpu_util.h"

static char dir[512];

/* Byte offset of the payload of the record with `tag` (0 if absent). */
static size_t find_record(const unsigned char *p, size_t n, uint32_t tag, uint64_t *len) {
    size_t pos = 12;
    while (pos + KMOD_RECORD_HEADER <= n) {
        uint64_t l = kmod_u64(p + pos + 8);
        if (kmod_u32(p + pos) == tag) {
            *len = l;
            return pos + KMOD_RECORD_HEADER;
        }
        pos += KMOD_RECORD_HEADER + (size_t)l;
    }
    return 0;
}

/* Rewrites the checksum of the record whose payload starts at off. */
static void fix_checksum(unsigned char *p, size_t off, uint64_t len) {
    kmod_put_u64(p + off - 8, kmod_hash(p + off, (size_t)len));
}

static kiln_model *load_gpt2(void) {
    char path[1024];
    const char *src = getenv("KILN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/examples/gpt2.kiln", src ? src : "..");
    const char *sets[] = {"vocab_size=97", "n_embd=32", "n_head=4", "n_layer=2", "n_positions=64"};
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

static kiln_tensor_map *run_prog(kiln_cpu_program *p, const kiln_tensor_map *w, const kiln_tensor_map *in) {
    return tc_run(p, w, in, "kmod run");
}

static void test_round_trip(void) {
    kiln_model *m = load_gpt2();
    if (!m) return;
    static const tp_sym syms[] = {{"batch", 2}, {"seq", 9}, {NULL, 0}};
    kiln_tensor_map *w, *in;
    tp_feed(m->graph, syms, 97, 5, &w, &in);
    kiln_cpu_program *jit = tc_compile(m->graph, 0, "jit");
    kiln_tensor_map *want = jit ? run_prog(jit, w, in) : NULL;
    CHECK(want != NULL);

    char with[600], without[600];
    snprintf(with, sizeof with, "%s/with.kmod", dir);
    snprintf(without, sizeof without, "%s/without.kmod", dir);
    kiln_cpu_timings ct;
    CHECK_OK(kiln_kmod_write(with, m->graph, w, NULL, &ct));
    CHECK_OK(kiln_kmod_write(without, m->graph, NULL, NULL, NULL));

    /* embedded weights */
    kiln_cpu_program *p = NULL;
    kiln_tensor_map *ew = NULL;
    kiln_kmod_info info;
    CHECK_OK(kiln_kmod_load(with, &p, &ew, &info));
    if (p) {
        CHECK(ew != NULL && info.has_weights && info.kernels == kiln_plan_kernel_count(kiln_cpu_program_plan(jit)));
        kiln_tensor_map *got = run_prog(p, ew, in);
        CHECK(maps_equal(want, got));
        printf("  gpt2 (2 layers): compiled in %.3f s (optimize %.3f s), loaded from .kmod in %.4f s (%.0fx faster)\n",
               ct.total, ct.optimize, info.load_seconds, ct.total / (info.load_seconds > 0 ? info.load_seconds : 1e-9));
        kiln_tensor_map_free(got);
        kiln_kmod_info_release(&info);
    }
    kiln_tensor_map_free(ew);
    kiln_cpu_program_free(p);

    /* weights at load; the module has none */
    p = NULL;
    ew = NULL;
    CHECK_OK(kiln_kmod_load(without, &p, &ew, NULL));
    CHECK(ew == NULL);
    if (p) {
        kiln_tensor_map *got = run_prog(p, w, in);
        CHECK(maps_equal(want, got));
        kiln_tensor_map_free(got);
        /* and without them, binding names the missing weight */
        kiln_cpu_exec *e = NULL;
        kiln_cpu_options o = {0};
        CHECK_ERR(kiln_cpu_exec_create(p, NULL, &o, &e), "wte");
    }
    kiln_cpu_program_free(p);
    kiln_tensor_map_free(want);
    kiln_tensor_map_free(w);
    kiln_tensor_map_free(in);
    kiln_cpu_program_free(jit);
    kiln_model_free(m);
}

static void expect_load_error(const char *path, const char *needle, const char *what) {
    kiln_cpu_program *p = NULL;
    kiln_tensor_map *w = NULL;
    kiln_status s = kiln_kmod_load(path, &p, &w, NULL);
    if (!s || !strstr(kiln_status_message(s), needle) || !strstr(kiln_status_message(s), path)) {
        fprintf(stderr, "%s: expected an error with '%s' naming the file, got '%s'\n", what, needle, kiln_status_message(s));
        test_failures++;
    }
    kiln_status_free(s);
    CHECK(p == NULL && w == NULL);
    kiln_cpu_program_free(p);
    kiln_tensor_map_free(w);
}

static void test_refusals(void) {
    char good[600], bad[600];
    snprintf(good, sizeof good, "%s/with.kmod", dir);
    snprintf(bad, sizeof bad, "%s/bad.kmod", dir);
    size_t n = 0;
    unsigned char *orig = test_read_file(good, &n);
    CHECK(orig && n > 100);
    if (!orig) return;
    unsigned char *p = malloc(n);

    /* another kiln version (checksum kept valid: the version check speaks) */
    uint64_t len;
    size_t off = find_record(orig, n, KMOD_VERS, &len);
    CHECK(off && len > 0);
    memcpy(p, orig, n);
    p[off] = p[off] == '9' ? '8' : '9';
    fix_checksum(p, off, len);
    test_write_file(bad, p, n);
    expect_load_error(bad, "was built by kiln", "version");

    /* a kernel record that does not match the stored graph */
    off = find_record(orig, n, KMOD_PLAN, &len);
    CHECK(off && len > 24);
    memcpy(p, orig, n);
    p[off + 8 + 8] ^= 0x5a; /* kernel 0's fingerprint */
    fix_checksum(p, off, len);
    test_write_file(bad, p, n);
    expect_load_error(bad, "is not the one the object was built from", "plan mismatch");

    /* a flipped byte in every record: checksum */
    static const uint32_t tags[] = {KMOD_TRGT, KMOD_OBJ, KMOD_PLAN, KMOD_WGHT};
    for (int i = 0; i < 4; i++) {
        off = find_record(orig, n, tags[i], &len);
        CHECK(off && len > 0);
        memcpy(p, orig, n);
        p[off + len / 2] ^= 0x01;
        test_write_file(bad, p, n);
        expect_load_error(bad, "checksum mismatch", "flipped byte");
    }
    /* a record claiming more bytes than the file has */
    off = find_record(orig, n, KMOD_OBJ, &len);
    memcpy(p, orig, n);
    kmod_put_u64(p + off - 16, (uint64_t)n * 3);
    test_write_file(bad, p, n);
    expect_load_error(bad, "truncated or corrupt", "oversized length");
    memcpy(p, orig, n);
    kmod_put_u64(p + off - 16, UINT64_MAX);
    test_write_file(bad, p, n);
    expect_load_error(bad, "truncated or corrupt", "huge length");

    /* truncated anywhere */
    size_t cuts[] = {0, 5, 8, 11, 12, 20, 40, 100, n / 3, n / 2, n - 30, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        test_write_file(bad, orig, cuts[i]);
        const char *needle = cuts[i] < 12 ? "not a kiln module" : "truncated";
        expect_load_error(bad, needle, "truncated");
    }
    /* trailing garbage, another format, no file */
    memcpy(p, orig, n);
    test_write_file(bad, p, n);
    FILE *f = fopen(bad, "ab");
    if (f) {
        fputs("junk", f);
        fclose(f);
    }
    expect_load_error(bad, "after the END record", "trailing bytes");
    memcpy(p, orig, n);
    kmod_put_u32(p + 8, 77);
    test_write_file(bad, p, n);
    expect_load_error(bad, "module format 77", "format version");
    snprintf(bad, sizeof bad, "%s/missing.kmod", dir);
    expect_load_error(bad, "cannot open", "missing file");
    free(p);
    free(orig);
}

/* Built for a CPU feature this machine lacks: refused before linking. */
static void test_cpu_features(void) {
    kiln_llvm_target *host = NULL;
    CHECK_OK(kiln_llvm_target_host(&host));
    if (!host) return;
    static const char *candidates[] = {"amx-tile", "avx512fp16", "sha512", "avx10.1-512", "cx16", NULL};
    const char *missing = NULL;
    for (int i = 0; candidates[i] && !missing; i++) {
        char plus[64];
        snprintf(plus, sizeof plus, "+%s", candidates[i]);
        if (!strstr(host->features, plus)) missing = candidates[i];
    }
    if (!missing) {
        printf("  (this CPU has every candidate feature; the refusal case is skipped)\n");
        kiln_llvm_target_free(host);
        return;
    }
    kiln_model *m = load_gpt2();
    char path[600], features[256];
    snprintf(path, sizeof path, "%s/other.kmod", dir);
    snprintf(features, sizeof features, "+sse2,+%s", missing);
    kiln_cpu_options o = {0};
    o.cpu = "x86-64";
    o.features = features;
    if (m) CHECK_OK(kiln_kmod_write(path, m->graph, NULL, &o, NULL));
    expect_load_error(path, missing, "missing CPU feature");
    kiln_model_free(m);
    kiln_llvm_target_free(host);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/kiln_test_kmod_XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    test_round_trip();
    test_refusals();
    test_cpu_features();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("test_cpu_kmod");
}
#else
int main(void) {
    printf("test_cpu_kmod: skipped (built without KILN_WITH_LLVM)\n");
    return 0;
}
#endif
