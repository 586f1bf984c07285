/* kiln dump: print a model's graph as textual IR, after any pass, its
 * fusion groups and kernels, or its kernel/memory statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kiln/passes.h"
#include "kiln/plan.h"
#include "model_args.h"

/* Symbol values from "seq=128,batch=1"; unnamed symbols default to 1
 * (0 for `past`, the KV-cache length). */
static kiln_status parse_shape(const kiln_graph *g, const char *text, int64_t *symvals) {
    int n = kiln_graph_symbol_count(g);
    for (int i = 0; i < n; i++) symvals[i] = strcmp(kiln_graph_symbol_name(g, i), "past") == 0 ? 0 : 1;
    if (!text) return KILN_OK;
    char *copy = strdup(text);
    if (!copy) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = KILN_OK;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && !s; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        char *end = NULL;
        long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
        if (!eq || !end || *end || end == eq + 1 || v < 0) {
            s = kiln_error(KILN_ERR_INVALID, "--shape: expected NAME=N, got '%s'", item);
            break;
        }
        *eq = 0;
        int id = kiln_graph_symbol_find(g, item);
        if (id < 0) {
            s = kiln_error(KILN_ERR_NOT_FOUND, "--shape: the graph has no symbol '%s'", item);
            break;
        }
        symvals[id] = v;
    }
    free(copy);
    return s;
}

static void print_binding(const kiln_graph *g, const int64_t *symvals, FILE *f) {
    fprintf(f, "symbols:");
    for (int i = 0; i < kiln_graph_symbol_count(g); i++)
        fprintf(f, "%s %s=%lld", i ? "," : "", kiln_graph_symbol_name(g, i), (long long)symvals[i]);
    fprintf(f, "%s\n", kiln_graph_symbol_count(g) ? "" : " none");
}

int cmd_dump(int argc, char **argv) {
    model_args ma = {0};
    int show_config = 0, stats = 0, time_passes = 0;
    const char *after = NULL, *shape = NULL;
    const opt_spec opts[] = {
        {"after", 'a', OPT_STRING, &after, "PASS",
         "print the graph after PASS (see below), or 'fusion' (groups) or 'kernels' (kernel IR)"},
        {"stats", 0, OPT_FLAG, &stats, NULL, "print kernel count and planned arena vs unplanned bytes"},
        {"shape", 0, OPT_STRING, &shape, "SYM=N,...", "symbol values for --stats (default 1; past=0)"},
        {"time-passes", 0, OPT_FLAG, &time_passes, NULL, "print each pass's time and node counts to stderr"},
        {"config", 0, OPT_FLAG, &show_config, NULL, "print the config values used instead of the graph"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    char details[2048];
    size_t o = (size_t)snprintf(details, sizeof details, "passes, in the default pipeline's order:");
    for (int i = 0; i < kiln_default_pipeline_count() && o < sizeof details; i++)
        o += (size_t)snprintf(details + o, sizeof details - o, " %s", kiln_default_pipeline_pass(i));
    if (o < sizeof details)
        o += (size_t)snprintf(details + o, sizeof details - o, "\nall passes:\n");
    for (int i = 0; i < kiln_pass_count() && o < sizeof details; i++)
        o += (size_t)snprintf(details + o, sizeof details - o, "  %-20s %s\n", kiln_pass_name(i), kiln_pass_summary(i));
    if (o < sizeof details)
        snprintf(details + o, sizeof details - o,
                 "\nexamples:\n  kiln dump examples/gpt2.kiln --set n_layer=1\n"
                 "  kiln dump ../shared/fixtures/hf/gpt2-tiny --after fusion\n"
                 "  kiln dump ../shared/fixtures/hf/gpt2-tiny --stats --shape seq=128");
    const command_spec spec = {
        "dump", "MODEL [options]",
        "Print MODEL's graph in kiln's textual IR (docs/ir.md); each node names the .kiln line that built it.",
        details, opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    int want_fusion = after && (strcmp(after, "fusion") == 0 || strcmp(after, "kernels") == 0);
    if (after && !want_fusion && kiln_pass_find(after) < 0 && strcmp(after, "all") != 0)
        return fail("dump: unknown pass '%s' (see 'kiln dump --help')", after);

    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    kiln_status s = KILN_OK;
    kiln_pass_options po = {0};
    po.time_passes = time_passes;
    kiln_plan_options plo = {&po, 0, 0};
    kiln_plan *plan = NULL;
    int64_t *symvals = NULL;
    if (show_config) {
        fputs(m->config_text ? m->config_text : "", stdout);
    } else if (want_fusion || stats) {
        s = kiln_plan_compile(m->graph, &plo, &plan);
        if (!s && want_fusion)
            s = strcmp(after, "fusion") == 0 ? kiln_plan_print_groups(plan, stdout) : kiln_plan_print_kernels(plan, stdout);
        if (!s && stats) {
            const kiln_graph *pg = kiln_plan_graph(plan);
            symvals = calloc((size_t)kiln_graph_symbol_count(pg) + 1, sizeof *symvals);
            s = symvals ? parse_shape(pg, shape, symvals) : kiln_error(KILN_ERR_NOMEM, "out of memory");
            if (!s) {
                print_binding(pg, symvals, stdout);
                s = kiln_plan_print_stats(plan, symvals, stdout);
            }
        }
    } else if (after) {
        po.print_after = after;
        po.print_to = stdout;
        kiln_graph *out = NULL;
        s = kiln_run_default_passes(m->graph, &po, &out);
        kiln_graph_free(out);
    } else {
        s = kiln_graph_print(m->graph, stdout);
    }
    free(symvals);
    kiln_plan_free(plan);
    kiln_model_free(m);
    return s ? fail_status(s) : 0;
}
