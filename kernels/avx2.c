// AVX2 versions of the kernel primitives, and (built again with -DOCTET_AVXVNNI -mavxvnni) the
// AVX-VNNI set, which differs only in its int8 dot. Chosen at run time only when CPUID says the
// CPU has the instructions (Makefile: the flags).
#include "kernels.h"
#include "kernel_types.h"
#include <math.h>
#include <string.h>

#if defined(OCTET_AVXVNNI) && !defined(__AVXVNNI__) && !defined(OCTET_EMULATED_AVX512)
#define OCTET_NO_SET   // the compiler lacks -mavxvnni
#endif
#if defined(__x86_64__) && defined(__AVX2__) && !defined(OCTET_NO_SET)
#include "avx2_helpers.h"

#ifdef OCTET_AVXVNNI
// Built a second time with -mavxvnni as the AVX-VNNI set: vpdpbusd sums the four u8 x s8 products
// of each int32 lane exactly, where AVX2 takes maddubs (16-bit pair sums) then madd.
#define SET_NAME "avxvnni"
#define SET octet_kernels_avxvnni
#define SHARED static
HOT __m256i dot_abs_acc(__m256i acc, __m256i abs_a, __m256i b_signed) { return _mm256_dpbusd_avx_epi32(acc, abs_a, b_signed); }
#else
#define SET_NAME "avx2"
#define SET octet_kernels_avx2
#define SHARED   // the AVX-512 set calls these too
HOT __m256i dot_abs_acc(__m256i acc, __m256i abs_a, __m256i b_signed) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(abs_a, b_signed), _mm256_set1_epi16(1)));
}
#endif
// The four-product sums of |a| and b (b carrying a's sign), per int32 lane.
HOT __m256i dot_abs(__m256i abs_a, __m256i b_signed) { return dot_abs_acc(_mm256_setzero_si256(), abs_a, b_signed); }

// Sum of a[i]*b[i] for 32 int8 pairs, as 8 int32 lanes. The unsigned operand is |a|, and b carries
// a's sign; -128 never occurs, so neither a 16-bit pair sum nor |a| can overflow.
HOT __m256i dot32v(__m256i va, __m256i vb) {
    return dot_abs(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
}
HOT __m256i dot32(const int8_t *a, const int8_t *b) {
    return dot32v(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)b));
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int k) {
    __m256i acc = _mm256_setzero_si256();
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i)), vb = _mm256_loadu_si256((const __m256i *)(b + i));
        acc = dot_abs_acc(acc, _mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
    }
    int32_t s = hsum_i32(acc);
    for (; i < k; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void block_dots_i8(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out) {
    if (bs != 32) {
        for (int i = 0; i < nb; i++) out[i] = dot_i8(a + i * bs, b + i * bs, bs);
        return;
    }
    int i = 0;
    for (; i + 8 <= nb; i += 8) {  // eight blocks: reduce each to one lane, store together
        __m256i d[8];
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) d[j] = dot32(a + (i + j) * 32, b + (i + j) * 32);
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

// The scalar round_clamp127 on 8 lanes: |v| capped at 127 (a NaN becomes 127, as minps keeps
// the second operand), truncated, plus 1 when the doubled fraction reaches 1, sign restored.
HOT __m256i round_clamp127_v(__m256 v) {
    __m256 a = _mm256_min_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v), _mm256_set1_ps(127.0f));
    __m256i i = _mm256_cvttps_epi32(a);
    __m256 fr = _mm256_sub_ps(a, _mm256_cvtepi32_ps(i));
    __m256i r = _mm256_add_epi32(i, _mm256_cvttps_epi32(_mm256_add_ps(fr, fr)));
    __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_epi8(r, _mm256_sub_epi32(_mm256_setzero_si256(), r), _mm256_castps_si256(neg));
}

// n inputs (n % 32 == 0) as (x - mid) * inv rounded, 32 at a time, packed to bytes in order.
static void quantize_run(const float *x, int n, float mid, float inv, int8_t *q) {
    __m256 vm = _mm256_set1_ps(mid), vi = _mm256_set1_ps(inv);
    for (int i = 0; i < n; i += 32) {
        __m256i r[4];
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_loadu_ps(x + i + 8 * j);
            r[j] = round_clamp127_v(_mm256_mul_ps(mid != 0 ? _mm256_sub_ps(v, vm) : v, vi));
        }
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
}

