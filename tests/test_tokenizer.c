// Tokenizer tests: the reference cases of ../shared/data/tokenizer (ids from the Hugging Face
// tokenizers), decode(encode(text)) == text on real text for every vocabulary, streaming
// UTF-8, special tokens, BOS handling.
#include "check.h"
#include "convert.h"
#include "json.h"
#include "octet_file.h"
#include "tokenizer.h"
#include "unicode.h"
#include "util.h"

static const char *VOCABS[] = {"llama-spm", "gpt-2", "starcoder", "phi-3"};
static const char *EXTRA[] = {"deepseek-llm", "deepseek-coder", "falcon", "mpt", "refact", "gpt-neox"};

typedef struct { octet_file f; octet_tokenizer t; int ok; } vocab;

// Converts a vocab-only GGUF (or uses an existing .octet) and loads its tokenizer.
static int open_vocab(vocab *v, const char *gguf, const char *octet_path) {
    memset(v, 0, sizeof *v);
    if (gguf) {
        convert_options o = {.input = gguf, .output = octet_path, .type = OCTET_Q8, .vocab_only = 1, .quiet = 1};
        if (octet_convert(&o) != 0) { fprintf(stderr, "  convert %s: %s\n", gguf, octet_last_error()); return -1; }
    }
    if (octet_file_open(&v->f, octet_path) != 0) { fprintf(stderr, "  %s\n", octet_last_error()); return -1; }
    if (octet_tokenizer_load(&v->t, &v->f) != 0) { fprintf(stderr, "  %s\n", octet_last_error()); octet_file_close(&v->f); return -1; }
    v->ok = 1;
    return 0;
}
static void close_vocab(vocab *v) {
    if (!v->ok) return;
    octet_tokenizer_free(&v->t);
    octet_file_close(&v->f);
}

static void reference_cases(const char *name) {
    char gguf[512], inp[520], outp[520], oct[256];
    snprintf(gguf, sizeof gguf, "%s", shared_path("data/tokenizer/ggml-vocab-"));
    strncat(gguf, name, sizeof gguf - strlen(gguf) - 6);
    strcat(gguf, ".gguf");
    if (!file_exists(gguf)) { static char why[1200]; snprintf(why, sizeof why, "needs %s: ../shared (or $OCTET_SHARED) is missing or lacks it", gguf); SKIP(why); }
    snprintf(inp, sizeof inp, "%s.inp", gguf);
    snprintf(outp, sizeof outp, "%s.out", gguf);
    snprintf(oct, sizeof oct, "tests/out/vocab-%s.octet", name);
    vocab v;
    CHECK(open_vocab(&v, gguf, oct) == 0, "cannot load %s", gguf);
    if (!v.ok) return;
    size_t ni, no;
    char *in = octet_read_file(inp, &ni), *out = octet_read_file(outp, &no);
    CHECK(in && out, "cannot read the case files");
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = in, *line = out;
    int cases = 0, good = 0;
    while (in && out && *p) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(octet_tokenize(&v.t, p, (size_t)(e - p), 0, 0, &ids, &n) == 0, "tokenize failed");
        char got[8192] = "";
        size_t gl = 0;
        for (size_t i = 0; i < n && gl < sizeof got - 16; i++) gl += (size_t)snprintf(got + gl, sizeof got - gl, " %d", ids[i]);
        const char *want = line;
        cases++;
        if (strcmp(got, want) == 0) good++;
        else CHECK(0, "%s case %d %.40s: got [%s] want [%s]", name, cases, p, got, want);
        free(ids);
        p = e + strlen(sep);
        line = nl + 1;
    }
    CHECK(cases == 46, "%s: read %d cases", name, cases);
    printf("  %s: %d/%d reference cases match\n", name, good, cases);
    free(in); free(out);
    close_vocab(&v);
}
static void llama_spm_reference_cases(void) { reference_cases("llama-spm"); }
static void gpt2_reference_cases(void) { reference_cases("gpt-2"); }
static void starcoder_reference_cases(void) { reference_cases("starcoder"); }
static void phi3_reference_cases(void) { reference_cases("phi-3"); }

