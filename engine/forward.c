#include "forward.h"
#include "kernels.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Attention items: a head for up to ATT_TOKENS tokens, over ATT_ROWS cached rows at a time.
#define ATT_TOKENS 8
#define ATT_ROWS 32
// Floats between an item's score rows: n_ctx plus a cache line, so that 8 rows a power of two
// apart do not share their L1 sets.
static size_t score_stride(int n_ctx) { return (size_t)n_ctx + 16; }
// Floats of a thread's attention scratch: ATT_ROWS f16 rows widened, then ATT_TOKENS queries
// packed as a panel of octet_tile_f32 and the tile's ATT_ROWS x ATT_TOKENS scores.
static size_t att_scratch(size_t hd) { return ATT_ROWS * hd + ATT_TOKENS * hd + ATT_ROWS * ATT_TOKENS; }

int octet_context_init(octet_context *c, const octet_model *m, int n_ctx, int n_batch, int n_threads, int act_block, int act_asym, int kv_f16) {
    memset(c, 0, sizeof *c);
    const octet_hparams *hp = &m->hp;
    c->m = m; c->n_ctx = n_ctx; c->n_batch = n_batch; c->n_threads = n_threads;
    size_t B = (size_t)n_batch, cache = (size_t)hp->n_layers * n_ctx * hp->kv_dim;
    size_t elt = kv_f16 ? 2 : 4;
    c->kv_f16 = kv_f16;
    c->k_cache = calloc(cache, elt);
    c->v_cache = calloc(cache, elt);
    c->kv_rows = malloc((size_t)n_threads * att_scratch(hp->head_dim) * sizeof(float));
    c->rope_cs = malloc(B * 2 * hp->rope_dim * sizeof(float));
    c->x = malloc(B * hp->dim * sizeof(float));
    c->xb = malloc(B * hp->dim * sizeof(float));
    c->q = malloc(B * hp->q_dim * sizeof(float));
    c->k = malloc(B * hp->kv_dim * sizeof(float));
    c->v = malloc(B * hp->kv_dim * sizeof(float));
    c->att = malloc(B * hp->q_dim * sizeof(float));
    c->hb = malloc(B * hp->hidden_dim * sizeof(float));
    c->hb2 = malloc(B * hp->hidden_dim * sizeof(float));
    c->logits = malloc(hp->vocab_size * sizeof(float));   // the last position's (all logits go to the caller's array)
    c->scores = malloc((size_t)n_threads * ATT_TOKENS * score_stride(n_ctx) * sizeof(float));
    c->tp = octet_threadpool_new(n_threads);
    uint32_t max_k = hp->dim > hp->hidden_dim ? hp->dim : hp->hidden_dim;
    if (hp->q_dim > max_k) max_k = hp->q_dim;
    int sc = octet_scratch_init(&c->scratch, n_batch, (int)max_k, n_threads, act_block, act_asym);
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att || !c->hb || !c->hb2 ||
        !c->logits || !c->scores || !c->kv_rows || !c->rope_cs || !c->tp || sc != 0) {
        octet_context_free(c);
        octet_set_error("out of memory for a context of %d tokens (KV cache %.1f MiB)", n_ctx, 2.0 * cache * elt / 1048576);
        return -1;
    }
    return 0;
}

void octet_context_free(octet_context *c) {
    free(c->k_cache); free(c->v_cache); free(c->x); free(c->xb); free(c->q); free(c->k); free(c->v);
    free(c->att); free(c->hb); free(c->hb2); free(c->logits); free(c->scores); free(c->kv_rows); free(c->rope_cs); free(c->step_logits);
    if (c->tp) octet_threadpool_free(c->tp);
    octet_scratch_free(&c->scratch);
    memset(c, 0, sizeof *c);
}

