// Symmetric INT8 weights per row or per 32: scale = clip / 127 with the clip rule asked for.
#include "quantize.h"
#include "octet_file.h"
#include "threadpool.h"
#include "util.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// Squared error of quantizing row with this scale.
static double q8_error(const float *row, uint64_t cols, float scale) {
    float inv = 1.0f / scale;
    double err = 0;
    for (uint64_t i = 0; i < cols; i++) {
        float v = roundf(row[i] * inv);
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        double d = row[i] - scale * v;
        err += d * d;
    }
    return err;
}

// The clip threshold as a fraction of max|row|: a coarse scan down to 0.7, then a finer one
// around the best (the error is close to unimodal in the clip).
static float mse_scale(const float *row, uint64_t cols, float amax) {
    float best_f = 1.0f;
    double best = q8_error(row, cols, amax / 127.0f);
    for (int i = 1; i <= 15; i++) {
        float f = 1.0f - 0.02f * i;
        double e = q8_error(row, cols, amax * f / 127.0f);
        if (e < best) { best = e; best_f = f; }
    }
    float center = best_f;
    for (int i = -4; i <= 4; i++) {
        float f = center + 0.005f * i;
        if (i == 0 || f > 1.0f) continue;
        double e = q8_error(row, cols, amax * f / 127.0f);
        if (e < best) { best = e; best_f = f; }
    }
    return amax * best_f / 127.0f;
}

typedef struct { const float *x; uint64_t rows, cols, group; uint32_t dtype; uint8_t *dst; int clip; double pct; atomic_int too_large; } q8_job;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}
// The pct-th percentile of |v| (linear between neighbours), never above max|v|.
static float percentile_abs(const float *v, uint64_t n, double pct) {
    float *a = malloc(n * sizeof *a);
    if (!a) return 0;
    for (uint64_t i = 0; i < n; i++) a[i] = fabsf(v[i]);
    qsort(a, n, sizeof *a, cmp_float);
    double r = pct / 100.0 * (double)(n - 1);
    uint64_t i = (uint64_t)r;
    float p = i + 1 < n ? a[i] + (float)(r - (double)i) * (a[i + 1] - a[i]) : a[n - 1];
    free(a);
    return p;
}

float octet_q8_group_scale(const float *v, uint64_t n, int clip, double pct) {
    float amax = 0;
    for (uint64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(v[i]));
    if (amax > 0 && clip == CLIP_MSE) return mse_scale(v, n, amax);
    if (amax > 0 && clip == CLIP_PCT) {
        float c = percentile_abs(v, n, pct);
        return (c > 0 ? c : amax) / 127.0f;
    }
    return amax / 127.0f;
}

float octet_q8_store_scale(uint8_t *scales, uint32_t dtype, uint64_t i, float scale) {
    if (dtype != OCTET_Q8G32H) { memcpy(scales + i * 4, &scale, 4); return scale; }
    uint16_t h = octet_f32_to_f16(scale);
    memcpy(scales + i * 2, &h, 2);
    return octet_f16_to_f32(h);
}

static void q8_rows(void *p, int ith, int nth) {
    q8_job *j = p;
    int r0, r1;
    octet_split((int)j->rows, ith, nth, &r0, &r1);
    int8_t *q = (int8_t *)j->dst;
    uint64_t so = octet_q8_scales_offset(j->rows, j->cols), cols = j->cols, g = j->group;
    for (uint64_t r = (uint64_t)r0; r < (uint64_t)r1; r++) {
        for (uint64_t c0 = 0; c0 < cols; c0 += g) {
            const float *v = j->x + r * cols + c0;
            // A subnormal scale has no finite inverse (0 * inf would be NaN): such a group is zeros.
            uint64_t si = octet_q8_scale_index(j->dtype, r, c0 / g, cols / g);
            float scale = octet_q8_store_scale(j->dst + so, j->dtype, si, octet_q8_group_scale(v, g, j->clip, j->pct));
            if (isinf(scale)) atomic_store(&j->too_large, 1);
            float inv = scale > 0 ? 1.0f / scale : 0.0f;
            if (!isfinite(inv)) inv = 0.0f;
            for (uint64_t i = 0; i < g; i++) {
                float x = roundf(v[i] * inv);
                q[r * cols + c0 + i] = (int8_t)(x > 127 ? 127 : x < -127 ? -127 : x);
            }
        }
    }
}

int octet_quantize_q8(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, uint8_t *dst, int clip, double pct, int n_threads) {
    uint64_t so = octet_q8_scales_offset(rows, cols), g = octet_q8_group(dtype, cols);
    memset(dst + rows * cols, 0, so - rows * cols);
    memset(dst + so, 0, octet_q8_scale_rows(dtype, rows) * (cols / g) * octet_q8_scale_bytes(dtype));  // a last tile's missing rows
    q8_job j = {x, rows, cols, octet_q8_group(dtype, cols), dtype, dst, clip, pct, 0};
    octet_threadpool *tp = n_threads > 1 && rows > 1 ? octet_threadpool_new(n_threads) : NULL;
    if (tp) { octet_threadpool_run(tp, q8_rows, &j); octet_threadpool_free(tp); }
    else q8_rows(&j, 0, 1);
    return atomic_load(&j.too_large) ? octet_q8_scale_overflow(dtype) : 0;
}

int octet_q8_scale_overflow(uint32_t dtype) {
    octet_set_error("weights beyond %s's range (f16 scales: |w| up to 65504 x 127); use --type q8g32", octet_dtype_name(dtype));
    return -1;
}
