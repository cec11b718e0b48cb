#include "metrics.h"
#include <math.h>
#include <stdlib.h>

void octet_log_softmax(const float *x, int n, double *out) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < n; i++) out[i] = (double)x[i] - lse;
}

double octet_nll(const float *x, int n, int32_t target) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return mx + log(sum) - (double)x[target];
}

double octet_kl(const float *p, const float *q, int n, double *scratch) {
    double *lp = scratch, *lq = scratch + n, kl = 0;
    octet_log_softmax(p, n, lp);
    octet_log_softmax(q, n, lq);
    for (int i = 0; i < n; i++) kl += exp(lp[i]) * (lp[i] - lq[i]);
    return kl > 0 ? kl : 0;  // rounding can make identical distributions a hair negative
}

int octet_stats_add(octet_stats *s, double x) {
    if (s->n == s->cap) {
        long cap = s->cap ? s->cap * 2 : 1024;
        double *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        s->v = v; s->cap = cap;
    }
    s->v[s->n++] = x;
    s->sum += x;
    s->sum2 += x * x;
    return 0;
}
double octet_stats_mean(const octet_stats *s) { return s->n ? s->sum / (double)s->n : 0; }
double octet_stats_stderr(const octet_stats *s) {
    if (s->n < 2) return 0;
    double m = octet_stats_mean(s), var = (s->sum2 / (double)s->n - m * m) * (double)s->n / (double)(s->n - 1);
    return var > 0 ? sqrt(var / (double)s->n) : 0;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
double octet_stats_percentile(octet_stats *s, double p) {
    if (!s->n) return 0;
    qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_double);
    double r = p / 100.0 * (double)(s->n - 1);
    long i = (long)floor(r);
    if (i >= s->n - 1) return s->v[s->n - 1];
    return s->v[i] + (r - (double)i) * (s->v[i + 1] - s->v[i]);
}
void octet_stats_free(octet_stats *s) { free(s->v); s->v = NULL; s->n = s->cap = 0; s->sum = s->sum2 = 0; }
