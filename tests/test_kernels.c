// Scalar reference kernels: exact int8 arithmetic, quantization edge cases, block scales,
// weight-only path, and thread-count independence of the CPU backend.
#include "check.h"
#include "backend.h"
#include "kernels.h"
#include "octet_file.h"
#include <math.h>

// The SIMD sets under test: those this CPU runs or, built as test_kernels_emulated, the AVX-VNNI
// and AVX-512 VNNI sets with their instructions emulated in C (tests/emulate_avx512.h; they need
// AVX2 natively).
#ifdef OCTET_TEST_EMULATED
extern const octet_kernel_set octet_kernels_avxvnni_emu, octet_kernels_avx512_emu;
#endif
#define MAX_SETS 5   // the SIMD sets of any one build (x86: 3; AArch64: 2)
static int simd_sets(const octet_kernel_set *out[MAX_SETS]) {
    int n = 0;
#ifdef OCTET_TEST_EMULATED
    if (octet_kernels_find("avx2")) { out[n++] = &octet_kernels_avxvnni_emu; out[n++] = &octet_kernels_avx512_emu; }
#else
    static const char *names[] = {"avx2", "avxvnni", "avx512", "neon", "dotprod"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if ((out[n] = octet_kernels_find(names[i]))) n++;
#endif
    return n;
}

static uint64_t rng = 12345;
static uint32_t next_u32(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)rng; }
static float frand(void) { return (float)((int)(next_u32() % 2001) - 1000) / 250.0f; }

static void int8_dot_is_exact(void) {
    int sizes[] = {1, 7, 31, 32, 33, 64, 100, 577, 4096, 16384};
    for (unsigned s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int k = sizes[s];
        int8_t *a = malloc((size_t)k), *b = malloc((size_t)k);
        for (int pass = 0; pass < 3; pass++) {
            for (int i = 0; i < k; i++) {
                a[i] = pass == 0 ? (int8_t)(next_u32() % 255 - 127) : pass == 1 ? 127 : -127;
                b[i] = pass == 0 ? (int8_t)(next_u32() % 255 - 127) : -127;
            }
            long long want = 0;
            for (int i = 0; i < k; i++) want += (long long)a[i] * b[i];
            CHECK(k_dot_i8(a, b, k) == want, "k=%d pass %d", k, pass);
        }
        free(a); free(b);
    }
}

static void activation_quantization_edges(void) {
    float x[70];
    int8_t q[70];
    float s;
    memset(x, 0, sizeof x);
    k_quantize_row_i8(x, 70, q, &s);
    int nz = 0;
    for (int i = 0; i < 70; i++) nz += q[i] != 0;
    CHECK(s == 0 && nz == 0, "all-zero row: scale 0, zeros");
    for (int i = 0; i < 70; i++) x[i] = frand();
    x[13] = -50;
    k_quantize_row_i8(x, 70, q, &s);
    CHECK(q[13] == -127 && fabsf(s - 50.0f / 127) < 1e-7f, "the largest magnitude maps to -127");
    int bad = 0;
    for (int i = 0; i < 70; i++) bad += fabsf(q[i] * s - x[i]) > s * 0.5f * (1 + 1e-5f);
    CHECK(bad == 0, "%d values off by more than half a step", bad);
    float sb[3];
    int8_t qb[64];
    float y[64];
    for (int i = 0; i < 64; i++) y[i] = i < 32 ? 0.001f * i : 100.0f * (i - 31);
    k_quantize_row_i8_blocks(y, 64, 32, qb, sb);
    CHECK(qb[31] == 127 && qb[63] == 127 && sb[0] < 1e-3f, "each block has its own scale");
}

static void gemm_paths_agree(void) {
    int m = 11, k = 96, n = 5;  // 11 tokens: one group of 8 (prefill path) and 3 alone
    float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), y1[55], y2[55], y3[55], row[96];
    for (int i = 0; i < m * k; i++) x[i] = frand();
    for (int i = 0; i < n * k; i++) w[i] = frand();
    int8_t *xq = malloc((size_t)m * k), *wq = malloc((size_t)n * k);
    float xs[11], xsb[33], ws[5];
    for (int r = 0; r < n; r++) k_quantize_row_i8(w + r * k, k, wq + r * k, &ws[r]);
    for (int r = 0; r < m; r++) k_quantize_row_i8(x + r * k, k, xq + r * k, &xs[r]);
    k_gemm_q8_i8(&octet_kernels_scalar, xq, xs, NULL, m, k, wq, ws, NULL, 0, n, y1, n);
    // one block spanning the row is the per-row path exactly
    k_gemm_q8_i8_blocks(&octet_kernels_scalar, xq, NULL, xs, NULL, m, k, k, wq, ws, NULL, 0, n, y2, n);
    CHECK(!memcmp(y1, y2, sizeof y1), "block size k equals per-row");
    for (int r = 0; r < m; r++) k_quantize_row_i8_blocks(x + r * k, k, 32, xq + r * k, xsb + r * 3);
    k_gemm_q8_i8_blocks(&octet_kernels_scalar, xq, NULL, xsb, NULL, m, k, 32, wq, ws, NULL, 0, n, y2, n);
    k_gemm_q8_f32(&octet_kernels_scalar, x, m, k, wq, ws, 0, n, y3, n, row);
    int bad = 0;
    for (int r = 0; r < m; r++)
        for (int c = 0; c < n; c++) {
            // activation rounding moves each input by at most half its scale
            double exact = 0, mag = 0, e_row = 0, e_blk = 0;
            for (int i = 0; i < k; i++) {
                double wd = (double)ws[c] * wq[c * k + i];
                exact += x[r * k + i] * wd;
                mag += fabs(x[r * k + i] * wd);
                e_row += 0.5 * xs[r] * fabs(wd);
                e_blk += 0.5 * xsb[r * 3 + i / 32] * fabs(wd);
            }
            bad += fabs(y3[r * n + c] - exact) > 1e-5 * (1 + mag);
            bad += fabs(y1[r * n + c] - exact) > e_row * 1.001 + 1e-5 * (1 + mag);
            bad += fabs(y2[r * n + c] - exact) > e_blk * 1.001 + 1e-5 * (1 + mag);
        }
    CHECK(bad == 0, "%d results far from the exact product", bad);
    free(x); free(w); free(xq); free(wq);
}

