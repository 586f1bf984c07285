/* A small JSON reader (RFC 8259) for config.json, safetensors headers,
 * tokenizer files and meta data. Errors read "WHAT:LINE:COL: expected ...";
 * lines and columns start at 1 and columns count UTF-8 characters.
 *
 * Strictness: trailing garbage, control characters in strings, invalid
 * UTF-8, lone surrogates, leading zeros and trailing commas are errors;
 * numbers that overflow a double (1e400) are errors; a UTF-8 byte order
 * mark at the very start is skipped. Containers nest at most
 * KILN_JSON_MAX_DEPTH deep (an error, not a stack overflow).
 * Duplicate object keys keep the last value at the position of the first
 * occurrence, like Python's json module. */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define KILN_JSON_MAX_DEPTH 256

typedef enum kiln_json_type {
    KILN_JSON_NULL,
    KILN_JSON_BOOL,
    KILN_JSON_NUMBER,
    KILN_JSON_STRING,
    KILN_JSON_ARRAY,
    KILN_JSON_OBJECT,
} kiln_json_type;

struct kiln_json_index; /* private: key hash of a large object */

typedef struct kiln_json kiln_json;
struct kiln_json {
    kiln_json_type type;
    int boolean;
    double number;    /* NUMBER: nearest double (also set for integers) */
    int is_integer;   /* literal has no fraction or exponent AND fits int64 */
    int64_t integer;  /* exact value when is_integer */
    char *string;     /* STRING: UTF-8, NUL-terminated (may contain \0 escapes: see len) */
    size_t len;       /* STRING: byte length */
    int count;        /* ARRAY / OBJECT: number of children */
    kiln_json *items; /* ARRAY / OBJECT: children */
    char **keys;      /* OBJECT: key of each child (NUL-terminated) */
    size_t *key_lens; /* OBJECT: byte length of each key (keys may hold \0 escapes) */
    struct kiln_json_index *index; /* private: lets kiln_json_get hash large objects */
    int line, col;    /* where the value starts */
};

/* Parse text[0..len) (need not be NUL-terminated). `what` names the source
 * in errors ("config.json"). On error *out is NULL. */
kiln_status kiln_json_parse(const char *text, size_t len, const char *what, kiln_json **out);
/* Reads and parses the whole file; errors name the path. */
kiln_status kiln_json_parse_file(const char *path, kiln_json **out);
/* Frees a tree returned by a parse call (only roots, not children). */
void kiln_json_free(kiln_json *j);

/* Object member by key, or NULL (also when obj is NULL or not an object).
 * Constant time on average for large objects. A key containing a \0 escape
 * never matches. */
const kiln_json *kiln_json_get(const kiln_json *obj, const char *key);

/* "null", "boolean", "number", "string", "array" or "object", for messages. */
const char *kiln_json_type_name(kiln_json_type t);

#endif
