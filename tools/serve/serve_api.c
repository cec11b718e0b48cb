// The OpenAI-compatible endpoints: /v1/chat/completions, /v1/completions (whole JSON or
// server-sent events), /v1/models, /health. Requests are validated field by field; anything
// wrong is a 4xx with an OpenAI-style error object.
#include "generate.h"
#include "json.h"
#include "serve.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STOP 4

void serve_error(int fd, int status, const char *type, const char *code, const char *param, const char *msg, int keep_alive) {
    octet_str o = {0};
    octet_str_addz(&o, "{\"error\":{\"message\":");
    json_write_string(&o, msg, strlen(msg));
    octet_str_fmt(&o, ",\"type\":\"%s\",\"param\":", type);
    if (param) json_write_string(&o, param, strlen(param)); else octet_str_addz(&o, "null");
    octet_str_addz(&o, ",\"code\":");
    if (code) json_write_string(&o, code, strlen(code)); else octet_str_addz(&o, "null");
    octet_str_addz(&o, "}}");
    if (!o.oom) http_respond(fd, status, "application/json", o.p, o.len, keep_alive);
    octet_str_free(&o);
}

typedef struct {
    int status;
    char msg[512];
    const char *param, *code;
} api_err;

static int bad(api_err *e, const char *param, const char *fmt, const char *detail) {
    e->status = 400;
    e->param = param;
    snprintf(e->msg, sizeof e->msg, fmt, detail);
    return -1;
}

// Optional number field: absent or null keeps *out.
static int opt_num(const json *o, const char *key, double lo, double hi, int integer, double *out, api_err *e) {
    const json *v = json_get(o, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_NUMBER) return bad(e, key, "'%s' must be a number", key);
    if (integer && v->num != floor(v->num)) return bad(e, key, "'%s' must be an integer", key);
    if (!(v->num >= lo && v->num <= hi)) {
        e->status = 400; e->param = key;
        snprintf(e->msg, sizeof e->msg, "'%s' must be between %g and %g", key, lo, hi);
        return -1;
    }
    *out = v->num;
    return 0;
}
static int opt_float(const json *o, const char *key, double lo, double hi, float *dst, api_err *e) {
    double d = *dst;
    if (opt_num(o, key, lo, hi, 0, &d, e)) return -1;
    *dst = (float)d;
    return 0;
}
static int opt_bool(const json *o, const char *key, int *out, api_err *e) {
    const json *v = json_get(o, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_BOOL) return bad(e, key, "'%s' must be a boolean", key);
    *out = v->num != 0;
    return 0;
}

typedef struct {
    int chat, stream, include_usage;
    long max_tokens;
    octet_sampler_params sp;
    const char *stop[MAX_STOP];
    size_t stop_len[MAX_STOP];
    int n_stop;
    char *prompt;   // completions: the text to tokenize (control-token text becomes ids)
    int32_t *ids;   // chat: the rendered conversation's tokens (message text stays text)
    size_t n_ids;
} gen_req;

// Message content: a string, or an array of {"type":"text","text":...} parts.
static int message_text(const json *c, octet_str *out, api_err *e) {
    if (c && c->type == JSON_STRING) { octet_str_add(out, c->str, c->len); return 0; }
    if (!c || c->type != JSON_ARRAY) return bad(e, "messages", "%s", "each message needs 'content': a string or an array of text parts");
    for (size_t i = 0; i < c->len; i++) {
        const char *type = json_str(c->items[i], "type");
        const json *t = json_get(c->items[i], "text");
        if (!type || strcmp(type, "text") || !t || t->type != JSON_STRING) return bad(e, "messages", "%s", "only text content parts are supported");
        octet_str_add(out, t->str, t->len);
    }
    return 0;
}

