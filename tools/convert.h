// The converter's common model description: each reader (GGUF, Hugging Face, llama2.c) fills
// metadata and a list of tensors that load themselves as f32 on demand; convert.c quantizes
// and writes them.
#ifndef OCTET_CONVERT_H
#define OCTET_CONVERT_H
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
// A random-weight model of a named real shape (tools/synthetic.c), for speed tests only.
int synthetic_read(conv_model *m, const char *shape);
const char *synthetic_shape_names(void);

enum { CLIP_MSE = 0, CLIP_MAX = 1, CLIP_PCT = 2 };
typedef struct {
    const char *input, *output, *tokenizer, *synthetic;
    uint32_t type;       // OCTET_Q8, OCTET_Q8G32, OCTET_F16, OCTET_BF16 or OCTET_F32 for matrices
    int clip;            // q8 scales: CLIP_MSE (default), CLIP_MAX or CLIP_PCT
    double clip_pct;     // CLIP_PCT: the percentile of |row| used as the clip (e.g. 99.9)
    int vocab_only, quiet;
    // Calibration (tools/calibrate.h): text (NULL: none), tokens to run, SmoothQuant alpha
    // (0: off; smooth_set: given on the command line), mixed precision by sensitivity: keep the
    // keep_f16 most sensitive matrices in f16 (0: none) or as many as bring the estimated KL of
    // the rest to max_kl (< 0: no limit); f16_budget: at most that many percent more tensor
    // data for the f16 tensors (< 0: no limit; alone: keep the most sensitive that fit);
    // f32_act: of the int8 matrices left, the N whose KL drops most with f32 activations are
    // marked to run weight-only (no bytes, some speed).
    const char *calib;
    int calib_tokens, smooth_set, keep_f16, f32_act;
    int act_asym;        // record asymmetric int8 activations as the file's default (quant.act_quant)
    float smooth;
    double max_kl, f16_budget;
} convert_options;
#define CONVERT_DEFAULT_SMOOTH 0.5f
// The options a plain `octet convert` starts from (q8, mse clip, calibration defaults; unless
// --smooth is given, smoothing is on for q8g32 only).
void convert_options_default(convert_options *o);
int octet_convert(const convert_options *opt);

// Symmetric INT8 per group (a row for OCTET_Q8, 32 weights for OCTET_Q8G32): scale = clip / 127
// with clip = max|group| (CLIP_MAX), the clip that minimises the group's squared quantization
// error (CLIP_MSE), or the pct-th percentile of |group| (CLIP_PCT). Writes the layout of dtype
// (int8 rows, padding, f32 scales) into dst, which holds octet_tensor_nbytes(dtype, rows, cols)
// bytes. Rows are spread over n_threads threads (the result does not depend on it).
void octet_quantize_q8(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, uint8_t *dst, int clip, double pct, int n_threads);
#endif
