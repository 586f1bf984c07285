/* The training loop: one compiled training-step session, parameters and
 * AdamW moments carried from each step's outputs to the next step's inputs,
 * random windows of the training text per batch row, validation on fixed
 * windows of the held-out tail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/generate_internal.h"
#include "runtime/train_internal.h"

void kiln_train_options_default(kiln_train_options *o) {
    memset(o, 0, sizeof *o);
    o->session.device.kind = KILN_DEVICE_REF;
    o->session.device.index = -1;
    o->steps = 100;
    o->batch = 4;
    o->seq = 64;
    o->lr = 1e-3;
    kiln_train_graph_options_default(&o->optim);
    o->seed = 1;
    o->val_fraction = 0.1;
    o->eval_batches = 4;
}

void kiln_train_result_free(kiln_train_result *r) {
    if (!r) return;
    free(r->train_loss);
    free(r->val_step);
    free(r->val_loss);
    kiln_tensor_map_free(r->weights);
    kiln_tensor_map_free(r->grads);
    memset(r, 0, sizeof *r);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Everything one run holds; released by trainer_free. */
typedef struct trainer {
    const kiln_model *m;
    const kiln_train_options *o;
    const char **names; /* trainable parameters */
    int nparams;
    int64_t vocab, batch, cols; /* cols: tokens per row fed (seq + 1) */
    train_data data;
    kiln_graph *train_g, *loss_g;
    kiln_session *train_s, *loss_s;
    kiln_tensor_map *state;  /* P, adam.m.P, adam.v.P (the first step's inputs) */
    kiln_tensor_map *outs;   /* the last step's outputs: new.P, new.adam.m.P, ... */
    int64_t *ids;            /* [batch, cols] of this step */
    uint64_t rng;
} trainer;

static void trainer_free(trainer *t) {
    kiln_session_free(t->train_s);
    kiln_session_free(t->loss_s);
    kiln_graph_free(t->train_g);
    kiln_graph_free(t->loss_g);
    kiln_tensor_map_free(t->state);
    kiln_tensor_map_free(t->outs);
    train_data_free(&t->data);
    free(t->names);
    free(t->ids);
}

static kiln_status check_options(const kiln_train_options *o) {
    if (o->steps < 0) return kiln_error(KILN_ERR_INVALID, "steps must be >= 0 (got %d)", o->steps);
    if (!o->tokens_path && (o->batch < 1 || o->seq < 1))
        return kiln_error(KILN_ERR_INVALID, "batch and seq must be >= 1 (got %d, %d)", o->batch, o->seq);
    if (!(o->lr >= 0) || !isfinite(o->lr)) return kiln_error(KILN_ERR_INVALID, "learning rate %g: must be >= 0", o->lr);
    if (!o->data_path == !o->tokens_path)
        return kiln_error(KILN_ERR_INVALID, "give exactly one of a text file (--data) or a token file (--tokens)");
    if (o->eval_every < 0 || o->eval_batches < 0)
        return kiln_error(KILN_ERR_INVALID, "eval interval and batches must be >= 0");
    return KILN_OK;
}

/* The model's vocabulary: the last dim of its logits. */
static kiln_status logits_vocab(const kiln_graph *g, const char *name, int64_t *vocab) {
    for (int i = 0; i < kiln_graph_output_count(g); i++) {
        if (strcmp(kiln_graph_output_name(g, i), name) != 0) continue;
        const kiln_node *n = kiln_graph_node(g, kiln_graph_output_value(g, i));
        if (n->shape.rank == 3 && kiln_dim_is_const(n->shape.dims[2])) {
            *vocab = n->shape.dims[2];
            return KILN_OK;
        }
    }
    kiln_graph *tmp = NULL; /* kiln_loss_graph_build words the error */
    kiln_status s = kiln_loss_graph_build(g, name, &tmp);
    kiln_graph_free(tmp);
    return s ? s : kiln_error(KILN_ERR_INTERNAL, "no vocabulary size");
}

static kiln_status load_data(trainer *t) {
    const kiln_train_options *o = t->o;
    if (o->tokens_path) {
        KILN_TRY(train_data_load_tokens(o->tokens_path, t->vocab, &t->data));
        t->batch = t->data.rows;
        t->cols = t->data.cols;
        return KILN_OK;
    }
    KILN_TRY(train_data_load_text(t->m, o->data_path, o->tokenizer_path, t->vocab, o->val_fraction, &t->data));
    t->batch = o->batch;
    t->cols = (int64_t)o->seq + 1;
    if (t->data.ntrain < t->cols)
        return kiln_error(KILN_ERR_INVALID,
                          "%s: %lld training tokens (%s), shorter than one window of --seq %d + 1 tokens; use a longer "
                          "text or a smaller --seq",
                          o->data_path, (long long)t->data.ntrain, t->data.source, o->seq);
    return KILN_OK;
}

