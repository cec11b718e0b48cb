// Device kernels of the CUDA backend. Integer arithmetic matches the CPU scalar reference
// exactly (int8 blocks of 32, int32 sums); float steps follow the CPU formulas, but sums are
// reduced across threads in another order, so f32 results agree within rounding.
#ifndef OCTET_CUDA_KERNELS_CUH
#define OCTET_CUDA_KERNELS_CUH
#include "dmat.cuh"
#include <cuda_fp16.h>
#include <stdint.h>


// Programmatic dependent launch (sm_90, the decode graph): a kernel launched with it may start
// while the previous kernel in the stream still runs. pdl_wait() holds until that kernel has
// finished and its writes are visible; pdl_trigger() lets the next kernel start. Both do
// nothing for an ordinary launch. Every kernel of the decode step calls pdl_wait() before it
// reads what an earlier kernel wrote.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
// Row kernels (small grids, all resident at once) let the next kernel start at once.
__device__ __forceinline__ void pdl_start() { pdl_wait(); pdl_trigger(); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block of the last arrival among `expected` (tid 0 counts after a fence; the counter is reset
// by that block for the next launch). Whole block. Which block arrives last changes no result:
// it only decides who does a fixed computation on finished values. (Measured on an H100 and
// dropped: the same pattern in the GEMVs, the last block normalizing the residual or 16 blocks
// quantizing their SwiGLU outputs: the fence in every block cost more than the row kernels it
// replaced, 7B tg128 286 -> 253.) Used by the decode attention merge and the split-k GEMM.
__device__ __forceinline__ bool arrived_last(unsigned *count, unsigned expected) {
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(count, 1u) == expected - 1;
        if (last) *count = 0;   // every other block has counted
    }
    __syncthreads();
    if (last) __threadfence();
    return last;
}

// Reduces one value per thread over the block (blockDim a multiple of 32, at most 1024).
template <int MAX>
__device__ float block_reduce(float v, float *red) {
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    v = MAX ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (l == 0) red[w] = v;
    __syncthreads();
    v = l < nw ? red[l] : (MAX ? -INFINITY : 0.0f);
    if (w == 0) v = MAX ? warp_max(v) : warp_sum(v);
    if (threadIdx.x == 0) red[0] = v;
    __syncthreads();
    v = red[0];
    __syncthreads();
    return v;
}

// Replaces the n scores in sc by exp(score - max) and gives their max and sum (whole block).
__device__ __forceinline__ void span_softmax(float *sc, int n, float *red, float *mx_out, float *sum_out) {
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, sc[i]);
    mx = block_reduce<1>(mx, red);
    float sum = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float e = expf(sc[i] - mx);
        sc[i] = e;
        sum += e;
    }
    *mx_out = mx;
    *sum_out = block_reduce<0>(sum, red);
}

// The CPU's k_quantize_row_i8 on n values: scale = amax/127, q = round(x * 127/amax).
__device__ __forceinline__ int8_t quant1(float x, float inv) {
    float v = roundf(x * inv);
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
}

// Quantizes block b (32 values, one per lane of the calling warp) into sq / ss.
__device__ __forceinline__ void quant_block_warp(float v, int b, int8_t *sq, float *ss) {
    int lane = threadIdx.x & 31;
    float amax = warp_max(fabsf(v));
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    sq[b * QBLOCK + lane] = quant1(v, inv);
    if (lane == 0) ss[b] = amax / 127.0f;
}

// Quantizes a row held in shared memory (k values, zero beyond) into q[kp] and s[kp/32]:
// one scale per 32 values, or (row_mode) one scale for the row, repeated for every block.
__device__ void quantize_row_smem(const float *v, int k, int kp, int row_mode, int8_t *__restrict__ q, float *__restrict__ s, float *red) {
    int nb = kp / QBLOCK;
    if (row_mode) {
        float a = 0;
        for (int i = threadIdx.x; i < k; i += blockDim.x) a = fmaxf(a, fabsf(v[i]));
        float amax = block_reduce<1>(a, red);
        float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = threadIdx.x; i < kp; i += blockDim.x) q[i] = i < k ? quant1(v[i], inv) : 0;
        for (int b = threadIdx.x; b < nb; b += blockDim.x) s[b] = scale;
        return;
    }
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    for (int b = w; b < nb; b += nw) {
        int i = b * QBLOCK + l;
        quant_block_warp(i < k ? v[i] : 0.0f, b, q, s);
    }
}

