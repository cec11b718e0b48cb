// Tokenizers stored in .octet files: SentencePiece-style BPE with scores and byte fallback
// ("spm": Llama 1/2, TinyLlama, llama2.c, Phi-3) and byte-level BPE with merge ranks and a
// named pre-tokenizer ("bpe": GPT-2, Llama 3, Qwen2, SmolLM, StarCoder, DeepSeek, Falcon ...).
#ifndef OCTET_TOKENIZER_H
#define OCTET_TOKENIZER_H
#include "octet_file.h"
#include <stddef.h>
#include <stdint.h>

enum { OCTET_TOK_SPM = 1, OCTET_TOK_BPE = 2 };
// Token types as GGUF numbers them.
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct octet_pretok octet_pretok;
typedef struct octet_tokenizer {
    int kind;
    uint32_t n_vocab;
    const char **piece;      // into the file mapping, not NUL-terminated
    uint32_t *piece_len;
    float *score;
    int32_t *type;
    uint32_t *vocab_slot, vocab_mask;             // open-addressing hash: piece -> id + 1
    struct octet_merge *merge; uint32_t n_merge;  // byte-level BPE merges
    uint32_t *merge_slot, merge_mask;
    int32_t bos, eos, unk, pad, eot;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    const octet_pretok *pretok;
    int32_t byte_token[256];  // spm: <0xXX>; bpe: the token of each byte's mapped character
    uint32_t *special, n_special;  // control and user-defined ids, longest text first
    char pre_name[64];
} octet_tokenizer;

// Builds the tokenizer from the file's metadata (the file must stay open while it is used).
int  octet_tokenizer_load(octet_tokenizer *t, const octet_file *f);
void octet_tokenizer_free(octet_tokenizer *t);

// Tokenizes text into a malloc'd array (*out, *n_out). add_bos < 0 follows the model's flag.
// parse_special: control tokens written in the text (e.g. <|im_start|>) become their ids;
// otherwise they are tokenized as plain text. Returns 0 or -1.
int octet_tokenize(const octet_tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                   int32_t **out, size_t *n_out);
// The same, with control tokens matched only outside the sorted [start, end) byte ranges
// plain[0..2*n_plain) (a chat prompt's message text: there a control token's text stays text).
int octet_tokenize_spans(const octet_tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                         const size_t *plain, size_t n_plain, int32_t **out, size_t *n_out);
// Looks a piece up exactly; -1 when absent.
int32_t octet_token_lookup(const octet_tokenizer *t, const char *s, size_t len);

// Streaming detokenizer: bytes come out only as whole UTF-8 characters, so every chunk a
// caller prints is valid UTF-8 (invalid byte sequences come out as U+FFFD).
typedef struct { const octet_tokenizer *t; unsigned char pend[8]; int n_pend, started, render_special; } octet_decoder;
void   octet_decoder_init(octet_decoder *d, const octet_tokenizer *t, int render_special);
// Appends the text of token id to out (cap bytes; at least 64 + piece length is always
// enough); returns the bytes written.
size_t octet_decoder_push(octet_decoder *d, int32_t id, char *out, size_t cap);
size_t octet_decoder_flush(octet_decoder *d, char *out, size_t cap);
// Raw bytes of one token's piece (byte tokens become their byte, spaces restored).
size_t octet_token_bytes(const octet_tokenizer *t, int32_t id, char *out, size_t cap, int render_special);
#endif
