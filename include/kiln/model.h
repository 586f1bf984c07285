/* A loaded model: its forward graph, its weights and everything needed to
 * compile it again (e.g. in CACHED mode for generation).
 *
 * kiln_model_load dispatches on what `path` is:
 *   a directory with config.json   Hugging Face folder (gpt2, bert, t5, llama)
 *   *.kiln                         a model description (docs/language.md)
 * Other formats give an "unsupported model format" error. */
#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include "ir.h"
#include "json.h"
#include "lang.h"
#include "tensor.h"

typedef struct kiln_model_options {
    /* weights file (safetensors): overrides a .kiln description's `weights`
     * statement or a Hugging Face folder's model.safetensors (other
     * formats ignore it) */
    const char *weights_path;
    /* "name=value" config overrides (--set) */
    const char *const *overrides;
    int noverrides;
} kiln_model_options;

/* Fields are read-only for users; kiln_model_free releases them all. */
typedef struct kiln_model {
    char *name;              /* "gpt2-tiny" (folder name) or "gpt2" (.kiln stem) */
    char *format;            /* "huggingface" or "kiln" */
    char *path;              /* what was loaded */
    char *description;       /* the .kiln source text */
    char *description_name;  /* its name in locations: "gpt2.kiln" or the file's path */
    char *description_path;  /* the .kiln file on disk; NULL when embedded */
    kiln_json *config;       /* Hugging Face config.json; NULL for a plain .kiln */
    char *config_origin;     /* its path, for messages */
    char **overrides;        /* copies of the --set strings */
    int noverrides;
    char *config_text;       /* "name = value" lines of the config as used */
    char *weights_path;      /* weight file (or shard index) read; NULL when none */
    kiln_tensor_map *weights;/* NULL when the description has no weights */
    kiln_graph *graph;       /* FORWARD mode */
} kiln_model;

kiln_status kiln_model_load(const char *path, const kiln_model_options *opt, kiln_model **out);

/* Compiles the same description with the same config in `mode`
 * (KILN_LANG_CACHED adds past.* inputs and present.* outputs). */
kiln_status kiln_model_compile(const kiln_model *m, kiln_lang_mode mode, kiln_graph **out);

void kiln_model_free(kiln_model *m);

/* For loaders of other formats that produce a Hugging Face style config
 * (with "model_type") and HF tensor names: builds a model from the
 * embedded <model_type>.kiln. Takes ownership of config and weights (also
 * on failure). `name` and `path` describe the source. */
kiln_status kiln_model_from_hf_config(const char *name, const char *path, kiln_json *config, const char *config_origin,
                                      kiln_tensor_map *weights, const char *weights_path, const kiln_model_options *opt,
                                      kiln_model **out);

/* Model types kiln_model_from_hf_config knows, comma separated. */
const char *kiln_model_hf_types(void);

#endif