static kiln_status check_context(const trainer *t) {
    kiln_generation_info info;
    memset(&info, 0, sizeof info);
    kiln_generation_read_config(t->m, &info);
    if (info.context > 0 && t->cols > info.context) {
        if (t->o->tokens_path)
            return kiln_error(KILN_ERR_INVALID, "%s: rows of %lld tokens, but the model has %s = %lld positions",
                              t->o->tokens_path, (long long)t->cols, info.context_key, (long long)info.context);
        return kiln_error(KILN_ERR_INVALID,
                          "--seq %d needs windows of %d tokens (inputs plus the next token), but the model has %s = %lld "
                          "positions: use --seq %lld or less",
                          t->o->seq, t->o->seq + 1, info.context_key, (long long)info.context,
                          (long long)info.context - 1);
    }
    return KILN_OK;
}

/* Parameters from the model's weights (as f32), else initialized; moments zero. */
static kiln_status init_state(trainer *t, kiln_train_result *r) {
    t->state = kiln_tensor_map_new();
    kiln_tensor_map *fresh = kiln_tensor_map_new();
    kiln_status s = t->state && fresh ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) s = kiln_train_init_params(t->m->graph, t->m->weights, t->o->seed, fresh);
    for (int i = 0; i < t->nparams && !s; i++) {
        const char *name = t->names[i];
        const kiln_tensor *w = t->m->weights ? kiln_tensor_map_get(t->m->weights, name) : NULL;
        if (!w) w = kiln_tensor_map_get(fresh, name);
        kiln_tensor p, z1, z2;
        memset(&p, 0, sizeof p);
        if (!w) s = kiln_error(KILN_ERR_NOT_FOUND, "parameter '%s': no weight and none initialized", name);
        if (!s) s = kiln_tensor_convert(w, KILN_F32, &p);
        if (!s) s = kiln_tensor_map_put(t->state, name, p);
        else kiln_tensor_release(&p);
        if (s) break;
        r->nparams += kiln_tensor_numel(&p);
        char key[TRAIN_KEY_CAP];
        s = kiln_tensor_alloc(&z1, KILN_F32, p.rank, p.shape);
        train_key(key, "adam.m.", name);
        if (!s && (s = kiln_tensor_map_put(t->state, key, z1))) kiln_tensor_release(&z1);
        if (!s) s = kiln_tensor_alloc(&z2, KILN_F32, p.rank, p.shape);
        train_key(key, "adam.v.", name);
        if (!s && (s = kiln_tensor_map_put(t->state, key, z2))) kiln_tensor_release(&z2);
    }
    kiln_tensor_map_free(fresh);
    return s;
}

/* The current value of state tensor `name` ("P", "adam.m.P", ...): the last
 * step's "new.<name>" output, or the initial state before the first step. */
static const kiln_tensor *current(const trainer *t, const char *name) {
    if (!t->outs) return kiln_tensor_map_get(t->state, name);
    char key[TRAIN_KEY_CAP];
    train_key(key, "new.", name);
    return kiln_tensor_map_get(t->outs, key);
}

static kiln_status put_view(kiln_tensor_map *in, const char *name, const kiln_tensor *t) {
    if (!t) return kiln_error(KILN_ERR_INTERNAL, "training state '%s' missing", name);
    kiln_tensor v = *t;
    v.owns_data = 0;
    return kiln_tensor_map_put(in, name, v);
}

/* Inputs of a step (with_optim) or of a loss evaluation: views of the
 * current state plus the batch in t->ids. */
static kiln_status make_inputs(const trainer *t, int with_optim, float *lr, float *step, kiln_tensor_map **out) {
    kiln_tensor_map *in = kiln_tensor_map_new();
    if (!in) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    int64_t shape[2] = {t->batch, t->cols}, one = 1;
    kiln_status s = kiln_tensor_map_put(in, "input_ids", kiln_tensor_view(KILN_I64, 2, shape, t->ids));
    for (int i = 0; i < t->nparams && !s; i++) {
        char key[TRAIN_KEY_CAP];
        s = put_view(in, t->names[i], current(t, t->names[i]));
        if (with_optim && !s) {
            train_key(key, "adam.m.", t->names[i]);
            s = put_view(in, key, current(t, key));
        }
        if (with_optim && !s) {
            train_key(key, "adam.v.", t->names[i]);
            s = put_view(in, key, current(t, key));
        }
    }
    if (with_optim && !s) s = kiln_tensor_map_put(in, "train.lr", kiln_tensor_view(KILN_F32, 1, &one, lr));
    if (with_optim && !s) s = kiln_tensor_map_put(in, "train.step", kiln_tensor_view(KILN_F32, 1, &one, step));
    if (s) {
        kiln_tensor_map_free(in);
        return s;
    }
    *out = in;
    return KILN_OK;
}