// Builds a q8g32 tensor's bytes (int8, padding, one scale per 32) from f32 rows.
static uint8_t *make_q8g32(const float *w, int n, int k) {
    uint64_t bytes;
    octet_tensor_nbytes(OCTET_Q8G32, (uint64_t)n, (uint64_t)k, &bytes);
    uint8_t *q = calloc(1, bytes);
    float *sc = (float *)(q + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
    for (int r = 0; r < n; r++) k_quantize_row_i8_blocks(w + (size_t)r * k, k, 32, (int8_t *)q + (size_t)r * k, sc + (size_t)r * (k / 32));
    return q;
}

// q8g32 products (per-32, per-row and f32 activations; rows wider than the 512-block chunk)
// against the exact product of the dequantized operands, and the SIMD set bit for bit.
static void q8g32_gemm_matches_exact(void) {
    int ks_[] = {32, 96, 576, 16448};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int m = 11, n = 13, k = ks_[z], nb = k / 32;  // 13 rows: one group of 8 for a token alone, 5 by themselves
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *row = malloc(sizeof(float) * k);
        for (int i = 0; i < m * k; i++) x[i] = frand() * (i % 37 == 0 ? 40 : 1);
        for (int i = 0; i < n * k; i++) w[i] = frand() * (i % 64 < 32 ? 1 : 0.01f);  // block scales differ 100x
        uint8_t *wq = make_q8g32(w, n, k);
        const float *ws = (const float *)(wq + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
        int8_t *xb = malloc((size_t)m * k), *xr = malloc((size_t)m * k);
        float *xsb = malloc(sizeof(float) * m * nb), xs[11], y[3][143], ys[143];
        for (int r = 0; r < m; r++) {
            k_quantize_row_i8_blocks(x + r * k, k, 32, xb + r * k, xsb + r * nb);
            k_quantize_row_i8(x + r * k, k, xr + r * k, &xs[r]);
        }
        k_gemm_q8g_i8(&octet_kernels_scalar, xb, NULL, xsb, NULL, m, k, 32, (const int8_t *)wq, ws, 0, NULL, 0, n, y[0], n);
        k_gemm_q8g_i8(&octet_kernels_scalar, xr, NULL, xs, NULL, m, k, 0, (const int8_t *)wq, ws, 0, NULL, 0, n, y[1], n);
        k_gemm_q8g_f32(&octet_kernels_scalar, x, m, k, (const int8_t *)wq, ws, 0, 0, n, y[2], n, row);
        // the 8-token groups give each token the bits it gets alone (8 rows at a time, then one by one)
        int alone = 0;
        for (int r = 0; r < m; r++) {
            float one[13];
            k_gemm_q8g_i8(&octet_kernels_scalar, xb + r * k, NULL, xsb + r * nb, NULL, 1, k, 32, (const int8_t *)wq, ws, 0, NULL, 0, n, one, n);
            alone += !memcmp(one, y[0] + r * n, sizeof one);
            k_gemm_q8g_i8(&octet_kernels_scalar, xr + r * k, NULL, xs + r, NULL, 1, k, 0, (const int8_t *)wq, ws, 0, NULL, 0, n, one, n);
            alone += !memcmp(one, y[1] + r * n, sizeof one);
        }
        CHECK(alone == 2 * m, "k=%d: %d of %d token rows differ from the token computed alone", k, 2 * m - alone, 2 * m);
        const octet_kernel_set *simd[MAX_SETS];
        for (int si = 0, ns = simd_sets(simd); si < ns; si++) {
            k_gemm_q8g_i8(simd[si], xb, NULL, xsb, NULL, m, k, 32, (const int8_t *)wq, ws, 0, NULL, 0, n, ys, n);
            CHECK(!memcmp(ys, y[0], sizeof ys), "%s q8g32 per-32 differs from scalar, k=%d", simd[si]->name, k);
            k_gemm_q8g_i8(simd[si], xr, NULL, xs, NULL, m, k, 0, (const int8_t *)wq, ws, 0, NULL, 0, n, ys, n);
            CHECK(!memcmp(ys, y[1], sizeof ys), "%s q8g32 per-row differs from scalar, k=%d", simd[si]->name, k);
        }
        int bad = 0;
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                double e[3] = {0, 0, 0}, mag = 0;
                for (int i = 0; i < k; i++) {
                    double wd = (double)ws[c * nb + i / 32] * ((const int8_t *)wq)[(size_t)c * k + i];
                    e[0] += (double)xsb[r * nb + i / 32] * xb[r * k + i] * wd;
                    e[1] += (double)xs[r] * xr[r * k + i] * wd;
                    e[2] += x[r * k + i] * wd;
                    mag += fabs(x[r * k + i] * wd);
                }
                for (int v = 0; v < 3; v++) bad += fabs(y[v][r * n + c] - e[v]) > 1e-5 * (1 + mag);
            }
        CHECK(bad == 0, "k=%d: %d results far from the exact product", k, bad);
        free(x); free(w); free(row); free(wq); free(xb); free(xr); free(xsb);
    }
}

// The per-row product (one activation scale per token) in every set: groups of 8 tokens and
// single pairs give each pair ws * (xs * dot), the dot exact, as the scalar set does.
static void per_row_gemm_matches_scalar(void) {
    int ks_[] = {32, 100, 576, 4099};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int m = 11, n = 13, k = ks_[z];  // a group of 8 tokens and 3 alone
        int8_t *xq = malloc((size_t)m * k), *wq = malloc((size_t)n * k);
        float xs[11], ws[13], want[143], got[143];
        for (int i = 0; i < m * k; i++) xq[i] = (int8_t)(next_u32() % 255 - 127);
        for (int i = 0; i < n * k; i++) wq[i] = i % 7 ? (int8_t)(next_u32() % 255 - 127) : 127;
        for (int r = 0; r < m; r++) xs[r] = fabsf(frand()) + 0.01f;
        for (int c = 0; c < n; c++) ws[c] = fabsf(frand()) * 1e-3f;
        int bad = 0;
        k_gemm_q8_i8(&octet_kernels_scalar, xq, xs, NULL, m, k, wq, ws, NULL, 0, n, want, n);
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                float e = ws[c] * (xs[r] * (float)k_dot_i8(xq + (size_t)r * k, wq + (size_t)c * k, k));
                bad += memcmp(&e, &want[r * n + c], 4) != 0;
            }
        CHECK(bad == 0, "k=%d: %d scalar outputs differ from ws * (xs * dot)", k, bad);
        const octet_kernel_set *sets[MAX_SETS];
        for (int si = 0, ns = simd_sets(sets); si < ns; si++) {
            k_gemm_q8_i8(sets[si], xq, xs, NULL, m, k, wq, ws, NULL, 0, n, got, n);
            CHECK(!memcmp(got, want, sizeof got), "%s per-row gemm differs from scalar, k=%d", sets[si]->name, k);
        }
        free(xq); free(wq);
    }
}

// Asymmetric activation blocks: the block's min and max land on -127 and 127 around its
// midpoint, a constant block is exact, every value is within half a step.
static void asym_quantization_edges(void) {
    float x[96], s[3], c[3];
    int8_t q[96];
    for (int i = 0; i < 32; i++) x[i] = 0.25f * i;             // one-sided, as after SwiGLU
    for (int i = 32; i < 64; i++) x[i] = 3.5f;                 // constant
    for (int i = 64; i < 96; i++) x[i] = frand() * 1e4f;       // large, mixed signs
    k_quantize_row_i8_asym(x, 96, 32, q, s, c);
    CHECK(q[0] == -127 && q[31] == 127 && fabsf(c[0] - 3.875f) < 1e-6f && fabsf(s[0] - 7.75f / 254) < 1e-7f, "one-sided block spans -127..127");
    int nz = 0;
    for (int i = 32; i < 64; i++) nz += q[i] != 0;
    CHECK(s[1] == 0 && c[1] == 3.5f && nz == 0, "constant block: scale 0, offset the value");
    int bad = 0;
    for (int i = 0; i < 96; i++) bad += fabsf(c[i / 32] + s[i / 32] * q[i] - x[i]) > s[i / 32] * 0.5f * (1 + 1e-4f) + 1e-6f * fabsf(x[i]);
    CHECK(bad == 0, "%d values off by more than half a step", bad);
}

// A q8g32 tensor whose scales are f16 values (edge rows: all zero, +-127 at a subnormal-half
// scale, a huge scale) and the q8g32h tensor of the same int8 values with those scales in f16
// (in its tiles of 8 rows; 13 rows leave the last tile 3 short).
static void make_q8g32_pair(const float *w, int n, int k, uint8_t **g32, uint8_t **g16) {
    int nb = k / 32;
    *g32 = make_q8g32(w, n, k);
    uint64_t bytes, so = octet_q8_scales_offset((uint64_t)n, (uint64_t)k);
    octet_tensor_nbytes(OCTET_Q8G32H, (uint64_t)n, (uint64_t)k, &bytes);
    *g16 = calloc(1, bytes);
    float *sc = (float *)(*g32 + so);
    uint16_t *hs = (uint16_t *)(*g16 + so);
    int8_t *q = (int8_t *)*g32;
    for (int i = 0; i < k; i++) q[i] = 0;                                   // row 0: zeros
    for (int b = 0; b < nb; b++) sc[b] = 0;
    for (int i = 0; i < k; i++) q[k + i] = i % 2 ? 127 : -127;              // row 1: +-127
    for (int b = 0; b < nb; b++) sc[nb + b] = b % 2 ? 0x1p-24f : 65504.0f;  // smallest subnormal and largest half
    for (int r = 0; r < n; r++)  // q8g32h's scales sit in tiles of 8 rows
        for (int b = 0; b < nb; b++) {
            float *v = &sc[r * nb + b];
            uint16_t *h = &hs[octet_q8_scale_index(OCTET_Q8G32H, (uint64_t)r, (uint64_t)b, (uint64_t)nb)];
            *h = octet_f32_to_f16(*v);
            *v = octet_f16_to_f32(*h);
        }
    memcpy(*g16, *g32, (size_t)n * k);
}

