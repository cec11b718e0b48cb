// CPU implementation of engine/backend.h: splits matmuls by output rows across the pool.
#include "backend.h"
#include "kernels.h"
#include <stdlib.h>

int octet_scratch_init(octet_scratch *s, int max_m, int max_k, int n_threads, int act_block) {
    s->max_m = max_m; s->max_k = max_k; s->n_threads = n_threads; s->act_block = act_block;
    s->xq = malloc((size_t)max_m * max_k);
    s->xs = malloc((size_t)max_m * (act_block > 0 ? max_k / act_block + 1 : 1) * sizeof *s->xs);
    s->rows = malloc((size_t)n_threads * max_k * sizeof *s->rows);
    return s->xq && s->xs && s->rows ? 0 : -1;
}
void octet_scratch_free(octet_scratch *s) { free(s->xq); free(s->xs); free(s->rows); }

// Activation blocks are used when they tile the row and fit the kernels' 512 block sums.
static int blocks_ok(int bs, int k) { return bs > 0 && k % bs == 0 && k / bs <= 512; }

typedef struct { octet_scratch *s; const octet_tensor *w; const float *x; int m; float *y; } mm_job;

static void mm_worker(void *p, int ith, int nth) {
    mm_job *j = p;
    const octet_tensor *w = j->w;
    int n = (int)w->rows, k = (int)w->cols, n0, n1;
    const octet_kernel_set *ks = octet_kernels();
    octet_split(n, ith, nth, &n0, &n1);
    if (w->dtype == OCTET_Q8) {
        const int8_t *wq = w->data;
        const float *ws = (const float *)((const uint8_t *)w->data + octet_q8_scales_offset(w->rows, w->cols));
        int bs = j->s->act_block;
        if (bs < 0) k_gemm_q8_f32(ks, j->x, j->m, k, wq, ws, n0, n1, j->y, n, j->s->rows + (size_t)ith * k);
        else if (blocks_ok(bs, k)) k_gemm_q8_i8_blocks(ks, j->s->xq, j->s->xs, j->m, k, bs, wq, ws, n0, n1, j->y, n);
        else k_gemm_q8_i8(ks, j->s->xq, j->s->xs, j->m, k, wq, ws, n0, n1, j->y, n);
    } else if (w->dtype == OCTET_Q8G32) {
        const int8_t *wq = w->data;
        const float *ws = (const float *)((const uint8_t *)w->data + octet_q8_scales_offset(w->rows, w->cols));
        int bs = j->s->act_block;
        if (bs < 0) k_gemm_q8g_f32(ks, j->x, j->m, k, wq, ws, n0, n1, j->y, n, j->s->rows + (size_t)ith * k);
        else k_gemm_q8g_i8(ks, j->s->xq, j->s->xs, j->m, k, blocks_ok(bs, k) && bs == (int)OCTET_Q8_GROUP ? bs : 0, wq, ws, n0, n1, j->y, n);
    } else k_gemm_f32(ks, j->x, j->m, k, w->data, (int)w->dtype, n0, n1, j->y, n, j->s->rows + (size_t)ith * k);
}

static void quant_worker(void *p, int ith, int nth) {
    mm_job *j = p;
    int k = (int)j->w->cols, r0, r1;
    octet_split(j->m, ith, nth, &r0, &r1);
    int bs = j->s->act_block;
    for (int r = r0; r < r1; r++) {
        if (blocks_ok(bs, k) && (j->w->dtype == OCTET_Q8 || bs == (int)OCTET_Q8_GROUP)) k_quantize_row_i8_blocks(j->x + (size_t)r * k, k, bs, j->s->xq + (size_t)r * k, j->s->xs + (size_t)r * (k / bs));
        else k_quantize_row_i8(j->x + (size_t)r * k, k, j->s->xq + (size_t)r * k, &j->s->xs[r]);
    }
}

void octet_matmul(octet_threadpool *tp, octet_scratch *s, const octet_tensor *w, const float *x, int m, float *y) {
    mm_job j = {s, w, x, m, y};
    if (octet_is_q8(w->dtype) && s->act_block >= 0) octet_threadpool_run(tp, quant_worker, &j);
    octet_threadpool_run(tp, mm_worker, &j);
}
