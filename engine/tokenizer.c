#include "tokenizer.h"
#include "pretokenize.h"
#include "unicode.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct octet_merge { uint32_t left, right, result, rank; };

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}
static uint32_t hash_pair(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

int32_t octet_token_lookup(const octet_tokenizer *t, const char *s, size_t len) {
    for (uint32_t i = hash_bytes(s, len) & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
        uint32_t v = t->vocab_slot[i];
        if (!v) return -1;
        if (t->piece_len[v - 1] == len && memcmp(t->piece[v - 1], s, len) == 0) return (int32_t)(v - 1);
    }
}

// A piece of the BPE model's own vocabulary: added (user-defined or control) tokens are matched
// in the text before the model runs, never as the model's bytes or words (as in HF tokenizers;
// deepseek's added "À" must not stand for the stray byte 0xC0).
static int32_t model_token(const octet_tokenizer *t, const char *s, size_t len) {
    int32_t id = octet_token_lookup(t, s, len);
    return id >= 0 && (t->type[id] == TT_NORMAL || t->type[id] == TT_BYTE) ? id : -1;
}

static const struct octet_merge *merge_lookup(const octet_tokenizer *t, uint32_t a, uint32_t b) {
    if (!t->merge_slot) return NULL;
    for (uint32_t i = hash_pair(a, b) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        uint32_t v = t->merge_slot[i];
        if (!v) return NULL;
        const struct octet_merge *m = &t->merge[v - 1];
        if (m->left == a && m->right == b) return m;
    }
}

// GPT-2's reversible byte <-> printable code point map: printable bytes map to themselves, the
// 68 others (0-32, 127-160, 173) in order to U+0100..U+0143.
static int printable_byte(uint32_t c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); }
static uint32_t byte_to_cp(unsigned b) {
    if (printable_byte(b)) return b;
    return b <= 32 ? 256 + b : b <= 160 ? 289 + (b - 127) : 323;
}
static int cp_to_byte(uint32_t cp) {
    if (printable_byte(cp)) return (int)cp;
    if (cp >= 256 && cp <= 288) return (int)(cp - 256);
    if (cp >= 289 && cp <= 322) return (int)(cp - 289 + 127);
    return cp == 323 ? 173 : -1;
}

// The hash tables' size: a power of two at least twice n (n is at most 2^24 tokens or merges).
static uint32_t pow2_above(uint64_t n) {
    uint64_t c = 16;
    while (c < 2 * n) c *= 2;
    return (uint32_t)c;
}

// Special tokens longest first (then by id), so matching takes the longest at each position.
typedef struct { uint32_t len, id; } special_key;
static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_merges(octet_tokenizer *t, const octet_kv *kv, const char *path) {
    uint64_t n = kv->count;
    if (n > (1u << 24)) { octet_set_error("%s: tokenizer.merges holds %llu merges (at most 2^24)", path, (unsigned long long)n); return -1; }
    const char **s = malloc(n * sizeof *s);
    uint32_t *l = malloc(n * sizeof *l);
    t->merge = malloc((n ? n : 1) * sizeof *t->merge);
    t->merge_mask = pow2_above(n) - 1;
    t->merge_slot = calloc(t->merge_mask + 1ull, sizeof *t->merge_slot);
    char *buf = NULL;
    int rc = -1;
    if (!s || !l || !t->merge || !t->merge_slot) { octet_set_error("%s: out of memory loading merges", path); goto out; }
    octet_kv_str_array(kv, s, l);
    size_t buf_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        const char *sp = memchr(s[i] + 1, ' ', l[i] > 1 ? l[i] - 1 : 0);  // the first piece may itself be a space
        if (!sp) { octet_set_error("%s: merge %llu has no space separator", path, (unsigned long long)i); goto out; }
        size_t la = (size_t)(sp - s[i]), lb = l[i] - la - 1;
        if (la + lb > buf_cap) { buf_cap = (la + lb) * 2; char *nb = realloc(buf, buf_cap); if (!nb) goto out; buf = nb; }
        memcpy(buf, s[i], la); memcpy(buf + la, sp + 1, lb);
        int32_t a = octet_token_lookup(t, s[i], la), b = octet_token_lookup(t, sp + 1, lb), r = octet_token_lookup(t, buf, la + lb);
        if (a < 0 || b < 0 || r < 0 || merge_lookup(t, (uint32_t)a, (uint32_t)b)) continue;  // unusable or repeated: ignore
        struct octet_merge *m = &t->merge[t->n_merge];
        *m = (struct octet_merge){(uint32_t)a, (uint32_t)b, (uint32_t)r, (uint32_t)i};
        uint32_t j = hash_pair(m->left, m->right) & t->merge_mask;
        while (t->merge_slot[j]) j = (j + 1) & t->merge_mask;
        t->merge_slot[j] = ++t->n_merge;
    }
    rc = 0;
