/* kiln_model from a GGUF file (general.architecture "llama"): the reader
 * gives a Hugging Face Llama config and HF tensor names, so the model is
 * llama.kiln. The tokenizer stays in the file's metadata (see
 * kiln_tokenizer_for_model). */
#include <stdlib.h>

#include "frontend/hf_internal.h"
#include "frontend/model_formats.h"
#include "kiln/gguf.h"

kiln_status kiln_gguf_model_load(const char *path, const kiln_model_options *opt, kiln_model **out) {
    *out = NULL;
    kiln_gguf *g = NULL;
    KILN_TRY(kiln_gguf_open(path, &g));
    kiln_json *config = NULL;
    kiln_tensor_map *weights = NULL;
    kiln_status s = kiln_gguf_llama_config(g, &config);
    if (!s) s = kiln_gguf_llama_weights(g, &weights); /* the map keeps the mapping alive */
    kiln_gguf_close(g);
    char *name = s ? NULL : kiln_model_stem(path);
    if (!s && !name) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (s) {
        kiln_json_free(config);
        kiln_tensor_map_free(weights);
        return s;
    }
    s = kiln_model_from_hf_config(name, path, config, path, weights, path, opt, out);
    free(name);
    if (!s) s = kiln_model_set_format(*out, "gguf");
    if (s && *out) {
        kiln_model_free(*out);
        *out = NULL;
    }
    return s;
}
