// NEON (AArch64 Advanced SIMD) versions of the kernel primitives, and (built again with
// -DOCTET_NEON_DOTPROD -march=armv8.2-a+dotprod) the dotprod set, which differs only in its int8
// dot: sdot sums four int8 products per int32 lane where base NEON widens to 16 bits (smull) and
// adds pairs (sadalp). Every primitive gives the scalar reference's bits, as the x86 sets do.
// NEON floats are 4 lanes wide: the reference's 8 lanes (partial sums, gemm8_acc's pairs) are two
// vectors, lo (lanes 0-3) and hi (4-7).
#include "kernels.h"
#include "kernel_types.h"
#include <math.h>
#include <string.h>

#if defined(OCTET_NEON_DOTPROD) && !defined(__ARM_FEATURE_DOTPROD)
#define OCTET_NO_SET   // not AArch64, or the compiler lacks +dotprod
#endif
#if defined(__aarch64__) && !defined(OCTET_NO_SET)
#include "set_helpers.h"
#include <arm_neon.h>

#ifdef OCTET_NEON_DOTPROD
#define SET_NAME "dotprod"
#define SET octet_kernels_dotprod
HOT int32x4_t dot16_acc(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
#else
#define SET_NAME "neon"
#define SET octet_kernels_neon
// Products widened to 16 bits (|a * b| <= 16384 always fits), pairs added into the int32 lanes.
HOT int32x4_t dot16_acc(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}
#endif

// Sum of a[i]*b[i] for 32 int8 pairs, as 4 int32 lanes.
HOT int32x4_t dot32(const int8_t *a, const int8_t *b) {
    return dot16_acc(dot16_acc(vdupq_n_s32(0), vld1q_s8(a), vld1q_s8(b)), vld1q_s8(a + 16), vld1q_s8(b + 16));
}
// Four 4-lane partial dots to one vector whose lane j is the sum of d[j].
HOT int32x4_t reduce4(int32x4_t d0, int32x4_t d1, int32x4_t d2, int32x4_t d3) {
    return vpaddq_s32(vpaddq_s32(d0, d1), vpaddq_s32(d2, d3));
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int k) {
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = vdupq_n_s32(0);
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        acc0 = dot16_acc(acc0, vld1q_s8(a + i), vld1q_s8(b + i));
        acc1 = dot16_acc(acc1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
    }
    for (; i + 16 <= k; i += 16) acc0 = dot16_acc(acc0, vld1q_s8(a + i), vld1q_s8(b + i));
    int32_t s = vaddvq_s32(vaddq_s32(acc0, acc1));
    for (; i < k; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void block_dots_i8(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out) {
    if (bs != 32) {
        for (int i = 0; i < nb; i++) out[i] = dot_i8(a + i * bs, b + i * bs, bs);
        return;
    }
    int i = 0;
    for (; i + 4 <= nb; i += 4)
        vst1q_s32(out + i, reduce4(dot32(a + i * 32, b + i * 32), dot32(a + (i + 1) * 32, b + (i + 1) * 32),
                                   dot32(a + (i + 2) * 32, b + (i + 2) * 32), dot32(a + (i + 3) * 32, b + (i + 3) * 32)));
    for (; i < nb; i++) out[i] = vaddvq_s32(dot32(a + i * 32, b + i * 32));
}

// f16 widened by fcvtl (exact; NaNs come out quiet, as the reference makes them), bf16 by a
// shift, q8g32 as sw * (float)q in one multiply.
static void row_to_f32(const void *w, int dtype, const float *sw, int k, float *out) {
    int i = 0;
    if (dtype == OCTET_F16) {
        const uint16_t *h = w;
        for (; i + 4 <= k; i += 4) vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + i))));
        for (; i < k; i++) out[i] = octet_f16_to_f32(h[i]);
    } else if (dtype == OCTET_BF16) {
        const uint16_t *h = w;
        for (; i + 4 <= k; i += 4) vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(h + i), 16)));
        for (; i < k; i++) out[i] = octet_bf16_to_f32(h[i]);
    } else if (dtype == OCTET_Q8G32) {
        const int8_t *q = w;
        for (; i + 8 <= k; i += 8) {  // 8 never straddle a group of 32
            int16x8_t v = vmovl_s8(vld1_s8(q + i));
            float32x4_t s = vdupq_n_f32(sw[i / OCTET_Q8_GROUP]);
            vst1q_f32(out + i, vmulq_f32(s, vcvtq_f32_s32(vmovl_s16(vget_low_s16(v)))));
            vst1q_f32(out + i + 4, vmulq_f32(s, vcvtq_f32_s32(vmovl_high_s16(v))));
        }
        for (; i < k; i++) out[i] = sw[i / OCTET_Q8_GROUP] * (float)q[i];
    } else octet_kernels_scalar.row_to_f32(w, dtype, sw, k, out);
}

