// The narrow interface between the forward pass and the kernels. The CPU implementation is
// engine/backend_cpu.c (over the kernels of kernels/); every operation gives the same result whatever the thread count.
#ifndef OCTET_BACKEND_H
#define OCTET_BACKEND_H
#include "octet_file.h"
#include "threadpool.h"
#include <stdint.h>

enum { OCTET_ASYM_NONE = 0, OCTET_ASYM_ALL = 1, OCTET_ASYM_MARKED = 2 };

// Scratch a backend needs for m activation rows of width up to k (one per context).
typedef struct {
    int8_t *xq;     // m * k int8 activations
    uint8_t *xu;    // the same plus 128, for prefill's register tiles (kernels.h, octet_tile)
    float  *xs;     // activation scales (one per row or per block)
    float  *xc;     // asym: the matching offsets (block midpoints)
    float  *rows;   // per-thread row conversion space (n_threads * k)
    int     max_m, max_k, n_threads;
    int     act_block;  // 0: one activation scale per row; >0: per block of that many inputs; <0: f32 activations
    int     asym;       // asymmetric int8 activations (scale + offset) for weights with block sums:
                        // OCTET_ASYM_NONE, _ALL, or _MARKED (tensors marked act_asym only)
} octet_scratch;
int  octet_scratch_init(octet_scratch *s, int max_m, int max_k, int n_threads, int act_block, int asym);
void octet_scratch_free(octet_scratch *s);

// y[m][w->rows] = x[m][w->cols] · W^T. q8 weights: activations are quantized to int8 (one scale
// per act_block inputs, or per row when act_block is 0 or does not divide the row) and
// multiplied in int32 (DESIGN.md, "INT8 arithmetic"), with an offset per scale when asym is set
// and the weights have block sums; act_block < 0, or a tensor marked act_f32, keeps f32
// activations (weight-only INT8). f32/f16/bf16 weights: f32 math.
void octet_matmul(octet_threadpool *tp, octet_scratch *s, const octet_tensor *w, const float *x, int m, float *y);
// y[i] = x · w[i]^T for count (<= OCTET_MATMUL_MAX) matrices of the same width on one input (q, k
// and v; gate and up): quantized once, one pass of the threads, the same bits as one by one.
#define OCTET_MATMUL_MAX 4
void octet_matmul_n(octet_threadpool *tp, octet_scratch *s, const octet_tensor *const *w, int count, const float *x, int m, float *const *y);
#endif
