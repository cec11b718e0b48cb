// GGUF v2/v3 reader: metadata to .octet keys, tensors dequantized to f32 on demand.
#include "conv_model.h"
#include "ggml_quants.h"
#include "util.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_U8, G_I8, G_U16, G_I16, G_U32, G_I32, G_F32, G_BOOL, G_STR, G_ARR, G_U64, G_I64, G_F64, G_NTYPES };
static const uint8_t g_size[G_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct { const char *key; uint64_t klen; uint32_t type, arr_type; uint64_t count; const uint8_t *val; } gkv;
typedef struct { const uint8_t *p, *end; const char *path; int err; } gcur;

static int gneed(gcur *c, uint64_t n, const char *what) {
    if (c->err) return 0;
    if ((uint64_t)(c->end - c->p) < n) { octet_set_error("%s: truncated GGUF file (%s runs past the end)", c->path, what); c->err = 1; return 0; }
    return 1;
}
static uint64_t g64(gcur *c, const char *w) { uint64_t v = 0; if (gneed(c, 8, w)) { memcpy(&v, c->p, 8); c->p += 8; } return v; }
static uint32_t g32(gcur *c, const char *w) { uint32_t v = 0; if (gneed(c, 4, w)) { memcpy(&v, c->p, 4); c->p += 4; } return v; }
static const char *gstr(gcur *c, uint64_t *len, const char *w) {
    *len = g64(c, w);
    if (!gneed(c, *len, w)) return NULL;
    const char *s = (const char *)c->p;
    c->p += *len;
    return s;
}

static void skip_scalar_or_str(gcur *c, uint32_t t, const char *w) {
    if (t == G_STR) { uint64_t n; gstr(c, &n, w); }
    else if (t < G_NTYPES && g_size[t]) { if (gneed(c, g_size[t], w)) c->p += g_size[t]; }
    else if (!c->err) { octet_set_error("%s: GGUF value '%s' has unknown type %u", c->path, w, t); c->err = 1; }
}

static const gkv *find(const gkv *kv, uint64_t n, const char *key) {
    size_t kl = strlen(key);
    for (uint64_t i = 0; i < n; i++)
        if (kv[i].klen == kl && memcmp(kv[i].key, key, kl) == 0) return &kv[i];
    return NULL;
}
// Numeric value of any integer/float/bool scalar; 1 when found.
static int num(const gkv *kv, uint64_t n, const char *key, double *out) {
    const gkv *k = find(kv, n, key);
    if (!k) return 0;
    const uint8_t *p = k->val;
    switch (k->type) {
    case G_U8: *out = *p; return 1;
    case G_I8: *out = (int8_t)*p; return 1;
    case G_BOOL: *out = *p != 0; return 1;
    case G_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 1; }
    case G_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 1; }
    case G_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 1; }
    case G_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 1; }
    case G_F32: { float v; memcpy(&v, p, 4); *out = v; return 1; }
    case G_U64: { uint64_t v; memcpy(&v, p, 8); *out = (double)v; return 1; }
    case G_I64: { int64_t v; memcpy(&v, p, 8); *out = (double)v; return 1; }
    case G_F64: { double v; memcpy(&v, p, 8); *out = v; return 1; }
    }
    return 0;
}
static const char *str(const gkv *kv, uint64_t n, const char *key, uint64_t *len) {
    const gkv *k = find(kv, n, key);
    if (!k || k->type != G_STR) return NULL;
    memcpy(len, k->val, 8);
    return (const char *)k->val + 8;
}

static int load_gguf_tensor(const conv_model *m, const conv_tensor *t, float *out) {
    (void)m;
    ggml_dequantize(t->src_type, t->src, out, conv_tensor_numel(t));
    return 0;
}

