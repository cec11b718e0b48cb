// Scalar reference kernels: exact int8 arithmetic, quantization edge cases, block scales,
// weight-only path, and thread-count independence of the CPU backend.
#include "check.h"
#include "backend.h"
#include "kernels.h"
#include "octet_file.h"
#include <math.h>

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
    int m = 3, k = 96, n = 5;
    float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), y1[15], y2[15], y3[15], row[96];
    for (int i = 0; i < m * k; i++) x[i] = frand();
    for (int i = 0; i < n * k; i++) w[i] = frand();
    int8_t *xq = malloc((size_t)m * k), *wq = malloc((size_t)n * k);
    float xs[3], xsb[9], ws[5];
    for (int r = 0; r < n; r++) k_quantize_row_i8(w + r * k, k, wq + r * k, &ws[r]);
    for (int r = 0; r < m; r++) k_quantize_row_i8(x + r * k, k, xq + r * k, &xs[r]);
    k_gemm_q8_i8(&octet_kernels_scalar, xq, xs, m, k, wq, ws, 0, n, y1, n);
    // one block spanning the row is the per-row path exactly
    k_gemm_q8_i8_blocks(&octet_kernels_scalar, xq, xs, m, k, k, wq, ws, 0, n, y2, n);
    CHECK(!memcmp(y1, y2, sizeof y1), "block size k equals per-row");
    for (int r = 0; r < m; r++) k_quantize_row_i8_blocks(x + r * k, k, 32, xq + r * k, xsb + r * 3);
    k_gemm_q8_i8_blocks(&octet_kernels_scalar, xq, xsb, m, k, 32, wq, ws, 0, n, y2, n);
    k_gemm_q8_f32(&octet_kernels_scalar, x, m, k, wq, ws, 0, n, y3, n, row);
    int bad = 0;
    for (int r = 0; r < m; r++)
        for (int c = 0; c < n; c++) {
            double exact = 0;
            for (int i = 0; i < k; i++) exact += (double)x[r * k + i] * ws[c] * wq[c * k + i];
            bad += fabs(y3[r * n + c] - exact) > 1e-3 * (1 + fabs(exact));
            bad += fabs(y1[r * n + c] - exact) > 0.05 * (1 + fabs(exact));
            bad += fabs(y2[r * n + c] - exact) > 0.05 * (1 + fabs(exact));
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
        int m = 3, n = 5, k = ks_[z], nb = k / 32;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *row = malloc(sizeof(float) * k);
        for (int i = 0; i < m * k; i++) x[i] = frand() * (i % 37 == 0 ? 40 : 1);
        for (int i = 0; i < n * k; i++) w[i] = frand() * (i % 64 < 32 ? 1 : 0.01f);  // block scales differ 100x
        uint8_t *wq = make_q8g32(w, n, k);
        const float *ws = (const float *)(wq + octet_q8_scales_offset((uint64_t)n, (uint64_t)k));
        int8_t *xb = malloc((size_t)m * k), *xr = malloc((size_t)m * k);
        float *xsb = malloc(sizeof(float) * m * nb), xs[3], y[3][15], ys[15];
        for (int r = 0; r < m; r++) {
            k_quantize_row_i8_blocks(x + r * k, k, 32, xb + r * k, xsb + r * nb);
            k_quantize_row_i8(x + r * k, k, xr + r * k, &xs[r]);
        }
        k_gemm_q8g_i8(&octet_kernels_scalar, xb, xsb, m, k, 32, (const int8_t *)wq, ws, 0, n, y[0], n);
        k_gemm_q8g_i8(&octet_kernels_scalar, xr, xs, m, k, 0, (const int8_t *)wq, ws, 0, n, y[1], n);
        k_gemm_q8g_f32(&octet_kernels_scalar, x, m, k, (const int8_t *)wq, ws, 0, n, y[2], n, row);
        const octet_kernel_set *simd = octet_kernels_find("avx2");
        if (simd) {
            k_gemm_q8g_i8(simd, xb, xsb, m, k, 32, (const int8_t *)wq, ws, 0, n, ys, n);
            CHECK(!memcmp(ys, y[0], sizeof ys), "avx2 q8g32 per-32 differs from scalar, k=%d", k);
            k_gemm_q8g_i8(simd, xr, xs, m, k, 0, (const int8_t *)wq, ws, 0, n, ys, n);
            CHECK(!memcmp(ys, y[1], sizeof ys), "avx2 q8g32 per-row differs from scalar, k=%d", k);
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

// The CPU backend gives identical bits for 1, 2 and 3 threads, for every weight dtype.
static void backend_is_thread_count_independent(void) {
    int m = 4, k = 160, n = 37;
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
    const octet_tensor *ts[3] = {&tq, &tf, &tg};
    int acts[3] = {32, 0, -1};
    for (int wi = 0; wi < 3; wi++)
        for (int ai = 0; ai < 3; ai++) {
            float ref[4 * 37], y[4 * 37];
            for (int th = 1; th <= 3; th++) {
                octet_threadpool *tp = octet_threadpool_new(th);
                octet_scratch s;
                CHECK(octet_scratch_init(&s, m, k, th, acts[ai]) == 0, "scratch");
                octet_matmul(tp, &s, ts[wi], x, m, th == 1 ? ref : y);
                if (th > 1) CHECK(!memcmp(ref, y, sizeof y), "%s weights, act %d: %d threads differ from 1", octet_dtype_name(ts[wi]->dtype), acts[ai], th);
                octet_scratch_free(&s);
                octet_threadpool_free(tp);
            }
        }
    free(x); free(wf); free(q8); free(g32);
}

// Every SIMD set against the scalar reference, bit for bit, on random and edge inputs.
static void simd_sets_match_scalar(void) {
    static const char *sets[] = {"avx2"};
    int ran = 0;
    for (unsigned si = 0; si < sizeof sets / sizeof *sets; si++) {
        const octet_kernel_set *ks = octet_kernels_find(sets[si]), *ref = &octet_kernels_scalar;
        if (!ks) continue;
        ran++;
        int sizes[] = {1, 5, 8, 15, 31, 32, 33, 63, 64, 65, 96, 255, 256, 257, 576, 1536, 4099, 16384};
        int kmax = 16384 + 64;
        int8_t *a = malloc((size_t)kmax), *b = malloc((size_t)kmax);
        float *fa = malloc(sizeof(float) * kmax), *fb = malloc(sizeof(float) * kmax);
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
                CHECK(ks->dot_i8(a, b, k) == ref->dot_i8(a, b, k), "%s dot_i8 k=%d pass %d", ks->name, k, pass);
                float x = ks->dot_f32(fa, fb, k), y = ref->dot_f32(fa, fb, k);
                CHECK(!memcmp(&x, &y, 4), "%s dot_f32 k=%d pass %d: %g vs %g", ks->name, k, pass, x, y);
                for (int bs = 16; bs <= 64; bs *= 2) {
                    int nb = k / bs;
                    if (!nb || nb > 600) continue;
                    ks->block_dots_i8(a, b, nb, bs, d1);
                    ref->block_dots_i8(a, b, nb, bs, d2);
                    CHECK(!memcmp(d1, d2, (size_t)nb * 4), "%s block dots k=%d bs=%d pass %d", ks->name, k, bs, pass);
                }
            }
        }
        free(a); free(b); free(fa); free(fb);
    }
    if (!ran) SKIP("no SIMD kernel set runs on this CPU");
}

int main(void) {
    RUN(int8_dot_is_exact);
    RUN(activation_quantization_edges);
    RUN(gemm_paths_agree);
    RUN(q8g32_gemm_matches_exact);
    RUN(backend_is_thread_count_independent);
    RUN(simd_sets_match_scalar);
    CHECK_DONE();
}
