// Workers spin briefly on a generation counter between operations (a token runs hundreds of
// them, so waking through the kernel each time would dominate), then sleep on a condition
// variable when idle. The caller spins until every worker has finished.
//
// With more threads than CPUs, spinning starves the threads that have work (a spinner holds
// the core a working thread waits for): such a pool never spins: workers sleep at once and the
// caller yields its core while it waits.
#define _GNU_SOURCE
#include "threadpool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPINS_BEFORE_SLEEP (1 << 16)

struct octet_threadpool {
    int n, spin;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_ulong generation;
    atomic_int pending, sleeping, quit;
    void (*fn)(void *, int, int);
    void *ctx;
};

typedef struct { octet_threadpool *tp; int ith; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void *worker(void *p) {
    worker_arg *a = p;
    octet_threadpool *tp = a->tp;
    int ith = a->ith;
    free(a);
    unsigned long seen = 0, g;
    int max_spins = tp->spin ? SPINS_BEFORE_SLEEP : 0;
    for (;;) {
        int spins = 0;
        while ((g = atomic_load(&tp->generation)) == seen) {
            if (atomic_load(&tp->quit)) return NULL;
            if (++spins < max_spins) { cpu_relax(); continue; }
            // Sleep; `sleeping` is raised under the lock before the last check, so a run()
            // that misses it has already bumped the generation we are about to read.
            pthread_mutex_lock(&tp->mu);
            atomic_fetch_add(&tp->sleeping, 1);
            while (atomic_load(&tp->generation) == seen && !atomic_load(&tp->quit)) pthread_cond_wait(&tp->wake, &tp->mu);
            atomic_fetch_sub(&tp->sleeping, 1);
            pthread_mutex_unlock(&tp->mu);
            spins = 0;
        }
        seen = g;
        tp->fn(tp->ctx, ith, tp->n);
        atomic_fetch_sub(&tp->pending, 1);
    }
}

octet_threadpool *octet_threadpool_new(int n) {
    if (n < 1) n = 1;
    octet_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    tp->n = n;
    tp->spin = n <= octet_cpu_count();
    tp->threads = calloc((size_t)n, sizeof *tp->threads);
    if (!tp->threads) { free(tp); return NULL; }
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->wake, NULL);
    atomic_init(&tp->generation, 0);
    atomic_init(&tp->pending, 0);
    atomic_init(&tp->sleeping, 0);
    atomic_init(&tp->quit, 0);
    for (int i = 1; i < n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) { tp->n = i; break; }
        a->tp = tp;
        a->ith = i;
        if (pthread_create(&tp->threads[i], NULL, worker, a) != 0) { free(a); tp->n = i; break; }
    }
    return tp;
}

int octet_threadpool_size(const octet_threadpool *tp) { return tp->n; }

void octet_threadpool_run(octet_threadpool *tp, void (*fn)(void *, int, int), void *ctx) {
    if (tp->n == 1) { fn(ctx, 0, 1); return; }
    tp->fn = fn;
    tp->ctx = ctx;
    atomic_store(&tp->pending, tp->n - 1);
    atomic_fetch_add(&tp->generation, 1);
    if (atomic_load(&tp->sleeping) > 0) {
        pthread_mutex_lock(&tp->mu);
        pthread_cond_broadcast(&tp->wake);
        pthread_mutex_unlock(&tp->mu);
    }
    fn(ctx, 0, tp->n);
    while (atomic_load(&tp->pending) > 0) {
        if (tp->spin) cpu_relax();
        else sched_yield();
    }
}

void octet_threadpool_free(octet_threadpool *tp) {
    if (!tp) return;
    pthread_mutex_lock(&tp->mu);
    atomic_store(&tp->quit, 1);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n; i++) pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->wake);
    free(tp->threads);
    free(tp);
}

int octet_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) { int n = CPU_COUNT(&set); if (n > 0) return n; }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

// SMT siblings share one core's execution units: count each core once (the first CPU of its
// thread_siblings_list), among the CPUs this process may use.
int octet_core_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return octet_cpu_count();
    int cores = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set)) continue;
        char path[96], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
        FILE *fp = fopen(path, "r");
        int first = c;
        if (fp) {
            if (fgets(buf, sizeof buf, fp)) first = atoi(buf);
            fclose(fp);
        }
        cores += first == c || !CPU_ISSET(first, &set);
    }
    return cores > 0 ? cores : octet_cpu_count();
}
