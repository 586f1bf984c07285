/* What generation reads from a model's config: context length and the
 * special token ids. */
#include <stdlib.h>
#include <string.h>

#include "runtime/generate_internal.h"

/* "key = 123" on a line of the config text. */
static int from_config_text(const char *text, const char *key, int64_t *out) {
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, key, klen) == 0 && strncmp(line + klen, " = ", 3) == 0) {
            char *stop;
            long long v = strtoll(line + klen + 3, &stop, 10);
            if (stop != line + klen + 3 && (*stop == '\n' || *stop == 0)) {
                *out = v;
                return 1;
            }
            return 0; /* present but not an integer (none, a string, a float) */
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static int json_int(const kiln_json *j, int64_t *out) {
    if (j && j->type == KILN_JSON_ARRAY && j->count > 0) j = &j->items[0];
    if (!j || j->type != KILN_JSON_NUMBER || !j->is_integer) return 0;
    *out = j->integer;
    return 1;
}

int kiln_generation_config_int(const kiln_model *m, const char *key, int64_t *out) {
    if (m->config_text && from_config_text(m->config_text, key, out)) return 1;
    return json_int(kiln_json_get(m->config, key), out);
}

static int32_t token_id(const kiln_model *m, const char *key) {
    int64_t v;
    return kiln_generation_config_int(m, key, &v) && v >= 0 && v <= INT32_MAX ? (int32_t)v : -1;
}

void kiln_generation_read_config(const kiln_model *m, kiln_generation_info *info) {
    /* absolute-position models say how far their position table goes */
    static const char *const keys[] = {"max_position_embeddings", "n_positions", "n_ctx"};
    info->context = -1;
    info->context_key = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int64_t v;
        if (kiln_generation_config_int(m, keys[i], &v) && v > 0) {
            info->context = v;
            info->context_key = keys[i];
            break;
        }
    }
    info->bos_id = token_id(m, "bos_token_id");
    info->eos_id = token_id(m, "eos_token_id");
    info->decoder_start_id = token_id(m, "decoder_start_token_id");
}

static int add_id(int32_t *ids, int n, int cap, int64_t id) {
    if (id < 0 || id > INT32_MAX || n >= cap) return n;
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return n;
    ids[n] = (int32_t)id;
    return n + 1;
}

int kiln_generation_stop_ids(const kiln_model *m, const kiln_generation_info *info, const kiln_tokenizer *tok,
                             int32_t *ids, int cap) {
    int n = 0;
    const kiln_json *eos = kiln_json_get(m->config, "eos_token_id");
    if (eos && eos->type == KILN_JSON_ARRAY) {
        for (int i = 0; i < eos->count; i++)
            if (eos->items[i].type == KILN_JSON_NUMBER && eos->items[i].is_integer)
                n = add_id(ids, n, cap, eos->items[i].integer);
    }
    if (info) n = add_id(ids, n, cap, info->eos_id);
    if (tok) n = add_id(ids, n, cap, kiln_tokenizer_eos(tok));
    /* llama2.c's run.c ends a text at BOS: its stories are separated by it */
    if (m->format && strcmp(m->format, "llama2c") == 0) {
        if (info) n = add_id(ids, n, cap, info->bos_id);
        if (tok) n = add_id(ids, n, cap, kiln_tokenizer_bos(tok));
    }
    return n;
}
