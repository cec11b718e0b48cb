// The JSON parser, and the writer: a parsed tree written back (strings by json_write_string)
// parses to the same tree, and writes the same bytes again.
#include "fuzz_util.h"
#include "json.h"
#include "util.h"

static void write_tree(octet_str *o, const json *j) {
    switch (j->type) {
    case JSON_NULL: octet_str_addz(o, "null"); break;
    case JSON_BOOL: octet_str_addz(o, j->num != 0 ? "true" : "false"); break;
    case JSON_NUMBER: octet_str_fmt(o, "%.17g", j->num); break;
    case JSON_STRING: json_write_string(o, j->str, j->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        octet_str_addz(o, j->type == JSON_ARRAY ? "[" : "{");
        for (size_t i = 0; i < j->len; i++) {
            if (i) octet_str_addz(o, ",");
            if (j->type == JSON_OBJECT) { json_write_string(o, j->keys[i], strlen(j->keys[i])); octet_str_addz(o, ":"); }
            write_tree(o, j->items[i]);
        }
        octet_str_addz(o, j->type == JSON_ARRAY ? "]" : "}");
        break;
    default: abort();
    }
}

static int same(const json *a, const json *b) {
    if (a->type != b->type || a->len != b->len) return 0;
    switch (a->type) {
    case JSON_NUMBER: return a->num == b->num || (a->num != a->num && b->num != b->num);
    case JSON_BOOL: return (a->num != 0) == (b->num != 0);
    case JSON_STRING: return !memcmp(a->str, b->str, a->len);
    case JSON_ARRAY:
    case JSON_OBJECT:
        for (size_t i = 0; i < a->len; i++) {
            if (a->type == JSON_OBJECT && strcmp(a->keys[i], b->keys[i])) return 0;
            if (!same(a->items[i], b->items[i])) return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[160];
    json *j = json_parse((const char *)data, size, err, sizeof err);
    if (!j) return 0;
    octet_str a = {0}, b = {0};
    write_tree(&a, j);
    if (a.oom) abort();
    json *k = json_parse(a.p, a.len, err, sizeof err);
    if (!k) { fprintf(stderr, "written JSON does not parse: %s\n", err); abort(); }
    if (!same(j, k)) { fprintf(stderr, "round trip changed the tree\n"); abort(); }
    write_tree(&b, k);
    if (a.len != b.len || memcmp(a.p, b.p, a.len)) { fprintf(stderr, "second write differs\n"); abort(); }
    json_get(j, "model"); json_at(j, 0); json_num(j, "x", 0); json_str(j, "y");
    octet_str_free(&a); octet_str_free(&b);
    json_free(j); json_free(k);
    return 0;
}
