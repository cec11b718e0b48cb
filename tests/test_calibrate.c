// Calibrated conversion: SmoothQuant folding is exact in f32, calibrated files are
// deterministic, mixed precision keeps the most sensitive tensors, bad input fails cleanly.
#include "check.h"
#include "octet.h"
#include "octet_file.h"
#include "util.h"
#include <math.h>
#include <stdint.h>

#define SMOL_GGUF "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define SMOL_F32 "models/smollm2-135m-instruct.f32.octet"
#define TEXT "One day, a little girl named Lily found a needle in her room. She knew it was difficult to play with it because it was sharp."

static char stories_args[2048];
static const char *stories(void) {
    snprintf(stories_args, sizeof stories_args, "%s --tokenizer %s", shared_path("models/stories260K/stories260K.bin"), shared_path("models/stories260K/tok512.bin"));
    return stories_args;
}
// stories260K and the calibration text, from ../shared: without them a test skips naming the first missing.
#define SKIP_WITHOUT_STORIES() do { SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin"); SKIP_WITHOUT_SHARED("models/stories260K/tok512.bin"); \
                                    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt"); } while (0)

// Logits of every position of TEXT (n * vocab floats, malloc'd).
static float *text_logits(const char *path, int *n_out, int *vocab) {
    octet_model *m = octet_load(path);
    if (!m) { CHECK(0, "%s", octet_last_error()); return NULL; }
    int32_t *ids = NULL;
    size_t n = 0;
    octet_session_params p = {256, 256, 2, 0, 0, 0};
    octet_session *s = NULL;
    float *logits = NULL;
    if (octet_tokenize_text(m, TEXT, strlen(TEXT), -1, 0, &ids, &n) == 0 && (s = octet_session_new(m, &p))) {
        *vocab = octet_vocab_size(m);
        logits = malloc(n * (size_t)*vocab * sizeof *logits);
        if (octet_eval(s, ids, (int)n, logits, 1) != 0) { free(logits); logits = NULL; }
    }
    CHECK(logits, "%s: %s", path, octet_last_error());
    *n_out = (int)n;
    octet_session_free(s);
    free(ids);
    octet_free(m);
    return logits;
}

// Largest |a - b| of a position relative to that position's largest |b|, over all positions.
static double max_rel_diff(const float *a, const float *b, int n, int vocab) {
    double worst = 0;
    for (int t = 0; t < n; t++) {
        double d = 0, mag = 0;
        for (int i = 0; i < vocab; i++) {
            d = fmax(d, fabs((double)a[(size_t)t * vocab + i] - b[(size_t)t * vocab + i]));
            mag = fmax(mag, fabs((double)b[(size_t)t * vocab + i]));
        }
        worst = fmax(worst, d / mag);
    }
    return worst;
}

// Largest relative change of a tensor between two files (proves smoothing changed it).
static double tensor_change(const char *pa, const char *pb, const char *name) {
    octet_file a, b;
    if (octet_file_open(&a, pa) != 0) return -1;
    if (octet_file_open(&b, pb) != 0) { octet_file_close(&a); return -1; }
    const octet_tensor *x = octet_file_tensor(&a, name), *y = octet_file_tensor(&b, name);
    double worst = -1;
    if (x && y && x->dtype == OCTET_F32 && y->dtype == OCTET_F32 && x->rows * x->cols == y->rows * y->cols) {
        worst = 0;
        for (uint64_t i = 0; i < x->rows * x->cols; i++) {
            float u = ((const float *)x->data)[i], v = ((const float *)y->data)[i];
            worst = fmax(worst, fabs((double)u - v) / fmax(fabs((double)v), 1e-6));
        }
    }
    octet_file_close(&a);
    octet_file_close(&b);
    return worst;
}

