// Matrix products over the primitives of a kernel set; the loop order and the float
// rescaling order are fixed here, so every set gives the same bits.
#include "kernels.h"
#include "kernel_types.h"
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 512    // blocks of 32 per row the stack buffers below hold
#define TILE_TOKENS 48    // tokens per register-tile call

// Sum of a row's int8 weights from its block sums (asymmetric activations with one block per row).
static int32_t row_sum(const int16_t *wsum, int n, int k) {
    int nb = (int)octet_block_sums_per_row((uint64_t)k);
    int32_t t = 0;
    for (int b = 0; b < nb; b++) t += wsum[octet_block_sum_index((uint64_t)n, (uint64_t)b, (uint64_t)nb)];
    return t;
}

// One (token, row) output of the per-row product from its exact int32 dot: the same arithmetic
// in every grouping.
static inline void put_row_dot(float *y, int ldy, int r, int n, int32_t dot, const float *xs, const float *xc, const float *ws, float rs) {
    float acc = xs[r] * (float)dot;
    if (xc) acc += xc[r] * rs;
    y[(size_t)r * ldy + n] = ws[n] * acc;
}

// Groups of 8 tokens against each row, then each remaining token against the rows one by one
// (gemm_pairs' order below: a group's activations stay in cache while the rows pass).
void k_gemm_q8_i8(const octet_kernel_set *ks, const int8_t *xq, const float *xs, const float *xc, int m, int k, const int8_t *wq, const float *ws,
                  const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    int32_t d[8];
    for (int r = 0; r < m; r += r + 8 <= m ? 8 : 1)
        for (int n = n0; n < n1; n++) {
            const int8_t *x = xq + (size_t)r * k, *w = wq + (size_t)n * k;
            float rs = xc ? (float)row_sum(wsum, n, k) : 0;
            if (r + 8 > m) put_row_dot(y, ldy, r, n, ks->dot_i8(x, w, k), xs, xc, ws, rs);
            else {
                ks->dots8_i8(x, (size_t)k, w, k, d);
                for (int j = 0; j < 8; j++) put_row_dot(y, ldy, r + j, n, d[j], xs, xc, ws, rs);
            }
        }
}

// The f32 products' weights: row n widened to f32 (q8: its int8 values, the scale applied after
// the dot; q8g32/q8g32h: scale times value), or f32 rows read in place.
typedef struct {
    const octet_kernel_set *ks;
    const void *w, *ws;       // ws: q8's f32 row scales, q8g32's f32 or q8g32h's f16 block scales
    int dtype, k;
} f32_rows;

static const float *f32_row(const f32_rows *o, int n, float *row) {
    int k = o->k;
    if (o->dtype == OCTET_F32) return (const float *)o->w + (size_t)n * k;
    if (o->dtype == OCTET_Q8) {
        const int8_t *w = (const int8_t *)o->w + (size_t)n * k;
        for (int i = 0; i < k; i++) row[i] = (float)w[i];
    } else if (octet_is_q8_grouped((uint32_t)o->dtype)) {
        int nb = k / (int)OCTET_Q8_GROUP;
        const int8_t *w = (const int8_t *)o->w + (size_t)n * k;
        float buf[MAX_BLOCKS];
        for (int b = 0; b < nb; b += MAX_BLOCKS) {  // f16 scales widened a stretch at a time
            int cnt = nb - b < MAX_BLOCKS ? nb - b : MAX_BLOCKS;
            const float *sw = buf;
            if (o->dtype == OCTET_Q8G32) sw = (const float *)o->ws + (size_t)n * nb + b;
            else
                for (int i = 0; i < cnt; i++)  // the row's scales, 8 apart in its tile
                    buf[i] = octet_f16_to_f32(((const uint16_t *)o->ws)[octet_q8_scale_index(OCTET_Q8G32H, (uint64_t)n, (uint64_t)(b + i), (uint64_t)nb)]);
            o->ks->row_to_f32(w + (size_t)b * OCTET_Q8_GROUP, OCTET_Q8G32, sw, cnt * (int)OCTET_Q8_GROUP, row + (size_t)b * OCTET_Q8_GROUP);
        }
    } else o->ks->row_to_f32((const uint16_t *)o->w + (size_t)n * k, o->dtype, NULL, k, row);
    return row;
}

// Row n's output from its dot (q8: times the row scale).
static inline float f32_out(const f32_rows *o, int n, float dot) { return o->dtype == OCTET_Q8 ? ((const float *)o->ws)[n] * dot : dot; }

