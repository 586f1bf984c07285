/* A growing string for generated GLSL. Allocation failure is sticky: the
 * builder stops appending and kvk_str_done reports it once. */
#ifndef KILN_VK_STR_H
#define KILN_VK_STR_H

#include <stddef.h>

#include "kiln/status.h"

typedef struct kvk_str {
    char *p;
    size_t n, cap;
    int oom;
} kvk_str;

void kvk_str_add(kvk_str *s, const char *text);
void kvk_str_addf(kvk_str *s, const char *fmt, ...) KILN_PRINTF(2, 3);
/* KILN_OK and the text in s->p (owned by the caller), or NOMEM. */
kiln_status kvk_str_done(kvk_str *s);
void kvk_str_free(kvk_str *s);

#endif
