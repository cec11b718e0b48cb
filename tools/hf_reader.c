// Hugging Face model directories: config.json, tokenizer.json (+ tokenizer_config.json) and
// model.safetensors or sharded model-*.safetensors with model.safetensors.index.json.
#include "convert.h"
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

// ---- hyperparameters ----
static int read_config(conv_model *m, const json *c, const char *dir) {
    const char *type = json_str(c, "model_type");
    if (!type) { octet_set_error("%s/config.json: no model_type", dir); return -1; }
    snprintf(m->arch, sizeof m->arch, "%s", type);
    octet_meta_cstr(&m->meta, "model.arch", type);
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
    double heads = json_num(c, "num_attention_heads", 1), dim = json_num(c, "hidden_size", 1);
    if (json_num(c, "num_key_value_heads", -1) < 0) octet_meta_u32(&m->meta, "model.n_kv_heads", (uint32_t)heads);
    double head_dim = json_num(c, "head_dim", dim / heads);
    if (!(head_dim >= 1 && head_dim <= 65536) || head_dim != floor(head_dim)) { octet_set_error("%s/config.json: head_dim %g out of range", dir, head_dim); return -1; }
    octet_meta_u32(&m->meta, "model.rope_dim", (uint32_t)head_dim);
    double eps = json_num(c, "rms_norm_eps", 1e-6), theta = json_num(c, "rope_theta", 10000);
    if (!(eps >= 0 && eps < 1)) { octet_set_error("%s/config.json: rms_norm_eps %g out of range", dir, eps); return -1; }
    if (!(theta > 0 && theta <= 1e30)) { octet_set_error("%s/config.json: rope_theta %g out of range", dir, theta); return -1; }
    octet_meta_f32(&m->meta, "model.norm_eps", (float)eps);
    octet_meta_f32(&m->meta, "model.rope_theta", (float)theta);
    octet_meta_cstr(&m->meta, "model.rope_style", "neox");  // HF checkpoints rotate halves
    const json *rs = json_get(c, "rope_scaling");
    if (rs && rs->type == JSON_OBJECT) {
        const char *st = json_str(rs, "rope_type") ? json_str(rs, "rope_type") : json_str(rs, "type");
        if (st) octet_meta_cstr(&m->meta, "model.rope_scaling_type", st);
        double factor = json_num(rs, "factor", 1);
        if (!(factor >= 0 && factor <= 1e6)) { octet_set_error("%s/config.json: rope_scaling.factor %g out of range", dir, factor); return -1; }
        octet_meta_f32(&m->meta, "model.rope_scaling_factor", (float)factor);
        double v = json_num(rs, "original_max_position_embeddings", -1);
        if (v > 0) {
            if (!(v <= 4e9) || v != floor(v)) { octet_set_error("%s/config.json: rope_scaling.original_max_position_embeddings %g out of range", dir, v); return -1; }
            octet_meta_u32(&m->meta, "model.rope_scaling_orig_ctx", (uint32_t)v);
        }
        v = json_num(rs, "low_freq_factor", -1);
        if (v > 0 && v <= 1e6) octet_meta_f32(&m->meta, "model.rope_scaling_low_freq", (float)v);
        v = json_num(rs, "high_freq_factor", -1);
        if (v > 0 && v <= 1e6) octet_meta_f32(&m->meta, "model.rope_scaling_high_freq", (float)v);
    }
    return 0;
}

// ---- tensor names ----
typedef struct { int tied; const char *dir; } name_ctx;

static int map_name(const char *hf, char *out, size_t cap, void *vctx) {
    const name_ctx *ctx = vctx;
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
    static const struct { const char *hf, *o; } layer[] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"}, {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"},
    };
    unsigned l;
    int pos = 0;
    if (sscanf(hf, "model.layers.%u.%n", &l, &pos) == 1 && pos > 0 && l < 4096)
        for (unsigned i = 0; i < sizeof layer / sizeof *layer; i++)
            if (!strcmp(hf + pos, layer[i].hf)) { snprintf(out, cap, "blk.%u.%s", l, layer[i].o); return 0; }
    octet_set_error("%s: unexpected tensor '%s' for a Llama-family model", ctx->dir, hf);
    return -1;
}

static int read_weights(conv_model *m, const char *dir, int tied) {
    name_ctx ctx = {tied, dir};
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
    if (read_config(m, config, dir) != 0) goto out;
    if (!(tok = load_json(dir, "tokenizer.json", 1))) goto out;
    octet_set_error("%s", "");
    tc = load_json(dir, "tokenizer_config.json", 0);
    if (!tc && strstr(octet_last_error(), "invalid JSON")) goto out;
    if (read_tokenizer(m, dir, tok, tc, (uint32_t)json_num(config, "vocab_size", 0)) != 0) goto out;
    const json *tw = json_get(config, "tie_word_embeddings");
    if (read_weights(m, dir, tw && tw->type == JSON_BOOL && tw->num != 0) != 0) goto out;
    rc = 0;
out:
    json_free(config); json_free(tok); json_free(tc);
    return rc;
}
