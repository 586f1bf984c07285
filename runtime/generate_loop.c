/* The generation loop: prefill, then sample and decode one token at a
 * time until an end token, the length limit or the callback says stop. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "kiln/generate.h"
#include "runtime/generate_internal.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct id_list {
    int32_t *ids;
    int64_t n, cap;
} id_list;

static kiln_status push(id_list *l, int32_t id) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *p = realloc(l->ids, (size_t)cap * sizeof *p);
        if (!p) return kiln_error(KILN_ERR_NOMEM, "out of memory");
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return KILN_OK;
}

/* What a step gave: the whole logits row, or (on a device that picks
 * tokens) the top k of it. */
typedef struct picked {
    const float *logits;
    const int32_t *ids;
    const float *vals;
    int count;
} picked;

/* The k for device picks: 1 for greedy, top_k when sampling is limited to
 * it (the sampler then sees exactly its candidates), else 0: full rows. */
static int device_k(const kiln_generator *g, const kiln_sampling *s) {
    int max = kiln_generator_device_topk(g);
    if (max <= 0) return 0;
    if (s->temperature <= 0) return 1;
    return s->top_k > 0 && s->top_k <= max ? s->top_k : 0;
}

static kiln_status feed(kiln_generator *g, const int32_t *tokens, int64_t n, int k, picked *pk) {
    pk->logits = NULL;
    pk->ids = NULL;
    pk->vals = NULL;
    pk->count = 0;
    if (k > 0) return kiln_generator_feed_topk(g, tokens, n, k, &pk->ids, &pk->vals, &pk->count);
    return kiln_generator_feed(g, tokens, n, &pk->logits);
}

/* The sampler over the candidates: the same draw as over the whole row,
 * since top-k keeps exactly these (in the same order) and renormalises. */
static kiln_status pick(kiln_sampler *sp, const picked *pk, int64_t vocab, int32_t *tok) {
    if (!pk->ids) return kiln_sampler_sample(sp, pk->logits, vocab, tok);
    if (pk->count == 0) { /* every logit NaN: argmax's answer, the sampler's error */
        static const float nan_row[1] = {NAN};
        *tok = 0;
        return kiln_sampler_sample(sp, nan_row, 1, tok);
    }
    int32_t i = 0;
    KILN_TRY(kiln_sampler_sample(sp, pk->vals, pk->count, &i));
    *tok = pk->ids[i];
    return KILN_OK;
}

static int is_stop(const kiln_generate_params *p, int32_t id) {
    for (int i = 0; i < p->nstop; i++)
        if (p->stop_ids[i] == id) return 1;
    return 0;
}

kiln_status kiln_generate(kiln_generator *g, const int32_t *prompt, int64_t n_prompt, const kiln_generate_params *p,
                          int32_t **out_ids, int64_t *n_out, kiln_generate_stats *stats) {
    if (out_ids) *out_ids = NULL;
    if (n_out) *n_out = 0;
    kiln_generate_stats st = {0};
    if (stats) *stats = st;
    if (!g || !p) return kiln_error(KILN_ERR_INVALID, "kiln_generate: no generator or parameters");
    if (p->max_new_tokens < 1)
        return kiln_error(KILN_ERR_INVALID, "generate: the number of new tokens must be >= 1, got %lld",
                          (long long)p->max_new_tokens);
    if (!prompt || n_prompt < 1) return kiln_error(KILN_ERR_INVALID, "generate: the prompt is empty");
    if (p->nstop > 0 && !p->stop_ids) return kiln_error(KILN_ERR_INVALID, "generate: stop ids missing");
    const kiln_generation_info *info = kiln_generator_info(g);
    kiln_generator_reset(g);

    kiln_sampler *sp = NULL;
    KILN_TRY(kiln_sampler_new(&p->sampling, info->vocab_size, &sp));
    id_list out = {0};
    picked pk = {0};
    int k = device_k(g, &p->sampling);
    double t0 = now_seconds();
    kiln_status s = KILN_OK;
    if (info->encoder_decoder) {
        int32_t start = info->decoder_start_id;
        if (start < 0)
            s = kiln_error(KILN_ERR_NOT_FOUND, "generate: the model's config has no decoder_start_token_id");
        if (!s) s = kiln_generator_set_encoder_input(g, prompt, n_prompt);
        if (!s) s = feed(g, &start, 1, k, &pk);
    } else {
        s = feed(g, prompt, n_prompt, k, &pk);
    }
    st.prompt_tokens = n_prompt;
    /* the last token is sampled but never fed, so a full context still
     * yields one more token (as run.c does) */
    int64_t limit = p->max_new_tokens;
    if (info->context > 0 && limit > info->context - kiln_generator_position(g) + 1)
        limit = info->context - kiln_generator_position(g) + 1;
    double t1 = t0;
    for (int first = 1; !s && out.n < limit; first = 0) {
        if (!first) {
            s = feed(g, &out.ids[out.n - 1], 1, k, &pk);
            if (s) break;
            st.decode_steps++;
        }
        int32_t tok = 0;
        s = pick(sp, &pk, info->vocab_size, &tok);
        if (!s) s = push(&out, tok);
        if (first) t1 = now_seconds();
        if (s) break;
        int stop = is_stop(p, tok);
        if (p->on_token && p->on_token(p->user, tok)) break;
        if (stop) {
            st.stopped_at_end = 1;
            break;
        }
    }
    double t2 = now_seconds();
    kiln_sampler_free(sp);
    st.new_tokens = out.n;
    st.prefill_seconds = t1 - t0;
    st.decode_seconds = out.n > 0 ? t2 - t1 : 0;
    if (stats) *stats = st;
    if (s || !out_ids) {
        free(out.ids);
        if (!s && n_out) *n_out = st.new_tokens;
        return s;
    }
    *out_ids = out.ids;
    if (n_out) *n_out = out.n;
    return KILN_OK;
}
