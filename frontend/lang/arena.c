/* One arena per compilation: the syntax tree, strings, lists and scopes
 * all die together, and a byte limit keeps hostile programs bounded. */
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

struct arena_chunk {
    arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena *a, size_t limit) {
    a->chunks = NULL;
    a->used_total = 0;
    a->limit = limit;
}

void arena_free(arena *a) {
    while (a->chunks) {
        arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    a->used_total = 0;
}

void *arena_alloc(arena *a, size_t n) {
    if (n > a->limit) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (a->used_total + cap > a->limit) return NULL;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->chunks;
        c->used = 0;
        c->cap = cap;
        a->chunks = c;
        a->used_total += cap;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

void interner_init(interner *in, arena *a) {
    in->a = a;
    in->slots = NULL;
    in->cap = in->count = 0;
}

void interner_free(interner *in) {
    free(in->slots);
    in->slots = NULL;
    in->cap = in->count = 0;
}

static int grow(interner *in) {
    size_t cap = in->cap ? in->cap * 2 : 256;
    const char **slots = calloc(cap, sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < in->cap; i++) {
        const char *s = in->slots[i];
        if (!s) continue;
        size_t j = hash_bytes(s, strlen(s)) & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(in->slots);
    in->slots = slots;
    in->cap = cap;
    return 1;
}

const char *intern(interner *in, const char *s, size_t n) {
    if ((in->count + 1) * 2 > in->cap && !grow(in)) return NULL;
    size_t j = hash_bytes(s, n) & (in->cap - 1);
    while (in->slots[j]) {
        const char *t = in->slots[j];
        if (strncmp(t, s, n) == 0 && t[n] == 0) return t;
        j = (j + 1) & (in->cap - 1);
    }
    char *copy = arena_strndup(in->a, s, n);
    if (!copy) return NULL;
    in->slots[j] = copy;
    in->count++;
    return copy;
}
