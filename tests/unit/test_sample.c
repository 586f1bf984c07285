/* Sampling: the random stream, greedy argmax, temperature, top-k, top-p and
 * the multinomial draw. Expected sets and probabilities are computed here
 * independently (a plain softmax and a full sort), never read back from
 * the sampler. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kiln/generate.h"

/* A test-local generator for random logits, so the logits do not depend on
 * the generator under test. (Numerical Recipes' 64-bit LCG.) */
static uint64_t lcg_state = 88172645463325252ull;
static double lcg_uniform(void) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

/* n distinct logits: a shuffled ladder spaced `gap` apart, scaled into a
 * spread a real model produces. */
static void ladder_logits(float *l, int n, double gap) {
    for (int i = 0; i < n; i++) l[i] = (float)(gap * i - gap * n / 2);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(lcg_uniform() * (i + 1));
        float t = l[i];
        l[i] = l[j];
        l[j] = t;
    }
}

/* Independent reference: softmax(l / t) in long double. */
static void softmax_ref(const float *l, int n, double t, double *p) {
    long double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) sum += expl(((long double)l[i] - mx) / t);
    for (int i = 0; i < n; i++) p[i] = (double)(expl(((long double)l[i] - mx) / t) / sum);
}

static const double *sort_key;
static int by_key_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (sort_key[x] != sort_key[y]) return sort_key[x] > sort_key[y] ? -1 : 1;
    return x - y;
}

/* ids sorted by probability, most probable first */
static void order_ref(const double *p, int n, int *ids) {
    for (int i = 0; i < n; i++) ids[i] = i;
    sort_key = p;
    qsort(ids, (size_t)n, sizeof *ids, by_key_desc);
}

/* xorshift64* values from this Python (development time):
 *   M = 2**64 - 1
 *   def gen(x, n):
 *       out = []
 *       for _ in range(n):
 *           x ^= x >> 12; x ^= (x << 25) & M; x ^= x >> 27
 *           out.append(((x * 0x2545F4914F6CDD1D) & M) >> 32)
 *       return out
 *   gen(1, 4), gen(42, 3), gen(0x9E3779B97F4A7C15, 2) */
static void test_rng(void) {
    kiln_rng r;
    kiln_rng_seed(&r, 1);
    const uint32_t want1[4] = {1206177355u, 2882512552u, 3117485455u, 1303648416u};
    for (int i = 0; i < 4; i++) CHECK(kiln_rng_u32(&r) == want1[i]);
    kiln_rng_seed(&r, 42);
    const uint32_t want42[3] = {1456360119u, 3359763283u, 3393612768u};
    for (int i = 0; i < 3; i++) CHECK(kiln_rng_u32(&r) == want42[i]);
    /* seed 0 would stay 0 forever: it stands for 0x9E3779B97F4A7C15 */
    kiln_rng_seed(&r, 0);
    CHECK(kiln_rng_u32(&r) == 226735074u);
    CHECK(kiln_rng_u32(&r) == 1422150777u);

    /* f32 is the top 24 bits of u32 over 2^24: in [0, 1) */
    kiln_rng a, b;
    kiln_rng_seed(&a, 7);
    kiln_rng_seed(&b, 7);
    double mean = 0;
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        float f = kiln_rng_f32(&a);
        uint32_t u = kiln_rng_u32(&b);
        if (!(f >= 0 && f < 1) || f != (float)(u >> 8) / 16777216.0f) bad++;
        mean += f;
    }
    CHECK(bad == 0);
    /* uniform mean 1/2, standard error sqrt(1/12 / 1e5) = 9e-4: 5e-3 is 5.5 sigma */
    CHECK(fabs(mean / 100000 - 0.5) < 5e-3);
}

