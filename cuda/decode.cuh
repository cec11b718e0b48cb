// The decode step's own kernels (one token): the streaming GEMV and the one-kernel attention,
// used by launch_chunk for a single token (the decode graph). Per layer eight kernels: RMSNorm,
// q|k|v, attention, o, RMSNorm, gate|up, SwiGLU, down. (Measured on an H100 and dropped: a
// step of five kernels whose GEMVs normalized their own input in a per-block prologue, SmolLM2
// tg128 961 vs 1093 tok/s, 7B 228 vs 284; the same five with the row work done by the last
// block of each GEMV instead, see arrived_last; an L2 bulk prefetch of each block's first rows.)
#ifndef OCTET_CUDA_DECODE_CUH
#define OCTET_CUDA_DECODE_CUH
#include "kernels.cuh"

// Weights are read once per token: keep them out of L1.
__device__ __forceinline__ int4 ld_stream(const int8_t *p) {
    int4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.s32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

enum { EPI_STORE, EPI_ARGMAX };  // what a decode GEMV does with its dot products

// The token id of a packed argmax key; the key is reset for the next step.
__global__ void k_argmax_unpack(unsigned long long *best, int32_t *out) {
    pdl_wait();
    *out = 0x7fffffff - (int)(unsigned)(atomicExch(best, 0ull) & 0xffffffffu);
}

// Decode attention for one token at position step[0]: block (head, split) rotates its q (and,
// in the split holding the new position, the new k), reads earlier positions from the cache,
// and the first head of each KV group stores the new k/v there. Writes the split's
// unnormalised output and (max, sum) for the merge (k_attn_dec_merge). Dynamic
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
// Decode GEMV streaming the weights: one token times W (per-32 activation scales), resident-size
// grid of 4-warp blocks. Warp w of W takes rows w, w + W, ... (rows_per_warp of them, chosen so
// that every warp has the same count): neighbouring warps read neighbouring rows, and while a warp
// sums one 4 KiB chunk of its rows the next chunk is already loading, so the per-row work (the
// warp reduction, the store, a block's launch) no longer leaves the memory idle. A warp's loads
// are contiguous (lane l: bytes 16 l + 512 u of the chunk), past L1; the input sits in shared
// memory (kp bytes, then kp / 32 scales). Each 32-value block's int32 dot (two lanes) is scaled
// as in k_gemv_dp4a; ROW (one activation scale per token, xs[0]): int32 over the whole row, then
// scaled once, k_gemv_dp4a's ROW formula. EPI_ARGMAX (the LM head) also packs the best (logit,
// lowest id) into *best. G (grouped weights, w.g): each block's term also times the block's
// weight scale (never with ROW: per-token activation scales are repeated in every block of xs).
#define STREAM_CHUNK 4096
template <int EPI, bool ROW = false, bool G = false>
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
    // The first chunk streams in while the previous kernel finishes. (Two chunks before the wait
    // measured slower on an H100: 7B tg128 284 -> 262, 1.1B 983 -> 899.)
    if (total) load(cur, 0);
    pdl_wait();
    int4 *sx = (int4 *)ssm;
    float *ss = (float *)(ssm + kp);
    for (int i = threadIdx.x; i < kp / 16; i += blockDim.x) sx[i] = __ldg((const int4 *)xq + i);
    for (int i = threadIdx.x; i < kp / QBLOCK; i += blockDim.x) ss[i] = __ldg(xs + i);
    __syncthreads();
    float acc = 0;
    int iacc = 0;
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
            if (ROW) {
                iacc += d;
                continue;
            }
            d += __shfl_xor_sync(0xffffffffu, d, 1);   // the other half of the 32-value block
            if (in && !(lane & 1)) {
                float sc = ss[o / QBLOCK];
                if (G) sc = __fmul_rn(sc, __ldg(w.g + (size_t)(wg + c / nch * W) * (kp / QBLOCK) + o / QBLOCK));
                acc = __fmaf_rn(i2f_small(d), sc, acc);
            }
        }
        if (c % nch == nch - 1) {
            float v = 0;
            if (ROW) {
                for (int sh = 16; sh; sh >>= 1) iacc += __shfl_xor_sync(0xffffffffu, iacc, sh);
                v = __fmul_rn(ss[0], (float)iacc);
            } else v = warp_sum(acc);
            acc = 0;
            iacc = 0;
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
