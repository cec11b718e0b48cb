#include "sampler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void octet_sampler_defaults(octet_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temp = 0.8f; p->top_k = 40; p->top_p = 0.95f; p->min_p = 0.05f;
    p->repeat_penalty = 1.0f; p->repeat_last_n = 64; p->seed = 0x5eed;
}

int octet_sampler_init(octet_sampler *s, const octet_sampler_params *p, int n_vocab) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = p->seed ^ 0x9E3779B97F4A7C15ull;
    s->history = calloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1), sizeof *s->history);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    return s->history && s->cand && s->counts ? 0 : -1;
}

void octet_sampler_free(octet_sampler *s) { free(s->history); free(s->cand); free(s->counts); memset(s, 0, sizeof *s); }

void octet_sampler_accept(octet_sampler *s, int32_t id) {
    int n = s->p.repeat_last_n;
    if (n <= 0) return;
    if (s->n_hist == n) { memmove(s->history, s->history + 1, (size_t)(n - 1) * sizeof *s->history); s->n_hist--; }
    s->history[s->n_hist++] = id;
}

static double uniform(octet_sampler *s) {  // splitmix64
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static int better(const octet_candidate *a, const octet_candidate *b) { return a->logit > b->logit || (a->logit == b->logit && a->id < b->id); }
static int cmp_cand(const void *x, const void *y) {
    const octet_candidate *a = x, *b = y;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static int has_penalties(const octet_sampler_params *p) { return p->repeat_penalty != 1.0f || p->presence_penalty || p->frequency_penalty; }

// Each token of the history once, with its count (the GPU does the same: cuda/sample.cuh).
static void penalties(octet_sampler *s, float *logits) {
    const octet_sampler_params *p = &s->p;
    if (!s->n_hist || !has_penalties(p)) return;
    for (int i = 0; i < s->n_hist; i++) s->counts[s->history[i]]++;
    for (int i = 0; i < s->n_hist; i++) {
        int32_t id = s->history[i];
        int c = s->counts[id];
        if (!c) continue;  // already handled
        logits[id] = octet_penalize(logits[id], c, p->repeat_penalty, p->presence_penalty, p->frequency_penalty);
        s->counts[id] = 0;
    }
}

// Keeps the k best candidates, sorted best first (a min-heap over the first k).
static int top_k(octet_candidate *c, int n, int k) {
    if (k <= 0 || k >= n) { qsort(c, (size_t)n, sizeof *c, cmp_cand); return n; }
    for (int i = k / 2 - 1; i >= 0; i--)  // heapify with the worst at the root
        for (int j = i;;) {
            int w = j, l = 2 * j + 1, r = l + 1;
            if (l < k && better(&c[w], &c[l])) w = l;
            if (r < k && better(&c[w], &c[r])) w = r;
            if (w == j) break;
            octet_candidate t = c[j]; c[j] = c[w]; c[w] = t; j = w;
        }
    for (int i = k; i < n; i++) {
        if (!better(&c[i], &c[0])) continue;
        c[0] = c[i];
        for (int j = 0;;) {
            int w = j, l = 2 * j + 1, r = l + 1;
            if (l < k && better(&c[w], &c[l])) w = l;
            if (r < k && better(&c[w], &c[r])) w = r;
            if (w == j) break;
            octet_candidate t = c[j]; c[j] = c[w]; c[w] = t; j = w;
        }
    }
    qsort(c, (size_t)k, sizeof *c, cmp_cand);
    return k;
}

// The first index of the largest value (x[0] if it is NaN: nothing compares greater). The max is
// found in 8 independent lanes, which the compiler vectorizes, then its first index: 8 us on
// SmolLM2's 49152 logits where the loop tracking the index took 200 us (3% of a decode step).
// Lanes never hold a NaN (a NaN never compares greater), and -0 == +0, so the first equal value is
// the one the plain loop keeps.
int32_t octet_argmax(const float *x, int n) {
    if (x[0] != x[0]) return 0;
    float m[8];
    for (int j = 0; j < 8; j++) m[j] = x[0];
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float mx = m[0];
    for (int j = 1; j < 8; j++) mx = m[j] > mx ? m[j] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (i = 0; x[i] != mx; i++) {}
    return i;
}

int octet_sampler_is_greedy(const octet_sampler *s) { return s->p.temp <= 0 && !has_penalties(&s->p); }

int octet_sampler_device_step(octet_sampler *s, octet_device_sampling *d) {
    const octet_sampler_params *p = &s->p;
    int pen = has_penalties(p) && s->n_hist > 0;
    if ((p->temp > 0 && (p->top_k < 1 || p->top_k > OCTET_DEVICE_TOP_K)) || (pen && s->n_hist > OCTET_DEVICE_HISTORY)) return 0;
    *d = (octet_device_sampling){0, p->temp, p->top_p, p->min_p, p->repeat_penalty, p->presence_penalty, p->frequency_penalty,
                                 p->top_k, pen ? s->n_hist : 0, s->history};
    if (p->temp > 0) d->u = uniform(s);
    return 1;
}

// top-k, top-p, min-p and temperature on logits the penalties are already in, with the step's
// uniform number u.
static int32_t pick(const octet_sampler_params *p, octet_candidate *c, const float *logits, int n, double u) {
    for (int i = 0; i < n; i++) { c[i].logit = logits[i]; c[i].id = i; }
    n = top_k(c, n, p->top_k);
    // top-p on the softmax of the (untempered) logits
    if (p->top_p < 1.0f) {
        double sum = 0, cum = 0;
        for (int i = 0; i < n; i++) sum += exp((double)c[i].logit - c[0].logit);
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += exp((double)c[i].logit - c[0].logit) / sum;
            if (cum >= p->top_p) { keep = i + 1; break; }
        }
        n = keep;
    }
    if (p->min_p > 0) {
        float floor_logit = c[0].logit + logf(p->min_p);
        int keep = 1;
        while (keep < n && c[keep].logit >= floor_logit) keep++;
        n = keep;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp(((double)c[i].logit - c[0].logit) / p->temp);
    double r = u * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp(((double)c[i].logit - c[0].logit) / p->temp);
        if (r < acc) return c[i].id;
    }
    return c[n - 1].id;
}

int32_t octet_sample(octet_sampler *s, float *logits) {
    penalties(s, logits);
    if (s->p.temp <= 0) return octet_argmax(logits, s->n_vocab);
    return pick(&s->p, s->cand, logits, s->n_vocab, uniform(s));
}

int32_t octet_sample_device_fallback(const octet_sampler *s, const octet_device_sampling *d, const float *penalized) {
    if (d->temp <= 0) return octet_argmax(penalized, s->n_vocab);
    return pick(&s->p, s->cand, penalized, s->n_vocab, d->u);
}
