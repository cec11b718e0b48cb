// Token sampling: repetition/presence/frequency penalties, then greedy, or top-k, top-p,
// min-p and temperature (llama.cpp's order) with a seeded generator. Same seed, same tokens.
#ifndef OCTET_SAMPLER_H
#define OCTET_SAMPLER_H
#include <stdint.h>

typedef struct {
    float temp, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    int top_k, repeat_last_n;
    uint64_t seed;
} octet_sampler_params;

typedef struct { float logit; int32_t id; } octet_candidate;
typedef struct {
    octet_sampler_params p;
    uint64_t rng;
    int32_t *history;
    int n_hist, n_vocab;
    octet_candidate *cand;
    int32_t *counts;
} octet_sampler;

void    octet_sampler_defaults(octet_sampler_params *p);  // temp 0.8, top-k 40, top-p 0.95, min-p 0.05
int     octet_sampler_init(octet_sampler *s, const octet_sampler_params *p, int n_vocab);
void    octet_sampler_free(octet_sampler *s);
// Picks the next token from logits (which the penalties modify in place).
int32_t octet_sample(octet_sampler *s, float *logits);
// The first index of the largest value: the greedy pick.
int32_t octet_argmax(const float *logits, int n);
// True when sampling is a plain argmax (temperature 0, no penalties): the GPU can pick.
int     octet_sampler_is_greedy(const octet_sampler *s);
// Sampling a GPU can do itself, only the token id coming back: temperature > 0, no penalties,
// 1 <= top-k <= OCTET_DEVICE_TOP_K. The step's uniform number u is drawn on the host so the
// generator advances exactly as in octet_sample.
#define OCTET_DEVICE_TOP_K 256
typedef struct { double u; float temp, top_p, min_p; int top_k; } octet_device_sampling;
// Fills p for the next token and returns 1, or returns 0 (and draws nothing) when the GPU cannot.
int     octet_sampler_device_step(octet_sampler *s, octet_device_sampling *p);
// Records a token (prompt or generated) for the penalties.
void    octet_sampler_accept(octet_sampler *s, int32_t id);
#endif