// x[t] = row tokens[t] of the embedding (int8 rows dequantized as the CPU does: q * scale, the
// row's or the group's).
__global__ void k_embed(dmat e, const int32_t *step, float *x, int dim) {
    pdl_start();
    int t = blockIdx.x, tok = step[1 + t];
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        size_t at = (size_t)tok * e.kp + i;
        x[(size_t)t * dim + i] = !e.q8 ? __half2float(e.h[at]) : (float)e.q[at] * (e.g ? e.g[at / QBLOCK] : e.s[tok]);
    }
}

// RMSNorm of row blockIdx.x of x (stride ldx) into out (f32, stride dim) and, when q is set,
// its int8 quantization. Dynamic shared memory: dim floats.
__global__ void __launch_bounds__(1024) k_rmsnorm(const float *__restrict__ x, int ldx, const float *__restrict__ g, int dim, float eps, float *__restrict__ out,
                                                 int8_t *__restrict__ q, float *__restrict__ s, int kp, int row_mode) {
    pdl_start();
    extern __shared__ float row[];
    __shared__ float red[32];
    __shared__ double redd[32];
    const float *xr = x + (size_t)blockIdx.x * ldx;
    double ss = 0;
#pragma unroll 8
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = xr[i];
        row[i] = v;
        ss += (double)v * v;
    }
    ss = warp_sum_d(ss);
    if ((threadIdx.x & 31) == 0) redd[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += redd[w];
        redd[0] = t;
    }
    __syncthreads();
    float inv = (float)(1.0 / sqrt(redd[0] / dim + eps));
#pragma unroll 8
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float y = __fmul_rn(__fmul_rn(row[i], inv), g[i]);
        row[i] = y;
        if (out) out[(size_t)blockIdx.x * dim + i] = y;
    }
    __syncthreads();
    if (q) quantize_row_smem(row, dim, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
}

// The same for a few rows (decode) with one scale per 32 values, spread over blocks: block
// (slice, token) sums the squares of the whole row (each block again, in double as above) and
// then normalizes and quantizes its 256 values, one 32-value block per warp.
__global__ void __launch_bounds__(256) k_rmsnorm_split(const float *__restrict__ x, int ldx, const float *__restrict__ g, int dim, float eps, float *__restrict__ out,
                                                       int8_t *__restrict__ q, float *__restrict__ s, int kp) {
    pdl_start();
    __shared__ double redd[8];
    const float *xr = x + (size_t)blockIdx.y * ldx;
    double ss = 0;
#pragma unroll 8
    for (int i = threadIdx.x; i < dim; i += 256) {
        float v = xr[i];
        ss += (double)v * v;
    }
    ss = warp_sum_d(ss);
    if ((threadIdx.x & 31) == 0) redd[threadIdx.x >> 5] = ss;
    __syncthreads();
    double t = 0;
    for (int w = 0; w < 8; w++) t += redd[w];
    float inv = (float)(1.0 / sqrt(t / dim + eps));
    int i = blockIdx.x * 256 + threadIdx.x;
    if (i >= kp) return;   // whole warps: kp is a multiple of 32
    float y = i < dim ? __fmul_rn(__fmul_rn(xr[i], inv), g[i]) : 0.0f;
    if (out && i < dim) out[(size_t)blockIdx.y * dim + i] = y;
    if (q) quant_block_warp(y, i / QBLOCK, q + (size_t)blockIdx.y * kp, s + (size_t)blockIdx.y * (kp / QBLOCK));
}

