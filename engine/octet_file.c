#include "octet_file.h"
#include "util.h"
#include "mapguard.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dtype_names[OCTET_DTYPE_COUNT] = {"f32", "f16", "bf16", "q8", "q8g32", "q8g32h"};
const char *octet_dtype_name(uint32_t dtype) { return dtype < OCTET_DTYPE_COUNT ? dtype_names[dtype] : "?"; }

int octet_tensor_nbytes(uint32_t dtype, uint64_t rows, uint64_t cols, uint64_t *out) {
    uint64_t n;
    if (!octet_mul_u64(rows, cols, &n)) return -1;
    switch (dtype) {
    case OCTET_F32: return octet_mul_u64(n, 4, out) ? 0 : -1;
    case OCTET_F16: case OCTET_BF16: return octet_mul_u64(n, 2, out) ? 0 : -1;
    case OCTET_Q8:
        if (n > UINT64_MAX / 2 || rows > UINT64_MAX / 8) return -1;
        *out = octet_q8_scales_offset(rows, cols) + rows * 4;
        return 0;
    case OCTET_Q8G32: case OCTET_Q8G32H:
        if (cols % OCTET_Q8_GROUP || n > UINT64_MAX / 2) return -1;
        if (rows > UINT64_MAX / 4) return -1;
        *out = octet_q8_scales_offset(rows, cols) + octet_q8_scale_rows(dtype, rows) * (cols / OCTET_Q8_GROUP) * octet_q8_scale_bytes(dtype);
        return 0;
    }
    return -1;
}

// A bounds-checked cursor over the metadata section.
typedef struct { const uint8_t *p, *end; const char *path; int err; } cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if (c->err) return 0;
    if ((uint64_t)(c->end - c->p) < n) {
        octet_set_error("%s: truncated or corrupt metadata (%s runs past the end)", c->path, what);
        c->err = 1;
        return 0;
    }
    return 1;
}
static uint32_t rd_u32(cursor *c, const char *what) {
    uint32_t v = 0;
    if (need(c, 4, what)) { memcpy(&v, c->p, 4); c->p += 4; }
    return v;
}
static uint64_t rd_u64(cursor *c, const char *what) {
    uint64_t v = 0;
    if (need(c, 8, what)) { memcpy(&v, c->p, 8); c->p += 8; }
    return v;
}
static char *rd_name(cursor *c, const char *what) {
    uint32_t n = rd_u32(c, what);
    if (c->err) return NULL;
    if (n == 0 || n > 4096) { octet_set_error("%s: bad %s length %u", c->path, what, n); c->err = 1; return NULL; }
    if (!need(c, n, what)) return NULL;
    char *s = malloc(n + 1);
    if (!s) { octet_set_error("%s: out of memory", c->path); c->err = 1; return NULL; }
    memcpy(s, c->p, n); s[n] = 0; c->p += n;
    if (strlen(s) != n) { octet_set_error("%s: %s contains a NUL byte", c->path, what); free(s); c->err = 1; return NULL; }
    return s;
}

static uint64_t scalar_size(uint32_t t) {
    switch (t) {
    case OCTET_KV_U32: case OCTET_KV_I32: case OCTET_KV_F32: return 4;
    case OCTET_KV_U64: return 8;
    case OCTET_KV_BOOL: return 1;
    }
    return 0;
}

// Skips one value of type t (not an array), checking every length.
static void skip_value(cursor *c, uint32_t t, const char *key) {
    if (t == OCTET_KV_STR) {
        uint64_t n = rd_u64(c, key);
        if (need(c, n, key)) c->p += n;
    } else if (scalar_size(t)) {
        if (need(c, scalar_size(t), key)) c->p += scalar_size(t);
    } else if (!c->err) {
        octet_set_error("%s: metadata key '%s' has unknown type %u", c->path, key, t);
        c->err = 1;
    }
}

