// Tokenizers: for a SentencePiece vocabulary (llama, byte fallback) and byte-level BPE ones
// (gpt-2: every byte has a symbol; smollm2-like gaps come from deepseek-coder), decoding the
// ids of any text gives back its bytes (less the bytes a vocabulary cannot express), and the
// streaming decoder emits only whole UTF-8 characters. The first input byte picks the vocabulary
// and whether control tokens are parsed.
#include "fuzz_util.h"
#include "octet_file.h"
#include "tokenizer.h"
#include "unicode.h"
#include "util.h"

typedef struct { octet_file f; octet_tokenizer t; } vocab;
static vocab V[3];
static const char *NAMES[3] = {"vocab-llama-spm.octet", "vocab-gpt-2.octet", "vocab-deepseek-coder.octet"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    for (int i = 0; i < 3; i++)
        if (octet_file_open(&V[i].f, fuzz_data(NAMES[i])) != 0 || octet_tokenizer_load(&V[i].t, &V[i].f) != 0) {
            fprintf(stderr, "fuzz_tokenizer: %s (run tests/fuzz/seeds.sh)\n", octet_last_error());
            exit(1);
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const octet_tokenizer *t = &V[data[0] % 3].t;
    int special = (data[0] >> 2) & 1;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    int32_t *ids = NULL;
    size_t k = 0;
    if (octet_tokenize(t, text, n, (data[0] >> 3) & 1, special, &ids, &k) != 0) return 0;
    char *got = malloc(k * 1024 + 16), *want = malloc(n + 1);
    size_t g = 0, w = 0;
    for (size_t i = 0; i < k; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->n_vocab) { fprintf(stderr, "id %d outside the vocabulary\n", ids[i]); abort(); }
        g += octet_token_bytes(t, ids[i], got + g, 1024, 0);
    }
    // Streaming: every chunk is valid UTF-8 on its own.
    octet_decoder d;
    octet_decoder_init(&d, t, 1);
    char chunk[1100];
    for (size_t i = 0; i < k; i++) {
        size_t c = octet_decoder_push(&d, ids[i], chunk, sizeof chunk);
        for (size_t j = 0; j < c;) {
            size_t l;
            uint32_t cp = octet_utf8_decode(chunk + j, c - j, &l);
            if (cp == 0xFFFD && l == 1) { fprintf(stderr, "the streaming decoder emitted a broken character\n"); abort(); }
            j += l;
        }
    }
    octet_decoder_flush(&d, chunk, sizeof chunk);
    int plain = !special, has_special_text = 0;
    for (uint32_t s = 0; s < t->n_special && plain; s++) {  // text spelling an added token decodes as that token
        uint32_t id = t->special[s];
        for (size_t i = 0; i + t->piece_len[id] <= n && !has_special_text; i++)
            has_special_text = !memcmp(text + i, t->piece[id], t->piece_len[id]);
    }
    int lower_one_eighth = 0;
    for (size_t i = 0; i + 3 <= n; i++) lower_one_eighth |= !memcmp(text + i, "\xE2\x96\x81", 3);
    if (plain && !has_special_text && !(t->kind == OCTET_TOK_SPM && lower_one_eighth)) {
        for (size_t i = 0; i < n; i++)
            if (t->kind == OCTET_TOK_SPM || t->byte_token[(unsigned char)text[i]] >= 0) want[w++] = text[i];
        const char *gp = got;
        if (t->kind == OCTET_TOK_SPM && t->add_space_prefix && g && got[0] == ' ') { gp++; g--; }
        if (g != w || memcmp(gp, want, w)) { fprintf(stderr, "decode(encode(text)) differs: %zu vs %zu bytes\n", g, w); abort(); }
    }
    free(got); free(want); free(ids);
    return 0;
}
