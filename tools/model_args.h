/* Options every command that loads a model shares: --weights and --set. */
#ifndef KILN_TOOLS_MODEL_ARGS_H
#define KILN_TOOLS_MODEL_ARGS_H

#include "args.h"
#include "kiln/model.h"

typedef struct model_args {
    const char *weights;
    string_list sets;
} model_args;

#define MODEL_ARGS_OPTS(ma)                                                                              \
    {"weights", 'w', OPT_STRING, &(ma).weights, "FILE", "weights (safetensors) for a .kiln description, or in place of a Hugging Face folder's"}, \
    {"set", 0, OPT_LIST, &(ma).sets, "NAME=VALUE", "override a config value (repeatable)"}

/* Loads MODEL with the shared options; reports and returns NULL on error. */
kiln_model *load_model(const char *path, const model_args *ma);

#endif
