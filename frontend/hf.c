/* Hugging Face model folders: config.json's model_type picks the embedded
 * <type>.kiln, compiled with config.json as overrides, over the weights
 * of model.safetensors or of every shard a model.safetensors.index.json
 * lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/embedded.h"
#include "frontend/hf_internal.h"
#include "kiln/model.h"
#include "kiln/safetensors.h"

static const char *const hf_types[] = {"gpt2", "bert", "t5", "llama"};

const char *kiln_model_hf_types(void) { return "gpt2, bert, t5, llama"; }

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (k && p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static void free_map(void *m) { kiln_tensor_map_free(m); }

/* Every shard listed in the index, merged into one map of views; each
 * shard's mapping stays alive as long as the merged map. */
static kiln_status load_sharded(const char *dir, const char *index_path, kiln_tensor_map **out) {
    kiln_json *idx = NULL;
    KILN_TRY(kiln_json_parse_file(index_path, &idx));
    const kiln_json *wm = kiln_json_get(idx, "weight_map");
    kiln_status s = KILN_OK;
    if (!wm || wm->type != KILN_JSON_OBJECT || wm->count == 0)
        s = kiln_error(KILN_ERR_FORMAT, "%s: needs a non-empty \"weight_map\" object", index_path);
    for (int i = 0; !s && i < wm->count; i++) {
        const kiln_json *f = &wm->items[i];
        if (f->type != KILN_JSON_STRING || !f->string[0] || strlen(f->string) != f->len || f->string[0] == '/' ||
            strstr(f->string, ".."))
            s = kiln_error(KILN_ERR_FORMAT, "%s: tensor \"%.200s\" names no usable shard file", index_path, wm->keys[i]);
    }
    kiln_tensor_map *merged = s ? NULL : kiln_tensor_map_new();
    if (!s && !merged) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) kiln_tensor_map_set_origin(merged, index_path);
    for (int i = 0; !s && i < wm->count; i++) {
        const char *file = wm->items[i].string;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = strcmp(wm->items[j].string, file) == 0;
        if (seen) continue;
        char *path = join(dir, file);
        kiln_tensor_map *shard = NULL;
        s = path ? kiln_safetensors_load(path, &shard) : kiln_error(KILN_ERR_NOMEM, "out of memory");
        if (s) s = kiln_error_wrap(s, "%s: shard", index_path);
        for (int t = 0; !s && t < kiln_tensor_map_count(shard); t++) {
            const char *name = kiln_tensor_map_name(shard, t);
            if (kiln_tensor_map_get(merged, name))
                s = kiln_error(KILN_ERR_FORMAT, "%s: tensor \"%.200s\" appears in more than one shard (again in %s)",
                               index_path, name, file);
            kiln_tensor view = *kiln_tensor_map_at(shard, t);
            view.owns_data = 0;
            if (!s) s = kiln_tensor_map_put(merged, name, view);
        }
        if (!s) s = kiln_tensor_map_hold(merged, shard, free_map);
        else kiln_tensor_map_free(shard);
        free(path);
    }
    /* the index and the shards must agree */
    for (int i = 0; !s && i < wm->count; i++)
        if (!kiln_tensor_map_get(merged, wm->keys[i]))
            s = kiln_error(KILN_ERR_FORMAT, "%s: lists \"%.200s\" in %s, which does not contain it", index_path,
                           wm->keys[i], wm->items[i].string);
    kiln_json_free(idx);
    if (s) {
        kiln_tensor_map_free(merged);
        return s;
    }
    *out = merged;
    return KILN_OK;
}

static kiln_status load_weights(const char *dir, kiln_tensor_map **out, char **used) {
    static const char *const others[] = {"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5",
                                         "flax_model.msgpack"};
    char *single = join(dir, "model.safetensors"), *index = join(dir, "model.safetensors.index.json");
    kiln_status s = KILN_OK;
    if (!single || !index) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    else if (exists(single)) {
        s = kiln_safetensors_load(single, out);
        if (!s) *used = single, single = NULL;
    } else if (exists(index)) {
        s = load_sharded(dir, index, out);
        if (!s) *used = index, index = NULL;
    } else {
        const char *other = NULL;
        for (size_t i = 0; i < sizeof others / sizeof others[0] && !other; i++) {
            char *p = join(dir, others[i]);
            if (p && exists(p)) other = others[i];
            free(p);
        }
        if (other)
            s = kiln_error(KILN_ERR_UNSUPPORTED,
                           "%s: has %s but no model.safetensors; kiln reads safetensors only. Convert it, e.g. "
                           "python -c \"import transformers as t; m = t.AutoModel.from_pretrained('%s'); "
                           "m.save_pretrained('%s', safe_serialization=True)\"",
                           dir, other, dir, dir);
        else
            s = kiln_error(KILN_ERR_NOT_FOUND, "%s: no weights (model.safetensors or model.safetensors.index.json)", dir);
    }
    free(single);
    free(index);
    return s;
}

static char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    char *s = malloc(n - b + 1);
    if (!s) return NULL;
    memcpy(s, path + b, n - b);
    s[n - b] = 0;
    return s;
}

