// Reader round trips: small Hugging Face directories (single and sharded safetensors) and
// llama2.c checkpoints written here with fixed values; the real stories260K checkpoint; the
// llama2.c tokenizer.bin against the Llama 2 reference cases; the .octet container itself.
#include "check.h"
#include "convert.h"
#include "octet_file.h"
#include "tokenizer.h"
#include "util.h"
#include <math.h>
#include <unistd.h>

// Every test tensor holds value(tensor index, element index): multiples of 1/8 in [-1, 1],
// exact in f16 and bf16.
static float value(int t, uint64_t i) { return (float)((int)((i * 7 + (uint64_t)t * 3) % 17) - 8) / 8.0f; }

static void write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) { perror(path); return; }
    fwrite(data, 1, n, fp);
    fclose(fp);
}
static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

typedef struct { const char *hf, *octet; int n_dims; uint64_t d0, d1; const char *dtype; } hf_tensor;
#define DIM 8
#define HID 12
#define VOCAB 264
static const hf_tensor HF_TENSORS[] = {
    {"model.embed_tokens.weight", "token_embd.weight", 2, VOCAB, DIM, "F32"},
    {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", 1, DIM, 0, "F32"},
    {"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", 2, DIM, DIM, "BF16"},
    {"model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", 2, 4, DIM, "F16"},
    {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight", 2, 4, DIM, "F16"},
    {"model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output.weight", 2, DIM, DIM, "BF16"},
    {"model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight", 1, DIM, 0, "F32"},
    {"model.layers.0.mlp.gate_proj.weight", "blk.0.ffn_gate.weight", 2, HID, DIM, "F32"},
    {"model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight", 2, HID, DIM, "F16"},
    {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", 2, DIM, HID, "BF16"},
    {"model.norm.weight", "output_norm.weight", 1, DIM, 0, "F32"},
    {"lm_head.weight", "output.weight", 2, VOCAB, DIM, "F32"},
};
#define N_HF (int)(sizeof HF_TENSORS / sizeof *HF_TENSORS)

static uint64_t numel(const hf_tensor *t) { return t->d0 * (t->n_dims == 2 ? t->d1 : 1); }

// Writes tensors [first, last) into one safetensors file.
static void write_safetensors(const char *path, int first, int last) {
    char header[8192];
    size_t h = 0;
    uint64_t off = 0;
    h += (size_t)snprintf(header + h, sizeof header - h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = first; i < last; i++) {
        const hf_tensor *t = &HF_TENSORS[i];
        uint64_t bytes = numel(t) * (strcmp(t->dtype, "F32") ? 2 : 4);
        if (t->n_dims == 2) h += (size_t)snprintf(header + h, sizeof header - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[%llu,%llu]}", t->hf, t->dtype, (unsigned long long)t->d0, (unsigned long long)t->d1, (unsigned long long)off, (unsigned long long)(off + bytes));
        else h += (size_t)snprintf(header + h, sizeof header - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}", t->hf, t->dtype, (unsigned long long)t->d0, (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    h += (size_t)snprintf(header + h, sizeof header - h, "}");
    while (h % 8) header[h++] = ' ';
    uint8_t *data = malloc(8 + h + off);
    uint64_t hl = h;
    memcpy(data, &hl, 8);
    memcpy(data + 8, header, h);
    uint8_t *p = data + 8 + h;
    for (int i = first; i < last; i++) {
        const hf_tensor *t = &HF_TENSORS[i];
        for (uint64_t j = 0; j < numel(t); j++) {
            float v = value(i, j);
            if (!strcmp(t->dtype, "F32")) { memcpy(p, &v, 4); p += 4; }
            else { uint16_t x = !strcmp(t->dtype, "F16") ? octet_f32_to_f16(v) : octet_f32_to_bf16(v); memcpy(p, &x, 2); p += 2; }
        }
    }
    write_file(path, data, 8 + h + off);
    free(data);
}

// A SentencePiece-style BPE tokenizer.json: <unk> <s> </s>, 256 byte tokens, then pieces.
static void write_hf_tokenizer(const char *dir) {
    char path[512], *buf = malloc(65536);
    size_t n = 0;
    n += (size_t)snprintf(buf + n, 65536 - n, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                          "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
                          "\"pre_tokenizer\":null,\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int b = 0; b < 256; b++) n += (size_t)snprintf(buf + n, 65536 - n, ",\"<0x%02X>\":%d", b, 3 + b);
    n += (size_t)snprintf(buf + n, 65536 - n, ",\"\\u2581\":259,\"h\":260,\"i\":261,\"hi\":262,\"\\u2581hi\":263},\"merges\":[\"h i\",[\"\\u2581\",\"hi\"]]}}");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, buf, n);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_text(path, "{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"</s>\"},\"add_bos_token\":true,"
                     "\"chat_template\":\"{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}\"}");
    free(buf);
}

static void make_hf_dir(const char *dir, int sharded) {
    char path[512];
    run_cmd(NULL, "rm -rf %s && mkdir -p %s", dir, dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":%d,\"intermediate_size\":%d,"
             "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,\"vocab_size\":%d,\"rms_norm_eps\":1e-06,"
             "\"rope_theta\":500000.0,\"max_position_embeddings\":2048,\"tie_word_embeddings\":false,"
             "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"original_max_position_embeddings\":1024,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0}}", DIM, HID, VOCAB);
    write_text(path, cfg);
    write_hf_tokenizer(dir);
    if (!sharded) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        write_safetensors(path, 0, N_HF);
        return;
    }
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_safetensors(path, 0, 5);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_safetensors(path, 5, N_HF);
    char idx[4096];
    size_t n = (size_t)snprintf(idx, sizeof idx, "{\"metadata\":{},\"weight_map\":{");
    for (int i = 0; i < N_HF; i++) n += (size_t)snprintf(idx + n, sizeof idx - n, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", HF_TENSORS[i].hf, i < 5 ? 1 : 2);
    snprintf(idx + n, sizeof idx - n, "}}");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, idx);
}

static void check_hf_octet(const char *path) {
    octet_file f;
    int rc = octet_file_open(&f, path);
    CHECK(rc == 0, "%s", octet_last_error());
    if (rc) return;
    CHECK(f.n_tensors == N_HF, "%llu tensors", (unsigned long long)f.n_tensors);
    for (int i = 0; i < N_HF; i++) {
        const hf_tensor *h = &HF_TENSORS[i];
        const octet_tensor *t = octet_file_tensor(&f, h->octet);
        CHECK(t != NULL, "missing %s", h->octet);
        if (!t) continue;
        CHECK(t->dims[0] == h->d0 && (h->n_dims == 1 || t->dims[1] == h->d1), "%s shape", h->octet);
        int bad = 0;
        for (uint64_t j = 0; j < numel(h); j++) bad += ((const float *)t->data)[j] != value(i, j);
        CHECK(bad == 0, "%s: %d values differ", h->octet, bad);
    }
    uint64_t n;
    const char *style = octet_kv_str(&f, "model.rope_style", &n);
    CHECK(style && n == 4 && !memcmp(style, "neox", 4), "HF checkpoints are rotate-half (neox)");
    CHECK(octet_kv_u32(&f, "model.n_kv_heads", 0) == 1 && octet_kv_f32(&f, "model.rope_theta", 0) == 500000.0f, "hparams");
    CHECK(octet_kv_f32(&f, "model.rope_scaling_factor", 0) == 8.0f && octet_kv_u32(&f, "model.rope_scaling_orig_ctx", 0) == 1024, "rope scaling");
    CHECK(octet_kv_bool(&f, "model.tied_embeddings", 1) == 0, "separate output");
    const char *tn = octet_kv_str(&f, "tokenizer.chat_template_name", &n);
    CHECK(tn && n == 7 && !memcmp(tn, "mistral", 7), "chat template recognised");
    octet_tokenizer tok;
    rc = octet_tokenizer_load(&tok, &f);
    CHECK(rc == 0, "%s", octet_last_error());
    if (!rc) {
        int32_t *ids;
        size_t k;
        CHECK(octet_tokenize(&tok, "hi hi", 5, -1, 0, &ids, &k) == 0 && k == 3 && ids[0] == 1 && ids[1] == 263 && ids[2] == 263, "tokenize 'hi hi' -> <s> ▁hi ▁hi");
        free(ids);
        CHECK(octet_tokenize(&tok, "ih", 2, 0, 0, &ids, &k) == 0 && k == 3 && ids[0] == 259 && ids[1] == 261 && ids[2] == 260, "no merge for 'ih'");
        free(ids);
        CHECK(octet_tokenize(&tok, "\xC3\xA9", 2, 0, 0, &ids, &k) == 0 && k == 3 && ids[1] == 3 + 0xC3 && ids[2] == 3 + 0xA9, "byte fallback");
        free(ids);
        octet_tokenizer_free(&tok);
    }
    octet_file_close(&f);
}

static void convert_hf_dir(const char *dir, int sharded) {
    make_hf_dir(dir, sharded);
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o %s.octet --type f32", dir, dir);
    CHECK(rc == 0, "convert: %s", out);
    free(out);
    char path[256];
    snprintf(path, sizeof path, "%s.octet", dir);
    check_hf_octet(path);
}

static void hf_directory_round_trip(void) { convert_hf_dir("tests/out/hf-single", 0); }

static void hf_sharded_round_trip(void) {
    convert_hf_dir("tests/out/hf-sharded", 1);
    char *out = NULL;
    // f16 output holds the same (f16-exact) values.
    int rc = run_cmd(&out, "./octet convert tests/out/hf-sharded -o tests/out/hf-sharded.f16.octet --type f16");
    CHECK(rc == 0, "convert f16: %s", out);
    free(out);
    octet_file f;
    if (octet_file_open(&f, "tests/out/hf-sharded.f16.octet") == 0) {
        const octet_tensor *t = octet_file_tensor(&f, "blk.0.ffn_gate.weight");
        float row[DIM];
        octet_tensor_row_f32(t, 3, row);
        int bad = 0;
        for (int j = 0; j < DIM; j++) bad += row[j] != value(7, 3 * DIM + j);
        CHECK(t->dtype == OCTET_F16 && bad == 0, "f16 tensor values");
        octet_file_close(&f);
    } else CHECK(0, "%s", octet_last_error());
}

// llama2.c: dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 5, seq 4.
static void write_llama2c(const char *path, int version, int shared) {
    int32_t h[7] = {DIM, HID, 2, 2, 1, 5, 4};
    int kv = DIM / 2;
    uint64_t floats = 2 * (2ull * DIM + 2ull * DIM * DIM + 2ull * DIM * kv + 3ull * DIM * HID) + 5ull * DIM + DIM + (shared ? 0 : 5ull * DIM);
    if (version == 0) floats += 4ull * (DIM / 2);
    size_t header = version ? 256 : 28;
    uint8_t *buf = calloc(1, header + floats * 4);
    if (version) {
        uint32_t magic = 0x616b3432;
        int32_t v = 1;
        memcpy(buf, &magic, 4); memcpy(buf + 4, &v, 4); memcpy(buf + 8, h, 28);
        buf[36] = (uint8_t)shared;
    } else {
        if (!shared) h[5] = -5;
        memcpy(buf, h, 28);
    }
    for (uint64_t i = 0; i < floats; i++) { float v = value(0, i); memcpy(buf + header + 4 * i, &v, 4); }
    write_file(path, buf, header + floats * 4);
    free(buf);
}
static void write_tok_bin(const char *path) {
    static const char *pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", " a", "b"};
    FILE *fp = fopen(path, "wb");
    int32_t max = 6;
    fwrite(&max, 4, 1, fp);
    for (int i = 0; i < 5; i++) {
        float s = (float)-i;
        int32_t l = (int32_t)strlen(pieces[i]);
        fwrite(&s, 4, 1, fp); fwrite(&l, 4, 1, fp); fwrite(pieces[i], 1, (size_t)l, fp);
    }
    fclose(fp);
}

// Element offset (in floats after the header) where `name` starts in each layout.
static uint64_t llama2c_offset(const char *name, int version, int layer) {
    uint64_t D = DIM, H = HID, KV = DIM / 2, V = 5, L = 2;
    if (version == 0) {
        if (!strcmp(name, "token_embd.weight")) return 0;
        uint64_t o = V * D;
        if (!strcmp(name, "attn_norm")) return o + layer * D;
        o += L * D;
        if (!strcmp(name, "attn_q")) return o + layer * D * D;
        o += L * D * D + L * KV * D;
        if (!strcmp(name, "attn_v")) return o + layer * KV * D;
        o += L * KV * D + L * D * D + L * D;
        if (!strcmp(name, "ffn_gate")) return o + layer * H * D;
        o += L * H * D;
        if (!strcmp(name, "ffn_down")) return o + layer * D * H;
        o += 2 * L * H * D;
        if (!strcmp(name, "output_norm.weight")) return o;
        return o + D + 4 * (D / 2);  // output.weight after the RoPE tables
    }
    if (!strcmp(name, "attn_norm")) return layer * D;
    uint64_t o = 2 * L * D;
    if (!strcmp(name, "output_norm.weight")) return o;
    o += D;
    if (!strcmp(name, "token_embd.weight")) return o;
    o += V * D;
    if (!strcmp(name, "attn_q")) return o + layer * D * D;
    o += L * D * D + L * KV * D;
    if (!strcmp(name, "attn_v")) return o + layer * KV * D;
    o += L * KV * D + L * D * D;
    if (!strcmp(name, "ffn_gate")) return o + layer * H * D;
    o += L * H * D;
    if (!strcmp(name, "ffn_down")) return o + layer * D * H;
    return o + 2 * L * H * D;
}

static void check_llama2c(int version, int shared) {
    char bin[128], oct[128];
    snprintf(bin, sizeof bin, "tests/out/l2c-v%d-%d.bin", version, shared);
    snprintf(oct, sizeof oct, "tests/out/l2c-v%d-%d.octet", version, shared);
    write_llama2c(bin, version, shared);
    write_tok_bin("tests/out/l2c-tok.bin");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s --tokenizer tests/out/l2c-tok.bin -o %s --type f32", bin, oct);
    CHECK(rc == 0, "v%d convert: %s", version, out);
    free(out);
    octet_file f;
    if (octet_file_open(&f, oct) != 0) { CHECK(0, "%s", octet_last_error()); return; }
    CHECK(f.n_tensors == 2 + 9 * 2 + (shared ? 0 : 1), "v%d: %llu tensors", version, (unsigned long long)f.n_tensors);
    static const char *names[] = {"token_embd.weight", "output_norm.weight", "output.weight", "attn_norm", "attn_q", "attn_v", "ffn_gate", "ffn_down"};
    for (unsigned k = 0; k < sizeof names / sizeof *names; k++) {
        if (k == 2 && shared) { CHECK(!octet_file_tensor(&f, "output.weight"), "shared classifier"); continue; }
        for (int layer = 0; layer < (k >= 3 ? 2 : 1); layer++) {
            char nm[64];
            if (k >= 3) snprintf(nm, sizeof nm, "blk.%d.%s.weight", layer, names[k]); else snprintf(nm, sizeof nm, "%s", names[k]);
            const octet_tensor *t = octet_file_tensor(&f, nm);
            CHECK(t != NULL, "v%d: missing %s", version, nm);
            if (!t) continue;
            uint64_t o = llama2c_offset(names[k], version, layer);
            int bad = 0;
            for (uint64_t j = 0; j < t->rows * t->cols; j++) bad += ((const float *)t->data)[j] != value(0, o + j);
            CHECK(bad == 0, "v%d %s: %d values differ", version, nm, bad);
        }
    }
    octet_tokenizer tok;
    CHECK(octet_tokenizer_load(&tok, &f) == 0, "%s", octet_last_error());
    CHECK(tok.n_vocab == 5 && tok.bos == 1 && tok.eos == 2 && tok.type[1] == TT_CONTROL, "tokenizer.bin vocabulary");
    CHECK(!memcmp(tok.piece[3], "\xE2\x96\x81" "a", 4), "spaces restored to U+2581");
    octet_tokenizer_free(&tok);
    octet_file_close(&f);
}
static void llama2c_legacy_unshared_round_trip(void) { check_llama2c(0, 0); }
static void llama2c_legacy_shared_round_trip(void) { check_llama2c(0, 1); }
static void llama2c_version1_round_trip(void) { check_llama2c(1, 0); check_llama2c(1, 1); }

static void stories260k_converts_with_real_values(void) {
    const char *bin = shared_path("models/stories260K/stories260K.bin"), *tok = shared_path("models/stories260K/tok512.bin");
    SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s --tokenizer %s -o tests/out/stories260K.f32.octet --type f32", bin, tok);
    CHECK(rc == 0, "%s", out);
    free(out);
    octet_file f;
    if (octet_file_open(&f, "tests/out/stories260K.f32.octet") != 0) { CHECK(0, "%s", octet_last_error()); return; }
    CHECK(octet_kv_u32(&f, "model.dim", 0) == 64 && octet_kv_u32(&f, "model.n_kv_heads", 0) == 4 && octet_kv_u32(&f, "model.hidden_dim", 0) == 172, "header");
    size_t n;
    char *raw = octet_read_file(bin, &n);
    const octet_tensor *e = octet_file_tensor(&f, "token_embd.weight"), *w2 = octet_file_tensor(&f, "blk.4.ffn_down.weight");
    CHECK(e && !memcmp(e->data, raw + 28, 512 * 64 * 4), "embedding bytes equal the checkpoint's");
    // legacy order: ..., w1[5][172][64], then w2: layer 4 is the last of the five
    uint64_t w2_off = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 * 2 + 5 * 32 * 64 * 2 + 5 * 64 + 5 * 172 * 64 + 4 * 64 * 172);
    CHECK(w2 && !memcmp(w2->data, raw + w2_off, 64 * 172 * 4), "blk.4.ffn_down bytes equal the checkpoint's");
    free(raw);
    octet_tokenizer t;
    CHECK(octet_tokenizer_load(&t, &f) == 0, "%s", octet_last_error());
    int32_t *ids;
    size_t k;
    // The reference greedy continuation starts with these four tokens.
    CHECK(octet_tokenize(&t, "Once upon a time", 16, -1, 0, &ids, &k) == 0 && k == 5 && ids[0] == 1 && ids[1] == 403 && ids[2] == 407 && ids[3] == 261 && ids[4] == 378, "tok512 tokenization");
    free(ids);
    octet_tokenizer_free(&t);
    octet_file_close(&f);
}

