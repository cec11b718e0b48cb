#include "model.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Finds a tensor and checks its shape ([rows, cols], cols == 0 for a vector of `rows`).
static const octet_tensor *need(const octet_model *m, const char *name, uint64_t rows, uint64_t cols, int optional, int *err) {
    const octet_tensor *t = octet_file_tensor(&m->file, name);
    if (!t) {
        if (!optional && !*err) { octet_set_error("%s: missing tensor '%s'", m->file.path, name); *err = 1; }
        return NULL;
    }
    int ok = cols ? (t->n_dims == 2 && t->dims[0] == rows && t->dims[1] == cols) : (t->n_dims == 1 && t->dims[0] == rows && t->dtype == OCTET_F32);
    if (!ok && !*err) {
        octet_set_error("%s: tensor '%s' has shape %llux%llu (%s), expected %llux%llu", m->file.path, name, (unsigned long long)t->dims[0],
                        (unsigned long long)(t->n_dims > 1 ? t->dims[1] : 1), octet_dtype_name(t->dtype), (unsigned long long)rows, (unsigned long long)(cols ? cols : 1));
        *err = 1;
    }
    return t;
}

static int str_is(const octet_file *f, const char *key, const char *want) {
    uint64_t n;
    const char *s = octet_kv_str(f, key, &n);
    return s && n == strlen(want) && !memcmp(s, want, n);
}

// Frequencies per rotated pair, with linear or Llama-3 scaling as the metadata says.
static int rope_frequencies(octet_model *m) {
    octet_hparams *hp = &m->hp;
    int half = (int)hp->rope_dim / 2;
    m->rope_inv_freq = malloc((size_t)half * sizeof *m->rope_inv_freq);
    if (!m->rope_inv_freq) { octet_set_error("out of memory"); return -1; }
    float factor = octet_kv_f32(&m->file, "model.rope_scaling_factor", 1.0f);
    if (!(factor >= 0 && factor <= 1e6f)) { octet_set_error("%s: model.rope_scaling_factor = %g is out of range", m->file.path, factor); return -1; }
    int linear = str_is(&m->file, "model.rope_scaling_type", "linear"), llama3 = str_is(&m->file, "model.rope_scaling_type", "llama3");
    float lo = octet_kv_f32(&m->file, "model.rope_scaling_low_freq", 1.0f), hi = octet_kv_f32(&m->file, "model.rope_scaling_high_freq", 4.0f);
    float orig = (float)octet_kv_u32(&m->file, "model.rope_scaling_orig_ctx", 8192);
    if (llama3 && !(lo > 0 && hi > lo && hi < 1e6f)) { octet_set_error("%s: llama3 RoPE scaling needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", m->file.path, lo, hi); return -1; }
    const octet_tensor *rf = octet_file_tensor(&m->file, "rope_freqs.weight");  // GGUF stores Llama-3 factors so
    for (int i = 0; i < half; i++) {
        double f = 1.0 / pow(hp->rope_theta, (2.0 * i) / hp->rope_dim);
        if (linear && factor > 0) f /= factor;
        if (llama3 && factor > 0) {
            double wavelen = 2 * M_PI / f, lo_w = orig / lo, hi_w = orig / hi;
            if (wavelen > lo_w) f /= factor;
            else if (wavelen >= hi_w) {
                double smooth = (orig / wavelen - lo) / (hi - lo);
                f = (1 - smooth) * f / factor + smooth * f;
            }
        }
        if (rf && rf->dtype == OCTET_F32 && rf->rows * rf->cols == (uint64_t)half && !llama3) f /= ((const float *)rf->data)[i];
        m->rope_inv_freq[i] = (float)f;
    }
    return 0;
}

