// CPU implementation of backend.h: splits matmuls by output rows across the pool and runs the
// kernel set's loops (kernels/) on each range.
#include "backend.h"
#include "kernels.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int octet_scratch_init(octet_scratch *s, int max_m, int max_k, int n_threads, int act_block, int asym) {
    s->max_m = max_m; s->max_k = max_k; s->n_threads = n_threads; s->act_block = act_block; s->asym = asym;
    size_t n_scales = (size_t)max_m * (act_block > 0 ? max_k / act_block + 1 : 1);
    s->xq = malloc((size_t)max_m * max_k);
    s->xu = max_m > 1 ? malloc((size_t)max_m * max_k) : NULL;
    s->xs = malloc(n_scales * sizeof *s->xs);
    s->xc = asym ? malloc(n_scales * sizeof *s->xc) : NULL;
    s->rows = malloc((size_t)n_threads * max_k * sizeof *s->rows);
    return s->xq && s->xs && s->rows && (s->xc || !asym) && (s->xu || max_m == 1) ? 0 : -1;
}
void octet_scratch_free(octet_scratch *s) { free(s->xq); free(s->xu); free(s->xs); free(s->xc); free(s->rows); }

// Activation blocks are used when they tile the row and fit the kernels' 512 block sums.
static int blocks_ok(int bs, int k) { return bs > 0 && k % bs == 0 && k / bs <= 512; }

// bs: the activation block of this matmul (octet_scratch.act_block, or -1 for f32_act tensors);
// asym: asymmetric activations (the scratch asks for them and the weights have block sums).
// A job is one matrix, or several on the same input (jobs[1..count-1] then follow jobs[0]).
// Threads claim ranges of rows from a shared counter (over all the job's matrices; claim_rows
// below): a thread slowed by its neighbours on the machine then does fewer ranges instead of
// holding up the rest. Each row's result does not depend on which thread computes it.
typedef struct { octet_scratch *s; const octet_tensor *w; const float *x; int m; float *y; int bs, asym, count; atomic_int *next; } mm_job;
#define CHUNK 64

// The inputs per activation scale: bs, or 0 for one per row (the width is not whole blocks;
// q8g32 and asymmetric activations only pair with 32-blocks, the weights' groups and sums).
static int act_blocks(const mm_job *j) {
    int bs = j->bs, k = (int)j->w->cols;
    if (!blocks_ok(bs, k)) return 0;
    return bs == (int)OCTET_Q8_GROUP || (j->w->dtype == OCTET_Q8 && !j->asym) ? bs : 0;
}

static void mm_rows(const mm_job *j, int n0, int n1, int ith) {
    const octet_tensor *w = j->w;
    int n = (int)w->rows, k = (int)w->cols;
    const octet_kernel_set *ks = octet_kernels();
    const float *xc = j->asym ? j->s->xc : NULL;
    const uint8_t *xu = j->m > 1 ? j->s->xu : NULL;
    float *row = j->s->rows + (size_t)ith * k;  // this thread's row conversion space
    if (octet_is_q8(w->dtype)) {
        const int8_t *wq = w->data;
        const void *sc = (const uint8_t *)w->data + octet_q8_scales_offset(w->rows, w->cols);
        const float *ws = sc;
        int bs = act_blocks(j), half = w->dtype == OCTET_Q8G32H;
        if (w->dtype == OCTET_Q8) {
            if (j->bs < 0) k_gemm_q8_f32(ks, j->x, j->m, k, wq, ws, n0, n1, j->y, n, row);
            else if (bs) k_gemm_q8_i8_blocks(ks, j->s->xq, xu, j->s->xs, xc, j->m, k, bs, wq, ws, w->block_sums, n0, n1, j->y, n);
            else k_gemm_q8_i8(ks, j->s->xq, j->s->xs, xc, j->m, k, wq, ws, w->block_sums, n0, n1, j->y, n);
        } else {
            if (j->bs < 0) k_gemm_q8g_f32(ks, j->x, j->m, k, wq, sc, half, n0, n1, j->y, n, row);
            else k_gemm_q8g_i8(ks, j->s->xq, xu, j->s->xs, xc, j->m, k, bs, wq, sc, half, w->block_sums, n0, n1, j->y, n);
        }
    } else k_gemm_f32(ks, j->x, j->m, k, w->data, (int)w->dtype, n0, n1, j->y, n, row);
}

