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

// The GPU's path (octet_eval_next with a GPU), emulated on the CPU: octet_sampler_device_step,
// then the penalties as k_penalize applies them (cuda/sample.cuh: the step's history counted,
// each count taken once by exchange, octet_penalize), then octet_sample_device_fallback with the
// step's u. Step after step it must give octet_sample's tokens and penalized logits, with and
// without temperature, and hand back to the host when the history outgrows the GPU's.
static void device_steps_match_octet_sample(void) {
    enum { V = 300 };
    static const float cfg[][8] = {  // temp, top-k, top-p, min-p, repeat, presence, frequency, last-n
        {0, 40, 0.95f, 0.05f, 1.3f, 0, 0, 64},        {0.8f, 40, 0.95f, 0.05f, 1.1f, 0.2f, 0.1f, 64},
        {1.0f, 100, 1, 0, 1.5f, 0.5f, 0.5f, 16},       {0.7f, 256, 0.9f, 0.1f, 1, 0, 0.3f, 8},
        {1.2f, 20, 1, 0, 0.9f, 0, 0, 1},               {0, 1, 1, 0, 1, 0.4f, 0, 2000},
        {0.9f, 300, 1, 0, 1, 0, 0, 64},                {0.9f, 0, 1, 0, 1.2f, 0, 0, 64}};
    uint64_t r = 99;
    int bad = 0, on_device = 0, on_host = 0, steps = 0;
    for (unsigned c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        octet_sampler_params p;
        octet_sampler_defaults(&p);
        p.temp = cfg[c][0]; p.top_k = (int)cfg[c][1]; p.top_p = cfg[c][2]; p.min_p = cfg[c][3];
        p.repeat_penalty = cfg[c][4]; p.presence_penalty = cfg[c][5]; p.frequency_penalty = cfg[c][6];
        p.repeat_last_n = (int)cfg[c][7]; p.seed = 77 + c;
        octet_sampler a, b;
        octet_sampler_init(&a, &p, V);
        octet_sampler_init(&b, &p, V);
        for (int i = 0; i < 1100; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int32_t t = (int32_t)((r >> 33) % 40);  // a prompt that repeats a few tokens
            octet_sampler_accept(&a, t); octet_sampler_accept(&b, t);
            if (i == 20 && p.repeat_last_n < 1000) break;
        }
        for (int step = 0; step < 150; step++, steps++) {
            float la[V], lb[V];
            for (int i = 0; i < V; i++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                lb[i] = la[i] = (float)((int)(r >> 40) % 97 - 48) / 8;  // ties, signs and zeros
            }
            octet_device_sampling d;
            int32_t ta;
            if (octet_sampler_device_step(&a, &d)) {
                unsigned counts[V] = {0};
                for (int i = 0; i < d.n_hist; i++) counts[d.hist[i]]++;
                for (int i = 0; i < d.n_hist; i++) {
                    unsigned n = counts[d.hist[i]];
                    counts[d.hist[i]] = 0;
                    if (n) la[d.hist[i]] = octet_penalize(la[d.hist[i]], (int)n, d.repeat_penalty, d.presence_penalty, d.frequency_penalty);
                }
                ta = octet_sample_device_fallback(&a, &d, la);
                on_device++;
            } else {
                ta = octet_sample(&a, la);
                on_host++;
            }
            int32_t tb = octet_sample(&b, lb);
            bad += ta != tb || memcmp(la, lb, sizeof la);
            octet_sampler_accept(&a, ta); octet_sampler_accept(&b, tb);
        }
        octet_sampler_free(&a); octet_sampler_free(&b);
    }
    CHECK(bad == 0, "%d of %d steps: the device path differs from octet_sample", bad, steps);
    // top-k 300 and 0 (whole vocabulary) and a history of 1000 > OCTET_DEVICE_HISTORY stay on the host.
    CHECK(on_host == 3 * 150 && on_device == steps - on_host, "%d steps on the host, %d on the device", on_host, on_device);
}

int main(void) {
    RUN(greedy_and_truncations);
    RUN(argmax_matches_the_plain_loop);
    RUN(temperature_one_follows_the_softmax);
    RUN(penalties_change_the_choice);
    RUN(same_seed_same_tokens);
    RUN(device_steps_match_octet_sample);
    CHECK_DONE();
}
