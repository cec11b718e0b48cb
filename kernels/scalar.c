#include "kernels.h"
#include "kernel_types.h"
#include <math.h>
#include <string.h>

// v rounded half away from zero (as roundf) and clamped to [-127, 127], without libm calls or
// branches, so the quantization loops vectorize (a branch on the fraction mispredicts half the
// time). The fraction doubled is exact, so its integer part is 1 exactly when it is >= 0.5.
static inline int8_t round_clamp127(float v) {
    float a = fabsf(v);
    a = a < 127.0f ? a : 127.0f;
    int i = (int)a, r = i + (int)(2.0f * (a - (float)i));
    return (int8_t)(v < 0 ? -r : r);
}

void k_quantize_row_i8(const float *x, int k, int8_t *q, float *s) {
    float amax = 0;
    for (int i = 0; i < k; i++) {
        float a = fabsf(x[i]);
        if (a > amax) amax = a;  // as fmaxf: a NaN never wins
    }
    float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++) {
        q[i] = round_clamp127(x[i] * inv);
    }
    *s = scale;
}

int32_t k_dot_i8(const int8_t *a, const int8_t *b, int k) {
    int32_t s = 0;
    for (int i = 0; i < k; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void block_dots_i8(const int8_t *a, const int8_t *b, int nb, int bs, int32_t *out) {
    for (int i = 0; i < nb; i++) out[i] = k_dot_i8(a + i * bs, b + i * bs, bs);
}

static void row_to_f32(const void *w, int dtype, const float *sw, int k, float *out) {
    const uint16_t *h = w;
    const int8_t *q = w;
    if (dtype == OCTET_F16) for (int i = 0; i < k; i++) out[i] = octet_f16_to_f32(h[i]);
    else if (dtype == OCTET_BF16) for (int i = 0; i < k; i++) out[i] = octet_bf16_to_f32(h[i]);
    else if (dtype == OCTET_Q8G32) for (int i = 0; i < k; i++) out[i] = sw[i / OCTET_Q8_GROUP] * (float)q[i];
    else for (int i = 0; i < k; i++) out[i] = ((const float *)w)[i];
}

static void dot_rows_f32(const float *q, const float *k, size_t ld, int n, int d, float *out) {
    for (int r = 0; r < n; r++) out[r] = k_dot_f32(q, k + r * ld, d);
}

static void axpy_rows_f32(const float *a, const float *x, size_t ld, int n, float *y, int d) {
    for (int r = 0; r < n; r++)
        for (int i = 0; i < d; i++) y[i] += a[r] * x[r * ld + i];
}

void k_gemm8_acc(const octet_lanes8 *g, float acc[8]) {
    for (int b = 0; b < g->nb; b++)
        for (int j = 0; j < 8; j++) {
            const int8_t *a = g->a + j * g->lda + (size_t)b * g->bs, *w = g->w + j * g->ldw + (size_t)b * g->bs;
            float d = (float)k_dot_i8(a, w, g->bs), x = g->sx ? g->sx[b * 8 + j] : 0;
            float sw = g->sw16 ? octet_f16_to_f32(g->sw16[b * 8 + j]) : g->sw ? g->sw[j * g->ldsw + b] : 0;
            float c = g->cx ? g->cx[b * 8 + j] : 0, S = g->cx ? (float)g->S[b * 8 + j * g->ldS] : 0;
            if (!g->sw && !g->sw16) acc[j] += g->cx ? x * d + c * S : x * d;
            else if (!g->sx) acc[j] += sw * d;
            else if (g->cx) acc[j] += (x * sw) * d + (c * sw) * S;
            else acc[j] += (x * sw) * d;
        }
}

// Each pair's block dot from the packed panel and the signed activations, then gemm8_acc's term.
void k_gemm_tile(const octet_tile *t) {
    for (int j = 0; j < t->nt; j++)
        for (int r = 0; r < t->P; r++) {
            const int8_t *a = t->a + (size_t)j * t->lda;
            float acc = 0;
            for (int b = 0; b < t->nb; b++) {
                int32_t dot = 0;
                for (int i = 0; i < 32; i++) dot += (int32_t)a[b * 32 + i] * t->w[(((size_t)b * 8 + i / 4) * t->P + r) * 4 + i % 4];
                size_t br = (size_t)b * t->P + r, tb = (size_t)j * t->nb + b;
                float d = (float)dot, x = t->sx ? t->sx[tb] : 0, c = t->cx ? t->cx[tb] : 0, S = t->cx ? t->S[br] : 0;
                if (!t->sw) acc += t->cx ? x * d + c * S : x * d;
                else if (!t->sx) acc += t->sw[br] * d;
                else if (t->cx) acc += (x * t->sw[br]) * d + (c * t->sw[br]) * S;
                else acc += (x * t->sw[br]) * d;
            }
            t->acc[(size_t)j * t->ldacc + r] = t->rs ? t->rs[r] * acc : acc;
        }
}

// k_dot_f32 per pair, reading the row from the panel.
void k_gemm_tile_f32(const octet_tile_f32 *t) {
    for (int j = 0; j < t->nt; j++)
        for (int r = 0; r < t->P; r++) {
            const float *a = t->a + (size_t)j * t->lda;
            float p[8] = {0};
            for (int i = 0; i < t->k; i += 8)
                for (int l = 0; l < 8; l++) p[l] = fmaf(a[i + l], t->w[((size_t)(i / 8) * t->P + r) * 8 + l], p[l]);
            t->out[(size_t)j * t->P + r] = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
        }
}

static void quantize_i8(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    if (c) k_quantize_row_i8_asym(x, k, bs, q, s, c);
    else k_quantize_row_i8_blocks(x, k, bs, q, s);
}

float k_dot_f32(const float *a, const float *b, int k) {
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= k; i += 8)
        for (int j = 0; j < 8; j++) p[j] = fmaf(a[i + j], b[i + j], p[j]);
    for (int j = 0; i < k; i++, j++) p[j] = fmaf(a[i], b[i], p[j]);
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

void k_quantize_row_i8_blocks(const float *x, int k, int bs, int8_t *q, float *s) {
    for (int b = 0; b < k / bs; b++) k_quantize_row_i8(x + b * bs, bs, q + b * bs, &s[b]);
}

void k_quantize_row_i8_asym(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    for (int b = 0; b < k / bs; b++) {
        const float *v = x + (size_t)b * bs;
        float lo = v[0], hi = v[0];
        for (int i = 1; i < bs; i++) {
            if (v[i] < lo) lo = v[i];
            if (v[i] > hi) hi = v[i];
        }
        float mid = 0.5f * lo + 0.5f * hi, scale = (hi - lo) / 254.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
        for (int i = 0; i < bs; i++) {
            q[(size_t)b * bs + i] = round_clamp127((v[i] - mid) * inv);
        }
        s[b] = scale;
        c[b] = mid;
    }
}

void k_rmsnorm(float *y, const float *x, const float *g, int k, float eps) {
    double ss = 0;
    for (int i = 0; i < k; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / k + eps));
    for (int i = 0; i < k; i++) y[i] = x[i] * inv * g[i];
}


const uint64_t k_exp2_table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13, 0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};

