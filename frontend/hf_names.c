/* Weight lookup that tolerates one added or removed module prefix. */
#include <string.h>

#include "frontend/hf_names.h"

const kiln_tensor *kiln_weights_find(const kiln_tensor_map *m, const char *name, const char **found) {
    const kiln_tensor *t = kiln_tensor_map_get(m, name);
    if (t) {
        if (found) *found = name;
        return t;
    }
    /* remove: "transformer.h.0.ln_1.weight" -> "h.0.ln_1.weight" */
    const char *dot = strchr(name, '.');
    if (dot && dot[1] && (t = kiln_tensor_map_get(m, dot + 1))) {
        if (found) *found = dot + 1;
        return t;
    }
    /* add: "embeddings.word_embeddings.weight" -> "bert.embeddings.word_embeddings.weight" */
    size_t n = strlen(name);
    const kiln_tensor *hit = NULL;
    const char *hit_name = NULL;
    for (int i = 0; i < kiln_tensor_map_count(m); i++) {
        const char *k = kiln_tensor_map_name(m, i);
        size_t kl = strlen(k);
        if (kl <= n + 1 || strcmp(k + kl - n, name) != 0 || k[kl - n - 1] != '.') continue;
        const char *first = strchr(k, '.');
        if (first != k + kl - n - 1) continue; /* exactly one component added */
        if (hit) return NULL;                  /* ambiguous */
        hit = kiln_tensor_map_at(m, i);
        hit_name = k;
    }
    if (hit && found) *found = hit_name;
    return hit;
}
