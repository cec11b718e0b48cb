#include "calibrate.h"
#include "quantize.h"
#include "forward.h"
#include "metrics.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// Per layer, the per-channel max |x| of the four matmul inputs: q/k/v (dim), o (dim),
// gate/up (dim), down (hidden); optionally every layer's input rows for the sensitivity runs.
typedef struct {
    int dim, qd, hid;
    float *amax;     // [n_layers][dim (attn in) + qd (o_proj in) + dim (ffn in) + hid (down in)]
    float *saved;    // [n_layers][n][dim] or NULL
    calib_result *hess;  // when set: X^T X is accumulated into its hess / hess_head
    int n_layers;
} calib_state;

static int hess_index(int site) {
    return site == OCTET_SITE_ATTN_IN ? 0 : site == OCTET_SITE_ATTN_OUT ? 1 : site == OCTET_SITE_FFN_IN ? 2 : site == OCTET_SITE_FFN_OUT ? 3 : -1;
}

// Adds x^T x of n rows of width k to the upper triangle of h (mirrored when collection ends).
static void add_outer(double *h, const float *x, int n, int k) {
    for (int t = 0; t < n; t++) {
        const float *r = x + (size_t)t * k;
        for (int a = 0; a < k; a++) {
            double xa = r[a];
            if (xa == 0) continue;
            double *ha = h + (size_t)a * k;
            for (int b = a; b < k; b++) ha[b] += xa * r[b];
        }
    }
}

static float *site_max(calib_state *st, int layer, int site) {
    size_t at = site == OCTET_SITE_ATTN_IN ? 0 : site == OCTET_SITE_ATTN_OUT ? (size_t)st->dim : site == OCTET_SITE_FFN_IN ? (size_t)(st->dim + st->qd) : (size_t)(2 * st->dim + st->qd);
    return st->amax + (size_t)layer * (2 * st->dim + st->qd + st->hid) + at;
}

static void observe(void *ud, int layer, int site, const float *x, int n, int k) {
    calib_state *st = ud;
    if (st->hess) {
        if (site == OCTET_SITE_HEAD_IN) { if (st->hess->hess_head) add_outer(st->hess->hess_head, x, n, k); }
        else if (hess_index(site) >= 0) add_outer(st->hess->hess[layer * 4 + hess_index(site)], x, n, k);
        return;
    }
    if (site == OCTET_SITE_LAYER_IN) {
        if (st->saved) memcpy(st->saved + (size_t)layer * n * k, x, (size_t)n * k * sizeof *x);
        return;
    }
    if (site == OCTET_SITE_HEAD_IN || !st->amax) return;
    float *a = site_max(st, layer, site);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < k; i++) a[i] = fmaxf(a[i], fabsf(x[(size_t)t * k + i]));
}

static float *wdata(const octet_tensor *t) { return (float *)(uintptr_t)t->data; }

// max over the rows of the given matrices of |W[r][j]|, per input channel j.
static void col_max(const octet_tensor *const *ts, int nt, int k, float *out) {
    memset(out, 0, (size_t)k * sizeof *out);
    for (int i = 0; i < nt; i++)
        for (uint64_t r = 0; r < ts[i]->rows; r++) {
            const float *w = wdata(ts[i]) + r * (uint64_t)k;
            for (int j = 0; j < k; j++) out[j] = fmaxf(out[j], fabsf(w[j]));
        }
}

// SmoothQuant: s = max|x|^a / max|w|^(1-a); channels that never fire keep s = 1.
static float smooth_factor(float amax, float wmax, float alpha) {
    if (!(amax > 0) || !(wmax > 0)) return 1.0f;
    float s = powf(amax, alpha) / powf(wmax, 1.0f - alpha);
    return isfinite(s) && s > 0 ? s : 1.0f;
}

static void scale_cols(const octet_tensor *t, const float *s) {
    for (uint64_t r = 0; r < t->rows; r++) {
        float *w = wdata(t) + r * t->cols;
        for (uint64_t j = 0; j < t->cols; j++) w[j] *= s[j];
    }
}

