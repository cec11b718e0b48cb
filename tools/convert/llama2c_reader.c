// llama2.c checkpoints (legacy float32 layout and the version-1 "ak42" header) and the
// llama2.c tokenizer.bin format.
#include "conv_model.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_f32(const conv_model *m, const conv_tensor *t, float *out) {
    (void)m;
    memcpy(out, t->src, conv_tensor_numel(t) * 4);
    return 0;
}

int llama2c_read_tokenizer(conv_model *m, const char *path, uint32_t vocab_size) {
    size_t size;
    const uint8_t *p = conv_map_file(m, path, &size), *end;
    if (!p) return -1;
    end = p + size;
    if (size < 4) { octet_set_error("%s: too small for a llama2.c tokenizer", path); return -1; }
    int32_t max_len;
    memcpy(&max_len, p, 4);
    if (max_len <= 0 || max_len > 4096) { octet_set_error("%s: bad max token length %d (not a llama2.c tokenizer.bin?)", path, max_len); return -1; }
    p += 4;
    uint32_t cap = vocab_size ? vocab_size : 1024, n = 0;
    const char **s = malloc(cap * sizeof *s);
    uint32_t *l = malloc(cap * sizeof *l);
    float *score = malloc(cap * sizeof *score);
    int32_t *type = malloc(cap * sizeof *type);
    char *text = NULL;   // pieces rewritten with U+2581 for spaces
    size_t text_len = 0, text_cap = 0;
    size_t *off = malloc(cap * sizeof *off);
    int rc = -1;
    if (!s || !l || !score || !type || !off) goto oom;
    while (vocab_size ? n < vocab_size : p < end) {
        if (end - p < 8) { octet_set_error("%s: truncated at token %u (expected %u tokens)", path, n, vocab_size); goto out; }
        if (n == cap) {
            if (cap >= (1u << 24)) { octet_set_error("%s: too many tokens", path); goto out; }
            cap *= 2;
            void *a = realloc(s, cap * sizeof *s), *b = realloc(l, cap * sizeof *l), *c = realloc(score, cap * sizeof *score),
                 *d = realloc(type, cap * sizeof *type), *e = realloc(off, cap * sizeof *off);
            if (a) s = a;
            if (b) l = b;
            if (c) score = c;
            if (d) type = d;
            if (e) off = e;
            if (!a || !b || !c || !d || !e) goto oom;
        }
        int32_t len;
        memcpy(&score[n], p, 4);
        memcpy(&len, p + 4, 4);
        p += 8;
        if (len < 0 || len > max_len || end - p < len) { octet_set_error("%s: token %u has a bad length %d", path, n, len); goto out; }
        // llama2.c wrote BOS/EOS as "\n<s>\n" / "\n</s>\n" and spaces instead of U+2581.
        const char *src = (const char *)p;
        size_t slen = (size_t)len;
        if (n == 1 && slen == 5 && !memcmp(src, "\n<s>\n", 5)) { src = "<s>"; slen = 3; }
        if (n == 2 && slen == 6 && !memcmp(src, "\n</s>\n", 6)) { src = "</s>"; slen = 4; }
        if (text_len + slen * 3 > text_cap) {
            text_cap = (text_len + slen * 3) * 2 + 4096;
            char *t = realloc(text, text_cap);
            if (!t) goto oom;
            text = t;
        }
        off[n] = text_len;
        for (size_t i = 0; i < slen; i++) {
            if (src[i] == ' ') { memcpy(text + text_len, "\xE2\x96\x81", 3); text_len += 3; }
            else text[text_len++] = src[i];
        }
        l[n] = (uint32_t)(text_len - off[n]);
        unsigned b;
        char tail;
        type[n] = n == 0 ? 2 : (n == 1 || n == 2) ? 3 : (slen == 6 && sscanf(src, "<0x%2X%c", &b, &tail) == 2 && tail == '>') ? 6 : 1;
        p += len;
        n++;
    }
    if (n < 3) { octet_set_error("%s: only %u tokens", path, n); goto out; }
    for (uint32_t i = 0; i < n; i++) s[i] = text + off[i];
    conv_set_spm_vocab(m, n, s, l, score, type);
    rc = 0;
    goto out;
oom:
    octet_set_error("%s: out of memory", path);
out:
    free(s); free(l); free(score); free(type); free(off); free(text);
    return rc;
}

// Adds one tensor of `count` consecutive float32 values at *p, advancing *p.
static int take(conv_model *m, const uint8_t **p, const char *name, uint32_t nd, uint64_t d0, uint64_t d1) {
    uint64_t dims[2] = {d0, d1};
    conv_tensor *t = conv_add_tensor(m, name, nd, dims);
    if (!t) return -1;
    t->src = *p;
    t->load = load_f32;
    *p += conv_tensor_numel(t) * 4;
    return 0;
}

#define PER_LAYER(name_fmt, nd, d0, d1)                                        \
    for (int32_t l = 0; l < L; l++) {                                          \
        snprintf(name, sizeof name, name_fmt, l);                              \
        if (take(m, &p, name, nd, d0, d1)) return -1;                          \
    }

