#include "chat_conv.h"
#include "json.h"
#include "util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int conv_add(conversation *c, const char *role, const char *content, size_t len) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        octet_chat_msg *m = realloc(c->msg, (size_t)cap * sizeof *m);
        if (!m) return -1;
        c->msg = m; c->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return -1;
    memcpy(s, content, len);
    s[len] = 0;
    c->msg[c->n].role = !strcmp(role, "system") ? "system" : !strcmp(role, "user") ? "user" : "assistant";
    c->msg[c->n++].content = s;
    return 0;
}
void conv_drop(conversation *c, int at, int count) {
    if (count <= 0) return;  // an empty conversation has no array to move
    for (int i = at; i < at + count; i++) free((char *)c->msg[i].content);
    memmove(c->msg + at, c->msg + at + count, (size_t)(c->n - at - count) * sizeof *c->msg);
    c->n -= count;
}
void conv_clear(conversation *c, int keep_system) {
    int k = keep_system && c->n && !strcmp(c->msg[0].role, "system") ? 1 : 0;
    conv_drop(c, k, c->n - k);
}
int conv_set_system(conversation *c, const char *text) {
    if (c->n && !strcmp(c->msg[0].role, "system")) conv_drop(c, 0, 1);
    if (!*text) return 0;
    if (conv_add(c, "system", text, strlen(text))) return -1;
    octet_chat_msg s = c->msg[c->n - 1];
    memmove(c->msg + 1, c->msg, (size_t)(c->n - 1) * sizeof *c->msg);
    c->msg[0] = s;
    return 0;
}

int conv_save(const conversation *c, const char *path) {
    octet_str o = {0};
    octet_str_addz(&o, "{\"messages\":[\n");
    for (int i = 0; i < c->n; i++) {
        octet_str_fmt(&o, "  {\"role\":\"%s\",\"content\":", c->msg[i].role);
        json_write_string(&o, c->msg[i].content, strlen(c->msg[i].content));
        octet_str_addz(&o, i + 1 < c->n ? "},\n" : "}\n");
    }
    octet_str_addz(&o, "]}\n");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = o.oom ? NULL : fopen(tmp, "wb");
    int ok = f && fwrite(o.p, 1, o.len, f) == o.len;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) { if (f) unlink(tmp); fprintf(stderr, "octet: /save %s: %s\n", path, strerror(errno)); }
    octet_str_free(&o);
    return ok ? 0 : -1;
}

int conv_load(conversation *c, const char *path) {
    size_t n;
    char *text = octet_read_file(path, &n), err[256];
    if (!text) { fprintf(stderr, "octet: /load %s\n", octet_last_error()); return -1; }
    json *j = json_parse(text, n, err, sizeof err);
    free(text);
    const json *ms = j ? json_get(j, "messages") : NULL;
    if (!ms || ms->type != JSON_ARRAY) {
        fprintf(stderr, "octet: /load %s: %s\n", path, j ? "no \"messages\" array" : err);
        json_free(j);
        return -1;
    }
    conversation fresh = {0};
    for (size_t i = 0; i < ms->len; i++) {
        const char *role = json_str(ms->items[i], "role");
        const json *content = json_get(ms->items[i], "content");
        if (!role || !content || content->type != JSON_STRING || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))) {
            fprintf(stderr, "octet: /load %s: message %zu needs a role (system, user, assistant) and a string content\n", path, i + 1);
            conv_clear(&fresh, 0); free(fresh.msg); json_free(j);
            return -1;
        }
        // The templates take a system message only first: a later one would fail every turn.
        if (i > 0 && !strcmp(role, "system")) {
            fprintf(stderr, "octet: /load %s: message %zu is a system message; only the first message may be one\n", path, i + 1);
            conv_clear(&fresh, 0); free(fresh.msg); json_free(j);
            return -1;
        }
        if (conv_add(&fresh, role, content->str, content->len) != 0) {
            fprintf(stderr, "octet: /load %s: out of memory\n", path);
            conv_clear(&fresh, 0); free(fresh.msg); json_free(j);
            return -1;
        }
    }
    json_free(j);
    conv_clear(c, 0);
    free(c->msg);
    *c = fresh;
    return 0;
}

