// AVX-512 VNNI versions of the kernel primitives (with AVX-512 F, BW and VL). Built with those
// flags (Makefile); chosen at run time only when CPUID says the CPU has them. Every primitive gives
// the scalar reference's bits, as the AVX2 set's do.
#include "kernels.h"
#include "kernel_types.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && ((defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__FMA__)) || defined(OCTET_EMULATED_AVX512))
#include "avx2_helpers.h"

// The AVX2 set's f32 dot products: the reference's 8 partial sums per row fix their width at 8
// lanes, so 512 bits would only add shuffles.
float octet_avx2_dot_f32(const float *a, const float *b, int k);
void octet_avx2_dot_rows_f32(const float *q, const float *k, size_t ld, int n, int d, float *out);
// and its axpy over rows, for widths under 64 (the remainder of a row here).
void octet_avx2_axpy_rows_f32(const float *a, const float *x, size_t ld, int n, float *y, int d);

// vpdpbusd multiplies unsigned by signed bytes. The unsigned operand is |a|, and b takes a's sign
// (subtracted from zero where a < 0; where a = 0 the product is 0 either way), so each int32 lane
// sums its four products exactly (|a| <= 127: -128 never occurs). The sign mask is a's, computed
// once where a is shared. (DESIGN.md's alternative, a + 128 and the weights' row sums, needs the
// activations stored offset; this costs one masked subtract per 64 bytes and nothing at load.)
HOT __m512i dot64(__m512i abs_a, __mmask64 neg_a, __m512i b) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs_a, _mm512_mask_sub_epi8(b, neg_a, _mm512_setzero_si512(), b));
}

HOT int32_t hsum512_i32(__m512i v) {
    return hsum_i32(_mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

// The tail's bytes past k load as zeros (masked loads do not touch them).
static int32_t dot_i8(const int8_t *a, const int8_t *b, int k) {
    __m512i acc = _mm512_setzero_si512();
    for (int i = 0; i < k; i += 64) {
        __mmask64 m = k - i >= 64 ? ~0ull : (1ull << (k - i)) - 1;
        __m512i va = _mm512_maskz_loadu_epi8(m, a + i), vb = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(va), _mm512_mask_sub_epi8(vb, _mm512_movepi8_mask(va), _mm512_setzero_si512(), vb));
    }
    return hsum512_i32(acc);
}

// Eight vectors of two 32-byte blocks each (d[j]: lane j's blocks b and b + 1) reduced to one:
// lanes 0-7 are the eight block-b sums, lanes 8-15 the block-(b+1) sums. The unpacks fold each
// 128-bit chunk to four rows' sums, as reduce8 does; chunks 0-1 are block b, 2-3 block b + 1.
HOT __m512i reduce8x2(const __m512i d[8]) {
    __m512i f01 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[0], d[1]), _mm512_unpackhi_epi32(d[0], d[1]));
    __m512i f23 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2], d[3]), _mm512_unpackhi_epi32(d[2], d[3]));
    __m512i f45 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[4], d[5]), _mm512_unpackhi_epi32(d[4], d[5]));
    __m512i f67 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[6], d[7]), _mm512_unpackhi_epi32(d[6], d[7]));
    __m512i lo = _mm512_add_epi32(_mm512_unpacklo_epi64(f01, f23), _mm512_unpackhi_epi64(f01, f23));  // rows 0-3 per chunk
    __m512i hi = _mm512_add_epi32(_mm512_unpacklo_epi64(f45, f67), _mm512_unpackhi_epi64(f45, f67));  // rows 4-7
    // chunks [lo0 + lo1, lo2 + lo3, hi0 + hi1, hi2 + hi3], then ordered [b rows 0-3, b rows 4-7, b+1 rows 0-3, b+1 rows 4-7]
    __m512i s = _mm512_add_epi32(_mm512_shuffle_i32x4(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_i32x4(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(3, 1, 2, 0));
}

static void block_dots_i8(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out) {
    if (bs != 32) {
        for (int i = 0; i < nb; i++) out[i] = dot_i8(a + i * bs, b + i * bs, bs);
        return;
    }
    int i = 0;
    for (; i + 16 <= nb; i += 16) {  // sixteen blocks, two per vector; the reduction's lanes put back in block order
        __m512i d[8];
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
            __m512i va = _mm512_loadu_si512(a + (i + 2 * j) * 32);
            d[j] = dot64(_mm512_abs_epi8(va), _mm512_movepi8_mask(va), _mm512_loadu_si512(b + (i + 2 * j) * 32));
        }
        __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        _mm512_storeu_si512(out + i, _mm512_permutexvar_epi32(order, reduce8x2(d)));
    }
    for (; i < nb; i++) out[i] = dot_i8(a + i * 32, b + i * 32, 32);
}

