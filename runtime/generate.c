/* The generator: one CACHED-mode graph, one session, and the KV cache as
 * state carried from step to step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/generate.h"
#include "runtime/generate_internal.h"

struct kiln_generator {
    const kiln_model *model;
    kiln_graph *graph;
    kiln_session *session;
    kiln_generation_info info;
    const char *token_input;   /* "input_ids" or "decoder_input_ids" */
    int ncache;
    char **past_names;         /* past.X, in graph input order */
    char **present_names;      /* the matching present.X */
    kiln_tensor_map *empty;    /* zero-length caches: the state before the first step */
    kiln_tensor_map *state;    /* outputs of the last step (owns present.*); NULL: empty */
    kiln_tensor_map *inputs;   /* views, rebuilt in place every step */
    int64_t *ids;              /* the step's tokens as i64 */
    int64_t ids_cap;
    int64_t *enc_ids;          /* encoder-decoder: the encoder input */
    int64_t n_enc;
    float *logits;             /* the last token's logits */
    int64_t pos;
    /* > 0 when the session keeps the cache on its device and picks tokens
     * there (kiln_session_step): the largest k it picks */
    int device_topk;
    int32_t *top_ids;
    float *top_vals;
    int lost; /* a device step failed: its cache is gone until a reset */
};

static kiln_status oom(void) { return kiln_error(KILN_ERR_NOMEM, "out of memory"); }

/* Zero-length cache tensors: every past.* input with past = 0, batch = 1. */
static kiln_status make_empty_caches(kiln_generator *g) {
    const kiln_graph *gr = g->graph;
    int nsym = kiln_graph_symbol_count(gr);
    int64_t *sym = malloc((size_t)(nsym ? nsym : 1) * sizeof *sym);
    if (!sym) return oom();
    for (int i = 0; i < nsym; i++) {
        const char *name = kiln_graph_symbol_name(gr, i);
        sym[i] = strcmp(name, "past") == 0 ? 0 : strcmp(name, "batch") == 0 ? 1 : -1;
    }
    kiln_status s = KILN_OK;
    for (int c = 0; !s && c < g->ncache; c++) {
        const kiln_node *n = kiln_graph_node(gr, kiln_graph_find_input(gr, g->past_names[c]));
        int64_t shape[KILN_MAX_RANK];
        for (int d = 0; !s && d < n->shape.rank; d++) {
            s = kiln_dim_eval(gr, n->shape.dims[d], sym, &shape[d]);
            if (!s && shape[d] < 0) s = kiln_error(KILN_ERR_UNSUPPORTED, "bad dim");
            if (s) {
                kiln_status_free(s);
                char buf[128];
                s = kiln_error(KILN_ERR_UNSUPPORTED,
                               "%s: cache input '%s' has dim %d = %s; generation knows only 'past' and 'batch'",
                               g->model->name, g->past_names[c], d, kiln_dim_str(gr, n->shape.dims[d], buf, sizeof buf));
            }
        }
        kiln_tensor t;
        if (!s) s = kiln_tensor_alloc(&t, n->dtype, n->shape.rank, shape);
        if (!s) s = kiln_tensor_map_put(g->empty, g->past_names[c], t);
    }
    free(sym);
    return s;
}

