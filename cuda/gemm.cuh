// Prefill GEMM on the INT8 tensor cores: y[m][n] = x[m][kp] · W[n][kp]^T with one activation
// scale per 32 values of k and one weight scale per row (mma.sync m16n8k32 s8*s8 -> s32).
//
// Block tile 128 tokens x BN weight rows, 8 warps; k advances 64 bytes (two activation blocks)
// per pipeline stage, 4 stages of cp.async. Shared rows are 64 bytes whose four 16-byte chunks
// are XOR-swizzled by row, so the ldmatrix fragment loads hit 8 distinct bank groups.
// Each 32-wide k step's int32 tile becomes f32 and is scaled by its tokens' activation scales:
// the mma starts from 0x4B400000 (the float 2^23 + 2^22) instead of 0, so reading the int32
// result as a float and subtracting 12582912 gives the exact product sum (|sum| < 2^22)
// without a conversion instruction: two float operations per element per step.
#ifndef OCTET_CUDA_GEMM_CUH
#define OCTET_CUDA_GEMM_CUH
#include "kernels.cuh"
#include <stdlib.h>
#include <string.h>

#define GT_BM 128
#define GT_BK 64
#define GT_STAGES 4
#define GT_THREADS 256

__host__ __device__ constexpr int gt_stage_bytes(int bn) { return GT_BM * GT_BK + bn * GT_BK + GT_BM * 2 * 4; }
__host__ __device__ constexpr int gt_smem(int bn) { return GT_STAGES * gt_stage_bytes(bn); }

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async4(void *smem, const void *gmem, bool valid) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    int bytes = valid ? 4 : 0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(int r[4], const void *p) {
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

__device__ __forceinline__ void mma_s8(int c[4], const int a[4], const int b[2], const int acc[4]) {
    asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
                 : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(acc[0]), "r"(acc[1]), "r"(acc[2]), "r"(acc[3]));
}

// Byte offset of 16-byte chunk c of row r in a swizzled 64-byte-row tile.
__device__ __forceinline__ int gt_off(int r, int c) { return r * GT_BK + ((c ^ ((r >> 1) & 3)) << 4); }

// GEMM_I32: raw int32 sums over all of k into yi (tests). GEMM_BLOCK32: f32 with one activation
// scale per 32 (the default int8 mode). GEMM_ROW: one activation scale per token (--act
// int8-row, the scale repeated in every block of xs): int32 sums over all of k, scaled once.
// GEMM_GROUP32: GEMM_BLOCK32 for grouped weights (w.g): each 32-wide step's int32 tile times the
// token's activation scale and the weight row's scale of that block (either activation mode).
enum { GEMM_I32, GEMM_BLOCK32, GEMM_ROW, GEMM_GROUP32 };
__host__ __device__ constexpr bool gemm_f32_tiles(int mode) { return mode == GEMM_BLOCK32 || mode == GEMM_GROUP32; }
// Split k (gemm_split, blockIdx.z = the split): each block sums its share of the k stages and
// writes the partial tile to the workspace; the block arriving last for a tile adds the others'
// partials to its own and does the epilogue. The result does not depend on which block that is:
// int32 sums are exact, and f32 tiles are split in two at most (a + b == b + a).
struct gemm_split {
    int ksplit;       // 1: no split
    void *ws;         // ksplit * tiles * GT_BM * BN partial values (f32 or int32)
    unsigned *count;  // arrival counter per tile (zero between launches)
};

