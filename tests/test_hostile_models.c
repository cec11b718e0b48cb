// Hostile numbers in a model description (issue 35's audit): in a Hugging Face config.json and in
// an .octet file's metadata. Each ends in one clean "octet: ..." line and exit 1, or, where the
// value cannot change the math (a sliding window at or beyond the context), in a model whose
// logits equal the unmutated one's bit for bit. Needs only tests/fixtures/arch.
#include "check.h"
#include "octet.h"
#include "octet_file.h"
#include "util.h"
#include <stdint.h>
#include <unistd.h>

#define D "tests/out/hostile"
#define N_TOK 48
#define N_CTX 64

// Copies fixture `name` to D/label with the first `from` in config.json replaced by `to`.
static const char *variant(const char *name, const char *label, const char *from, const char *to) {
    static char dir[256];
    snprintf(dir, sizeof dir, D "/%s", label);
    run_cmd(NULL, "rm -rf %s && mkdir -p " D " && cp -r tests/fixtures/arch/%s %s", dir, name, dir);
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t n;
    char *s = octet_read_file(path, &n), *at = s ? strstr(s, from) : NULL;
    CHECK(at != NULL, "%s: config.json has no '%s'", name, from);
    if (at) {
        FILE *fp = fopen(path, "wb");
        fwrite(s, 1, (size_t)(at - s), fp);
        fputs(to, fp);
        fputs(at + strlen(from), fp);
        fclose(fp);
    }
    free(s);
    return dir;
}

static int convert(const char *dir, const char *out, const char *opts, char **log) {
    return run_cmd(log, "./octet convert %s -o %s %s --quiet 2>&1", dir, out, opts);
}

