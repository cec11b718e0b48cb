// The forward pass on the GPU: activations, KV cache, kernel launches (weights: weights.cu), and the
// decode step captured as a CUDA graph. Same structure as engine/forward.c.
#include "decode.cuh"
#include "gemm.cuh"
#include "kernels.cuh"
#include "sample.cuh"
#include "weights.cuh"
#include "cuda_check.h"
#include "octet_cuda.h"
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
extern "C" {
#include "model.h"
#include "util.h"
}

#define ATT_SPAN 256   // positions per attention split (flash-decoding)
#define ROW_THREADS 1024  // one block per token row: wide, so a decode step's row work is short

struct octet_cuda_ctx {
    const octet_model *m;
    int n_ctx, n_batch, row_mode, kv_f16, dim, kvd, hid, hd, nh, nkv, vocab, qkv_n, max_split;
    int rm_dim, rm_hid, kp_dim, kp_hid;   // quantization mode and padded width of each activation
    int n_sm;                  // SMs
    int dec_span, dec_split;   // attention split of one token's attention (k_attn_dec_merge)
    int pdl, pdl_now;          // decode graph: programmatic dependent launch (now: capturing it)
    gpu_weights *w;            // shared with the model's other contexts
    float *x, *xb, *qkv, *att, *gu, *hb, *logits, *part_o, *xs;
    float2 *part_ml;
    int8_t *xq;
    unsigned *head_count;      // k_attn_dec_merge: arrival counter of each head's splits
    int dec_merge;             // one token's attention in one kernel (k_attn_dec_merge)
    int stream_rows[2];        // k_gemv_stream (scales per 32, per token): most warps resident at once (0: k_gemv_dp4a instead)
    gemm_workspace gw;         // split-k partial tiles of the prefill GEMM
    void *kc, *vc;
    int32_t *d_step, *h_step, *d_next, *h_next;
    unsigned long long *d_best;
    unsigned *d_counts;        // k_penalize: per-token counts (zero between steps)
    int last_row;              // row of logits holding the last evaluated token
    cudaStream_t st;
    cudaGraphExec_t graph;     // the decode step (one token, logits + argmax)
};

// Launches kernel k on the context's stream; while the decode step is being captured,
// with programmatic dependent launch (kernels.cuh, pdl_wait), so that a kernel's blocks start,
// and a GEMV's first weights stream in, while the kernel before it finishes.
template <typename... P, typename... A>
static void launch_k(const octet_cuda_ctx *c, void (*k)(P...), dim3 grid, dim3 block, size_t smem, A... args) {
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid; cfg.blockDim = block; cfg.dynamicSmemBytes = smem; cfg.stream = c->st;
    cfg.attrs = at; cfg.numAttrs = c->pdl_now ? 1 : 0;
    cudaLaunchKernelEx(&cfg, k, args...);
}

static int round32(int k) { return (k + QBLOCK - 1) / QBLOCK * QBLOCK; }
static int getenv_is0(const char *name) { const char *v = getenv(name); return v && !strcmp(v, "0"); }

extern "C" size_t octet_cuda_weight_bytes(const octet_cuda_ctx *c) { return c->w->bytes; }

extern "C" void octet_cuda_free(octet_cuda_ctx *c) {
    if (!c) return;
    if (c->graph) cudaGraphExecDestroy(c->graph);
    gpu_weights_release(c->w);
    void *bufs[] = {c->x, c->xb, c->qkv, c->att, c->gu, c->hb, c->logits, c->part_o, c->xs,
                    c->part_ml, c->xq, c->head_count, c->kc, c->vc, c->d_step, c->d_next, c->d_best, c->d_counts};
    for (unsigned i = 0; i < sizeof bufs / sizeof *bufs; i++) cudaFree(bufs[i]);
    cudaFreeHost(c->h_step); cudaFreeHost(c->h_next);
    gemm_workspace_free(&c->gw);
    if (c->st) cudaStreamDestroy(c->st);
    free(c);
}

