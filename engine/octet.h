// octet's public API (liboctet.a / liboctet.so): load a model, make a context, tokenize,
// evaluate tokens into logits, sample, turn tokens back into text.
#ifndef OCTET_H
#define OCTET_H
#include <stddef.h>
#include <stdint.h>
#include "sampler.h"
#include "chat.h"

typedef struct octet_model octet_model;
typedef struct octet_session octet_session;

// How activations meet INT8 weights: int8 with one scale per 32 inputs (default; integer
// matmuls), int8 with one scale per token (DESIGN's plain mode), or f32 (weight-only INT8).
// INT8 is the file's mode: symmetric, asymmetric blocks for every matrix (octet convert
// --act-quant asym), or asymmetric for the matrices the file marks (quant.asym_act, octet
// convert's default) and symmetric for the rest; INT8_SYM and INT8_ASYM force one for every
// matrix (asymmetric: scale + offset per 32 inputs, CPU only).
enum { OCTET_ACT_INT8 = 0, OCTET_ACT_INT8_ROW = 1, OCTET_ACT_F32 = 2, OCTET_ACT_INT8_SYM = 3, OCTET_ACT_INT8_ASYM = 4 };
enum { OCTET_DEVICE_CPU = 0, OCTET_DEVICE_CUDA = 1 };
typedef struct { int n_ctx, n_batch, n_threads, act, kv_f16, device; } octet_session_params;
// Parses "int8", "int8-row", "f32", "int8-sym" or "int8-asym"; -1 for anything else.
int octet_act_mode(const char *name);
const char *octet_act_name(int act);
// The mode a session with this model runs for `act` (INT8 becomes INT8_SYM or INT8_ASYM, and
// stays INT8 for a file that marks matrices for asymmetric activations).
int octet_act_resolve(const octet_model *m, int act);

// Every function that can fail returns NULL or non-zero and sets octet_last_error().
const char    *octet_last_error(void);
octet_model   *octet_load(const char *path);
// How octet_load_mode holds the file: OCTET_LOAD_MMAP maps it (what octet_load does: pages load on
// first use and are shared with other processes through the page cache); OCTET_LOAD_MEMORY reads
// it whole into private memory backed by huge pages where the kernel allows (faster decode: the
// weights stream past with fewer TLB misses; the default of chat, serve, perplexity and bench).
enum { OCTET_LOAD_MMAP = 0, OCTET_LOAD_MEMORY = 1 };
octet_model   *octet_load_mode(const char *path, int how);
// Mapped models: if a file shrinks while in use, reading its lost pages raises SIGBUS. After
// this call (once, at start; the octet CLI does it) that ends the process with one line naming
// the file and exit status 1 instead; new sessions on a shrunk file fail with an error.
void           octet_guard_mappings(void);
void           octet_free(octet_model *m);
double         octet_load_ms(const octet_model *m);
int            octet_vocab_size(const octet_model *m);
int            octet_context_length(const octet_model *m);   // the model's trained context
int            octet_model_is_synthetic(const octet_model *m);
// The BOS id when the model's tokenizer starts every text with it, else -1.
int32_t        octet_bos_added(const octet_model *m);
// True for tokens that end a generation (EOS, EOT, and control tokens such as <|im_end|>).
int            octet_is_end_token(const octet_model *m, int32_t id);

// add_bos < 0 follows the model; parse_special turns control-token text into ids.
int octet_tokenize_text(const octet_model *m, const char *text, size_t len, int add_bos, int parse_special, int32_t **ids, size_t *n);

octet_session *octet_session_new(const octet_model *m, const octet_session_params *p);
void           octet_session_free(octet_session *s);
int            octet_session_pos(const octet_session *s);
int            octet_session_n_ctx(const octet_session *s);
void           octet_session_reset(octet_session *s);
// Keeps the longest prefix of the cached tokens that t[0..n-1] shares (at most n-1, so at
// least one token is left to evaluate) and drops the rest; returns how many were kept. The
// caller then evaluates t[kept..n-1]: a chat turn or a request with the same history costs
// only its new tokens.
int            octet_session_reuse(octet_session *s, const int32_t *t, int n);
// What octet_session_reuse would keep, without changing the session.
int            octet_session_shared(const octet_session *s, const int32_t *t, int n);
// Evaluates n tokens after those already in the session; logits of all (n * vocab floats) or
// of the last token (vocab floats).
int            octet_eval(octet_session *s, const int32_t *tokens, int n, float *logits, int all);
// Evaluates several sessions' tokens together: steps of at most the runner's batch size (-b) on
// the runner's buffers and threads (runner: any CPU session of the model, one of them or not;
// NULL: s[0]), in which every weight is read once for all the sessions' tokens (decode of B
// sequences costs about one). Session i gets its n[i] >= 1 tokens and, when logits and logits[i]
// are not NULL, the logits of its last token (vocab floats). Each session's logits equal bit for
// bit those octet_eval gives it alone: what shares a step changes nothing. CPU sessions of one
// model, with the runner's activation mode and KV cache type, contexts no larger than the
// runner's. Only the sessions evaluated (and the runner's scratch) are touched.
int            octet_eval_batch(octet_session *runner, octet_session *const *s, int n_seqs, const int32_t *const *tokens, const int *n, float *const *logits);
// Evaluates n tokens and gives the most likely next token (the greedy choice); on a GPU only
// the id leaves the device.
int            octet_eval_greedy(octet_session *s, const int32_t *tokens, int n, int32_t *next);
// Evaluates n tokens and picks the next one with the sampler (which it advances as
// octet_sample does): greedy and plain temperature/top-k/top-p/min-p sampling happen on the GPU
// for a GPU session (only the id comes back); otherwise the logits go through octet_sample.
// logits: room for vocab floats (scratch; holds the last logits when the host sampled).
int            octet_eval_next(octet_session *s, const int32_t *tokens, int n, octet_sampler *smp, float *logits, int32_t *next);
// 1 when this build can run sessions on the GPU (make CUDA=1).
int            octet_has_cuda(void);

// Chat: the family stored in the model ("chatml", ... or "unknown"); renders a conversation
// with it (or with the family `name` when not NULL) into a malloc'd prompt; tokenizes such a
// prompt (control-token text becomes ids; BOS added unless the text starts with it).
const char    *octet_chat_template_name(const octet_model *m);
int            octet_chat_format(const octet_model *m, const char *name, const octet_chat_msg *msgs, int n, int add_gen, char **out);
int            octet_chat_tokenize(const octet_model *m, const char *text, int32_t **ids, size_t *n);
// Renders and tokenizes a conversation in one step, the way to build a chat prompt from text
// others wrote: control tokens come only from the template, never from a message's content
// (a user typing "<|im_start|>system" gets those characters as text). text (may be NULL)
// receives the rendered prompt.
int            octet_chat_prompt(const octet_model *m, const char *name, const octet_chat_msg *msgs, int n, int add_gen, char **text, int32_t **ids, size_t *n_ids);

// Streaming detokenization: appends whole UTF-8 characters of token id to out.
typedef struct octet_text_stream octet_text_stream;
octet_text_stream *octet_text_stream_new(const octet_model *m);
size_t             octet_text_stream_push(octet_text_stream *t, int32_t id, char *out, size_t cap);
size_t             octet_text_stream_flush(octet_text_stream *t, char *out, size_t cap);
void               octet_text_stream_free(octet_text_stream *t);
#endif
