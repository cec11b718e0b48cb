// The AVX-512 (F, BW, VL, VNNI) and AVX-VNNI intrinsics the kernel sets use, written in plain C
// from Intel's definitions, so the sets' logic runs and is tested on CPUs without them. Test builds
// only (Makefile: build/emu/): forced in with -include before the kernel source, which it then
// compiles against these instead of the real instructions. AVX2 stays native.
#ifndef OCTET_EMULATE_AVX512_H
#define OCTET_EMULATE_AVX512_H
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef union {
    int8_t b[64]; uint8_t ub[64]; int16_t h[32]; uint16_t uh[32]; int32_t d[16]; uint32_t ud[16];
    int64_t q[8]; uint64_t uq[8]; float f[16]; double g[8];
} emu_v512;
#define __m512i emu_v512
#define __m512 emu_v512
#define __m512d emu_v512
#define E static inline

#define EMU_MAP(expr, n, field) do { for (int i_ = 0; i_ < (n); i_++) r.field[i_] = (expr); } while (0)
#define EMU_FN2(name, n, field, expr) E emu_v512 emu_##name(emu_v512 a, emu_v512 b) { emu_v512 r; EMU_MAP(expr, n, field); return r; }

E emu_v512 emu_zero(void) { emu_v512 r; memset(&r, 0, sizeof r); return r; }
E emu_v512 emu_load(const void *p) { emu_v512 r; memcpy(&r, p, 64); return r; }
E void emu_store(void *p, emu_v512 v) { memcpy(p, &v, 64); }
E emu_v512 emu_id(emu_v512 v) { return v; }
#undef _mm512_setzero_si512
#define _mm512_setzero_si512 emu_zero
#undef _mm512_setzero_ps
#define _mm512_setzero_ps emu_zero
#undef _mm512_loadu_si512
#define _mm512_loadu_si512 emu_load
#undef _mm512_loadu_ps
#define _mm512_loadu_ps emu_load
#undef _mm512_storeu_si512
#define _mm512_storeu_si512 emu_store
#undef _mm512_storeu_ps
#define _mm512_storeu_ps emu_store
#undef _mm512_castpd_ps
#define _mm512_castpd_ps emu_id
#undef _mm512_castps_pd
#define _mm512_castps_pd emu_id
#undef _mm512_castpd_si512
#define _mm512_castpd_si512 emu_id
#undef _mm512_castsi512_pd
#define _mm512_castsi512_pd emu_id
#undef _mm512_castps_si512
#define _mm512_castps_si512 emu_id
#undef _mm512_castsi512_ps
#define _mm512_castsi512_ps emu_id

// Only the bytes the mask selects are read.
#undef _mm512_maskz_loadu_epi8
#define _mm512_maskz_loadu_epi8 emu_maskz_loadu_epi8
E emu_v512 emu_maskz_loadu_epi8(uint64_t k, const void *p) {
    emu_v512 r = emu_zero();
    for (int i = 0; i < 64; i++) if (k >> i & 1) r.b[i] = ((const int8_t *)p)[i];
    return r;
}

