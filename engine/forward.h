// The Llama-family forward pass over a batch of tokens; prefill and decode share this path.
#ifndef OCTET_FORWARD_H
#define OCTET_FORWARD_H
#include "backend.h"
#include "model.h"

// Where a forward pass can be observed (calibration): a layer's input (the residual stream),
// and the inputs of its matmuls: q/k/v, o, gate/up, down; then the LM head's input.
enum { OCTET_SITE_LAYER_IN, OCTET_SITE_ATTN_IN, OCTET_SITE_ATTN_OUT, OCTET_SITE_FFN_IN, OCTET_SITE_FFN_OUT, OCTET_SITE_HEAD_IN, OCTET_SITE_COUNT };
// Called with the n rows of width k a site holds, before the matmuls that read them run.
typedef void (*octet_observe_fn)(void *ud, int layer, int site, const float *x, int n, int k);

typedef struct {
    const octet_model *m;
    int n_ctx, n_batch, n_threads, pos;
    void *k_cache, *v_cache;                  // [n_layers][n_ctx][kv_dim], f32 or f16
    int kv_f16;
    float *kv_rows;                           // [n_threads][att_scratch]: f16 rows converted, a panel of queries, a tile's scores
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2;  // one row per batch token
    float *logits;                            // the last position's (vocab floats)
    float *scores;                            // [n_threads][8][n_ctx]: attention items of 8 tokens
    float *rope_cs;                           // [n_batch][rope_dim]: cos, sin per pair
    float *step_logits;                       // a batched step's LM head rows (step_rows of them), grown on demand
    size_t step_rows;
    octet_threadpool *tp;
    octet_scratch scratch;
    octet_observe_fn observe;                 // NULL unless calibrating
    void *observe_ud;
    int first_layer;                          // >0: the next chunk starts at this layer with
                                              // its input already in x (calibration only)
} octet_context;

// act_block and act_asym: how matmul inputs are quantized (backend.h octet_scratch); act_asym
// needs the model's block sums (octet_model_block_sums) or falls back to symmetric.
int  octet_context_init(octet_context *c, const octet_model *m, int n_ctx, int n_batch, int n_threads, int act_block, int act_asym, int kv_f16);
void octet_context_free(octet_context *c);
// Evaluates n tokens at positions pos..pos+n-1 (in chunks of n_batch) and advances pos.
// Writes logits of every token (all = 1: n * vocab floats) or of the last (vocab floats).
// Returns 0, or -1 when the context is full or a token id is invalid.
int  octet_forward(octet_context *c, const int32_t *tokens, int n, float *logits, int all);
// One sequence of a batched evaluation: its own context (whose KV cache and position it
// advances), n tokens, and where the logits of its last token go (vocab floats; NULL: none).
typedef struct { octet_context *kv; const int32_t *tokens; int n; float *logits; } octet_batch_seq;
// Evaluates several sequences together on c's buffers and threads (c may be one of them): steps
// of at most c->n_batch rows in all, each sequence taking its tokens in order (a long prompt is
// cut into chunks). Every sequence's logits equal, bit for bit, those octet_forward gives it
// alone in the same chunks (same model, KV cache type and activation mode; contexts no larger
// than c's). Returns 0, or -1 with the error set before anything is evaluated.
int  octet_forward_batch(octet_context *c, const octet_batch_seq *seqs, int n_seqs);
// The checks octet_forward makes before evaluating (any backend): n > 0, room in the context,
// token ids inside the vocabulary. Returns 0 or -1 with the error set.
int  octet_forward_check(const octet_model *m, int pos, int n_ctx, const int32_t *tokens, int n);
#endif