// Quantizes row blockIdx.x of x (k values, stride ldx). Dynamic shared memory: kp floats.
__global__ void __launch_bounds__(1024) k_quantize(const float *__restrict__ x, int ldx, int k, int kp, int row_mode, int8_t *__restrict__ q, float *__restrict__ s) {
    pdl_start();
    extern __shared__ float row[];
    __shared__ float red[32];
    for (int i = threadIdx.x; i < kp; i += blockDim.x) row[i] = i < k ? x[(size_t)blockIdx.x * ldx + i] : 0.0f;
    __syncthreads();
    quantize_row_smem(row, k, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
}

// h = silu(gate) * up for row blockIdx.x of gu ([gate | up], 2*hid wide), then quantized.
__global__ void __launch_bounds__(1024) k_swiglu(const float *__restrict__ gu, int hid, float *__restrict__ out, int8_t *__restrict__ q, float *__restrict__ s, int kp, int row_mode) {
    pdl_start();
    extern __shared__ float row[];
    __shared__ float red[32];
    const float *r = gu + (size_t)blockIdx.x * 2 * hid;
    for (int i = threadIdx.x; i < hid; i += blockDim.x) {
        float g = r[i], u = r[hid + i];
        float y = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
        row[i] = y;
        if (out) out[(size_t)blockIdx.x * hid + i] = y;
    }
    __syncthreads();
    if (q) quantize_row_smem(row, hid, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
}

// The same with one scale per 32 values: block (y = token) of 8 warps, one 32-value block per
// warp, so a decode step's SwiGLU is spread over SMs.
__global__ void __launch_bounds__(256) k_swiglu_blocks(const float *__restrict__ gu, int hid, float *__restrict__ out, int8_t *__restrict__ q, float *__restrict__ s, int kp) {
    pdl_start();
    int t = blockIdx.y, b = blockIdx.x * 8 + (threadIdx.x >> 5), i = b * QBLOCK + (threadIdx.x & 31);
    if (b * QBLOCK >= kp) return;
    const float *r = gu + (size_t)t * 2 * hid;
    float y = 0;
    if (i < hid) {
        float g = r[i], u = r[hid + i];
        y = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
        if (out) out[(size_t)t * hid + i] = y;
    }
    if (q) quant_block_warp(y, b, q + (size_t)t * kp, s + (size_t)t * (kp / QBLOCK));
}

// Exact int32 -> f32 for |v| < 2^22 (a block of 32 int8 products is below 2^19): one integer
// add and one float subtract instead of the slower conversion instruction.
__device__ __forceinline__ float i2f_small(int v) { return __int_as_float(v + 0x4B400000) - 12582912.0f; }

__device__ __forceinline__ int dot32(const int4 a0, const int4 a1, const int4 b0, const int4 b1) {
    int d = 0;
    d = __dp4a(a0.x, b0.x, d); d = __dp4a(a0.y, b0.y, d); d = __dp4a(a0.z, b0.z, d); d = __dp4a(a0.w, b0.w, d);
    d = __dp4a(a1.x, b1.x, d); d = __dp4a(a1.y, b1.y, d); d = __dp4a(a1.z, b1.z, d); d = __dp4a(a1.w, b1.w, d);
    return d;
}

// Stores one output: scaled (+bias), added to y when accumulate (the residual stream).
__device__ __forceinline__ void store_out(float *y, float v, const float *bias, int col, int accumulate) {
    if (bias) v = __fadd_rn(v, bias[col]);
    *y = accumulate ? __fadd_rn(*y, v) : v;
}

// One weight row (one warp, row < w.n when ok) times M tokens of int8 input with DP4A: each lane
// takes one 32-byte block (two 16-byte loads) per step. INT: raw int32 sums in iacc (I32 tests, and
// one activation scale per token); else f32 in acc with a scale per 32. A lane's first four blocks
// of weights are loaded before pdl_wait(): they do not depend on the previous kernel, so under
// programmatic launch they stream in while it finishes (for k <= 4096 that is the whole row).
// Ends with pdl_trigger(); the lane partial sums are not yet reduced over the warp.
template <int M, bool INT>
__device__ __forceinline__ void dp4a_row(const dmat &w, int row, bool ok, const int8_t *__restrict__ xq, const float *__restrict__ xs, float acc[M], int iacc[M]) {
    const int lane = threadIdx.x & 31, nb = ok ? w.kp / QBLOCK : 0;
    const int4 *wr = (const int4 *)(w.q + (size_t)(ok ? row : 0) * w.kp);
#pragma unroll
    for (int r = 0; r < M; r++) { acc[r] = 0; iacc[r] = 0; }
    int4 pw[8];
#pragma unroll
    for (int u = 0; u < 4; u++) {
        int b = lane + 32 * u;
        if (b < nb) { pw[2 * u] = __ldg(wr + 2 * b); pw[2 * u + 1] = __ldg(wr + 2 * b + 1); }
    }
    pdl_wait();
    for (int b0 = lane; b0 < nb; b0 += 128) {
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int b = b0 + 32 * u;
            if (b >= nb) break;
            const float gs = !INT && w.g ? __ldg(w.g + (size_t)row * nb + b) : 1.0f;   // grouped: the block's weight scale
#pragma unroll
            for (int r = 0; r < M; r++) {
                const int4 *xp = (const int4 *)(xq + (size_t)r * w.kp + b * QBLOCK);
                int d = dot32(__ldg(xp), __ldg(xp + 1), pw[2 * u], pw[2 * u + 1]);
                if (INT) iacc[r] += d;
                else acc[r] = __fmaf_rn(i2f_small(d), w.g ? __fmul_rn(__ldg(xs + (size_t)r * nb + b), gs) : __ldg(xs + (size_t)r * nb + b), acc[r]);
            }
        }
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int b = b0 + 128 + 32 * u;
            if (b < nb) { pw[2 * u] = __ldg(wr + 2 * b); pw[2 * u + 1] = __ldg(wr + 2 * b + 1); }
        }
    }
    pdl_trigger();
}