static int parse_kv(cursor *c, octet_kv *kv) {
    kv->key = rd_name(c, "metadata key");
    kv->type = rd_u32(c, "metadata type");
    if (c->err) return -1;
    if (kv->type == OCTET_KV_ARR) {
        kv->arr_type = rd_u32(c, kv->key);
        kv->count = rd_u64(c, kv->key);
        if (c->err) return -1;
        if (kv->arr_type == OCTET_KV_ARR || kv->arr_type >= OCTET_KV_TYPE_COUNT) {
            octet_set_error("%s: metadata array '%s' has bad element type %u", c->path, kv->key, kv->arr_type);
            return -1;
        }
        kv->val = c->p;
        if (kv->arr_type == OCTET_KV_STR) {
            for (uint64_t i = 0; i < kv->count && !c->err; i++) skip_value(c, OCTET_KV_STR, kv->key);
        } else {
            uint64_t bytes;
            if (!octet_mul_u64(kv->count, scalar_size(kv->arr_type), &bytes)) bytes = UINT64_MAX;
            if (need(c, bytes, kv->key)) c->p += bytes;
        }
    } else {
        kv->count = 1;
        if (kv->type == OCTET_KV_STR) {
            kv->count = rd_u64(c, kv->key);
            kv->val = c->p;
            if (need(c, kv->count, kv->key)) c->p += kv->count;
        } else {
            kv->val = c->p;
            skip_value(c, kv->type, kv->key);
        }
    }
    return c->err ? -1 : 0;
}

static int parse_tensor(cursor *c, octet_tensor *t, uint64_t data_size) {
    t->name = rd_name(c, "tensor name");
    t->dtype = rd_u32(c, "tensor dtype");
    t->n_dims = rd_u32(c, "tensor dims");
    if (c->err) return -1;
    if (t->dtype >= OCTET_DTYPE_COUNT) { octet_set_error("%s: tensor '%s' has unknown dtype %u", c->path, t->name, t->dtype); return -1; }
    if (t->n_dims < 1 || t->n_dims > OCTET_MAX_DIMS) { octet_set_error("%s: tensor '%s' has %u dims (1..%u allowed)", c->path, t->name, t->n_dims, OCTET_MAX_DIMS); return -1; }
    t->rows = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        t->dims[d] = rd_u64(c, t->name);
        if (c->err) return -1;
        if (t->dims[d] == 0 || t->dims[d] > (1ull << 40)) { octet_set_error("%s: tensor '%s' has bad dimension %llu", c->path, t->name, (unsigned long long)t->dims[d]); return -1; }
        if (d + 1 < t->n_dims && !octet_mul_u64(t->rows, t->dims[d], &t->rows)) { octet_set_error("%s: tensor '%s' is too large", c->path, t->name); return -1; }
    }
    t->cols = t->dims[t->n_dims - 1];
    t->offset = rd_u64(c, t->name);
    t->nbytes = rd_u64(c, t->name);
    if (c->err) return -1;
    uint64_t expect;
    if (octet_tensor_nbytes(t->dtype, t->rows, t->cols, &expect) != 0 || expect != t->nbytes) {
        octet_set_error("%s: tensor '%s' size %llu does not match its %s shape", c->path, t->name, (unsigned long long)t->nbytes, octet_dtype_name(t->dtype));
        return -1;
    }
    if (t->offset % OCTET_ALIGN || t->offset > data_size || t->nbytes > data_size - t->offset) {
        octet_set_error("%s: tensor '%s' data (offset %llu, %llu bytes) lies outside the file", c->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
        return -1;
    }
    return 0;
}

// quant.f32_act names int8 matrices whose activations the converter measured too sensitive to
// quantize: they run weight-only whatever the run's activation mode. quant.asym_act names those
// whose activations the file's own mode quantizes asymmetrically (the rest symmetrically).
// Either list may name only int8 tensors of the file.
static int mark_tensors(octet_file *f, const char *path, const char *key, int asym) {
    const octet_kv *kv = octet_file_kv(f, key);
    if (!kv) return 0;
    if (kv->type != OCTET_KV_ARR || kv->arr_type != OCTET_KV_STR || kv->count > f->n_tensors) { octet_set_error("%s: %s is not a list of tensor names", path, key); return -1; }
    const char **names = malloc((kv->count ? kv->count : 1) * sizeof *names);
    uint32_t *lens = malloc((kv->count ? kv->count : 1) * sizeof *lens);
    int rc = names && lens && octet_kv_str_array(kv, names, lens) == 0 ? 0 : -1;
    if (rc) octet_set_error("%s: %s is not a list of tensor names", path, key);
    for (uint64_t i = 0; i < kv->count && rc == 0; i++) {
        octet_tensor *t = NULL;
        for (uint64_t j = 0; j < f->n_tensors && !t; j++)
            if (strlen(f->tensors[j].name) == lens[i] && !memcmp(f->tensors[j].name, names[i], lens[i])) t = &f->tensors[j];
        if (!t || !octet_is_q8(t->dtype)) { octet_set_error("%s: %s names '%.*s', which is not an int8 tensor of the file", path, key, (int)lens[i], names[i]); rc = -1; }
        else if (asym) t->act_asym = 1;
        else t->act_f32 = 1;
    }
    free(names); free(lens);
    return rc;
}

