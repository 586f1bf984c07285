/* kiln_model_load's loader for *.onnx files (frontend/model.c's table). */
#include <stdlib.h>
#include <string.h>

#include "kiln/onnx.h"

kiln_status kiln_onnx_load_model(const char *path, const kiln_model_options *opt, kiln_model **out) {
    *out = NULL;
    if (opt && opt->noverrides)
        return kiln_error(KILN_ERR_INVALID, "%s: --set does not apply to ONNX models (their config is the graph)", path);
    if (opt && opt->weights_path)
        return kiln_error(KILN_ERR_INVALID, "%s: --weights does not apply to ONNX models (weights are initializers)",
                          path);
    kiln_model *m = calloc(1, sizeof *m);
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = kiln_onnx_load(path, &m->graph, &m->weights);
    if (!s) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        m->name = strdup(base);
        char *dot = m->name ? strrchr(m->name, '.') : NULL;
        if (dot && dot != m->name) *dot = 0;
        m->format = strdup("onnx");
        m->path = strdup(path);
        m->weights_path = strdup(path);
        if (!m->name || !m->format || !m->path || !m->weights_path) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    if (s) {
        kiln_model_free(m);
        return s;
    }
    *out = m;
    return KILN_OK;
}
