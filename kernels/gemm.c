// Matrix products over the primitives of a kernel set; the loop order and the float
// rescaling order are fixed here, so every set gives the same bits.
#include "kernels.h"
#include "octet_file.h"
#include "util.h"

// Sum of a row's int8 weights from its block sums (asymmetric activations with one block per row).
static int32_t row_sum(const int16_t *wsum, int n, int k) {
    int nb = (int)octet_block_sums_per_row((uint64_t)k);
    int32_t t = 0;
    for (int b = 0; b < nb; b++) t += wsum[(size_t)n * nb + b];
    return t;
}

void k_gemm_q8_i8(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m, int k, const int8_t *wq, const float *ws,
                  const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        float rs = xc ? (float)row_sum(wsum, n, k) : 0;
        for (int r = 0; r < m; r++) {
            float acc = xs[r] * (float)ks->dot_i8(xq + (size_t)r * k, w, k);
            if (xc) acc += xc[r] * rs;
            y[(size_t)r * ldy + n] = ws[n] * acc;
        }
    }
}

void k_gemm_f32(const octet_kernel_set *ks, const float *x, int m, int k, const void *w, int wdtype, int n0, int n1, float *y, int ldy, float *row) {
    for (int n = n0; n < n1; n++) {
        const float *wr;
        if (wdtype == OCTET_F32) wr = (const float *)w + (size_t)n * k;
        else {
            ks->row_to_f32((const uint16_t *)w + (size_t)n * k, wdtype, NULL, k, row);
            wr = row;
        }
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = ks->dot_f32(x + (size_t)r * k, wr, k);
    }
}

// Prefill: groups of 8 tokens meet each weight row through the set's gemm8_acc (lane j is
// token j, with the per-token loop's arithmetic in the same order: both paths give the same bits).
#define GROUP 8
#define MAX_BLOCKS 512

// Block values of 8 consecutive rows (nb per row), transposed to [block][row].
static void transpose8(const float *src, int nb, float *dst) {
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < GROUP; j++) dst[b * GROUP + j] = src[(size_t)j * nb + b];
}

// q8 weights, activation blocks of bs, tokens [0, m8) in groups of 8.
static void q8_blocks_grouped(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m8, int k, int bs,
                              const int8_t *wq, const float *ws, const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    int nb = k / bs;
    float sx[MAX_BLOCKS * GROUP], cx[MAX_BLOCKS * GROUP];
    for (int r = 0; r < m8; r += GROUP) {
        transpose8(xs + (size_t)r * nb, nb, sx);
        if (xc) transpose8(xc + (size_t)r * nb, nb, cx);
        for (int n = n0; n < n1; n++) {
            float acc[GROUP] = {0};
            ks->gemm8_acc(xq + (size_t)r * k, (size_t)k, wq + (size_t)n * k, nb, bs, sx, NULL, xc ? cx : NULL, xc ? wsum + (size_t)n * nb : NULL, acc);
            for (int j = 0; j < GROUP; j++) y[(size_t)(r + j) * ldy + n] = ws[n] * acc[j];
        }
    }
}

void k_gemm_q8_i8_blocks(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m, int k, int bs, const int8_t *wq, const float *ws,
                         const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    int nb = k / bs, m8 = nb <= MAX_BLOCKS ? m / GROUP * GROUP : 0;
    if (m8) q8_blocks_grouped(ks, xq, xs, xc, m8, k, bs, wq, ws, wsum, n0, n1, y, ldy);
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        const int16_t *sw = xc ? wsum + (size_t)n * nb : NULL;  // asymmetric: bs == 32
        for (int r = m8; r < m; r++) {
            const int8_t *x = xq + (size_t)r * k;
            const float *sx = xs + (size_t)r * nb;
            int32_t dots[512];  // nb <= 512: rows up to 16384 inputs in blocks of 32
            float acc = 0;
            ks->block_dots_i8(x, w, nb, bs, dots);
            if (sw) {
                const float *cx = xc + (size_t)r * nb;
                for (int b = 0; b < nb; b++) acc += sx[b] * (float)dots[b] + cx[b] * (float)sw[b];
            } else for (int b = 0; b < nb; b++) acc += sx[b] * (float)dots[b];
            y[(size_t)r * ldy + n] = ws[n] * acc;
        }
    }
}

void k_gemm_q8_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const float *ws, int n0, int n1, float *y, int ldy, float *row) {
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        for (int i = 0; i < k; i++) row[i] = (float)w[i];
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = ws[n] * ks->dot_f32(x + (size_t)r * k, row, k);
    }
}