// Copies tokenizer arrays; returns -1 on a type mismatch.
static int copy_vocab(conv_model *m, const char *path, const gkv *kv, uint64_t n_kv, uint64_t *n_vocab) {
    const gkv *tok = find(kv, n_kv, "tokenizer.ggml.tokens");
    if (!tok) return 0;  // a model without a vocabulary is allowed (it cannot tokenize)
    if (tok->type != G_ARR || tok->arr_type != G_STR) { octet_set_error("%s: tokenizer.ggml.tokens is not a string array", path); return -1; }
    uint64_t n = tok->count;
    if (n == 0 || n > (1u << 24)) { octet_set_error("%s: vocabulary size %llu out of range", path, (unsigned long long)n); return -1; }
    *n_vocab = n;
    // One buffer for the tokens and then the merges (never realloc'd: realloc(p, 0) frees p).
    const gkv *mg = find(kv, n_kv, "tokenizer.ggml.merges");
    if (mg && (mg->type != G_ARR || mg->arr_type != G_STR)) { octet_set_error("%s: tokenizer.ggml.merges is not a string array", path); return -1; }
    uint64_t cap = mg && mg->count > n ? mg->count : n;
    const char **s = malloc(cap * sizeof *s);
    uint32_t *l = malloc(cap * sizeof *l);
    if (!s || !l) { free(s); free(l); octet_set_error("out of memory"); return -1; }
    const uint8_t *p = tok->val;
    for (uint64_t i = 0; i < n; i++) { uint64_t len; memcpy(&len, p, 8); s[i] = (const char *)p + 8; l[i] = (uint32_t)len; p += 8 + len; }
    octet_meta_arr_str(&m->meta, "tokenizer.tokens", n, s, l);

    if (mg) {
        p = mg->val;
        for (uint64_t i = 0; i < mg->count; i++) { uint64_t len; memcpy(&len, p, 8); s[i] = (const char *)p + 8; l[i] = (uint32_t)len; p += 8 + len; }
        octet_meta_arr_str(&m->meta, "tokenizer.merges", mg->count, s, l);
    }
    free(s); free(l);

    const gkv *sc = find(kv, n_kv, "tokenizer.ggml.scores");
    if (sc) {
        if (sc->type != G_ARR || sc->arr_type != G_F32 || sc->count != n) { octet_set_error("%s: tokenizer.ggml.scores must be %llu f32 values", path, (unsigned long long)n); return -1; }
        octet_meta_arr_f32(&m->meta, "tokenizer.scores", n, (const float *)sc->val);
    }
    const gkv *tt = find(kv, n_kv, "tokenizer.ggml.token_type");
    if (tt) {
        if (tt->type != G_ARR || (tt->arr_type != G_I32 && tt->arr_type != G_U32) || tt->count != n) { octet_set_error("%s: tokenizer.ggml.token_type must be %llu int32 values", path, (unsigned long long)n); return -1; }
        octet_meta_arr_i32(&m->meta, "tokenizer.token_type", n, (const int32_t *)tt->val);
    }
    uint64_t len;
    const char *model = str(kv, n_kv, "tokenizer.ggml.model", &len);
    int spm = model && len == 5 && memcmp(model, "llama", 5) == 0;
    int bpe = model && len == 4 && memcmp(model, "gpt2", 4) == 0;
    if (!spm && !bpe) { octet_set_error("%s: unsupported tokenizer model '%.*s' (llama and gpt2 are supported)", path, model ? (int)len : 4, model ? model : "none"); return -1; }
    octet_meta_cstr(&m->meta, "tokenizer.model", spm ? "spm" : "bpe");
    const char *pre = str(kv, n_kv, "tokenizer.ggml.pre", &len);
    if (pre) octet_meta_str(&m->meta, "tokenizer.pre", pre, len);
    else {
        // llama.cpp does the same (and warns): an older conversion that did not record it.
        if (bpe) fprintf(stderr, "octet: warning: %s has no tokenizer.ggml.pre: tokenizing with llama.cpp's default pre-tokenizer\n", path);
        octet_meta_cstr(&m->meta, "tokenizer.pre", "default");
    }
    static const struct { const char *g, *o; } ids[] = {
        {"tokenizer.ggml.bos_token_id", "tokenizer.bos_id"}, {"tokenizer.ggml.eos_token_id", "tokenizer.eos_id"},
        {"tokenizer.ggml.unknown_token_id", "tokenizer.unk_id"}, {"tokenizer.ggml.padding_token_id", "tokenizer.pad_id"},
        {"tokenizer.ggml.eot_token_id", "tokenizer.eot_id"},
    };
    for (unsigned i = 0; i < sizeof ids / sizeof *ids; i++) {
        double v;
        if (num(kv, n_kv, ids[i].g, &v)) {
            if (!(v >= 0 && v < (double)n) || v != floor(v)) { octet_set_error("%s: %s = %g is outside the vocabulary", path, ids[i].g, v); return -1; }
            octet_meta_i32(&m->meta, ids[i].o, (int32_t)v);
        }
    }
    double v;
    octet_meta_bool(&m->meta, "tokenizer.add_bos", num(kv, n_kv, "tokenizer.ggml.add_bos_token", &v) ? v != 0 : spm);
    octet_meta_bool(&m->meta, "tokenizer.add_eos", num(kv, n_kv, "tokenizer.ggml.add_eos_token", &v) ? v != 0 : 0);
    octet_meta_bool(&m->meta, "tokenizer.add_space_prefix", num(kv, n_kv, "tokenizer.ggml.add_space_prefix", &v) ? v != 0 : spm);
    const char *tmpl = str(kv, n_kv, "tokenizer.chat_template", &len);
    if (tmpl) conv_set_chat_template(m, tmpl, len);
    return 0;
}

