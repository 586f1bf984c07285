/* kiln generate: text (or token ids) from a causal or encoder-decoder
 * language model, streamed as it is produced. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kiln/generate.h"
#include "model_args.h"

#define DEFAULT_LENGTH 256
#define UNSET LONG_MIN /* an integer option not given */

/* "1,2,3" or "1 2 3" into a malloc'd array. */
static int parse_ids(const char *text, int32_t **out, int64_t *n) {
    size_t cap = strlen(text) / 2 + 1;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return fail("out of memory");
    int64_t k = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',' && *end != ' ' && *end != '\t')) {
            free(ids);
            return fail("generate: --prompt-ids expects comma-separated token ids >= 0, got '%s'", text);
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    if (k == 0) {
        free(ids);
        return fail("generate: --prompt-ids is empty");
    }
    *out = ids;
    *n = k;
    return 0;
}

/* What the token callback needs. */
typedef struct printer {
    const kiln_tokenizer *tok; /* NULL in --ids mode */
    const int32_t *stop_ids;
    int nstop;
    int32_t prev;
    int64_t printed;
    kiln_status error;
} printer;

static int is_stop(const printer *p, int32_t id) {
    for (int i = 0; i < p->nstop; i++)
        if (p->stop_ids[i] == id) return 1;
    return 0;
}

/* Writes token's text after prev, as run.c does: the bytes as they come,
 * except that a llama byte token (a one-byte piece) whose byte is neither
 * printable ASCII nor white space is dropped, as run.c drops it (so the
 * bytes of a character spelled with byte tokens do not print). */
static kiln_status print_piece(const kiln_tokenizer *tok, int32_t prev, int32_t token) {
    const char *bytes;
    size_t len;
    KILN_TRY(kiln_tokenizer_decode(tok, prev, token, &bytes, &len));
    if (len == 1 && kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_LLAMA) {
        unsigned char b = (unsigned char)bytes[0];
        if (!((b >= 0x20 && b < 0x7F) || (b >= '\t' && b <= '\r'))) return KILN_OK;
    }
    fwrite(bytes, 1, len, stdout);
    return KILN_OK;
}

static int on_token(void *user, int32_t token) {
    printer *p = user;
    if (!p->tok) {
        printf("%s%d", p->printed++ ? " " : "", token);
    } else if (!is_stop(p, token)) { /* an end token ends the text; it is not part of it */
        p->error = print_piece(p->tok, p->prev, token);
        if (p->error) return 1;
    }
    p->prev = token;
    fflush(stdout);
    return 0;
}

typedef struct gen_args {
    const char *prompt, *prompt_ids, *tokenizer, *device;
    long length, threads, top_k, seed;
    double temperature, top_p;
    int greedy, ids, no_cache;
    model_args ma;
} gen_args;

/* --greedy, or the sampling flags (a missing temperature is 1). */
static int sampling_from_args(const gen_args *a, kiln_sampling *s) {
    int sampling_flags = !isnan(a->temperature) || a->top_k != UNSET || !isnan(a->top_p) || a->seed != UNSET;
    if (a->greedy && sampling_flags)
        return fail("generate: --greedy cannot be combined with --temperature, --top-k, --top-p or --seed");
    *s = KILN_SAMPLING_GREEDY;
    if (!sampling_flags) return 0;
    if (!isnan(a->temperature) && !(a->temperature >= 0 && a->temperature < INFINITY))
        return fail("generate: --temperature must be a number >= 0");
    if (!isnan(a->top_p) && !(a->top_p > 0 && a->top_p <= 1)) return fail("generate: --top-p must be in (0, 1]");
    if ((a->top_k != UNSET && a->top_k < 0) || (a->seed != UNSET && a->seed < 0))
        return fail("generate: --top-k and --seed must be >= 0");
    s->temperature = isnan(a->temperature) ? 1.0 : a->temperature;
    s->top_k = a->top_k == UNSET ? 0 : (int)(a->top_k > INT32_MAX ? INT32_MAX : a->top_k);
    s->top_p = isnan(a->top_p) ? 1.0 : a->top_p;
    s->seed = a->seed == UNSET ? 0 : (uint64_t)a->seed;
    return 0;
}

static void print_stats(const kiln_model *m, const kiln_generator *g, const kiln_generate_stats *st) {
    double pre = st->prefill_seconds, dec = st->decode_seconds;
    fprintf(stderr, "kiln: %s on %s: prefill %lld tokens in %.3f s (%.1f tok/s), decode %lld tokens in %.3f s (%.1f tok/s)\n",
            m->name, kiln_device_name(kiln_generator_device(g)), (long long)st->prompt_tokens, pre,
            pre > 0 ? (double)st->prompt_tokens / pre : 0.0, (long long)st->decode_steps, dec,
            dec > 0 ? (double)st->decode_steps / dec : 0.0);
}