// The scalar round_clamp127 on 4 lanes: |v| capped at 127 by compare and select (so a NaN becomes
// 127, as the reference's a < 127 ? a : 127), truncated, plus 1 when the doubled fraction reaches
// 1, sign restored.
HOT int32x4_t round_clamp127_v(float32x4_t v) {
    float32x4_t a = vabsq_f32(v), top = vdupq_n_f32(127.0f);
    a = vbslq_f32(vcltq_f32(a, top), a, top);
    int32x4_t i = vcvtq_s32_f32(a);
    float32x4_t fr = vsubq_f32(a, vcvtq_f32_s32(i));
    int32x4_t r = vaddq_s32(i, vcvtq_s32_f32(vaddq_f32(fr, fr)));
    return vbslq_s32(vcltq_f32(v, vdupq_n_f32(0)), vnegq_s32(r), r);
}

// n inputs (n % 32 == 0) as (x - mid) * inv rounded, 16 at a time, narrowed to bytes in order
// (the values are within +-127, so the saturating narrows never saturate).
static void quantize_run(const float *x, int n, float mid, float inv, int8_t *q) {
    float32x4_t vm = vdupq_n_f32(mid), vi = vdupq_n_f32(inv);
    for (int i = 0; i < n; i += 16) {
        int32x4_t r[4];
        for (int j = 0; j < 4; j++) {
            float32x4_t v = vld1q_f32(x + i + 4 * j);
            r[j] = round_clamp127_v(vmulq_f32(mid != 0 ? vsubq_f32(v, vm) : v, vi));
        }
        int16x8_t lo = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1])), hi = vcombine_s16(vqmovn_s32(r[2]), vqmovn_s32(r[3]));
        vst1q_s8(q + i, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
    }
}

// As the reference: the max of |x| from 0 by compare and select (a NaN never wins; fmax would let
// it), or the min and max from x[0] on (lanes then hold numbers only, or all hold x[0]'s NaN).
static float block_amax(const float *v, int n) {
    float32x4_t m = vdupq_n_f32(0);
    for (int i = 0; i < n; i += 4) {
        float32x4_t a = vabsq_f32(vld1q_f32(v + i));
        m = vbslq_f32(vcgtq_f32(a, m), a, m);
    }
    return vmaxvq_f32(m);
}
static void block_minmax(const float *v, int n, float *l, float *h) {
    float32x4_t lo = vdupq_n_f32(v[0]), hi = lo;
    for (int i = 0; i < n; i += 4) {
        float32x4_t t = vld1q_f32(v + i);
        lo = vbslq_f32(vcltq_f32(t, lo), t, lo);
        hi = vbslq_f32(vcgtq_f32(t, hi), t, hi);
    }
    *l = vminvq_f32(lo);
    *h = vmaxvq_f32(hi);
}

static void quantize_i8(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    quantize_blocks(x, k, bs, q, s, c, block_amax, block_minmax, quantize_run);
}

