// The .octet container: header, typed key/value metadata, tensor table, 64-byte aligned data.
// models/FORMAT.md is the specification; this is its reader (mmap + validation).
#ifndef OCTET_FILE_H
#define OCTET_FILE_H
#include <stddef.h>
#include <stdint.h>
#include "kernel_types.h"

#define OCTET_MAGIC        "OCTETLM\0"
// Version 2 files describe math a version-1 reader would silently skip (models/FORMAT.md,
// "Versions"); the writer uses 1 whenever it can, so older builds keep reading Llama files.
#define OCTET_VERSION      2u
#define OCTET_VERSION_MIN  1u
#define OCTET_HEADER_SIZE  64u
#define OCTET_MAX_DIMS     4u

enum octet_kv_type {
    OCTET_KV_U32 = 0, OCTET_KV_I32 = 1, OCTET_KV_F32 = 2, OCTET_KV_U64 = 3,
    OCTET_KV_BOOL = 4, OCTET_KV_STR = 5, OCTET_KV_ARR = 6, OCTET_KV_TYPE_COUNT
};

typedef struct {
    char    *key;        // NUL-terminated copy
    uint32_t type;       // enum octet_kv_type
    uint32_t arr_type;   // element type when type == OCTET_KV_ARR (never ARR itself)
    uint64_t count;      // elements for arrays, bytes for strings, 1 otherwise
    const uint8_t *val;  // points into the mapping (for string arrays: first element's length)
} octet_kv;

typedef struct {
    char    *name;
    uint32_t dtype, n_dims;
    uint64_t dims[OCTET_MAX_DIMS];  // outermost first: a matrix is [rows(out), cols(in)]
    uint64_t offset, nbytes;        // offset relative to the data section
    uint64_t rows, cols;            // cols = last dim, rows = product of the others
    const void *data;               // into the mapping
    int act_f32;                    // listed in quant.f32_act: int8 weights, f32 activations always
    int act_asym;                   // listed in quant.asym_act: asymmetric int8 activations in the
                                    // file's own mode (--act int8), symmetric ones for the rest
    int16_t *block_sums;            // int8 tensors, asymmetric activations: per row, the sum of each
                                    // 32 int8 values (last block partial), at octet_block_sum_index;
                                    // NULL until computed
} octet_tensor;

typedef struct {
    const char *path;
    uint8_t  *map;                   // the file's bytes: its mapping, or (in_memory) a private copy
    uint64_t  size;
    int       fd;                    // open while mapped, for octet_file_check (-1 in memory)
    int       in_memory;             // read into anonymous memory (huge pages where the kernel allows)
    void     *mem;                   // that memory's mapping, and its length
    size_t    mem_len;
    uint32_t  version;
    uint64_t  n_kv, n_tensors, data_offset, checksum;
    octet_kv     *kv;
    octet_tensor *tensors;
} octet_file;

// Maps and validates every count, offset and size against the file size. Returns 0 or -1 with
// octet_last_error() set; a failed open leaves nothing to close.
int  octet_file_open(octet_file *f, const char *path);
// The same, with in_memory: the whole file read into anonymous memory, 2 MiB aligned and marked
// for transparent huge pages, read-only once read. (Decode reads every weight once per token; with
// 4 KiB pages of the file mapping the page walks cost a Zen 4 core 8-16% of its decode speed.)
// Such a copy no longer depends on the file: octet_file_check always passes.
int  octet_file_open_mode(octet_file *f, const char *path, int in_memory);
// A file's description without a file: metadata in the file's encoding (n_kv records, len bytes)
// and tensors with names, dtypes and shapes but no data (data NULL), validated as a file's are.
// The converter checks what it is about to write this way. Closed with octet_file_close.
int  octet_file_describe(octet_file *f, const char *path, const uint8_t *meta, size_t len, uint64_t n_kv, const octet_tensor *shapes, uint64_t n_tensors);
void octet_file_close(octet_file *f);
// 0 while the file is still at least as long as when it was mapped; -1 (error set) once it
// shrank, when reading the lost part of the mapping would raise SIGBUS.
int  octet_file_check(const octet_file *f);
// Recomputes the checksum of everything after the header; 0 when it matches.
int  octet_file_verify(const octet_file *f);

const octet_kv     *octet_file_kv(const octet_file *f, const char *key);
const octet_tensor *octet_file_tensor(const octet_file *f, const char *name);
// Typed getters; return `def` when the key is missing or has another type.
uint32_t    octet_kv_u32(const octet_file *f, const char *key, uint32_t def);
int32_t     octet_kv_i32(const octet_file *f, const char *key, int32_t def);
float       octet_kv_f32(const octet_file *f, const char *key, float def);
int         octet_kv_bool(const octet_file *f, const char *key, int def);
// Strings are not NUL-terminated in the file: returns a pointer and length, or NULL.
const char *octet_kv_str(const octet_file *f, const char *key, uint64_t *len);

// Walks a string array: fills ptrs/lens (count entries). Returns 0 or -1.
int octet_kv_str_array(const octet_kv *kv, const char **ptrs, uint32_t *lens);

const char *octet_dtype_name(uint32_t dtype);
// Bytes a tensor of this dtype and shape occupies (q8: int8 data padded to 64, then f32 scales).
int octet_tensor_nbytes(uint32_t dtype, uint64_t rows, uint64_t cols, uint64_t *out);
// Fills t->block_sums (rows * ceil(cols / 32) int16) for an int8 tensor; freed with the file.
int octet_tensor_block_sums(octet_tensor *t);
// The scale of weight (row, col) of an int8 tensor: its row's (q8) or its group's (q8g32, q8g32h,
// f16 widened).
float octet_tensor_q8_scale(const octet_tensor *t, uint64_t row, uint64_t col);
// Dequantizes/converts one row of any dtype to f32.
void octet_tensor_row_f32(const octet_tensor *t, uint64_t row, float *out);
#endif
