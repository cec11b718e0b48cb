// AVX2 versions of the kernel primitives. Built with -mavx2 (Makefile); chosen at run time
// only when CPUID says the CPU has AVX2.
#include "kernels.h"
#include "octet_file.h"
#include "util.h"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

// Sum of a[i]*b[i] for 32 int8 pairs, as 8 int32 lanes. maddubs needs an unsigned operand:
// |a| times b carrying a's sign; -128 never occurs, so the 16-bit pair sums cannot saturate.
static inline __m256i dot32v(__m256i va, __m256i vb) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}
static inline __m256i dot32(const int8_t *a, const int8_t *b) {
    return dot32v(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)b));
}

static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int k) {
    __m256i acc = _mm256_setzero_si256();
    int i = 0;
    for (; i + 32 <= k; i += 32) acc = _mm256_add_epi32(acc, dot32(a + i, b + i));
    int32_t s = hsum_i32(acc);
    for (; i < k; i++) s += (int32_t)a[i] * b[i];
    return s;
}

// Eight 8-lane partial dots reduced to one vector whose lane j is the sum of d[j].
static inline __m256i reduce8(const __m256i d[8]) {
    __m256i h01 = _mm256_hadd_epi32(d[0], d[1]), h23 = _mm256_hadd_epi32(d[2], d[3]);
    __m256i h45 = _mm256_hadd_epi32(d[4], d[5]), h67 = _mm256_hadd_epi32(d[6], d[7]);
    __m256i q0 = _mm256_hadd_epi32(h01, h23), q1 = _mm256_hadd_epi32(h45, h67);
    // q0 lanes: [d0lo d1lo d2lo d3lo | d0hi d1hi d2hi d3hi]; add the halves
    __m256i lo = _mm256_permute2x128_si256(q0, q1, 0x20), hi = _mm256_permute2x128_si256(q0, q1, 0x31);
    return _mm256_add_epi32(lo, hi);
}

static void block_dots_i8(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out) {
    if (bs != 32) {
        for (int i = 0; i < nb; i++) out[i] = dot_i8(a + i * bs, b + i * bs, bs);
        return;
    }
    int i = 0;
    for (; i + 8 <= nb; i += 8) {  // eight blocks: reduce each to one lane, store together
        __m256i d[8];
        for (int j = 0; j < 8; j++) d[j] = dot32(a + (i + j) * 32, b + (i + j) * 32);
        _mm256_storeu_si256((__m256i *)(out + i), reduce8(d));
    }
    for (; i < nb; i++) out[i] = hsum_i32(dot32(a + i * 32, b + i * 32));
}

// F16C widens 8 halves at once (dispatch requires F16C with AVX2); q8g32 converts 8 int8.
static void row_to_f32(const void *w, int dtype, const float *sw, int k, float *out) {
    int i = 0;
    if (dtype == OCTET_F16) {
        for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i))));
        for (; i < k; i++) out[i] = octet_f16_to_f32(((const uint16_t *)w)[i]);
    } else if (dtype == OCTET_Q8G32) {
        const int8_t *q = w;
        for (; i + 8 <= k; i += 8) {  // 8 never straddle a group of 32
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + i))));
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_set1_ps(sw[i / OCTET_Q8_GROUP]), v));
        }
        for (; i < k; i++) out[i] = sw[i / OCTET_Q8_GROUP] * (float)q[i];
    } else octet_kernels_scalar.row_to_f32(w, dtype, sw, k, out);
}

static void axpy_f32(float a, const float *x, float *y, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

// One 32-weight block of w meets the same block of 8 activation rows (w loaded once); the 8
// dots land in one vector whose lane j is row j, scaled with the reference's operations.
static void gemm8_acc(const int8_t *a, size_t lda, const int8_t *w, int nb, int bs, const float *sx, const float *sw,
                      const float *cx, const int16_t *S, float acc[8]) {
    if (bs != 32) { k_gemm8_acc(a, lda, w, nb, bs, sx, sw, cx, S, acc); return; }
    __m256 vacc = _mm256_loadu_ps(acc);
    for (int b = 0; b < nb; b++) {
        __m256i vw = _mm256_loadu_si256((const __m256i *)(w + b * 32)), d[8];
        for (int j = 0; j < 8; j++) d[j] = dot32v(_mm256_loadu_si256((const __m256i *)(a + j * lda + (size_t)b * 32)), vw);
        __m256 df = _mm256_cvtepi32_ps(reduce8(d)), t;
        if (!sw) {
            t = _mm256_mul_ps(_mm256_loadu_ps(sx + b * 8), df);
            if (cx) t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_loadu_ps(cx + b * 8), _mm256_set1_ps((float)S[b])));
        } else if (!sx) t = _mm256_mul_ps(_mm256_set1_ps(sw[b]), df);
        else if (cx) t = _mm256_mul_ps(_mm256_set1_ps(sw[b]), _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(sx + b * 8), df),
                                                                           _mm256_mul_ps(_mm256_loadu_ps(cx + b * 8), _mm256_set1_ps((float)S[b]))));
        else t = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(sx + b * 8), _mm256_set1_ps(sw[b])), df);
        vacc = _mm256_add_ps(vacc, t);
    }
    _mm256_storeu_ps(acc, vacc);
}

// Lane j accumulates the products i = j (mod 8) with a separate multiply and add, exactly as
// the reference's partial sum p[j]; the tail and the final combine follow it too.
static float dot_f32(const float *a, const float *b, int k) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    float p[8];
    _mm256_storeu_ps(p, acc);
    for (int j = 0; i < k; i++, j++) p[j] += a[i] * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

const octet_kernel_set octet_kernels_avx2 = {"avx2", dot_i8, dot_f32, block_dots_i8, row_to_f32, axpy_f32, gemm8_acc};
#else
const octet_kernel_set octet_kernels_avx2 = {"unavailable", 0, 0, 0, 0, 0, 0};
#endif
