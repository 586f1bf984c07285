/* kiln_model: loading dispatch, compiling a model's description again
 * in another mode, and checking parameters against the weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/hf_internal.h"
#include "frontend/hf_names.h"
#include "frontend/model_formats.h"
#include "kiln/model.h"
#include "kiln/onnx.h"
#include "kiln/safetensors.h"

char *kiln_strdup_or_null(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void kiln_model_free(kiln_model *m) {
    if (!m) return;
    free(m->name);
    free(m->format);
    free(m->path);
    free(m->description);
    free(m->description_name);
    free(m->description_path);
    kiln_json_free(m->config);
    free(m->config_origin);
    for (int i = 0; i < m->noverrides; i++) free(m->overrides[i]);
    free(m->overrides);
    free(m->config_text);
    free(m->weights_path);
    kiln_tensor_map_free(m->weights);
    kiln_graph_free(m->graph);
    free(m);
}

kiln_status kiln_model_compile(const kiln_model *m, kiln_lang_mode mode, kiln_graph **out) {
    if (!m || !out) return kiln_error(KILN_ERR_INVALID, "kiln_model_compile: no model or output");
    /* an imported graph (ONNX) is fixed as exported: nothing to compile again */
    if (!m->description)
        return kiln_error(KILN_ERR_UNSUPPORTED,
                          "%s: %s graphs have no KV-cache variant, so they cannot be compiled for generation (use the "
                          "Hugging Face folder, a .gguf or a .kiln description)",
                          m->path ? m->path : m->name, m->format && strcmp(m->format, "onnx") == 0 ? "ONNX" : "imported");
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.config = m->config;
    o.config_origin = m->config_origin;
    o.overrides = (const char *const *)m->overrides;
    o.noverrides = m->noverrides;
    o.weights = m->weights;
    o.mode = mode;
    o.source_path = m->description_path;
    o.graph_name = m->name;
    return kiln_lang_compile(m->description, m->description_name, &o, out, NULL);
}

/* "(it has 28 tensors, such as 'a', 'b', 'c')" */
static void some_names(const kiln_tensor_map *w, char *buf, size_t cap) {
    int n = kiln_tensor_map_count(w);
    size_t len = (size_t)snprintf(buf, cap, "(it has %d tensor%s%s", n, n == 1 ? "" : "s", n ? ", such as " : "");
    for (int i = 0; i < n && i < 3 && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s'%.80s'", i ? ", " : "", kiln_tensor_map_name(w, i));
    if (len < cap) snprintf(buf + len, cap - len, ")");
}

/* Every parameter must be in the weights with the declared shape. Names
 * found only under another module prefix get an alias (a view). */
static kiln_status check_params(kiln_model *m) {
    kiln_graph *g = m->graph;
    kiln_tensor_map *w = m->weights;
    if (!w) return KILN_OK;
    const char *origin = kiln_tensor_map_origin(w);
    for (int v = 0; v < kiln_graph_node_count(g); v++) {
        const kiln_node *n = kiln_graph_node(g, v);
        if (n->op != KILN_OP_PARAM) continue;
        char loc[512], where[600] = "";
        kiln_loc_str(n->loc, loc, sizeof loc);
        if (loc[0]) snprintf(where, sizeof where, "%s: ", loc);
        const char *found = NULL;
        const kiln_tensor *t = kiln_weights_find(w, n->name, &found);
        if (!t) {
            char names[400];
            some_names(w, names, sizeof names);
            return kiln_error(KILN_ERR_NOT_FOUND, "%sparameter '%s' is not in %s %s", where, n->name, origin, names);
        }
        char s1[256], s2[256];
        int same = t->rank == n->shape.rank;
        for (int i = 0; same && i < t->rank; i++) same = t->shape[i] == n->shape.dims[i];
        if (!same)
            return kiln_error(KILN_ERR_SHAPE, "%sparameter '%s' is %s in %s, but the description makes it %s%s "
                              "(does the config match the weights?)",
                              where, found, kiln_tensor_shape_str(t, s1, sizeof s1), origin, kiln_dtype_name(n->dtype),
                              kiln_shape_str(g, &n->shape, s2, sizeof s2));
        if (kiln_dtype_is_float(t->dtype) != kiln_dtype_is_float(n->dtype))
            return kiln_error(KILN_ERR_TYPE, "%sparameter '%s' is %s in %s, but the description makes it %s", where,
                              found, kiln_dtype_name(t->dtype), origin, kiln_dtype_name(n->dtype));
        if (found != n->name && strcmp(found, n->name) != 0) {
            kiln_tensor alias = *t;
            alias.owns_data = 0;
            KILN_TRY(kiln_tensor_map_put(w, n->name, alias));
        }
    }
    return KILN_OK;
}

kiln_status kiln_model_build(kiln_model *m) {
    kiln_lang_options o;
    memset(&o, 0, sizeof o);
    o.config = m->config;
    o.config_origin = m->config_origin;
    o.overrides = (const char *const *)m->overrides;
    o.noverrides = m->noverrides;
    o.weights = m->weights;
    o.source_path = m->description_path;
    o.graph_name = m->name;
    kiln_lang_info info;
    KILN_TRY(kiln_lang_compile(m->description, m->description_name, &o, &m->graph, &info));
    m->config_text = info.config_text;
    info.config_text = NULL;
    /* a .kiln file's own `weights` statement, unless weights came already */
    kiln_status s = KILN_OK;
    if (!m->weights && info.weights_path) {
        s = kiln_safetensors_load(info.weights_path, &m->weights);
        if (s) s = kiln_error_wrap(s, "%s: loading the weights it names", m->description_name);
        else {
            free(m->weights_path);
            m->weights_path = info.weights_path;
            info.weights_path = NULL;
        }
    }
    kiln_lang_info_free(&info);
    KILN_TRY(s);
    return check_params(m);
}

static kiln_status copy_overrides(kiln_model *m, const kiln_model_options *opt) {
    int n = opt ? opt->noverrides : 0;
    if (n <= 0) return KILN_OK;
    m->overrides = calloc((size_t)n, sizeof *m->overrides);
    if (!m->overrides) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        m->overrides[i] = kiln_strdup_or_null(opt->overrides[i] ? opt->overrides[i] : "");
        if (!m->overrides[i]) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        m->noverrides++;
    }
    return KILN_OK;
}

