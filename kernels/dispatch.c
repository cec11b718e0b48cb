// Picks the kernel set once, by CPUID (OCTET_KERNELS=scalar|avx2 forces one).
#include "cpu_features.h"
#include "kernels.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const octet_kernel_set *octet_kernels_find(const char *name) {
    octet_cpu_features f;
    octet_cpu_detect(&f);
    if (!strcmp(name, "scalar")) return &octet_kernels_scalar;
    if (!strcmp(name, "avx2") && f.avx2 && f.fma && f.f16c && octet_kernels_avx2.dot_i8) return &octet_kernels_avx2;
    return NULL;
}

static const octet_kernel_set *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const char *force = getenv("OCTET_KERNELS");
    if (force && *force) {
        chosen = octet_kernels_find(force);
        if (chosen) return;
        fprintf(stderr, "octet: warning: OCTET_KERNELS=%s is not available on this CPU; choosing automatically\n", force);
    }
    static const char *best_first[] = {"avx2", "scalar"};
    for (unsigned i = 0; i < sizeof best_first / sizeof *best_first && !chosen; i++) chosen = octet_kernels_find(best_first[i]);
}

const octet_kernel_set *octet_kernels(void) {
    pthread_once(&once, choose);
    return chosen;
}
