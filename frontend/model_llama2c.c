/* kiln_model from a llama2.c checkpoint (.bin): the reader gives a Hugging
 * Face Llama config and HF tensor names, so the model is llama.kiln. */
#include <stdlib.h>
#include <string.h>

#include "frontend/hf_internal.h"
#include "frontend/model_formats.h"
#include "kiln/llama2c.h"

/* "stories260K" from ".../stories260K.bin" */
char *kiln_model_stem(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = kiln_strdup_or_null(base);
    char *dot = s ? strrchr(s, '.') : NULL;
    if (dot && dot != s) *dot = 0;
    return s;
}

kiln_status kiln_model_set_format(kiln_model *m, const char *format) {
    char *f = kiln_strdup_or_null(format);
    if (!f) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    free(m->format);
    m->format = f;
    return KILN_OK;
}

kiln_status kiln_llama2c_model_load(const char *path, const kiln_model_options *opt, kiln_model **out) {
    *out = NULL;
    kiln_json *config = NULL;
    kiln_tensor_map *weights = NULL;
    KILN_TRY(kiln_llama2c_load(path, &config, &weights));
    char *name = kiln_model_stem(path);
    if (!name) {
        kiln_json_free(config);
        kiln_tensor_map_free(weights);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    kiln_status s = kiln_model_from_hf_config(name, path, config, path, weights, path, opt, out);
    free(name);
    if (!s) s = kiln_model_set_format(*out, "llama2c");
    if (s && *out) {
        kiln_model_free(*out);
        *out = NULL;
    }
    return s;
}