static void llama2c_tokenizer_matches_llama_reference(void) {
    const char *tb = shared_path("models/llama2c/tokenizer.bin"), *inp = shared_path("data/tokenizer/ggml-vocab-llama-spm.gguf.inp"),
               *outp = shared_path("data/tokenizer/ggml-vocab-llama-spm.gguf.out");
    SKIP_WITHOUT_SHARED("models/llama2c/tokenizer.bin");
    SKIP_WITHOUT_SHARED("data/tokenizer/ggml-vocab-llama-spm.gguf.inp");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert --vocab-only --tokenizer %s -o tests/out/llama2c-vocab.octet", tb);
    CHECK(rc == 0, "%s", out);
    free(out);
    octet_file f;
    octet_tokenizer t;
    if (octet_file_open(&f, "tests/out/llama2c-vocab.octet") != 0 || octet_tokenizer_load(&t, &f) != 0) { CHECK(0, "%s", octet_last_error()); return; }
    size_t ni, no;
    char *in = octet_read_file(inp, &ni), *ex = octet_read_file(outp, &no), *p = in, *line = ex;
    int cases = 0, good = 0;
    for (char *e; (e = strstr(p, "\n__ggml_vocab_test__\n")); p = e + 21) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        int32_t *ids;
        size_t k;
        char got[8192] = "";
        size_t gl = 0;
        octet_tokenize(&t, p, (size_t)(e - p), 0, 0, &ids, &k);
        for (size_t i = 0; i < k; i++) gl += (size_t)snprintf(got + gl, sizeof got - gl, " %d", ids[i]);
        free(ids);
        cases++;
        good += !strcmp(got, line);
        line = nl + 1;
    }
    CHECK(cases == 46 && good == cases, "tokenizer.bin: %d of %d Llama 2 reference cases", good, cases);
    free(in); free(ex);
    octet_tokenizer_free(&t);
    octet_file_close(&f);
}

