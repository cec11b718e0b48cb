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

// Array values sit unaligned in the metadata: they are copied out, never dereferenced in place.
static int f32_array(const octet_file *f, const char *key, uint32_t n, float *out, int *found) {
    const octet_kv *kv = octet_file_kv(f, key);
    *found = kv != NULL;
    if (!kv) return 0;
    if (kv->type != OCTET_KV_ARR || kv->arr_type != OCTET_KV_F32 || kv->count != n) { octet_set_error("%s: %s must hold %u f32 values", f->path, key, n); return -1; }
    memcpy(out, kv->val, 4 * (size_t)n);
    for (uint32_t i = 0; i < n; i++)
        if (!(out[i] > 0 && out[i] < 1e9f)) { octet_set_error("%s: %s[%u] = %g is out of range", f->path, key, i, (double)out[i]); return -1; }
    return 0;
}

// One RoPE table: base theta, then the scaling the file names (models/FORMAT.md): linear,
// llama3, yarn or longrope, with the same formulas as transformers' modeling_rope_utils.
// An unknown scaling type is refused: guessing would give fluent garbage.
static int rope_table(octet_model *m, octet_rope_table *r, double theta, int scaled) {
    const octet_file *f = &m->file;
    const octet_hparams *hp = &m->hp;
    int half = (int)hp->rope_dim / 2, dim = (int)hp->rope_dim;
    uint64_t tn = 0;
    const char *type = scaled ? octet_kv_str(f, "model.rope_scaling_type", &tn) : NULL;
    char ty[32] = "none";
    if (type) snprintf(ty, sizeof ty, "%.*s", (int)(tn < 31 ? tn : 31), type);
    int linear = !strcmp(ty, "linear"), llama3 = !strcmp(ty, "llama3"), yarn = !strcmp(ty, "yarn"), longrope = !strcmp(ty, "longrope");
    if (!linear && !llama3 && !yarn && !longrope && strcmp(ty, "none") && strcmp(ty, "default")) {
        octet_set_error("%s: model.rope_scaling_type '%s' is not implemented (none, linear, llama3, yarn, longrope are)", f->path, ty);
        return -1;
    }
    float factor = octet_kv_f32(f, "model.rope_scaling_factor", 1.0f);
    if (!(factor >= 0 && factor <= 1e6f)) { octet_set_error("%s: model.rope_scaling_factor = %g is out of range", f->path, factor); return -1; }
    float lo = octet_kv_f32(f, "model.rope_scaling_low_freq", 1.0f), hi = octet_kv_f32(f, "model.rope_scaling_high_freq", 4.0f);
    double orig = octet_kv_u32(f, "model.rope_scaling_orig_ctx", 8192);
    if (llama3 && !(lo > 0 && hi > lo && hi < 1e6f)) { octet_set_error("%s: llama3 RoPE scaling needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", f->path, lo, hi); return -1; }
    if ((linear || llama3 || yarn) && !(factor > 0)) { octet_set_error("%s: %s RoPE scaling needs model.rope_scaling_factor > 0", f->path, ty); return -1; }
    r->mscale = (yarn || longrope) ? octet_kv_f32(f, "model.rope_attn_factor", 1.0f) : 1.0f;
    if (!(r->mscale > 0 && r->mscale < 100)) { octet_set_error("%s: model.rope_attn_factor = %g is out of range", f->path, r->mscale); return -1; }
    r->inv_freq = malloc((size_t)half * sizeof *r->inv_freq);
    r->inv_freq_long = longrope ? malloc((size_t)half * sizeof *r->inv_freq_long) : NULL;
    if (!r->inv_freq || (longrope && !r->inv_freq_long)) { octet_set_error("out of memory"); return -1; }
    // LongRoPE's factors are read into the tables first and turned into frequencies below.
    float *short_f = r->inv_freq, *long_f = r->inv_freq_long;
    if (longrope) {
        int has_short, has_long;
        if (f32_array(f, "model.rope_short_factors", (uint32_t)half, short_f, &has_short) ||
            f32_array(f, "model.rope_long_factors", (uint32_t)half, long_f, &has_long)) return -1;
        if (!has_short || !has_long) { octet_set_error("%s: longrope RoPE scaling needs model.rope_short_factors and model.rope_long_factors", f->path); return -1; }
    }
    double beta_fast = octet_kv_f32(f, "model.rope_yarn_beta_fast", 32), beta_slow = octet_kv_f32(f, "model.rope_yarn_beta_slow", 1);
    double ylo = 0, yhi = 0;
    if (yarn) {  // the dimensions between which YaRN blends interpolation into extrapolation
        ylo = dim * log(orig / (beta_fast * 2 * M_PI)) / (2 * log(theta));
        yhi = dim * log(orig / (beta_slow * 2 * M_PI)) / (2 * log(theta));
        if (octet_kv_bool(f, "model.rope_yarn_truncate", 1)) { ylo = floor(ylo); yhi = ceil(yhi); }
        if (ylo < 0) ylo = 0;
        if (yhi > dim - 1) yhi = dim - 1;
        if (ylo == yhi) yhi += 0.001;
    }
    r->long_after = longrope ? (uint32_t)orig : 0;
    const octet_tensor *rf = octet_file_tensor(f, "rope_freqs.weight");  // GGUF stores Llama-3 factors so
    for (int i = 0; i < half; i++) {
        double f0 = 1.0 / pow(theta, (2.0 * i) / dim), fr = f0;
        if (linear) fr = f0 / factor;
        if (llama3) {
            double wavelen = 2 * M_PI / f0, lo_w = orig / lo, hi_w = orig / hi;
            if (wavelen > lo_w) fr = f0 / factor;
            else if (wavelen >= hi_w) {
                double smooth = (orig / wavelen - lo) / (hi - lo);
                fr = (1 - smooth) * f0 / factor + smooth * f0;
            }
        }
        if (yarn) {
            double ramp = (i - ylo) / (yhi - ylo), extra = 1 - (ramp < 0 ? 0 : ramp > 1 ? 1 : ramp);
            fr = f0 / factor * (1 - extra) + f0 * extra;
        }
        if (longrope) { fr = f0 / short_f[i]; long_f[i] = (float)(f0 / long_f[i]); }
        if (scaled && rf && rf->dtype == OCTET_F32 && rf->rows * rf->cols == (uint64_t)half && !llama3) fr /= ((const float *)rf->data)[i];
        r->inv_freq[i] = (float)fr;
    }
    return 0;
}

