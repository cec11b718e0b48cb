#include "pretokenize.h"
#include "unicode.h"
#include <stdlib.h>
#include <string.h>

// Text as code points with their category flags and byte offsets (off has n+1 entries).
typedef struct { const uint32_t *cp; const unsigned *fl; const size_t *off; size_t n; } cps;
// A matcher returns the length in code points of the match starting at i (within [i, end)),
// or 0 when the pattern does not match there.
typedef size_t (*matcher)(const cps *t, size_t i, size_t end);

#define IS(t, i, f) ((t)->fl[i] & (f))
#define SPACE(t, i) IS(t, i, U_SPACE)
#define LETTER(t, i) IS(t, i, U_LETTER)
#define NUMBER(t, i) IS(t, i, U_NUMBER)

static size_t run(const cps *t, size_t i, size_t end, unsigned f) {
    size_t j = i;
    while (j < end && IS(t, j, f)) j++;
    return j - i;
}
static size_t run_not(const cps *t, size_t i, size_t end, unsigned f) {
    size_t j = i;
    while (j < end && !IS(t, j, f)) j++;
    return j - i;
}
static int lower_eq(uint32_t c, char a) { return c == (uint32_t)a || c == (uint32_t)(a - 32); }

// 's 't 're 've 'm 'll 'd, optionally case-insensitive.
static size_t contraction(const cps *t, size_t i, size_t end, int icase) {
    if (t->cp[i] != '\'' || i + 1 >= end) return 0;
    uint32_t a = t->cp[i + 1], b = i + 2 < end ? t->cp[i + 2] : 0;
    int (*eq)(uint32_t, char) = lower_eq;
#define EQ(c, ch) (icase ? eq(c, ch) : (c) == (uint32_t)(ch))
    if (EQ(a, 's') || EQ(a, 't') || EQ(a, 'm') || EQ(a, 'd')) return 2;
    if ((EQ(a, 'r') && EQ(b, 'e')) || (EQ(a, 'v') && EQ(b, 'e')) || (EQ(a, 'l') && EQ(b, 'l'))) return 3;
#undef EQ
    return 0;
}

