// Batched evaluation (octet_eval_batch): several sequences in one forward step give each the
// logits it gets alone, bit for bit: prompts of different lengths cut into chunks between the
// others' decode tokens, sequences joining and leaving mid-run, 1 and 2 threads, the native
// kernel set and the scalar reference (a second run of this binary with OCTET_KERNELS=scalar).
// Models: the default SmolLM2 file (per-32 int8 with marked asymmetric activations), and the
// Gemma 3 (sliding window, GELU) and Gemma 2 (soft-caps) fixtures, which need nothing but the repo.
#include "check.h"
#include "json.h"
#include "octet.h"
#include "sampler.h"
#include "util.h"
#include <unistd.h>

#define N_SEQ 4
#define DECODE 5
#define MAX_PROMPT 48

typedef struct { int32_t prompt[MAX_PROMPT]; int n_prompt, join_at, leave_after; } seqdef;

// Each sequence alone: its prompt in one evaluation, then DECODE greedy steps; the logits after
// the prompt and after each step ((DECODE + 1) * vocab floats per sequence).
static float *alone(octet_model *m, const seqdef *d, int threads) {
    int V = octet_vocab_size(m);
    float *L = malloc((size_t)N_SEQ * (DECODE + 1) * V * sizeof *L);
    for (int i = 0; L && i < N_SEQ; i++) {
        octet_session_params sp = {128, 64, threads, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
        octet_session *s = octet_session_new(m, &sp);
        float *l = L + (size_t)i * (DECODE + 1) * V;
        int ok = s && octet_eval(s, d[i].prompt, d[i].n_prompt, l, 0) == 0;
        for (int k = 1; ok && k <= DECODE; k++) {
            int32_t next = octet_argmax(l + (size_t)(k - 1) * V, V);
            ok = octet_eval(s, &next, 1, l + (size_t)k * V, 0) == 0;
        }
        CHECK(ok, "sequence %d alone: %s", i, octet_last_error());
        octet_session_free(s);
    }
    return L;
}

// The same sequences through octet_eval_batch: step g evaluates every sequence that has joined
// (join_at <= g) and not left: its whole prompt at its first step (cut into chunks of the step's
// 16 rows, between the others' tokens), one greedy token after that.
static int batched_equals_alone(octet_model *m, const seqdef *d, const float *ref, int threads, const char *label) {
    int V = octet_vocab_size(m), k[N_SEQ] = {0}, mismatches = 0, steps_with_mixed = 0;
    octet_session *s[N_SEQ];
    float *l = malloc((size_t)N_SEQ * V * sizeof *l);
    int32_t next[N_SEQ];
    // With 2 threads the steps run on a session of their own (a server's one pool), the
    // sequences' sessions having 1 thread each; with 1, on the first sequence's session.
    octet_session_params rp = {128, 16, threads, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    octet_session *runner = threads > 1 ? octet_session_new(m, &rp) : NULL;
    for (int i = 0; i < N_SEQ; i++) {
        octet_session_params sp = {128, 16, runner ? 1 : threads, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
        s[i] = octet_session_new(m, &sp);
        CHECK(s[i] != NULL, "%s: session: %s", label, octet_last_error());
        if (!s[i]) return -1;
    }
    for (int g = 0; g < 16; g++) {
        octet_session *ss[N_SEQ];
        const int32_t *tok[N_SEQ];
        int n[N_SEQ], who[N_SEQ], c = 0, prompts = 0;
        float *out[N_SEQ];
        for (int i = 0; i < N_SEQ; i++) {
            if (g < d[i].join_at || k[i] > d[i].leave_after || k[i] > DECODE) continue;
            ss[c] = s[i];
            tok[c] = k[i] == 0 ? d[i].prompt : &next[i];
            n[c] = k[i] == 0 ? d[i].n_prompt : 1;
            prompts += k[i] == 0;
            out[c] = l + (size_t)i * V;
            who[c++] = i;
        }
        if (!c) break;
        steps_with_mixed += prompts && prompts < c;
        // Without a runner the first sequence's session runs the step (its buffers and threads):
        // after sequence 0 leaves, another one does, and nothing may change.
        int rc = octet_eval_batch(runner, ss, c, tok, n, out);
        CHECK(rc == 0, "%s: step %d: %s", label, g, octet_last_error());
        if (rc != 0) break;
        for (int j = 0; j < c; j++) {
            int i = who[j];
            const float *want = ref + ((size_t)i * (DECODE + 1) + k[i]) * V;
            if (memcmp(l + (size_t)i * V, want, (size_t)V * sizeof *l)) {
                if (mismatches++ < 3) CHECK(0, "%s: sequence %d, output %d differs from the sequence alone", label, i, k[i]);
            }
            next[i] = octet_argmax(l + (size_t)i * V, V);
            k[i]++;
        }
    }
    CHECK(steps_with_mixed > 0, "%s: no step mixed a prompt with decode tokens", label);
    for (int i = 0; i < N_SEQ; i++) {
        CHECK(k[i] == (d[i].leave_after < DECODE ? d[i].leave_after + 1 : DECODE + 1), "%s: sequence %d produced %d outputs", label, i, k[i]);
        octet_session_free(s[i]);
    }
    octet_session_free(runner);
    free(l);
    return mismatches;
}

static void set_up(octet_model *m, seqdef *d, const char *const *texts) {
    int V = octet_vocab_size(m);
    static const int lens[N_SEQ] = {5, 40, 1, 17}, join[N_SEQ] = {0, 0, 2, 1}, leave[N_SEQ] = {2, DECODE, DECODE, DECODE};
    for (int i = 0; i < N_SEQ; i++) {
        d[i].n_prompt = lens[i];
        d[i].join_at = join[i];
        d[i].leave_after = leave[i];
        int32_t *ids = NULL;
        size_t n = 0;
        if (texts && octet_tokenize_text(m, texts[i], strlen(texts[i]), -1, 0, &ids, &n) == 0 && n >= 1) {
            d[i].n_prompt = (int)(n < MAX_PROMPT ? n : MAX_PROMPT);
            memcpy(d[i].prompt, ids, (size_t)d[i].n_prompt * sizeof *ids);
        } else
            for (int t = 0; t < lens[i]; t++) d[i].prompt[t] = (int32_t)((i * 131 + t * 37 + 11) % V);
        free(ids);
    }
}

static void check_model(const char *path, const char *const *texts) {
    octet_model *m = octet_load(path);
    CHECK(m != NULL, "%s: %s", path, octet_last_error());
    if (!m) return;
    seqdef d[N_SEQ];
    set_up(m, d, texts);
    for (int threads = 1; threads <= 2; threads++) {
        float *ref = alone(m, d, threads);
        char label[300];
        snprintf(label, sizeof label, "%s, %d thread%s", path, threads, threads > 1 ? "s" : "");
        int bad = ref ? batched_equals_alone(m, d, ref, threads, label) : -1;
        printf("  %s: %s\n", label, bad == 0 ? "every output identical" : "DIFFERS");
        free(ref);
    }
    octet_free(m);
}

static const char *fixture(const char *name, const char *type) {
    static char out[4][256];
    static int k;
    char *o = out[k++ & 3];
    snprintf(o, sizeof out[0], "tests/out/batch-%s.%s.octet", name, type);
    if (!file_exists(o)) run_cmd(NULL, "mkdir -p tests/out && ./octet convert tests/fixtures/arch/%s -o %s --type %s --calib none --quiet", name, o, type);
    return o;
}

static void smollm2_batched_equals_alone(void) {
    const char *path = "models/smollm2-135m-instruct.octet";
    if (!file_exists(path)) SKIP("models/smollm2-135m-instruct.octet missing (make models)");
    if (getenv("OCTET_KERNELS") && !strcmp(getenv("OCTET_KERNELS"), "scalar")) SKIP("the scalar set runs the fixtures only (SmolLM2 takes it a minute)");
    static const char *const texts[N_SEQ] = {
        "The capital of France is",
        "Once upon a time, in a small village at the edge of a great forest, there lived an old clockmaker who had never once left",
        "Hi",
        "def fibonacci(n):\n    if n < 2:\n        return n",
    };
    check_model(path, texts);
}

static void gemma3_fixture_batched_equals_alone(void) { check_model(fixture("gemma3", "q8g32h"), NULL); }
static void gemma2_fixture_batched_equals_alone(void) { check_model(fixture("gemma2", "q8"), NULL); }

// A batch is checked whole before anything runs: no session advances when one is refused.
static void bad_batches_change_nothing(void) {
    octet_model *m = octet_load(fixture("gemma3", "q8g32h"));
    CHECK(m != NULL, "%s", octet_last_error());
    if (!m) return;
    octet_session_params sp = {32, 8, 1, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU}, f32 = sp, big = sp;
    f32.act = OCTET_ACT_F32;
    big.n_ctx = 64;
    octet_session *a = octet_session_new(m, &sp), *b = octet_session_new(m, &sp), *c = octet_session_new(m, &f32), *d = octet_session_new(m, &big);
    int32_t ok[3] = {1, 2, 3}, bad[2] = {1, 1 << 30};
    const int32_t *tok[2] = {ok, bad};
    int n[2] = {3, 2};
    octet_session *pair[2] = {a, b};
    CHECK(octet_eval_batch(NULL, pair, 2, tok, n, NULL) != 0 && strstr(octet_last_error(), "vocabulary"), "a bad token id: %s", octet_last_error());
    CHECK(octet_session_pos(a) == 0 && octet_session_pos(b) == 0, "a refused batch advanced a session");
    tok[1] = ok;
    octet_session *dup[2] = {a, a}, *mixed[2] = {a, c}, *larger[2] = {a, d};
    CHECK(octet_eval_batch(NULL, dup, 2, tok, n, NULL) != 0 && strstr(octet_last_error(), "share"), "one session twice: %s", octet_last_error());
    CHECK(octet_eval_batch(NULL, mixed, 2, tok, n, NULL) != 0 && strstr(octet_last_error(), "activation"), "another activation mode: %s", octet_last_error());
    CHECK(octet_eval_batch(NULL, larger, 2, tok, n, NULL) != 0 && strstr(octet_last_error(), "context"), "a larger context: %s", octet_last_error());
    n[1] = 40;   // more than b's context
    int32_t many[40] = {0};
    tok[1] = many;
    CHECK(octet_eval_batch(NULL, pair, 2, tok, n, NULL) != 0 && strstr(octet_last_error(), "context"), "a full context: %s", octet_last_error());
    CHECK(octet_session_pos(a) == 0 && octet_session_pos(b) == 0, "a refused batch advanced a session");
    octet_session_free(a); octet_session_free(b); octet_session_free(c); octet_session_free(d);
    octet_free(m);
}

// octet bench -pl: batched decode rows in the table and the JSON (the speed itself is measured by
// benchmarks, not here).
static void bench_batched_decode(void) {
    const char *path = fixture("gemma3", "q8g32h");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet bench -m %s -p 0 -n 4 -t 1 -r 1 -pl 1,3 -o json 2>/dev/null", path);
    CHECK(rc == 0 && out && strstr(out, "\"test\":\"tg4 pl3\"") && strstr(out, "\"n_parallel\":3") && strstr(out, "\"test\":\"tg4 pl1\""),
          "bench -pl 1,3: exit %d: %s", rc, out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet bench -m %s -p 0 -n 4 -pl 0 2>&1", path);
    CHECK(rc == 1 && out && !strncmp(out, "octet: ", 7) && strstr(out, "-pl"), "bench -pl 0: exit %d: %s", rc, out ? out : "");
    free(out);
}

// The text `octet run` gives for a prompt (greedy or seeded), to compare with batch's records;
// bin: the octet to run with its environment ("./octet", "OCTET_KERNELS=neon qemu-aarch64 ...").
static char *run_text_of(const char *bin, const char *model, const char *prompt, int n, const char *temp, int seed) {
    char *out = NULL;
    int rc = run_cmd(&out, "%s run -m %s -p '%s' -n %d --temp %s -s %d -c 64 --json 2>/dev/null", bin, model, prompt, n, temp, seed);
    char err[128];
    json *j = rc == 0 && out ? json_parse(out, strlen(out), err, sizeof err) : NULL;
    const char *t = json_str(j, "text");
    char *r = t ? strdup(t) : NULL;
    json_free(j);
    free(out);
    return r;
}

static char *run_text(const char *model, const char *prompt, int n, const char *temp, int seed) { return run_text_of("./octet", model, prompt, n, temp, seed); }

static json **records(const char *path, int *n) {
    size_t len;
    char *t = octet_read_file(path, &len);
    json **r = calloc(64, sizeof *r);
    *n = 0;
    for (char *p = t, *e; t && r && p < t + len && *n < 64; p = e + 1) {
        e = memchr(p, '\n', (size_t)(t + len - p));
        if (!e) e = t + len;
        char err[128];
        r[(*n)++] = json_parse(p, (size_t)(e - p), err, sizeof err);
    }
    free(t);
    return r;
}
static void free_records(json **r, int n) { for (int i = 0; i < n; i++) json_free(r[i]); free(r); }

// octet batch: records in input order, each line's text as `octet run` gives it, refusals as error
// records, resuming after an interruption, an empty file.
static void batch_command(void) {
    const char *model = fixture("qwen3", "q8");
    const char *in = "tests/out/batch-in.jsonl", *out = "tests/out/batch-out.jsonl";
    FILE *fp = fopen(in, "wb");
    fprintf(fp, "{\"id\":\"a\",\"prompt\":\"hello world\",\"max_tokens\":9,\"temperature\":0}\n"
                "{\"id\":2,\"prompt\":\"the cat sat\",\"max_tokens\":5,\"temperature\":0.9,\"seed\":3}\n"
                "\n"
                "{\"prompt\":\"x\",\"colour\":1}\n"
                "{\"id\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"
                "{\"id\":\"long\",\"prompt\":\"%s\"}\n"
                "{\"id\":\"c\",\"prompt\":\"one two three four five six\",\"max_tokens\":12,\"temperature\":0}\n",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l");
    fclose(fp);
    unlink(out);
    char *log = NULL;
    int rc = run_cmd(&log, "./octet batch -m %s -f %s -o %s --parallel 3 -c 64 -s 1 2>&1", model, in, out);
    CHECK(rc == 0, "batch: exit %d: %s", rc, log ? log : "");
    free(log);
    int n;
    json **r = records(out, &n);
    CHECK(n == 6, "6 records for 6 non-blank lines, got %d", n);
    static const int lines[6] = {1, 2, 4, 5, 6, 7};
    for (int i = 0; i < n && i < 6; i++) CHECK(json_num(r[i], "line", 0) == lines[i], "record %d is of line %g, want %d", i, json_num(r[i], "line", 0), lines[i]);
    if (n == 6) {
        char *a = run_text(model, "hello world", 9, "0", 1), *b = run_text(model, "the cat sat", 5, "0.9", 3), *c = run_text(model, "one two three four five six", 12, "0", 1);
        CHECK(a && json_str(r[0], "text") && !strcmp(a, json_str(r[0], "text")), "line 1: '%s' vs run's '%s'", json_str(r[0], "text"), a ? a : "?");
        CHECK(b && json_str(r[1], "text") && !strcmp(b, json_str(r[1], "text")), "line 2 (seeded): '%s' vs run's '%s'", json_str(r[1], "text"), b ? b : "?");
        CHECK(c && json_str(r[5], "text") && !strcmp(c, json_str(r[5], "text")), "line 7: '%s' vs run's '%s'", json_str(r[5], "text"), c ? c : "?");
        free(a); free(b); free(c);
        CHECK(json_str(r[2], "error") && strstr(json_str(r[2], "error"), "colour"), "unknown field: %s", json_str(r[2], "error") ? json_str(r[2], "error") : "no error");
        CHECK(json_str(r[3], "error") && strstr(json_str(r[3], "error"), "template"), "no chat template: %s", json_str(r[3], "error") ? json_str(r[3], "error") : "no error");
        CHECK(json_str(r[4], "error") && strstr(json_str(r[4], "error"), "context"), "a prompt over the context: %s", json_str(r[4], "error") ? json_str(r[4], "error") : "no error");
        CHECK(json_num(json_get(r[0], "usage"), "completion_tokens", -1) == 9 && !strcmp(json_str(r[0], "finish_reason"), "length"), "line 1's usage and finish");
    }
    free_records(r, n);
    // Resume: the last record lost (an interruption); the next run writes that line only.
    run_cmd(NULL, "head -n 5 %s > %s.tmp && mv %s.tmp %s", out, out, out, out);
    rc = run_cmd(&log, "./octet batch -m %s -f %s -o %s --parallel 2 -c 64 -s 1 2>&1", model, in, out);
    CHECK(rc == 0, "resume: exit %d: %s", rc, log ? log : "");
    free(log);
    r = records(out, &n);
    int errors = 0;
    for (int i = 0; i < n; i++) errors += json_get(r[i], "error") != NULL;
    CHECK(n == 9 && json_str(r[8], "id") && !strcmp(json_str(r[8], "id"), "c") && errors == 6, "resumed: %d records (%d errors), want the 5 kept, the 3 refusals again and line 7", n, errors);
    free_records(r, n);
    run_cmd(NULL, ": > tests/out/batch-empty.jsonl");
    rc = run_cmd(&log, "./octet batch -m %s -f tests/out/batch-empty.jsonl -o tests/out/batch-empty.out 2>&1 && wc -c < tests/out/batch-empty.out", model);
    CHECK(rc == 0 && log && strstr(log, "0 lines"), "empty job file: exit %d: %s", rc, log ? log : "");
    free(log);
    rc = run_cmd(&log, "./octet batch -m %s -f tests/out/none.jsonl -o tests/out/x.jsonl 2>&1", model);
    CHECK(rc == 1 && log && !strncmp(log, "octet: ", 7) && strstr(log, "none.jsonl"), "missing input: exit %d: %s", rc, log ? log : "");
    free(log);
}

// The sets this binary cannot call: the AVX-VNNI and AVX-512 sets emulated (build/emu/octet) and
// the NEON and dotprod sets under qemu (build/aarch64/octet). Each one's batch records (three
// lines of different lengths in shared steps) carry the text its own `octet run` gives each line.
static void batch_in_every_set(void) {
    static const struct { const char *bin, *set, *needs; } runs[] = {
        {"build/emu/octet", "avxvnni", "build/emu/octet"}, {"build/emu/octet", "avx512", "build/emu/octet"},
        {"qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/octet", "neon", "build/aarch64/octet"},
        {"qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/octet", "dotprod", "build/aarch64/octet"}};
    if (getenv("OCTET_KERNELS")) SKIP("the run with a forced set leaves the other binaries to the main run");
    static const char *const prompts[3] = {"one", "the cat sat on the mat and then it", "a b c d e"};
    const char *model = fixture("gemma3", "q8g32h"), *in = "tests/out/batch-sets.jsonl", *out = "tests/out/batch-sets.out";
    FILE *fp = fopen(in, "wb");
    for (int i = 0; i < 3; i++) fprintf(fp, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}\n", prompts[i], 4 + 3 * i);
    fclose(fp);
    int ran = 0;
    for (unsigned r = 0; r < sizeof runs / sizeof *runs; r++) {
        if (!file_exists(runs[r].needs) || (strstr(runs[r].bin, "qemu") && run_cmd(NULL, "command -v qemu-aarch64 >/dev/null") != 0)) continue;
        char bin[256], *log = NULL;
        snprintf(bin, sizeof bin, "OCTET_KERNELS=%s %s", runs[r].set, runs[r].bin);
        unlink(out);
        int rc = run_cmd(&log, "%s batch -m %s -f %s -o %s --parallel 3 -c 64 2>&1", bin, model, in, out);
        CHECK(rc == 0, "%s: batch exit %d: %s", bin, rc, log ? log : "");
        free(log);
        int n;
        json **rec = records(out, &n);
        CHECK(n == 3, "%s: %d records", bin, n);
        for (int i = 0; i < n && i < 3; i++) {
            char *want = run_text_of(bin, model, prompts[i], 4 + 3 * i, "0", 1);
            CHECK(want && json_str(rec[i], "text") && !strcmp(want, json_str(rec[i], "text")), "%s: line %d batched differs from run", bin, i + 1);
            free(want);
        }
        free_records(rec, n);
        ran++;
    }
    if (!ran) SKIP("neither build/emu/octet nor build/aarch64/octet with qemu-aarch64 is here");
    printf("  %d emulated or qemu sets checked\n", ran);
}

// The scalar reference set: this binary again with OCTET_KERNELS=scalar.
static void scalar_set_too(void) {
    if (getenv("OCTET_KERNELS")) SKIP("already running one forced set");
    if (getenv("OCTET_SANITIZED")) SKIP("the sanitized suite runs the native set only (time)");
    char *out = NULL;
    // (its lines indented, so tests/run.sh counts this one case, not the child's)
    int rc = run_cmd(&out, "{ OCTET_KERNELS=scalar ./build/tests/test_batch 2>&1; echo \"exit $?\"; } | sed 's/^/  scalar: /'");
    printf("%s", out ? out : "");
    CHECK(rc == 0 && out && strstr(out, "scalar: PASS: gemma3_fixture") && strstr(out, "scalar: exit 0\n"), "the scalar run failed");
    free(out);
}

int main(void) {
    if (getenv("OCTET_KERNELS")) printf("  (kernel set forced: %s)\n", getenv("OCTET_KERNELS"));
    RUN(gemma3_fixture_batched_equals_alone);
    RUN(gemma2_fixture_batched_equals_alone);
    RUN(smollm2_batched_equals_alone);
    RUN(bad_batches_change_nothing);
    RUN(bench_batched_decode);
    RUN(batch_command);
    RUN(batch_in_every_set);
    RUN(scalar_set_too);
    CHECK_DONE();
}