extern "C" octet_cuda_ctx *octet_cuda_new(const octet_model *m, int n_ctx, int n_batch, int row_mode, int kv_f16) {
    const octet_hparams *hp = &m->hp;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) { octet_set_error("--device cuda: no CUDA device available"); return NULL; }
    if (hp->head_dim > 256) { octet_set_error("--device cuda: head dimension %u is over 256", hp->head_dim); return NULL; }
    octet_cuda_ctx *c = (octet_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) { octet_set_error("out of memory"); return NULL; }
    c->m = m; c->n_ctx = n_ctx; c->n_batch = n_batch; c->row_mode = row_mode; c->kv_f16 = kv_f16;
    c->dim = (int)hp->dim; c->kvd = (int)hp->kv_dim; c->hid = (int)hp->hidden_dim; c->hd = (int)hp->head_dim;
    c->nh = (int)hp->n_heads; c->nkv = (int)hp->n_kv_heads; c->vocab = (int)hp->vocab_size;
    c->qkv_n = c->dim + 2 * c->kvd;
    c->max_split = (n_ctx + ATT_SPAN - 1) / ATT_SPAN;
    // The CPU falls back to one scale per row when a width is not a multiple of the block.
    c->rm_dim = row_mode || c->dim % QBLOCK; c->rm_hid = row_mode || c->hid % QBLOCK;
    c->kp_dim = round32(c->dim); c->kp_hid = round32(c->hid);
    size_t B = (size_t)n_batch, kpmax = (size_t)(c->kp_dim > c->kp_hid ? c->kp_dim : c->kp_hid);
    size_t cache = (size_t)hp->n_layers * n_ctx * c->kvd * (kv_f16 ? 2 : 4);
    if (cudaDeviceGetAttribute(&c->n_sm, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) c->n_sm = 1;
    // One token's attention in one kernel, when its output is quantized per 32 within heads;
    // OCTET_CUDA_MERGE=0 turns it off (measurements).
    c->dec_merge = !c->rm_dim && c->hd % QBLOCK == 0 && !getenv_is0("OCTET_CUDA_MERGE");
    // Programmatic dependent launch in the decode graph (compute capability 9.0 and up;
    // measured on an H100, tg128: SmolLM2 shape 963 -> 1093 tok/s, 1.1B 914 -> 983, 7B 275 -> 284;
    // the same bits);
    // OCTET_CUDA_PDL=0 turns it off.
    int cc_major = 0;
    cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, 0);
    c->pdl = cc_major >= 9 && !getenv_is0("OCTET_CUDA_PDL");
    for (c->dec_span = 64; (n_ctx + c->dec_span - 1) / c->dec_span > 64; c->dec_span *= 2) {}
    c->dec_split = (n_ctx + c->dec_span - 1) / c->dec_span;
    size_t n_part = B * c->nh * c->max_split;
    if (n_part < (size_t)c->nh * c->dec_split) n_part = (size_t)c->nh * c->dec_split;
    CK(cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking));
    if (!(c->w = gpu_weights_acquire(m))) goto fail;
    CK(cudaMalloc(&c->x, B * c->dim * 4));
    CK(cudaMalloc(&c->xb, B * c->dim * 4));
    CK(cudaMalloc(&c->qkv, B * c->qkv_n * 4));
    CK(cudaMalloc(&c->att, B * c->dim * 4));
    CK(cudaMalloc(&c->gu, B * 2 * c->hid * 4));
    CK(cudaMalloc(&c->hb, B * c->hid * 4));
    CK(cudaMalloc(&c->logits, B * c->vocab * 4));
    CK(cudaMalloc(&c->xq, B * kpmax));
    CK(cudaMalloc(&c->xs, B * (kpmax / QBLOCK) * 4));
    CK(cudaMalloc(&c->part_o, n_part * c->hd * 4));
    CK(cudaMalloc(&c->part_ml, n_part * sizeof(float2)));
    CK(cudaMalloc(&c->d_best, sizeof(unsigned long long)));
    CK(cudaMemset(c->d_best, 0, sizeof(unsigned long long)));
    if (gemm_workspace_alloc(&c->gw, 4 * c->n_sm)) { octet_set_error("cuda: out of memory for the GEMM workspace"); goto fail; }
    CK(cudaMalloc(&c->head_count, c->nh * sizeof(unsigned)));
    CK(cudaMemset(c->head_count, 0, c->nh * sizeof(unsigned)));
    CK(cudaMalloc(&c->d_counts, (size_t)c->vocab * sizeof(unsigned)));
    CK(cudaMemset(c->d_counts, 0, (size_t)c->vocab * sizeof(unsigned)));
    CK(cudaMalloc(&c->kc, cache));
    CK(cudaMalloc(&c->vc, cache));
    CK(cudaMalloc(&c->d_step, (B + 1) * 4));
    CK(cudaMalloc(&c->d_next, 4));
    CK(cudaMallocHost(&c->h_step, (B + 1) * 4));
    CK(cudaMallocHost(&c->h_next, 4));
    CK(cudaFuncSetAttribute(k_rmsnorm, cudaFuncAttributeMaxDynamicSharedMemorySize, c->dim * 4 > 48 * 1024 ? c->dim * 4 : 48 * 1024));
    CK(cudaFuncSetAttribute(k_swiglu, cudaFuncAttributeMaxDynamicSharedMemorySize, c->hid * 4 > 48 * 1024 ? c->hid * 4 : 48 * 1024));
    CK(cudaFuncSetAttribute(k_quantize, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kpmax * 4 > 48 * 1024 ? (int)kpmax * 4 : 48 * 1024));
    // k_gemv_stream for one token: as many warps as fit on the GPU at once;
    // OCTET_CUDA_STREAM=0 uses k_gemv_dp4a instead (measurements).
    if (!getenv_is0("OCTET_CUDA_STREAM")) {
        int smem = (int)(kpmax + kpmax / QBLOCK * 4), per_sm = 0;
        if (smem > 48 * 1024) {
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_STORE>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_ARGMAX>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_STORE, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_ARGMAX, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_STORE, false, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            CK(cudaFuncSetAttribute(k_gemv_stream<EPI_ARGMAX, false, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        }
        CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_gemv_stream<EPI_STORE, false>, 128, smem));
        c->stream_rows[0] = per_sm * c->n_sm * 4;
        CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_gemv_stream<EPI_STORE, true>, 128, smem));
        c->stream_rows[1] = per_sm * c->n_sm * 4;
    }
    return c;
