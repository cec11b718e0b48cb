// Converter tests: exact GGUF dequantization against gguf-py fixtures, INT8 error bounds,
// SmolLM2 hyperparameters.
#include "check.h"
#include "convert.h"
#include "octet_file.h"
#include "util.h"
#include <math.h>
#include <stdint.h>

#define SMOL_GGUF "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define SMOL_F32 "models/smollm2-135m-instruct.f32.octet"
#define SMOL_Q8 "models/smollm2-135m-instruct.q8.octet"

typedef struct { uint64_t n, sum, wsum; uint32_t x; } digest;
static digest digest_of(const float *v, uint64_t n) {
    digest d = {n, 0, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        uint32_t w;
        memcpy(&w, &v[i], 4);
        d.x ^= w; d.sum += w; d.wsum += (uint64_t)w * (i + 1);
    }
    return d;
}

// Compares every line "name numel xor sum wsum" of a fixture with lookup(name).
static void check_fixture(const char *fixture, const float *(*lookup)(void *, const char *, uint64_t *), void *ctx, int *n_checked) {
    FILE *fp = fopen(fixture, "r");
    CHECK(fp != NULL, "cannot open %s", fixture);
    if (!fp) return;
    char line[512], name[256];
    unsigned long long n, sum, wsum;
    unsigned x;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        if (sscanf(line, "%255s %llu %x %llx %llx", name, &n, &x, &sum, &wsum) != 5) continue;
        uint64_t got_n = 0;
        const float *v = lookup(ctx, name, &got_n);
        CHECK(v != NULL, "tensor %s missing", name);
        if (!v) continue;
        CHECK(got_n == n, "%s: %llu values, expected %llu", name, (unsigned long long)got_n, n);
        digest d = digest_of(v, got_n);
        CHECK(d.x == x && d.sum == sum && d.wsum == wsum, "%s: dequantized values differ from gguf-py", name);
        (*n_checked)++;
    }
    fclose(fp);
}

static float *scratch;
static const float *from_conv(void *ctx, const char *name, uint64_t *n) {
    const conv_model *m = ctx;
    const conv_tensor *t = conv_find_tensor(m, name);
    if (!t) return NULL;
    *n = conv_tensor_numel(t);
    free(scratch);
    scratch = malloc(*n * sizeof *scratch);
    if (t->load(m, t, scratch) != 0) return NULL;
    return scratch;
}
static const float *from_octet(void *ctx, const char *name, uint64_t *n) {
    const octet_tensor *t = octet_file_tensor(ctx, name);
    if (!t || t->dtype != OCTET_F32) return NULL;
    *n = t->rows * t->cols;
    return t->data;
}

static void gguf_every_type_dequantizes_like_gguf_py(void) {
    conv_model m = {0};
    int rc = gguf_read(&m, "tests/fixtures/quant-types.gguf");
    CHECK(rc == 0, "%s", octet_last_error());
    int n = 0;
    if (rc == 0) check_fixture("tests/fixtures/quant-types.txt", from_conv, &m, &n);
    CHECK(n == 11, "checked %d of 11 types", n);
    conv_model_free(&m);
}

static void smollm2_f32_equals_gguf_py_dequantization(void) {
    if (!file_exists(SMOL_F32)) SKIP("run make models");
    octet_file f;
    int rc = octet_file_open(&f, SMOL_F32);
    CHECK(rc == 0, "%s", octet_last_error());
    if (rc) return;
    int n = 0;
    check_fixture("tests/fixtures/smollm2-dequant.txt", from_octet, &f, &n);
    CHECK(n == 272, "checked %d of 272 tensors", n);
    CHECK(octet_file_verify(&f) == 0, "%s", octet_last_error());
    octet_file_close(&f);
}