out:
    free(s); free(l); free(buf);
    return rc;
}

int octet_tokenizer_load(octet_tokenizer *t, const octet_file *f) {
    memset(t, 0, sizeof *t);
    const char *path = f->path;
    uint64_t mlen;
    const char *model = octet_kv_str(f, "tokenizer.model", &mlen);
    if (!model) { octet_set_error("%s: has no tokenizer", path); return -1; }
    if (mlen == 3 && !memcmp(model, "spm", 3)) t->kind = OCTET_TOK_SPM;
    else if (mlen == 3 && !memcmp(model, "bpe", 3)) t->kind = OCTET_TOK_BPE;
    else { octet_set_error("%s: unknown tokenizer.model '%.*s'", path, (int)(mlen > 32 ? 32 : mlen), model); return -1; }
    const octet_kv *tok = octet_file_kv(f, "tokenizer.tokens");
    if (!tok || tok->type != OCTET_KV_ARR || tok->arr_type != OCTET_KV_STR || tok->count == 0 || tok->count > (1u << 24)) {
        octet_set_error("%s: tokenizer.tokens missing or not a string array", path); return -1;
    }
    uint32_t n = t->n_vocab = (uint32_t)tok->count;
    t->piece = malloc(n * sizeof *t->piece);
    t->piece_len = malloc(n * sizeof *t->piece_len);
    t->score = calloc(n, sizeof *t->score);
    t->type = malloc(n * sizeof *t->type);
    t->vocab_mask = pow2_above(n) - 1;
    t->vocab_slot = calloc(t->vocab_mask + 1ull, sizeof *t->vocab_slot);
    t->special = malloc(n * sizeof *t->special);
    if (!t->piece || !t->piece_len || !t->score || !t->type || !t->vocab_slot || !t->special) { octet_set_error("%s: out of memory loading the vocabulary", path); goto fail; }
    octet_kv_str_array(tok, t->piece, t->piece_len);
    const octet_kv *sc = octet_file_kv(f, "tokenizer.scores"), *ty = octet_file_kv(f, "tokenizer.token_type");
    if (sc) {
        if (sc->type != OCTET_KV_ARR || sc->arr_type != OCTET_KV_F32 || sc->count != n) { octet_set_error("%s: tokenizer.scores must hold %u f32 values", path, n); goto fail; }
        memcpy(t->score, sc->val, n * 4ull);
    }
    for (uint32_t i = 0; i < n; i++) t->type[i] = TT_NORMAL;
    if (ty) {
        if (ty->type != OCTET_KV_ARR || ty->arr_type != OCTET_KV_I32 || ty->count != n) { octet_set_error("%s: tokenizer.token_type must hold %u int32 values", path, n); goto fail; }
        memcpy(t->type, ty->val, n * 4ull);
    }
    // Later duplicates of a piece never win the lookup, as in the reference tokenizers.
    for (uint32_t i = 0; i < n; i++) {
        if (octet_token_lookup(t, t->piece[i], t->piece_len[i]) >= 0) continue;
        uint32_t j = hash_bytes(t->piece[i], t->piece_len[i]) & t->vocab_mask;
        while (t->vocab_slot[j]) j = (j + 1) & t->vocab_mask;
        t->vocab_slot[j] = i + 1;
    }
    static const struct { const char *k; size_t off; } ids[] = {
        {"tokenizer.bos_id", offsetof(octet_tokenizer, bos)}, {"tokenizer.eos_id", offsetof(octet_tokenizer, eos)},
        {"tokenizer.unk_id", offsetof(octet_tokenizer, unk)}, {"tokenizer.pad_id", offsetof(octet_tokenizer, pad)},
        {"tokenizer.eot_id", offsetof(octet_tokenizer, eot)},
    };
    for (unsigned i = 0; i < sizeof ids / sizeof *ids; i++) {
        int32_t v = octet_kv_i32(f, ids[i].k, -1);
        if (v < -1 || v >= (int32_t)n) { octet_set_error("%s: %s = %d is outside the vocabulary", path, ids[i].k, v); goto fail; }
        *(int32_t *)((char *)t + ids[i].off) = v;
    }
    t->add_bos = octet_kv_bool(f, "tokenizer.add_bos", t->kind == OCTET_TOK_SPM);
    t->add_eos = octet_kv_bool(f, "tokenizer.add_eos", 0);
    t->add_space_prefix = octet_kv_bool(f, "tokenizer.add_space_prefix", t->kind == OCTET_TOK_SPM);

    if (t->kind == OCTET_TOK_SPM) {
        for (int b = 0; b < 256; b++) {
            char hex[8];
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            t->byte_token[b] = octet_token_lookup(t, hex, 6);
        }
    } else {
        uint64_t plen = 0;
        const char *pre = octet_kv_str(f, "tokenizer.pre", &plen);
        if (!pre) { pre = "default"; plen = 7; }
        snprintf(t->pre_name, sizeof t->pre_name, "%.*s", (int)(plen < 60 ? plen : 60), pre);
        t->pretok = octet_pretok_find(pre, plen, &t->ignore_merges);
        if (!t->pretok) { octet_set_error("%s: unknown pre-tokenizer '%s' (known: %s)", path, t->pre_name, octet_pretok_names()); goto fail; }
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t ul = octet_utf8_encode(byte_to_cp((unsigned)b), u);
            t->byte_token[b] = model_token(t, u, ul);
        }
        const octet_kv *mg = octet_file_kv(f, "tokenizer.merges");
        if (!mg || mg->type != OCTET_KV_ARR || mg->arr_type != OCTET_KV_STR) { octet_set_error("%s: byte-level BPE tokenizer without tokenizer.merges", path); goto fail; }
        if (load_merges(t, mg, path) != 0) goto fail;
    }
    special_key *keys = malloc((size_t)n * sizeof *keys);
    if (!keys) { octet_set_error("%s: out of memory", path); goto fail; }
    for (uint32_t i = 0; i < n; i++)
        if ((t->type[i] == TT_CONTROL || t->type[i] == TT_USER_DEFINED) && t->piece_len[i] > 0) keys[t->n_special++] = (special_key){t->piece_len[i], i};
    qsort(keys, t->n_special, sizeof *keys, cmp_special);
    for (uint32_t i = 0; i < t->n_special; i++) t->special[i] = keys[i].id;
    free(keys);
    return 0;
