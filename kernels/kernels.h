// CPU kernels: the scalar reference of every hot operation. SIMD versions (issue "CPU speed")
// must give the same int32 sums bit for bit and f32 results within stated tolerances.
#ifndef OCTET_KERNELS_H
#define OCTET_KERNELS_H
#include <stddef.h>
#include <stdint.h>

// Eight int8 dot products at once, lane j pairing activation row a + j*lda with weight row
// w + j*ldw, block by block (bs inputs per block, nb blocks). One of lda, ldw is 0: eight tokens
// against one weight row (prefill), or one token against eight rows (decode). Scales per lane:
// sx and cx are [nb][8] (lane j of block b at b*8 + j); sw (q8g32 block scales) belongs to lane
// j's weight row at sw + j*ldsw; S (weight block sums, asymmetric activations) is a tile of
// octet_block_sum_index's layout: lane j's sum of block b at S[b*8 + j*ldS] (ldS 1: the lanes
// are a tile's 8 rows; 0: one row, S pointing at its place in its tile).
// sw16 (q8g32h decode, instead of sw): the f16 block scales of eight weight rows that make one
// of the file's tiles, laid out [nb][8]: lane j's scale of block b at sw16[b*8 + j] (ldsw unused).
typedef struct {
    const int8_t *a, *w;
    size_t lda, ldw, ldsw, ldS;
    int nb, bs;
    const float *sx, *cx, *sw;
    const uint16_t *sw16;
    const int16_t *S;
    int prefetch;   // a hint: the 8 weight rows after these (ldw > 0) are read next, fetch them ahead
} octet_lanes8;

// Prefill in register tiles (kernels/gemm.c): a panel of P weight rows is packed so that one
// vector holds several rows' 4 consecutive weights, and every token passes it; each (token, row)
// pair gathers a block's 32 products in one int32 lane, so no block needs a horizontal sum. A
// pair's arithmetic is gemm8_acc's (acc from 0, the same terms in block order): the same bits.
typedef struct {
    const int8_t *w;          // [nb][8][P][4]: row r's weights 4q..4q+3 of block b at ((b*8 + q)*P + r)*4
    const int32_t *wofs;      // [nb][P]: -128 x row r's block sum, for the u8 activations below
    const float *S;           // [nb][P]: the block sums as floats (asymmetric activations), else NULL
    const float *sw;          // [nb][P]: grouped weights' scales, else NULL (q8: the row scale comes later)
    const int8_t *a;          // token t's int8 activations at a + t*lda, and the same plus 128 at
    const uint8_t *au;        // au + t*lda (instructions that multiply u8 by s8 add -128 x the block sum)
    size_t lda;
    const float *sx, *cx;     // token t's block b scale and offset at sx[t*nb + b] (sx NULL: applied later)
    int P, nt, nb;
    const float *rs;          // [P]: q8's row scales, multiplied in last (acc = rs[r] * sum), else NULL
    float *acc;               // out: pair (t, r) at acc[t*ldacc + r]
    size_t ldacc;
} octet_tile;

// The f32 products (f32/f16/bf16 weights, and weight-only int8) in register tiles: P weight rows
// widened to f32 once, 8 inputs of each side by side ([k/8][P][8]: row r's inputs 8c..8c+7 at
// (c*P + r)*8), against nt tokens (k % 8 == 0). Each pair keeps dot_f32's 8 partial sums and
// combines them in its order, so out[t*P + r] has dot_f32's bits.
typedef struct {
    const float *w, *a;       // the panel; token t at a + t*lda
    size_t lda;
    int P, nt, k;
    float *out;
} octet_tile_f32;

#define OCTET_PROBE_BYTES 128   // the bytes mac_probe's v must hold (below)

