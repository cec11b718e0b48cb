// Hugging Face model directories: config.json, tokenizer.json (+ tokenizer_config.json) and
// model.safetensors or sharded model-*.safetensors with model.safetensors.index.json.
#include "conv_model.h"
#include "model.h"
#include "json.h"
#include "safetensors.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static json *load_json(const char *dir, const char *file, int required) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t n;
    struct stat st;
    if (stat(path, &st) != 0) { if (required) octet_set_error("%s: missing (a Hugging Face directory needs config.json, tokenizer.json and *.safetensors)", path); return NULL; }
    if (!S_ISREG(st.st_mode)) { octet_set_error("%s: not a regular file", path); return NULL; }
    char *text = octet_read_file(path, &n);
    if (!text) return NULL;
    char err[160];
    json *j = json_parse(text, n, err, sizeof err);
    free(text);
    if (!j) octet_set_error("%s: invalid JSON: %s", path, err);
    else if (j->type != JSON_OBJECT) { octet_set_error("%s: expected a JSON object", path); json_free(j); j = NULL; }
    return j;
}

// ---- families ----
// What octet must know about a Hugging Face model_type beyond its config's numbers: everything
// else is read from config.json, and a key whose value octet does not implement is refused.
typedef struct {
    const char *model_type, *arch;
    int gemma;      // Gemma: RMSNorm gains stored as w for 1 + w, embeddings times sqrt(dim), a norm after each
                    // block (post_attention_layernorm is that, not the FFN's pre-norm), query_pre_attn_scalar
    int fused;      // Phi-3: qkv_proj and gate_up_proj
} hf_family;
static const hf_family FAMILIES[] = {
    {"llama", "llama", 0, 0}, {"mistral", "mistral", 0, 0}, {"qwen2", "qwen2", 0, 0}, {"qwen3", "qwen3", 0, 0},
    {"gemma2", "gemma2", 1, 0}, {"gemma3_text", "gemma3", 1, 0}, {"gemma3", "gemma3", 1, 0}, {"phi3", "phi3", 0, 1},
};

typedef struct { const hf_family *f; const char *dir; int tied; uint32_t q_dim, kv_dim, hidden; } name_ctx;

static int bad_config(const char *dir, const char *key, const char *what) {
    octet_set_error("%s/config.json: %s: %s", dir, key, what);
    return -1;
}

// A number that must be in [lo, hi] (and whole when integer): 0 ok, -1 refused.
static int config_num(const json *c, const char *dir, const char *key, double def, double lo, double hi, int integer, double *out) {
    const json *v = json_get(c, key);
    if (!v || v->type == JSON_NULL) { *out = def; return 0; }
    if (v->type != JSON_NUMBER || !(v->num >= lo && v->num <= hi) || (integer && v->num != floor(v->num))) {
        octet_set_error("%s/config.json: %s is not a number in %g..%g", dir, key, lo, hi);
        return -1;
    }
    *out = v->num;
    return 0;
}

