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
// Sampling a GPU can do itself, only the token id coming back: greedy, or temperature > 0 with
// 1 <= top-k <= OCTET_DEVICE_TOP_K; the penalties too when they look at no more than
// OCTET_DEVICE_HISTORY tokens. Everything travels as kernel arguments (no copy): the step's
// uniform number u, drawn on the host so the generator advances exactly as in octet_sample, and
// the history the penalties count (hist, n_hist; 0 when no penalty is set).
#define OCTET_DEVICE_TOP_K 256
#define OCTET_DEVICE_HISTORY 960
typedef struct {
    double u;
    float temp, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    int top_k, n_hist;
    const int32_t *hist;   // host memory: the backend copies it into the penalty kernel's arguments
} octet_device_sampling;
// Fills p for the next token and returns 1, or returns 0 (and draws nothing) when the GPU cannot.
int     octet_sampler_device_step(octet_sampler *s, octet_device_sampling *p);
// The pick of a device step on the host, from logits the penalties were already applied to (the
// GPU's, when its candidate list overflowed): the same token octet_sample picks.
int32_t octet_sample_device_fallback(const octet_sampler *s, const octet_device_sampling *d, const float *penalized);

// One logit under the penalties: count is how often its token is in the history. Shared by the
// CPU and the GPU (there with correctly rounded steps, never fused, so both give the same bits).
#ifdef __CUDACC__
#define OCTET_HOST_DEVICE __host__ __device__
#else
#define OCTET_HOST_DEVICE
#endif
static inline OCTET_HOST_DEVICE float octet_penalize(float l, int count, float repeat, float presence, float frequency) {
#ifdef __CUDA_ARCH__
    if (repeat != 1.0f) l = l > 0 ? __fdiv_rn(l, repeat) : __fmul_rn(l, repeat);
    return __fsub_rn(l, __fadd_rn(__fmul_rn((float)count, frequency), presence));
#else
    if (repeat != 1.0f) l = l > 0 ? l / repeat : l * repeat;
    return l - ((float)count * frequency + presence);
#endif
}
// Records a token (prompt or generated) for the penalties.
void    octet_sampler_accept(octet_sampler *s, int32_t id);
#endif
