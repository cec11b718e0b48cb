// The fused decode step (one token): per layer five kernels instead of ten. Each GEMV quantizes
// its own input in a prologue (RMSNorm, the attention merge, or a copy of already quantized
// values) into shared memory and has an epilogue (store, SwiGLU + quantization, argmax), and
// attention applies RoPE and stores the new K/V itself. (Measured on an H100 and dropped: an L2
// bulk prefetch of each block's first rows before its prologue, and programmatic dependent
// launch; both made the 1.1B and 7B decode slower.)
#ifndef OCTET_CUDA_DECODE_CUH
#define OCTET_CUDA_DECODE_CUH
#include "kernels.cuh"

// Weights are read once per token: keep them out of L1.
__device__ __forceinline__ int4 ld_stream(const int8_t *p) {
    int4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.s32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

enum { PRO_NORM, PRO_ATTN, PRO_QUANT };   // where the GEMV's input comes from
enum { EPI_STORE, EPI_SWIGLU, EPI_ARGMAX };  // what it does with its dot products

struct dec_args {
    dmat w;
    // PRO_NORM: RMSNorm(x) * g; with embd.n set, x is the embedding row of token step[1],
    // which block 0 also writes to x_out (the residual stream).
    const float *x, *g;
    float *x_out;
    dmat embd;
    const int32_t *step;
    float eps;
    // PRO_ATTN: merge of the attention splits (part_o / part_ml, as k_attention writes them).
    const float *part_o;
    const float2 *part_ml;
    int n_heads, hd, n_split, span;   // (step[0] is the position: splits past it are empty)
    // PRO_QUANT: int8 input with one scale per 32.
    const int8_t *xq;
    const float *xs;
    // EPI_STORE / EPI_ARGMAX: y = scale * dot (+ bias), added to y when accumulate.
    float *y;
    const float *bias;
    int accumulate;
    // EPI_SWIGLU: rows come in groups of 64 (32 gate rows, then the 32 matching up rows); the
    // 32 values silu(gate) * up of a group are quantized into hq / hs (one scale).
    int8_t *hq;
    float *hs;
    // EPI_ARGMAX: the best (logit, lowest id) packed for atomicMax; reset by the first kernel.
    unsigned long long *best;
    unsigned long long *best_reset;
};

// Fills sq (kp int8) and ss (kp/32 scales) with this token's quantized input. The f32 input is
// first gathered into shared memory (sx, k floats) with independent loads in flight, then
// quantized per 32 from there: the prologue costs a few memory latencies, not one per block.
// Shared scratch: 2 * kp floats (PRO_ATTN: kp + n_heads * (2 * n_split + 1)).
template <int PRO, int NT>
__device__ void dec_prologue(const dec_args &a, int8_t *sq, float *ss, float *scratch) {
    const int kp = a.w.kp, nb = kp / QBLOCK, k = a.w.k, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (PRO == PRO_QUANT) {
#pragma unroll 4
        for (int i = threadIdx.x; i < kp / 16; i += NT) ((int4 *)sq)[i] = ((const int4 *)a.xq)[i];
        for (int i = threadIdx.x; i < nb; i += NT) ss[i] = a.xs[i];
        return;
    }
    float *sx = scratch, *sg = scratch + kp;
    float inv = 1.0f;
    if (PRO == PRO_NORM) {
        __shared__ double redd[NT / 32];
        double s2 = 0;
        if (a.embd.n) {
            int tok = a.step[1];
            for (int i = threadIdx.x; i < k; i += NT) {
                float v = a.embd.q8 ? (float)a.embd.q[(size_t)tok * a.embd.kp + i] * a.embd.s[tok] : __half2float(a.embd.h[(size_t)tok * a.embd.kp + i]);
                sx[i] = v;
                sg[i] = a.g[i];
                s2 += (double)v * v;
                if (a.x_out && blockIdx.x == 0) a.x_out[i] = v;
            }
        } else {
#pragma unroll 4
            for (int i = threadIdx.x; i < k / 4; i += NT) {
                float4 v = ((const float4 *)a.x)[i], g = ((const float4 *)a.g)[i];
                ((float4 *)sx)[i] = v;
                ((float4 *)sg)[i] = g;
                s2 += (double)v.x * v.x + (double)v.y * v.y + (double)v.z * v.z + (double)v.w * v.w;
            }
        }
        s2 = warp_sum_d(s2);
        if (lane == 0) redd[warp] = s2;
        __syncthreads();
        double t = 0;
        for (int w = 0; w < NT / 32; w++) t += redd[w];
        inv = (float)(1.0 / sqrt(t / k + a.eps));
    } else {
        // PRO_ATTN: weight of split sp of head h is exp(m_sp - M) (0 for an empty split); the
        // value is the weighted sum of the split outputs over the weighted sum of their sums.
        // Only the splits up to the current position hold anything (a.step[0]: the position).
        const int ns = a.n_split, nh = a.n_heads, used = min(ns, a.step[0] / a.span + 1);
        float *f = scratch + kp, *L = f + nh * ns, *ls = L + nh;
        for (int i = threadIdx.x; i < nh * ns; i += NT) {
            float2 v = i % ns < used ? a.part_ml[i] : make_float2(-INFINITY, 0.0f);
            f[i] = v.x; ls[i] = v.y;
        }
        __syncthreads();
        for (int h = warp; h < nh; h += NT / 32) {
            float M = -INFINITY;
            for (int sp = lane; sp < ns; sp += 32) M = fmaxf(M, f[h * ns + sp]);
            M = warp_max(M);
            float l = 0;
            for (int sp = lane; sp < ns; sp += 32) {
                float e = ls[h * ns + sp] == 0.0f ? 0.0f : expf(f[h * ns + sp] - M);
                l += ls[h * ns + sp] * e;
                f[h * ns + sp] = e;
            }
            l = warp_sum(l);
            if (lane == 0) L[h] = l;
        }
        __syncthreads();
        // Splits outside, values inside: one memory latency per split in use, not per value.
        for (int i = threadIdx.x; i < k; i += NT) sx[i] = 0.0f;
        for (int sp = 0; sp < used; sp++) {
#pragma unroll 8
            for (int i = threadIdx.x; i < k; i += NT) {
                int h = i / a.hd, d = i % a.hd;
                float fw = f[h * ns + sp];
                if (fw != 0.0f) sx[i] = __fmaf_rn(a.part_o[((size_t)h * ns + sp) * a.hd + d], fw, sx[i]);
            }
        }
        for (int i = threadIdx.x; i < k; i += NT) sx[i] = sx[i] / L[i / a.hd];
    }
    __syncthreads();
#pragma unroll 4
    for (int b = warp; b < nb; b += NT / 32) {
        int i = b * QBLOCK + lane;
        float v = i >= k ? 0.0f : PRO == PRO_NORM ? __fmul_rn(__fmul_rn(sx[i], inv), sg[i]) : sx[i];
        quant_block_warp(v, b, sq, ss);
    }
}

// Dot products of two weight rows with the quantized input in shared memory (one warp).
__device__ __forceinline__ void dot_rows2(const int8_t *ra, const int8_t *rb, const int8_t *sq, const float *ss, int nb, float &va, float &vb) {
    int lane = threadIdx.x & 31;
    float acc_a = 0, acc_b = 0;
#pragma unroll 4
    for (int b = lane; b < nb; b += 32) {
        int4 a0 = ld_stream(ra + b * QBLOCK), a1 = ld_stream(ra + b * QBLOCK + 16);
        int4 b0 = ld_stream(rb + b * QBLOCK), b1 = ld_stream(rb + b * QBLOCK + 16);
        const int4 *xp = (const int4 *)(sq + b * QBLOCK);
        int4 x0 = xp[0], x1 = xp[1];
        float s = ss[b];
        acc_a = __fmaf_rn(i2f_small(dot32(x0, x1, a0, a1)), s, acc_a);
        acc_b = __fmaf_rn(i2f_small(dot32(x0, x1, b0, b1)), s, acc_b);
    }
    va = warp_sum(acc_a);
    vb = warp_sum(acc_b);
}

// One token times W. The grid is only as large as fits on the GPU at once: each block
// quantizes the input once (the prologue) and then loops over groups of NT / 32 * RPW rows,
// each warp RPW rows (an even number, two at a time). Dynamic shared memory: dec_smem()
// in backend.cu.
template <int PRO, int EPI, int NT, int RPW>
__global__ void __launch_bounds__(NT) k_dec_gemv(const dec_args a) {
    extern __shared__ __align__(16) unsigned char dsm[];
    const int kp = a.w.kp, nb = kp / QBLOCK, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int8_t *sq = (int8_t *)dsm;
    float *ss = (float *)(dsm + kp), *scratch = (float *)(dsm + kp + (nb * 4 + 15) / 16 * 16);
    const int rows = NT / 32 * RPW, n_groups = (a.w.n + rows - 1) / rows;
    if (a.best_reset && blockIdx.x == 0 && threadIdx.x == 0) *a.best_reset = 0;
    dec_prologue<PRO, NT>(a, sq, ss, scratch);
    __syncthreads();
    if (EPI == EPI_SWIGLU) {
        // A group is 64 rows (32 gate, 32 up); warp w makes values w*RPW/2 .. of its 32 outputs.
        __shared__ float hv[32];
        for (int grp = blockIdx.x; grp < n_groups; grp += gridDim.x) {
            for (int j = 0; j < RPW / 2; j++) {
                int hl = warp * (RPW / 2) + j, rg = grp * rows + hl, ru = rg + 32;
                float g, u;
                dot_rows2(a.w.q + (size_t)rg * kp, a.w.q + (size_t)ru * kp, sq, ss, nb, g, u);
                if (lane == 0) {
                    g = __fmul_rn(a.w.s[rg], g);
                    u = __fmul_rn(a.w.s[ru], u);
                    hv[hl] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
                }
            }
            __syncthreads();
            if (warp == 0) quant_block_warp(hv[lane], grp, a.hq, a.hs);
            __syncthreads();
        }
        return;
    }
    unsigned long long best = 0;
    for (int grp = blockIdx.x; grp < n_groups; grp += gridDim.x)
        for (int j = 0; j < RPW; j += 2) {
            int ra = grp * rows + warp * RPW + j, rb = ra + 1;
            bool oka = ra < a.w.n, okb = rb < a.w.n;
            float va, vb;
            dot_rows2(a.w.q + (size_t)(oka ? ra : 0) * kp, a.w.q + (size_t)(okb ? rb : 0) * kp, sq, ss, nb, va, vb);
            if (lane == 0) {
                if (oka) {
                    float v = __fmul_rn(a.w.s[ra], va);
                    store_out(a.y + ra, v, a.bias, ra, a.accumulate);
                    if (EPI == EPI_ARGMAX) best = max(best, argmax_key(v, ra));
                }
                if (okb) {
                    float v = __fmul_rn(a.w.s[rb], vb);
                    store_out(a.y + rb, v, a.bias, rb, a.accumulate);
                    if (EPI == EPI_ARGMAX) best = max(best, argmax_key(v, rb));
                }
            }
        }
    if (EPI == EPI_ARGMAX) {  // (the LM head: no bias, no accumulation)
        __shared__ unsigned long long bb[NT / 32];
        if (lane == 0) bb[warp] = best;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < NT / 32; w++) best = max(best, bb[w]);
            atomicMax(a.best, best);
        }
    }
}