// Sixteen values at a time; bf16 is its bits shifted up, as the reference's conversion.
static void row_to_f32(const void *w, int dtype, const float *sw, int k, float *out) {
    int i = 0;
    const uint16_t *h = w;
    if (dtype == OCTET_F16) {
        for (; i + 16 <= k; i += 16) _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
        for (; i < k; i++) out[i] = octet_f16_to_f32(h[i]);
    } else if (dtype == OCTET_BF16) {
        for (; i + 16 <= k; i += 16)
            _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(h + i))), 16)));
        for (; i < k; i++) out[i] = octet_bf16_to_f32(h[i]);
    } else if (dtype == OCTET_Q8G32) {
        const int8_t *q = w;
        for (; i + 16 <= k; i += 16) {  // 16 never straddle a group of 32
            __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + i))));
            _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_set1_ps(sw[i / OCTET_Q8_GROUP]), v));
        }
        for (; i < k; i++) out[i] = sw[i / OCTET_Q8_GROUP] * (float)q[i];
    } else octet_kernels_scalar.row_to_f32(w, dtype, sw, k, out);
}

// The scalar round_clamp127 on 16 lanes: |v| capped at 127 (a NaN becomes 127, as minps keeps
// the second operand), truncated, plus 1 when the doubled fraction reaches 1, sign restored.
HOT __m512i round_clamp127_16(__m512 v) {
    __m512 a = _mm512_min_ps(_mm512_abs_ps(v), _mm512_set1_ps(127.0f));
    __m512i i = _mm512_cvttps_epi32(a);
    __m512 fr = _mm512_sub_ps(a, _mm512_cvtepi32_ps(i));
    __m512i r = _mm512_add_epi32(i, _mm512_cvttps_epi32(_mm512_add_ps(fr, fr)));
    return _mm512_mask_sub_epi32(r, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_si512(), r);
}

// n inputs (n % 32 == 0) as (x - mid) * inv rounded, 16 at a time, narrowed to bytes in order.
static void quantize_run(const float *x, int n, float mid, float inv, int8_t *q) {
    __m512 vm = _mm512_set1_ps(mid), vi = _mm512_set1_ps(inv);
    for (int i = 0; i < n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtsepi32_epi8(round_clamp127_16(_mm512_mul_ps(mid != 0 ? _mm512_sub_ps(v, vm) : v, vi))));
    }
}

// Sixteen lanes to one, through the AVX2 set's 8-lane order.
HOT __m256 lo8(__m512 v) { return _mm512_castps512_ps256(v); }
HOT __m256 hi8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
HOT float hmax16(__m512 v) { return hmax8(_mm256_max_ps(lo8(v), hi8(v))); }
HOT float hmin16(__m512 v) { return hmin8(_mm256_min_ps(lo8(v), hi8(v))); }

// As the reference: the max of |x| (maxps keeps its second operand, so a NaN never wins) or the
// min and max from x[0] on; lanes combine in any order, as min and max of numbers do.
static float block_amax(const float *v, int n) {
    __m512 amax = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) amax = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(v + i)), amax);
    return hmax16(amax);
}
static void block_minmax(const float *v, int n, float *l, float *h) {
    __m512 lo = _mm512_set1_ps(v[0]), hi = lo;
    for (int i = 0; i < n; i += 16) {
        __m512 t = _mm512_loadu_ps(v + i);
        lo = _mm512_min_ps(t, lo);
        hi = _mm512_max_ps(t, hi);
    }
    *l = hmin16(lo);
    *h = hmax16(hi);
}
static void quantize_i8(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    quantize_blocks(x, k, bs, q, s, c, block_amax, block_minmax, quantize_run);
}

