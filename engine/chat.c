#include "chat.h"
#include <stdlib.h>
#include <string.h>

static const char *const FAMILIES[] = {"chatml", "qwen3", "llama2", "llama3", "mistral", "zephyr", "phi3", "gemma"};

static const char *find(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, k)) return s + i;
    return NULL;
}

const char *octet_chat_template_detect(const char *s, size_t n) {
    // Order matters: the more specific markers are tested first.
    // Qwen3: ChatML that keeps only the answer of earlier replies (their <think> part dropped).
    if (find(s, n, "<|im_start|>") && find(s, n, "reasoning_content") && find(s, n, "</think>")) return "qwen3";
    if (find(s, n, "<|im_start|>")) return "chatml";
    if (find(s, n, "<|start_header_id|>")) return "llama3";
    if (find(s, n, "<start_of_turn>")) return "gemma";
    if (find(s, n, "<|user|>") && find(s, n, "<|end|>")) return "phi3";
    if (find(s, n, "<|user|>")) return "zephyr";
    if (find(s, n, "[INST]") && find(s, n, "<<SYS>>")) return "llama2";
    if (find(s, n, "[INST]")) return "mistral";
    return "unknown";
}

const char *octet_chat_template_names(void) { return "chatml, qwen3, llama2, llama3, mistral, zephyr, phi3, gemma"; }

int octet_chat_template_known(const char *name) {
    for (size_t i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++)
        if (!strcmp(name, FAMILIES[i])) return 1;
    return 0;
}