fail:
    octet_cuda_free(c);
    return NULL;
}

// One token (xq, scales per 32, or per token when row) times W through k_gemv_stream: every
// warp gets the same number of rows, as few as fit when all of the GPU's resident warps share them.
// Grouped weights take the per-block variant in either mode (per-token scales repeat in xs).
template <int EPI>
static void launch_stream(octet_cuda_ctx *c, const dmat *w, int row, float *y, const float *bias, int acc, unsigned long long *best) {
    if (w->g) row = 0;
    int resident = c->stream_rows[row != 0], per_warp = (w->n + resident - 1) / resident, warps = (w->n + per_warp - 1) / per_warp;
    size_t smem = (size_t)w->kp + w->kp / QBLOCK * 4;
    if (w->g) launch_k(c, k_gemv_stream<EPI, false, true>, (warps + 3) / 4, 128, smem, *w, (const int8_t *)c->xq, (const float *)c->xs, y, bias, acc, per_warp, best);
    else if (row) launch_k(c, k_gemv_stream<EPI, true>, (warps + 3) / 4, 128, smem, *w, (const int8_t *)c->xq, (const float *)c->xs, y, bias, acc, per_warp, best);
    else launch_k(c, k_gemv_stream<EPI, false>, (warps + 3) / 4, 128, smem, *w, (const int8_t *)c->xq, (const float *)c->xs, y, bias, acc, per_warp, best);
}