// Divides channel j by s[j] where it is produced: a norm gain, or row j of the producing
// matrix (and its bias), so the consumers' scaled columns see the same products.
static void unscale_gain(const octet_tensor *g, const float *s) {
    for (uint64_t j = 0; j < g->cols; j++) wdata(g)[j] /= s[j];
}
static void unscale_rows(const octet_tensor *t, const octet_tensor *bias, const float *s) {
    for (uint64_t j = 0; j < t->rows; j++) {
        float *w = wdata(t) + j * t->cols;
        for (uint64_t i = 0; i < t->cols; i++) w[i] /= s[j];
        if (bias) wdata(bias)[j] /= s[j];
    }
}

// Matrices reading one RMSNorm's output: their columns times s, the gain divided by it.
static void smooth_after_norm(const octet_tensor *norm, const octet_tensor *const *mats, int nm, const float *amax, int k, float alpha, float *s, float *wmax) {
    col_max(mats, nm, k, wmax);
    for (int j = 0; j < k; j++) s[j] = smooth_factor(amax[j], wmax[j], alpha);
    for (int i = 0; i < nm; i++) scale_cols(mats[i], s);
    unscale_gain(norm, s);
}

// Folds smoothing into the f32 model: norm gains for q/k/v and gate/up, v rows for o (one
// factor per kv channel, shared by the query heads of its group), up rows for down.
static void smooth_model(octet_model *m, calib_state *st, float alpha, float *s, float *wmax, float *kv_s) {
    const octet_hparams *hp = &m->hp;
    int dim = (int)hp->dim, hid = (int)hp->hidden_dim, hd = (int)hp->head_dim, group = (int)(hp->n_heads / hp->n_kv_heads);
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        const octet_layer *L = &m->layers[l];
        const octet_tensor *qkv[3] = {L->wq, L->wk, L->wv}, *gu[2] = {L->w_gate, L->w_up};
        smooth_after_norm(L->attn_norm, qkv, 3, site_max(st, (int)l, OCTET_SITE_ATTN_IN), dim, alpha, s, wmax);
        smooth_after_norm(L->ffn_norm, gu, 2, site_max(st, (int)l, OCTET_SITE_FFN_IN), dim, alpha, s, wmax);

        const float *a = site_max(st, (int)l, OCTET_SITE_ATTN_OUT);
        col_max(&L->wo, 1, (int)hp->q_dim, wmax);
        for (uint32_t kvh = 0; kvh < hp->n_kv_heads; kvh++)
            for (int d = 0; d < hd; d++) {
                float am = 0, wm = 0;
                for (int g = 0; g < group; g++) {
                    int j = ((int)kvh * group + g) * hd + d;
                    am = fmaxf(am, a[j]);
                    wm = fmaxf(wm, wmax[j]);
                }
                float f = smooth_factor(am, wm, alpha);
                for (int g = 0; g < group; g++) s[((int)kvh * group + g) * hd + d] = f;
                kv_s[(int)kvh * hd + d] = f;
            }
        scale_cols(L->wo, s);
        unscale_rows(L->wv, L->bv, kv_s);

        a = site_max(st, (int)l, OCTET_SITE_FFN_OUT);
        col_max(&L->w_down, 1, hid, wmax);
        for (int j = 0; j < hid; j++) s[j] = smooth_factor(a[j], wmax[j], alpha);
        scale_cols(L->w_down, s);
        unscale_rows(L->w_up, NULL, s);
    }
}

// The model slots a file tensor fills (two for a tied embedding), and the first layer whose
// output its quantization can change.
typedef struct { const octet_tensor **a, **b; int first_layer; } slot;

static int find_slot(octet_model *m, const octet_tensor *t, slot *out) {
    const octet_hparams *hp = &m->hp;
    memset(out, 0, sizeof *out);
    if (t == m->tok_embd) { *out = (slot){&m->tok_embd, m->output == t ? &m->output : NULL, 0}; return 1; }
    if (t == m->output) { *out = (slot){&m->output, NULL, (int)hp->n_layers - 1}; return 1; }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        octet_layer *L = &m->layers[l];
        const octet_tensor **f[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (unsigned i = 0; i < sizeof f / sizeof *f; i++)
            if (*f[i] == t) { *out = (slot){f[i], NULL, (int)l}; return 1; }
    }
    return 0;
}

