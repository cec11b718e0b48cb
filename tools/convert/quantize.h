// INT8 weight quantization: the per-row (q8) and per-32 (q8g32) layouts of models/FORMAT.md,
// with the clip rules of `octet convert --clip`.
#ifndef OCTET_QUANTIZE_H
#define OCTET_QUANTIZE_H
#include <stdint.h>

enum { CLIP_MSE = 0, CLIP_MAX = 1, CLIP_PCT = 2 };

// Symmetric INT8 per group (a row for OCTET_Q8, 32 weights for OCTET_Q8G32): scale = clip / 127
// with clip = max|group| (CLIP_MAX), the clip that minimises the group's squared quantization
// error (CLIP_MSE), or the pct-th percentile of |group| (CLIP_PCT). Writes the layout of dtype
// (int8 rows, padding, f32 scales) into dst, which holds octet_tensor_nbytes(dtype, rows, cols)
// bytes. Rows are spread over n_threads threads (the result does not depend on it).
void octet_quantize_q8(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, uint8_t *dst, int clip, double pct, int n_threads);
#endif
