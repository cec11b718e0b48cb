#include "batcher.h"
#include "util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// How long a step waits for the generating slots that have not queued their next token yet
// (one sending to a slow client): the others go on without it.
#define BATCH_WAIT_MS 2

struct batch_job {
    octet_session *s;
    const int32_t *t;
    int n, done, take, finished, rc;
    float *logits;
    char err[512];
    batch_job *next;
};

int batcher_init(serve_batcher *b, octet_session *runner, int budget) {
    memset(b, 0, sizeof *b);
    b->runner = runner;
    b->budget = budget > 0 ? budget : 1;
    if (pthread_mutex_init(&b->lock, NULL) != 0) return -1;
    if (pthread_cond_init(&b->changed, NULL) != 0) { pthread_mutex_destroy(&b->lock); return -1; }
    return 0;
}

void batcher_free(serve_batcher *b) {
    pthread_cond_destroy(&b->changed);
    pthread_mutex_destroy(&b->lock);
}

void batcher_join(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->active++;
    pthread_mutex_unlock(&b->lock);
}

void batcher_leave(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->active--;
    pthread_cond_broadcast(&b->changed);   // a leader waiting for this slot's token waits no more
    pthread_mutex_unlock(&b->lock);
}

static int queued(const serve_batcher *b) {
    int n = 0;
    for (const batch_job *j = b->queue; j; j = j->next) n++;
    return n;
}

// Leads one step (called and returning with the lock held; the lock is let go while it runs).
static void lead(serve_batcher *b) {
    b->running = 1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += BATCH_WAIT_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    while (queued(b) < b->active)
        if (pthread_cond_timedwait(&b->changed, &b->lock, &until) == ETIMEDOUT) break;
    int count = queued(b);
    batch_job **jobs = malloc((size_t)count * sizeof *jobs);
    octet_session **ss = malloc((size_t)count * sizeof *ss);
    const int32_t **tok = malloc((size_t)count * sizeof *tok);
    int *n = malloc((size_t)count * sizeof *n);
    float **out = malloc((size_t)count * sizeof *out);
    int k = 0, rows = 0, rc = -1;
    if (jobs && ss && tok && n && out) {
        // Decode tokens first (one row each), then what is left of the step for prompts, in order.
        for (int pass = 0; pass < 2; pass++)
            for (batch_job *j = b->queue; j; j = j->next) {
                int left = j->n - j->done, single = left == 1;
                if (single != (pass == 0) || rows >= b->budget) continue;
                j->take = left < b->budget - rows ? left : b->budget - rows;
                jobs[k] = j; ss[k] = j->s; tok[k] = j->t + j->done; n[k] = j->take;
                out[k] = j->done + j->take == j->n ? j->logits : NULL;
                rows += j->take;
                k++;
            }
        pthread_mutex_unlock(&b->lock);
        rc = octet_eval_batch(b->runner, ss, k, tok, n, out);
        pthread_mutex_lock(&b->lock);
    } else
        octet_set_error("out of memory for a batched step");
    const char *err = octet_last_error();
    if (!k)   // nothing was taken (out of memory): every queued evaluation fails
        for (batch_job *j = b->queue; j; j = j->next) { j->finished = 1; j->rc = -1; snprintf(j->err, sizeof j->err, "%s", err); }
    for (int i = 0; i < k; i++) {
        batch_job *j = jobs[i];
        if (rc != 0) { j->finished = 1; j->rc = -1; snprintf(j->err, sizeof j->err, "%s", err); continue; }
        j->done += j->take;
        if (j->done == j->n) j->finished = 1;
    }
    for (batch_job **p = &b->queue; *p;) {   // the finished leave the queue
        if ((*p)->finished) *p = (*p)->next;
        else p = &(*p)->next;
    }
    b->steps++;
    b->rows += rows;
    b->running = 0;
    pthread_cond_broadcast(&b->changed);
    free(jobs); free(ss); free(tok); free(n); free(out);
}

int batcher_eval(void *vb, octet_session *s, const int32_t *t, int n, float *logits) {
    serve_batcher *b = vb;
    batch_job job = {s, t, n, 0, 0, 0, 0, logits, "", NULL};
    pthread_mutex_lock(&b->lock);
    batch_job **tail = &b->queue;
    while (*tail) tail = &(*tail)->next;
    *tail = &job;
    pthread_cond_broadcast(&b->changed);
    while (!job.finished) {
        if (!b->running) lead(b);
        else pthread_cond_wait(&b->changed, &b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    if (job.rc != 0) octet_set_error("%s", job.err);
    return job.rc;
}
