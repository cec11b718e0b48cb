// Writes the synthetic seed inputs of the fuzz harnesses (tests/fuzz/seeds.sh adds the real
// files): a tiny Llama GGUF, a tiny Hugging Face directory in the harness's four-part form
// (byte-level BPE and SentencePiece-style tokenizer.json), a tiny llama2.c checkpoint,
// HTTP requests, JSON documents and saved conversations. usage: make_seeds DATA_DIR SEED_DIR
#include "fuzz_util.h"
#include "../gguf_build.h"

static char seed_dir[512];
static void put(const char *harness, const char *name, const void *data, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", seed_dir, harness);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", seed_dir, harness, name);
    fuzz_write(p, data, n);
}
static void puts_seed(const char *harness, const char *name, const char *s) { put(harness, name, s, strlen(s)); }

typedef struct { uint8_t *p; size_t n, cap; } buf;
static void add(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 1024; b->p = realloc(b->p, b->cap); if (!b->p) abort(); }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void addz(buf *b, const char *s) { add(b, s, strlen(s)); }

static uint32_t rng = 1;
static float rnd(void) { rng = rng * 1664525u + 1013904223u; return ((float)(rng >> 8) / 16777216.0f - 0.5f) * 0.2f; }

// model.safetensors with the tensors of a one-layer Llama (dim 8, ffn 16, vocab v).
static void safetensors(buf *b, int v) {
    struct { const char *name; int rows, cols; } t[] = {
        {"model.embed_tokens.weight", v, 8}, {"model.norm.weight", 0, 8}, {"model.layers.0.input_layernorm.weight", 0, 8},
        {"model.layers.0.self_attn.q_proj.weight", 8, 8}, {"model.layers.0.self_attn.k_proj.weight", 4, 8},
        {"model.layers.0.self_attn.v_proj.weight", 4, 8}, {"model.layers.0.self_attn.o_proj.weight", 8, 8},
        {"model.layers.0.post_attention_layernorm.weight", 0, 8}, {"model.layers.0.mlp.gate_proj.weight", 16, 8},
        {"model.layers.0.mlp.up_proj.weight", 16, 8}, {"model.layers.0.mlp.down_proj.weight", 8, 16},
    };
    char head[4096];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(head + hl, sizeof head - hl, "{");
    for (unsigned i = 0; i < sizeof t / sizeof *t; i++) {
        size_t n = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols * 4;
        if (t[i].rows) hl += (size_t)snprintf(head + hl, sizeof head - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}", i ? "," : "", t[i].name, t[i].rows, t[i].cols, off, off + n);
        else hl += (size_t)snprintf(head + hl, sizeof head - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}", i ? "," : "", t[i].name, t[i].cols, off, off + n);
        off += n;
    }
    hl += (size_t)snprintf(head + hl, sizeof head - hl, "}");
    uint64_t h = hl;
    add(b, &h, 8);
    add(b, head, hl);
    for (unsigned i = 0; i < sizeof t / sizeof *t; i++)
        for (int j = 0; j < (t[i].rows ? t[i].rows : 1) * t[i].cols; j++) { float x = t[i].rows ? rnd() : 1.0f; add(b, &x, 4); }
}

static void hf_seeds(void) {
    static const char *config = "{\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":16,\"num_hidden_layers\":1,"
                                "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"vocab_size\":%d,\"rms_norm_eps\":1e-5,"
                                "\"rope_theta\":10000.0,\"max_position_embeddings\":64,\"tie_word_embeddings\":true%s}";
    char cfg[512];
    buf b = {0};
    // Byte-level BPE: the printable ASCII bytes as tokens, two merges, one added special token.
    snprintf(cfg, sizeof cfg, config, 100, ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":32}");
    addz(&b, cfg); addz(&b, FUZZ_SEP);
    addz(&b, "{\"added_tokens\":[{\"id\":99,\"content\":\"<|end|>\",\"special\":true}],\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
             "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (int c = 33; c < 127; c++) {
        char e[32];
        snprintf(e, sizeof e, "%s\"%s%c\":%d", c > 33 ? "," : "", c == '"' || c == '\\' ? "\\" : "", c, c - 33);
        addz(&b, e);
    }
    addz(&b, ",\"\\u0120\":94,\"ab\":95,\"abc\":96},\"merges\":[\"a b\",[\"ab\",\"c\"]]}}");
    addz(&b, FUZZ_SEP);
    addz(&b, "{\"bos_token\":null,\"eos_token\":\"<|end|>\",\"chat_template\":\"{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n{% endfor %}\"}");
    addz(&b, FUZZ_SEP);
    safetensors(&b, 100);
    put("hf", "bpe", b.p, b.n);
    b.n = 0;
    // SentencePiece-style: byte fallback tokens, a Metaspace pre-tokenizer.
    snprintf(cfg, sizeof cfg, config, 262, "");
    addz(&b, cfg); addz(&b, FUZZ_SEP);
    addz(&b, "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"}]},"
             "\"pre_tokenizer\":null,\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (int i = 0; i < 256; i++) { char e[32]; snprintf(e, sizeof e, ",\"<0x%02X>\":%d", i, 3 + i); addz(&b, e); }
    addz(&b, ",\"\\u2581\":259,\"\\u2581a\":260,\"b\":261},\"merges\":[\"\\u2581 a\"]}}");
    addz(&b, FUZZ_SEP);
    addz(&b, "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"add_bos_token\":true}");
    addz(&b, FUZZ_SEP);
    safetensors(&b, 262);
    put("hf", "spm", b.p, b.n);
    free(b.p);
}