// The token id of a packed argmax key; the key is reset for the next step.
__global__ void k_argmax_unpack(unsigned long long *best, int32_t *out) {
    pdl_wait();
    *out = 0x7fffffff - (int)(unsigned)(atomicExch(best, 0ull) & 0xffffffffu);
}

// Decode attention for one token at position step[0]: block (head, split) rotates its q (and,
// in the split holding the new position, the new k), reads earlier positions from the cache,
// and the first head of each KV group stores the new k/v there. Writes the split's
// unnormalised output and (max, sum) for the merge in the o-projection's prologue. Dynamic
// shared memory: 2 * hd + span + rope_dim / 2 * 2 + 4 * hd floats.
template <typename KV>
__device__ void attn_dec_split(const float *__restrict__ qkv, const int32_t *__restrict__ step, const float *__restrict__ inv_freq,
                               int rope_dim, int neox, int n_heads, int n_kv, int hd, int span, int n_split,
                               KV *__restrict__ kc, KV *__restrict__ vc, float *__restrict__ part_o, float2 *__restrict__ part_ml) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    int h = blockIdx.x, sp = blockIdx.y, group = n_heads / n_kv, kvh = h / group, kvd = n_kv * hd, dim = n_heads * hd;
    int last = step[0], start = sp * span, end = min(start + span, last + 1), half = rope_dim / 2;
    size_t part = (size_t)h * n_split + sp;
    if (start > last) {
        if (threadIdx.x == 0) part_ml[part] = make_float2(-INFINITY, 0.0f);
        return;
    }
    bool has_last = end == last + 1;
    float *q = sm, *kl = q + hd, *sc = kl + hd, *cs = sc + span, *sn = cs + half, *acc = sn + half;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double ang = (double)last * inv_freq[i];
        cs[i] = (float)cos(ang);
        sn[i] = (float)sin(ang);
    }
    const float *qs = qkv + h * hd, *ks = qkv + dim + kvh * hd, *vs = qkv + dim + kvd + kvh * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) { q[i] = qs[i]; kl[i] = ks[i]; }
    __syncthreads();
    for (int p = threadIdx.x; p < 2 * half; p += blockDim.x) {  // p < half: q, else k
        int i = p % half;
        float *vec = p < half ? q : kl;
        int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        float x0 = vec[i0], x1 = vec[i1];
        vec[i0] = __fsub_rn(__fmul_rn(x0, cs[i]), __fmul_rn(x1, sn[i]));
        vec[i1] = __fadd_rn(__fmul_rn(x0, sn[i]), __fmul_rn(x1, cs[i]));
    }
    __syncthreads();
    if (has_last && h % group == 0)
        for (int i = threadIdx.x; i < hd; i += blockDim.x) {
            kc[(size_t)last * kvd + kvh * hd + i] = (KV)kl[i];
            vc[(size_t)last * kvd + kvh * hd + i] = (KV)vs[i];
        }
    score_span(q, kc + kvh * hd, kvd, hd, start, end, last, kl, sc);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    float mx, sum;
    span_softmax(sc, end - start, red, &mx, &sum);
    // Each warp sums every nw-th position; lanes cover the head's dimensions.
    for (int d = l; d < hd; d += 32) {
        float o = 0;
        for (int p = start + w; p < end; p += nw) {
            float v = p == last ? to_f((KV)vs[d]) : to_f(vc[(size_t)p * kvd + kvh * hd + d]);
            o = __fmaf_rn(sc[p - start], v, o);
        }
        acc[w * hd + d] = o;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0;
        for (int j = 0; j < nw; j++) o = __fadd_rn(o, acc[j * hd + d]);
        part_o[part * hd + d] = o;
    }
    if (threadIdx.x == 0) part_ml[part] = make_float2(mx, sum);
}
template <typename KV>
__global__ void __launch_bounds__(128) k_attn_dec(const float *__restrict__ qkv, const int32_t *__restrict__ step, const float *__restrict__ inv_freq,
                                                  int rope_dim, int neox, int n_heads, int n_kv, int hd, int span, int n_split,
                                                  KV *__restrict__ kc, KV *__restrict__ vc, float *__restrict__ part_o, float2 *__restrict__ part_ml) {
    attn_dec_split(qkv, step, inv_freq, rope_dim, neox, n_heads, n_kv, hd, span, n_split, kc, vc, part_o, part_ml);
}

