// Speed references for `octet bench --device cuda`: the card's memory bandwidth (a large
// device-to-device copy) and cuBLASLt's INT8 GEMM on the model's shapes, timed against octet's
// own tensor-core GEMM (k_gemm_imma) with per-32 and with per-token activation scales.
#include "octet_cuda.h"
#include "cuda_check.h"
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>
extern "C" {
#include "util.h"
}
#define QBLOCK 32
// backend.cu: octet's prefill GEMM on device buffers (y = x * W^T with the scales).
void octet_cuda_launch_imma(const int8_t *w, const float *ws, int n, int k, const int8_t *x, const float *xs, int m, float *y, int row_mode);

#define LT(call) do { cublasStatus_t s_ = (call); if (s_ != CUBLAS_STATUS_SUCCESS) { octet_set_error("cublasLt: status %d (%s:%d)", (int)s_, __FILE__, __LINE__); goto fail; } } while (0)

// Fills the timing inputs with pseudo-random values (int8 in -127..127; scales around 1/127):
// constant data can run faster on the tensor cores than real data does.
__global__ void k_fill_random(int8_t *q, size_t n, float *s, size_t ns, unsigned seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
        q[i] = (int8_t)((int)(h % 255) - 127);
        if (i < ns) s[i] = (1.0f + (float)(h & 1023) / 1024.0f) / 127.0f;
    }
}

// Milliseconds per repetition of what launch() queues, median of 5 timings of reps each.
template <typename F>
static double time_ms(F launch, int reps) {
    cudaEvent_t a, b;
    cudaEventCreate(&a); cudaEventCreate(&b);
    launch();  // warm-up
    double t[5];
    for (int r = 0; r < 5; r++) {
        cudaEventRecord(a);
        for (int i = 0; i < reps; i++) launch();
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        t[r] = ms / reps;
    }
    cudaEventDestroy(a); cudaEventDestroy(b);
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) { double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x; }
    return t[2];
}

extern "C" double octet_cuda_bandwidth(void) {
    size_t n = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    double gbs = -1;
    CK(cudaMalloc(&a, n));
    CK(cudaMalloc(&b, n));
    CK(cudaMemset(a, 1, n));
    {
        double ms = time_ms([&] { cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice); }, 10);
        gbs = 2.0 * n / (ms * 1e-3) / 1e9;  // bytes read + bytes written
    }
fail:
    cudaFree(a); cudaFree(b);
    return gbs;
}

extern "C" int octet_cuda_gemm_reference(int m, int n, int k, double *lt_ms, double *imma_ms, double *imma_row_ms) {
    int kp = (k + QBLOCK - 1) / QBLOCK * QBLOCK, rc = -1;
    size_t ws_size = 32u << 20;
    int8_t *x = NULL, *w = NULL;
    float *xs = NULL, *ws = NULL, *y = NULL;
    int32_t *yi = NULL;
    void *work = NULL;
    cublasLtHandle_t h = NULL;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    int32_t alpha = 1, beta = 0;
    cublasOperation_t tr = CUBLAS_OP_T;
    CK(cudaMalloc(&x, (size_t)m * kp));
    CK(cudaMalloc(&w, (size_t)n * kp));
    CK(cudaMalloc(&xs, (size_t)m * (kp / QBLOCK) * 4));
    CK(cudaMalloc(&ws, (size_t)n * 4));
    CK(cudaMalloc(&y, (size_t)m * n * 4));
    CK(cudaMalloc(&yi, (size_t)m * n * 4));
    CK(cudaMalloc(&work, ws_size));
    k_fill_random<<<1024, 256>>>(x, (size_t)m * kp, xs, (size_t)m * (kp / QBLOCK), 1u);
    k_fill_random<<<1024, 256>>>(w, (size_t)n * kp, ws, (size_t)n, 2u);
    CK(cudaGetLastError());
    {
        // Column-major view: Y^T (n x m) = W (k x n, transposed) * X^T (k x m), int32 out.
        LT(cublasLtCreate(&h));
        LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr));
        LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_8I, kp, n, kp));
        LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8I, kp, m, kp));
        LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32I, n, m, n));
        LT(cublasLtMatmulPreferenceCreate(&pref));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_size, sizeof ws_size));
        LT(cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, 1, &res, &nres));
        if (nres < 1) { octet_set_error("cublasLt: no INT8 algorithm for %dx%dx%d", m, n, k); goto fail; }
        *lt_ms = time_ms([&] { cublasLtMatmul(h, op, &alpha, w, la, x, lb, &beta, yi, lc, yi, lc, &res.algo, work, ws_size, 0); }, 20);
        *imma_ms = time_ms([&] { octet_cuda_launch_imma(w, ws, n, k, x, xs, m, y, 0); }, 20);
        *imma_row_ms = time_ms([&] { octet_cuda_launch_imma(w, ws, n, k, x, xs, m, y, 1); }, 20);
        CK(cudaGetLastError());
    }
    rc = 0;
fail:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (op) cublasLtMatmulDescDestroy(op);
    if (h) cublasLtDestroy(h);
    cudaFree(x); cudaFree(w); cudaFree(xs); cudaFree(ws); cudaFree(y); cudaFree(yi); cudaFree(work);
    return rc;
}