kiln_status kiln_model_from_hf_config(const char *name, const char *path, kiln_json *config, const char *config_origin,
                                      kiln_tensor_map *weights, const char *weights_path, const kiln_model_options *opt,
                                      kiln_model **out) {
    *out = NULL;
    kiln_model *m = calloc(1, sizeof *m);
    if (!m) {
        kiln_json_free(config);
        kiln_tensor_map_free(weights);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    m->config = config;
    m->weights = weights;
    const char *origin = config_origin ? config_origin : "config.json";
    kiln_status s = KILN_OK;
    const kiln_json *mt = config && config->type == KILN_JSON_OBJECT ? kiln_json_get(config, "model_type") : NULL;
    if (!config || config->type != KILN_JSON_OBJECT) s = kiln_error(KILN_ERR_FORMAT, "%s: must be a JSON object", origin);
    else if (!mt || mt->type != KILN_JSON_STRING)
        s = kiln_error(KILN_ERR_FORMAT, "%s: needs a \"model_type\" string (supported: %s)", origin, kiln_model_hf_types());
    const char *type = NULL;
    for (size_t i = 0; !s && i < sizeof hf_types / sizeof hf_types[0]; i++)
        if (strcmp(mt->string, hf_types[i]) == 0) type = hf_types[i];
    if (!s && !type)
        s = kiln_error(KILN_ERR_UNSUPPORTED, "%s: model_type \"%.100s\" is not supported (supported: %s)", origin,
                       mt->string, kiln_model_hf_types());
    char file[64];
    if (!s) {
        snprintf(file, sizeof file, "%s.kiln", type);
        const char *text = kiln_embedded_file(file);
        if (!text) s = kiln_error(KILN_ERR_INTERNAL, "%s is not embedded in this build", file);
        else {
            m->description = kiln_strdup_or_null(text);
            m->description_name = kiln_strdup_or_null(file);
        }
        m->name = kiln_strdup_or_null(name ? name : type);
        m->format = kiln_strdup_or_null("huggingface");
        m->path = kiln_strdup_or_null(path ? path : "");
        m->config_origin = kiln_strdup_or_null(origin);
        if (weights_path) m->weights_path = kiln_strdup_or_null(weights_path);
        if (!s && (!m->description || !m->description_name || !m->name || !m->format || !m->path || !m->config_origin ||
                   (weights_path && !m->weights_path)))
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    int n = opt ? opt->noverrides : 0;
    if (!s && n > 0) {
        m->overrides = calloc((size_t)n, sizeof *m->overrides);
        if (!m->overrides) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
        for (int i = 0; !s && i < n; i++) {
            m->overrides[i] = kiln_strdup_or_null(opt->overrides[i] ? opt->overrides[i] : "");
            if (!m->overrides[i]) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
            else m->noverrides++;
        }
    }
    if (!s) s = kiln_model_build(m);
    if (s) {
        kiln_model_free(m);
        return s;
    }
    *out = m;
    return KILN_OK;
}

kiln_status kiln_hf_load(const char *dir, const kiln_model_options *opt, kiln_model **out) {
    char *cfg_path = join(dir, "config.json");
    if (!cfg_path) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!exists(cfg_path)) {
        free(cfg_path);
        return kiln_error(KILN_ERR_NOT_FOUND, "%s: not a Hugging Face model folder (no config.json)", dir);
    }
    kiln_json *cfg = NULL;
    kiln_status s = kiln_json_parse_file(cfg_path, &cfg);
    /* check the type before touching possibly large weights */
    if (!s && cfg->type != KILN_JSON_OBJECT) s = kiln_error(KILN_ERR_FORMAT, "%s: must be a JSON object", cfg_path);
    if (!s) {
        const kiln_json *mt = kiln_json_get(cfg, "model_type");
        int known = 0;
        for (size_t i = 0; mt && mt->type == KILN_JSON_STRING && i < sizeof hf_types / sizeof hf_types[0]; i++)
            known |= strcmp(mt->string, hf_types[i]) == 0;
        if (!mt || mt->type != KILN_JSON_STRING)
            s = kiln_error(KILN_ERR_FORMAT, "%s: needs a \"model_type\" string (supported: %s)", cfg_path,
                           kiln_model_hf_types());
        else if (!known)
            s = kiln_error(KILN_ERR_UNSUPPORTED, "%s: model_type \"%.100s\" is not supported (supported: %s)", cfg_path,
                           mt->string, kiln_model_hf_types());
    }
    kiln_tensor_map *w = NULL;
    char *used = NULL;
    /* --weights: a checkpoint (e.g. from kiln train) in place of the folder's own */
    if (!s && opt && opt->weights_path) {
        s = kiln_safetensors_load(opt->weights_path, &w);
        if (!s && !(used = kiln_strdup_or_null(opt->weights_path))) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    } else if (!s) {
        s = load_weights(dir, &w, &used);
    }
    char *name = s ? NULL : base_name(dir);
    if (!s && !name) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (s) {
        kiln_json_free(cfg);
        kiln_tensor_map_free(w);
        free(cfg_path);
        free(used);
        return s;
    }
    s = kiln_model_from_hf_config(name, dir, cfg, cfg_path, w, used, opt, out);
    free(name);
    free(cfg_path);
    free(used);
    return s;
}