E emu_v512 emu_abs_epi8(emu_v512 a) { emu_v512 r; EMU_MAP((int8_t)(a.b[i_] < 0 ? -(int)a.b[i_] : a.b[i_]), 64, b); return r; }  // -128 stays -128
E emu_v512 emu_abs_ps(emu_v512 a) { emu_v512 r; EMU_MAP(a.ud[i_] & 0x7fffffffu, 16, ud); return r; }
E uint64_t emu_movepi8_mask(emu_v512 a) { uint64_t k = 0; for (int i = 0; i < 64; i++) k |= (uint64_t)(a.b[i] < 0) << i; return k; }
E emu_v512 emu_mask_sub_epi8(emu_v512 src, uint64_t k, emu_v512 a, emu_v512 b) {
    emu_v512 r; EMU_MAP(k >> i_ & 1 ? (int8_t)(uint8_t)(a.ub[i_] - b.ub[i_]) : src.b[i_], 64, b); return r;
}
E emu_v512 emu_mask_sub_epi32(emu_v512 src, uint32_t k, emu_v512 a, emu_v512 b) {
    emu_v512 r; EMU_MAP(k >> i_ & 1 ? a.ud[i_] - b.ud[i_] : src.ud[i_], 16, ud); return r;
}
// vpdpbusd: each int32 lane adds its four unsigned-by-signed byte products, wrapping (no saturation).
E int32_t emu_dpbusd1(int32_t src, const uint8_t *a, const int8_t *b) {
    int32_t s = 0;
    for (int j = 0; j < 4; j++) s += (int32_t)a[j] * b[j];
    return (int32_t)((uint32_t)src + (uint32_t)s);
}
E emu_v512 emu_dpbusd(emu_v512 src, emu_v512 a, emu_v512 b) { emu_v512 r; EMU_MAP(emu_dpbusd1(src.d[i_], a.ub + 4 * i_, b.b + 4 * i_), 16, d); return r; }
E __m256i emu_dpbusd256(__m256i src, __m256i a, __m256i b) {
    int32_t s[8], r[8]; uint8_t ua[32]; int8_t sb[32];
    _mm256_storeu_si256((__m256i *)s, src); _mm256_storeu_si256((__m256i *)ua, a); _mm256_storeu_si256((__m256i *)sb, b);
    for (int i = 0; i < 8; i++) r[i] = emu_dpbusd1(s[i], ua + 4 * i, sb + 4 * i);
    return _mm256_loadu_si256((const __m256i *)r);
}
#undef _mm512_abs_epi8
#define _mm512_abs_epi8 emu_abs_epi8
#undef _mm512_abs_ps
#define _mm512_abs_ps emu_abs_ps
#undef _mm512_movepi8_mask
#define _mm512_movepi8_mask emu_movepi8_mask
#undef _mm512_mask_sub_epi8
#define _mm512_mask_sub_epi8 emu_mask_sub_epi8
#undef _mm512_mask_sub_epi32
#define _mm512_mask_sub_epi32 emu_mask_sub_epi32
#undef _mm512_dpbusd_epi32
#define _mm512_dpbusd_epi32 emu_dpbusd
#undef _mm256_dpbusd_epi32
#define _mm256_dpbusd_epi32 emu_dpbusd256
#undef _mm256_dpbusd_avx_epi32
#define _mm256_dpbusd_avx_epi32 emu_dpbusd256

EMU_FN2(add_epi32, 16, ud, a.ud[i_] + b.ud[i_])
EMU_FN2(add_epi64, 8, uq, a.uq[i_] + b.uq[i_])
EMU_FN2(and_si512, 8, uq, a.uq[i_] & b.uq[i_])
EMU_FN2(xor_si512, 8, uq, a.uq[i_] ^ b.uq[i_])
EMU_FN2(or_si512, 8, uq, a.uq[i_] | b.uq[i_])
EMU_FN2(andnot_si512, 8, uq, ~a.uq[i_] & b.uq[i_])
EMU_FN2(add_ps, 16, f, a.f[i_] + b.f[i_])
EMU_FN2(sub_ps, 16, f, a.f[i_] - b.f[i_])
EMU_FN2(mul_ps, 16, f, a.f[i_] * b.f[i_])
EMU_FN2(div_ps, 16, f, a.f[i_] / b.f[i_])
EMU_FN2(sub_pd, 8, g, a.g[i_] - b.g[i_])
EMU_FN2(mul_pd, 8, g, a.g[i_] * b.g[i_])
EMU_FN2(max_ps, 16, f, a.f[i_] > b.f[i_] ? a.f[i_] : b.f[i_])   // as maxps: b when unordered or equal
EMU_FN2(min_ps, 16, f, a.f[i_] < b.f[i_] ? a.f[i_] : b.f[i_])
// unpacks and in-lane shuffles work on each 128-bit chunk c
EMU_FN2(unpacklo_epi32, 16, d, (i_ & 1 ? b : a).d[(i_ & ~3) + (i_ & 3) / 2])
EMU_FN2(unpackhi_epi32, 16, d, (i_ & 1 ? b : a).d[(i_ & ~3) + 2 + (i_ & 3) / 2])
EMU_FN2(unpacklo_epi64, 8, q, (i_ & 1 ? b : a).q[i_ & ~1])
EMU_FN2(unpackhi_epi64, 8, q, (i_ & 1 ? b : a).q[(i_ & ~1) + 1])
#undef _mm512_add_epi32
#define _mm512_add_epi32 emu_add_epi32
#undef _mm512_add_epi64
#define _mm512_add_epi64 emu_add_epi64
#undef _mm512_and_si512
#define _mm512_and_si512 emu_and_si512
#undef _mm512_xor_si512
#define _mm512_xor_si512 emu_xor_si512
#undef _mm512_or_si512
#define _mm512_or_si512 emu_or_si512
#undef _mm512_andnot_si512
#define _mm512_andnot_si512 emu_andnot_si512
#undef _mm512_add_ps
#define _mm512_add_ps emu_add_ps
#undef _mm512_sub_ps
#define _mm512_sub_ps emu_sub_ps
#undef _mm512_mul_ps
#define _mm512_mul_ps emu_mul_ps
#undef _mm512_div_ps
#define _mm512_div_ps emu_div_ps
#undef _mm512_sub_pd
#define _mm512_sub_pd emu_sub_pd
#undef _mm512_mul_pd
#define _mm512_mul_pd emu_mul_pd
#undef _mm512_max_ps
#define _mm512_max_ps emu_max_ps
#undef _mm512_min_ps
#define _mm512_min_ps emu_min_ps
#undef _mm512_unpacklo_epi32
#define _mm512_unpacklo_epi32 emu_unpacklo_epi32
#undef _mm512_unpackhi_epi32
#define _mm512_unpackhi_epi32 emu_unpackhi_epi32
#undef _mm512_unpacklo_epi64
#define _mm512_unpacklo_epi64 emu_unpacklo_epi64
#undef _mm512_unpackhi_epi64
#define _mm512_unpackhi_epi64 emu_unpackhi_epi64

