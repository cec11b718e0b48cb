// GPTQ rounding (tools/convert/gptq.c) against plain rounding on small matrices whose inputs
// are strongly correlated: the products X W^T move less; with a diagonal H it is plain rounding
// bit for bit; the bytes do not depend on the thread count; a broken H is refused.
#include "check.h"
#include "quantize.h"
#include "octet_file.h"
#include "util.h"
#include <math.h>

static uint64_t rng = 88172645463325252ull;
static double gauss(void) {
    double u = 0;
    for (int i = 0; i < 12; i++) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; u += (double)(rng >> 11) / 9007199254740992.0; }
    return u - 6;
}

enum { ROWS = 40, COLS = 96, TOKENS = 400 };
static float W[ROWS * COLS], X[TOKENS * COLS];
static double H[COLS * COLS];

static void make_data(void) {
    static double mix[COLS * COLS];
    for (int i = 0; i < COLS * COLS; i++) mix[i] = gauss() * (i % COLS == i / COLS ? 1.0 : 0.3);
    for (int t = 0; t < TOKENS; t++) {
        double z[COLS];
        for (int i = 0; i < COLS; i++) z[i] = gauss();
        for (int c = 0; c < COLS; c++) {
            double s = 0;
            for (int i = 0; i < COLS; i++) s += z[i] * mix[i * COLS + c];
            X[t * COLS + c] = (float)s;
        }
    }
    for (int i = 0; i < ROWS * COLS; i++) W[i] = (float)(gauss() * 0.05);
    for (int a = 0; a < COLS; a++)
        for (int b = 0; b < COLS; b++) {
            double s = 0;
            for (int t = 0; t < TOKENS; t++) s += (double)X[t * COLS + a] * X[t * COLS + b];
            H[a * COLS + b] = s;
        }
}

// ||X W^T - X W_q^T||^2 for the quantized layout in q.
static double output_error(const uint8_t *q, uint32_t dtype) {
    uint64_t so = octet_q8_scales_offset(ROWS, COLS), g = octet_q8_group(dtype, COLS);
    double err = 0;
    for (int t = 0; t < TOKENS; t++)
        for (int r = 0; r < ROWS; r++) {
            double a = 0, b = 0;
            for (int c = 0; c < COLS; c++) {
                float s;
                uint64_t si = octet_q8_scale_index(dtype, (uint64_t)r, (uint64_t)(c / g), COLS / g);
                if (dtype == OCTET_Q8G32H) { uint16_t h; memcpy(&h, q + so + si * 2, 2); s = octet_f16_to_f32(h); }
                else memcpy(&s, q + so + si * 4, 4);
                a += (double)X[t * COLS + c] * W[r * COLS + c];
                b += (double)X[t * COLS + c] * s * ((const int8_t *)q)[r * COLS + c];
            }
            err += (a - b) * (a - b);
        }
    return err;
}

static void gptq_lowers_the_output_error(void) {
    static const uint32_t types[3] = {OCTET_Q8, OCTET_Q8G32, OCTET_Q8G32H};
    for (int k = 0; k < 3; k++)
        for (int clip = 0; clip < 2; clip++) {
            uint64_t nb;
            octet_tensor_nbytes(types[k], ROWS, COLS, &nb);
            uint8_t *plain = malloc(nb), *gq = malloc(nb);
            octet_quantize_q8(W, ROWS, COLS, types[k], plain, clip ? CLIP_MAX : CLIP_MSE, 0, 1);
            CHECK(octet_quantize_gptq(W, ROWS, COLS, types[k], H, 0.01, gq, clip ? CLIP_MAX : CLIP_MSE, 0, 1) == 0, "%s", octet_last_error());
            double ep = output_error(plain, types[k]), eg = output_error(gq, types[k]);
            printf("  %s, clip %s: ||XW^T - XWq^T||^2 plain %.4g, GPTQ %.4g (%.2fx)\n", octet_dtype_name(types[k]), clip ? "max" : "mse", ep, eg, eg / ep);
            CHECK(eg < 0.8 * ep, "%s: GPTQ error %.4g is not below plain rounding's %.4g", octet_dtype_name(types[k]), eg, ep);
            free(plain); free(gq);
        }
}

static void diagonal_hessian_is_plain_rounding(void) {
    static double D[COLS * COLS];
    for (int i = 0; i < COLS; i++) D[i * COLS + i] = H[i * COLS + i];
    D[5 * COLS + 5] = 0;  // a never-active input
    static const uint32_t types[3] = {OCTET_Q8, OCTET_Q8G32, OCTET_Q8G32H};
    for (int k = 0; k < 3; k++)
        for (int clip = 0; clip < 3; clip++) {
            uint64_t nb;
            octet_tensor_nbytes(types[k], ROWS, COLS, &nb);
            uint8_t *plain = malloc(nb), *gq = malloc(nb);
            int rule = clip == 0 ? CLIP_MSE : clip == 1 ? CLIP_MAX : CLIP_PCT;
            octet_quantize_q8(W, ROWS, COLS, types[k], plain, rule, 99.0, 1);
            CHECK(octet_quantize_gptq(W, ROWS, COLS, types[k], D, 0.01, gq, rule, 99.0, 1) == 0, "%s", octet_last_error());
            CHECK(!memcmp(plain, gq, nb), "%s clip %d: a diagonal H does not give plain rounding", octet_dtype_name(types[k]), clip);
            free(plain); free(gq);
        }
}

static void same_bytes_with_any_thread_count(void) {
    uint64_t nb;
    octet_tensor_nbytes(OCTET_Q8G32, ROWS, COLS, &nb);
    uint8_t *a = malloc(nb), *b = malloc(nb);
    CHECK(octet_quantize_gptq(W, ROWS, COLS, OCTET_Q8G32, H, 0.01, a, CLIP_MSE, 0, 1) == 0, "1 thread");
    CHECK(octet_quantize_gptq(W, ROWS, COLS, OCTET_Q8G32, H, 0.01, b, CLIP_MSE, 0, 3) == 0, "3 threads");
    CHECK(!memcmp(a, b, nb), "GPTQ bytes depend on the thread count");
    free(a); free(b);
}

static void a_broken_hessian_is_refused(void) {
    static double B[COLS * COLS];
    memcpy(B, H, sizeof B);
    B[3 * COLS + 7] = B[7 * COLS + 3] = NAN;
    uint64_t nb;
    octet_tensor_nbytes(OCTET_Q8, ROWS, COLS, &nb);
    uint8_t *q = malloc(nb);
    int rc = octet_quantize_gptq(W, ROWS, COLS, OCTET_Q8, B, 0.01, q, CLIP_MSE, 0, 1);
    CHECK(rc == -1 && strstr(octet_last_error(), "not positive definite"), "NaN in H: rc %d, %s", rc, octet_last_error());
    free(q);
}

int main(void) {
    make_data();
    RUN(gptq_lowers_the_output_error);
    RUN(diagonal_hessian_is_plain_rounding);
    RUN(same_bytes_with_any_thread_count);
    RUN(a_broken_hessian_is_refused);
    CHECK_DONE();
}