/* --device auto means the best device that can run the model: when the
 * one it picked refuses the graph (a backend still growing), the reference
 * interpreter takes over, with a note. */
static kiln_status open_generator(const gen_args *a, const kiln_model *m, kiln_session_options *so,
                                  kiln_generator **g) {
    kiln_status s = kiln_generator_new(m, so, g);
    if (!s || strcmp(a->device, "auto") != 0 || so->device.kind == KILN_DEVICE_REF) return s;
    kiln_device_kind picked = so->device.kind;
    so->device.kind = KILN_DEVICE_REF;
    kiln_status r = kiln_generator_new(m, so, g);
    if (r) {
        kiln_status_free(r);
        return s;
    }
    fprintf(stderr, "kiln: note: %s cannot run %s yet (%s); using ref\n", kiln_device_name(picked), m->name,
            kiln_status_message(s));
    kiln_status_free(s);
    return KILN_OK;
}

/* The prompt as token ids: --prompt-ids as given, or --prompt encoded (BOS
 * first when the tokenizer's convention wants it, or when the prompt is
 * empty and there is a BOS to start from). */
static int prompt_tokens(const gen_args *a, const kiln_tokenizer *tok, int add_bos, int32_t **ids, int64_t *n) {
    if (a->prompt_ids) return parse_ids(a->prompt_ids, ids, n);
    const char *text = a->prompt ? a->prompt : "";
    int bos = kiln_tokenizer_bos(tok) >= 0 && (add_bos || !*text);
    size_t len = 0;
    kiln_status s = kiln_tokenizer_encode(tok, text, strlen(text), bos, 0, ids, &len);
    if (s) return fail_status(s);
    if (len == 0) return fail("generate: the prompt is empty and the tokenizer has no BOS token to start from");
    *n = (int64_t)len;
    return 0;
}

