/* Token sampling: greedy argmax, temperature, top-k, top-p (nucleus) and a
 * seeded multinomial draw with a portable random stream. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/generate.h"

void kiln_rng_seed(kiln_rng *r, uint64_t seed) { r->state = seed ? seed : UINT64_C(0x9E3779B97F4A7C15); }

uint32_t kiln_rng_u32(kiln_rng *r) {
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return (uint32_t)((x * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

float kiln_rng_f32(kiln_rng *r) { return (float)(kiln_rng_u32(r) >> 8) / 16777216.0f; }

int32_t kiln_sample_argmax(const float *logits, int64_t n) {
    int32_t best = -1;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(logits[i])) continue;
        if (best < 0 || logits[i] > logits[best]) best = (int32_t)i;
    }
    return best < 0 ? 0 : best;
}

/* Most probable first; equal probabilities by lower id, so the order (and
 * therefore every draw) does not depend on the sort algorithm. */
static int by_prob_desc(const void *a, const void *b) {
    const kiln_candidate *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* 1 when a ranks before b in by_prob_desc's order. */
static int ranks_before(const kiln_candidate *a, const kiln_candidate *b) {
    return a->p > b->p || (a->p == b->p && a->id < b->id);
}

/* Restores the heap below p: a parent ranks after (is worse than) its
 * children, so the root is the worst candidate kept. */
static void sift_down(kiln_candidate *c, int64_t k, int64_t p) {
    for (;;) {
        int64_t l = 2 * p + 1, r = l + 1, w = p;
        if (l < k && ranks_before(&c[w], &c[l])) w = l;
        if (r < k && ranks_before(&c[w], &c[r])) w = r;
        if (w == p) return;
        kiln_candidate t = c[p];
        c[p] = c[w];
        c[w] = t;
        p = w;
    }
}

/* Keeps the k best of c[0..m) in c[0..k) (unordered) in O(m log k). */
static void keep_best_k(kiln_candidate *c, int64_t m, int64_t k) {
    for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
    for (int64_t i = k; i < m; i++) {
        if (!ranks_before(&c[i], &c[0])) continue;
        c[0] = c[i];
        sift_down(c, k, 0);
    }
}

kiln_status kiln_sample_candidates(const float *logits, int64_t n, const kiln_sampling *s, kiln_candidate *cand,
                                   int64_t *count) {
    *count = 0;
    if (!logits || !s || !cand || n < 1 || n > INT32_MAX)
        return kiln_error(KILN_ERR_INVALID, "sampling: no logits or a vocabulary size of %lld", (long long)n);
    if (!(s->temperature > 0))
        return kiln_error(KILN_ERR_INVALID, "sampling: temperature must be > 0 to sample (0 is greedy), got %g",
                          s->temperature);
    if (s->top_k < 0) return kiln_error(KILN_ERR_INVALID, "sampling: top-k must be >= 0, got %d", s->top_k);
    if (!(s->top_p > 0)) return kiln_error(KILN_ERR_INVALID, "sampling: top-p must be in (0, 1], got %g", s->top_p);

    double max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (logits[i] > max) max = logits[i];
    if (max == -INFINITY) return kiln_error(KILN_ERR_INVALID, "sampling: every logit is NaN or -inf");

    /* unnormalised probabilities; an infinite maximum shares all the mass */
    double total = 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        double w;
        if (isnan(logits[i])) w = 0;
        else if (isinf(max)) w = logits[i] == max;
        else w = exp(((double)logits[i] - max) / s->temperature);
        if (w > 0) {
            cand[m++] = (kiln_candidate){(int32_t)i, w};
            total += w;
        }
    }
    for (int64_t i = 0; i < m; i++) cand[i].p /= total;

    int64_t k = s->top_k > 0 && s->top_k < m ? s->top_k : m;
    if (k < m) {
        keep_best_k(cand, m, k);
        m = k;
        total = 0;
        for (int64_t i = 0; i < m; i++) total += cand[i].p;
        for (int64_t i = 0; i < m; i++) cand[i].p /= total;
    } else if (s->top_p < 1 && m > 1) {
        /* Only tokens with p >= (1-top_p)/(m-1) can be in the nucleus: when
         * at least one token passes, the others (at most m-1 of them, each
         * below that) hold less than 1-top_p, so the passing ones hold more
         * than top_p. Skips sorting the long tail. */
        double cut = (1 - s->top_p) / (double)(m - 1);
        int64_t kept = 0;
        for (int64_t i = 0; i < m; i++)
            if (cand[i].p >= cut) cand[kept++] = cand[i];
        if (kept > 0) m = kept;
    }
    qsort(cand, (size_t)m, sizeof *cand, by_prob_desc);

    if (s->top_p < 1) {
        /* smallest prefix whose mass reaches top_p (of the whole, which is
         * 1 up to rounding after top-k renormalised it) */
        double sum = 0;
        int64_t keep = m;
        for (int64_t i = 0; i < m; i++) {
            sum += cand[i].p;
            if (sum >= s->top_p) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
        total = 0;
        for (int64_t i = 0; i < m; i++) total += cand[i].p;
        for (int64_t i = 0; i < m; i++) cand[i].p /= total;
    }
    *count = m;
    return KILN_OK;
}

struct kiln_sampler {
    kiln_sampling s;
    kiln_rng rng;
    int64_t vocab;
    kiln_candidate *cand;
};

kiln_status kiln_sampler_new(const kiln_sampling *s, int64_t vocab_size, kiln_sampler **out) {
    *out = NULL;
    if (!s || vocab_size < 1 || vocab_size > INT32_MAX)
        return kiln_error(KILN_ERR_INVALID, "sampler: no parameters or a vocabulary size of %lld", (long long)vocab_size);
    if (isnan(s->temperature)) return kiln_error(KILN_ERR_INVALID, "sampler: temperature is NaN");
    if (s->temperature > 0) {
        if (s->top_k < 0) return kiln_error(KILN_ERR_INVALID, "sampler: top-k must be >= 0, got %d", s->top_k);
        if (!(s->top_p > 0) || s->top_p > 1)
            return kiln_error(KILN_ERR_INVALID, "sampler: top-p must be in (0, 1], got %g", s->top_p);
    }
    kiln_sampler *sp = calloc(1, sizeof *sp);
    if (!sp) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    sp->s = *s;
    sp->vocab = vocab_size;
    kiln_rng_seed(&sp->rng, s->seed);
    if (s->temperature > 0) {
        sp->cand = malloc((size_t)vocab_size * sizeof *sp->cand);
        if (!sp->cand) {
            free(sp);
            return kiln_error(KILN_ERR_NOMEM, "out of memory for %lld sampling candidates", (long long)vocab_size);
        }
    }
    *out = sp;
    return KILN_OK;
}

kiln_status kiln_sampler_sample(kiln_sampler *sp, const float *logits, int64_t n, int32_t *token) {
    if (!sp || !logits || n < 1 || n > sp->vocab)
        return kiln_error(KILN_ERR_INVALID, "sampler: %lld logits for a vocabulary of %lld", (long long)n,
                          (long long)(sp ? sp->vocab : 0));
    if (!(sp->s.temperature > 0)) {
        *token = kiln_sample_argmax(logits, n);
        return KILN_OK;
    }
    int64_t m = 0;
    KILN_TRY(kiln_sample_candidates(logits, n, &sp->s, sp->cand, &m));
    double u = kiln_rng_f32(&sp->rng), cum = 0;
    for (int64_t i = 0; i < m; i++) {
        cum += sp->cand[i].p;
        if (u < cum) {
            *token = sp->cand[i].id;
            return KILN_OK;
        }
    }
    *token = sp->cand[m - 1].id; /* u beyond a total rounded just below 1 */
    return KILN_OK;
}

void kiln_sampler_free(kiln_sampler *sp) {
    if (!sp) return;
    free(sp->cand);
    free(sp);
}