// cos and sin of each rotated pair's angle at position pos (shared by every head and every layer
// of a table), times the table's attention factor (YaRN, LongRoPE; else 1).
static void rope_angles(float *cs_sn, int pos, const octet_hparams *hp, const float *inv_freq, float mscale) {
    for (uint32_t i = 0; i < hp->rope_dim / 2; i++) {
        double a = (double)pos * inv_freq[i];
        cs_sn[2 * i] = (float)cos(a);
        cs_sn[2 * i + 1] = (float)sin(a);
        if (mscale != 1.0f) { cs_sn[2 * i] *= mscale; cs_sn[2 * i + 1] *= mscale; }
    }
}

// Rotates one head's vector in place with the angles of its position.
static void rope(float *v, const float *cs_sn, const octet_hparams *hp) {
    int half = (int)hp->rope_dim / 2;
    for (int i = 0; i < half; i++) {
        float cs = cs_sn[2 * i], sn = cs_sn[2 * i + 1];
        int i0 = hp->rope_neox ? i : 2 * i, i1 = hp->rope_neox ? i + half : 2 * i + 1;
        float x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * cs - x1 * sn;
        v[i1] = x0 * sn + x1 * cs;
    }
}

// One sequence's part of a step: its context (KV cache, position), its tokens and where their
// rows sit among the step's, and where its logits go.
typedef struct {
    octet_context *kv;
    const int32_t *tokens;
    int n, t0;
    float *logits;   // NULL: none; else every row's (all) or the last row's
    int all;
} step_seq;

typedef struct { octet_context *c; const step_seq *seqs; int n_seqs, layer; } att_job;

// Rows [r0, r0 + n) of one head in a layer's cache as f32 rows ld floats apart: the cache itself
// (f32), or the rows converted into tmp (f16, ld = hd).
static const float *cache_rows(const octet_context *c, const octet_kernel_set *ks, const void *cache, int r0, int n, int off, float *tmp, size_t *ld) {
    size_t kvd = c->m->hp.kv_dim, hd = c->m->hp.head_dim;
    if (!c->kv_f16) { *ld = kvd; return (const float *)cache + (size_t)r0 * kvd + off; }
    for (int r = 0; r < n; r++)   // the kernel set's f16 widening (F16C, fcvtl): the same bits as octet_f16_to_f32
        ks->row_to_f32((const uint16_t *)cache + (size_t)(r0 + r) * kvd + off, OCTET_F16, NULL, (int)hd, tmp + r * hd);
    *ld = hd;
    return tmp;
}

static void cache_store(octet_context *c, void *cache, int pos, const float *x) {
    size_t kvd = c->m->hp.kv_dim, i = (size_t)pos * kvd;
    if (!c->kv_f16) { memcpy((float *)cache + i, x, kvd * sizeof(float)); return; }
    uint16_t *h = (uint16_t *)cache + i;
    for (size_t k = 0; k < kvd; k++) h[k] = octet_f32_to_f16(x[k]);
}

static void *layer_cache(const octet_context *c, void *cache, int layer) {
    return (char *)cache + (size_t)layer * c->n_ctx * c->m->hp.kv_dim * (c->kv_f16 ? 2 : 4);
}