static void test_argmax(void) {
    CHECK(kiln_sample_argmax((const float[]){1, 3, 3, 2}, 4) == 1); /* first max wins */
    CHECK(kiln_sample_argmax((const float[]){NAN, 1, 5, 5}, 4) == 2);
    CHECK(kiln_sample_argmax((const float[]){-INFINITY, -INFINITY, -1e30f}, 3) == 2);
    CHECK(kiln_sample_argmax((const float[]){-INFINITY, -INFINITY}, 2) == 0);
    CHECK(kiln_sample_argmax((const float[]){NAN, NAN}, 2) == 0);
    CHECK(kiln_sample_argmax((const float[]){7}, 1) == 0);

    /* a greedy sampler is argmax, and so is temperature 0 */
    float l[300];
    kiln_sampler *sp = NULL;
    kiln_sampling s = KILN_SAMPLING_GREEDY;
    s.top_k = 3; /* ignored when greedy */
    CHECK_OK(kiln_sampler_new(&s, 300, &sp));
    for (int rep = 0; sp && rep < 20; rep++) {
        ladder_logits(l, 300, 0.05);
        int best = 0;
        for (int i = 1; i < 300; i++)
            if (l[i] > l[best]) best = i;
        int32_t t = -1;
        CHECK_OK(kiln_sampler_sample(sp, l, 300, &t));
        CHECK(t == best);
    }
    kiln_sampler_free(sp);
}

/* Temperature -> 0 leaves only the maximum: with logits 0.1 apart and
 * T = 1e-3 every other token has weight <= exp(-100), which the draw's
 * cumulative sum cannot even represent next to 1. */
static void test_cold_is_greedy(void) {
    float l[100];
    kiln_sampler *sp = NULL;
    CHECK_OK(kiln_sampler_new(&(kiln_sampling){1e-3, 0, 1.0, 3}, 100, &sp));
    int bad = 0;
    for (int rep = 0; sp && rep < 200; rep++) {
        ladder_logits(l, 100, 0.1);
        int32_t t = -1;
        CHECK_OK(kiln_sampler_sample(sp, l, 100, &t));
        bad += t != kiln_sample_argmax(l, 100);
    }
    CHECK(bad == 0);
    kiln_sampler_free(sp);
}

/* Top-k: the candidates are exactly the k largest logits, and thousands of
 * seeded draws never pick anything else. */
static void test_top_k(void) {
    enum { V = 100 };
    float l[V];
    double p[V];
    int ref[V];
    kiln_candidate cand[V];
    const int ks[] = {1, 2, 5, 17, 99, 100, 150};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        int k = ks[ki], kk = k < V ? k : V;
        ladder_logits(l, V, 0.07);
        softmax_ref(l, V, 1.0, p);
        order_ref(p, V, ref);
        kiln_sampling s = {1.0, k, 1.0, 1000 + (uint64_t)k};
        int64_t m = 0;
        CHECK_OK(kiln_sample_candidates(l, V, &s, cand, &m));
        CHECK(m == kk);
        double kept = 0;
        for (int i = 0; i < kk; i++) kept += p[ref[i]];
        for (int i = 0; i < m && i < kk; i++) {
            CHECK(cand[i].id == ref[i]);
            /* renormalised over the k: p / (mass of the k), to float-ish precision */
            CHECK(fabs(cand[i].p - p[ref[i]] / kept) < 1e-9);
        }
        int in_top[V] = {0};
        for (int i = 0; i < kk; i++) in_top[ref[i]] = 1;
        kiln_sampler *sp = NULL;
        CHECK_OK(kiln_sampler_new(&s, V, &sp));
        int outside = 0;
        for (int d = 0; sp && d < 5000; d++) {
            int32_t t = -1;
            CHECK_OK(kiln_sampler_sample(sp, l, V, &t));
            outside += t < 0 || t >= V || !in_top[t];
        }
        CHECK(outside == 0);
        kiln_sampler_free(sp);
    }
}

/* Top-p: the candidates are the smallest most-probable prefix whose mass
 * reaches p (so without its last member the mass is below p). */
static void check_nucleus(const float *l, int n, double temp, int k, double top_p) {
    double p[512];
    int ref[512];
    kiln_candidate cand[512];
    softmax_ref(l, n, temp, p);
    order_ref(p, n, ref);
    int kk = k > 0 && k < n ? k : n;
    double mass = 0;
    for (int i = 0; i < kk; i++) mass += p[ref[i]];
    /* the reference nucleus over the (renormalised) top k */
    int want = kk;
    double cum = 0;
    for (int i = 0; i < kk; i++) {
        cum += p[ref[i]] / mass;
        if (cum >= top_p) {
            want = i + 1;
            break;
        }
    }
    kiln_sampling s = {temp, k, top_p, 5};
    int64_t m = 0;
    CHECK_OK(kiln_sample_candidates(l, n, &s, cand, &m));
    CHECK(m == want);
    double got = 0, sum = 0;
    for (int i = 0; i < m && i < want; i++) {
        CHECK(cand[i].id == ref[i]);
        got += p[ref[i]] / mass;
        sum += cand[i].p;
    }
    CHECK(got >= top_p - 1e-12);
    if (m > 1) CHECK(got - p[ref[m - 1]] / mass < top_p);
    CHECK(fabs(sum - 1) < 1e-12);
    if (m != want) fprintf(stderr, "  nucleus n=%d T=%g k=%d p=%g: %lld candidates, expected %d\n", n, temp, k, top_p,
                           (long long)m, want);
}

