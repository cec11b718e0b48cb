// octet convert: read a checkpoint with one of the readers, quantize, write the .octet file.
#include "convert.h"
#include "calibrate.h"
#include "model.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCTET_CONVERTER_VERSION "octet-convert 1"

static void progress(int quiet, size_t i, size_t n, const char *name) {
    if (quiet || !isatty(2)) return;
    int w = 30, done = n ? (int)(w * i / n) : w;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-40.40s", done, "##############################", w - done, "", i, n, name);
    if (i == n) fputc('\n', stderr);
}

static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

static int is_gguf(const char *p) {
    int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO must not block here
    if (fd < 0) return 0;
    struct stat st;
    char magic[4] = {0};
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, magic, 4) : 0;
    close(fd);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

static const char *basename_of(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// Architectures whose tensors the forward pass understands (Llama family).
static int arch_supported(const char *a, uint64_t n) {
    static const char *ok[] = {"llama", "qwen2", "mistral", "qwen3", "gemma2", "gemma3", "phi3"};
    for (unsigned i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], a, n) == 0) return 1;
    return 0;
}

// Checks what the rest of octet relies on before anything is written.
static int check_model(const conv_model *m, const char *in, int vocab_only) {
    if (!octet_meta_has(&m->meta, "tokenizer.tokens") && vocab_only) { octet_set_error("%s: has no tokenizer vocabulary to write", in); return -1; }
    if (vocab_only) return 0;
    if (!arch_supported(m->arch, strlen(m->arch))) { octet_set_error("%s: architecture '%s' is not supported (llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3 are); --vocab-only still works", in, m->arch); return -1; }
    if (!conv_find_tensor(m, "token_embd.weight")) { octet_set_error("%s: no token embedding tensor found (is this a model or a vocabulary-only file?)", in); return -1; }
    // The loader's own check of the description (numbers, shapes, tokenizer): the converter
    // never calibrates on, or writes, a model the loader would refuse.
    octet_tensor *shapes = calloc(m->n ? m->n : 1, sizeof *shapes);
    if (!shapes) { octet_set_error("out of memory"); return -1; }
    for (size_t i = 0; i < m->n; i++) {
        octet_tensor *t = &shapes[i];
        t->name = m->t[i].name;
        t->dtype = OCTET_F32;
        t->n_dims = m->t[i].n_dims;
        memcpy(t->dims, m->t[i].dims, sizeof t->dims);
        t->rows = 1;
        int ok = t->n_dims >= 1 && t->n_dims <= OCTET_MAX_DIMS;
        for (uint32_t d = 0; ok && d + 1 < t->n_dims; d++) ok = octet_mul_u64(t->rows, t->dims[d], &t->rows);
        if (!ok) { free(shapes); octet_set_error("%s: tensor '%s' has a bad shape", in, t->name); return -1; }
        t->cols = t->dims[t->n_dims - 1];
    }
    int rc = m->meta.oom ? (octet_set_error("out of memory"), -1) : octet_model_check_description(in, m->meta.buf, m->meta.len, m->meta.count, shapes, m->n);
    free(shapes);
    return rc;
}

void convert_options_default(convert_options *o) {
    memset(o, 0, sizeof *o);
    // The defaults measured best at <= 8.5 bits per weight (docs/QUALITY.md): per-32 int8 with
    // f16 scales, smoothed on the built-in text (the same on every machine).
    o->type = OCTET_Q8G32H;
    o->calib_tokens = 512;
    o->smooth = CONVERT_DEFAULT_SMOOTH;
    o->max_kl = -1;
    o->f16_budget = -1;
    o->gptq_damp = 0.01;
    o->calib = OCTET_CALIB_BUILTIN;
    o->act_asym = ACT_AUTO;
    convert_asym_roles(CONVERT_ASYM_ROLES, &o->asym_roles);
}

static const char *const role_names[] = {"head", "ffn_down", "ffn_gate", "ffn_up", "attn_q", "attn_k", "attn_v", "attn_output"};
#define N_ROLES (int)(sizeof role_names / sizeof *role_names)

int convert_asym_roles(const char *list, unsigned *roles) {
    *roles = 0;
    if (!strcmp(list, "none")) return 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int r = 0;
        while (r < N_ROLES && !(strlen(role_names[r]) == n && !strncmp(p, role_names[r], n))) r++;
        if (r == N_ROLES) {
            octet_set_error("--asym-act: unknown role '%.*s' (head, ffn_down, ffn_gate, ffn_up, attn_q, attn_k, attn_v, attn_output, or none)", (int)n, p);
            return -1;
        }
        *roles |= 1u << r;
        p += n + (p[n] == ',');
    }
    return 0;
}