// clip_max: every value within scale/2 and scale = max|group|/127 (issue "octet core"; a group
// is a row for q8, 32 weights for q8g32). Otherwise (--clip mse): scale <= max|group|/127 and
// unclipped values within scale/2.
static void check_q8_against_f32(const char *q8_path, int clip_max, uint32_t want_dtype) {
    octet_file q, r;
    CHECK(octet_file_open(&q, q8_path) == 0, "%s", octet_last_error());
    CHECK(octet_file_open(&r, SMOL_F32) == 0, "%s", octet_last_error());
    int n_q8 = 0;
    for (uint64_t i = 0; i < q.n_tensors; i++) {
        const octet_tensor *t = &q.tensors[i], *ref = octet_file_tensor(&r, t->name);
        CHECK(ref && ref->rows == t->rows && ref->cols == t->cols, "%s: shape differs", t->name);
        if (!ref) continue;
        if (!octet_is_q8(t->dtype)) { CHECK(t->n_dims == 1 && t->dtype == OCTET_F32, "%s: 1-D tensors stay f32", t->name); continue; }
        CHECK(t->dtype == want_dtype, "%s: %s, expected %s", t->name, octet_dtype_name(t->dtype), octet_dtype_name(want_dtype));
        n_q8++;
        uint64_t g = octet_q8_group(t->dtype, t->cols), per_row = t->cols / g;
        float *row = malloc(t->cols * sizeof *row);
        const uint8_t *scales = (const uint8_t *)t->data + octet_q8_scales_offset(t->rows, t->cols);
        int bad = 0, half = t->dtype == OCTET_Q8G32H;
        for (uint64_t rr = 0; rr < t->rows; rr++) {
            octet_tensor_row_f32(t, rr, row);
            for (uint64_t c0 = 0; c0 < t->cols; c0 += g) {
                const float *x = (const float *)ref->data + rr * t->cols + c0;
                uint64_t si = octet_q8_scale_index(t->dtype, rr, c0 / g, per_row);
                float s, amax = 0;
                if (half) { uint16_t h; memcpy(&h, scales + si * 2, 2); s = octet_f16_to_f32(h); }
                else memcpy(&s, scales + si * 4, 4);
                for (uint64_t c = 0; c < g; c++) amax = fmaxf(amax, fabsf(x[c]));
                // q8g32h: the scale is the f16 nearest the f32 one (2^-11 relative, 2^-25 absolute
                // below f16's normal range), and rounding a max value with it may clamp at 127
                float rel = half ? 0x1p-11f : 1e-7f, abs_ = half ? 0x1p-25f : 0, over = half && amax > 127 * s ? amax - 127 * s : 0;
                for (uint64_t c = 0; c < g; c++) {
                    if (!clip_max && fabsf(x[c]) > 127 * s) continue;  // clipped on purpose
                    if (fabsf(row[c0 + c] - x[c]) > s * 0.5f * (1 + 1e-5f) + over + 1e-30f) bad++;
                }
                if (clip_max) bad += fabsf(s - amax / 127) > rel * amax / 127 * 1.0001f + abs_;
                else bad += s > amax / 127 * (1 + (half ? rel : 1e-6f)) + abs_;  // mse clipping only ever lowers the scale
            }
        }
        CHECK(bad == 0, "%s: %d values off by more than scale/2 (or bad scales)", t->name, bad);
        free(row);
    }
    CHECK(n_q8 == 211, "%d INT8 tensors (expected 211 matrices)", n_q8);
    octet_file_close(&q);
    octet_file_close(&r);
}

// Converts SmolLM2 without calibration (smoothing rescales the weights, so the rows would not
// compare with the f32 file), checks the INT8 tensors against f32, removes the file.
static void convert_and_check(const char *args, int clip_max, uint32_t dtype) {
    if (!file_exists(SMOL_F32) || !file_exists(SMOL_GGUF)) SKIP("run make models");
    const char *path = "tests/out/smollm2.int8-check.octet";
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert " SMOL_GGUF " -o %s %s --calib none --quiet", path, args);
    CHECK(rc == 0, "%s", out ? out : "");
    free(out);
    check_q8_against_f32(path, clip_max, dtype);
    remove(path);
}

static void smollm2_q8_rows_within_half_a_step(void) { convert_and_check("--type q8 --clip max", 1, OCTET_Q8); }
static void smollm2_q8_mse_clipping_is_bounded(void) { convert_and_check("--type q8", 0, OCTET_Q8); }
// q8g32: one scale per 32 weights (SmolLM2's widths are all multiples of 32).
static void smollm2_q8g32_groups_within_half_a_step(void) { convert_and_check("--type q8g32 --clip max", 1, OCTET_Q8G32); }
// q8g32h: the same with f16 scales, the weights rounded with the stored scale.
static void smollm2_q8g32h_groups_within_half_a_step(void) { convert_and_check("--type q8g32h --clip max", 1, OCTET_Q8G32H); }
static void smollm2_q8g32h_mse_clipping_is_bounded(void) { convert_and_check("", 0, OCTET_Q8G32H); }  // the default type