static void progress(int quiet, const char *what, int i, int n) {
    if (quiet || !isatty(2)) return;
    fprintf(stderr, "\rcalibration: %s %d/%d", what, i, n);
    if (i == n) fputc('\n', stderr);
}

// Mean KL between the reference logits and those of the model with one tensor quantized, for
// every matrix; the runs start at the first layer the tensor changes, from saved inputs.
static int measure_sensitivity(calib_result *r, calib_state *st, octet_context *c, const int32_t *tok, int n, const calib_options *o, int n_threads) {
    octet_model *m = &r->m;
    const octet_hparams *hp = &m->hp;
    size_t V = hp->vocab_size;
    float *ref = malloc((size_t)n * V * sizeof *ref), *got = malloc((size_t)n * V * sizeof *got);
    double *scratch = malloc(2 * V * sizeof *scratch);
    st->saved = malloc((size_t)hp->n_layers * n * hp->dim * sizeof *st->saved);
    if (!ref || !got || !scratch || !st->saved) { free(ref); free(got); free(scratch); octet_set_error("out of memory for sensitivity runs"); return -1; }
    c->pos = 0;
    int rc = octet_forward(c, tok, n, ref, 1);
    float *saved = st->saved;
    st->saved = NULL;
    uint64_t nt = m->file.n_tensors, done = 0, total = 0;
    for (uint64_t i = 0; i < nt; i++) total += m->file.tensors[i].n_dims == 2;
    for (uint64_t i = 0; i < nt && rc == 0; i++) {
        const octet_tensor *t = &m->file.tensors[i];
        slot sl;
        if (t->n_dims != 2 || !find_slot(m, t, &sl)) continue;
        uint32_t dtype = octet_q8_dtype_for(o->type, t->cols);  // as convert writes it
        octet_tensor q = *t;
        q.dtype = dtype;
        if (octet_tensor_nbytes(dtype, t->rows, t->cols, &q.nbytes) != 0) { rc = -1; break; }
        uint8_t *buf = malloc(q.nbytes);
        if (!buf) { octet_set_error("out of memory for sensitivity runs"); rc = -1; break; }
        if (octet_quantize_q8(t->data, t->rows, t->cols, dtype, buf, o->clip, o->clip_pct, n_threads) != 0) {
            octet_set_error("%s: %s", t->name, octet_last_error());
            free(buf); rc = -1; break;
        }
        q.data = buf;
        q.block_sums = NULL;
        if (o->act_asym && octet_tensor_block_sums(&q) != 0) { free(buf); rc = -1; break; }
        *sl.a = &q;
        if (sl.b) *sl.b = &q;
        for (int act_f32 = 0; act_f32 <= o->weight_only && rc == 0; act_f32++) {
            q.act_f32 = act_f32;
            c->pos = 0;
            c->first_layer = sl.first_layer;
            if (sl.first_layer > 0) memcpy(c->x, saved + (size_t)sl.first_layer * n * hp->dim, (size_t)n * hp->dim * sizeof *c->x);
            rc = octet_forward(c, tok, n, got, 1);
            double kl = 0;
            for (int p = 0; p < n; p++) kl += octet_kl(ref + (size_t)p * V, got + (size_t)p * V, (int)V, scratch);
            (act_f32 ? r->sens_f32_act : r->sens)[i] = kl / n;
        }
        *sl.a = t;
        if (sl.b) *sl.b = t;
        free(buf);
        free(q.block_sums);
        progress(o->quiet, "sensitivity of tensor", (int)++done, (int)total);
    }
    free(ref); free(got); free(scratch); free(saved);
    return rc;
}

static void mirror(double *h, uint64_t k) {
    for (uint64_t a = 0; a < k; a++)
        for (uint64_t b = 0; b < a; b++) h[a * k + b] = h[b * k + a];
}

