/* The pass registry, the default pipeline, and running pipelines with
 * print-after, timing and verification between passes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/passes.h"
#include "pass_internal.h"

typedef struct pass_info {
    const char *name;
    const char *summary;
    pass_fn fn;
} pass_info;

static const pass_info passes[] = {
    {"simplify", "identity removal, reshape/transpose chains, transpose folded into matmul (trans_b)", pass_simplify},
    {"decompose-injective", "rope, rel_pos_bucket and topk into primitives (no kernel template of their own)", pass_decompose_injective},
    {"constfold", "nodes of constants evaluated into constants", pass_constfold},
    {"cse", "common-subexpression elimination", pass_cse},
    {"dce", "dead-code elimination (inputs are kept)", pass_dce},
    {"decompose", "every composite op into primitives", pass_decompose},
};
#define NPASSES ((int)(sizeof passes / sizeof passes[0]))

/* simplify runs again after cse: merged nodes expose new identities */
static const char *const default_pipeline[] = {"simplify", "decompose-injective", "constfold", "cse", "simplify", "dce"};
#define NDEFAULT ((int)(sizeof default_pipeline / sizeof default_pipeline[0]))

int kiln_pass_count(void) { return NPASSES; }
const char *kiln_pass_name(int i) { return i >= 0 && i < NPASSES ? passes[i].name : NULL; }
const char *kiln_pass_summary(int i) { return i >= 0 && i < NPASSES ? passes[i].summary : NULL; }
int kiln_default_pipeline_count(void) { return NDEFAULT; }
const char *kiln_default_pipeline_pass(int i) { return i >= 0 && i < NDEFAULT ? default_pipeline[i] : NULL; }

int kiln_pass_find(const char *name) {
    for (int i = 0; name && i < NPASSES; i++)
        if (strcmp(passes[i].name, name) == 0) return i;
    return -1;
}

static kiln_status unknown_pass(const char *name) {
    char list[512] = "";
    for (int i = 0; i < NPASSES; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, passes[i].name, sizeof list - strlen(list) - 1);
    }
    return kiln_error(KILN_ERR_NOT_FOUND, "unknown pass '%s' (passes: %s)", name, list);
}

kiln_status kiln_run_pass(const char *name, const kiln_graph *g, kiln_graph **out) {
    *out = NULL;
    int i = kiln_pass_find(name);
    if (i < 0) return unknown_pass(name ? name : "(null)");
    if (!g) return kiln_error(KILN_ERR_INVALID, "pass '%s': no graph", name);
    kiln_status s = passes[i].fn(g, out);
    return s ? kiln_error_wrap(s, "pass '%s'", name) : KILN_OK;
}

static int verify_wanted(const kiln_pass_options *opt) {
#ifndef NDEBUG
    (void)opt;
    return 1;
#else
    const char *env = getenv("KILN_VERIFY_PASSES");
    return (opt && opt->verify) || (env && strcmp(env, "1") == 0);
#endif
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs one step of a pipeline on *cur (replacing it), with the hooks. */
static kiln_status step(const char *name, const kiln_graph *start, kiln_graph **cur, const kiln_pass_options *opt) {
    const kiln_graph *in = *cur ? *cur : start;
    kiln_graph *next = NULL;
    double t0 = now_seconds();
    KILN_TRY(kiln_run_pass(name, in, &next));
    double dt = now_seconds() - t0;
    if (verify_wanted(opt)) {
        kiln_status s = kiln_graph_verify(next);
        if (s) {
            kiln_graph_free(next);
            return kiln_error_wrap(s, "graph after pass '%s' does not verify", name);
        }
    }
    if (opt && opt->time_passes)
        fprintf(opt->time_to ? opt->time_to : stderr, "pass %-20s %9.3f ms  %6d -> %6d nodes\n", name, dt * 1e3,
                kiln_graph_node_count(in), kiln_graph_node_count(next));
    if (opt && opt->print_after && (strcmp(opt->print_after, name) == 0 || strcmp(opt->print_after, "all") == 0)) {
        FILE *f = opt->print_to ? opt->print_to : stderr;
        fprintf(f, "; after pass '%s'\n", name);
        kiln_status s = kiln_graph_print(next, f);
        if (s) {
            kiln_graph_free(next);
            return s;
        }
    }
    if (opt && opt->hook) opt->hook(opt->hook_ctx, name, next, dt);
    kiln_graph_free(*cur);
    *cur = next;
    return KILN_OK;
}

static kiln_status check_print_after(const char *names, const kiln_pass_options *opt) {
    if (!opt || !opt->print_after || strcmp(opt->print_after, "all") == 0) return KILN_OK;
    if (kiln_pass_find(opt->print_after) < 0) return unknown_pass(opt->print_after);
    /* naming a pass that is known but not in this pipeline prints nothing:
     * say so instead of silently doing it */
    size_t len = strlen(opt->print_after);
    for (const char *p = names; (p = strstr(p, opt->print_after)) != NULL; p += len)
        if ((p == names || p[-1] == ',') && (p[len] == ',' || p[len] == 0)) return KILN_OK;
    return kiln_error(KILN_ERR_INVALID, "--print-after %s: the pipeline (%s) has no such pass", opt->print_after, names);
}

kiln_status kiln_run_pipeline(const char *names, const kiln_graph *g, const kiln_pass_options *opt, kiln_graph **out) {
    *out = NULL;
    if (!names || !g) return kiln_error(KILN_ERR_INVALID, "kiln_run_pipeline: passes and graph are required");
    KILN_TRY(check_print_after(names, opt));
    kiln_graph *cur = NULL;
    const char *p = names;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        if (len == 0 || len >= sizeof name) {
            kiln_graph_free(cur);
            return kiln_error(KILN_ERR_INVALID, "bad pass list '%s'", names);
        }
        memcpy(name, p, len);
        name[len] = 0;
        kiln_status s = step(name, g, &cur, opt);
        if (s) {
            kiln_graph_free(cur);
            return s;
        }
        p += len + (e ? 1 : 0);
    }
    if (!cur) return kiln_error(KILN_ERR_INVALID, "empty pass list");
    *out = cur;
    return KILN_OK;
}

kiln_status kiln_run_default_passes(const kiln_graph *g, const kiln_pass_options *opt, kiln_graph **out) {
    char names[256] = "";
    for (int i = 0; i < NDEFAULT; i++) {
        strncat(names, i ? "," : "", sizeof names - strlen(names) - 1);
        strncat(names, default_pipeline[i], sizeof names - strlen(names) - 1);
    }
    return kiln_run_pipeline(names, g, opt, out);
}
