// Hostile and broken inputs: every one must end with exit status 1, exactly one line
// "octet: ..." naming the problem, no crash, and no output (or temp) file left behind.
#include "check.h"
#include "gguf_build.h"
#include "octet.h"
#include "octet_file.h"
#include "util.h"
#include <stdint.h>
#include <unistd.h>

#define D "tests/out/bad"
// A vocabulary to convert that every clone has (a Hugging Face tokenizer.json).
#define VOCAB_SRC "tests/fixtures/arch/qwen3"

static void put(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (fp) { fwrite(data, 1, n, fp); fclose(fp); }
}
static void puts_file(const char *path, const char *s) { put(path, s, strlen(s)); }

static uint8_t *slurp(const char *path, size_t *n) { return (uint8_t *)octet_read_file(path, n); }

// Copies src to dst keeping only the first `keep` bytes (or all when keep is 0), after
// applying `patch` bytes at `at` (if patch != NULL).
static void copy_patched(const char *src, const char *dst, size_t keep, size_t at, const void *patch, size_t plen) {
    size_t n;
    uint8_t *b = slurp(src, &n);
    if (!b) return;
    if (patch && at + plen <= n) memcpy(b + at, patch, plen);
    put(dst, b, keep ? keep : n);
    free(b);
}

static size_t find_bytes(const char *path, const char *needle) {
    size_t n, k = strlen(needle);
    uint8_t *b = slurp(path, &n);
    size_t at = (size_t)-1;
    for (size_t i = 0; b && i + k <= n; i++)
        if (!memcmp(b + i, needle, k)) { at = i; break; }
    free(b);
    return at;
}

// A minimal .octet: header + given metadata bytes + given table bytes + data.
static void raw_octet(const char *path, uint64_t n_kv, const void *kv, size_t kvlen, uint64_t n_t, const void *tab, size_t tablen, size_t data) {
    uint8_t *b = calloc(1, 64 + kvlen + tablen + 64 + data);
    uint64_t meta = kvlen + tablen, doff = octet_align64(64 + meta), size = doff + data;
    uint32_t v = 1, hs = 64;
    memcpy(b, OCTET_MAGIC, 8); memcpy(b + 8, &v, 4); memcpy(b + 12, &hs, 4);
    memcpy(b + 16, &n_kv, 8); memcpy(b + 24, &n_t, 8); memcpy(b + 32, &meta, 8); memcpy(b + 40, &doff, 8); memcpy(b + 48, &size, 8);
    memcpy(b + 64, kv, kvlen); memcpy(b + 64 + kvlen, tab, tablen);
    put(path, b, size);
    free(b);
}
static size_t tensor_entry(uint8_t *p, const char *name, uint32_t dtype, uint32_t nd, const uint64_t *dims, uint64_t off, uint64_t nbytes) {
    size_t o = 0;
    uint32_t nl = (uint32_t)strlen(name);
    memcpy(p + o, &nl, 4); o += 4; memcpy(p + o, name, nl); o += nl;
    memcpy(p + o, &dtype, 4); o += 4; memcpy(p + o, &nd, 4); o += 4;
    memcpy(p + o, dims, nd * 8); o += nd * 8;
    memcpy(p + o, &off, 8); o += 8; memcpy(p + o, &nbytes, 8); o += 8;
    return o;
}

static void expect_clean_failure(const char *label, const char *cmd, const char *must_mention, const char *output) {
    char *out = NULL;
    int rc = run_cmd(&out, "%s 2>&1 >/dev/null", cmd);
    int lines = 0;
    for (char *p = out; p && *p; p++) lines += *p == '\n';
    CHECK(rc == 1, "%s: exit status %d (want 1): %s", label, rc, out ? out : "");
    CHECK(out && !strncmp(out, "octet: ", 7) && lines == 1, "%s: want one 'octet: ...' line, got: %s", label, out ? out : "");
    CHECK(out && strstr(out, must_mention), "%s: error should mention '%s': %s", label, must_mention, out ? out : "");
    if (output) {
        char *ls = NULL;
        run_cmd(&ls, "ls %s* 2>/dev/null", output);
        CHECK(ls && !ls[0], "%s: a failed conversion left files behind: %s", label, ls ? ls : "");
        free(ls);
    }
    free(out);
}