// The role bit of a matrix by its name (0: none of them): blk.N.<role>.weight, and the head.
static unsigned role_of(const conv_model *m, const char *name) {
    if (!strcmp(name, "output.weight") || (!strcmp(name, "token_embd.weight") && !conv_find_tensor(m, "output.weight"))) return ROLE_HEAD;
    if (strncmp(name, "blk.", 4)) return 0;
    const char *p = strchr(name + 4, '.');
    if (!p) return 0;
    p++;
    for (int r = 1; r < N_ROLES; r++) {
        size_t n = strlen(role_names[r]);
        if (!strncmp(p, role_names[r], n) && !strcmp(p + n, ".weight")) return 1u << r;
    }
    return 0;
}

enum { KEEP_F16 = 1, KEEP_F32_ACT = 2 };

// What calibration decided for the file being written, by tensor index.
typedef struct {
    const calib_result *cal;
    uint8_t *keep;        // KEEP_F16: written as f16; KEEP_F32_ACT: int8, marked in quant.f32_act
    double est_kl;        // sum of the sensitivities of the tensors still quantized
    const char *text;
    float smooth;
    double gptq_damp;     // GPTQ's dampening, when the Hessians were collected
} calib_plan;

// Relative RMS error of a quantized tensor against its f32 values.
static double quant_error(const float *x, uint32_t dtype, uint64_t rows, uint64_t cols, const uint8_t *q, float *row) {
    octet_tensor t = {.dtype = dtype, .rows = rows, .cols = cols, .data = q};
    double num = 0, den = 0;
    for (uint64_t r = 0; r < rows; r++) {
        octet_tensor_row_f32(&t, r, row);
        for (uint64_t i = 0; i < cols; i++) {
            double d = (double)x[r * cols + i] - row[i];
            num += d * d;
            den += (double)x[r * cols + i] * x[r * cols + i];
        }
    }
    return den > 0 ? sqrt(num / den) : 0;
}

static int convert_with(const convert_options *opt, const calib_plan *plan);

// quant.asym_act: the int8 matrices of the chosen roles (docs/QUALITY.md: the LM head's and the
// down projections' inputs gain most from an offset per block, for a small part of the time).
static int write_asym_marks(octet_meta *meta, const conv_model *m, const uint32_t *dtype, size_t n, unsigned roles) {
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return -1;
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (octet_is_q8(dtype[i]) && (role_of(m, m->t[i].name) & roles)) names[count++] = m->t[i].name;
    if (count) octet_meta_arr_str(meta, "quant.asym_act", (uint64_t)count, names, NULL);
    free(names);
    return 0;
}

static int mixed_precision(const convert_options *o) { return o->keep_f16 > 0 || o->max_kl >= 0 || o->f16_budget >= 0 || o->f32_act > 0; }
static int f16_selection(const convert_options *o) { return o->keep_f16 > 0 || o->max_kl >= 0 || o->f16_budget >= 0; }

static int meta_str_is(const octet_meta *meta, const char *key, const char *want) {
    uint32_t type;
    uint64_t len;
    const uint8_t *p = octet_meta_value(meta, key, &type);
    if (!p || type != OCTET_KV_STR) return 0;
    memcpy(&len, p, 8);
    return len == strlen(want) && !memcmp(p + 8, want, len);
}