// The primitives each instruction set implements. Every set gives bit-identical results: int32
// dots are exact, and f32 dots keep the reference's 8 partial sums and their combine order.
typedef struct {
    const char *name;
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, int k);
    // 8 partial sums p[i % 8] = fmaf(a[i], b[i], p[i % 8]), combined ((p0+p4) + (p1+p5)) + ((p2+p6) + (p3+p7)).
    // Fused: every set has an FMA (FMA3, FMLA), and a separate multiply and add cost a Zen 4
    // core's f32 tiles a fifth of their speed (twice the operations through its 6-wide dispatch).
    float   (*dot_f32)(const float *a, const float *b, int k);
    // out[i] = dot of the i-th bs-long block of a and b, for nb blocks
    void    (*block_dots_i8)(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out);
    // One weight row as f32 for the f32-activation paths: f16/bf16 widened, q8g32 as
    // sw[i / 32] * w[i] (one multiply: the same bits in every set).
    void    (*row_to_f32)(const void *w, int dtype, const float *sw, int k, float *out);
    // Activations to int8 in blocks of bs inputs (k % bs == 0; bs = k: one scale per row): c NULL
    // as k_quantize_row_i8_blocks, else asymmetric as k_quantize_row_i8_asym (same bits).
    void    (*quantize_i8)(const float *x, int k, int bs, int8_t *q, float *s, float *c);
    // Attention over cached rows (ld floats apart): out[r] = dot_f32(q, k + r*ld, d) for n rows;
    // and y[i] += a[r] * x[r*ld + i] for r = 0..n-1 in turn (a multiply then an add per element).
    // Both give the same bits in every set.
    void    (*dot_rows_f32)(const float *q, const float *k, size_t ld, int n, int d, float *out);
    void    (*axpy_rows_f32)(const float *a, const float *x, size_t ld, int n, float *y, int d);
    // acc[j] gathers lane j's scaled block dots d (int32 dot of block b) in block order:
    //   sw NULL (q8):     acc[j] += sx[b][j] * d            or, with cx: += sx[b][j] * d + cx[b][j] * S[b]
    //   sw, sx (q8g32):   acc[j] += (sx[b][j] * sw[b]) * d  or, with cx: += (sx[b][j] * sw[b]) * d + (cx[b][j] * sw[b]) * S[b]
    //   sw, no sx:        acc[j] += sw[b] * d               (one activation scale per row, applied later)
    // Each lane's arithmetic is the single-pair path's, in the same order, so every grouping of
    // tokens and rows gives the same bits.
    void    (*gemm8_acc)(const octet_lanes8 *g, float acc[8]);
    // k_softmax on each of `rows` rows (row r: n[r] floats at x[r]), and k_swiglu, k_geglu and
    // k_softcap (below), same bits.
    void    (*softmax)(float *const *x, const int *n, int rows);
    void    (*swiglu)(float *y, const float *g, const float *u, int n);
    void    (*geglu)(float *y, const float *g, const float *u, int n);
    void    (*softcap)(float *x, int n, float cap);
    // out[j] = exact int32 dot of token row a + j*lda and weight row w over k inputs: with one
    // activation scale per token nothing is scaled per block, so each lane sums in int32 to the
    // end of the row. (One token against many rows reads them one by one with dot_i8: a single
    // stream through memory, faster than 8 rows side by side.)
    void    (*dots8_i8)(const int8_t *a, size_t lda, const int8_t *w, int k, int32_t out[8]);
    // The compute probe (octet bench): `steps` rounds of 8 independent multiply-add chains on
    // registers with the int8 dot instruction the matmuls use, over the set's widest vector W of
    // bytes: chain j multiplies |v[j/4 + i]| by v[2 + j%4 + i], i < W (v[i] in [-127, 127],
    // OCTET_PROBE_BYTES readable). The chains' operands differ, so a compiler cannot fold them
    // into one (identical chains were folded: the probe then counted 8x what it did). Returns
    // the multiply-adds done; *check gets the sum of all products, wrapping in 32 bits.
    uint64_t (*mac_probe)(const int8_t *v, long steps, int32_t *check);
    // The set's panel height P for gemm_tile (0: the set has none, gemm8_acc does prefill), and
    // the tile product itself: t->nt tokens against a panel packed for t->P rows, in
    // gemm8_acc's scaling modes (sw NULL: q8, with cx asymmetric; sw with sx NULL: q8g32 row
    // scale; sw, sx: q8g32, with cx asymmetric). The scalar one reads any P.
    int tile_rows;
    void (*gemm_tile)(const octet_tile *t);
    // The same for f32 (octet_tile_f32): the set's panel height and product (the scalar one reads any P).
    int tile_rows_f32;
    void (*gemm_tile_f32)(const octet_tile_f32 *t);
} octet_kernel_set;
// The scalar gemm8_acc, which SIMD sets use for block sizes other than 32.
void k_gemm8_acc(const octet_lanes8 *g, float acc[8]);
// The scalar gemm_tile (any P).
void k_gemm_tile(const octet_tile *t);
void k_gemm_tile_f32(const octet_tile_f32 *t);

