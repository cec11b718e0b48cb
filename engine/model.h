// A loaded model: the mapped .octet file, hyperparameters, tensors by layer, tokenizer.
#ifndef OCTET_MODEL_H
#define OCTET_MODEL_H
#include "octet_file.h"
#include "tokenizer.h"

// The facts the forward pass needs (models/FORMAT.md): the Llama shape, and what other families
// change in it. A family is never a code path, only these values.
typedef struct {
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, q_dim, kv_dim, vocab_size, context_length, rope_dim;
    float norm_eps, rope_theta;
    int rope_neox;                       // 1: rotate halves (HF); 0: rotate adjacent pairs
    int ffn_gelu;                        // the FFN gate's activation: 0 SiLU (SwiGLU), 1 GELU, tanh form (GeGLU)
    float embed_scale;                   // token embeddings are multiplied by it (Gemma: sqrt(dim))
    float attn_scale;                    // attention scores are multiplied by it (1/sqrt(head_dim) by default)
    float attn_softcap, final_softcap;   // cap * tanh(x / cap) on the scores / the logits; 0: none
    uint32_t sliding_window;             // a sliding layer attends to the last this many positions
} octet_hparams;

typedef struct {
    const octet_tensor *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *ffn_norm, *w_gate, *w_up, *w_down;
    const octet_tensor *q_norm, *k_norm;                  // per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
    const octet_tensor *attn_post_norm, *ffn_post_norm;   // RMSNorm of each block's output before the residual add (Gemma 2/3)
    int sliding;                                          // attends to hp.sliding_window positions only
    int rope;                                             // which RoPE table (0: the model's; 1: sliding layers' own)
} octet_layer;

// One RoPE table: the frequency of each rotated pair, and the factor on cos and sin (YaRN and
// LongRoPE's attention factor, else 1). LongRoPE also has long-context frequencies, used for a
// chunk whose last position is past long_after.
typedef struct { float *inv_freq, *inv_freq_long, mscale; uint32_t long_after; } octet_rope_table;

struct octet_model {
    octet_file file;
    octet_tokenizer tok;
    int has_tokenizer;
    octet_hparams hp;
    const octet_tensor *tok_embd, *output_norm, *output;  // output = tok_embd when tied
    octet_layer *layers;
    octet_rope_table rope[2];
    double load_ms;
};
typedef struct octet_model octet_model;

// The description's limits (engine/hparams.c): widths that keep every product the forward pass
// forms in int, positions in int, and layers few enough for per-layer tables.
#define OCTET_MAX_WIDTH    (1u << 20)   // dim, hidden_dim, q_dim
#define OCTET_MAX_HEAD_DIM 65536u
#define OCTET_MAX_LAYERS   4096u
#define OCTET_MAX_CONTEXT  (1u << 30)
#define OCTET_MAX_VOCAB    (1u << 24)   // the tokenizer's bound too

// The numbers of the description (hparams.c): the shape first, then (with m->layers allocated)
// the per-layer facts and RoPE tables. Each returns 0, or -1 with the error naming the key.
int  octet_hparams_read(octet_model *m);
int  octet_hparams_read_facts(octet_model *m);

int  octet_model_load(octet_model *m, const char *path);
// The same with the file read into memory (octet_file_open_mode) when in_memory is set.
int  octet_model_load_mode(octet_model *m, const char *path, int in_memory);
void octet_model_free(octet_model *m);
// The loader's whole check of a description that is not a file yet (the converter's, before it
// calibrates or writes): metadata in the file's encoding (n_kv records) and the tensors' names,
// dtypes and shapes (no data). 0 when a file holding them would load; else -1 with the error
// naming `path` and the problem.
int  octet_model_check_description(const char *path, const uint8_t *meta, size_t len, uint64_t n_kv, const octet_tensor *shapes, uint64_t n_tensors);
// 0 when the model uses only what the CUDA backend runs (the Llama shape); else -1 with the
// error naming the first fact it lacks.
int  octet_model_llama_shaped(const octet_model *m);
// Computes the int8 block sums asymmetric activations need, once per model (DESIGN.md: "row
// sums, computed once at load"); the model is otherwise read-only, so sessions share them.
// marked_only: only for the matrices the file marks for asymmetric activations (quant.asym_act).
int  octet_model_block_sums(const octet_model *m, int marked_only);
// 1 when the file marks any matrix for asymmetric activations (quant.asym_act).
int  octet_model_asym_marks(const octet_model *m);
#endif