int octet_model_load(octet_model *m, const char *path) {
    memset(m, 0, sizeof *m);
    double t0 = octet_time_ms();
    if (octet_file_open(&m->file, path) != 0) return -1;
    octet_file *f = &m->file;
    octet_hparams *hp = &m->hp;
    hp->dim = octet_kv_u32(f, "model.dim", 0);
    hp->n_layers = octet_kv_u32(f, "model.n_layers", 0);
    hp->n_heads = octet_kv_u32(f, "model.n_heads", 0);
    hp->n_kv_heads = octet_kv_u32(f, "model.n_kv_heads", hp->n_heads);
    hp->hidden_dim = octet_kv_u32(f, "model.hidden_dim", 0);
    hp->context_length = octet_kv_u32(f, "model.context_length", 2048);
    hp->norm_eps = octet_kv_f32(f, "model.norm_eps", 1e-5f);
    hp->rope_theta = octet_kv_f32(f, "model.rope_theta", 10000.0f);
    hp->rope_neox = str_is(f, "model.rope_style", "neox");
    if (!hp->dim || !hp->n_layers || !hp->n_heads || !hp->hidden_dim || hp->n_layers > 4096 || hp->dim % hp->n_heads ||
        !hp->n_kv_heads || hp->n_heads % hp->n_kv_heads) {
        octet_set_error("%s: not a runnable model (dim %u, layers %u, heads %u/%u, ffn %u)", path, hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->hidden_dim);
        goto fail;
    }
    // NaN fails every comparison, so each float is checked as a range that must hold.
    if (!(hp->norm_eps >= 0 && hp->norm_eps < 1)) { octet_set_error("%s: model.norm_eps = %g is not a usable epsilon", path, hp->norm_eps); goto fail; }
    if (!(hp->rope_theta > 0 && hp->rope_theta <= 1e30f)) { octet_set_error("%s: model.rope_theta = %g is not a usable RoPE base", path, hp->rope_theta); goto fail; }
    hp->head_dim = hp->dim / hp->n_heads;
    hp->kv_dim = hp->head_dim * hp->n_kv_heads;
    hp->rope_dim = octet_kv_u32(f, "model.rope_dim", hp->head_dim);
    if (hp->rope_dim > hp->head_dim || hp->rope_dim % 2 || !hp->context_length) { octet_set_error("%s: bad RoPE dimension %u", path, hp->rope_dim); goto fail; }
    int err = 0;
    m->tok_embd = octet_file_tensor(f, "token_embd.weight");
    if (!m->tok_embd || m->tok_embd->n_dims != 2 || m->tok_embd->dims[1] != hp->dim) { octet_set_error("%s: missing or malformed token_embd.weight", path); goto fail; }
    hp->vocab_size = (uint32_t)m->tok_embd->dims[0];
    m->output_norm = need(m, "output_norm.weight", hp->dim, 0, 0, &err);
    m->output = need(m, "output.weight", hp->vocab_size, hp->dim, 1, &err);
    if (!m->output) m->output = m->tok_embd;
    m->layers = calloc(hp->n_layers, sizeof *m->layers);
    if (!m->layers) { octet_set_error("out of memory"); goto fail; }
    for (uint32_t l = 0; l < hp->n_layers && !err; l++) {
        octet_layer *L = &m->layers[l];
        char nm[64];
#define T(field, suffix, r, c, opt) (snprintf(nm, sizeof nm, "blk.%u." suffix, l), L->field = need(m, nm, r, c, opt, &err))
        T(attn_norm, "attn_norm.weight", hp->dim, 0, 0);
        T(wq, "attn_q.weight", hp->dim, hp->dim, 0);
        T(wk, "attn_k.weight", hp->kv_dim, hp->dim, 0);
        T(wv, "attn_v.weight", hp->kv_dim, hp->dim, 0);
        T(wo, "attn_output.weight", hp->dim, hp->dim, 0);
        T(bq, "attn_q.bias", hp->dim, 0, 1);
        T(bk, "attn_k.bias", hp->kv_dim, 0, 1);
        T(bv, "attn_v.bias", hp->kv_dim, 0, 1);
        T(ffn_norm, "ffn_norm.weight", hp->dim, 0, 0);
        T(w_gate, "ffn_gate.weight", hp->hidden_dim, hp->dim, 0);
        T(w_up, "ffn_up.weight", hp->hidden_dim, hp->dim, 0);
        T(w_down, "ffn_down.weight", hp->dim, hp->hidden_dim, 0);
#undef T
    }
    if (err) goto fail;
    if (rope_frequencies(m) != 0) goto fail;
    if (octet_file_kv(f, "tokenizer.tokens")) {
        if (octet_tokenizer_load(&m->tok, f) != 0) goto fail;
        m->has_tokenizer = 1;
    }
    m->load_ms = octet_time_ms() - t0;
    return 0;
fail:
    octet_model_free(m);
    return -1;
}

void octet_model_free(octet_model *m) {
    if (m->has_tokenizer) octet_tokenizer_free(&m->tok);
    free(m->layers);
    free(m->rope_inv_freq);
    octet_file_close(&m->file);
    memset(m, 0, sizeof *m);
}

int octet_model_block_sums(const octet_model *m) {
    for (uint64_t i = 0; i < m->file.n_tensors; i++) {
        octet_tensor *t = &m->file.tensors[i];  // the tensor table is heap memory the model owns
        if (octet_is_q8(t->dtype) && t->n_dims >= 2 && octet_tensor_block_sums(t) != 0) return -1;
    }
    return 0;
}