// Causal grouped-query attention for n batch tokens. An item is one head for up to ATT_TOKENS
// consecutive tokens, which pass over the cached rows ATT_ROWS at a time: a block of K or V rows
// (8 KB of a 64-wide head) is read from L2/L3 once and stays in L1 while every token of the item
// uses it, where each (token, head) pair alone streamed all its rows (pp512 on SmolLM2: 786 KB of
// K and V per layer, more than L2). Each token's scores and sums still run over the rows in
// order, so the bits are those of one pair at a time.
static void attention_worker(void *p, int ith, int nth) {
    att_job *j = p;
    octet_context *c = j->c;
    const octet_hparams *hp = &c->m->hp;
    int hd = (int)hp->head_dim, nh = (int)hp->n_heads, group = (int)(hp->n_heads / hp->n_kv_heads), qd = (int)hp->q_dim;
    size_t ss = score_stride(c->n_ctx);
    float *scores = c->scores + (size_t)ith * ATT_TOKENS * ss, scale = hp->attn_scale, cap = hp->attn_softcap;
    float *tmp = c->kv_rows + (size_t)ith * att_scratch((size_t)hd), *panel = tmp + ATT_ROWS * hd, *tout = panel + ATT_TOKENS * hd;
    const octet_kernel_set *ks = octet_kernels();
    // Items (a head for up to ATT_TOKENS tokens of one sequence) are numbered sequence after
    // sequence and dealt round-robin: later tokens attend to more positions, so contiguous ranges
    // would leave the thread with the early tokens idle. Each sequence's items are those it
    // would have alone, so its bits do not depend on what shares the step.
    int items = 0;
    for (int q = 0; q < j->n_seqs; q++) items += (j->seqs[q].n + ATT_TOKENS - 1) / ATT_TOKENS * nh;
    for (int it = ith, q = 0, q_first = 0; it < items; it += nth) {
        while (it >= q_first + (j->seqs[q].n + ATT_TOKENS - 1) / ATT_TOKENS * nh) q_first += (j->seqs[q++].n + ATT_TOKENS - 1) / ATT_TOKENS * nh;
        const step_seq *sq = &j->seqs[q];
        const octet_context *kv = sq->kv;
        int local = it - q_first, n = sq->n;
        int t0 = local / nh * ATT_TOKENS, h = local % nh, off = h / group * hd, nt = n - t0 < ATT_TOKENS ? n - t0 : ATT_TOKENS;
        // A window at or beyond the context drops no position: it is no window (and any u32 fits).
        int window = c->m->layers[j->layer].sliding && hp->sliding_window < (uint32_t)kv->n_ctx ? (int)hp->sliding_window : 0;
        const void *kc = layer_cache(kv, kv->k_cache, j->layer), *vc = layer_cache(kv, kv->v_cache, j->layer);
        const float *q_rows = c->q + (size_t)sq->t0 * qd;
        float *att_rows = c->att + (size_t)sq->t0 * qd;
        // Token t0 + u attends to positions [lo(u), first_last + u]: from 0, or on a sliding layer
        // the last `window` positions.
        int first_last = kv->pos + t0, end = first_last + nt;
#define LO(u) (window && first_last + (u) + 1 > window ? first_last + (u) + 1 - window : 0)
        int lo0 = LO(0);
        // One token alone over an f32 cache reads its rows in one call (no reuse to gain).
        int step = nt == 1 && !c->kv_f16 ? end - lo0 : ATT_ROWS;
        size_t ld;
        // Several queries: scores as register tiles (octet_tile_f32), the queries packed as the
        // panel and the block's keys passing it, each score dot_f32's bits as dot_rows_f32 gives;
        // the pairs the mask drops are computed and not kept.
        int P = ks->tile_rows_f32, tiles = nt > 1 && P && hd % 8 == 0 && ATT_TOKENS % P == 0;
        for (int u = 0; tiles && u < ATT_TOKENS; u++)
            for (int i = 0; i < hd; i += 8) {
                float *d = panel + (size_t)u / P * P * hd + ((size_t)(i / 8) * P + u % P) * 8;
                if (u < nt) memcpy(d, q_rows + (size_t)(t0 + u) * qd + (size_t)h * hd + i, 8 * sizeof(float));
                else memset(d, 0, 8 * sizeof(float));
            }
        for (int r0 = lo0; r0 < end; r0 += step) {
            int rows = end - r0 < step ? end - r0 : step;
            const float *kb = cache_rows(kv, ks, kc, r0, rows, off, tmp, &ld);
            for (int u0 = 0; tiles && u0 < nt; u0 += P) {
                octet_tile_f32 t = {.w = panel + (size_t)u0 * hd, .a = kb, .lda = ld, .P = P, .nt = rows, .k = hd, .out = tout};
                ks->gemm_tile_f32(&t);
                for (int u = u0; u < u0 + P && u < nt; u++) {
                    int a = LO(u) > r0 ? LO(u) : r0, b = first_last + u + 1 < r0 + rows ? first_last + u + 1 : r0 + rows;
                    for (int s = a; s < b; s++) scores[u * ss + s] = tout[(size_t)(s - r0) * P + (u - u0)] * scale;  // (scaled as it is copied)
                }
            }
            for (int u = 0; !tiles && u < nt; u++) {
                int a = LO(u) > r0 ? LO(u) : r0, b = first_last + u + 1 < r0 + rows ? first_last + u + 1 : r0 + rows;
                if (a < b) ks->dot_rows_f32(q_rows + (size_t)(t0 + u) * qd + (size_t)h * hd, kb + (size_t)(a - r0) * ld, ld, b - a, hd, scores + u * ss + a);
            }
        }
        float *rows_at[ATT_TOKENS];
        int rows_n[ATT_TOKENS];
        for (int u = 0; u < nt; u++) {
            float *sc = scores + u * ss;
            int lo = LO(u);
            for (int s = lo; s <= first_last + u && !tiles; s++) sc[s] *= scale;
            if (cap > 0) ks->softcap(sc + lo, first_last + u - lo + 1, cap);
            rows_at[u] = sc + lo;
            rows_n[u] = first_last + u + 1 - lo;
            memset(att_rows + (size_t)(t0 + u) * qd + (size_t)h * hd, 0, (size_t)hd * sizeof(float));
        }
        ks->softmax(rows_at, rows_n, nt);   // the item's rows together (their sums side by side)
        for (int r0 = lo0; r0 < end; r0 += step) {
            int rows = end - r0 < step ? end - r0 : step;
            const float *vb = cache_rows(kv, ks, vc, r0, rows, off, tmp, &ld);
            for (int u = 0; u < nt; u++) {
                int a = LO(u) > r0 ? LO(u) : r0, b = first_last + u + 1 < r0 + rows ? first_last + u + 1 : r0 + rows;
                if (a < b) ks->axpy_rows_f32(scores + u * ss + a, vb + (size_t)(a - r0) * ld, ld, b - a, att_rows + (size_t)(t0 + u) * qd + (size_t)h * hd, hd);
            }
        }
#undef LO
    }
}