static void setup(void) { run_cmd(NULL, "rm -rf " D " && mkdir -p " D); }

static void hostile_octet_files(void) {
    setup();
    puts_file(D "/empty.octet", "");
    expect_clean_failure("empty .octet", "./octet info -m " D "/empty.octet", "empty.octet", NULL);
    puts_file(D "/magic.octet", "GGUFxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    expect_clean_failure("bad magic", "./octet info -m " D "/magic.octet", "bad magic", NULL);
    expect_clean_failure("missing file", "./octet info -m " D "/nope.octet", "nope.octet", NULL);
    expect_clean_failure("directory as model", "./octet info -m " D, "not a regular file", NULL);

    // A real file (the Qwen3 fixture's, which needs no ../shared), truncated and patched.
    const char *good = "tests/out/bad-input-qwen3.octet";
    if (!file_exists(good)) run_cmd(NULL, "./octet convert tests/fixtures/arch/qwen3 -o %s --type f32 --calib none --quiet", good);
    size_t n = 0;
    uint8_t *b = slurp(good, &n);
    CHECK(b && n > 4096, "cannot make %s: %s", good, b ? "too small" : "missing");
    if (!b || n <= 4096) { free(b); return; }   // (the checks below would read what is missing)
    copy_patched(good, D "/trunc.octet", n / 2, 0, NULL, 0);
    expect_clean_failure("truncated .octet", "./octet info -m " D "/trunc.octet", "truncated", NULL);
    uint32_t v9 = 9;
    copy_patched(good, D "/version.octet", 0, 8, &v9, 4);
    expect_clean_failure("future version", "./octet tokenize -m " D "/version.octet -p hi", "version 9", NULL);
    uint64_t huge = 1ull << 60;
    copy_patched(good, D "/nkv.octet", 0, 16, &huge, 8);
    expect_clean_failure("huge key count", "./octet info -m " D "/nkv.octet", "exceed", NULL);
    size_t at = find_bytes(good, "tokenizer.tokens");
    copy_patched(good, D "/arrcount.octet", 0, at + 16 + 4 + 4, &huge, 8);
    expect_clean_failure("huge array count", "./octet info -m " D "/arrcount.octet", "past the end", NULL);
    // Data byte flipped (the last tensor's): opens, but --verify names the corruption.
    b[n - 64] ^= 0x40;
    put(D "/flip.octet", b, n);
    free(b);
    expect_clean_failure("corrupt data", "./octet info -m " D "/flip.octet --verify --no-tensors", "checksum mismatch", NULL);

    // Hand-made tables: offsets past the end, overflowing shapes, bad dtype.
    uint8_t tab[256];
    uint64_t dims[2] = {4, 4};
    size_t tl = tensor_entry(tab, "w", OCTET_F32, 2, dims, 1 << 20, 64);
    raw_octet(D "/offset.octet", 0, "", 0, 1, tab, tl, 64);
    expect_clean_failure("tensor past the end", "./octet info -m " D "/offset.octet", "outside the file", NULL);
    uint64_t big[2] = {1ull << 40, 1ull << 40};
    tl = tensor_entry(tab, "w", OCTET_F32, 2, big, 0, 64);
    raw_octet(D "/overflow.octet", 0, "", 0, 1, tab, tl, 64);
    expect_clean_failure("shape overflow", "./octet info -m " D "/overflow.octet", "does not match its f32 shape", NULL);
    tl = tensor_entry(tab, "w", 17, 2, dims, 0, 64);
    raw_octet(D "/dtype.octet", 0, "", 0, 1, tab, tl, 64);
    expect_clean_failure("unknown dtype", "./octet info -m " D "/dtype.octet", "unknown dtype", NULL);
    uint8_t kv[64] = {0};
    uint32_t kl = 1, kt = 5;
    uint64_t slen = 1ull << 62;
    memcpy(kv, &kl, 4); kv[4] = 'k'; memcpy(kv + 5, &kt, 4); memcpy(kv + 9, &slen, 8);
    raw_octet(D "/strlen.octet", 1, kv, 17, 0, "", 0, 0);
    expect_clean_failure("huge string length", "./octet info -m " D "/strlen.octet", "past the end", NULL);
    raw_octet(D "/notok.octet", 0, "", 0, 0, "", 0, 0);
    expect_clean_failure("no tokenizer", "./octet tokenize -m " D "/notok.octet -p hi", "has no tokenizer", NULL);
}

static void hostile_gguf_files(void) {
    setup();
    const char *src = "tests/fixtures/quant-types.gguf";
    const char *out = D "/out.octet";
    char cmd[512];
    puts_file(D "/short.gguf", "GGUF");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/short.gguf -o %s", out);
    expect_clean_failure("4-byte GGUF", cmd, "short.gguf", out);
    uint32_t v1 = 1;
    copy_patched(src, D "/v1.gguf", 0, 4, &v1, 4);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/v1.gguf -o %s", out);
    expect_clean_failure("GGUF v1", cmd, "version 1", out);
    uint64_t huge = 1ull << 61;
    copy_patched(src, D "/ntensors.gguf", 0, 8, &huge, 8);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/ntensors.gguf -o %s", out);
    expect_clean_failure("huge tensor count", cmd, "exceed", out);
    copy_patched(src, D "/keylen.gguf", 0, 24, &huge, 8);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/keylen.gguf -o %s", out);
    expect_clean_failure("huge key length", cmd, "truncated", out);
    size_t n;
    uint8_t *b = slurp(src, &n);
    free(b);
    copy_patched(src, D "/trunc.gguf", n - 100, 0, NULL, 0);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/trunc.gguf -o %s", out);
    expect_clean_failure("truncated tensor data", cmd, "past the end", out);
    size_t at = find_bytes(src, "t.q4_0");
    uint32_t q2k = 10, nd9 = 9;
    copy_patched(src, D "/q2k.gguf", 0, at + 6 + 4 + 16, &q2k, 4);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/q2k.gguf -o %s --vocab-only", out);
    expect_clean_failure("unconvertible type", cmd, "Q2_K", out);
    copy_patched(src, D "/ndims.gguf", 0, at + 6, &nd9, 4);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/ndims.gguf -o %s", out);
    expect_clean_failure("9 dims", cmd, "9 dims", out);
}

// A vocabulary file is not a model (a real one: ../shared's GPT-2 vocabulary).
static void vocab_gguf_is_not_a_model(void) {
    setup();
    const char *src = shared_path("data/tokenizer/ggml-vocab-gpt-2.gguf");
    SKIP_WITHOUT_SHARED("data/tokenizer/ggml-vocab-gpt-2.gguf");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "./octet convert %s -o " D "/out.octet", src);
    expect_clean_failure("vocab-only GGUF as a model", cmd, "not supported", D "/out.octet");
}

