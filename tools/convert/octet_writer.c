#include "octet_writer.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(octet_meta *m, const void *p, size_t n) {
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) cap *= 2;
        uint8_t *b = realloc(m->buf, cap);
        if (!b) { m->oom = 1; return; }
        m->buf = b; m->cap = cap;
    }
    memcpy(m->buf + m->len, p, n);
    m->len += n;
}
static void put_u32(octet_meta *m, uint32_t v) { put(m, &v, 4); }
static void put_u64(octet_meta *m, uint64_t v) { put(m, &v, 8); }
static void put_key(octet_meta *m, const char *key, uint32_t type) {
    put_u32(m, (uint32_t)strlen(key));
    put(m, key, strlen(key));
    put_u32(m, type);
    m->count++;
}

void octet_meta_free(octet_meta *m) { free(m->buf); memset(m, 0, sizeof *m); }
void octet_meta_u32(octet_meta *m, const char *k, uint32_t v) { put_key(m, k, OCTET_KV_U32); put(m, &v, 4); }
void octet_meta_i32(octet_meta *m, const char *k, int32_t v) { put_key(m, k, OCTET_KV_I32); put(m, &v, 4); }
void octet_meta_f32(octet_meta *m, const char *k, float v) { put_key(m, k, OCTET_KV_F32); put(m, &v, 4); }
void octet_meta_bool(octet_meta *m, const char *k, int v) { uint8_t b = v != 0; put_key(m, k, OCTET_KV_BOOL); put(m, &b, 1); }
void octet_meta_str(octet_meta *m, const char *k, const char *s, size_t n) { put_key(m, k, OCTET_KV_STR); put_u64(m, n); put(m, s, n); }
void octet_meta_cstr(octet_meta *m, const char *k, const char *s) { octet_meta_str(m, k, s, strlen(s)); }

void octet_meta_arr_str(octet_meta *m, const char *k, uint64_t n, const char *const *s, const uint32_t *lens) {
    put_key(m, k, OCTET_KV_ARR); put_u32(m, OCTET_KV_STR); put_u64(m, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : strlen(s[i]);
        put_u64(m, len); put(m, s[i], len);
    }
}
void octet_meta_arr_f32(octet_meta *m, const char *k, uint64_t n, const float *v) {
    put_key(m, k, OCTET_KV_ARR); put_u32(m, OCTET_KV_F32); put_u64(m, n); put(m, v, n * 4);
}
void octet_meta_arr_i32(octet_meta *m, const char *k, uint64_t n, const int32_t *v) {
    put_key(m, k, OCTET_KV_ARR); put_u32(m, OCTET_KV_I32); put_u64(m, n); put(m, v, n * 4);
}

void octet_meta_arr_u32(octet_meta *m, const char *k, uint64_t n, const uint32_t *v) {
    put_key(m, k, OCTET_KV_ARR); put_u32(m, OCTET_KV_U32); put_u64(m, n); put(m, v, n * 4);
}

// Walks the builder's own encoding (the same one the reader validates).
int octet_meta_has(const octet_meta *m, const char *key) {
    uint32_t type;
    return octet_meta_value(m, key, &type) != NULL;
}

const uint8_t *octet_meta_value(const octet_meta *m, const char *key, uint32_t *type_out) {
    size_t p = 0, klen = strlen(key);
    for (uint64_t i = 0; i < m->count; i++) {
        uint32_t n, type, at = 0;
        memcpy(&n, m->buf + p, 4); p += 4;
        int hit = n == klen && memcmp(m->buf + p, key, n) == 0;
        p += n;
        memcpy(&type, m->buf + p, 4); p += 4;
        if (hit) { *type_out = type; return m->buf + p; }
        uint64_t count = 1;
        if (type == OCTET_KV_ARR) { memcpy(&at, m->buf + p, 4); memcpy(&count, m->buf + p + 4, 8); p += 12; type = at; }
        for (uint64_t j = 0; j < count; j++) {
            if (type == OCTET_KV_STR) { uint64_t l; memcpy(&l, m->buf + p, 8); p += 8 + l; }
            else p += type == OCTET_KV_U64 ? 8 : type == OCTET_KV_BOOL ? 1 : 4;
        }
    }
    return NULL;
}