static int parse_messages(serve_state *sv, const json *ms, gen_req *q, api_err *e) {
    if (!ms || ms->type != JSON_ARRAY || ms->len == 0) return bad(e, "messages", "%s", "'messages' must be a non-empty array");
    size_t n = ms->len;
    octet_chat_msg *msg = calloc(n, sizeof *msg);
    octet_str *text = calloc(n, sizeof *text);
    int rc = -1;
    if (!msg || !text) { e->status = 500; snprintf(e->msg, sizeof e->msg, "out of memory"); goto out; }
    for (size_t i = 0; i < n; i++) {
        const json *m = ms->items[i];
        const char *role = json_str(m, "role");
        if (m->type != JSON_OBJECT || !role) { bad(e, "messages", "%s", "each message must be an object with a 'role'"); goto out; }
        if (!strcmp(role, "developer")) role = "system";
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) { bad(e, "messages", "unsupported role '%s' (system, user, assistant)", role); goto out; }
        if (message_text(json_get(m, "content"), &text[i], e) != 0) goto out;
        octet_str_add(&text[i], "", 0);
        msg[i].role = role;
        msg[i].content = text[i].p;
    }
    // Several system messages (or one later on) are folded into one leading system message.
    int k = 0;
    octet_str sys = {0};
    for (size_t i = 0; i < n; i++) {
        if (strcmp(msg[i].role, "system")) { msg[k++] = msg[i]; continue; }
        if (sys.len) octet_str_addz(&sys, "\n\n");
        octet_str_addz(&sys, msg[i].content);
    }
    if (sys.len) { memmove(msg + 1, msg, (size_t)k * sizeof *msg); msg[0] = (octet_chat_msg){"system", sys.p}; k++; }
    if (octet_chat_prompt(sv->m, sv->chat_template, msg, k, 1, NULL, &q->ids, &q->n_ids) != 0) { bad(e, "messages", "%s", octet_last_error()); octet_str_free(&sys); goto out; }
    octet_str_free(&sys);
    rc = 0;
out:
    for (size_t i = 0; text && i < n; i++) octet_str_free(&text[i]);
    free(text); free(msg);
    return rc;
}

static int parse_request(serve_state *sv, const json *b, gen_req *q, api_err *e) {
    if (!b || b->type != JSON_OBJECT) return bad(e, NULL, "%s", "the request body must be a JSON object");
    const json *model = json_get(b, "model");
    if (model && model->type != JSON_NULL) {
        if (model->type != JSON_STRING) return bad(e, "model", "%s", "'model' must be a string");
        if (strcmp(model->str, sv->model_id) && strcmp(model->str, sv->model_path)) {
            e->status = 404; e->param = "model"; e->code = "model_not_found";
            snprintf(e->msg, sizeof e->msg, "The model '%.200s' does not exist (this server has '%.200s')", model->str, sv->model_id);
            return -1;
        }
    }
    q->sp = sv->defaults;
    q->max_tokens = -1;
    double d;
    d = -1; if (opt_num(b, "max_tokens", 0, 1e9, 1, &d, e)) return -1;
    if (d >= 0) q->max_tokens = (long)d;
    d = -1; if (opt_num(b, "max_completion_tokens", 0, 1e9, 1, &d, e)) return -1;
    if (d >= 0) q->max_tokens = (long)d;
    d = q->sp.top_k; if (opt_num(b, "top_k", 0, 1e9, 1, &d, e)) return -1;
    q->sp.top_k = (int)d;
    if (opt_float(b, "temperature", 0, 2, &q->sp.temp, e) || opt_float(b, "top_p", 0, 1, &q->sp.top_p, e) ||
        opt_float(b, "min_p", 0, 1, &q->sp.min_p, e) || opt_float(b, "presence_penalty", -2, 2, &q->sp.presence_penalty, e) ||
        opt_float(b, "frequency_penalty", -2, 2, &q->sp.frequency_penalty, e) || opt_float(b, "repeat_penalty", 0.01, 100, &q->sp.repeat_penalty, e))
        return -1;
    d = -1; if (opt_num(b, "seed", -9.2e18, 9.2e18, 1, &d, e)) return -1;
    if (d != -1) q->sp.seed = (uint64_t)(int64_t)d;
    d = 1; if (opt_num(b, "n", 1, 1, 1, &d, e)) return -1;
    if (opt_bool(b, "stream", &q->stream, e)) return -1;
    const json *so = json_get(b, "stream_options");
    if (so && so->type != JSON_NULL) {
        if (so->type != JSON_OBJECT) return bad(e, "stream_options", "%s", "'stream_options' must be an object");
        if (opt_bool(so, "include_usage", &q->include_usage, e)) return -1;
    }
    const json *stop = json_get(b, "stop");
    if (stop && stop->type == JSON_STRING) { if (stop->len) { q->stop[0] = stop->str; q->stop_len[0] = stop->len; q->n_stop = 1; } }
    else if (stop && stop->type == JSON_ARRAY) {
        if (stop->len > MAX_STOP) return bad(e, "stop", "%s", "'stop' takes at most 4 sequences");
        for (size_t i = 0; i < stop->len; i++) {
            if (stop->items[i]->type != JSON_STRING) return bad(e, "stop", "%s", "'stop' must be a string or an array of strings");
            if (stop->items[i]->len) { q->stop[q->n_stop] = stop->items[i]->str; q->stop_len[q->n_stop++] = stop->items[i]->len; }
        }
    } else if (stop && stop->type != JSON_NULL) return bad(e, "stop", "%s", "'stop' must be a string or an array of strings");
    if (q->chat) return parse_messages(sv, json_get(b, "messages"), q, e);
    const json *p = json_get(b, "prompt");
    if (p && p->type == JSON_ARRAY && p->len == 1) p = p->items[0];
    if (!p || p->type != JSON_STRING) return bad(e, "prompt", "%s", "'prompt' must be a string");
    if (!(q->prompt = malloc(p->len + 1))) { e->status = 500; snprintf(e->msg, sizeof e->msg, "out of memory"); return -1; }
    memcpy(q->prompt, p->str, p->len);
    q->prompt[p->len] = 0;
    return 0;
}