// Version 2 when the model needs facts a version-1 reader would skip in silence (it ignores
// unknown keys and tensors): anything beyond the Llama shape. Llama files stay version 1.
static uint32_t file_version(const octet_meta *meta, const conv_model *m, size_t n) {
    static const char *const v2_keys[] = {"model.embed_scale", "model.attn_scale", "model.attn_softcap", "model.final_softcap",
                                          "model.sliding_window", "model.sliding_layers", "model.rope_theta_swa", "model.rope_attn_factor",
                                          "model.rope_short_factors", "model.rope_long_factors"};
    for (size_t i = 0; i < sizeof v2_keys / sizeof *v2_keys; i++)
        if (octet_meta_has(meta, v2_keys[i])) return 2;
    uint32_t type, v, dim = 0, heads = 0;
    const uint8_t *p;
    if ((p = octet_meta_value(meta, "model.dim", &type)) && type == OCTET_KV_U32) memcpy(&dim, p, 4);
    if ((p = octet_meta_value(meta, "model.n_heads", &type)) && type == OCTET_KV_U32) memcpy(&heads, p, 4);
    if ((p = octet_meta_value(meta, "model.head_dim", &type)) && (memcpy(&v, p, 4), !heads || v != dim / heads)) return 2;
    if (octet_meta_has(meta, "model.ffn_act") && !meta_str_is(meta, "model.ffn_act", "silu")) return 2;
    if (octet_meta_has(meta, "model.rope_scaling_type") && !meta_str_is(meta, "model.rope_scaling_type", "linear") &&
        !meta_str_is(meta, "model.rope_scaling_type", "llama3") && !meta_str_is(meta, "model.rope_scaling_type", "none"))
        return 2;
    for (size_t i = 0; i < n; i++)
        if (strstr(m->t[i].name, "attn_q_norm") || strstr(m->t[i].name, "attn_k_norm") || strstr(m->t[i].name, "post_attention_norm") ||
            strstr(m->t[i].name, "post_ffw_norm"))
            return 2;
    return 1;
}

static int wants_calibration(const convert_options *o) {
    if (!o->calib || o->vocab_only || o->synthetic) return 0;
    int quantized = octet_is_q8(o->type);
    return (o->smooth > 0 && (quantized || o->smooth_set)) || (quantized && (mixed_precision(o) || o->gptq));
}

// Picks the tensors kept in f16, most sensitive first: the keep_f16 most sensitive, or until
// the sum of the rest is at most max_kl; with f16_budget, only those that fit in that many
// percent more tensor data (alone: as many as fit).
static void plan_mixed_precision(const convert_options *o, calib_plan *p, const octet_file *f) {
    const double *sens = p->cal->sens;
    uint64_t n = f->n_tensors, *order = malloc((n ? n : 1) * sizeof *order), m = 0;
    if (!order) return;
    double total = 0, base = 0, used = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t b = 0;
        const octet_tensor *t = &f->tensors[i];
        octet_tensor_nbytes(sens[i] >= 0 ? octet_q8_dtype_for(o->type, t->cols) : OCTET_F32, t->rows, t->cols, &b);
        base += (double)b;
        if (sens[i] >= 0) { order[m++] = i; total += sens[i]; }
    }
    for (uint64_t j = 1; j < m; j++)  // most sensitive first; ties keep file order
        for (uint64_t k = j; k > 0 && sens[order[k]] > sens[order[k - 1]]; k--) {
            uint64_t t = order[k]; order[k] = order[k - 1]; order[k - 1] = t;
        }
    int fill = o->keep_f16 <= 0 && o->max_kl < 0;
    uint64_t kept = 0;
    for (uint64_t j = 0; j < m; j++) {
        int more = fill || (o->keep_f16 > 0 && kept < (uint64_t)o->keep_f16) || (o->max_kl >= 0 && total > o->max_kl);
        if (!more) break;
        const octet_tensor *t = &f->tensors[order[j]];
        uint64_t q = 0;
        octet_tensor_nbytes(octet_q8_dtype_for(o->type, t->cols), t->rows, t->cols, &q);
        double extra = 2.0 * (double)(t->rows * t->cols) - (double)q;
        if (o->f16_budget >= 0 && used + extra > base * o->f16_budget / 100) continue;
        used += extra;
        p->keep[order[j]] = KEEP_F16;
        kept++;
        total -= sens[order[j]];
    }
    p->est_kl = total;
    free(order);
}

// Marks the f32_act int8 matrices whose measured KL drops most with f32 activations.
static void plan_f32_act(int count, calib_plan *p, uint64_t n) {
    const double *sens = p->cal->sens, *wo = p->cal->sens_f32_act;
    for (int k = 0; k < count; k++) {
        uint64_t best = n;
        for (uint64_t i = 0; i < n; i++)
            if (!p->keep[i] && sens[i] >= 0 && wo[i] >= 0 && sens[i] - wo[i] > 0 && (best == n || sens[i] - wo[i] > sens[best] - wo[best])) best = i;
        if (best == n) break;
        p->keep[best] = KEEP_F32_ACT;
        p->est_kl -= sens[best] - wo[best];
    }
}