static void sample_batch(trainer *t) {
    if (t->data.rows) { /* the fixed batch */
        for (int64_t i = 0; i < t->batch * t->cols; i++) t->ids[i] = t->data.tokens[i];
        return;
    }
    uint64_t starts = (uint64_t)(t->data.ntrain - t->cols + 1);
    for (int64_t b = 0; b < t->batch; b++) {
        int64_t at = (int64_t)(next_u64(&t->rng) % starts);
        for (int64_t j = 0; j < t->cols; j++) t->ids[b * t->cols + j] = t->data.tokens[at + j];
    }
}

static kiln_status read_scalar(const kiln_tensor_map *outs, const char *name, double *v) {
    const kiln_tensor *x = kiln_tensor_map_get(outs, name);
    if (!x || x->dtype != KILN_F32 || kiln_tensor_numel(x) != 1)
        return kiln_error(KILN_ERR_INTERNAL, "training graph output '%s' missing or not one f32", name);
    *v = ((const float *)x->data)[0];
    return KILN_OK;
}

/* Mean loss over eval_batches batches of evenly spaced windows of the
 * held-out tokens (the same windows every time). */
static kiln_status validate(trainer *t, double *loss) {
    int64_t nval = t->data.n - t->data.ntrain, starts = nval - t->cols + 1;
    int64_t nwin = (int64_t)t->o->eval_batches * t->batch;
    double sum = 0;
    for (int k = 0; k < t->o->eval_batches; k++) {
        for (int64_t b = 0; b < t->batch; b++) {
            int64_t w = (int64_t)k * t->batch + b;
            int64_t at = t->data.ntrain + (nwin > 1 ? w * (starts - 1) / (nwin - 1) : 0);
            for (int64_t j = 0; j < t->cols; j++) t->ids[b * t->cols + j] = t->data.tokens[at + j];
        }
        kiln_tensor_map *in = NULL, *outs = NULL;
        KILN_TRY(make_inputs(t, 0, NULL, NULL, &in));
        kiln_status s = kiln_session_run(t->loss_s, in, &outs);
        double l = 0;
        if (!s) s = read_scalar(outs, "loss", &l);
        kiln_tensor_map_free(in);
        kiln_tensor_map_free(outs);
        KILN_TRY(s);
        sum += l;
    }
    *loss = sum / t->o->eval_batches;
    return KILN_OK;
}

static kiln_status grow(int **steps, float **losses, int n) {
    int *a = realloc(*steps, (size_t)(n + 1) * sizeof *a);
    if (a) *steps = a;
    float *b = realloc(*losses, (size_t)(n + 1) * sizeof *b);
    if (b) *losses = b;
    return a && b ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "out of memory");
}

static kiln_status run_validation(trainer *t, kiln_train_result *r, int step, double *val) {
    KILN_TRY(validate(t, val));
    KILN_TRY(grow(&r->val_step, &r->val_loss, r->nval));
    r->val_step[r->nval] = step;
    r->val_loss[r->nval] = (float)*val;
    r->nval++;
    return KILN_OK;
}

static kiln_status setup(trainer *t, kiln_train_result *r) {
    const kiln_train_options *o = t->o;
    const char *logits = o->optim.logits ? o->optim.logits : "logits";
    KILN_TRY(logits_vocab(t->m->graph, logits, &t->vocab));
    KILN_TRY(train_param_names(t->m->graph, &t->names, &t->nparams));
    if (t->nparams == 0) return kiln_error(KILN_ERR_INVALID, "%s: no f32 parameters to train", t->m->name);
    KILN_TRY(load_data(t));
    KILN_TRY(check_context(t));
    r->train_tokens = t->data.ntrain;
    r->val_tokens = t->data.n - t->data.ntrain;
    if (!(t->ids = malloc((size_t)(t->batch * t->cols) * sizeof *t->ids)))
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    KILN_TRY(init_state(t, r));
    double t0 = now_s();
    kiln_train_graph_options go = o->optim;
    go.keep_grads = o->keep_grads;
    KILN_TRY(kiln_train_graph_build(t->m->graph, &go, &t->train_g));
    KILN_TRY(kiln_session_create(t->train_g, t->m->weights, &o->session, &t->train_s));
    /* validation needs at least one window of held-out tokens */
    if (!o->tokens_path && o->eval_batches > 0 && r->val_tokens >= t->cols) {
        KILN_TRY(kiln_loss_graph_build(t->m->graph, logits, &t->loss_g));
        KILN_TRY(kiln_session_create(t->loss_g, t->m->weights, &o->session, &t->loss_s));
    }
    r->compile_s = now_s() - t0;
    return KILN_OK;
}