static char *read_text(const char *path, kiln_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = kiln_error(KILN_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                *st = kiln_error(KILN_ERR_LIMIT, "%s: larger than 64 MiB", path);
                return NULL;
            }
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                *st = kiln_error(KILN_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    buf[n] = 0;
    if (err || strlen(buf) != n) {
        free(buf);
        *st = kiln_error(err ? KILN_ERR_IO : KILN_ERR_FORMAT, err ? "%s: read error" : "%s: contains a NUL byte", path);
        return NULL;
    }
    return buf;
}

static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = kiln_strdup_or_null(base);
    char *dot = s ? strrchr(s, '.') : NULL;
    if (dot && dot != s) *dot = 0;
    return s;
}

static kiln_status load_kiln(const char *path, const kiln_model_options *opt, kiln_model **out) {
    kiln_model *m = calloc(1, sizeof *m);
    if (!m) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    m->description = read_text(path, &s);
    if (!s) {
        m->name = stem_of(path);
        m->format = kiln_strdup_or_null("kiln");
        m->path = kiln_strdup_or_null(path);
        m->description_name = kiln_strdup_or_null(path);
        m->description_path = kiln_strdup_or_null(path);
        if (!m->name || !m->format || !m->path || !m->description_name || !m->description_path)
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    if (!s) s = copy_overrides(m, opt);
    if (!s && opt && opt->weights_path) {
        s = kiln_safetensors_load(opt->weights_path, &m->weights);
        if (!s && !(m->weights_path = kiln_strdup_or_null(opt->weights_path)))
            s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    if (!s) s = kiln_model_build(m);
    if (s) {
        kiln_model_free(m);
        return s;
    }
    *out = m;
    return KILN_OK;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcmp(path + n - e, ext) == 0;
}

static int match_hf(const char *path) { return is_dir(path); }
static int match_kiln(const char *path) { return has_ext(path, ".kiln"); }
static int match_onnx(const char *path) { return has_ext(path, ".onnx"); }
static int match_llama2c(const char *path) { return has_ext(path, ".bin"); }
static int match_gguf(const char *path) { return has_ext(path, ".gguf"); }

/* Loaders by what the path looks like; new formats add a row. */
static const struct {
    const char *what;
    int (*match)(const char *path);
    kiln_status (*load)(const char *path, const kiln_model_options *opt, kiln_model **out);
} loaders[] = {
    {"a Hugging Face folder (config.json + model.safetensors)", match_hf, kiln_hf_load},
    {"a .kiln model description", match_kiln, load_kiln},
    {"an ONNX model (.onnx)", match_onnx, kiln_onnx_load_model},
    {"a llama2.c checkpoint (.bin)", match_llama2c, kiln_llama2c_model_load},
    {"a GGUF llama model (.gguf)", match_gguf, kiln_gguf_model_load},
};

kiln_status kiln_model_load(const char *path, const kiln_model_options *opt, kiln_model **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_model_load: no output pointer");
    *out = NULL;
    if (!path || !*path) return kiln_error(KILN_ERR_INVALID, "kiln_model_load: no path");
    struct stat st;
    if (stat(path, &st) != 0) return kiln_error(KILN_ERR_IO, "%s: no such file or directory", path);
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++)
        if (loaders[i].match(path)) return loaders[i].load(path, opt, out);
    char list[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "; " : "", loaders[i].what);
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: unsupported model format '%s' (kiln loads %s)", path, dot, list);
    return kiln_error(KILN_ERR_UNSUPPORTED, "%s: unsupported model format (kiln loads %s)", path, list);
}
