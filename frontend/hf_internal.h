/* Shared between frontend/model.c and the Hugging Face loader. */
#ifndef KILN_FRONTEND_HF_INTERNAL_H
#define KILN_FRONTEND_HF_INTERNAL_H

#include "kiln/model.h"

/* Compiles m's description in FORWARD mode into m->graph and checks every
 * parameter against m->weights (adding aliases for prefixed names). */
kiln_status kiln_model_build(kiln_model *m);

/* A Hugging Face folder: config.json plus safetensors weights. */
kiln_status kiln_hf_load(const char *dir, const kiln_model_options *opt, kiln_model **out);

/* Copy of s (NULL stays NULL); NULL also when out of memory. */
char *kiln_strdup_or_null(const char *s);

#endif