E emu_v512 emu_fmadd_ps(emu_v512 a, emu_v512 b, emu_v512 c) { emu_v512 r; EMU_MAP(fmaf(a.f[i_], b.f[i_], c.f[i_]), 16, f); return r; }
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps emu_fmadd_ps
E emu_v512 emu_fmadd_pd(emu_v512 a, emu_v512 b, emu_v512 c) { emu_v512 r; EMU_MAP(fma(a.g[i_], b.g[i_], c.g[i_]), 8, g); return r; }
E emu_v512 emu_fmsub_pd(emu_v512 a, emu_v512 b, emu_v512 c) { emu_v512 r; EMU_MAP(fma(a.g[i_], b.g[i_], -c.g[i_]), 8, g); return r; }
#undef _mm512_fmadd_pd
#define _mm512_fmadd_pd emu_fmadd_pd
#undef _mm512_fmsub_pd
#define _mm512_fmsub_pd emu_fmsub_pd

// Destination chunks 0-1 from a, 2-3 from b, each picked by two bits of imm.
E emu_v512 emu_shuffle_i32x4(emu_v512 a, emu_v512 b, int imm) {
    emu_v512 r;
    for (int c = 0; c < 4; c++) memcpy(r.d + 4 * c, (c < 2 ? a : b).d + 4 * (imm >> (2 * c) & 3), 16);
    return r;
}
E emu_v512 emu_permutexvar_epi32(emu_v512 idx, emu_v512 a) { emu_v512 r; EMU_MAP(a.d[idx.d[i_] & 15], 16, d); return r; }
E emu_v512 emu_mask_blend_ps(uint32_t k, emu_v512 a, emu_v512 b) { emu_v512 r; EMU_MAP(k >> i_ & 1 ? b.f[i_] : a.f[i_], 16, f); return r; }
// Within each 128-bit chunk, lane j from lane (imm >> 2j) & 3.
E emu_v512 emu_permute_ps(emu_v512 a, int imm) { emu_v512 r; EMU_MAP(a.f[i_ / 4 * 4 + (imm >> (2 * (i_ % 4)) & 3)], 16, f); return r; }
E emu_v512 emu_broadcast_f64x4(__m256d x) { emu_v512 r; _mm256_storeu_pd(r.g, x); _mm256_storeu_pd(r.g + 4, x); return r; }
#undef _mm512_shuffle_i32x4
#define _mm512_shuffle_i32x4 emu_shuffle_i32x4
#undef _mm512_shuffle_f32x4
#define _mm512_shuffle_f32x4 emu_shuffle_i32x4
#undef _mm512_permute_ps
#define _mm512_permute_ps emu_permute_ps
#undef _mm512_broadcast_f64x4
#define _mm512_broadcast_f64x4 emu_broadcast_f64x4
#undef _mm512_permutexvar_epi32
#define _mm512_permutexvar_epi32 emu_permutexvar_epi32
#undef _mm512_mask_blend_ps
#define _mm512_mask_blend_ps emu_mask_blend_ps