int octet_convert(const convert_options *in) {
    // Smoothing by default only where it measurably helps (docs/QUALITY.md): grouped types (-40% KL);
    // on per-row q8 its gain is within noise and it costs greedy agreement.
    convert_options resolved = *in;
    const convert_options *opt = &resolved;
    if (!in->smooth_set) resolved.smooth = octet_is_q8_grouped(in->type) ? CONVERT_DEFAULT_SMOOTH : 0;
    // Mixed activations likewise (measured on q8g32h); --type q8 stays the plain symmetric file.
    if (in->act_asym == ACT_AUTO) resolved.act_asym = octet_is_q8_grouped(in->type) ? ACT_MIXED : ACT_SYM;
    if (!wants_calibration(opt)) return convert_with(opt, NULL);
    // Calibration runs the unquantized model: write it as f32 beside the output, map it
    // privately (smoothing edits the mapping, never the file) and remove it at once.
    size_t plen = strlen(opt->output) + 32;
    char *tmp = malloc(plen);
    if (!tmp) { octet_set_error("out of memory"); return -1; }
    snprintf(tmp, plen, "%s.calib-f32.tmp", opt->output);
    convert_options f32 = *opt;
    f32.output = tmp; f32.type = OCTET_F32; f32.quiet = 1; f32.calib = NULL;
    if (!opt->quiet && isatty(2)) fprintf(stderr, "calibration: writing the f32 model to %s\n", tmp);
    if (convert_with(&f32, NULL) != 0) { free(tmp); return -1; }
    calib_options co = {opt->calib, opt->calib_tokens, 128, opt->smooth, octet_is_q8(opt->type) && mixed_precision(opt), opt->f32_act > 0,
                        opt->act_asym == ACT_ASYM, octet_is_q8(opt->type) && opt->gptq, opt->type, opt->clip, opt->clip_pct, opt->quiet};
    calib_result cal;
    int rc = calib_run(tmp, &co, &cal);
    unlink(tmp);
    free(tmp);
    if (rc != 0) return -1;
    calib_plan plan = {&cal, calloc(cal.m.file.n_tensors + 1, 1), -1, opt->calib, opt->smooth, opt->gptq_damp};
    if (!plan.keep) { calib_free(&cal); octet_set_error("out of memory"); return -1; }
    if (co.sensitivity) {
        double all = 0;
        for (uint64_t i = 0; i < cal.m.file.n_tensors; i++) all += cal.sens[i] > 0 ? cal.sens[i] : 0;
        plan.est_kl = all;
        if (f16_selection(opt)) plan_mixed_precision(opt, &plan, &cal.m.file);
        plan_f32_act(opt->f32_act, &plan, cal.m.file.n_tensors);
    }
    rc = convert_with(opt, &plan);
    free(plan.keep);
    calib_free(&cal);
    return rc;
}

// The products' error a quantized matrix makes on the calibration inputs, relative:
// sum over rows of (w - q) H (w - q)^T / sum of w H w^T.
static double weighted_error(const float *x, uint64_t rows, uint64_t cols, uint32_t dtype, const double *H, const uint8_t *q) {
    octet_tensor t = {.dtype = dtype, .rows = rows, .cols = cols, .data = q};
    float *row = malloc(cols * sizeof *row);
    double *d = malloc(cols * sizeof *d), num = 0, den = 0;
    for (uint64_t r = 0; row && d && r < rows; r++) {
        octet_tensor_row_f32(&t, r, row);
        const float *w = x + r * cols;
        for (uint64_t a = 0; a < cols; a++) d[a] = (double)w[a] - row[a];
        for (uint64_t a = 0; a < cols; a++) {
            const double *h = H + a * cols;
            double sd = 0, sw = 0;
            for (uint64_t b = 0; b < cols; b++) { sd += h[b] * d[b]; sw += h[b] * w[b]; }
            num += d[a] * sd;
            den += w[a] * sw;
        }
    }
    free(row); free(d);
    return den > 0 ? num / den : 0;
}