// What llama.cpp's GGUF architectures fix rather than store (its src/llama-model.cpp): Gemma's
// scaled embeddings, GELU, attention scale and which layers slide (every other one in Gemma 2,
// five of six in Gemma 3, whose local layers turn at base 10000 unless the file says).
static int family_facts(conv_model *m, const char *path, const char *a, const gkv *kv, uint64_t n_kv, double head_dim) {
    (void)path;
    char key[128];
    double dim = 0, heads = 1, layers = 0, window = 0;
    snprintf(key, sizeof key, "%s.embedding_length", a); num(kv, n_kv, key, &dim);
    snprintf(key, sizeof key, "%s.attention.head_count", a); num(kv, n_kv, key, &heads);
    snprintf(key, sizeof key, "%s.block_count", a); num(kv, n_kv, key, &layers);
    snprintf(key, sizeof key, "%s.attention.sliding_window", a); num(kv, n_kv, key, &window);
    int g2 = !strcmp(a, "gemma2"), g3 = !strcmp(a, "gemma3");
    if (!g2 && !g3) return 0;
    if (!(dim >= 1 && dim <= 1e6 && heads >= 1 && layers >= 1 && layers <= 4096)) return 0;  // refused later as not runnable
    octet_meta_cstr(&m->meta, "model.ffn_act", "gelu_tanh");
    octet_meta_f32(&m->meta, "model.embed_scale", sqrtf((float)dim));
    if (!head_dim) head_dim = dim / heads;
    // The 27B models scale by dim / n_heads (their query_pre_attn_scalar), the others by head_dim.
    int big = (g2 && layers == 46) || (g3 && layers == 62);
    octet_meta_f32(&m->meta, "model.attn_scale", 1.0f / sqrtf((float)(big ? dim / heads : head_dim)));
    if (window >= 1) {
        uint32_t n = (uint32_t)layers, period = g2 ? 2 : 6, *sl = malloc(n * sizeof *sl);
        if (!sl) { octet_set_error("out of memory"); return -1; }
        for (uint32_t l = 0; l < n; l++) sl[l] = l % period < period - 1;
        octet_meta_arr_u32(&m->meta, "model.sliding_layers", n, sl);
        free(sl);
        snprintf(key, sizeof key, "%s.rope.freq_base_swa", a);
        if (g3 && !find(kv, n_kv, key)) octet_meta_f32(&m->meta, "model.rope_theta_swa", 10000.0f);
    }
    return 0;
}

