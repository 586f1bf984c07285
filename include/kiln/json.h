/* A small JSON reader (RFC 8259) for config.json, safetensors headers,
 * tokenizer files and meta data. Errors report line and column. */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum kiln_json_type {
    KILN_JSON_NULL,
    KILN_JSON_BOOL,
    KILN_JSON_NUMBER,
    KILN_JSON_STRING,
    KILN_JSON_ARRAY,
    KILN_JSON_OBJECT,
} kiln_json_type;

typedef struct kiln_json kiln_json;
struct kiln_json {
    kiln_json_type type;
    int boolean;
    double number;
    int is_integer;   /* number written without fraction or exponent */
    int64_t integer;  /* exact value when is_integer and it fits */
    char *string;     /* STRING: UTF-8, NUL-terminated (may contain \0 escapes: see len) */
    size_t len;       /* STRING: byte length */
    int count;        /* ARRAY / OBJECT: number of children */
    kiln_json *items; /* ARRAY / OBJECT: children */
    char **keys;      /* OBJECT: key of each child */
    int line, col;    /* where the value starts */
};

/* Parse text[0..len). `what` names the source in errors ("config.json"). */
kiln_status kiln_json_parse(const char *text, size_t len, const char *what, kiln_json **out);
kiln_status kiln_json_parse_file(const char *path, kiln_json **out);
void kiln_json_free(kiln_json *j);

/* Object member by key, or NULL. */
const kiln_json *kiln_json_get(const kiln_json *obj, const char *key);

#endif