// Register tiles (octet_tile_f32) for prefills of at least this many tokens. All the range's
// panels are widened once; then a block of tokens small enough to stay in L2 passes every panel
// before the next block comes. (Each panel against all the tokens re-read the whole prompt's
// activations from L3 every P rows: 1.2-3 MB per panel at pp512.) 0, or -1 when out of memory.
#define TILE_F32_MIN 8
#define TILE_F32_BLOCK_BYTES (192 * 1024)   // a token block's activations
static int gemm_f32_tiles(const f32_rows *o, const float *x, int m, int n0, int n1, float *y, int ldy) {
    int P = o->ks->tile_rows_f32, k = o->k, np = (n1 - n0 + P - 1) / P;
    int tb = TILE_F32_BLOCK_BYTES / (int)sizeof(float) / k / 6 * 6;   // (whole steps of 2- and 3-token tiles)
    if (tb < 12) tb = 12;
    if (tb > m) tb = m;
    float *panels = malloc(sizeof(float) * ((size_t)np * P * k + (size_t)tb * P + k));
    if (!panels) return -1;
    float *out = panels + (size_t)np * P * k, *row = out + (size_t)tb * P;
    for (int p = 0; p < np; p++) {
        int p0 = n0 + p * P, rows = n1 - p0 < P ? n1 - p0 : P;
        for (int r = 0; r < P; r++) {
            const float *src = r < rows ? f32_row(o, p0 + r, row) : NULL;
            for (int c = 0; c < k; c += 8) {
                float *d = panels + (size_t)p * P * k + ((size_t)(c / 8) * P + r) * 8;
                if (src) memcpy(d, src + c, 8 * sizeof(float));
                else memset(d, 0, 8 * sizeof(float));
            }
        }
    }
    for (int t0 = 0; t0 < m; t0 += tb)
        for (int p = 0; p < np; p++) {
            int p0 = n0 + p * P, rows = n1 - p0 < P ? n1 - p0 : P;
            octet_tile_f32 t = {.w = panels + (size_t)p * P * k, .a = x + (size_t)t0 * k, .lda = (size_t)k, .P = P, .nt = m - t0 < tb ? m - t0 : tb, .k = k, .out = out};
            o->ks->gemm_tile_f32(&t);
            for (int j = 0; j < t.nt; j++)
                for (int r = 0; r < rows; r++) y[(size_t)(t0 + j) * ldy + p0 + r] = f32_out(o, p0 + r, out[(size_t)j * P + r]);
        }
    free(panels);
    return 0;
}

// Rows [n0, n1): tiles when the set has them and there are enough tokens, else each row widened
// once and dotted with every token.
static void gemm_f32(const f32_rows *o, const float *x, int m, int n0, int n1, float *y, int ldy, float *row) {
    if (o->ks->tile_rows_f32 && o->k % 8 == 0 && m >= TILE_F32_MIN && gemm_f32_tiles(o, x, m, n0, n1, y, ldy) == 0) return;
    for (int n = n0; n < n1; n++) {
        const float *wr = f32_row(o, n, row);
        for (int r = 0; r < m; r++) y[(size_t)r * ldy + n] = f32_out(o, n, o->ks->dot_f32(x + (size_t)r * o->k, wr, o->k));
    }
}

void k_gemm_f32(const octet_kernel_set *ks, const float *x, int m, int k, const void *w, int wdtype, int n0, int n1, float *y, int ldy, float *row) {
    f32_rows o = {ks, w, NULL, wdtype, k};
    gemm_f32(&o, x, m, n0, n1, y, ldy, row);
}

// Eight pairs of (token, weight row) at a time through the set's gemm8_acc: eight tokens against
// one row (prefill), or one token against eight rows (decode); a pair's arithmetic is the same
// in every grouping, so all paths give the same bits.

// A q8 or q8g32 product's operands.
typedef struct {
    const octet_kernel_set *ks;
    const int8_t *xq, *wq;
    const float *xs, *xc, *ws;
    const int16_t *wsum;
    int k, nb, bs, g32, abs;  // g32: per-32 weight scales; abs: activation scales per block (else per row)
    float *y;
    int ldy;
    const uint16_t *ws16;     // q8g32h: the weights' per-32 scales in f16 tiles of 8 rows (ws then unused)
    int ws_row0;              // grouped f32 scales: ws holds rows from this one on
    const uint8_t *xu;        // xq plus 128, or NULL
} gemm_ops;