// y[m][ldy] (=|+=) x · W^T: DP4A GEMV for a few tokens, tensor cores for more; f16 weights
// read the f32 activations xf instead of the quantized ones.
static void matmul(octet_cuda_ctx *c, const dmat *w, const float *xf, int ldx, int m, float *y, int ldy, const float *bias, int acc) {
    cudaStream_t st = c->st;
    int grid = (w->n + 3) / 4;
    if (!w->q8) {
        for (int r = 0; r < m; r += 4) {
            int k = m - r < 4 ? m - r : 4;
            const float *x = xf + (size_t)r * ldx;
            float *yy = y + (size_t)r * ldy;
            if (k == 1) launch_k(c, k_gemv_f16<1>, grid, 128, 0, *w, x, ldx, yy, ldy, bias, acc);
            else if (k == 2) launch_k(c, k_gemv_f16<2>, grid, 128, 0, *w, x, ldx, yy, ldy, bias, acc);
            else if (k == 3) launch_k(c, k_gemv_f16<3>, grid, 128, 0, *w, x, ldx, yy, ldy, bias, acc);
            else launch_k(c, k_gemv_f16<4>, grid, 128, 0, *w, x, ldx, yy, ldy, bias, acc);
        }
        return;
    }
    // The input's quantization: one scale per token (--act int8-row, or a width that is not whole
    // blocks, as on the CPU; the scale is repeated in every block of xs) or one per 32.
    int row = w->k == c->dim ? c->rm_dim : c->rm_hid;
    if (w->g) row = 0;   // grouped weights scale every block (per-token scales repeat in xs)
    if (m > 8) {
        launch_gemm(row, *w, c->xq, c->xs, m, y, ldy, bias, acc, st, &c->gw);
        return;
    }
    if (m == 1 && c->stream_rows[row != 0]) {
        launch_stream<EPI_STORE>(c, w, row, y, bias, acc, NULL);
        return;
    }
    int32_t *no_i = NULL;   // (a literal NULL would reach the kernel's parameters as an integer)
    switch (m * 2 + row) {
#define G(M) case 2 * M: launch_k(c, k_gemv_dp4a<M, false>, grid, 128, 0, *w, c->xq, c->xs, y, no_i, ldy, bias, acc); break; \
             case 2 * M + 1: launch_k(c, k_gemv_dp4a<M, false, true>, grid, 128, 0, *w, c->xq, c->xs, y, no_i, ldy, bias, acc); break;
        G(1) G(2) G(3) G(4) G(5) G(6) G(7) G(8)
#undef G
    }
}

// RMSNorm of n rows of x into xb (and quantized into xq/xs): a few rows (decode) spread over
// blocks, more rows one block each.
static void norm(octet_cuda_ctx *c, const float *x, const float *g, int n, int quant) {
    if (n <= 8 && !c->rm_dim)
        launch_k(c, k_rmsnorm_split, dim3((c->kp_dim + 255) / 256, n), 256, 0, x, c->dim, g, c->dim, c->m->hp.norm_eps, c->xb, quant ? c->xq : NULL, c->xs, c->kp_dim);
    else
        launch_k(c, k_rmsnorm, n, ROW_THREADS, c->dim * 4, x, c->dim, g, c->dim, c->m->hp.norm_eps, c->xb, quant ? c->xq : NULL, c->xs, c->kp_dim, c->rm_dim);
}

// One token's attention (k_attn_dec_merge): RoPE, the cache store, the splits and their merge,
// quantized into xq for the o projection.
static void attention_one(octet_cuda_ctx *c, void *kc, void *vc) {
    const octet_hparams *hp = &c->m->hp;
    size_t smem = (size_t)(6 * c->hd + c->dec_span + hp->rope_dim) * 4;
    dim3 ag(c->nh, c->dec_split);
    if (c->kv_f16)
        launch_k(c, k_attn_dec_merge<__half>, ag, 128, smem, (const float *)c->qkv, (const int32_t *)c->d_step, (const float *)c->w->inv_freq, (int)hp->rope_dim, (int)hp->rope_neox,
                 c->nh, c->nkv, c->hd, c->dec_span, c->dec_split, (__half *)kc, (__half *)vc, c->part_o, c->part_ml, c->head_count, c->xq, c->xs);
    else
        launch_k(c, k_attn_dec_merge<float>, ag, 128, smem, (const float *)c->qkv, (const int32_t *)c->d_step, (const float *)c->w->inv_freq, (int)hp->rope_dim, (int)hp->rope_neox,
                 c->nh, c->nkv, c->hd, c->dec_span, c->dec_split, (float *)kc, (float *)vc, c->part_o, c->part_ml, c->head_count, c->xq, c->xs);
}

