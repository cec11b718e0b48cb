#include "cpu_features.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

void octet_cpu_detect(octet_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->sse42 = (c >> 20) & 1;
    f->fma = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    int osxsave = (c >> 27) & 1, avx_hw = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_avx = (xcr0 & 6) == 6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    f->avx = avx_hw && os_avx;
    if (!f->avx) { f->fma = f->f16c = 0; }
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = f->avx && ((b >> 5) & 1);
    f->avx512f = os_avx512 && ((b >> 16) & 1);
    f->avx512bw = f->avx512f && ((b >> 30) & 1);
    f->avx512vl = f->avx512f && ((b >> 31) & 1);
    f->avx512vnni = f->avx512f && ((c >> 11) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f->avxvnni = f->avx2 && ((a >> 4) & 1);
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

void octet_cpu_detect(octet_cpu_features *f) {
    memset(f, 0, sizeof *f);
    f->neon = 1;   // Advanced SIMD is part of every AArch64 CPU
    f->dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
}
#else
void octet_cpu_detect(octet_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

void octet_cpu_features_string(const octet_cpu_features *f, char *buf, unsigned cap) {
    const struct { int on; const char *name; } all[] = {
        {f->sse42, "sse4.2"}, {f->avx, "avx"}, {f->avx2, "avx2"}, {f->fma, "fma"}, {f->f16c, "f16c"},
        {f->avx512f, "avx512f"}, {f->avx512bw, "avx512bw"}, {f->avx512vl, "avx512vl"},
        {f->avx512vnni, "avx512vnni"}, {f->avxvnni, "avxvnni"}, {f->neon, "neon"}, {f->dotprod, "dotprod"},
    };
    buf[0] = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i].on) n += (unsigned)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? " " : "", all[i].name);
    if (!n) snprintf(buf, cap, "none");
}