// Decodes token by token; every chunk must be valid UTF-8 on its own.
static char *decode_stream(const octet_tokenizer *t, const int32_t *ids, size_t n, size_t *len, int *bad_chunks) {
    char *buf = malloc(n * 1100 + 16);
    size_t o = 0;
    octet_decoder d;
    octet_decoder_init(&d, t, 0);
    *bad_chunks = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = octet_decoder_push(&d, ids[i], buf + o, 1100);
        for (size_t j = 0; j < k;) {
            size_t l;
            uint32_t cp = octet_utf8_decode(buf + o + j, k - j, &l);
            if (cp == 0xFFFD && l == 1) { (*bad_chunks)++; break; }
            j += l;
        }
        o += k;
    }
    o += octet_decoder_flush(&d, buf + o, 16);
    *len = o;
    return buf;
}

static int ids_equal(vocab *v, const char *text, size_t len, const json *want, const char *what) {
    int32_t *ids = NULL;
    size_t n = 0;
    int ok = octet_tokenize(&v->t, text, len, 0, 0, &ids, &n) == 0 && want && n == want->len;
    for (size_t i = 0; ok && i < n; i++) ok = ids[i] == (int32_t)want->items[i]->num;
    if (!ok) {
        char got[2048] = "";
        size_t gl = 0;
        for (size_t i = 0; i < n && gl < sizeof got - 16; i++) gl += (size_t)snprintf(got + gl, sizeof got - gl, " %d", ids[i]);
        CHECK(0, "%s %.40s: got [%s], llama.cpp has %zu ids", what, text, got, want ? want->len : 0);
    }
    free(ids);
    return ok;
}

// A GGUF vocabulary without tokenizer.ggml.pre (older conversions) tokenizes as llama.cpp's
// "default" pre-tokenizer does: ids from llama.cpp's llama-tokenize on the same file
// (tests/fixtures/tokenizer-nopre.json, made by tools/ref/make_nopre_fixture.py).
static void vocabulary_without_pre_matches_llama_cpp(void) {
    size_t n;
    char *text = octet_read_file("tests/fixtures/tokenizer-nopre.json", &n), err[160];
    json *fx = text ? json_parse(text, n, err, sizeof err) : NULL;
    free(text);
    CHECK(fx != NULL, "tests/fixtures/tokenizer-nopre.json");
    if (!fx) return;
    const json *texts = json_get(fx, "texts"), *vocabs = json_get(fx, "vocabs");
    const char *names[] = {"gpt-2", "starcoder"};
    for (int k = 0; k < 2; k++) {
        char src[512], gguf[256], oct[256];
        snprintf(src, sizeof src, "%sggml-vocab-%s.gguf", shared_path("data/tokenizer/"), names[k]);
        if (!file_exists(src)) { json_free(fx); SKIP_WITHOUT_SHARED("data/tokenizer/"); }
        snprintf(gguf, sizeof gguf, "tests/out/vocab-%s-nopre.gguf", names[k]);
        snprintf(oct, sizeof oct, "tests/out/vocab-%s-nopre.octet", names[k]);
        // The same edit as the fixture script: the key renamed, the file otherwise identical.
        size_t gn;
        char *b = octet_read_file(src, &gn), *at = NULL;
        for (size_t i = 0; b && i + 18 <= gn && !at; i++)
            if (!memcmp(b + i, "tokenizer.ggml.pre", 18)) at = b + i;
        CHECK(at != NULL, "%s has tokenizer.ggml.pre", src);
        if (!at) { free(b); continue; }
        at[17] = 'X';
        FILE *fp = fopen(gguf, "wb");
        CHECK(fp && fwrite(b, 1, gn, fp) == gn, "write %s", gguf);
        if (fp) fclose(fp);
        free(b);
        vocab v;
        CHECK(open_vocab(&v, gguf, oct) == 0, "cannot load %s", gguf);
        if (!v.ok) continue;
        const json *want = json_get(vocabs, names[k]), *shared_ids = json_get(want, "shared"), *text_ids = json_get(want, "texts");
        char inp[530];
        snprintf(inp, sizeof inp, "%s.inp", src);
        size_t ni;
        char *in = octet_read_file(inp, &ni), *p = in;
        const char *sep = "\n__ggml_vocab_test__\n";
        int cases = 0, good = 0;
        for (size_t c = 0; in && shared_ids && c < shared_ids->len; c++) {
            char *e = strstr(p, sep);
            if (!e) break;
            good += ids_equal(&v, p, (size_t)(e - p), shared_ids->items[c], names[k]);
            cases++;
            p = e + strlen(sep);
        }
        for (size_t c = 0; texts && text_ids && c < texts->len; c++, cases++)
            good += ids_equal(&v, texts->items[c]->str, texts->items[c]->len, text_ids->items[c], names[k]);
        CHECK(cases == 46 + 10, "%s: %d cases", names[k], cases);
        printf("  %s without tokenizer.ggml.pre: %d/%d cases give llama.cpp's ids\n", names[k], good, cases);
        free(in);
        close_vocab(&v);
    }
    json_free(fx);
}