// The file's st_size bytes read into fresh anonymous memory: 2 MiB aligned (a huge page's size)
// with MADV_HUGEPAGE, then made read-only like the mapping. NULL (error set) on failure.
#define HUGE_PAGE ((size_t)2 << 20)
static uint8_t *read_into_memory(octet_file *f, int fd, size_t size) {
    size_t span = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE, len = span + HUGE_PAGE;   // (room to align)
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) { octet_set_error("%s: cannot allocate %zu bytes to read it into memory: %s", f->path, size, strerror(errno)); return NULL; }
    uint8_t *buf = (uint8_t *)(((uintptr_t)mem + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
    madvise(buf, span, MADV_HUGEPAGE);   // (hints: refused, the copy still works)
#endif
#ifdef MADV_POPULATE_WRITE
    // The pages faulted in one pass rather than one by one inside read(), which took a VM 1-3 s per GB.
    madvise(buf, span, MADV_POPULATE_WRITE);
#endif
    for (size_t got = 0; got < size;) {
        ssize_t r = read(fd, buf + got, size - got < ((size_t)1 << 30) ? size - got : ((size_t)1 << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r < 0) octet_set_error("%s: read failed: %s", f->path, strerror(errno));
            else octet_set_error("%s: the file shrank while it was read (%zu of %zu bytes)", f->path, got, size);
            munmap(mem, len);
            return NULL;
        }
        got += (size_t)r;
    }
    mprotect(buf, size, PROT_READ);
    f->mem = mem;
    f->mem_len = len;
    return buf;
}

int octet_file_open(octet_file *f, const char *path) { return octet_file_open_mode(f, path, 0); }

int octet_file_open_mode(octet_file *f, const char *path, int in_memory) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = -1;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { octet_set_error("%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { octet_set_error("%s: not a regular file", path); close(fd); return -1; }
    if ((uint64_t)st.st_size < OCTET_HEADER_SIZE) { octet_set_error("%s: too small to be an .octet file (%lld bytes)", path, (long long)st.st_size); close(fd); return -1; }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) { octet_set_error("%s: too large (%lld bytes)", path, (long long)st.st_size); close(fd); return -1; }
    if (in_memory) {
        uint8_t *buf = read_into_memory(f, fd, (size_t)st.st_size);
        close(fd);
        if (!buf) { memset(f, 0, sizeof *f); return -1; }
        f->map = buf;
        f->size = (uint64_t)st.st_size;
        f->in_memory = 1;
    } else {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) { octet_set_error("%s: mmap failed: %s", path, strerror(errno)); close(fd); return -1; }
        f->map = map;
        f->size = (uint64_t)st.st_size;
        f->fd = fd;  // kept: octet_file_check asks it whether the file has shrunk since
        octet_mapguard_add(map, (size_t)st.st_size, path);
    }

    const uint8_t *h = f->map;
    if (memcmp(h, OCTET_MAGIC, 8) != 0) { octet_set_error("%s: not an .octet file (bad magic)", path); goto fail; }
    uint32_t header_size;
    uint64_t meta_size, file_size;
    memcpy(&f->version, h + 8, 4);
    memcpy(&header_size, h + 12, 4);
    memcpy(&f->n_kv, h + 16, 8);
    memcpy(&f->n_tensors, h + 24, 8);
    memcpy(&meta_size, h + 32, 8);
    memcpy(&f->data_offset, h + 40, 8);
    memcpy(&file_size, h + 48, 8);
    memcpy(&f->checksum, h + 56, 8);
    if (f->version < OCTET_VERSION_MIN || f->version > OCTET_VERSION) { octet_set_error("%s: unsupported .octet version %u (this build reads %u to %u)", path, f->version, OCTET_VERSION_MIN, OCTET_VERSION); goto fail; }
    if (header_size != OCTET_HEADER_SIZE) { octet_set_error("%s: bad header size %u", path, header_size); goto fail; }
    if (file_size != f->size) { octet_set_error("%s: file is %llu bytes but its header says %llu (truncated?)", path, (unsigned long long)f->size, (unsigned long long)file_size); goto fail; }
    if (meta_size > f->size - OCTET_HEADER_SIZE || f->data_offset % OCTET_ALIGN || f->data_offset < OCTET_HEADER_SIZE + meta_size || f->data_offset > f->size) {
        octet_set_error("%s: bad metadata size or data offset", path); goto fail;
    }
    // Each kv takes at least 9 bytes and each tensor at least 29: bounds the counts before allocating.
    if (f->n_kv > meta_size / 9 || f->n_tensors > meta_size / 29) {
        octet_set_error("%s: metadata counts (%llu keys, %llu tensors) exceed the metadata size", path, (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors);
        goto fail;
    }
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) { octet_set_error("%s: out of memory", path); goto fail; }
    cursor c = {f->map + OCTET_HEADER_SIZE, f->map + OCTET_HEADER_SIZE + meta_size, path, 0};
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (parse_kv(&c, &f->kv[i]) != 0) goto fail;
    uint64_t data_size = f->size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        if (parse_tensor(&c, &f->tensors[i], data_size) != 0) goto fail;
        f->tensors[i].data = f->map + f->data_offset + f->tensors[i].offset;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(f->tensors[j].name, f->tensors[i].name) == 0) { octet_set_error("%s: duplicate tensor '%s'", path, f->tensors[i].name); goto fail; }
    }
    if (c.p != c.end) { octet_set_error("%s: %lld stray bytes after the tensor table", path, (long long)(c.end - c.p)); goto fail; }
    if (mark_tensors(f, path, "quant.f32_act", 0) != 0 || mark_tensors(f, path, "quant.asym_act", 1) != 0) goto fail;
    return 0;
