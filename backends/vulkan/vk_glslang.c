/* GLSL -> SPIR-V in-process through glslang's C interface. Defines are
 * inserted after the #version line followed by a #line directive, so line
 * numbers in glslang's log are those of the caller's source. */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glslang/Include/glslang_c_interface.h>
#include <glslang/Public/resource_limits_c.h>
#include <glslang/build_info.h>

#include "vk_internal.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *kiln_vk_compiler_version(void) {
    return "glslang " STR(GLSLANG_VERSION_MAJOR) "." STR(GLSLANG_VERSION_MINOR) "." STR(GLSLANG_VERSION_PATCH)
        GLSLANG_VERSION_FLAVOR;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;
static void init_glslang(void) { glslang_initialize_process(); }

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom || n > (SIZE_MAX >> 2) - b->n) {
        b->oom = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static int is_identifier(const char *s) {
    if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

static const char *kernel_name(const kiln_vk_shader_source *src) { return src->name ? src->name : "(unnamed)"; }

/* The source with defines inserted; NULL with *err set on bad input. */
static char *compose(const kiln_vk_shader_source *src, kiln_status *err) {
    const char *g = src->glsl;
    if (strncmp(g, "#version", 8) != 0) {
        *err = kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': GLSL source must begin with a #version line",
                          kernel_name(src));
        return NULL;
    }
    const char *eol = strchr(g, '\n');
    size_t first = eol ? (size_t)(eol - g) + 1 : strlen(g);
    sbuf b = {0};
    sb_add(&b, g, first);
    if (!eol) sb_str(&b, "\n");
    for (int i = 0; i < src->ndefines; i++) {
        const kiln_vk_define *d = &src->defines[i];
        const char *val = d->value ? d->value : "";
        if (!is_identifier(d->name) || strchr(val, '\n') || strchr(val, '\r')) {
            free(b.p);
            *err = kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': define %d ('%s') needs an identifier name and a "
                              "one-line value", kernel_name(src), i, d->name ? d->name : "(null)");
            return NULL;
        }
        sb_str(&b, "#define ");
        sb_str(&b, d->name);
        sb_str(&b, " ");
        sb_str(&b, val);
        sb_str(&b, "\n");
    }
    sb_str(&b, "#line 2\n");
    sb_str(&b, g + first);
    if (b.oom) {
        free(b.p);
        *err = kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory composing kernel '%s'", kernel_name(src));
        return NULL;
    }
    return b.p;
}

/* Appends "line N: <text>" for every distinct line "ERROR: 0:N:" names. */
static void add_source_lines(sbuf *out, const char *log, const char *source) {
    int seen[8], nseen = 0;
    for (const char *p = strstr(log, "ERROR: "); p && nseen < 8; p = strstr(p + 1, "ERROR: ")) {
        const char *q = p + 7;
        if (!isdigit((unsigned char)*q)) continue;
        while (isdigit((unsigned char)*q)) q++;
        if (*q != ':' || !isdigit((unsigned char)q[1])) continue;
        int line = atoi(q + 1);
        int dup = 0;
        for (int i = 0; i < nseen; i++) dup |= seen[i] == line;
        if (dup || line <= 0) continue;
        seen[nseen++] = line;
        const char *s = source;
        for (int l = 1; l < line && s; l++) {
            s = strchr(s, '\n');
            if (s) s++;
        }
        if (!s || !*s) continue;
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 200) len = 200;
        char head[32];
        snprintf(head, sizeof head, "\n  line %d: ", line);
        sb_str(out, head);
        sb_add(out, s, len);
    }
}

static kiln_status compile_error(const kiln_vk_shader_source *src, const char *stage, const char *log) {
    sbuf b = {0};
    sb_str(&b, log ? log : "");
    while (b.n && (b.p[b.n - 1] == '\n' || b.p[b.n - 1] == ' ')) b.p[--b.n] = 0;
    add_source_lines(&b, b.p ? b.p : "", src->glsl);
    kiln_status s = kiln_error(KILN_ERR_INVALID, "vulkan: GLSL %s of kernel '%s' failed:\n%s", stage, kernel_name(src),
                               b.p ? b.p : "(no log)");
    free(b.p);
    return s;
}