// y kept in registers 64 floats at a time (a head of 64 or 128) while the rows stream past, each
// element's adds in row order as the reference; a remainder under 64 is the AVX2 set's.
static void axpy_rows_f32(const float *a, const float *x, size_t ld, int n, float *y, int d) {
    int i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 acc[4];
        _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) acc[v] = _mm512_loadu_ps(y + i + 16 * v);
        for (int r = 0; r < n; r++) {
            __m512 va = _mm512_set1_ps(a[r]);
            const float *xr = x + r * ld + i;
            _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(va, _mm512_loadu_ps(xr + 16 * v)));
        }
        _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) _mm512_storeu_ps(y + i + 16 * v, acc[v]);
    }
    if (i < d) octet_avx2_axpy_rows_f32(a, x + i, ld, n, y + i, d - i);
}

// Blocks b and b + 1's dots as floats (lanes 0-7: block b, 8-15: block b + 1): the shared side's
// 64 bytes loaded once with their absolute value and sign mask, lane j's 64 bytes at p + j*ld.
HOT __m512 dots8x2(const int8_t *sh, const int8_t *p, size_t ld) {
    __m512i vs = _mm512_loadu_si512(sh), as = _mm512_abs_epi8(vs), d[8];
    __mmask64 neg = _mm512_movepi8_mask(vs);
    const int8_t *at[8];
    lane_rows(p, ld, at);
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) d[j] = dot64(as, neg, _mm512_loadu_si512(at[j]));
    return _mm512_cvtepi32_ps(reduce8x2(d));
}

// One block (an odd count's last) with the 256-bit vpdpbusd.
HOT __m256 dots8(const int8_t *sh, const int8_t *p, size_t ld) {
    __m256i vs = _mm256_loadu_si256((const __m256i *)sh), as = _mm256_sign_epi8(vs, vs), d[8];
    const int8_t *at[8];
    lane_rows(p, ld, at);
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
        d[j] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), as, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)at[j]), vs));
    return _mm256_cvtepi32_ps(reduce8(d));
}

// block_term for blocks b and b + 1 at once (lanes 8-15: block b + 1): the same operations per
// lane. sx and cx are [nb][8], so the two blocks' are 16 consecutive floats, and so are a tile's
// f16 scales and block sums; f32 sw gathers (lane j's offsets j*ld and j*ld + 1); one row's
// values broadcast one per half.
HOT __m512 halves(float lo, float hi) { return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(lo), _mm512_set1_ps(hi)); }
HOT __m512 pair_sw(const octet_lanes8 *g, int b, __m512i isw, int half) {
    if (half) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g->sw16 + b * 8)));  // f16 tile: blocks b, b + 1's 16 scales
    return g->ldsw ? _mm512_i32gather_ps(isw, g->sw + b, 4) : halves(g->sw[b], g->sw[b + 1]);
}
HOT __m512 pair_S(const octet_lanes8 *g, int b) {
    if (!g->ldS) return halves((float)g->S[b * 8], (float)g->S[b * 8 + 8]);
    return _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(g->S + b * 8))));
}
HOT __m512 pair_term(const octet_lanes8 *g, int b, __m512 df, int mode, __m512i isw) {
    int half = mode & HALF;
    mode &= ~HALF;
    if (mode == Q8) return _mm512_mul_ps(_mm512_loadu_ps(g->sx + b * 8), df);
    if (mode == Q8_ASYM)
        return _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(g->sx + b * 8), df), _mm512_mul_ps(_mm512_loadu_ps(g->cx + b * 8), pair_S(g, b)));
    if (mode == G32_ROW) return _mm512_mul_ps(pair_sw(g, b, isw, half), df);
    if (mode == G32_ASYM) {
        __m512 sw = pair_sw(g, b, isw, half);
        return _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(g->sx + b * 8), sw), df),
                             _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(g->cx + b * 8), sw), pair_S(g, b)));
    }
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(g->sx + b * 8), pair_sw(g, b, isw, half)), df);
}

