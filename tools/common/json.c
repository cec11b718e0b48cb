#include "json.h"
#include "unicode.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

typedef struct { const char *s, *p, *end; char *err; size_t errcap; int failed; } parser;

static void fail(parser *ps, const char *what) {
    if (ps->failed) return;
    ps->failed = 1;
    int line = 1, col = 1;
    for (const char *q = ps->s; q < ps->p && q < ps->end; q++) { if (*q == '\n') { line++; col = 1; } else col++; }
    snprintf(ps->err, ps->errcap, "line %d column %d: %s", line, col, what);
}

static void ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static json *node(parser *ps, int type) {
    json *j = calloc(1, sizeof *j);
    if (!j) fail(ps, "out of memory");
    else j->type = type;
    return j;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    return 1;
}

static char *string(parser *ps, size_t *len) {
    ps->p++;  // opening quote
    const char *start = ps->p;
    size_t cap = 16;
    while (ps->p < ps->end && *ps->p != '"') { if (*ps->p == '\\') ps->p++; ps->p++; cap++; }
    if (ps->p >= ps->end) { fail(ps, "unterminated string"); return NULL; }
    char *out = malloc(cap * 2), *o = out;
    if (!out) { fail(ps, "out of memory"); return NULL; }
    for (const char *q = start; q < ps->p; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) { ps->p = q; fail(ps, "control character in string"); free(out); return NULL; }
        if (c != '\\') { *o++ = (char)c; continue; }
        q++;
        switch (*q) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned v, lo;
            if (ps->p - q < 5 || !hex4(q + 1, &v)) { ps->p = q; fail(ps, "bad \\u escape"); free(out); return NULL; }
            q += 4;
            if (v >= 0xD800 && v < 0xDC00 && ps->p - q >= 7 && q[1] == '\\' && q[2] == 'u' && hex4(q + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if (v >= 0xD800 && v < 0xE000) v = 0xFFFD;  // lone surrogate
            o += octet_utf8_encode(v, o);
            break;
        }
        default: ps->p = q; fail(ps, "bad escape in string"); free(out); return NULL;
        }
    }
    ps->p++;  // closing quote
    *o = 0;
    *len = (size_t)(o - out);
    return out;
}

static json *value(parser *ps, int depth);

static int push_item(parser *ps, json *j, json *v, char *key, size_t *cap) {
    if (j->len == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        json **items = realloc(j->items, *cap * sizeof *items);
        if (items) j->items = items;
        if (j->type == JSON_OBJECT) {
            char **keys = realloc(j->keys, *cap * sizeof *keys);
            if (keys) j->keys = keys;
            if (!keys) items = NULL;
        }
        if (!items) { fail(ps, "out of memory"); json_free(v); free(key); return -1; }
    }
    j->items[j->len] = v;
    if (j->type == JSON_OBJECT) j->keys[j->len] = key;
    j->len++;
    return 0;
}

static json *container(parser *ps, int depth, int type) {
    char close = type == JSON_ARRAY ? ']' : '}';
    json *j = node(ps, type);
    if (!j) return NULL;
    size_t cap = 0;
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return j; }
    for (;;) {
        char *key = NULL;
        if (type == JSON_OBJECT) {
            ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a string key"); break; }
            size_t kl;
            if (!(key = string(ps, &kl))) break;
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "expected ':'"); free(key); break; }
            ps->p++;
        }
        json *v = value(ps, depth + 1);
        if (!v) { free(key); break; }
        if (push_item(ps, j, v, key, &cap)) break;
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == close) { ps->p++; return j; }
        fail(ps, type == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
        break;
    }
    json_free(j);
    return NULL;
}

static json *value(parser *ps, int depth) {
    ws(ps);
    if (depth > MAX_DEPTH) { fail(ps, "nested too deeply"); return NULL; }
    if (ps->p >= ps->end) { fail(ps, "unexpected end of input"); return NULL; }
    char c = *ps->p;
    if (c == '{') return container(ps, depth, JSON_OBJECT);
    if (c == '[') return container(ps, depth, JSON_ARRAY);
    if (c == '"') {
        json *j = node(ps, JSON_STRING);
        if (j && !(j->str = string(ps, &j->len))) { free(j); return NULL; }
        return j;
    }
    static const struct { const char *w; int type; double v; } lits[] = {{"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i].w);
        if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, lits[i].w, n)) {
            ps->p += n;
            json *j = node(ps, lits[i].type);
            if (j) j->num = lits[i].v;
            return j;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (ps->p + n < ps->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", ps->p[n])) { buf[n] = ps->p[n]; n++; }
        buf[n] = 0;
        char *e;
        double v = strtod(buf, &e);
        if (e == buf || (size_t)(e - buf) != n || !isfinite(v)) { fail(ps, "bad number"); return NULL; }
        ps->p += n;
        json *j = node(ps, JSON_NUMBER);
        if (j) j->num = v;
        return j;
    }
    fail(ps, "unexpected character");
    return NULL;
}

json *json_parse(const char *text, size_t len, char *err, size_t errcap) {
    parser ps = {text, text, text + len, err, errcap, 0};
    if (errcap) err[0] = 0;
    json *j = value(&ps, 0);
    if (j) {
        ws(&ps);
        if (ps.p != ps.end) { fail(&ps, "trailing characters after the document"); json_free(j); j = NULL; }
    }
    return j;
}

void json_free(json *j) {
    if (!j) return;
    for (size_t i = 0; (j->type == JSON_ARRAY || j->type == JSON_OBJECT) && i < j->len; i++) {
        json_free(j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items); free(j->keys); free(j->str); free(j);
}

const json *json_get(const json *o, const char *key) {
    if (!o || o->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < o->len; i++)
        if (!strcmp(o->keys[i], key)) return o->items[i];
    return NULL;
}
const json *json_at(const json *a, size_t i) { return a && a->type == JSON_ARRAY && i < a->len ? a->items[i] : NULL; }
double json_num(const json *o, const char *key, double def) {
    const json *v = json_get(o, key);
    return v && (v->type == JSON_NUMBER || v->type == JSON_BOOL) ? v->num : def;
}
const char *json_str(const json *o, const char *key) {
    const json *v = json_get(o, key);
    return v && v->type == JSON_STRING ? v->str : NULL;
}

void json_write_string(octet_str *o, const char *s, size_t n) {
    octet_str_add(o, "\"", 1);
    size_t run = 0;  // plain bytes are copied in runs
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        octet_str_add(o, s + run, i - run);
        run = i + 1;
        if (c == '"') octet_str_add(o, "\\\"", 2);
        else if (c == '\\') octet_str_add(o, "\\\\", 2);
        else if (c == '\n') octet_str_add(o, "\\n", 2);
        else if (c == '\r') octet_str_add(o, "\\r", 2);
        else if (c == '\t') octet_str_add(o, "\\t", 2);
        else octet_str_fmt(o, "\\u%04x", c);
    }
    octet_str_add(o, s + run, n - run);
    octet_str_add(o, "\"", 1);
}