// Attention of n tokens: RoPE + cache store, the splits, and their merge into att (and into xq
// when fuse_q).
static void attention_chunk(octet_cuda_ctx *c, int n, int n_split, void *kc, void *vc, int fuse_q) {
    const octet_hparams *hp = &c->m->hp;
    size_t smem = (size_t)(c->hd + ATT_SPAN) * 4;
    dim3 ag(c->nh, n, n_split), rope_grid(n, (c->nh + c->nkv + ROPE_HEADS - 1) / ROPE_HEADS);
    if (c->kv_f16) {
        launch_k(c, k_rope_store<__half>, rope_grid, 256, 0, c->qkv, c->qkv_n, c->d_step, c->w->inv_freq, c->nh, c->nkv, c->hd, (int)hp->rope_dim, hp->rope_neox, (__half *)kc, (__half *)vc);
        launch_k(c, k_attention<__half>, ag, 128, smem, c->qkv, c->qkv_n, c->d_step, (__half *)kc, (__half *)vc, c->nh, c->nkv, c->hd, ATT_SPAN, n_split, c->part_o, c->part_ml);
    } else {
        launch_k(c, k_rope_store<float>, rope_grid, 256, 0, c->qkv, c->qkv_n, c->d_step, c->w->inv_freq, c->nh, c->nkv, c->hd, (int)hp->rope_dim, hp->rope_neox, (float *)kc, (float *)vc);
        launch_k(c, k_attention<float>, ag, 128, smem, c->qkv, c->qkv_n, c->d_step, (float *)kc, (float *)vc, c->nh, c->nkv, c->hd, ATT_SPAN, n_split, c->part_o, c->part_ml);
    }
    launch_k(c, k_attn_combine, dim3(c->nh, n), round32(c->hd), 0, c->part_o, c->part_ml, c->nh, c->hd, n_split, c->att, fuse_q ? c->xq : NULL, c->xs, c->kp_dim);
}

// Launches one chunk (n tokens whose step [pos, ids...] is already in d_step); n_split is the
// number of attention splits (fixed to max_split in the decode graph).
static void launch_chunk(octet_cuda_ctx *c, int n, int n_split, int logit_rows, int want_next) {
    const octet_hparams *hp = &c->m->hp;
    int kv_elt = c->kv_f16 ? 2 : 4;
    int pdl = c->pdl_now;
    c->pdl_now = 0;   // the step's first kernel follows the host's copy, not a kernel
    launch_k(c, k_embed, n, 1024, 0, c->w->embd, c->d_step, c->x, c->dim);
    c->pdl_now = pdl;
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        dlayer *L = &c->w->L[l];
        size_t lo = (size_t)l * c->n_ctx * c->kvd * kv_elt;
        void *kc = (char *)c->kc + lo, *vc = (char *)c->vc + lo;
        norm(c, c->x, L->attn_norm, n, L->qkv.q8);
        matmul(c, &L->qkv, c->xb, c->dim, n, c->qkv, c->qkv_n, L->bqkv, 0);
        // fuse_q: the attention kernels quantize their output for the o projection (per 32, whole-block heads)
        int fuse_q = L->o.q8 && !c->rm_dim && c->hd % QBLOCK == 0;
        if (n == 1 && c->dec_merge && fuse_q) attention_one(c, kc, vc);
        else attention_chunk(c, n, n_split, kc, vc, fuse_q);
        if (L->o.q8 && !fuse_q) launch_k(c, k_quantize, n, ROW_THREADS, c->kp_dim * 4, c->att, c->dim, c->dim, c->kp_dim, c->rm_dim, c->xq, c->xs);
        matmul(c, &L->o, c->att, c->dim, n, c->x, c->dim, NULL, 1);
        norm(c, c->x, L->ffn_norm, n, L->gu.q8);
        matmul(c, &L->gu, c->xb, c->dim, n, c->gu, 2 * c->hid, NULL, 0);
        if (c->rm_hid) launch_k(c, k_swiglu, n, ROW_THREADS, c->hid * 4, c->gu, c->hid, c->hb, L->down.q8 ? c->xq : NULL, c->xs, c->kp_hid, c->rm_hid);
        else launch_k(c, k_swiglu_blocks, dim3((c->kp_hid / QBLOCK + 7) / 8, n), 256, 0, c->gu, c->hid, c->hb, L->down.q8 ? c->xq : NULL, c->xs, c->kp_hid);
        matmul(c, &L->down, c->hb, c->hid, n, c->x, c->dim, NULL, 1);
    }
    if (!logit_rows) return;
    const float *xl = c->x + (size_t)(n - logit_rows) * c->dim;
    norm(c, xl, c->w->out_norm, logit_rows, c->w->out.q8);
    if (want_next && logit_rows == 1 && c->w->out.q8 && c->stream_rows[c->rm_dim != 0]) {  // the argmax inside the LM head
        launch_stream<EPI_ARGMAX>(c, &c->w->out, c->rm_dim, c->logits, NULL, 0, c->d_best);
        launch_k(c, k_argmax_unpack, 1, 1, 0, c->d_best, c->d_next);
        return;
    }
    matmul(c, &c->w->out, c->xb, c->dim, logit_rows, c->logits, c->vocab, NULL, 0);
    if (want_next) launch_k(c, k_argmax, 1, 1024, 0, c->logits + (size_t)(logit_rows - 1) * c->vocab, c->vocab, c->d_next);
}

