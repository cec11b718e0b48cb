// GPTQ (Frantar et al., 2022) for octet's INT8 layouts: rounding errors compensated through the
// inverse Hessian of the calibration inputs, one row tile at a time.
#include "quantize.h"
#include "octet_file.h"
#include "threadpool.h"
#include "util.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// U, upper triangular with H^-1 = U^T U, without forming H^-1: H = R R^T with R = U^-1 upper is
// the Cholesky factorization of H with rows and columns reversed; U is then R's inverse.
static int inverse_factor(const double *H, uint64_t n, double damp, double *U) {
    double *R = calloc(n * n, sizeof *R), mean = 0;
    if (!R) { octet_set_error("out of memory"); return -1; }
    for (uint64_t i = 0; i < n; i++) mean += H[i * n + i];
    mean /= (double)n;
    if (!(mean > 0)) mean = 1;
    // A = P H P (P reverses the order), dampened; never-active inputs get a unit diagonal.
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j <= i; j++) {
            uint64_t a = n - 1 - i, b = n - 1 - j;
            double h = H[a * n + b];
            if (a == b) h = (h > 0 ? h : 1.0) + damp * mean;
            else if (!(H[a * n + a] > 0) || !(H[b * n + b] > 0)) h = 0;
            R[i * n + j] = h;
        }
    // In-place lower Cholesky of A (rows of L in R's lower triangle).
    for (uint64_t j = 0; j < n; j++) {
        double d = R[j * n + j];
        for (uint64_t k = 0; k < j; k++) d -= R[j * n + k] * R[j * n + k];
        if (!(d > 0)) { free(R); octet_set_error("GPTQ: the calibration Hessian is not positive definite (column %llu)", (unsigned long long)(n - 1 - j)); return -1; }
        d = sqrt(d);
        R[j * n + j] = d;
        for (uint64_t i = j + 1; i < n; i++) {
            double s = R[i * n + j];
            const double *ri = R + i * n, *rj = R + j * n;
            for (uint64_t k = 0; k < j; k++) s -= ri[k] * rj[k];
            R[i * n + j] = s / d;
        }
    }
    // M = L^-1, row by row: M[i][j] = -(sum over k < i of L[i][k] M[k][j]) / L[i][i] for j < i.
    double *M = calloc(n * n, sizeof *M);
    if (!M) { free(R); octet_set_error("out of memory"); return -1; }
    for (uint64_t i = 0; i < n; i++) {
        double *mi = M + i * n;
        for (uint64_t k = 0; k < i; k++) {
            double a = R[i * n + k];
            const double *mk = M + k * n;
            if (a != 0)
                for (uint64_t j = 0; j <= k; j++) mi[j] -= a * mk[j];
        }
        for (uint64_t j = 0; j < i; j++) mi[j] /= R[i * n + i];
        mi[i] = 1.0 / R[i * n + i];
    }
    // H = P L L^T P = (P L P)(P L P)^T, and P L P is upper: R_upper = P L P, U = R_upper^-1 = P M P.
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < n; j++) U[i * n + j] = M[(n - 1 - i) * n + (n - 1 - j)];
    free(R);
    free(M);
    return 0;
}

#define TILE 16
typedef struct {
    const float *x;
    uint64_t rows, cols, group;
    uint32_t dtype;
    const double *U;
    uint8_t *dst;
    int clip;
    double pct;
    atomic_uint_fast64_t next;
    atomic_int failed, too_large;
} gptq_job;

static int8_t round_q8(double v, float inv) {
    float t = roundf((float)v * inv);
    return (int8_t)(t > 127 ? 127 : t < -127 ? -127 : t);
}

static void gptq_tiles(void *p, int ith, int nth) {
    (void)ith; (void)nth;
    gptq_job *j = p;
    uint64_t cols = j->cols, g = j->group, so = octet_q8_scales_offset(j->rows, cols);
    double *w = malloc(TILE * cols * sizeof *w);
    float *grp = malloc(g * sizeof *grp);
    if (!w || !grp) { free(w); free(grp); atomic_store(&j->failed, 1); return; }
    int8_t *q = (int8_t *)j->dst;
    for (;;) {
        uint64_t r0 = atomic_fetch_add(&j->next, TILE);
        if (r0 >= j->rows) break;
        uint64_t nr = j->rows - r0 < TILE ? j->rows - r0 : TILE;
        float inv[TILE], scale[TILE];
        for (uint64_t t = 0; t < nr; t++)
            for (uint64_t c = 0; c < cols; c++) w[t * cols + c] = j->x[(r0 + t) * cols + c];
        for (uint64_t i = 0; i < cols; i++) {
            if (i % g == 0)  // a group's scale from its weights as they stand now
                for (uint64_t t = 0; t < nr; t++) {
                    for (uint64_t c = 0; c < g; c++) grp[c] = (float)w[t * cols + i + c];
                    uint64_t si = octet_q8_scale_index(j->dtype, r0 + t, i / g, cols / g);
                    scale[t] = octet_q8_store_scale(j->dst + so, j->dtype, si, octet_q8_group_scale(grp, g, j->clip, j->pct));
                    if (isinf(scale[t])) atomic_store(&j->too_large, 1);
                    inv[t] = scale[t] > 0 ? 1.0f / scale[t] : 0.0f;
                    if (!isfinite(inv[t])) inv[t] = 0.0f;
                }
            const double *u = j->U + i * cols;
            for (uint64_t t = 0; t < nr; t++) {
                double *wr = w + t * cols;
                int8_t v = round_q8(wr[i], inv[t]);
                q[(r0 + t) * cols + i] = v;
                double e = (wr[i] - (double)scale[t] * v) / u[i];
                if (e != 0)
                    for (uint64_t c = i + 1; c < cols; c++) wr[c] -= e * u[c];
            }
        }
    }
    free(w);
    free(grp);
}

int octet_quantize_gptq(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, const double *H, double damp, uint8_t *dst, int clip, double pct,
                        int n_threads) {
    double *U = malloc(cols * cols * sizeof *U);
    if (!U) { octet_set_error("out of memory"); return -1; }
    if (inverse_factor(H, cols, damp, U) != 0) { free(U); return -1; }
    uint64_t so = octet_q8_scales_offset(rows, cols), g = octet_q8_group(dtype, cols);
    memset(dst + rows * cols, 0, so - rows * cols);
    memset(dst + so, 0, octet_q8_scale_rows(dtype, rows) * (cols / g) * octet_q8_scale_bytes(dtype));  // a last tile's missing rows
    gptq_job j = {x, rows, cols, octet_q8_group(dtype, cols), dtype, U, dst, clip, pct, 0, 0, 0};
    octet_threadpool *tp = n_threads > 1 && rows > TILE ? octet_threadpool_new(n_threads) : NULL;
    if (tp) { octet_threadpool_run(tp, gptq_tiles, &j); octet_threadpool_free(tp); }
    else gptq_tiles(&j, 0, 1);
    free(U);
    if (atomic_load(&j.failed)) { octet_set_error("out of memory"); return -1; }
    return atomic_load(&j.too_large) ? octet_q8_scale_overflow(dtype) : 0;
}
