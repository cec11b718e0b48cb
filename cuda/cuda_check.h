// CK(call): on a CUDA error, sets octet's error message (with the file and line) and jumps to
// the caller's `fail` label.
#ifndef OCTET_CUDA_CHECK_H
#define OCTET_CUDA_CHECK_H
#include <cuda_runtime.h>
extern "C" {
#include "util.h"
}
#define CK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { octet_set_error("cuda: %s (%s:%d)", cudaGetErrorString(e_), __FILE__, __LINE__); goto fail; } } while (0)
#endif
