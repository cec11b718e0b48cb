// The CUDA backend against the CPU scalar reference (built with make CUDA=1; every test skips
// when no GPU is present). Integer kernels must agree bit for bit; the whole forward pass must
// pick the same tokens as the CPU on stories260K and the SmolLM2 fixture prompts.
#include "check.h"
#include "json.h"
#include "kernels.h"
#include "octet.h"
#include "octet_cuda.h"
#include "util.h"
#include <math.h>

#define SMOL_Q8 "models/smollm2-135m-instruct.q8.octet"
#define STORIES_Q8 "tests/out/cuda-stories260K.q8.octet"

static int have_gpu(void) {
    char buf[256];
    return octet_cuda_describe(buf, sizeof buf) > 0;
}

static uint64_t rng = 0x1234567;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 11); }
static float rndf(void) { return (float)(rnd() % 2000001) / 1e6f - 1.0f; }

// fill: 0 random, 1 all +-127 (extremes), 2 zeros in some rows
static void fill_i8(int8_t *v, size_t n, int k, int fill) {
    for (size_t i = 0; i < n; i++) {
        if (fill == 1) v[i] = (rnd() & 1) ? 127 : -127;
        else v[i] = (int8_t)((int)(rnd() % 255) - 127);
        if (fill == 2 && (i / (size_t)k) % 3 == 1) v[i] = 0;
    }
}

// grouped: one weight scale per 32 (wg, q8g32 on the GPU) and a row scale of 1, kinds 0-3 and 7.
static void one_matmul_case(int kind, int m, int n, int k, int fill, int grouped) {
    int nb = (k + 31) / 32;
    int8_t *x = malloc((size_t)m * k), *w = malloc((size_t)n * k);
    float *xs = malloc((size_t)m * nb * 4), *ws = malloc((size_t)n * 4), *yf = malloc((size_t)m * n * 4);
    float *wg = grouped ? malloc((size_t)n * nb * 4) : NULL;
    int32_t *yi = malloc((size_t)m * n * 4);
    fill_i8(x, (size_t)m * k, k, fill);
    fill_i8(w, (size_t)n * k, k, fill);
    for (int i = 0; i < m * nb; i++) xs[i] = 0.001f + (float)(rnd() % 1000) / 1e5f;
    for (int i = 0; i < n; i++) ws[i] = grouped ? 1.0f : 0.0005f + (float)(rnd() % 1000) / 1e6f;
    for (int i = 0; grouped && i < n * nb; i++) wg[i] = (i % 7 == 3) ? 0.0f : 0.0005f + (float)(rnd() % 1000) / 1e6f;   // (some zero groups)
    CHECK(octet_cuda_test_matmul(kind, m, n, k, x, xs, w, ws, wg, yi, yf) == 0, "%s", octet_last_error());
    int bad_i = 0, bad_f = 0;
    double worst = 0;
    for (int r = 0; r < m; r++)
        for (int c = 0; c < n; c++) {
            const int8_t *xr = x + (size_t)r * k, *wr = w + (size_t)c * k;
            int32_t ref = k_dot_i8(xr, wr, k);
            if (yi[(size_t)r * n + c] != ref) bad_i++;
            double acc = 0, mag = 0;
            for (int b = 0; b < nb; b++) {
                int len = k - b * 32 < 32 ? k - b * 32 : 32;   // (kinds 4-6, 8, 9: one scale per row, xs[r * nb])
                double d = (double)k_dot_i8(xr + b * 32, wr + b * 32, len) * xs[(size_t)r * nb + (kind >= 4 && kind != 7 ? 0 : b)] * (wg ? wg[(size_t)c * nb + b] : 1.0);
                acc += d;
                mag += fabs(d);
            }
            acc *= ws[c];
            mag *= ws[c];
            double err = fabs(yf[(size_t)r * n + c] - acc) / (mag > 0 ? mag : 1);
            if (!(err <= 1e-5)) bad_f++;
            if (err > worst) worst = err;
        }
    static const char *names[] = {"dp4a", "imma 128", "streaming decode gemv", "imma 64", "imma per-token scale", "imma 64 per-token scale", "dp4a per-token scale",
                                  "imma 64 split-k", "imma 128 split-k per-token scale", "streaming decode gemv per-token scale"};
    CHECK(bad_i == 0, "%s%s m=%d n=%d k=%d fill=%d: %d int32 results differ from k_dot_i8", names[kind], grouped ? " grouped" : "", m, n, k, fill, bad_i);
    CHECK(bad_f == 0, "%s%s m=%d n=%d k=%d fill=%d: %d f32 results off (worst %.2e relative)", names[kind], grouped ? " grouped" : "", m, n, k, fill, bad_f, worst);
    free(x); free(w); free(xs); free(ws); free(wg); free(yf); free(yi);
}

