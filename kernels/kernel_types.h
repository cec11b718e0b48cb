// What the kernels need to know about weights and number formats: the dtypes, the q8 layouts
// (groups, where the scales sit), half-float conversions. kernels/ owns these; engine/ includes this header
// (octet_file.h, util.h) and kernels/ includes nothing from engine/.
#ifndef OCTET_KERNEL_TYPES_H
#define OCTET_KERNEL_TYPES_H
#include <stdint.h>

enum octet_dtype { OCTET_F32 = 0, OCTET_F16 = 1, OCTET_BF16 = 2, OCTET_Q8 = 3, OCTET_Q8G32 = 4, OCTET_Q8G32H = 5, OCTET_DTYPE_COUNT };
// q8g32: int8 with one f32 scale per 32 consecutive weights of a row (cols % 32 == 0);
// q8g32h: the same with f16 scales (8.5 bits per weight, llama.cpp Q8_0's size).
#define OCTET_Q8_GROUP 32u
// Tensor data (and the scales after a q8 tensor's int8 values) start on this boundary.
#define OCTET_ALIGN    64u

// Offset of the scales inside an int8 tensor's data (all put them after the int8 values padded
// to 64 bytes: one f32 per row for q8, cols / 32 per row for q8g32 (f32) and q8g32h (f16)).
static inline uint64_t octet_q8_scales_offset(uint64_t rows, uint64_t cols) {
    return (rows * cols + OCTET_ALIGN - 1) / OCTET_ALIGN * OCTET_ALIGN;
}
static inline int octet_is_q8(uint32_t dtype) { return dtype == OCTET_Q8 || dtype == OCTET_Q8G32 || dtype == OCTET_Q8G32H; }
// int8 with one scale per 32 weights (q8g32, q8g32h).
static inline int octet_is_q8_grouped(uint32_t dtype) { return dtype == OCTET_Q8G32 || dtype == OCTET_Q8G32H; }
// Weights sharing one scale: a whole row for q8, 32 for the grouped types.
static inline uint64_t octet_q8_group(uint32_t dtype, uint64_t cols) { return octet_is_q8_grouped(dtype) ? OCTET_Q8_GROUP : cols; }
// Bytes of one stored scale: 2 (f16) for q8g32h, else 4 (f32).
static inline uint64_t octet_q8_scale_bytes(uint32_t dtype) { return dtype == OCTET_Q8G32H ? 2 : 4; }
// Where scale b (of nb per row) of row r sits among a tensor's scales: row-major for q8 and
// q8g32; q8g32h in tiles of 8 rows, block by block ([rows / 8][nb][8]), so the eight rows a
// decode step reads side by side find their scales of a block in 16 consecutive bytes.
static inline uint64_t octet_q8_scale_index(uint32_t dtype, uint64_t r, uint64_t b, uint64_t nb) {
    return dtype == OCTET_Q8G32H ? ((r / 8) * nb + b) * 8 + r % 8 : r * nb + b;
}
// Rows of scales stored: q8g32h fills its last tile (the missing rows' scales are 0).
static inline uint64_t octet_q8_scale_rows(uint32_t dtype, uint64_t rows) { return dtype == OCTET_Q8G32H ? (rows + 7) / 8 * 8 : rows; }
// int16 block sums per row of an int8 tensor (one per 32 inputs, the last block maybe short).
static inline uint64_t octet_block_sums_per_row(uint64_t cols) { return (cols + OCTET_Q8_GROUP - 1) / OCTET_Q8_GROUP; }
// Where block b's sum of row r sits: in tiles of 8 rows, block by block ([rows / 8][nb][8], the
// last tile filled with 0), as q8g32h's scales, so decode's 8 rows load a block's sums as one
// vector (a gather of 8 rows' sums cost ~13% of SmolLM2's decode on a Zen 4 core).
static inline uint64_t octet_block_sum_index(uint64_t r, uint64_t b, uint64_t nb) { return ((r / 8) * nb + b) * 8 + r % 8; }

// IEEE half and bfloat16 (kernels/half.c).
float    octet_f16_to_f32(uint16_t h);
uint16_t octet_f32_to_f16(float f);   // round to nearest even, overflow -> inf
float    octet_bf16_to_f32(uint16_t h);
uint16_t octet_f32_to_bf16(float f);  // round to nearest even
#endif
