// Comparing a model with a transformers fixture (tools/ref/make_fixtures.py and
// make_gemma3_fixture.py: per prompt the ids, the top-20 logits at every position and a greedy
// continuation), shared by test_forward (SmolLM2) and test_families (Gemma 3).
#ifndef OCTET_REF_FIXTURE_H
#define OCTET_REF_FIXTURE_H
#include "check.h"
#include "json.h"
#include "octet.h"
#include "util.h"
#include <math.h>

static int act_mode = OCTET_ACT_INT8;
static octet_session *session(const octet_model *m, int n_ctx, int threads) {
    octet_session_params p = {n_ctx, 64, threads, act_mode, 0, OCTET_DEVICE_CPU};
    octet_session *s = octet_session_new(m, &p);
    CHECK(s != NULL, "%s", octet_last_error());
    return s;
}

// Greedy decoding from a prompt; stops after an end token (included) or n tokens.
static int greedy(const octet_model *m, octet_session *s, const int32_t *prompt, int np, int n, int32_t *out) {
    int V = octet_vocab_size(m), k = 0;
    float *logits = malloc((size_t)V * sizeof *logits);
    if (octet_eval(s, prompt, np, logits, 0) != 0) { free(logits); return -1; }
    while (k < n) {
        int32_t t = octet_argmax(logits, V);
        out[k++] = t;
        if (octet_is_end_token(m, t) || octet_eval(s, &t, 1, logits, 0) != 0) break;
    }
    free(logits);
    return k;
}

typedef struct { json *root; const json *cases; } fixture;
static int load_fixture(fixture *fx, const char *path) {
    size_t n;
    char *text = octet_read_file(path, &n), err[128];
    if (!text) return -1;
    fx->root = json_parse(text, n, err, sizeof err);
    free(text);
    fx->cases = json_get(fx->root, "cases");
    return fx->cases && fx->cases->type == JSON_ARRAY ? 0 : -1;
}
static int32_t *ids_of(const json *arr, size_t *n) {
    *n = arr ? arr->len : 0;
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = (int32_t)arr->items[i]->num;
    return v;
}

// One prompt of a fixture: its tokenization, every position's top-20 logits (f32: within 1e-3
// of max|logit|) and the greedy continuation (f32: identical); the top-1 of each position is
// recorded (f32) or compared with the f32 one (quantized). Counts go to the pointers.
static void ref_case(const octet_model *m, const json *c, int f32, int max_greedy, int *agree, int *positions, int *greedy16, float **f32_top1) {
    size_t np, ng;
    int32_t *ids = ids_of(json_get(c, "ids"), &np), *ref = ids_of(json_get(c, "greedy"), &ng);
    const char *text = json_str(c, "text");
    int32_t *tok = NULL;
    size_t nt = 0;
    CHECK(octet_tokenize_text(m, text, strlen(text), -1, 1, &tok, &nt) == 0, "tokenize");
    int same_tok = nt == np;
    for (size_t i = 0; same_tok && i < np; i++) same_tok = tok[i] == ids[i];
    CHECK(same_tok, "tokenization of '%.40s' differs from transformers (%zu vs %zu tokens)", text, nt, np);
    free(tok);
    int V = octet_vocab_size(m);
    float *logits = malloc(np * (size_t)V * sizeof *logits);
    octet_session *s = session(m, 512, 2);
    CHECK(octet_eval(s, ids, (int)np, logits, 1) == 0, "%s", octet_last_error());
    const json *top_ids = json_get(c, "top_ids"), *top_logits = json_get(c, "top_logits");
    float worst = 0;
    for (size_t p = 0; p < np; p++) {
        const json *ti = top_ids->items[p], *tl = top_logits->items[p];
        float mx = 0, diff = 0;
        for (size_t k = 0; k < tl->len; k++) mx = fmaxf(mx, fabsf((float)tl->items[k]->num));
        for (size_t k = 0; k < ti->len; k++) diff = fmaxf(diff, fabsf(logits[p * V + (int)ti->items[k]->num] - (float)tl->items[k]->num));
        worst = fmaxf(worst, diff / mx);
        int mine = octet_argmax(logits + p * V, V);
        if (f32) { (*f32_top1)[*positions] = (float)mine; (*agree) += mine == (int)ti->items[0]->num; }
        else (*agree) += mine == (int)(*f32_top1)[*positions];
        (*positions)++;
    }
    if (f32) CHECK(worst <= 1e-3f, "'%.30s': logits differ by %.2e of max|logit| (limit 1e-3)", text, worst);
    octet_session_reset(s);
    int32_t out[64];
    int n = greedy(m, s, ids, (int)np, max_greedy < 64 ? max_greedy : 64, out), same = 0;
    while (same < n && (size_t)same < ng && out[same] == ref[same]) same++;
    if (f32) CHECK(same == n && (size_t)n == ng, "'%.30s': greedy continuation matches transformers for %d of %zu tokens", text, same, ng);
    *greedy16 += same >= 16 || (size_t)same == ng;
    printf("  %s %3zu-token prompt: logits within %.1e of max|logit|, greedy equal for %d/%zu tokens\n", f32 ? "f32" : "q8 ", np, worst, same, ng);
    octet_session_free(s);
    free(logits); free(ids); free(ref);
}

#endif