// Writes a file of an int8 matrix "q" and an f16 vector "h" whose metadata has key = list (n
// names, or a u32 when n < 0), and opens it: the open's result, the file closed after checking.
static int open_with_marks(const char *key, int n, const char *const *names, int *q_asym, int *q_f32) {
    octet_writer w;
    octet_meta m = {0};
    if (n >= 0) octet_meta_arr_str(&m, key, (uint64_t)n, names, NULL);
    else octet_meta_u32(&m, key, 1);
    uint64_t d2[2] = {2, 32}, d1[1] = {4}, qb;
    octet_tensor_nbytes(OCTET_Q8, 2, 32, &qb);
    uint8_t q[256] = {0}, h[8] = {0};
    int rc = octet_writer_open(&w, "tests/out/marks.octet") || octet_writer_add_tensor(&w, "q", OCTET_Q8, 2, d2) ||
             octet_writer_add_tensor(&w, "h", OCTET_F16, 1, d1) || octet_writer_begin_data(&w, &m) || octet_writer_write_tensor(&w, q) ||
             octet_writer_write_tensor(&w, h) || octet_writer_commit(&w);
    octet_meta_free(&m);
    if (rc || qb > sizeof q) return -2;
    octet_file f;
    if (octet_file_open(&f, "tests/out/marks.octet") != 0) return -1;
    const octet_tensor *t = octet_file_tensor(&f, "q");
    *q_asym = t->act_asym;
    *q_f32 = t->act_f32;
    octet_file_close(&f);
    return 0;
}

