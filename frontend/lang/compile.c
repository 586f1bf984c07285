/* kiln_lang_compile: prelude, then the description, into a verified graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/embedded.h"
#include "lang_internal.h"

static kiln_status register_builtins(eval *ev) {
    for (int op = 0; op < KILN_OP_COUNT; op++) {
        if (op == KILN_OP_INPUT || op == KILN_OP_PARAM || op == KILN_OP_CONST) continue;
        const char *name = kiln_op_name((kiln_op)op);
        if (op == KILN_OP_AND) name = "logical_and";
        else if (op == KILN_OP_OR) name = "logical_or";
        else if (op == KILN_OP_NOT) name = "logical_not";
        val v = v_none();
        v.k = V_BUILTIN;
        v.bi = -(op + 1);
        const char *nm = intern(ev->in, name, strlen(name));
        if (!nm) return ev_oom(ev);
        KILN_TRY(ev_set_builtin(ev, nm, v));
    }
    for (int i = 0; i < lang_builtin_count; i++) {
        val v = v_none();
        v.k = V_BUILTIN;
        v.bi = i;
        const char *nm = intern(ev->in, lang_builtins[i].name, strlen(lang_builtins[i].name));
        if (!nm) return ev_oom(ev);
        KILN_TRY(ev_set_builtin(ev, nm, v));
    }
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        val v = v_none();
        v.k = V_DTYPE;
        v.dt = (kiln_dtype)t;
        const char *name = kiln_dtype_name((kiln_dtype)t);
        const char *nm = intern(ev->in, name, strlen(name));
        if (!nm) return ev_oom(ev);
        KILN_TRY(ev_set_builtin(ev, nm, v));
    }
    return KILN_OK;
}

static kiln_status set_global_named(eval *ev, const char *name, val v) {
    const char *nm = intern(ev->in, name, strlen(name));
    if (!nm) return ev_oom(ev);
    return ev_set_global(ev, nm, v);
}

static char *stem(const char *filename) {
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, base, n);
        s[n] = 0;
    }
    return s;
}

static kiln_status run(eval *ev, const char *source, const char *filename) {
    KILN_TRY(register_builtins(ev));
    int cached = ev->opt->mode == KILN_LANG_CACHED;
    KILN_TRY(set_global_named(ev, "past", v_int(cached ? kiln_dim_symbol(ev->g, "past") : 0)));
    KILN_TRY(set_global_named(ev, "cached", v_bool(cached)));

    static const src_file prelude_file = {"prelude.kiln", 1};
    const char *prelude = kiln_embedded_file("prelude.kiln");
    if (!prelude) return kiln_error(KILN_ERR_INTERNAL, "the .kiln prelude is not embedded in this build");
    program pp, up;
    KILN_TRY(lang_parse(ev->a, ev->in, &prelude_file, prelude, strlen(prelude), &pp));
    KILN_TRY(eval_program(ev, &pp));

    src_file user = {filename, 0};
    KILN_TRY(lang_parse(ev->a, ev->in, &user, source, strlen(source), &up));
    KILN_TRY(config_prepare(ev, &up));
    KILN_TRY(eval_program(ev, &up));
    if (kiln_graph_output_count(ev->g) == 0)
        return kiln_error(KILN_ERR_INVALID, "%s: the description declares no outputs (add 'output NAME = expr')",
                          filename);
    kiln_status s = kiln_graph_verify(ev->g);
    if (s) return kiln_error_wrap(s, "%s: the built graph does not verify (a kiln bug)", filename);
    return KILN_OK;
}

kiln_status kiln_lang_compile(const char *source, const char *filename, const kiln_lang_options *opt,
                              kiln_graph **out, kiln_lang_info *info) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_lang_compile: no output pointer");
    *out = NULL;
    if (info) memset(info, 0, sizeof *info);
    if (!source) return kiln_error(KILN_ERR_INVALID, "kiln_lang_compile: no source text");
    if (!filename) filename = "<input>";
    kiln_lang_options defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opt) opt = &defaults;

    char *name = opt->graph_name ? NULL : stem(filename);
    kiln_graph *g = kiln_graph_new(opt->graph_name ? opt->graph_name : name ? name : "main");
    free(name);
    eval *ev = calloc(1, sizeof *ev);
    arena a;
    interner in;
    arena_init(&a, LANG_MAX_MEMORY);
    interner_init(&in, &a);
    if (!g || !ev) {
        kiln_graph_free(g);
        free(ev);
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    }
    ev->g = g;
    ev->a = &a;
    ev->in = &in;
    ev->opt = opt;
    ev->max_steps = opt->max_steps > 0 ? opt->max_steps : LANG_DEFAULT_MAX_STEPS;

    kiln_status s = run(ev, source, filename);
    if (!s) {
        *out = g;
        if (info) {
            info->weights_path = ev->weights_path;
            ev->weights_path = NULL;
            info->config_text = ev->config_text;
            ev->config_text = NULL;
        }
    } else {
        kiln_graph_free(g);
    }
    free(ev->weights_path);
    free(ev->config_text);
    free(ev->config_names);
    free(ev->globals);
    free(ev->builtins);
    free(ev);
    interner_free(&in);
    arena_free(&a);
    return s;
}

kiln_status kiln_lang_compile_file(const char *path, const kiln_lang_options *opt, kiln_graph **out,
                                   kiln_lang_info *info) {
    if (out) *out = NULL;
    if (info) memset(info, 0, sizeof *info);
    if (!path) return kiln_error(KILN_ERR_INVALID, "kiln_lang_compile_file: no path");
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_error(KILN_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) {
            fclose(f);
            return kiln_error(KILN_ERR_NOMEM, "%s: out of memory", path);
        }
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        if (cap >= ((size_t)64 << 20)) {
            free(text);
            fclose(f);
            return kiln_error(KILN_ERR_LIMIT, "%s: larger than 64 MiB", path);
        }
        cap *= 2;
        char *p = realloc(text, cap);
        if (!p) free(text);
        text = p;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        return kiln_error(KILN_ERR_IO, "%s: read error", path);
    }
    text[n] = 0;
    if (strlen(text) != n) {
        free(text);
        return kiln_error(KILN_ERR_FORMAT, "%s: contains a NUL byte (not a text file?)", path);
    }
    kiln_lang_options o;
    if (opt) o = *opt;
    else memset(&o, 0, sizeof o);
    o.source_path = path;
    kiln_status s = kiln_lang_compile(text, path, &o, out, info);
    free(text);
    return s;
}

void kiln_lang_info_free(kiln_lang_info *info) {
    if (!info) return;
    free(info->weights_path);
    free(info->config_text);
    info->weights_path = info->config_text = NULL;
}
