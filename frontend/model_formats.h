/* Model loaders for single-file formats whose readers produce a Hugging
 * Face style config (frontend/model_llama2c.c, frontend/model_gguf.c). */
#ifndef KILN_FRONTEND_MODEL_FORMATS_H
#define KILN_FRONTEND_MODEL_FORMATS_H

#include "kiln/model.h"

/* llama2.c .bin checkpoint; m->format is "llama2c". */
kiln_status kiln_llama2c_model_load(const char *path, const kiln_model_options *opt, kiln_model **out);
/* GGUF llama file; m->format is "gguf". */
kiln_status kiln_gguf_model_load(const char *path, const kiln_model_options *opt, kiln_model **out);

/* File name without folder and extension (malloc'd; NULL when out of memory). */
char *kiln_model_stem(const char *path);
/* Replaces m->format. */
kiln_status kiln_model_set_format(kiln_model *m, const char *format);

#endif