// The reference's partial sum p[j] (products i = j mod 8) is lane j of lo (j < 4) or hi, each
// product a fused multiply-add (FMLA, fmaf); the tail and the final combine follow it too.
static float dot_f32(const float *a, const float *b, int k) {
    float32x4_t lo = vdupq_n_f32(0), hi = lo;
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        lo = vfmaq_f32(lo, vld1q_f32(a + i), vld1q_f32(b + i));
        hi = vfmaq_f32(hi, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float p[8];
    vst1q_f32(p, lo);
    vst1q_f32(p + 4, hi);
    for (int j = 0; i < k; i++, j++) p[j] = fmaf(a[i], b[i], p[j]);
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

// Four rows at a time (q loaded once for all four): row r's partial sums in lo[r], hi[r], then
// combined in dot_f32's order: (p0 + p4) + (p1 + p5) is lane 0 + lane 1 of lo + hi, and so on.
static void dot_rows_f32(const float *q, const float *k, size_t ld, int n, int d, float *out) {
    int r = 0;
    for (; r + 4 <= n && d % 8 == 0; r += 4) {
        float32x4_t lo[4], hi[4];
        for (int j = 0; j < 4; j++) lo[j] = hi[j] = vdupq_n_f32(0);
        const float *kr = k + r * ld;
        for (int i = 0; i < d; i += 8) {
            float32x4_t ql = vld1q_f32(q + i), qh = vld1q_f32(q + i + 4);
            for (int j = 0; j < 4; j++) {
                lo[j] = vfmaq_f32(lo[j], ql, vld1q_f32(kr + j * ld + i));
                hi[j] = vfmaq_f32(hi[j], qh, vld1q_f32(kr + j * ld + i + 4));
            }
        }
        // s[j] lanes: (p0+p4), (p1+p5), (p2+p6), (p3+p7); pairwise adds then give
        // ((p0+p4) + (p1+p5)) and ((p2+p6) + (p3+p7)), and their sum, for 4 rows at once.
        float32x4_t s0 = vaddq_f32(lo[0], hi[0]), s1 = vaddq_f32(lo[1], hi[1]), s2 = vaddq_f32(lo[2], hi[2]), s3 = vaddq_f32(lo[3], hi[3]);
        float32x4_t a01 = vpaddq_f32(s0, s1), a23 = vpaddq_f32(s2, s3);   // rows 0,1 then 2,3: (pair 01, pair 23) each
        vst1q_f32(out + r, vpaddq_f32(a01, a23));
    }
    for (; r < n; r++) out[r] = dot_f32(q, k + r * ld, d);
}

// y kept in registers 32 floats at a time while the rows stream past (a multiply then an add per
// element, rows in order).
static void axpy_rows_f32(const float *a, const float *x, size_t ld, int n, float *y, int d) {
    int i = 0;
    for (; i + 32 <= d; i += 32) {
        float32x4_t acc[8];
        for (int v = 0; v < 8; v++) acc[v] = vld1q_f32(y + i + 4 * v);
        for (int r = 0; r < n; r++) {
            float32x4_t va = vdupq_n_f32(a[r]);
            const float *xr = x + r * ld + i;
            for (int v = 0; v < 8; v++) acc[v] = vaddq_f32(acc[v], vmulq_f32(va, vld1q_f32(xr + 4 * v)));
        }
        for (int v = 0; v < 8; v++) vst1q_f32(y + i + 4 * v, acc[v]);
    }
    for (; i + 4 <= d; i += 4) {
        float32x4_t acc = vld1q_f32(y + i);
        for (int r = 0; r < n; r++) acc = vaddq_f32(acc, vmulq_f32(vdupq_n_f32(a[r]), vld1q_f32(x + r * ld + i)));
        vst1q_f32(y + i, acc);
    }
    for (; i < d; i++)
        for (int r = 0; r < n; r++) y[i] += a[r] * x[r * ld + i];
}

// Lanes 4h..4h+3 of a per-row value (sw or S; ld 0: one row's value in every lane).
HOT float32x4_t lane_sw(const octet_lanes8 *g, int b, int h, int half) {
    if (half) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(g->sw16 + b * 8 + 4 * h)));  // f16 tile: four rows' scales side by side
    if (!g->ldsw) return vdupq_n_f32(g->sw[b]);
    float t[4];
    for (int j = 0; j < 4; j++) t[j] = g->sw[(size_t)(4 * h + j) * g->ldsw + b];
    return vld1q_f32(t);
}
HOT float32x4_t lane_S(const octet_lanes8 *g, int b, int h) {   // (a tile: four rows' sums side by side)
    if (!g->ldS) return vdupq_n_f32((float)g->S[b * 8]);
    return vcvtq_f32_s32(vmovl_s16(vld1_s16(g->S + b * 8 + 4 * h)));
}