// Two blocks per step; the accumulator takes block b's terms, then block b + 1's, as the
// reference adds them.
HOT void gemm8_loop(const octet_lanes8 *g, float acc[8], int mode, int rows) {
    const int8_t *sh = g->lda ? g->w : g->a, *ln = g->lda ? g->a : g->w;
    size_t ld = g->lda ? g->lda : g->ldw;
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i isw = _mm256_mullo_epi32(lanes, _mm256_set1_epi32((int)g->ldsw));
    __m512i next = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512i isw2 = _mm512_add_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(isw), isw, 1), next);
    __m256 vacc = _mm256_loadu_ps(acc);
    const int nb = g->nb;   // (read once: the loop's loads may alias *g)
    const int8_t *w = g->w;
    size_t ahead = prefetch_ahead(ld);
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        if (rows && g->prefetch) prefetch_rows(w, ld, ahead, b);
        __m512 t = pair_term(g, b, dots8x2(sh + b * 32, ln + (size_t)b * 32, ld), mode, isw2);
        vacc = _mm256_add_ps(vacc, lo8(t));
        vacc = _mm256_add_ps(vacc, hi8(t));
    }
    if (b < nb) vacc = _mm256_add_ps(vacc, block_term(g, b, dots8(sh + b * 32, ln + (size_t)b * 32, ld), mode, isw));
    _mm256_storeu_ps(acc, vacc);
}
HOT void gemm8_mode(const octet_lanes8 *g, float acc[8], int mode) {
    if (g->ldw) gemm8_loop(g, acc, mode, 1);
    else gemm8_loop(g, acc, mode, 0);
}

static void gemm8_acc(const octet_lanes8 *g, float acc[8]) { gemm8_by_mode(g, acc, gemm8_mode); }

// 64 products per chain and step with vpdpbusd on 512 bits, chain j on |x_{j/4}| and y_{j%4}
// (kernels.h); the empty asm makes the |x| operands look new every step (in memory when the
// instructions are emulated).
static uint64_t mac_probe(const int8_t *v, long steps, int32_t *check) {
    __m512i x[2], y[4], acc[8];
    for (int s = 0; s < 2; s++) x[s] = _mm512_abs_epi8(_mm512_loadu_si512(v + s));
    for (int t = 0; t < 4; t++) y[t] = _mm512_loadu_si512(v + 2 + t);
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_si512();
    for (long s = 0; s < steps; s++) {
#ifdef OCTET_EMULATED_AVX512
        __asm__ volatile("" : "+m"(x[0]), "+m"(x[1]));
#else
        __asm__ volatile("" : "+v"(x[0]), "+v"(x[1]));
#endif
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x[j / 4], y[j % 4]);
    }
    int32_t l[16];
    uint32_t t = 0;
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_si512(l, acc[j]);
        for (int i = 0; i < 16; i++) t += (uint32_t)l[i];
    }
    *check = (int32_t)t;
    return (uint64_t)steps * 8 * 64;
}

