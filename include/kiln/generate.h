/* Text generation: token sampling, a model compiled once in CACHED mode and
 * run step by step over a KV cache, and the generation loop.
 *
 *   kiln_generator_new   compiles the model's description in CACHED mode
 *                        (`past` is a symbol) and creates one session for
 *                        it: weights are bound once, nothing is recompiled
 *                        per token.
 *   kiln_generator_feed  runs some tokens (a prompt: the prefill; one token:
 *                        a decode step) at positions past .. past+n-1 and
 *                        returns the logits of the last one.
 *   kiln_generate        prompt -> prefill -> sample -> decode ... until an
 *                        end token or the length limit, streaming tokens to
 *                        a callback.
 *
 * The KV cache is generator state: each step's present.* outputs become the
 * next step's past.* inputs without being copied. It lives on the host as
 * long as sessions exchange host tensors; a backend that keeps the cache
 * on its device plugs in behind kiln_generator_feed without changing this
 * API. */
#ifndef KILN_GENERATE_H
#define KILN_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "session.h"
#include "status.h"
#include "tokenizer.h"

/* ---- random numbers (runtime/sample.c) ----
 * xorshift64* (Marsaglia's xorshift with Vigna's multiplier): state
 * x ^= x >> 12; x ^= x << 25; x ^= x >> 27; output the top 32 bits of
 * x * 0x2545F4914F6CDD1D. Pure 64-bit integer arithmetic, so a seed gives
 * the same stream on every machine. Seed 0 (a fixed point of xorshift) is
 * replaced by 0x9E3779B97F4A7C15. This is the generator llama2.c's run.c
 * uses, seeded the same way for seeds other than 0. */
typedef struct kiln_rng {
    uint64_t state;
} kiln_rng;

void kiln_rng_seed(kiln_rng *r, uint64_t seed);
uint32_t kiln_rng_u32(kiln_rng *r);
/* (u32 >> 8) / 2^24: uniform in [0, 1) with 24 bits, exact in float. */
float kiln_rng_f32(kiln_rng *r);

/* ---- sampling (runtime/sample.c) ----
 * Order: temperature, then top-k, then top-p over the renormalised top-k
 * probabilities, then one multinomial draw: u = kiln_rng_f32, and the first
 * candidate (most probable first, ties by lower id) whose cumulative
 * probability exceeds u. Probabilities are computed in double. */
typedef struct kiln_sampling {
    double temperature; /* <= 0: greedy (argmax; the other fields are ignored) */
    int top_k;          /* keep the k most probable tokens; 0: all */
    double top_p;       /* keep the smallest most-probable set with mass >= p; >= 1: all */
    uint64_t seed;
} kiln_sampling;

/* Greedy decoding: temperature 0. */
#define KILN_SAMPLING_GREEDY ((kiln_sampling){0.0, 0, 1.0, 0})

/* Index of the largest logit; the first one on ties; NaN never wins
 * (0 when every logit is NaN). n >= 1. */
int32_t kiln_sample_argmax(const float *logits, int64_t n);

typedef struct kiln_candidate {
    int32_t id;
    double p; /* renormalised over the candidates */
} kiln_candidate;

/* The tokens a draw may pick under `s` (temperature > 0) and their
 * probabilities, most probable first (ties: lower id first); tokens whose
 * probability underflows to 0 are left out. cand has room for n entries.
 * Fails on bad parameters (top_k < 0, top_p <= 0 or NaN, temperature NaN)
 * and when no logit is finite. */
kiln_status kiln_sample_candidates(const float *logits, int64_t n, const kiln_sampling *s, kiln_candidate *cand,
                                   int64_t *count) KILN_NODISCARD;

/* A sampler owns its random stream and scratch space (no allocation per
 * token). */
typedef struct kiln_sampler kiln_sampler;

kiln_status kiln_sampler_new(const kiln_sampling *s, int64_t vocab_size, kiln_sampler **out) KILN_NODISCARD;
/* Picks a token from logits[0..n) (n <= the vocab_size given to new). */
kiln_status kiln_sampler_sample(kiln_sampler *sp, const float *logits, int64_t n, int32_t *token) KILN_NODISCARD;
void kiln_sampler_free(kiln_sampler *sp);

/* ---- the model as a generator (runtime/generate.c) ---- */

/* What generation needs to know about a model, from its graph and config. */
typedef struct kiln_generation_info {
    int encoder_decoder;       /* T5-like: the prompt feeds input_ids, tokens feed decoder_input_ids */
    int64_t vocab_size;        /* width of the logits */
    int64_t context;           /* positions the model supports; -1 when unbounded (relative positions) */
    const char *context_key;   /* the config entry that says so ("max_position_embeddings"), or NULL */
    int32_t bos_id, eos_id;    /* from the config; -1 when absent */
    int32_t decoder_start_id;  /* encoder-decoder: the first decoder token (-1 when absent) */
} kiln_generation_info;