// The facts of models/FORMAT.md beyond the Llama shape; each has the Llama value as its default.
static int read_facts(octet_model *m) {
    const octet_file *f = &m->file;
    octet_hparams *hp = &m->hp;
    uint64_t n = 0;
    const char *act = octet_kv_str(f, "model.ffn_act", &n);
    if (act && !(n == 4 && !memcmp(act, "silu", 4)) && !(n == 9 && !memcmp(act, "gelu_tanh", 9))) {
        octet_set_error("%s: model.ffn_act '%.*s' is not implemented (silu, gelu_tanh are)", f->path, (int)(n < 32 ? n : 32), act);
        return -1;
    }
    hp->ffn_gelu = act && n == 9;
    hp->embed_scale = octet_kv_f32(f, "model.embed_scale", 1.0f);
    hp->attn_scale = octet_kv_f32(f, "model.attn_scale", 1.0f / sqrtf((float)hp->head_dim));
    hp->attn_softcap = octet_kv_f32(f, "model.attn_softcap", 0.0f);
    hp->final_softcap = octet_kv_f32(f, "model.final_softcap", 0.0f);
    hp->sliding_window = octet_kv_u32(f, "model.sliding_window", 0);
    if (!(hp->embed_scale > 0 && hp->embed_scale < 1e6f) || !(hp->attn_scale > 0 && hp->attn_scale < 1e6f) ||
        !(hp->attn_softcap >= 0 && hp->attn_softcap < 1e6f) || !(hp->final_softcap >= 0 && hp->final_softcap < 1e6f)) {
        octet_set_error("%s: an embedding scale, attention scale or soft-cap is out of range", f->path);
        return -1;
    }
    // Which layers slide: model.sliding_layers (0/1 per layer); without it every layer when a
    // window is set (Mistral, Phi-3). Sliding layers may have a RoPE base of their own.
    const octet_kv *sl = octet_file_kv(f, "model.sliding_layers");
    if (sl && (sl->type != OCTET_KV_ARR || sl->arr_type != OCTET_KV_U32 || sl->count != hp->n_layers)) {
        octet_set_error("%s: model.sliding_layers must hold %u u32 values", f->path, hp->n_layers);
        return -1;
    }
    if (sl && !hp->sliding_window) { octet_set_error("%s: model.sliding_layers without model.sliding_window", f->path); return -1; }
    const octet_kv *swa_theta = octet_file_kv(f, "model.rope_theta_swa");
    float theta_swa = octet_kv_f32(f, "model.rope_theta_swa", hp->rope_theta);
    if (!(theta_swa > 0 && theta_swa <= 1e30f)) { octet_set_error("%s: model.rope_theta_swa = %g is out of range", f->path, theta_swa); return -1; }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        uint32_t v = 1;
        if (sl) memcpy(&v, sl->val + 4 * (size_t)l, 4);
        m->layers[l].sliding = hp->sliding_window && v != 0;
        m->layers[l].rope = m->layers[l].sliding && swa_theta ? 1 : 0;
    }
    if (rope_table(m, &m->rope[0], hp->rope_theta, 1) != 0) return -1;
    // Sliding layers' own base comes unscaled (Gemma 3: the local layers).
    if (swa_theta && rope_table(m, &m->rope[1], theta_swa, 0) != 0) return -1;
    return 0;
}

