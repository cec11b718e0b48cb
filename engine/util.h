// Small shared helpers: the last-error message, half-float conversion, file slurping, checksums.
#ifndef OCTET_UTIL_H
#define OCTET_UTIL_H
#include <stddef.h>
#include <stdint.h>

// Every failing library call sets one line describing the problem (file and cause) and returns
// non-zero; the CLI prints it. One message per thread.
void octet_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *octet_last_error(void);

// Half-float conversions live with the kernels (kernel_types.h).
#include "kernel_types.h"

// Reads a whole file into a NUL-terminated malloc'd buffer; sets the error on failure.
char *octet_read_file(const char *path, size_t *size);

// Streaming 64-bit checksum over little-endian 64-bit words (FNV-1a style per word, then a
// final avalanche). Input may arrive in chunks of any size.
typedef struct { uint64_t h; uint8_t carry[8]; unsigned n_carry; uint64_t total; } octet_hash;
void     octet_hash_init(octet_hash *s);
void     octet_hash_update(octet_hash *s, const void *data, size_t n);
uint64_t octet_hash_final(octet_hash *s);

static inline uint64_t octet_align64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }
// a*b with overflow detection; returns 0 on overflow.
int octet_mul_u64(uint64_t a, uint64_t b, uint64_t *out);

double octet_time_ms(void);

// A growing byte string, always NUL-terminated once anything was added. On allocation
// failure it sets oom and ignores further additions (callers check once at the end).
typedef struct { char *p; size_t len, cap; int oom; } octet_str;
void octet_str_add(octet_str *s, const char *data, size_t n);
void octet_str_addz(octet_str *s, const char *z);
void octet_str_fmt(octet_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void octet_str_free(octet_str *s);
#endif
