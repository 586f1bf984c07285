/* Text files compiled into the binary (examples/ and frontend/lang/ .kiln
 * files) by cmake/embed.cmake. */
#ifndef KILN_EMBEDDED_H
#define KILN_EMBEDDED_H

typedef struct kiln_embedded_entry {
    const char *name; /* file name without directory, e.g. "gpt2.kiln" */
    const char *text; /* NUL-terminated contents */
} kiln_embedded_entry;

/* Terminated by an entry with name NULL. */
extern const kiln_embedded_entry kiln_embedded_files[];

/* Contents of the embedded file `name`, or NULL. */
const char *kiln_embedded_file(const char *name);

#endif
