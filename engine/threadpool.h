// A pthreads pool created once: run(fn) calls fn(ctx, i, n) on each of the n threads (the
// caller is thread 0) and returns when all are done.
#ifndef OCTET_THREADPOOL_H
#define OCTET_THREADPOOL_H
typedef struct octet_threadpool octet_threadpool;
octet_threadpool *octet_threadpool_new(int n_threads);
void octet_threadpool_free(octet_threadpool *tp);
int  octet_threadpool_size(const octet_threadpool *tp);
void octet_threadpool_run(octet_threadpool *tp, void (*fn)(void *ctx, int ith, int nth), void *ctx);
// CPUs this process may run on, and the physical cores among them (SMT siblings counted once).
int octet_cpu_count(void);
int octet_core_count(void);
// The [begin, end) slice of n items that thread ith of nth owns.
static inline void octet_split(int n, int ith, int nth, int *begin, int *end) {
    *begin = (int)((long long)n * ith / nth);
    *end = (int)((long long)n * (ith + 1) / nth);
}
#endif
