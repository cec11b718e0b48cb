// The generation loop: evaluate the prompt, then sample and evaluate one token at a time,
// streaming text, until an end token, the token budget, or the end of the context.
#ifndef OCTET_GENERATE_H
#define OCTET_GENERATE_H
#include "octet.h"

typedef struct {
    int n_prompt, n_gen;
    double prompt_ms, gen_ms;
    const char *stop;   // "eos", "length", "context" or "callback"
} octet_gen_stats;

// on_token gets each generated token and its text (whole UTF-8 characters, maybe empty);
// returning non-zero stops. ids (if not NULL) receives the generated ids (room for n_predict,
// or for the context when n_predict < 0). Returns 0 or -1 with the error set.
int octet_generate(octet_session *s, const octet_model *m, octet_sampler *smp, const int32_t *prompt, int n_prompt,
                   int n_predict, int (*on_token)(void *ud, int32_t id, const char *text, size_t len), void *ud,
                   int32_t *ids, octet_gen_stats *st);
// The same with the evaluations made by eval (a server's batched steps: it gives the logits of
// the last of n tokens evaluated after those in s, or -1 with the error set); the host samples.
typedef int (*octet_eval_fn)(void *eval_ud, octet_session *s, const int32_t *t, int n, float *logits);
int octet_generate_via(octet_eval_fn eval, void *eval_ud, octet_session *s, const octet_model *m, octet_sampler *smp, const int32_t *prompt,
                       int n_prompt, int n_predict, int (*on_token)(void *ud, int32_t id, const char *text, size_t len), void *ud,
                       int32_t *ids, octet_gen_stats *st);
#endif