static kiln_status run_glslang(const kiln_vk_shader_source *src, const char *code, uint32_t **words, size_t *nwords) {
    glslang_target_client_version_t client = GLSLANG_TARGET_VULKAN_1_1;
    glslang_target_language_version_t spv = GLSLANG_TARGET_SPV_1_3;
    if (src->vulkan_target == 12) {
        client = GLSLANG_TARGET_VULKAN_1_2;
        spv = GLSLANG_TARGET_SPV_1_5;
    } else if (src->vulkan_target == 13) {
        client = GLSLANG_TARGET_VULKAN_1_3;
        spv = GLSLANG_TARGET_SPV_1_6;
    } else if (src->vulkan_target != 0 && src->vulkan_target != 11) {
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': vulkan_target %d is not 11, 12 or 13",
                          kernel_name(src), src->vulkan_target);
    }
    glslang_input_t in = {
        .language = GLSLANG_SOURCE_GLSL,
        .stage = GLSLANG_STAGE_COMPUTE,
        .client = GLSLANG_CLIENT_VULKAN,
        .client_version = client,
        .target_language = GLSLANG_TARGET_SPV,
        .target_language_version = spv,
        .code = code,
        .default_version = 450,
        .default_profile = GLSLANG_NO_PROFILE,
        .messages = GLSLANG_MSG_SPV_RULES_BIT | GLSLANG_MSG_VULKAN_RULES_BIT,
        .resource = glslang_default_resource(),
    };
    glslang_shader_t *sh = glslang_shader_create(&in);
    if (!sh) return kiln_error(KILN_ERR_NOMEM, "vulkan: glslang could not create a shader for '%s'", kernel_name(src));
    kiln_status s = KILN_OK;
    glslang_program_t *prog = NULL;
    if (!glslang_shader_preprocess(sh, &in)) s = compile_error(src, "preprocessing", glslang_shader_get_info_log(sh));
    else if (!glslang_shader_parse(sh, &in)) s = compile_error(src, "compilation", glslang_shader_get_info_log(sh));
    if (!s) {
        prog = glslang_program_create();
        glslang_program_add_shader(prog, sh);
        if (!glslang_program_link(prog, GLSLANG_MSG_SPV_RULES_BIT | GLSLANG_MSG_VULKAN_RULES_BIT))
            s = compile_error(src, "linking", glslang_program_get_info_log(prog));
    }
    if (!s) {
        glslang_spv_options_t o = {.disable_optimizer = true}; /* drivers optimize; keep compiles fast */
        glslang_program_SPIRV_generate_with_options(prog, GLSLANG_STAGE_COMPUTE, &o);
        size_t n = glslang_program_SPIRV_get_size(prog);
        if (n == 0) {
            const char *m = glslang_program_SPIRV_get_messages(prog);
            s = kiln_error(KILN_ERR_INTERNAL, "vulkan: glslang produced no SPIR-V for '%s'%s%s", kernel_name(src),
                           m ? ": " : "", m ? m : "");
        } else {
            *words = malloc(n * sizeof **words);
            if (!*words) s = kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory for SPIR-V of '%s'", kernel_name(src));
            else {
                glslang_program_SPIRV_get(prog, *words);
                *nwords = n;
            }
        }
    }
    if (prog) glslang_program_delete(prog);
    glslang_shader_delete(sh);
    return s;
}

kiln_status kvk_glslang_compile(const kiln_vk_shader_source *src, uint32_t **words, size_t *nwords) {
    *words = NULL;
    *nwords = 0;
    if (!src || !src->glsl) return kiln_error(KILN_ERR_INVALID, "vulkan: shader source is NULL");
    if (src->ndefines < 0 || (src->ndefines > 0 && !src->defines))
        return kiln_error(KILN_ERR_INVALID, "vulkan: kernel '%s': bad define list", kernel_name(src));
    kiln_status s = KILN_OK;
    char *code = compose(src, &s);
    if (!code) return s;
    pthread_once(&init_once, init_glslang);
    pthread_mutex_lock(&compile_lock);
    s = run_glslang(src, code, words, nwords);
    pthread_mutex_unlock(&compile_lock);
    free(code);
    return s;
}