// Values that reach float-to-int casts or loops: each is refused by name (issue 22).
static void hostile_gguf_values(void) {
    setup();
    const char *out = D "/out.octet";
    char cmd[512];
    gguf_llama c = gguf_llama_default();
    gguf_llama_write(D "/ok.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/ok.gguf -o %s --quiet --calib none && ./octet run -m %s -p ab -n 2 --temp 0 >/dev/null 2>&1", out, out);
    CHECK(run_cmd(NULL, "%s", cmd) == 0, "the well-formed tiny GGUF must convert and run");
    unlink(out);

    c = gguf_llama_default(); c.n_merges = 0;  // realloc(p, 0) freed the token list, then it was freed again
    gguf_llama_write(D "/nomerges.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/nomerges.gguf -o %s --quiet --calib none", out);
    CHECK(run_cmd(NULL, "%s 2>&1", cmd) == 0, "an empty merges array is a valid (merge-less) vocabulary");
    unlink(out);

    c = gguf_llama_default(); c.eps = NAN;
    gguf_llama_write(D "/naneps.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/naneps.gguf -o %s --calib none", out);
    expect_clean_failure("NaN epsilon", cmd, "layer_norm_rms_epsilon", out);
    c = gguf_llama_default(); c.theta = INFINITY;
    gguf_llama_write(D "/inftheta.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/inftheta.gguf -o %s --calib none", out);
    expect_clean_failure("infinite RoPE base", cmd, "freq_base", out);
    c = gguf_llama_default(); c.alignment = 1e30;
    gguf_llama_write(D "/align.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/align.gguf -o %s --calib none", out);
    expect_clean_failure("alignment 1e30", cmd, "general.alignment", out);
    c = gguf_llama_default(); c.alignment = NAN;
    gguf_llama_write(D "/nanalign.gguf", &c);
    expect_clean_failure("NaN alignment", "./octet convert " D "/nanalign.gguf -o " D "/out.octet --calib none", "general.alignment", out);
    c = gguf_llama_default(); c.poison = NAN;
    gguf_llama_write(D "/nanw.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/nanw.gguf -o %s --calib none", out);
    expect_clean_failure("NaN weight", cmd, "token_embd.weight", out);
    c = gguf_llama_default(); c.poison = INFINITY;
    gguf_llama_write(D "/infw.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/infw.gguf -o %s --type f16", out);
    expect_clean_failure("Inf weight, f16 output", cmd, "non-finite", out);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/infw.gguf -o %s", out);
    expect_clean_failure("Inf weight, calibrated default", cmd, "non-finite", out);
    // a finite weight whose group scale f16 cannot hold: q8g32h refuses it (32-wide rows, so the
    // grouped type applies), q8g32's f32 scales take it
    c = gguf_llama_default(); c.dim = 32; c.hidden = 64; c.poison = 1e8f;
    gguf_llama_write(D "/hugew.gguf", &c);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/hugew.gguf -o %s --calib none", out);
    expect_clean_failure("weight beyond q8g32h's f16 scales", cmd, "token_embd.weight: weights beyond q8g32h's range", out);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/hugew.gguf -o %s --type q8g32 --quiet --calib none", out);
    CHECK(run_cmd(NULL, "%s 2>&1", cmd) == 0, "q8g32 must take a weight of 1e8");
    remove(out);
}

