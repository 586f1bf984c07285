/* Shared by the runtime/generate*.c files. */
#ifndef KILN_RUNTIME_GENERATE_INTERNAL_H
#define KILN_RUNTIME_GENERATE_INTERNAL_H

#include "kiln/generate.h"

/* An integer config entry of m: from the config as used (its "name = value"
 * lines, which include --set overrides), else from the Hugging Face config
 * JSON (a list gives its first element). 1 when found. */
int kiln_generation_config_int(const kiln_model *m, const char *key, int64_t *out);

/* Fills info's context, context_key, bos_id, eos_id and decoder_start_id. */
void kiln_generation_read_config(const kiln_model *m, kiln_generation_info *info);

#endif