/* The graph's interface: token inputs, logits, and past.X / present.X pairs. */
static kiln_status inspect_graph(kiln_generator *g) {
    const kiln_graph *gr = g->graph;
    const char *name = g->model->name;
    g->info.encoder_decoder = kiln_graph_find_input(gr, "decoder_input_ids") != KILN_NONE;
    g->token_input = g->info.encoder_decoder ? "decoder_input_ids" : "input_ids";
    const char *need[2] = {"input_ids", "decoder_input_ids"};
    for (int i = 0; i < 1 + g->info.encoder_decoder; i++) {
        kiln_value v = kiln_graph_find_input(gr, need[i]);
        if (v == KILN_NONE || !kiln_dtype_is_int(kiln_graph_node(gr, v)->dtype) || kiln_graph_node(gr, v)->shape.rank != 2)
            return kiln_error(KILN_ERR_UNSUPPORTED, "%s: cannot generate text: it has no integer input %s[batch, seq]",
                              name, need[i]);
    }
    const kiln_node *logits = NULL;
    for (int i = 0; i < kiln_graph_output_count(gr); i++)
        if (strcmp(kiln_graph_output_name(gr, i), "logits") == 0)
            logits = kiln_graph_node(gr, kiln_graph_output_value(gr, i));
    if (!logits || logits->shape.rank != 3 || !kiln_dim_is_const(logits->shape.dims[2]) || logits->shape.dims[2] < 1 ||
        !kiln_dtype_is_float(logits->dtype))
        return kiln_error(KILN_ERR_UNSUPPORTED, "%s: cannot generate text: it has no output logits[batch, seq, vocab]",
                          name);
    g->info.vocab_size = logits->shape.dims[2];
    if (g->info.vocab_size > INT32_MAX)
        return kiln_error(KILN_ERR_LIMIT, "%s: vocabulary of %lld tokens is too large", name,
                          (long long)g->info.vocab_size);

    int nin = kiln_graph_input_count(gr);
    g->past_names = calloc((size_t)(nin ? nin : 1), sizeof *g->past_names);
    g->present_names = calloc((size_t)(nin ? nin : 1), sizeof *g->present_names);
    if (!g->past_names || !g->present_names) return oom();
    for (int i = 0; i < nin; i++) {
        const char *in = kiln_graph_node(gr, kiln_graph_input_value(gr, i))->name;
        if (strncmp(in, "past.", 5) != 0) continue;
        size_t len = strlen(in) + 4;
        char *pres = malloc(len), *past = malloc(len);
        if (!pres || !past) {
            free(pres);
            free(past);
            return oom();
        }
        snprintf(pres, len, "present.%s", in + 5);
        memcpy(past, in, strlen(in) + 1);
        g->past_names[g->ncache] = past;
        g->present_names[g->ncache++] = pres;
        int found = 0;
        for (int o = 0; o < kiln_graph_output_count(gr) && !found; o++) found = strcmp(kiln_graph_output_name(gr, o), pres) == 0;
        if (!found)
            return kiln_error(KILN_ERR_FORMAT, "%s: cache input '%s' has no matching output '%s'", name, in, pres);
    }
    return KILN_OK;
}

kiln_status kiln_generator_new(const kiln_model *m, const kiln_session_options *opt, kiln_generator **out) {
    *out = NULL;
    if (!m) return kiln_error(KILN_ERR_INVALID, "kiln_generator_new: no model");
    kiln_generator *g = calloc(1, sizeof *g);
    if (!g) return oom();
    g->model = m;
    kiln_status s = kiln_model_compile(m, KILN_LANG_CACHED, &g->graph);
    if (s) s = kiln_error_wrap(s, "%s: compiling for generation (KV cache)", m->name);
    if (!s) s = inspect_graph(g);
    if (!s) kiln_generation_read_config(m, &g->info);
    if (!s && (!(g->empty = kiln_tensor_map_new()) || !(g->inputs = kiln_tensor_map_new()))) s = oom();
    if (!s) s = make_empty_caches(g);
    if (!s && !(g->logits = malloc((size_t)g->info.vocab_size * sizeof *g->logits))) s = oom();
    if (!s) s = kiln_session_create(g->graph, m->weights, opt, &g->session);
    /* KILN_NO_DEVICE_STEP=1 runs every step through kiln_session_run (to compare the two paths) */
    const char *no_step = getenv("KILN_NO_DEVICE_STEP");
    if (!s && !(no_step && *no_step && strcmp(no_step, "0") != 0)) g->device_topk = kiln_session_step_topk(g->session);
    if (!s && g->device_topk > 0) {
        g->top_ids = malloc((size_t)g->device_topk * sizeof *g->top_ids);
        g->top_vals = malloc((size_t)g->device_topk * sizeof *g->top_vals);
        if (!g->top_ids || !g->top_vals) s = oom();
    }
    if (s) {
        kiln_generator_free(g);
        return s;
    }
    *out = g;
    return KILN_OK;
}

const kiln_generation_info *kiln_generator_info(const kiln_generator *g) { return &g->info; }
kiln_device_kind kiln_generator_device(const kiln_generator *g) { return kiln_session_device(g->session); }
int64_t kiln_generator_position(const kiln_generator *g) { return g->pos; }

void kiln_generator_reset(kiln_generator *g) {
    if (!g) return;
    kiln_tensor_map_free(g->state);
    g->state = NULL;
    g->pos = 0;
    g->lost = 0;
    g->n_enc = 0;
}