// quant.asym_act and quant.f32_act mark int8 tensors by name; anything else is refused with one
// line naming the file and the key.
static void tensor_marks_are_checked(void) {
    const char *q[] = {"q"}, *h[] = {"h"}, *missing[] = {"nope"};
    int a = -1, f = -1;
    CHECK(open_with_marks("quant.asym_act", 1, q, &a, &f) == 0 && a == 1 && f == 0, "asym mark: rc, act_asym %d, act_f32 %d", a, f);
    CHECK(open_with_marks("quant.f32_act", 1, q, &a, &f) == 0 && a == 0 && f == 1, "f32 mark: act_asym %d, act_f32 %d", a, f);
    CHECK(open_with_marks("quant.asym_act", 0, q, &a, &f) == 0 && a == 0, "an empty list marks nothing");
    static const char *keys[2] = {"quant.asym_act", "quant.f32_act"};
    for (int k = 0; k < 2; k++) {
        struct { int n; const char *const *names; const char *want; } bad[] = {
            {1, h, "names 'h', which is not an int8 tensor"}, {1, missing, "names 'nope', which is not an int8 tensor"}, {-1, NULL, "is not a list of tensor names"}};
        for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
            CHECK(open_with_marks(keys[k], bad[i].n, bad[i].names, &a, &f) == -1, "%s case %u opened", keys[k], i);
            const char *e = octet_last_error();
            CHECK(strstr(e, "tests/out/marks.octet") && strstr(e, keys[k]) && strstr(e, bad[i].want) && !strchr(e, '\n'), "%s case %u: %s", keys[k], i, e);
        }
    }
    remove("tests/out/marks.octet");
}

