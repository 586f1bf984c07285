/* libFuzzer target for the safetensors reader (from memory) and writer.
 * Every map that loads is checked against the input bounds, every byte of
 * every tensor is read (so ASan sees any out-of-bounds view), and the map
 * is saved and loaded again, which must give the same tensors.
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *     tests/fuzz/fuzz_safetensors.c frontend/safetensors*.c frontend/json.c \
 *     ir/status.c ir/tensor.c ir/dtype.c -lm -o fuzz_safetensors
 *   ./fuzz_safetensors tests/fuzz/corpus/safetensors
 *
 * tests/unit/test_fuzz_corpus.c includes this file to replay the corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/safetensors.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)
#endif

static const char *fs_scratch_path(void) {
    static char path[128];
    if (!path[0])
        snprintf(path, sizeof path, "%s/kiln_fuzz_st_%d.safetensors", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                 (int)getpid());
    return path;
}

static void fs_check_map(const kiln_tensor_map *m, const uint8_t *data, size_t size) {
    volatile unsigned sum = 0;
    for (int i = 0; i < kiln_tensor_map_count(m); i++) {
        const kiln_tensor *t = kiln_tensor_map_at(m, i);
        FUZZ_CHECK(t->dtype >= 0 && t->dtype < KILN_DTYPE_COUNT);
        FUZZ_CHECK(t->rank >= 0 && t->rank <= KILN_MAX_RANK);
        FUZZ_CHECK(t->nbytes == (size_t)kiln_tensor_numel(t) * kiln_dtype_size(t->dtype));
        FUZZ_CHECK((uintptr_t)t->data % kiln_dtype_size(t->dtype) == 0);
        const uint8_t *p = t->data;
        if (!t->owns_data && data) FUZZ_CHECK(p >= data + 8 && p + t->nbytes <= data + size);
        for (size_t k = 0; k < t->nbytes; k++) sum += p[k];
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_tensor_map *m = NULL;
    kiln_status s = kiln_safetensors_load_memory(data, size, "fuzz.safetensors", &m);
    if (s) {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(strstr(kiln_status_message(s), "fuzz.safetensors") != NULL);
        kiln_status_free(s);
        return 0;
    }
    fs_check_map(m, data, size);

    /* Whatever loads must save, and load back to the same tensors. */
    const char *path = fs_scratch_path();
    s = kiln_safetensors_save(path, m);
    if (s) fprintf(stderr, "%s\n", kiln_status_message(s));
    FUZZ_CHECK(s == NULL);
    kiln_status_free(s);
    kiln_tensor_map *back = NULL;
    s = kiln_safetensors_load(path, &back);
    if (s) fprintf(stderr, "%s\n", kiln_status_message(s));
    FUZZ_CHECK(s == NULL);
    kiln_status_free(s);
    if (back) {
        fs_check_map(back, NULL, 0);
        FUZZ_CHECK(kiln_tensor_map_count(back) == kiln_tensor_map_count(m));
        for (int i = 0; i < kiln_tensor_map_count(m) && i < kiln_tensor_map_count(back); i++) {
            const kiln_tensor *a = kiln_tensor_map_at(m, i), *b = kiln_tensor_map_at(back, i);
            FUZZ_CHECK(strcmp(kiln_tensor_map_name(m, i), kiln_tensor_map_name(back, i)) == 0);
            FUZZ_CHECK(a->dtype == b->dtype && a->rank == b->rank && a->nbytes == b->nbytes);
            FUZZ_CHECK(memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->rank) == 0);
            FUZZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
        }
    }
    kiln_tensor_map_free(back);
    kiln_tensor_map_free(m);
    unlink(path);
    return 0;
}
