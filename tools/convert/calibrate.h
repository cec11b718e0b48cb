// Calibration for octet convert: runs the unquantized model on real text to measure the range
// of every matmul input channel, folds SmoothQuant scales into the weights, and measures how
// much each tensor's quantization alone changes the next-token distributions (sensitivity).
#ifndef OCTET_CALIBRATE_H
#define OCTET_CALIBRATE_H
#include "model.h"
#include <stdint.h>

// The text built into the converter (calib_text.c), named by --calib builtin.
#define OCTET_CALIB_BUILTIN "builtin"
extern const char octet_builtin_calib_text[];

typedef struct {
    const char *text;      // calibration text file, or OCTET_CALIB_BUILTIN
    int tokens;            // tokens of it to run (activation ranges)
    int sens_tokens;       // tokens for sensitivity (a prefix of those)
    float smooth;          // SmoothQuant alpha; 0: no smoothing
    int sensitivity;       // measure per-tensor sensitivity
    int weight_only;       // also with that tensor's activations left in f32 (sens_f32_act)
    int act_asym;          // the runs quantize activations asymmetrically, as the file will
    int hessians;          // collect X^T X of every matmul input (after smoothing), for GPTQ
    uint32_t type;         // quantized type the sensitivities are measured for
    int clip;              // clip rule (quantize.h CLIP_*) and percentile
    double clip_pct;
    int quiet;
} calib_options;

typedef struct {
    octet_model m;         // the f32 model, smoothed in place (a private writable mapping)
    int n_tokens, sens_tokens;
    double *sens;          // per file tensor: mean KL when only it is quantized; < 0: not measured
    double *sens_f32_act;  // the same with f32 activations for that tensor (weight_only runs)
    // hessians: X^T X (k x k, row-major) of each matmul input over the calibration tokens, per
    // layer and site (0 q/k/v in, 1 o in, 2 gate/up in, 3 down in), and of the LM head's input.
    double **hess;         // [n_layers * 4], NULL when not collected
    double *hess_head;     // NULL for a tied LM head (rounded plainly: it is the lookup table too)
} calib_result;

// The X^T X that the inputs of model tensor t met, with its width in *k; NULL if none (token
// embeddings that are not the LM head, or none collected).
const double *calib_hessian(const calib_result *r, const octet_tensor *t, uint64_t *k);

// Loads the f32 model at f32_path and calibrates it. Returns 0, or -1 with the error set.
int  calib_run(const char *f32_path, const calib_options *o, calib_result *r);
void calib_free(calib_result *r);
#endif
