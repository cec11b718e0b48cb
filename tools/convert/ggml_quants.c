#include "ggml_quants.h"
#include "util.h"
#include <string.h>

typedef struct { uint32_t type, block, bytes; const char *name; int dequant; } type_info;
static const type_info types[] = {
    {GGML_F32, 1, 4, "F32", 1},     {GGML_F16, 1, 2, "F16", 1},     {GGML_Q4_0, 32, 18, "Q4_0", 1},
    {GGML_Q4_1, 32, 20, "Q4_1", 1}, {GGML_Q5_0, 32, 22, "Q5_0", 1}, {GGML_Q5_1, 32, 24, "Q5_1", 1},
    {GGML_Q8_0, 32, 34, "Q8_0", 1}, {GGML_Q8_1, 32, 36, "Q8_1", 0}, {GGML_Q2_K, 256, 84, "Q2_K", 0},
    {GGML_Q3_K, 256, 110, "Q3_K", 0}, {GGML_Q4_K, 256, 144, "Q4_K", 1}, {GGML_Q5_K, 256, 176, "Q5_K", 1},
    {GGML_Q6_K, 256, 210, "Q6_K", 1}, {GGML_Q8_K, 256, 292, "Q8_K", 0}, {GGML_BF16, 1, 2, "BF16", 1},
};

static const type_info *info(uint32_t type) {
    for (unsigned i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].type == type) return &types[i];
    return NULL;
}
int ggml_type_geometry(uint32_t type, uint32_t *block, uint32_t *bytes) {
    const type_info *t = info(type);
    if (!t) return 0;
    *block = t->block; *bytes = t->bytes;
    return 1;
}
const char *ggml_type_name(uint32_t type) { const type_info *t = info(type); return t ? t->name : "unknown"; }
int ggml_can_dequantize(uint32_t type) { const type_info *t = info(type); return t && t->dequant; }

static float half(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return octet_f16_to_f32(h); }

// The 6-bit scale and min of sub-block j packed in 12 bytes (Q4_K, Q5_K).
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) { *sc = q[j] & 63; *m = q[j + 4] & 63; }
    else { *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}

static void dq_q4_0(const uint8_t *b, float *y) {
    float d = half(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) { y[j] = ((qs[j] & 0xF) - 8) * d; y[j + 16] = ((qs[j] >> 4) - 8) * d; }
}
static void dq_q4_1(const uint8_t *b, float *y) {
    float d = half(b), m = half(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) { y[j] = (qs[j] & 0xF) * d + m; y[j + 16] = (qs[j] >> 4) * d + m; }
}
static void dq_q5(const uint8_t *b, float *y, int with_min) {
    float d = half(b), m = with_min ? half(b + 2) : 0;
    uint32_t qh;
    memcpy(&qh, b + (with_min ? 4 : 2), 4);
    const uint8_t *qs = b + (with_min ? 8 : 6);
    for (int j = 0; j < 16; j++) {
        int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
        int x0 = (qs[j] & 0xF) | h0, x1 = (qs[j] >> 4) | h1;
        if (with_min) { y[j] = x0 * d + m; y[j + 16] = x1 * d + m; }
        else { y[j] = (x0 - 16) * d; y[j + 16] = (x1 - 16) * d; }
    }
}
static void dq_q8_0(const uint8_t *b, float *y) {
    float d = half(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = qs[j] * d;
}
static void dq_q4_k(const uint8_t *b, float *y) {
    float d = half(b), min = half(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        uint8_t sc, m;
        scale_min_k4(is, scales, &sc, &m);
        float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
    }
}
static void dq_q5_k(const uint8_t *b, float *y) {
    float d = half(b), min = half(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        uint8_t sc, m;
        scale_min_k4(is, scales, &sc, &m);
        float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
}
static void dq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = half(b + 208);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
    }
}

void ggml_dequantize(uint32_t type, const void *src, float *dst, uint64_t n) {
    const uint8_t *p = src;
    uint32_t block, bytes;
    if (!ggml_type_geometry(type, &block, &bytes)) return;
    for (uint64_t i = 0; i < n; i += block, p += bytes, dst += block) {
        switch (type) {
        case GGML_F32: memcpy(dst, p, 4); break;
        case GGML_F16: dst[0] = half(p); break;
        case GGML_BF16: { uint16_t h; memcpy(&h, p, 2); dst[0] = octet_bf16_to_f32(h); break; }
        case GGML_Q4_0: dq_q4_0(p, dst); break;
        case GGML_Q4_1: dq_q4_1(p, dst); break;
        case GGML_Q5_0: dq_q5(p, dst, 0); break;
        case GGML_Q5_1: dq_q5(p, dst, 1); break;
        case GGML_Q8_0: dq_q8_0(p, dst); break;
        case GGML_Q4_K: dq_q4_k(p, dst); break;
        case GGML_Q5_K: dq_q5_k(p, dst); break;
        case GGML_Q6_K: dq_q6_k(p, dst); break;
        }
    }
}