// Captures the decode step into c->graph; 0, or the CUDA error.
static cudaError_t capture_decode(octet_cuda_ctx *c) {
    cudaGraph_t g;
    cudaError_t e = cudaStreamBeginCapture(c->st, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) return e;
    c->pdl_now = c->pdl;
    launch_chunk(c, 1, c->max_split, 1, 1);
    c->pdl_now = 0;
    e = cudaStreamEndCapture(c->st, &g);
    if (e != cudaSuccess) return e;
    e = cudaGraphInstantiate(&c->graph, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) c->graph = NULL;
    return e;
}

// One decode step through its CUDA graph (captured on first use); the step always ends with the
// GPU argmax, so a greedy caller copies back only the id.
static int decode_graph(octet_cuda_ctx *c) {
    if (!c->graph) {
        cudaError_t e = capture_decode(c);
        if (e != cudaSuccess && c->pdl) {  // a driver without programmatic edges in graphs
            cudaGetLastError();
            c->pdl = 0;
            e = capture_decode(c);
        }
        CK(e);
    }
    CK(cudaGraphLaunch(c->graph, c->st));
    return 0;
fail:
    return -1;
}

// The next token from one row of logits into d_next, by the sampler's parameters: the penalties
// (in place, so the host's fallback reads the logits it would have sampled from), then a sample
// or the argmax. Everything goes as kernel arguments.
static void pick_on_gpu(octet_cuda_ctx *c, float *row, const octet_device_sampling *samp) {
    if (samp->n_hist > 0) {
        penalty_args a;
        a.repeat = samp->repeat_penalty; a.presence = samp->presence_penalty; a.frequency = samp->frequency_penalty;
        a.n = samp->n_hist < OCTET_DEVICE_HISTORY ? samp->n_hist : OCTET_DEVICE_HISTORY;
        memcpy(a.id, samp->hist, (size_t)a.n * sizeof *a.id);
        k_penalize<<<1, 1024, 0, c->st>>>(row, c->vocab, c->d_counts, a);
    }
    if (samp->temp > 0) k_sample<<<1, 1024, 0, c->st>>>(row, c->vocab, *samp, c->d_next);
    else k_argmax<<<1, 1024, 0, c->st>>>(row, c->vocab, c->d_next);
}

extern "C" int octet_cuda_eval(octet_cuda_ctx *c, const int32_t *tokens, int n, int pos, float *logits, int all, int32_t *next, const octet_device_sampling *samp) {
    for (int done = 0; done < n;) {
        int k = n - done < c->n_batch ? n - done : c->n_batch, last = done + k == n;
        int rows = all ? k : last && (logits || next) ? 1 : 0;
        c->h_step[0] = pos + done;
        memcpy(c->h_step + 1, tokens + done, (size_t)k * 4);
        CK(cudaMemcpyAsync(c->d_step, c->h_step, (size_t)(k + 1) * 4, cudaMemcpyHostToDevice, c->st));
        if (k == 1 && rows == 1 && !all) {
            if (decode_graph(c) != 0) return -1;
        } else {
            launch_chunk(c, k, (pos + done + k + ATT_SPAN - 1) / ATT_SPAN, rows, last && next && !all);
        }
        CK(cudaGetLastError());
        if (rows && logits) CK(cudaMemcpyAsync(logits + (all ? (size_t)done * c->vocab : 0), c->logits, (size_t)rows * c->vocab * 4, cudaMemcpyDeviceToHost, c->st));
        if (last) c->last_row = rows > 0 ? rows - 1 : 0;
        if (last && next) {
            float *row = c->logits + (size_t)(rows - 1) * c->vocab;
            if (samp) pick_on_gpu(c, row, samp);
            else if (all) k_argmax<<<1, 1024, 0, c->st>>>(row, c->vocab, c->d_next);
            CK(cudaMemcpyAsync(c->h_next, c->d_next, 4, cudaMemcpyDeviceToHost, c->st));
        }
        CK(cudaStreamSynchronize(c->st));
        if (last && next) *next = *c->h_next;
        done += k;
    }
    return 0;
fail:
    return -1;
}