int octet_model_llama_shaped(const octet_model *m) {
    const octet_hparams *hp = &m->hp;
    const char *why = hp->ffn_gelu ? "a GELU feed-forward" : hp->embed_scale != 1.0f ? "scaled embeddings"
                    : hp->attn_scale != 1.0f / sqrtf((float)hp->head_dim) ? "an attention scale other than 1/sqrt(head_dim)"
                    : hp->attn_softcap > 0 || hp->final_softcap > 0 ? "soft-capping" : hp->sliding_window ? "sliding-window attention"
                    : hp->q_dim != hp->dim ? "heads wider than dim / n_heads" : m->rope[0].mscale != 1.0f || m->rope[0].inv_freq_long ? "YaRN or LongRoPE scaling"
                    : NULL;
    for (uint32_t l = 0; l < hp->n_layers && !why; l++) {
        const octet_layer *L = &m->layers[l];
        if (L->q_norm || L->k_norm) why = "q/k norms";
        else if (L->attn_post_norm || L->ffn_post_norm) why = "post-block norms";
    }
    if (!why) return 0;
    octet_set_error("%s: the model uses %s, which the CUDA backend does not run yet (use the CPU)", m->file.path, why);
    return -1;
}

int octet_model_load(octet_model *m, const char *path) { return octet_model_load_mode(m, path, 0); }

int octet_model_load_mode(octet_model *m, const char *path, int in_memory) {
    memset(m, 0, sizeof *m);
    double t0 = octet_time_ms();
    if (octet_file_open_mode(&m->file, path, in_memory) != 0) return -1;
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
    // Heads may be wider than dim / n_heads (Gemma 3, Qwen3): q is then n_heads * head_dim wide.
    hp->head_dim = octet_kv_u32(f, "model.head_dim", hp->dim / hp->n_heads);
    if (!hp->head_dim || hp->head_dim > 65536 || hp->head_dim % 2) { octet_set_error("%s: bad head dimension %u", path, hp->head_dim); goto fail; }
    hp->q_dim = hp->head_dim * hp->n_heads;
    hp->kv_dim = hp->head_dim * hp->n_kv_heads;
    hp->rope_dim = octet_kv_u32(f, "model.rope_dim", hp->head_dim);
    if (!hp->rope_dim || hp->rope_dim > hp->head_dim || hp->rope_dim % 2 || !hp->context_length) { octet_set_error("%s: bad RoPE dimension %u", path, hp->rope_dim); goto fail; }
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
        T(wq, "attn_q.weight", hp->q_dim, hp->dim, 0);
        T(wk, "attn_k.weight", hp->kv_dim, hp->dim, 0);
        T(wv, "attn_v.weight", hp->kv_dim, hp->dim, 0);
        T(wo, "attn_output.weight", hp->dim, hp->q_dim, 0);
        T(bq, "attn_q.bias", hp->q_dim, 0, 1);
        T(bk, "attn_k.bias", hp->kv_dim, 0, 1);
        T(bv, "attn_v.bias", hp->kv_dim, 0, 1);
        T(ffn_norm, "ffn_norm.weight", hp->dim, 0, 0);
        T(w_gate, "ffn_gate.weight", hp->hidden_dim, hp->dim, 0);
        T(w_up, "ffn_up.weight", hp->hidden_dim, hp->dim, 0);
        T(w_down, "ffn_down.weight", hp->dim, hp->hidden_dim, 0);
        T(q_norm, "attn_q_norm.weight", hp->head_dim, 0, 1);
        T(k_norm, "attn_k_norm.weight", hp->head_dim, 0, 1);
        T(attn_post_norm, "post_attention_norm.weight", hp->dim, 0, 1);
        T(ffn_post_norm, "post_ffw_norm.weight", hp->dim, 0, 1);
#undef T
        if (!L->q_norm != !L->k_norm && !err) { octet_set_error("%s: layer %u has only one of attn_q_norm and attn_k_norm", path, l); err = 1; }
    }
    if (err) goto fail;
    if (read_facts(m) != 0) goto fail;
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
    for (int i = 0; i < 2; i++) { free(m->rope[i].inv_freq); free(m->rope[i].inv_freq_long); }
    octet_file_close(&m->file);
    memset(m, 0, sizeof *m);
}

int octet_model_block_sums(const octet_model *m, int marked_only) {
    for (uint64_t i = 0; i < m->file.n_tensors; i++) {
        octet_tensor *t = &m->file.tensors[i];  // the tensor table is heap memory the model owns
        if (marked_only && !t->act_asym) continue;
        if (octet_is_q8(t->dtype) && t->n_dims >= 2 && octet_tensor_block_sums(t) != 0) return -1;
    }
    return 0;
}

int octet_model_asym_marks(const octet_model *m) {
    for (uint64_t i = 0; i < m->file.n_tensors; i++)
        if (m->file.tensors[i].act_asym) return 1;
    return 0;
}