fail:
    octet_tokenizer_free(t);
    return -1;
}

void octet_tokenizer_free(octet_tokenizer *t) {
    free(t->piece); free(t->piece_len); free(t->score); free(t->type); free(t->vocab_slot);
    free(t->merge); free(t->merge_slot); free(t->special);
    memset(t, 0, sizeof *t);
}

// ---- output buffer and the merge queue shared by both algorithms ----
typedef struct { int32_t *a; size_t n, cap; int oom; } ids;
static void ids_push(ids *v, int32_t id) {
    if (v->oom) return;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *a = realloc(v->a, cap * sizeof *a);
        if (!a) { v->oom = 1; return; }
        v->a = a; v->cap = cap;
    }
    v->a[v->n++] = id;
}

typedef struct { int32_t prev, next; uint32_t off, n; int32_t id; } symbol;
// Lower prio first, then the leftmost pair: both reference algorithms break ties that way.
typedef struct { double prio; uint32_t left, right; int32_t lid, rid; uint32_t size; } bigram;
typedef struct { bigram *a; size_t n, cap; int oom; } heap;

static int before(const bigram *x, const bigram *y) { return x->prio < y->prio || (x->prio == y->prio && x->left < y->left); }
static void heap_push(heap *h, bigram b) {
    if (h->oom) return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        bigram *a = realloc(h->a, cap * sizeof *a);
        if (!a) { h->oom = 1; return; }
        h->a = a; h->cap = cap;
    }
    size_t i = h->n++;
    while (i && before(&b, &h->a[(i - 1) / 2])) { h->a[i] = h->a[(i - 1) / 2]; i = (i - 1) / 2; }
    h->a[i] = b;
}
static bigram heap_pop(heap *h) {
    bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->a[c + 1], &h->a[c])) c++;
        if (!before(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}

typedef struct { symbol *sym; size_t nsym, capsym; heap q; char *buf; size_t buflen, bufcap; int oom; } workspace;

static int ws_reserve(workspace *w, size_t nsym, size_t nbuf) {
    if (nsym > w->capsym) { symbol *s = realloc(w->sym, nsym * sizeof *s); if (!s) return -1; w->sym = s; w->capsym = nsym; }
    if (nbuf > w->bufcap) { char *b = realloc(w->buf, nbuf); if (!b) return -1; w->buf = b; w->bufcap = nbuf; }
    return 0;
}

static void merge_symbols(symbol *sym, uint32_t l, uint32_t r, int32_t id) {
    sym[l].n += sym[r].n;
    sym[l].id = id;
    sym[l].next = sym[r].next;
    if (sym[r].next >= 0) sym[sym[r].next].prev = (int32_t)l;
    sym[r].n = 0;
}

// ---- SentencePiece-style BPE: merge the adjacent pair whose result has the best score ----
static void spm_try_pair(const octet_tokenizer *t, workspace *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const symbol *a = &w->sym[l], *b = &w->sym[r];
    int32_t id = octet_token_lookup(t, w->buf + a->off, a->n + b->n);
    if (id < 0 || t->type[id] == TT_CONTROL) return;
    heap_push(&w->q, (bigram){-(double)t->score[id], (uint32_t)l, (uint32_t)r, 0, 0, a->n + b->n});
}

static void spm_encode(const octet_tokenizer *t, workspace *w, const char *text, size_t len, int prefix_space, ids *out) {
    size_t need = len * 3 + 3;
    if (ws_reserve(w, len + 1, need)) { w->oom = 1; return; }
    size_t bl = 0;
    if (prefix_space) { memcpy(w->buf, "\xE2\x96\x81", 3); bl = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(w->buf + bl, "\xE2\x96\x81", 3); bl += 3; }
        else w->buf[bl++] = text[i];
    }
    // A symbol is one valid UTF-8 character or one stray byte, so a truncated lead byte never
    // swallows the U+2581 after it and there are never more symbols than input bytes (+ prefix).
    size_t ns = 0;
    for (size_t i = 0; i < bl;) {
        size_t cl;
        octet_utf8_decode(w->buf + i, bl - i, &cl);
        w->sym[ns] = (symbol){(int32_t)ns - 1, (int32_t)ns + 1, (uint32_t)i, (uint32_t)cl, -1};
        ns++;
        i += cl;
    }
    if (!ns) return;
    w->sym[ns - 1].next = -1;
    w->q.n = 0;
    for (size_t i = 1; i < ns; i++) spm_try_pair(t, w, (int32_t)i - 1, (int32_t)i);
    while (w->q.n) {
        bigram b = heap_pop(&w->q);
        symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (!l->n || !r->n || l->n + r->n != b.size || l->next != (int32_t)b.right) continue;
        merge_symbols(w->sym, b.left, b.right, -1);
        spm_try_pair(t, w, l->prev, (int32_t)b.left);
        spm_try_pair(t, w, (int32_t)b.left, l->next);
    }
    if (w->q.oom) { w->oom = 1; return; }
    for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
        const symbol *s = &w->sym[i];
        int32_t id = octet_token_lookup(t, w->buf + s->off, s->n);
        if (id >= 0) { ids_push(out, id); continue; }
        for (uint32_t k = 0; k < s->n; k++) {  // byte fallback
            int32_t bt = t->byte_token[(unsigned char)w->buf[s->off + k]];
            if (bt < 0) bt = t->unk;  // SentencePiece without byte fallback gives <unk>
            if (bt >= 0) ids_push(out, bt);
        }
    }
}