// q8g32h (f16 scales, widened in the kernels) gives q8g32's bits for the same scale values in
// every set and activation mode: per-32 and per-row, symmetric and asymmetric, f32.
static void q8g32h_gives_q8g32_bits(void) {
    int ks_[] = {32, 96, 576, 16448};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int m = 11, n = 13, k = ks_[z], nb = k / 32;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *row = malloc(sizeof(float) * k);
        for (int i = 0; i < m * k; i++) x[i] = frand() * (i % 37 == 0 ? 40 : 1) + (i % 64 < 32 ? 2 : 0);
        for (int i = 0; i < n * k; i++) w[i] = frand() * (i % 64 < 32 ? 1 : 0.01f);
        uint8_t *g32, *g16;
        make_q8g32_pair(w, n, k, &g32, &g16);
        octet_tensor ta = {.dtype = OCTET_Q8G32, .rows = (uint64_t)n, .cols = (uint64_t)k, .data = g32, .name = "a"}, tb = ta;
        tb.dtype = OCTET_Q8G32H; tb.data = g16;
        CHECK(octet_tensor_block_sums(&ta) == 0 && octet_tensor_block_sums(&tb) == 0, "block sums");
        const void *sa = g32 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k), *sb = g16 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k);
        int8_t *xb = malloc((size_t)m * k), *xr = malloc((size_t)m * k);
        float *s32 = malloc(sizeof(float) * m * nb), *c32 = malloc(sizeof(float) * m * nb), sr[11], cr[11];
        const octet_kernel_set *sets[1 + MAX_SETS] = {&octet_kernels_scalar};
        int nsets = 1 + simd_sets(sets + 1), same = 0, runs = 0;
        for (int asym = 0; asym < 2; asym++) {
            for (int r = 0; r < m; r++) {
                k_quantize_row_i8_asym(x + r * k, k, 32, xb + r * k, s32 + r * nb, c32 + r * nb);
                if (!asym) k_quantize_row_i8_blocks(x + r * k, k, 32, xb + r * k, s32 + r * nb);
                k_quantize_row_i8_asym(x + r * k, k, k, xr + r * k, &sr[r], &cr[r]);
                if (!asym) k_quantize_row_i8(x + r * k, k, xr + r * k, &sr[r]);
            }
            for (int si = 0; si < nsets; si++) {
                float ya[143], yb[143];
                const float *cb = asym ? c32 : NULL, *crr = asym ? cr : NULL;
                k_gemm_q8g_i8(sets[si], xb, NULL, s32, cb, m, k, 32, (const int8_t *)g32, sa, 0, ta.block_sums, 0, n, ya, n);
                k_gemm_q8g_i8(sets[si], xb, NULL, s32, cb, m, k, 32, (const int8_t *)g16, sb, 1, tb.block_sums, 0, n, yb, n);
                same += !memcmp(ya, yb, sizeof ya); runs++;
                k_gemm_q8g_i8(sets[si], xr, NULL, sr, crr, m, k, 0, (const int8_t *)g32, sa, 0, ta.block_sums, 0, n, ya, n);
                k_gemm_q8g_i8(sets[si], xr, NULL, sr, crr, m, k, 0, (const int8_t *)g16, sb, 1, tb.block_sums, 0, n, yb, n);
                same += !memcmp(ya, yb, sizeof ya); runs++;
                for (int r = 0; r < 2; r++) {  // one token against the rows (decode's grouping)
                    k_gemm_q8g_i8(sets[si], xb + r * k, NULL, s32 + r * nb, cb ? cb + r * nb : NULL, 1, k, 32, (const int8_t *)g32, sa, 0, ta.block_sums, 0, n, ya, n);
                    k_gemm_q8g_i8(sets[si], xb + r * k, NULL, s32 + r * nb, cb ? cb + r * nb : NULL, 1, k, 32, (const int8_t *)g16, sb, 1, tb.block_sums, 0, n, yb, n);
                    same += !memcmp(ya, yb, n * sizeof *ya); runs++;
                    float part[13];  // rows 3..12 alone: from inside a tile of 8 rows
                    k_gemm_q8g_i8(sets[si], xb + r * k, NULL, s32 + r * nb, cb ? cb + r * nb : NULL, 1, k, 32, (const int8_t *)g16, sb, 1, tb.block_sums, 3, n, part, n);
                    same += !memcmp(part + 3, yb + 3, (n - 3) * sizeof *yb); runs++;
                }
                if (!asym) {
                    k_gemm_q8g_f32(sets[si], x, m, k, (const int8_t *)g32, sa, 0, 0, n, ya, n, row);
                    k_gemm_q8g_f32(sets[si], x, m, k, (const int8_t *)g16, sb, 1, 0, n, yb, n, row);
                    same += !memcmp(ya, yb, sizeof ya); runs++;
                }
            }
        }
        CHECK(same == runs, "k=%d: %d of %d q8g32h products differ from q8g32's", k, runs - same, runs);
        float ra[16448], rb[16448];  // the embedding's row lookup
        for (int r = 0; r < n; r++) {
            octet_tensor_row_f32(&ta, (uint64_t)r, ra);
            octet_tensor_row_f32(&tb, (uint64_t)r, rb);
            CHECK(!memcmp(ra, rb, sizeof(float) * k), "k=%d row %d: q8g32h row differs", k, r);
        }
        free(x); free(w); free(row); free(g32); free(g16); free(xb); free(xr); free(s32); free(c32); free(ta.block_sums); free(tb.block_sums);
    }
}

// Prefill's register tiles (octet_tile) give each (token, row) the bits of the pair path, for
// every set (its tiles against itself with tiles off), every scaling mode (q8, q8g32 and q8g32h;
// per-32 and per-row activations, symmetric and asymmetric), token counts and row ranges that
// are not whole tiles, and the edges: weights and activations of +-127, zero rows.
static void tiled_prefill_gives_pair_bits(void) {
    int ks_[] = {32, 576, 1568}, ms[] = {16, 23, 61};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int k = ks_[z], nb = k / 32, n = 70, mmax = 61;
        float *x = malloc(sizeof(float) * mmax * k), *w = malloc(sizeof(float) * n * k);
        for (int r = 0; r < mmax; r++)
            for (int i = 0; i < k; i++)
                x[r * k + i] = r == 0 ? 1 : r == 1 ? -1 : r == 2 ? 0 : r == 3 ? (i % 2 ? 1 : -1) : frand() * (i % 37 == 0 ? 40 : 1) + (i % 64 < 32 ? 2 : 0);
        for (int c = 0; c < n; c++)
            for (int i = 0; i < k; i++) w[c * k + i] = c == 0 ? 1 : c == 1 ? -1 : c == 2 ? 0 : frand() * (i % 64 < 32 ? 1 : 0.01f);
        uint64_t qbytes;
        octet_tensor_nbytes(OCTET_Q8, (uint64_t)n, (uint64_t)k, &qbytes);
        uint8_t *q8 = calloc(1, qbytes), *g32, *g16;
        float *s8 = (float *)(q8 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
        for (int c = 0; c < n; c++) k_quantize_row_i8(w + (size_t)c * k, k, (int8_t *)q8 + (size_t)c * k, &s8[c]);
        make_q8g32_pair(w, n, k, &g32, &g16);
        octet_tensor t8 = {.dtype = OCTET_Q8, .rows = (uint64_t)n, .cols = (uint64_t)k, .data = q8, .name = "q8"}, ta = t8, tb = t8;
        ta.dtype = OCTET_Q8G32; ta.data = g32; tb.dtype = OCTET_Q8G32H; tb.data = g16;
        CHECK(octet_tensor_block_sums(&t8) == 0 && octet_tensor_block_sums(&ta) == 0 && octet_tensor_block_sums(&tb) == 0, "block sums");
        const void *sa = g32 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k), *sb = g16 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k);
        int8_t *xb = malloc((size_t)mmax * k), *xr = malloc((size_t)mmax * k);
        uint8_t *xu = malloc((size_t)mmax * k);
        float *s32 = malloc(sizeof(float) * mmax * nb), *c32 = malloc(sizeof(float) * mmax * nb), sr[61], cr[61];
        float *y1 = malloc(sizeof(float) * mmax * n), *y2 = malloc(sizeof(float) * mmax * n);
        const octet_kernel_set *sets[1 + MAX_SETS] = {&octet_kernels_scalar};
        int nsets = 1 + simd_sets(sets + 1), runs = 0, same = 0;
        for (int asym = 0; asym < 2; asym++) {
            for (int r = 0; r < mmax; r++) {
                if (asym) {
                    k_quantize_row_i8_asym(x + r * k, k, 32, xb + r * k, s32 + r * nb, c32 + r * nb);
                    k_quantize_row_i8_asym(x + r * k, k, k, xr + r * k, &sr[r], &cr[r]);
                } else {
                    k_quantize_row_i8_blocks(x + r * k, k, 32, xb + r * k, s32 + r * nb);
                    k_quantize_row_i8(x + r * k, k, xr + r * k, &sr[r]);
                }
            }
            for (int i = 0; i < mmax * k; i++) xu[i] = (uint8_t)(xb[i] ^ 0x80);
            const float *cb = asym ? c32 : NULL, *crr = asym ? cr : NULL;
            for (int si = 0; si < nsets; si++) {
                octet_kernel_set pairs = *sets[si];
                pairs.tile_rows = 0;
                CHECK(sets[si]->tile_rows > 0 && sets[si]->gemm_tile, "%s has register tiles", sets[si]->name);
                for (unsigned mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                    for (int n0 = 0; n0 <= 5; n0 += 5)
                        for (int kind = 0; kind < 5; kind++) {
                            const octet_kernel_set *use[2] = {sets[si], &pairs};
                            float *out[2] = {y1, y2};
                            int m = ms[mi];
                            for (int v = 0; v < 2; v++) {
                                memset(out[v], 0, sizeof(float) * mmax * n);
                                const uint8_t *u = v == 0 && kind % 2 ? xu : NULL;   // the engine's u8 copy, or made inside
                                if (kind == 0) k_gemm_q8_i8_blocks(use[v], xb, u, s32, cb, m, k, 32, (const int8_t *)q8, s8, t8.block_sums, n0, n, out[v], n);
                                if (kind == 1) k_gemm_q8g_i8(use[v], xb, u, s32, cb, m, k, 32, (const int8_t *)g32, sa, 0, ta.block_sums, n0, n, out[v], n);
                                if (kind == 2) k_gemm_q8g_i8(use[v], xr, NULL, sr, crr, m, k, 0, (const int8_t *)g32, sa, 0, ta.block_sums, n0, n, out[v], n);
                                if (kind == 3) k_gemm_q8g_i8(use[v], xb, u, s32, cb, m, k, 32, (const int8_t *)g16, sb, 1, tb.block_sums, n0, n, out[v], n);
                                if (kind == 4) k_gemm_q8g_i8(use[v], xr, NULL, sr, crr, m, k, 0, (const int8_t *)g16, sb, 1, tb.block_sums, n0, n, out[v], n);
                            }
                            int ok = !memcmp(y1, y2, sizeof(float) * m * n);
                            same += ok; runs++;
                            if (!ok) fprintf(stderr, "  %s k=%d m=%d n0=%d kind %d asym %d differs\n", sets[si]->name, k, m, n0, kind, asym);
                        }
            }
        }
        CHECK(same == runs, "k=%d: %d of %d tiled products differ from the pair path's", k, runs - same, runs);
        free(x); free(w); free(q8); free(g32); free(g16); free(xb); free(xr); free(xu); free(s32); free(c32); free(y1); free(y2);
        free(t8.block_sums); free(ta.block_sums); free(tb.block_sums);
    }
}

