/* config { ... } entries and their overrides: a Hugging Face config.json
 * object, then "name=value" strings (--set). The default's type decides
 * what an override may be. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

static const char *json_desc(const kiln_json *j, char *buf, size_t cap) {
    switch (j->type) {
    case KILN_JSON_NULL: return "null";
    case KILN_JSON_BOOL: return "a bool";
    case KILN_JSON_NUMBER:
        if (j->is_integer) return "an integer";
        snprintf(buf, cap, "the number %g", j->number);
        return buf;
    case KILN_JSON_STRING: return "a string";
    case KILN_JSON_ARRAY: return "an array";
    case KILN_JSON_OBJECT: return "an object";
    }
    return "?";
}

static const char *val_desc(const val *v, char *buf, size_t cap) {
    switch (v->k) {
    case V_INT: return "an integer";
    case V_FLOAT: snprintf(buf, cap, "the number %g", v->f); return buf;
    case V_BOOL: return "a bool";
    case V_STR: return "a string";
    case V_NONE: return "none";
    default: return val_kind_name(v->k);
    }
}

/* Does `cand` fit a config whose default is `dflt`? */
static int fits(const val *dflt, val *cand) {
    if (cand->k == V_NONE) return 1;
    switch (dflt->k) {
    case V_INT: return cand->k == V_INT;
    case V_FLOAT:
        if (cand->k == V_INT) *cand = v_float((double)cand->i);
        return cand->k == V_FLOAT;
    case V_BOOL: return cand->k == V_BOOL;
    case V_STR: return cand->k == V_STR;
    case V_NONE: return cand->k == V_INT || cand->k == V_FLOAT || cand->k == V_BOOL || cand->k == V_STR;
    case V_LIST: return cand->k == V_LIST;
    default: return 0;
    }
}

static const char *want_desc(const val *dflt) {
    switch (dflt->k) {
    case V_INT: return "an integer";
    case V_FLOAT: return "a number";
    case V_BOOL: return "true or false";
    case V_STR: return "a string";
    case V_NONE: return "a number, bool or string";
    case V_LIST: return "a list";
    default: return "left alone (it cannot be overridden)";
    }
}

/* Marks JSON that has no value in the language (objects, nested arrays). */
static val v_list_marker(void) {
    val v = v_none();
    v.k = V_DTYPE;
    v.dt = KILN_DTYPE_COUNT;
    return v;
}

static kiln_status json_to_val(eval *ev, const kiln_json *j, int depth, val *out) {
    switch (j->type) {
    case KILN_JSON_NULL: *out = v_none(); return KILN_OK;
    case KILN_JSON_BOOL: *out = v_bool(j->boolean); return KILN_OK;
    case KILN_JSON_NUMBER:
        if (j->is_integer && j->integer < (INT64_C(1) << 62) && j->integer > -(INT64_C(1) << 62)) *out = v_int(j->integer);
        else *out = v_float(j->number);
        return KILN_OK;
    case KILN_JSON_STRING: {
        if (j->len > LANG_MAX_STRING || strlen(j->string) != j->len) {
            *out = v_list_marker();
            return KILN_OK;
        }
        char *s = arena_strndup(ev->a, j->string, j->len);
        if (!s) return ev_oom(ev);
        *out = v_str(s);
        return KILN_OK;
    }
    case KILN_JSON_ARRAY: {
        if (depth > 0 || j->count > LANG_MAX_LIST) break;
        vlist *l = list_new(ev, j->count);
        if (!l) return ev_oom(ev);
        for (int i = 0; i < j->count; i++) {
            KILN_TRY(json_to_val(ev, &j->items[i], depth + 1, &l->v[i]));
            if (l->v[i].k == V_DTYPE || l->v[i].k == V_LIST) {
                *out = v_list_marker();
                return KILN_OK;
            }
        }
        out->k = V_LIST;
        out->l = l;
        return KILN_OK;
    }
    case KILN_JSON_OBJECT: break;
    }
    *out = v_list_marker();
    return KILN_OK;
}

/* Key at the top level, else one level down (rope_parameters.rope_theta). */
static const kiln_json *json_find(const kiln_json *root, const char *name) {
    if (!root || root->type != KILN_JSON_OBJECT) return NULL;
    const kiln_json *j = kiln_json_get(root, name);
    if (j) return j;
    for (int i = 0; i < root->count; i++)
        if (root->items[i].type == KILN_JSON_OBJECT && (j = kiln_json_get(&root->items[i], name))) return j;
    return NULL;
}

