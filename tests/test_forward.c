// The forward pass against its oracles: Hugging Face transformers on SmolLM2 (fixture made by
// tools/ref/make_fixtures.py), and the reference greedy tokens and logits of stories260K
// (../shared/models/SOURCES.md). Also octet run: the Paris answer, thread-count and seed
// determinism, bad flags.
#include "check.h"
#include "ref_fixture.h"
#include "json.h"
#include "kernels.h"
#include "octet.h"
#include "util.h"
#include <math.h>

#define SMOL_F32 "models/smollm2-135m-instruct.f32.octet"
#define SMOL_Q8 "models/smollm2-135m-instruct.q8.octet"
#define SMOL_REF "tests/fixtures/smollm2-ref.json"
#define STORIES_F32 "tests/out/fwd-stories260K.f32.octet"
#define STORIES_Q8 "tests/out/fwd-stories260K.q8.octet"

static const int STORIES_GREEDY[48] = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292,
                                       411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267};

static void convert_stories(void) {
    if (!file_exists(STORIES_F32))
        run_cmd(NULL, "./octet convert %s --tokenizer %s -o %s --type f32 --quiet", shared_path("models/stories260K/stories260K.bin"), shared_path("models/stories260K/tok512.bin"), STORIES_F32);
    if (!file_exists(STORIES_Q8))
        run_cmd(NULL, "./octet convert %s --tokenizer %s -o %s --quiet", shared_path("models/stories260K/stories260K.bin"), shared_path("models/stories260K/tok512.bin"), STORIES_Q8);
}

static void stories260k_matches_reference(void) {
    SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin");
    convert_stories();
    octet_model *m = octet_load(STORIES_F32);
    CHECK(m != NULL, "%s", octet_last_error());
    if (!m) return;
    octet_session *s = session(m, 512, 2);
    float logits[512];
    int32_t bos = 1, out[48];
    CHECK(octet_eval(s, &bos, 1, logits, 0) == 0, "%s", octet_last_error());
    const int top[5] = {403, 385, 410, 317, 407};
    const float val[5] = {17.0235f, 15.4062f, 13.1083f, 12.7692f, 12.4181f};
    for (int i = 0; i < 5; i++) CHECK(fabsf(logits[top[i]] - val[i]) < 2e-3f, "logit of %d: %f, reference %f", top[i], logits[top[i]], val[i]);
    octet_session_reset(s);
    int n = greedy(m, s, &bos, 1, 48, out);
    int same = 0;
    while (same < n && out[same] == STORIES_GREEDY[same]) same++;
    CHECK(n == 48 && same == 48, "greedy tokens: first %d of 48 match", same);
    octet_session_free(s);
    octet_free(m);
    // INT8: report how far the greedy text stays identical.
    m = octet_load(STORIES_Q8);
    CHECK(m != NULL, "%s", octet_last_error());
    if (!m) return;
    s = session(m, 512, 2);
    n = greedy(m, s, &bos, 1, 48, out);
    same = 0;
    while (same < n && out[same] == STORIES_GREEDY[same]) same++;
    printf("  stories260K q8: first %d of 48 greedy tokens equal the f32 reference\n", same);
    CHECK(same >= 8, "q8 greedy diverges after %d tokens", same);
    octet_session_free(s);
    octet_free(m);
}

static float *f32_top1;
static int n_positions;

static void smollm2_f32_matches_transformers(void) {
    if (!file_exists(SMOL_F32)) SKIP("run make models");
    fixture fx;
    CHECK(load_fixture(&fx, SMOL_REF) == 0, "cannot read " SMOL_REF);
    octet_model *m = octet_load(SMOL_F32);
    CHECK(m != NULL, "%s", octet_last_error());
    if (m && fx.cases) {
        f32_top1 = malloc(4096 * sizeof *f32_top1);
        int agree = 0, pos = 0, g16 = 0;
        for (size_t i = 0; i < fx.cases->len; i++) ref_case(m, fx.cases->items[i], 1, 64, &agree, &pos, &g16, &f32_top1);
        n_positions = pos;
        printf("  f32: top-1 equals transformers' at %d of %d positions\n", agree, pos);
        CHECK(fx.cases->len >= 8, "at least 8 prompts");
    }
    octet_free(m);
    json_free(fx.root);
}

static void smollm2_int8_close_to_f32(void) {
    if (!file_exists(SMOL_Q8) || !f32_top1) SKIP("needs the f32 results");
    const char *e = getenv("OCTET_TEST_ACT");  // measure the other modes: int8-row, f32
    act_mode = e && octet_act_mode(e) >= 0 ? octet_act_mode(e) : OCTET_ACT_INT8;
    fixture fx;
    CHECK(load_fixture(&fx, SMOL_REF) == 0, "fixture");
    octet_model *m = octet_load(SMOL_Q8);
    CHECK(m != NULL, "%s", octet_last_error());
    if (m && fx.cases) {
        int agree = 0, pos = 0, g16 = 0;
        for (size_t i = 0; i < fx.cases->len; i++) ref_case(m, fx.cases->items[i], 0, 64, &agree, &pos, &g16, &f32_top1);
        printf("  q8: top-1 agreement with f32 %d/%d = %.1f%%; first 16 greedy tokens identical for %d of %zu prompts\n", agree, pos, 100.0 * agree / pos, g16, fx.cases->len);
        if (act_mode == OCTET_ACT_INT8) {  // the targets for the default mode
            CHECK(agree >= 0.95 * pos, "top-1 agreement %.1f%% < 95%%", 100.0 * agree / pos);
            CHECK(2 * g16 > (int)fx.cases->len, "first 16 greedy tokens identical for only %d of %zu prompts", g16, fx.cases->len);
        }
    }
    octet_free(m);
    json_free(fx.root);
    free(f32_top1);
    f32_top1 = NULL;
    act_mode = OCTET_ACT_INT8;
}

