#include "unicode.h"

unsigned octet_unicode_flags(uint32_t cp) {
    if (cp > 0x10FFFF) return U_OTHER;
    unsigned lo = 0, hi = octet_unicode_n_ranges;
    while (lo + 1 < hi) {
        unsigned mid = (lo + hi) / 2;
        if (octet_unicode_ranges[mid].first <= cp) lo = mid; else hi = mid;
    }
    return octet_unicode_ranges[lo].flags;
}

size_t octet_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

uint32_t octet_utf8_decode(const char *str, size_t n, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t l = octet_utf8_len(s[0]);
    if (l == 1 || l > n) { *len = 1; return s[0] < 0x80 ? s[0] : 0xFFFD; }
    uint32_t cp = s[0] & (0x7F >> l);
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80) { *len = 1; return 0xFFFD; }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *len = l;
    return cp;
}

size_t octet_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) { o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F); return 3; }
    o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F); o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F);
    return 4;
}