// Eight whole-row dots, 64 bytes a step (the weight row's absolute value and sign mask once per
// step), each token's sums kept in int32 to the end of the row; the last step's bytes past k load
// as zeros. The reduction's halves (lanes 0-7, 8-15) are the two 32-byte halves of each step.
static void dots8_i8(const int8_t *a, size_t lda, const int8_t *w, int k, int32_t out[8]) {
    __m512i acc[8];
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_si512();
    for (int i = 0; i < k; i += 64) {
        __mmask64 m = k - i >= 64 ? ~0ull : (1ull << (k - i)) - 1;
        __m512i vw = _mm512_maskz_loadu_epi8(m, w + i), aw = _mm512_abs_epi8(vw);
        __mmask64 neg = _mm512_movepi8_mask(vw);
        const int8_t *p = a + i;
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
            __m512i va = _mm512_maskz_loadu_epi8(m, p + j * lda);
            acc[j] = _mm512_dpbusd_epi32(acc[j], aw, _mm512_mask_sub_epi8(va, neg, _mm512_setzero_si512(), va));
        }
    }
    __m512i r = reduce8x2(acc);
    _mm256_storeu_si256((__m256i *)out, _mm256_add_epi32(_mm512_castsi512_si256(r), _mm512_extracti64x4_epi64(r, 1)));
}

// k_expf on 8 lanes in double, before the rounding to float: the same operations in order.
HOT __m512d exp8d(__m256 x) {
    __m512d xd = _mm512_cvtps_pd(x), inv = _mm512_set1_pd(K_EXP_INVLN2N), shift = _mm512_set1_pd(K_EXP_SHIFT);
    __m512d kd = _mm512_fmadd_pd(inv, xd, shift);
    __m512i ki = _mm512_castpd_si512(kd);
    __m512d r = _mm512_fmsub_pd(inv, xd, _mm512_sub_pd(kd, shift));
    __m512i t = _mm512_i64gather_epi64(_mm512_and_si512(ki, _mm512_set1_epi64(31)), (const void *)k_exp2_table, 8);
    __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64(ki, 47)));
    __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(K_EXP_C0), r, _mm512_set1_pd(K_EXP_C1)), r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(K_EXP_C2), r, _mm512_set1_pd(1.0));
    return _mm512_mul_pd(_mm512_fmadd_pd(z, r2, y), s);
}

// k_expf on 16 lanes; sixteen values of which one is past +-88 (or inf, NaN) take k_expf
// itself, whose saturations are branches.
HOT __m512 exp16(__m512 x) {
    __m512i top = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 20), _mm512_set1_epi32(0x7ff));
    if (_mm512_cmpgt_epi32_mask(top, _mm512_set1_epi32(0x42a))) {
        float v[16];
        _mm512_storeu_ps(v, x);
        for (int j = 0; j < 16; j++) v[j] = k_expf(v[j]);
        return _mm512_loadu_ps(v);
    }
    __m256 lo = _mm512_cvtpd_ps(exp8d(lo8(x))), hi = _mm512_cvtpd_ps(exp8d(hi8(x)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

// k_softmax: the max lane by lane (a NaN never wins; the max is the same in any order), exp
// sixteen at a time; set_helpers.h sums several rows side by side and scales them.
static void max_exp(float *x, int n) {
    __m512 vm = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        vm = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, vm, _CMP_GT_OQ), vm, v);
    }
    float m16[16], mx = -INFINITY;
    _mm512_storeu_ps(m16, vm);
    for (int j = 0; j < 16; j++) mx = m16[j] > mx ? m16[j] : mx;
    for (int j = i; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    __m512 vmx = _mm512_set1_ps(mx);
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx)));
    for (; i < n; i++) x[i] = k_expf(x[i] - mx);
}
static void scale_row(float *x, int n, float inv) {
    int i = 0;
    __m512 vi = _mm512_set1_ps(inv);
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vi));
    for (; i < n; i++) x[i] *= inv;
}
static void softmax(float *const *x, const int *n, int rows) { softmax_rows(x, n, rows, max_exp, scale_row); }

static void swiglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 vg = _mm512_loadu_ps(g + i);
        __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(vg), _mm512_set1_epi32((int)0x80000000u)));  // -g: the sign flipped
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(neg));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_div_ps(vg, d), _mm512_loadu_ps(u + i)));
    }
    for (; i < n; i++) y[i] = g[i] / (1.0f + k_expf(-g[i])) * u[i];
}

static __m512 flip_sign(__m512 v) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u))); }