// Per-token work of a prefill chunk, split over the pool (decode's single token stays on the
// calling thread: a pass of the pool costs more than the work).
typedef struct { float *y; const float *x, *g; int n, width; float eps; int gelu; } rows_job;

static void rmsnorm_worker(void *p, int ith, int nth) {
    const rows_job *j = p;
    int t0, t1;
    octet_split(j->n, ith, nth, &t0, &t1);
    for (int t = t0; t < t1; t++) k_rmsnorm(j->y + (size_t)t * j->width, j->x + (size_t)t * j->width, j->g, j->width, j->eps);
}

// The FFN gate: act(gate) * up, act SiLU or GELU's tanh form, in the kernel set's loop.
static void glu_worker(void *p, int ith, int nth) {
    const rows_job *j = p;
    int t0, t1;
    octet_split(j->n, ith, nth, &t0, &t1);
    size_t a = (size_t)t0 * j->width;
    const octet_kernel_set *ks = octet_kernels();
    (j->gelu ? ks->geglu : ks->swiglu)(j->y + a, j->y + a, j->x + a, (t1 - t0) * j->width);
}

static void for_tokens(octet_context *c, void (*fn)(void *, int, int), rows_job *j) {
    if (j->n > 1) octet_threadpool_run(c->tp, fn, j);
    else fn(j, 0, 1);
}

static void rmsnorm_rows(octet_context *c, float *y, const float *x, const octet_tensor *g, int n, int width) {
    rows_job j = {y, x, g->data, n, width, c->m->hp.norm_eps, 0};
    for_tokens(c, rmsnorm_worker, &j);
}

