// Writes .octet files (models/FORMAT.md): metadata is built in memory, tensors are streamed in
// table order to a temp file that is renamed over the destination only when complete.
#ifndef OCTET_WRITER_H
#define OCTET_WRITER_H
#include "octet_file.h"
#include <stdio.h>
#include "util.h"

typedef struct { uint8_t *buf; size_t len, cap; uint64_t count; int oom; } octet_meta;

void octet_meta_free(octet_meta *m);
void octet_meta_u32(octet_meta *m, const char *key, uint32_t v);
void octet_meta_i32(octet_meta *m, const char *key, int32_t v);
void octet_meta_f32(octet_meta *m, const char *key, float v);
void octet_meta_bool(octet_meta *m, const char *key, int v);
void octet_meta_str(octet_meta *m, const char *key, const char *s, size_t len);
void octet_meta_cstr(octet_meta *m, const char *key, const char *s);
void octet_meta_arr_str(octet_meta *m, const char *key, uint64_t n, const char *const *s, const uint32_t *lens);
void octet_meta_arr_f32(octet_meta *m, const char *key, uint64_t n, const float *v);
void octet_meta_arr_i32(octet_meta *m, const char *key, uint64_t n, const int32_t *v);
void octet_meta_arr_u32(octet_meta *m, const char *key, uint64_t n, const uint32_t *v);
// True when the builder already holds this key (readers fill defaults only where missing).
int  octet_meta_has(const octet_meta *m, const char *key);
// The value of key in the builder (its type in *type), or NULL.
const uint8_t *octet_meta_value(const octet_meta *m, const char *key, uint32_t *type);

typedef struct {
    char *name;
    uint32_t dtype, n_dims;
    uint64_t dims[OCTET_MAX_DIMS], rows, cols, offset, nbytes;
} octet_writer_tensor;

typedef struct {
    FILE *fp;
    char *tmp, *dst;
    octet_hash hash;
    octet_writer_tensor *t;
    uint64_t n_tensors, cap, next, data_offset, end;
    uint32_t version;  // of the header; 0 writes OCTET_VERSION_MIN
} octet_writer;

int  octet_writer_open(octet_writer *w, const char *path);
int  octet_writer_add_tensor(octet_writer *w, const char *name, uint32_t dtype, uint32_t n_dims, const uint64_t *dims);
int  octet_writer_begin_data(octet_writer *w, const octet_meta *meta);
// Tensors are written in the order they were added; `data` holds exactly that tensor's nbytes.
int  octet_writer_write_tensor(octet_writer *w, const void *data);
int  octet_writer_commit(octet_writer *w);
void octet_writer_abort(octet_writer *w);
#endif
