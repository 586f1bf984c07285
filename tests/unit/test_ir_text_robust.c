/* Textual IR robustness: every prefix of a valid text and thousands of
 * random single-byte edits either parse (and then verify and round-trip)
 * or fail with a positioned message. Never a crash, a hang or an
 * out-of-bounds read; run it under the sanitizer build (KILN_SANITIZE=ON)
 * to make the last one visible. */
#include <ctype.h>
#include <dirent.h>
#include <string.h>

#include "test_ir_text_graphs.h"

static int parsed_ok, parse_failed;

/* "robust.ir:LINE:COL: ..." */
static int positioned(const char *msg) {
    const char *p = "robust.ir:";
    if (strncmp(msg, p, strlen(p)) != 0) return 0;
    msg += strlen(p);
    for (int field = 0; field < 2; field++) {
        if (!isdigit((unsigned char)*msg)) return 0;
        while (isdigit((unsigned char)*msg)) msg++;
        if (*msg++ != ':') return 0;
    }
    return *msg == ' ';
}

/* Parse text; on success the graph must verify and print -> parse -> print
 * must give identical text. Returns whether it parsed. */
static int try_text(const char *text, const char *what, size_t at) {
    kiln_graph *g = NULL;
    kiln_status s = kiln_graph_parse(text, "robust.ir", &g);
    if (s) {
        parse_failed++;
        if (!positioned(kiln_status_message(s)) || g != NULL) {
            fprintf(stderr, "%s at %zu: message without FILE:LINE:COL: %s\n", what, at, kiln_status_message(s));
            test_failures++;
        }
        kiln_status_free(s);
        return 0;
    }
    parsed_ok++;
    char *t1 = NULL, *t2 = NULL;
    kiln_graph *back = NULL;
    kiln_status v = kiln_graph_verify(g);
    if (v) {
        fprintf(stderr, "%s at %zu: parsed graph does not verify: %s\n", what, at, kiln_status_message(v));
        kiln_status_free(v);
        test_failures++;
    }
    CHECK_OK(kiln_graph_to_string(g, &t1));
    if (t1) CHECK_OK(kiln_graph_parse(t1, "reprinted.ir", &back));
    if (back) CHECK_OK(kiln_graph_to_string(back, &t2));
    if (!t1 || !t2 || strcmp(t1, t2) != 0) {
        fprintf(stderr, "%s at %zu: reprinted text does not round-trip\n", what, at);
        test_failures++;
    }
    free(t1);
    free(t2);
    kiln_graph_free(back);
    kiln_graph_free(g);
    return 1;
}

static void test_prefixes(const char *text) {
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    /* the text parses only once its closing '}' is in */
    const char *close = strrchr(text, '}');
    for (size_t len = 0; len <= n; len++) {
        memcpy(buf, text, len);
        buf[len] = 0;
        int ok = try_text(buf, "prefix", len);
        CHECK(ok == (len > (size_t)(close - text)));
    }
    free(buf);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) { /* xorshift64: fixed seed so failures reproduce */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_mutations(const char *text, int count) {
    static const char interesting[] = "0123456789%\"\\[](){},:=@#_-+*. \nexnaifb";
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    for (int i = 0; i < count; i++) {
        size_t at = (size_t)(rng() % n);
        int kind = (int)(rng() % 3);
        unsigned char byte = rng() % 2 ? (unsigned char)interesting[rng() % (sizeof interesting - 1)]
                                       : (unsigned char)(rng() % 256);
        if (kind == 0) { /* replace */
            memcpy(buf, text, n + 1);
            buf[at] = (char)byte; /* a 0 byte just ends the text early */
        } else if (kind == 1) { /* delete */
            memcpy(buf, text, at);
            memcpy(buf + at, text + at + 1, n - at);
        } else { /* insert */
            memcpy(buf, text, at);
            buf[at] = (char)byte;
            memcpy(buf + at + 1, text + at, n - at + 1);
        }
        try_text(buf, kind == 0 ? "replace" : kind == 1 ? "delete" : "insert", at);
    }
    free(buf);
}

/* Replay the fuzz corpus (tests/fuzz/corpus/ir_text) under the same checks
 * as the fuzz target, so its finds stay fixed without a fuzzer. */
static void test_corpus(void) {
    const char *src = getenv("KILN_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "KILN_SOURCE_DIR not set: corpus replay skipped\n");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/ir_text", src);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0; /* like the fuzz target: the text ends at the first NUL */
        try_text(buf, e->d_name, 0);
        files++;
    }
    closedir(d);
    CHECK(files >= 10);
}

int main(void) {
    test_corpus();
    kiln_graph *g = build_coverage_graph();
    char *text = NULL;
    CHECK(g != NULL);
    if (g) CHECK_OK(kiln_graph_to_string(g, &text));
    if (text) {
        test_prefixes(text);
        test_mutations(text, 4000);
        /* both outcomes must have happened, or the mutations tested nothing */
        fprintf(stderr, "parsed %d texts, rejected %d\n", parsed_ok, parse_failed);
        CHECK(parsed_ok > 100 && parse_failed > 1000);
    }
    free(text);
    kiln_graph_free(g);
    return test_finish("test_ir_text_robust");
}