fail:
    octet_file_close(f);
    return -1;
}

int octet_file_describe(octet_file *f, const char *path, const uint8_t *meta, size_t len, uint64_t n_kv, const octet_tensor *shapes, uint64_t n_tensors) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = -1;
    f->version = OCTET_VERSION;
    f->n_kv = n_kv;
    f->n_tensors = n_tensors;
    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) { octet_set_error("%s: out of memory", path); goto fail; }
    cursor c = {meta, meta + len, path, 0};
    for (uint64_t i = 0; i < n_kv; i++)
        if (parse_kv(&c, &f->kv[i]) != 0) goto fail;
    if (c.p != c.end) { octet_set_error("%s: %lld stray bytes after the metadata", path, (long long)(c.end - c.p)); goto fail; }
    for (uint64_t i = 0; i < n_tensors; i++) {
        octet_tensor *t = &f->tensors[i];
        *t = shapes[i];
        t->data = NULL;
        t->block_sums = NULL;
        t->name = strdup(shapes[i].name);
        if (!t->name) { octet_set_error("%s: out of memory", path); goto fail; }
    }
    return 0;
fail:
    octet_file_close(f);
    return -1;
}

void octet_file_close(octet_file *f) {
    if (f->kv) for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].key);
    if (f->tensors) for (uint64_t i = 0; i < f->n_tensors; i++) { free(f->tensors[i].name); free(f->tensors[i].block_sums); }
    free(f->kv);
    free(f->tensors);
    if (f->map && f->in_memory) munmap(f->mem, f->mem_len);
    else if (f->map) { octet_mapguard_remove(f->map); munmap(f->map, (size_t)f->size); close(f->fd); }
    memset(f, 0, sizeof *f);
}

int octet_file_check(const octet_file *f) {
    if (f->in_memory) return 0;   // a copy: what happens to the file no longer matters
    struct stat st;
    if (fstat(f->fd, &st) != 0 || (uint64_t)st.st_size < f->size) {
        octet_set_error("%s: the file shrank since it was opened (%lld of %llu bytes left): it was truncated or rewritten in place", f->path,
                        (long long)st.st_size, (unsigned long long)f->size);
        return -1;
    }
    return 0;
}

int octet_file_verify(const octet_file *f) {
    octet_hash h;
    octet_hash_init(&h);
    octet_hash_update(&h, f->map + OCTET_HEADER_SIZE, f->size - OCTET_HEADER_SIZE);
    uint64_t got = octet_hash_final(&h);
    if (got != f->checksum) {
        octet_set_error("%s: checksum mismatch (stored %016llx, computed %016llx): the file is corrupt", f->path, (unsigned long long)f->checksum, (unsigned long long)got);
        return -1;
    }
    return 0;
}