static void cuda_int8_matmuls_match_scalar(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    static const int shapes[][3] = {{1, 1, 32}, {3, 67, 96}, {5, 130, 100}, {1, 576, 576}, {8, 1536, 576}, {17, 64, 576},
                                    {70, 129, 1536}, {64, 64, 64}, {129, 193, 5632}, {2, 33, 16384}, {100, 70, 16384}, {300, 260, 96}, {257, 384, 2080}, {40, 64, 172}, {40, 344, 64}};
    for (unsigned i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int kind = 0; kind < 10; kind++)
            for (int fill = 0; fill < 3; fill++) one_matmul_case(kind, shapes[i][0], shapes[i][1], shapes[i][2], fill, 0);
}

// Grouped int8 (q8g32, q8g32h) stays int8 on the GPU: every f32 path (DP4A for 1 and 3 tokens,
// the streaming decode GEMV, the tensor-core GEMM with 64- and 128-row tiles and split over k)
// scales each block by its weight scale as well, against the exact sum.
static void cuda_grouped_int8_matmuls_match_scalar(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    static const int shapes[][3] = {{1, 1, 32}, {3, 67, 96}, {1, 576, 576}, {8, 1536, 576}, {70, 129, 1536}, {129, 193, 5632}, {2, 33, 16384}, {257, 384, 2080}, {40, 64, 172}};
    static const int kinds[] = {0, 1, 2, 3, 7};
    for (unsigned i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (unsigned j = 0; j < sizeof kinds / sizeof *kinds; j++)
            for (int fill = 0; fill < 3; fill++) one_matmul_case(kinds[j], shapes[i][0], shapes[i][1], shapes[i][2], fill, 1);
}

static void cuda_quantize_matches_scalar(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    static const int ks[] = {32, 64, 100, 576, 1536, 5632, 16384};
    for (unsigned t = 0; t < sizeof ks / sizeof *ks; t++)
        for (int row_mode = 0; row_mode < 2; row_mode++) {
            int k = ks[t], m = 5, kp = (k + 31) / 32 * 32, nb = kp / 32;
            if (!row_mode && k % 32) continue;  // the CPU quantizes such rows per row only
            float *x = malloc((size_t)m * k * 4), *s = malloc((size_t)m * nb * 4), *rs = malloc((size_t)m * nb * 4);
            int8_t *q = malloc((size_t)m * kp), *rq = malloc((size_t)m * kp);
            for (int i = 0; i < m * k; i++) x[i] = rndf() * (i % 7 == 0 ? 40.0f : 1.0f);
            for (int i = 0; i < k; i++) x[2 * k + i] = 0;  // an all-zero row
            CHECK(octet_cuda_test_quantize(x, m, k, row_mode, q, s) == 0, "%s", octet_last_error());
            int bad = 0;
            for (int r = 0; r < m; r++) {
                if (row_mode) k_quantize_row_i8(x + (size_t)r * k, k, rq + (size_t)r * kp, rs + (size_t)r * nb);
                else k_quantize_row_i8_blocks(x + (size_t)r * k, k, 32, rq + (size_t)r * kp, rs + (size_t)r * nb);
                for (int i = 0; i < k; i++) bad += q[(size_t)r * kp + i] != rq[(size_t)r * kp + i];
                for (int i = k; i < kp; i++) bad += q[(size_t)r * kp + i] != 0;
                for (int b = 0; b < (row_mode ? 1 : nb); b++) bad += s[(size_t)r * nb + b] != rs[(size_t)r * nb + b];
            }
            CHECK(bad == 0, "k=%d row_mode=%d: %d values differ from the CPU", k, row_mode, bad);
            free(x); free(s); free(rs); free(q); free(rq);
        }
}

static int test_act = OCTET_ACT_INT8;   // activation mode of the sessions the tests open

static octet_session *session(const octet_model *m, int device, int n_ctx) {
    octet_session_params p = {n_ctx, 512, 2, test_act, 0, device};
    octet_session *s = octet_session_new(m, &p);
    CHECK(s != NULL, "%s", octet_last_error());
    return s;
}

// Compares all-position logits and a greedy continuation of one prompt on CPU and GPU.
// Returns the number of greedy tokens that agree; adds to the top-1 agreement counters.
static int compare_prompt(const octet_model *m, const int32_t *ids, int np, int n_gen, int *agree, int *positions, double *worst) {
    int V = octet_vocab_size(m);
    float *lc = malloc((size_t)np * V * 4), *lg = malloc((size_t)np * V * 4);
    octet_session *cpu = session(m, OCTET_DEVICE_CPU, 1024), *gpu = session(m, OCTET_DEVICE_CUDA, 1024);
    if (!cpu || !gpu || !lc || !lg) { octet_session_free(cpu); octet_session_free(gpu); free(lc); free(lg); return 0; }
    CHECK(octet_eval(cpu, ids, np, lc, 1) == 0 && octet_eval(gpu, ids, np, lg, 1) == 0, "%s", octet_last_error());
    for (int p = 0; p < np; p++) {
        float mx = 0, d = 0;
        for (int i = 0; i < V; i++) { mx = fmaxf(mx, fabsf(lc[(size_t)p * V + i])); d = fmaxf(d, fabsf(lc[(size_t)p * V + i] - lg[(size_t)p * V + i])); }
        if (d / mx > *worst) *worst = d / mx;
        *agree += octet_argmax(lc + (size_t)p * V, V) == octet_argmax(lg + (size_t)p * V, V);
        (*positions)++;
    }
    // The same prompt one token at a time on the GPU (the decode path: GEMV + graph).
    octet_session_reset(gpu);
    double worst_step = 0;
    for (int p = 0; p < np; p++) {
        CHECK(octet_eval(gpu, ids + p, 1, lg, 0) == 0, "%s", octet_last_error());
        float mx = 0, d = 0;
        for (int i = 0; i < V; i++) { mx = fmaxf(mx, fabsf(lc[(size_t)p * V + i])); d = fmaxf(d, fabsf(lc[(size_t)p * V + i] - lg[i])); }
        if (d / mx > worst_step) worst_step = d / mx;
    }
    printf("  %d-token prompt: logits within %.1e (prompt batch) / %.1e (one token at a time) of max|logit|\n", np, *worst, worst_step);
    octet_session_reset(cpu); octet_session_reset(gpu);
    int32_t a = 0, b = 0, same = 0;
    CHECK(octet_eval_greedy(cpu, ids, np, &a) == 0 && octet_eval_greedy(gpu, ids, np, &b) == 0, "%s", octet_last_error());
    while (same < n_gen && a == b) {
        same++;
        if (octet_is_end_token(m, a)) { same = n_gen; break; }
        if (octet_eval_greedy(cpu, &a, 1, &a) != 0 || octet_eval_greedy(gpu, &b, 1, &b) != 0) break;
    }
    octet_session_free(cpu); octet_session_free(gpu);
    free(lc); free(lg);
    return same;
}

// stories260K (hid 172: its down-projection input is always quantized per row) on CPU and GPU.
static void stories260k_compare(int act) {
    if (!have_gpu()) SKIP("no CUDA device");
    SKIP_WITHOUT_SHARED("models/stories260K/stories260K.bin");
    if (!file_exists(STORIES_Q8))
        run_cmd(NULL, "./octet convert %s --tokenizer %s -o %s --quiet", shared_path("models/stories260K/stories260K.bin"), shared_path("models/stories260K/tok512.bin"), STORIES_Q8);
    octet_model *m = octet_load(STORIES_Q8);
    CHECK(m != NULL, "%s", octet_last_error());
    if (!m) return;
    test_act = act;
    int32_t prompt[40] = {1};
    for (int i = 1; i < 40; i++) prompt[i] = 260 + (i * 37) % 200;
    int agree = 0, positions = 0;
    double worst = 0;
    int same = compare_prompt(m, prompt, 1, 200, &agree, &positions, &worst);
    compare_prompt(m, prompt, 40, 10, &agree, &positions, &worst);
    test_act = OCTET_ACT_INT8;
    printf("  stories260K --act %s: greedy equal for %d/200 tokens, top-1 %d/%d positions, logits within %.1e of max|logit|\n", octet_act_name(act), same, agree,
           positions, worst);
    // Measured on an H100: greedy equal for 113 (int8) and 189 (int8-row) tokens, then a near tie
    // resolves differently under another float summation order. Logits: within 3.3e-7 with
    // int8-row; with int8 the 40-token prompt batch is 1.5e-2 off from position 14 on, because
    // one int8 input of layer 3's down projection (token 14) lies within float rounding of a
    // rounding tie and becomes -8 on the GPU, -7 on the CPU (checked by dumping both sides'
    // inputs; the GEMM's results were exact for its inputs). In a 64-wide model one such step
    // moves the logits by about 1e-2, so that is the bound; every kernel is held to exact
    // int32 results by cuda_int8_matmuls_match_scalar.
    CHECK(same >= 100, "GPU greedy diverges from the CPU after %d tokens", same);
    CHECK(agree == positions, "top-1 differs at %d of %d positions", positions - agree, positions);
    CHECK(worst < 5e-2, "logits differ by %.2e", worst);
    octet_free(m);
}

static void cuda_stories260k_same_tokens_as_cpu(void) { stories260k_compare(OCTET_ACT_INT8); }
// One activation scale per token: the GEMM and GEMV sum whole rows in int32 and scale once, as
// the CPU does.
static void cuda_stories260k_int8_row_same_tokens_as_cpu(void) { stories260k_compare(OCTET_ACT_INT8_ROW); }

static void smollm2_fixtures_compare_file(const char *path, int act) {
    if (!have_gpu()) SKIP("no CUDA device");
    if (!file_exists(path)) SKIP("run make models");
    size_t n;
    char *text = octet_read_file("tests/fixtures/smollm2-ref.json", &n), err[128];
    json *root = text ? json_parse(text, n, err, sizeof err) : NULL;
    free(text);
    const json *cases = json_get(root, "cases");
    octet_model *m = octet_load(path);
    CHECK(m && cases, "%s", octet_last_error());
    if (!m || !cases) { json_free(root); octet_free(m); return; }
    test_act = act;
    int agree = 0, positions = 0, all_equal = 0;
    double worst = 0;
    for (size_t c = 0; c < cases->len; c++) {
        const json *ids = json_get(cases->items[c], "ids");
        int32_t *v = malloc(ids->len * sizeof *v);
        for (size_t i = 0; i < ids->len; i++) v[i] = (int32_t)ids->items[i]->num;
        int same = compare_prompt(m, v, (int)ids->len, 64, &agree, &positions, &worst);
        all_equal += same == 64;
        printf("  prompt %zu (%zu tokens): GPU greedy equals the CPU for %d/64 tokens\n", c, ids->len, same);
        free(v);
    }
    test_act = OCTET_ACT_INT8;
    printf("  %s --act %s: top-1 agreement GPU vs CPU %d/%d positions, logits within %.1e of max|logit|, %d/%zu prompts identical for 64 tokens\n",
           path, octet_act_name(act), agree, positions, worst, all_equal, cases->len);
    // INT8 activations amplify float rounding: on the CPU alone, moving the RMSNorm scale by
    // one ulp changes SmolLM2's logits by up to 3.9e-2 of max|logit| (README, GPU section). The
    // GPU sums in another order, so it is held to that noise level, not to identical bits. One
    // scale per token (int8-row) makes each int8 step coarser, and so each rounding flip larger
    // (measured on an H100: top-1 402/414 and 7.0e-2 with int8, 383/414 and 2.5e-1 with
    // int8-row, whose perplexity KL is 5x int8's: docs/QUALITY.md).
    int row = act == OCTET_ACT_INT8_ROW;
    CHECK(agree >= positions * (row ? 90 : 95) / 100, "top-1 agreement %d/%d", agree, positions);
    CHECK(worst < (row ? 0.3 : 0.1), "logits differ by %.2e of max|logit|", worst);
    json_free(root);
    octet_free(m);
}

static void cuda_smollm2_fixture_prompts_match_cpu(void) { smollm2_fixtures_compare_file(SMOL_Q8, OCTET_ACT_INT8); }
static void cuda_smollm2_int8_row_fixture_prompts_match_cpu(void) { smollm2_fixtures_compare_file(SMOL_Q8, OCTET_ACT_INT8_ROW); }
// The default file (q8g32h: int8 with an f16 scale per 32 weights) runs in int8 on the GPU with
// its group scales (it went up as f16 before); the GPU has no asymmetric activations, so both
// sides run int8-sym.
static void cuda_smollm2_default_file_fixture_prompts_match_cpu(void) { smollm2_fixtures_compare_file("models/smollm2-135m-instruct.octet", OCTET_ACT_INT8_SYM); }

// SmolLM2 when converted; else its shape with random weights (enough for the tests that compare
// two GPU paths, or the GPU and the CPU on the same logits).
static octet_model *smollm2_or_its_shape(void) {
    const char *path = file_exists(SMOL_Q8) ? SMOL_Q8 : "tests/out/cuda-synthetic-smollm2.octet";
    if (!file_exists(path)) run_cmd(NULL, "./octet convert --synthetic smollm2-135m -o %s --quiet", path);
    printf("  model: %s\n", path);
    octet_model *m = octet_load(path);
    CHECK(m != NULL, "%s", octet_last_error());
    return m;
}

// Greedy decode of n tokens after a prompt, one token at a time, keeping every step's logits.
static void decode_steps(const octet_model *m, const int32_t *prompt, int np, int n, float *logits, int32_t *ids) {
    octet_session *s = session(m, OCTET_DEVICE_CUDA, 512);
    if (!s) return;
    int V = octet_vocab_size(m);
    int32_t next = 0;
    CHECK(octet_eval_greedy(s, prompt, np, &next) == 0, "%s", octet_last_error());
    for (int i = 0; i < n; i++) {
        ids[i] = next;
        CHECK(octet_eval(s, &next, 1, logits + (size_t)i * V, 0) == 0, "%s", octet_last_error());
        int32_t g = 0;
        octet_session_reset(s);  // the greedy pick of the same step, through the GPU argmax
        CHECK(octet_eval_greedy(s, prompt, np, &g) == 0, "%s", octet_last_error());
        for (int j = 0; j <= i; j++) CHECK(octet_eval_greedy(s, &ids[j], 1, &g) == 0, "%s", octet_last_error());
        CHECK(g == octet_argmax(logits + (size_t)i * V, V), "step %d: GPU argmax %d, argmax of the logits %d", i, g, octet_argmax(logits + (size_t)i * V, V));
        next = octet_argmax(logits + (size_t)i * V, V);
    }
    octet_session_free(s);
}

// The decode step (one-kernel attention, streaming GEMV) against the plain kernels (RoPE,
// attention and merge as three kernels, the DP4A GEMV one row per warp), and each with and
// without programmatic launch, which must not change a bit: a difference there is a race or a
// missing pdl_wait.
static void cuda_decode_kernels_match_plain_kernels(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    octet_model *m = smollm2_or_its_shape();
    if (!m) return;
    enum { N = 24, MODES = 4 };
    int V = octet_vocab_size(m);
    int32_t prompt[] = {1, 9690, 314, 260, 3575, 282, 4649, 47}, ids[MODES][N];
    float *lg[MODES];
    // OCTET_CUDA_PDL, and OCTET_CUDA_MERGE = OCTET_CUDA_STREAM (the decode step's own kernels)
    static const char *modes[MODES][2] = {{"1", "0"}, {"1", "1"}, {"0", "0"}, {"0", "1"}};
    for (int k = 0; k < MODES; k++) {
        lg[k] = calloc((size_t)N * V, 4);
        setenv("OCTET_CUDA_PDL", modes[k][0], 1);
        setenv("OCTET_CUDA_MERGE", modes[k][1], 1);
        setenv("OCTET_CUDA_STREAM", modes[k][1], 1);
        decode_steps(m, prompt, 8, N, lg[k], ids[k]);
    }
    unsetenv("OCTET_CUDA_PDL"); unsetenv("OCTET_CUDA_MERGE"); unsetenv("OCTET_CUDA_STREAM");
    static const char *names[2] = {"plain kernels", "decode kernels"};
    for (int k = 0; k < 2; k++) {
        int same = !memcmp(lg[k], lg[k + 2], (size_t)N * V * 4);
        printf("  %s, with vs without programmatic launch: %s\n", names[k], same ? "identical" : "DIFFERENT");
        CHECK(same, "%s: programmatic launch changes the logits (a race or a missing pdl_wait)", names[k]);
    }
    int agree = 0;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        float mx = 0, d = 0;
        for (int j = 0; j < V; j++) { mx = fmaxf(mx, fabsf(lg[0][(size_t)i * V + j])); d = fmaxf(d, fabsf(lg[1][(size_t)i * V + j] - lg[0][(size_t)i * V + j])); }
        if (d / mx > worst) worst = d / mx;
        agree += octet_argmax(lg[1] + (size_t)i * V, V) == octet_argmax(lg[0] + (size_t)i * V, V);
    }
    printf("  decode kernels vs plain kernels: top-1 %d/%d, logits within %.1e of max|logit|\n", agree, N, worst);
    CHECK(agree >= N * 9 / 10 && worst < 1e-1, "decode kernels: top-1 %d/%d, worst %.2e", agree, N, worst);
    for (int k = 0; k < MODES; k++) free(lg[k]);
    octet_free(m);
}

