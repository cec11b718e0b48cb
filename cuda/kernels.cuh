// Device kernels of the CUDA backend. Integer arithmetic matches the CPU scalar reference
// exactly (int8 blocks of 32, int32 sums); float steps follow the CPU formulas, but sums are
// reduced across threads in another order, so f32 results agree within rounding.
#ifndef OCTET_CUDA_KERNELS_CUH
#define OCTET_CUDA_KERNELS_CUH
#include <cuda_fp16.h>
#include <stdint.h>

#define QBLOCK 32   // activation quantization block (and the padding unit of weight rows)

// A weight matrix on the device: n rows of kp (k rounded up to 32, zero padded) int8 with one
// f32 scale per row, or the same rows as f16 for unquantized tensors.
struct dmat {
    int n, k, kp, q8;
    int8_t *q;
    float *s;
    __half *h;
};

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
        float x = i < k ? v[i] : 0.0f;
        float amax = warp_max(fabsf(x));
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        q[i] = quant1(x, inv);
        if (l == 0) s[b] = amax / 127.0f;
    }
}

// x[t] = row tokens[t] of the embedding (q8 rows dequantized as the CPU does: q * scale).
__global__ void k_embed(dmat e, const int32_t *step, float *x, int dim) {
    int t = blockIdx.x, tok = step[1 + t];
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        x[(size_t)t * dim + i] = e.q8 ? (float)e.q[(size_t)tok * e.kp + i] * e.s[tok] : __half2float(e.h[(size_t)tok * e.kp + i]);
}

// RMSNorm of row blockIdx.x of x (stride ldx) into out (f32, stride dim) and, when q is set,
// its int8 quantization. Dynamic shared memory: dim floats.
__global__ void __launch_bounds__(1024) k_rmsnorm(const float *__restrict__ x, int ldx, const float *__restrict__ g, int dim, float eps, float *__restrict__ out,
                                                 int8_t *__restrict__ q, float *__restrict__ s, int kp, int row_mode) {
    extern __shared__ float row[];
    __shared__ float red[32];
    __shared__ double redd[32];
    const float *xr = x + (size_t)blockIdx.x * ldx;
    double ss = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += (double)xr[i] * xr[i];
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
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float y = __fmul_rn(__fmul_rn(xr[i], inv), g[i]);
        row[i] = y;
        if (out) out[(size_t)blockIdx.x * dim + i] = y;
    }
    __syncthreads();
    if (q) quantize_row_smem(row, dim, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
}

// Quantizes row blockIdx.x of x (k values, stride ldx). Dynamic shared memory: kp floats.
__global__ void __launch_bounds__(1024) k_quantize(const float *__restrict__ x, int ldx, int k, int kp, int row_mode, int8_t *__restrict__ q, float *__restrict__ s) {
    extern __shared__ float row[];
    __shared__ float red[32];
    for (int i = threadIdx.x; i < kp; i += blockDim.x) row[i] = i < k ? x[(size_t)blockIdx.x * ldx + i] : 0.0f;
    __syncthreads();
    quantize_row_smem(row, k, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
}

// h = silu(gate) * up for row blockIdx.x of gu ([gate | up], 2*hid wide; il: interleaved by
// groups of 32, see upload_mat), then quantized.
__global__ void __launch_bounds__(1024) k_swiglu(const float *__restrict__ gu, int hid, int il, float *__restrict__ out, int8_t *__restrict__ q, float *__restrict__ s, int kp, int row_mode) {
    extern __shared__ float row[];
    __shared__ float red[32];
    const float *r = gu + (size_t)blockIdx.x * 2 * hid;
    for (int i = threadIdx.x; i < hid; i += blockDim.x) {
        int gi = il ? i / QBLOCK * 2 * QBLOCK + i % QBLOCK : i, ui = il ? gi + QBLOCK : hid + i;
        float g = r[gi], u = r[ui];
        float y = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
        row[i] = y;
        if (out) out[(size_t)blockIdx.x * hid + i] = y;
    }
    __syncthreads();
    if (q) quantize_row_smem(row, hid, kp, row_mode, q + (size_t)blockIdx.x * kp, s + (size_t)blockIdx.x * (kp / QBLOCK), red);
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

// Decode GEMV with DP4A: one warp per weight row, each lane one 32-byte block (two 16-byte
// loads) per step; M tokens at once. I32: raw int32 sums (tests); else f32 with the scales.
template <int M, bool I32>
__global__ void __launch_bounds__(128) k_gemv_dp4a(dmat w, const int8_t *__restrict__ xq, const float *__restrict__ xs, float *__restrict__ y, int32_t *__restrict__ yi, int ldy,
                                                      const float *__restrict__ bias, int accumulate) {
    int row = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= w.n) return;
    int nb = w.kp / QBLOCK;
    const int8_t *wr = w.q + (size_t)row * w.kp;
    float acc[M];
    int iacc[M];
#pragma unroll
    for (int r = 0; r < M; r++) { acc[r] = 0; iacc[r] = 0; }
#pragma unroll 4
    for (int b = lane; b < nb; b += 32) {
        const int4 *wp = (const int4 *)(wr + b * QBLOCK);
        int4 w0 = __ldg(wp), w1 = __ldg(wp + 1);
#pragma unroll
        for (int r = 0; r < M; r++) {
            const int4 *xp = (const int4 *)(xq + (size_t)r * w.kp + b * QBLOCK);
            int d = dot32(__ldg(xp), __ldg(xp + 1), w0, w1);
            if (I32) iacc[r] += d;
            else acc[r] = __fmaf_rn(i2f_small(d), __ldg(xs + (size_t)r * nb + b), acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < M; r++) {
        if (I32) {
            int v = iacc[r];
            for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0) yi[(size_t)r * ldy + row] = v;
        } else {
            float v = warp_sum(acc[r]);
            if (lane == 0) store_out(y + (size_t)r * ldy + row, __fmul_rn(w.s[row], v), bias, row, accumulate);
        }
    }
}

// f16 weights (unquantized tensors) times f32 activations, f32 accumulation: one warp per row.
template <int M>
__global__ void __launch_bounds__(128) k_gemv_f16(dmat w, const float *x, int ldx, float *y, int ldy, const float *bias, int accumulate) {
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
#pragma unroll
    for (int r = 0; r < M; r++) {
        float v = warp_sum(acc[r]);
        if (lane == 0) store_out(y + (size_t)r * ldy + row, v, bias, row, accumulate);
    }
}

// ---- Prefill GEMM: INT8 tensor cores (mma.sync m16n8k32 s8*s8 -> s32) ----
// Block tile BM tokens x BN weight rows, k in steps of 32 (one activation scale block), a
// 3-stage cp.async pipeline. 4 warps in 2x2, each 32x32: 2 m16 tiles x 4 n8 tiles. Every
// 32-wide k step's int32 tile is scaled by its tokens' activation scales into f32 accumulators.
#define GM_BM 64
#define GM_BN 64
#define GM_STAGES 3
#define GM_LD 48    // shared row stride in bytes: 32 data + 16 pad, conflict-free fragment loads

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void mma_s8(int c[4], const int a[4], const int b[2], const int acc[4]) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
                 : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(acc[0]), "r"(acc[1]), "r"(acc[2]), "r"(acc[3]));
}