const octet_kv *octet_file_kv(const octet_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const octet_tensor *octet_file_tensor(const octet_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

#define GETTER(fn, T, KT)                                                   \
    T fn(const octet_file *f, const char *key, T def) {                     \
        const octet_kv *kv = octet_file_kv(f, key);                         \
        if (!kv || kv->type != KT) return def;                              \
        T v; memcpy(&v, kv->val, sizeof v); return v;                       \
    }
GETTER(octet_kv_u32, uint32_t, OCTET_KV_U32)
GETTER(octet_kv_i32, int32_t, OCTET_KV_I32)
GETTER(octet_kv_f32, float, OCTET_KV_F32)

int octet_kv_bool(const octet_file *f, const char *key, int def) {
    const octet_kv *kv = octet_file_kv(f, key);
    if (!kv || kv->type != OCTET_KV_BOOL) return def;
    return kv->val[0] != 0;
}

const char *octet_kv_str(const octet_file *f, const char *key, uint64_t *len) {
    const octet_kv *kv = octet_file_kv(f, key);
    if (!kv || kv->type != OCTET_KV_STR) return NULL;
    if (len) *len = kv->count;
    return (const char *)kv->val;
}

int octet_kv_str_array(const octet_kv *kv, const char **ptrs, uint32_t *lens) {
    if (kv->type != OCTET_KV_ARR || kv->arr_type != OCTET_KV_STR) return -1;
    const uint8_t *p = kv->val;  // already bounds-checked by the parser
    for (uint64_t i = 0; i < kv->count; i++) {
        uint64_t n;
        memcpy(&n, p, 8);
        if (n > UINT32_MAX) return -1;
        ptrs[i] = (const char *)p + 8;
        lens[i] = (uint32_t)n;
        p += 8 + n;
    }
    return 0;
}

int octet_tensor_block_sums(octet_tensor *t) {
    if (t->block_sums) return 0;
    if (!octet_is_q8(t->dtype)) { octet_set_error("%s: block sums of a tensor that is not int8", t->name); return -1; }
    uint64_t nb = octet_block_sums_per_row(t->cols);
    size_t count = (size_t)((t->rows + 7) / 8 * 8 * nb);   // whole tiles of 8 rows (octet_block_sum_index)
    int16_t *s = calloc(count, sizeof *s);
    if (!s) { octet_set_error("out of memory for the block sums of %s", t->name); return -1; }
    const int8_t *q = t->data;
    for (uint64_t r = 0; r < t->rows; r++)
        for (uint64_t b = 0; b < nb; b++) {
            int sum = 0;  // |sum| <= 32 * 127: fits int16
            uint64_t i1 = (b + 1) * OCTET_Q8_GROUP < t->cols ? (b + 1) * OCTET_Q8_GROUP : t->cols;
            for (uint64_t i = b * OCTET_Q8_GROUP; i < i1; i++) sum += q[r * t->cols + i];
            s[octet_block_sum_index(r, b, nb)] = (int16_t)sum;
        }
    t->block_sums = s;
    return 0;
}

float octet_tensor_q8_scale(const octet_tensor *t, uint64_t row, uint64_t col) {
    uint64_t g = octet_q8_group(t->dtype, t->cols), sb = octet_q8_scale_bytes(t->dtype);
    const uint8_t *sp = (const uint8_t *)t->data + octet_q8_scales_offset(t->rows, t->cols) + octet_q8_scale_index(t->dtype, row, col / g, t->cols / g) * sb;
    float s;
    if (sb == 2) { uint16_t h; memcpy(&h, sp, 2); s = octet_f16_to_f32(h); }
    else memcpy(&s, sp, 4);
    return s;
}

void octet_tensor_row_f32(const octet_tensor *t, uint64_t row, float *out) {
    const uint8_t *base = t->data;
    uint64_t n = t->cols;
    switch (t->dtype) {
    case OCTET_F32: memcpy(out, base + row * n * 4, n * 4); break;
    case OCTET_F16: {
        const uint8_t *p = base + row * n * 2;
        for (uint64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); out[i] = octet_f16_to_f32(h); }
        break;
    }
    case OCTET_BF16: {
        const uint8_t *p = base + row * n * 2;
        for (uint64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); out[i] = octet_bf16_to_f32(h); }
        break;
    }
    case OCTET_Q8: case OCTET_Q8G32: case OCTET_Q8G32H: {
        const int8_t *q = (const int8_t *)base + row * n;
        uint64_t g = octet_q8_group(t->dtype, n);
        for (uint64_t i = 0; i < n; i += g) {
            float s = octet_tensor_q8_scale(t, row, i);
            for (uint64_t j = i; j < i + g; j++) out[j] = s * (float)q[j];
        }
        break;
    }
    }
}
