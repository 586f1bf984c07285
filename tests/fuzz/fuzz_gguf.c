/* libFuzzer target for the GGUF reader (and, on the same bytes, the llama
 * mapping, the writer round trip and the llama2.c header check). Not part
 * of the CMake build; build and run by hand from the repository root:
 *
 *   clang-14 -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Iinclude -I. tests/fuzz/fuzz_gguf.c ir/status.c ir/dtype.c ir/tensor.c \
 *     frontend/json.c frontend/gguf*.c frontend/llama2c.c ir/quant*.c -lm -o /tmp/fuzz_gguf
 *   mkdir -p /tmp/gguf-corpus
 *   /tmp/fuzz_gguf /tmp/gguf-corpus tests/fuzz/corpus/gguf -max_total_time=300 -max_len=4096
 *
 * Properties checked beyond "no crash": every accepted tensor lies inside
 * the input, and a file rebuilt from an accepted file's metadata and
 * tensors by the writer parses again with the same counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/gguf.h"
#include "kiln/llama2c.h"

/* tests/unit/test_gguf_fuzz_corpus.c replays the corpus through this file
 * and counts failed invariants instead of aborting. */
#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)      \
    do {                      \
        if (!(cond)) abort(); \
    } while (0)
#endif

static void touch_metadata(const kiln_gguf *g) {
    for (int i = 0; i < kiln_gguf_kv_count(g); i++) {
        const char *key = kiln_gguf_kv_key(g, i);
        kiln_gguf_string s;
        int64_t iv;
        double d;
        int b;
        float *fl = NULL;
        int64_t *in = NULL;
        uint64_t n;
        const kiln_gguf_string *strs;
        kiln_status_free(kiln_gguf_get_string(g, key, &s));
        kiln_status_free(kiln_gguf_get_int(g, key, &iv));
        kiln_status_free(kiln_gguf_get_float(g, key, &d));
        kiln_status_free(kiln_gguf_get_bool(g, key, &b));
        kiln_status_free(kiln_gguf_get_strings(g, key, &strs, &n));
        kiln_status_free(kiln_gguf_get_floats(g, key, &fl, &n));
        kiln_status_free(kiln_gguf_get_ints(g, key, &in, &n));
        free(fl);
        free(in);
    }
    kiln_gguf_tokenizer t;
    kiln_status_free(kiln_gguf_tokenizer_get(g, &t));
    kiln_gguf_tokenizer_release(&t);
}

static void roundtrip(const kiln_gguf *g) {
    kiln_gguf_writer *w = NULL;
    if (kiln_gguf_writer_new(&w)) return;
    for (int i = 0; i < kiln_gguf_kv_count(g); i++)
        FUZZ_CHECK(!kiln_gguf_writer_add_value(w, kiln_gguf_kv_key(g, i), kiln_gguf_kv_value(g, i)));
    for (int i = 0; i < kiln_gguf_tensor_count(g); i++) {
        const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, i);
        FUZZ_CHECK(!kiln_gguf_writer_add_tensor(w, t->name, t->ggml_type, t->n_dims, t->shape, t->data, t->nbytes));
    }
    void *mem = NULL;
    size_t size = 0;
    if (!kiln_gguf_writer_write_memory(w, &mem, &size)) {
        kiln_gguf *g2 = NULL;
        kiln_status s = kiln_gguf_open_memory(mem, size, "rewritten", &g2);
        FUZZ_CHECK(s == NULL); /* what the reader accepted, the writer must reproduce validly */
        FUZZ_CHECK(!g2 || (kiln_gguf_kv_count(g2) == kiln_gguf_kv_count(g) &&
                           kiln_gguf_tensor_count(g2) == kiln_gguf_tensor_count(g)));
        kiln_status_free(s);
        kiln_gguf_close(g2);
    }
    free(mem);
    kiln_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_gguf *g = NULL;
    kiln_status s = kiln_gguf_open_memory(data, size, "fuzz.gguf", &g);
    if (!s) {
        for (int i = 0; i < kiln_gguf_tensor_count(g); i++) {
            const kiln_gguf_tensor *t = kiln_gguf_tensor_at(g, i);
            FUZZ_CHECK((const uint8_t *)t->data >= data && t->file_offset + t->nbytes <= size);
        }
        touch_metadata(g);
        kiln_json *cfg = NULL;
        kiln_status_free(kiln_gguf_llama_config(g, &cfg));
        kiln_json_free(cfg);
        kiln_tensor_map *m = NULL;
        kiln_status_free(kiln_gguf_llama_weights(g, &m));
        kiln_tensor_map_free(m);
        roundtrip(g);
        kiln_gguf_close(g);
    }
    kiln_status_free(s);
    kiln_json *cfg = NULL;
    kiln_tensor_map *m = NULL;
    kiln_status_free(kiln_llama2c_load_memory(data, size, "fuzz.bin", &cfg, &m));
    kiln_json_free(cfg);
    kiln_tensor_map_free(m);
    return 0;
}