// As the reference: the max of |x| (maxps keeps its second operand, so a NaN never wins) or the
// min and max from x[0] on; lanes combine in any order, as min and max of numbers do.
static float block_amax(const float *v, int n) {
    __m256 amax = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n; i += 8) amax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(v + i)), amax);
    return hmax8(amax);
}
static void block_minmax(const float *v, int n, float *l, float *h) {
    __m256 lo = _mm256_set1_ps(v[0]), hi = lo;
    for (int i = 0; i < n; i += 8) {
        __m256 t = _mm256_loadu_ps(v + i);
        lo = _mm256_min_ps(t, lo);
        hi = _mm256_max_ps(t, hi);
    }
    *l = hmin8(lo);
    *h = hmax8(hi);
}
static void quantize_i8(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    quantize_blocks(x, k, bs, q, s, c, block_amax, block_minmax, quantize_run);
}

// y kept in registers 64 floats at a time while the rows stream past.
SHARED void octet_avx2_axpy_rows_f32(const float *a, const float *x, size_t ld, int n, float *y, int d) {
    int i = 0;
    for (; i + 64 <= d; i += 64) {
        __m256 acc[8];
        _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) acc[v] = _mm256_loadu_ps(y + i + 8 * v);
        for (int r = 0; r < n; r++) {
            __m256 va = _mm256_set1_ps(a[r]);
            const float *xr = x + r * ld + i;
            _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(va, _mm256_loadu_ps(xr + 8 * v)));
        }
        _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) _mm256_storeu_ps(y + i + 8 * v, acc[v]);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 acc = _mm256_loadu_ps(y + i);
        for (int r = 0; r < n; r++) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(a[r]), _mm256_loadu_ps(x + r * ld + i)));
        _mm256_storeu_ps(y + i, acc);
    }
    for (; i < d; i++)
        for (int r = 0; r < n; r++) y[i] += a[r] * x[r * ld + i];
}

// Block b's 8 dots as floats: the shared side's block loaded once (its absolute value taken
// once), the lane side's 8 blocks at p + j*ld.
HOT __m256 dots8(const int8_t *sh, const int8_t *p, size_t ld) {
    __m256i vs = _mm256_loadu_si256((const __m256i *)sh), as = _mm256_sign_epi8(vs, vs), d[8];
    const int8_t *at[8];
    lane_rows(p, ld, at);
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) d[j] = dot_abs(as, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)at[j]), vs));
    return _mm256_cvtepi32_ps(reduce8(d));
}

// One loop per scaling mode and lane kind (mode and rows are constants in each caller: rows, one
// token against 8 weight rows, prefetches), each lane's operations as the reference's.
HOT void gemm8_loop(const octet_lanes8 *g, float acc[8], int mode, int rows) {
    const int8_t *sh = g->lda ? g->w : g->a, *ln = g->lda ? g->a : g->w;
    size_t ld = g->lda ? g->lda : g->ldw;
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i isw = _mm256_mullo_epi32(lanes, _mm256_set1_epi32((int)g->ldsw));
    __m256 vacc = _mm256_loadu_ps(acc);
    const int nb = g->nb;   // (read once: the loop's loads may alias *g)
    const int8_t *w = g->w;
    size_t ahead = prefetch_ahead(ld);
    for (int b = 0; b < nb; b++) {
        if (rows && g->prefetch) prefetch_rows(w, ld, ahead, b);
        vacc = _mm256_add_ps(vacc, block_term(g, b, dots8(sh + b * 32, ln + (size_t)b * 32, ld), mode, isw));
    }
    _mm256_storeu_ps(acc, vacc);
}
HOT void gemm8_mode(const octet_lanes8 *g, float acc[8], int mode) {
    if (g->ldw) gemm8_loop(g, acc, mode, 1);
    else gemm8_loop(g, acc, mode, 0);
}