static void test_top_p(void) {
    float l[512];
    const double ps[] = {1e-6, 0.1, 0.5, 0.8, 0.9, 0.95, 0.999, 1.0};
    const double temps[] = {0.5, 1.0, 1.7};
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
            ladder_logits(l, 512, 0.03);
            check_nucleus(l, 512, temps[ti], 0, ps[pi]);
            check_nucleus(l, 512, temps[ti], 10, ps[pi]);
            ladder_logits(l, 7, 1.0);
            check_nucleus(l, 7, temps[ti], 0, ps[pi]);
        }
    /* draws stay inside the nucleus */
    ladder_logits(l, 64, 0.2);
    kiln_sampling s = {1.0, 0, 0.6, 77};
    kiln_candidate cand[64];
    int64_t m = 0;
    CHECK_OK(kiln_sample_candidates(l, 64, &s, cand, &m));
    int in[64] = {0};
    for (int i = 0; i < m; i++) in[cand[i].id] = 1;
    kiln_sampler *sp = NULL;
    CHECK_OK(kiln_sampler_new(&s, 64, &sp));
    int outside = 0;
    for (int d = 0; sp && d < 5000; d++) {
        int32_t t = -1;
        CHECK_OK(kiln_sampler_sample(sp, l, 64, &t));
        outside += t < 0 || t >= 64 || !in[t];
    }
    CHECK(outside == 0);
    CHECK(m > 1 && m < 64);
    kiln_sampler_free(sp);
}

static void draw(const kiln_sampling *s, const float *l, int n, int count, int32_t *out) {
    kiln_sampler *sp = NULL;
    CHECK_OK(kiln_sampler_new(s, n, &sp));
    for (int i = 0; i < count; i++) {
        out[i] = -1;
        if (sp) CHECK_OK(kiln_sampler_sample(sp, l, n, &out[i]));
    }
    kiln_sampler_free(sp);
}

/* The same seed gives the same draws; other seeds give other draws (200
 * draws from 64 equally likely tokens all agreeing by chance: 64^-200). */
static void test_seeds(void) {
    float l[64] = {0};
    int32_t a[200], b[200], c[200];
    draw(&(kiln_sampling){1.0, 0, 1.0, 1234}, l, 64, 200, a);
    draw(&(kiln_sampling){1.0, 0, 1.0, 1234}, l, 64, 200, b);
    draw(&(kiln_sampling){1.0, 0, 1.0, 1235}, l, 64, 200, c);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* equal logits: every token reachable (each missed with probability (63/64)^200 = 4%, all 64 hit
       is not guaranteed, so only check a wide spread) */
    int seen[64] = {0}, distinct = 0;
    for (int i = 0; i < 200; i++) distinct += !seen[a[i]]++;
    CHECK(distinct > 40);
}