// Sampling on the GPU (cuda/sample.cuh) against the CPU sampler on the same logits: two GPU
// sessions fed the same tokens give the same logits, one picks on the GPU (penalties included),
// the other copies its logits and runs octet_sample with the same seed. Both samplers accept the
// prompt and every pick, as octet_generate does.
static void cuda_sampling_matches_cpu_sampler(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    octet_model *m = smollm2_or_its_shape();
    if (!m) return;
    int V = octet_vocab_size(m), same = 0, steps = 0;
    float *logits = malloc((size_t)V * 4), *scratch = malloc((size_t)V * 4);
    static const float cfg[][8] = {  // temp, top-k, top-p, min-p, repeat, presence, frequency, last-n
        {0.8f, 40, 0.95f, 0.05f, 1, 0, 0, 64}, {1.5f, 256, 1.0f, 0.0f, 1, 0, 0, 64}, {0.7f, 1, 0.9f, 0.0f, 1, 0, 0, 64},
        {1.0f, 100, 0.5f, 0.1f, 1, 0, 0, 64},  {0, 40, 1, 0, 1.3f, 0, 0, 64},          {0.8f, 40, 0.95f, 0.05f, 1.1f, 0.2f, 0.1f, 64},
        {1.0f, 100, 1, 0, 1.5f, 0.5f, 0.5f, 16}};
    for (unsigned c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        octet_sampler_params p;
        octet_sampler_defaults(&p);
        p.temp = cfg[c][0]; p.top_k = (int)cfg[c][1]; p.top_p = cfg[c][2]; p.min_p = cfg[c][3];
        p.repeat_penalty = cfg[c][4]; p.presence_penalty = cfg[c][5]; p.frequency_penalty = cfg[c][6];
        p.repeat_last_n = (int)cfg[c][7]; p.seed = 1234 + c;
        octet_sampler sa, sb;
        octet_sampler_init(&sa, &p, V);
        octet_sampler_init(&sb, &p, V);
        octet_session *a = session(m, OCTET_DEVICE_CUDA, 256), *b = session(m, OCTET_DEVICE_CUDA, 256);
        int32_t prompt[] = {1, 9690, 314, 260, 3575, 282, 4649, 47}, ga = 0;
        for (int i = 0; i < 8; i++) { octet_sampler_accept(&sa, prompt[i]); octet_sampler_accept(&sb, prompt[i]); }
        CHECK(octet_eval_next(a, prompt, 8, &sa, scratch, &ga) == 0 && octet_eval(b, prompt, 8, logits, 0) == 0, "%s", octet_last_error());
        for (int i = 0; i < 40; i++) {
            int32_t gb = octet_sample(&sb, logits);
            steps++;
            same += ga == gb;
            if (ga != gb) printf("  config %u step %d: GPU picked %d, CPU %d\n", c, i, ga, gb);
            octet_sampler_accept(&sa, ga); octet_sampler_accept(&sb, gb);
            CHECK(octet_eval_next(a, &ga, 1, &sa, scratch, &ga) == 0 && octet_eval(b, &gb, 1, logits, 0) == 0, "%s", octet_last_error());
        }
        octet_session_free(a); octet_session_free(b);
        octet_sampler_free(&sa); octet_sampler_free(&sb);
    }
    printf("  GPU sampling equals the CPU sampler on the same logits for %d/%d steps\n", same, steps);
    CHECK(same == steps, "GPU and CPU sampling differ in %d of %d steps", steps - same, steps);
    free(logits); free(scratch);
    octet_free(m);
}