// One line of the per-tensor table: type written, relative RMS error, sensitivity, kept; with
// GPTQ the relative output error on the calibration inputs, plain rounding -> GPTQ.
static void report_tensor(const calib_plan *p, size_t i, const char *name, uint32_t dtype, const float *x, const octet_writer_tensor *wt, const uint8_t *out, const double out_err[2]) {
    static int header;
    if (!header++) fprintf(stderr, "\n%-28s %-6s %11s %14s %14s %s\n", "tensor", "type", "rel. error", "KL alone", "KL f32 act", out_err[1] >= 0 ? "output error plain -> GPTQ" : "");
    float *row = malloc(wt->cols * sizeof *row);
    double err = row && octet_is_q8(dtype) ? quant_error(x, dtype, wt->rows, wt->cols, out, row) : 0;
    free(row);
    double kl = p->cal->sens[i], wo = p->cal->sens_f32_act[i];
    char ks[32] = "-", ws[32] = "-";
    if (kl >= 0) snprintf(ks, sizeof ks, "%.6f", kl);
    if (wo >= 0) snprintf(ws, sizeof ws, "%.6f", wo);
    const char *what = p->keep[i] == KEEP_F16 ? "kept f16 (sensitive)" : p->keep[i] == KEEP_F32_ACT ? "f32 activations" : "";
    char oe[64] = "";
    if (out_err[1] >= 0) snprintf(oe, sizeof oe, "%.3g -> %.3g (%.2fx) ", out_err[0], out_err[1], out_err[0] > 0 ? out_err[1] / out_err[0] : 0);
    fprintf(stderr, "%-28s %-6s %11.5f %14s %14s %s%s\n", name, octet_dtype_name(dtype), err, ks, ws, oe, what);
}

// The calibration summary stored in the file (octet info shows it).
static void write_calib_meta(octet_meta *meta, const calib_plan *p, const conv_model *m) {
    const calib_result *cal = p->cal;
    octet_meta_cstr(meta, "quant.calib_text", basename_of(p->text));
    octet_meta_u32(meta, "quant.calib_tokens", (uint32_t)cal->n_tokens);
    octet_meta_f32(meta, "quant.smooth_alpha", p->smooth);
    if (cal->hess) octet_meta_f32(meta, "quant.gptq_damp", (float)p->gptq_damp);
    if (cal->sens_tokens <= 0) return;
    octet_meta_u32(meta, "quant.sensitivity_tokens", (uint32_t)cal->sens_tokens);
    octet_meta_f32(meta, "quant.estimated_kl", (float)p->est_kl);
    size_t n1 = m->n ? m->n : 1;
    float *sens = malloc(n1 * sizeof *sens), *wo = malloc(n1 * sizeof *wo);
    const char **kept = malloc(n1 * sizeof *kept), **f32_act = malloc(n1 * sizeof *f32_act);
    uint64_t nk = 0, na = 0;
    int measured_wo = 0;
    if (sens && wo && kept && f32_act) {
        for (size_t i = 0; i < m->n; i++) {
            sens[i] = (float)cal->sens[i];
            wo[i] = (float)cal->sens_f32_act[i];
            measured_wo |= wo[i] >= 0;
            if (p->keep[i] == KEEP_F16) kept[nk++] = m->t[i].name;
            if (p->keep[i] == KEEP_F32_ACT) f32_act[na++] = m->t[i].name;
        }
        octet_meta_arr_f32(meta, "quant.sensitivity", m->n, sens);
        octet_meta_arr_str(meta, "quant.kept_f16", nk, kept, NULL);
        if (measured_wo) octet_meta_arr_f32(meta, "quant.sensitivity_f32_act", m->n, wo);
        if (na) octet_meta_arr_str(meta, "quant.f32_act", na, f32_act, NULL);
    }
    free(sens); free(wo); free(kept); free(f32_act);
}

// NaN or Inf weights would reach float-to-int casts when quantized and make every output
// garbage; the source is broken, so it is refused.
static int check_finite(const char *path, const conv_tensor *t, const float *x, uint64_t n) {
    for (uint64_t j = 0; j < n; j++)
        if (!isfinite(x[j])) {
            octet_set_error("%s: tensor '%s' holds a non-finite value (%g at index %llu)", path, t->name, (double)x[j], (unsigned long long)j);
            return -1;
        }
    return 0;
}

static int shift_values(const conv_tensor *t, float *x, uint64_t n) {
    if (t->shift != 0.0f)
        for (uint64_t j = 0; j < n; j++) x[j] += t->shift;
    return 0;
}

