// octet perplexity: the f32 SmolLM2 against an independent transformers computation
// (tests/fixtures/smollm2-perplexity.json, tools/ref/make_perplexity_fixture.py), --ref
// statistics (a model against itself is exact), the metric functions on known distributions,
// and bad input.
#include "check.h"
#include "json.h"
#include "metrics.h"
#include "util.h"
#include <math.h>

#define SMOL_Q8 "models/smollm2-135m-instruct.q8.octet"
#define SMOL_F32 "models/smollm2-135m-instruct.f32.octet"
#define TEXT "tests/out/ppl-text.txt"

static json *run_json(const char *fmt, const char *a, const char *b) {
    char *out = NULL, err[256];
    int rc = run_cmd(&out, fmt, a, b);
    CHECK(rc == 0, "exit %d: %s", rc, out ? out : "");
    json *j = rc == 0 && out ? json_parse(out, strlen(out), err, sizeof err) : NULL;
    CHECK(j != NULL, "not JSON: %s", out ? out : "");
    free(out);
    return j;
}

// The fixture's text is the start of fortunes-dev.txt (whole lines); the test cuts the same bytes.
static json *fixture_and_text(void) {
    size_t n;
    char *t = octet_read_file("tests/fixtures/smollm2-perplexity.json", &n), err[256];
    json *f = t ? json_parse(t, n, err, sizeof err) : NULL;
    free(t);
    CHECK(f != NULL, "fixture");
    if (f) run_cmd(NULL, "head -c %d %s > " TEXT, (int)json_num(f, "prefix_bytes", 0), shared_path("data/fortunes-dev.txt"));
    return f;
}

static void f32_matches_transformers(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    json *f = fixture_and_text();
    if (!f) return;
    char args[64];
    snprintf(args, sizeof args, "-c %d --chunks %d", (int)json_num(f, "ctx", 0), (int)json_num(f, "windows", 0));
    json *j = run_json("./octet perplexity -m %s -f " TEXT " %s --json 2>/dev/null", SMOL_F32, args);
    if (j) {
        double got = json_num(j, "perplexity", 0), want = json_num(f, "perplexity", 1);
        printf("  octet %.6f, transformers %.6f (%.2e relative)\n", got, want, fabs(got / want - 1));
        CHECK(fabs(got / want - 1) < 1e-3, "perplexity %.6f vs transformers %.6f", got, want);
        CHECK(json_num(j, "tokens_scored", 0) == json_num(f, "tokens_scored", -1), "scored tokens");
        CHECK(json_num(j, "perplexity_err", 0) > 0, "an error estimate");
    }
    json_free(j);
    json_free(f);
}

static void ref_statistics(void) {
    if (!file_exists(SMOL_F32)) SKIP(SMOL_F32 " missing (make models)");
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    json_free(fixture_and_text());
    // Against itself: no divergence at all.
    json *j = run_json("./octet perplexity -m %s -f " TEXT " -c 128 --chunks 3 --json --ref %s 2>/dev/null", SMOL_Q8, SMOL_Q8);
    const json *r = j ? json_get(j, "ref") : NULL;
    CHECK(r != NULL, "no ref object");
    if (r) {
        CHECK(json_num(r, "kl_mean", 1) < 1e-9 && json_num(r, "kl_p99", 1) < 1e-9, "self KL %g", json_num(r, "kl_mean", 1));
        CHECK(json_num(r, "top1_agreement_pct", 0) == 100, "self agreement");
        CHECK(json_num(r, "perplexity_change_pct", 1) == 0, "self change");
    }
    json_free(j);
    // INT8 against f32: small but non-zero divergence.
    j = run_json("./octet perplexity -m %s -f " TEXT " -c 128 --chunks 3 --json --ref %s 2>/dev/null", SMOL_Q8, SMOL_F32);
    r = j ? json_get(j, "ref") : NULL;
    CHECK(r != NULL, "no ref object");
    if (r) {
        double kl = json_num(r, "kl_mean", -1), top1 = json_num(r, "top1_agreement_pct", 0), d = json_num(r, "perplexity_change_pct", 99);
        printf("  q8 vs f32: KL %.5f, top-1 %.1f%%, perplexity %+.2f%%\n", kl, top1, d);
        CHECK(kl > 0 && kl < 0.05, "KL %g", kl);
        CHECK(top1 > 90 && top1 <= 100, "top-1 %g", top1);
        CHECK(fabs(d) < 5, "perplexity change %g%%", d);
        CHECK(json_num(r, "kl_p99", -1) >= kl, "p99 >= mean");
    }
    json_free(j);
}