static void check_smoothing_exact(const char *plain, const char *smoothed) {
    static const char *changed[] = {"blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "blk.0.attn_v.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"};
    for (unsigned i = 0; i < sizeof changed / sizeof *changed; i++)
        CHECK(tensor_change(smoothed, plain, changed[i]) > 0.05, "%s: smoothing left %s unchanged", smoothed, changed[i]);
    int n1 = 0, n2 = 0, v1 = 0, v2 = 0;
    float *a = text_logits(plain, &n1, &v1), *b = text_logits(smoothed, &n2, &v2);
    if (a && b && n1 == n2 && v1 == v2) {
        double d = max_rel_diff(b, a, n1, v1);
        CHECK(d <= 1e-4, "%s: smoothed f32 logits differ by %g of max|logit| (limit 1e-4)", smoothed, d);
        printf("  %s: %d positions, smoothed vs plain f32 logits: max relative difference %.2e\n", smoothed, n1, d);
    } else CHECK(0, "could not evaluate both models");
    free(a); free(b);
}

static void smoothing_folds_exactly_stories260k(void) {
    SKIP_WITHOUT_STORIES();
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.f32.octet --type f32 --calib none --quiet && "
                           "./octet convert %s -o tests/out/stories.f32-smooth.octet --type f32 --smooth 0.5 --calib %s --quiet",
                     stories(), stories(), shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    check_smoothing_exact("tests/out/stories.f32.octet", "tests/out/stories.f32-smooth.octet");
}

// SmolLM2: grouped-query attention (3 query heads per kv head) and tied embeddings.
static void smoothing_folds_exactly_smollm2(void) {
    if (!file_exists(SMOL_GGUF) || !file_exists(SMOL_F32)) SKIP("run make models");
    SKIP_WITHOUT_SHARED("data/fortunes-dev.txt");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert " SMOL_GGUF " -o tests/out/smollm2.f32-smooth.octet --type f32 --smooth 0.5 --calib %s --calib-tokens 64 --quiet",
                     shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    check_smoothing_exact(SMOL_F32, "tests/out/smollm2.f32-smooth.octet");
    remove("tests/out/smollm2.f32-smooth.octet");
}

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *x = octet_read_file(a, &na), *y = octet_read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x); free(y);
    return same;
}

// Sensitivities of every tensor, from the file's metadata (NULL when absent).
static float *file_floats(const octet_file *f, const char *key) {
    const octet_kv *kv = octet_file_kv(f, key);
    if (!kv || kv->arr_type != OCTET_KV_F32 || kv->count != f->n_tensors) return NULL;
    float *s = malloc(kv->count * sizeof *s);
    if (s) memcpy(s, kv->val, kv->count * sizeof *s);
    return s;
}
static float *file_sensitivities(const octet_file *f) { return file_floats(f, "quant.sensitivity"); }

