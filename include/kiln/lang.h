/* The .kiln model description language (docs/language.md).
 *
 * Evaluating a .kiln file builds a kiln IR graph: loops unroll, functions
 * inline, config values are compile-time constants and tensors are IR
 * values. Every node is stamped with the .kiln location that built it, and
 * every error names FILE:LINE:COL on one line. */
#ifndef KILN_LANG_H
#define KILN_LANG_H

#include <stdint.h>

#include "ir.h"
#include "json.h"
#include "tensor.h"

typedef enum kiln_lang_mode {
    KILN_LANG_FORWARD = 0, /* `past` is 0, cache(name, x, axis) returns x */
    KILN_LANG_CACHED = 1,  /* `past` is a symbol; cache() adds past.NAME inputs and present.NAME outputs */
} kiln_lang_mode;

typedef struct kiln_lang_options {
    /* Config overrides: a Hugging Face config.json object (keys matched by
     * name at top level, else one level down), then "name=value" strings
     * (--set), which win. Either may be absent. */
    const kiln_json *config;
    const char *config_origin;        /* the JSON's name in messages; default "config.json" */
    const char *const *overrides;
    int noverrides;
    /* Optional weights: param(name) may omit its shape when the tensor is
     * here, and has_weight(name) looks here. Not bound to the graph. */
    const kiln_tensor_map *weights;
    kiln_lang_mode mode;
    /* The file the source was read from (a relative `weights` path is
     * resolved against its directory); NULL for embedded text. */
    const char *source_path;
    const char *graph_name;           /* NULL: the filename without extension */
    int64_t max_steps;                /* evaluation step limit; 0: 50 million */
} kiln_lang_options;

/* What compiling reported besides the graph (fields malloc'd, may be NULL). */
typedef struct kiln_lang_info {
    char *weights_path; /* the `weights "..."` statement's path, resolved against source_path */
    char *config_text;  /* one "name = value" line per config entry, as used */
} kiln_lang_info;

/* Compiles `source` (NUL-terminated); `filename` names it in locations and
 * errors. opt may be NULL (defaults). info may be NULL. On success *out is
 * a verified graph the caller frees. */
kiln_status kiln_lang_compile(const char *source, const char *filename, const kiln_lang_options *opt,
                              kiln_graph **out, kiln_lang_info *info);

/* Reads `path` and compiles it (opt->source_path is set to path). */
kiln_status kiln_lang_compile_file(const char *path, const kiln_lang_options *opt, kiln_graph **out,
                                   kiln_lang_info *info);

void kiln_lang_info_free(kiln_lang_info *info);

#endif
