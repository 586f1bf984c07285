/* Option parsing for kiln subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("kiln: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int fail_status(kiln_status s) {
    fail("%s", kiln_status_message(s));
    kiln_status_free(s);
    return 1;
}

static const opt_spec *find_long(const command_spec *cmd, const char *name, size_t len) {
    for (const opt_spec *o = cmd->opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const opt_spec *find_short(const command_spec *cmd, char c) {
    for (const opt_spec *o = cmd->opts; o && o->name; o++)
        if (o->short_name == c) return o;
    return NULL;
}

/* Edit distance for "did you mean" hints. */
static int distance(const char *a, size_t la, const char *b) {
    size_t lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static int unknown_option(const command_spec *cmd, const char *name, size_t len) {
    const char *best = NULL;
    int bestd = 3;
    for (const opt_spec *o = cmd->opts; o && o->name; o++) {
        int dd = distance(name, len, o->name);
        if (dd < bestd) {
            bestd = dd;
            best = o->name;
        }
    }
    if (best) fail("%s: unknown option '--%.*s' (did you mean '--%s'?)", cmd->name, (int)len, name, best);
    else fail("%s: unknown option '--%.*s' (see 'kiln %s --help')", cmd->name, (int)len, name, cmd->name);
    return 2;
}

static int store(const command_spec *cmd, const opt_spec *o, const char *value) {
    char *end;
    switch (o->kind) {
    case OPT_FLAG: *(int *)o->dest = 1; return 0;
    case OPT_STRING: *(const char **)o->dest = value; return 0;
    case OPT_INT:
        errno = 0;
        *(long *)o->dest = strtol(value, &end, 10);
        if (errno || *end || end == value) {
            fail("%s: --%s expects an integer, got '%s'", cmd->name, o->name, value);
            return 2;
        }
        return 0;
    case OPT_DOUBLE:
        errno = 0;
        *(double *)o->dest = strtod(value, &end);
        if (errno || *end || end == value) {
            fail("%s: --%s expects a number, got '%s'", cmd->name, o->name, value);
            return 2;
        }
        return 0;
    case OPT_LIST: {
        string_list *l = o->dest;
        if (l->count == (int)(sizeof l->items / sizeof l->items[0])) {
            fail("%s: too many --%s options", cmd->name, o->name);
            return 2;
        }
        l->items[l->count++] = value;
        return 0;
    }
    }
    return 2;
}

int parse_args(const command_spec *cmd, int argc, char **argv, const char **pos, int *npos) {
    *npos = 0;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt_spec *o = NULL;
        const char *value = NULL;
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            print_command_help(cmd, stdout);
            return 1;
        }
        if (!only_positional && a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(cmd, name, len);
            if (!o) return unknown_option(cmd, name, len);
            if (eq) {
                if (o->kind == OPT_FLAG) {
                    fail("%s: --%s takes no value", cmd->name, o->name);
                    return 2;
                }
                value = eq + 1;
            }
        } else if (!only_positional && a[0] == '-' && a[1] && a[2] == 0 && !(a[1] >= '0' && a[1] <= '9')) {
            o = find_short(cmd, a[1]);
            if (!o) {
                fail("%s: unknown option '%s' (see 'kiln %s --help')", cmd->name, a, cmd->name);
                return 2;
            }
        } else {
            if (*npos >= cmd->max_positional) {
                fail("%s: unexpected argument '%s' (usage: kiln %s %s)", cmd->name, a, cmd->name, cmd->usage);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (o->kind != OPT_FLAG && !value) {
            if (i + 1 >= argc) {
                fail("%s: --%s needs a value (%s)", cmd->name, o->name, o->metavar ? o->metavar : "VALUE");
                return 2;
            }
            value = argv[++i];
        }
        int r = store(cmd, o, value);
        if (r) return r;
    }
    if (*npos < cmd->min_positional) {
        fail("%s: missing argument (usage: kiln %s %s)", cmd->name, cmd->name, cmd->usage);
        return 2;
    }
    return 0;
}

void print_command_help(const command_spec *cmd, FILE *f) {
    fprintf(f, "usage: kiln %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->opts && cmd->opts->name) {
        fprintf(f, "\noptions:\n");
        for (const opt_spec *o = cmd->opts; o->name; o++) {
            char left[64];
            if (o->short_name)
                snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
            else
                snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
            fprintf(f, "  %-28s %s\n", left, o->help);
        }
        fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
    }
    if (cmd->details) fprintf(f, "\n%s\n", cmd->details);
}