// All N_TOK positions' logits, evaluated in chunks of 7 over a context of N_CTX; NULL on failure.
static float *logits_of(const char *path) {
    octet_model *m = octet_load(path);
    CHECK(m != NULL, "%s: %s", path, octet_last_error());
    if (!m) return NULL;
    int vocab = octet_vocab_size(m);
    int32_t ids[N_TOK];
    for (int i = 0; i < N_TOK; i++) ids[i] = (int32_t)((i * 37 + 5) % vocab);
    octet_session_params sp = {N_CTX, 7, 2, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    octet_session *s = octet_session_new(m, &sp);
    float *l = malloc((size_t)N_TOK * vocab * sizeof *l);
    int ok = s && l && octet_eval(s, ids, N_TOK, l, 1) == 0;
    CHECK(ok, "%s: eval: %s", path, octet_last_error());
    octet_session_free(s);
    octet_free(m);
    if (!ok) { free(l); return NULL; }
    return l;
}

static int same_logits(const char *a, const char *b) {
    float *x = logits_of(a), *y = logits_of(b);
    octet_model *m = octet_load(a);
    int same = x && y && m && !memcmp(x, y, (size_t)N_TOK * octet_vocab_size(m) * sizeof *x);
    octet_free(m);
    free(x); free(y);
    return same;
}

static void expect_refused(const char *label, int rc, const char *out, const char *mention) {
    int lines = 0;
    for (const char *p = out; p && *p; p++) lines += *p == '\n';
    CHECK(rc == 1 && out && !strncmp(out, "octet: ", 7) && lines == 1 && strstr(out, mention),
          "%s: want exit 1 and one 'octet: ...' line naming '%s'; got exit %d: %s", label, mention, rc, out ? out : "");
}

// A sliding window of 2^31 and more (the audit's segfault, then its +418% perplexity) converts,
// with and without the calibration pass, and gives the logits of a window as wide as the
// context; so does Phi-3 with no window at all.
static void huge_sliding_window_is_no_window(void) {
    static const char *const names[] = {"phi3", "gemma3"};
    static const char *const huge[] = {"2147483648", "3000000000", "4294967295"};
    for (int f = 0; f < 2; f++) {
        char base[128], out[128], label[64];
        snprintf(base, sizeof base, D "/%s-w128.octet", names[f]);
        char *log = NULL;
        int rc = convert(variant(names[f], "w128", "\"sliding_window\": 16", "\"sliding_window\": 128"), base, "--type f32 --calib none", &log);
        CHECK(rc == 0, "%s: window 128: %s", names[f], log ? log : "");
        free(log);
        for (int h = 0; h < 3; h++) {
            snprintf(label, sizeof label, "w%s", huge[h]);
            char to[64];
            snprintf(to, sizeof to, "\"sliding_window\": %s", huge[h]);
            snprintf(out, sizeof out, D "/%s-%s.octet", names[f], label);
            rc = convert(variant(names[f], label, "\"sliding_window\": 16", to), out, "--type f32 --calib none", &log);
            CHECK(rc == 0, "%s: window %s: exit %d: %s", names[f], huge[h], rc, log ? log : "");
            free(log);
            CHECK(rc == 0 && same_logits(base, out), "%s: window %s changes the logits of a window as wide as the context", names[f], huge[h]);
        }
        // The calibration forward pass (where convert crashed): the default conversion.
        char def_base[128], def_huge[128];
        snprintf(def_base, sizeof def_base, D "/%s-w128-default.octet", names[f]);
        snprintf(def_huge, sizeof def_huge, D "/%s-whuge-default.octet", names[f]);
        rc = convert(D "/w128", def_base, "", &log);
        CHECK(rc == 0, "%s: default conversion, window 128: %s", names[f], log ? log : "");
        free(log);
        rc = convert(variant(names[f], "whuge", "\"sliding_window\": 16", "\"sliding_window\": 2147483648"), def_huge, "", &log);
        CHECK(rc == 0, "%s: default conversion, window 2^31: exit %d: %s", names[f], rc, log ? log : "");
        free(log);
        CHECK(rc == 0 && same_logits(def_base, def_huge), "%s: calibrated files differ between windows 128 and 2^31", names[f]);
    }
    char *log = NULL;
    int rc = convert(variant("phi3", "wnull", "\"sliding_window\": 16", "\"sliding_window\": null"), D "/phi3-wnull.octet", "--type f32 --calib none", &log);
    CHECK(rc == 0 && same_logits(D "/phi3-w128.octet", D "/phi3-wnull.octet"), "phi3: no window differs from a window of 128: %s", log ? log : "");
    free(log);
    rc = convert(variant("phi3", "w2p32", "\"sliding_window\": 16", "\"sliding_window\": 4294967296"), D "/phi3-w2p32.octet", "--type f32 --calib none", &log);
    expect_refused("window 2^32 (past u32)", rc, log, "sliding_window");
    free(log);
    CHECK(!file_exists(D "/phi3-w2p32.octet"), "a refused conversion left its file");
}

// Offset of the value of metadata key `key` (stored with type `type`) in an .octet file's bytes.
static size_t kv_value_at(const uint8_t *b, size_t n, const char *key, uint32_t type) {
    uint32_t kl = (uint32_t)strlen(key);
    for (size_t i = 0; i + 8 + kl <= n; i++) {
        uint32_t l, t;
        memcpy(&l, b + i, 4);
        if (l != kl || memcmp(b + i + 4, key, kl)) continue;
        memcpy(&t, b + i + 4 + kl, 4);
        if (t == type) return i + 8 + kl;
    }
    return 0;
}

// Writes src to dst with `len` bytes at key's value replaced (type_to: the stored type, when it
// is to change as well). The checksum is recomputed by neither side: loading does not verify it.
static int patch_kv(const char *src, const char *dst, const char *key, uint32_t type, const void *val, size_t len, int type_to) {
    size_t n;
    uint8_t *b = (uint8_t *)octet_read_file(src, &n);
    size_t at = b ? kv_value_at(b, n, key, type) : 0;
    CHECK(at != 0, "%s has no %s", src, key);
    if (at) {
        memcpy(b + at, val, len);
        if (type_to >= 0) { uint32_t t = (uint32_t)type_to; memcpy(b + at - 4, &t, 4); }
        FILE *fp = fopen(dst, "wb");
        fwrite(b, 1, n, fp);
        fclose(fp);
    }
    free(b);
    return at ? 0 : -1;
}

// Fixture `name` converted to f32 at out (returned).
static const char *f32_fixture(const char *name, const char *out) {
    char dir[128], *log = NULL;
    snprintf(dir, sizeof dir, "tests/fixtures/arch/%s", name);
    run_cmd(NULL, "mkdir -p " D);
    CHECK(convert(dir, out, "--type f32 --calib none", &log) == 0, "%s: %s", name, log ? log : "");
    free(log);
    return out;
}

// The audit's .octet file: model.sliding_window = 0x80000000 made `octet run` segfault.
static void hostile_window_in_octet_file(void) {
    const char *src = f32_fixture("phi3", D "/phi3-file.octet");
    uint32_t ctx = N_CTX;
    patch_kv(src, D "/phi3-file-wctx.octet", "model.sliding_window", OCTET_KV_U32, &ctx, 4, -1);
    char *want = NULL;
    int rc = run_cmd(&want, "./octet run -m " D "/phi3-file-wctx.octet -p 'hello world' -n 8 -c %d --temp 0 2>/dev/null", N_CTX);
    CHECK(rc == 0, "run with a window of the context: exit %d", rc);
    static const uint32_t huge[] = {0x80000000u, 3000000000u, 0xffffffffu};
    for (int h = 0; h < 3; h++) {
        const char *p = D "/phi3-file-whuge.octet";
        if (patch_kv(src, p, "model.sliding_window", OCTET_KV_U32, &huge[h], 4, -1)) continue;
        char *got = NULL;
        rc = run_cmd(&got, "./octet run -m %s -p 'hello world' -n 8 -c %d --temp 0 2>/dev/null", p, N_CTX);
        CHECK(rc == 0 && want && got && !strcmp(want, got), "window %u: exit %d, text '%s' (a window of the context: '%s')", huge[h], rc, got ? got : "", want ? want : "");
        CHECK(same_logits(D "/phi3-file-wctx.octet", p), "window %u: logits differ from a window of the context", huge[h]);
        free(got);
    }
    free(want);
}

// Numbers the loader must refuse by name before any of them reaches a product or a cast.
static void hostile_numbers_in_octet_file(void) {
    const char *src = f32_fixture("gemma3", D "/gemma3-file.octet");
    static const struct { const char *key; uint32_t type; uint32_t u; float f; int type_to; const char *mention; } cases[] = {
        {"model.n_heads", OCTET_KV_U32, 0xffffffffu, 0, -1, "model.n_heads"},
        {"model.n_kv_heads", OCTET_KV_U32, 0, 0, -1, "model.n_kv_heads"},
        {"model.head_dim", OCTET_KV_U32, 65536, 0, -1, "attn_q.weight"},          // q 4 x 65536: no tensor of that shape
        {"model.head_dim", OCTET_KV_U32, 0x80000000u, 0, -1, "model.head_dim"},
        {"model.head_dim", OCTET_KV_U32, 31, 0, -1, "odd"},
        {"model.context_length", OCTET_KV_U32, 0x80000000u, 0, -1, "model.context_length"},
        {"model.n_layers", OCTET_KV_U32, 0xffffffffu, 0, -1, "model.n_layers"},
        {"model.dim", OCTET_KV_U32, 0, 0, OCTET_KV_F32, "model.dim must be a u32"},
        {"model.rope_theta", OCTET_KV_F32, 0, 0.5f, -1, "model.rope_theta"},
        {"model.rope_theta_swa", OCTET_KV_F32, 0, -1.0f, -1, "model.rope_theta_swa"},
        {"model.attn_scale", OCTET_KV_F32, 0, 1e6f, -1, "model.attn_scale"},
        {"model.embed_scale", OCTET_KV_F32, 0, -8.0f, -1, "model.embed_scale"},
        {"model.norm_eps", OCTET_KV_F32, 0, 1.0f, -1, "model.norm_eps"},
        {"model.rope_scaling_factor", OCTET_KV_F32, 0, -2.0f, -1, "model.rope_scaling_factor"},
        {"model.rope_dim", OCTET_KV_U32, 34, 0, -1, "model.rope_dim"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p = D "/gemma3-patched.octet";
        uint32_t v = cases[i].u;
        if (cases[i].type == OCTET_KV_F32) memcpy(&v, &cases[i].f, 4);
        if (patch_kv(src, p, cases[i].key, cases[i].type, &v, 4, cases[i].type_to)) continue;
        char *out = NULL, label[96];
        int rc = run_cmd(&out, "./octet run -m %s -p hi -n 2 -c 32 2>&1 >/dev/null", p);
        snprintf(label, sizeof label, "%s patched", cases[i].key);
        expect_refused(label, rc, out, cases[i].mention);
        free(out);
    }
    // model.sliding_layers holds 0 or 1 per layer.
    size_t n;
    uint8_t *b = (uint8_t *)octet_read_file(src, &n);
    size_t at = b ? kv_value_at(b, n, "model.sliding_layers", OCTET_KV_ARR) : 0;
    CHECK(at != 0, "gemma3 file has model.sliding_layers");
    if (at) {
        uint32_t two = 2;
        memcpy(b + at + 4 + 8, &two, 4);   // (after the element type and the count)
        FILE *fp = fopen(D "/gemma3-patched.octet", "wb");
        fwrite(b, 1, n, fp);
        fclose(fp);
        char *out = NULL;
        int rc = run_cmd(&out, "./octet run -m " D "/gemma3-patched.octet -p hi -n 2 -c 32 2>&1 >/dev/null");
        expect_refused("sliding_layers[0] = 2", rc, out, "model.sliding_layers[0]");
        free(out);
    }
    free(b);
}

// partial_rotary_factor: refused out of range before any product with it (the audit's UB), and
// read from the same place for the rotary dimension and LongRoPE's factor count.
static void partial_rotary_factor(void) {
    static const char *const bad[] = {"-1", "0", "1.5", "1e-300"};
    for (int i = 0; i < 4; i++) {
        char to[64], *log = NULL;
        snprintf(to, sizeof to, "\"partial_rotary_factor\": %s", bad[i]);
        int rc = convert(variant("phi3", "prf", "\"partial_rotary_factor\": 0.5", to), D "/prf.octet", "--type f32 --calib none", &log);
        char label[64];
        snprintf(label, sizeof label, "phi3 partial_rotary_factor %s", bad[i]);
        expect_refused(label, rc, log, "partial_rotary_factor");
        free(log);
        CHECK(!file_exists(D "/prf.octet"), "%s: a refused conversion left its file", label);
    }
    // Gemma 3's per-layer-type parameters: the full-attention factor sets the rotary dimension.
    char *log = NULL;
    int rc = convert(variant("gemma3", "prf-full", "\"rope_type\": \"linear\"", "\"rope_type\": \"linear\", \"partial_rotary_factor\": 0.5"), D "/prf-full.octet",
                     "--type f32 --calib none", &log);
    CHECK(rc == 0, "gemma3 with full_attention.partial_rotary_factor: %s", log ? log : "");
    free(log);
    octet_file f;
    if (rc == 0 && octet_file_open(&f, D "/prf-full.octet") == 0) {
        CHECK(octet_kv_u32(&f, "model.rope_dim", 0) == 16, "rope_dim %u, want 16 (head_dim 32 x 0.5)", octet_kv_u32(&f, "model.rope_dim", 0));
        octet_file_close(&f);
    }
}

// What the converter accepts, the loader loads: a soft-cap of 1e6 was written and then refused.
static void converter_and_loader_agree(void) {
    static const struct { const char *from, *to, *mention; } cases[] = {
        {"\"attn_logit_softcapping\": 5.0", "\"attn_logit_softcapping\": 1e6", "model.attn_softcap"},
        {"\"final_logit_softcapping\": 10.0", "\"final_logit_softcapping\": 1000000", "model.final_softcap"},
    };
    for (int i = 0; i < 2; i++) {
        char *log = NULL;
        unlink(D "/cap.octet");
        int rc = convert(variant("gemma2", "cap", cases[i].from, cases[i].to), D "/cap.octet", "--type f32 --calib none", &log);
        expect_refused(cases[i].to, rc, log, cases[i].mention);
        free(log);
        CHECK(!file_exists(D "/cap.octet"), "%s: a refused conversion left its file", cases[i].to);
    }
    char *log = NULL;
    int rc = convert(variant("gemma2", "cap", "\"attn_logit_softcapping\": 5.0", "\"attn_logit_softcapping\": 999999"), D "/cap.octet", "--type f32 --calib none", &log);
    CHECK(rc == 0, "a soft-cap of 999999: %s", log ? log : "");
    free(log);
    float *l = rc == 0 ? logits_of(D "/cap.octet") : NULL;
    CHECK(rc != 0 || l, "the converted file loads and runs");
    free(l);
    // Heads whose product with head_dim passes 32 bits, and more kv heads than heads.
    rc = convert(variant("qwen3", "wide", "\"head_dim\": 32", "\"head_dim\": 65536"), D "/wide.octet", "--type f32 --calib none", &log);
    CHECK(rc == 1 && log && !strncmp(log, "octet: ", 7), "head_dim 65536: exit %d: %s", rc, log ? log : "");
    free(log);
    rc = convert(variant("qwen3", "kvh", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3000000000"), D "/kvh.octet", "--type f32 --calib none", &log);
    expect_refused("num_key_value_heads 3e9", rc, log, "num_key_value_heads");
    free(log);
}

int main(void) {
    RUN(huge_sliding_window_is_no_window);
    RUN(hostile_window_in_octet_file);
    RUN(hostile_numbers_in_octet_file);
    RUN(partial_rotary_factor);
    RUN(converter_and_loader_agree);
    CHECK_DONE();
}