// Rows per claim. Several tokens: CHUNK, so a chunk's weights stay in cache while all the tokens
// pass. One token (decode) reads each row once, and the memory streams are what count: a claim
// of a 2·nth-th of the matrix keeps each thread on a long contiguous range (64-row chunks dealt
// alternately to two threads measured ~10% slower on SmolLM2 and the 1.1B shape), while a thread
// slowed by its neighbours still leaves the later ranges to the others.
static int claim_rows(const mm_job *j, int rows, int nth) {
    if (j->m > 1) return CHUNK;
    int r = (rows / (2 * nth) + 7) / 8 * 8;
    return r > 8 ? r : 8;
}

static void mm_worker(void *p, int ith, int nth) {
    const mm_job *j = p;
    for (int r = atomic_load(j->next);;) {
        int i = 0, first = 0;   // matrix i holds rows [first, first + its rows) of the job
        while (i < j->count && r >= first + (int)j[i].w->rows) first += (int)j[i++].w->rows;
        if (i == j->count) return;
        int end = first + (int)j[i].w->rows, e = r + claim_rows(j, (int)j[i].w->rows, nth);
        if (e > end) e = end;
        if (!atomic_compare_exchange_weak(j->next, &r, e)) continue;   // (r now holds the counter)
        mm_rows(j + i, r - first, e - first, ith);
        r = atomic_load(j->next);
    }
}

static void quant_worker(void *p, int ith, int nth) {
    mm_job *j = p;
    int k = (int)j->w->cols, r0, r1, bs = act_blocks(j);
    octet_split(j->m, ith, nth, &r0, &r1);
    octet_scratch *s = j->s;
    for (int r = r0; r < r1; r++) {
        const float *x = j->x + (size_t)r * k;
        int8_t *q = s->xq + (size_t)r * k;
        size_t si = bs ? (size_t)r * (k / bs) : (size_t)r;
        octet_kernels()->quantize_i8(x, k, bs ? bs : k, q, s->xs + si, j->asym ? s->xc + si : NULL);
        if (j->m > 1) {   // the u8 copy, 8 bytes at a time
            uint8_t *u = s->xu + (size_t)r * k;
            int i = 0;
            for (; i + 8 <= k; i += 8) {
                uint64_t v;
                memcpy(&v, q + i, 8);
                v ^= 0x8080808080808080ull;
                memcpy(u + i, &v, 8);
            }
            for (; i < k; i++) u[i] = (uint8_t)(q[i] ^ 0x80);
        }
    }
}

static mm_job make_job(octet_scratch *s, const octet_tensor *w, const float *x, int m, float *y) {
    return (mm_job){s, w, x, m, y, w->act_f32 ? -1 : s->act_block, s->asym && w->block_sums && (s->asym == OCTET_ASYM_ALL || w->act_asym), 1, NULL};
}
static int quantized(const mm_job *j) { return octet_is_q8(j->w->dtype) && j->bs >= 0; }

void octet_matmul(octet_threadpool *tp, octet_scratch *s, const octet_tensor *w, const float *x, int m, float *y) {
    octet_matmul_n(tp, s, &w, 1, x, m, &y);
}

// One quantization and one pass of the pool for all, when they read the input alike.
void octet_matmul_n(octet_threadpool *tp, octet_scratch *s, const octet_tensor *const *w, int count, const float *x, int m, float *const *y) {
    mm_job j[OCTET_MATMUL_MAX];
    int same = count <= OCTET_MATMUL_MAX;
    for (int i = 0; i < count && same; i++) {
        j[i] = make_job(s, w[i], x, m, y[i]);
        same = w[i]->cols == w[0]->cols && quantized(&j[i]) == quantized(&j[0]) &&
               (!quantized(&j[i]) || (act_blocks(&j[i]) == act_blocks(&j[0]) && j[i].asym == j[0].asym));
    }
    if (!same) {
        for (int i = 0; i < count; i++) octet_matmul_n(tp, s, &w[i], 1, x, m, &y[i]);
        return;
    }
    atomic_int next = 0;
    j[0].count = count;
    j[0].next = &next;
    // One token's quantization is a microsecond of work: the calling thread does it, where a
    // pass of the pool would cost its wake-up and barrier (decode runs ~8 passes a layer).
    if (quantized(&j[0])) {
        if (m == 1) quant_worker(&j[0], 0, 1);
        else octet_threadpool_run(tp, quant_worker, &j[0]);
    }
    octet_threadpool_run(tp, mm_worker, &j[0]);
}
