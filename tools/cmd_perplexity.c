/* kiln perplexity: how well a language model predicts a text, and (with
 * --compare) how far its logits are from another model's on the same
 * tokens: the accuracy cost of a quantized model against its f32 source. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kiln/generate.h"
#include "model_args.h"

typedef struct ppl_args {
    const char *text, *compare, *tokenizer, *device;
    long length, threads;
    model_args ma;
} ppl_args;

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* -log softmax(logits)[target], in double */
static double nll(const float *logits, int64_t n, int32_t target) {
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int64_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    return mx + log(sum) - (double)logits[target];
}

typedef struct stats {
    double nll, ref_nll, max_abs, sum_sq;
    int64_t scored, compared, agree;
} stats;

static kiln_status run(const ppl_args *a, const kiln_model *m, const kiln_model *ref, const int32_t *ids, int64_t n,
                       const kiln_session_options *so, stats *st, int64_t *used) {
    kiln_generator *g = NULL, *gr = NULL;
    KILN_TRY(kiln_generator_new(m, so, &g));
    kiln_status s = ref ? kiln_generator_new(ref, so, &gr) : KILN_OK;
    const kiln_generation_info *info = kiln_generator_info(g);
    int64_t vocab = info->vocab_size;
    if (!s && gr && kiln_generator_info(gr)->vocab_size != vocab)
        s = kiln_error(KILN_ERR_SHAPE, "%s has %lld logits, %s has %lld: they cannot be compared", m->name, (long long)vocab,
                       ref->name, (long long)kiln_generator_info(gr)->vocab_size);
    if (info->context > 0 && n > info->context) n = info->context;
    if (a->length > 0 && n > a->length) n = a->length;
    *used = n;
    memset(st, 0, sizeof *st);
    for (int64_t i = 0; i < n && !s; i++) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            s = kiln_error(KILN_ERR_INVALID, "token %lld (id %d) is outside %s's vocabulary of %lld", (long long)i, ids[i],
                           m->name, (long long)vocab);
            break;
        }
        const float *lg = NULL, *lr = NULL;
        s = kiln_generator_feed(g, &ids[i], 1, &lg);
        if (!s && gr) s = kiln_generator_feed(gr, &ids[i], 1, &lr);
        if (s) break;
        if (i + 1 < n) {
            st->nll += nll(lg, vocab, ids[i + 1]);
            if (lr) st->ref_nll += nll(lr, vocab, ids[i + 1]);
            st->scored++;
        }
        if (lr) {
            for (int64_t k = 0; k < vocab; k++) {
                double d = fabs((double)lg[k] - (double)lr[k]);
                if (d > st->max_abs || d != d) st->max_abs = d;
                st->sum_sq += d * d;
            }
            st->compared += vocab;
            st->agree += kiln_sample_argmax(lg, vocab) == kiln_sample_argmax(lr, vocab);
        }
    }
    kiln_generator_free(g);
    kiln_generator_free(gr);
    return s;
}

static int perplexity(const ppl_args *a, const kiln_model *m, const kiln_model *ref) {
    kiln_session_options so;
    memset(&so, 0, sizeof so);
    so.threads = (int)a->threads;
    kiln_status s = kiln_device_parse(a->device, &so.device);
    if (s) return fail_status(s);
    kiln_tokenizer *tok = NULL;
    int add_bos = 0;
    s = kiln_tokenizer_for_model(m, a->tokenizer, &tok, &add_bos);
    if (s) return fail_status(s);
    size_t len = 0, nids = 0;
    char *text = read_text(a->text, &len);
    int32_t *ids = NULL;
    int rc = 1;
    if (!text) {
        fail("perplexity: cannot read '%s'", a->text);
        goto done;
    }
    int bos = kiln_tokenizer_bos(tok) >= 0 && add_bos;
    s = kiln_tokenizer_encode(tok, text, len, bos, 0, &ids, &nids);
    if (s) goto done;
    if (nids < 2) {
        fail("perplexity: '%s' holds fewer than 2 tokens", a->text);
        goto done;
    }
    stats st;
    int64_t used = 0;
    s = run(a, m, ref, ids, (int64_t)nids, &so, &st, &used);
    if (s) goto done;
    printf("model: %s on %s\n", m->path, kiln_device_name(so.device.kind));
    printf("text: %s, %lld tokens%s (%lld used, %lld predictions)\n", a->text, (long long)nids, bos ? " with BOS" : "",
           (long long)used, (long long)st.scored);
    printf("perplexity: %.4f (mean NLL %.5f nats)\n", exp(st.nll / (double)st.scored), st.nll / (double)st.scored);
    if (ref) {
        printf("compare: %s perplexity %.4f (mean NLL %.5f nats)\n", ref->path, exp(st.ref_nll / (double)st.scored),
               st.ref_nll / (double)st.scored);
        printf("logits vs compare: max |diff| %.6g, rms %.6g over %lld positions x %lld logits; argmax agrees at %lld/%lld\n",
               st.max_abs, sqrt(st.sum_sq / (double)st.compared), (long long)used,
               (long long)(used ? st.compared / used : 0), (long long)st.agree, (long long)used);
    }
    rc = 0;
done:
    if (s) fail_status(s);
    free(ids);
    free(text);
    kiln_tokenizer_free(tok);
    return rc;
}

int cmd_perplexity(int argc, char **argv) {
    ppl_args a = {0};
    a.device = "ref";
    const opt_spec opts[] = {
        {"text", 0, OPT_STRING, &a.text, "FILE", "the text to score (UTF-8)"},
        {"compare", 0, OPT_STRING, &a.compare, "MODEL", "also run MODEL on the same tokens and report the logits' distance"},
        {"length", 'n', OPT_INT, &a.length, "N", "score at most the first N tokens (default: the text, up to the context)"},
        {"tokenizer", 0, OPT_STRING, &a.tokenizer, "FILE", "tokenizer to use (default: the model's own)"},
        {"device", 'd', OPT_STRING, &a.device, "DEV", "ref (default), kir, cpu, vulkan, vulkan:N"},
        {"threads", 't', OPT_INT, &a.threads, "N", "CPU worker threads (default: all cores)"},
        MODEL_ARGS_OPTS(a.ma),
        {0},
    };
    const command_spec spec = {
        "perplexity", "MODEL --text FILE [--compare MODEL] [options]",
        "Score a text with a language model: perplexity, and with --compare the logit error against another model.",
        "The text is tokenized with MODEL's tokenizer (BOS first where the tokenizer wants it) and fed one token\n"
        "at a time through the KV cache; perplexity is exp(mean -log p(next token)) over every token after the\n"
        "first. With --compare, MODEL2 sees the same tokens and the report adds its perplexity, the largest and\n"
        "the RMS absolute difference of all logits at all positions, and how often both pick the same argmax.\n\n"
        "example:\n  kiln quantize stories260K.bin --type q8_0 -o q8.gguf\n"
        "  kiln perplexity q8.gguf --text tests/data/tinystory.txt --compare stories260K.bin",
        opts, 1, 1};
    const char *pos[1];
    int npos;
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (!a.text) return fail("perplexity: --text FILE is required");
    if (a.length < 0 || a.length == 1) return fail("perplexity: -n must be at least 2");
    kiln_model *m = load_model(pos[0], &a.ma), *ref = NULL;
    if (!m) return 1;
    if (a.compare && !(ref = load_model(a.compare, &a.ma))) {
        kiln_model_free(m);
        return 1;
    }
    int rc = perplexity(&a, m, ref);
    kiln_model_free(ref);
    kiln_model_free(m);
    return rc;
}