static void gemm8_acc(const octet_lanes8 *g, float acc[8]) { gemm8_by_mode(g, acc, gemm8_mode); }

// Eight whole-row dots: the weight row's 32 bytes (and their absolute value) loaded once per
// step, each token's int32 sums kept to the end of the row, then one reduction.
// 32 products per chain and step (maddubs + madd, or vpdpbusd in the AVX-VNNI set), chain j on
// |x_{j/4}| and y_{j%4} (kernels.h); the empty asm makes the |x| operands look new every step,
// so nothing is hoisted out of the loop. (15 registers: no spills.)
static uint64_t mac_probe(const int8_t *v, long steps, int32_t *check) {
    __m256i x[2], y[4], acc[8];
    for (int s = 0; s < 2; s++) { x[s] = _mm256_loadu_si256((const __m256i *)(v + s)); x[s] = _mm256_sign_epi8(x[s], x[s]); }
    for (int t = 0; t < 4; t++) y[t] = _mm256_loadu_si256((const __m256i *)(v + 2 + t));
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_si256();
    for (long s = 0; s < steps; s++) {
        __asm__ volatile("" : "+x"(x[0]), "+x"(x[1]));
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = dot_abs_acc(acc[j], x[j / 4], y[j % 4]);
    }
    __m256i t = acc[0];
    for (int j = 1; j < 8; j++) t = _mm256_add_epi32(t, acc[j]);
    *check = hsum_i32(t);
    return (uint64_t)steps * 8 * 32;
}

static void dots8_i8(const int8_t *a, size_t lda, const int8_t *w, int k, int32_t out[8]) {
    __m256i acc[8];
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_si256();
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        __m256i vw = _mm256_loadu_si256((const __m256i *)(w + i)), aw = _mm256_sign_epi8(vw, vw);
        const int8_t *p = a + i;
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
            acc[j] = dot_abs_acc(acc[j], aw, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(p + j * lda)), vw));
    }
    _mm256_storeu_si256((__m256i *)out, reduce8(acc));
    for (; i < k; i++)
        for (int j = 0; j < 8; j++) out[j] += (int32_t)w[i] * a[j * lda + i];
}

// Lane j accumulates the products i = j (mod 8) with a fused multiply-add (fmaf), exactly as
// the reference's partial sum p[j]; the tail and the final combine follow it too.
SHARED float octet_avx2_dot_f32(const float *a, const float *b, int k) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float p[8];
    _mm256_storeu_ps(p, acc);
    for (int j = 0; i < k; i++, j++) p[j] = fmaf(a[i], b[i], p[j]);
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

// Eight rows at a time: row r's 8 partial sums (lane j: products i = j mod 8) in acc[r], then
// transposed so vector j holds every row's p[j], and combined in dot_f32's order for 8 rows at once.
SHARED void octet_avx2_dot_rows_f32(const float *q, const float *k, size_t ld, int n, int d, float *out) {
    int r = 0;
    for (; r + 8 <= n && d % 8 == 0; r += 8) {
        __m256 acc[8];
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
        const float *kr = k + r * ld;
        for (int i = 0; i < d; i += 8) {
            __m256 vq = _mm256_loadu_ps(q + i);
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(vq, _mm256_loadu_ps(kr + j * ld + i), acc[j]);
        }
        __m256 t0 = _mm256_unpacklo_ps(acc[0], acc[1]), t1 = _mm256_unpackhi_ps(acc[0], acc[1]);
        __m256 t2 = _mm256_unpacklo_ps(acc[2], acc[3]), t3 = _mm256_unpackhi_ps(acc[2], acc[3]);
        __m256 t4 = _mm256_unpacklo_ps(acc[4], acc[5]), t5 = _mm256_unpackhi_ps(acc[4], acc[5]);
        __m256 t6 = _mm256_unpacklo_ps(acc[6], acc[7]), t7 = _mm256_unpackhi_ps(acc[6], acc[7]);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
        // P[j]: lane r' = row r + r' partial sum j
        __m256 P0 = _mm256_permute2f128_ps(u0, u4, 0x20), P4 = _mm256_permute2f128_ps(u0, u4, 0x31);
        __m256 P1 = _mm256_permute2f128_ps(u1, u5, 0x20), P5 = _mm256_permute2f128_ps(u1, u5, 0x31);
        __m256 P2 = _mm256_permute2f128_ps(u2, u6, 0x20), P6 = _mm256_permute2f128_ps(u2, u6, 0x31);
        __m256 P3 = _mm256_permute2f128_ps(u3, u7, 0x20), P7 = _mm256_permute2f128_ps(u3, u7, 0x31);
        __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(P0, P4), _mm256_add_ps(P1, P5)), _mm256_add_ps(_mm256_add_ps(P2, P6), _mm256_add_ps(P3, P7)));
        _mm256_storeu_ps(out + r, s);
    }
    for (; r < n; r++) out[r] = octet_avx2_dot_f32(q, k + r * ld, d);
}