// The f32 products in register tiles (octet_tile_f32) give dot_f32's bits: every set against
// itself with tiles off, for f32, f16 and bf16 weights and weight-only q8, q8g32 and q8g32h, token
// counts and row ranges that are not whole tiles, and large, tiny and zero values.
// k = 1024 and 2560: the prompt passes the panels in token blocks of 48 and 18, the last partial.
static void tiled_f32_gives_dot_f32_bits(void) {
    int ks_[] = {32, 72, 576, 1024, 2560}, ms[] = {8, 13, 50};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int k = ks_[z], n = 37, mmax = 50;
        float *x = malloc(sizeof(float) * mmax * k), *w = malloc(sizeof(float) * n * k), *row = malloc(sizeof(float) * k);
        for (int i = 0; i < mmax * k; i++) x[i] = i % 97 == 0 ? 1e30f : i % 89 == 0 ? 0.0f : i % 83 == 0 ? -1e-30f : frand();
        for (int i = 0; i < n * k; i++) w[i] = i % 101 == 0 ? 3e4f : frand();
        uint16_t *h16 = malloc(sizeof(uint16_t) * n * k), *b16 = malloc(sizeof(uint16_t) * n * k);
        for (int i = 0; i < n * k; i++) { h16[i] = octet_f32_to_f16(w[i]); b16[i] = octet_f32_to_bf16(w[i]); }
        uint64_t qbytes;
        octet_tensor_nbytes(OCTET_Q8, (uint64_t)n, (uint64_t)k, &qbytes);
        uint8_t *q8 = calloc(1, qbytes), *g32, *g16;
        float *s8 = (float *)(q8 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
        for (int c = 0; c < n; c++) k_quantize_row_i8(w + (size_t)c * k, k, (int8_t *)q8 + (size_t)c * k, &s8[c]);
        int grouped = k % 32 == 0;   // (q8g32 needs whole groups)
        g32 = g16 = NULL;
        if (grouped) make_q8g32_pair(w, n, k, &g32, &g16);
        const void *sa = grouped ? g32 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k) : NULL, *sb = grouped ? g16 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k) : NULL;
        float *y1 = malloc(sizeof(float) * mmax * n), *y2 = malloc(sizeof(float) * mmax * n);
        const octet_kernel_set *sets[1 + MAX_SETS] = {&octet_kernels_scalar};
        int nsets = 1 + simd_sets(sets + 1), runs = 0, same = 0;
        for (int si = 0; si < nsets; si++) {
            octet_kernel_set plain = *sets[si];
            plain.tile_rows_f32 = 0;
            CHECK(sets[si]->tile_rows_f32 > 0 && sets[si]->gemm_tile_f32, "%s has f32 tiles", sets[si]->name);
            for (unsigned mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                for (int n0 = 0; n0 <= 3; n0 += 3)
                    for (int kind = 0; kind < (grouped ? 6 : 4); kind++) {
                        const octet_kernel_set *use[2] = {sets[si], &plain};
                        float *out[2] = {y1, y2};
                        int m = ms[mi];
                        for (int v = 0; v < 2; v++) {
                            memset(out[v], 0, sizeof(float) * mmax * n);
                            if (kind == 0) k_gemm_f32(use[v], x, m, k, w, OCTET_F32, n0, n, out[v], n, row);
                            if (kind == 1) k_gemm_f32(use[v], x, m, k, h16, OCTET_F16, n0, n, out[v], n, row);
                            if (kind == 2) k_gemm_f32(use[v], x, m, k, b16, OCTET_BF16, n0, n, out[v], n, row);
                            if (kind == 3) k_gemm_q8_f32(use[v], x, m, k, (const int8_t *)q8, s8, n0, n, out[v], n, row);
                            if (kind == 4) k_gemm_q8g_f32(use[v], x, m, k, (const int8_t *)g32, sa, 0, n0, n, out[v], n, row);
                            if (kind == 5) k_gemm_q8g_f32(use[v], x, m, k, (const int8_t *)g16, sb, 1, n0, n, out[v], n, row);
                        }
                        int ok = !memcmp(y1, y2, sizeof(float) * m * n);
                        same += ok; runs++;
                        if (!ok) fprintf(stderr, "  %s k=%d m=%d n0=%d kind %d differs\n", sets[si]->name, k, m, n0, kind);
                    }
        }
        CHECK(same == runs, "k=%d: %d of %d tiled f32 products differ from dot_f32's", k, runs - same, runs);
        free(x); free(w); free(row); free(h16); free(b16); free(q8); free(g32); free(g16); free(y1); free(y2);
    }
}

