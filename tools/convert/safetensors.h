// safetensors files: an 8-byte header length, a JSON header, then raw little-endian tensors.
#ifndef OCTET_SAFETENSORS_H
#define OCTET_SAFETENSORS_H
#include "conv_model.h"

// Adds every tensor of one safetensors file to m, renamed by map_name (which returns 0 and
// fills `out`, 1 to skip the tensor, or -1 for an error it has set). Only F32, F16 and BF16
// tensors can be converted; others are an error naming the tensor.
int safetensors_read(conv_model *m, const char *path,
                     int (*map_name)(const char *hf_name, char *out, size_t cap, void *ctx), void *ctx);
#endif