static void geglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(g + i);
        __m512 z2 = _mm512_mul_ps(x, _mm512_add_ps(_mm512_set1_ps(K_GELU_A), _mm512_mul_ps(_mm512_set1_ps(K_GELU_B), _mm512_mul_ps(x, x))));
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(flip_sign(z2)));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_div_ps(x, d), _mm512_loadu_ps(u + i)));
    }
    k_geglu(y + i, g + i, u + i, n - i);
}

static void softcap(float *x, int n, float cap) {
    int i = 0;
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 one = _mm512_set1_ps(1.0f), vc = _mm512_set1_ps(cap);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), vc);
        __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(v)));
        __m512 e = exp16(flip_sign(_mm512_add_ps(a, a)));
        __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
        __m512 s = _mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(sign, _mm512_castps_si512(t)), _mm512_and_si512(sign, _mm512_castps_si512(v))));  // copysign(t, v)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(vc, s));
    }
    k_softcap(x + i, n - i, cap);
}

// Register tiles (kernels.h, octet_tile): 32 rows (two vectors of 16) against TILE_T tokens. Each
// (token, row) lane starts a block at -128 x the row's block sum and adds the products of the
// token's u8 activations (x + 128, four broadcast) with the row's 4 signed weights, eight steps:
// exactly the block's dot. Then the pair's term in gemm8_acc's mode and order.
#define TILE_ROWS 32
#define TILE_T 6
HOT __m512 tile_term(const octet_tile *t, int j, int b, int h, __m512i dot, int mode) {
    __m512 d = _mm512_cvtepi32_ps(dot);
    size_t br = (size_t)b * TILE_ROWS + 16 * h, tb = (size_t)j * t->nb + b;
    if (mode == Q8) return _mm512_mul_ps(_mm512_set1_ps(t->sx[tb]), d);
    if (mode == Q8_ASYM)
        return _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(t->sx[tb]), d), _mm512_mul_ps(_mm512_set1_ps(t->cx[tb]), _mm512_loadu_ps(t->S + br)));
    __m512 sw = _mm512_loadu_ps(t->sw + br);
    if (mode == G32_ROW) return _mm512_mul_ps(sw, d);
    if (mode == G32_ASYM)
        return _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(t->sx[tb]), sw), d),
                             _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(t->cx[tb]), sw), _mm512_loadu_ps(t->S + br)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(t->sx[tb]), sw), d);
}
// Tokens j0 .. j0 + TILE_T - 1 (those past the last repeat it; only the real ones are stored).
HOT void tile_run(const octet_tile *t, int j0, int mode) {
    const uint8_t *au[TILE_T];   // (pointers, not set_helpers' offsets: offsets measured 12% slower here)
    int jt[TILE_T];
    for (int i = 0; i < TILE_T; i++) {
        jt[i] = j0 + i < t->nt ? j0 + i : t->nt - 1;
        au[i] = t->au + (size_t)jt[i] * t->lda;
    }
    __m512 acc[TILE_T][2];
    _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const int nb = t->nb;
    for (int b = 0; b < nb; b++) {
        const int8_t *w = t->w + (size_t)b * 8 * TILE_ROWS * 4;
        __m512i d[TILE_T][2], o0 = _mm512_loadu_si512(t->wofs + (size_t)b * TILE_ROWS), o1 = _mm512_loadu_si512(t->wofs + (size_t)b * TILE_ROWS + 16);
        _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) { d[i][0] = o0; d[i][1] = o1; }
        _Pragma("GCC unroll 8") for (int q = 0; q < 8; q++) {
            __m512i w0 = _mm512_loadu_si512(w + q * TILE_ROWS * 4), w1 = _mm512_loadu_si512(w + q * TILE_ROWS * 4 + 64);
            _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) {
                int32_t x;
                memcpy(&x, au[i] + b * 32 + q * 4, 4);
                __m512i xb = _mm512_set1_epi32(x);
                d[i][0] = _mm512_dpbusd_epi32(d[i][0], xb, w0);
                d[i][1] = _mm512_dpbusd_epi32(d[i][1], xb, w1);
            }
        }
        _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) {
            acc[i][0] = _mm512_add_ps(acc[i][0], tile_term(t, jt[i], b, 0, d[i][0], mode));
            acc[i][1] = _mm512_add_ps(acc[i][1], tile_term(t, jt[i], b, 1, d[i][1], mode));
        }
    }
    if (t->rs) {
        __m512 r0 = _mm512_loadu_ps(t->rs), r1 = _mm512_loadu_ps(t->rs + 16);
        for (int i = 0; i < TILE_T; i++) { acc[i][0] = _mm512_mul_ps(r0, acc[i][0]); acc[i][1] = _mm512_mul_ps(r1, acc[i][1]); }
    }
    for (int i = 0; i < TILE_T && j0 + i < t->nt; i++) {
        _mm512_storeu_ps(t->acc + (size_t)(j0 + i) * t->ldacc, acc[i][0]);
        _mm512_storeu_ps(t->acc + (size_t)(j0 + i) * t->ldacc + 16, acc[i][1]);
    }
}
static void gemm_tile(const octet_tile *t) { tile_by_mode(t, TILE_ROWS, TILE_T, tile_run); }

