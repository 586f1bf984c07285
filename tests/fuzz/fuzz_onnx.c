/* libFuzzer target for the ONNX reader and importer: any bytes go through
 * kiln_onnx_import (protobuf decoding, ONNX messages, conversion to IR with
 * import-time folding) and kiln_onnx_parse_tensor. Beyond "no crash, no
 * out-of-bounds read, no leak": a failure has a message, and a graph that
 * imports verifies and prints.
 *
 *   S="$(ls ir/[a-z]*.c backends/ref/[a-z]*.c) runtime/bind.c $(ls frontend/onnx/[a-z]*.c | grep -v onnx_model)"
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -I. \
 *     tests/fuzz/fuzz_onnx.c $S -lm -o fuzz_onnx
 *   ./fuzz_onnx -max_len=4096 -timeout=10 tests/fuzz/corpus/onnx
 *
 * tests/unit/test_onnx_fuzz_corpus.c includes this file to replay the
 * corpus; it defines FUZZ_CHECK to count failures instead of aborting. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/ir.h"
#include "kiln/onnx.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_graph *g = NULL;
    kiln_tensor_map *w = NULL;
    kiln_status s = kiln_onnx_import(data, size, "fuzz.onnx", &g, &w);
    if (s) {
        const char *msg = kiln_status_message(s);
        FUZZ_CHECK(msg && strncmp(msg, "fuzz.onnx", 9) == 0);
        FUZZ_CHECK(g == NULL && w == NULL);
        kiln_status_free(s);
    } else {
        FUZZ_CHECK(g && w);
        kiln_status v = kiln_graph_verify(g);
        if (v) fprintf(stderr, "verify: %s\n", kiln_status_message(v));
        FUZZ_CHECK(v == KILN_OK);
        char *text = NULL;
        FUZZ_CHECK(kiln_graph_to_string(g, &text) == KILN_OK);
        free(text);
        kiln_graph_free(g);
        kiln_tensor_map_free(w);
    }
    kiln_tensor t;
    char *name = NULL;
    s = kiln_onnx_parse_tensor(data, size, "fuzz.pb", &t, &name);
    if (s) {
        FUZZ_CHECK(strncmp(kiln_status_message(s), "fuzz.pb", 7) == 0);
        kiln_status_free(s);
    } else {
        FUZZ_CHECK(t.owns_data || kiln_tensor_numel(&t) == 0);
        kiln_tensor_release(&t);
        free(name);
    }
    return 0;
}