// Each of the n rows' heads (width floats, `heads` of them) normalized with g (Qwen3, Gemma 3's q/k norms).
static void head_norms(float *y, const octet_tensor *g, int n, int heads, int width, float eps) {
    if (!g) return;
    for (size_t r = 0; r < (size_t)n * heads; r++) k_rmsnorm(y + r * width, y + r * width, g->data, width, eps);
}

// cap * tanh(x / cap) over n floats (Gemma 2's soft-capping); cap 0: nothing.
static void soft_cap(float *x, size_t n, float cap) {
    for (size_t i = 0; cap > 0 && i < n; i += 1u << 20) octet_kernels()->softcap(x + i, (int)(n - i < (1u << 20) ? n - i : 1u << 20), cap);
}

// x += y, after normalizing y with g when the block has an output norm (Gemma 2/3).
static void residual_add(octet_context *c, float *x, float *y, const octet_tensor *g, int n, int width) {
    if (g) rmsnorm_rows(c, y, y, g, n, width);
    for (size_t i = 0; i < (size_t)n * width; i++) x[i] += y[i];
}

static void add_bias(float *y, const octet_tensor *b, int n, int width) {
    if (!b) return;
    const float *bb = b->data;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < width; i++) y[(size_t)t * width + i] += bb[i];
}