// One RoPE parameter set (a rope_parameters object, or the old layout's rope_theta and
// rope_scaling) into the file's keys; `local` for sliding layers (only a base of their own).
static int rope_params(conv_model *m, const json *c, const json *rp, const char *dir, int local, uint32_t rope_dim) {
    double theta = json_num(rp, "rope_theta", local ? -1 : 10000);
    if (!(theta > 0 && theta <= 1e30)) return bad_config(dir, "rope_theta", "missing or out of range");
    const char *type = json_str(rp, "rope_type") ? json_str(rp, "rope_type") : json_str(rp, "type");
    if (!type || !strcmp(type, "su")) type = type ? "longrope" : "default";  // "su": Phi-3's first name for it
    if (local) {
        if (strcmp(type, "default")) return bad_config(dir, "rope_parameters.sliding_attention.rope_type", "scaled RoPE on sliding layers is not implemented");
        octet_meta_f32(&m->meta, "model.rope_theta_swa", (float)theta);
        return 0;
    }
    octet_meta_f32(&m->meta, "model.rope_theta", (float)theta);
    if (!strcmp(type, "default")) return 0;
    if (strcmp(type, "linear") && strcmp(type, "llama3") && strcmp(type, "yarn") && strcmp(type, "longrope")) {
        octet_set_error("%s/config.json: rope type '%s' is not implemented (default, linear, llama3, yarn, longrope are)", dir, type);
        return -1;
    }
    octet_meta_cstr(&m->meta, "model.rope_scaling_type", type);
    double max_pos = json_num(c, "max_position_embeddings", 0);
    double orig = json_num(rp, "original_max_position_embeddings", json_num(c, "original_max_position_embeddings", -1));
    double factor = json_num(rp, "factor", -1);
    if (factor < 0 && orig > 0 && (!strcmp(type, "yarn") || !strcmp(type, "longrope"))) factor = max_pos / orig;
    if (!(factor > 0 && factor <= 1e6) && strcmp(type, "longrope")) return bad_config(dir, "rope factor", "missing or out of range");
    if (orig > 0) {
        if (!(orig <= 4e9) || orig != floor(orig)) return bad_config(dir, "original_max_position_embeddings", "out of range");
        octet_meta_u32(&m->meta, "model.rope_scaling_orig_ctx", (uint32_t)orig);
    } else if (strcmp(type, "linear")) return bad_config(dir, "original_max_position_embeddings", "needed by this rope type");
    if (factor > 0) octet_meta_f32(&m->meta, "model.rope_scaling_factor", (float)factor);
    if (!strcmp(type, "llama3")) {
        double lo = json_num(rp, "low_freq_factor", -1), hi = json_num(rp, "high_freq_factor", -1);
        if (!(lo > 0 && hi > lo && hi < 1e6)) return bad_config(dir, "low_freq_factor/high_freq_factor", "llama3 RoPE needs 0 < low < high");
        octet_meta_f32(&m->meta, "model.rope_scaling_low_freq", (float)lo);
        octet_meta_f32(&m->meta, "model.rope_scaling_high_freq", (float)hi);
    }
    // The attention factor on cos and sin, as transformers computes it when it is not given.
    double att = json_num(rp, "attention_factor", -1);
    if (!strcmp(type, "yarn")) {
        double ms = json_num(rp, "mscale", 0), msa = json_num(rp, "mscale_all_dim", 0);
#define YARN_MSCALE(s, k) ((s) <= 1 ? 1.0 : 0.1 * (k) * log(s) + 1.0)
        if (att < 0) att = ms && msa ? YARN_MSCALE(factor, ms) / YARN_MSCALE(factor, msa) : YARN_MSCALE(factor, 1);
#undef YARN_MSCALE
        double bf = json_num(rp, "beta_fast", 32), bs = json_num(rp, "beta_slow", 1);
        if (!(bf > 0 && bf < 1e6 && bs > 0 && bs < 1e6)) return bad_config(dir, "beta_fast/beta_slow", "out of range");
        octet_meta_f32(&m->meta, "model.rope_yarn_beta_fast", (float)bf);
        octet_meta_f32(&m->meta, "model.rope_yarn_beta_slow", (float)bs);
        const json *tr = json_get(rp, "truncate");
        octet_meta_bool(&m->meta, "model.rope_yarn_truncate", !tr || tr->type != JSON_BOOL || tr->num != 0);
    }
    if (!strcmp(type, "longrope")) {
        if (att < 0) att = factor <= 1 ? 1.0 : sqrt(1 + log(factor) / log(orig));
        size_t half = rope_dim / 2;   // one factor per rotated pair of the dimension read_config checked
        const char *names[2][2] = {{"short_factor", "model.rope_short_factors"}, {"long_factor", "model.rope_long_factors"}};
        for (int k = 0; k < 2; k++) {
            const json *a = json_get(rp, names[k][0]);
            if (!a || a->type != JSON_ARRAY || a->len != half) return bad_config(dir, names[k][0], "longrope needs one factor per rotated pair");
            float *v = malloc(half * sizeof *v);
            if (!v) { octet_set_error("out of memory"); return -1; }
            for (size_t i = 0; i < half; i++) {
                v[i] = a->items[i]->type == JSON_NUMBER ? (float)a->items[i]->num : -1;
                if (!(v[i] > 0 && v[i] < 1e9f)) { free(v); return bad_config(dir, names[k][0], "a factor is out of range"); }
            }
            octet_meta_arr_f32(&m->meta, names[k][1], half, v);
            free(v);
        }
    }
    if (att >= 0) {
        if (!(att > 0 && att < 100)) return bad_config(dir, "attention_factor", "out of range");
        octet_meta_f32(&m->meta, "model.rope_attn_factor", (float)att);
    }
    return 0;
}

