// Model families against transformers: tiny random-weight checkpoints of each family
// (tests/fixtures/arch, made by tools/ref/make_arch_fixtures.py) convert from their Hugging Face
// directories and give transformers' logits at every position of an 80-token sequence: f32
// within 1e-4 x max|logit|, q8 with >= 95% top-1 agreement. Config keys octet does not
// implement are refused by name.
#include "check.h"
#include "ref_fixture.h"
#include "json.h"
#include "octet.h"
#include "util.h"
#include <math.h>

#define N_TOK 80
static const char *FAMILIES[] = {"llama-old", "llama-rope-parameters", "mistral-sliding", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"};

typedef struct { float max_rel, agree; int ok; } result;

// Converts fixture `name` (or src, another form of the same weights) to `type`, evaluates the
// ids in one pass and compares every position with transformers' logits.
static result family_from(const char *name, const char *src, const char *type, int batch) {
    result r = {0, 0, 0};
    char dir[256], out[256], path[300];
    snprintf(dir, sizeof dir, "tests/fixtures/arch/%s", name);
    snprintf(out, sizeof out, "tests/out/arch-%s%s.%s.octet", name, src ? "-src" : "", type);
    char *log = NULL;
    if (run_cmd(&log, "./octet convert %s -o %s --type %s --calib none --quiet", src ? src : dir, out, type) != 0) {
        CHECK(0, "%s: convert failed: %s", name, log ? log : "");
        free(log);
        return r;
    }
    free(log);
    snprintf(path, sizeof path, "%s/ids.json", dir);
    size_t n;
    char *text = octet_read_file(path, &n), err[160];
    json *ids_j = text ? json_parse(text, n, err, sizeof err) : NULL;
    free(text);
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    size_t lb;
    float *want = (float *)octet_read_file(path, &lb);
    octet_model *m = octet_load(out);
    CHECK(m && ids_j && want && ids_j->len == N_TOK, "%s: load: %s", name, octet_last_error());
    if (!m || !ids_j || !want || ids_j->len != N_TOK) { octet_free(m); json_free(ids_j); free(want); return r; }
    int vocab = octet_vocab_size(m);
    CHECK(lb == (size_t)N_TOK * vocab * 4, "%s: logits.f32 holds %zu bytes for a vocabulary of %d", name, lb, vocab);
    int32_t ids[N_TOK];
    for (int i = 0; i < N_TOK; i++) ids[i] = (int32_t)ids_j->items[i]->num;
    octet_session_params sp = {128, batch, 2, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    octet_session *s = octet_session_new(m, &sp);
    float *got = malloc((size_t)N_TOK * vocab * sizeof *got);
    CHECK(s && got && octet_eval(s, ids, N_TOK, got, 1) == 0, "%s: eval: %s", name, octet_last_error());
    if (s && got && lb == (size_t)N_TOK * vocab * 4) {
        int agree = 0;
        for (int t = 0; t < N_TOK; t++) {
            const float *g = got + (size_t)t * vocab, *w = want + (size_t)t * vocab;
            float mx = 0, diff = 0;
            int ag = 0, aw = 0;
            for (int i = 0; i < vocab; i++) {
                mx = fmaxf(mx, fabsf(w[i]));
                diff = fmaxf(diff, fabsf(g[i] - w[i]));
                if (g[i] > g[ag]) ag = i;
                if (w[i] > w[aw]) aw = i;
            }
            r.max_rel = fmaxf(r.max_rel, diff / mx);
            agree += ag == aw;
        }
        r.agree = (float)agree / N_TOK;
        r.ok = 1;
    }
    free(got);
    octet_session_free(s);
    octet_free(m);
    json_free(ids_j);
    free(want);
    return r;
}

static result family(const char *name, const char *type, int batch) { return family_from(name, NULL, type, batch); }

static void f32_logits_match_transformers(void) {
    for (unsigned i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++) {
        // One batch of all 80 tokens, then chunks of 7 (sliding windows and RoPE across chunks).
        result a = family(FAMILIES[i], "f32", 128), b = family(FAMILIES[i], "f32", 7);
        printf("  %-22s f32: max |diff| / max|logit| %.2e (chunks of 7: %.2e), top-1 %.0f%%\n", FAMILIES[i], a.max_rel, b.max_rel, 100 * a.agree);
        CHECK(a.ok && a.max_rel <= 1e-4f, "%s: f32 logits differ from transformers by %.2e of max|logit|", FAMILIES[i], a.max_rel);
        // Not for LongRoPE (phi3): transformers picks its long factors for a call whose sequence
        // passes the original context (32), so the 80 tokens at once use them throughout, while
        // chunks of 7 start with the short ones, as transformers does when fed step by step.
        if (strcmp(FAMILIES[i], "phi3")) CHECK(b.ok && b.max_rel <= 1e-4f, "%s: f32 logits in chunks of 7 differ by %.2e", FAMILIES[i], b.max_rel);
    }
}

// The same checkpoints as GGUF files laid out as llama.cpp writes them
// (tools/ref/make_arch_gguf_fixtures.py): Phi-3's fused attn_qkv and gate+up ffn_up and LongRoPE
// factor tensors, Qwen3's key_length and q/k norms. The same logits.
static void gguf_families_match_transformers(void) {
    static const char *names[] = {"phi3", "qwen3"};
    for (int i = 0; i < 2; i++) {
        char src[128];
        snprintf(src, sizeof src, "tests/fixtures/arch/%s.gguf", names[i]);
        result a = family_from(names[i], src, "f32", 128), q = family_from(names[i], src, "q8", 128);
        printf("  %-5s from GGUF: f32 max |diff| / max|logit| %.2e, top-1 %.0f%%; q8 top-1 %.1f%%\n", names[i], a.max_rel, 100 * a.agree, 100 * q.agree);
        CHECK(a.ok && a.max_rel <= 1e-4f, "%s GGUF: f32 logits differ by %.2e of max|logit|", names[i], a.max_rel);
        CHECK(q.ok && q.agree >= 0.95f, "%s GGUF: q8 top-1 agreement %.1f%%", names[i], 100 * q.agree);
    }
}

static void q8_agrees_with_transformers(void) {
    for (unsigned i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++) {
        result a = family(FAMILIES[i], "q8", 128);
        printf("  %-22s q8: top-1 agreement %.1f%%, max |diff| / max|logit| %.3f\n", FAMILIES[i], 100 * a.agree, a.max_rel);
        CHECK(a.ok && a.agree >= 0.95f, "%s: q8 top-1 agreement %.1f%% (want >= 95%%)", FAMILIES[i], 100 * a.agree);
    }
}

// A config key whose value changes the math and that octet does not implement is refused by
// name; converting such a directory must leave nothing behind.
static void unimplemented_config_is_refused(void) {
    static const struct { const char *from, *to, *mention; } cases[] = {
        {"\"rope_type\": \"llama3\"", "\"rope_type\": \"dynamic\"", "dynamic"},
        {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\"", "relu"},
        {"\"rope_type\": \"llama3\"", "\"rope_type\": \"llama4\"", "llama4"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        run_cmd(NULL, "rm -rf tests/out/arch-bad && cp -r tests/fixtures/arch/llama-rope-parameters tests/out/arch-bad && "
                      "sed -i 's/%s/%s/' tests/out/arch-bad/config.json", cases[i].from, cases[i].to);
        int rc = run_cmd(&out, "./octet convert tests/out/arch-bad -o tests/out/arch-bad.octet 2>&1");
        CHECK(rc == 1 && out && strstr(out, cases[i].mention) && !file_exists("tests/out/arch-bad.octet"), "%s: exit %d: %s", cases[i].to, rc, out ? out : "");
        free(out);
    }
    char *out = NULL;
    run_cmd(NULL, "rm -rf tests/out/arch-bad && cp -r tests/fixtures/arch/gemma3 tests/out/arch-bad && "
                  "sed -i 's/\"full_attention\",/\"chunked_attention\",/' tests/out/arch-bad/config.json");
    int rc = run_cmd(&out, "./octet convert tests/out/arch-bad -o tests/out/arch-bad.octet 2>&1");
    CHECK(rc == 1 && out && strstr(out, "chunked_attention"), "unknown layer type: exit %d: %s", rc, out ? out : "");
    free(out);
    // A .octet file naming a RoPE scaling octet lacks is refused at load, not run unscaled.
    run_cmd(NULL, "./octet convert tests/fixtures/arch/llama-rope-parameters -o tests/out/arch-rope.octet --type f32 --quiet --calib none");
    size_t n;
    char *b = octet_read_file("tests/out/arch-rope.octet", &n);
    char *at = NULL;
    for (size_t i = 0; b && i + 6 < n && !at; i++)
        if (!memcmp(b + i, "llama3", 6)) at = b + i;
    CHECK(at != NULL, "the file names its llama3 scaling");
    if (at) {
        memcpy(at, "llamaX", 6);
        FILE *fp = fopen("tests/out/arch-rope.octet", "wb");
        fwrite(b, 1, n, fp);
        fclose(fp);
        rc = run_cmd(&out, "./octet run -m tests/out/arch-rope.octet -p hi -n 1 2>&1");
        CHECK(rc == 1 && out && strstr(out, "llamaX"), "unknown scaling in a file: exit %d: %s", rc, out ? out : "");
        free(out);
    }
    free(b);
}

static uint32_t header_version(const char *path) {
    uint8_t h[12] = {0};
    uint32_t v = 0;
    FILE *fp = fopen(path, "rb");
    if (fp && fread(h, 1, 12, fp) == 12) memcpy(&v, h + 8, 4);
    if (fp) fclose(fp);
    return v;
}

// Files whose math a version-1 reader would skip in silence are version 2; Llama-shaped ones
// stay version 1 so older builds still read them. A later version is refused.
static void file_version_marks_new_math(void) {
    static const struct { const char *name; uint32_t version; } want[] = {
        {"llama-old", 1}, {"llama-rope-parameters", 1}, {"qwen2", 1}, {"mistral-sliding", 2}, {"qwen3", 2}, {"gemma2", 2}, {"gemma3", 2}, {"phi3", 2}};
    for (unsigned i = 0; i < sizeof want / sizeof *want; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/out/arch-%s.f32.octet", want[i].name);
        uint32_t v = header_version(path);
        CHECK(v == want[i].version, "%s: version %u, want %u", want[i].name, v, want[i].version);
    }
    char *out = NULL;
    run_cmd(NULL, "cp tests/out/arch-gemma3.f32.octet tests/out/arch-v3.octet && printf '\\003' | dd of=tests/out/arch-v3.octet bs=1 seek=8 conv=notrunc 2>/dev/null");
    CHECK(header_version("tests/out/arch-v3.octet") == 3, "could not write a version-3 header");
    int rc = run_cmd(&out, "./octet info -m tests/out/arch-v3.octet 2>&1");
    CHECK(rc == 1 && out && strstr(out, "unsupported .octet version 3"), "a version-3 file: exit %d: %s", rc, out ? out : "");
    free(out);
}

#define GEMMA_REF "tests/fixtures/gemma3-ref.json"
#define GEMMA_F32 "models/gemma-3-270m.f32.octet"
#define GEMMA_Q8 "models/gemma-3-270m.q8.octet"
#define GEMMA_G32 "models/gemma-3-270m.q8g32.octet"
static float *gemma_top1;
static int gemma_positions;

// The real Gemma 3 270M from its GGUF against transformers reading the same file.
static void gemma3_270m_f32_matches_transformers(void) {
    if (!file_exists(GEMMA_F32)) SKIP("run make models-gemma");
    fixture fx;
    CHECK(load_fixture(&fx, GEMMA_REF) == 0, "cannot read " GEMMA_REF);
    octet_model *m = octet_load(GEMMA_F32);
    CHECK(m != NULL, "%s", octet_last_error());
    if (m && fx.cases) {
        gemma_top1 = malloc(4096 * sizeof *gemma_top1);
        int agree = 0, pos = 0, g16 = 0;
        for (size_t i = 0; i < fx.cases->len; i++) ref_case(m, fx.cases->items[i], 1, 32, &agree, &pos, &g16, &gemma_top1);
        gemma_positions = pos;
        printf("  f32: top-1 equals transformers' at %d of %d positions\n", agree, pos);
    }
    octet_free(m);
    json_free(fx.root);
}

// Top-1 agreement of a quantized Gemma 3 file with the f32 one over the fixture's positions.
static double gemma3_agreement(const char *path) {
    fixture fx;
    CHECK(load_fixture(&fx, GEMMA_REF) == 0, "fixture");
    octet_model *m = octet_load(path);
    CHECK(m != NULL, "%s", octet_last_error());
    int agree = 0, pos = 0, g16 = 0;
    for (size_t i = 0; m && fx.cases && i < fx.cases->len; i++) ref_case(m, fx.cases->items[i], 0, 32, &agree, &pos, &g16, &gemma_top1);
    octet_free(m);
    json_free(fx.root);
    return pos ? (double)agree / pos : 0;
}

// q8g32 with calibration (the default recipe for that type) >= 95%. Per-row q8 measured 94.7%
// here and 94.7% on WikiText-2 (its tied 262k-row LM head is the most sensitive tensor, KL
// 0.0039 alone): better per-row rounding is issue 23's; this guards against it getting worse.
static void gemma3_270m_int8_agrees(void) {
    if (!file_exists(GEMMA_Q8) || !file_exists(GEMMA_G32) || !gemma_top1) SKIP("needs the f32 results");
    double q8 = gemma3_agreement(GEMMA_Q8), g32 = gemma3_agreement(GEMMA_G32);
    printf("  top-1 agreement with f32: q8 %.1f%%, q8g32 + calibration %.1f%%\n", 100 * q8, 100 * g32);
    CHECK(g32 >= 0.95, "q8g32 top-1 agreement %.1f%% < 95%%", 100 * g32);
    CHECK(q8 >= 0.93, "q8 top-1 agreement %.1f%% < 93%%", 100 * q8);
    free(gemma_top1);
    gemma_top1 = NULL;
}

int main(void) {
    RUN(f32_logits_match_transformers);
    RUN(q8_agrees_with_transformers);
    RUN(gguf_families_match_transformers);
    RUN(unimplemented_config_is_refused);
    RUN(file_version_marks_new_math);
    RUN(gemma3_270m_f32_matches_transformers);
    RUN(gemma3_270m_int8_agrees);
    CHECK_DONE();
}