// Block b's term for lanes 4h..4h+3 from their dots df, in one of set_helpers.h's modes: each
// lane's operations as the reference's.
HOT float32x4_t block_term(const octet_lanes8 *g, int b, int h, float32x4_t df, int mode) {
    int half = mode & HALF;
    mode &= ~HALF;
    if (mode == G32_ROW) return vmulq_f32(lane_sw(g, b, h, half), df);
    float32x4_t sx = vld1q_f32(g->sx + b * 8 + 4 * h);
    if (mode == Q8) return vmulq_f32(sx, df);
    if (mode == G32) return vmulq_f32(vmulq_f32(sx, lane_sw(g, b, h, half)), df);
    float32x4_t cx = vld1q_f32(g->cx + b * 8 + 4 * h);
    if (mode == Q8_ASYM) return vaddq_f32(vmulq_f32(sx, df), vmulq_f32(cx, lane_S(g, b, h)));
    float32x4_t sw = lane_sw(g, b, h, half);
    return vaddq_f32(vmulq_f32(vmulq_f32(sx, sw), df), vmulq_f32(vmulq_f32(cx, sw), lane_S(g, b, h)));
}

// One loop per scaling mode (a constant in each call below): the shared side's block loaded once,
// the 8 lanes' blocks at p + j*ld; in decode (lanes are weight rows) the next 8 rows are
// prefetched, as the x86 sets do.
HOT void gemm8_mode(const octet_lanes8 *g, float acc[8], int mode) {
    const int8_t *sh = g->lda ? g->w : g->a, *ln = g->lda ? g->a : g->w;
    size_t ld = g->lda ? g->lda : g->ldw;
    float32x4_t lo = vld1q_f32(acc), hi = vld1q_f32(acc + 4);
    const int nb = g->nb;   // (read once: the loop's loads may alias *g)
    int prefetch = g->ldw && g->prefetch;
    for (int b = 0; b < nb; b++) {
        const int8_t *s = sh + b * 32, *p = ln + (size_t)b * 32;
        if (prefetch && !(b & 1))
            for (int j = 0; j < 8; j++) __builtin_prefetch(p + (8 + j) * ld, 0, 3);
        int8x16_t s0 = vld1q_s8(s), s1 = vld1q_s8(s + 16);
        int32x4_t d[8];
        for (int j = 0; j < 8; j++) d[j] = dot16_acc(dot16_acc(vdupq_n_s32(0), s0, vld1q_s8(p + j * ld)), s1, vld1q_s8(p + j * ld + 16));
        lo = vaddq_f32(lo, block_term(g, b, 0, vcvtq_f32_s32(reduce4(d[0], d[1], d[2], d[3])), mode));
        hi = vaddq_f32(hi, block_term(g, b, 1, vcvtq_f32_s32(reduce4(d[4], d[5], d[6], d[7])), mode));
    }
    vst1q_f32(acc, lo);
    vst1q_f32(acc + 4, hi);
}

static void gemm8_acc(const octet_lanes8 *g, float acc[8]) { gemm8_by_mode(g, acc, gemm8_mode); }

// Eight whole-row dots: the weight row's 16 bytes loaded once per step, each token's int32 sums
// kept to the end of the row, then reduced.
// 16 products per chain and step (smull/sadalp pairs, or sdot in the dotprod set), chain j on
// |x_{j/4}| and y_{j%4} (kernels.h); the empty asm makes the |x| operands look new every step.
static uint64_t mac_probe(const int8_t *v, long steps, int32_t *check) {
    int8x16_t x0 = vabsq_s8(vld1q_s8(v)), x1 = vabsq_s8(vld1q_s8(v + 1)), y[4];
    int32x4_t acc[8];
    for (int t = 0; t < 4; t++) y[t] = vld1q_s8(v + 2 + t);
    for (int j = 0; j < 8; j++) acc[j] = vdupq_n_s32(0);
    for (long s = 0; s < steps; s++) {
        __asm__ volatile("" : "+w"(x0), "+w"(x1));
        for (int j = 0; j < 8; j++) acc[j] = dot16_acc(acc[j], j < 4 ? x0 : x1, y[j % 4]);
    }
    uint32_t t = 0;
    for (int j = 0; j < 8; j++) t += (uint32_t)vaddvq_s32(acc[j]);
    *check = (int32_t)t;
    return (uint64_t)steps * 8 * 16;
}