// ---- hyperparameters ----
static int read_config(conv_model *m, const json *top, const char *dir, name_ctx *nc) {
    const char *type = json_str(top, "model_type");
    if (!type) { octet_set_error("%s/config.json: no model_type", dir); return -1; }
    const hf_family *fam = NULL;
    for (unsigned i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++)
        if (!strcmp(type, FAMILIES[i].model_type)) fam = &FAMILIES[i];
    // Unknown families still convert their vocabulary; convert refuses the architecture by name.
    snprintf(m->arch, sizeof m->arch, "%s", fam ? fam->arch : type);
    octet_meta_cstr(&m->meta, "model.arch", m->arch);
    nc->f = fam;
    if (!fam) return 0;
    const json *c = top;
    if (!strcmp(type, "gemma3")) {  // the multimodal checkpoint: its language model
        c = json_get(top, "text_config");
        if (!c || c->type != JSON_OBJECT) return bad_config(dir, "text_config", "missing");
    }
    static const struct { const char *hf, *o; int req; } u[] = {
        {"hidden_size", "model.dim", 1}, {"num_hidden_layers", "model.n_layers", 1}, {"num_attention_heads", "model.n_heads", 1},
        {"intermediate_size", "model.hidden_dim", 1}, {"vocab_size", "model.vocab_size", 1},
        {"max_position_embeddings", "model.context_length", 0}, {"num_key_value_heads", "model.n_kv_heads", 0},
    };
    for (unsigned i = 0; i < sizeof u / sizeof *u; i++) {
        double v = json_num(c, u[i].hf, -1);
        if (v < 0 && !u[i].req) continue;
        // The vocabulary bound is the tokenizer's (and keeps its hash tables' sizes in range).
        double hi = !strcmp(u[i].hf, "vocab_size") ? (double)(1u << 24) : 4e9;
        if (!(v >= 1 && v <= hi) || v != floor(v)) { octet_set_error("%s/config.json: %s missing or out of range (%g)", dir, u[i].hf, v); return -1; }
        octet_meta_u32(&m->meta, u[i].o, (uint32_t)v);
    }
    double heads = json_num(c, "num_attention_heads", 1), dim = json_num(c, "hidden_size", 1), kv = json_num(c, "num_key_value_heads", heads);
    if (json_num(c, "num_key_value_heads", -1) < 0) octet_meta_u32(&m->meta, "model.n_kv_heads", (uint32_t)heads);
    double head_dim;
    if (config_num(c, dir, "head_dim", dim / heads, 1, 65536, 1, &head_dim)) return -1;
    octet_meta_u32(&m->meta, "model.head_dim", (uint32_t)head_dim);
    // (the loader's limit, checked before the casts: a wider product would not fit in 32 bits)
    if (!(heads * head_dim <= OCTET_MAX_WIDTH)) return bad_config(dir, "num_attention_heads * head_dim", "too wide");
    if (!(kv <= heads)) return bad_config(dir, "num_key_value_heads", "more than num_attention_heads");
    nc->q_dim = (uint32_t)(heads * head_dim);
    nc->kv_dim = (uint32_t)(kv * head_dim);
    nc->hidden = (uint32_t)json_num(c, "intermediate_size", 0);
    double eps;
    if (config_num(c, dir, "rms_norm_eps", 1e-6, 0, 0.99, 0, &eps)) return -1;
    octet_meta_f32(&m->meta, "model.norm_eps", (float)eps);
    octet_meta_cstr(&m->meta, "model.rope_style", "neox");  // HF checkpoints rotate halves

    // The FFN activation: hidden_activation (Gemma) or hidden_act.
    const char *act = json_str(c, fam->gemma ? "hidden_activation" : "hidden_act");
    if (!act) act = json_str(c, "hidden_act");
    if (!act) act = fam->gemma ? "gelu_pytorch_tanh" : "silu";
    if (!strcmp(act, "silu") || !strcmp(act, "swish")) octet_meta_cstr(&m->meta, "model.ffn_act", "silu");
    else if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_tanh") || !strcmp(act, "gelu_new")) octet_meta_cstr(&m->meta, "model.ffn_act", "gelu_tanh");
    else { octet_set_error("%s/config.json: activation '%s' is not implemented (silu, gelu_pytorch_tanh are)", dir, act); return -1; }

    // RoPE: rope_parameters (transformers 5; per layer type for Gemma 3) or the old rope_theta +
    // rope_scaling (and Gemma 3's rope_local_base_freq); partial rotary dims.
    const json *rp = json_get(c, "rope_parameters");
    if (rp && rp->type != JSON_OBJECT && rp->type != JSON_NULL) return bad_config(dir, "rope_parameters", "not an object");
    const json *full = rp ? json_get(rp, "full_attention") : NULL, *slide = rp ? json_get(rp, "sliding_attention") : NULL;
    double local_theta = json_num(c, "rope_local_base_freq", -1);
    // The rotated share of a head: from the (full attention's) RoPE parameters, else the config's;
    // range-checked before any product with it.
    const json *rope_obj = full && full->type == JSON_OBJECT ? full : rp && rp->type == JSON_OBJECT ? rp : NULL;
    double prf = json_num(c, "partial_rotary_factor", 1);
    if (rope_obj) prf = json_num(rope_obj, "partial_rotary_factor", prf);
    if (!(prf > 0 && prf <= 1)) return bad_config(dir, "partial_rotary_factor", "out of range (0 < factor <= 1)");
    uint32_t rope_dim = (uint32_t)(head_dim * prf) & ~1u;
    if (!rope_dim) return bad_config(dir, "partial_rotary_factor", "leaves no dimension to rotate");
    if (rp && rp->type == JSON_OBJECT && (full || slide)) {
        for (size_t i = 0; i < rp->len; i++)
            if (strcmp(rp->keys[i], "full_attention") && strcmp(rp->keys[i], "sliding_attention")) {
                octet_set_error("%s/config.json: rope_parameters: layer type '%s' is not implemented (full_attention, sliding_attention are)", dir, rp->keys[i]);
                return -1;
            }
        if (!full) return bad_config(dir, "rope_parameters.full_attention", "missing");
        if (rope_params(m, c, full, dir, 0, rope_dim)) return -1;
        if (slide && rope_params(m, c, slide, dir, 1, rope_dim)) return -1;
    } else if (rp && rp->type == JSON_OBJECT) {
        if (rope_params(m, c, rp, dir, 0, rope_dim)) return -1;
    } else {
        // The old layout: one object holding rope_theta and the rope_scaling keys.
        const json *rs = json_get(c, "rope_scaling");
        if (rs && rs->type != JSON_OBJECT && rs->type != JSON_NULL) return bad_config(dir, "rope_scaling", "not an object");
        json old = {JSON_OBJECT, 0, NULL, 0, NULL, NULL};
        const json *use = rs && rs->type == JSON_OBJECT ? rs : &old;
        double theta = json_num(c, "rope_theta", 10000);
        json th = {JSON_NUMBER, theta, NULL, 0, NULL, NULL}, *items[64];
        char *keys[64];
        // rope_scaling's keys plus rope_theta, without copying strings
        size_t k = 0;
        for (; k < use->len && k < 63; k++) { keys[k] = use->keys[k]; items[k] = use->items[k]; }
        keys[k] = "rope_theta"; items[k] = &th; k++;
        json merged = {JSON_OBJECT, 0, NULL, k, items, keys};
        if (rope_params(m, c, &merged, dir, 0, rope_dim)) return -1;
    }
    if (local_theta > 0 && !slide) {
        if (!(local_theta <= 1e30)) return bad_config(dir, "rope_local_base_freq", "out of range");
        octet_meta_f32(&m->meta, "model.rope_theta_swa", (float)local_theta);
    }
    octet_meta_u32(&m->meta, "model.rope_dim", rope_dim);

    // Sliding windows: layer_types when given; Qwen2/3's use_sliding_window from
    // max_window_layers on; else every layer when sliding_window is set (Mistral, Phi-3).
    double window;
    if (config_num(c, dir, "sliding_window", 0, 0, UINT32_MAX, 1, &window)) return -1;
    const json *lt = json_get(c, "layer_types");
    uint32_t n_layers = (uint32_t)json_num(c, "num_hidden_layers", 0);
    const json *usw = json_get(c, "use_sliding_window");
    int qwen_style = usw && usw->type == JSON_BOOL;
    if (lt && lt->type != JSON_NULL) {
        if (lt->type != JSON_ARRAY || lt->len != n_layers) return bad_config(dir, "layer_types", "must list every layer");
        uint32_t *sl = calloc(n_layers ? n_layers : 1, sizeof *sl);
        int any = 0;
        if (!sl) { octet_set_error("out of memory"); return -1; }
        for (uint32_t l = 0; l < n_layers; l++) {
            const char *t = lt->items[l]->type == JSON_STRING ? lt->items[l]->str : "?";
            if (!strcmp(t, "sliding_attention")) sl[l] = 1, any = 1;
            else if (strcmp(t, "full_attention")) {
                octet_set_error("%s/config.json: layer type '%s' is not implemented (full_attention, sliding_attention are)", dir, t);
                free(sl); return -1;
            }
        }
        if (any && !(window >= 1)) { free(sl); return bad_config(dir, "sliding_window", "sliding layers need a window"); }
        if (any) { octet_meta_u32(&m->meta, "model.sliding_window", (uint32_t)window); octet_meta_arr_u32(&m->meta, "model.sliding_layers", n_layers, sl); }
        free(sl);
    } else if (qwen_style) {
        if (usw->num != 0) return bad_config(dir, "use_sliding_window", "Qwen's sliding window without layer_types is not implemented");
    } else if (window >= 1) {
        octet_meta_u32(&m->meta, "model.sliding_window", (uint32_t)window);
    }

    if (fam->gemma) {
        double q;
        if (config_num(c, dir, "query_pre_attn_scalar", head_dim, 1e-6, 1e9, 0, &q)) return -1;
        octet_meta_f32(&m->meta, "model.attn_scale", (float)(1.0 / sqrt(q)));
        octet_meta_f32(&m->meta, "model.embed_scale", (float)sqrt(dim));
    }
    double cap;
    if (config_num(c, dir, "attn_logit_softcapping", 0, 0, 1e6, 0, &cap)) return -1;
    if (cap > 0) octet_meta_f32(&m->meta, "model.attn_softcap", (float)cap);
    if (config_num(c, dir, "final_logit_softcapping", 0, 0, 1e6, 0, &cap)) return -1;
    if (cap > 0) octet_meta_f32(&m->meta, "model.final_softcap", (float)cap);
    const json *bias = json_get(c, "mlp_bias");
    if (bias && bias->type == JSON_BOOL && bias->num != 0) return bad_config(dir, "mlp_bias", "FFN biases are not implemented");
    const json *tw = json_get(c, "tie_word_embeddings");
    nc->tied = tw ? tw->type == JSON_BOOL && tw->num != 0 : fam->gemma;
    return 0;
}

