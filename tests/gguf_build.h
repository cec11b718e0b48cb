// Builds small GGUF v3 files in memory for tests and fuzz seeds: a tiny Llama with a byte-level
// vocabulary whose keys and values a test can change (a NaN hyperparameter, an empty merges
// array, an absurd alignment) to check the converter's refusals.
#ifndef OCTET_GGUF_BUILD_H
#define OCTET_GGUF_BUILD_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint8_t *p; size_t n, cap; uint64_t n_kv, n_t; } gguf_buf;

static inline void gb_put(gguf_buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void gb_u32(gguf_buf *b, uint32_t v) { gb_put(b, &v, 4); }
static inline void gb_u64(gguf_buf *b, uint64_t v) { gb_put(b, &v, 8); }
static inline void gb_str(gguf_buf *b, const char *s) { gb_u64(b, strlen(s)); gb_put(b, s, strlen(s)); }
// Metadata values (GGUF type ids: 4 u32, 6 f32, 8 string, 9 array, 12 f64).
static inline void gb_kv_u32(gguf_buf *b, const char *k, uint32_t v) { gb_str(b, k); gb_u32(b, 4); gb_u32(b, v); b->n_kv++; }
static inline void gb_kv_f32(gguf_buf *b, const char *k, float v) { gb_str(b, k); gb_u32(b, 6); gb_put(b, &v, 4); b->n_kv++; }
static inline void gb_kv_f64(gguf_buf *b, const char *k, double v) { gb_str(b, k); gb_u32(b, 12); gb_put(b, &v, 8); b->n_kv++; }
static inline void gb_kv_str(gguf_buf *b, const char *k, const char *v) { gb_str(b, k); gb_u32(b, 8); gb_str(b, v); b->n_kv++; }
static inline void gb_kv_strs(gguf_buf *b, const char *k, const char *const *v, uint64_t n) {
    gb_str(b, k); gb_u32(b, 9); gb_u32(b, 8); gb_u64(b, n);
    for (uint64_t i = 0; i < n; i++) gb_str(b, v[i]);
    b->n_kv++;
}

typedef struct {
    uint32_t dim, hidden, n_vocab;
    float eps, theta;          // written as f32 keys
    double alignment;          // 0: no general.alignment key; else written as f64
    int n_merges;              // -1: no merges key; 0: an empty array
    float poison;              // added to every weight (NaN or Inf poisons the file)
} gguf_llama;

static inline gguf_llama gguf_llama_default(void) { return (gguf_llama){8, 16, 300, 1e-5f, 10000.0f, 0, 2, 0}; }

// One layer, one head; the vocabulary: the 256 GPT-2 byte symbols (printable bytes as
// themselves, the rest as U+0100...), then "ab", "abc", then fillers. Returns the file size.
static inline size_t gguf_llama_write(const char *path, const gguf_llama *c) {
    gguf_buf kv = {0}, ti = {0}, data = {0};
    gb_kv_str(&kv, "general.architecture", "llama");
    gb_kv_u32(&kv, "llama.embedding_length", c->dim);
    gb_kv_u32(&kv, "llama.block_count", 1);
    gb_kv_u32(&kv, "llama.attention.head_count", 1);
    gb_kv_u32(&kv, "llama.feed_forward_length", c->hidden);
    gb_kv_u32(&kv, "llama.context_length", 64);
    gb_kv_f32(&kv, "llama.attention.layer_norm_rms_epsilon", c->eps);
    gb_kv_f32(&kv, "llama.rope.freq_base", c->theta);
    if (c->alignment != 0) gb_kv_f64(&kv, "general.alignment", c->alignment);
    char **tok = calloc(c->n_vocab, sizeof *tok);
    for (uint32_t i = 0; i < c->n_vocab; i++) {
        tok[i] = calloc(1, 16);
        if (i < 256) {
            unsigned cp = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174) ? i : i <= 32 ? 256 + i : i <= 160 ? 289 + (i - 127) : 323;
            if (cp < 0x80) tok[i][0] = (char)cp;
            else { tok[i][0] = (char)(0xC0 | (cp >> 6)); tok[i][1] = (char)(0x80 | (cp & 0x3F)); }
        } else if (i == 256) strcpy(tok[i], "ab");
        else if (i == 257) strcpy(tok[i], "abc");
        else snprintf(tok[i], 16, "<f%u>", i);
    }
    gb_kv_str(&kv, "tokenizer.ggml.model", "gpt2");
    gb_kv_str(&kv, "tokenizer.ggml.pre", "gpt-2");
    gb_kv_strs(&kv, "tokenizer.ggml.tokens", (const char *const *)tok, c->n_vocab);
    static const char *merges[] = {"a b", "ab c"};
    if (c->n_merges >= 0) gb_kv_strs(&kv, "tokenizer.ggml.merges", merges, (uint64_t)(c->n_merges < 2 ? c->n_merges : 2));
    gb_kv_u32(&kv, "tokenizer.ggml.eos_token_id", 258);
    for (uint32_t i = 0; i < c->n_vocab; i++) free(tok[i]);
    free(tok);

    uint64_t align = c->alignment >= 1 && c->alignment <= 65536 ? (uint64_t)c->alignment : 32;
    struct { const char *name; uint64_t rows, cols; } t[] = {
        {"token_embd.weight", c->n_vocab, c->dim}, {"output_norm.weight", 1, c->dim},
        {"blk.0.attn_norm.weight", 1, c->dim}, {"blk.0.attn_q.weight", c->dim, c->dim},
        {"blk.0.attn_k.weight", c->dim, c->dim}, {"blk.0.attn_v.weight", c->dim, c->dim},
        {"blk.0.attn_output.weight", c->dim, c->dim}, {"blk.0.ffn_norm.weight", 1, c->dim},
        {"blk.0.ffn_gate.weight", c->hidden, c->dim}, {"blk.0.ffn_up.weight", c->hidden, c->dim},
        {"blk.0.ffn_down.weight", c->dim, c->hidden},
    };
    uint32_t seed = 12345;
    for (unsigned i = 0; i < sizeof t / sizeof *t; i++) {
        while (data.n % align) { uint8_t z = 0; gb_put(&data, &z, 1); }
        gb_str(&ti, t[i].name);
        int vec = t[i].rows == 1;
        gb_u32(&ti, vec ? 1 : 2);
        gb_u64(&ti, t[i].cols);
        if (!vec) gb_u64(&ti, t[i].rows);
        gb_u32(&ti, 0);  // F32
        gb_u64(&ti, data.n);
        ti.n_t++;
        for (uint64_t j = 0; j < t[i].rows * t[i].cols; j++) {
            seed = seed * 1664525u + 1013904223u;
            float v = vec ? 1.0f : ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.5f;
            if (j == 3) v += c->poison;
            gb_put(&data, &v, 4);
        }
    }
    gguf_buf f = {0};
    gb_put(&f, "GGUF", 4);
    gb_u32(&f, 3);
    gb_u64(&f, ti.n_t);
    gb_u64(&f, kv.n_kv);
    gb_put(&f, kv.p, kv.n);
    gb_put(&f, ti.p, ti.n);
    while (f.n % align) { uint8_t z = 0; gb_put(&f, &z, 1); }
    gb_put(&f, data.p, data.n);
    FILE *fp = fopen(path, "wb");
    if (fp) { fwrite(f.p, 1, f.n, fp); fclose(fp); }
    size_t n = f.n;
    free(kv.p); free(ti.p); free(data.p); free(f.p);
    return n;
}
#endif
