// The public API over model.c, forward.c and tokenizer.c.
#include "octet.h"
#include "chat.h"
#include "forward.h"
#include "model.h"
#include "util.h"
#include "mapguard.h"
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
    int32_t *hist;   // the tokens in the KV cache, for reusing a shared prefix
};

int octet_has_cuda(void) {
#ifdef OCTET_CUDA
    return 1;
#else
    return 0;
#endif
}
struct octet_text_stream { octet_decoder d; };

static const char *const act_names[] = {"int8", "int8-row", "f32", "int8-sym", "int8-asym"};
int octet_act_mode(const char *name) {
    for (int i = 0; i < (int)(sizeof act_names / sizeof *act_names); i++)
        if (!strcmp(name, act_names[i])) return i;
    return -1;
}
const char *octet_act_name(int act) { return act >= 0 && act < (int)(sizeof act_names / sizeof *act_names) ? act_names[act] : "?"; }

int octet_act_resolve(const octet_model *m, int act) {
    if (act != OCTET_ACT_INT8 || octet_model_asym_marks(m)) return act;
    uint64_t n;
    const char *q = octet_kv_str(&m->file, "quant.act_quant", &n);
    return q && n == 4 && !memcmp(q, "asym", 4) ? OCTET_ACT_INT8_ASYM : OCTET_ACT_INT8_SYM;
}

octet_model *octet_load(const char *path) { return octet_load_mode(path, OCTET_LOAD_MMAP); }

octet_model *octet_load_mode(const char *path, int how) {
    octet_model *m = calloc(1, sizeof *m);
    if (!m) { octet_set_error("out of memory"); return NULL; }
    if (octet_model_load_mode(m, path, how == OCTET_LOAD_MEMORY) != 0) { free(m); return NULL; }
    return m;
}
void   octet_free(octet_model *m) { if (m) { octet_model_free(m); free(m); } }
double octet_load_ms(const octet_model *m) { return m->load_ms; }
int    octet_vocab_size(const octet_model *m) { return (int)m->hp.vocab_size; }
int    octet_context_length(const octet_model *m) { return (int)m->hp.context_length; }
int    octet_model_is_synthetic(const octet_model *m) { return octet_kv_bool(&m->file, "general.synthetic", 0); }

int32_t octet_bos_added(const octet_model *m) { return m->has_tokenizer && m->tok.add_bos ? m->tok.bos : -1; }

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

void octet_guard_mappings(void) { octet_mapguard_install(); }

octet_session *octet_session_new(const octet_model *m, const octet_session_params *p) {
    octet_session *s = calloc(1, sizeof *s);
    if (!s) { octet_set_error("out of memory"); return NULL; }
    if (p->n_ctx < 1 || p->n_batch < 1 || p->n_threads < 1) { free(s); octet_set_error("context, batch and thread counts must be positive"); return NULL; }
    if (octet_file_check(&m->file) != 0) { free(s); return NULL; }
    s->m = m; s->n_ctx = p->n_ctx;
    int batch = p->n_batch < p->n_ctx ? p->n_batch : p->n_ctx;   // no chunk is longer than the context
    if (!(s->hist = malloc((size_t)p->n_ctx * sizeof *s->hist))) { free(s); octet_set_error("out of memory"); return NULL; }
    if (p->device == OCTET_DEVICE_CUDA) {
#ifdef OCTET_CUDA
        if (octet_model_llama_shaped(m) != 0) { free(s->hist); free(s); return NULL; }
        if (p->act == OCTET_ACT_F32 || p->act == OCTET_ACT_INT8_ASYM) {
            free(s->hist); free(s);
            octet_set_error("--device cuda: --act %s runs on the CPU only; use int8 or int8-row", octet_act_name(p->act));
            return NULL;
        }
        if (!(s->gpu = octet_cuda_new(m, p->n_ctx, batch, p->act == OCTET_ACT_INT8_ROW, p->kv_f16))) { free(s->hist); free(s); return NULL; }
        return s;
#else
        free(s->hist); free(s);
        octet_set_error("--device cuda: this octet was built without CUDA (rebuild with make CUDA=1)");
        return NULL;
#endif
    }
    int act = octet_act_resolve(m, p->act);
    int asym = act == OCTET_ACT_INT8_ASYM ? OCTET_ASYM_ALL : act == OCTET_ACT_INT8 ? OCTET_ASYM_MARKED : OCTET_ASYM_NONE;
    int act_block = act == OCTET_ACT_F32 ? -1 : act == OCTET_ACT_INT8_ROW ? 0 : 32;
    if ((asym && octet_model_block_sums(m, asym == OCTET_ASYM_MARKED) != 0) || octet_context_init(&s->c, m, p->n_ctx, batch, p->n_threads, act_block, asym, p->kv_f16) != 0) {
        free(s->hist); free(s); return NULL;
    }
    return s;
}
void octet_session_free(octet_session *s) {
    if (!s) return;
#ifdef OCTET_CUDA
    if (s->gpu) octet_cuda_free(s->gpu);
#endif
    if (!s->gpu) octet_context_free(&s->c);
    free(s->logits);
    free(s->hist);
    free(s);
}
int  octet_session_pos(const octet_session *s) { return s->gpu ? s->gpu_pos : s->c.pos; }
int  octet_session_n_ctx(const octet_session *s) { return s->n_ctx; }
void octet_session_reset(octet_session *s) { s->c.pos = 0; s->gpu_pos = 0; }