typedef struct {
    serve_state *sv;
    const gen_req *q;
    int fd, stopped_by_string, gone, timed_out;
    double deadline;    // octet_time_ms() when generation must stop
    octet_str text;
    size_t sent;
    char id[48];
    long created;
} gen_ctx;

static void chunk_prefix(gen_ctx *g, octet_str *o) {
    octet_str_fmt(o, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", g->id, g->q->chat ? "chat.completion.chunk" : "text_completion", g->created);
    json_write_string(o, g->sv->model_id, strlen(g->sv->model_id));
}

// One streamed piece of text (or, with finish, the final chunk with its reason).
static int send_chunk(gen_ctx *g, const char *text, size_t n, const char *finish, int first) {
    octet_str o = {0};
    chunk_prefix(g, &o);
    octet_str_addz(&o, ",\"choices\":[{\"index\":0,");
    if (g->q->chat) {
        octet_str_addz(&o, "\"delta\":{");
        if (first) octet_str_addz(&o, "\"role\":\"assistant\",");
        if (!finish || n) { octet_str_addz(&o, "\"content\":"); json_write_string(&o, text, n); }
        else if (first) o.len--, o.p[o.len] = 0;  // drop the trailing comma
        octet_str_addz(&o, "}");
    } else {
        octet_str_addz(&o, "\"text\":");
        json_write_string(&o, text, n);
        octet_str_addz(&o, ",\"logprobs\":null");
    }
    if (finish) octet_str_fmt(&o, ",\"finish_reason\":\"%s\"}]}", finish);
    else octet_str_addz(&o, ",\"finish_reason\":null}]}");
    int rc = o.oom ? -1 : http_sse_event(g->fd, o.p, o.len);
    octet_str_free(&o);
    return rc;
}

static void flush_text(gen_ctx *g, size_t upto) {
    if (!g->q->stream || upto <= g->sent || g->gone) return;
    if (send_chunk(g, g->text.p + g->sent, upto - g->sent, NULL, 0) != 0) g->gone = 1;
    g->sent = upto;
}

static int on_token(void *ud, int32_t id, const char *text, size_t n) {
    (void)id;
    gen_ctx *g = ud;
    size_t before = g->text.len;
    octet_str_add(&g->text, text, n);
    if (g->text.oom) return 1;
    const gen_req *q = g->q;
    size_t longest = 0;
    for (int i = 0; i < q->n_stop; i++) {
        size_t from = before >= q->stop_len[i] ? before - q->stop_len[i] + 1 : 0;
        const char *hit = strstr(g->text.p + from, q->stop[i]);
        if (hit) {
            g->text.len = (size_t)(hit - g->text.p);
            g->text.p[g->text.len] = 0;
            g->stopped_by_string = 1;
        }
        if (q->stop_len[i] > longest) longest = q->stop_len[i];
    }
    if (g->stopped_by_string) { flush_text(g, g->text.len); return 1; }
    // Hold back what could be the start of a stop sequence, on a UTF-8 character boundary.
    size_t safe = longest ? (g->text.len >= longest - 1 ? g->text.len - (longest - 1) : 0) : g->text.len;
    while (safe > g->sent && safe < g->text.len && ((unsigned char)g->text.p[safe] & 0xC0) == 0x80) safe--;
    flush_text(g, safe);
    if (!g->gone && http_peer_gone(g->fd)) g->gone = 1;
    if (octet_time_ms() > g->deadline) g->timed_out = 1;
    return g->gone || g->timed_out || *g->sv->stopping;
}

// A free slot, preferring the one whose KV cache already holds the longest prefix of ids (a
// client continuing its conversation lands where its history is).
static serve_slot *slot_acquire(serve_state *sv, const int32_t *ids, int n) {
    pthread_mutex_lock(&sv->lock);
    serve_slot *got = NULL;
    while (!got && !*sv->stopping) {
        int best = -1;
        for (int i = 0; i < sv->n_slots; i++) {
            if (sv->slots[i].busy) continue;
            int shared = octet_session_shared(sv->slots[i].s, ids, n);
            if (shared > best) { best = shared; got = &sv->slots[i]; }
        }
        if (!got) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;  // wake up now and then to notice a shutdown
            pthread_cond_timedwait(&sv->slot_free, &sv->lock, &ts);
        }
    }
    if (got) got->busy = 1;
    pthread_mutex_unlock(&sv->lock);
    return got;
}
static void slot_release(serve_state *sv, serve_slot *s) {
    pthread_mutex_lock(&sv->lock);
    s->busy = 0;
    pthread_cond_signal(&sv->slot_free);
    pthread_mutex_unlock(&sv->lock);
}

