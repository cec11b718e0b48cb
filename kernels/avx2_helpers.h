// 256-bit helpers shared by the x86 kernel sets (avx2.c, built once as AVX2 and once as AVX-VNNI,
// and avx512.c for its one-block tails). Included only inside those files' ISA guards.
#ifndef OCTET_AVX2_HELPERS_H
#define OCTET_AVX2_HELPERS_H
#include "set_helpers.h"
#include <immintrin.h>

static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// The max and min of 8 lanes (lanes combine in any order, as min and max of numbers do).
HOT float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
HOT float hmin8(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

// Eight 8-lane partial dots reduced to one vector whose lane j is the sum of d[j] (unpacks
// and adds: fewer micro-ops than a tree of hadds).
HOT __m256i fold2(__m256i x, __m256i y) {  // x and y folded to 4 lanes each, interleaved
    return _mm256_add_epi32(_mm256_unpacklo_epi32(x, y), _mm256_unpackhi_epi32(x, y));
}
HOT __m256i fold4(__m256i p, __m256i q) {  // four rows' sums per 128-bit half
    return _mm256_add_epi32(_mm256_unpacklo_epi64(p, q), _mm256_unpackhi_epi64(p, q));
}
HOT __m256i reduce8(const __m256i d[8]) {
    __m256i lo = fold4(fold2(d[0], d[1]), fold2(d[2], d[3])), hi = fold4(fold2(d[4], d[5]), fold2(d[6], d[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31));
}

// Lane j's row of the 8 lanes at p + j*ld, addressed from three bases to spare registers.
HOT void lane_rows(const int8_t *p, size_t ld, const int8_t *at[8]) {
    const int8_t *p3 = p + 3 * ld, *p4 = p + 4 * ld;
    at[0] = p; at[1] = p + ld; at[2] = p + 2 * ld; at[3] = p3;
    at[4] = p4; at[5] = p4 + ld; at[6] = p4 + 2 * ld; at[7] = p3 + 4 * ld;
}

// Decode streams 8 weight rows (w, ld apart) from memory, too short for the hardware prefetcher
// alone; every other block fetches 8 lines ahead into L2: of rows up to 4 KB, the bytes of the
// 8 rows `ahead` rows on, in address order (8 short streams run at half the speed of one); of
// longer rows, the same lines 8 rows on. (Into L2 rather than L1: 1.1B-shape decode 22.4 -> 23.9
// tok/s, SmolLM2 +6-14%, interleaved runs, 2 threads, Xeon, 2026-12-03.)
HOT void prefetch_rows(const int8_t *w, size_t ld, size_t ahead, int b) {
    if (b & 1) return;
    if (ld <= 4096) {
        const char *next = (const char *)w + ahead * ld + (size_t)b * 256;
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) _mm_prefetch(next + 64 * j, _MM_HINT_T1);
    } else _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) _mm_prefetch((const char *)w + (8 + j) * ld + (size_t)b * 32, _MM_HINT_T1);
}
// How far ahead: whole groups of 8 rows, at least 16 KB. One group (4.6 KB of SmolLM2's
// 576-byte rows) left a Zen 4 core's decode at 41% of its read probe, waiting on loads; 16 KB
// gave SmolLM2 q8 tg128 95 -> 129 tok/s on 1 thread, 155-177 -> 182-207 on 2 (interleaved, 2026-12-03).
// The 1.1B shape's 2 KB rows keep their one group (16 KB).
HOT size_t prefetch_ahead(size_t ld) { return ld ? (16384 + 8 * ld - 1) / (8 * ld) * 8 : 8; }

// Lane j's q8g32 block scale, and its weights' block sum, for block b. f32 scales of lanes one
// row apart gather; f16 scales and the sums come in tiles of 8 rows (one load).
HOT __m256 lane_sw(const octet_lanes8 *g, int b, __m256i idx, int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g->sw16 + b * 8)));  // f16 tile: eight rows' scales side by side
    return g->ldsw ? _mm256_i32gather_ps(g->sw + b, idx, 4) : _mm256_set1_ps(g->sw[b]);
}
HOT __m256 lane_S(const octet_lanes8 *g, int b) {   // (a tile: the 8 rows' sums side by side)
    if (!g->ldS) return _mm256_set1_ps((float)g->S[b * 8]);
    return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(g->S + b * 8))));
}

// Block b's term for the 8 lanes from their dots df, in one of set_helpers.h's modes:
// each lane's operations as the reference's, in its order (isw: lane j's offsets j*ldsw).
HOT __m256 block_term(const octet_lanes8 *g, int b, __m256 df, int mode, __m256i isw) {
    int half = mode & HALF;
    mode &= ~HALF;
    if (mode == Q8) return _mm256_mul_ps(_mm256_loadu_ps(g->sx + b * 8), df);
    if (mode == Q8_ASYM)
        return _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(g->sx + b * 8), df), _mm256_mul_ps(_mm256_loadu_ps(g->cx + b * 8), lane_S(g, b)));
    if (mode == G32_ROW) return _mm256_mul_ps(lane_sw(g, b, isw, half), df);
    if (mode == G32_ASYM) {
        __m256 sw = lane_sw(g, b, isw, half);
        return _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(g->sx + b * 8), sw), df),
                             _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(g->cx + b * 8), sw), lane_S(g, b)));
    }
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(g->sx + b * 8), lane_sw(g, b, isw, half)), df);
}
#endif