static void round_trip(vocab *v, const char *label) {
    size_t n_text;
    char *text = octet_read_file(shared_path("data/fortunes-dev.txt"), &n_text);
    CHECK(text != NULL, "cannot read fortunes-dev.txt");
    if (!text) return;
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    int bad = 0;
    CHECK(octet_tokenize(&v->t, text, n_text, 0, 0, &ids, &n) == 0, "%s: tokenize failed", label);
    char *back = decode_stream(&v->t, ids, n, &len, &bad);
    size_t diff = 0;
    while (diff < len && diff < n_text && back[diff] == text[diff]) diff++;
    CHECK(len == n_text && diff == n_text, "%s: round trip differs at byte %zu (%zu vs %zu bytes): '%.30s' vs '%.30s'",
          label, diff, len, n_text, back + diff, text + diff);
    CHECK(bad == 0, "%s: %d decoded chunks were not valid UTF-8", label, bad);
    printf("  %s: %zu bytes -> %zu tokens -> identical text\n", label, n_text, n);
    free(back); free(ids); free(text);
}

static void round_trip_every_vocabulary(void) {
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    for (unsigned i = 0; i < sizeof VOCABS / sizeof *VOCABS + sizeof EXTRA / sizeof *EXTRA; i++) {
        const char *name = i < 4 ? VOCABS[i] : EXTRA[i - 4];
        char gguf[512], oct[256];
        snprintf(gguf, sizeof gguf, "%s%s.gguf", shared_path(i < 4 ? "data/tokenizer/ggml-vocab-" : "data/tokenizer-extra/ggml-vocab-"), name);
        snprintf(oct, sizeof oct, "tests/out/vocab-%s.octet", name);
        vocab v;
        CHECK(open_vocab(&v, gguf, oct) == 0, "cannot load %s", gguf);
        if (!v.ok) continue;
        round_trip(&v, name);
        close_vocab(&v);
    }
}

static void round_trip_smollm2(void) {
    if (!file_exists("models/smollm2-135m-instruct.q8.octet")) SKIP("run make models");
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    vocab v;
    CHECK(open_vocab(&v, NULL, "models/smollm2-135m-instruct.q8.octet") == 0, "load");
    if (v.ok) round_trip(&v, "smollm2");
    close_vocab(&v);
}

static void streaming_decoder_holds_partial_characters(void) {
    if (!file_exists("tests/out/vocab-gpt-2.octet")) SKIP("gpt-2 vocabulary not converted");
    vocab v;
    CHECK(open_vocab(&v, NULL, "tests/out/vocab-gpt-2.octet") == 0, "load");
    if (!v.ok) return;
    // "é" is two bytes; GPT-2 has single-byte tokens for 0xC3 and 0xA9.
    int32_t a = v.t.byte_token[0xC3], b = v.t.byte_token[0xA9];
    octet_decoder d;
    octet_decoder_init(&d, &v.t, 0);
    char out[64];
    CHECK(octet_decoder_push(&d, a, out, sizeof out) == 0, "first half of a character must be held back");
    size_t k = octet_decoder_push(&d, b, out, sizeof out);
    CHECK(k == 2 && !memcmp(out, "\xC3\xA9", 2), "the whole character comes out with the second byte");
    CHECK(octet_decoder_push(&d, a, out, sizeof out) == 0, "held");
    k = octet_decoder_flush(&d, out, sizeof out);
    CHECK(k == 3 && !memcmp(out, "\xEF\xBF\xBD", 3), "an unfinished character flushes as U+FFFD");
    close_vocab(&v);
}