// k_expf on 4 lanes in double, before the rounding to float: the same operations in order.
HOT __m256d exp4(__m128 x) {
    __m256d xd = _mm256_cvtps_pd(x), inv = _mm256_set1_pd(K_EXP_INVLN2N), shift = _mm256_set1_pd(K_EXP_SHIFT);
    __m256d kd = _mm256_fmadd_pd(inv, xd, shift);
    __m256i ki = _mm256_castpd_si256(kd);
    __m256d r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kd, shift));
    __m256i t = _mm256_i64gather_epi64((const long long *)(const void *)k_exp2_table, _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(K_EXP_C0), r, _mm256_set1_pd(K_EXP_C1)), r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(K_EXP_C2), r, _mm256_set1_pd(1.0));
    return _mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), s);
}

// k_expf on 8 lanes; eight values of which one is past +-88 (or inf, NaN) take k_expf itself,
// whose saturations are branches.
HOT __m256 exp8(__m256 x) {
    __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 20), _mm256_set1_epi32(0x7ff));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a))))) {
        float v[8];
        _mm256_storeu_ps(v, x);
        for (int j = 0; j < 8; j++) v[j] = k_expf(v[j]);
        return _mm256_loadu_ps(v);
    }
    __m128 lo = _mm256_cvtpd_ps(exp4(_mm256_castps256_ps128(x))), hi = _mm256_cvtpd_ps(exp4(_mm256_extractf128_ps(x, 1)));
    return _mm256_set_m128(hi, lo);
}

// k_softmax: the max lane by lane (a NaN never wins; the max is the same in any order), exp eight
// at a time; set_helpers.h sums several rows side by side and scales them.
static void max_exp(float *x, int n) {
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        vm = _mm256_blendv_ps(vm, v, _mm256_cmp_ps(v, vm, _CMP_GT_OQ));
    }
    float m8[8], mx = -INFINITY;
    _mm256_storeu_ps(m8, vm);
    for (int j = 0; j < 8; j++) mx = m8[j] > mx ? m8[j] : mx;
    for (int j = i; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    __m256 vmx = _mm256_set1_ps(mx);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx)));
    for (; i < n; i++) x[i] = k_expf(x[i] - mx);
}
static void scale_row(float *x, int n, float inv) {
    int i = 0;
    __m256 vi = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    for (; i < n; i++) x[i] *= inv;
}
static void softmax(float *const *x, const int *n, int rows) { softmax_rows(x, n, rows, max_exp, scale_row); }

static void swiglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vg = _mm256_loadu_ps(g + i);
        __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_xor_ps(vg, _mm256_set1_ps(-0.0f))));   // exp(-g): the sign flipped
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(vg, d), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) y[i] = g[i] / (1.0f + k_expf(-g[i])) * u[i];
}

static void geglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 z2 = _mm256_mul_ps(x, _mm256_add_ps(_mm256_set1_ps(K_GELU_A), _mm256_mul_ps(_mm256_set1_ps(K_GELU_B), _mm256_mul_ps(x, x))));
        __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_xor_ps(z2, _mm256_set1_ps(-0.0f))));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(x, d), _mm256_loadu_ps(u + i)));
    }
    k_geglu(y + i, g + i, u + i, n - i);
}