E emu_v512 emu_set1_epi32(int v) { emu_v512 r; EMU_MAP(v, 16, d); return r; }
E emu_v512 emu_set1_epi64(long long v) { emu_v512 r; EMU_MAP(v, 8, q); return r; }
E emu_v512 emu_set1_ps(float v) { emu_v512 r; EMU_MAP(v, 16, f); return r; }
E emu_v512 emu_set1_pd(double v) { emu_v512 r; EMU_MAP(v, 8, g); return r; }
E emu_v512 emu_setr_epi32(int e0, int e1, int e2, int e3, int e4, int e5, int e6, int e7, int e8, int e9, int e10, int e11, int e12, int e13, int e14, int e15) {
    int v[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
    return emu_load(v);
}
#undef _mm512_set1_epi32
#define _mm512_set1_epi32 emu_set1_epi32
#undef _mm512_set1_epi64
#define _mm512_set1_epi64 emu_set1_epi64
#undef _mm512_set1_ps
#define _mm512_set1_ps emu_set1_ps
#undef _mm512_set1_pd
#define _mm512_set1_pd emu_set1_pd
#undef _mm512_setr_epi32
#define _mm512_setr_epi32 emu_setr_epi32

// 256-bit halves
E __m256i emu_lo256i(emu_v512 v) { return _mm256_loadu_si256((const __m256i *)v.d); }
E __m256 emu_lo256(emu_v512 v) { return _mm256_loadu_ps(v.f); }
E __m256i emu_extracti64x4(emu_v512 v, int i) { return _mm256_loadu_si256((const __m256i *)(v.d + 8 * (i & 1))); }
E __m256d emu_extractf64x4(emu_v512 v, int i) { return _mm256_loadu_pd(v.g + 4 * (i & 1)); }
E emu_v512 emu_from256i(__m256i x) { emu_v512 r = emu_zero(); _mm256_storeu_si256((__m256i *)r.d, x); return r; }
E emu_v512 emu_from256(__m256 x) { emu_v512 r = emu_zero(); _mm256_storeu_ps(r.f, x); return r; }
E emu_v512 emu_inserti64x4(emu_v512 v, __m256i x, int i) { _mm256_storeu_si256((__m256i *)(v.d + 8 * (i & 1)), x); return v; }
E emu_v512 emu_insertf64x4(emu_v512 v, __m256d x, int i) { _mm256_storeu_pd(v.g + 4 * (i & 1), x); return v; }
#undef _mm512_castsi512_si256
#define _mm512_castsi512_si256 emu_lo256i
#undef _mm512_castps512_ps256
#define _mm512_castps512_ps256 emu_lo256
#undef _mm512_extracti64x4_epi64
#define _mm512_extracti64x4_epi64 emu_extracti64x4
#undef _mm512_extractf64x4_pd
#define _mm512_extractf64x4_pd emu_extractf64x4
#undef _mm512_castsi256_si512
#define _mm512_castsi256_si512 emu_from256i
#undef _mm512_castps256_ps512
#define _mm512_castps256_ps512 emu_from256
#undef _mm512_inserti64x4
#define _mm512_inserti64x4 emu_inserti64x4
#undef _mm512_insertf64x4
#define _mm512_insertf64x4 emu_insertf64x4

// Comparisons: the two predicates the kernels use (ordered, non-signalling).
E uint32_t emu_cmp_ps_mask(emu_v512 a, emu_v512 b, int pred) {
    uint32_t k = 0;
    for (int i = 0; i < 16; i++) {
        int t = pred == _CMP_LT_OQ ? a.f[i] < b.f[i] : pred == _CMP_GT_OQ ? a.f[i] > b.f[i] : (abort(), 0);
        k |= (uint32_t)t << i;
    }
    return k;
}
E uint32_t emu_cmpgt_epi32_mask(emu_v512 a, emu_v512 b) { uint32_t k = 0; for (int i = 0; i < 16; i++) k |= (uint32_t)(a.d[i] > b.d[i]) << i; return k; }
#undef _mm512_cmp_ps_mask
#define _mm512_cmp_ps_mask emu_cmp_ps_mask
#undef _mm512_cmpgt_epi32_mask
#define _mm512_cmpgt_epi32_mask emu_cmpgt_epi32_mask

// Conversions. Truncation out of range or of a NaN gives INT32_MIN, as cvttps2dq.
E int32_t emu_trunc(float f) { return f != f || f >= 2147483648.0f || f < -2147483648.0f ? INT32_MIN : (int32_t)f; }
E emu_v512 emu_cvttps_epi32(emu_v512 a) { emu_v512 r; EMU_MAP(emu_trunc(a.f[i_]), 16, d); return r; }
E emu_v512 emu_cvtepi32_ps(emu_v512 a) { emu_v512 r; EMU_MAP((float)a.d[i_], 16, f); return r; }
E emu_v512 emu_cvtps_pd(__m256 x) { float v[8]; _mm256_storeu_ps(v, x); emu_v512 r; EMU_MAP((double)v[i_], 8, g); return r; }
E __m256 emu_cvtpd_ps(emu_v512 a) { float v[8]; for (int i = 0; i < 8; i++) v[i] = (float)a.g[i]; return _mm256_loadu_ps(v); }
E emu_v512 emu_cvtepi8_epi32(__m128i x) { int8_t v[16]; _mm_storeu_si128((__m128i *)v, x); emu_v512 r; EMU_MAP(v[i_], 16, d); return r; }
E emu_v512 emu_cvtepu16_epi32(__m256i x) { uint16_t v[16]; _mm256_storeu_si256((__m256i *)v, x); emu_v512 r; EMU_MAP(v[i_], 16, d); return r; }
E emu_v512 emu_cvtepi16_epi32(__m256i x) { int16_t v[16]; _mm256_storeu_si256((__m256i *)v, x); emu_v512 r; EMU_MAP(v[i_], 16, d); return r; }
E emu_v512 emu_cvtph_ps(__m256i x) {  // F16C's conversion, 8 halves at a time
    emu_v512 r;
    _mm256_storeu_ps(r.f, _mm256_cvtph_ps(_mm256_castsi256_si128(x)));
    _mm256_storeu_ps(r.f + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(x, 1)));
    return r;
}
E __m128i emu_cvtsepi32_epi8(emu_v512 a) {
    int8_t v[16];
    for (int i = 0; i < 16; i++) v[i] = (int8_t)(a.d[i] > 127 ? 127 : a.d[i] < -128 ? -128 : a.d[i]);
    return _mm_loadu_si128((const __m128i *)v);
}
#undef _mm512_cvttps_epi32
#define _mm512_cvttps_epi32 emu_cvttps_epi32
#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps emu_cvtepi32_ps
#undef _mm512_cvtps_pd
#define _mm512_cvtps_pd emu_cvtps_pd
#undef _mm512_cvtpd_ps
#define _mm512_cvtpd_ps emu_cvtpd_ps
#undef _mm512_cvtepi8_epi32
#define _mm512_cvtepi8_epi32 emu_cvtepi8_epi32
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32 emu_cvtepu16_epi32
#undef _mm512_cvtepi16_epi32
#define _mm512_cvtepi16_epi32 emu_cvtepi16_epi32
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps emu_cvtph_ps
#undef _mm512_cvtsepi32_epi8
#define _mm512_cvtsepi32_epi8 emu_cvtsepi32_epi8