#define CHAT_PARIS "'<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n'"

static void run_answers_paris(void) {
    if (!file_exists(SMOL_Q8)) SKIP("run make models");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet run -m " SMOL_Q8 " -p \"$(printf " CHAT_PARIS ")\" -n 32 --temp 0 2>/dev/null");
    CHECK(rc == 0 && out && strstr(out, "Paris"), "answer: %s", out ? out : "");
    free(out);
}

static void run_is_deterministic(void) {
    if (!file_exists(SMOL_Q8)) SKIP("run make models");
    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    const char *p = "-p 'Once upon a time' -n 24";
    run_cmd(&a, "./octet run -m " SMOL_Q8 " %s --temp 0 -t 1 --cache-type f16 2>/dev/null", p);
    run_cmd(&b, "./octet run -m " SMOL_Q8 " %s --temp 0 -t 2 --cache-type f16 2>/dev/null", p);
    CHECK(a && b && !strcmp(a, b) && strlen(a) > 20, "f16 cache: -t 1 and -t 2 differ:\n%s\n%s", a, b);
    free(a); free(b);
    run_cmd(&a, "./octet run -m " SMOL_Q8 " %s --temp 0 -t 1 2>/dev/null", p);
    run_cmd(&b, "./octet run -m " SMOL_Q8 " %s --temp 0 -t 2 2>/dev/null", p);
    CHECK(a && b && !strcmp(a, b) && strlen(a) > 20, "-t 1 and -t 2 differ:\n%s\n%s", a, b);
    run_cmd(&c, "./octet run -m " SMOL_Q8 " %s --temp 0.8 -s 42 -t 1 2>/dev/null", p);
    run_cmd(&d, "./octet run -m " SMOL_Q8 " %s --temp 0.8 -s 42 -t 2 2>/dev/null", p);
    CHECK(c && d && !strcmp(c, d), "same seed, different text:\n%s\n%s", c, d);
    free(a); free(b); free(d);
    run_cmd(&d, "./octet run -m " SMOL_Q8 " %s --temp 0.8 -s 43 -t 2 2>/dev/null", p);
    CHECK(c && d && strcmp(c, d), "seeds 42 and 43 gave the same text");
    free(c); free(d);
    // --json: one object with the text and the ids
    run_cmd(&a, "./octet run -m " SMOL_Q8 " %s --temp 0 --json 2>/dev/null", p);
    char err[128];
    json *j = a ? json_parse(a, strlen(a), err, sizeof err) : NULL;
    CHECK(j && json_str(j, "text") && json_num(j, "generated_tokens", 0) == 24 && json_get(j, "tokens")->len == 24 && json_get(j, "timings"), "--json output: %s", a ? a : "");
    json_free(j);
    free(a);
}

// Every kernel set available here gives the scalar reference's tokens at temperature 0; so do the
// AVX-VNNI and AVX-512 sets with their instructions emulated (build/emu/octet, x86 with AVX2).
// The AArch64 build (make aarch64) under qemu: its NEON and dotprod sets against its own scalar
// reference (libm and the compiler's code are the target's).
#define ARM_OCTET "qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/octet"