// Row n's scale of block b (f16 widened exactly, so q8g32h gives q8g32's bits for the same values).
static inline float scale_at(const gemm_ops *o, int n, int b) {
    if (o->ws16) return octet_f16_to_f32(o->ws16[octet_q8_scale_index(OCTET_Q8G32H, (uint64_t)n, (uint64_t)b, (uint64_t)o->nb)]);
    return o->ws[(size_t)(n - o->ws_row0) * o->nb + b];
}
// The f16 scales of the tile of 8 rows that starts at row n (n % 8 == 0), laid out [nb][8].
static inline const uint16_t *tile_at(const gemm_ops *o, int n) { return o->ws16 + (size_t)(n / 8) * o->nb * 8; }

// What row n's offset term multiplies: grouped weights with asymmetric per-row activations need
// the row's dequantized sum (its scales times its block sums); every other mode nothing.
static float row_total(const gemm_ops *o, int n) {
    if (!o->g32 || o->abs || !o->xc) return 0;
    float t = 0;
    for (int b = 0; b < o->nb; b++) t += scale_at(o, n, b) * (float)o->wsum[octet_block_sum_index((uint64_t)n, (uint64_t)b, (uint64_t)o->nb)];
    return t;
}

// Output (r, n) from its accumulated blocks: q8 applies the row's weight scale; q8g32 with
// per-row activation scales applies that scale, with the row's offset times the row total.
static float finish(const gemm_ops *o, int r, int n, float acc, float wtot) {
    if (!o->g32) return o->ws[n] * acc;
    if (o->abs) return acc;
    if (!o->xc) return o->xs[r] * acc;
    return o->xs[r] * acc + o->xc[r] * wtot;
}

// Lane j: token r + j*dr with weight row n + j*dn (decode with q8g32h scales or block sums: n a
// multiple of 8, the rows one tile); sx, cx the lanes' activation block values (NULL: none).
static void run8(const gemm_ops *o, int r, int dr, int n, int dn, const float *sx, const float *cx, int prefetch) {
    size_t nb = (size_t)o->nb;
    octet_lanes8 g = {.a = o->xq + (size_t)r * o->k, .w = o->wq + (size_t)n * o->k, .lda = (size_t)dr * o->k, .ldw = (size_t)dn * o->k,
                      .ldsw = dn * nb, .ldS = (size_t)dn, .nb = o->nb, .bs = o->bs, .sx = sx, .cx = cx,
                      .sw = o->g32 && !o->ws16 ? o->ws + (size_t)(n - o->ws_row0) * nb : NULL, .sw16 = o->ws16 ? tile_at(o, n) : NULL,
                      .S = o->xc ? o->wsum + octet_block_sum_index((uint64_t)n, 0, nb) : NULL, .prefetch = prefetch};
    float acc[8] = {0};
    o->ks->gemm8_acc(&g, acc);
    float *y = o->y + (size_t)r * o->ldy + n;
    size_t step = (size_t)dr * o->ldy + (size_t)dn;
    if (!o->g32) {  // q8, the common case: finish's first line, without its per-lane branches
        const float *ws = o->ws + n;
        if (dn) for (int j = 0; j < 8; j++) y[j] = ws[j] * acc[j];   // 8 rows: contiguous outputs
        else {
            float w = ws[0];   // 8 tokens: outputs a row of y apart (unrolled: the loop cost 7 instructions a store)
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) y[j * step] = w * acc[j];
        }
        return;
    }
    if (o->abs) {  // grouped weights with block activation scales: the sums are the outputs
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) y[j * step] = acc[j];
        return;
    }
    float wtot = dn ? 0 : row_total(o, n);  // eight tokens share one row's total
    for (int j = 0; j < 8; j++) y[j * step] = finish(o, r + j * dr, n + j * dn, acc[j], dn ? row_total(o, n + j) : wtot);
}

