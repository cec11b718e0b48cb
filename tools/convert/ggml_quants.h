// GGML tensor types as stored in GGUF files: block geometry and dequantization to f32.
#ifndef OCTET_GGML_QUANTS_H
#define OCTET_GGML_QUANTS_H
#include <stdint.h>

enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7,
    GGML_Q8_0 = 8, GGML_Q8_1 = 9, GGML_Q2_K = 10, GGML_Q3_K = 11, GGML_Q4_K = 12, GGML_Q5_K = 13,
    GGML_Q6_K = 14, GGML_Q8_K = 15, GGML_BF16 = 30
};

// Block size (elements) and bytes per block; 0 when the type is unknown.
int ggml_type_geometry(uint32_t type, uint32_t *block, uint32_t *bytes);
const char *ggml_type_name(uint32_t type);
int ggml_can_dequantize(uint32_t type);
// n must be a multiple of the block size. Arithmetic order follows the reference so results are
// bit-identical to ggml's and gguf-py's dequantizers.
void ggml_dequantize(uint32_t type, const void *src, float *dst, uint64_t n);
#endif
