#include "util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static _Thread_local char last_error[1024];

void octet_set_error(const char *fmt, ...) {
    // Formatted aside first: callers prefix the previous message (octet_last_error() as an argument).
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    // Keep the message to one line whatever was interpolated into it.
    for (char *p = last_error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

const char *octet_last_error(void) { return last_error[0] ? last_error : "unknown error"; }


// Regular files are read at their size; pipes and other streams (-f <(cmd), /dev/stdin) until
// their end; directories and other non-files are refused by name.
char *octet_read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { octet_set_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) { octet_set_error("%s: cannot stat: %s", path, strerror(errno)); fclose(fp); return NULL; }
    if (S_ISDIR(st.st_mode)) { octet_set_error("%s: is a directory, not a file", path); fclose(fp); return NULL; }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) { octet_set_error("%s: not a regular file", path); fclose(fp); return NULL; }
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { octet_set_error("%s: out of memory (%zu bytes)", path, cap); fclose(fp); return NULL; }
        n += fread(buf + n, 1, cap - 1 - n, fp);
        if (n < cap - 1) break;
        if (cap > ((size_t)1 << 40)) { octet_set_error("%s: larger than 1 TiB", path); free(buf); fclose(fp); return NULL; }
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (ferror(fp)) { octet_set_error("%s: read error: %s", path, strerror(errno)); free(buf); fclose(fp); return NULL; }
    fclose(fp);
    buf[n] = 0;
    if (size) *size = n;
    return buf;
}

#define HASH_PRIME 0x100000001b3ull
void octet_hash_init(octet_hash *s) { memset(s, 0, sizeof *s); s->h = 0xcbf29ce484222325ull; }

static inline uint64_t hash_word(uint64_t h, uint64_t w) { return (h ^ w) * HASH_PRIME; }

void octet_hash_update(octet_hash *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->total += n;
    while (s->n_carry && n) {
        s->carry[s->n_carry++] = *p++; n--;
        if (s->n_carry == 8) { uint64_t w; memcpy(&w, s->carry, 8); s->h = hash_word(s->h, w); s->n_carry = 0; }
    }
    uint64_t h = s->h;
    for (; n >= 8; n -= 8, p += 8) { uint64_t w; memcpy(&w, p, 8); h = hash_word(h, w); }
    s->h = h;
    while (n--) s->carry[s->n_carry++] = *p++;
}

uint64_t octet_hash_final(octet_hash *s) {
    uint64_t h = s->h;
    if (s->n_carry) {
        uint64_t w = 0;
        memcpy(&w, s->carry, s->n_carry);
        h = hash_word(h, w);
    }
    h = hash_word(h, s->total);
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
    return h;
}

int octet_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

double octet_time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void octet_str_add(octet_str *s, const char *data, size_t n) {
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) { s->oom = 1; return; }
        s->p = p; s->cap = cap;
    }
    if (n) memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = 0;
}
void octet_str_addz(octet_str *s, const char *z) { octet_str_add(s, z, strlen(z)); }
void octet_str_fmt(octet_str *s, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { octet_str_add(s, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { s->oom = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    octet_str_add(s, big, (size_t)n);
    free(big);
}
void octet_str_free(octet_str *s) { free(s->p); memset(s, 0, sizeof *s); }
