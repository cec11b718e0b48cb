// A weight matrix on the device, as the kernels (kernels.cuh) and the upload (weights.cu) see it.
#ifndef OCTET_CUDA_DMAT_CUH
#define OCTET_CUDA_DMAT_CUH
#include <cuda_fp16.h>
#include <stdint.h>

#define QBLOCK 32   // activation quantization block (and the padding unit of weight rows)

// A weight matrix on the device: n rows of kp (k rounded up to 32, zero padded) int8 with one
// f32 scale per row, or the same rows as f16 for unquantized tensors. Grouped int8 (q8g32,
// q8g32h) keeps its int8 rows and adds g, one f32 scale per 32 weights ([n][kp / 32], the
// file's values, f16 ones widened exactly); its s is 1 in every row, so the per-row epilogues
// leave the sums as they are.
struct dmat {
    int n, k, kp, q8;
    int8_t *q;
    float *s;
    __half *h;
    float *g;
};
#endif
