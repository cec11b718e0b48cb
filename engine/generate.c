#include "generate.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// One evaluation and the next token: the session's own (greedy or sampled on the GPU when it
// runs there), or eval's logits sampled here.
static int eval_next(octet_eval_fn eval, void *eval_ud, octet_session *s, const int32_t *t, int n, octet_sampler *smp, float *logits, int32_t *next) {
    if (!eval) return octet_eval_next(s, t, n, smp, logits, next);
    if (eval(eval_ud, s, t, n, logits) != 0) return -1;
    *next = octet_sample(smp, logits);
    return 0;
}

int octet_generate(octet_session *s, const octet_model *m, octet_sampler *smp, const int32_t *prompt, int n_prompt,
                   int n_predict, int (*on_token)(void *, int32_t, const char *, size_t), void *ud,
                   int32_t *ids, octet_gen_stats *st) {
    return octet_generate_via(NULL, NULL, s, m, smp, prompt, n_prompt, n_predict, on_token, ud, ids, st);
}

int octet_generate_via(octet_eval_fn eval, void *eval_ud, octet_session *s, const octet_model *m, octet_sampler *smp, const int32_t *prompt,
                       int n_prompt, int n_predict, int (*on_token)(void *, int32_t, const char *, size_t), void *ud,
                       int32_t *ids, octet_gen_stats *st) {
    memset(st, 0, sizeof *st);
    int vocab = octet_vocab_size(m);
    float *logits = malloc((size_t)vocab * sizeof *logits);
    octet_text_stream *ts = octet_text_stream_new(m);
    if (!logits || !ts) { free(logits); octet_text_stream_free(ts); if (!ts) return -1; octet_set_error("out of memory"); return -1; }
    int rc = -1;
    if (n_prompt < 1) { octet_set_error("the prompt is empty (no tokens to start from)"); goto out; }
    if (octet_session_pos(s) + n_prompt > octet_session_n_ctx(s)) {
        octet_set_error("the prompt has %d tokens but the context holds %d (raise -c)", n_prompt, octet_session_n_ctx(s) - octet_session_pos(s));
        goto out;
    }
    // The backend picks the token (on a GPU only the id comes back). The prompt's tokens count
    // for the penalties before the first pick.
    int32_t next = 0;
    double t0 = octet_time_ms();
    for (int i = 0; i < n_prompt; i++) octet_sampler_accept(smp, prompt[i]);
    if (eval_next(eval, eval_ud, s, prompt, n_prompt, smp, logits, &next) != 0) goto out;
    st->prompt_ms = octet_time_ms() - t0;
    st->n_prompt = n_prompt;
    t0 = octet_time_ms();
    char text[4096];
    st->stop = "length";
    for (int i = 0; n_predict < 0 || i < n_predict; i++) {
        int32_t id = next;
        if (octet_is_end_token(m, id)) { st->stop = "eos"; break; }
        octet_sampler_accept(smp, id);
        if (ids) ids[st->n_gen] = id;
        st->n_gen++;
        size_t n = octet_text_stream_push(ts, id, text, sizeof text);
        if (on_token && on_token(ud, id, text, n)) { st->stop = "callback"; break; }
        if ((n_predict >= 0 && i + 1 == n_predict)) break;
        if (octet_session_pos(s) >= octet_session_n_ctx(s)) { st->stop = "context"; break; }
        if (eval_next(eval, eval_ud, s, &id, 1, smp, logits, &next) != 0) goto out;
    }
    size_t n = octet_text_stream_flush(ts, text, sizeof text);
    if (n && on_token) on_token(ud, -1, text, n);
    st->gen_ms = octet_time_ms() - t0;
    rc = 0;
out:
    free(logits);
    octet_text_stream_free(ts);
    return rc;
}