float k_expf(float x) {
    uint32_t ux;
    memcpy(&ux, &x, 4);
    if (((ux >> 20) & 0x7ff) >= 0x42b) {  // |x| >= 88, inf or NaN: the saturations, as glibc
        if (ux == 0xff800000u) return 0.0f;
        if (((ux >> 20) & 0x7ff) >= 0x7f8) return x + x;
        if (x > 0x1.62e42ep6f) return INFINITY;
        if (x < -0x1.9fe368p6f) return 0.0f;
        if (x < -0x1.9d1d9ep6f) return 0x1p-149f;
    }
    double xd = x, kd = fma(K_EXP_INVLN2N, xd, K_EXP_SHIFT);
    uint64_t ki;
    memcpy(&ki, &kd, 8);
    kd -= K_EXP_SHIFT;
    double r = fma(K_EXP_INVLN2N, xd, -kd);   // x * 32 / ln 2 - k, in [-1/2, 1/2]
    uint64_t t = k_exp2_table[ki % 32] + (ki << 47);
    double s;
    memcpy(&s, &t, 8);   // 2^(k/32)
    double z = fma(K_EXP_C0, r, K_EXP_C1), r2 = r * r, y = fma(K_EXP_C2, r, 1.0);
    y = fma(z, r2, y);
    return (float)(y * s);
}

void k_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;  // as fmaxf (a NaN never wins), without the libm call
    double sum = 0;
    for (int i = 0; i < n; i++) { x[i] = k_expf(x[i] - mx); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void k_softmax_rows(float *const *x, const int *n, int rows) {
    for (int r = 0; r < rows; r++) k_softmax(x[r], n[r]);
}

void k_swiglu(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) y[i] = g[i] / (1.0f + k_expf(-g[i])) * u[i];
}

void k_geglu(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) {
        float x = g[i], z2 = x * (K_GELU_A + K_GELU_B * (x * x));
        y[i] = x / (1.0f + k_expf(-z2)) * u[i];
    }
}

void k_softcap(float *x, int n, float cap) {
    for (int i = 0; i < n; i++) {
        float v = x[i] / cap, a = fabsf(v), e = k_expf(-(a + a)), t = (1.0f - e) / (1.0f + e);
        x[i] = cap * copysignf(t, v);
    }
}

static void dots8_i8(const int8_t *a, size_t lda, const int8_t *w, int k, int32_t out[8]) {
    for (int j = 0; j < 8; j++) out[j] = k_dot_i8(a + j * lda, w, k);
}

// Four products per chain and step, chain j on |x_{j/4}| and y_{j%4} (kernels.h; unsigned sums:
// the probe's wrapping is defined). The empty asm makes x look new every step, so the loop is
// not folded into one multiplication by steps.
static uint64_t mac_probe(const int8_t *v, long steps, int32_t *check) {
    int32_t x[2][4], y[4][4];
    uint32_t acc[8] = {0};
    for (int i = 0; i < 4; i++) {
        for (int s = 0; s < 2; s++) x[s][i] = v[s + i] < 0 ? -v[s + i] : v[s + i];
        for (int t = 0; t < 4; t++) y[t][i] = v[2 + t + i];
    }
    for (long s = 0; s < steps; s++) {
        __asm__ volatile("" : "+m"(x));
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 4; i++) acc[j] += (uint32_t)(x[j / 4][i] * y[j % 4][i]);
    }
    uint32_t t = 0;
    for (int j = 0; j < 8; j++) t += acc[j];
    *check = (int32_t)t;
    return (uint64_t)steps * 8 * 4;
}

const octet_kernel_set octet_kernels_scalar = {"scalar", k_dot_i8, k_dot_f32, block_dots_i8, row_to_f32, quantize_i8, dot_rows_f32, axpy_rows_f32, k_gemm8_acc,
                                                k_softmax_rows, k_swiglu, k_geglu, k_softcap, dots8_i8, mac_probe, 8, k_gemm_tile, 4, k_gemm_tile_f32};