// The per-tensor sensitivities of the calibrated stories file, which the budget tests compare
// their picks against: -1 when that test has not made the file, else 0 with *sens (NULL when
// the file has none) and the file's tensor count.
static int calibrated_sensitivities(float **sens, uint64_t *n_tensors) {
    octet_file f;
    if (octet_file_open(&f, "tests/out/stories.cal1.octet") != 0) return -1;
    *sens = file_sensitivities(&f);
    *n_tensors = f.n_tensors;
    octet_file_close(&f);
    return 0;
}
// Same input and options give the same bytes; the kept tensors are the most sensitive ones.
static void calibrated_conversion_is_deterministic(void) {
    SKIP_WITHOUT_STORIES();
    const char *cmd = "./octet convert %s -o %s --type q8g32 --smooth 0.5 --keep-f16 3 --calib %s --quiet";
    char *out = NULL;
    int rc = run_cmd(&out, cmd, stories(), "tests/out/stories.cal1.octet", shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, cmd, stories(), "tests/out/stories.cal2.octet", shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    CHECK(same_bytes("tests/out/stories.cal1.octet", "tests/out/stories.cal2.octet"), "two calibrated conversions differ");
    CHECK(!file_exists("tests/out/stories.cal1.octet.calib-f32.tmp"), "calibration temp file left behind");

    octet_file f;
    if (octet_file_open(&f, "tests/out/stories.cal1.octet") != 0) { CHECK(0, "%s", octet_last_error()); return; }
    float *sens = file_sensitivities(&f);
    CHECK(sens != NULL, "no per-tensor sensitivities in the metadata");
    float min_kept = INFINITY, max_rest = 0;
    int kept = 0, measured = 0, g32 = 0;
    for (uint64_t i = 0; sens && i < f.n_tensors; i++) {
        const octet_tensor *t = &f.tensors[i];
        if (t->n_dims != 2) { CHECK(sens[i] < 0, "%s: a vector has a sensitivity", t->name); continue; }
        measured += sens[i] > 0;
        g32 += t->dtype == OCTET_Q8G32;
        if (t->dtype == OCTET_F16) { kept++; min_kept = fminf(min_kept, sens[i]); }
        else max_rest = fmaxf(max_rest, sens[i]);
    }
    CHECK(kept == 3 && min_kept >= max_rest, "kept %d tensors; least sensitive kept %g, most sensitive quantized %g", kept, min_kept, max_rest);
    CHECK(measured == 36 && g32 > 0, "%d matrices with a measured sensitivity (36 expected), %d q8g32", measured, g32);
    free(sens);
    octet_file_close(&f);
    rc = run_cmd(&out, "./octet info -m tests/out/stories.cal1.octet");
    const char *want[] = {"calibration", "fortunes-dev.txt", "512 tokens", "alpha 0.5", "3 tensors kept in f16", "KL alone"};
    for (unsigned i = 0; i < sizeof want / sizeof *want; i++) CHECK(rc == 0 && out && strstr(out, want[i]), "octet info lacks '%s'", want[i]);
    free(out);
    rc = run_cmd(&out, "./octet run -m tests/out/stories.cal1.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    CHECK(rc == 0 && out && strstr(out, "Lily"), "calibrated model does not tell the story: %s", out ? out : "");
    free(out);
}

// octet convert with no options writes q8g32h smoothed on the text built into the converter, the
// same from any working directory (here one with no ../shared beside it); --calib builtin names it.
static void default_conversion_is_q8g32h_on_the_builtin_text(void) {
    char bin[4096], tok[4096];
    SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin");
    SKIP_WITHOUT_SHARED("models/stories260K/tok512.bin");
    CHECK(realpath(shared_path("models/stories260K/stories260K.bin"), bin) && realpath(shared_path("models/stories260K/tok512.bin"), tok), "realpath");
    char *out = NULL;
    int rc = run_cmd(&out, "cd tests/out && ../../octet convert %s --tokenizer %s -o stories.default.octet --quiet", bin, tok);
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet convert %s --tokenizer %s -o tests/out/stories.builtin.octet --type q8g32h --calib builtin --quiet", bin, tok);
    CHECK(rc == 0, "convert --calib builtin: %s", out ? out : "");
    free(out);
    CHECK(same_bytes("tests/out/stories.default.octet", "tests/out/stories.builtin.octet"), "the default differs from --type q8g32h --calib builtin");
    rc = run_cmd(&out, "./octet info -m tests/out/stories.default.octet");
    const char *want[] = {"file type       q8g32h", "calibration     builtin", "512 tokens", "alpha 0.5", "f16 scales"};
    for (unsigned i = 0; i < sizeof want / sizeof *want; i++) CHECK(rc == 0 && out && strstr(out, want[i]), "octet info lacks '%s'", want[i]);
    free(out);
    rc = run_cmd(&out, "./octet run -m tests/out/stories.default.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    CHECK(rc == 0 && out && strstr(out, "Lily"), "the default file does not tell the story: %s", out ? out : "");
    free(out);
    remove("tests/out/stories.default.octet");
    remove("tests/out/stories.builtin.octet");
}

// --max-kl X keeps the fewest most-sensitive tensors that bring the sum of the rest to <= X.
static void max_kl_budget_is_respected(void) {
    SKIP_WITHOUT_STORIES();
    float *sens;
    uint64_t n;
    if (calibrated_sensitivities(&sens, &n) != 0) SKIP("needs calibrated_conversion_is_deterministic");
    CHECK(sens, "the calibrated file has no quant.sensitivity");
    if (!sens) return;
    double total = 0;
    for (uint64_t i = 0; i < n; i++) total += sens[i] > 0 ? sens[i] : 0;
    octet_file f;
    double budget = total * 0.6;
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.maxkl.octet --type q8g32 --smooth 0.5 --max-kl %.9f --calib %s --quiet",
                     stories(), budget, shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    if (octet_file_open(&f, "tests/out/stories.maxkl.octet") != 0) { CHECK(0, "%s", octet_last_error()); free(sens); return; }
    double rest = 0, min_kept = INFINITY;
    int kept = 0;
    for (uint64_t i = 0; sens && i < f.n_tensors; i++) {
        if (f.tensors[i].n_dims != 2) continue;
        if (f.tensors[i].dtype == OCTET_F16) { kept++; min_kept = fmin(min_kept, sens[i]); }
        else rest += sens[i];
    }
    CHECK(kept > 0 && rest <= budget * (1 + 1e-6) && rest + min_kept > budget, "kept %d, rest %g, budget %g", kept, rest, budget);
    CHECK(fabs(octet_kv_f32(&f, "quant.estimated_kl", -1) - rest) <= 1e-6 + 1e-4 * rest, "estimated KL %g vs %g", (double)octet_kv_f32(&f, "quant.estimated_kl", -1), rest);
    octet_file_close(&f);
    free(sens);
}

// --f16-budget PCT alone: the f16 tensors add at most PCT% to the tensor data, and no more
// sensitive quantized tensor would have fit in what is left.
static void f16_budget_is_respected(void) {
    SKIP_WITHOUT_STORIES();
    float *sens;
    uint64_t n;
    if (calibrated_sensitivities(&sens, &n) != 0) SKIP("needs calibrated_conversion_is_deterministic");
    octet_file f;
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.budget.octet --type q8g32 --smooth 0.5 --f16-budget 10 --calib %s --quiet",
                     stories(), shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    if (!sens || octet_file_open(&f, "tests/out/stories.budget.octet") != 0) { CHECK(0, "%s", octet_last_error()); free(sens); return; }
    double base = 0, extra = 0;
    int kept = 0;
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const octet_tensor *t = &f.tensors[i];
        uint64_t q = t->nbytes;
        if (t->dtype == OCTET_F16) octet_tensor_nbytes(t->cols % 32 ? OCTET_Q8 : OCTET_Q8G32, t->rows, t->cols, &q);
        base += (double)q;
        if (t->dtype == OCTET_F16) { kept++; extra += (double)(t->nbytes - q); }
    }
    CHECK(kept > 0 && extra <= 0.10 * base, "kept %d tensors adding %.0f bytes to %.0f (limit 10%%)", kept, extra, base);
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const octet_tensor *t = &f.tensors[i];
        if (t->n_dims != 2 || t->dtype == OCTET_F16) continue;
        double more = 2.0 * (double)(t->rows * t->cols) - (double)t->nbytes;
        int outranks_a_kept = 0;
        for (uint64_t j = 0; j < f.n_tensors; j++) outranks_a_kept |= f.tensors[j].dtype == OCTET_F16 && sens[i] > sens[j];
        CHECK(!(outranks_a_kept && extra + more <= 0.10 * base), "%s is more sensitive than a kept tensor and would fit", t->name);
    }
    octet_file_close(&f);
    free(sens);
}

// --act int8, int8-asym and int8-sym's perplexity JSON of a file on fortunes-dev (timing cut).
static void act_results(const char *path, char *text[3]) {
    const char *acts[3] = {"int8", "int8-asym", "int8-sym"};
    for (int a = 0; a < 3; a++) {
        text[a] = NULL;
        int rc = run_cmd(&text[a], "./octet perplexity -m %s -f %s -c 128 --chunks 2 --act %s --json 2>/dev/null", path, shared_path("data/fortunes-dev.txt"), acts[a]);
        CHECK(rc == 0 && text[a], "%s: perplexity --act %s", path, acts[a]);
        char *t = text[a] ? strstr(text[a], ",\"seconds\"") : NULL;
        if (t) *t = 0;  // timing differs between runs
    }
}

// --f32-act N marks the N int8 tensors whose measured KL drops most with f32 activations, and
// --act-quant asym makes asymmetric activations the file's int8 mode (measured that way too).
static void f32_act_and_asym_activations(void) {
    SKIP_WITHOUT_STORIES();
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.act.octet --type q8g32 --f32-act 2 --act-quant asym --calib %s --quiet",
                     stories(), shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    octet_file f;
    if (octet_file_open(&f, "tests/out/stories.act.octet") != 0) { CHECK(0, "%s", octet_last_error()); return; }
    float *sens = file_sensitivities(&f), *wo = file_floats(&f, "quant.sensitivity_f32_act");
    CHECK(sens && wo, "no sensitivities with and without int8 activations in the metadata");
    double total = 0, min_marked = INFINITY, max_rest = -INFINITY;
    int marked = 0;
    for (uint64_t i = 0; sens && wo && i < f.n_tensors; i++) {
        const octet_tensor *t = &f.tensors[i];
        if (t->n_dims != 2) continue;
        total += sens[i];
        double gain = sens[i] - wo[i];
        if (t->act_f32) { marked++; min_marked = fmin(min_marked, gain); total -= gain; }
        else max_rest = fmax(max_rest, gain);
    }
    CHECK(marked == 2 && min_marked > 0 && min_marked >= max_rest, "marked %d; smallest marked gain %g, largest unmarked %g", marked, min_marked, max_rest);
    CHECK(fabs(octet_kv_f32(&f, "quant.estimated_kl", -1) - total) <= 1e-6 + 1e-4 * total, "estimated KL %g vs %g", (double)octet_kv_f32(&f, "quant.estimated_kl", -1), total);
    uint64_t n = 0;
    const char *aq = octet_kv_str(&f, "quant.act_quant", &n);
    CHECK(aq && n == 4 && !memcmp(aq, "asym", 4), "quant.act_quant is not asym");
    octet_file_close(&f);
    free(sens); free(wo);
    rc = run_cmd(&out, "./octet info -m tests/out/stories.act.octet");
    CHECK(rc == 0 && out && strstr(out, "2 int8 tensors run with f32 activations") && strstr(out, "   f32 activations\n"), "octet info: %s", out ? out : "");
    free(out);
    // int8 on this file is int8-asym; int8-sym differs; the story survives both
    char *text[3];
    act_results("tests/out/stories.act.octet", text);
    CHECK(text[0] && text[1] && !strcmp(text[0], text[1]), "--act int8 on an asym file is not int8-asym");
    CHECK(text[0] && text[2] && strcmp(text[0], text[2]), "int8-sym gives the same result as int8-asym");
    for (int a = 0; a < 3; a++) free(text[a]);
    rc = run_cmd(&out, "./octet run -m tests/out/stories.act.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    CHECK(rc == 0 && out && strstr(out, "Lily"), "asym model does not tell the story: %s", out ? out : "");
    free(out);
    // the GPU quantizes symmetrically: said on stderr whether or not this build or machine has one
    run_cmd(&out, "./octet run -m tests/out/stories.act.octet -p 'Once' -n 1 --device cuda 2>&1 >/dev/null");
    CHECK(out && strstr(out, "warning: tests/out/stories.act.octet was converted for asymmetric int8 activations"), "no warning for an asym file on the GPU: %s", out ? out : "");
    free(out);
}

// The names in quant.asym_act of a file, joined by spaces ("" when the key is absent).
static void asym_marks(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    octet_file f;
    if (octet_file_open(&f, path) != 0) { CHECK(0, "%s", octet_last_error()); return; }
    for (uint64_t i = 0; i < f.n_tensors; i++)
        if (f.tensors[i].act_asym) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? " " : "", f.tensors[i].name);
    octet_file_close(&f);
}

// The default --act-quant mixed marks the LM head and the down projections for asymmetric
// activations (quant.asym_act): `--act int8` then runs those asymmetric and the rest symmetric,
// so it differs from both int8-sym and int8-asym; --asym-act picks other roles, sym and none none;
// --type q8 is symmetric unless asked.
static void mixed_asym_activations(void) {
    SKIP_WITHOUT_STORIES();
    struct { const char *args, *want; } cases[] = {
        {"", "token_embd.weight blk.0.ffn_down.weight blk.1.ffn_down.weight blk.2.ffn_down.weight blk.3.ffn_down.weight blk.4.ffn_down.weight"},
        {"--asym-act attn_v,head", "token_embd.weight blk.0.attn_v.weight blk.1.attn_v.weight blk.2.attn_v.weight blk.3.attn_v.weight blk.4.attn_v.weight"},
        {"--asym-act none", ""},
        {"--act-quant sym", ""},
        {"--type q8", ""},
        {"--type q8 --act-quant mixed --asym-act ffn_down", "blk.0.ffn_down.weight blk.1.ffn_down.weight blk.2.ffn_down.weight blk.3.ffn_down.weight blk.4.ffn_down.weight"},
        {"--act-quant asym", ""},
    };
    char got[4096];
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.mixed.octet --calib %s --quiet %s", stories(), shared_path("data/fortunes-dev.txt"), cases[i].args);
        CHECK(rc == 0, "convert %s: %s", cases[i].args, out ? out : "");
        free(out);
        asym_marks("tests/out/stories.mixed.octet", got, sizeof got);
        // (the tensor table's order: the head first, then each layer's tensors)
        char sorted[4096] = "";
        const char *order[] = {"token_embd", "blk.0.", "blk.1.", "blk.2.", "blk.3.", "blk.4."};
        for (unsigned o = 0; o < 6; o++)
            for (char *s = got; *s;) {
                size_t n = strcspn(s, " ");
                if (!strncmp(s, order[o], strlen(order[o]))) snprintf(sorted + strlen(sorted), sizeof sorted - strlen(sorted), "%s%.*s", sorted[0] ? " " : "", (int)n, s);
                s += n + (s[n] == ' ');
            }
        CHECK(!strcmp(sorted, cases[i].want), "convert %s marks '%s', expected '%s'", cases[i].args, sorted, cases[i].want);
    }
    // the default again: int8 is neither int8-sym nor int8-asym, and tells the story
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert %s -o tests/out/stories.mixed.octet --calib %s --quiet", stories(), shared_path("data/fortunes-dev.txt"));
    CHECK(rc == 0, "convert: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet info -m tests/out/stories.mixed.octet");
    CHECK(rc == 0 && out && strstr(out, "asymmetric for 6 matrices") && strstr(out, "   asymmetric activations\n"), "octet info: %s", out ? out : "");
    free(out);
    char *text[3];
    act_results("tests/out/stories.mixed.octet", text);
    CHECK(text[0] && text[1] && strcmp(text[0], text[1]), "--act int8 on a mixed file gives int8-asym's result");
    CHECK(text[0] && text[2] && strcmp(text[0], text[2]), "--act int8 on a mixed file gives int8-sym's result");
    for (int a = 0; a < 3; a++) free(text[a]);
    rc = run_cmd(&out, "./octet run -m tests/out/stories.mixed.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    CHECK(rc == 0 && out && strstr(out, "Lily"), "the mixed file does not tell the story: %s", out ? out : "");
    free(out);
    remove("tests/out/stories.mixed.octet");
}

// octet convert --gptq on stories260K: the same bytes twice, other bytes than plain rounding,
// the file says so, and it still tells the stories the f32 model tells.
static void gptq_conversion(void) {
    SKIP_WITHOUT_STORIES();
    const char *cmd = "./octet convert %s -o %s --type q8 --calib %s --quiet %s";
    char *out = NULL;
    const char *fd = shared_path("data/fortunes-dev.txt");
    int rc = run_cmd(&out, cmd, stories(), "tests/out/stories.gptq1.octet", fd, "--gptq");
    CHECK(rc == 0, "convert --gptq: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, cmd, stories(), "tests/out/stories.gptq2.octet", fd, "--gptq");
    free(out);
    rc |= run_cmd(&out, "./octet convert %s -o tests/out/stories.plain.octet --type q8 --calib none --quiet", stories());
    free(out);
    CHECK(rc == 0, "conversions failed");
    CHECK(same_bytes("tests/out/stories.gptq1.octet", "tests/out/stories.gptq2.octet"), "two GPTQ conversions differ");
    CHECK(!same_bytes("tests/out/stories.gptq1.octet", "tests/out/stories.plain.octet"), "GPTQ gave plain rounding's bytes");
    rc = run_cmd(&out, "./octet info -m tests/out/stories.gptq1.octet");
    CHECK(rc == 0 && out && strstr(out, "GPTQ"), "octet info does not say GPTQ: %s", out ? out : "");
    free(out);
    char *a = NULL, *b = NULL;
    run_cmd(&a, "./octet run -m tests/out/stories.gptq1.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    run_cmd(&b, "./octet run -m tests/out/stories.f32.octet -p 'Once upon a time' -n 24 --temp 0 2>/dev/null");
    CHECK(a && b && !strncmp(a, b, 40), "GPTQ story '%.60s' vs f32 '%.60s'", a ? a : "", b ? b : "");
    free(a); free(b);
}

static void calibration_bad_input(void) {
    SKIP_WITHOUT_STORIES();
    FILE *fp = fopen("tests/out/short.txt", "w");
    if (fp) { fputs("Too short.", fp); fclose(fp); }
    struct { const char *args, *want; } cases[] = {
        {"--calib tests/out/missing.txt --smooth 0.5", "missing.txt"},
        {"--calib none --keep-f16 2", "--calib"},
        {"--calib tests/out/short.txt --smooth 0.5", "too short"},
        {"--smooth 2", "--smooth"},
        {"--max-kl -1", "--max-kl"},
        {"--calib-tokens 3", "--calib-tokens"},
        {"--f16-budget lots", "--f16-budget"},
        {"--calib none --f16-budget 5", "--calib"},
        {"--calib none --f32-act 2", "--calib"},
        {"--f32-act -1", "--f32-act"},
        {"--act-quant zero", "--act-quant"},
        {"--asym-act ffn_down,lm_head", "--asym-act: unknown role 'lm_head'"},
        {"--calib none --gptq", "--calib"},
        {"--type f16 --gptq", "--gptq"},
        {"--gptq-damp 0", "--gptq-damp"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int rc = run_cmd(&out, "./octet convert %s -o tests/out/bad-cal.octet %s 2>&1", stories(), cases[i].args);
        CHECK(rc != 0 && out && strstr(out, cases[i].want) && !strchr(strchr(out, '\n') ? strchr(out, '\n') + 1 : "", '\n'),
              "%s: rc %d, output: %s", cases[i].args, rc, out ? out : "");
        CHECK(!file_exists("tests/out/bad-cal.octet") && !file_exists("tests/out/bad-cal.octet.calib-f32.tmp"), "%s: left a file behind", cases[i].args);
        free(out);
    }
}

int main(void) {
    RUN(smoothing_folds_exactly_stories260k);
    RUN(smoothing_folds_exactly_smollm2);
    RUN(calibrated_conversion_is_deterministic);
    RUN(default_conversion_is_q8g32h_on_the_builtin_text);
    RUN(gptq_conversion);
    RUN(max_kl_budget_is_respected);
    RUN(f16_budget_is_respected);
    RUN(f32_act_and_asym_activations);
    RUN(mixed_asym_activations);
    RUN(calibration_bad_input);
    CHECK_DONE();
}
