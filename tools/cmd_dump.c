/* kiln dump: print a model's graph as textual IR. */
#include <stdio.h>

#include "commands.h"
#include "model_args.h"

int cmd_dump(int argc, char **argv) {
    model_args ma = {0};
    int show_config = 0;
    const opt_spec opts[] = {
        {"config", 0, OPT_FLAG, &show_config, NULL, "print the config values used instead of the graph"},
        MODEL_ARGS_OPTS(ma),
        {0},
    };
    const command_spec spec = {
        "dump", "MODEL [options]",
        "Print MODEL's graph in kiln's textual IR (docs/ir.md); each node names the .kiln line that built it.",
        "example:\n  kiln dump examples/gpt2.kiln --set n_layer=1", opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    kiln_model *m = load_model(pos[0], &ma);
    if (!m) return 1;
    kiln_status s = KILN_OK;
    if (show_config) fputs(m->config_text ? m->config_text : "", stdout);
    else s = kiln_graph_print(m->graph, stdout);
    kiln_model_free(m);
    return s ? fail_status(s) : 0;
}