int llama2c_read(conv_model *m, const char *path, const char *tokenizer_path) {
    size_t size;
    const uint8_t *base = conv_map_file(m, path, &size);
    if (!base) return -1;
    int32_t h[7];
    int version = 0, shared = 1;
    size_t header = 28;
    uint32_t magic = 0;
    if (size >= 4) memcpy(&magic, base, 4);
    if (magic == 0x616b3432) {  // "ak42"
        int32_t v;
        if (size < 256) { octet_set_error("%s: truncated llama2.c header", path); return -1; }
        memcpy(&v, base + 4, 4);
        if (v != 1) { octet_set_error("%s: llama2.c checkpoint version %d not supported (0 and 1 are)", path, v); return -1; }
        memcpy(h, base + 8, 28);
        shared = base[36] != 0;
        version = 1;
        header = 256;
    } else {
        if (size < 28) { octet_set_error("%s: too small for a llama2.c checkpoint", path); return -1; }
        memcpy(h, base, 28);
        if (h[5] < 0) { shared = 0; h[5] = -h[5]; }
    }
    int32_t dim = h[0], hidden = h[1], L = h[2], nh = h[3], nkv = h[4], vocab = h[5], seq = h[6];
    if (dim <= 0 || dim > 65536 || hidden <= 0 || hidden > 262144 || L <= 0 || L > 1024 || nh <= 0 || nh > dim ||
        nkv <= 0 || nkv > nh || vocab <= 0 || vocab > (1 << 24) || seq <= 0 || seq > (1 << 24) || dim % nh || nh % nkv || (dim / nh) % 2) {
        octet_set_error("%s: implausible llama2.c header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq %d)", path, dim, hidden, L, nh, nkv, vocab, seq);
        return -1;
    }
    uint64_t hs = (uint64_t)dim / nh, kv = hs * nkv;
    uint64_t per_layer = 2ull * dim + (uint64_t)dim * dim * 2 + 2ull * dim * kv + 3ull * dim * hidden;
    uint64_t floats = per_layer * L + (uint64_t)vocab * dim + dim + (shared ? 0 : (uint64_t)vocab * dim);
    if (version == 0) floats += (uint64_t)seq * hs;  // freq_cis_real + freq_cis_imag (seq * hs/2 each)
    if (size != header + floats * 4) {
        octet_set_error("%s: size %zu does not match its header (%llu bytes expected; truncated or not llama2.c?)", path, size, (unsigned long long)(header + floats * 4));
        return -1;
    }
    const uint8_t *p = base + header;
    char name[64];
    if (version == 0) {
        if (take(m, &p, "token_embd.weight", 2, vocab, dim)) return -1;
        PER_LAYER("blk.%d.attn_norm.weight", 1, dim, 0)
        PER_LAYER("blk.%d.attn_q.weight", 2, dim, dim)
        PER_LAYER("blk.%d.attn_k.weight", 2, kv, dim)
        PER_LAYER("blk.%d.attn_v.weight", 2, kv, dim)
        PER_LAYER("blk.%d.attn_output.weight", 2, dim, dim)
        PER_LAYER("blk.%d.ffn_norm.weight", 1, dim, 0)
        PER_LAYER("blk.%d.ffn_gate.weight", 2, hidden, dim)
        PER_LAYER("blk.%d.ffn_down.weight", 2, dim, hidden)
        PER_LAYER("blk.%d.ffn_up.weight", 2, hidden, dim)
        if (take(m, &p, "output_norm.weight", 1, dim, 0)) return -1;
        p += (uint64_t)seq * hs * 4;  // RoPE tables: computed at run time instead
    } else {
        PER_LAYER("blk.%d.attn_norm.weight", 1, dim, 0)
        PER_LAYER("blk.%d.ffn_norm.weight", 1, dim, 0)
        if (take(m, &p, "output_norm.weight", 1, dim, 0)) return -1;
        if (take(m, &p, "token_embd.weight", 2, vocab, dim)) return -1;
        PER_LAYER("blk.%d.attn_q.weight", 2, dim, dim)
        PER_LAYER("blk.%d.attn_k.weight", 2, kv, dim)
        PER_LAYER("blk.%d.attn_v.weight", 2, kv, dim)
        PER_LAYER("blk.%d.attn_output.weight", 2, dim, dim)
        PER_LAYER("blk.%d.ffn_gate.weight", 2, hidden, dim)
        PER_LAYER("blk.%d.ffn_down.weight", 2, dim, hidden)
        PER_LAYER("blk.%d.ffn_up.weight", 2, hidden, dim)
    }
    if (!shared && take(m, &p, "output.weight", 2, vocab, dim)) return -1;

    octet_meta_cstr(&m->meta, "model.arch", "llama");
    snprintf(m->arch, sizeof m->arch, "llama");
    octet_meta_u32(&m->meta, "model.dim", (uint32_t)dim);
    octet_meta_u32(&m->meta, "model.hidden_dim", (uint32_t)hidden);
    octet_meta_u32(&m->meta, "model.n_layers", (uint32_t)L);
    octet_meta_u32(&m->meta, "model.n_heads", (uint32_t)nh);
    octet_meta_u32(&m->meta, "model.n_kv_heads", (uint32_t)nkv);
    octet_meta_u32(&m->meta, "model.vocab_size", (uint32_t)vocab);
    octet_meta_u32(&m->meta, "model.context_length", (uint32_t)seq);
    octet_meta_u32(&m->meta, "model.rope_dim", (uint32_t)hs);
    octet_meta_f32(&m->meta, "model.rope_theta", 10000.0f);
    octet_meta_f32(&m->meta, "model.norm_eps", 1e-5f);
    octet_meta_cstr(&m->meta, "model.rope_style", "interleaved");  // llama2.c rotates adjacent pairs
    return llama2c_read_tokenizer(m, tokenizer_path, (uint32_t)vocab);
}