static void write_min_hf(const char *dir) {
    char p[256];
    run_cmd(NULL, "mkdir -p %s", dir);
    snprintf(p, sizeof p, "%s/config.json", dir);
    puts_file(p, "{\"model_type\":\"llama\",\"hidden_size\":4,\"intermediate_size\":4,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"vocab_size\":2}");
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    puts_file(p, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]}}");
}

static void hostile_hf_directories(void) {
    setup();
    const char *out = D "/out.octet";
    char cmd[512];
    run_cmd(NULL, "mkdir -p " D "/noconf");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/noconf -o %s", out);
    expect_clean_failure("no config.json", cmd, "config.json", out);
    write_min_hf(D "/badjson");
    puts_file(D "/badjson/config.json", "{\"model_type\": \"llama\", \"hidden_size\": 4,,}");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/badjson -o %s", out);
    expect_clean_failure("malformed config.json", cmd, "line 1 column", out);
    write_min_hf(D "/deep");
    char *deep = malloc(200001);
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    deep[200000] = 0;
    puts_file(D "/deep/tokenizer.json", deep);
    free(deep);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/deep -o %s", out);
    expect_clean_failure("JSON nesting bomb", cmd, "nested too deeply", out);
    write_min_hf(D "/bigvocab");  // a 32-bit doubling of the hash size wrapped to 0 and spun forever
    puts_file(D "/bigvocab/config.json", "{\"model_type\":\"llama\",\"hidden_size\":4,\"intermediate_size\":4,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"vocab_size\":4000000000}");
    snprintf(cmd, sizeof cmd, "timeout 20 ./octet convert " D "/bigvocab -o %s", out);
    expect_clean_failure("vocab_size 4e9", cmd, "vocab_size", out);
    write_min_hf(D "/nanhd");
    puts_file(D "/nanhd/config.json", "{\"model_type\":\"llama\",\"hidden_size\":4,\"intermediate_size\":4,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"vocab_size\":2,\"head_dim\":-3}");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/nanhd -o %s", out);
    expect_clean_failure("negative head_dim", cmd, "head_dim", out);
    write_min_hf(D "/infeps");
    puts_file(D "/infeps/config.json", "{\"model_type\":\"llama\",\"hidden_size\":4,\"intermediate_size\":4,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"vocab_size\":2,\"rms_norm_eps\":5}");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/infeps -o %s", out);
    expect_clean_failure("rms_norm_eps 5", cmd, "rms_norm_eps", out);
    write_min_hf(D "/nost");
    snprintf(cmd, sizeof cmd, "./octet convert " D "/nost -o %s", out);
    expect_clean_failure("no safetensors", cmd, "model.safetensors", out);
    write_min_hf(D "/sthdr");
    uint64_t hl = 1ull << 40;
    put(D "/sthdr/model.safetensors", &hl, 8);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/sthdr -o %s", out);
    expect_clean_failure("safetensors header length", cmd, "header length", out);
    write_min_hf(D "/stoff");
    const char *h = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32000]}}";
    uint8_t buf[512];
    hl = strlen(h);
    memcpy(buf, &hl, 8); memcpy(buf + 8, h, hl); memset(buf + 8 + hl, 0, 32);
    put(D "/stoff/model.safetensors", buf, 8 + hl + 32);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/stoff -o %s", out);
    expect_clean_failure("safetensors offsets past the end", cmd, "outside the file", out);
    write_min_hf(D "/sttype");
    h = "{\"model.embed_tokens.weight\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}";
    hl = strlen(h);
    memcpy(buf, &hl, 8); memcpy(buf + 8, h, hl); memset(buf + 8 + hl, 0, 32);
    put(D "/sttype/model.safetensors", buf, 8 + hl + 32);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/sttype -o %s", out);
    expect_clean_failure("unsupported safetensors dtype", cmd, "I64", out);
}