/* "--set" text: none/null, true/false, integers, numbers, "quoted", else a bare string. */
static kiln_status parse_set_value(eval *ev, const char *text, val *out) {
    while (isspace((unsigned char)*text)) text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1])) n--;
    char *t = arena_strndup(ev->a, text, n);
    if (!t) return ev_oom(ev);
    if (!strcmp(t, "none") || !strcmp(t, "null")) return (*out = v_none()), KILN_OK;
    if (!strcmp(t, "true") || !strcmp(t, "false")) return (*out = v_bool(t[0] == 't')), KILN_OK;
    if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
        t[n - 1] = 0;
        return (*out = v_str(t + 1)), KILN_OK;
    }
    char *end;
    errno = 0;
    long long iv = strtoll(t, &end, 10);
    if (n && !*end && !errno && iv < (INT64_C(1) << 62) && iv > -(INT64_C(1) << 62)) return (*out = v_int(iv)), KILN_OK;
    double fv = strtod(t, &end);
    if (n && !*end && (isdigit((unsigned char)t[0]) || ((t[0] == '-' || t[0] == '+' || t[0] == '.') && n > 1)))
        return (*out = v_float(fv)), KILN_OK;
    *out = v_str(t);
    return KILN_OK;
}

static kiln_status add_text(eval *ev, const char *name, val v) {
    const char *s;
    KILN_TRY(val_to_str(ev, v, 1, &s));
    size_t need = strlen(name) + strlen(s) + 5;
    if (ev->config_text_len + need + 1 > ev->config_text_cap) {
        size_t cap = (ev->config_text_len + need + 1) * 2;
        char *p = realloc(ev->config_text, cap);
        if (!p) return ev_oom(ev);
        ev->config_text = p;
        ev->config_text_cap = cap;
    }
    ev->config_text_len += (size_t)snprintf(ev->config_text + ev->config_text_len, need + 1, "%s = %s\n", name, s);
    return KILN_OK;
}

kiln_status config_entry(eval *ev, const stmt *s, int i, val dflt, val *out) {
    const char *name = s->names[i];
    char b1[64];
    *out = dflt;
    const kiln_json *j = ev->opt ? json_find(ev->opt->config, name) : NULL;
    if (j) {
        const char *origin = ev->opt->config_origin ? ev->opt->config_origin : "config.json";
        val cand;
        KILN_TRY(json_to_val(ev, j, 0, &cand));
        if (cand.k == V_DTYPE || !fits(&dflt, &cand))
            return ev_error(ev, KILN_ERR_TYPE, "%s: '%s' must be %s, got %s", origin, name, want_desc(&dflt),
                            json_desc(j, b1, sizeof b1));
        *out = cand;
    }
    for (int k = 0; k < ev->noverrides; k++) {
        override *o = &ev->overrides[k];
        if (o->name != name) continue;
        val cand;
        KILN_TRY(parse_set_value(ev, o->text, &cand));
        if (dflt.k == V_STR && cand.k != V_STR && cand.k != V_NONE) {
            char *t = arena_strndup(ev->a, o->text, strlen(o->text));
            if (!t) return ev_oom(ev);
            cand = v_str(t);
        }
        if (!fits(&dflt, &cand))
            return ev_error(ev, KILN_ERR_TYPE, "--set %s: '%s' must be %s, got %s", o->raw, name, want_desc(&dflt),
                            val_desc(&cand, b1, sizeof b1));
        o->used = 1;
        *out = cand;
    }
    if (ev->nconfig == ev->config_cap) {
        int cap = ev->config_cap ? ev->config_cap * 2 : 32;
        const char **p = realloc(ev->config_names, sizeof *p * (size_t)cap);
        if (!p) return ev_oom(ev);
        ev->config_names = p;
        ev->config_cap = cap;
    }
    ev->config_names[ev->nconfig++] = name;
    return add_text(ev, name, *out);
}

kiln_status config_prepare(eval *ev, const program *prog) {
    const kiln_lang_options *opt = ev->opt;
    int n = opt ? opt->noverrides : 0;
    if (n <= 0) return KILN_OK;
    ev->overrides = arena_alloc(ev->a, sizeof(override) * (size_t)n);
    if (!ev->overrides) return ev_oom(ev);
    for (int i = 0; i < n; i++) {
        const char *raw = opt->overrides[i] ? opt->overrides[i] : "";
        const char *eq = strchr(raw, '=');
        const char *b = raw, *e = eq ? eq : raw;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (!eq || e == b) return kiln_error(KILN_ERR_INVALID, "--set '%s': expected name=value", raw);
        override *o = &ev->overrides[ev->noverrides++];
        o->raw = raw;
        o->text = eq + 1;
        if (!(o->name = intern(ev->in, b, (size_t)(e - b)))) return ev_oom(ev);
        int found = 0;
        for (int k = 0; k < prog->top.n && !found; k++) {
            const stmt *s = prog->top.s[k];
            if (s->k != S_CONFIG) continue;
            for (int m = 0; m < s->nnames; m++) found |= s->names[m] == o->name;
        }
        if (!found) {
            char names[1024] = "";
            size_t len = 0;
            for (int k = 0; k < prog->top.n; k++) {
                const stmt *s = prog->top.s[k];
                if (s->k != S_CONFIG) continue;
                for (int m = 0; m < s->nnames && len + 64 < sizeof names; m++)
                    len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", s->names[m]);
            }
            if (!len) return kiln_error(KILN_ERR_NOT_FOUND, "--set %s: the description has no config block", raw);
            return kiln_error(KILN_ERR_NOT_FOUND, "--set %s: unknown config name '%s' (config names: %s)", raw, o->name,
                              names);
        }
    }
    return KILN_OK;
}