// A second pass over the calibration tokens, through the smoothed model, for GPTQ's X^T X.
static int collect_hessians(calib_result *r, calib_state *st, octet_context *c, const int32_t *tok, int n_tok, int W, const calib_options *o) {
    const octet_hparams *hp = &r->m.hp;
    int L = (int)hp->n_layers;
    // A tied LM head is rounded plainly (calib_hessian): its inputs are not needed then, nor the
    // logits of every position that collecting them takes.
    int head = r->m.output != r->m.tok_embd;
    r->hess = calloc((size_t)L * 4, sizeof *r->hess);
    r->hess_head = head ? calloc((size_t)hp->dim * hp->dim, sizeof *r->hess_head) : NULL;
    if (!r->hess || (head && !r->hess_head)) { octet_set_error("out of memory for the GPTQ Hessians"); return -1; }
    for (int l = 0; l < L; l++)
        for (int s = 0; s < 4; s++) {
            uint64_t k = s == 1 ? hp->q_dim : s == 3 ? hp->hidden_dim : hp->dim;
            if (!(r->hess[l * 4 + s] = calloc(k * k, sizeof(double)))) { octet_set_error("out of memory for the GPTQ Hessians"); return -1; }
        }
    st->hess = r;
    int rc = 0;
    // With a separate LM head every position's final hidden state feeds it: all logits, in chunks.
    float *logits = malloc((size_t)(head ? 64 : 1) * hp->vocab_size * sizeof *logits);
    if (!logits) { octet_set_error("out of memory"); rc = -1; }
    for (int p = 0; p < n_tok && rc == 0; p += W) {
        int k = n_tok - p < W ? n_tok - p : W;
        c->pos = 0;
        for (int q = 0; q < k && rc == 0; q += head ? 64 : k) {
            int m = head ? (k - q < 64 ? k - q : 64) : k;
            rc = octet_forward(c, tok + p + q, m, logits, head);
        }
        progress(o->quiet, "GPTQ inputs, token", p + k, n_tok);
    }
    st->hess = NULL;
    free(logits);
    for (int i = 0; i < L * 4 && rc == 0; i++) mirror(r->hess[i], i % 4 == 1 ? hp->q_dim : i % 4 == 3 ? hp->hidden_dim : hp->dim);
    if (rc == 0 && head) mirror(r->hess_head, hp->dim);
    return rc;
}

const double *calib_hessian(const calib_result *r, const octet_tensor *t, uint64_t *k) {
    const octet_model *m = &r->m;
    if (!r->hess) return NULL;
    // A tied embedding is also the lookup table of the input tokens: its rows must stay close to
    // the weights themselves, which GPTQ trades away for the LM head's products.
    if (t == m->output) { *k = m->hp.dim; return r->hess_head; }  // NULL when tied
    for (uint32_t l = 0; l < m->hp.n_layers; l++) {
        const octet_layer *L = &m->layers[l];
        const octet_tensor *by_site[4][3] = {{L->wq, L->wk, L->wv}, {L->wo, NULL, NULL}, {L->w_gate, L->w_up, NULL}, {L->w_down, NULL, NULL}};
        for (int s = 0; s < 4; s++)
            for (int j = 0; j < 3; j++)
                if (by_site[s][j] && by_site[s][j] == t) { *k = t->cols; return r->hess[l * 4 + s]; }
    }
    return NULL;
}

// The calibration tokens: the text's first `want`, with the model's BOS first when it adds one.
static int calib_tokens(const octet_model *m, const char *path, int want, int32_t **out, int *n) {
    size_t len;
    int builtin = !strcmp(path, OCTET_CALIB_BUILTIN);
    char *text = builtin ? strdup(octet_builtin_calib_text) : octet_read_file(path, &len);
    if (builtin && text) len = strlen(text);
    if (!text) { octet_set_error("--calib %s: cannot read: %s", path, octet_last_error()); return -1; }
    size_t nt = 0;
    int rc = octet_tokenize(&m->tok, text, len, -1, 0, out, &nt);
    free(text);
    if (rc != 0) { octet_set_error("--calib %s: cannot tokenize: %s", path, octet_last_error()); return -1; }
    if (nt < 16) { free(*out); *out = NULL; octet_set_error("--calib %s: too short (%zu tokens; at least 16 needed)", path, nt); return -1; }
    *n = nt < (size_t)want ? (int)nt : want;
    return 0;
}

