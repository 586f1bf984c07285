/* Training a language model: cross-entropy loss, gradient clipping and
 * AdamW built as one graph per step (docs/training.md).
 *
 * The training graph is made from a model's forward graph: its `logits`
 * output gets Hugging Face's causal-LM loss (logits[:, :-1] against
 * input_ids[:, 1:], mean over every position), kiln_autodiff adds the
 * gradient of every f32 parameter, and the optimizer step follows as
 * ordinary graph ops. Parameters and the AdamW moments are inputs and the
 * updated ones are outputs, so one compiled session runs every step on any
 * device (ref, kir, cpu, vulkan). */
#ifndef KILN_TRAIN_H
#define KILN_TRAIN_H

#include <stdint.h>

#include "ir.h"
#include "model.h"
#include "session.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the training graph (runtime/train_graph.c) -------------------------
 * Interface of the graph kiln_train_graph_build makes from `fwd`:
 *   inputs   fwd's inputs (input_ids [batch, seq], ...), then for every f32
 *            parameter P of fwd: P itself (same name, now an input),
 *            "adam.m.P" and "adam.v.P" (same shape), then the f32[1] scalars
 *            "train.lr" and "train.step" (the AdamW step count t, from 1)
 *   outputs  "loss" f32[1], "grad_norm" f32[1] (global L2 norm of the
 *            gradients before clipping), and for every P: "new.P",
 *            "new.adam.m.P", "new.adam.v.P"; with keep_grads also "grad.P"
 *            (before clipping).
 * Parameters that are not f32 stay parameters (bound as weights). */
typedef struct kiln_train_graph_options {
    const char *logits; /* the logits output; NULL = "logits" */
    double weight_decay, beta1, beta2, eps;
    double grad_clip;   /* max global gradient norm; 0 = no clipping */
    int keep_grads;     /* also output grad.P */
} kiln_train_graph_options;

/* The defaults of torch.optim.AdamW with clipping at 1.0 as `kiln train` uses. */
void kiln_train_graph_options_default(kiln_train_graph_options *o);

/* The loss graph alone (used for validation): fwd's inputs plus every f32
 * parameter as an input of the same name; one output "loss" f32[1]. */
kiln_status kiln_loss_graph_build(const kiln_graph *fwd, const char *logits, kiln_graph **out);

/* The whole training step (needs kiln_autodiff). */
kiln_status kiln_train_graph_build(const kiln_graph *fwd, const kiln_train_graph_options *o, kiln_graph **out);

/* Fresh weights for every f32 parameter of g missing from `have` (may be
 * NULL), added to `out`: the scale of a layer_norm / rms_norm gets ones,
 * other rank-1 parameters zeros, the rest normal(0, 0.02) drawn from seed
 * in node order (runtime/train_init.c). */
kiln_status kiln_train_init_params(const kiln_graph *g, const kiln_tensor_map *have, uint64_t seed,
                                   kiln_tensor_map *out);

/* ---- the training loop (runtime/train.c) -------------------------------- */

/* Reported after every step (and after each validation). */
typedef struct kiln_train_progress {
    int step, steps;       /* step just done, 1-based, of steps */
    double loss;           /* its training loss */
    double val_loss;       /* NaN unless a validation ran after this step */
    double tokens_per_s;   /* training tokens (predicted positions) per second so far */
    double elapsed_s;      /* since the first step started (compilation excluded) */
    double eta_s;          /* estimated seconds left */
} kiln_train_progress;

typedef void (*kiln_train_progress_fn)(void *ctx, const kiln_train_progress *p);

typedef struct kiln_train_options {
    kiln_session_options session; /* device and threads */
    int steps, batch, seq;        /* seq: predicted tokens per row (windows are seq + 1 tokens) */
    double lr;
    kiln_train_graph_options optim; /* weight decay, betas, eps, clipping */
    uint64_t seed;                /* initialization and batch sampling */
    /* Exactly one data source:
     *   data_path    a text file, tokenized with the model's tokenizer
     *                (tokenizer_path overrides where to find it) or read as
     *                bytes when the model has no tokenizer and vocab >= 256;
     *                the last val_fraction is held out for validation
     *   tokens_path  a safetensors file whose integer input_ids [batch, n]
     *                is the batch of every step (no validation) */
    const char *data_path;
    const char *tokens_path;
    const char *tokenizer_path;
    double val_fraction;          /* default 0.1 */
    int eval_every;               /* validate every N steps (0: only at the end) */
    int eval_batches;             /* batches averaged per validation (default 4) */
    int keep_grads;               /* result->grads gets the last step's gradients */
    kiln_train_progress_fn progress;
    void *progress_ctx;
} kiln_train_options;

/* steps 100, batch 4, seq 64, lr 1e-3, AdamW defaults (betas 0.9/0.999,
 * eps 1e-8, weight decay 0.01), grad clip 1.0, seed 1, val 0.1,
 * eval_batches 4, device ref, threads 0. */
void kiln_train_options_default(kiln_train_options *o);

typedef struct kiln_train_result {
    int64_t nparams;          /* trainable (f32) parameter elements */
    int nsteps;
    float *train_loss;        /* [nsteps]: loss of step i+1, before its update */
    int nval;
    int *val_step;            /* [nval]: the step after which validation ran */
    float *val_loss;          /* [nval] */
    double tokens_per_s;      /* batch * seq * steps / train_s */
    double compile_s, train_s;
    int64_t train_tokens, val_tokens; /* size of each split (data_path) */
    kiln_tensor_map *weights; /* final f32 parameters by the model's own tensor names */
    kiln_tensor_map *grads;   /* keep_grads: "grad.<name>" of the last step; else NULL */
} kiln_train_result;

/* Trains m (weights from the model or, when it has none, initialized from
 * the graph: norm scales 1, other rank-1 params 0, the rest normal(0, 0.02)
 * from seed). On failure *r is left empty. */
kiln_status kiln_train_run(const kiln_model *m, const kiln_train_options *o, kiln_train_result *r);
void kiln_train_result_free(kiln_train_result *r);

#ifdef __cplusplus
}
#endif
#endif
