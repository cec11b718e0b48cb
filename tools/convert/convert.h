// `octet convert`: the options and the pipeline (a reader builds the model, the weights are
// quantized, calibration may run, the writer writes the .octet file).
#ifndef OCTET_CONVERT_H
#define OCTET_CONVERT_H
#include "conv_model.h"
#include "quantize.h"

typedef struct {
    const char *input, *output, *tokenizer, *synthetic;
    uint32_t type;       // OCTET_Q8, OCTET_Q8G32, OCTET_F16, OCTET_BF16 or OCTET_F32 for matrices
    int clip;            // q8 scales: CLIP_MSE (default), CLIP_MAX or CLIP_PCT
    double clip_pct;     // CLIP_PCT: the percentile of |row| used as the clip (e.g. 99.9)
    int vocab_only, quiet;
    // Calibration (calibrate.h): text (NULL: none), tokens to run, SmoothQuant alpha
    // (0: off; smooth_set: given on the command line), mixed precision by sensitivity: keep the
    // keep_f16 most sensitive matrices in f16 (0: none) or as many as bring the estimated KL of
    // the rest to max_kl (< 0: no limit); f16_budget: at most that many percent more tensor
    // data for the f16 tensors (< 0: no limit; alone: keep the most sensitive that fit);
    // f32_act: of the int8 matrices left, the N whose KL drops most with f32 activations are
    // marked to run weight-only (no bytes, some speed).
    const char *calib;
    int calib_tokens, smooth_set, keep_f16, f32_act;
    int act_asym;        // the file's int8 activations: ACT_SYM; ACT_ASYM for every matrix
                         // (quant.act_quant); ACT_MIXED (default): asymmetric for the matrices
                         // of asym_roles (quant.asym_act), symmetric for the rest; ACT_AUTO
                         // (default): mixed for grouped types, sym for q8
    unsigned asym_roles; // ROLE_* bits (convert_asym_roles)
    int gptq;            // round INT8 matrices with GPTQ against the calibration inputs' X^T X
    double gptq_damp;    // its dampening, a fraction of mean(diag H) (default 0.01)
    float smooth;
    double max_kl, f16_budget;
} convert_options;
#define CONVERT_DEFAULT_SMOOTH 0.5f
enum { ACT_SYM = 0, ACT_ASYM = 1, ACT_MIXED = 2, ACT_AUTO = 3 /* mixed for q8g32h and q8g32, sym for q8 */ };
// The matrices ACT_MIXED can mark, by role: the LM head (output.weight, or the tied embedding)
// and each layer's projections.
enum { ROLE_HEAD = 1, ROLE_FFN_DOWN = 2, ROLE_FFN_GATE = 4, ROLE_FFN_UP = 8, ROLE_ATTN_Q = 16, ROLE_ATTN_K = 32, ROLE_ATTN_V = 64, ROLE_ATTN_OUTPUT = 128 };
#define CONVERT_ASYM_ROLES "head,ffn_down"
// Parses a comma-separated list of roles (head, ffn_down, ffn_gate, ffn_up, attn_q, attn_k,
// attn_v, attn_output) or "none" into ROLE_* bits; -1 with the error set for anything else.
int convert_asym_roles(const char *list, unsigned *roles);
// The options a plain `octet convert` starts from (q8, mse clip, calibration defaults; unless
// --smooth is given, smoothing is on for q8g32 only).
void convert_options_default(convert_options *o);
int octet_convert(const convert_options *opt);
#endif