// The window as one batch (the default: register tiles for the int8 and the f32 model) and
// batches of 8 tokens (below the tiles' minimum) give the same digits.
static void batch_size_changes_nothing(void) {
    if (!file_exists(SMOL_F32)) SKIP(SMOL_F32 " missing (make models)");
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    json_free(fixture_and_text());
    json *a = run_json("./octet perplexity -m %s -f " TEXT " -c 128 --chunks 2 --json --ref %s 2>/dev/null", SMOL_Q8, SMOL_F32);
    json *b = run_json("./octet perplexity -m %s -f " TEXT " -c 128 --chunks 2 --json --ref %s -b 8 2>/dev/null", SMOL_Q8, SMOL_F32);
    const json *ra = a ? json_get(a, "ref") : NULL, *rb = b ? json_get(b, "ref") : NULL;
    CHECK(ra && rb, "ref objects");
    if (ra && rb) {
        CHECK(json_num(a, "perplexity", 0) == json_num(b, "perplexity", 1), "perplexity %.9g vs %.9g", json_num(a, "perplexity", 0), json_num(b, "perplexity", 1));
        CHECK(json_num(ra, "perplexity", 0) == json_num(rb, "perplexity", 1), "f32 perplexity %.9g vs %.9g", json_num(ra, "perplexity", 0), json_num(rb, "perplexity", 1));
        CHECK(json_num(ra, "kl_mean", 0) == json_num(rb, "kl_mean", 1) && json_num(ra, "top1_agreement_pct", 0) == json_num(rb, "top1_agreement_pct", 1), "KL and top-1");
    }
    json_free(a);
    json_free(b);
}

static void metrics_on_known_distributions(void) {
    float a[3] = {0, 0, 0}, b[3] = {(float)log(2.0), 0, 0};
    double scratch[6];
    CHECK(fabs(octet_nll(a, 3, 1) - log(3.0)) < 1e-12, "uniform nll");
    CHECK(octet_kl(a, a, 3, scratch) == 0, "KL(P||P)");
    // P = (1/3,1/3,1/3), Q = (1/2,1/4,1/4): KL = sum 1/3 log((1/3)/q).
    double want = (log((1.0 / 3) / 0.5) + 2 * log((1.0 / 3) / 0.25)) / 3;
    CHECK(fabs(octet_kl(a, b, 3, scratch) - want) < 1e-7, "KL %g want %g", octet_kl(a, b, 3, scratch), want);
    float big[2] = {1000, -1000};
    CHECK(isfinite(octet_nll(big, 2, 1)) && fabs(octet_nll(big, 2, 1) - 2000) < 1e-6, "large logits stay finite");
    octet_stats s = {0};
    for (int i = 1; i <= 101; i++) octet_stats_add(&s, i);
    CHECK(octet_stats_mean(&s) == 51, "mean");
    CHECK(fabs(octet_stats_percentile(&s, 99) - 100) < 1e-9, "p99 %g", octet_stats_percentile(&s, 99));
    CHECK(fabs(octet_stats_stderr(&s) - sqrt(858.5 / 101)) < 1e-9, "stderr %g", octet_stats_stderr(&s));
    octet_stats_free(&s);
}

static void bad_input(void) {
    if (!file_exists(SMOL_Q8)) SKIP("models/ missing (make models)");
    struct { const char *args, *want; } cases[] = {
        {"-f tests/out/ppl-empty.txt", "empty"},
        {"-f tests/out/ppl-short.txt -c 512", "lower -c"},
        {"-f tests/out/ppl-short.txt -c 100000", "larger than the context"},
        {"-f tests/out/no-such-text.txt", "no-such-text.txt"},
        {"-f tests/out/ppl-short.txt -c 8 --ref tests/out/no-such-model.octet", "no-such-model.octet"},
        {"-f tests/out/ppl-short.txt -c 8 --ref tests/out/ppl-qwen3-fixture.octet", "vocabulary"},
        {"-c 8", "missing -f"},
        {"-f tests/out/ppl-short.txt -c 4", "at least 8"},
    };
    run_cmd(NULL, ": > tests/out/ppl-empty.txt; printf 'A short text.' > tests/out/ppl-short.txt");
    // (a model of another vocabulary that every clone has: the Qwen3 fixture)
    if (!file_exists("tests/out/ppl-qwen3-fixture.octet"))
        run_cmd(NULL, "./octet convert tests/fixtures/arch/qwen3 -o tests/out/ppl-qwen3-fixture.octet --type q8 --calib none --quiet");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int rc = run_cmd(&out, "./octet perplexity -m " SMOL_Q8 " %s 2>&1", cases[i].args);
        CHECK(rc == 1 && out && strstr(out, cases[i].want) && strncmp(out, "octet: ", 7) == 0 && (!strchr(out, '\n') || !strchr(out, '\n')[1]),
              "%s: exit %d: %s", cases[i].args, rc, out ? out : "");
        free(out);
    }
}

int main(void) {
    RUN(metrics_on_known_distributions);
    RUN(f32_matches_transformers);
    RUN(ref_statistics);
    RUN(batch_size_changes_nothing);
    RUN(bad_input);
    CHECK_DONE();
}
