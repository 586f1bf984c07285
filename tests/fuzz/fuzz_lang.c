/* libFuzzer target for the .kiln language (lexer, parser, evaluator and
 * graph building). Not part of the CMake build; build and run by hand from
 * the repository root after a normal build (for the embedded prelude):
 *
 *   clang-14 -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Iinclude -I. tests/fuzz/fuzz_lang.c frontend/lang/[a-z]*.c frontend/hf_names.c \
 *     frontend/embedded.c BUILD/generated/embedded_models.c frontend/json.c ir/[a-z]*.c \
 *     -lm -lpthread -o /tmp/fuzz_lang
 *   mkdir -p /tmp/lang-corpus
 *   /tmp/fuzz_lang /tmp/lang-corpus tests/fuzz/corpus/lang -max_total_time=300 -max_len=4096
 *
 * Beyond "no crash, no leak, no hang": a rejected program gets a one-line
 * message, located (FILE:LINE:COL) unless it is about the program as a
 * whole; an accepted one verifies and prints. Odd-length inputs compile in
 * CACHED mode, and all with a small config.json and one --set string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/json.h"
#include "kiln/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = 0;
    static kiln_json *cfg;
    if (!cfg) {
        const char *j = "{\"n\": 3, \"act\": \"relu\", \"rope_parameters\": {\"theta\": 5.0}, \"x\": null}";
        kiln_status_free(kiln_json_parse(j, strlen(j), "config.json", &cfg));
    }
    const char *sets[] = {"m=2"};
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.config = cfg;
    o.overrides = sets;
    o.noverrides = (size % 3 == 0) ? 1 : 0;
    o.mode = size % 2 ? KILN_LANG_CACHED : KILN_LANG_FORWARD;
    o.max_steps = 200000; /* keeps each run short; the default limit is tested elsewhere */
    kiln_graph *g = NULL;
    kiln_lang_info info;
    kiln_status s = kiln_lang_compile(src, "f.kiln", &o, &g, &info);
    if (s) {
        const char *m = kiln_status_message(s);
        if (strchr(m, '\n')) abort();
        int located = strncmp(m, "f.kiln:", 7) == 0 && m[7] >= '0' && m[7] <= '9';
        int whole = strstr(m, "declares no outputs") || strncmp(m, "--set", 5) == 0 || strstr(m, "memory limit") ||
                    strstr(m, "out of memory");
        if (!located && !whole) {
            fprintf(stderr, "unlocated error: %s\n", m);
            abort();
        }
        kiln_status_free(s);
    } else {
        char *text = NULL;
        kiln_status p = kiln_graph_to_string(g, &text);
        if (p) abort();
        free(text);
        kiln_lang_info_free(&info);
        kiln_graph_free(g);
    }
    free(src);
    return 0;
}