// Shifts by an immediate: past the width, logical shifts give 0 and arithmetic ones the sign.
E emu_v512 emu_slli_epi32(emu_v512 a, unsigned n) { emu_v512 r; EMU_MAP(n > 31 ? 0 : a.ud[i_] << n, 16, ud); return r; }
E emu_v512 emu_srli_epi32(emu_v512 a, unsigned n) { emu_v512 r; EMU_MAP(n > 31 ? 0 : a.ud[i_] >> n, 16, ud); return r; }
E emu_v512 emu_srai_epi32(emu_v512 a, unsigned n) { emu_v512 r; EMU_MAP(a.d[i_] >> (n > 31 ? 31 : n), 16, d); return r; }
E emu_v512 emu_slli_epi64(emu_v512 a, unsigned n) { emu_v512 r; EMU_MAP(n > 63 ? 0 : a.uq[i_] << n, 8, uq); return r; }
#undef _mm512_slli_epi32
#define _mm512_slli_epi32 emu_slli_epi32
#undef _mm512_srli_epi32
#define _mm512_srli_epi32 emu_srli_epi32
#undef _mm512_srai_epi32
#define _mm512_srai_epi32 emu_srai_epi32
#undef _mm512_slli_epi64
#define _mm512_slli_epi64 emu_slli_epi64

// Gathers: element i from base + index[i] * scale bytes (signed indices).
E emu_v512 emu_i32gather32(emu_v512 idx, const void *base, int scale) {
    emu_v512 r;
    for (int i = 0; i < 16; i++) memcpy(&r.d[i], (const char *)base + (int64_t)idx.d[i] * scale, 4);
    return r;
}
E emu_v512 emu_i64gather64(emu_v512 idx, const void *base, int scale) {
    emu_v512 r;
    for (int i = 0; i < 8; i++) memcpy(&r.q[i], (const char *)base + idx.q[i] * scale, 8);
    return r;
}
#undef _mm512_i32gather_ps
#define _mm512_i32gather_ps emu_i32gather32
#undef _mm512_i32gather_epi32
#define _mm512_i32gather_epi32 emu_i32gather32
#undef _mm512_i64gather_epi64
#define _mm512_i64gather_epi64 emu_i64gather64
#undef E
#endif
