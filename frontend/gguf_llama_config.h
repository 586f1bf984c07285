/* A Hugging Face style Llama config (config.json keys) built from the
 * numbers of a GGUF or llama2.c checkpoint. Shared by both readers. */
#ifndef KILN_GGUF_LLAMA_CONFIG_H
#define KILN_GGUF_LLAMA_CONFIG_H

#include <stdint.h>

#include "kiln/json.h"

typedef struct kiln_llama_config {
    int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers;
    int64_t num_attention_heads, num_key_value_heads, head_dim, max_position_embeddings;
    double rms_norm_eps;
    int rms_norm_eps_is_f32;   /* print the shortest float32 spelling (1e-05, not 9.99999975e-06) */
    double rope_theta;
    double rope_linear_factor; /* 0: no rope_scaling */
    int tie_word_embeddings;
    int64_t bos_token_id, eos_token_id; /* -1: null */
} kiln_llama_config;

/* Formats the config as JSON text and parses it; `what` names the source. */
kiln_status kiln_llama_config_json(const kiln_llama_config *c, const char *what, kiln_json **out);

#endif