// ---- byte-level BPE: merge the adjacent pair with the lowest merge rank ----
static void bpe_try_pair(const octet_tokenizer *t, workspace *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const struct octet_merge *m = merge_lookup(t, (uint32_t)w->sym[l].id, (uint32_t)w->sym[r].id);
    if (m) heap_push(&w->q, (bigram){(double)m->rank, (uint32_t)l, (uint32_t)r, w->sym[l].id, w->sym[r].id, 0});
}

typedef struct { const octet_tokenizer *t; workspace *w; const char *text; ids *out; } bpe_ctx;

static void bpe_word(void *ctx, size_t off, size_t len) {
    bpe_ctx *c = ctx;
    const octet_tokenizer *t = c->t;
    workspace *w = c->w;
    const unsigned char *s = (const unsigned char *)c->text + off;
    if (w->oom || ws_reserve(w, len, len * 2)) { w->oom = 1; return; }
    if (t->ignore_merges) {
        size_t bl = 0;
        for (size_t i = 0; i < len; i++) bl += octet_utf8_encode(byte_to_cp(s[i]), w->buf + bl);
        int32_t id = model_token(t, w->buf, bl);
        if (id >= 0) { ids_push(c->out, id); return; }
    }
    for (size_t i = 0; i < len; i++) w->sym[i] = (symbol){(int32_t)i - 1, (int32_t)i + 1, (uint32_t)i, 1, t->byte_token[s[i]]};
    w->sym[len - 1].next = -1;
    w->q.n = 0;
    for (size_t i = 1; i < len; i++)
        if (w->sym[i - 1].id >= 0 && w->sym[i].id >= 0) bpe_try_pair(t, w, (int32_t)i - 1, (int32_t)i);
    while (w->q.n) {
        bigram b = heap_pop(&w->q);
        symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (!l->n || !r->n || l->next != (int32_t)b.right || l->id != b.lid || r->id != b.rid) continue;
        const struct octet_merge *m = merge_lookup(t, (uint32_t)b.lid, (uint32_t)b.rid);
        merge_symbols(w->sym, b.left, b.right, (int32_t)m->result);
        bpe_try_pair(t, w, l->prev, (int32_t)b.left);
        bpe_try_pair(t, w, (int32_t)b.left, l->next);
    }
    if (w->q.oom) { w->oom = 1; return; }
    // A byte the vocabulary has no symbol for is dropped, as HF tokenizers and llama.cpp do:
    // never the unknown id, which byte-level vocabularies share with their end token.
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        if (w->sym[i].id >= 0) ids_push(c->out, w->sym[i].id);
}