// One step: the seqs' tokens, at most n_batch rows in all, through every layer with c's buffers
// and threads; each sequence's rows attend to its own cache. Every row's result is computed as
// it would be alone (the matmuls and norms work row by row, attention per sequence), so a
// sequence's logits do not depend on what else shares the step.
static int forward_step(octet_context *c, const step_seq *seqs, int n_seqs) {
    const octet_model *m = c->m;
    const octet_hparams *hp = &m->hp;
    int dim = (int)hp->dim, qd = (int)hp->q_dim, kvd = (int)hp->kv_dim, hid = (int)hp->hidden_dim, hd = (int)hp->head_dim, rd = (int)hp->rope_dim;
    int n = seqs[n_seqs - 1].t0 + seqs[n_seqs - 1].n;
    uint32_t first = (uint32_t)c->first_layer;
    c->first_layer = 0;
    for (int q = 0; q < n_seqs; q++) {
        const step_seq *sq = &seqs[q];
        for (int u = 0; u < sq->n; u++) {
            int t = sq->t0 + u;
            if (!first) {
                float *x = c->x + (size_t)t * dim;
                octet_tensor_row_f32(m->tok_embd, (uint64_t)sq->tokens[u], x);
                if (hp->embed_scale != 1.0f)
                    for (int i = 0; i < dim; i++) x[i] *= hp->embed_scale;
            }
            for (int r = 0; r < 2 && m->rope[r].inv_freq; r++) {
                // LongRoPE: the long-context frequencies for a chunk that ends past the original context.
                const octet_rope_table *rt = &m->rope[r];
                const float *f = rt->inv_freq_long && (uint32_t)(sq->kv->pos + sq->n) > rt->long_after ? rt->inv_freq_long : rt->inv_freq;
                rope_angles(c->rope_cs + ((size_t)t * 2 + r) * rd, sq->kv->pos + u, hp, f, rt->mscale);
            }
        }
    }
#define OBSERVE(layer, site, x, k) if (c->observe) c->observe(c->observe_ud, (int)(layer), site, x, n, k)
    for (uint32_t l = first; l < hp->n_layers; l++) {
        const octet_layer *L = &m->layers[l];
        OBSERVE(l, OCTET_SITE_LAYER_IN, c->x, dim);
        rmsnorm_rows(c, c->xb, c->x, L->attn_norm, n, dim);
        OBSERVE(l, OCTET_SITE_ATTN_IN, c->xb, dim);
        const octet_tensor *qkv[3] = {L->wq, L->wk, L->wv};
        float *qkv_out[3] = {c->q, c->k, c->v};
        octet_matmul_n(c->tp, &c->scratch, qkv, 3, c->xb, n, qkv_out);
        add_bias(c->q, L->bq, n, qd);
        add_bias(c->k, L->bk, n, kvd);
        add_bias(c->v, L->bv, n, kvd);
        head_norms(c->q, L->q_norm, n, (int)hp->n_heads, hd, hp->norm_eps);
        head_norms(c->k, L->k_norm, n, (int)hp->n_kv_heads, hd, hp->norm_eps);
        for (int q = 0; q < n_seqs; q++) {
            octet_context *kv = seqs[q].kv;
            void *kc = layer_cache(kv, kv->k_cache, (int)l), *vc = layer_cache(kv, kv->v_cache, (int)l);
            for (int u = 0; u < seqs[q].n; u++) {
                int t = seqs[q].t0 + u;
                const float *angles = c->rope_cs + ((size_t)t * 2 + L->rope) * rd;
                for (uint32_t h = 0; h < hp->n_heads; h++) rope(c->q + (size_t)t * qd + h * hd, angles, hp);
                for (uint32_t h = 0; h < hp->n_kv_heads; h++) rope(c->k + (size_t)t * kvd + h * hd, angles, hp);
                cache_store(kv, kc, kv->pos + u, c->k + (size_t)t * kvd);
                cache_store(kv, vc, kv->pos + u, c->v + (size_t)t * kvd);
            }
        }
        att_job aj = {c, seqs, n_seqs, (int)l};
        octet_threadpool_run(c->tp, attention_worker, &aj);
        OBSERVE(l, OCTET_SITE_ATTN_OUT, c->att, qd);
        octet_matmul(c->tp, &c->scratch, L->wo, c->att, n, c->xb);
        residual_add(c, c->x, c->xb, L->attn_post_norm, n, dim);
        rmsnorm_rows(c, c->xb, c->x, L->ffn_norm, n, dim);
        OBSERVE(l, OCTET_SITE_FFN_IN, c->xb, dim);
        const octet_tensor *gate_up[2] = {L->w_gate, L->w_up};
        float *gate_up_out[2] = {c->hb, c->hb2};
        octet_matmul_n(c->tp, &c->scratch, gate_up, 2, c->xb, n, gate_up_out);
        rows_job gj = {c->hb, c->hb2, NULL, n, hid, 0, hp->ffn_gelu};
        for_tokens(c, glu_worker, &gj);
        OBSERVE(l, OCTET_SITE_FFN_OUT, c->hb, hid);
        octet_matmul(c->tp, &c->scratch, L->w_down, c->hb, n, c->xb);
        residual_add(c, c->x, c->xb, L->ffn_post_norm, n, dim);
    }
    for (int q = 0; q < n_seqs; q++) seqs[q].kv->pos += seqs[q].n;
    // Only the rows whose logits are wanted go through the final norm and the LM head, in one
    // pass over its weights for every sequence of the step.
    int rows = 0;
    for (int q = 0; q < n_seqs; q++) {
        const step_seq *sq = &seqs[q];
        if (!sq->logits) continue;
        for (int t = sq->all ? sq->t0 : sq->t0 + sq->n - 1; t < sq->t0 + sq->n; t++, rows++)
            k_rmsnorm(c->xb + (size_t)rows * dim, c->x + (size_t)t * dim, m->output_norm->data, dim, hp->norm_eps);
    }
    if (!rows) return 0;
    if (c->observe) c->observe(c->observe_ud, (int)hp->n_layers, OCTET_SITE_HEAD_IN, c->xb, rows, dim);
#undef OBSERVE
    size_t V = hp->vocab_size;
    float *out = n_seqs == 1 ? seqs[0].logits : NULL;
    if (!out) {   // several sequences: the step's rows, then each sequence's copied out
        if ((size_t)rows > c->step_rows) {
            float *b = realloc(c->step_logits, (size_t)rows * V * sizeof *b);
            if (!b) { octet_set_error("out of memory for %d rows of logits", rows); return -1; }
            c->step_logits = b;
            c->step_rows = (size_t)rows;
        }
        out = c->step_logits;
    }
    octet_matmul(c->tp, &c->scratch, m->output, c->xb, rows, out);
    soft_cap(out, (size_t)rows * V, hp->final_softcap);
    if (n_seqs > 1)
        for (int q = 0, r = 0; q < n_seqs; q++) {
            const step_seq *sq = &seqs[q];
            if (!sq->logits) continue;
            int k = sq->all ? sq->n : 1;
            memcpy(sq->logits, out + (size_t)r * V, (size_t)k * V * sizeof *out);
            r += k;
        }
    return 0;
}

