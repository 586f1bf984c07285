/* Private state of the GGUF reader shared by its source files. */
#ifndef KILN_GGUF_INTERNAL_H
#define KILN_GGUF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/gguf.h"

/* Bump allocator: everything a reader decodes lives until it is closed. */
typedef struct gguf_arena_chunk gguf_arena_chunk;
typedef struct gguf_arena {
    gguf_arena_chunk *head;
} gguf_arena;

void *gguf_arena_alloc(gguf_arena *a, size_t n); /* zeroed, 8-byte aligned; NULL when out of memory */
void gguf_arena_free(gguf_arena *a);

/* Open-addressing hash table from names to their position in a list, so
 * lookups and the duplicate check stay linear however many entries a
 * file claims. */
typedef struct gguf_slot {
    const char *name; /* NULL when empty */
    int id;
} gguf_slot;
typedef struct gguf_index {
    gguf_slot *slots; /* arena-owned */
    size_t cap;       /* power of two, at least twice the entries */
} gguf_index;

/* Builds an empty table for n entries in the arena; 0 when out of memory. */
int gguf_index_init(gguf_index *ix, gguf_arena *a, size_t n);
/* Inserts name -> id; returns the id already stored for name, or -1. */
int gguf_index_insert(gguf_index *ix, const char *name, int id);
int gguf_index_find(const gguf_index *ix, const char *name);

struct kiln_gguf {
    int refs;
    char *name;
    const uint8_t *base;
    size_t size;
    void *map; /* mmap'd region to unmap on close, or NULL */
    uint32_t version, alignment;
    uint64_t data_offset;
    int n_kv;
    const char **keys;
    kiln_gguf_value *values;
    gguf_index key_index;
    int n_tensors;
    kiln_gguf_tensor *tensors;
    gguf_index tensor_index;
    gguf_arena arena;
};

#endif
