// Sampler: greedy, the truncations, the distribution at temperature 1, penalties, seeds.
#include "check.h"
#include "sampler.h"
#include <math.h>

static int32_t sample_once(octet_sampler_params p, const float *logits, int n, const int32_t *hist, int nh) {
    octet_sampler s;
    octet_sampler_init(&s, &p, n);
    for (int i = 0; i < nh; i++) octet_sampler_accept(&s, hist[i]);
    float l[16];
    memcpy(l, logits, (size_t)n * sizeof *l);
    int32_t t = octet_sample(&s, l);
    octet_sampler_free(&s);
    return t;
}

// octet_argmax (vectorized) against the loop that tracks the index, on sizes around its 8 lanes
// with ties, signed zeros, infinities and NaNs.
static void argmax_matches_the_plain_loop(void) {
    float x[100];
    uint64_t r = 7;
    int bad = 0;
    for (int t = 0; t < 20000; t++) {
        int n = 1 + (int)(t % 100);
        for (int i = 0; i < n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int v = (int)(r >> 33) % 24;
            x[i] = v == 0 ? NAN : v == 1 ? -0.0f : v == 2 ? 0.0f : v == 3 ? INFINITY : v == 4 ? -INFINITY : (float)(v % 7) - 3.0f;
        }
        int32_t best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        bad += octet_argmax(x, n) != best;
    }
    CHECK(bad == 0, "%d of 20000 arrays: octet_argmax differs from the plain loop", bad);
}

static void greedy_and_truncations(void) {
    float l[6] = {0.5f, 3.0f, 2.9f, -1, 3.0f, 0};
    octet_sampler_params p;
    octet_sampler_defaults(&p);
    p.temp = 0;
    CHECK(sample_once(p, l, 6, NULL, 0) == 1, "greedy picks the first of equal maxima");
    octet_sampler_defaults(&p);
    p.top_k = 1;
    for (int seed = 0; seed < 50; seed++) { p.seed = (uint64_t)seed; CHECK(sample_once(p, l, 6, NULL, 0) == 1, "top-k 1 is greedy"); }
    octet_sampler_defaults(&p);
    p.top_k = 0; p.top_p = 1; p.min_p = 0.99f;
    for (int seed = 0; seed < 50; seed++) { p.seed = (uint64_t)seed; int32_t t = sample_once(p, l, 6, NULL, 0); CHECK(t == 1 || t == 4, "min-p 0.99 keeps the ties only"); }
    octet_sampler_defaults(&p);
    p.top_k = 0; p.min_p = 0; p.top_p = 0.01f;
    for (int seed = 0; seed < 50; seed++) { p.seed = (uint64_t)seed; CHECK(sample_once(p, l, 6, NULL, 0) == 1, "tiny top-p keeps the best"); }
}

static void temperature_one_follows_the_softmax(void) {
    float l[2] = {0, logf(3)};
    octet_sampler_params p;
    octet_sampler_defaults(&p);
    p.temp = 1; p.top_k = 0; p.top_p = 1; p.min_p = 0; p.seed = 7;
    octet_sampler s;
    octet_sampler_init(&s, &p, 2);
    int ones = 0, n = 20000;
    for (int i = 0; i < n; i++) { float c[2] = {l[0], l[1]}; ones += octet_sample(&s, c) == 1; }
    octet_sampler_free(&s);
    CHECK(fabs(ones / (double)n - 0.75) < 0.015, "P(1) = %.3f, expected 0.75", ones / (double)n);
}

static void penalties_change_the_choice(void) {
    float l[3] = {2.0f, 1.9f, -5};
    int32_t hist[2] = {0, 0};
    octet_sampler_params p;
    octet_sampler_defaults(&p);
    p.temp = 0;
    CHECK(sample_once(p, l, 3, hist, 2) == 0, "no penalty");
    p.repeat_penalty = 1.1f;
    CHECK(sample_once(p, l, 3, hist, 2) == 1, "repeat penalty divides a positive logit");
    p.repeat_penalty = 1; p.presence_penalty = 0.2f;
    CHECK(sample_once(p, l, 3, hist, 2) == 1, "presence penalty");
    p.presence_penalty = 0; p.frequency_penalty = 0.06f;
    CHECK(sample_once(p, l, 3, hist, 2) == 1, "frequency penalty counts both occurrences");
    p.frequency_penalty = 0.04f;
    CHECK(sample_once(p, l, 3, hist, 1) == 0, "one occurrence is not enough at 0.04");
}

static void same_seed_same_tokens(void) {
    float l[8] = {1, 1.2f, 0.8f, 1.1f, 0.3f, 0.9f, 1.05f, 0.7f};
    octet_sampler_params p;
    octet_sampler_defaults(&p);
    p.top_k = 0; p.min_p = 0; p.top_p = 1; p.temp = 1.5f;
    int32_t a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        p.seed = run == 2 ? 43 : 42;
        octet_sampler s;
        octet_sampler_init(&s, &p, 8);
        for (int i = 0; i < 64; i++) { float x[8]; memcpy(x, l, sizeof x); (run == 0 ? a : run == 1 ? b : c)[i] = octet_sample(&s, x); }
        octet_sampler_free(&s);
    }
    CHECK(!memcmp(a, b, sizeof a), "same seed, same sequence");
    CHECK(memcmp(a, c, sizeof a), "another seed, another sequence");
}

int main(void) {
    RUN(greedy_and_truncations);
    RUN(argmax_matches_the_plain_loop);
    RUN(temperature_one_follows_the_softmax);
    RUN(penalties_change_the_choice);
    RUN(same_seed_same_tokens);
    CHECK_DONE();
}