static int generate(const gen_args *a, const kiln_model *m) {
    kiln_session_options so = {{KILN_DEVICE_REF, -1}, (int)a->threads, 0, a->no_cache, NULL};
    kiln_sampling sampling;
    if (sampling_from_args(a, &sampling)) return 1;
    kiln_status s = kiln_device_parse(a->device, &so.device);
    if (s) return fail_status(s);

    /* the tokenizer: needed unless ids go in and come out */
    kiln_tokenizer *tok = NULL;
    int add_bos = 0;
    if (!a->ids || !a->prompt_ids) {
        s = kiln_tokenizer_for_model(m, a->tokenizer, &tok, &add_bos);
        if (s) {
            int missing = kiln_status_code(s) == KILN_ERR_NOT_FOUND && !a->tokenizer;
            fail("%s%s", kiln_status_message(s),
                 missing ? "; give --tokenizer FILE, or --prompt-ids with --ids to work in token ids" : "");
            kiln_status_free(s);
            return 1;
        }
        if (kiln_tokenizer_get_kind(tok) == KILN_TOKENIZER_BYTES)
            fprintf(stderr, "kiln: %s has no tokenizer: text is read and written as bytes (a byte-level model)\n",
                    m->path ? m->path : m->name);
    }
    kiln_generator *g = NULL;
    int32_t stop[16];
    printer pr = {a->ids ? NULL : tok, stop, 0, -1, 0, KILN_OK};
    int32_t *prompt = NULL;
    int64_t n_prompt = 0;
    int rc = 1;
    if (prompt_tokens(a, tok, add_bos, &prompt, &n_prompt)) goto done;
    s = open_generator(a, m, &so, &g);
    if (s) goto done;
    const kiln_generation_info *info = kiln_generator_info(g);

    /* -n counts the text's tokens, the prompt's included, as run.c's -n
     * does; a leading BOS is not part of the text (whether kiln added it or
     * --prompt-ids has it). The decoder of an encoder-decoder model starts
     * empty, so there -n counts new tokens. */
    int32_t bos = tok ? kiln_tokenizer_bos(tok) : info->bos_id;
    int lead_bos = bos >= 0 && prompt[0] == bos;
    int64_t shown = info->encoder_decoder ? 0 : n_prompt - lead_bos;
    int64_t length = a->length == UNSET ? DEFAULT_LENGTH : a->length;
    if (!info->encoder_decoder && info->context > 0 && n_prompt > info->context) {
        fail("generate: the prompt is %lld tokens, longer than %s's context of %lld (%s)", (long long)n_prompt, m->name,
             (long long)info->context, info->context_key);
        goto done;
    }
    if (!info->encoder_decoder && info->context > 0 && length > info->context) length = info->context;
    if (a->length != UNSET && length <= shown) {
        fail("generate: -n %ld leaves no room for new tokens after a prompt of %lld tokens", a->length, (long long)shown);
        goto done;
    }
    pr.nstop = kiln_generation_stop_ids(m, info, tok, stop, 16);
    if (pr.tok && !info->encoder_decoder) {
        /* the prompt first, token by token like the continuation */
        for (int64_t i = 0; i < n_prompt && !s; i++) {
            if (!(i == 0 && lead_bos)) s = print_piece(tok, pr.prev, prompt[i]);
            pr.prev = prompt[i];
        }
        fflush(stdout);
        if (s) goto done;
    }
    kiln_generate_params p = {length - shown, sampling, stop, pr.nstop, on_token, &pr};
    kiln_generate_stats st;
    s = kiln_generate(g, prompt, n_prompt, &p, NULL, NULL, &st);
    if (!s && pr.error) s = pr.error, pr.error = KILN_OK;
    if (s) goto done;
    putchar('\n');
    fflush(stdout);
    print_stats(m, g, &st);
    rc = 0;
done:
    if (s) {
        fflush(stdout);
        fail_status(s);
    }
    kiln_status_free(pr.error);
    kiln_generator_free(g);
    kiln_tokenizer_free(tok);
    free(prompt);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    gen_args a = {0};
    a.device = "auto";
    a.temperature = a.top_p = NAN;
    a.top_k = a.seed = a.length = UNSET;
    const opt_spec opts[] = {
        {"prompt", 'p', OPT_STRING, &a.prompt, "TEXT", "text to continue (default: empty, i.e. start from BOS)"},
        {"prompt-ids", 0, OPT_STRING, &a.prompt_ids, "IDS", "the prompt as token ids, e.g. 1,403,407 (no BOS is added)"},
        {"length", 'n', OPT_INT, &a.length, "N", "stop when the text holds N tokens, the prompt's included (default 256)"},
        {"greedy", 0, OPT_FLAG, &a.greedy, NULL, "always take the most probable token (the default)"},
        {"temperature", 0, OPT_DOUBLE, &a.temperature, "T", "sample: divide logits by T (0: greedy; default 1 when sampling)"},
        {"top-k", 0, OPT_INT, &a.top_k, "K", "sample among the K most probable tokens only"},
        {"top-p", 0, OPT_DOUBLE, &a.top_p, "P", "sample among the fewest most probable tokens holding mass P"},
        {"seed", 0, OPT_INT, &a.seed, "S", "random seed for sampling (default 0): the same seed gives the same text"},
        {"ids", 0, OPT_FLAG, &a.ids, NULL, "print the new token ids (space separated) instead of text"},
        {"tokenizer", 0, OPT_STRING, &a.tokenizer, "FILE", "tokenizer to use (llama2.c .bin, .gguf, vocab.json or a folder)"},
        {"device", 'd', OPT_STRING, &a.device, "DEV", "auto (default), ref, cpu, vulkan, vulkan:N"},
        {"threads", 't', OPT_INT, &a.threads, "N", "CPU worker threads (default: all cores)"},
        {"no-cache", 0, OPT_FLAG, &a.no_cache, NULL, "compile afresh: neither read nor write the kernel and shader caches"},
        MODEL_ARGS_OPTS(a.ma),
        {0},
    };
    const command_spec spec = {
        "generate", "MODEL [--prompt TEXT | --prompt-ids IDS] [-n N] [sampling options] [options]",
        "Continue a prompt with a language model, printing the prompt and then each new token as it is made.",
        "MODEL is a llama2.c checkpoint (.bin, its tokenizer tok<vocab>.bin or tokenizer.bin beside it),\n"
        "a GGUF llama file (.gguf, tokenizer inside), a Hugging Face folder (GPT-2 tokenizer files\n"
        "vocab.json + merges.txt or encoder.json + vocab.bpe in it) or a .kiln description.\n\n"
        "Decoding is greedy unless a sampling option is given; then tokens are drawn with temperature,\n"
        "top-k and top-p applied in that order, from a portable xorshift64* stream seeded by --seed.\n"
        "Generation stops at the model's end token (for llama2.c checkpoints also at BOS, like run.c)\n"
        "or when the text holds N tokens (-n counts like llama2.c's run.c: prompt tokens included, a\n"
        "leading BOS not; for encoder-decoder models such as T5 it counts the decoder's new tokens).\n"
        "-n beyond the model's context stops at the context. With --prompt-ids and --ids no tokenizer\n"
        "is needed. Prefill and decode speeds go to stderr.\n\n"
        "example:\n  kiln generate examples/stories260K/stories260K.bin --prompt \"Once upon a time\" -n 200",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (a.prompt && a.prompt_ids) return fail("generate: give --prompt or --prompt-ids, not both");
    if (a.length != UNSET && a.length < 1) return fail("generate: -n must be >= 1");
    kiln_model *m = load_model(pos[0], &a.ma);
    if (!m) return 1;
    int rc = generate(&a, m);
    kiln_model_free(m);
    return rc;
}