void octet_cuda_launch_imma(const int8_t *w, const float *ws, int n, int k, const int8_t *x, const float *xs, int m, float *y, int row_mode) {
    static gemm_workspace gw;   // (bench's reference timing: one thread; without it, no split)
    int n_sm = 1;
    cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, 0);
    if (!gw.ws) gemm_workspace_alloc(&gw, 4 * n_sm);
    dmat d = {n, k, round32(k), 1, (int8_t *)w, (float *)ws, NULL};
    launch_gemm(row_mode, d, x, xs, m, y, n, NULL, 0, 0, gw.ws ? &gw : NULL);
}

extern "C" int octet_cuda_last_logits(octet_cuda_ctx *c, float *logits) {
    CK(cudaMemcpy(logits, c->logits + (size_t)c->last_row * c->vocab, (size_t)c->vocab * 4, cudaMemcpyDeviceToHost));
    return 0;
fail:
    return -1;
}

// ---- test hooks ----
extern "C" int octet_cuda_test_matmul(int kind, int m, int n, int k, const int8_t *x, const float *xs, const int8_t *w, const float *ws, const float *wg, int32_t *yi, float *yf) {
    int kp = round32(k), nb = kp / QBLOCK, rc = -1, grid = (n + 3) / 4;
    int8_t *hx = (int8_t *)calloc((size_t)m * kp, 1), *hw = (int8_t *)calloc((size_t)n * kp, 1);
    dmat d = {n, k, kp, 1, NULL, NULL, NULL, NULL};
    int8_t *dx = NULL;
    float *dxs = NULL, *dy = NULL;
    int32_t *dyi = NULL;
    if (!hx || !hw) { octet_set_error("out of memory"); goto done; }
    for (int r = 0; r < m; r++) memcpy(hx + (size_t)r * kp, x + (size_t)r * k, (size_t)k);
    for (int r = 0; r < n; r++) memcpy(hw + (size_t)r * kp, w + (size_t)r * k, (size_t)k);
    CK(cudaMalloc(&dx, (size_t)m * kp));
    CK(cudaMalloc(&d.q, (size_t)n * kp));
    CK(cudaMalloc(&d.s, (size_t)n * 4));
    CK(cudaMalloc(&dxs, (size_t)m * nb * 4));
    CK(cudaMalloc(&dy, (size_t)m * n * 4));
    CK(cudaMalloc(&dyi, (size_t)m * n * 4));
    CK(cudaMemcpy(dx, hx, (size_t)m * kp, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d.q, hw, (size_t)n * kp, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d.s, ws, (size_t)n * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dxs, xs, (size_t)m * nb * 4, cudaMemcpyHostToDevice));
    if (wg) {   // grouped weights: the f32 kinds (0-3, 7) take the per-block variants
        CK(cudaMalloc(&d.g, (size_t)n * nb * 4));
        CK(cudaMemcpy(d.g, wg, (size_t)n * nb * 4, cudaMemcpyHostToDevice));
    }
    CK(cudaMemset(dy, 0xff, (size_t)m * n * 4));   // poison: every output must be written
    CK(cudaMemset(dyi, 0xff, (size_t)m * n * 4));
    if (kind == 7 || kind == 8) {  // tensor-core GEMM split over k; 7: 64-row tiles, int32 in 3 splits, per 32 in 2; 8: 128-row, int32 in 2, per token in 3
        gemm_workspace gw = {};
        CK(gemm_workspace_alloc(&gw, 3 * ((m + GT_BM - 1) / GT_BM) * ((n + 63) / 64)) ? cudaErrorMemoryAllocation : cudaSuccess);
        launch_gemm_imma<GEMM_I32>(kind == 7 ? 64 : 128, d, dx, dxs, m, NULL, dyi, n, NULL, 0, 0, &gw, kind == 7 ? 3 : 2);
        if (kind == 7 && wg) launch_gemm_imma<GEMM_GROUP32>(64, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0, &gw, 2);
        else if (kind == 7) launch_gemm_imma<GEMM_BLOCK32>(64, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0, &gw, 2);
        else launch_gemm_imma<GEMM_ROW>(128, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0, &gw, 3);
        cudaDeviceSynchronize();
        gemm_workspace_free(&gw);
    } else if (kind == 1 || kind == 3) {  // tensor-core GEMM, 128- or 64-row weight tiles
        launch_gemm_imma<GEMM_I32>(kind == 1 ? 128 : 64, d, dx, dxs, m, NULL, dyi, n, NULL, 0, 0);
        if (wg) launch_gemm_imma<GEMM_GROUP32>(kind == 1 ? 128 : 64, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0);
        else launch_gemm_imma<GEMM_BLOCK32>(kind == 1 ? 128 : 64, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0);
    } else if (kind == 4 || kind == 5) {  // tensor-core GEMM, one activation scale per token (xs[row * nb])
        launch_gemm_imma<GEMM_I32>(64, d, dx, dxs, m, NULL, dyi, n, NULL, 0, 0);
        launch_gemm_imma<GEMM_ROW>(kind == 4 ? 128 : 64, d, dx, dxs, m, dy, NULL, n, NULL, 0, 0);
    } else if (kind == 6) {  // DP4A GEMV, one activation scale per token
        for (int r = 0; r < m; r++) {
            k_gemv_dp4a<1, true><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, NULL, dyi + (size_t)r * n, n, NULL, 0);
            k_gemv_dp4a<1, false, true><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, n, NULL, 0);
        }
    } else if (kind == 9) {  // the streaming decode GEMV, one activation scale per token, three rows per warp
        for (int r = 0; r < m; r++) {
            k_gemv_dp4a<1, true><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, NULL, dyi + (size_t)r * n, n, NULL, 0);
            int warps = (n + 2) / 3;
            k_gemv_stream<EPI_STORE, true><<<(warps + 3) / 4, 128, kp + nb * 4>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, 0, 3, NULL);
        }
    } else if (kind == 2) {  // the streaming decode GEMV, three rows per warp (f32 only; int32 from DP4A)
        for (int r = 0; r < m; r++) {
            k_gemv_dp4a<1, true><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, NULL, dyi + (size_t)r * n, n, NULL, 0);
            int warps = (n + 2) / 3;
            if (wg) k_gemv_stream<EPI_STORE, false, true><<<(warps + 3) / 4, 128, kp + nb * 4>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, 0, 3, NULL);
            else k_gemv_stream<EPI_STORE><<<(warps + 3) / 4, 128, kp + nb * 4>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, 0, 3, NULL);
        }
    } else {
        for (int r = 0; r < m; r++) {  // one token at a time, and (below) 3 at a time
            k_gemv_dp4a<1, true><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, NULL, dyi + (size_t)r * n, n, NULL, 0);
        }
        for (int r = 0; r + 3 <= m; r += 3)
            k_gemv_dp4a<3, false><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, n, NULL, 0);
        for (int r = m / 3 * 3; r < m; r++)
            k_gemv_dp4a<1, false><<<grid, 128>>>(d, dx + (size_t)r * kp, dxs + (size_t)r * nb, dy + (size_t)r * n, NULL, n, NULL, 0);
    }
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    if (yi) CK(cudaMemcpy(yi, dyi, (size_t)m * n * 4, cudaMemcpyDeviceToHost));
    if (yf) CK(cudaMemcpy(yf, dy, (size_t)m * n * 4, cudaMemcpyDeviceToHost));
    rc = 0;
