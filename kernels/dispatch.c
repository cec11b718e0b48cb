// Picks the kernel set once, by CPUID or the AArch64 hardware capabilities
// (OCTET_KERNELS=scalar|avx2|avxvnni|avx512|neon|dotprod forces one).
#include "cpu_features.h"
#include "kernels.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const octet_kernel_set *octet_kernels_find(const char *name) {
    octet_cpu_features f;
    octet_cpu_detect(&f);
#ifdef OCTET_EMULATED_SETS   // build/emu/octet: the VNNI sets' instructions are emulated, so AVX2 is all they need
    f.avxvnni = f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = 1;
#endif
    if (!strcmp(name, "scalar")) return &octet_kernels_scalar;
    int avx2 = f.avx2 && f.fma && f.f16c;   // every x86 set uses AVX2's 256-bit paths
    if (!strcmp(name, "avx2") && avx2 && octet_kernels_avx2.dot_i8) return &octet_kernels_avx2;
    if (!strcmp(name, "avxvnni") && avx2 && f.avxvnni && octet_kernels_avxvnni.dot_i8) return &octet_kernels_avxvnni;
    if (!strcmp(name, "avx512") && avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && octet_kernels_avx512.dot_i8)
        return &octet_kernels_avx512;
    if (!strcmp(name, "neon") && f.neon && octet_kernels_neon.dot_i8) return &octet_kernels_neon;
    if (!strcmp(name, "dotprod") && f.neon && f.dotprod && octet_kernels_dotprod.dot_i8) return &octet_kernels_dotprod;
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
    static const char *best_first[] = {"avx512", "avxvnni", "avx2", "dotprod", "neon", "scalar"};
    for (unsigned i = 0; i < sizeof best_first / sizeof *best_first && !chosen; i++) chosen = octet_kernels_find(best_first[i]);
}

const octet_kernel_set *octet_kernels(void) {
    pthread_once(&once, choose);
    return chosen;
}