// One pair alone, with gemm8_acc's arithmetic (the scalar reference's, term by term).
static void run1(const gemm_ops *o, int r, int n) {
    int nb = o->nb;
    const int8_t *x = o->xq + (size_t)r * o->k, *w = o->wq + (size_t)n * o->k;
    const float *sx = o->abs ? o->xs + (size_t)r * nb : NULL, *cx = o->abs && o->xc ? o->xc + (size_t)r * nb : NULL;
    int g32 = o->g32;
    const int16_t *S = o->xc ? o->wsum + octet_block_sum_index((uint64_t)n, 0, (uint64_t)nb) : NULL;   // block b at S[b*8]
    int32_t dots[MAX_BLOCKS];
    float acc = 0;
    for (int b0 = 0; b0 < nb; b0 += MAX_BLOCKS) {
        int cnt = nb - b0 < MAX_BLOCKS ? nb - b0 : MAX_BLOCKS;
        o->ks->block_dots_i8(x + (size_t)b0 * o->bs, w + (size_t)b0 * o->bs, cnt, o->bs, dots);
        for (int i = 0; i < cnt; i++) {
            int b = b0 + i;
            float d = (float)dots[i];
            if (!g32) { acc += cx ? sx[b] * d + cx[b] * (float)S[b * 8] : sx[b] * d; continue; }
            float sw = scale_at(o, n, b);
            if (!sx) acc += sw * d;
            else if (cx) acc += (sx[b] * sw) * d + (cx[b] * sw) * (float)S[b * 8];
            else acc += (sx[b] * sw) * d;
        }
    }
    o->y[(size_t)r * o->ldy + n] = finish(o, r, n, acc, row_total(o, n));
}

// dst[b*8 + j] = src[j*ld + b]: eight rows' block values transposed (ld = nb), or one row's
// values repeated in every lane (ld = 0).
static void lane_values(const float *src, int nb, size_t ld, float *dst) {
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < 8; j++) dst[b * 8 + j] = src[j * ld + b];
}

// Rows [n0, n1) for all m tokens: whole groups of 8 tokens row by row, then each remaining token
// against groups of 8 rows, then the last pairs one by one.
static void gemm_pairs(const gemm_ops *o, int m, int n0, int n1);

// Prefill over q8g32h rows: the rows' f16 scales widened once (by the set) and laid out row by
// row, a stretch of rows at a time, so the 8-token groups that pass each row broadcast f32
// scales (q8g32's path: the same values, so the same bits) instead of converting halves every
// block. Decode keeps the tiles (eight rows' scales side by side in 16 bytes). Every q8g32h call
// with an 8-token group comes here (such a group needs nb <= MAX_BLOCKS, so 16 rows fit).
#define WIDE_SCALES (16 * MAX_BLOCKS)
static void gemm_pairs_widened(const gemm_ops *o, int m, int n0, int n1) {
    float wide[WIDE_SCALES], tile[WIDE_SCALES];
    int nb = o->nb, rows = WIDE_SCALES / nb / 8 * 8;
    for (int c0 = n0 / 8 * 8; c0 < n1; c0 += rows) {
        int c1 = c0 + rows < n1 ? c0 + rows : n1, t1 = (c1 + 7) / 8 * 8;  // whole tiles from c0's on
        o->ks->row_to_f32(o->ws16 + (size_t)(c0 / 8) * nb * 8, OCTET_F16, NULL, (t1 - c0) * nb, tile);
        for (int n = c0; n < c1; n++)
            for (int b = 0; b < nb; b++) wide[(size_t)(n - c0) * nb + b] = tile[((size_t)(n - c0) / 8 * nb + b) * 8 + (n - c0) % 8];
        gemm_ops w = *o;
        w.ws16 = NULL; w.ws = wide; w.ws_row0 = c0;
        gemm_pairs(&w, m, c0 > n0 ? c0 : n0, c1);
    }
}

// Register tiles (kernels.h, octet_tile) for prefills of at least TILE_MIN tokens (fewer pass
// the rows too few times to repay the packing), TILE_TOKENS at a time per call.
#define TILE_MIN 16

// Eight int8 in v's bytes flipped to u8 and added pairwise into four 16-bit lanes (a block's
// 32 bytes fill each lane to at most 4 x 510, so nothing carries between lanes).
static inline uint64_t lanes_u16(uint64_t v) {
    v ^= 0x8080808080808080u;
    return (v & 0x00ff00ff00ff00ffu) + ((v >> 8) & 0x00ff00ff00ff00ffu);
}