static double chi_square(const int *counts, const double *p, int n, int draws) {
    double x2 = 0;
    for (int i = 0; i < n; i++) {
        double e = p[i] * draws;
        x2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    return x2;
}

/* Multinomial draws follow the probabilities: Pearson's chi-square over
 * 60000 draws with a fixed seed. Threshold: the 0.999 quantile of
 * chi-square with 5 degrees of freedom, 20.515 (6 categories) - a correct
 * sampler exceeds it for one seed in a thousand, and this seed is fixed, so
 * the test is deterministic. Power: the same counts against the
 * probabilities of temperature 1.1 instead of 1 must be rejected. */
static void test_distribution(void) {
    enum { N = 6, DRAWS = 60000 };
    const float l[N] = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f, 2.0f};
    static int32_t out[DRAWS];
    double p[N], q[N];
    int counts[N] = {0};
    draw(&(kiln_sampling){1.0, 0, 1.0, 20240601}, l, N, DRAWS, out);
    for (int i = 0; i < DRAWS; i++)
        if (out[i] >= 0 && out[i] < N) counts[out[i]]++;
    softmax_ref(l, N, 1.0, p);
    softmax_ref(l, N, 1.1, q);
    double x2 = chi_square(counts, p, N, DRAWS), wrong = chi_square(counts, q, N, DRAWS);
    fprintf(stderr, "  chi-square (5 dof) %.2f against the right probabilities, %.1f against T = 1.1\n", x2, wrong);
    CHECK(x2 < 20.515);
    CHECK(wrong > 20.515);

    /* temperature 0.7 with top-k 3: draws follow the renormalised top 3
     * (2 degrees of freedom: 0.999 quantile 13.816) */
    int c3[N] = {0};
    draw(&(kiln_sampling){0.7, 3, 1.0, 99}, l, N, DRAWS, out);
    for (int i = 0; i < DRAWS; i++)
        if (out[i] >= 0 && out[i] < N) c3[out[i]]++;
    softmax_ref(l, N, 0.7, p);
    const int top[3] = {5, 3, 2}; /* logits 2.0, 1.5, 1.0 */
    double mass = p[5] + p[3] + p[2], p3[3];
    int k3[3];
    for (int i = 0; i < 3; i++) p3[i] = p[top[i]] / mass, k3[i] = c3[top[i]];
    CHECK(c3[0] + c3[1] + c3[4] == 0);
    double x3 = chi_square(k3, p3, 3, DRAWS);
    CHECK(x3 < 13.816);
}

static void test_special_values(void) {
    /* +inf takes all the mass; two share it */
    int32_t out[400];
    draw(&(kiln_sampling){1.0, 0, 1.0, 3}, (const float[]){0, INFINITY, 5}, 3, 100, out);
    int all = 1;
    for (int i = 0; i < 100; i++) all &= out[i] == 1;
    CHECK(all);
    draw(&(kiln_sampling){1.0, 0, 1.0, 3}, (const float[]){INFINITY, 0, INFINITY}, 3, 400, out);
    int n0 = 0, n2 = 0;
    for (int i = 0; i < 400; i++) n0 += out[i] == 0, n2 += out[i] == 2;
    CHECK(n0 + n2 == 400 && n0 > 120 && n2 > 120); /* binomial(400, 1/2): 120 is 8 sigma below 200 */
    /* NaN is never drawn */
    draw(&(kiln_sampling){1.0, 0, 1.0, 3}, (const float[]){NAN, 0, 0}, 3, 200, out);
    all = 1;
    for (int i = 0; i < 200; i++) all &= out[i] == 1 || out[i] == 2;
    CHECK(all);
}

static void test_errors(void) {
    kiln_candidate cand[4];
    int64_t m;
    const float l[4] = {1, 2, 3, 4};
    CHECK_ERR(kiln_sample_candidates(l, 4, &(kiln_sampling){0, 0, 1, 0}, cand, &m), "temperature must be > 0");
    CHECK_ERR(kiln_sample_candidates(l, 4, &(kiln_sampling){1, -1, 1, 0}, cand, &m), "top-k must be >= 0");
    CHECK_ERR(kiln_sample_candidates(l, 4, &(kiln_sampling){1, 0, 0, 0}, cand, &m), "top-p must be in (0, 1]");
    CHECK_ERR(kiln_sample_candidates((const float[]){-INFINITY, NAN}, 2, &(kiln_sampling){1, 0, 1, 0}, cand, &m),
              "every logit is NaN or -inf");
    kiln_sampler *sp = NULL;
    CHECK_ERR(kiln_sampler_new(&(kiln_sampling){1, 0, 1.5, 0}, 4, &sp), "top-p must be in (0, 1]");
    CHECK_ERR(kiln_sampler_new(&(kiln_sampling){NAN, 0, 1, 0}, 4, &sp), "temperature is NaN");
    CHECK_ERR(kiln_sampler_new(&(kiln_sampling){1, 0, 1, 0}, 0, &sp), "vocabulary size of 0");
    CHECK(sp == NULL);
    CHECK_OK(kiln_sampler_new(&(kiln_sampling){1, 0, 1, 0}, 4, &sp));
    int32_t t;
    if (sp) CHECK_ERR(kiln_sampler_sample(sp, l, 5, &t), "5 logits for a vocabulary of 4");
    kiln_sampler_free(sp);
}

int main(void) {
    test_rng();
    test_argmax();
    test_cold_is_greedy();
    test_top_k();
    test_top_p();
    test_seeds();
    test_distribution();
    test_special_values();
    test_errors();
    return test_finish("test_sample");
}