// Finds the longest special token at text[i] that may be matched; -1 when none.
static int32_t special_at(const octet_tokenizer *t, const char *text, size_t len, size_t i, int parse_special) {
    for (uint32_t k = 0; k < t->n_special; k++) {
        uint32_t id = t->special[k], pl = t->piece_len[id];
        if (t->type[id] == TT_CONTROL && !parse_special) continue;
        if (pl <= len - i && t->piece[id][0] == text[i] && memcmp(t->piece[id], text + i, pl) == 0) return (int32_t)id;
    }
    return -1;
}

static void encode_fragment(const octet_tokenizer *t, workspace *w, const char *text, size_t len, int after_special, ids *out) {
    if (!len) return;
    if (t->kind == OCTET_TOK_SPM) { spm_encode(t, w, text, len, t->add_space_prefix && after_special, out); return; }
    bpe_ctx c = {t, w, text, out};
    if (octet_pretokenize(t->pretok, text, len, bpe_word, &c) != 0) w->oom = 1;
}

int octet_tokenize(const octet_tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                   int32_t **out, size_t *n_out) {
    return octet_tokenize_spans(t, text, len, add_bos, parse_special, NULL, 0, out, n_out);
}

int octet_tokenize_spans(const octet_tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                         const size_t *plain, size_t n_plain, int32_t **out, size_t *n_out) {
    ids v = {0};
    workspace w = {0};
    int bos = add_bos < 0 ? t->add_bos : add_bos;
    if (bos && t->bos >= 0) ids_push(&v, t->bos);
    // Special tokens cut the text into fragments; the space prefix goes to the fragment that
    // starts the text or follows a special token, as the reference tokenizers do.
    size_t start = 0;
    int after_special = 1;
    uint8_t first[256] = {0};
    for (uint32_t k = 0; k < t->n_special; k++) first[(unsigned char)t->piece[t->special[k]][0]] = 1;
    size_t span = 0;  // the first plain span that does not end at or before i
    for (size_t i = 0; i < len && t->n_special;) {
        while (span < n_plain && plain[2 * span + 1] <= i) span++;
        int in_plain = span < n_plain && plain[2 * span] <= i;
        // No special token straddles the edge of message text.
        size_t room = in_plain ? plain[2 * span + 1] : span < n_plain ? plain[2 * span] : len;
        int32_t id = first[(unsigned char)text[i]] ? special_at(t, text, room, i, parse_special && !in_plain) : -1;
        if (id < 0) { i++; continue; }
        encode_fragment(t, &w, text + start, i - start, after_special, &v);
        ids_push(&v, id);
        i += t->piece_len[id];
        start = i;
        after_special = 1;
    }
    if (start < len) encode_fragment(t, &w, text + start, len - start, start == 0 || after_special, &v);
    if (add_bos < 0 && t->add_eos && t->eos >= 0) ids_push(&v, t->eos);
    free(w.sym); free(w.buf); free(w.q.a);
    if (v.oom || w.oom) { free(v.a); octet_set_error("out of memory while tokenizing %zu bytes", len); return -1; }
    *out = v.a;
    *n_out = v.n;
    return 0;
}