static void special_tokens_only_when_asked(void) {
    if (!file_exists("models/smollm2-135m-instruct.q8.octet")) SKIP("run make models");
    vocab v;
    CHECK(open_vocab(&v, NULL, "models/smollm2-135m-instruct.q8.octet") == 0, "load");
    if (!v.ok) return;
    const char *s = "<|im_start|>user\nHi<|im_end|>\n";
    int32_t *ids = NULL;
    size_t n = 0;
    int32_t start = octet_token_lookup(&v.t, "<|im_start|>", 12), end = octet_token_lookup(&v.t, "<|im_end|>", 10);
    CHECK(start == 1 && end == 2, "SmolLM2 chat control tokens are 1 and 2 (got %d %d)", start, end);
    CHECK(octet_tokenize(&v.t, s, strlen(s), -1, 1, &ids, &n) == 0, "tokenize");
    CHECK(n >= 5 && ids[0] == start, "parse_special: first id %d", n ? ids[0] : -1);
    int found_end = 0;
    for (size_t i = 0; i < n; i++) found_end |= ids[i] == end;
    CHECK(found_end, "parse_special: <|im_end|> became its id");
    free(ids);
    CHECK(octet_tokenize(&v.t, s, strlen(s), -1, 0, &ids, &n) == 0, "tokenize");
    for (size_t i = 0; i < n; i++) CHECK(ids[i] != start && ids[i] != end, "without parse_special control tokens are text");
    CHECK(n > 8, "the markup is spelled out in %zu ordinary tokens", n);
    free(ids);
    // SmolLM2 does not add BOS; a forced BOS is id 1.
    CHECK(octet_tokenize(&v.t, "Hi", 2, -1, 0, &ids, &n) == 0 && n == 1 && ids[0] != 1, "no BOS by default");
    free(ids);
    CHECK(octet_tokenize(&v.t, "Hi", 2, 1, 0, &ids, &n) == 0 && n == 2 && ids[0] == 1, "BOS when asked");
    free(ids);
    close_vocab(&v);
}

static void spm_adds_bos_by_default(void) {
    if (!file_exists("tests/out/vocab-llama-spm.octet")) SKIP("llama-spm vocabulary not converted");
    vocab v;
    CHECK(open_vocab(&v, NULL, "tests/out/vocab-llama-spm.octet") == 0, "load");
    if (!v.ok) return;
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(octet_tokenize(&v.t, "Hello world", 11, -1, 0, &ids, &n) == 0, "tokenize");
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186, "<s> Hello world");
    free(ids);
    CHECK(octet_tokenize(&v.t, "", 0, 0, 0, &ids, &n) == 0 && n == 0, "empty text, no tokens");
    free(ids);
    close_vocab(&v);
}

// The bytes of ids, as octet_token_bytes gives them (no streaming, no replacement characters).
static size_t raw_decode(const octet_tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) o += octet_token_bytes(t, ids[i], out + o, cap - o, 0);
    return o;
}