// ---- tensor names ----
static int map_name(const char *hf, char *out, size_t cap, void *vctx) {
    const name_ctx *ctx = vctx;
    // Multimodal Gemma 3: the language model's tensors, under either transformers' prefix.
    static const char *prefixes[] = {"model.language_model.", "language_model.model.", "language_model."};
    char buf[256];
    for (unsigned i = 0; ctx->f && !strcmp(ctx->f->model_type, "gemma3") && i < 3; i++) {
        size_t pl = strlen(prefixes[i]);
        if (!strncmp(hf, prefixes[i], pl)) {
            snprintf(buf, sizeof buf, "%s%s", i == 2 && !strncmp(hf + pl, "lm_head", 7) ? "" : "model.", hf + pl);
            hf = buf;
            break;
        }
        if (i == 2 && (strstr(hf, "vision_tower") || strstr(hf, "multi_modal_projector"))) return 1;
    }
    static const struct { const char *hf, *o; } fixed[] = {
        {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"}, {"lm_head.weight", "output.weight"},
    };
    for (unsigned i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(hf, fixed[i].hf)) {
            if (ctx->tied && i == 2) return 1;  // tied checkpoints may still carry a copy
            snprintf(out, cap, "%s", fixed[i].o);
            return 0;
        }
    if (strstr(hf, "rotary_emb.inv_freq")) return 1;  // recomputed at run time
    int gemma = ctx->f && ctx->f->gemma;
    static const struct { const char *hf, *o; } layer[] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"}, {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"},
        {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
        {"self_attn.qkv_proj.weight", "attn_qkv.weight"}, {"mlp.gate_up_proj.weight", "ffn_gate_up.weight"},
        // Gemma's sandwich: the pre-FFN norm and the norms after each block
        {"pre_feedforward_layernorm.weight", "ffn_norm.weight"}, {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    };
    unsigned l;
    int pos = 0;
    if (sscanf(hf, "model.layers.%u.%n", &l, &pos) == 1 && pos > 0 && l < 4096) {
        const char *rest = hf + pos;
        if (gemma && !strcmp(rest, "post_attention_layernorm.weight")) { snprintf(out, cap, "blk.%u.post_attention_norm.weight", l); return 0; }
        for (unsigned i = 0; i < sizeof layer / sizeof *layer; i++)
            if (!strcmp(rest, layer[i].hf)) { snprintf(out, cap, "blk.%u.%s", l, layer[i].o); return 0; }
    }
    octet_set_error("%s: unexpected tensor '%s' for a %s model", ctx->dir, hf, ctx->f ? ctx->f->model_type : "Llama-family");
    return -1;
}

// After reading: Gemma's norm gains become 1 + w; Phi-3's fused projections are split.
static int finish_tensors(conv_model *m, const name_ctx *nc) {
    for (size_t i = 0; i < m->n && nc->f && nc->f->gemma; i++) {
        size_t n = strlen(m->t[i].name);
        if (n > 11 && !strcmp(m->t[i].name + n - 11, "norm.weight")) m->t[i].shift = 1.0f;
    }
    if (!nc->f || !nc->f->fused) return 0;
    for (unsigned l = 0; l < 4096; l++) {
        char name[64], q[64], k[64], v[64], g[64], u[64];
        snprintf(name, sizeof name, "blk.%u.attn_qkv.weight", l);
        if (!conv_find_tensor(m, name)) break;
        snprintf(q, sizeof q, "blk.%u.attn_q.weight", l); snprintf(k, sizeof k, "blk.%u.attn_k.weight", l); snprintf(v, sizeof v, "blk.%u.attn_v.weight", l);
        const char *qkv[3] = {q, k, v};
        uint64_t rows[3] = {nc->q_dim, nc->kv_dim, nc->kv_dim};
        if (conv_split(m, name, 3, qkv, rows) != 0) return -1;
        snprintf(name, sizeof name, "blk.%u.ffn_gate_up.weight", l);
        snprintf(g, sizeof g, "blk.%u.ffn_gate.weight", l); snprintf(u, sizeof u, "blk.%u.ffn_up.weight", l);
        const char *gu[2] = {g, u};
        uint64_t hr[2] = {nc->hidden, nc->hidden};
        if (conv_split(m, name, 2, gu, hr) != 0) return -1;
    }
    return 0;
}

static int read_weights(conv_model *m, const char *dir, name_ctx *nc) {
    name_ctx ctx = *nc;
    char path[4096];
    json *index = load_json(dir, "model.safetensors.index.json", 0);
    if (!index) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        struct stat st;
        if (stat(path, &st) == 0) return -1;  // exists but is invalid: error already set
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        return safetensors_read(m, path, map_name, &ctx);
    }
    const json *wm = json_get(index, "weight_map");
    int rc = -1;
    if (!wm || wm->type != JSON_OBJECT) { octet_set_error("%s/model.safetensors.index.json: no weight_map", dir); goto out; }
    // Each shard once, in order of first appearance.
    for (size_t i = 0; i < wm->len; i++) {
        const json *f = wm->items[i];
        if (f->type != JSON_STRING || strchr(f->str, '/')) { octet_set_error("%s/model.safetensors.index.json: bad shard name", dir); goto out; }
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = wm->items[j]->type == JSON_STRING && !strcmp(wm->items[j]->str, f->str);
        if (seen) continue;
        snprintf(path, sizeof path, "%s/%s", dir, f->str);
        if (safetensors_read(m, path, map_name, &ctx) != 0) goto out;
    }
    for (size_t i = 0; i < wm->len; i++) {
        char name[128];
        if (map_name(wm->keys[i], name, sizeof name, &ctx) == 0 && !conv_find_tensor(m, name)) {
            octet_set_error("%s: tensor '%s' listed in the index is in no shard", dir, wm->keys[i]); goto out;
        }
    }
    rc = 0;
out:
    json_free(index);
    return rc;
}

