/* libFuzzer target for the textual IR reader. Beyond "no crash", every
 * rejected text must get a FILE:LINE:COL message, and every accepted one
 * must verify and print to text that parses back and prints identically.
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *     tests/fuzz/fuzz_ir_text.c ir/[a-z]*.c -lm -lpthread -o fuzz_ir_text
 *   ./fuzz_ir_text NEW_DIR tests/fuzz/corpus/ir_text   (new inputs go to NEW_DIR)
 *
 * Defining FUZZ_CHECK before including this file turns the checks into
 * counted failures (for replaying the corpus as a test). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/ir.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)
#endif

/* "fuzz.ir:LINE:COL: ..." (out-of-memory is the one message without a place) */
static int fir_positioned(kiln_status s) {
    const char *m = kiln_status_message(s), *p = "fuzz.ir:";
    if (kiln_status_code(s) == KILN_ERR_NOMEM) return 1;
    if (strncmp(m, p, strlen(p)) != 0) return 0;
    m += strlen(p);
    for (int field = 0; field < 2; field++) {
        if (!isdigit((unsigned char)*m)) return 0;
        while (isdigit((unsigned char)*m)) m++;
        if (*m++ != ':') return 0;
    }
    return *m == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    kiln_graph *g = NULL;
    kiln_status s = kiln_graph_parse(text, "fuzz.ir", &g);
    free(text);
    if (s) {
        FUZZ_CHECK(g == NULL);
        FUZZ_CHECK(fir_positioned(s));
        kiln_status_free(s);
        return 0;
    }
    kiln_status v = kiln_graph_verify(g);
    if (v) fprintf(stderr, "verify: %s\n", kiln_status_message(v));
    FUZZ_CHECK(v == NULL);
    kiln_status_free(v);
    char *t1 = NULL, *t2 = NULL;
    kiln_graph *back = NULL;
    FUZZ_CHECK(kiln_graph_to_string(g, &t1) == NULL);
    kiln_status r = t1 ? kiln_graph_parse(t1, "fuzz-reprinted.ir", &back) : NULL;
    if (r) fprintf(stderr, "reparse: %s\n", kiln_status_message(r));
    FUZZ_CHECK(r == NULL);
    kiln_status_free(r);
    if (back) FUZZ_CHECK(kiln_graph_to_string(back, &t2) == NULL);
    FUZZ_CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    kiln_graph_free(back);
    kiln_graph_free(g);
    return 0;
}
