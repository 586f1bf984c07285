/* HF LlamaConfig JSON for checkpoints that carry only numbers. The text is
 * formatted and then parsed, so callers get an ordinary kiln_json object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf_llama_config.h"

/* Shortest decimal that reads back as the same value (as a float when
 * is_f32), so GGUF's float32 1e-5 prints as 1e-05. Integral values keep a
 * ".0" like Python's json does for floats. */
static void fmt_number(char *buf, size_t cap, double v, int is_f32) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.1f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (is_f32 ? (float)back == (float)v : back == v) return;
    }
}

static void fmt_id(char *buf, size_t cap, int64_t id) {
    if (id < 0) snprintf(buf, cap, "null");
    else snprintf(buf, cap, "%lld", (long long)id);
}

kiln_status kiln_llama_config_json(const kiln_llama_config *c, const char *what, kiln_json **out) {
    char eps[40], theta[40], factor[40], bos[24], eos[24], scaling[96];
    fmt_number(eps, sizeof eps, c->rms_norm_eps, c->rms_norm_eps_is_f32);
    fmt_number(theta, sizeof theta, c->rope_theta, 0);
    fmt_id(bos, sizeof bos, c->bos_token_id);
    fmt_id(eos, sizeof eos, c->eos_token_id);
    if (c->rope_linear_factor > 0) {
        fmt_number(factor, sizeof factor, c->rope_linear_factor, 0);
        snprintf(scaling, sizeof scaling, "{\"rope_type\": \"linear\", \"factor\": %s}", factor);
    } else {
        snprintf(scaling, sizeof scaling, "null");
    }
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "{\n"
                     "  \"architectures\": [\"LlamaForCausalLM\"],\n"
                     "  \"model_type\": \"llama\",\n"
                     "  \"vocab_size\": %lld,\n"
                     "  \"hidden_size\": %lld,\n"
                     "  \"intermediate_size\": %lld,\n"
                     "  \"num_hidden_layers\": %lld,\n"
                     "  \"num_attention_heads\": %lld,\n"
                     "  \"num_key_value_heads\": %lld,\n"
                     "  \"head_dim\": %lld,\n"
                     "  \"hidden_act\": \"silu\",\n"
                     "  \"rms_norm_eps\": %s,\n"
                     "  \"rope_theta\": %s,\n"
                     "  \"rope_scaling\": %s,\n"
                     "  \"rope_interleaved\": true,\n"
                     "  \"max_position_embeddings\": %lld,\n"
                     "  \"tie_word_embeddings\": %s,\n"
                     "  \"bos_token_id\": %s,\n"
                     "  \"eos_token_id\": %s\n"
                     "}\n",
                     (long long)c->vocab_size, (long long)c->hidden_size, (long long)c->intermediate_size,
                     (long long)c->num_hidden_layers, (long long)c->num_attention_heads,
                     (long long)c->num_key_value_heads, (long long)c->head_dim, eps, theta, scaling,
                     (long long)c->max_position_embeddings, c->tie_word_embeddings ? "true" : "false", bos, eos);
    if (n < 0 || (size_t)n >= sizeof text)
        return kiln_error(KILN_ERR_INTERNAL, "%s: config text does not fit its buffer", what);
    return kiln_json_parse(text, (size_t)n, what, out);
}
