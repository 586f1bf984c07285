/* Graph passes and the pass manager.
 *
 * Graphs only grow by appending, so every pass reads one graph and builds a
 * new one (same name, symbols, dims, inputs and outputs); the input graph is
 * never changed. The default pipeline is a fixed ordered list of named
 * passes; kiln dump --after NAME / --print-after / --time-passes use the
 * hooks below. */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include <stdio.h>

#include "ir.h"

/* Called after each pass of a pipeline with the graph it produced and the
 * seconds it took. */
typedef void (*kiln_pass_hook)(void *ctx, const char *pass, const kiln_graph *after, double seconds);

typedef struct kiln_pass_options {
    /* Print the graph (textual IR) after the pass of this name ("all":
     * after every pass) to print_to (stderr when NULL). */
    const char *print_after;
    FILE *print_to;
    /* Print one line per pass with its time and node counts to time_to
     * (stderr when NULL). */
    int time_passes;
    FILE *time_to;
    /* Verify the graph after every pass. Also on in debug builds (NDEBUG
     * undefined) and when the environment has KILN_VERIFY_PASSES=1. */
    int verify;
    kiln_pass_hook hook;
    void *hook_ctx;
} kiln_pass_options;

/* Passes by name:
 *   simplify       identity removal (same-shape reshape/expand, identity
 *                  transpose, same-dtype cast, x*1, x/1, int x+0 / x-0),
 *                  reshape and transpose chains collapsed, and
 *                  matmul(a, transpose(w)) -> matmul(a, w, trans_b)
 *   decompose-injective  rope and rel_pos_bucket into primitives (the
 *                  kernel IR expresses them as plain index math)
 *   constfold      nodes whose inputs are all constants become constants
 *                  (results up to KILN_CONSTFOLD_MAX_ELEMS elements)
 *   cse            merges nodes with equal op, inputs, attributes, data
 *   dce            drops nodes no output needs (inputs are kept: they are
 *                  the graph's interface)
 *   decompose      every composite (softmax, log_softmax, layer_norm,
 *                  rms_norm, rope, attention, rel_pos_bucket, gelu,
 *                  gelu_tanh, silu, sigmoid) into primitives; not in the
 *                  default pipeline
 */
#define KILN_CONSTFOLD_MAX_ELEMS 65536

int kiln_pass_count(void);                 /* every known pass */
const char *kiln_pass_name(int i);
const char *kiln_pass_summary(int i);
int kiln_pass_find(const char *name);      /* -1 when unknown */
int kiln_default_pipeline_count(void);
const char *kiln_default_pipeline_pass(int i);

/* One pass. *out is a new graph the caller frees. */
kiln_status kiln_run_pass(const char *name, const kiln_graph *g, kiln_graph **out);

/* The default pipeline. opt may be NULL. */
kiln_status kiln_run_default_passes(const kiln_graph *g, const kiln_pass_options *opt, kiln_graph **out);

/* A pipeline of named passes (comma separated, e.g. "simplify,cse,dce"). */
kiln_status kiln_run_pipeline(const char *passes, const kiln_graph *g, const kiln_pass_options *opt,
                              kiln_graph **out);

#endif