// Panel rows [p0, p0 + rows) of P packed, with their block sums, scales and (asymmetric) sums
// as floats; the rows past `rows` are zeros (their outputs are never written). `wide` is
// scratch of nb * 8 floats (q8g32h: a tile's scales widened by the set).
static void pack_panel(const gemm_ops *o, int p0, int rows, int P, int8_t *w, int32_t *wofs, float *sw, float *S, float *wide) {
    int nb = o->nb;
    for (int r = 0; r < P; r++) {
        const int8_t *src = r < rows ? o->wq + (size_t)(p0 + r) * o->k : NULL;
        uint32_t *d = (uint32_t *)(void *)w + r;   // (the panel is 64-byte aligned, its units 4 bytes)
        for (int b = 0; b < nb; b++, d += 8 * (size_t)P) {
            uint64_t lanes = 0;
            for (int q = 0; q < 8; q += 2) {
                uint64_t v = 0;
                uint32_t u[2] = {0, 0};
                if (src) { memcpy(&v, src + b * 32 + q * 4, 8); memcpy(u, src + b * 32 + q * 4, 8); }
                d[(size_t)q * P] = u[0];
                d[(size_t)(q + 1) * P] = u[1];
                lanes += lanes_u16(v);
            }
            int32_t sum = (int32_t)((lanes * 0x0001000100010001u) >> 48) - 32 * 128;   // the four lanes' total
            wofs[(size_t)b * P + r] = -128 * sum;
            if (S) S[(size_t)b * P + r] = (float)sum;
        }
    }
    if (!sw) return;
    if (o->ws16 && p0 % 8 == 0) {  // whole tiles of 8 rows: [nb][8] each, widened by the set
        for (int t = 0; t < (rows + 7) / 8; t++) {   // (only the tiles the matrix stores: the last may be short of the panel)
            o->ks->row_to_f32(o->ws16 + (size_t)(p0 / 8 + t) * nb * 8, OCTET_F16, NULL, nb * 8, wide);
            for (int b = 0; b < nb; b++) memcpy(sw + (size_t)b * P + t * 8, wide + (size_t)b * 8, 8 * sizeof(float));
        }
        for (int b = 0; b < nb; b++)
            for (int r = rows; r < P; r++) sw[(size_t)b * P + r] = 0;   // (after: a stored tile's unused rows too)
        return;
    }
    for (int r = 0; r < P; r++)
        for (int b = 0; b < nb; b++) sw[(size_t)b * P + r] = r < rows ? scale_at(o, p0 + r, b) : 0;
}

// The tiled product of rows [n0, n1) for all m tokens; 0, or -1 when out of memory (nothing written).
static int gemm_tiles(const gemm_ops *o, int m, int n0, int n1) {
    const octet_kernel_set *ks = o->ks;
    int P = ks->tile_rows, nb = o->nb, k = o->k, g32 = o->g32;
    size_t panel = (size_t)P * k, per_block = (size_t)nb * P;
    size_t bytes = panel + per_block * (sizeof(int32_t) + 2 * sizeof(float)) + ((size_t)TILE_TOKENS * P + (size_t)nb * 8) * sizeof(float) +
                   (o->xu ? 0 : (size_t)m * k);
    uint8_t *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!buf) return -1;
    int8_t *w = (int8_t *)buf;
    int32_t *wofs = (int32_t *)(buf + panel);   // (k is a multiple of 32, so these stay aligned)
    float *sw = (float *)(wofs + per_block), *S = sw + per_block, *acc = S + per_block, *wide = acc + (size_t)TILE_TOKENS * P;
    const uint8_t *xu = o->xu;
    if (!xu) {
        uint8_t *u = (uint8_t *)(wide + (size_t)nb * 8);
        for (size_t i = 0; i < (size_t)m * k; i++) u[i] = (uint8_t)(o->xq[i] ^ 0x80);
        xu = u;
    }
    for (int p0 = n0; p0 < n1; p0 += P) {
        int rows = n1 - p0 < P ? n1 - p0 : P;
        pack_panel(o, p0, rows, P, w, wofs, g32 ? sw : NULL, o->xc ? S : NULL, wide);
        float wtot[256];   // (no set has panels taller than this)
        for (int r = 0; r < rows && g32 && !o->abs; r++) wtot[r] = row_total(o, p0 + r);
        for (int t0 = 0; t0 < m; t0 += TILE_TOKENS) {
            int nt = m - t0 < TILE_TOKENS ? m - t0 : TILE_TOKENS;
            // Grouped weights with block activation scales: the sums are the outputs, which a
            // whole panel writes straight into y.
            // q8's row scales are multiplied in by the tile too.
            int direct = o->abs && rows == P;
            octet_tile t = {.w = w, .wofs = wofs, .S = o->xc ? S : NULL, .sw = g32 ? sw : NULL, .a = o->xq + (size_t)t0 * k, .au = xu + (size_t)t0 * k,
                            .lda = (size_t)k, .sx = o->abs ? o->xs + (size_t)t0 * nb : NULL, .cx = o->abs && o->xc ? o->xc + (size_t)t0 * nb : NULL,
                            .P = P, .nt = nt, .nb = nb, .rs = direct && !g32 ? o->ws + p0 : NULL, .acc = direct ? o->y + (size_t)t0 * o->ldy + p0 : acc, .ldacc = direct ? (size_t)o->ldy : (size_t)P};
            ks->gemm_tile(&t);
            for (int j = 0; j < nt && !direct; j++) {   // finish's cases, the common two as loops of their own
                float *y = o->y + (size_t)(t0 + j) * o->ldy + p0;
                const float *a = acc + (size_t)j * P;
                if (!g32) for (int r = 0; r < rows; r++) y[r] = o->ws[p0 + r] * a[r];
                else if (o->abs) for (int r = 0; r < rows; r++) y[r] = a[r];
                else for (int r = 0; r < rows; r++) y[r] = finish(o, t0 + j, p0 + r, a[r], wtot[r]);
            }
        }
    }
    free(buf);
    return 0;
}