static void hostile_llama2c_files(void) {
    setup();
    const char *out = D "/out.octet";
    char cmd[1024];
    const char *bin = shared_path("models/stories260K/stories260K.bin"), *tok = shared_path("models/stories260K/tok512.bin");
    SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin");
    copy_patched(tok, D "/tok.bin", 3000, 0, NULL, 0);
    snprintf(cmd, sizeof cmd, "./octet convert %s --tokenizer " D "/tok.bin -o %s", bin, out);
    expect_clean_failure("truncated tokenizer.bin", cmd, "tok.bin", out);
    int32_t badlen = 1 << 30;
    copy_patched(tok, D "/toklen.bin", 0, 8, &badlen, 4);
    snprintf(cmd, sizeof cmd, "./octet convert %s --tokenizer " D "/toklen.bin -o %s", bin, out);
    expect_clean_failure("token length", cmd, "bad length", out);
    copy_patched(bin, D "/short.bin", 500000, 0, NULL, 0);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/short.bin --tokenizer %s -o %s", tok, out);
    expect_clean_failure("truncated checkpoint", cmd, "does not match its header", out);
    int32_t neg = -64;
    copy_patched(bin, D "/neg.bin", 0, 0, &neg, 4);
    snprintf(cmd, sizeof cmd, "./octet convert " D "/neg.bin --tokenizer %s -o %s", tok, out);
    expect_clean_failure("negative dim", cmd, "implausible", out);
    snprintf(cmd, sizeof cmd, "./octet convert %s -o %s", bin, out);
    expect_clean_failure("checkpoint without tokenizer", cmd, "--tokenizer", out);
}