static void dots8_i8(const int8_t *a, size_t lda, const int8_t *w, int k, int32_t out[8]) {
    int32x4_t acc[8];
    for (int j = 0; j < 8; j++) acc[j] = vdupq_n_s32(0);
    int i = 0;
    for (; i + 16 <= k; i += 16) {
        int8x16_t vw = vld1q_s8(w + i);
        for (int j = 0; j < 8; j++) acc[j] = dot16_acc(acc[j], vld1q_s8(a + j * lda + i), vw);
    }
    vst1q_s32(out, reduce4(acc[0], acc[1], acc[2], acc[3]));
    vst1q_s32(out + 4, reduce4(acc[4], acc[5], acc[6], acc[7]));
    for (; i < k; i++)
        for (int j = 0; j < 8; j++) out[j] += (int32_t)w[i] * a[j * lda + i];
}

// k_expf on 2 lanes in double, before the rounding to float: the same operations in order
// (vfmaq_f64(c, a, b) is fma(a, b, c)); the table has no gather, so its two entries load apart.
HOT float64x2_t exp2d(float32x2_t x) {
    float64x2_t xd = vcvt_f64_f32(x), inv = vdupq_n_f64(K_EXP_INVLN2N), shift = vdupq_n_f64(K_EXP_SHIFT);
    float64x2_t kd = vfmaq_f64(shift, inv, xd);
    uint64x2_t ki = vreinterpretq_u64_f64(kd);
    float64x2_t r = vfmaq_f64(vnegq_f64(vsubq_f64(kd, shift)), inv, xd);
    uint64x2_t t = vcombine_u64(vld1_u64(&k_exp2_table[vgetq_lane_u64(ki, 0) & 31]), vld1_u64(&k_exp2_table[vgetq_lane_u64(ki, 1) & 31]));
    float64x2_t s = vreinterpretq_f64_u64(vaddq_u64(t, vshlq_n_u64(ki, 47)));
    float64x2_t z = vfmaq_f64(vdupq_n_f64(K_EXP_C1), vdupq_n_f64(K_EXP_C0), r), r2 = vmulq_f64(r, r);
    float64x2_t y = vfmaq_f64(vdupq_n_f64(1.0), vdupq_n_f64(K_EXP_C2), r);
    return vmulq_f64(vfmaq_f64(y, z, r2), s);
}

// k_expf on 4 lanes; four values of which one is past +-88 (or inf, NaN) take k_expf itself,
// whose saturations are branches.
HOT float32x4_t exp4(float32x4_t x) {
    uint32x4_t top = vandq_u32(vshrq_n_u32(vreinterpretq_u32_f32(x), 20), vdupq_n_u32(0x7ff));
    if (vmaxvq_u32(top) >= 0x42b) {
        float v[4];
        vst1q_f32(v, x);
        for (int j = 0; j < 4; j++) v[j] = k_expf(v[j]);
        return vld1q_f32(v);
    }
    return vcombine_f32(vcvt_f32_f64(exp2d(vget_low_f32(x))), vcvt_f32_f64(exp2d(vget_high_f32(x))));
}

// k_softmax: the max lane by lane (a NaN never wins; the max is the same in any order), exp four
// at a time; set_helpers.h sums several rows side by side and scales them.
static void max_exp(float *x, int n) {
    float32x4_t vm = vdupq_n_f32(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        vm = vbslq_f32(vcgtq_f32(v, vm), v, vm);
    }
    float mx = vmaxvq_f32(vm);
    for (int j = i; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    float32x4_t vmx = vdupq_n_f32(mx);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, exp4(vsubq_f32(vld1q_f32(x + i), vmx)));
    for (; i < n; i++) x[i] = k_expf(x[i] - mx);
}
static void scale_row(float *x, int n, float inv) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vdupq_n_f32(inv)));
    for (; i < n; i++) x[i] *= inv;
}
static void softmax(float *const *x, const int *n, int rows) { softmax_rows(x, n, rows, max_exp, scale_row); }