int octet_forward_check(const octet_model *m, int pos, int n_ctx, const int32_t *tokens, int n) {
    if (n <= 0) { octet_set_error("nothing to evaluate"); return -1; }
    if (pos + n > n_ctx) { octet_set_error("context full: %d + %d tokens exceed the context size %d (-c)", pos, n, n_ctx); return -1; }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->hp.vocab_size) { octet_set_error("token id %d outside the vocabulary (%u)", tokens[i], m->hp.vocab_size); return -1; }
    return 0;
}

int octet_forward(octet_context *c, const int32_t *tokens, int n, float *logits, int all) {
    const octet_hparams *hp = &c->m->hp;
    if (octet_forward_check(c->m, c->pos, c->n_ctx, tokens, n) != 0) return -1;
    for (int done = 0; done < n;) {
        int k = n - done < c->n_batch ? n - done : c->n_batch, last_chunk = done + k == n;
        step_seq sq = {c, tokens + done, k, 0, NULL, all};
        if (all) sq.logits = logits + (size_t)done * hp->vocab_size;
        else if (last_chunk) sq.logits = c->logits;
        if (forward_step(c, &sq, 1) != 0) return -1;
        done += k;
    }
    if (!all) memcpy(logits, c->logits, (size_t)hp->vocab_size * sizeof(float));
    return 0;
}

int octet_forward_batch(octet_context *c, const octet_batch_seq *seqs, int n_seqs) {
    step_seq *step = malloc((size_t)(n_seqs > 0 ? n_seqs : 1) * sizeof *step);
    int *done = calloc((size_t)(n_seqs > 0 ? n_seqs : 1), sizeof *done);
    if (!step || !done) { free(step); free(done); octet_set_error("out of memory"); return -1; }
    int rc = 0;
    for (int q = 0; q < n_seqs && rc == 0; q++) {
        const octet_context *kv = seqs[q].kv;
        if (kv->m != c->m || kv->kv_f16 != c->kv_f16 || kv->n_ctx > c->n_ctx) {
            octet_set_error("batch: sequence %d has another model, KV cache type or a larger context than the step's context", q);
            rc = -1;
        }
        for (int p = 0; p < q && rc == 0; p++)
            if (seqs[p].kv == kv) { octet_set_error("batch: sequences %d and %d share one context", p, q); rc = -1; }
        if (rc == 0 && octet_forward_check(c->m, kv->pos, kv->n_ctx, seqs[q].tokens, seqs[q].n) != 0) rc = -1;
    }
    // Steps of at most n_batch rows: each sequence in order takes what is left of its tokens up
    // to what is left of the step, so a long prompt is cut into chunks between the others' tokens.
    for (int left = 1; rc == 0 && left;) {
        int rows = 0, k = 0;
        left = 0;
        for (int q = 0; q < n_seqs; q++) {
            const octet_batch_seq *b = &seqs[q];
            int take = b->n - done[q] < c->n_batch - rows ? b->n - done[q] : c->n_batch - rows;
            if (take <= 0) { left |= done[q] < b->n; continue; }
            step[k] = (step_seq){b->kv, b->tokens + done[q], take, rows, NULL, 0};
            if (b->logits && done[q] + take == b->n) step[k].logits = b->logits;
            rows += take;
            done[q] += take;
            left |= done[q] < b->n;
            k++;
        }
        if (k && forward_step(c, step, k) != 0) rc = -1;
    }
    free(step); free(done);
    return rc;
}
