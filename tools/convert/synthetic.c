// Random-weight models of real shapes, for speed measurement only (`octet convert --synthetic`).
// Weights are uniform with the variance of a trained layer (1/cols), so activations keep a
// realistic range; the vocabulary is a SentencePiece-style table of byte tokens and fillers so
// that `octet run` works on them (and warns: general.synthetic is set).
#include "conv_model.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    uint32_t dim, hidden, layers, heads, kv_heads, vocab, ctx;
    float theta;
    int tied;
} synth_shape;

static const synth_shape shapes[] = {
    {"smollm2-135m", 576, 1536, 30, 9, 3, 49152, 8192, 100000.0f, 1},
    {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048, 10000.0f, 0},
    {"llama-7b", 4096, 11008, 32, 32, 32, 32000, 4096, 10000.0f, 0},
};

// splitmix64 seeded by the tensor's position: the same shape always gives the same bytes.
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int load_random(const conv_model *m, const conv_tensor *t, float *out) {
    uint64_t n = conv_tensor_numel(t), seed = (uint64_t)(t - m->t) * 0x1000193u + 17;
    if (t->n_dims == 1) {  // norm gains: around 1
        for (uint64_t i = 0; i < n; i++) out[i] = 1.0f + 0.1f * ((float)(mix(&seed) >> 40) / 16777216.0f - 0.5f);
        return 0;
    }
    float a = sqrtf(3.0f / (float)t->dims[t->n_dims - 1]);
    for (uint64_t i = 0; i < n; i++) out[i] = a * (2.0f * (float)(mix(&seed) >> 40) / 16777216.0f - 1.0f);
    return 0;
}

static int add(conv_model *m, const char *name, uint32_t n_dims, uint64_t d0, uint64_t d1) {
    uint64_t dims[2] = {d0, d1};
    conv_tensor *t = conv_add_tensor(m, name, n_dims, dims);
    if (!t) return -1;
    t->load = load_random;
    return 0;
}

// <unk>, <s>, </s>, 256 byte tokens, then filler pieces "▁s<i>" with descending scores.
static int synth_vocab(conv_model *m, uint32_t n) {
    const char **s = malloc(n * sizeof *s);
    uint32_t *l = malloc(n * sizeof *l);
    float *score = malloc(n * sizeof *score);
    int32_t *type = malloc(n * sizeof *type);
    char *text = malloc((size_t)n * 16);
    if (!s || !l || !score || !type || !text) { free(s); free(l); free(score); free(type); free(text); octet_set_error("out of memory"); return -1; }
    for (uint32_t i = 0; i < n; i++) {
        char *p = text + (size_t)i * 16;
        if (i < 3) { strcpy(p, i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>"); type[i] = i == 0 ? 2 : 3; }
        else if (i < 259) { snprintf(p, 16, "<0x%02X>", i - 3); type[i] = 6; }
        else { snprintf(p, 16, "\xE2\x96\x81s%u", i); type[i] = 1; }
        s[i] = p;
        l[i] = (uint32_t)strlen(p);
        score[i] = i < 259 ? 0.0f : -(float)i;
    }
    conv_set_spm_vocab(m, n, s, l, score, type);
    free(s); free(l); free(score); free(type); free(text);
    return 0;
}

const char *synthetic_shape_names(void) { return "smollm2-135m, tinyllama-1.1b, llama-7b"; }

int synthetic_read(conv_model *m, const char *shape) {
    const synth_shape *sh = NULL;
    for (unsigned i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(shapes[i].name, shape)) sh = &shapes[i];
    if (!sh) { octet_set_error("--synthetic: unknown shape '%s' (%s)", shape, synthetic_shape_names()); return -1; }
    uint32_t hd = sh->dim / sh->heads, kv = hd * sh->kv_heads;
    char name[64];
    if (add(m, "token_embd.weight", 2, sh->vocab, sh->dim)) return -1;
    for (uint32_t l = 0; l < sh->layers; l++) {
#define T(fmt, nd, a, b) snprintf(name, sizeof name, fmt, l); if (add(m, name, nd, a, b)) return -1;
        T("blk.%u.attn_norm.weight", 1, sh->dim, 0)
        T("blk.%u.attn_q.weight", 2, sh->dim, sh->dim)
        T("blk.%u.attn_k.weight", 2, kv, sh->dim)
        T("blk.%u.attn_v.weight", 2, kv, sh->dim)
        T("blk.%u.attn_output.weight", 2, sh->dim, sh->dim)
        T("blk.%u.ffn_norm.weight", 1, sh->dim, 0)
        T("blk.%u.ffn_gate.weight", 2, sh->hidden, sh->dim)
        T("blk.%u.ffn_up.weight", 2, sh->hidden, sh->dim)
        T("blk.%u.ffn_down.weight", 2, sh->dim, sh->hidden)
#undef T
    }
    if (add(m, "output_norm.weight", 1, sh->dim, 0)) return -1;
    if (!sh->tied && add(m, "output.weight", 2, sh->vocab, sh->dim)) return -1;
    snprintf(m->arch, sizeof m->arch, "llama");
    octet_meta_cstr(&m->meta, "model.arch", "llama");
    octet_meta_cstr(&m->meta, "general.name", shape);
    octet_meta_bool(&m->meta, "general.synthetic", 1);
    octet_meta_u32(&m->meta, "model.dim", sh->dim);
    octet_meta_u32(&m->meta, "model.hidden_dim", sh->hidden);
    octet_meta_u32(&m->meta, "model.n_layers", sh->layers);
    octet_meta_u32(&m->meta, "model.n_heads", sh->heads);
    octet_meta_u32(&m->meta, "model.n_kv_heads", sh->kv_heads);
    octet_meta_u32(&m->meta, "model.vocab_size", sh->vocab);
    octet_meta_u32(&m->meta, "model.context_length", sh->ctx);
    octet_meta_u32(&m->meta, "model.rope_dim", hd);
    octet_meta_f32(&m->meta, "model.rope_theta", sh->theta);
    octet_meta_f32(&m->meta, "model.norm_eps", 1e-5f);
    octet_meta_cstr(&m->meta, "model.rope_style", "interleaved");
    return synth_vocab(m, sh->vocab);
}