static kiln_status check_ids(const kiln_generator *g, const int32_t *ids, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= g->info.vocab_size)
            return kiln_error(KILN_ERR_INVALID, "%s: %s token %lld is %d, outside the vocabulary (0..%lld)",
                              g->model->name, what, (long long)i, ids[i], (long long)g->info.vocab_size - 1);
    return KILN_OK;
}

kiln_status kiln_generator_set_encoder_input(kiln_generator *g, const int32_t *ids, int64_t n) {
    if (!g->info.encoder_decoder)
        return kiln_error(KILN_ERR_INVALID, "%s: not an encoder-decoder model; it has no encoder input", g->model->name);
    if (n < 1 || !ids) return kiln_error(KILN_ERR_INVALID, "%s: the encoder input is empty", g->model->name);
    KILN_TRY(check_ids(g, ids, n, "encoder input"));
    int64_t *e = realloc(g->enc_ids, (size_t)n * sizeof *e);
    if (!e) return oom();
    g->enc_ids = e;
    for (int64_t i = 0; i < n; i++) e[i] = ids[i];
    g->n_enc = n;
    return KILN_OK;
}

static kiln_status put_view(kiln_tensor_map *m, const char *name, const kiln_tensor *t) {
    kiln_tensor v = *t;
    v.owns_data = 0;
    return kiln_tensor_map_put(m, name, v);
}

/* The step's inputs: token ids, the encoder input, and each past.X as a
 * view of the previous step's present.X (or of an empty cache). A device
 * step after the first keeps the cache itself: no past.X then. */
static kiln_status build_inputs(kiln_generator *g, int64_t n, int carried) {
    int64_t shape[2] = {1, n};
    kiln_tensor ids = kiln_tensor_view(KILN_I64, 2, shape, g->ids);
    KILN_TRY(kiln_tensor_map_put(g->inputs, g->token_input, ids));
    if (g->info.encoder_decoder) {
        int64_t es[2] = {1, g->n_enc};
        KILN_TRY(kiln_tensor_map_put(g->inputs, "input_ids", kiln_tensor_view(KILN_I64, 2, es, g->enc_ids)));
    }
    for (int c = 0; c < g->ncache && !carried; c++) {
        const kiln_tensor *t = g->state ? kiln_tensor_map_get(g->state, g->present_names[c])
                                        : kiln_tensor_map_get(g->empty, g->past_names[c]);
        if (!t) return kiln_error(KILN_ERR_INTERNAL, "%s: the last step returned no '%s'", g->model->name, g->present_names[c]);
        KILN_TRY(put_view(g->inputs, g->past_names[c], t));
    }
    return KILN_OK;
}

/* Copies the last position's logits out of a [1, n, vocab] output. */
static kiln_status take_logits(kiln_generator *g, const kiln_tensor_map *outs, int64_t n) {
    const kiln_tensor *l = kiln_tensor_map_get(outs, "logits");
    int64_t v = g->info.vocab_size;
    if (!l || l->rank != 3 || l->shape[0] != 1 || l->shape[1] != n || l->shape[2] != v) {
        char buf[128] = "nothing";
        if (l) kiln_tensor_shape_str(l, buf, sizeof buf);
        return kiln_error(KILN_ERR_INTERNAL, "%s: step of %lld token(s) returned logits %s, expected [1, %lld, %lld]",
                          g->model->name, (long long)n, buf, (long long)n, (long long)v);
    }
    size_t first = (size_t)((n - 1) * v);
    if (l->dtype == KILN_F32) memcpy(g->logits, (const float *)l->data + first, (size_t)v * sizeof(float));
    else
        for (int64_t i = 0; i < v; i++) g->logits[i] = (float)kiln_load_f64(l->data, l->dtype, first + (size_t)i);
    return KILN_OK;
}

/* A step on the device: the cache stays there; the last logits row (topk
 * 0) or its top-k comes back. */
