#include <string.h>

#include "embedded.h"

const char *kiln_embedded_file(const char *name) {
    for (const kiln_embedded_entry *e = kiln_embedded_files; e->name; e++)
        if (strcmp(e->name, name) == 0) return e->text;
    return NULL;
}
