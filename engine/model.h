// A loaded model: the mapped .octet file, hyperparameters, tensors by layer, tokenizer.
#ifndef OCTET_MODEL_H
#define OCTET_MODEL_H
#include "octet_file.h"
#include "tokenizer.h"

typedef struct {
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, kv_dim, vocab_size, context_length, rope_dim;
    float norm_eps, rope_theta;
    int rope_neox;                       // 1: rotate halves (HF); 0: rotate adjacent pairs
} octet_hparams;

typedef struct {
    const octet_tensor *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *ffn_norm, *w_gate, *w_up, *w_down;
} octet_layer;

struct octet_model {
    octet_file file;
    octet_tokenizer tok;
    int has_tokenizer;
    octet_hparams hp;
    const octet_tensor *tok_embd, *output_norm, *output;  // output = tok_embd when tied
    octet_layer *layers;
    float *rope_inv_freq;                // rope_dim / 2 frequencies, scaling applied
    double load_ms;
};
typedef struct octet_model octet_model;

int  octet_model_load(octet_model *m, const char *path);
void octet_model_free(octet_model *m);
// Computes the int8 block sums asymmetric activations need, once per model (DESIGN.md: "row
// sums, computed once at load"); the model is otherwise read-only, so sessions share them.
int  octet_model_block_sums(const octet_model *m);
#endif