// ---- tokenizer ----
typedef struct { char **s; uint32_t *len; uint32_t *slot; uint32_t mask, n; } strmap;
static uint32_t shash(const char *s, size_t n) { uint32_t h = 2166136261u; while (n--) h = (h ^ (unsigned char)*s++) * 16777619u; return h; }
static int64_t strmap_find(const strmap *m, const char *s, size_t n) {
    for (uint32_t i = shash(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slot[i];
        if (!v) return -1;
        if (m->len[v - 1] == n && m->s[v - 1] && !memcmp(m->s[v - 1], s, n)) return v - 1;
    }
}

static const char *token_text(const json *v) {  // "tok" or {"content": "tok"}
    if (!v) return NULL;
    if (v->type == JSON_STRING) return v->str;
    return json_str(v, "content");
}

// Pre-tokenizer name for a byte-level tokenizer.json, recognised from its parts.
static const char *pre_name(const json *pre) {
    const json *list = json_get(pre, "pretokenizers");
    size_t n = list && list->type == JSON_ARRAY ? list->len : 1;
    int digits = 0, bytelevel = 0;
    const char *regex = NULL;
    for (size_t i = 0; i < n; i++) {
        const json *p = list ? list->items[i] : pre;
        const char *t = json_str(p, "type");
        if (!t) continue;
        if (!strcmp(t, "Digits") && json_num(p, "individual_digits", 0)) digits = 1;
        if (!strcmp(t, "ByteLevel")) bytelevel = 1;
        if (!strcmp(t, "Split")) regex = json_str(json_get(p, "pattern"), "Regex");
    }
    if (regex && strstr(regex, "\\p{N}{1,3}")) return "llama-bpe";
    if (regex && strstr(regex, "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+")) return "qwen2";
    if (digits) return "smollm";
    if (bytelevel && !regex) return "gpt-2";
    return NULL;
}

static int json_has_type(const json *j, const char *type) {  // anywhere in the tree
    if (!j) return 0;
    if (j->type == JSON_OBJECT) {
        const char *t = json_str(j, "type");
        if (t && !strcmp(t, type)) return 1;
    }
    if (j->type == JSON_OBJECT || j->type == JSON_ARRAY)
        for (size_t i = 0; i < j->len; i++)
            if (json_has_type(j->items[i], type)) return 1;
    return 0;
}

static int read_tokenizer(conv_model *m, const char *dir, const json *tj, const json *tc, uint32_t model_vocab) {
    const json *model = json_get(tj, "model");
    const char *mt = json_str(model, "type");
    if (!mt || strcmp(mt, "BPE")) { octet_set_error("%s/tokenizer.json: model type '%s' not supported (BPE is)", dir, mt ? mt : "none"); return -1; }
    const json *vocab = json_get(model, "vocab"), *merges = json_get(model, "merges"), *added = json_get(tj, "added_tokens");
    if (!vocab || vocab->type != JSON_OBJECT || !merges || merges->type != JSON_ARRAY) { octet_set_error("%s/tokenizer.json: model.vocab or model.merges missing", dir); return -1; }
    uint32_t n = model_vocab;
    for (size_t i = 0; i < vocab->len; i++) {
        double id = vocab->items[i]->num;
        if (vocab->items[i]->type != JSON_NUMBER || !(id >= 0 && id < (1 << 24)) || id != floor(id)) { octet_set_error("%s/tokenizer.json: bad id for '%s'", dir, vocab->keys[i]); return -1; }
        if (id >= n) n = (uint32_t)id + 1;
    }
    for (size_t i = 0; added && i < added->len; i++) {
        double id = json_num(added->items[i], "id", -1);
        if (!(id >= 0 && id < (1 << 24)) || id != floor(id) || !json_str(added->items[i], "content")) { octet_set_error("%s/tokenizer.json: bad added_tokens entry %zu", dir, i); return -1; }
        if (id >= n) n = (uint32_t)id + 1;
    }
    int byte_level = json_has_type(json_get(tj, "pre_tokenizer"), "ByteLevel") || json_has_type(json_get(tj, "decoder"), "ByteLevel");
    strmap sm = {0};
    sm.s = calloc(n, sizeof *sm.s);
    sm.len = calloc(n, sizeof *sm.len);
    sm.mask = 16;
    while (sm.mask < 2ull * n) sm.mask *= 2;  // n <= 2^24, so this stays far below 2^32
    sm.mask--;
    sm.slot = calloc(sm.mask + 1ull, sizeof *sm.slot);
    float *score = calloc(n, sizeof *score);
    int32_t *type = malloc(n * sizeof *type);
    char **fill = calloc(n, sizeof *fill);
    const char **ms = NULL;
    uint32_t *ml = NULL;
    char *mbuf = NULL;
    int rc = -1;
    if (!sm.s || !sm.len || !sm.slot || !score || !type || !fill) { octet_set_error("out of memory"); goto out; }
    for (uint32_t i = 0; i < n; i++) type[i] = 1;
    for (size_t i = 0; i < vocab->len; i++) { uint32_t id = (uint32_t)vocab->items[i]->num; sm.s[id] = vocab->keys[i]; sm.len[id] = (uint32_t)strlen(vocab->keys[i]); }
    for (size_t i = 0; added && i < added->len; i++) {
        const json *a = added->items[i];
        uint32_t id = (uint32_t)json_num(a, "id", 0);
        const json *c = json_get(a, "content");
        sm.s[id] = c->str; sm.len[id] = (uint32_t)c->len;
        type[id] = json_num(a, "special", 0) ? 3 : 4;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!sm.s[i]) {  // ids the tokenizer leaves unused (embedding padding)
            fill[i] = malloc(32);
            if (!fill[i]) { octet_set_error("out of memory"); goto out; }
            snprintf(fill[i], 32, "<unused%u>", i);
            sm.s[i] = fill[i]; sm.len[i] = (uint32_t)strlen(fill[i]); type[i] = 5;
        }
        if (strmap_find(&sm, sm.s[i], sm.len[i]) >= 0) continue;
        uint32_t j = shash(sm.s[i], sm.len[i]) & sm.mask;
        while (sm.slot[j]) j = (j + 1) & sm.mask;
        sm.slot[j] = i + 1;
    }
    const char *unk = json_str(model, "unk_token");
    if (unk) { int64_t u = strmap_find(&sm, unk, strlen(unk)); if (u >= 0) { type[u] = 2; octet_meta_i32(&m->meta, "tokenizer.unk_id", (int32_t)u); } }

    ms = malloc((merges->len ? merges->len : 1) * sizeof *ms);
    ml = malloc((merges->len ? merges->len : 1) * sizeof *ml);
    size_t mcap = 0;
    for (size_t i = 0; i < merges->len; i++) {
        const json *e = merges->items[i];
        if (e->type == JSON_STRING) mcap += e->len + 1;
        else if (e->type == JSON_ARRAY && e->len == 2 && e->items[0]->type == JSON_STRING && e->items[1]->type == JSON_STRING) mcap += e->items[0]->len + e->items[1]->len + 2;
        else { octet_set_error("%s/tokenizer.json: merge %zu is neither \"a b\" nor [a, b]", dir, i); goto out; }
    }
    mbuf = malloc(mcap + 1);
    if (!ms || !ml || !mbuf) { octet_set_error("out of memory"); goto out; }
    size_t o = 0;
    for (size_t i = 0; i < merges->len; i++) {
        const json *e = merges->items[i];
        ms[i] = mbuf + o;
        if (e->type == JSON_STRING) { memcpy(mbuf + o, e->str, e->len); o += e->len; }
        else {
            memcpy(mbuf + o, e->items[0]->str, e->items[0]->len); o += e->items[0]->len;
            mbuf[o++] = ' ';
            memcpy(mbuf + o, e->items[1]->str, e->items[1]->len); o += e->items[1]->len;
        }
        ml[i] = (uint32_t)(mbuf + o - ms[i]);
        if (!byte_level) {  // SentencePiece-style: a merge's rank becomes its result's score
            const char *sp = memchr(ms[i] + 1, ' ', ml[i] > 1 ? ml[i] - 1 : 0);
            if (!sp) continue;
            size_t la = (size_t)(sp - ms[i]);
            char *joined = malloc(ml[i]);
            if (!joined) continue;
            memcpy(joined, ms[i], la);
            memcpy(joined + la, sp + 1, ml[i] - la - 1);
            int64_t r = strmap_find(&sm, joined, ml[i] - 1);
            free(joined);
            if (r >= 0 && score[r] == 0) score[r] = -(float)(i + 1);
        }
    }
    if (!byte_level)
        for (uint32_t i = 0; i < n; i++) {
            unsigned b;
            char tail;
            if (sm.len[i] == 6 && sscanf(sm.s[i], "<0x%2X%c", &b, &tail) == 2 && tail == '>') type[i] = 6;
        }
    octet_meta_cstr(&m->meta, "tokenizer.model", byte_level ? "bpe" : "spm");
    octet_meta_arr_str(&m->meta, "tokenizer.tokens", n, (const char *const *)sm.s, sm.len);
    octet_meta_arr_i32(&m->meta, "tokenizer.token_type", n, type);
    if (byte_level) {
        octet_meta_arr_str(&m->meta, "tokenizer.merges", merges->len, ms, ml);
        const char *pre = pre_name(json_get(tj, "pre_tokenizer"));
        if (!pre) { fprintf(stderr, "octet: warning: %s/tokenizer.json: pre-tokenizer not recognised, using gpt-2's\n", dir); pre = "gpt-2"; }
        octet_meta_cstr(&m->meta, "tokenizer.pre", pre);
    } else {
        octet_meta_arr_f32(&m->meta, "tokenizer.scores", n, score);
        int prefix = json_has_type(json_get(tj, "normalizer"), "Prepend");
        const json *pt = json_get(tj, "pre_tokenizer");
        if (json_has_type(pt, "Metaspace")) {
            const char *scheme = json_str(pt, "prepend_scheme");
            prefix = scheme ? strcmp(scheme, "never") != 0 : json_num(pt, "add_prefix_space", 1) != 0;
        }
        octet_meta_bool(&m->meta, "tokenizer.add_space_prefix", prefix);
    }
    static const char *roles[][2] = {{"bos_token", "tokenizer.bos_id"}, {"eos_token", "tokenizer.eos_id"}, {"pad_token", "tokenizer.pad_id"}};
    for (int r = 0; r < 3; r++) {
        const char *t = token_text(json_get(tc, roles[r][0]));
        int64_t id = t ? strmap_find(&sm, t, strlen(t)) : -1;
        if (id >= 0) octet_meta_i32(&m->meta, roles[r][1], (int32_t)id);
    }
    const json *ab = json_get(tc, "add_bos_token");
    octet_meta_bool(&m->meta, "tokenizer.add_bos", ab && ab->type == JSON_BOOL ? ab->num != 0 : !byte_level);
    const json *ct = json_get(tc, "chat_template");
    if (ct && ct->type == JSON_STRING) conv_set_chat_template(m, ct->str, ct->len);
    else if (ct && ct->type == JSON_ARRAY)
        for (size_t i = 0; i < ct->len; i++) {
            const char *nm = json_str(ct->items[i], "name");
            const json *tt = json_get(ct->items[i], "template");
            if (nm && !strcmp(nm, "default") && tt && tt->type == JSON_STRING) conv_set_chat_template(m, tt->str, tt->len);
        }
    rc = 0;
out:
    if (fill) for (uint32_t i = 0; i < n; i++) free(fill[i]);
    free(fill); free(sm.s); free(sm.len); free(sm.slot); free(score); free(type); free(ms); free(ml); free(mbuf);
    return rc;
}

int hf_read(conv_model *m, const char *dir) {
    json *config = load_json(dir, "config.json", 1), *tok = NULL, *tc = NULL;
    int rc = -1;
    if (!config) return -1;
    name_ctx nc = {NULL, dir, 0, 0, 0, 0};
    if (read_config(m, config, dir, &nc) != 0) goto out;
    if (!(tok = load_json(dir, "tokenizer.json", 1))) goto out;
    octet_set_error("%s", "");
    tc = load_json(dir, "tokenizer_config.json", 0);
    if (!tc && strstr(octet_last_error(), "invalid JSON")) goto out;
    const json *tcfg = json_get(config, "text_config");
    uint32_t vocab = (uint32_t)json_num(tcfg && tcfg->type == JSON_OBJECT ? tcfg : config, "vocab_size", 0);
    if (read_tokenizer(m, dir, tok, tc, vocab) != 0) goto out;
    if (read_weights(m, dir, &nc) != 0 || finish_tensors(m, &nc) != 0) goto out;
    rc = 0;
out:
    json_free(config); json_free(tok); json_free(tc);
    return rc;
}