static int convert_with(const convert_options *opt, const calib_plan *plan) {
    conv_model m = {0};
    m.path = opt->input ? opt->input : opt->tokenizer;
    int rc = -1;
    if (opt->synthetic) { m.path = opt->synthetic; rc = synthetic_read(&m, opt->synthetic); }
    else if (!opt->input && opt->tokenizer && opt->vocab_only) rc = llama2c_read_tokenizer(&m, opt->tokenizer, 0);
    else if (!opt->input) octet_set_error("convert: missing INPUT");
    else if (is_dir(opt->input)) rc = hf_read(&m, opt->input);
    else if (is_gguf(opt->input)) rc = gguf_read(&m, opt->input);
    else if (opt->tokenizer) rc = llama2c_read(&m, opt->input, opt->tokenizer);
    else if (access(opt->input, R_OK) != 0) octet_set_error("%s: cannot open: %s", opt->input, strerror(errno));
    else octet_set_error("%s: not a GGUF file or Hugging Face directory; a llama2.c checkpoint needs --tokenizer tokenizer.bin", opt->input);
    if (rc != 0) { conv_model_free(&m); return -1; }
    if (check_model(&m, m.path, opt->vocab_only) != 0) { conv_model_free(&m); return -1; }

    octet_meta *meta = &m.meta;
    octet_meta_cstr(meta, "converter.version", OCTET_CONVERTER_VERSION);
    octet_meta_cstr(meta, "converter.source", basename_of(m.path));
    octet_meta_cstr(meta, "general.file_type", opt->vocab_only ? "vocab" : octet_dtype_name(opt->type));
    // Random weights have no outliers worth a clip search: plain max keeps 7B conversion fast.
    int clip = opt->synthetic ? CLIP_MAX : opt->clip;
    const char *group = opt->type == OCTET_Q8G32H ? "per-32-weight (f16 scales)" : opt->type == OCTET_Q8G32 ? "per-32-weight" : "per-row";
    char qdesc[200];
    if (clip == CLIP_PCT) snprintf(qdesc, sizeof qdesc, "%s symmetric int8, scale = clip/127, clip = %g-th percentile of |group| (--clip p%g)", group, opt->clip_pct, opt->clip_pct);
    else if (clip == CLIP_MAX) snprintf(qdesc, sizeof qdesc, "%s symmetric int8, scale = max|group|/127 (--clip max)", group);
    else snprintf(qdesc, sizeof qdesc, "%s symmetric int8, scale = clip/127, clip minimising the group's squared error (--clip mse)", group);
    if (plan && plan->cal->hess) strncat(qdesc, "; GPTQ rounding", sizeof qdesc - strlen(qdesc) - 1);
    octet_meta_cstr(meta, "converter.quantization", !octet_is_q8(opt->type) || opt->vocab_only ? "none" : qdesc);
    if (opt->act_asym == ACT_ASYM && octet_is_q8(opt->type) && !opt->vocab_only) octet_meta_cstr(meta, "quant.act_quant", "asym");
    if (!opt->vocab_only) octet_meta_bool(meta, "model.tied_embeddings", conv_find_tensor(&m, "output.weight") == NULL);
    const octet_file *cf = plan ? &plan->cal->m.file : NULL;
    if (cf && cf->n_tensors != m.n) { conv_model_free(&m); octet_set_error("calibration: the f32 model has %llu tensors, the input %zu", (unsigned long long)cf->n_tensors, m.n); return -1; }
    if (plan) write_calib_meta(meta, plan, &m);

    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = nc < 1 ? 1 : nc > 16 ? 16 : (int)nc;
    octet_writer w;
    if (octet_writer_open(&w, opt->output) != 0) { conv_model_free(&m); return -1; }
    size_t n = opt->vocab_only ? 0 : m.n;
    uint32_t *dtype = calloc(n ? n : 1, sizeof *dtype);
    if (!dtype) goto fail_oom;
    for (size_t i = 0; i < n; i++) {
        const conv_tensor *t = &m.t[i];
        dtype[i] = t->n_dims >= 2 ? opt->type : OCTET_F32;
        if (t->n_dims >= 2) dtype[i] = octet_q8_dtype_for(opt->type, t->dims[t->n_dims - 1]);
        if (plan && plan->keep[i] == KEEP_F16) dtype[i] = OCTET_F16;
        if (octet_writer_add_tensor(&w, t->name, dtype[i], t->n_dims, t->dims) != 0) goto fail;
    }
    if (opt->act_asym == ACT_MIXED && write_asym_marks(meta, &m, dtype, n, opt->asym_roles) != 0) goto fail_oom;
    w.version = file_version(meta, &m, n);
    if (octet_writer_begin_data(&w, meta) != 0) goto fail;
    uint64_t params = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const conv_tensor *t = &m.t[i];
        const octet_writer_tensor *wt = &w.t[i];
        progress(opt->quiet, i, n, t->name);
        uint64_t numel = conv_tensor_numel(t);
        float *x = malloc(numel * sizeof *x);
        uint8_t *out = dtype[i] == OCTET_F32 ? (uint8_t *)x : malloc(wt->nbytes);
        if (!x || !out) { free(x); goto fail_oom; }
        const octet_tensor *ct = cf ? &cf->tensors[i] : NULL;
        if (ct && (strcmp(ct->name, t->name) || ct->dtype != OCTET_F32 || ct->rows * ct->cols != numel)) {
            free(x); if (out != (uint8_t *)x) free(out);
            octet_set_error("calibration: tensor %zu of the f32 model is '%s', expected '%s'", i, ct->name, t->name);
            goto fail;
        }
        if (ct) memcpy(x, ct->data, numel * sizeof *x);  // smoothed in memory
        else if (t->load(&m, t, x) != 0 || shift_values(t, x, numel) || check_finite(m.path, t, x, numel) != 0) { free(x); if (out != (uint8_t *)x) free(out); goto fail; }
        uint64_t hk = 0;
        const double *H = octet_is_q8(dtype[i]) && plan && opt->gptq ? calib_hessian(plan->cal, ct, &hk) : NULL;
        double out_err[2] = {-1, -1};
        int qrc = 0;  // a quantizer's refusal (q8g32h: a scale beyond f16)
        if (H && hk == wt->cols) {
            if (!opt->quiet) {  // plain rounding's error for the table (out is overwritten below)
                qrc = octet_quantize_q8(x, wt->rows, wt->cols, dtype[i], out, clip, opt->clip_pct, n_threads);
                if (!qrc) out_err[0] = weighted_error(x, wt->rows, wt->cols, dtype[i], H, out);
            }
            if (!qrc) qrc = octet_quantize_gptq(x, wt->rows, wt->cols, dtype[i], H, opt->gptq_damp, out, clip, opt->clip_pct, n_threads);
            if (!qrc && !opt->quiet) out_err[1] = weighted_error(x, wt->rows, wt->cols, dtype[i], H, out);
        }
        else if (octet_is_q8(dtype[i])) qrc = octet_quantize_q8(x, wt->rows, wt->cols, dtype[i], out, clip, opt->clip_pct, n_threads);
        else if (dtype[i] == OCTET_F16 || dtype[i] == OCTET_BF16) {
            for (uint64_t j = 0; j < numel; j++) {
                uint16_t h = dtype[i] == OCTET_F16 ? octet_f32_to_f16(x[j]) : octet_f32_to_bf16(x[j]);
                memcpy(out + 2 * j, &h, 2);
            }
        }
        if (qrc != 0) {
            octet_set_error("%s: %s", t->name, octet_last_error());
            free(x); if (out != (uint8_t *)x) free(out);
            goto fail;
        }
        if (plan && !opt->quiet && t->n_dims >= 2 && octet_is_q8(opt->type)) report_tensor(plan, i, t->name, dtype[i], x, wt, out, out_err);
        int wrc = octet_writer_write_tensor(&w, out);
        if (out != (uint8_t *)x) free(out);
        free(x);
        if (wrc != 0) goto fail;
        params += numel;
        bytes += wt->nbytes;
    }
    progress(opt->quiet, n, n, "done");
    if (octet_writer_commit(&w) != 0) { free(dtype); conv_model_free(&m); return -1; }
    if (!opt->quiet) {
        struct stat st;
        long long fsize = stat(opt->output, &st) == 0 ? (long long)st.st_size : -1;
        if (opt->vocab_only) fprintf(stderr, "wrote %s: vocabulary only, %lld bytes\n", opt->output, fsize);
        else fprintf(stderr, "wrote %s: %zu tensors, %.2fM parameters, %.1f MiB of tensor data, %.2f bits per weight, file %lld bytes\n",
                     opt->output, n, params / 1e6, bytes / 1048576.0, params ? 8.0 * bytes / params : 0.0, fsize);
    }
    free(dtype);
    conv_model_free(&m);
    return 0;
fail_oom:
    octet_set_error("out of memory while converting %s", opt->input);
fail:
    if (!opt->quiet && isatty(2)) fputc('\n', stderr);
    free(dtype);
    octet_writer_abort(&w);
    conv_model_free(&m);
    return -1;
}