static kiln_status train_loop(trainer *t, kiln_train_result *r) {
    const kiln_train_options *o = t->o;
    if (!(r->train_loss = malloc((size_t)(o->steps ? o->steps : 1) * sizeof *r->train_loss)))
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    t->rng = o->seed ^ UINT64_C(0x5851F42D4C957F2D); /* a stream apart from initialization's */
    double train_s = 0, t_start = now_s();
    int64_t tokens_per_step = t->batch * (t->cols - 1);
    for (int step = 1; step <= o->steps; step++) {
        double t0 = now_s();
        sample_batch(t);
        float lr = (float)o->lr, fstep = (float)step;
        kiln_tensor_map *in = NULL, *outs = NULL;
        KILN_TRY(make_inputs(t, 1, &lr, &fstep, &in));
        kiln_status s = kiln_session_run(t->train_s, in, &outs);
        kiln_tensor_map_free(in);
        if (s) return kiln_error_wrap(s, "training step %d", step);
        kiln_tensor_map_free(t->outs);
        t->outs = outs;
        double loss = 0;
        KILN_TRY(read_scalar(outs, "loss", &loss));
        r->train_loss[step - 1] = (float)loss;
        r->nsteps = step;
        train_s += now_s() - t0;
        if (!isfinite(loss))
            return kiln_error(KILN_ERR_INVALID, "the training loss became %g at step %d (try a lower --lr)", loss, step);
        double val = NAN;
        int last = step == o->steps;
        if (t->loss_s && (last || (o->eval_every > 0 && step % o->eval_every == 0)))
            KILN_TRY(run_validation(t, r, step, &val));
        if (o->progress) {
            kiln_train_progress p = {step, o->steps, loss, val, train_s > 0 ? (double)tokens_per_step * step / train_s : 0,
                                     now_s() - t_start, train_s / step * (o->steps - step)};
            o->progress(o->progress_ctx, &p);
        }
    }
    r->train_s = train_s;
    r->tokens_per_s = train_s > 0 ? (double)tokens_per_step * o->steps / train_s : 0;
    if (o->steps == 0 && t->loss_s) {
        double val;
        KILN_TRY(run_validation(t, r, 0, &val));
    }
    return KILN_OK;
}

static kiln_status put_copy(kiln_tensor_map *m, const char *name, const kiln_tensor *t) {
    if (!t) return kiln_error(KILN_ERR_INTERNAL, "training output '%s' missing", name);
    kiln_tensor c;
    KILN_TRY(kiln_tensor_convert(t, KILN_F32, &c));
    kiln_status s = kiln_tensor_map_put(m, name, c);
    if (s) kiln_tensor_release(&c);
    return s;
}

/* The final parameters under their own names, and the last gradients. */
static kiln_status collect(trainer *t, kiln_train_result *r) {
    r->weights = kiln_tensor_map_new();
    if (!r->weights) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (t->o->keep_grads && t->outs && !(r->grads = kiln_tensor_map_new()))
        return kiln_error(KILN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->nparams; i++) {
        KILN_TRY(put_copy(r->weights, t->names[i], current(t, t->names[i])));
        if (r->grads) {
            char key[TRAIN_KEY_CAP];
            train_key(key, "grad.", t->names[i]);
            KILN_TRY(put_copy(r->grads, key, kiln_tensor_map_get(t->outs, key)));
        }
    }
    return KILN_OK;
}

kiln_status kiln_train_run(const kiln_model *m, const kiln_train_options *o, kiln_train_result *r) {
    if (!r) return kiln_error(KILN_ERR_INVALID, "kiln_train_run: no result");
    memset(r, 0, sizeof *r);
    if (!m || !o) return kiln_error(KILN_ERR_INVALID, "kiln_train_run: no model or options");
    KILN_TRY(check_options(o));
    trainer t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.o = o;
    kiln_status s = setup(&t, r);
    if (!s) s = train_loop(&t, r);
    if (!s) s = collect(&t, r);
    trainer_free(&t);
    if (s) kiln_train_result_free(r);
    return s;
}
