#include "chat.h"
#include <stdlib.h>
#include <string.h>

static const char *const FAMILIES[] = {"chatml", "llama2", "llama3", "mistral", "zephyr", "phi3", "gemma"};

static const char *find(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, k)) return s + i;
    return NULL;
}

const char *octet_chat_template_detect(const char *s, size_t n) {
    // Order matters: the more specific markers are tested first.
    if (find(s, n, "<|im_start|>")) return "chatml";
    if (find(s, n, "<|start_header_id|>")) return "llama3";
    if (find(s, n, "<start_of_turn>")) return "gemma";
    if (find(s, n, "<|user|>") && find(s, n, "<|end|>")) return "phi3";
    if (find(s, n, "<|user|>")) return "zephyr";
    if (find(s, n, "[INST]") && find(s, n, "<<SYS>>")) return "llama2";
    if (find(s, n, "[INST]")) return "mistral";
    return "unknown";
}

const char *octet_chat_template_names(void) { return "chatml, llama2, llama3, mistral, zephyr, phi3, gemma"; }

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

// Python's str.strip() / Jinja's trim on ASCII whitespace.
static void add_trimmed(octet_str *o, const char *z) {
    size_t n = strlen(z), b = 0;
    while (b < n && strchr(" \t\n\r\f\v", z[b])) b++;
    while (n > b && strchr(" \t\n\r\f\v", z[n - 1])) n--;
    octet_str_add(o, z + b, n - b);
}

static int role_is(const octet_chat_msg *m, const char *r) { return !strcmp(m->role, r); }

static void chatml(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    if (t->default_system && (n == 0 || !role_is(&msg[0], "system")))
        octet_str_fmt(o, "<|im_start|>system\n%s<|im_end|>\n", t->default_system);
    for (int i = 0; i < n; i++) octet_str_fmt(o, "<|im_start|>%s\n%s<|im_end|>\n", msg[i].role, msg[i].content);
    if (add_gen) octet_str_addz(o, "<|im_start|>assistant\n");
}

static void llama2(const octet_chat_template *t, const octet_chat_msg *msg, int n, octet_str *o) {
    const char *sys = n && role_is(&msg[0], "system") ? msg[0].content : NULL;
    for (int i = sys ? 1 : 0; i < n; i++) {
        octet_str content = {0};
        if (sys && i == 1) octet_str_fmt(&content, "<<SYS>>\n%s\n<</SYS>>\n\n", sys);
        octet_str_addz(&content, msg[i].content);
        if (role_is(&msg[i], "user")) {
            octet_str_fmt(o, "%s[INST] ", t->bos);
            add_trimmed(o, content.p);
            octet_str_addz(o, " [/INST]");
        } else if (role_is(&msg[i], "assistant")) {
            octet_str_addz(o, " ");
            add_trimmed(o, content.p);
            octet_str_fmt(o, " %s", t->eos);
        }
        if (content.oom) o->oom = 1;
        octet_str_free(&content);
    }
}

static void llama3(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    for (int i = 0; i < n; i++) {
        octet_str_fmt(o, "%s<|start_header_id|>%s<|end_header_id|>\n\n", i == 0 ? t->bos : "", msg[i].role);
        add_trimmed(o, msg[i].content);
        octet_str_addz(o, "<|eot_id|>");
    }
    if (add_gen) octet_str_addz(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void zephyr(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    for (int i = 0; i < n; i++) octet_str_fmt(o, "<|%s|>\n%s%s\n", msg[i].role, msg[i].content, t->eos);
    if (add_gen) octet_str_addz(o, "<|assistant|>\n");
}

static void phi3(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    for (int i = 0; i < n; i++) {
        if (role_is(&msg[i], "system") && !msg[i].content[0]) continue;
        octet_str_fmt(o, "<|%s|>\n%s<|end|>\n", msg[i].role, msg[i].content);
    }
    octet_str_addz(o, add_gen ? "<|assistant|>\n" : t->eos);
}

// Mistral and Gemma have no system role: its text opens the first user turn.
static void first_user_content(const octet_chat_msg *msg, int n, int i, octet_str *c) {
    if (i == 1 && n > 1 && role_is(&msg[0], "system")) octet_str_fmt(c, "%s\n\n", msg[0].content);
    octet_str_addz(c, msg[i].content);
}

static void mistral(const octet_chat_template *t, const octet_chat_msg *msg, int n, octet_str *o) {
    octet_str_addz(o, t->bos);
    for (int i = n && role_is(&msg[0], "system") ? 1 : 0; i < n; i++) {
        octet_str c = {0};
        first_user_content(msg, n, i, &c);
        if (role_is(&msg[i], "user")) octet_str_fmt(o, "[INST] %s [/INST]", c.p);
        else octet_str_fmt(o, "%s%s", c.p, t->eos);
        if (c.oom) o->oom = 1;
        octet_str_free(&c);
    }
}

static void gemma(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    octet_str_addz(o, t->bos);
    for (int i = n && role_is(&msg[0], "system") ? 1 : 0; i < n; i++) {
        octet_str c = {0};
        first_user_content(msg, n, i, &c);
        octet_str_fmt(o, "<start_of_turn>%s\n", role_is(&msg[i], "assistant") ? "model" : msg[i].role);
        add_trimmed(o, c.p);
        octet_str_addz(o, "<end_of_turn>\n");
        if (c.oom) o->oom = 1;
        octet_str_free(&c);
    }
    if (add_gen) octet_str_addz(o, "<start_of_turn>model\n");
}

int octet_chat_render(const octet_chat_template *t, const octet_chat_msg *msg, int n, int add_gen, octet_str *o) {
    for (int i = 0; i < n; i++) {
        int sys = role_is(&msg[i], "system");
        if (!sys && !role_is(&msg[i], "user") && !role_is(&msg[i], "assistant")) {
            octet_set_error("chat: message %d has role '%s' (expected system, user or assistant)", i + 1, msg[i].role);
            return -1;
        }
        if (sys && i > 0) { octet_set_error("chat: message %d: a system message must come first", i + 1); return -1; }
    }
    octet_str_add(o, "", 0);
    const char *f = t->name;
    if (!strcmp(f, "chatml")) chatml(t, msg, n, add_gen, o);
    else if (!strcmp(f, "llama2")) llama2(t, msg, n, o);
    else if (!strcmp(f, "llama3")) llama3(t, msg, n, add_gen, o);
    else if (!strcmp(f, "zephyr")) zephyr(t, msg, n, add_gen, o);
    else if (!strcmp(f, "phi3")) phi3(t, msg, n, add_gen, o);
    else if (!strcmp(f, "mistral")) mistral(t, msg, n, o);
    else if (!strcmp(f, "gemma")) gemma(t, msg, n, add_gen, o);
    else { octet_set_error("unknown chat template '%s' (known: %s)", f, octet_chat_template_names()); return -1; }
    if (o->oom) { octet_set_error("out of memory"); return -1; }
    return 0;
}
