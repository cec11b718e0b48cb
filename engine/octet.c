// The public API over model.c, forward.c and tokenizer.c.
#include "octet.h"
#include "forward.h"
#include "model.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

#ifdef OCTET_CUDA
#include "octet_cuda.h"
#endif

// A session runs on the CPU (c) or on the GPU (gpu, with its own KV cache).
struct octet_session {
    octet_context c;
    void *gpu;
    const octet_model *m;
    int gpu_pos, n_ctx;
    float *logits;   // the CPU's greedy path: last logits
};

int octet_has_cuda(void) {
#ifdef OCTET_CUDA
    return 1;
#else
    return 0;
#endif
}
struct octet_text_stream { octet_decoder d; };

int octet_act_mode(const char *name) {
    return !strcmp(name, "int8") ? OCTET_ACT_INT8 : !strcmp(name, "int8-row") ? OCTET_ACT_INT8_ROW : !strcmp(name, "f32") ? OCTET_ACT_F32 : -1;
}

octet_model *octet_load(const char *path) {
    octet_model *m = calloc(1, sizeof *m);
    if (!m) { octet_set_error("out of memory"); return NULL; }
    if (octet_model_load(m, path) != 0) { free(m); return NULL; }
    return m;
}
void   octet_free(octet_model *m) { if (m) { octet_model_free(m); free(m); } }
double octet_load_ms(const octet_model *m) { return m->load_ms; }
int    octet_vocab_size(const octet_model *m) { return (int)m->hp.vocab_size; }
int    octet_context_length(const octet_model *m) { return (int)m->hp.context_length; }
int    octet_model_is_synthetic(const octet_model *m) { return octet_kv_bool(&m->file, "general.synthetic", 0); }

int octet_is_end_token(const octet_model *m, int32_t id) {
    if (!m->has_tokenizer || id < 0 || (uint32_t)id >= m->tok.n_vocab) return 0;
    if (id == m->tok.eos || id == m->tok.eot) return 1;
    // Chat control tokens that close a turn (<|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>).
    if (m->tok.type[id] != TT_CONTROL) return 0;
    static const char *ends[] = {"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>"};
    for (unsigned i = 0; i < sizeof ends / sizeof *ends; i++)
        if (m->tok.piece_len[id] == strlen(ends[i]) && !memcmp(m->tok.piece[id], ends[i], strlen(ends[i]))) return 1;
    return 0;
}

int octet_tokenize_text(const octet_model *m, const char *text, size_t len, int add_bos, int parse_special, int32_t **ids, size_t *n) {
    if (!m->has_tokenizer) { octet_set_error("%s: has no tokenizer", m->file.path); return -1; }
    return octet_tokenize(&m->tok, text, len, add_bos, parse_special, ids, n);
}

octet_session *octet_session_new(const octet_model *m, const octet_session_params *p) {
    octet_session *s = calloc(1, sizeof *s);
    if (!s) { octet_set_error("out of memory"); return NULL; }
    if (p->n_ctx < 1 || p->n_batch < 1 || p->n_threads < 1) { free(s); octet_set_error("context, batch and thread counts must be positive"); return NULL; }
    s->m = m; s->n_ctx = p->n_ctx;
    if (p->device == OCTET_DEVICE_CUDA) {
#ifdef OCTET_CUDA
        if (p->act == OCTET_ACT_F32) { free(s); octet_set_error("--device cuda: --act f32 (weight-only) runs on the CPU only; use int8 or int8-row"); return NULL; }
        if (!(s->gpu = octet_cuda_new(m, p->n_ctx, p->n_batch, p->act == OCTET_ACT_INT8_ROW, p->kv_f16))) { free(s); return NULL; }
        return s;
#else
        free(s);
        octet_set_error("--device cuda: this octet was built without CUDA (rebuild with make CUDA=1)");
        return NULL;
#endif
    }
    int act_block = p->act == OCTET_ACT_F32 ? -1 : p->act == OCTET_ACT_INT8_ROW ? 0 : 32;
    if (octet_context_init(&s->c, m, p->n_ctx, p->n_batch, p->n_threads, act_block, p->kv_f16) != 0) { free(s); return NULL; }
    return s;
}
void octet_session_free(octet_session *s) {
    if (!s) return;
#ifdef OCTET_CUDA
    if (s->gpu) octet_cuda_free(s->gpu);
#endif
    if (!s->gpu) octet_context_free(&s->c);
    free(s->logits);
    free(s);
}
int  octet_session_pos(const octet_session *s) { return s->gpu ? s->gpu_pos : s->c.pos; }
int  octet_session_n_ctx(const octet_session *s) { return s->n_ctx; }
void octet_session_reset(octet_session *s) { s->c.pos = 0; s->gpu_pos = 0; }

#ifdef OCTET_CUDA
static int gpu_eval(octet_session *s, const int32_t *t, int n, float *logits, int all, int32_t *next) {
    if (octet_forward_check(s->m, s->gpu_pos, s->n_ctx, t, n) != 0) return -1;
    if (octet_cuda_eval(s->gpu, t, n, s->gpu_pos, logits, all, next) != 0) return -1;
    s->gpu_pos += n;
    return 0;
}
#endif

int octet_eval(octet_session *s, const int32_t *t, int n, float *logits, int all) {
#ifdef OCTET_CUDA
    if (s->gpu) return gpu_eval(s, t, n, logits, all, NULL);
#endif
    return octet_forward(&s->c, t, n, logits, all);
}

int octet_eval_greedy(octet_session *s, const int32_t *t, int n, int32_t *next) {
#ifdef OCTET_CUDA
    if (s->gpu) return gpu_eval(s, t, n, NULL, 0, next);
#endif
    int vocab = (int)s->m->hp.vocab_size;
    if (!s->logits && !(s->logits = malloc((size_t)vocab * sizeof *s->logits))) { octet_set_error("out of memory"); return -1; }
    if (octet_forward(&s->c, t, n, s->logits, 0) != 0) return -1;
    *next = octet_argmax(s->logits, vocab);
    return 0;
}

octet_text_stream *octet_text_stream_new(const octet_model *m) {
    if (!m->has_tokenizer) { octet_set_error("%s: has no tokenizer", m->file.path); return NULL; }
    octet_text_stream *t = malloc(sizeof *t);
    if (t) octet_decoder_init(&t->d, &m->tok, 0);
    return t;
}
size_t octet_text_stream_push(octet_text_stream *t, int32_t id, char *out, size_t cap) { return octet_decoder_push(&t->d, id, out, cap); }
size_t octet_text_stream_flush(octet_text_stream *t, char *out, size_t cap) { return octet_decoder_flush(&t->d, out, cap); }
void   octet_text_stream_free(octet_text_stream *t) { free(t); }