static void softcap(float *x, int n, float cap) {
    int i = 0;
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), vc = _mm256_set1_ps(cap);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), vc), a = _mm256_andnot_ps(sign, v);
        __m256 e = exp8(_mm256_xor_ps(_mm256_add_ps(a, a), sign));
        __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(vc, _mm256_or_ps(_mm256_andnot_ps(sign, t), _mm256_and_ps(sign, v))));  // copysign(t, v)
    }
    k_softcap(x + i, n - i, cap);
}

// Register tiles (kernels.h, octet_tile): 16 rows (two vectors of 8) against TILE_T tokens, each
// (token, row) lane gathering its block's dot over eight steps of the token's 4 activations
// (broadcast) with the row's 4 weights. AVX-VNNI: u8 activations (x + 128) from a lane that
// starts at -128 x the row's block sum; AVX2: |x| times the weights given x's sign, from zero.
#define TILE_ROWS 16
#ifdef OCTET_AVXVNNI
#define TILE_T 3
HOT __m256i tile_start(const int32_t *wofs) { return _mm256_loadu_si256((const __m256i *)wofs); }
HOT __m256i tile_x(const octet_tile *t, size_t at) {
    int32_t x;
    memcpy(&x, t->au + at, 4);
    return _mm256_set1_epi32(x);
}
HOT __m256i tile_step(__m256i d, __m256i x, __m256i w) { return _mm256_dpbusd_avx_epi32(d, x, w); }
#else
#define TILE_T 2
HOT __m256i tile_start(const int32_t *wofs) { (void)wofs; return _mm256_setzero_si256(); }
HOT __m256i tile_x(const octet_tile *t, size_t at) {
    int32_t x;
    memcpy(&x, t->a + at, 4);
    return _mm256_set1_epi32(x);
}
HOT __m256i tile_step(__m256i d, __m256i x, __m256i w) { return dot_abs_acc(d, _mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x)); }
#endif
HOT __m256 tile_term(const octet_tile *t, int j, int b, int h, __m256i dot, int mode) {
    __m256 d = _mm256_cvtepi32_ps(dot);
    size_t br = (size_t)b * TILE_ROWS + 8 * h, tb = (size_t)j * t->nb + b;
    if (mode == Q8) return _mm256_mul_ps(_mm256_set1_ps(t->sx[tb]), d);
    if (mode == Q8_ASYM)
        return _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(t->sx[tb]), d), _mm256_mul_ps(_mm256_set1_ps(t->cx[tb]), _mm256_loadu_ps(t->S + br)));
    __m256 sw = _mm256_loadu_ps(t->sw + br);
    if (mode == G32_ROW) return _mm256_mul_ps(sw, d);
    if (mode == G32_ASYM)
        return _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(t->sx[tb]), sw), d),
                             _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(t->cx[tb]), sw), _mm256_loadu_ps(t->S + br)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(t->sx[tb]), sw), d);
}
// Tokens j0 .. j0 + TILE_T - 1 (those past the last repeat it; only the real ones are stored).
HOT void tile_run(const octet_tile *t, int j0, int mode) {
    size_t at[TILE_T];
    int jt[TILE_T];
    tile_tokens(t, j0, TILE_T, jt, at);
    __m256 acc[TILE_T][2];
    _Pragma("GCC unroll 3") for (int i = 0; i < TILE_T; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    const int nb = t->nb;
    for (int b = 0; b < nb; b++) {
        const int8_t *w = t->w + (size_t)b * 8 * TILE_ROWS * 4;
        __m256i d[TILE_T][2], o0 = tile_start(t->wofs + (size_t)b * TILE_ROWS), o1 = tile_start(t->wofs + (size_t)b * TILE_ROWS + 8);
        _Pragma("GCC unroll 3") for (int i = 0; i < TILE_T; i++) { d[i][0] = o0; d[i][1] = o1; }
        _Pragma("GCC unroll 8") for (int q = 0; q < 8; q++) {
            __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + q * TILE_ROWS * 4)), w1 = _mm256_loadu_si256((const __m256i *)(w + q * TILE_ROWS * 4 + 32));
            _Pragma("GCC unroll 3") for (int i = 0; i < TILE_T; i++) {
                __m256i x = tile_x(t, at[i] + (size_t)b * 32 + q * 4);
                d[i][0] = tile_step(d[i][0], x, w0);
                d[i][1] = tile_step(d[i][1], x, w1);
            }
        }
        _Pragma("GCC unroll 3") for (int i = 0; i < TILE_T; i++) {
            acc[i][0] = _mm256_add_ps(acc[i][0], tile_term(t, jt[i], b, 0, d[i][0], mode));
            acc[i][1] = _mm256_add_ps(acc[i][1], tile_term(t, jt[i], b, 1, d[i][1], mode));
        }
    }
    if (t->rs) {
        __m256 r0 = _mm256_loadu_ps(t->rs), r1 = _mm256_loadu_ps(t->rs + 8);
        for (int i = 0; i < TILE_T; i++) { acc[i][0] = _mm256_mul_ps(r0, acc[i][0]); acc[i][1] = _mm256_mul_ps(r1, acc[i][1]); }
    }
    for (int i = 0; i < TILE_T && j0 + i < t->nt; i++) {
        _mm256_storeu_ps(t->acc + (size_t)(j0 + i) * t->ldacc, acc[i][0]);
        _mm256_storeu_ps(t->acc + (size_t)(j0 + i) * t->ldacc + 8, acc[i][1]);
    }
}
static void gemm_tile(const octet_tile *t) { tile_by_mode(t, TILE_ROWS, TILE_T, tile_run); }