// An interrupted conversion removes its temp file: the handler only calls unlink and _exit.
static char interrupted_tmp[4096];
static void on_signal(int sig) {
    if (interrupted_tmp[0]) unlink(interrupted_tmp);
    _exit(128 + sig);
}
static void guard_tmp(const char *tmp) {
    if (!tmp) { interrupted_tmp[0] = 0; return; }
    snprintf(interrupted_tmp, sizeof interrupted_tmp, "%s", tmp);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

// The output may replace a regular file only: never a symlink, device node, FIFO or directory.
static int replaceable(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : (octet_set_error("%s: cannot check the output path: %s", path, strerror(errno)), -1);
    if (S_ISREG(st.st_mode)) return 0;
    octet_set_error("%s: exists and is not a regular file (%s); refusing to replace it", path,
                    S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
    return -1;
}

int octet_writer_open(octet_writer *w, const char *path) {
    memset(w, 0, sizeof *w);
    if (replaceable(path) != 0) return -1;
    size_t n = strlen(path) + 32;
    w->dst = strdup(path);
    w->tmp = malloc(n);
    if (!w->dst || !w->tmp) { octet_set_error("out of memory"); octet_writer_abort(w); return -1; }
    snprintf(w->tmp, n, "%s.tmp-%d", path, (int)getpid());
    guard_tmp(w->tmp);
    // O_EXCL: the temp name is never an existing file or a planted symlink.
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    w->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!w->fp && fd >= 0) close(fd);
    if (!w->fp) { octet_set_error("%s: cannot create: %s", w->tmp, strerror(errno)); free(w->tmp); w->tmp = NULL; octet_writer_abort(w); return -1; }
    return 0;
}

int octet_writer_add_tensor(octet_writer *w, const char *name, uint32_t dtype, uint32_t n_dims, const uint64_t *dims) {
    if (n_dims < 1 || n_dims > OCTET_MAX_DIMS) { octet_set_error("tensor '%s': %u dims not supported", name, n_dims); return -1; }
    if (w->n_tensors == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        void *p = realloc(w->t, w->cap * sizeof *w->t);
        if (!p) { octet_set_error("out of memory"); return -1; }
        w->t = p;
    }
    octet_writer_tensor *t = &w->t[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->dtype = dtype; t->n_dims = n_dims; t->rows = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        t->dims[d] = dims[d];
        if (d + 1 < n_dims) t->rows *= dims[d];
    }
    t->cols = dims[n_dims - 1];
    if (!t->name || octet_tensor_nbytes(dtype, t->rows, t->cols, &t->nbytes) != 0) { free(t->name); octet_set_error("tensor '%s': bad shape", name); return -1; }
    t->offset = w->n_tensors ? octet_align64(w->t[w->n_tensors - 1].offset + w->t[w->n_tensors - 1].nbytes) : 0;
    w->n_tensors++;
    return 0;
}

static int write_hashed(octet_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->fp) != n) { octet_set_error("%s: write failed: %s", w->tmp, strerror(errno)); return -1; }
    octet_hash_update(&w->hash, p, n);
    return 0;
}
static int write_zeros(octet_writer *w, size_t n) {
    static const uint8_t zeros[64];
    while (n) { size_t k = n < 64 ? n : 64; if (write_hashed(w, zeros, k)) return -1; n -= k; }
    return 0;
}