// Decode GEMV with DP4A: one warp per weight row, M tokens at once. I32: raw int32 sums (tests);
// ROW: one activation scale per token, int32 over the whole row then scaled (the CPU's formula for
// --act int8-row); else f32 with a scale per 32 (grouped weights: the activation's scale times the
// block's weight scale; they run ROW = false, per-token scales being repeated in every block).
template <int M, bool I32, bool ROW = false>
__global__ void __launch_bounds__(128) k_gemv_dp4a(dmat w, const int8_t *__restrict__ xq, const float *__restrict__ xs, float *__restrict__ y, int32_t *__restrict__ yi, int ldy,
                                                      const float *__restrict__ bias, int accumulate) {
    int row = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31, nb = w.kp / QBLOCK;
    float acc[M];
    int iacc[M];
    dp4a_row<M, I32 || ROW>(w, row, row < w.n, xq, xs, acc, iacc);
    if (row >= w.n) return;
#pragma unroll
    for (int r = 0; r < M; r++) {
        if (I32 || ROW) {
            int v = iacc[r];
            for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0 && I32) yi[(size_t)r * ldy + row] = v;
            if (lane == 0 && ROW) store_out(y + (size_t)r * ldy + row, __fmul_rn(w.s[row], __fmul_rn(xs[(size_t)r * nb], (float)v)), bias, row, accumulate);
        } else {
            float v = warp_sum(acc[r]);
            if (lane == 0) store_out(y + (size_t)r * ldy + row, __fmul_rn(w.s[row], v), bias, row, accumulate);
        }
    }
}

// f16 weights (unquantized tensors) times f32 activations, f32 accumulation: one warp per row.
template <int M>
__global__ void __launch_bounds__(128) k_gemv_f16(dmat w, const float *x, int ldx, float *y, int ldy, const float *bias, int accumulate) {
    pdl_wait();
    int row = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= w.n) return;
    const __half *wr = w.h + (size_t)row * w.kp;
    float acc[M];
#pragma unroll
    for (int r = 0; r < M; r++) acc[r] = 0;
    for (int i = lane; i < w.k; i += 32) {
        float wv = __half2float(wr[i]);
#pragma unroll
        for (int r = 0; r < M; r++) acc[r] = __fmaf_rn(wv, x[(size_t)r * ldx + i], acc[r]);
    }
    pdl_trigger();
