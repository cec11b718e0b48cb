// Unicode helpers for the tokenizers: UTF-8 decoding and category flags from a generated table.
#ifndef OCTET_UNICODE_H
#define OCTET_UNICODE_H
#include <stddef.h>
#include <stdint.h>

enum {
    U_LETTER = 1, U_NUMBER = 2, U_PUNCT = 4, U_SYMBOL = 8, U_MARK = 16, U_SEPARATOR = 32,
    U_OTHER = 64, U_SPACE = 128 /* White_Space property */, U_CASED = 256 /* Lu, Ll, Lt */
};
typedef struct { uint32_t first, last; uint16_t flags; } octet_unicode_range;
extern const octet_unicode_range octet_unicode_ranges[];
extern const unsigned octet_unicode_n_ranges;

unsigned octet_unicode_flags(uint32_t cp);
// Decodes one code point at s (n bytes available). Invalid or truncated sequences decode as
// one byte with the value 0xFFFD... but *len is always >= 1 so callers make progress.
uint32_t octet_utf8_decode(const char *s, size_t n, size_t *len);
// Length of the UTF-8 sequence that starts with byte c (1 for invalid lead bytes).
size_t octet_utf8_len(unsigned char c);
// Encodes cp into out (4 bytes room); returns the length.
size_t octet_utf8_encode(uint32_t cp, char *out);
#endif
