/* Command-line option parsing shared by every kiln subcommand: options are
 * declared once in a table that also produces the --help text. */
#ifndef KILN_TOOLS_ARGS_H
#define KILN_TOOLS_ARGS_H

#include <stdio.h>

typedef enum {
    OPT_FLAG,   /* int: set to 1 */
    OPT_STRING, /* const char * */
    OPT_INT,    /* long */
    OPT_DOUBLE, /* double */
    OPT_LIST,   /* string_list: repeatable */
} opt_kind;

typedef struct string_list {
    int count;
    const char *items[64];
} string_list;

typedef struct opt_spec {
    const char *name;    /* long name without dashes, e.g. "inputs" */
    char short_name;     /* 0 if none */
    opt_kind kind;
    void *dest;
    const char *metavar; /* e.g. "FILE" */
    const char *help;
} opt_spec;

typedef struct command_spec {
    const char *name;
    const char *usage;    /* after "kiln NAME " */
    const char *summary;  /* one line */
    const char *details;  /* paragraphs after the options, or NULL */
    const opt_spec *opts; /* terminated by {0} */
    int min_positional, max_positional;
} command_spec;

/* Parses argv (argv[0] is the command name). Positional arguments are
 * returned in pos (up to max_positional). Returns 0 to continue, 1 when
 * --help was printed, 2 on a usage error (already reported). */
int parse_args(const command_spec *cmd, int argc, char **argv, const char **pos, int *npos);
void print_command_help(const command_spec *cmd, FILE *f);

/* Report an error in the one-line form every command uses; returns 1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failing status (and frees it); returns 1. */
#include "kiln/status.h"
int fail_status(kiln_status s);

#endif
