// The model every reader fills (GGUF, Hugging Face, llama2.c, synthetic): metadata and a list of
// tensors that load themselves as f32 on demand. convert.c takes it from a reader, quantizes
// and writes it; readers only build it (conv_model.c), they never call back into convert.c.
#ifndef OCTET_CONV_MODEL_H
#define OCTET_CONV_MODEL_H
#include "octet_writer.h"
#include <stddef.h>
#include <stdint.h>

struct conv_model;
typedef struct conv_tensor {
    char    *name;                 // octet name (GGUF convention: blk.N.attn_q.weight ...)
    uint32_t n_dims;
    uint64_t dims[OCTET_MAX_DIMS]; // outermost first
    uint32_t src_type;             // reader-specific (ggml type, safetensors dtype ...)
    const uint8_t *src;            // reader-specific source bytes
    int (*load)(const struct conv_model *m, const struct conv_tensor *t, float *out);
    float shift;                   // added to every value after loading (Gemma's norms store w for 1 + w)
    size_t whole;                  // conv_split: the index of the fused tensor in conv_model.wholes
    uint64_t row0;                 //   and the first of its rows this part holds
} conv_tensor;

typedef struct conv_model {
    const char *path;
    octet_meta meta;
    conv_tensor *t;
    size_t n, cap;
    // Mapped input files, unmapped by conv_model_free.
    struct { void *p; size_t n; } maps[64];
    int n_maps;
    char arch[64];                 // model.arch, as the reader found it
    char *owned[8];                // other buffers the reader keeps alive
    int n_owned;
    conv_tensor *wholes;           // fused tensors split by conv_split (not written themselves)
    size_t n_wholes;
} conv_model;

conv_tensor *conv_add_tensor(conv_model *m, const char *name, uint32_t n_dims, const uint64_t *dims);
uint64_t conv_tensor_numel(const conv_tensor *t);
const conv_tensor *conv_find_tensor(const conv_model *m, const char *name);
// mmaps a whole input file (read-only) and records it for conv_model_free.
const uint8_t *conv_map_file(conv_model *m, const char *path, size_t *size);
void conv_model_free(conv_model *m);
// Replaces the 2-D tensor `name` by n parts of consecutive rows (rows[i] each, in order), named
// names[i]: fused projections (Phi-3's qkv_proj, gate_up_proj) become octet's separate ones.
int conv_split(conv_model *m, const char *name, int n, const char *const *names, const uint64_t *rows);
// Removes tensor `name` from the list (a source tensor whose content went into metadata).
void conv_drop_tensor(conv_model *m, const char *name);
// Stores a SentencePiece-style vocabulary (<unk> 0, <s> 1, </s> 2, BOS added, space prefix).
void conv_set_spm_vocab(conv_model *m, uint32_t n, const char *const *pieces, const uint32_t *lens, const float *scores, const int32_t *types);
// Stores the Jinja chat template and the name of the family it was recognised as.
void conv_set_chat_template(conv_model *m, const char *jinja, size_t len);

// Readers. Each returns 0, or -1 with octet_last_error() naming the file and the problem.
int gguf_read(conv_model *m, const char *path);
int hf_read(conv_model *m, const char *dir);
int llama2c_read(conv_model *m, const char *path, const char *tokenizer_path);
// Reads a llama2.c tokenizer.bin into the model's metadata (SentencePiece-style vocabulary).
int llama2c_read_tokenizer(conv_model *m, const char *path, uint32_t vocab_size);
// A random-weight model of a named real shape (synthetic.c), for speed tests only.
int synthetic_read(conv_model *m, const char *shape);
const char *synthetic_shape_names(void);
#endif
