#include "threadpool.h"
#include <pthread.h>
#include <stdlib.h>

struct octet_threadpool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;
    int pending, quit;
    void (*fn)(void *, int, int);
    void *ctx;
};

typedef struct { octet_threadpool *tp; int ith; } worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    octet_threadpool *tp = a->tp;
    int ith = a->ith;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&tp->mu);
        while (tp->generation == seen && !tp->quit) pthread_cond_wait(&tp->start, &tp->mu);
        if (tp->quit) { pthread_mutex_unlock(&tp->mu); return NULL; }
        seen = tp->generation;
        void (*fn)(void *, int, int) = tp->fn;
        void *ctx = tp->ctx;
        pthread_mutex_unlock(&tp->mu);
        fn(ctx, ith, tp->n);
        pthread_mutex_lock(&tp->mu);
        if (--tp->pending == 0) pthread_cond_signal(&tp->done);
        pthread_mutex_unlock(&tp->mu);
    }
}

octet_threadpool *octet_threadpool_new(int n) {
    if (n < 1) n = 1;
    octet_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    tp->n = n;
    tp->threads = calloc((size_t)n, sizeof *tp->threads);
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->start, NULL);
    pthread_cond_init(&tp->done, NULL);
    for (int i = 1; i < n; i++) {
        worker_arg *a = malloc(sizeof *a);
        a->tp = tp;
        a->ith = i;
        if (pthread_create(&tp->threads[i], NULL, worker, a) != 0) { free(a); tp->n = i; break; }
    }
    return tp;
}

int octet_threadpool_size(const octet_threadpool *tp) { return tp->n; }

void octet_threadpool_run(octet_threadpool *tp, void (*fn)(void *, int, int), void *ctx) {
    if (tp->n == 1) { fn(ctx, 0, 1); return; }
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->ctx = ctx;
    tp->pending = tp->n - 1;
    tp->generation++;
    pthread_cond_broadcast(&tp->start);
    pthread_mutex_unlock(&tp->mu);
    fn(ctx, 0, tp->n);
    pthread_mutex_lock(&tp->mu);
    while (tp->pending) pthread_cond_wait(&tp->done, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}

void octet_threadpool_free(octet_threadpool *tp) {
    if (!tp) return;
    pthread_mutex_lock(&tp->mu);
    tp->quit = 1;
    pthread_cond_broadcast(&tp->start);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n; i++) pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->start);
    pthread_cond_destroy(&tp->done);
    free(tp->threads);
    free(tp);
}