template <bool I32>
__global__ void __launch_bounds__(128) k_gemm_imma(dmat w, const int8_t *xq, const float *xs, int m, float *y, int32_t *yi, int ldy, const float *bias, int accumulate) {
    __shared__ __align__(16) int8_t As[GM_STAGES][GM_BM * GM_LD];
    __shared__ __align__(16) int8_t Bs[GM_STAGES][GM_BN * GM_LD];
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    int wm = warp >> 1, wn = warp & 1;
    int m0 = blockIdx.y * GM_BM, n0 = blockIdx.x * GM_BN, kp = w.kp, nb = kp / QBLOCK;
    // Each thread copies one 16-byte chunk of A and one of B per stage.
    int lr = tid >> 1, lc = (tid & 1) * 16;
    bool a_ok = m0 + lr < m, b_ok = n0 + lr < w.n;
    const int8_t *a_src = xq + (size_t)(a_ok ? m0 + lr : 0) * kp + lc;
    const int8_t *b_src = w.q + (size_t)(b_ok ? n0 + lr : 0) * kp + lc;
    auto load = [&](int stage, int kb) {
        cp_async16(&As[stage][lr * GM_LD + lc], a_src + kb * QBLOCK, a_ok);
        cp_async16(&Bs[stage][lr * GM_LD + lc], b_src + kb * QBLOCK, b_ok);
    };
    float acc[2][4][4];
    int iacc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) { acc[i][j][e] = 0; iacc[i][j][e] = 0; }
    // Rows of this thread's accumulators: (mt, half) -> token m0 + wm*32 + mt*16 + g + 8*half.
    int rows[2][2];
    for (int mt = 0; mt < 2; mt++)
        for (int hf = 0; hf < 2; hf++) {
            int r = m0 + wm * 32 + mt * 16 + g + 8 * hf;
            rows[mt][hf] = r < m ? r : m - 1;
        }
    for (int s = 0; s < GM_STAGES - 1; s++) {
        if (s < nb) load(s, s);
        cp_async_commit();
    }
    for (int kb = 0; kb < nb; kb++) {
        cp_async_wait<GM_STAGES - 2>();
        __syncthreads();
        if (kb + GM_STAGES - 1 < nb) load((kb + GM_STAGES - 1) % GM_STAGES, kb + GM_STAGES - 1);
        cp_async_commit();
        const int8_t *as = As[kb % GM_STAGES], *bs = Bs[kb % GM_STAGES];
        float sc[2][2];
        if (!I32)
            for (int mt = 0; mt < 2; mt++)
                for (int hf = 0; hf < 2; hf++) sc[mt][hf] = __ldg(xs + (size_t)rows[mt][hf] * nb + kb);
        int af[2][4], bf[4][2];
#pragma unroll
        for (int mt = 0; mt < 2; mt++) {
            int r = wm * 32 + mt * 16 + g;
            af[mt][0] = *(const int *)&as[r * GM_LD + t4 * 4];
            af[mt][1] = *(const int *)&as[(r + 8) * GM_LD + t4 * 4];
            af[mt][2] = *(const int *)&as[r * GM_LD + 16 + t4 * 4];
            af[mt][3] = *(const int *)&as[(r + 8) * GM_LD + 16 + t4 * 4];
        }
#pragma unroll
        for (int nt = 0; nt < 4; nt++) {
            int c = wn * 32 + nt * 8 + g;
            bf[nt][0] = *(const int *)&bs[c * GM_LD + t4 * 4];
            bf[nt][1] = *(const int *)&bs[c * GM_LD + 16 + t4 * 4];
        }
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
            for (int nt = 0; nt < 4; nt++) {
                if (I32) {
                    mma_s8(iacc[mt][nt], af[mt], bf[nt], iacc[mt][nt]);
                } else {
                    const int zero[4] = {0, 0, 0, 0};
                    int c[4];
                    mma_s8(c, af[mt], bf[nt], zero);
                    acc[mt][nt][0] = __fmaf_rn(i2f_small(c[0]), sc[mt][0], acc[mt][nt][0]);
                    acc[mt][nt][1] = __fmaf_rn(i2f_small(c[1]), sc[mt][0], acc[mt][nt][1]);
                    acc[mt][nt][2] = __fmaf_rn(i2f_small(c[2]), sc[mt][1], acc[mt][nt][2]);
                    acc[mt][nt][3] = __fmaf_rn(i2f_small(c[3]), sc[mt][1], acc[mt][nt][3]);
                }
            }
    }
    cp_async_wait<0>();
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int nt = 0; nt < 4; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = m0 + wm * 32 + mt * 16 + g + (e >= 2 ? 8 : 0), c = n0 + wn * 32 + nt * 8 + t4 * 2 + (e & 1);
                if (r >= m || c >= w.n) continue;
                if (I32) yi[(size_t)r * ldy + c] = iacc[mt][nt][e];
                else store_out(y + (size_t)r * ldy + c, __fmul_rn(w.s[c], acc[mt][nt][e]), bias, c, accumulate);
            }
}