// \s+(?!\S) then \s+ : a whitespace run leaves its last space to the following word.
static size_t spaces(const cps *t, size_t i, size_t end) {
    size_t k = run(t, i, end, U_SPACE);
    if (k == 0) return 0;
    if (i + k == end || k == 1) return k;
    return k - 1;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
static size_t m_gpt2(const cps *t, size_t i, size_t end) {
    size_t k = contraction(t, i, end, 0);
    if (k) return k;
    size_t p = i + (t->cp[i] == ' ' && i + 1 < end);
    if (p > i && !LETTER(t, p) && !NUMBER(t, p) && SPACE(t, p)) p = i;  // ' ' then space: no prefix
    if (LETTER(t, p)) return p - i + run(t, p, end, U_LETTER);
    if (NUMBER(t, p)) return p - i + run(t, p, end, U_NUMBER);
    if (!SPACE(t, p)) return p - i + run_not(t, p, end, U_SPACE | U_LETTER | U_NUMBER);
    return spaces(t, i, end);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
static size_t m_llama3_digits(const cps *t, size_t i, size_t end, size_t max_digits) {
    size_t k = contraction(t, i, end, 1);
    if (k) return k;
    uint32_t c = t->cp[i];
    if (LETTER(t, i)) return run(t, i, end, U_LETTER);
    if (c != '\r' && c != '\n' && !NUMBER(t, i) && i + 1 < end && LETTER(t, i + 1)) return 1 + run(t, i + 1, end, U_LETTER);
    if (NUMBER(t, i)) { k = run(t, i, end, U_NUMBER); return k < max_digits ? k : max_digits; }
    size_t p = i + (c == ' ' && i + 1 < end && !SPACE(t, i + 1) && !LETTER(t, i + 1) && !NUMBER(t, i + 1));
    if (!SPACE(t, p) && !LETTER(t, p) && !NUMBER(t, p)) {
        size_t q = p + run_not(t, p, end, U_SPACE | U_LETTER | U_NUMBER);
        while (q < end && (t->cp[q] == '\r' || t->cp[q] == '\n')) q++;
        return q - i;
    }
    // \s*[\r\n]+ : up to the last newline inside this whitespace run
    size_t ws = run(t, i, end, U_SPACE), last_nl = 0;
    for (size_t j = i; j < i + ws; j++)
        if (t->cp[j] == '\r' || t->cp[j] == '\n') last_nl = j + 1;
    if (last_nl) return last_nl - i;
    return spaces(t, i, end);
}
static size_t m_llama3(const cps *t, size_t i, size_t end) { return m_llama3_digits(t, i, end, 3); }
static size_t m_qwen2(const cps *t, size_t i, size_t end) { return m_llama3_digits(t, i, end, 1); }

static size_t m_digit(const cps *t, size_t i, size_t end) { (void)end; return NUMBER(t, i) ? 1 : 0; }
static size_t m_digits(const cps *t, size_t i, size_t end) { return run(t, i, end, U_NUMBER); }
static size_t m_newline(const cps *t, size_t i, size_t end) { (void)end; return t->cp[i] == '\r' || t->cp[i] == '\n'; }

// \s?X+ for a class X given by flags
static size_t opt_space_run(const cps *t, size_t i, size_t end, unsigned f) {
    size_t p = i + (SPACE(t, i) && i + 1 < end && IS(t, i + 1, f));
    size_t k = run(t, p, end, f);
    return k ? p - i + k : 0;
}
static size_t m_space_letters(const cps *t, size_t i, size_t end) { return opt_space_run(t, i, end, U_LETTER); }
static size_t m_space_punct(const cps *t, size_t i, size_t end) { return opt_space_run(t, i, end, U_PUNCT); }
static size_t m_space_cased(const cps *t, size_t i, size_t end) { return opt_space_run(t, i, end, U_CASED); }

static int cjk(uint32_t c) { return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x0800 && c <= 0x4E00) || (c >= 0xAC00 && c <= 0xD7FF); }
static size_t m_cjk(const cps *t, size_t i, size_t end) {
    size_t j = i;
    while (j < end && cjk(t->cp[j])) j++;
    return j - i;
}
// \s?[!-/:-~ fullwidth forms, general punctuation quotes, CJK punctuation]+ (DeepSeek LLM)
static int ds_punct(uint32_t c) {
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '~') || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}
static size_t m_ds_punct(const cps *t, size_t i, size_t end) {
    size_t p = i + (SPACE(t, i) && i + 1 < end && ds_punct(t->cp[i + 1]));
    size_t j = p;
    while (j < end && ds_punct(t->cp[j])) j++;
    return j > p ? j - i : 0;
}
static size_t m_trailing_space(const cps *t, size_t i, size_t end) {
    size_t k = run(t, i, end, U_SPACE);
    return i + k == end ? k : 0;
}
// [\p{P}\$\+<=>\^~\|`]+ (Falcon); llama.cpp's default leaves out the backtick.
static int falcon_punct(const cps *t, size_t i, int backtick) {
    uint32_t c = t->cp[i];
    return IS(t, i, U_PUNCT) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' || (backtick && c == '`');
}
static size_t m_falcon_punct(const cps *t, size_t i, size_t end) {
    size_t j = i;
    while (j < end && falcon_punct(t, j, 1)) j++;
    return j - i;
}
static size_t m_default_punct(const cps *t, size_t i, size_t end) {
    size_t j = i;
    while (j < end && falcon_punct(t, j, 0)) j++;
    return j - i;
}
static size_t m_ascii_3digits(const cps *t, size_t i, size_t end) {
    if (i + 3 > end) return 0;
    for (size_t j = i; j < i + 3; j++)
        if (t->cp[j] < '0' || t->cp[j] > '9') return 0;
    return 3;
}

struct octet_pretok { const char *names; int ignore_merges; matcher pass[7]; };
static const octet_pretok pretoks[] = {
    // llama.cpp's "default", also what it uses for a GGUF without tokenizer.ggml.pre: punctuation
    // runs apart first, then GPT-2's pattern, then digit runs cut in threes.
    {",default,", 0, {m_default_punct, m_gpt2, m_digits, m_ascii_3digits}},
    {",gpt-2,gpt2,mpt,olmo,jais,poro-chat,viking,gpt-neox,", 0, {m_gpt2}},
    {",llama-bpe,llama3,dbrx,smaug-bpe,", 1, {m_llama3}},
    {",qwen2,stablelm2,deepseek-r1-qwen,", 0, {m_qwen2}},
    {",starcoder,refact,smollm,command-r,codeshell,exaone,minerva-7b,", 0, {m_digit, m_gpt2}},
    {",deepseek-coder,", 0, {m_newline, m_space_letters, m_space_punct, m_cjk, m_digit}},
    {",deepseek-llm,", 0, {m_newline, m_space_cased, m_ds_punct, m_trailing_space, m_cjk, m_digits}},
    {",falcon,", 0, {m_falcon_punct, m_gpt2, m_ascii_3digits}},
};

const octet_pretok *octet_pretok_find(const char *name, size_t len, int *ignore_merges) {
    char key[72];
    if (len == 0 || len > 64) return NULL;
    key[0] = ',';
    memcpy(key + 1, name, len);
    key[len + 1] = ',';
    key[len + 2] = 0;
    for (unsigned i = 0; i < sizeof pretoks / sizeof *pretoks; i++)
        if (strstr(pretoks[i].names, key)) { if (ignore_merges) *ignore_merges = pretoks[i].ignore_merges; return &pretoks[i]; }
    return NULL;
}

const char *octet_pretok_names(void) {
    return "default, gpt-2, mpt, olmo, llama-bpe, llama3, dbrx, qwen2, stablelm2, starcoder, refact, smollm, "
           "command-r, deepseek-coder, deepseek-llm, falcon";
}

// Pieces are kept as [start, end) code point spans; each pass rewrites the list.
typedef struct { size_t *a; size_t n, cap; } spans;
static int push(spans *s, size_t b, size_t e) {
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        size_t *a = realloc(s->a, cap * sizeof *a);
        if (!a) return -1;
        s->a = a; s->cap = cap;
    }
    s->a[s->n++] = b;
    s->a[s->n++] = e;
    return 0;
}

int octet_pretokenize(const octet_pretok *p, const char *text, size_t n,
                      void (*emit)(void *ctx, size_t off, size_t len), void *ctx) {
    if (n == 0) return 0;
    uint32_t *cp = malloc(n * sizeof *cp);
    unsigned *fl = malloc(n * sizeof *fl);
    size_t *off = malloc((n + 1) * sizeof *off);
    spans cur = {0}, next = {0};
    int rc = -1;
    if (!cp || !fl || !off) goto out;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        cp[m] = octet_utf8_decode(text + i, n - i, &len);
        fl[m] = octet_unicode_flags(cp[m]);
        off[m++] = i;
        i += len;
    }
    off[m] = n;
    cps t = {cp, fl, off, m};
    if (push(&cur, 0, m)) goto out;
    for (int k = 0; k < 7 && p->pass[k]; k++) {
        next.n = 0;
        for (size_t s = 0; s < cur.n; s += 2) {
            size_t b = cur.a[s], e = cur.a[s + 1], gap = b;
            for (size_t i = b; i < e;) {
                size_t len = p->pass[k](&t, i, e);
                if (!len) { i++; continue; }
                if (gap < i && push(&next, gap, i)) goto out;
                if (push(&next, i, i + len)) goto out;
                i += len;
                gap = i;
            }
            if (gap < e && push(&next, gap, e)) goto out;
        }
        spans tmp = cur; cur = next; next = tmp;
    }
    for (size_t s = 0; s < cur.n; s += 2) emit(ctx, off[cur.a[s]], off[cur.a[s + 1]] - off[cur.a[s]]);
    rc = 0;
out:
    free(cp); free(fl); free(off); free(cur.a); free(next.a);
    return rc;
}
