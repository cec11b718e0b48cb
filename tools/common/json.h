// A small JSON parser (config.json, tokenizer.json, safetensors headers, API requests) and
// a string writer.
// The whole document is parsed into one tree; strings are unescaped and NUL-terminated.
#ifndef OCTET_JSON_H
#define OCTET_JSON_H
#include "util.h"
#include <stddef.h>

enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };
typedef struct json {
    int type;
    double num;              // numbers, and bools as 0/1
    char *str;               // strings (may contain NUL: use len)
    size_t len;              // string length, or number of items / members
    struct json **items;     // array items or object values
    char **keys;             // object keys
} json;

// Returns NULL with a message "line L column C: problem" in err on malformed input.
json *json_parse(const char *text, size_t len, char *err, size_t errcap);
void json_free(json *j);
const json *json_get(const json *obj, const char *key);   // NULL unless obj is an object with key
const json *json_at(const json *arr, size_t i);           // NULL unless arr is an array with item i
// Convenience: the number at key (def if absent or not a number); the string at key or NULL.
double json_num(const json *obj, const char *key, double def);
const char *json_str(const json *obj, const char *key);
// Appends s as a JSON string literal (quotes and escapes; bytes >= 0x80 pass through).
void json_write_string(octet_str *out, const char *s, size_t n);
#endif