static int copy_hparams(conv_model *m, const char *path, const gkv *kv, uint64_t n_kv, uint64_t n_vocab) {
    uint64_t alen;
    const char *arch = str(kv, n_kv, "general.architecture", &alen);
    if (!arch || alen == 0 || alen > 63) { octet_set_error("%s: missing general.architecture", path); return -1; }
    char a[64];
    memcpy(a, arch, alen); a[alen] = 0;
    octet_meta_cstr(&m->meta, "model.arch", a);
    memcpy(m->arch, a, alen + 1 < sizeof m->arch ? alen + 1 : sizeof m->arch - 1);
    uint64_t nlen;
    const char *name = str(kv, n_kv, "general.name", &nlen);
    if (name) octet_meta_str(&m->meta, "general.name", name, nlen);
    char key[128];
    static const struct { const char *g, *o; int f; } hp[] = {
        {"embedding_length", "model.dim", 0}, {"block_count", "model.n_layers", 0},
        {"attention.head_count", "model.n_heads", 0}, {"attention.head_count_kv", "model.n_kv_heads", 0},
        {"feed_forward_length", "model.hidden_dim", 0}, {"context_length", "model.context_length", 0},
        {"rope.dimension_count", "model.rope_dim", 0}, {"attention.layer_norm_rms_epsilon", "model.norm_eps", 1},
        {"rope.freq_base", "model.rope_theta", 1}, {"rope.scaling.factor", "model.rope_scaling_factor", 1},
        {"rope.scaling.original_context_length", "model.rope_scaling_orig_ctx", 0},
        {"attention.key_length", "model.head_dim", 0}, {"attention.sliding_window", "model.sliding_window", 0},
        {"attn_logit_softcapping", "model.attn_softcap", 1}, {"final_logit_softcapping", "model.final_softcap", 1},
        {"rope.freq_base_swa", "model.rope_theta_swa", 1}, {"rope.scaling.attn_factor", "model.rope_attn_factor", 1},
    };
    for (unsigned i = 0; i < sizeof hp / sizeof *hp; i++) {
        double v;
        snprintf(key, sizeof key, "%s.%s", a, hp[i].g);
        if (!num(kv, n_kv, key, &v)) continue;
        // Every value is checked before it is cast: NaN fails each comparison.
        if (hp[i].f) {
            if (!(fabs(v) <= FLT_MAX)) { octet_set_error("%s: %s = %g is not a finite number", path, key, v); return -1; }
            octet_meta_f32(&m->meta, hp[i].o, (float)v);
        } else {
            if (!(v >= 0 && v <= 4e9) || v != floor(v)) { octet_set_error("%s: %s = %g out of range", path, key, v); return -1; }
            octet_meta_u32(&m->meta, hp[i].o, (uint32_t)v);
        }
    }
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    uint64_t slen;
    const char *st = str(kv, n_kv, key, &slen);
    if (st) octet_meta_str(&m->meta, "model.rope_scaling_type", st, slen);
    double v, kl, vl;
    snprintf(key, sizeof key, "%s.attention.key_length", a);
    int has_kl = num(kv, n_kv, key, &kl);
    snprintf(key, sizeof key, "%s.attention.value_length", a);
    if (has_kl && num(kv, n_kv, key, &vl) && vl != kl) { octet_set_error("%s: key_length %g and value_length %g differ, which octet does not implement", path, kl, vl); return -1; }
    if (family_facts(m, path, a, kv, n_kv, has_kl ? kl : 0) != 0) return -1;
    snprintf(key, sizeof key, "%s.vocab_size", a);
    if (num(kv, n_kv, key, &v)) {
        if (!(v >= 1 && v <= (1u << 24)) || v != floor(v)) { octet_set_error("%s: %s = %g out of range", path, key, v); return -1; }
        octet_meta_u32(&m->meta, "model.vocab_size", (uint32_t)v);
    }
    else if (n_vocab) octet_meta_u32(&m->meta, "model.vocab_size", (uint32_t)n_vocab);
    // llama.cpp's converter permutes Llama Q/K rows into the interleaved-pair RoPE order;
    // Qwen2 (and other NeoX-style archs) are stored in the original rotate-half order.
    int neox = !strcmp(a, "qwen2") || !strcmp(a, "qwen3") || !strcmp(a, "phi3") || !strcmp(a, "gemma2") || !strcmp(a, "gemma3") ||
               !strcmp(a, "gptneox") || !strcmp(a, "starcoder2");
    octet_meta_cstr(&m->meta, "model.rope_style", neox ? "neox" : "interleaved");
    return 0;
}