// Block of the last arrival among `expected` (tid 0 counts after a fence; the counter is reset
// by that block for the next launch). Whole block. Which block arrives last changes no result:
// it only decides who does a fixed computation on finished values. (Measured on an H100 and
// dropped: the same pattern in the GEMVs, the last block normalizing the residual or 16 blocks
// quantizing their SwiGLU outputs: the fence in every block cost more than the row kernels it
// replaced, 7B tg128 286 -> 253.)
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

// Decode GEMV streaming the weights: one token times W (per-32 activation scales), resident-size
// grid of 4-warp blocks. Warp w of W takes rows w, w + W, ... (rows_per_warp of them, chosen so
// that every warp has the same count): neighbouring warps read neighbouring rows, and while a warp
// sums one 4 KiB chunk of its rows the next chunk is already loading, so the per-row work (the
// warp reduction, the store, a block's launch) no longer leaves the memory idle. A warp's loads
// are contiguous (lane l: bytes 16 l + 512 u of the chunk), past L1; the input sits in shared
// memory (kp bytes, then kp / 32 scales). Each 32-value block's int32 dot (two lanes) is scaled
// as in k_gemv_dp4a. EPI_ARGMAX (the LM head) also packs the best (logit, lowest id) into *best.
#define STREAM_CHUNK 4096
template <int EPI>
__global__ void __launch_bounds__(128) k_gemv_stream(dmat w, const int8_t *__restrict__ xq, const float *__restrict__ xs, float *__restrict__ y, const float *__restrict__ bias,
                                                     int accumulate, int rows_per_warp, unsigned long long *best) {
    extern __shared__ __align__(16) unsigned char ssm[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wg = blockIdx.x * 4 + warp, W = gridDim.x * 4;
    const int kp = w.kp, nch = (kp + STREAM_CHUNK - 1) / STREAM_CHUNK;
    const int rows = wg < w.n ? min(rows_per_warp, (w.n - 1 - wg) / W + 1) : 0, total = rows * nch;
    int4 cur[8], nxt[8];
    auto load = [&](int4 *dst, int c) {
        const int8_t *p = w.q + (size_t)(wg + c / nch * W) * kp + (c % nch) * STREAM_CHUNK + lane * 16;
        const int left = kp - (c % nch) * STREAM_CHUNK - lane * 16;
#pragma unroll
        for (int u = 0; u < 8; u++) dst[u] = u * 512 < left ? ld_stream(p + u * 512) : make_int4(0, 0, 0, 0);
    };
    if (total) load(cur, 0);
    pdl_wait();
    int4 *sx = (int4 *)ssm;
    float *ss = (float *)(ssm + kp);
    for (int i = threadIdx.x; i < kp / 16; i += blockDim.x) sx[i] = __ldg((const int4 *)xq + i);
    for (int i = threadIdx.x; i < kp / QBLOCK; i += blockDim.x) ss[i] = __ldg(xs + i);
    __syncthreads();
    float acc = 0;
    unsigned long long bk = 0;
    for (int c = 0; c < total; c++) {
        if (c + 1 < total) load(nxt, c + 1);
        const int off = (c % nch) * STREAM_CHUNK + lane * 16;
#pragma unroll
        for (int u = 0; u < 8; u++) {
            const int o = off + u * 512;
            const bool in = o < kp;
            int d = 0;
            if (in) {
                int4 xv = sx[o / 16];
                d = __dp4a(cur[u].x, xv.x, d); d = __dp4a(cur[u].y, xv.y, d); d = __dp4a(cur[u].z, xv.z, d); d = __dp4a(cur[u].w, xv.w, d);
            }
            d += __shfl_xor_sync(0xffffffffu, d, 1);   // the other half of the 32-value block
            if (in && !(lane & 1)) acc = __fmaf_rn(i2f_small(d), ss[o / QBLOCK], acc);
        }
        if (c % nch == nch - 1) {
            float v = warp_sum(acc);
            acc = 0;
            const int row = wg + c / nch * W;
            if (lane == 0) {
                v = __fmul_rn(w.s[row], v);
                if (y) store_out(y + row, v, bias, row, accumulate);
                if (EPI == EPI_ARGMAX) bk = max(bk, argmax_key(v, row));
            }
        }
#pragma unroll
        for (int u = 0; u < 8; u++) cur[u] = nxt[u];
    }
    pdl_trigger();
    if (EPI == EPI_ARGMAX) {
        __shared__ unsigned long long bb[4];
        if (lane == 0) bb[warp] = bk;
        __syncthreads();
        if (threadIdx.x == 0) atomicMax(best, max(max(bb[0], bb[1]), max(bb[2], bb[3])));
    }
}

// One token's attention in one kernel instead of three (k_rope_store, k_attention,
// k_attn_combine): k_attn_dec, then the block arriving last among a head's splits in use merges
// them (in split order, as k_attn_combine does) and quantizes the head's values into q / s (hd a
// multiple of 32, one warp per 32 values). count: one per head.
template <typename KV>
__global__ void __launch_bounds__(128) k_attn_dec_merge(const float *__restrict__ qkv, const int32_t *__restrict__ step, const float *__restrict__ inv_freq,
                                                        int rope_dim, int neox, int n_heads, int n_kv, int hd, int span, int n_split,
                                                        KV *__restrict__ kc, KV *__restrict__ vc, float *part_o, float2 *part_ml, unsigned *count,
                                                        int8_t *__restrict__ q, float *__restrict__ s) {
    pdl_start();
    attn_dec_split(qkv, step, inv_freq, rope_dim, neox, n_heads, n_kv, hd, span, n_split, kc, vc, part_o, part_ml);
    const int h = blockIdx.x, used = min(n_split, step[0] / span + 1);
    if (blockIdx.y >= used || !arrived_last(count + h, used)) return;
    const size_t base = (size_t)h * n_split;
    float M = -INFINITY;
    for (int sp = 0; sp < used; sp++) M = fmaxf(M, __ldcg(&part_ml[base + sp].x));
    for (int d0 = 0; d0 < hd; d0 += blockDim.x) {
        int d = d0 + threadIdx.x;
        float L = 0, o = 0;
        for (int sp = 0; sp < used; sp++) {
            float2 ml = __ldcg(&part_ml[base + sp]);
            if (ml.y == 0.0f) continue;
            float f = expf(ml.x - M);
            L += ml.y * f;
            if (d < hd) o = __fmaf_rn(__ldcg(&part_o[(base + sp) * hd + d]), f, o);
        }
        if (d0 + (threadIdx.x & ~31) < hd) quant_block_warp(d < hd ? o / L : 0.0f, (h * hd + d) / QBLOCK, q, s);
    }
}
#endif