int octet_session_shared(const octet_session *s, const int32_t *t, int n) {
    int pos = octet_session_pos(s), keep = 0;
    while (keep < pos && keep < n - 1 && s->hist[keep] == t[keep]) keep++;
    return keep;
}

int octet_session_reuse(octet_session *s, const int32_t *t, int n) {
    int keep = octet_session_shared(s, t, n);
    // Positions past keep are simply overwritten by the next evaluation.
    if (s->gpu) s->gpu_pos = keep;
    else s->c.pos = keep;
    return keep;
}

// Records what octet_forward just put in the cache (positions before..before+n-1).
static void remember(octet_session *s, int before, const int32_t *t, int n) {
    if (before >= 0 && before + n <= s->n_ctx) memcpy(s->hist + before, t, (size_t)n * sizeof *t);
}

#ifdef OCTET_CUDA
static int gpu_eval(octet_session *s, const int32_t *t, int n, float *logits, int all, int32_t *next, const octet_device_sampling *samp) {
    if (octet_forward_check(s->m, s->gpu_pos, s->n_ctx, t, n) != 0) return -1;
    if (octet_cuda_eval(s->gpu, t, n, s->gpu_pos, logits, all, next, samp) != 0) return -1;
    remember(s, s->gpu_pos, t, n);
    s->gpu_pos += n;
    return 0;
}
#endif

int octet_eval(octet_session *s, const int32_t *t, int n, float *logits, int all) {
#ifdef OCTET_CUDA
    if (s->gpu) return gpu_eval(s, t, n, logits, all, NULL, NULL);
#endif
    int before = s->c.pos;
    if (octet_forward(&s->c, t, n, logits, all) != 0) return -1;
    remember(s, before, t, n);
    return 0;
}

int octet_eval_batch(octet_session *runner, octet_session *const *s, int n_seqs, const int32_t *const *tokens, const int *n, float *const *logits) {
    if (n_seqs < 1) { octet_set_error("batch: no sequence"); return -1; }
    if (!runner) runner = s[0];
    if (runner->gpu) { octet_set_error("batch: the runner session runs on the GPU (batched steps are CPU-only for now)"); return -1; }
    octet_batch_seq *b = malloc((size_t)n_seqs * sizeof *b);
    int *before = malloc((size_t)n_seqs * sizeof *before);
    if (!b || !before) { free(b); free(before); octet_set_error("out of memory"); return -1; }
    int rc = 0;
    for (int i = 0; i < n_seqs && rc == 0; i++) {
        if (s[i]->gpu) { octet_set_error("batch: session %d runs on the GPU (batched steps are CPU-only for now)", i); rc = -1; }
        else if (s[i]->c.scratch.act_block != runner->c.scratch.act_block || s[i]->c.scratch.asym != runner->c.scratch.asym) {
            octet_set_error("batch: session %d has another activation mode than the runner", i);
            rc = -1;
        }
        b[i] = (octet_batch_seq){&s[i]->c, tokens[i], n[i], logits ? logits[i] : NULL};
        before[i] = s[i]->c.pos;
    }
    if (rc == 0) rc = octet_forward_batch(&runner->c, b, n_seqs);
    for (int i = 0; i < n_seqs && rc == 0; i++) remember(s[i], before[i], tokens[i], n[i]);
    free(b); free(before);
    return rc;
}

int octet_eval_greedy(octet_session *s, const int32_t *t, int n, int32_t *next) {
#ifdef OCTET_CUDA
    if (s->gpu) return gpu_eval(s, t, n, NULL, 0, next, NULL);
#endif
    int vocab = (int)s->m->hp.vocab_size;
    if (!s->logits && !(s->logits = malloc((size_t)vocab * sizeof *s->logits))) { octet_set_error("out of memory"); return -1; }
    int before = s->c.pos;
    if (octet_forward(&s->c, t, n, s->logits, 0) != 0) return -1;
    remember(s, before, t, n);
    *next = octet_argmax(s->logits, vocab);
    return 0;
}

