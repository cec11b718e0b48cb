// CPU features found at run time (x86: CPUID + OS support via XGETBV; AArch64: the kernel's
// hardware capabilities), and the kernel set chosen.
#ifndef OCTET_CPU_FEATURES_H
#define OCTET_CPU_FEATURES_H
typedef struct {
    int sse42, avx, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avxvnni, neon, dotprod;
} octet_cpu_features;

void octet_cpu_detect(octet_cpu_features *f);
// Space-separated list of the features present ("none" when there are none).
void octet_cpu_features_string(const octet_cpu_features *f, char *buf, unsigned cap);
#endif