int octet_writer_begin_data(octet_writer *w, const octet_meta *meta) {
    octet_meta table = {0};
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        octet_writer_tensor *t = &w->t[i];
        put_u32(&table, (uint32_t)strlen(t->name)); put(&table, t->name, strlen(t->name));
        put_u32(&table, t->dtype); put_u32(&table, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&table, t->dims[d]);
        put_u64(&table, t->offset); put_u64(&table, t->nbytes);
    }
    if (meta->oom || table.oom) { octet_meta_free(&table); octet_set_error("out of memory building metadata"); return -1; }
    uint64_t meta_size = meta->len + table.len;
    w->data_offset = octet_align64(OCTET_HEADER_SIZE + meta_size);
    uint8_t header[OCTET_HEADER_SIZE] = {0};
    octet_hash_init(&w->hash);
    int rc = fwrite(header, 1, sizeof header, w->fp) == sizeof header ? 0 : -1;
    if (rc) octet_set_error("%s: write failed: %s", w->tmp, strerror(errno));
    if (!rc) rc = write_hashed(w, meta->buf, meta->len);
    if (!rc) rc = write_hashed(w, table.buf, table.len);
    if (!rc) rc = write_zeros(w, w->data_offset - OCTET_HEADER_SIZE - meta_size);
    octet_meta_free(&table);
    // Fill the header fields now; the checksum and size are patched in at commit.
    memcpy(header, OCTET_MAGIC, 8);
    uint32_t v = w->version ? w->version : OCTET_VERSION_MIN, hs = OCTET_HEADER_SIZE;
    memcpy(header + 8, &v, 4); memcpy(header + 12, &hs, 4);
    memcpy(header + 16, &meta->count, 8); memcpy(header + 24, &w->n_tensors, 8);
    memcpy(header + 32, &meta_size, 8); memcpy(header + 40, &w->data_offset, 8);
    w->end = w->data_offset;
    if (!rc && (fseek(w->fp, 0, SEEK_SET) != 0 || fwrite(header, 1, 48, w->fp) != 48 || fseek(w->fp, 0, SEEK_END) != 0)) {
        octet_set_error("%s: write failed: %s", w->tmp, strerror(errno)); rc = -1;
    }
    return rc;
}

int octet_writer_write_tensor(octet_writer *w, const void *data) {
    if (w->next >= w->n_tensors) { octet_set_error("internal: more tensors written than declared"); return -1; }
    octet_writer_tensor *t = &w->t[w->next++];
    if (write_hashed(w, data, t->nbytes) || write_zeros(w, octet_align64(t->nbytes) - t->nbytes)) return -1;
    w->end += octet_align64(t->nbytes);
    return 0;
}

int octet_writer_commit(octet_writer *w) {
    if (w->next != w->n_tensors) { octet_set_error("internal: %llu of %llu tensors written", (unsigned long long)w->next, (unsigned long long)w->n_tensors); octet_writer_abort(w); return -1; }
    uint64_t sum = octet_hash_final(&w->hash);
    int ok = fseek(w->fp, 48, SEEK_SET) == 0 && fwrite(&w->end, 8, 1, w->fp) == 1 && fwrite(&sum, 8, 1, w->fp) == 1 &&
             fflush(w->fp) == 0 && fsync(fileno(w->fp)) == 0;
    ok = (fclose(w->fp) == 0) && ok;
    w->fp = NULL;
    if (ok && replaceable(w->dst) != 0) { octet_writer_abort(w); return -1; }  // it may have changed during the conversion
    if (!ok || rename(w->tmp, w->dst) != 0) {
        octet_set_error("%s: cannot finish writing: %s", w->dst, strerror(errno));
        octet_writer_abort(w);
        return -1;
    }
    free(w->tmp); w->tmp = NULL;
    octet_writer_abort(w);  // frees the rest; the temp name is gone so nothing is unlinked
    return 0;
}

void octet_writer_abort(octet_writer *w) {
    if (w->fp) fclose(w->fp);
    if (w->tmp) unlink(w->tmp);
    guard_tmp(NULL);
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->t[i].name);
    free(w->t); free(w->tmp); free(w->dst);
    memset(w, 0, sizeof *w);
}
