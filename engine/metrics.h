// Scores of next-token distributions: negative log-likelihood, KL divergence between two
// models, top-1 agreement. Used by octet perplexity; double precision sums so long texts do
// not lose digits.
#ifndef OCTET_METRICS_H
#define OCTET_METRICS_H
#include <stdint.h>

// log-softmax of x (n values) into out (may alias x).
void   octet_log_softmax(const float *x, int n, double *out);
// -log p(target) under softmax(logits).
double octet_nll(const float *logits, int n, int32_t target);
// KL(P || Q) where P = softmax(p_logits) (the reference) and Q = softmax(q_logits); scratch
// holds 2n doubles.
double octet_kl(const float *p_logits, const float *q_logits, int n, double *scratch);

// Running statistics of per-token values: mean, standard error, percentiles (values are kept).
typedef struct { double *v; long n, cap; double sum, sum2; } octet_stats;
int    octet_stats_add(octet_stats *s, double x);
double octet_stats_mean(const octet_stats *s);
double octet_stats_stderr(const octet_stats *s);      // of the mean
double octet_stats_percentile(octet_stats *s, double p);  // sorts the values; p in [0, 100]
void   octet_stats_free(octet_stats *s);
#endif