static void swiglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t vg = vld1q_f32(g + i);
        float32x4_t d = vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(vg)));
        vst1q_f32(y + i, vmulq_f32(vdivq_f32(vg, d), vld1q_f32(u + i)));
    }
    for (; i < n; i++) y[i] = g[i] / (1.0f + k_expf(-g[i])) * u[i];
}

static void geglu(float *y, const float *g, const float *u, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t x = vld1q_f32(g + i);
        float32x4_t z2 = vmulq_f32(x, vaddq_f32(vdupq_n_f32(K_GELU_A), vmulq_f32(vdupq_n_f32(K_GELU_B), vmulq_f32(x, x))));
        float32x4_t d = vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(z2)));
        vst1q_f32(y + i, vmulq_f32(vdivq_f32(x, d), vld1q_f32(u + i)));
    }
    k_geglu(y + i, g + i, u + i, n - i);
}

static void softcap(float *x, int n, float cap) {
    int i = 0;
    const float32x4_t one = vdupq_n_f32(1.0f), vc = vdupq_n_f32(cap);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vdivq_f32(vld1q_f32(x + i), vc), a = vabsq_f32(v);
        float32x4_t e = exp4(vnegq_f32(vaddq_f32(a, a)));
        float32x4_t t = vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e));
        float32x4_t s = vbslq_f32(sign, v, t);  // copysign(t, v)
        vst1q_f32(x + i, vmulq_f32(vc, s));
    }
    k_softcap(x + i, n - i, cap);
}

// Register tiles (kernels.h, octet_tile): 16 rows (four vectors of 4) against two tokens, each
// (token, row) lane gathering its block's dot over eight steps of the token's 4 activations
// (broadcast) with the row's 4 weights: sdot, or base NEON's 16-bit products, their pairs added
// (2 x 127 x 127 fits) and the pairs of pairs accumulated.
#define TILE_ROWS 16
#define TILE_T 2
#ifdef OCTET_NEON_DOTPROD
HOT int32x4_t tile_step(int32x4_t d, int8x16_t x, int8x16_t w) { return vdotq_s32(d, w, x); }
#else
HOT int32x4_t tile_step(int32x4_t d, int8x16_t x, int8x16_t w) {
    int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vmull_high_s8(w, x));
    return vpadalq_s16(d, p);
}
#endif
HOT float32x4_t tile_term(const octet_tile *t, int j, int b, int h, int32x4_t dot, int mode) {
    float32x4_t d = vcvtq_f32_s32(dot);
    size_t br = (size_t)b * TILE_ROWS + 4 * h, tb = (size_t)j * t->nb + b;
    if (mode == Q8) return vmulq_f32(vdupq_n_f32(t->sx[tb]), d);
    if (mode == Q8_ASYM) return vaddq_f32(vmulq_f32(vdupq_n_f32(t->sx[tb]), d), vmulq_f32(vdupq_n_f32(t->cx[tb]), vld1q_f32(t->S + br)));
    float32x4_t sw = vld1q_f32(t->sw + br);
    if (mode == G32_ROW) return vmulq_f32(sw, d);
    if (mode == G32_ASYM)
        return vaddq_f32(vmulq_f32(vmulq_f32(vdupq_n_f32(t->sx[tb]), sw), d), vmulq_f32(vmulq_f32(vdupq_n_f32(t->cx[tb]), sw), vld1q_f32(t->S + br)));
    return vmulq_f32(vmulq_f32(vdupq_n_f32(t->sx[tb]), sw), d);
}
// Tokens j0 and j0 + 1 (past the last: the last again; only the real ones are stored).
HOT void tile_run(const octet_tile *t, int j0, int mode) {
    size_t at[TILE_T];
    int jt[TILE_T];
    tile_tokens(t, j0, TILE_T, jt, at);
    float32x4_t acc[TILE_T][4];
    for (int i = 0; i < TILE_T; i++)
        for (int h = 0; h < 4; h++) acc[i][h] = vdupq_n_f32(0);
    const int nb = t->nb;
    for (int b = 0; b < nb; b++) {
        const int8_t *w = t->w + (size_t)b * 8 * TILE_ROWS * 4;
        int32x4_t d[TILE_T][4];
        for (int i = 0; i < TILE_T; i++)
            for (int h = 0; h < 4; h++) d[i][h] = vdupq_n_s32(0);
        for (int q = 0; q < 8; q++) {
            int8x16_t wv[4];
            for (int h = 0; h < 4; h++) wv[h] = vld1q_s8(w + q * TILE_ROWS * 4 + 16 * h);
            for (int i = 0; i < TILE_T; i++) {
                int32_t x;
                memcpy(&x, t->a + at[i] + (size_t)b * 32 + q * 4, 4);
                int8x16_t xb = vreinterpretq_s8_s32(vdupq_n_s32(x));
                for (int h = 0; h < 4; h++) d[i][h] = tile_step(d[i][h], xb, wv[h]);
            }
        }
        for (int i = 0; i < TILE_T; i++)
            for (int h = 0; h < 4; h++) acc[i][h] = vaddq_f32(acc[i][h], tile_term(t, jt[i], b, h, d[i][h], mode));
    }
    for (int i = 0; i < TILE_T && t->rs; i++)
        for (int h = 0; h < 4; h++) acc[i][h] = vmulq_f32(vld1q_f32(t->rs + 4 * h), acc[i][h]);
    for (int i = 0; i < TILE_T && j0 + i < t->nt; i++)
        for (int h = 0; h < 4; h++) vst1q_f32(t->acc + (size_t)(j0 + i) * t->ldacc + 4 * h, acc[i][h]);
}
static void gemm_tile(const octet_tile *t) { tile_by_mode(t, TILE_ROWS, TILE_T, tile_run); }

