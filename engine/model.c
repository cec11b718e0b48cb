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

// Everything a load checks but the tensor data: the numbers, the tensors' shapes, the tokenizer.
static int describe(octet_model *m) {
    octet_file *f = &m->file;
    octet_hparams *hp = &m->hp;
    const char *path = f->path;
    if (octet_hparams_read(m) != 0) return -1;
    int err = 0;
    m->tok_embd = octet_file_tensor(f, "token_embd.weight");
    if (!m->tok_embd || m->tok_embd->n_dims != 2 || m->tok_embd->dims[1] != hp->dim || m->tok_embd->dims[0] > OCTET_MAX_VOCAB) {
        octet_set_error("%s: missing or malformed token_embd.weight", path);
        return -1;
    }
    hp->vocab_size = (uint32_t)m->tok_embd->dims[0];
    m->output_norm = need(m, "output_norm.weight", hp->dim, 0, 0, &err);
    m->output = need(m, "output.weight", hp->vocab_size, hp->dim, 1, &err);
    if (!m->output) m->output = m->tok_embd;
    m->layers = calloc(hp->n_layers, sizeof *m->layers);
    if (!m->layers) { octet_set_error("out of memory"); return -1; }
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
    if (err) return -1;
    if (octet_hparams_read_facts(m) != 0) return -1;
    if (octet_file_kv(f, "tokenizer.tokens")) {
        if (octet_tokenizer_load(&m->tok, f) != 0) return -1;
        m->has_tokenizer = 1;
    }
    return 0;
}

int octet_model_load_mode(octet_model *m, const char *path, int in_memory) {
    memset(m, 0, sizeof *m);
    double t0 = octet_time_ms();
    if (octet_file_open_mode(&m->file, path, in_memory) != 0) return -1;
    if (describe(m) != 0) { octet_model_free(m); return -1; }
    m->load_ms = octet_time_ms() - t0;
    return 0;
}

int octet_model_check_description(const char *path, const uint8_t *meta, size_t len, uint64_t n_kv, const octet_tensor *shapes, uint64_t n_tensors) {
    octet_model m;
    memset(&m, 0, sizeof m);
    if (octet_file_describe(&m.file, path, meta, len, n_kv, shapes, n_tensors) != 0) return -1;
    int rc = describe(&m);
    octet_model_free(&m);
    return rc;
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
