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

/* > 0 when g's session keeps the KV cache on its device and can pick the
 * next tokens there (kiln_session_step): the largest k it picks. */
int kiln_generator_device_topk(const kiln_generator *g);

/* kiln_generator_feed, but only the k most probable next tokens come back
 * (1 <= k <= kiln_generator_device_topk): their ids and logits, logit
 * descending and the lower id first on ties, NaN never; *count of them. */
kiln_status kiln_generator_feed_topk(kiln_generator *g, const int32_t *tokens, int64_t n, int k, const int32_t **ids,
                                     const float **vals, int *count);

#endif