template <int BN, int MODE, bool SPLIT>
__global__ void __launch_bounds__(GT_THREADS) k_gemm_imma(dmat w, const int8_t *__restrict__ xq, const float *__restrict__ xs, int m, float *y, int32_t *yi, int ldy,
                                                          const float *bias, int accumulate, gemm_split sp) {
    constexpr int WN = BN == 128 ? 4 : 2, WM = 8 / WN;            // warps along n and m
    constexpr int MT = GT_BM / WM / 16, NT = BN / WN / 8;          // m16 and n8 tiles per warp
    extern __shared__ __align__(128) unsigned char gsm[];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const int wm = warp / WN, wn = warp % WN;
    const int m0 = blockIdx.y * GT_BM, n0 = blockIdx.x * BN, kp = w.kp, nb = kp / QBLOCK, nks_all = (nb + 1) / 2;
    const int ks0 = SPLIT ? blockIdx.z * nks_all / sp.ksplit : 0, nks = SPLIT ? (blockIdx.z + 1) * nks_all / sp.ksplit - ks0 : nks_all;   // this split's stages
    auto A = [&](int s) { return gsm + s * gt_stage_bytes(BN); };
    auto B = [&](int s) { return gsm + s * gt_stage_bytes(BN) + GT_BM * GT_BK; };
    auto S = [&](int s) { return (float *)(gsm + s * gt_stage_bytes(BN) + (GT_BM + BN) * GT_BK); };

    // Each thread's share of a stage's copies, worked out once: A and B rows of 64 bytes in four
    // 16-byte chunks (chunks 2 and 3 are past kp in the last stage when nb is odd), and one
    // activation scale.
    constexpr int CA = GT_BM * 4 / GT_THREADS, CB = BN * 4 / GT_THREADS;
    const int8_t *a_src[CA], *b_src[CB];
    int a_dst[CA], b_dst[CB];
    bool a_ok[CA], b_ok[CB], a_hi[CA], b_hi[CB];
#pragma unroll
    for (int j = 0; j < CA; j++) {
        int i = tid + j * GT_THREADS, r = i >> 2, c = i & 3;
        a_ok[j] = m0 + r < m; a_hi[j] = c >= 2;
        a_src[j] = xq + (size_t)(a_ok[j] ? m0 + r : 0) * kp + c * 16;
        a_dst[j] = gt_off(r, c);
    }
#pragma unroll
    for (int j = 0; j < CB; j++) {
        int i = tid + j * GT_THREADS, r = i >> 2, c = i & 3;
        b_ok[j] = n0 + r < w.n; b_hi[j] = c >= 2;
        b_src[j] = w.q + (size_t)(b_ok[j] ? n0 + r : 0) * kp + c * 16;
        b_dst[j] = gt_off(r, c);
    }
    const int s_row = tid >> 1, s_blk = tid & 1;   // (GT_BM * 2 == GT_THREADS scales per stage)
    const bool s_ok = m0 + s_row < m;
    const float *s_src = xs + (s_ok ? (size_t)(m0 + s_row) * nb : 0) + s_blk;
    auto load = [&](int stage, int ks) {
        ks += ks0;
        const bool hi_ok = ks * 2 + 1 < nb;
        unsigned char *as = A(stage), *bs = B(stage);
#pragma unroll
        for (int j = 0; j < CA; j++) {
            bool ok = a_ok[j] && (!a_hi[j] || hi_ok);
            cp_async16(as + a_dst[j], ok ? a_src[j] + ks * GT_BK : xq, ok);
        }
#pragma unroll
        for (int j = 0; j < CB; j++) {
            bool ok = b_ok[j] && (!b_hi[j] || hi_ok);
            cp_async16(bs + b_dst[j], ok ? b_src[j] + ks * GT_BK : w.q, ok);
        }
        if (gemm_f32_tiles(MODE)) {
            bool ok = s_ok && (s_blk == 0 || hi_ok);
            cp_async4(S(stage) + tid, ok ? s_src + ks * 2 : xs, ok);
        }
    };

    float acc[MT][NT][4];
    int iacc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) { acc[i][j][e] = 0; iacc[i][j][e] = 0; }

#pragma unroll
    for (int s = 0; s < GT_STAGES - 1; s++) {
        if (s < nks) load(s, s);
        cp_async_commit();
    }
    // ldmatrix lane roles: lane l gives the address of row (l & 7) of 8x16-byte matrix l >> 3.
    const int lm = lane >> 3, lr = lane & 7;
    const int a_frag[2] = {gt_off(wm * (MT * 16) + lr + ((lm & 1) << 3), lm >> 1), gt_off(wm * (MT * 16) + lr + ((lm & 1) << 3), 2 + (lm >> 1))};
    const int b_frag[2] = {gt_off(wn * (NT * 8) + ((lm >> 1) << 3) + lr, lm & 1), gt_off(wn * (NT * 8) + ((lm >> 1) << 3) + lr, 2 + (lm & 1))};
    for (int ks = 0; ks < nks; ks++) {
        cp_async_wait<GT_STAGES - 2>();
        __syncthreads();
        if (ks + GT_STAGES - 1 < nks) load((ks + GT_STAGES - 1) % GT_STAGES, ks + GT_STAGES - 1);
        cp_async_commit();
        const int st = ks % GT_STAGES;
        const unsigned char *as = A(st), *bs = B(st);
        const float *ss = S(st);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            if ((ks0 + ks) * 2 + h >= nb) break;
            int af[MT][4], bf[NT][2];
            // Rows 16 apart share a swizzle, so one offset per h serves every tile (+1024 each).
#pragma unroll
            for (int mt = 0; mt < MT; mt++) ldmatrix_x4(af[mt], as + a_frag[h] + mt * 16 * GT_BK);
#pragma unroll
            for (int nt = 0; nt < NT; nt += 2) {
                int q[4];
                ldmatrix_x4(q, bs + b_frag[h] + nt / 2 * 16 * GT_BK);
                bf[nt][0] = q[0]; bf[nt][1] = q[1]; bf[nt + 1][0] = q[2]; bf[nt + 1][1] = q[3];
            }
            if (!gemm_f32_tiles(MODE)) {
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int nt = 0; nt < NT; nt++) mma_s8(iacc[mt][nt], af[mt], bf[nt], iacc[mt][nt]);
            } else {
                const int magic[4] = {0x4B400000, 0x4B400000, 0x4B400000, 0x4B400000};
                // GEMM_GROUP32: this step's weight scales of the thread's columns (2 per n8 tile).
                float gc[NT][2];
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int col = n0 + wn * (NT * 8) + nt * 8 + t4 * 2 + e;
                        gc[nt][e] = MODE == GEMM_GROUP32 && col < w.n ? __ldg(w.g + (size_t)col * nb + (ks0 + ks) * 2 + h) : 1.0f;
                    }
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    int r = wm * (MT * 16) + mt * 16 + g;
                    float s0 = ss[r * 2 + h], s1 = ss[(r + 8) * 2 + h];
