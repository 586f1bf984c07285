/* The string builder of vk_str.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_str.h"

static int reserve(kvk_str *s, size_t extra) {
    if (s->oom) return 0;
    if (s->n + extra + 1 <= s->cap) return 1;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->n + extra + 1) cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return 0;
    }
    s->p = p;
    s->cap = cap;
    return 1;
}

void kvk_str_add(kvk_str *s, const char *text) {
    size_t len = strlen(text);
    if (!reserve(s, len)) return;
    memcpy(s->p + s->n, text, len + 1);
    s->n += len;
}

void kvk_str_addf(kvk_str *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0 || !reserve(s, (size_t)len)) {
        s->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    s->n += (size_t)len;
}

kiln_status kvk_str_done(kvk_str *s) {
    if (s->oom || !s->p) {
        kvk_str_free(s);
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of host memory generating GLSL");
    }
    return KILN_OK;
}

void kvk_str_free(kvk_str *s) {
    free(s->p);
    s->p = NULL;
    s->n = s->cap = 0;
    s->oom = 0;
}
