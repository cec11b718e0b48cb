#include "kernels.h"
#include "octet_file.h"
#include "util.h"
#include <math.h>
#include <string.h>

void k_quantize_row_i8(const float *x, int k, int8_t *q, float *s) {
    float amax = 0;
    for (int i = 0; i < k; i++) amax = fmaxf(amax, fabsf(x[i]));
    float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++) {
        float v = roundf(x[i] * inv);
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
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

static void block_dots8_i8(const int8_t *a, size_t lda, const int8_t *b, int nb, int bs, int32_t *out) {
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < 8; j++) out[i * 8 + j] = k_dot_i8(a + j * lda + (size_t)i * bs, b + (size_t)i * bs, bs);
}

float k_dot_f32(const float *a, const float *b, int k) {
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= k; i += 8)
        for (int j = 0; j < 8; j++) p[j] += a[i + j] * b[i + j];
    for (int j = 0; i < k; i++, j++) p[j] += a[i] * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

void k_quantize_row_i8_blocks(const float *x, int k, int bs, int8_t *q, float *s) {
    for (int b = 0; b < k / bs; b++) k_quantize_row_i8(x + b * bs, bs, q + b * bs, &s[b]);
}

void k_quantize_row_i8_asym(const float *x, int k, int bs, int8_t *q, float *s, float *c) {
    for (int b = 0; b < k / bs; b++) {
        const float *v = x + (size_t)b * bs;
        float lo = v[0], hi = v[0];
        for (int i = 1; i < bs; i++) { lo = fminf(lo, v[i]); hi = fmaxf(hi, v[i]); }
        float mid = 0.5f * lo + 0.5f * hi, scale = (hi - lo) / 254.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
        for (int i = 0; i < bs; i++) {
            float r = roundf((v[i] - mid) * inv);
            q[(size_t)b * bs + i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
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

void k_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = fmaxf(mx, x[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void k_swiglu(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

const octet_kernel_set octet_kernels_scalar = {"scalar", k_dot_i8, k_dot_f32, block_dots_i8, block_dots8_i8};