extern const octet_kernel_set octet_kernels_scalar;
// Name "unavailable" where the compiler could not build them (not x86 / not AArch64, no
// -mavxvnni, no +dotprod).
extern const octet_kernel_set octet_kernels_avx2;
extern const octet_kernel_set octet_kernels_avxvnni;   // AVX2 with the 256-bit vpdpbusd
extern const octet_kernel_set octet_kernels_avx512;    // AVX-512 F, BW, VL and VNNI
extern const octet_kernel_set octet_kernels_neon;      // AArch64 Advanced SIMD
extern const octet_kernel_set octet_kernels_dotprod;   // NEON with sdot (Armv8.2 dotprod)
// The set chosen for this CPU at first use (OCTET_KERNELS=scalar|avx2|avxvnni|avx512|neon|dotprod
// forces one).
const octet_kernel_set *octet_kernels(void);
// The set with this name if this CPU can run it, else NULL.
const octet_kernel_set *octet_kernels_find(const char *name);

// Symmetric per-row int8 quantization of activations: s = max|x| / 127, q = round(x / s).
void k_quantize_row_i8(const float *x, int k, int8_t *q, float *s);
// Exact int32 dot product of two int8 vectors.
int32_t k_dot_i8(const int8_t *a, const int8_t *b, int k);
// f32 dot product, summed in 8 interleaved partial sums then combined in a fixed order, so the
// result does not depend on how work is split between threads.
float k_dot_f32(const float *a, const float *b, int k);

// Rows [n0, n1) of y[m][n] = x[m][:] · w[n][:] for each of the m activation rows.
// q8 weights with int8 activations: y = ws[n] * (xs[m] * sum(xq[m] * wq[n])), in that order.
// xc/wsum: asymmetric activations (NULL: symmetric), see k_quantize_row_i8_asym.
void k_gemm_q8_i8(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m, int k, const int8_t *wq, const float *ws,
                  const int16_t *wsum, int n0, int n1, float *y, int ldy);
// f32 activations with f32, f16 or bf16 weights (dtype as in octet_file.h); `row` is scratch of k floats.
void k_gemm_f32(const octet_kernel_set *ks, const float *x, int m, int k, const void *w, int wdtype, int n0, int n1, float *y, int ldy, float *row);

// xu (the two below): xq's bytes plus 128, which the tiled prefill of u8 x s8 sets reads; NULL:
// made here when needed (the engine makes it once per matmul with the quantization).
// Block-wise int8 activations: one scale per `bs` inputs (k % bs == 0), so an outlier only
// coarsens its own block. y = ws[n] * sum_b xs[m][b] * sum_{i in b} xq[m][i] * wq[n][i].
void k_quantize_row_i8_blocks(const float *x, int k, int bs, int8_t *q, float *s);
void k_gemm_q8_i8_blocks(const octet_kernel_set *ks, const int8_t *xq, const uint8_t *xu, const float *xs, const float *xc, int m, int k, int bs, const int8_t *wq, const float *ws,
                         const int16_t *wsum, int n0, int n1, float *y, int ldy);
