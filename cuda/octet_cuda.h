// The CUDA backend (built with `make CUDA=1`): the whole forward pass on one GPU. Weights are
// uploaded once (INT8 rows + scales; unquantized matrices as f16), the KV cache lives on the
// GPU, decode runs as one CUDA graph per token, and greedy decoding returns only the token id.
#ifndef OCTET_CUDA_H
#define OCTET_CUDA_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
#include "sampler.h"
struct octet_model;
typedef struct octet_cuda_ctx octet_cuda_ctx;

// Writes one line describing the first GPU (name, compute capability, memory) or why there
// is none; returns the number of CUDA devices.
int octet_cuda_describe(char *buf, size_t cap);
// The kernels the backend runs, for octet info / bench.
const char *octet_cuda_kernel_names(void);

// row_mode: one activation scale per token (--act int8-row) instead of one per 32 inputs.
octet_cuda_ctx *octet_cuda_new(const struct octet_model *m, int n_ctx, int n_batch, int row_mode, int kv_f16);
void octet_cuda_free(octet_cuda_ctx *c);
// Bytes of weights on the GPU (after padding/concatenation).
size_t octet_cuda_weight_bytes(const octet_cuda_ctx *c);
// Evaluates n tokens at positions pos.. (chunks of n_batch). logits: NULL, or room for the
// last token's logits (all = 0) or every token's (all = 1); next: NULL, or receives the next
// token picked on the GPU from the last token's logits: the argmax, or with samp the penalties
// then the argmax or a sample (cuda/sample.cuh; -1 when it cannot pick: the caller samples
// from the logits, penalized already, with octet_sample_device_fallback). Returns 0 or
// -1 (error set).
int octet_cuda_eval(octet_cuda_ctx *c, const int32_t *tokens, int n, int pos, float *logits, int all, int32_t *next, const octet_device_sampling *samp);
// Copies the logits of the last token evaluated (vocab floats) to the host.
int octet_cuda_last_logits(octet_cuda_ctx *c, float *logits);

// Speed references for octet bench: the card's memory bandwidth in GB/s (device-to-device copy,
// bytes read + written; -1 on error), and milliseconds of one m x n x k INT8 GEMM by cuBLASLt
// (int32 out) and by octet's tensor-core kernel (f32 out) with per-32 and per-token activation
// scales.
double octet_cuda_bandwidth(void);
int octet_cuda_gemm_reference(int m, int n, int k, double *lt_ms, double *imma_ms, double *imma_row_ms);

// Test hooks: run one kernel on host data. matmul: kind 0 = DP4A GEMV, 1 = IMMA GEMM, 2 = the
// streaming decode GEMV (decode.cuh; its int32 sums come from the DP4A GEMV), 3 = IMMA GEMM on
// 64-row tiles; one activation scale per token (xs[row * ceil(k/32)]): 4 = IMMA GEMM, 5 = the
// same on 64-row tiles, 6 = DP4A GEMV, 8 = IMMA GEMM split over k (128-row tiles; int32 in 2
// splits, f32 in 3); 7 = IMMA GEMM split over k with a scale per 32 (64-row tiles; int32 in 3
// splits, f32 in 2); 9 = the streaming decode GEMV with one activation scale per token;
// x is m x k int8 with m x ceil(k/32) scales, w is n x k int8 with n scales and, when wg is
// not NULL, grouped: n x ceil(k/32) weight scales as well (kinds 0-3 and 7 then take the grouped
// variants: the streaming GEMV's G, GEMM_GROUP32); yi gets the raw int32 sums, yf the scaled f32
// result (either may be NULL).
int octet_cuda_test_matmul(int kind, int m, int n, int k, const int8_t *x, const float *xs, const int8_t *w, const float *ws, const float *wg, int32_t *yi, float *yf);
// Bytes of GPU memory in use on the device (all processes; total minus free), or 0 on error.
size_t octet_cuda_memory_used(void);
// Quantizes m rows of k floats like the CPU (q: m x ceil32(k), s: m x ceil32(k)/32).
int octet_cuda_test_quantize(const float *x, int m, int k, int row_mode, int8_t *q, float *s);
#ifdef __cplusplus
}
#endif
#endif