// The dequantized sum of a q8g32 row (its scales times its block sums): what one offset per
// activation row (asymmetric, no blocks) multiplies.
static float q8g_row_sum(const float *sw, const int16_t *ssum, int nb) {
    float t = 0;
    if (ssum) for (int b = 0; b < nb; b++) t += sw[b] * (float)ssum[b];
    return t;
}

// A q8g32 output from its accumulated blocks: per-32 activation scales are already in acc; one
// scale per row (abs 0) is applied here, with the row's offset times the row sum (asymmetric).
static float q8g_finish(int abs, float acc, float xs, const float *xc, float wtot) {
    return abs ? acc : xc ? xs * acc + *xc * wtot : xs * acc;
}

// q8g32 weights, tokens [0, m8) in groups of 8 (abs and xc as in k_gemm_q8g_i8).
static void q8g_grouped(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m8, int k, int abs,
                        const int8_t *wq, const float *ws, const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    int nb = k / (int)OCTET_Q8_GROUP;
    float sx[MAX_BLOCKS * GROUP], cx[MAX_BLOCKS * GROUP];
    for (int r = 0; r < m8; r += GROUP) {
        if (abs) transpose8(xs + (size_t)r * nb, nb, sx);
        if (abs && xc) transpose8(xc + (size_t)r * nb, nb, cx);
        for (int n = n0; n < n1; n++) {
            const float *sw = ws + (size_t)n * nb;
            const int16_t *ssum = xc ? wsum + (size_t)n * nb : NULL;
            float acc[GROUP] = {0};
            ks->gemm8_acc(xq + (size_t)r * k, (size_t)k, wq + (size_t)n * k, nb, (int)OCTET_Q8_GROUP, abs ? sx : NULL, sw,
                          abs && ssum ? cx : NULL, ssum, acc);
            float wtot = abs ? 0 : q8g_row_sum(sw, ssum, nb);
            for (int j = 0; j < GROUP; j++)
                y[(size_t)(r + j) * ldy + n] = q8g_finish(abs, acc[j], xs[r + j], ssum ? xc + r + j : NULL, wtot);
        }
    }
}

// q8g32 weights (one scale per 32 weights). abs 32: activations with one scale per 32 inputs,
// acc += (xs[b] * ws[b]) * dot_b; abs 0: one activation scale per row, applied to the sum of
// ws[b] * dot_b. Blocks are reduced in chunks of 512 (rows of any width).
void k_gemm_q8g_i8(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m, int k, int abs, const int8_t *wq, const float *ws,
                   const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    int nb = k / (int)OCTET_Q8_GROUP, m8 = nb <= MAX_BLOCKS ? m / GROUP * GROUP : 0;
    int32_t dots[512];
    if (m8) q8g_grouped(ks, xq, xs, xc, m8, k, abs, wq, ws, wsum, n0, n1, y, ldy);
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        const float *sw = ws + (size_t)n * nb;
        const int16_t *ssum = xc ? wsum + (size_t)n * nb : NULL;
        float wtot = abs ? 0 : q8g_row_sum(sw, ssum, nb);
        for (int r = m8; r < m; r++) {
            const int8_t *x = xq + (size_t)r * k;
            const float *sx = abs ? xs + (size_t)r * nb : NULL, *cx = abs && ssum ? xc + (size_t)r * nb : NULL;
            float acc = 0;
            for (int b0 = 0; b0 < nb; b0 += 512) {
                int cnt = nb - b0 < 512 ? nb - b0 : 512;
                ks->block_dots_i8(x + (size_t)b0 * OCTET_Q8_GROUP, w + (size_t)b0 * OCTET_Q8_GROUP, cnt, (int)OCTET_Q8_GROUP, dots);
                if (cx) for (int b = 0; b < cnt; b++) acc += sw[b0 + b] * (sx[b0 + b] * (float)dots[b] + cx[b0 + b] * (float)ssum[b0 + b]);
                else if (sx) for (int b = 0; b < cnt; b++) acc += (sx[b0 + b] * sw[b0 + b]) * (float)dots[b];
                else for (int b = 0; b < cnt; b++) acc += sw[b0 + b] * (float)dots[b];
            }
            y[(size_t)r * ldy + n] = q8g_finish(abs, acc, xs[r], ssum ? xc + r : NULL, wtot);
        }
    }
}

void k_gemm_q8g_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const float *ws, int n0, int n1, float *y, int ldy, float *row) {
    int nb = k / (int)OCTET_Q8_GROUP;
    for (int n = n0; n < n1; n++) {
        const int8_t *w = wq + (size_t)n * k;
        const float *sw = ws + (size_t)n * nb;
        ks->row_to_f32(w, OCTET_Q8G32, sw, k, row);
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = ks->dot_f32(x + (size_t)r * k, row, k);
    }
}