// Text for perplexity runs: the project's own docs (any English text will do; every clone has
// these), `copies` times (once is ~30k tokens). Short enough to tokenize at once: perplexity
// reads its text before the model, and these tests truncate the model file soon after starting.
static const char *long_text(int copies) {
    const char *p = D "/long.txt";
    run_cmd(NULL, "for i in $(seq %d); do cat README.md docs/*.md models/FORMAT.md; done > %s", copies, p);
    return p;
}

// A model file truncated while mapped (--mmap): reading the lost pages raised SIGBUS and killed
// the process; now a new session is refused and a read in flight ends with one line, exit 1.
static void model_truncated_while_mapped(void) {
    setup();
    const char *model = "models/smollm2-135m-instruct.q8.octet", *text = long_text(3);
    if (!file_exists(model)) SKIP("models/smollm2-135m-instruct.q8.octet missing (make models)");
    CHECK(run_cmd(NULL, "cp %s " D "/live.octet", model) == 0, "copy");
    octet_file f;
    CHECK(octet_file_open(&f, D "/live.octet") == 0, "open: %s", octet_last_error());
    CHECK(octet_file_check(&f) == 0, "an intact file passes the check");
    CHECK(truncate(D "/live.octet", 4096) == 0, "truncate");
    CHECK(octet_file_check(&f) != 0 && strstr(octet_last_error(), "shrank"), "the shrunk file is noticed: %s", octet_last_error());
    octet_file_close(&f);

    CHECK(run_cmd(NULL, "cp %s " D "/live.octet", model) == 0, "copy");
    char *out = NULL;
    int rc = run_cmd(&out, "(timeout 120 ./octet perplexity --mmap -m " D "/live.octet -f %s -c 128 --chunks 200 >/dev/null 2>" D "/err.txt & p=$!; "
                           "sleep 1.5; truncate -s 0 " D "/live.octet; wait $p; echo rc=$?; cat " D "/err.txt)", text);
    CHECK(rc == 0 && out && strstr(out, "rc=1\n"), "perplexity must exit 1 (not die of SIGBUS): %s", out ? out : "");
    CHECK(out && strstr(out, "live.octet: the file shrank"), "one line naming the file: %s", out ? out : "");
    free(out);
}