int octet_eval_next(octet_session *s, const int32_t *t, int n, octet_sampler *smp, float *logits, int32_t *next) {
    if (octet_sampler_is_greedy(smp)) return octet_eval_greedy(s, t, n, next);
#ifdef OCTET_CUDA
    octet_device_sampling d;
    if (s->gpu && octet_sampler_device_step(smp, &d)) {
        if (gpu_eval(s, t, n, NULL, 0, next, &d) != 0) return -1;
        if (*next >= 0) return 0;
        // Too many ties for the GPU's candidate list: sample on the host from the GPU's
        // penalized logits with the step's u.
        if (octet_cuda_last_logits(s->gpu, logits) != 0) return -1;
        *next = octet_sample_device_fallback(smp, &d, logits);
        return 0;
    }
#endif
    if (octet_eval(s, t, n, logits, 0) != 0) return -1;
    *next = octet_sample(smp, logits);
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

const char *octet_chat_template_name(const octet_model *m) {
    uint64_t len;
    const char *name = octet_kv_str(&m->file, "tokenizer.chat_template_name", &len);
    static _Thread_local char buf[32];
    if (!name || !len || len >= sizeof buf) return "unknown";
    memcpy(buf, name, len);
    buf[len] = 0;
    return buf;
}

static char *token_text(const octet_model *m, int32_t id) {
    char buf[256];
    size_t n = id >= 0 && m->has_tokenizer && (uint32_t)id < m->tok.n_vocab ? octet_token_bytes(&m->tok, id, buf, sizeof buf - 1, 1) : 0;
    buf[n] = 0;
    return strdup(buf);
}

static int chat_render(const octet_model *m, const char *name, const octet_chat_msg *msgs, int n, int add_gen, octet_str *o, octet_chat_spans *plain) {
    if (!name) name = octet_chat_template_name(m);
    if (!strcmp(name, "unknown")) {
        octet_set_error("%s: has no chat template octet knows (use --chat-template NAME: %s)", m->file.path, octet_chat_template_names());
        return -1;
    }
    if (!octet_chat_template_known(name)) { octet_set_error("unknown chat template '%s' (known: %s)", name, octet_chat_template_names()); return -1; }
    uint64_t jlen = 0;
    const char *jinja = octet_kv_str(&m->file, "tokenizer.chat_template", &jlen);
    char *bos = token_text(m, m->tok.bos), *eos = token_text(m, m->tok.eos);
    char *sys = jinja && !strcmp(name, "chatml") ? octet_chat_default_system(jinja, (size_t)jlen) : NULL;
    octet_chat_template t = {name, bos ? bos : "", eos ? eos : "", sys};
    int rc = bos && eos ? octet_chat_render(&t, msgs, n, add_gen, o, plain) : (octet_set_error("out of memory"), -1);
    free(bos); free(eos); free(sys);
    return rc;
}

int octet_chat_format(const octet_model *m, const char *name, const octet_chat_msg *msgs, int n, int add_gen, char **out) {
    *out = NULL;
    octet_str o = {0};
    if (chat_render(m, name, msgs, n, add_gen, &o, NULL) != 0) { octet_str_free(&o); return -1; }
    *out = o.p;
    return 0;
}

// Templates that write BOS themselves must not get a second one.
static int chat_add_bos(const octet_model *m, const char *text) {
    if (m->has_tokenizer && m->tok.bos >= 0 && (uint32_t)m->tok.bos < m->tok.n_vocab) {
        size_t bl = m->tok.piece_len[m->tok.bos];
        if (bl && !strncmp(text, m->tok.piece[m->tok.bos], bl)) return 0;
    }
    return -1;
}

int octet_chat_tokenize(const octet_model *m, const char *text, int32_t **ids, size_t *n) {
    return octet_tokenize_text(m, text, strlen(text), chat_add_bos(m, text), 1, ids, n);
}

int octet_chat_prompt(const octet_model *m, const char *name, const octet_chat_msg *msgs, int n, int add_gen, char **text, int32_t **ids, size_t *n_ids) {
    if (text) *text = NULL;
    if (!m->has_tokenizer) { octet_set_error("%s: has no tokenizer", m->file.path); return -1; }
    octet_str o = {0};
    octet_chat_spans sp = {0};
    int rc = chat_render(m, name, msgs, n, add_gen, &o, &sp);
    if (rc == 0) rc = octet_tokenize_spans(&m->tok, o.p, o.len, chat_add_bos(m, o.p), 1, sp.at, sp.n / 2, ids, n_ids);
    free(sp.at);
    if (rc == 0 && text) *text = o.p;
    else octet_str_free(&o);
    return rc;
}