// Each set's greedy tokens equal the scalar reference's. The emulated and qemu runs are 10-30x
// slower than native ones, so they generate fewer tokens and are compared with the reference's
// start (the streamed text of 8 tokens is the start of 24's).
static void kernel_sets_give_the_same_tokens(void) {
    if (!file_exists(SMOL_Q8)) SKIP("run make models");
    static const char *prompts[] = {"Once upon a time", "The history of the printing press", "def fibonacci(n):"};
    static const char *files[] = {SMOL_Q8, SMOL_F32};
    enum { NATIVE, EMULATED, ARM };
    static const int tokens[] = {24, 12, 8};   // per kind
    static const struct { int kind; const char *bin, *set; } runs[] = {
        {NATIVE, "./octet", "avx2"}, {NATIVE, "./octet", "avxvnni"}, {NATIVE, "./octet", "avx512"},
        {EMULATED, "build/emu/octet", "avxvnni"}, {EMULATED, "build/emu/octet", "avx512"}, {ARM, ARM_OCTET, "neon"}, {ARM, ARM_OCTET, "dotprod"}};
    int emulated = file_exists("build/emu/octet") && octet_kernels_find("avx2");
    int arm_built = file_exists("build/aarch64/octet") && run_cmd(NULL, "command -v qemu-aarch64 >/dev/null") == 0;
    if (!arm_built) printf("  (the AArch64 sets are not checked: make test builds them when aarch64-linux-gnu-gcc and qemu-aarch64 are installed)\n");
    // Under ASan the runs are 5-10x slower and what they look for is memory errors: one prompt
    // per file there (the plain build's suite compares all three).
    unsigned prompts_n = getenv("OCTET_SANITIZED") ? 1 : 3;
    for (unsigned f = 0; f < 2; f++)
        for (unsigned p = 0; p < prompts_n; p++) {
            char *ref[3] = {NULL, NULL, NULL};   // per kind: the scalar tokens of that binary
            int arm = arm_built && (f == 0 || p == 0);   // (qemu takes ~2 s per f32 token: one prompt)
            run_cmd(&ref[NATIVE], "OCTET_KERNELS=scalar ./octet run -m %s -p '%s' -n %d --temp 0 2>/dev/null", files[f], prompts[p], tokens[NATIVE]);
            ref[EMULATED] = ref[NATIVE];
            if (arm) run_cmd(&ref[ARM], "OCTET_KERNELS=scalar " ARM_OCTET " run -m %s -p '%s' -n %d --temp 0 2>/dev/null", files[f], prompts[p], tokens[ARM]);
            for (unsigned r = 0; r < sizeof runs / sizeof *runs; r++) {
                int k = runs[r].kind;
                if (k == NATIVE ? !octet_kernels_find(runs[r].set) : k == EMULATED ? !emulated : !arm) continue;
                char *got = NULL;
                run_cmd(&got, "OCTET_KERNELS=%s %s run -m %s -p '%s' -n %d --temp 0 2>/dev/null", runs[r].set, runs[r].bin, files[f], prompts[p], tokens[k]);
                size_t len = got ? strlen(got) : 0;
                while (len && got[len - 1] == '\n') len--;   // (the run's closing newline)
                CHECK(ref[k] && got && len > 10 && !strncmp(ref[k], got, len) && (k != NATIVE || !strcmp(ref[k], got)),
                      "%s %s on %s: '%s' vs scalar '%s'", runs[r].bin, runs[r].set, files[f], got ? got : "", ref[k] ? ref[k] : "");
                free(got);
            }
            free(ref[NATIVE]);
            free(ref[ARM]);
        }
}

static void run_rejects_bad_flags(void) {
    static const struct { const char *args, *want; } bad[] = {
        {"-m " SMOL_Q8 " -p hi -n abc", "-n"}, {"-m " SMOL_Q8 " -p hi -c 0", "-c"}, {"-m " SMOL_Q8 " -p hi -t 0", "-t"},
        {"-m " SMOL_Q8 " -p hi --temp -1", "--temp"}, {"-m " SMOL_Q8 " -p hi --top-p 2", "--top-p"}, {"-p hi", "missing -m"},
        {"-m " SMOL_Q8 " -p 'a b c d e f g h' -c 4", "raise -c"}, {"-m tests/out/none.octet -p hi", "none.octet"},
        {"-m " SMOL_Q8, "exactly one"}, {"-m " SMOL_Q8 " -p hi --frobnicate", "--frobnicate"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *out = NULL;
        int rc = run_cmd(&out, "./octet run %s 2>&1 >/dev/null", bad[i].args);
        CHECK(rc == 1 && out && !strncmp(out, "octet: ", 7) && strstr(out, bad[i].want) && strchr(out, '\n') == out + strlen(out) - 1,
              "'%s': rc %d, %s", bad[i].args, rc, out ? out : "");
        free(out);
    }
}

static void run_is_memory_clean(void) {
    if (run_cmd(NULL, "command -v valgrind >/dev/null") != 0) SKIP("valgrind not installed");
    if (getenv("OCTET_SANITIZED")) SKIP("an ASan build checks memory itself; valgrind cannot run it");
    // stories260K, or without ../shared the Qwen3 fixture (a tiny model every clone has).
    const char *model = STORIES_Q8;
    if (file_exists(shared_path("models/stories260K/stories260K.bin"))) convert_stories();
    else {
        model = "tests/out/fwd-qwen3-fixture.octet";
        if (!file_exists(model)) run_cmd(NULL, "./octet convert tests/fixtures/arch/qwen3 -o %s --calib none --quiet", model);
    }
    char *out = NULL;
    int rc = run_cmd(&out, "valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite ./octet run -m %s -p 'Once upon a time' -n 12 -t 2 --temp 0.8 -s 1 2>&1 >/dev/null", model);
    CHECK(rc == 0, "valgrind: %s", out ? out : "");
    free(out);
}

int main(void) {
    RUN(stories260k_matches_reference);
    RUN(smollm2_f32_matches_transformers);
    RUN(smollm2_int8_close_to_f32);
    RUN(run_answers_paris);
    RUN(run_is_deterministic);
    RUN(kernel_sets_give_the_same_tokens);
    RUN(run_rejects_bad_flags);
    RUN(run_is_memory_clean);
    CHECK_DONE();
}