// Asymmetric activations with every weight layout (q8 per-32 and per-row activations, q8g32
// per-32 and per-row; rows not a multiple of 32 and wider than the 512-block chunk) against the
// exact product of the dequantized operands, and the SIMD set bit for bit.
static void asym_gemm_matches_exact(void) {
    int ks_[] = {32, 100, 576, 16448};
    for (unsigned z = 0; z < sizeof ks_ / sizeof *ks_; z++) {
        int m = 11, n = 13, k = ks_[z], nb = k / 32, whole = k % 32 == 0;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k);
        for (int i = 0; i < m * k; i++) x[i] = (i % 64 < 32 ? fabsf(frand()) : frand()) * (i % 37 == 0 ? 40 : 1) + 2;
        for (int i = 0; i < n * k; i++) w[i] = frand() * (i % 64 < 32 ? 1 : 0.01f);
        // q8 (per-row scales) and, for whole blocks, q8g32
        uint64_t qbytes;
        octet_tensor_nbytes(OCTET_Q8, (uint64_t)n, (uint64_t)k, &qbytes);
        uint8_t *q8 = calloc(1, qbytes);
        float *s8 = (float *)(q8 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
        for (int r = 0; r < n; r++) k_quantize_row_i8(w + (size_t)r * k, k, (int8_t *)q8 + (size_t)r * k, &s8[r]);
        octet_tensor t8 = {.dtype = OCTET_Q8, .rows = (uint64_t)n, .cols = (uint64_t)k, .data = q8, .name = "q8"}, tg = t8;
        uint8_t *g32 = whole ? make_q8g32(w, n, k) : NULL;
        tg.dtype = OCTET_Q8G32; tg.data = g32;
        CHECK(octet_tensor_block_sums(&t8) == 0 && (!whole || octet_tensor_block_sums(&tg) == 0), "block sums");
        int8_t *xb = malloc((size_t)m * k), *xr = malloc((size_t)m * k);
        float *sb = malloc(sizeof(float) * m * (nb + 1)), *cb = malloc(sizeof(float) * m * (nb + 1)), sr[11], cr[11], y[4][143], ys[143];
        for (int r = 0; r < m; r++) {
            if (whole) k_quantize_row_i8_asym(x + r * k, k, 32, xb + r * k, sb + r * nb, cb + r * nb);
            k_quantize_row_i8_asym(x + r * k, k, k, xr + r * k, &sr[r], &cr[r]);
        }
        const float *ws = whole ? (const float *)(g32 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k)) : NULL;
        const octet_kernel_set *sets[1 + MAX_SETS] = {&octet_kernels_scalar};
        int nsets = 1 + simd_sets(sets + 1);
        for (int si = 0; si < nsets; si++) {
            float tmp[4][143], (*out)[143] = si ? tmp : y;
            k_gemm_q8_i8(sets[si], xr, sr, cr, m, k, (const int8_t *)q8, s8, t8.block_sums, 0, n, out[0], n);
            if (whole) {
                k_gemm_q8_i8_blocks(sets[si], xb, NULL, sb, cb, m, k, 32, (const int8_t *)q8, s8, t8.block_sums, 0, n, out[1], n);
                k_gemm_q8g_i8(sets[si], xb, NULL, sb, cb, m, k, 32, (const int8_t *)g32, ws, 0, tg.block_sums, 0, n, out[2], n);
                k_gemm_q8g_i8(sets[si], xr, NULL, sr, cr, m, k, 0, (const int8_t *)g32, ws, 0, tg.block_sums, 0, n, out[3], n);
            }
            int alone = 0;  // the 8-token groups give each token the bits it gets alone
            for (int r = 0; r < m && whole; r++) {
                float one[13];
                k_gemm_q8_i8_blocks(sets[si], xb + r * k, NULL, sb + r * nb, cb + r * nb, 1, k, 32, (const int8_t *)q8, s8, t8.block_sums, 0, n, one, n);
                alone += !memcmp(one, out[1] + r * n, sizeof one);
                k_gemm_q8g_i8(sets[si], xb + r * k, NULL, sb + r * nb, cb + r * nb, 1, k, 32, (const int8_t *)g32, ws, 0, tg.block_sums, 0, n, one, n);
                alone += !memcmp(one, out[2] + r * n, sizeof one);
                k_gemm_q8g_i8(sets[si], xr + r * k, NULL, sr + r, cr + r, 1, k, 0, (const int8_t *)g32, ws, 0, tg.block_sums, 0, n, one, n);
                alone += !memcmp(one, out[3] + r * n, sizeof one);
            }
            CHECK(alone == (whole ? 3 * m : 0), "%s k=%d: %d token rows differ from the token computed alone", sets[si]->name, k, (whole ? 3 * m : 0) - alone);
            if (si) CHECK(!memcmp(tmp[0], y[0], sizeof ys) && (!whole || !memcmp(tmp[1], y[1], 3 * sizeof ys)), "%s asym differs from scalar, k=%d", sets[si]->name, k);
        }
        int bad = 0;
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                double e[4] = {0, 0, 0, 0}, mag = 0;
                for (int i = 0; i < k; i++) {
                    double w8 = (double)s8[c] * ((const int8_t *)q8)[(size_t)c * k + i];
                    double xrow = cr[r] + (double)sr[r] * xr[r * k + i];
                    e[0] += xrow * w8;
                    mag += fabs(x[r * k + i] * w8);
                    if (!whole) continue;
                    double xblk = cb[r * nb + i / 32] + (double)sb[r * nb + i / 32] * xb[r * k + i];
                    double wg = (double)ws[c * nb + i / 32] * ((const int8_t *)g32)[(size_t)c * k + i];
                    e[1] += xblk * w8; e[2] += xblk * wg; e[3] += xrow * wg;
                }
                for (int v = 0; v < (whole ? 4 : 1); v++) bad += fabs(y[v][r * n + c] - e[v]) > 1e-5 * (1 + mag);
            }
        CHECK(bad == 0, "k=%d: %d results far from the exact product", k, bad);
        free(x); free(w); free(q8); free(g32); free(xb); free(xr); free(sb); free(cb); free(t8.block_sums); free(tg.block_sums);
    }
}