// A llama2.c checkpoint (dim 8, ffn 16, 1 layer, 2 heads, 1 kv head, vocab v, seq 16), shared
// embeddings, then its tokenizer.bin.
static void llama2c_seed(const char *name, int v, const uint8_t *tok, size_t tok_len) {
    buf b = {0};
    int32_t h[7] = {8, 16, 1, 2, 1, v, 16};
    add(&b, h, sizeof h);
    // embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis real and imaginary
    size_t n = (size_t)v * 8 + 8 + 64 + 32 + 32 + 64 + 8 + 128 + 128 + 128 + 8 + 16 * 2 + 16 * 2;
    for (size_t i = 0; i < n; i++) { float x = rnd(); add(&b, &x, 4); }
    addz(&b, FUZZ_SEP);
    if (tok) add(&b, tok, tok_len);
    else {
        int32_t max = 8;
        add(&b, &max, 4);
        for (int i = 0; i < v; i++) {
            char piece[16];
            int len = i == 0 ? snprintf(piece, sizeof piece, "<unk>") : i == 1 ? snprintf(piece, sizeof piece, "\n<s>\n") : i == 2 ? snprintf(piece, sizeof piece, "\n</s>\n")
                    : i < 259 ? snprintf(piece, sizeof piece, "<0x%02X>", i - 3) : snprintf(piece, sizeof piece, " t%d", i);
            float score = -(float)i;
            add(&b, &score, 4); add(&b, &len, 4); add(&b, piece, (size_t)len);
        }
    }
    put("llama2c", name, b.p, b.n);
    free(b.p);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: make_seeds DATA_DIR SEED_DIR TOK512_BIN\n"); return 2; }
    snprintf(seed_dir, sizeof seed_dir, "%s", argv[2]);
    char p[1024];
    gguf_llama c = gguf_llama_default();
    snprintf(p, sizeof p, "%s/tiny.gguf", argv[1]);
    gguf_llama_write(p, &c);
    snprintf(p, sizeof p, "%s/gguf", argv[2]);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/gguf/tiny.gguf", argv[2]);
    gguf_llama_write(p, &c);
    c.n_merges = 0; c.alignment = 64;
    snprintf(p, sizeof p, "%s/gguf/tiny-nomerges.gguf", argv[2]);
    gguf_llama_write(p, &c);
    hf_seeds();
    llama2c_seed("tiny", 300, NULL, 0);
    FILE *fp = fopen(argv[3], "rb");
    if (fp) {
        static uint8_t tok[1 << 16];
        size_t n = fread(tok, 1, sizeof tok, fp);
        fclose(fp);
        llama2c_seed("tok512", 512, tok, n);
    }
    puts_seed("http", "health", "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\n\r\n");
    puts_seed("http", "chat", "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 118\r\n\r\n"
                              "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":3}");
    puts_seed("http", "stream", "POST /v1/completions HTTP/1.1\r\nContent-Length: 97\r\n\r\n"
                                "{\"prompt\":\"Once upon\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"stop\":[\"x\"],\"seed\":3}");
    puts_seed("http", "parts", "POST /chat/completions HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 131\r\n\r\n"
                               "{\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"a\\u00e9\"}]},{\"role\":\"user\",\"content\":\"<|im_start|>\"}],\"n\":1}");
    puts_seed("http", "bad", "POST /v1/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nGET /nope?x=1 HTTP/1.1\r\n\r\n");
    puts_seed("json", "request", "{\"model\":null,\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00\"}],\"temperature\":0.5,\"top_k\":-1,\"stop\":[\"\\n\"],\"x\":[true,false,1e-7,-0.0,12345678901234567890]}");
    puts_seed("json", "config", "{\"model_type\":\"llama\",\"rope_scaling\":{\"factor\":8.0},\"architectures\":[\"LlamaForCausalLM\"],\"torch_dtype\":\"bfloat16\"}");
    puts_seed("json", "escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\",{},[],\"\",0]");
    puts_seed("chat_load", "conv", "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi <|im_end|>\"},{\"role\":\"assistant\",\"content\":\"Hello!\"}]}");
    puts_seed("chat_load", "late-system", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"system\",\"content\":\"x\"}]}");
    return 0;
}
