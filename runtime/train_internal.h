/* Pieces of the training graph and loop shared by runtime/train*.c and
 * their tests. */
#ifndef KILN_RUNTIME_TRAIN_INTERNAL_H
#define KILN_RUNTIME_TRAIN_INTERNAL_H

#include "kiln/train.h"

/* Sticky-status graph building: after the first failure every call is a
 * no-op returning KILN_NONE, and the caller checks b->s once. */
typedef struct tg_builder {
    kiln_graph *g;
    kiln_status s;
} tg_builder;

kiln_value tg_op1(tg_builder *b, kiln_op op, kiln_value a);
kiln_value tg_op2(tg_builder *b, kiln_op op, kiln_value a, kiln_value c);
kiln_value tg_scalar(tg_builder *b, double v);            /* f32 [] */
kiln_value tg_sum_all(tg_builder *b, kiln_value a);       /* f32 [] */
kiln_value tg_reshape1(tg_builder *b, kiln_value a);      /* [] or [1] -> [1] */

/* Names of the training graph's tensors: prefix + parameter name. Names
 * of trained parameters are shorter than TRAIN_MAX_NAME (checked by
 * train_param_names), so keys always fit. */
#define TRAIN_MAX_NAME 1024
#define TRAIN_KEY_CAP (TRAIN_MAX_NAME + 32)
const char *train_key(char *buf, const char *prefix, const char *name); /* buf: TRAIN_KEY_CAP bytes */

/* The names of g's trainable parameters (f32 PARAM nodes, node order).
 * *names is malloc'd; its strings belong to g. */
kiln_status train_param_names(const kiln_graph *g, const char ***names, int *n);

/* Appends gradient clipping and AdamW to `with_grads`, a graph with inputs
 * P, outputs "loss" and "grad.P" for each of the n names (kiln_autodiff's
 * result over the loss graph), and returns the training graph described
 * in train.h (a new graph; with_grads is unchanged). */
kiln_status train_append_optimizer(const kiln_graph *with_grads, const char *const *names, int n,
                                   const kiln_train_graph_options *o, kiln_graph **out);

/* Training data (runtime/train_data.c). */
typedef struct train_data {
    int32_t *tokens;      /* all of them */
    int64_t n;
    int64_t ntrain;       /* tokens[0, ntrain) train, [ntrain, n) validation */
    int64_t rows, cols;   /* --tokens: a fixed batch of rows x cols; else 0 */
    const char *source;   /* "tokenizer", "bytes" or "tokens" */
} train_data;

/* A text file as tokens: the model's tokenizer (or the one at
 * tokenizer_path), else its bytes when the model has none and
 * vocab >= 256. The last val_fraction is held out. */
kiln_status train_data_load_text(const kiln_model *m, const char *path, const char *tokenizer_path, int64_t vocab,
                                 double val_fraction, train_data *d);
/* input_ids [rows, cols] (or [cols]) of a safetensors file, any integer dtype. */
kiln_status train_data_load_tokens(const char *path, int64_t vocab, train_data *d);
void train_data_free(train_data *d);

#endif
