// Pre-tokenizers of byte-level BPE vocabularies: the splitting regexes that GGUF's
// tokenizer.ggml.pre names, written as hand-made matchers over Unicode categories (no regex
// library). A pre-tokenizer is a list of passes; each pass splits every piece of the previous
// pass into matches and the unmatched text between them, both kept (HF "Isolated" behaviour).
#ifndef OCTET_PRETOKENIZE_H
#define OCTET_PRETOKENIZE_H
#include <stddef.h>
#include <stdint.h>

typedef struct octet_pretok octet_pretok;
// Returns NULL for an unknown name. `ignore_merges` tells whether whole words found in the
// vocabulary skip BPE (Llama 3 style).
const octet_pretok *octet_pretok_find(const char *name, size_t len, int *ignore_merges);
// Comma-separated list of the names understood, for error messages.
const char *octet_pretok_names(void);

// Splits text[0..n) into pieces; calls emit for each (byte offset, byte length) in order.
// Returns 0, or -1 when out of memory.
int octet_pretokenize(const octet_pretok *p, const char *text, size_t n,
                      void (*emit)(void *ctx, size_t off, size_t len), void *ctx);
#endif
