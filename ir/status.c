/* Heap-allocated error statuses; NULL is success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/status.h"

struct kiln_status_s {
    kiln_code code;
    int is_static;
    char *msg;
};

static struct kiln_status_s out_of_memory = {KILN_ERR_NOMEM, 1, "out of memory"};

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *buf = malloc((size_t)n + 1);
    if (buf) vsnprintf(buf, (size_t)n + 1, fmt, ap);
    return buf;
}

kiln_status kiln_errorv(kiln_code code, const char *fmt, va_list ap) {
    kiln_status s = malloc(sizeof *s);
    if (!s) return &out_of_memory;
    s->code = code;
    s->is_static = 0;
    s->msg = vformat(fmt, ap);
    if (!s->msg) {
        free(s);
        return &out_of_memory;
    }
    return s;
}

kiln_status kiln_error(kiln_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kiln_status s = kiln_errorv(code, fmt, ap);
    va_end(ap);
    return s;
}

kiln_status kiln_error_wrap(kiln_status s, const char *fmt, ...) {
    if (!s || s->is_static) return s;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    if (!prefix) return s;
    size_t n = strlen(prefix) + strlen(s->msg) + 3;
    char *msg = malloc(n);
    if (msg) {
        snprintf(msg, n, "%s: %s", prefix, s->msg);
        free(s->msg);
        s->msg = msg;
    }
    free(prefix);
    return s;
}

const char *kiln_status_message(kiln_status s) { return s ? s->msg : "ok"; }

kiln_code kiln_status_code(kiln_status s) { return s ? s->code : KILN_OK_CODE; }

void kiln_status_free(kiln_status s) {
    if (!s || s->is_static) return;
    free(s->msg);
    free(s);
}