// f32 tiles (octet_tile_f32): 4 rows (a vector each) against 3 tokens, each pair's 8 partial
// sums in a vector, combined in dot_f32's order at the end. (12 accumulators, the 3 tokens' and
// one row's vector: all 16 registers; against 2 tokens each row's vector was loaded twice.)
#define TILE_ROWS_F32 4
HOT void tile_f32_run(const octet_tile_f32 *t, int j0) {
    const float *a0 = t->a + (size_t)j0 * t->lda, *a1 = j0 + 1 < t->nt ? a0 + t->lda : a0, *a2 = j0 + 2 < t->nt ? a1 + t->lda : a1;
    __m256 acc[3][4];
    _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) acc[0][r] = acc[1][r] = acc[2][r] = _mm256_setzero_ps();
    const float *w = t->w;
    for (int c = 0; c < t->k; c += 8, w += 32) {
        __m256 x0 = _mm256_loadu_ps(a0 + c), x1 = _mm256_loadu_ps(a1 + c), x2 = _mm256_loadu_ps(a2 + c);
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
            __m256 wr = _mm256_loadu_ps(w + 8 * r);
            acc[0][r] = _mm256_fmadd_ps(x0, wr, acc[0][r]);
            acc[1][r] = _mm256_fmadd_ps(x1, wr, acc[1][r]);
            acc[2][r] = _mm256_fmadd_ps(x2, wr, acc[2][r]);
        }
    }
    for (int i = 0; i < 3 && j0 + i < t->nt; i++)
        for (int r = 0; r < 4; r++) {
            float p[8];
            _mm256_storeu_ps(p, acc[i][r]);
            t->out[(size_t)(j0 + i) * TILE_ROWS_F32 + r] = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
        }
}
static void gemm_tile_f32(const octet_tile_f32 *t) {
    if (t->P != TILE_ROWS_F32 || t->k % 8) { k_gemm_tile_f32(t); return; }
    for (int j = 0; j < t->nt; j += 3) tile_f32_run(t, j);
}

const octet_kernel_set SET = {SET_NAME, dot_i8, octet_avx2_dot_f32, block_dots_i8, row_to_f32, quantize_i8, octet_avx2_dot_rows_f32, octet_avx2_axpy_rows_f32, gemm8_acc,
                              softmax, swiglu, geglu, softcap, dots8_i8, mac_probe, TILE_ROWS, gemm_tile, TILE_ROWS_F32, gemm_tile_f32};
#elif defined(OCTET_AVXVNNI)
const octet_kernel_set octet_kernels_avxvnni = {"unavailable", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#else
const octet_kernel_set octet_kernels_avx2 = {"unavailable", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#endif