// f32 tiles (octet_tile_f32): 4 rows against 2 tokens, each pair's 8 partial sums in two
// vectors (lanes 0-3 and 4-7), combined in dot_f32's order at the end.
#define TILE_ROWS_F32 4
HOT void tile_f32_run(const octet_tile_f32 *t, int j0) {
    const float *a[2] = {t->a + (size_t)j0 * t->lda, t->a + (size_t)(j0 + 1 < t->nt ? j0 + 1 : j0) * t->lda};
    float32x4_t lo[2][4], hi[2][4];
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < 4; r++) lo[i][r] = hi[i][r] = vdupq_n_f32(0);
    const float *w = t->w;
    for (int c = 0; c < t->k; c += 8, w += 32)
        for (int i = 0; i < 2; i++) {
            float32x4_t xl = vld1q_f32(a[i] + c), xh = vld1q_f32(a[i] + c + 4);
            for (int r = 0; r < 4; r++) {
                lo[i][r] = vfmaq_f32(lo[i][r], xl, vld1q_f32(w + 8 * r));
                hi[i][r] = vfmaq_f32(hi[i][r], xh, vld1q_f32(w + 8 * r + 4));
            }
        }
    for (int i = 0; i < 2 && j0 + i < t->nt; i++)
        for (int r = 0; r < 4; r++) {
            float p[8];
            vst1q_f32(p, lo[i][r]);
            vst1q_f32(p + 4, hi[i][r]);
            t->out[(size_t)(j0 + i) * TILE_ROWS_F32 + r] = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
        }
}
static void gemm_tile_f32(const octet_tile_f32 *t) {
    if (t->P != TILE_ROWS_F32 || t->k % 8) { k_gemm_tile_f32(t); return; }
    for (int j = 0; j < t->nt; j += 2) tile_f32_run(t, j);
}

const octet_kernel_set SET = {SET_NAME, dot_i8, dot_f32, block_dots_i8, row_to_f32, quantize_i8, dot_rows_f32, axpy_rows_f32, gemm8_acc,
                              softmax, swiglu, geglu, softcap, dots8_i8, mac_probe, TILE_ROWS, gemm_tile, TILE_ROWS_F32, gemm_tile_f32};
#elif defined(OCTET_NEON_DOTPROD)
const octet_kernel_set octet_kernels_dotprod = {"unavailable", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#else
const octet_kernel_set octet_kernels_neon = {"unavailable", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#endif
