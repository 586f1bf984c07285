/* Name -> int maps for the IR reader (labels, param names, symbols), so
 * that lookups stay O(1) however large the text. */
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"

static size_t name_hash(const char *s, size_t n) {
    size_t h = (size_t)1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * (size_t)1099511628211u;
    return h;
}

static name_entry *slot(const name_map *m, const char *s, size_t n) {
    size_t i = name_hash(s, n) & (m->cap - 1);
    while (m->slots[i].name && (m->slots[i].n != n || memcmp(m->slots[i].name, s, n) != 0)) i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

int name_map_find(const name_map *m, const char *s, size_t n) {
    if (!m->cap) return -1;
    name_entry *e = slot(m, s, n);
    return e->name ? e->v : -1;
}

kiln_status name_map_put(name_map *m, const char *s, size_t n, int v) {
    if (2 * (m->count + 1) > m->cap) { /* keep at most half full */
        size_t cap = m->cap ? 2 * m->cap : 64;
        name_map grown = {calloc(cap, sizeof(name_entry)), cap, m->count};
        if (!grown.slots) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].name) *slot(&grown, m->slots[i].name, m->slots[i].n) = m->slots[i];
        free(m->slots);
        *m = grown;
    }
    *slot(m, s, n) = (name_entry){s, n, v};
    m->count++;
    return KILN_OK;
}

void name_map_free(name_map *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}