static uint32_t meta_u32(const conv_model *m, const char *key, uint32_t def) {
    uint32_t type, v;
    const uint8_t *p = octet_meta_value(&m->meta, key, &type);
    if (!p || type != OCTET_KV_U32) return def;
    memcpy(&v, p, 4);
    return v;
}

// Phi-3 as llama.cpp writes it: q, k and v fused in attn_qkv, gate and up rows in one ffn_up,
// LongRoPE's factors as two tensors. The converter splits the matrices and moves the factors
// into the model description.
static int phi3_tensors(conv_model *m, const char *path) {
    uint32_t dim = meta_u32(m, "model.dim", 0), heads = meta_u32(m, "model.n_heads", 0), kv = meta_u32(m, "model.n_kv_heads", heads);
    uint32_t hidden = meta_u32(m, "model.hidden_dim", 0), hd = heads ? meta_u32(m, "model.head_dim", dim / heads) : 0;
    if (!dim || !heads || !hidden || !hd) return 0;  // refused later as not runnable
    for (unsigned l = 0; l < 4096; l++) {
        char name[64], q[64], k[64], v[64], g[64];
        snprintf(q, sizeof q, "blk.%u.attn_q.weight", l); snprintf(k, sizeof k, "blk.%u.attn_k.weight", l); snprintf(v, sizeof v, "blk.%u.attn_v.weight", l);
        snprintf(name, sizeof name, "blk.%u.attn_qkv.weight", l);
        const char *qkv[3] = {q, k, v};
        uint64_t rows[3] = {(uint64_t)heads * hd, (uint64_t)kv * hd, (uint64_t)kv * hd};
        if (!conv_find_tensor(m, name)) break;
        if (conv_split(m, name, 3, qkv, rows) != 0) return -1;
        snprintf(name, sizeof name, "blk.%u.ffn_up.weight", l);
        snprintf(g, sizeof g, "blk.%u.ffn_gate.weight", l);
        const conv_tensor *up = conv_find_tensor(m, name);
        if (up && !conv_find_tensor(m, g) && up->n_dims == 2 && up->dims[0] == 2ull * hidden) {
            const char *gu[2] = {g, name};
            uint64_t hr[2] = {hidden, hidden};
            if (conv_split(m, name, 2, gu, hr) != 0) return -1;
        }
    }
    const conv_tensor *fl = conv_find_tensor(m, "rope_factors_long.weight"), *fs = conv_find_tensor(m, "rope_factors_short.weight");
    if (!fl && !fs) return 0;
    if (!fl || !fs || conv_tensor_numel(fl) != conv_tensor_numel(fs) || conv_tensor_numel(fl) > 65536) {
        octet_set_error("%s: rope_factors_long and rope_factors_short must both be there, of one length", path);
        return -1;
    }
    uint64_t n = conv_tensor_numel(fl);
    float *f = malloc(2 * n * sizeof *f);
    if (!f) { octet_set_error("out of memory"); return -1; }
    int rc = fl->load(m, fl, f) == 0 && fs->load(m, fs, f + n) == 0 ? 0 : -1;
    uint32_t type;
    const uint8_t *st = octet_meta_value(&m->meta, "model.rope_scaling_type", &type);
    if (rc == 0 && st) {
        octet_set_error("%s: rope factor tensors with a rope.scaling.type: octet does not know how they combine", path);
        rc = -1;
    }
    if (rc == 0) {
        octet_meta_cstr(&m->meta, "model.rope_scaling_type", "longrope");
        octet_meta_arr_f32(&m->meta, "model.rope_long_factors", n, f);
        octet_meta_arr_f32(&m->meta, "model.rope_short_factors", n, f + n);
        conv_drop_tensor(m, "rope_factors_long.weight");
        conv_drop_tensor(m, "rope_factors_short.weight");
    }
    free(f);
    return rc;
}