// f32 tiles (octet_tile_f32): 8 rows as four vectors of two rows' 8 inputs, against TILE_T
// tokens (8 inputs broadcast to both halves). Each half keeps one pair's 8 partial sums; the
// combine adds lanes j and j + 4, then neighbours, then lanes 0 and 2, in dot_f32's order.
#define TILE_ROWS_F32 8
HOT void tile_f32_run(const octet_tile_f32 *t, int j0) {
    const float *a[TILE_T];
    for (int i = 0; i < TILE_T; i++) a[i] = t->a + (size_t)(j0 + i < t->nt ? j0 + i : t->nt - 1) * t->lda;
    __m512 acc[TILE_T][4];
    _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm512_setzero_ps();
    const int k = t->k;
    const float *w = t->w;
    for (int c = 0; c < k; c += 8, w += 64) {
        __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32), w3 = _mm512_loadu_ps(w + 48);
        _Pragma("GCC unroll 6") for (int i = 0; i < TILE_T; i++) {
            __m512 x = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(a[i] + c))));  // (F, not DQ)
            acc[i][0] = _mm512_fmadd_ps(x, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(x, w1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(x, w2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(x, w3, acc[i][3]);
        }
    }
    for (int i = 0; i < TILE_T && j0 + i < t->nt; i++)
        for (int v = 0; v < 4; v++) {
            __m512 s = _mm512_add_ps(acc[i][v], _mm512_shuffle_f32x4(acc[i][v], acc[i][v], _MM_SHUFFLE(2, 3, 0, 1)));  // p_j + p_(j+4)
            __m512 u = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));                             // + the neighbour
            __m512 f = _mm512_add_ps(u, _mm512_permute_ps(u, _MM_SHUFFLE(1, 0, 3, 2)));                             // lane 0 + lane 2
            float o[16];
            _mm512_storeu_ps(o, f);
            t->out[(size_t)(j0 + i) * TILE_ROWS_F32 + 2 * v] = o[0];
            t->out[(size_t)(j0 + i) * TILE_ROWS_F32 + 2 * v + 1] = o[8];
        }
}
static void gemm_tile_f32(const octet_tile_f32 *t) {
    if (t->P != TILE_ROWS_F32 || t->k % 8) { k_gemm_tile_f32(t); return; }
    for (int j = 0; j < t->nt; j += TILE_T) tile_f32_run(t, j);
}

const octet_kernel_set octet_kernels_avx512 = {"avx512", dot_i8, octet_avx2_dot_f32, block_dots_i8, row_to_f32, quantize_i8,
                                               octet_avx2_dot_rows_f32, axpy_rows_f32, gemm8_acc, softmax, swiglu, geglu, softcap, dots8_i8, mac_probe, TILE_ROWS, gemm_tile, TILE_ROWS_F32, gemm_tile_f32};
#else
const octet_kernel_set octet_kernels_avx512 = {"unavailable", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#endif