static void usage_json(octet_str *o, int prompt, int completion) {
    octet_str_fmt(o, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}", prompt, completion, prompt + completion);
}

static void completion(serve_state *sv, int fd, const http_request *r, int chat, int *keep_alive) {
    char err[256];
    json *body = json_parse(r->body, r->body_len, err, sizeof err);
    if (!body) {
        char msg[320];
        snprintf(msg, sizeof msg, "the request body is not valid JSON: %s", err);
        serve_error(fd, 400, "invalid_request_error", NULL, NULL, msg, *keep_alive);
        return;
    }
    gen_req q = {0};
    q.chat = chat;
    api_err e = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    if (parse_request(sv, body, &q, &e) != 0) goto fail;
    if (chat) { ids = q.ids; n = q.n_ids; q.ids = NULL; }
    else if (octet_chat_tokenize(sv->m, q.prompt, &ids, &n) != 0) { bad(&e, "prompt", "%s", octet_last_error()); goto fail; }
    if (n == 0) { bad(&e, "prompt", "%s", "the prompt is empty"); goto fail; }
    if ((long)n >= sv->n_ctx) {
        e.status = 400; e.code = "context_length_exceeded"; e.param = chat ? "messages" : "prompt";
        snprintf(e.msg, sizeof e.msg, "the prompt has %zu tokens but the context holds %d", n, sv->n_ctx);
        goto fail;
    }
    serve_slot *slot = slot_acquire(sv, ids, (int)n);
    if (!slot) { e.status = 503; snprintf(e.msg, sizeof e.msg, "the server is shutting down"); goto fail; }
    gen_ctx g = {sv, &q, fd, 0, 0, 0, octet_time_ms() + sv->gen_timeout_s * 1000, {0}, 0, "", (long)time(NULL)};
    pthread_mutex_lock(&sv->lock);
    snprintf(g.id, sizeof g.id, "%s-%lu", chat ? "chatcmpl" : "cmpl", ++sv->next_id);
    pthread_mutex_unlock(&sv->lock);
    if (q.stream) {
        *keep_alive = 0;
        if (http_sse_start(fd) != 0 || (chat && send_chunk(&g, "", 0, NULL, 1) != 0)) g.gone = 1;
    }
    int keep = octet_session_reuse(slot->s, ids, (int)n);
    octet_sampler smp;
    octet_gen_stats st = {0};
    int rc = -1;
    // The reply's budget: the request's max_tokens, within the server's --n-predict and the context.
    long max = sv->n_ctx - (long)n;
    if (sv->n_predict >= 0 && sv->n_predict < max) max = sv->n_predict;
    if (q.max_tokens >= 0 && q.max_tokens < max) max = q.max_tokens;
    if (!g.gone && octet_sampler_init(&smp, &q.sp, octet_vocab_size(sv->m)) == 0) {
        for (int i = 0; i < keep; i++) octet_sampler_accept(&smp, ids[i]);
        if (max == 0) rc = 0;
        else if (sv->batcher) {   // continuous batching: this slot's steps are shared with the others'
            batcher_join(sv->batcher);
            rc = octet_generate_via(batcher_eval, sv->batcher, slot->s, sv->m, &smp, ids + keep, (int)n - keep, (int)max, on_token, &g, NULL, &st);
            batcher_leave(sv->batcher);
        } else
            rc = octet_generate(slot->s, sv->m, &smp, ids + keep, (int)n - keep, (int)max, on_token, &g, NULL, &st);
        octet_sampler_free(&smp);
    }
    slot_release(sv, slot);
    const char *finish = g.stopped_by_string || (st.stop && !strcmp(st.stop, "eos")) ? "stop" : "length";
    if (rc != 0 || g.gone || *sv->stopping) {
        if (!q.stream && !g.gone) serve_error(fd, 500, "server_error", NULL, NULL, rc != 0 ? octet_last_error() : "the server is shutting down", 0);
        *keep_alive = 0;
        goto out;
    }
    octet_str o = {0};
    if (q.stream) {
        flush_text(&g, g.text.len);
        send_chunk(&g, "", 0, finish, 0);
        if (q.include_usage) {
            chunk_prefix(&g, &o);
            octet_str_addz(&o, ",\"choices\":[],");
            usage_json(&o, (int)n, st.n_gen);
            octet_str_addz(&o, "}");
            http_sse_event(fd, o.p, o.len);
        }
        http_sse_event(fd, "[DONE]", 6);
    } else {
        octet_str_fmt(&o, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", g.id, chat ? "chat.completion" : "text_completion", g.created);
        json_write_string(&o, sv->model_id, strlen(sv->model_id));
        octet_str_addz(&o, ",\"choices\":[{\"index\":0,");
        if (chat) octet_str_addz(&o, "\"message\":{\"role\":\"assistant\",\"content\":");
        else octet_str_addz(&o, "\"text\":");
        json_write_string(&o, g.text.p ? g.text.p : "", g.text.len);
        octet_str_fmt(&o, "%s,\"finish_reason\":\"%s\"}],", chat ? "}" : ",\"logprobs\":null", finish);
        usage_json(&o, (int)n, st.n_gen);
        octet_str_addz(&o, "}");
        if (o.oom) serve_error(fd, 500, "server_error", NULL, NULL, "out of memory", 0);
        else http_respond(fd, 200, "application/json", o.p, o.len, *keep_alive);
    }
    octet_str_free(&o);
out:
    octet_str_free(&g.text);
    free(ids); free(q.prompt);
    json_free(body);
    return;
fail:
    serve_error(fd, e.status, e.status >= 500 ? "server_error" : "invalid_request_error", e.code, e.param, e.msg, *keep_alive);
    free(ids); free(q.prompt); free(q.ids);
    json_free(body);
}

static int authorized(const serve_state *sv, const http_request *r) {
    if (!sv->api_key) return 1;
    const char *a = r->auth;
    if (strncmp(a, "Bearer ", 7)) return 0;
    a += 7;
    size_t n = strlen(sv->api_key);
    unsigned diff = strlen(a) != n;
    for (size_t i = 0; i < n && a[i]; i++) diff |= (unsigned)(a[i] ^ sv->api_key[i]);
    return diff == 0;
}

void serve_handle(serve_state *sv, int fd, const http_request *r, int *keep_alive) {
    char path[512];
    snprintf(path, sizeof path, "%s", r->path);
    char *qm = strchr(path, '?');
    if (qm) *qm = 0;
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/health")) {
        if (!get) { serve_error(fd, 405, "invalid_request_error", NULL, NULL, "use GET /health", *keep_alive); return; }
        static const char ok[] = "{\"status\":\"ok\"}";
        http_respond(fd, 200, "application/json", ok, sizeof ok - 1, *keep_alive);
        return;
    }
    int chat = !strcmp(path, "/v1/chat/completions") || !strcmp(path, "/chat/completions");
    int compl = !strcmp(path, "/v1/completions") || !strcmp(path, "/completions");
    int models = !strcmp(path, "/v1/models") || !strcmp(path, "/models");
    if (!chat && !compl && !models) {
        char msg[600];
        snprintf(msg, sizeof msg, "no such endpoint: %s %.500s", r->method, path);
        serve_error(fd, 404, "invalid_request_error", NULL, NULL, msg, *keep_alive);
        return;
    }
    if (!authorized(sv, r)) { serve_error(fd, 401, "invalid_request_error", "invalid_api_key", NULL, "a valid API key is required (Authorization: Bearer KEY)", *keep_alive); return; }
    if (models) {
        if (!get) { serve_error(fd, 405, "invalid_request_error", NULL, NULL, "use GET /v1/models", *keep_alive); return; }
        octet_str o = {0};
        octet_str_addz(&o, "{\"object\":\"list\",\"data\":[{\"id\":");
        json_write_string(&o, sv->model_id, strlen(sv->model_id));
        octet_str_fmt(&o, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"octet\",\"context_length\":%d}]}", sv->created, sv->n_ctx);
        if (!o.oom) http_respond(fd, 200, "application/json", o.p, o.len, *keep_alive);
        octet_str_free(&o);
        return;
    }
    if (!post) { serve_error(fd, 405, "invalid_request_error", NULL, NULL, "use POST", *keep_alive); return; }
    completion(sv, fd, r, chat, keep_alive);
}
