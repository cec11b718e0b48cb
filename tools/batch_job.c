#include "batch_job.h"
#include "json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t cap, const char *field, const char *what) {
    snprintf(err, cap, "%s: %s", field, what);
    return -1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

// A number field in [lo, hi] (whole when integer); absent or null leaves *set 0.
static int num(const json *o, const char *key, double lo, double hi, int integer, double *out, int *set, char *err, size_t cap) {
    const json *v = json_get(o, key);
    *set = 0;
    if (!v || v->type == JSON_NULL) return 0;
    char what[96];
    snprintf(what, sizeof what, "must be %s in %g..%g", integer ? "a whole number" : "a number", lo, hi);
    if (v->type != JSON_NUMBER || !(v->num >= lo && v->num <= hi) || (integer && v->num != floor(v->num))) return fail(err, cap, key, what);
    *out = v->num;
    *set = 1;
    return 0;
}

static int messages(const json *ms, batch_req *r, char *err, size_t cap) {
    if (ms->type != JSON_ARRAY || !ms->len) return fail(err, cap, "messages", "must be a non-empty array of {role, content}");
    if (!(r->msgs = calloc(ms->len, sizeof *r->msgs))) return fail(err, cap, "messages", "out of memory");
    for (size_t i = 0; i < ms->len; i++, r->n_msgs++) {
        const json *m = ms->items[i];
        const char *role = json_str(m, "role");
        const json *c = json_get(m, "content");
        if (m->type != JSON_OBJECT || !role || !c || c->type != JSON_STRING) return fail(err, cap, "messages", "each message needs a string 'role' and a string 'content'");
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) return fail(err, cap, "messages", "a role is not system, user or assistant");
        for (size_t k = 0; k < m->len; k++)
            if (strcmp(m->keys[k], "role") && strcmp(m->keys[k], "content")) return fail(err, cap, "messages", "a message has a field other than role and content");
        r->msgs[i].role = dup_n(role, strlen(role));
        r->msgs[i].content = dup_n(c->str, c->len);
        if (!r->msgs[i].role || !r->msgs[i].content) { r->n_msgs++; return fail(err, cap, "messages", "out of memory"); }
        if (strlen(r->msgs[i].content) != c->len) { r->n_msgs++; return fail(err, cap, "messages", "a content holds a NUL character"); }
    }
    return 0;
}

int batch_req_parse(const char *line, size_t len, batch_req *r, char *err, size_t cap) {
    memset(r, 0, sizeof *r);
    r->max_tokens = -1;
    char jerr[160];
    json *j = json_parse(line, len, jerr, sizeof jerr);
    if (!j) { snprintf(err, cap, "not valid JSON: %s", jerr); return -1; }
    int rc = -1;
    if (j->type != JSON_OBJECT) { fail(err, cap, "line", "must be a JSON object"); goto out; }
    const json *id = json_get(j, "id");
    if (id && id->type == JSON_STRING) {
        octet_str o = {0};
        json_write_string(&o, id->str, id->len);
        r->id = o.p;
    } else if (id && id->type == JSON_NUMBER && fabs(id->num) < 1e15 && id->num == floor(id->num)) {
        char b[32];
        snprintf(b, sizeof b, "%.0f", id->num);
        r->id = dup_n(b, strlen(b));
    } else if (id && id->type != JSON_NULL) { fail(err, cap, "id", "must be a string or a whole number"); goto out; }
    static const char *const known[] = {"id", "prompt", "messages", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop"};
    for (size_t k = 0; k < j->len; k++) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(j->keys[k], known[i])) i++;
        if (i == sizeof known / sizeof *known) {
            snprintf(err, cap, "%.60s: unknown field (known: id, prompt, messages, max_tokens, temperature, top_p, top_k, min_p, seed, stop)", j->keys[k]);
            goto out;
        }
    }
    const json *p = json_get(j, "prompt"), *ms = json_get(j, "messages");
    if (p && p->type == JSON_NULL) p = NULL;
    if (ms && ms->type == JSON_NULL) ms = NULL;
    if (!p == !ms) { fail(err, cap, "prompt", "give exactly one of 'prompt' (a string) or 'messages'"); goto out; }
    if (p) {
        if (p->type != JSON_STRING || !p->len) { fail(err, cap, "prompt", "must be a non-empty string"); goto out; }
        if (!(r->prompt = dup_n(p->str, p->len))) { fail(err, cap, "prompt", "out of memory"); goto out; }
        if (strlen(r->prompt) != p->len) { fail(err, cap, "prompt", "holds a NUL character"); goto out; }
    } else if (messages(ms, r, err, cap) != 0) goto out;
    double d;
    int set;
    if (num(j, "max_tokens", 0, 1e9, 1, &d, &set, err, cap)) goto out;
    if (set) r->max_tokens = (long)d;
    if (num(j, "temperature", 0, 2, 0, &d, &r->has_temp, err, cap)) goto out;
    r->temperature = (float)d;
    if (num(j, "top_p", 0, 1, 0, &d, &r->has_top_p, err, cap)) goto out;
    r->top_p = (float)d;
    if (num(j, "min_p", 0, 1, 0, &d, &r->has_min_p, err, cap)) goto out;
    r->min_p = (float)d;
    if (num(j, "top_k", 0, 1 << 24, 1, &d, &r->has_top_k, err, cap)) goto out;
    r->top_k = (int)d;
    if (num(j, "seed", -9.2e18, 9.2e18, 1, &d, &r->has_seed, err, cap)) goto out;
    r->seed = (long long)d;
    const json *st = json_get(j, "stop");
    if (st && st->type == JSON_STRING) {
        if (!st->len || strlen(st->str) != st->len) { fail(err, cap, "stop", "must be a non-empty string without NUL"); goto out; }
        if (!(r->stop[r->n_stop++] = dup_n(st->str, st->len))) { fail(err, cap, "stop", "out of memory"); goto out; }
    } else if (st && st->type == JSON_ARRAY) {
        if (st->len > BATCH_MAX_STOP) { fail(err, cap, "stop", "takes at most 4 strings"); goto out; }
        for (size_t i = 0; i < st->len; i++) {
            const json *s = st->items[i];
            if (s->type != JSON_STRING || !s->len || strlen(s->str) != s->len) { fail(err, cap, "stop", "must hold non-empty strings without NUL"); goto out; }
            if (!(r->stop[r->n_stop++] = dup_n(s->str, s->len))) { fail(err, cap, "stop", "out of memory"); goto out; }
        }
    } else if (st && st->type != JSON_NULL) { fail(err, cap, "stop", "must be a string or an array of strings"); goto out; }
    rc = 0;
out:
    json_free(j);
    return rc;
}

void batch_req_free(batch_req *r) {
    free(r->id);
    free(r->prompt);
    for (int i = 0; i < r->n_msgs; i++) { free((char *)r->msgs[i].role); free((char *)r->msgs[i].content); }
    free(r->msgs);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}