static void gemm_pairs(const gemm_ops *o, int m, int n0, int n1) {
    if (o->ks->tile_rows && o->bs == 32 && m >= TILE_MIN && o->nb <= MAX_BLOCKS && gemm_tiles(o, m, n0, n1) == 0) return;
    int nb = o->nb, m8 = nb <= MAX_BLOCKS ? m / 8 * 8 : 0, lanes = nb <= MAX_BLOCKS;
    if (o->ws16 && m8) { gemm_pairs_widened(o, m, n0, n1); return; }
    float sx[MAX_BLOCKS * 8], cx[MAX_BLOCKS * 8];
    for (int r = 0; r < m; r += r < m8 ? 8 : 1) {
        size_t ld = r < m8 ? (size_t)nb : 0;
        if (o->abs && lanes) lane_values(o->xs + (size_t)r * nb, nb, ld, sx);
        if (o->abs && lanes && o->xc) lane_values(o->xc + (size_t)r * nb, nb, ld, cx);
        const float *lx = o->abs ? sx : NULL, *lc = o->abs && o->xc ? cx : NULL;
        int n = n0;
        if (r < m8) for (; n < n1; n++) run8(o, r, 1, n, 0, lx, lc, 0);
        else if (lanes) {
            for (; n < n1 && (o->ws16 || o->xc) && n % 8; n++) run1(o, r, n);   // up to a tile's first row
            for (; n + 8 <= n1; n += 8) run8(o, r, 0, n, 1, lx, lc, n + 16 <= n1);
        }
        for (; n < n1 && r >= m8; n++) run1(o, r, n);
    }
}

void k_gemm_q8_i8_blocks(const octet_kernel_set *ks, const int8_t *xq, const uint8_t *xu, const float *xs, const float *xc, int m, int k, int bs, const int8_t *wq, const float *ws,
                         const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    gemm_ops o = {ks, xq, wq, xs, xc, ws, wsum, k, k / bs, bs, 0, 1, y, ldy, NULL, 0, xu};  // asymmetric: bs == 32
    gemm_pairs(&o, m, n0, n1);
}

void k_gemm_q8_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const float *ws, int n0, int n1, float *y, int ldy, float *row) {
    f32_rows o = {ks, wq, ws, OCTET_Q8, k};
    gemm_f32(&o, x, m, n0, n1, y, ldy, row);
}

// Grouped weights (one scale per 32 weights). abs 32: activations with one scale per 32 inputs,
// acc += (xs[b] * ws[b]) * dot_b; abs 0: one activation scale per row, applied to the sum of
// ws[b] * dot_b.
void k_gemm_q8g_i8(const octet_kernel_set *ks, const int8_t *xq, const uint8_t *xu, const float *xs, const float *xc, int m, int k, int abs, const int8_t *wq, const void *ws,
                   int f16_scales, const int16_t *wsum, int n0, int n1, float *y, int ldy) {
    gemm_ops o = {ks, xq, wq, xs, xc, f16_scales ? NULL : ws, wsum, k, k / (int)OCTET_Q8_GROUP, (int)OCTET_Q8_GROUP, 1, abs != 0, y, ldy,
                  f16_scales ? ws : NULL, 0, xu};
    gemm_pairs(&o, m, n0, n1);
}

void k_gemm_q8g_f32(const octet_kernel_set *ks, const float *x, int m, int k, const int8_t *wq, const void *ws, int f16_scales, int n0, int n1, float *y,
                    int ldy, float *row) {
    f32_rows o = {ks, wq, ws, f16_scales ? OCTET_Q8G32H : OCTET_Q8G32, k};
    gemm_f32(&o, x, m, n0, n1, y, ldy, row);
}
