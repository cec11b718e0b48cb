#include "octet_cuda.h"
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" int octet_cuda_describe(char *buf, size_t cap) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        snprintf(buf, cap, "none (%s)", err != cudaSuccess ? cudaGetErrorString(err) : "no device");
        return 0;
    }
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    snprintf(buf, cap, "%s, compute %d.%d, %.1f GiB, %d SMs%s", p.name, p.major, p.minor,
             p.totalGlobalMem / 1073741824.0, p.multiProcessorCount, n > 1 ? " (+ more devices)" : "");
    return n;
}

extern "C" const char *octet_cuda_kernel_names(void) {
    return "DP4A GEMV (decode: streaming, resident grid, argmax in the LM head), INT8 mma.sync m16n8k32 GEMM (prefill; scale per 32 or per token), flash-decoding attention (decode: RoPE, cache store and merge in one kernel), CUDA graph per decode step with programmatic dependent launch";
}

extern "C" size_t octet_cuda_memory_used(void) {
    size_t free_b = 0, total = 0;
    return cudaMemGetInfo(&free_b, &total) == cudaSuccess ? total - free_b : 0;
}