typedef struct kiln_generator kiln_generator;

/* Compiles m in CACHED mode and opens a session on opt's device (NULL:
 * ref). The model needs an i64 input `input_ids` (and `decoder_input_ids`
 * for encoder-decoder models) and an output `logits` [batch, seq, vocab];
 * generation runs with batch 1. m must outlive the generator. */
kiln_status kiln_generator_new(const kiln_model *m, const kiln_session_options *opt,
                               kiln_generator **out) KILN_NODISCARD;
const kiln_generation_info *kiln_generator_info(const kiln_generator *g);
kiln_device_kind kiln_generator_device(const kiln_generator *g);

/* Encoder-decoder models: the encoder's input for the following steps. */
kiln_status kiln_generator_set_encoder_input(kiln_generator *g, const int32_t *ids, int64_t n) KILN_NODISCARD;

/* Runs tokens[0..n) at the next n positions (attending to everything fed
 * since the last reset) and points *logits at the last token's logits
 * (vocab_size floats, valid until the next call). Fails, changing nothing,
 * when a token is outside the vocabulary or the context would overflow. */
kiln_status kiln_generator_feed(kiln_generator *g, const int32_t *tokens, int64_t n,
                                const float **logits) KILN_NODISCARD;
/* Tokens fed since the last reset (the `past` of the next step). */
int64_t kiln_generator_position(const kiln_generator *g);
/* Forgets the cache (and the encoder input). */
void kiln_generator_reset(kiln_generator *g);
void kiln_generator_free(kiln_generator *g);

/* ---- the generation loop (runtime/generate_loop.c) ---- */

/* Called with each new token as soon as it is chosen; nonzero stops. */
typedef int (*kiln_token_fn)(void *user, int32_t token);

typedef struct kiln_generate_params {
    int64_t max_new_tokens;    /* stop after this many new tokens (> 0) */
    kiln_sampling sampling;
    const int32_t *stop_ids;   /* end tokens: generation stops after emitting one */
    int nstop;
    kiln_token_fn on_token;    /* may be NULL */
    void *user;
} kiln_generate_params;

typedef struct kiln_generate_stats {
    int64_t prompt_tokens;     /* fed in the prefill (decoder-only) or to the encoder */
    int64_t new_tokens;        /* emitted, an end token included */
    int64_t decode_steps;      /* one-token forward passes */
    double prefill_seconds;    /* the prefill pass and the first token's sampling */
    double decode_seconds;     /* everything after */
    int stopped_at_end;        /* an end token was emitted */
} kiln_generate_stats;

/* Resets g, then: decoder-only models prefill `prompt` (n_prompt >= 1) and
 * sample; encoder-decoder models take `prompt` as the encoder input and
 * start the decoder at decoder_start_id. New tokens go to the callback and,
 * when out_ids is not NULL, into a malloc'd array (*out_ids, *n_out). A
 * length limit beyond the model's context stops at the context. */
kiln_status kiln_generate(kiln_generator *g, const int32_t *prompt, int64_t n_prompt, const kiln_generate_params *p,
                          int32_t **out_ids, int64_t *n_out, kiln_generate_stats *stats) KILN_NODISCARD;

/* ---- tokenizers for models (runtime/generate_tokenizer.c) ---- */

/* The tokenizer that goes with m, or the one at `path` when given:
 *   a llama2.c .bin   tok<vocab>.bin or tokenizer.bin in its folder
 *   a .gguf           its tokenizer.ggml.* metadata ("llama" or "gpt2")
 *   a folder          vocab.json + merges.txt, or encoder.json + vocab.bpe
 * `path` may be a llama2.c tokenizer .bin, a .gguf, such a folder, or a
 * vocab.json / encoder.json with its merges file beside it. *add_bos says
 * whether prompts conventionally start with BOS (llama: yes, GPT-2: no,
 * GGUF: tokenizer.ggml.add_bos_token when present). KILN_ERR_NOT_FOUND
 * when none is found. */
kiln_status kiln_tokenizer_for_model(const kiln_model *m, const char *path, kiln_tokenizer **out,
                                     int *add_bos) KILN_NODISCARD;

/* End tokens for m: the config's eos_token_id (a number or a list), the
 * tokenizer's EOS (tok may be NULL) and, for llama2.c checkpoints, BOS,
 * which is where run.c stops (its stories separate texts with BOS).
 * Writes up to cap distinct ids and returns how many. */
int kiln_generation_stop_ids(const kiln_model *m, const kiln_generation_info *info, const kiln_tokenizer *tok,
                             int32_t *ids, int cap);

#endif