// Sessions of one model share its weights on the GPU (octet serve's slots): a second session
// costs its cache and buffers, not another copy of the weights; sessions used in turn give the
// greedy tokens of one alone; the weights stay while any session holds them and come back
// (uploaded again) for a session opened after the last one closed.
static void greedy_tokens(octet_session *s, const int32_t *prompt, int np, int n, int32_t *ids) {
    octet_session_reset(s);
    CHECK(octet_eval_greedy(s, prompt, np, &ids[0]) == 0, "%s", octet_last_error());
    for (int i = 1; i < n; i++) CHECK(octet_eval_greedy(s, &ids[i - 1], 1, &ids[i]) == 0, "%s", octet_last_error());
}

static void cuda_sessions_share_weights(void) {
    if (!have_gpu()) SKIP("no CUDA device");
    octet_model *m = smollm2_or_its_shape();
    if (!m) return;
    enum { N = 24 };
    int32_t prompt[] = {1, 9690, 314, 260, 3575, 282, 4649, 47}, alone[N], a1[N], b1[N], b2[N], c1[N];
    // A batch of 64 keeps each session's own buffers (the logits rows above all) well under
    // the weights, so the memory check has a wide margin.
    octet_session_params sp = {256, 64, 2, test_act, 0, OCTET_DEVICE_CUDA};
    octet_session *s = octet_session_new(m, &sp);
    CHECK(s != NULL, "%s", octet_last_error());
    if (!s) { octet_free(m); return; }
    greedy_tokens(s, prompt, 8, N, alone);
    octet_session_free(s);
    size_t used0 = octet_cuda_memory_used();
    octet_session *a = octet_session_new(m, &sp);
    size_t used1 = octet_cuda_memory_used();
    octet_session *b = octet_session_new(m, &sp);
    size_t used2 = octet_cuda_memory_used();
    if (!a || !b) { octet_session_free(a); octet_session_free(b); octet_free(m); return; }
    double first = ((double)used1 - (double)used0) / 1048576, second = ((double)used2 - (double)used1) / 1048576;   // (signed: no wrap)
    printf("  first session %.0f MiB of GPU memory, second %.0f MiB\n", first, second);
    CHECK(first > 0 && second < first / 2, "the second session took %.0f MiB, the first %.0f MiB: weights not shared", second, first);
    greedy_tokens(a, prompt, 8, N, a1);
    greedy_tokens(b, prompt, 8, N, b1);
    octet_session_free(a);
    greedy_tokens(b, prompt, 8, N, b2);
    octet_session_free(b);
    octet_session *c = octet_session_new(m, &sp);
    if (c) greedy_tokens(c, prompt, 8, N, c1);
    octet_session_free(c);
    CHECK(!memcmp(a1, alone, sizeof alone) && !memcmp(b1, alone, sizeof alone), "two sessions sharing weights give other tokens than one alone");
    CHECK(!memcmp(b2, alone, sizeof alone), "the second session's tokens changed when the first was freed");
    CHECK(c && !memcmp(c1, alone, sizeof alone), "a session opened after the others closed gives other tokens");
    octet_free(m);
}

int main(void) {
    char buf[256];
    octet_cuda_describe(buf, sizeof buf);
    printf("  gpu: %s\n", buf);
    RUN(cuda_int8_matmuls_match_scalar);
    RUN(cuda_grouped_int8_matmuls_match_scalar);
    RUN(cuda_quantize_matches_scalar);
    RUN(cuda_stories260k_same_tokens_as_cpu);
    RUN(cuda_smollm2_fixture_prompts_match_cpu);
    RUN(cuda_stories260k_int8_row_same_tokens_as_cpu);
    RUN(cuda_smollm2_int8_row_fixture_prompts_match_cpu);
    RUN(cuda_smollm2_default_file_fixture_prompts_match_cpu);
    RUN(cuda_decode_kernels_match_plain_kernels);
    RUN(cuda_sampling_matches_cpu_sampler);
    RUN(cuda_sessions_share_weights);
    CHECK_DONE();
}