// Asymmetric activations: per block of bs inputs, x ~ c + s * q with q in [-127, 127] spanning
// [min, max] (255 levels where a symmetric grid spends half on a sign one-sided data never has).
// A matmul adds c_b * sum_b(w) to each block's product, from the weights' block sums (32 int8
// values each, octet_tensor_block_sums, computed once): wsum[octet_block_sum_index(n, b, nb)],
// nb = ceil(k / 32) per row, so asymmetric blocks are 32 inputs or a whole row.
void k_quantize_row_i8_asym(const float *x, int k, int bs, int8_t *q, float *s, float *c);
// Weight-only INT8: f32 activations times dequantized q8 rows (`row` is scratch of k floats).
void k_gemm_q8_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const float *ws, int n0, int n1, float *y, int ldy, float *row);

// q8g32 and q8g32h weights (one scale per 32 weights, k % 32 == 0; ws: f32 scales, or f16 with
// f16_scales, widened exactly, so both types give the same bits for the same scale values).
// abs = 32: activations scaled per 32 inputs, y = sum_b (xs[m][b] * ws[n][b]) * dot_b; abs = 0:
// one activation scale per row, y = xs[m] * sum_b ws[n][b] * dot_b.
void k_gemm_q8g_i8(const octet_kernel_set *ks, const int8_t *xq, const uint8_t *xu, const float *xs, const float *xc, int m, int k, int abs, const int8_t *wq, const void *ws,
                   int f16_scales, const int16_t *wsum, int n0, int n1, float *y, int ldy);
// Weight-only grouped int8: f32 activations times the dequantized rows (`row`: scratch of k floats).
void k_gemm_q8g_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const void *ws, int f16_scales, int n0, int n1, float *y,
                    int ldy, float *row);

void k_rmsnorm(float *y, const float *x, const float *g, int k, float eps);
// exp as every kernel set computes it: the algorithm of glibc's expf (from Arm's optimized
// routines: x / ln 2 split into k/32 + r, 2^(k/32) from a 32-entry table, a cubic in r, all in
// double with fused multiply-adds), written out so SIMD lanes repeat it. It gives the same bits
// as glibc's expf on x86-64 with FMA for all 2^32 inputs (checked exhaustively when written), so
// octet's results did not move when the libm call went.
float k_expf(float x);
extern const uint64_t k_exp2_table[32];   // bits of 2^(i/32), less i << 47 (the exponent k adds back)
#define K_EXP_INVLN2N 0x1.71547652b82fep+5   /* 32 / ln 2 */
#define K_EXP_SHIFT 0x1.8p+52                /* adding it rounds to an integer in the low bits */
#define K_EXP_C0 0x1.c6af84b912394p-20
#define K_EXP_C1 0x1.ebfce50fac4f3p-13
#define K_EXP_C2 0x1.62e42ff0c52d6p-6
// In place: exp(x - max) / sum, the sum in double in index order (the sets' reference).
void k_softmax(float *x, int n);
void k_softmax_rows(float *const *x, const int *n, int rows);
// y[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u
void k_swiglu(float *y, const float *g, const float *u, int n);
// y = gelu(g) * u with GELU's tanh form 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))), as
// PyTorch's gelu(approximate="tanh") (Gemma), computed as the equal g / (1 + exp(-2z)),
// 2z = g (K_GELU_A + K_GELU_B g^2): a sigmoid, free of tanh's cancellation, with k_expf so the
// SIMD sets reproduce it bit for bit.
#define K_GELU_A 1.5957691216057308f   // 2 sqrt(2/pi)
#define K_GELU_B 0.0713548162726009f   // 2 sqrt(2/pi) 0.044715
void k_geglu(float *y, const float *g, const float *u, int n);
// x = cap tanh(x / cap) (Gemma 2's soft-capping, cap > 0), tanh(a) for a = |x / cap| as
// (1 - e) / (1 + e) with e = exp(-2a) in (0, 1] (no overflow), the sign put back after.
void k_softcap(float *x, int n, float cap);
#endif