// Encodes s; every id must be a real token that is neither an end nor a control token, and
// decoding must give back s without the bytes the vocabulary cannot express (byte-level) or
// exactly s (SentencePiece with byte fallback, after its prefix space).
static void check_bytes(vocab *v, const char *label, const char *s, size_t n) {
    const octet_tokenizer *t = &v->t;
    int32_t *ids = NULL;
    size_t k = 0;
    if (octet_tokenize(t, s, n, 0, 0, &ids, &k) != 0) { CHECK(0, "%s: tokenize failed: %s", label, octet_last_error()); return; }
    for (size_t i = 0; i < k; i++) {
        int bad = ids[i] < 0 || (uint32_t)ids[i] >= t->n_vocab || ids[i] == t->eos || ids[i] == t->eot || t->type[ids[i]] == TT_CONTROL;
        CHECK(!bad, "%s: id %d at %zu is not a plain token", label, ids[i], i);
        if (bad) { free(ids); return; }
    }
    char want[256], got[1024];
    size_t wn = 0;
    for (size_t i = 0; i < n; i++)
        if (t->kind == OCTET_TOK_SPM || t->byte_token[(unsigned char)s[i]] >= 0) want[wn++] = s[i];
    size_t gn = raw_decode(t, ids, k, got, sizeof got);
    const char *g = got;
    if (t->kind == OCTET_TOK_SPM && t->add_space_prefix && gn && got[0] == ' ') { g++; gn--; }
    int same = gn == wn && !memcmp(g, want, wn);
    if (!same) {
        char hx[200] = "";
        for (size_t i = 0; i < n && i < 30; i++) snprintf(hx + strlen(hx), sizeof hx - strlen(hx), "%02x ", (unsigned char)s[i]);
        CHECK(same, "%s: bytes %s did not come back (%zu bytes decoded, %zu expected)", label, hx, gn, wn);
    }
    free(ids);
}

// Stray bytes (issue 22): a truncated UTF-8 lead before a space overflowed the SentencePiece
// symbol array; bytes missing from a byte-level vocabulary became id 0, an end token.
static void hostile_bytes_round_trip(void) {
    SKIP_WITHOUT_SHARED("data/tokenizer/ggml-vocab-llama-spm.gguf");
    int done = 0;
    for (unsigned i = 0; i < sizeof VOCABS / sizeof *VOCABS + sizeof EXTRA / sizeof *EXTRA + 1; i++) {
        char oct[256];
        const char *name = i < 4 ? VOCABS[i] : i < 10 ? EXTRA[i - 4] : NULL;
        if (name) snprintf(oct, sizeof oct, "tests/out/vocab-%s.octet", name);
        else snprintf(oct, sizeof oct, "models/smollm2-135m-instruct.q8.octet");
        if (!file_exists(oct)) continue;
        vocab v;
        if (open_vocab(&v, NULL, oct) != 0) { CHECK(0, "load %s", oct); continue; }
        const char *label = name ? name : "smollm2";
        check_bytes(&v, label, "a\xC3 b", 4);
        check_bytes(&v, label, "\xE2 \xF0\x9F \xC3", 7);
        int missing = 0;
        for (int b = 0; b < 256; b++) {
            char s[4] = {'a', (char)b, ' ', 'b'};
            check_bytes(&v, label, s, 4);
            check_bytes(&v, label, s + 1, 1);
            missing += v.t.byte_token[b] < 0;
        }
        if (!name) CHECK(missing == 21, "smollm2 has 21 bytes without a token, found %d", missing);
        uint32_t seed = 7 + i;
        for (int r = 0; r < 3000; r++) {
            char s[24];
            size_t n = 1 + r % 24;
            for (size_t j = 0; j < n; j++) {
                seed = seed * 1103515245u + 12345u;
                unsigned x = seed >> 16;
                s[j] = (char)(x % 5 == 0 ? ' ' : x % 7 == 0 ? 0xC3 : x % 11 == 0 ? 0xE2 : (x >> 3) & 0xFF);
            }
            int lower_one_eighth = 0;  // U+2581 itself decodes as a space in SentencePiece
            for (size_t j = 0; j + 3 <= n; j++) lower_one_eighth |= !memcmp(s + j, "\xE2\x96\x81", 3);
            if (v.t.kind == OCTET_TOK_SPM && lower_one_eighth) continue;
            check_bytes(&v, label, s, n);
        }
        close_vocab(&v);
        done++;
    }
    CHECK(done >= 5, "only %d vocabularies were found", done);
}

int main(void) {
    RUN(llama_spm_reference_cases);
    RUN(gpt2_reference_cases);
    RUN(starcoder_reference_cases);
    RUN(phi3_reference_cases);
    RUN(vocabulary_without_pre_matches_llama_cpp);
    RUN(round_trip_every_vocabulary);
    RUN(round_trip_smollm2);
    RUN(streaming_decoder_holds_partial_characters);
    RUN(special_tokens_only_when_asked);
    RUN(spm_adds_bos_by_default);
    RUN(hostile_bytes_round_trip);
    CHECK_DONE();
}