static kiln_status feed_device(kiln_generator *g, int64_t n, int topk, int *count) {
    KILN_TRY(build_inputs(g, n, g->pos > 0));
    kiln_step_io io = {
        .ncarry = g->ncache,
        .carry_in = (const char *const *)g->past_names,
        .carry_out = (const char *const *)g->present_names,
        .reset = g->pos == 0,
        .row_output = "logits",
        .row_len = g->info.vocab_size,
        .topk = topk,
        .row = g->logits,
        .ids = g->top_ids,
        .vals = g->top_vals,
    };
    if (g->lost)
        return kiln_error(KILN_ERR_DEVICE, "%s: an earlier step failed and the device's cache is gone; reset the generator",
                          g->model->name);
    kiln_status s = kiln_session_step(g->session, g->inputs, &io);
    if (s) {
        g->lost = g->pos > 0;
        return kiln_error_wrap(s, "%s: step at position %lld", g->model->name, (long long)g->pos);
    }
    g->pos += n;
    *count = io.count;
    return KILN_OK;
}

static kiln_status check_feed(kiln_generator *g, const int32_t *tokens, int64_t n) {
    if (!g || !tokens || n < 1) return kiln_error(KILN_ERR_INVALID, "kiln_generator_feed: no tokens");
    const char *name = g->model->name;
    if (g->info.encoder_decoder && g->n_enc < 1)
        return kiln_error(KILN_ERR_INVALID, "%s: set the encoder input before feeding decoder tokens", name);
    if (g->info.context > 0 && n > g->info.context - g->pos)
        return kiln_error(KILN_ERR_LIMIT, "%s: %lld token(s) after %lld would exceed the model's context of %lld (%s)",
                          name, (long long)n, (long long)g->pos, (long long)g->info.context,
                          g->info.context_key ? g->info.context_key : "config");
    KILN_TRY(check_ids(g, tokens, n, "input"));
    if (n > g->ids_cap) {
        int64_t *p = realloc(g->ids, (size_t)n * sizeof *p);
        if (!p) return oom();
        g->ids = p;
        g->ids_cap = n;
    }
    for (int64_t i = 0; i < n; i++) g->ids[i] = tokens[i];
    return KILN_OK;
}

int kiln_generator_device_topk(const kiln_generator *g) { return g ? g->device_topk : 0; }

kiln_status kiln_generator_feed_topk(kiln_generator *g, const int32_t *tokens, int64_t n, int k, const int32_t **ids,
                                     const float **vals, int *count) {
    if (!g || k < 1 || k > g->device_topk)
        return kiln_error(KILN_ERR_UNSUPPORTED, "generate: this device cannot pick the top %d tokens", k);
    KILN_TRY(check_feed(g, tokens, n));
    KILN_TRY(feed_device(g, n, k, count));
    *ids = g->top_ids;
    *vals = g->top_vals;
    return KILN_OK;
}

kiln_status kiln_generator_feed(kiln_generator *g, const int32_t *tokens, int64_t n, const float **logits) {
    KILN_TRY(check_feed(g, tokens, n));
    const char *name = g->model->name;
    if (g->device_topk > 0) {
        int count = 0;
        KILN_TRY(feed_device(g, n, 0, &count));
        *logits = g->logits;
        return KILN_OK;
    }
    KILN_TRY(build_inputs(g, n, 0));
    kiln_tensor_map *outs = NULL;
    kiln_status s = kiln_session_run(g->session, g->inputs, &outs);
    if (s) return kiln_error_wrap(s, "%s: step at position %lld", name, (long long)g->pos);
    s = take_logits(g, outs, n);
    for (int c = 0; !s && c < g->ncache; c++)
        if (!kiln_tensor_map_get(outs, g->present_names[c]))
            s = kiln_error(KILN_ERR_INTERNAL, "%s: the step returned no '%s'", name, g->present_names[c]);
    if (s) {
        kiln_tensor_map_free(outs);
        return s;
    }
    /* the new caches replace the old ones; inputs still viewing the old
     * ones are rebuilt before the next run */
    kiln_tensor_map_free(g->state);
    g->state = outs;
    g->pos += n;
    *logits = g->logits;
    return KILN_OK;
}

void kiln_generator_free(kiln_generator *g) {
    if (!g) return;
    kiln_session_free(g->session);
    kiln_tensor_map_free(g->inputs);
    kiln_tensor_map_free(g->state);
    kiln_tensor_map_free(g->empty);
    for (int c = 0; c < g->ncache; c++) {
        free(g->past_names[c]);
        free(g->present_names[c]);
    }
    free(g->past_names);
    free(g->present_names);
    free(g->ids);
    free(g->enc_ids);
    free(g->logits);
    free(g->top_ids);
    free(g->top_vals);
    kiln_graph_free(g->graph);
    free(g);
}