static void octet_container_round_trip(void) {
    octet_writer w;
    octet_meta m = {0};
    const char *strs[] = {"a", "", "\xE2\x96\x81z"};
    float fv[3] = {1.5f, -2, 0};
    int32_t iv[2] = {-7, 9};
    octet_meta_u32(&m, "u", 42); octet_meta_i32(&m, "i", -3); octet_meta_f32(&m, "f", 0.25f); octet_meta_bool(&m, "b", 1);
    octet_meta_cstr(&m, "s", "hello"); octet_meta_arr_str(&m, "as", 3, strs, NULL); octet_meta_arr_f32(&m, "af", 3, fv); octet_meta_arr_i32(&m, "ai", 2, iv);
    CHECK(octet_meta_has(&m, "ai") && octet_meta_has(&m, "u") && !octet_meta_has(&m, "nope"), "meta_has");
    uint64_t d2[2] = {3, 5}, d1[1] = {7};
    CHECK(octet_writer_open(&w, "tests/out/container.octet") == 0, "open");
    octet_writer_add_tensor(&w, "q", OCTET_Q8, 2, d2);
    octet_writer_add_tensor(&w, "h", OCTET_F16, 1, d1);
    CHECK(octet_writer_begin_data(&w, &m) == 0, "begin");
    float x[15];
    for (int i = 0; i < 15; i++) x[i] = (float)(i - 7) / 3;
    x[5] = x[6] = x[7] = x[8] = x[9] = 0;  // an all-zero row
    uint64_t qb;
    octet_tensor_nbytes(OCTET_Q8, 3, 5, &qb);
    uint8_t *q = malloc(qb);
    octet_quantize_q8(x, 3, 5, OCTET_Q8, q, CLIP_MAX, 0, 2);
    uint16_t h[7];
    for (int i = 0; i < 7; i++) h[i] = octet_f32_to_f16((float)i * 0.5f);
    CHECK(octet_writer_write_tensor(&w, q) == 0 && octet_writer_write_tensor(&w, h) == 0, "write");
    CHECK(octet_writer_commit(&w) == 0, "commit: %s", octet_last_error());
    CHECK(!file_exists("tests/out/container.octet.tmp-0"), "no temp left");
    octet_meta_free(&m);
    octet_file f;
    if (octet_file_open(&f, "tests/out/container.octet") != 0) { CHECK(0, "%s", octet_last_error()); free(q); return; }
    CHECK(octet_file_verify(&f) == 0, "%s", octet_last_error());
    uint64_t n;
    const char *s = octet_kv_str(&f, "s", &n);
    CHECK(octet_kv_u32(&f, "u", 0) == 42 && octet_kv_i32(&f, "i", 0) == -3 && octet_kv_f32(&f, "f", 0) == 0.25f && octet_kv_bool(&f, "b", 0) == 1, "scalars");
    CHECK(s && n == 5 && !memcmp(s, "hello", 5), "string");
    const octet_kv *as = octet_file_kv(&f, "as");
    const char *ptr[3];
    uint32_t len[3];
    CHECK(as && as->count == 3 && octet_kv_str_array(as, ptr, len) == 0 && len[1] == 0 && len[2] == 4 && !memcmp(ptr[2], "\xE2\x96\x81z", 4), "string array");
    const octet_tensor *tq = octet_file_tensor(&f, "q"), *th = octet_file_tensor(&f, "h");
    CHECK(tq && th && (uintptr_t)tq->data % 64 == 0 && (uintptr_t)th->data % 64 == 0, "aligned");
    float row[8];
    octet_tensor_row_f32(tq, 1, row);
    CHECK(row[0] == 0 && row[4] == 0, "zero row dequantizes to zeros");
    octet_tensor_row_f32(tq, 2, row);
    CHECK(fabsf(row[4] - x[14]) < 1e-6f && ((const int8_t *)tq->data)[14] == 127, "row max maps to 127");
    octet_tensor_row_f32(th, 0, row);
    CHECK(row[3] == 1.5f, "f16 values");
    octet_file_close(&f);
    free(q);
    // One flipped data byte is caught by --verify.
    FILE *fp = fopen("tests/out/container.octet", "r+b");
    fseek(fp, -3, SEEK_END);
    fputc(0x5a, fp);
    fclose(fp);
    CHECK(octet_file_open(&f, "tests/out/container.octet") == 0, "still opens");
    CHECK(octet_file_verify(&f) != 0 && strstr(octet_last_error(), "checksum"), "checksum catches corruption");
    octet_file_close(&f);
}