int calib_run(const char *f32_path, const calib_options *o, calib_result *r) {
    memset(r, 0, sizeof *r);
    if (octet_model_load(&r->m, f32_path) != 0) return -1;
    octet_model *m = &r->m;
    const octet_hparams *hp = &m->hp;
    calib_state st = {(int)hp->dim, (int)hp->q_dim, (int)hp->hidden_dim, NULL, NULL, NULL, (int)hp->n_layers};
    octet_context c = {0};
    int32_t *tok = NULL;
    float *s = NULL, *wmax = NULL, *kv_s = NULL;
    int n_tok = 0, rc = -1, ctx_ok = 0;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = nc < 1 ? 1 : nc > 16 ? 16 : (int)nc;
    // Smoothing rewrites the weights in memory; the file itself is never written.
    if (mprotect(m->file.map, m->file.size, PROT_READ | PROT_WRITE) != 0) { octet_set_error("calibration: cannot remap the model writable"); goto done; }
    if (!m->has_tokenizer) { octet_set_error("calibration needs the model's tokenizer (use --calib none)"); goto done; }
    if (calib_tokens(m, o->text, o->tokens, &tok, &n_tok) != 0) goto done;
    int W = n_tok < 512 ? n_tok : 512;
    if ((uint32_t)W > hp->context_length) W = (int)hp->context_length;
    size_t per_layer = 2 * hp->dim + hp->q_dim + hp->hidden_dim, wide = hp->dim > hp->hidden_dim ? hp->dim : hp->hidden_dim;
    if (hp->q_dim > wide) wide = hp->q_dim;
    st.amax = calloc(hp->n_layers * per_layer, sizeof *st.amax);
    s = malloc(wide * sizeof *s);
    wmax = malloc(wide * sizeof *wmax);
    kv_s = malloc(hp->kv_dim * sizeof *kv_s);
    r->sens = malloc((m->file.n_tensors ? m->file.n_tensors : 1) * sizeof *r->sens);
    r->sens_f32_act = malloc((m->file.n_tensors ? m->file.n_tensors : 1) * sizeof *r->sens_f32_act);
    float *last = malloc(hp->vocab_size * sizeof *last);
    if (!st.amax || !s || !wmax || !kv_s || !r->sens || !r->sens_f32_act || !last) { free(last); octet_set_error("out of memory for calibration"); goto done; }
    for (uint64_t i = 0; i < m->file.n_tensors; i++) r->sens[i] = r->sens_f32_act[i] = -1;
    if (octet_context_init(&c, m, W, W, n_threads, 32, o->act_asym, 0) != 0) { free(last); goto done; }
    ctx_ok = 1;
    c.observe = observe;
    c.observe_ud = &st;
    rc = 0;
    for (int p = 0; p < n_tok && rc == 0; p += W) {
        int k = n_tok - p < W ? n_tok - p : W;
        c.pos = 0;
        rc = octet_forward(&c, tok + p, k, last, 0);
        progress(o->quiet, "activation ranges, token", p + k, n_tok);
    }
    free(last);
    r->n_tokens = n_tok;
    if (rc == 0 && o->smooth > 0) smooth_model(m, &st, o->smooth, s, wmax, kv_s);
    free(st.amax);
    st.amax = NULL;
    if (rc == 0 && o->hessians) rc = collect_hessians(r, &st, &c, tok, n_tok, W, o);
    if (rc == 0 && o->sensitivity) {
        r->sens_tokens = n_tok < o->sens_tokens ? n_tok : o->sens_tokens;
        if (r->sens_tokens > W) r->sens_tokens = W;
        rc = measure_sensitivity(r, &st, &c, tok, r->sens_tokens, o, n_threads);
    }
done:
    if (ctx_ok) octet_context_free(&c);
    free(st.amax); free(tok); free(s); free(wmax); free(kv_s);
    if (rc != 0) calib_free(r);
    return rc;
}

void calib_free(calib_result *r) {
    if (r->hess)
        for (uint32_t i = 0; i < r->m.hp.n_layers * 4; i++) free(r->hess[i]);
    free(r->hess);
    free(r->hess_head);
    free(r->sens);
    free(r->sens_f32_act);
    if (r->m.layers || r->m.file.map) octet_model_free(&r->m);
    memset(r, 0, sizeof *r);
}