// The CPU backend gives identical bits for 1, 2 and 3 threads, for every weight dtype and
// activation mode; a tensor marked for f32 activations runs weight-only.
static void backend_is_thread_count_independent(void) {
    int m = 12, k = 160, n = 37;  // one 8-token group and 4 tokens alone
    float *x = malloc(sizeof(float) * m * k), *wf = malloc(sizeof(float) * n * k);
    for (int i = 0; i < m * k; i++) x[i] = frand();
    for (int i = 0; i < n * k; i++) wf[i] = frand();
    uint64_t qbytes;
    octet_tensor_nbytes(OCTET_Q8, (uint64_t)n, (uint64_t)k, &qbytes);
    uint8_t *q8 = calloc(1, qbytes);
    float *scales = (float *)(q8 + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
    for (int r = 0; r < n; r++) k_quantize_row_i8(wf + r * k, k, (int8_t *)q8 + r * k, &scales[r]);
    octet_tensor tq = {.name = "q", .dtype = OCTET_Q8, .n_dims = 2, .dims = {(uint64_t)n, (uint64_t)k}, .rows = (uint64_t)n, .cols = (uint64_t)k, .data = q8};
    octet_tensor tf = tq, tg = tq;
    tf.dtype = OCTET_F32;
    tf.data = wf;
    uint8_t *g32 = make_q8g32(wf, n, k);
    tg.dtype = OCTET_Q8G32;
    tg.data = g32;
    uint8_t *g32b, *g16;  // q8g32h (f16 scales) too
    make_q8g32_pair(wf, n, k, &g32b, &g16);
    octet_tensor th_ = tg;
    th_.dtype = OCTET_Q8G32H;
    th_.data = g16;
    CHECK(octet_tensor_block_sums(&tq) == 0 && octet_tensor_block_sums(&tg) == 0 && octet_tensor_block_sums(&th_) == 0, "block sums");
    const octet_tensor *ts[4] = {&tq, &tf, &tg, &th_};
    int acts[3] = {32, 0, -1};
    for (int wi = 0; wi < 4; wi++)
        for (int ai = 0; ai < 3; ai++)
            for (int asym = 0; asym <= (acts[ai] >= 0); asym++) {
                float ref[12 * 37], y[12 * 37];
                for (int th = 1; th <= 3; th++) {
                    octet_threadpool *tp = octet_threadpool_new(th);
                    octet_scratch s;
                    CHECK(octet_scratch_init(&s, m, k, th, acts[ai], asym) == 0, "scratch");
                    octet_matmul(tp, &s, ts[wi], x, m, th == 1 ? ref : y);
                    if (th > 1) CHECK(!memcmp(ref, y, sizeof y), "%s weights, act %d asym %d: %d threads differ from 1", octet_dtype_name(ts[wi]->dtype), acts[ai], asym, th);
                    octet_scratch_free(&s);
                    octet_threadpool_free(tp);
                }
            }
    // several matrices on one input (one quantization, one pass) give each one's bits alone,
    // also when they cannot share the quantization (f32 weights beside int8)
    for (int asym = 0; asym < 2; asym++) {
        const octet_tensor *sets[2][3] = {{&tq, &tg, &tq}, {&tq, &tf, &tg}};
        for (int si = 0; si < 2; si++) {
            float want[3][12 * 37], got[3][12 * 37], *outs[3] = {got[0], got[1], got[2]};
            octet_threadpool *tp = octet_threadpool_new(2);
            octet_scratch sc;
            CHECK(octet_scratch_init(&sc, m, k, 2, 32, asym) == 0, "scratch");
            for (int i = 0; i < 3; i++) octet_matmul(tp, &sc, sets[si][i], x, m, want[i]);
            octet_matmul_n(tp, &sc, sets[si], 3, x, m, outs);
            CHECK(!memcmp(want, got, sizeof got), "matmul_n set %d asym %d differs from one by one", si, asym);
            octet_scratch_free(&sc);
            octet_threadpool_free(tp);
        }
    }
    // a tensor marked act_f32 (quant.f32_act) runs weight-only inside an int8 run
    for (int wi = 0; wi < 4; wi += wi ? 1 : 2) {
        octet_tensor marked = *ts[wi];
        marked.act_f32 = 1;
        float want[12 * 37], got[12 * 37];
        octet_threadpool *tp = octet_threadpool_new(2);
        octet_scratch sf, si;
        CHECK(octet_scratch_init(&sf, m, k, 2, -1, 0) == 0 && octet_scratch_init(&si, m, k, 2, 32, 1) == 0, "scratch");
        octet_matmul(tp, &sf, ts[wi], x, m, want);
        octet_matmul(tp, &si, &marked, x, m, got);
        CHECK(!memcmp(want, got, sizeof got), "%s marked act_f32 differs from the weight-only run", octet_dtype_name(marked.dtype));
        octet_scratch_free(&sf); octet_scratch_free(&si);
        octet_threadpool_free(tp);
    }
    // OCTET_ASYM_MARKED (a file's quant.asym_act): a marked tensor runs as in an all-asymmetric
    // run, an unmarked one as in a symmetric run, alone and beside each other on one input
    for (int wi = 0; wi < 4; wi += wi ? 1 : 2) {
        octet_tensor marked = *ts[wi], plain = *ts[wi];
        marked.act_asym = 1;
        float want_a[12 * 37], want_s[12 * 37], got[2][12 * 37], *outs[2] = {got[0], got[1]};
        octet_threadpool *tp = octet_threadpool_new(2);
        octet_scratch sa, ss, sm;
        CHECK(octet_scratch_init(&sa, m, k, 2, 32, OCTET_ASYM_ALL) == 0 && octet_scratch_init(&ss, m, k, 2, 32, OCTET_ASYM_NONE) == 0 &&
              octet_scratch_init(&sm, m, k, 2, 32, OCTET_ASYM_MARKED) == 0, "scratch");
        octet_matmul(tp, &sa, &plain, x, m, want_a);
        octet_matmul(tp, &ss, &plain, x, m, want_s);
        CHECK(memcmp(want_a, want_s, sizeof want_a), "%s: asymmetric and symmetric runs agree (the test shows nothing)", octet_dtype_name(plain.dtype));
        const octet_tensor *pair[2] = {&marked, &plain};
        for (int together = 0; together < 2; together++) {
            if (together) octet_matmul_n(tp, &sm, pair, 2, x, m, outs);
            else for (int i = 0; i < 2; i++) octet_matmul(tp, &sm, pair[i], x, m, got[i]);
            CHECK(!memcmp(want_a, got[0], sizeof want_a), "%s marked act_asym (%s) differs from the asymmetric run", octet_dtype_name(plain.dtype), together ? "together" : "alone");
            CHECK(!memcmp(want_s, got[1], sizeof want_s), "%s unmarked (%s) differs from the symmetric run", octet_dtype_name(plain.dtype), together ? "together" : "alone");
        }
        octet_scratch_free(&sa); octet_scratch_free(&ss); octet_scratch_free(&sm);
        octet_threadpool_free(tp);
    }
    free(x); free(wf); free(q8); free(g32); free(g32b); free(g16); free(tq.block_sums); free(tg.block_sums); free(th_.block_sums);
}

// octet bench's compute probe does the multiply-adds it reports, in every set: chain j's products
// of |v[j/4 + i]| and v[2 + j%4 + i] over the set's vector width, summed. Each chain has its own
// operands, which is what stops a compiler folding the 8 chains into one (all 8 on the same
// operands were folded, and the probe counted 8x the work it did): a folded probe sums 8 equal
// chains and misses this total.
static void mac_probe_counts_its_products(void) {
    const octet_kernel_set *sets[1 + MAX_SETS] = {&octet_kernels_scalar};
    int nsets = 1 + simd_sets(sets + 1);
    int8_t v[OCTET_PROBE_BYTES];
    for (int i = 0; i < OCTET_PROBE_BYTES; i++) v[i] = (int8_t)(i % 2 ? 127 - i : -127 + 3 * i % 250);  // -127 among them
    for (int si = 0; si < nsets; si++)
        for (long steps = 1; steps <= 1000; steps *= 10) {
            int32_t check = 0;
            uint64_t macs = sets[si]->mac_probe(v, steps, &check);
            uint64_t width = macs / (8 * (uint64_t)steps);
            uint32_t want = 0;
            for (int j = 0; j < 8; j++)
                for (uint64_t i = 0; i < width && i < 64; i++) {
                    int32_t x = v[j / 4 + i], y = v[2 + j % 4 + i];
                    want += (uint32_t)((x < 0 ? -x : x) * y);
                }
            want *= (uint32_t)steps;
            CHECK(macs == 8 * (uint64_t)steps * width && (width == 4 || width == 16 || width == 32 || width == 64), "%s: %llu multiply-adds for %ld steps",
                  sets[si]->name, (unsigned long long)macs, steps);
            CHECK((uint32_t)check == want, "%s, %ld steps: products sum to %d, expected %u", sets[si]->name, steps, check, want);
        }
}

// Distance in units in the last place between two finite floats of the same sign.
static int64_t ulps(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

// GELU-tanh and soft-capping, written with exp so that every kernel set gives the same bits,
// against the tanh formulas in double over a sweep of inputs: GELU within 1.5e-6 relative, or of
// 1e-3 where the value is smaller (the rounding of exp's argument, times its size, dominates;
// measured 9.1e-7), soft-capping within 2.5e-7 of the cap.
static void gelu_and_softcap_match_tanh(void) {
    double worst_g = 0, worst_c = 0;
    enum { N = 200001 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *one = malloc(N * sizeof *one);
    for (int i = 0; i < N; i++) { x[i] = (float)((i - N / 2) * 1e-4); one[i] = 1.0f; }  // -10 .. 10
    k_geglu(y, x, one, N);
    for (int i = 0; i < N; i++) {
        // 0.5 v (1 + tanh z) written as v / (1 + exp(-2z)), the same number without tanh's
        // cancellation near -1 (which would make the double reference itself 0)
        double v = x[i], z = 0.7978845608028654 * (v + 0.044715 * v * v * v), want = v / (1 + exp(-2 * z));
        // relative where the value matters; in the far negative tail (|value| < 1e-3, where
        // exp's argument is large and float rounding of it dominates) absolute, scaled alike
        double err = fabs(y[i] - want) / (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
        worst_g = err > worst_g ? err : worst_g;
    }
    static const float caps[3] = {1.0f, 30.0f, 50.0f};
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < N; i++) y[i] = x[i] * caps[c] / 3;  // |x / cap| up to 3.3
        k_softcap(y, N, caps[c]);
        for (int i = 0; i < N; i++) {
            double want = caps[c] * tanh((double)(x[i] * caps[c] / 3) / caps[c]), err = fabs(y[i] - want) / caps[c];
            worst_c = err > worst_c ? err : worst_c;
        }
    }
    printf("  GELU-tanh worst relative error %.2e, soft-cap worst error %.2e of the cap\n", worst_g, worst_c);
    CHECK(worst_g <= 1.5e-6, "GELU-tanh differs from the tanh formula by %.2e relative", worst_g);
    CHECK(worst_c <= 2.5e-7, "soft-cap differs from cap tanh(x / cap) by %.2e of the cap", worst_c);
    free(x); free(y); free(one);
}

// k_expf (the exp every kernel set repeats) within 1 ulp of the correctly rounded exp, on float
// bit patterns spread over the whole line, with its saturations and special values; and how often
// it equals this C library's expf (on glibc with FMA: always).
static void expf_within_1_ulp(void) {
    int64_t worst = 0;
    float at = 0;
    unsigned long same = 0, n = 0;
    for (uint64_t u = 0; u < (1ull << 32); u += 251) {
        uint32_t b = (uint32_t)u;
        float x, got, lib;
        memcpy(&x, &b, 4);
        got = k_expf(x);
        lib = expf(x);
        n++;
        same += !memcmp(&got, &lib, 4) || (isnan(got) && isnan(lib));
        if (isnan(x) || x < -87.3f || x > 88.7f) continue;   // subnormal or past the overflow: the saturations below
        float ref = (float)exp((double)x);
        int64_t e = ulps(got, ref);
        if (e > worst) { worst = e; at = x; }
    }
    printf("  k_expf: worst %lld ulp (at %g); equal to the C library's expf for %lu of %lu inputs\n", (long long)worst, at, same, n);
    CHECK(worst <= 1, "k_expf off by %lld ulp at %g", (long long)worst, at);
    CHECK(k_expf(0.0f) == 1.0f && k_expf(-0.0f) == 1.0f, "exp(0) is not 1");
    CHECK(k_expf(-INFINITY) == 0.0f && k_expf(-104.0f) == 0.0f && k_expf(-103.5f) == 0x1p-149f, "exp's underflow: %a %a", k_expf(-104.0f), k_expf(-103.5f));
    CHECK(isinf(k_expf(INFINITY)) && isinf(k_expf(89.0f)) && !isinf(k_expf(88.7f)), "exp's overflow");
    CHECK(isnan(k_expf(NAN)), "exp(NaN) is not NaN");
    float sm[5] = {1.0f, 2.0f, 3.0f, -INFINITY, 3.0f}, tot = 0;
    k_softmax(sm, 5);
    for (int i = 0; i < 5; i++) tot += sm[i];
    CHECK(fabsf(tot - 1.0f) < 1e-6f && sm[3] == 0.0f && sm[2] == sm[4] && fabsf(sm[2] / sm[1] - expf(1.0f)) < 1e-5f, "softmax of 1,2,3,-inf,3: %g %g %g %g %g", sm[0], sm[1], sm[2], sm[3], sm[4]);
}

// Every SIMD set against the scalar reference, bit for bit, on random and edge inputs.
static void simd_sets_match_scalar(void) {
    const octet_kernel_set *sets[MAX_SETS];
    int ran = simd_sets(sets);
    for (int si = 0; si < ran; si++) {
        const octet_kernel_set *ks = sets[si], *ref = &octet_kernels_scalar;
        printf("  %s%s\n", ks->name,
#ifdef OCTET_TEST_EMULATED
               " (emulated)"
#else
               ""
#endif
        );
        int sizes[] = {1, 5, 8, 15, 31, 32, 33, 63, 64, 65, 96, 255, 256, 257, 576, 1536, 4099, 16384};
        int kmax = 16384 + 64;
        int8_t *a = malloc((size_t)kmax), *b = malloc((size_t)kmax), *a8 = malloc((size_t)kmax);
        float *fa = malloc(sizeof(float) * kmax), *fb = malloc(sizeof(float) * kmax), *ya = malloc(sizeof(float) * kmax), *yb = malloc(sizeof(float) * kmax);
        int32_t d1[600], d2[600];
        for (unsigned z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            int k = sizes[z];
            for (int pass = 0; pass < 4; pass++) {
                for (int i = 0; i < k; i++) {
                    int8_t r1 = (int8_t)(next_u32() % 255 - 127), r2 = (int8_t)(next_u32() % 255 - 127);
                    a[i] = pass == 1 ? 127 : pass == 2 ? -127 : pass == 3 ? 0 : r1;
                    b[i] = pass == 1 ? 127 : pass == 2 ? 127 : r2;
                    fa[i] = pass == 3 ? 0 : frand() * (pass == 1 ? 1e6f : 1);
                    fb[i] = frand();
                }
                for (int i = 0; i < 8 * k && 8 * k <= kmax; i++)  // 8 rows of a: row 0 is a, the others random or the pass's edge
                    a8[i] = i < k ? a[i] : pass == 0 || pass == 3 ? (int8_t)(next_u32() % 255 - 127) : a[i % k];
                CHECK(ks->dot_i8(a, b, k) == ref->dot_i8(a, b, k), "%s dot_i8 k=%d pass %d", ks->name, k, pass);
                if (8 * k <= kmax) {  // eight tokens' whole-row dots with one weight row
                    int32_t e1[8], e2[8];
                    ks->dots8_i8(a8, (size_t)k, b, k, e1);
                    ref->dots8_i8(a8, (size_t)k, b, k, e2);
                    CHECK(!memcmp(e1, e2, sizeof e1), "%s dots8_i8 k=%d pass %d", ks->name, k, pass);
                }
                float x = ks->dot_f32(fa, fb, k), y = ref->dot_f32(fa, fb, k);
                // attention over rows: fa as up to 21 rows of width d (ld = d + 3), fb as the query / weights
                static const int widths[] = {1, 7, 8, 13, 16, 64, 65, 72};
                for (unsigned wi = 0; wi < sizeof widths / sizeof *widths && widths[wi] <= k; wi++) {
                    int d = widths[wi];
                    int rows = (k - d) / (d + 3) + 1 < 21 ? (k - d) / (d + 3) + 1 : 21;  // rows fit in fa
                    float o1[21], o2[21];
                    ks->dot_rows_f32(fb, fa, (size_t)d + 3, rows, d, o1);
                    ref->dot_rows_f32(fb, fa, (size_t)d + 3, rows, d, o2);
                    CHECK(!memcmp(o1, o2, sizeof(float) * rows), "%s dot_rows_f32 d=%d rows=%d pass %d", ks->name, d, rows, pass);
                    memcpy(ya, fb, sizeof(float) * d);
                    memcpy(yb, fb, sizeof(float) * d);
                    ks->axpy_rows_f32(fb + 1, fa, (size_t)d + 3, rows, ya, d);
                    ref->axpy_rows_f32(fb + 1, fa, (size_t)d + 3, rows, yb, d);
                    CHECK(!memcmp(ya, yb, sizeof(float) * d), "%s axpy_rows_f32 d=%d rows=%d pass %d", ks->name, d, rows, pass);
                }
                for (int d = 64; d <= 256 && d <= k; d *= 2) {  // head widths, 8-row groups and a remainder
                    int rows = k / d < 21 ? k / d : 21;
                    float o1[21], o2[21];
                    ks->dot_rows_f32(fb, fa, (size_t)d, rows, d, o1);
                    ref->dot_rows_f32(fb, fa, (size_t)d, rows, d, o2);
                    memcpy(ya, fb, sizeof(float) * d);
                    memcpy(yb, fb, sizeof(float) * d);
                    ks->axpy_rows_f32(fb + 1, fa, (size_t)d, rows, ya, d);
                    ref->axpy_rows_f32(fb + 1, fa, (size_t)d, rows, yb, d);
                    CHECK(!memcmp(o1, o2, sizeof(float) * rows) && !memcmp(ya, yb, sizeof(float) * d), "%s attention rows d=%d rows=%d pass %d", ks->name, d, rows, pass);
                }
                // weight rows as f32: every f16/bf16 bit pattern class (random bits, incl. subnormals, inf, NaN), q8g32 with its scales
                uint16_t *h = (uint16_t *)fb;  // reuses fb's bytes as k halves
                for (int i = 0; i < k; i++) h[i] = (uint16_t)next_u32();
                float gs[520];
                for (int i = 0; i < (k + 31) / 32 && i < 520; i++) gs[i] = frand() * (pass == 1 ? 1e30f : 1e-3f);
                static const int dts[3] = {OCTET_F16, OCTET_BF16, OCTET_Q8G32};
                for (int d = 0; d < 3; d++) {
                    ks->row_to_f32(d == 2 ? (const void *)a : (const void *)h, dts[d], gs, k, ya);
                    ref->row_to_f32(d == 2 ? (const void *)a : (const void *)h, dts[d], gs, k, yb);
                    CHECK(!memcmp(ya, yb, sizeof(float) * k), "%s row_to_f32 %s k=%d pass %d", ks->name, octet_dtype_name((uint32_t)dts[d]), k, pass);
                }
                CHECK(!memcmp(&x, &y, 4), "%s dot_f32 k=%d pass %d: %g vs %g", ks->name, k, pass, x, y);
                // softmax and SwiGLU: scores of a few units (pass 1: up to 1e6, exp saturating both ways)
                for (int i = 0; i < k; i++) { ya[i] = fa[i] * 3.0f; yb[i] = ya[i]; }
                int kn = k;
                ks->softmax(&ya, &kn, 1);
                k_softmax(yb, k);
                CHECK(!memcmp(ya, yb, sizeof(float) * k), "%s softmax k=%d pass %d", ks->name, k, pass);
                // several rows at once (attention's items): lengths that differ, are equal, or 0, up to 11 rows
                float *ma = malloc(sizeof(float) * 11 * k), *mb = malloc(sizeof(float) * 11 * k);
                for (int rows = 1; rows <= 11; rows += 5) {
                    float *ra[11], *rb[11];
                    int rn[11];
                    for (int r = 0; r < rows; r++) {
                        rn[r] = r == 3 ? 0 : r == 4 ? rn[2] : (k - r * 7 > 0 ? k - r * 7 : k / (r + 1));
                        ra[r] = ma + (size_t)r * k;
                        rb[r] = mb + (size_t)r * k;
                    }
                    for (int i = 0; i < rows * k; i++) ma[i] = mb[i] = fa[i % k] * 3.0f + (float)(i / k);
                    ks->softmax(ra, rn, rows);
                    for (int r = 0; r < rows; r++) k_softmax(rb[r], rn[r]);
                    CHECK(!memcmp(ma, mb, sizeof(float) * (size_t)rows * k), "%s softmax of %d rows k=%d pass %d", ks->name, rows, k, pass);
                }
                free(ma); free(mb);
                ks->swiglu(ya, fa, fb, k);
                ref->swiglu(yb, fa, fb, k);
                CHECK(!memcmp(ya, yb, sizeof(float) * k), "%s swiglu k=%d pass %d", ks->name, k, pass);
                ks->geglu(ya, fa, fb, k);
                ref->geglu(yb, fa, fb, k);
                CHECK(!memcmp(ya, yb, sizeof(float) * k), "%s geglu k=%d pass %d", ks->name, k, pass);
                static const float caps[3] = {1.0f, 30.0f, 50.0f};
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < k; i++) ya[i] = yb[i] = fa[i] * 20.0f;
                    ks->softcap(ya, k, caps[c]);
                    ref->softcap(yb, k, caps[c]);
                    CHECK(!memcmp(ya, yb, sizeof(float) * k), "%s softcap %g k=%d pass %d", ks->name, caps[c], k, pass);
                }
                // activation quantization: blocks of 32 and whole rows, symmetric and asymmetric
                for (int bq = 0; bq < 2; bq++) {
                    int bs = bq ? k : 32, nq = k / bs;
                    if (!nq || nq > 600) continue;
                    float s1[600], s2[600], c1[600], c2[600];
                    for (int asym = 0; asym < 2; asym++) {
                        ks->quantize_i8(fa, k, bs, (int8_t *)ya, s1, asym ? c1 : NULL);
                        ref->quantize_i8(fa, k, bs, (int8_t *)yb, s2, asym ? c2 : NULL);
                        CHECK(!memcmp(ya, yb, (size_t)nq * bs) && !memcmp(s1, s2, sizeof(float) * nq) && (!asym || !memcmp(c1, c2, sizeof(float) * nq)),
                              "%s quantize_i8 k=%d bs=%d asym %d pass %d", ks->name, k, bs, asym, pass);
                    }
                }
                for (int bs = 16; bs <= 64; bs *= 2) {
                    int nb = k / bs;
                    if (!nb || nb > 600) continue;
                    ks->block_dots_i8(a, b, nb, bs, d1);
                    ref->block_dots_i8(a, b, nb, bs, d2);
                    CHECK(!memcmp(d1, d2, (size_t)nb * 4), "%s block dots k=%d bs=%d pass %d", ks->name, k, bs, pass);
                    if (nb * 8 > 600 || 8 * k > kmax) continue;
                    // the microkernel in its five scaling modes (q8, q8 asym, q8g32, q8g32 asym, q8g32 row scale),
                    // lanes as 8 tokens against one weight row and as one token against 8 weight rows
                    float sx[600], cx[600], sw[600], acc1[8], acc2[8];
                    int16_t S[600];   // a tile of block sums: [nb][8]
                    for (int i = 0; i < nb * 8; i++) { sx[i] = fabsf(frand()) * 1e-3f; cx[i] = frand(); }
                    for (int i = 0; i < nb * 8; i++) { sw[i] = fabsf(frand()) * 1e-2f; S[i] = (int16_t)(next_u32() % 8129 - 4064); }
                    for (int rows = 0; rows < 2; rows++)
                        for (int mode = 0; mode < 5; mode++) {
                            octet_lanes8 g = {.a = rows ? b : a8, .w = rows ? a8 : b, .lda = rows ? 0 : (size_t)k, .ldw = rows ? (size_t)k : 0,
                                              .ldsw = rows ? (size_t)nb : 0, .ldS = rows ? 1 : 0, .nb = nb, .bs = bs,
                                              .sx = mode == 4 ? NULL : sx, .sw = mode >= 2 ? sw : NULL, .cx = mode == 1 || mode == 3 ? cx : NULL, .S = S};
                            for (int j = 0; j < 8; j++) acc1[j] = acc2[j] = frand();
                            ks->gemm8_acc(&g, acc1);
                            ref->gemm8_acc(&g, acc2);
                            CHECK(!memcmp(acc1, acc2, sizeof acc1), "%s gemm8_acc %s k=%d bs=%d mode %d pass %d", ks->name, rows ? "rows" : "tokens", k, bs, mode, pass);
                        }
                }
            }
        }
        // quantization edges: exact halves (x * inv = n + 0.5 rounds away from zero), signed
        // zeros, infinities and NaNs in a block, values past the clamp
        float e[128];
        for (int i = 0; i < 128; i++) e[i] = (float)(i % 32) - 15.5f;
        e[0] = 127; e[31] = -127;  // block 0: amax 127, inv 1: every other value a tie
        e[32] = -0.0f; e[33] = 0.0f; e[40] = INFINITY; e[41] = NAN;
        e[64] = NAN; e[96] = -INFINITY; e[97] = 1e30f;
        int8_t q1[128], q2[128];
        float s1[4], s2[4], c1[4], c2[4];
        for (int asym = 0; asym < 2; asym++)
            for (int bs = 32; bs <= 128; bs *= 4) {
                ks->quantize_i8(e, 128, bs, q1, s1, asym ? c1 : NULL);
                ref->quantize_i8(e, 128, bs, q2, s2, asym ? c2 : NULL);
                CHECK(!memcmp(q1, q2, 128) && !memcmp(s1, s2, sizeof(float) * (128 / bs)) && (!asym || !memcmp(c1, c2, sizeof(float) * (128 / bs))),
                      "%s quantize_i8 edge values bs=%d asym %d", ks->name, bs, asym);
            }
        // exp's edges through softmax and SwiGLU: signed zeros, infinities, NaN, the saturation
        // limits, values either side of 88 (where the SIMD lanes hand over to k_expf)
        float ex[19] = {-0.0f, 0.0f, INFINITY, -INFINITY, NAN, -0x1.9fe368p6f, -0x1.9d1d9ep6f, 0x1.62e42ep6f, -88.0f, -87.9f, 88.0f,
                        1e-30f, -1e-30f, 0.5f, -0.5f, 0.34657359f, 30.0f, -30.0f, 200.0f};
        float o1[19], o2[19], u1[19];
        for (int i = 0; i < 19; i++) u1[i] = 1.0f + (float)i;
        ks->swiglu(o1, ex, u1, 19);
        ref->swiglu(o2, ex, u1, 19);
        CHECK(!memcmp(o1, o2, sizeof o1), "%s swiglu edge values", ks->name);
        ks->geglu(o1, ex, u1, 19);
        ref->geglu(o2, ex, u1, 19);
        CHECK(!memcmp(o1, o2, sizeof o1), "%s geglu edge values", ks->name);
        static const float ecaps[4] = {30.0f, 1e-3f, 1e30f, 0x1p-140f};
        for (int c = 0; c < 4; c++) {
            memcpy(o1, ex, sizeof ex);
            memcpy(o2, ex, sizeof ex);
            ks->softcap(o1, 19, ecaps[c]);
            ref->softcap(o2, 19, ecaps[c]);
            CHECK(!memcmp(o1, o2, sizeof o1), "%s softcap edge values, cap %g", ks->name, ecaps[c]);
        }
        // softmax: a masked (-inf) score, signed zeros, and scores 100 and 200 below the max
        float se[17] = {-INFINITY, -0.0f, 0.0f, -100.0f, 5.0f, -200.0f, 1e-30f, -1e-30f, 0.5f, -0.5f, 30.0f, -30.0f, 4.0f, -INFINITY, 88.0f, -87.0f, 0.0f};
        for (int n = 1; n <= 17; n += 8) {
            float s1[17], s2[17];
            memcpy(s1, se, sizeof se);
            memcpy(s2, se, sizeof se);
            float *p1 = s1;
            ks->softmax(&p1, &n, 1);
            k_softmax(s2, n);
            CHECK(!memcmp(s1, s2, sizeof(float) * (size_t)n), "%s softmax edge values n=%d", ks->name, n);
        }
        free(a); free(b); free(a8); free(fa); free(fb); free(ya); free(yb);
    }
    if (!ran) SKIP("no SIMD kernel set runs on this CPU");
}

int main(void) {
    RUN(int8_dot_is_exact);
    RUN(activation_quantization_edges);
    RUN(gemm_paths_agree);
    RUN(q8g32_gemm_matches_exact);
    RUN(q8g32h_gives_q8g32_bits);
    RUN(per_row_gemm_matches_scalar);
    RUN(asym_quantization_edges);
    RUN(asym_gemm_matches_exact);
    RUN(tiled_prefill_gives_pair_bits);
    RUN(tiled_f32_gives_dot_f32_bits);
    RUN(backend_is_thread_count_independent);
    RUN(expf_within_1_ulp);
    RUN(gelu_and_softcap_match_tanh);
    RUN(simd_sets_match_scalar);
    RUN(mac_probe_counts_its_products);
    CHECK_DONE();
}
