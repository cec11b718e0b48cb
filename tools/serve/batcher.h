// Continuous batching for octet serve: every slot's evaluations (prompts and decode tokens) meet
// in shared forward steps on one runner session's threads, so N streams read the weights once
// per step instead of N times. A slot thread calls batcher_eval and waits; whichever waiting
// thread finds no step running leads the next one (no thread of its own). A step waits up to
// BATCH_WAIT_MS for every generating slot to have its next evaluation queued, then takes the
// queued single tokens first and cuts prompts into chunks within the runner's batch size, so a
// long prompt does not stall the others. Each sequence's logits are those it gets alone
// (octet_eval_batch), whatever shares its steps.
#ifndef OCTET_BATCHER_H
#define OCTET_BATCHER_H
#include "octet.h"
#include <pthread.h>

typedef struct batch_job batch_job;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    octet_session *runner;   // whose buffers and threads run every step
    int budget;              // rows per step (the runner's batch size)
    int active;              // slots generating now (a step waits for their next evaluation)
    int running;             // a step is being led
    batch_job *queue;        // evaluations not yet done, in arrival order
    long steps, rows;        // counters, for the log
} serve_batcher;

int  batcher_init(serve_batcher *b, octet_session *runner, int budget);
void batcher_free(serve_batcher *b);
// A slot starts or stops generating (batcher_eval may only be called in between).
void batcher_join(serve_batcher *b);
void batcher_leave(serve_batcher *b);
// octet_generate_via's evaluation: n tokens of session s in the coming steps; the logits of the
// last. 0, or -1 with the error set.
int  batcher_eval(void *b, octet_session *s, const int32_t *t, int n, float *logits);
#endif