static void half_precision_conversions(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
        float f = octet_f16_to_f32((uint16_t)h);
        bad += octet_f32_to_f16(f) != h;
        bad += octet_f32_to_bf16(octet_bf16_to_f32((uint16_t)h)) != h && !((h & 0x7f80) == 0x7f80 && (h & 0x7f));
    }
    CHECK(bad == 0, "%d values do not round trip", bad);
    CHECK(octet_f32_to_f16(65520.0f) == 0x7c00 && octet_f32_to_f16(65519.0f) == 0x7bff, "overflow rounds to inf at 65520");
    CHECK(octet_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00 && octet_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02, "round half to even");
    CHECK(octet_f16_to_f32(0x0001) == 5.9604644775390625e-8f, "smallest subnormal");
}

// --clip pXX: the row's scale is the XX-th percentile of |row| / 127; larger values saturate.
static void percentile_clip(void) {
    float x[101];
    for (int i = 0; i <= 100; i++) x[i] = (i % 2 ? -1.0f : 1.0f) * (float)i;  // |x| = 0..100
    uint64_t qb;
    octet_tensor_nbytes(OCTET_Q8, 1, 101, &qb);
    uint8_t *q = malloc(qb);
    octet_quantize_q8(x, 1, 101, OCTET_Q8, q, CLIP_PCT, 90, 1);
    float scale;
    memcpy(&scale, q + octet_q8_scales_offset(1, 101), 4);
    CHECK(fabsf(scale - 90.0f / 127.0f) < 1e-6f, "scale %g, want %g", scale, 90.0 / 127);
    CHECK((int8_t)q[100] == 127 && (int8_t)q[99] == -127 && (int8_t)q[45] == -64, "values %d %d %d", (int8_t)q[100], (int8_t)q[99], (int8_t)q[45]);
    octet_quantize_q8(x, 1, 101, OCTET_Q8, q, CLIP_MAX, 0, 1);
    memcpy(&scale, q + octet_q8_scales_offset(1, 101), 4);
    CHECK(scale == 100.0f / 127.0f, "max scale %g", scale);
    free(q);
}