#pragma unroll
                    for (int nt = 0; nt < NT; nt++) {
                        int c[4];
                        mma_s8(c, af[mt], bf[nt], magic);
                        if (MODE == GEMM_GROUP32) {
                            acc[mt][nt][0] = __fmaf_rn(__int_as_float(c[0]) - 12582912.0f, __fmul_rn(s0, gc[nt][0]), acc[mt][nt][0]);
                            acc[mt][nt][1] = __fmaf_rn(__int_as_float(c[1]) - 12582912.0f, __fmul_rn(s0, gc[nt][1]), acc[mt][nt][1]);
                            acc[mt][nt][2] = __fmaf_rn(__int_as_float(c[2]) - 12582912.0f, __fmul_rn(s1, gc[nt][0]), acc[mt][nt][2]);
                            acc[mt][nt][3] = __fmaf_rn(__int_as_float(c[3]) - 12582912.0f, __fmul_rn(s1, gc[nt][1]), acc[mt][nt][3]);
                            continue;
                        }
                        acc[mt][nt][0] = __fmaf_rn(__int_as_float(c[0]) - 12582912.0f, s0, acc[mt][nt][0]);
                        acc[mt][nt][1] = __fmaf_rn(__int_as_float(c[1]) - 12582912.0f, s0, acc[mt][nt][1]);
                        acc[mt][nt][2] = __fmaf_rn(__int_as_float(c[2]) - 12582912.0f, s1, acc[mt][nt][2]);
                        acc[mt][nt][3] = __fmaf_rn(__int_as_float(c[3]) - 12582912.0f, s1, acc[mt][nt][3]);
                    }
                }
            }
        }
    }
    cp_async_wait<0>();
    if (SPLIT) {
        constexpr int NE = MT * NT * 4;
        const size_t tile = (size_t)blockIdx.y * gridDim.x + blockIdx.x;
        // Slot (tile, split): value e of thread t at [e * GT_THREADS + t] (coalesced), e the flat
        // index of acc / iacc.
        auto slot = [&](int z) { return (float *)sp.ws + (tile * sp.ksplit + z) * NE * GT_THREADS + tid; };
        // The tiles as flat arrays (constant indices once unrolled: they stay in registers).
        float *fa = &acc[0][0][0];
        int *ia = &iacc[0][0][0];
        float *mine = slot(blockIdx.z);
#pragma unroll
        for (int e = 0; e < NE; e++) mine[e * GT_THREADS] = gemm_f32_tiles(MODE) ? fa[e] : __int_as_float(ia[e]);
        if (!arrived_last(sp.count + tile, sp.ksplit)) return;
        // The other splits' partials added to this block's own, one split at a time with all of
        // its loads in flight together (one per value in turn cost a memory latency each).
        for (int z = 0; z < sp.ksplit; z++) {
            if (z == (int)blockIdx.z) continue;
            const float *src = slot(z);
#pragma unroll
            for (int e = 0; e < NE; e++) {
                float p = __ldcg(src + e * GT_THREADS);
                if (gemm_f32_tiles(MODE)) fa[e] = __fadd_rn(fa[e], p);
                else ia[e] += __float_as_int(p);
            }
        }
    }
    // Each thread holds pairs of neighbouring columns: one 8-byte access where it fits.
    const bool pairs = (ldy & 1) == 0;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                int r = m0 + wm * (MT * 16) + mt * 16 + g + hf * 8, c = n0 + wn * (NT * 8) + nt * 8 + t4 * 2;
                if (r >= m || c >= w.n) continue;
                size_t o = (size_t)r * ldy + c;
                if (MODE == GEMM_ROW) {
                    float xr = __ldg(xs + (size_t)r * nb);
                    acc[mt][nt][2 * hf] = __fmul_rn((float)iacc[mt][nt][2 * hf], xr);
                    acc[mt][nt][2 * hf + 1] = __fmul_rn((float)iacc[mt][nt][2 * hf + 1], xr);
                }
                if (MODE == GEMM_I32) {
                    if (pairs && c + 1 < w.n) *(int2 *)(yi + o) = make_int2(iacc[mt][nt][2 * hf], iacc[mt][nt][2 * hf + 1]);
                    else for (int e = 0; e < 2 && c + e < w.n; e++) yi[o + e] = iacc[mt][nt][2 * hf + e];
                } else if (pairs && c + 1 < w.n) {
                    float2 v = make_float2(__fmul_rn(w.s[c], acc[mt][nt][2 * hf]), __fmul_rn(w.s[c + 1], acc[mt][nt][2 * hf + 1]));
                    if (bias) { v.x = __fadd_rn(v.x, bias[c]); v.y = __fadd_rn(v.y, bias[c + 1]); }
                    if (accumulate) { float2 p = *(float2 *)(y + o); v.x = __fadd_rn(p.x, v.x); v.y = __fadd_rn(p.y, v.y); }
                    *(float2 *)(y + o) = v;
                } else {
                    for (int e = 0; e < 2 && c + e < w.n; e++) store_out(y + o + e, __fmul_rn(w.s[c + e], acc[mt][nt][2 * hf + e]), bias, c + e, accumulate);
                }
            }
}