fail:
done:
    free(hx); free(hw);
    cudaFree(dx); cudaFree(d.q); cudaFree(d.s); cudaFree(d.g); cudaFree(dxs); cudaFree(dy); cudaFree(dyi);
    return rc;
}

extern "C" int octet_cuda_test_quantize(const float *x, int m, int k, int row_mode, int8_t *q, float *s) {
    int kp = round32(k), rc = -1, smem = kp * 4 > 48 * 1024 ? kp * 4 : 48 * 1024;
    float *dx = NULL, *ds = NULL;
    int8_t *dq = NULL;
    CK(cudaMalloc(&dx, (size_t)m * k * 4));
    CK(cudaMalloc(&dq, (size_t)m * kp));
    CK(cudaMalloc(&ds, (size_t)m * (kp / QBLOCK) * 4));
    CK(cudaMemcpy(dx, x, (size_t)m * k * 4, cudaMemcpyHostToDevice));
    CK(cudaFuncSetAttribute(k_quantize, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    k_quantize<<<m, 256, kp * 4>>>(dx, k, k, kp, row_mode, dq, ds);
    CK(cudaGetLastError());
    CK(cudaMemcpy(q, dq, (size_t)m * kp, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(s, ds, (size_t)m * (kp / QBLOCK) * 4, cudaMemcpyDeviceToHost));
    rc = 0;
fail:
    cudaFree(dx); cudaFree(dq); cudaFree(ds);
    return rc;
}
