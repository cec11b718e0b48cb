// The CUDA backend (built with `make CUDA=1`). For now: device discovery for `octet info`;
// the kernels arrive with the CUDA backend issue.
#ifndef OCTET_CUDA_H
#define OCTET_CUDA_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
// Writes one line describing the first GPU (name, compute capability, memory) or why there
// is none; returns the number of CUDA devices.
int octet_cuda_describe(char *buf, size_t cap);
#ifdef __cplusplus
}
#endif
#endif
