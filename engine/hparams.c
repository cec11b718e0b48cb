// The model description's numbers (models/FORMAT.md, "model.*"): read, range-checked against each
// other and the limits the forward pass assumes, and turned into RoPE tables. The loader and the
// converter (octet_model_check_description) both come here, so a file the converter writes loads.
#include "model.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int str_is(const octet_file *f, const char *key, const char *want) {
    uint64_t n;
    const char *s = octet_kv_str(f, key, &n);
    return s && n == strlen(want) && !memcmp(s, want, n);
}

// A key present with another type than the one it is read as would be ignored in silence.
static int typed(const octet_file *f, const char *key, uint32_t type, const char *name) {
    const octet_kv *kv = octet_file_kv(f, key);
    if (!kv || kv->type == type) return 0;
    octet_set_error("%s: %s must be a %s", f->path, key, name);
    return -1;
}

// A u32 key that must lie in [lo, hi] (def when missing).
static int u32_in(const octet_file *f, const char *key, uint32_t def, uint32_t lo, uint32_t hi, uint32_t *out) {
    if (typed(f, key, OCTET_KV_U32, "u32")) return -1;
    *out = octet_kv_u32(f, key, def);
    if (*out >= lo && *out <= hi) return 0;
    octet_set_error("%s: %s = %u is out of range (%u..%u)", f->path, key, *out, lo, hi);
    return -1;
}

// An f32 key that must lie in [lo, hi) (def when missing); NaN fails every comparison.
static int f32_in(const octet_file *f, const char *key, float def, float lo, float hi, float *out) {
    if (typed(f, key, OCTET_KV_F32, "f32")) return -1;
    *out = octet_kv_f32(f, key, def);
    if (*out >= lo && *out < hi) return 0;
    octet_set_error("%s: %s = %g is out of range (%g up to %g)", f->path, key, (double)*out, (double)lo, (double)hi);
    return -1;
}

int octet_hparams_read(octet_model *m) {
    const octet_file *f = &m->file;
    octet_hparams *hp = &m->hp;
    const char *path = f->path;
    if (u32_in(f, "model.dim", 0, 1, OCTET_MAX_WIDTH, &hp->dim) || u32_in(f, "model.n_layers", 0, 1, OCTET_MAX_LAYERS, &hp->n_layers) ||
        u32_in(f, "model.n_heads", 0, 1, hp->dim, &hp->n_heads) || u32_in(f, "model.n_kv_heads", hp->n_heads, 1, hp->n_heads, &hp->n_kv_heads) ||
        u32_in(f, "model.hidden_dim", 0, 1, OCTET_MAX_WIDTH, &hp->hidden_dim) ||
        u32_in(f, "model.context_length", 2048, 1, OCTET_MAX_CONTEXT, &hp->context_length))
        return -1;
    if (hp->dim % hp->n_heads || hp->n_heads % hp->n_kv_heads) {
        octet_set_error("%s: not a runnable model (dim %u, heads %u/%u): heads must divide dim and kv heads the heads", path, hp->dim, hp->n_heads, hp->n_kv_heads);
        return -1;
    }
    if (f32_in(f, "model.norm_eps", 1e-5f, 0, 1, &hp->norm_eps)) return -1;
    // theta > 1: YaRN divides by log(theta), and a base below 1 is no RoPE anyone trained.
    if (typed(f, "model.rope_theta", OCTET_KV_F32, "f32") || typed(f, "model.rope_theta_swa", OCTET_KV_F32, "f32")) return -1;
    hp->rope_theta = octet_kv_f32(f, "model.rope_theta", 10000.0f);
    if (!(hp->rope_theta > 1 && hp->rope_theta <= 1e30f)) { octet_set_error("%s: model.rope_theta = %g is not a usable RoPE base (1 < theta <= 1e30)", path, (double)hp->rope_theta); return -1; }
    hp->rope_neox = str_is(f, "model.rope_style", "neox");
    if (octet_file_kv(f, "model.rope_style") && !hp->rope_neox && !str_is(f, "model.rope_style", "interleaved")) {
        octet_set_error("%s: model.rope_style is not implemented (interleaved, neox are)", path);
        return -1;
    }
    // Heads may be wider than dim / n_heads (Gemma 3, Qwen3): q is then n_heads * head_dim wide,
    // a product checked in 64 bits before it is stored in 32.
    if (u32_in(f, "model.head_dim", hp->dim / hp->n_heads, 2, OCTET_MAX_HEAD_DIM, &hp->head_dim)) return -1;
    if (hp->head_dim % 2) { octet_set_error("%s: model.head_dim = %u is odd (RoPE rotates pairs)", path, hp->head_dim); return -1; }
    uint64_t q_dim = (uint64_t)hp->head_dim * hp->n_heads, kv_dim = (uint64_t)hp->head_dim * hp->n_kv_heads;
    if (q_dim > OCTET_MAX_WIDTH) { octet_set_error("%s: %u heads of %u make q %llu wide (at most %u)", path, hp->n_heads, hp->head_dim, (unsigned long long)q_dim, OCTET_MAX_WIDTH); return -1; }
    hp->q_dim = (uint32_t)q_dim;
    hp->kv_dim = (uint32_t)kv_dim;
    if (u32_in(f, "model.rope_dim", hp->head_dim, 2, hp->head_dim, &hp->rope_dim)) return -1;
    if (hp->rope_dim % 2) { octet_set_error("%s: model.rope_dim = %u is odd (RoPE rotates pairs)", path, hp->rope_dim); return -1; }
    return 0;
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
    float factor, lo, hi, beta_fast, beta_slow;
    uint32_t orig;
    if (f32_in(f, "model.rope_scaling_factor", 1.0f, 0, 1e6f, &factor) ||
        f32_in(f, "model.rope_yarn_beta_fast", 32, 1e-6f, 1e6f, &beta_fast) || f32_in(f, "model.rope_yarn_beta_slow", 1, 1e-6f, 1e6f, &beta_slow) ||
        u32_in(f, "model.rope_scaling_orig_ctx", 8192, 1, OCTET_MAX_CONTEXT, &orig))
        return -1;
    if (typed(f, "model.rope_scaling_low_freq", OCTET_KV_F32, "f32") || typed(f, "model.rope_scaling_high_freq", OCTET_KV_F32, "f32")) return -1;
    lo = octet_kv_f32(f, "model.rope_scaling_low_freq", 1.0f);
    hi = octet_kv_f32(f, "model.rope_scaling_high_freq", 4.0f);
    if (llama3 && !(lo > 0 && hi > lo && hi < 1e6f)) { octet_set_error("%s: llama3 RoPE scaling needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", f->path, lo, hi); return -1; }
    if ((linear || llama3 || yarn) && !(factor > 0)) { octet_set_error("%s: %s RoPE scaling needs model.rope_scaling_factor > 0", f->path, ty); return -1; }
    r->mscale = 1.0f;
    if ((yarn || longrope) && f32_in(f, "model.rope_attn_factor", 1.0f, 1e-6f, 100, &r->mscale)) return -1;
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
    double ylo = 0, yhi = 0;
    if (yarn) {  // the dimensions between which YaRN blends interpolation into extrapolation
        ylo = dim * log(orig / (beta_fast * 2 * M_PI)) / (2 * log(theta));
        yhi = dim * log(orig / (beta_slow * 2 * M_PI)) / (2 * log(theta));
        if (octet_kv_bool(f, "model.rope_yarn_truncate", 1)) { ylo = floor(ylo); yhi = ceil(yhi); }
        if (ylo < 0) ylo = 0;
        if (yhi > dim - 1) yhi = dim - 1;
        if (ylo == yhi) yhi += 0.001;
    }
    r->long_after = longrope ? orig : 0;
    // GGUF stores Llama-3-style factors as a tensor (a checked description has no data yet).
    const octet_tensor *rf = octet_file_tensor(f, "rope_freqs.weight");
    const float *rfv = scaled && rf && rf->data && rf->dtype == OCTET_F32 && rf->rows * rf->cols == (uint64_t)half && !llama3 ? rf->data : NULL;
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
        if (rfv) {
            float d;
            memcpy(&d, rfv + i, 4);
            if (!(d > 0 && d < 1e9f)) { octet_set_error("%s: rope_freqs.weight[%d] = %g is out of range", f->path, i, (double)d); return -1; }
            fr /= d;
        }
        r->inv_freq[i] = (float)fr;
    }
    return 0;
}