// Tile width: with per-32 scales the f32 accumulators make 128-row tiles too heavy in registers
// (two blocks per SM); measured on an H100, 64 rows are faster on every shape. Integer
// accumulation (I32, ROW) runs fastest on 128-row tiles unless that leaves SMs idle: a grid of
// 128-row tiles is split into 64-row ones when the busiest SM's work then shrinks (a 64-row
// tile counted as 0.6 of a 128-row one). OCTET_CUDA_BN=64|128 forces a width (measurements).
static inline int gemm_bn(int mode, int n, int m) {
    static int n_sm, forced = -1;
    if (forced < 0) {
        const char *e = getenv("OCTET_CUDA_BN");
        forced = e && (!strcmp(e, "64") || !strcmp(e, "128")) ? atoi(e) : 0;
        if (cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess || n_sm < 1) n_sm = 1;
    }
    if (forced) return forced;
    if (gemm_f32_tiles(mode)) return 64;
    long mt = (m + GT_BM - 1) / GT_BM, t128 = mt * ((n + 127) / 128), t64 = mt * ((n + 63) / 64);
    return (t64 + n_sm - 1) / n_sm * 6 < (t128 + n_sm - 1) / n_sm * 10 ? 64 : 128;
}

// Tile-splits resident at once for this kernel (blocks per SM x SMs); sets its shared memory size.
template <int BN, int MODE, bool SPLIT>
static int gemm_slots() {
    static int slots;
    if (!slots) {
        int per_sm = 0, n_sm = 0;
        cudaFuncSetAttribute(k_gemm_imma<BN, MODE, SPLIT>, cudaFuncAttributeMaxDynamicSharedMemorySize, gt_smem(BN));
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_gemm_imma<BN, MODE, SPLIT>, GT_THREADS, gt_smem(BN)) != cudaSuccess || per_sm < 1) per_sm = 1;
        if (cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess || n_sm < 1) n_sm = 1;
        slots = per_sm * n_sm;
    }
    return slots;
}

// Workspace for split-k: room for cap tile-splits (128 x 128 values each; gemm_ksplit never
// asks for more than four per SM).
struct gemm_workspace {
    void *ws;
    unsigned *count;
    int cap;
};
static inline void gemm_workspace_free(gemm_workspace *g) {
    cudaFree(g->ws);
    cudaFree(g->count);
    memset(g, 0, sizeof *g);
}
// 0, or -1 with nothing allocated.
static inline int gemm_workspace_alloc(gemm_workspace *g, int cap) {
    memset(g, 0, sizeof *g);
    g->cap = cap;
    if (cudaMalloc(&g->ws, (size_t)g->cap * GT_BM * 128 * 4) != cudaSuccess || cudaMalloc(&g->count, (size_t)g->cap * sizeof(unsigned)) != cudaSuccess ||
        cudaMemset(g->count, 0, (size_t)g->cap * sizeof(unsigned)) != cudaSuccess) {
        gemm_workspace_free(g);
        return -1;
    }
    return 0;
}

