// Helpers of every SIMD kernel set that depend on no instruction set: the hot-inline macro,
// gemm8_acc's scaling modes and their dispatch, and quantize_i8's block loop. Included by the sets'
// files inside their ISA guards.
#ifndef OCTET_SET_HELPERS_H
#define OCTET_SET_HELPERS_H
#include "kernels.h"

// The hot helpers must inline into their callers for their vectors to stay in registers.
#define HOT static inline __attribute__((always_inline))

// gemm8_acc's scaling modes (kernels.h); HALF added to a G32 mode: the scales are sw16's f16.
enum { Q8, Q8_ASYM, G32, G32_ASYM, G32_ROW, HALF = 8 };

// k_softmax on several rows (kernels.h) for a set's max-and-exp of a row in place and its scaling
// of a row. The reference's sum runs in index order in double, a chain of dependent adds; rows
// side by side make eight independent chains (each row's adds still in its own order, so the same
// bits), which is what made attention's softmax 4 cycles a score.
HOT void softmax_rows(float *const *x, const int *n, int rows, void (*max_exp)(float *, int), void (*scale)(float *, int, float)) {
    for (int r = 0; r < rows; r++) max_exp(x[r], n[r]);
    for (int r0 = 0; r0 < rows; r0 += 8) {
        int m = rows - r0 < 8 ? rows - r0 : 8, common = n[r0];
        const float *p[8];
        double s[8];
        for (int j = 0; j < 8; j++) {
            p[j] = x[r0 + (j < m ? j : 0)];   // (past the last row: the first again, summed and dropped)
            s[j] = 0;
            if (j < m && n[r0 + j] < common) common = n[r0 + j];
        }
        for (int i = 0; i < common; i++)
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) s[j] += p[j][i];
        for (int j = 0; j < m; j++) {
            for (int i = common; i < n[r0 + j]; i++) s[j] += p[j][i];
            scale(x[r0 + j], n[r0 + j], (float)(1.0 / s[j]));
        }
    }
}

// gemm8_acc for a set whose `run` does blocks of 32 with one side shared, in one of the modes;
// each call names its mode as a constant, so `run` (inlined) compiles one loop per mode.
typedef void gemm8_mode_fn(const octet_lanes8 *g, float acc[8], int mode);
HOT void gemm8_by_mode(const octet_lanes8 *g, float acc[8], gemm8_mode_fn *run) {
    if (g->bs != 32 || (g->lda && g->ldw)) k_gemm8_acc(g, acc);
    else if (g->sw16) {
        if (!g->sx) run(g, acc, G32_ROW | HALF);
        else g->cx ? run(g, acc, G32_ASYM | HALF) : run(g, acc, G32 | HALF);
    }
    else if (!g->sw) g->cx ? run(g, acc, Q8_ASYM) : run(g, acc, Q8);
    else if (!g->sx) run(g, acc, G32_ROW);
    else g->cx ? run(g, acc, G32_ASYM) : run(g, acc, G32);
}

// A tile's n tokens from j0: the real ones, and past the last the last again (computed, never
// stored), each with its offset in the activations.
HOT void tile_tokens(const octet_tile *t, int j0, int n, int jt[], size_t at[]) {
    for (int i = 0; i < n; i++) {
        jt[i] = j0 + i < t->nt ? j0 + i : t->nt - 1;
        at[i] = (size_t)jt[i] * t->lda;
    }
}

// gemm_tile (kernels.h) for a set whose `run` does tokens j0 .. j0 + tokens - 1 of a panel of
// `rows` in one of gemm8_acc's modes (named as constants, as above); a panel of another height
// takes the scalar tile.
typedef void tile_run_fn(const octet_tile *t, int j0, int mode);
HOT void tile_tokens_loop(const octet_tile *t, int tokens, tile_run_fn *run, int mode) {
    for (int j = 0; j < t->nt; j += tokens) run(t, j, mode);
}
HOT void tile_by_mode(const octet_tile *t, int rows, int tokens, tile_run_fn *run) {
    if (t->P != rows) k_gemm_tile(t);
    else if (!t->sw) t->cx ? tile_tokens_loop(t, tokens, run, Q8_ASYM) : tile_tokens_loop(t, tokens, run, Q8);
    else if (!t->sx) tile_tokens_loop(t, tokens, run, G32_ROW);
    else t->cx ? tile_tokens_loop(t, tokens, run, G32_ASYM) : tile_tokens_loop(t, tokens, run, G32);
}

// quantize_i8 (kernels.h) given a set's reductions of one block (max |x|; min and max from x[0]
// on) and its rounding of n values as (x - mid) * inv, all for multiples of 32 inputs; other
// block sizes take the scalar reference.
HOT void quantize_blocks(const float *x, int k, int bs, int8_t *q, float *s, float *c, float (*amax)(const float *, int),
                         void (*minmax)(const float *, int, float *, float *), void (*run)(const float *, int, float, float, int8_t *)) {
    if (bs % 32) {
        octet_kernels_scalar.quantize_i8(x, k, bs, q, s, c);
        return;
    }
    for (int b = 0; b < k / bs; b++) {
        const float *v = x + (size_t)b * bs;
        int8_t *qb = q + (size_t)b * bs;
        if (!c) {
            float m = amax(v, bs);
            s[b] = m / 127.0f;
            run(v, bs, 0, m > 0 ? 127.0f / m : 0.0f, qb);
        } else {
            float l, h;
            minmax(v, bs, &l, &h);
            float mid = 0.5f * l + 0.5f * h, scale = (h - l) / 254.0f;
            s[b] = scale;
            c[b] = mid;
            run(v, bs, mid, scale > 0 ? 1.0f / scale : 0.0f, qb);
        }
    }
}
#endif