int octet_hparams_read_facts(octet_model *m) {
    const octet_file *f = &m->file;
    octet_hparams *hp = &m->hp;
    uint64_t n = 0;
    const char *act = octet_kv_str(f, "model.ffn_act", &n);
    if (act && !(n == 4 && !memcmp(act, "silu", 4)) && !(n == 9 && !memcmp(act, "gelu_tanh", 9))) {
        octet_set_error("%s: model.ffn_act '%.*s' is not implemented (silu, gelu_tanh are)", f->path, (int)(n < 32 ? n : 32), act);
        return -1;
    }
    hp->ffn_gelu = act && n == 9;
    if (f32_in(f, "model.embed_scale", 1.0f, 1e-30f, 1e6f, &hp->embed_scale) ||
        f32_in(f, "model.attn_scale", 1.0f / sqrtf((float)hp->head_dim), 1e-30f, 1e6f, &hp->attn_scale) ||
        f32_in(f, "model.attn_softcap", 0.0f, 0, 1e6f, &hp->attn_softcap) || f32_in(f, "model.final_softcap", 0.0f, 0, 1e6f, &hp->final_softcap))
        return -1;
    // Any window is valid: one at or beyond the context drops nothing (the forward pass treats it
    // as no window), so 0 (none) is the only special value.
    if (u32_in(f, "model.sliding_window", 0, 0, UINT32_MAX, &hp->sliding_window)) return -1;
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
    if (!(theta_swa > 1 && theta_swa <= 1e30f)) { octet_set_error("%s: model.rope_theta_swa = %g is out of range (1 < theta <= 1e30)", f->path, theta_swa); return -1; }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        uint32_t v = 1;
        if (sl) memcpy(&v, sl->val + 4 * (size_t)l, 4);
        if (v > 1) { octet_set_error("%s: model.sliding_layers[%u] = %u (0: full attention, 1: sliding)", f->path, l, v); return -1; }
        m->layers[l].sliding = hp->sliding_window && v != 0;
        m->layers[l].rope = m->layers[l].sliding && swa_theta ? 1 : 0;
    }
    if (rope_table(m, &m->rope[0], hp->rope_theta, 1) != 0) return -1;
    // Sliding layers' own base comes unscaled (Gemma 3: the local layers).
    if (swa_theta && rope_table(m, &m->rope[1], theta_swa, 0) != 0) return -1;
    return 0;
}