// Splits of k for a grid of `tiles` tiles: when they fill at most half of the GPU's resident
// slots, enough splits to fill it (at most 4, at least 8 k-stages of 64 bytes each, within the
// workspace); OCTET_CUDA_SPLIT=0 turns it off (measurements). Only for int32 tiles and k of at
// least 5120: measured on an H100 at m = 512, per-token scales, the down projections gain (7B
// 95.8 -> 85.5 us, 1.1B 38.1 -> 31.6) while shorter k does not repay the partial tiles' round
// trip (7B o 41.0 -> 41.9, 1.1B o 17.5 -> 19.2), nor do f32 tiles (1.1B down 54.7 -> 58.7).
// (Tests force splits, f32 ones in two.)
static inline int gemm_ksplit(int mode, int tiles, int slots, int nks, const gemm_workspace *g) {
    static int off = -1;
    if (off < 0) { const char *e = getenv("OCTET_CUDA_SPLIT"); off = e && !strcmp(e, "0"); }
    if (off || !g || gemm_f32_tiles(mode) || nks < 80 || tiles * 2 > slots) return 1;
    int s = slots / tiles;
    if (s > 4) s = 4;
    while (s > 1 && (nks / s < 8 || tiles * s > g->cap)) s--;
    return s;
}

template <int MODE>
static void launch_gemm_imma(int bn, const dmat &w, const int8_t *xq, const float *xs, int m, float *y, int32_t *yi, int ldy, const float *bias, int accumulate,
                             cudaStream_t st, const gemm_workspace *gw = NULL, int force_split = 0) {
    dim3 g((w.n + bn - 1) / bn, (m + GT_BM - 1) / GT_BM);
    int nks = (w.kp / QBLOCK + 1) / 2, tiles = (int)(g.x * g.y);
    gemm_split sp = {1, NULL, NULL};
    int slots = bn == 128 ? gemm_slots<128, MODE, false>() : gemm_slots<64, MODE, false>();
    sp.ksplit = force_split ? force_split : gemm_ksplit(MODE, tiles, slots, nks, gw);
    if (sp.ksplit > 1) {
        g.z = sp.ksplit; sp.ws = gw->ws; sp.count = gw->count;
        if (bn == 128) { gemm_slots<128, MODE, true>(); k_gemm_imma<128, MODE, true><<<g, GT_THREADS, gt_smem(128), st>>>(w, xq, xs, m, y, yi, ldy, bias, accumulate, sp); }
        else { gemm_slots<64, MODE, true>(); k_gemm_imma<64, MODE, true><<<g, GT_THREADS, gt_smem(64), st>>>(w, xq, xs, m, y, yi, ldy, bias, accumulate, sp); }
    } else if (bn == 128) k_gemm_imma<128, MODE, false><<<g, GT_THREADS, gt_smem(128), st>>>(w, xq, xs, m, y, yi, ldy, bias, accumulate, sp);
    else k_gemm_imma<64, MODE, false><<<g, GT_THREADS, gt_smem(64), st>>>(w, xq, xs, m, y, yi, ldy, bias, accumulate, sp);
}

// y = x · W^T with the activation scales of the mode (GEMM_BLOCK32 or GEMM_ROW; grouped weights
// GEMM_GROUP32 in either).
static inline void launch_gemm(int row_mode, const dmat &w, const int8_t *xq, const float *xs, int m, float *y, int ldy, const float *bias, int accumulate, cudaStream_t st,
                               const gemm_workspace *gw) {
    if (w.g) launch_gemm_imma<GEMM_GROUP32>(gemm_bn(GEMM_GROUP32, w.n, m), w, xq, xs, m, y, NULL, ldy, bias, accumulate, st, gw);
    else if (row_mode) launch_gemm_imma<GEMM_ROW>(gemm_bn(GEMM_ROW, w.n, m), w, xq, xs, m, y, NULL, ldy, bias, accumulate, st, gw);
    else launch_gemm_imma<GEMM_BLOCK32>(gemm_bn(GEMM_BLOCK32, w.n, m), w, xq, xs, m, y, NULL, ldy, bias, accumulate, st, gw);
}
#endif