char *octet_chat_default_system(const char *s, size_t n) {
    const char *open = "<|im_start|>system";
    for (const char *p = find(s, n, open); p; p = find(p + 1, n - (size_t)(p + 1 - s), open)) {
        const char *q = p + strlen(open), *end = s + n;
        // The newline is a real one or a Jinja escape.
        if (q < end && *q == '\n') q++;
        else if (q + 1 < end && q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *stop = find(q, (size_t)(end - q), "<|im_end|>");
        if (!stop || stop == q) continue;
        // Only a literal counts (not message['content'] or other Jinja).
        size_t len = (size_t)(stop - q);
        if (memchr(q, '\'', len) || memchr(q, '"', len) || memchr(q, '{', len) || memchr(q, '+', len)) continue;
        char *r = malloc(len + 1);
        if (!r) return NULL;
        memcpy(r, q, len);
        r[len] = 0;
        return r;
    }
    return NULL;
}

// The renderers write template text to o and message text through put/put_trimmed, which also
// record where it landed (sp may be NULL).
typedef struct { octet_str *o; octet_chat_spans *sp; } rd;

static void put(rd *r, const char *z, size_t n) {
    size_t at = r->o->len;
    octet_str_add(r->o, z, n);
    octet_chat_spans *sp = r->sp;
    if (!sp || !n) return;
    if (sp->n + 2 > sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 32;
        size_t *a = realloc(sp->at, cap * sizeof *a);
        if (!a) { sp->oom = 1; return; }
        sp->at = a; sp->cap = cap;
    }
    sp->at[sp->n++] = at;
    sp->at[sp->n++] = at + n;
}
static void putz(rd *r, const char *z) { put(r, z, strlen(z)); }
// Python's str.strip() / Jinja's trim on ASCII whitespace.
static void put_trimmed(rd *r, const char *z) {
    size_t n = strlen(z), b = 0;
    while (b < n && strchr(" \t\n\r\f\v", z[b])) b++;
    while (n > b && strchr(" \t\n\r\f\v", z[n - 1])) n--;
    put(r, z + b, n - b);
}

static int role_is(const octet_chat_msg *m, const char *r) { return !strcmp(m->role, r); }

static void chatml(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    if (t->default_system && (n == 0 || !role_is(&msg[0], "system")))
        octet_str_fmt(r->o, "<|im_start|>system\n%s<|im_end|>\n", t->default_system);
    for (int i = 0; i < n; i++) {
        octet_str_fmt(r->o, "<|im_start|>%s\n", msg[i].role);
        putz(r, msg[i].content);
        octet_str_addz(r->o, "<|im_end|>\n");
    }
    if (add_gen) octet_str_addz(r->o, "<|im_start|>assistant\n");
}

static int ws_nl(char c) { return c == '\n'; }
static void strip_nl(const char **b, const char **e, int left, int right) {
    while (left && *b < *e && ws_nl(**b)) (*b)++;
    while (right && *e > *b && ws_nl((*e)[-1])) (*e)--;
}
static const char *last_find(const char *s, size_t n, const char *needle) {
    const char *hit = NULL;
    for (const char *p = find(s, n, needle); p; p = find(p + 1, n - (size_t)(p + 1 - s), needle)) hit = p;
    return hit;
}

// Qwen3's template, without tools: ChatML where a reply's "<think>…</think>" reasoning is kept
// only for replies after the last user message (an empty block is written for the last one),
// and dropped from earlier ones, as the model saw in training.
static void qwen3(const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    int last_query = n - 1;
    for (int i = n - 1; i >= 0; i--)
        if (role_is(&msg[i], "user") && !(strstr(msg[i].content, "<tool_response>") && strstr(msg[i].content, "</tool_response>"))) { last_query = i; break; }
    for (int i = 0; i < n; i++) {
        octet_str_fmt(r->o, "<|im_start|>%s\n", msg[i].role);
        const char *c = msg[i].content, *ce = c + strlen(c);
        if (!role_is(&msg[i], "assistant")) { putz(r, c); octet_str_addz(r->o, "<|im_end|>\n"); continue; }
        // reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
        // content = content.split('</think>')[-1].lstrip('\n')
        const char *rb = c, *re = c;
        const char *close = find(c, (size_t)(ce - c), "</think>");
        if (close) {
            re = close;
            strip_nl(&rb, &re, 0, 1);
            const char *open = last_find(rb, (size_t)(re - rb), "<think>");
            if (open) rb = open + 7;
            strip_nl(&rb, &re, 1, 0);
            c = last_find(c, (size_t)(ce - c), "</think>") + 8;
            strip_nl(&c, &ce, 1, 0);
        }
        if (i > last_query && (i == n - 1 || re > rb)) {
            strip_nl(&rb, &re, 1, 1);
            octet_str_addz(r->o, "<think>\n");
            put(r, rb, (size_t)(re - rb));
            octet_str_addz(r->o, "\n</think>\n\n");
            strip_nl(&c, &ce, 1, 0);
        }
        put(r, c, (size_t)(ce - c));
        octet_str_addz(r->o, "<|im_end|>\n");
    }
    if (add_gen) octet_str_addz(r->o, "<|im_start|>assistant\n");
}

static void llama2(const octet_chat_template *t, const octet_chat_msg *msg, int n, rd *r) {
    const char *sys = n && role_is(&msg[0], "system") ? msg[0].content : NULL;
    for (int i = sys ? 1 : 0; i < n; i++) {
        octet_str content = {0};
        if (sys && i == 1) octet_str_fmt(&content, "<<SYS>>\n%s\n<</SYS>>\n\n", sys);
        octet_str_addz(&content, msg[i].content);
        if (role_is(&msg[i], "user")) {
            octet_str_fmt(r->o, "%s[INST] ", t->bos);
            put_trimmed(r, content.p);
            octet_str_addz(r->o, " [/INST]");
        } else if (role_is(&msg[i], "assistant")) {
            octet_str_addz(r->o, " ");
            put_trimmed(r, content.p);
            octet_str_fmt(r->o, " %s", t->eos);
        }
        if (content.oom) r->o->oom = 1;
        octet_str_free(&content);
    }
}

static void llama3(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    for (int i = 0; i < n; i++) {
        octet_str_fmt(r->o, "%s<|start_header_id|>%s<|end_header_id|>\n\n", i == 0 ? t->bos : "", msg[i].role);
        put_trimmed(r, msg[i].content);
        octet_str_addz(r->o, "<|eot_id|>");
    }
    if (add_gen) octet_str_addz(r->o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void zephyr(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    for (int i = 0; i < n; i++) {
        octet_str_fmt(r->o, "<|%s|>\n", msg[i].role);
        putz(r, msg[i].content);
        octet_str_fmt(r->o, "%s\n", t->eos);
    }
    if (add_gen) octet_str_addz(r->o, "<|assistant|>\n");
}

static void phi3(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    for (int i = 0; i < n; i++) {
        if (role_is(&msg[i], "system") && !msg[i].content[0]) continue;
        octet_str_fmt(r->o, "<|%s|>\n", msg[i].role);
        putz(r, msg[i].content);
        octet_str_addz(r->o, "<|end|>\n");
    }
    octet_str_addz(r->o, add_gen ? "<|assistant|>\n" : t->eos);
}

// Mistral has no system role: its text opens the first user turn.
static void first_user_content(const octet_chat_msg *msg, int n, int i, octet_str *c) {
    if (i == 1 && n > 1 && role_is(&msg[0], "system")) octet_str_fmt(c, "%s\n\n", msg[0].content);
    octet_str_addz(c, msg[i].content);
}

static void mistral(const octet_chat_template *t, const octet_chat_msg *msg, int n, rd *r) {
    octet_str_addz(r->o, t->bos);
    for (int i = n && role_is(&msg[0], "system") ? 1 : 0; i < n; i++) {
        octet_str c = {0};
        first_user_content(msg, n, i, &c);
        if (role_is(&msg[i], "user")) { octet_str_addz(r->o, "[INST] "); putz(r, c.p ? c.p : ""); octet_str_addz(r->o, " [/INST]"); }
        else { putz(r, c.p ? c.p : ""); octet_str_addz(r->o, t->eos); }
        if (c.oom) r->o->oom = 1;
        octet_str_free(&c);
    }
}

// Gemma 3's rule for a system message (Gemma 1 and 2 refuse one): its text and a blank line
// open the first user turn as they are; each message's own text is trimmed.
static void gemma(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, rd *r) {
    octet_str_addz(r->o, t->bos);
    int sys = n && role_is(&msg[0], "system");
    for (int i = sys; i < n; i++) {
        octet_str_fmt(r->o, "<start_of_turn>%s\n", role_is(&msg[i], "assistant") ? "model" : msg[i].role);
        if (sys && i == 1) { putz(r, msg[0].content); octet_str_addz(r->o, "\n\n"); }
        put_trimmed(r, msg[i].content);
        octet_str_addz(r->o, "<end_of_turn>\n");
    }
    if (add_gen) octet_str_addz(r->o, "<start_of_turn>model\n");
}

int octet_chat_render(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o, octet_chat_spans *plain) {
    for (int i = 0; i < n; i++) {
        int sys = role_is(&msg[i], "system");
        if (!sys && !role_is(&msg[i], "user") && !role_is(&msg[i], "assistant")) {
            octet_set_error("chat: message %d has role '%s' (expected system, user or assistant)", i + 1, msg[i].role);
            return -1;
        }
        if (sys && i > 0) { octet_set_error("chat: message %d: a system message must come first", i + 1); return -1; }
    }
    octet_str_add(o, "", 0);
    rd r = {o, plain};
    const char *f = t->name;
    if (!strcmp(f, "chatml")) chatml(t, msg, n, add_gen, &r);
    else if (!strcmp(f, "qwen3")) qwen3(msg, n, add_gen, &r);
    else if (!strcmp(f, "llama2")) llama2(t, msg, n, &r);
    else if (!strcmp(f, "llama3")) llama3(t, msg, n, add_gen, &r);
    else if (!strcmp(f, "zephyr")) zephyr(t, msg, n, add_gen, &r);
    else if (!strcmp(f, "phi3")) phi3(t, msg, n, add_gen, &r);
    else if (!strcmp(f, "mistral")) mistral(t, msg, n, &r);
    else if (!strcmp(f, "gemma")) gemma(t, msg, n, add_gen, &r);
    else { octet_set_error("unknown chat template '%s' (known: %s)", f, octet_chat_template_names()); return -1; }
    if (o->oom || (plain && plain->oom)) { octet_set_error("out of memory"); return -1; }
    return 0;
}