static void smollm2_hyperparameters(void) {
    if (!file_exists(SMOL_Q8)) SKIP("run make models");
    octet_file f;
    CHECK(octet_file_open(&f, SMOL_Q8) == 0, "%s", octet_last_error());
    uint64_t n;
    const char *arch = octet_kv_str(&f, "model.arch", &n);
    CHECK(arch && n == 5 && !memcmp(arch, "llama", 5), "arch");
    CHECK(octet_kv_u32(&f, "model.dim", 0) == 576, "dim");
    CHECK(octet_kv_u32(&f, "model.n_layers", 0) == 30, "layers");
    CHECK(octet_kv_u32(&f, "model.n_heads", 0) == 9, "heads");
    CHECK(octet_kv_u32(&f, "model.n_kv_heads", 0) == 3, "kv heads");
    CHECK(octet_kv_u32(&f, "model.hidden_dim", 0) == 1536, "hidden");
    CHECK(octet_kv_u32(&f, "model.vocab_size", 0) == 49152, "vocab");
    CHECK(octet_kv_f32(&f, "model.rope_theta", 0) == 100000.0f, "rope theta");
    CHECK(octet_kv_bool(&f, "model.tied_embeddings", 0) == 1, "tied");
    const char *rs = octet_kv_str(&f, "model.rope_style", &n);
    CHECK(rs && n == 11 && !memcmp(rs, "interleaved", 11), "GGUF llama stores Q/K permuted for interleaved RoPE");
    CHECK(octet_file_tensor(&f, "output.weight") == NULL, "tied model has no output tensor");
    const octet_tensor *e = octet_file_tensor(&f, "token_embd.weight");
    CHECK(e && e->dims[0] == 49152 && e->dims[1] == 576 && e->dtype == OCTET_Q8, "embedding shape");
    for (uint64_t i = 0; i < f.n_tensors; i++) CHECK((uintptr_t)f.tensors[i].data % 64 == 0, "%s not 64-byte aligned", f.tensors[i].name);
    octet_file_close(&f);

    char *out = NULL;
    int rc = run_cmd(&out, "./octet info -m %s", SMOL_Q8);
    CHECK(rc == 0, "octet info failed: %s", out);
    const char *want[] = {"llama", "576", "1536", "49152", "chatml", "token_embd.weight", "blk.29.ffn_down.weight", "q8"};
    for (unsigned i = 0; out && i < sizeof want / sizeof *want; i++) CHECK(strstr(out, want[i]) != NULL, "octet info lacks '%s'", want[i]);
    free(out);
    rc = run_cmd(&out, "./octet info -m %s --verify", SMOL_Q8);
    CHECK(rc == 0 && out && strstr(out, "checksum ok"), "verify: %s", out ? out : "");
    free(out);
}

// A synthetic model has the named shape, is marked synthetic, runs, and makes octet run warn.
static void synthetic_shape_is_marked_and_runs(void) {
    const char *out_path = "tests/out/synthetic-135m.octet";
    char *out = NULL;
    int rc = run_cmd(&out, "./octet convert --synthetic smollm2-135m -o %s --quiet", out_path);
    CHECK(rc == 0, "convert --synthetic: %s", out);
    free(out);
    octet_file f;
    if (octet_file_open(&f, out_path) != 0) { CHECK(0, "%s", octet_last_error()); return; }
    CHECK(octet_kv_bool(&f, "general.synthetic", 0) == 1, "not marked synthetic");
    CHECK(octet_kv_u32(&f, "model.dim", 0) == 576 && octet_kv_u32(&f, "model.n_layers", 0) == 30 && octet_kv_u32(&f, "model.vocab_size", 0) == 49152, "shape");
    octet_file_close(&f);
    rc = run_cmd(&out, "./octet run -m %s -p hello -n 4 --temp 0 2>&1", out_path);
    CHECK(rc == 0 && out && strstr(out, "random weights"), "run did not warn: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet info -m %s", out_path);
    CHECK(rc == 0 && out && strstr(out, "synthetic"), "info: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet convert --synthetic llama-70b -o tests/out/bad.octet 2>&1");
    CHECK(rc != 0 && out && strstr(out, "unknown shape") && !file_exists("tests/out/bad.octet"), "bad shape: %s", out ? out : "");
    free(out);
    remove(out_path);
}

int main(void) {
    RUN(gguf_every_type_dequantizes_like_gguf_py);
    RUN(smollm2_f32_equals_gguf_py_dequantization);
    RUN(smollm2_q8_rows_within_half_a_step);
    RUN(smollm2_q8_mse_clipping_is_bounded);
    RUN(smollm2_q8g32_groups_within_half_a_step);
    RUN(smollm2_q8g32h_groups_within_half_a_step);
    RUN(smollm2_q8g32h_mse_clipping_is_bounded);
    RUN(smollm2_hyperparameters);
    RUN(synthetic_shape_is_marked_and_runs);
    free(scratch);
    CHECK_DONE();
}