#pragma unroll
    for (int r = 0; r < M; r++) {
        float v = warp_sum(acc[r]);
        if (lane == 0) store_out(y + (size_t)r * ldy + row, v, bias, row, accumulate);
    }
}

// RoPE on q and k of row t = blockIdx.x of qkv ([q | k | v]), then k and v into the cache at
// pos + t. Block y takes ROPE_HEADS of the n_heads + n_kv rotated heads (and the v rows of its
// k heads), so a decode step's work is spread over SMs instead of looping in one block.
// Angles in double as the CPU computes them.
#define ROPE_HEADS 4
template <typename KV>
__global__ void k_rope_store(float *__restrict__ qkv, int ld, const int32_t *__restrict__ step, const float *__restrict__ inv_freq, int n_heads, int n_kv,
                             int hd, int rope_dim, int neox, KV *__restrict__ kc, KV *__restrict__ vc) {
    pdl_start();
    __shared__ float cs[256], sn[256];  // one angle per rotated pair, shared by every head
    int t = blockIdx.x, pos = step[0] + t, half = rope_dim / 2, dim = n_heads * hd, kvd = n_kv * hd;
    int h0 = blockIdx.y * ROPE_HEADS, h1 = min(h0 + ROPE_HEADS, n_heads + n_kv);
    float *q = qkv + (size_t)t * ld, *k = q + dim, *v = k + kvd;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double a = (double)pos * inv_freq[i];
        cs[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
    __syncthreads();
    size_t off = (size_t)pos * kvd;
    for (int p = threadIdx.x; p < (h1 - h0) * hd; p += blockDim.x) {
        int h = h0 + p / hd, i = p % hd;
        bool is_k = h >= n_heads;
        if (is_k) vc[off + (h - n_heads) * hd + i] = (KV)v[(h - n_heads) * hd + i];
        if (i >= half) continue;  // one thread per rotated pair
        float *vec = is_k ? k + (h - n_heads) * hd : q + h * hd;
        int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        float x0 = vec[i0], x1 = vec[i1];
        float y0 = __fsub_rn(__fmul_rn(x0, cs[i]), __fmul_rn(x1, sn[i])), y1 = __fadd_rn(__fmul_rn(x0, sn[i]), __fmul_rn(x1, cs[i]));
        vec[i0] = y0;
        vec[i1] = y1;
        if (is_k) {
            kc[off + (h - n_heads) * hd + i0] = (KV)y0;
            kc[off + (h - n_heads) * hd + i1] = (KV)y1;
        }
    }
    // Dimensions past rope_dim are not rotated: copied as they are.
    for (int p = threadIdx.x; p < (h1 - h0) * hd; p += blockDim.x) {
        int h = h0 + p / hd, i = p % hd;
        if (h >= n_heads && i >= rope_dim) kc[off + (h - n_heads) * hd + i] = (KV)k[(h - n_heads) * hd + i];
    }
}
__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }

// sc[p - start] = q · k_p / sqrt(hd) for positions start..end-1 (one warp per position), keys
// read from the cache (kc: this head's first key, stride kvd), except position fresh (not yet
// in the cache), read from kf. Ends with a block barrier.
template <typename KV>
__device__ void score_span(const float *q, const KV *kc, int kvd, int hd, int start, int end, int fresh, const float *kf, float *sc) {
    float scale = 1.0f / sqrtf((float)hd);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    for (int p = start + w; p < end; p += nw) {
        float d = 0;
        if (p == fresh) for (int i = l; i < hd; i += 32) d = __fmaf_rn(q[i], to_f((KV)kf[i]), d);
        else {
            const KV *kr = kc + (size_t)p * kvd;
            for (int i = l; i < hd; i += 32) d = __fmaf_rn(q[i], to_f(kr[i]), d);
        }
        d = warp_sum(d);
        if (l == 0) sc[p - start] = d * scale;
    }
    __syncthreads();
}