// Read into memory (the CLI's default, OCTET_LOAD_MEMORY) a model no longer depends on its file:
// once it is truncated, new sessions still open and give the mapped original's logits bit for
// bit, and a perplexity run in flight finishes with exit 0.
static void model_in_memory_outlives_its_file(void) {
    setup();
    const char *model = "models/smollm2-135m-instruct.q8.octet", *text = long_text(1);
    if (!file_exists(model)) SKIP("models/smollm2-135m-instruct.q8.octet missing (make models)");
    CHECK(run_cmd(NULL, "cp %s " D "/mem.octet", model) == 0, "copy");
    octet_model *mem = octet_load_mode(D "/mem.octet", OCTET_LOAD_MEMORY), *map = octet_load(model);
    CHECK(mem && map, "load: %s", octet_last_error());
    if (!mem || !map) { octet_free(mem); octet_free(map); return; }
    CHECK(truncate(D "/mem.octet", 0) == 0, "truncate");
    octet_session_params p = {64, 64, 2, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    octet_session *a = octet_session_new(mem, &p), *b = octet_session_new(map, &p);
    CHECK(a && b, "sessions on the copy and on the mapped original: %s", octet_last_error());
    int V = octet_vocab_size(map);
    int32_t ids[5] = {504, 3458, 282, 4649, 314};
    float *la = malloc(sizeof(float) * 5 * V), *lb = malloc(sizeof(float) * 5 * V);
    if (a && b) {
        CHECK(octet_eval(a, ids, 5, la, 1) == 0 && octet_eval(b, ids, 5, lb, 1) == 0, "eval: %s", octet_last_error());
        CHECK(memcmp(la, lb, sizeof(float) * 5 * V) == 0, "the in-memory copy must give the mapped file's logits bit for bit");
    }
    free(la); free(lb);
    octet_session_free(a); octet_session_free(b);
    octet_free(mem); octet_free(map);

    CHECK(run_cmd(NULL, "cp %s " D "/mem.octet", model) == 0, "copy");
    char *out = NULL;
    // The file is truncated once the process has read as many bytes as it holds (/proc/PID/io:
    // a fixed sleep lost the race to a slow read on a busy machine).
    int rc = run_cmd(&out, "(./octet perplexity -m " D "/mem.octet -f %s -c 128 --chunks 4 -t 2 2>" D "/err.txt & p=$!; size=$(stat -c %%s " D "/mem.octet); "
                           "for i in $(seq 6000); do r=$(sed -n 's/^rchar: //p' /proc/$p/io 2>/dev/null); [ \"${r:-0}\" -ge \"$size\" ] && break; "
                           "kill -0 $p 2>/dev/null || break; sleep 0.01; done; "
                           "truncate -s 0 " D "/mem.octet; wait $p; echo rc=$?)", text);
    CHECK(rc == 0 && out && strstr(out, "rc=0\n") && strstr(out, "mem.octet |"), "perplexity on the in-memory copy must finish: %s", out ? out : "");
    free(out);
    // run maps by default; --no-mmap reads into memory: the same tokens.
    char *mapped = NULL, *read_in = NULL;
    int r1 = run_cmd(&mapped, "./octet run -m %s -p 'Once upon a time' -n 8 --temp 0 --json 2>/dev/null", model);
    int r2 = run_cmd(&read_in, "./octet run -m %s -p 'Once upon a time' -n 8 --temp 0 --json --no-mmap 2>/dev/null", model);
    const char *ta = mapped ? strstr(mapped, "\"tokens\"") : NULL, *tb = read_in ? strstr(read_in, "\"tokens\"") : NULL;
    CHECK(r1 == 0 && r2 == 0 && ta && tb && strncmp(ta, tb, strcspn(ta, "]")) == 0, "run --no-mmap must give run's tokens: %.80s vs %.80s", ta ? ta : "?", tb ? tb : "?");
    free(mapped); free(read_in);
}

// More threads than CPUs: spinning workers starved the working ones (-t 16 on 2 cores did not
// finish 4 tokens in 30 s). Now the pool stops spinning; the tokens are those of -t 1.
static void threads_beyond_the_cores(void) {
    const char *model = "models/smollm2-135m-instruct.q8.octet";
    if (!file_exists(model)) SKIP("run make models");
    setup();
    char *one = NULL, *many = NULL;
    int rc1 = run_cmd(&one, "timeout 120 ./octet run -m %s -p 'The capital of France' -n 6 --temp 0 -t 1 --json 2>/dev/null", model);
    int rc2 = run_cmd(&many, "timeout 30 ./octet run -m %s -p 'The capital of France' -n 6 --temp 0 -t 48 --json 2>" D "/t48.err", model);
    CHECK(rc1 == 0 && rc2 == 0, "-t 1 exit %d, -t 48 exit %d (124: it did not finish in 30 s; it takes well under 1 s)", rc1, rc2);
    const char *a = one ? strstr(one, "\"tokens\"") : NULL, *b = many ? strstr(many, "\"tokens\"") : NULL;
    CHECK(a && b && strncmp(a, b, strcspn(a, "]")) == 0, "-t 48 must give the tokens of -t 1: %.80s vs %.80s", a ? a : "?", b ? b : "?");
    char *err = octet_read_file(D "/t48.err", NULL);
    CHECK(err && strstr(err, "warning: 48 threads on"), "-t above the CPU count warns: %s", err ? err : "");
    free(err); free(one); free(many);
}

static void bad_flags(void) {
    setup();
    expect_clean_failure("unknown command", "./octet frobnicate", "unknown command", NULL);
    expect_clean_failure("unknown flag", "./octet info -m x --bogus", "--bogus", NULL);
    expect_clean_failure("flag without value", "./octet tokenize -p", "needs a value", NULL);
    expect_clean_failure("bad --type", "./octet convert tests/fixtures/quant-types.gguf -o " D "/x.octet --type q3", "--type", D "/x.octet");
    expect_clean_failure("two text sources", "./octet tokenize -m x -p a -f b", "exactly one", NULL);
    expect_clean_failure("missing -o", "./octet convert tests/fixtures/quant-types.gguf", "-o", NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "./octet convert --vocab-only %s -o /nonexistent-dir/x.octet", VOCAB_SRC);
    expect_clean_failure("unwritable output", cmd, "/nonexistent-dir", NULL);
    expect_clean_failure("missing -f file", "./octet tokenize -m models/smollm2-135m-instruct.q8.octet -f " D "/none.txt", "none.txt", NULL);
    // Issue 22's minor items: a directory as -f said "out of memory (9223372036854775807 bytes)";
    // a FIFO as -m blocked forever; convert -o renamed over a symlink or a device node.
    expect_clean_failure("directory as -f", "./octet tokenize -m models/smollm2-135m-instruct.q8.octet -f " D, "is a directory", NULL);
    run_cmd(NULL, "mkfifo " D "/fifo");
    expect_clean_failure("FIFO as -m", "timeout 10 ./octet info -m " D "/fifo", "not a regular file", NULL);
    expect_clean_failure("FIFO as convert INPUT", "timeout 10 ./octet convert " D "/fifo -o " D "/f.octet", "fifo", D "/f.octet");
    run_cmd(NULL, "mkdir -p " D "/hffifo && mkfifo " D "/hffifo/config.json");
    expect_clean_failure("FIFO as config.json", "timeout 10 ./octet convert " D "/hffifo -o " D "/f.octet", "not a regular file", D "/f.octet");
    char *out = NULL;
    CHECK(run_cmd(&out, "echo hello | ./octet tokenize -m models/smollm2-135m-instruct.q8.octet -f /dev/stdin --ids") == 0 && out && strstr(out, "28120"),
          "a pipe still works as -f: %s", out ? out : "");
    free(out);
    puts_file(D "/target.txt", "keep");
    run_cmd(NULL, "ln -s target.txt " D "/link.octet");
    snprintf(cmd, sizeof cmd, "./octet convert --vocab-only %s -o " D "/link.octet", VOCAB_SRC);
    expect_clean_failure("-o is a symlink", cmd, "symbolic link", NULL);
    char *kept = octet_read_file(D "/target.txt", NULL);
    CHECK(kept && !strcmp(kept, "keep"), "the symlink's target is untouched");
    free(kept);
    struct stat st;
    CHECK(lstat(D "/link.octet", &st) == 0 && S_ISLNK(st.st_mode), "the symlink is still a symlink");
    snprintf(cmd, sizeof cmd, "./octet convert --vocab-only %s -o " D "/fifo", VOCAB_SRC);
    expect_clean_failure("-o is a FIFO", cmd, "FIFO", NULL);
    CHECK(lstat(D "/fifo", &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is still a FIFO");
}

int main(void) {
    RUN(hostile_octet_files);
    RUN(hostile_gguf_files);
    RUN(vocab_gguf_is_not_a_model);
    RUN(hostile_gguf_values);
    RUN(hostile_hf_directories);
    RUN(hostile_llama2c_files);
    RUN(model_truncated_while_mapped);
    RUN(model_in_memory_outlives_its_file);
    RUN(threads_beyond_the_cores);
    RUN(bad_flags);
    CHECK_DONE();
}
