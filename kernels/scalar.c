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

float k_dot_f32(const float *a, const float *b, int k) {
    float p[8] = {0};
    int i = 0;
    for (; i + 8 <= k; i += 8)
        for (int j = 0; j < 8; j++) p[j] += a[i + j] * b[i + j];
    for (int j = 0; i < k; i++, j++) p[j] += a[i] * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

void k_gemm_q8_i8(const int8_t *xq, const float *xs, int m, int k, const int8_t *wq, const float *ws,
                  int n0, int n1, float *y, int ldy) {
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = ws[n] * (xs[r] * (float)k_dot_i8(xq + (size_t)r * k, w, k));
    }
}

void k_gemm_f32(const float *x, int m, int k, const void *w, int wdtype, int n0, int n1, float *y, int ldy, float *row) {
    for (int n = n0; n < n1; n++) {
        const float *wr;
        if (wdtype == OCTET_F32) wr = (const float *)w + (size_t)n * k;
        else {
            const uint16_t *h = (const uint16_t *)w + (size_t)n * k;
            for (int i = 0; i < k; i++) row[i] = wdtype == OCTET_F16 ? octet_f16_to_f32(h[i]) : octet_bf16_to_f32(h[i]);
            wr = row;
        }
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = k_dot_f32(x + (size_t)r * k, wr, k);
    }
}

void k_quantize_row_i8_blocks(const float *x, int k, int bs, int8_t *q, float *s) {
    for (int b = 0; b < k / bs; b++) k_quantize_row_i8(x + b * bs, bs, q + b * bs, &s[b]);
}

void k_gemm_q8_i8_blocks(const int8_t *xq, const float *xs, int m, int k, int bs, const int8_t *wq, const float *ws,
                         int n0, int n1, float *y, int ldy) {
    int nb = k / bs;
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        for (int r = 0; r < m; r++) {
            const int8_t *x = xq + (size_t)r * k;
            const float *sx = xs + (size_t)r * nb;
            float acc = 0;
            for (int b = 0; b < nb; b++) acc += sx[b] * (float)k_dot_i8(x + b * bs, w + b * bs, bs);
            y[(size_t)r * ldy + n] = ws[n] * acc;
        }
    }
}

void k_gemm_q8_f32(const float *x, int m, int k, const int8_t *wq, const float *ws, int n0, int n1, float *y, int ldy, float *row) {
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        for (int i = 0; i < k; i++) row[i] = (float)w[i];
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = ws[n] * k_dot_f32(x + (size_t)r * k, row, k);
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