// ---- decoding ----
size_t octet_token_bytes(const octet_tokenizer *t, int32_t id, char *out, size_t cap, int render_special) {
    if (id < 0 || (uint32_t)id >= t->n_vocab) return 0;
    const char *p = t->piece[id];
    size_t n = t->piece_len[id], o = 0;
    switch (t->type[id]) {
    case TT_CONTROL: case TT_UNKNOWN: case TT_UNUSED:
        if (!render_special) return 0;
        /* fall through */
    case TT_USER_DEFINED:
        n = n < cap ? n : cap;
        memcpy(out, p, n);
        return n;
    case TT_BYTE:
        if (t->kind == OCTET_TOK_SPM && n == 6 && cap) {
            unsigned v;
            if (sscanf(p, "<0x%2X>", &v) == 1) { out[0] = (char)v; return 1; }
        }
        break;
    }
    if (t->kind == OCTET_TOK_SPM) {
        for (size_t i = 0; i < n && o < cap;) {
            if (n - i >= 3 && !memcmp(p + i, "\xE2\x96\x81", 3)) { out[o++] = ' '; i += 3; }
            else out[o++] = p[i++];
        }
        return o;
    }
    for (size_t i = 0; i < n && o + 4 <= cap;) {
        size_t l;
        uint32_t cp = octet_utf8_decode(p + i, n - i, &l);
        int b = cp_to_byte(cp);
        if (b >= 0) out[o++] = (char)b;
        else { memcpy(out + o, p + i, l); o += l; }
        i += l;
    }
    return o;
}

void octet_decoder_init(octet_decoder *d, const octet_tokenizer *t, int render_special) {
    memset(d, 0, sizeof *d);
    d->t = t;
    d->render_special = render_special;
}

static size_t put_fffd(char *out, size_t o, size_t cap) {
    if (o + 3 <= cap) { memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3; }
    return o;
}

// Emits whole characters; keeps an incomplete sequence for the next call.
static size_t feed(octet_decoder *d, const unsigned char *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = in[i];
        if (d->n_pend) {
            size_t need = octet_utf8_len(d->pend[0]);
            if ((b & 0xC0) == 0x80) {
                d->pend[d->n_pend++] = b;
                if ((size_t)d->n_pend == need) {
                    size_t l;
                    uint32_t cp = octet_utf8_decode((const char *)d->pend, need, &l);
                    if (cp == 0xFFFD && l == 1) o = put_fffd(out, o, cap);
                    else if (o + need <= cap) { memcpy(out + o, d->pend, need); o += need; }
                    d->n_pend = 0;
                }
                continue;
            }
            o = put_fffd(out, o, cap);
            d->n_pend = 0;
        }
        if (b < 0x80) { if (o < cap) out[o++] = (char)b; }
        else if (octet_utf8_len(b) > 1) d->pend[d->n_pend++] = b;
        else o = put_fffd(out, o, cap);
    }
    return o;
}

size_t octet_decoder_push(octet_decoder *d, int32_t id, char *out, size_t cap) {
    char piece[1024];
    size_t n = octet_token_bytes(d->t, id, piece, sizeof piece, d->render_special);
    const char *p = piece;
    if (n && !d->started) {
        d->started = 1;
        if (d->t->kind == OCTET_TOK_SPM && d->t->add_space_prefix && p[0] == ' ') { p++; n--; }
    }
    return feed(d, (const unsigned char *)p, n, out, cap);
}

size_t octet_decoder_flush(octet_decoder *d, char *out, size_t cap) {
    size_t o = 0;
    if (d->n_pend) o = put_fffd(out, 0, cap);
    d->n_pend = 0;
    return o;
}