int gguf_read(conv_model *m, const char *path) {
    size_t size;
    const uint8_t *map = conv_map_file(m, path, &size);
    if (!map) return -1;
    gcur c = {map, map + size, path, 0};
    if (size < 24 || memcmp(map, "GGUF", 4) != 0) { octet_set_error("%s: not a GGUF file (bad magic)", path); return -1; }
    c.p += 4;
    uint32_t version = g32(&c, "version");
    if (version != 2 && version != 3) { octet_set_error("%s: GGUF version %u not supported (2 and 3 are)", path, version); return -1; }
    uint64_t n_tensors = g64(&c, "tensor count"), n_kv = g64(&c, "metadata count");
    // Every kv takes at least 12 bytes and every tensor info at least 24.
    if (n_kv > size / 12 || n_tensors > size / 24) { octet_set_error("%s: GGUF counts (%llu keys, %llu tensors) exceed the file size", path, (unsigned long long)n_kv, (unsigned long long)n_tensors); return -1; }
    gkv *kv = calloc(n_kv ? n_kv : 1, sizeof *kv);
    if (!kv) { octet_set_error("out of memory"); return -1; }
    int rc = -1;
    for (uint64_t i = 0; i < n_kv && !c.err; i++) {
        kv[i].key = gstr(&c, &kv[i].klen, "metadata key");
        kv[i].type = g32(&c, "metadata type");
        if (c.err) break;
        kv[i].val = c.p;
        char kname[96];
        snprintf(kname, sizeof kname, "%.*s", (int)(kv[i].klen < 90 ? kv[i].klen : 90), kv[i].key);
        if (kv[i].type == G_ARR) {
            kv[i].arr_type = g32(&c, kname);
            kv[i].count = g64(&c, kname);
            if (c.err) break;
            kv[i].val = c.p;
            if (kv[i].arr_type == G_ARR || kv[i].arr_type >= G_NTYPES) { octet_set_error("%s: GGUF array '%s' has unsupported element type %u", path, kname, kv[i].arr_type); goto out; }
            if (kv[i].arr_type == G_STR) {
                if (kv[i].count > size / 8) { octet_set_error("%s: GGUF array '%s' claims %llu strings", path, kname, (unsigned long long)kv[i].count); goto out; }
                for (uint64_t j = 0; j < kv[i].count && !c.err; j++) skip_scalar_or_str(&c, G_STR, kname);
            } else {
                uint64_t bytes;
                if (!octet_mul_u64(kv[i].count, g_size[kv[i].arr_type], &bytes)) bytes = UINT64_MAX;
                if (gneed(&c, bytes, kname)) c.p += bytes;
            }
        } else skip_scalar_or_str(&c, kv[i].type, kname);
    }
    if (c.err) goto out;
    double align_d = 32;
    num(kv, n_kv, "general.alignment", &align_d);
    if (!(align_d >= 1 && align_d <= 65536)) { octet_set_error("%s: bad general.alignment %g", path, align_d); goto out; }
    uint64_t align = (uint64_t)align_d;
    if (align != align_d || (align & (align - 1))) { octet_set_error("%s: bad general.alignment %g", path, align_d); goto out; }

    uint64_t n_vocab = 0;
    if (copy_vocab(m, path, kv, n_kv, &n_vocab) != 0) goto out;
    if (copy_hparams(m, path, kv, n_kv, n_vocab) != 0) goto out;

    // Tensor infos; data offsets are checked once the data section start is known.
    uint64_t *offs = calloc(n_tensors ? n_tensors : 1, sizeof *offs), *sizes = calloc(n_tensors ? n_tensors : 1, sizeof *sizes);
    if (!offs || !sizes) { free(offs); free(sizes); octet_set_error("out of memory"); goto out; }
    for (uint64_t i = 0; i < n_tensors; i++) {
        uint64_t nl;
        const char *nm = gstr(&c, &nl, "tensor name");
        uint32_t nd = g32(&c, "tensor dims");
        if (c.err) break;
        char name[128];
        if (nl == 0 || nl >= sizeof name) { octet_set_error("%s: tensor %llu has a bad name length %llu", path, (unsigned long long)i, (unsigned long long)nl); c.err = 1; break; }
        memcpy(name, nm, nl); name[nl] = 0;
        if (nd < 1 || nd > 4) { octet_set_error("%s: tensor '%s' has %u dims", path, name, nd); c.err = 1; break; }
        uint64_t ne[4] = {1, 1, 1, 1}, dims[4], numel = 1;
        for (uint32_t d = 0; d < nd; d++) {
            ne[d] = g64(&c, name);
            if (!c.err && (ne[d] == 0 || ne[d] > (1ull << 40) || !octet_mul_u64(numel, ne[d], &numel))) { octet_set_error("%s: tensor '%s' has a bad dimension", path, name); c.err = 1; }
        }
        uint32_t type = g32(&c, name);
        offs[i] = g64(&c, name);
        if (c.err) break;
        uint32_t block, bytes;
        if (!ggml_type_geometry(type, &block, &bytes)) { octet_set_error("%s: tensor '%s' has unknown type %u", path, name, type); c.err = 1; break; }
        if (ne[0] % block) { octet_set_error("%s: tensor '%s' row of %llu is not a multiple of the %s block", path, name, (unsigned long long)ne[0], ggml_type_name(type)); c.err = 1; break; }
        if (!octet_mul_u64(numel / block, bytes, &sizes[i])) { octet_set_error("%s: tensor '%s' is too large", path, name); c.err = 1; break; }
        if (offs[i] % align) { octet_set_error("%s: tensor '%s' offset is not aligned", path, name); c.err = 1; break; }
        for (uint32_t d = 0; d < nd; d++) dims[d] = ne[nd - 1 - d];
        if (conv_find_tensor(m, name)) { octet_set_error("%s: duplicate tensor '%s'", path, name); c.err = 1; break; }
        conv_tensor *t = conv_add_tensor(m, name, nd, dims);
        if (!t) { c.err = 1; break; }
        t->src_type = type;
        t->load = load_gguf_tensor;
    }
    if (!c.err) {
        uint64_t data_start = ((uint64_t)(c.p - map) + align - 1) / align * align;
        for (uint64_t i = 0; i < n_tensors; i++) {
            conv_tensor *t = &m->t[i];
            if (data_start > size || offs[i] > size - data_start || sizes[i] > size - data_start - offs[i]) {
                octet_set_error("%s: tensor '%s' data lies past the end of the file (truncated?)", path, t->name);
                c.err = 1; break;
            }
            t->src = map + data_start + offs[i];
            if (!ggml_can_dequantize(t->src_type)) { octet_set_error("%s: tensor '%s' has type %s, which octet cannot convert yet", path, t->name, ggml_type_name(t->src_type)); c.err = 1; break; }
        }
    }
    free(offs); free(sizes);
    if (!c.err && !strcmp(m->arch, "phi3") && phi3_tensors(m, path) != 0) c.err = 1;
    if (!c.err) rc = 0;
out:
    free(kv);
    return rc;
}
