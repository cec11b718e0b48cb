// Sampling on the GPU (penalties, temperature, top-k, top-p, min-p): only the token id goes
// back to the host. The k best logits are found by a radix select on order-preserving keys, then
// sorted, and one thread runs the CPU sampler's arithmetic (engine/sampler.c) on them with the
// host's uniform number, so a GPU and a CPU pick agree on the same logits.
#ifndef OCTET_CUDA_SAMPLE_CUH
#define OCTET_CUDA_SAMPLE_CUH
#include "kernels.cuh"
extern "C" {
#include "sampler.h"
}

#define SAMPLE_CAND 2048   // candidates kept (those >= the k-th key, ties included)

// The penalties' history, passed by value as the kernel's argument (under the 4 KB limit), so a
// step copies nothing to the GPU for them.
struct penalty_args {
    float repeat, presence, frequency;
    int n;
    int32_t id[OCTET_DEVICE_HISTORY];
};

// The penalties on one row of logits, as engine/sampler.c applies them: every token of the
// history counted, then each distinct token penalized once with its count. One block; the
// thread that takes a token's count (atomicExch) applies it and leaves counts zero for the next step.
__global__ void __launch_bounds__(1024) k_penalize(float *logits, int vocab, unsigned *counts, const penalty_args a) {
    for (int i = threadIdx.x; i < a.n; i += blockDim.x)
        if ((unsigned)a.id[i] < (unsigned)vocab) atomicAdd(&counts[a.id[i]], 1u);
    __syncthreads();
    for (int i = threadIdx.x; i < a.n; i += blockDim.x) {
        int id = a.id[i];
        if ((unsigned)id >= (unsigned)vocab) continue;
        unsigned c = atomicExch(&counts[id], 0u);
        if (c) logits[id] = octet_penalize(logits[id], (int)c, a.repeat, a.presence, a.frequency);
    }
}

__device__ __forceinline__ float key_logit(unsigned long long key) {
    unsigned b = (unsigned)(key >> 32);
    return __uint_as_float((b & 0x80000000u) ? (b & 0x7fffffffu) : ~b);
}

// One block of 1024 threads. out: the token id, or -1 when more than SAMPLE_CAND logits tie
// at the k-th value (the host then samples from the logits itself).
// p arrives as a kernel argument (its host pointer hist is not read here).
__global__ void __launch_bounds__(1024) k_sample(const float *__restrict__ logits, int n, const octet_device_sampling p, int32_t *out) {
    __shared__ unsigned hist[256];
    __shared__ unsigned long long cand[SAMPLE_CAND];
    __shared__ unsigned s_want;
    __shared__ int s_k, n_cand;
    int K = p.top_k < n ? p.top_k : n, tid = threadIdx.x;
    // The 32-bit key of the K-th largest logit, 8 bits at a time from the top.
    unsigned want = 0, mask = 0;
    int k = K;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = tid; i < 256; i += blockDim.x) hist[i] = 0;
        __syncthreads();
        for (int i = tid; i < n; i += blockDim.x) {
            unsigned key = (unsigned)(argmax_key(logits[i], i) >> 32);
            if ((key & mask) == want) atomicAdd(&hist[(key >> shift) & 255], 1u);
        }
        __syncthreads();
        if (tid == 0) {
            unsigned acc = 0;
            int b = 255;
            for (; b > 0 && acc + hist[b] < (unsigned)k; b--) acc += hist[b];
            s_want = want | ((unsigned)b << shift);
            s_k = k - (int)acc;
            n_cand = 0;
        }
        __syncthreads();
        want = s_want; k = s_k; mask |= 255u << shift;
    }
    for (int i = tid; i < n; i += blockDim.x) {
        unsigned long long key = argmax_key(logits[i], i);
        if ((unsigned)(key >> 32) >= want) {
            int j = atomicAdd(&n_cand, 1);
            if (j < SAMPLE_CAND) cand[j] = key;
        }
    }
    __syncthreads();
    int nc = n_cand;
    if (nc > SAMPLE_CAND) { if (tid == 0) *out = -1; return; }
    int size = 1;
    while (size < nc) size <<= 1;
    for (int i = nc + tid; i < size; i += blockDim.x) cand[i] = 0;
    __syncthreads();
    // Bitonic sort, largest key first: (logit descending, id ascending), as the CPU orders them.
    for (int len = 2; len <= size; len <<= 1)
        for (int j = len >> 1; j > 0; j >>= 1) {
            for (int i = tid; i < size; i += blockDim.x) {
                int o = i ^ j;
                if (o > i) {
                    bool desc = (i & len) == 0;
                    unsigned long long a = cand[i], b = cand[o];
                    if (desc ? a < b : a > b) { cand[i] = b; cand[o] = a; }
                }
            }
            __syncthreads();
        }
    if (tid) return;
    // engine/sampler.c, octet_sample after top_k(), on the K best.
    int m = K;
    double top = key_logit(cand[0]);
    if (p.top_p < 1.0f) {
        double sum = 0, cum = 0;
        for (int i = 0; i < m; i++) sum += exp((double)key_logit(cand[i]) - top);
        int keep = m;
        for (int i = 0; i < m; i++) {
            cum += exp((double)key_logit(cand[i]) - top) / sum;
            if (cum >= p.top_p) { keep = i + 1; break; }
        }
        m = keep;
    }
    if (p.min_p > 0) {
        float floor_logit = key_logit(cand[0]) + logf(p.min_p);
        int keep = 1;
        while (keep < m && key_logit(cand[keep]) >= floor_logit) keep++;
        m = keep;
    }
    double sum = 0;
    for (int i = 0; i < m; i++) sum += exp(((double)key_logit(cand[i]) - top) / p.temp);
    double r = p.u * sum, acc = 0;
    int pick = m - 1;
    for (int i = 0; i < m; i++) {
        acc += exp(((double)key_logit(cand[i]) - top) / p.temp);
        if (r < acc) { pick = i; break; }
    }
    *out = 0x7fffffff - (int)(unsigned)(cand[pick] & 0xffffffffu);
}
#endif