template <typename KV>
__global__ void __launch_bounds__(128) k_attention(const float *qkv, int ld, const int32_t *step, const KV *kc, const KV *vc, int n_heads, int n_kv, int hd,
                                                   int span, int n_split, float *part_o, float2 *part_ml) {
    pdl_start();
    extern __shared__ float sm[];
    __shared__ float red[32];
    float *q = sm, *sc = sm + hd;
    int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z, kvh = h / (n_heads / n_kv), kvd = n_kv * hd;
    int last = step[0] + t, start = sp * span, end = min(start + span, last + 1);
    size_t part = ((size_t)t * n_heads + h) * n_split + sp;
    if (start > last) {
        if (threadIdx.x == 0) part_ml[part] = make_float2(-INFINITY, 0.0f);
        return;
    }
    for (int i = threadIdx.x; i < hd; i += blockDim.x) q[i] = qkv[(size_t)t * ld + h * hd + i];
    __syncthreads();
    score_span(q, kc + kvh * hd, kvd, hd, start, end, -1, NULL, sc);
    float mx, sum;
    span_softmax(sc, end - start, red, &mx, &sum);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0;
        for (int p = start; p < end; p++) o = __fmaf_rn(sc[p - start], to_f(vc[(size_t)p * kvd + kvh * hd + d]), o);
        part_o[part * hd + d] = o;
    }
    if (threadIdx.x == 0) part_ml[part] = make_float2(mx, sum);
}

// Merges the splits of one (head, token) into att[t][h*hd ..], and quantizes those values
// (blocks of 32 inside the head) when q is set; blockDim = hd rounded up to 32.
__global__ void k_attn_combine(const float *part_o, const float2 *part_ml, int n_heads, int hd, int n_split, float *att, int8_t *q, float *s, int kp) {
    pdl_start();
    int h = blockIdx.x, t = blockIdx.y, d = threadIdx.x, dim = n_heads * hd;
    size_t base = ((size_t)t * n_heads + h) * n_split;
    float M = -INFINITY;
    for (int sp = 0; sp < n_split; sp++) M = fmaxf(M, part_ml[base + sp].x);
    float L = 0, o = 0;
    for (int sp = 0; sp < n_split; sp++) {
        float2 ml = part_ml[base + sp];
        if (ml.y == 0.0f) continue;
        float f = expf(ml.x - M);
        L += ml.y * f;
        if (d < hd) o = __fmaf_rn(part_o[(base + sp) * hd + d], f, o);
    }
    float v = d < hd ? o / L : 0.0f;
    if (d < hd) att[(size_t)t * dim + h * hd + d] = v;
    if (!q) return;
    // hd % 32 == 0 here: each warp is one quantization block of this head.
    quant_block_warp(v, (h * hd + d) / QBLOCK, q + (size_t)t * kp, s + (size_t)t * (kp / QBLOCK));
}

// Order-preserving key of a float (larger float, larger key), low word: the complement of the
// index, so that among equal logits the lowest index wins.
__device__ __forceinline__ unsigned long long argmax_key(float v, int idx) {
    unsigned b = __float_as_uint(v);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long)b << 32) | (unsigned)(0x7fffffff - idx);
}

// Index of the largest logit (the lowest index among equals, like the CPU's greedy pick).
__global__ void k_argmax(const float *logits, int n, int32_t *out) {
    pdl_start();
    __shared__ float bv[32];
    __shared__ int bi[32];
    float best = -INFINITY;
    int idx = 0x7fffffff;
#pragma unroll 8
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float v = logits[i];
        if (v > best) { best = v; idx = i; }
    }
    for (int o = 16; o; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > best || (ov == best && oi < idx)) { best = ov; idx = oi; }
    }
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if (l == 0) { bv[w] = best; bi[w] = idx; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < (int)(blockDim.x >> 5); k++)
            if (bv[k] > best || (bv[k] == best && bi[k] < idx)) { best = bv[k]; idx = bi[k]; }
        *out = idx == 0x7fffffff ? 0 : idx;
    }
}
#endif
