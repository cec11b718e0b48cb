// A model's weights on the GPU, uploaded once and shared by every context of that model (the
// slots of octet serve each have their own KV cache and activations, not their own weights).
#ifndef OCTET_CUDA_WEIGHTS_CUH
#define OCTET_CUDA_WEIGHTS_CUH
#include "dmat.cuh"
extern "C" {
#include "model.h"
}

// q|k|v and gate|up are each one row-wise concatenated matrix.
typedef struct { dmat qkv, o, gu, down; float *attn_norm, *ffn_norm, *bqkv; } dlayer;

typedef struct gpu_weights {
    const octet_model *m;
    int refs;                   // contexts using them
    dlayer *L;
    dmat embd, out;             // out == embd when the embeddings are tied
    float *out_norm, *inv_freq;
    size_t bytes;
    struct gpu_weights *next;
} gpu_weights;

// The weights of m, uploaded by the first caller; NULL on error (octet's error set).
gpu_weights *gpu_weights_acquire(const octet_model *m);
// Frees them with the last context that used them.
void gpu_weights_release(gpu_weights *w);
#endif
