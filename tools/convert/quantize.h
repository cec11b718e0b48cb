// INT8 weight quantization: the per-row (q8) and per-32 (q8g32) layouts of models/FORMAT.md,
// with the clip rules of `octet convert --clip`.
#ifndef OCTET_QUANTIZE_H
#define OCTET_QUANTIZE_H
#include <stdint.h>
#include "kernel_types.h"

enum { CLIP_MSE = 0, CLIP_MAX = 1, CLIP_PCT = 2 };

// Symmetric INT8 per group (a row for OCTET_Q8, 32 weights for OCTET_Q8G32): scale = clip / 127
// with clip = max|group| (CLIP_MAX), the clip that minimises the group's squared quantization
// error (CLIP_MSE), or the pct-th percentile of |group| (CLIP_PCT). Writes the layout of dtype
// (int8 rows, padding, f32 scales) into dst, which holds octet_tensor_nbytes(dtype, rows, cols)
// bytes. q8g32h stores each scale in f16 and rounds the weights with the stored value. Rows are
// spread over n_threads threads (the result does not depend on it). Returns 0, or -1 with the
// error set when a scale does not fit (q8g32h: beyond f16's 65504).
int octet_quantize_q8(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, uint8_t *dst, int clip, double pct, int n_threads);
// The type a matrix of width cols is written as for the requested type: the grouped types need
// whole groups of 32, narrower or ragged rows fall back to per-row q8.
static inline uint32_t octet_q8_dtype_for(uint32_t type, uint64_t cols) { return octet_is_q8_grouped(type) && cols % OCTET_Q8_GROUP ? OCTET_Q8 : type; }
// The scale of one group of n weights (a row for q8, 32 weights for q8g32) under the clip rule.
float octet_q8_group_scale(const float *v, uint64_t n, int clip, double pct);
// Stores scale number i in a tensor's scales (f32, or f16 for q8g32h) and returns the value
// stored, which the group's weights are then rounded with (inf: too large for f16).
float octet_q8_store_scale(uint8_t *scales, uint32_t dtype, uint64_t i, float scale);
// Sets the error for a scale beyond the dtype's range; returns -1.
int octet_q8_scale_overflow(uint32_t dtype);

// The same layouts and scale rules, with GPTQ's error-compensating rounding: each row's columns
// are rounded in order and each rounding error is pushed onto the columns not yet rounded
// through the inverse of H = X^T X (cols x cols, row-major) of the calibration inputs X, so the
// products X W^T move less than with plain rounding. damp (e.g. 0.01) x mean(diag H) is added
// to H's diagonal; never-active inputs (H_ii = 0) round plainly. Per-row scales come from the
// unmodified row, per-32 scales from the group as it stands when its turn comes. With H
// diagonal this is plain rounding, bit for bit. x is not modified. Returns 0, or -1 with the
// error set (H not positive definite after dampening, out of memory).
int octet_quantize_gptq(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, const double *H, double damp, uint8_t *dst, int clip, double pct,
                        int n_threads);
#endif