// RoPE on q and k of row t of qkv ([q | k | v]), then k and v into the cache at pos + t.
// Angles in double as the CPU computes them.
template <typename KV>
__global__ void k_rope_store(float *__restrict__ qkv, int ld, const int32_t *__restrict__ step, const float *__restrict__ inv_freq, int n_heads, int n_kv,
                             int hd, int rope_dim, int neox, KV *__restrict__ kc, KV *__restrict__ vc) {
    __shared__ float cs[256], sn[256];  // one angle per rotated pair, shared by every head
    int t = blockIdx.x, pos = step[0] + t, half = rope_dim / 2, dim = n_heads * hd, kvd = n_kv * hd;
    float *q = qkv + (size_t)t * ld, *k = q + dim, *v = k + kvd;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double a = (double)pos * inv_freq[i];
        cs[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
    __syncthreads();
    int pairs = (n_heads + n_kv) * half;
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        int h = p / half, i = p % half;
        float *vec = h < n_heads ? q + h * hd : k + (h - n_heads) * hd;
        int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        float x0 = vec[i0], x1 = vec[i1];
        vec[i0] = __fsub_rn(__fmul_rn(x0, cs[i]), __fmul_rn(x1, sn[i]));
        vec[i1] = __fadd_rn(__fmul_rn(x0, sn[i]), __fmul_rn(x1, cs[i]));
    }
    __syncthreads();
    size_t off = (size_t)pos * kvd;
    for (int i = threadIdx.x; i < kvd; i += blockDim.x) {
        kc[off + i] = (KV)k[i];
        vc[off + i] = (KV)v[i];
    }
}

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }

// Flash-decoding attention: block (head, token, split) scores positions
// [split*span, min((split+1)*span, pos+t+1)) of its KV head, and writes the unnormalised
// output with its max and sum for k_attn_combine. Dynamic shared memory: (hd + span) floats.
template <typename KV>
__global__ void __launch_bounds__(128) k_attention(const float *qkv, int ld, const int32_t *step, const KV *kc, const KV *vc, int n_heads, int n_kv, int hd,
                                                   int span, int n_split, float *part_o, float2 *part_ml) {
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
    float scale = 1.0f / sqrtf((float)hd);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    for (int p = start + w; p < end; p += nw) {
        const KV *kr = kc + (size_t)p * kvd + kvh * hd;
        float d = 0;
        for (int i = l; i < hd; i += 32) d = __fmaf_rn(q[i], to_f(kr[i]), d);
        d = warp_sum(d);
        if (l == 0) sc[p - start] = d * scale;
    }
    __syncthreads();
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
    float amax = warp_max(fabsf(v));
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    int i = h * hd + d;
    q[(size_t)t * kp + i] = quant1(v, inv);
    if ((d & 31) == 0) s[(size_t)t * (kp / QBLOCK) + i / QBLOCK] = amax / 127.0f;
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
    __shared__ float bv[32];
    __shared__ int bi[32];
    float best = -INFINITY;
    int idx = 0x7fffffff;
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