// Found by fuzz_gguf: subnormal weights gave a scale whose inverse is infinite, and 0 * inf =
// NaN reached the int8 cast (undefined; UBSan stops on it). Such groups quantize to zeros.
static void subnormal_weights_quantize_to_zero(void) {
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = i % 3 ? 1e-43f * (float)(i % 5) : 0.0f;
    for (int clip = 0; clip < 3; clip++)
        for (uint32_t dt = OCTET_Q8; dt <= OCTET_Q8G32H; dt++) {
            uint64_t qb;
            octet_tensor_nbytes(dt, 2, 32, &qb);
            uint8_t *q = malloc(qb);
            octet_quantize_q8(x, 2, 32, dt, q, clip, 99, 1);
            int nonzero = 0;
            for (int i = 0; i < 64; i++) nonzero += q[i] != 0;
            CHECK(nonzero == 0, "clip %d, %s: %d non-zero quants from subnormal weights", clip, octet_dtype_name(dt), nonzero);
            free(q);
        }
}

// q8g32h keeps its scales in f16: the weights are rounded with the stored (rounded) scale, and
// weights whose scale f16 cannot hold are refused with a message naming the type.
static void q8g32h_scales_are_f16(void) {
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)((i * 37) % 101 - 50) * 0.0123f;
    uint64_t qb;
    octet_tensor_nbytes(OCTET_Q8G32H, 2, 32, &qb);
    CHECK(qb == 64 + 8 * 2, "q8g32h 2x32 is %llu bytes (64 int8, one tile of 8 rows' f16 scales)", (unsigned long long)qb);
    uint8_t *q = malloc(qb);
    CHECK(octet_quantize_q8(x, 2, 32, OCTET_Q8G32H, q, CLIP_MAX, 0, 1) == 0, "%s", octet_last_error());
    octet_tensor t = {.name = "t", .dtype = OCTET_Q8G32H, .rows = 2, .cols = 32, .data = q};
    float row[32];
    int bad = 0;
    for (int r = 0; r < 2; r++) {
        octet_tensor_row_f32(&t, (uint64_t)r, row);
        uint16_t h;
        memcpy(&h, q + 64 + 2 * r, 2);  // row r's only scale: tile 0, block 0, place r
        float s = octet_f16_to_f32(h);
        for (int i = 0; i < 32; i++) {
            float want = roundf(x[r * 32 + i] / s);
            want = want > 127 ? 127 : want < -127 ? -127 : want;
            bad += ((int8_t *)q)[r * 32 + i] != (int8_t)want || row[i] != s * want;
        }
    }
    CHECK(bad == 0, "%d weights not rounded with the f16 scale", bad);
    x[5] = 1e8f;
    CHECK(octet_quantize_q8(x, 2, 32, OCTET_Q8G32H, q, CLIP_MAX, 0, 2) != 0 && strstr(octet_last_error(), "q8g32h"), "1e8 weight accepted: %s", octet_last_error());
    free(q);
    octet_tensor_nbytes(OCTET_Q8G32, 2, 32, &qb);
    q = malloc(qb);
    CHECK(octet_quantize_q8(x, 2, 32, OCTET_Q8G32, q, CLIP_MAX, 0, 2) == 0, "q8g32 (f32 scales) refused a 1e8 weight: %s", octet_last_error());
    free(q);
}

int main(void) {
    RUN(hf_directory_round_trip);
    RUN(hf_sharded_round_trip);
    RUN(llama2c_legacy_unshared_round_trip);
    RUN(llama2c_legacy_shared_round_trip);
    RUN(llama2c_version1_round_trip);
    RUN(stories260k_converts_with_real_values);
    RUN(llama2c_tokenizer_matches_llama_reference);
    RUN(octet_container_round_trip);
    RUN(tensor_marks_are_checked);
    RUN(percentile_clip);
    RUN(q8g32h_scales_are_f16);
    RUN(subnormal_weights_quantize_to_zero);
    RUN(half_precision_conversions);
    CHECK_DONE();
}
