// The model the readers build: tensors, fused tensors split into parts, mapped input files.
#include "conv_model.h"
#include "chat.h"
#include "mapguard.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

conv_tensor *conv_add_tensor(conv_model *m, const char *name, uint32_t n_dims, const uint64_t *dims) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        conv_tensor *t = realloc(m->t, cap * sizeof *t);
        if (!t) { octet_set_error("out of memory"); return NULL; }
        m->t = t; m->cap = cap;
    }
    conv_tensor *t = &m->t[m->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) { octet_set_error("out of memory"); return NULL; }
    t->n_dims = n_dims;
    memcpy(t->dims, dims, n_dims * sizeof *dims);
    m->n++;
    return t;
}

uint64_t conv_tensor_numel(const conv_tensor *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->dims[d];
    return n;
}

const conv_tensor *conv_find_tensor(const conv_model *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
    return NULL;
}

static int load_part(const conv_model *m, const conv_tensor *t, float *out) {
    const conv_tensor *w = &m->wholes[t->whole];
    uint64_t n = conv_tensor_numel(w), cols = w->dims[w->n_dims - 1];
    float *all = malloc(n * sizeof *all);
    if (!all) { octet_set_error("out of memory"); return -1; }
    int rc = w->load(m, w, all);
    if (rc == 0) memcpy(out, all + t->row0 * cols, conv_tensor_numel(t) * sizeof *out);
    free(all);
    return rc;
}

int conv_split(conv_model *m, const char *name, int n, const char *const *names, const uint64_t *rows) {
    size_t i = 0;
    while (i < m->n && strcmp(m->t[i].name, name)) i++;
    if (i == m->n) return 0;
    conv_tensor w = m->t[i];
    uint64_t total = 0;
    for (int k = 0; k < n; k++) total += rows[k];
    if (w.n_dims != 2 || w.dims[0] != total) {
        octet_set_error("%s: tensor '%s' has %llu rows; its parts need %llu", m->path, name, (unsigned long long)w.dims[0], (unsigned long long)total);
        return -1;
    }
    conv_tensor *ws = realloc(m->wholes, (m->n_wholes + 1) * sizeof *ws);
    if (!ws) { octet_set_error("out of memory"); return -1; }
    m->wholes = ws;
    m->wholes[m->n_wholes] = w;
    memmove(m->t + i, m->t + i + 1, (m->n - i - 1) * sizeof *m->t);
    m->n--;
    uint64_t r0 = 0;
    for (int k = 0; k < n; k++) {
        uint64_t dims[2] = {rows[k], w.dims[1]};
        conv_tensor *t = conv_add_tensor(m, names[k], 2, dims);
        if (!t) { m->n_wholes++; return -1; }
        t->load = load_part; t->whole = m->n_wholes; t->row0 = r0; t->shift = w.shift;
        r0 += rows[k];
    }
    m->n_wholes++;
    return 0;
}

void conv_drop_tensor(conv_model *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) {
            free(m->t[i].name);
            memmove(m->t + i, m->t + i + 1, (m->n - i - 1) * sizeof *m->t);
            m->n--;
            return;
        }
}

const uint8_t *conv_map_file(conv_model *m, const char *path, size_t *size) {
    if (m->n_maps == (int)(sizeof m->maps / sizeof *m->maps)) { octet_set_error("%s: too many input files", path); return NULL; }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO is refused, not waited on
    if (fd < 0) { octet_set_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); octet_set_error("%s: not a regular file", path); return NULL; }
    if (st.st_size == 0) { close(fd); octet_set_error("%s: file is empty", path); return NULL; }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) { octet_set_error("%s: mmap failed: %s", path, strerror(errno)); return NULL; }
    octet_mapguard_add(p, (size_t)st.st_size, path);
    m->maps[m->n_maps].p = p;
    m->maps[m->n_maps].n = (size_t)st.st_size;
    m->n_maps++;
    *size = (size_t)st.st_size;
    return p;
}

void conv_model_free(conv_model *m) {
    for (size_t i = 0; i < m->n; i++) free(m->t[i].name);
    free(m->t);
    for (int i = 0; i < m->n_maps; i++) { octet_mapguard_remove(m->maps[i].p); munmap(m->maps[i].p, m->maps[i].n); }
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    for (size_t i = 0; i < m->n_wholes; i++) free(m->wholes[i].name);
    free(m->wholes);
    octet_meta_free(&m->meta);
    memset(m, 0, sizeof *m);
}

void conv_set_spm_vocab(conv_model *m, uint32_t n, const char *const *pieces, const uint32_t *lens, const float *scores, const int32_t *types) {
    octet_meta_cstr(&m->meta, "tokenizer.model", "spm");
    octet_meta_arr_str(&m->meta, "tokenizer.tokens", n, pieces, lens);
    octet_meta_arr_f32(&m->meta, "tokenizer.scores", n, scores);
    octet_meta_arr_i32(&m->meta, "tokenizer.token_type", n, types);
    octet_meta_i32(&m->meta, "tokenizer.unk_id", 0);
    octet_meta_i32(&m->meta, "tokenizer.bos_id", 1);
    octet_meta_i32(&m->meta, "tokenizer.eos_id", 2);
    octet_meta_bool(&m->meta, "tokenizer.add_bos", 1);
    octet_meta_bool(&m->meta, "tokenizer.add_space_prefix", 1);
}

void conv_set_chat_template(conv_model *m, const char *jinja, size_t len) {
    octet_meta_str(&m->meta, "tokenizer.chat_template", jinja, len);
    octet_meta_cstr(&m->meta, "tokenizer.chat_template_name", octet_chat_template_detect(jinja, len));
}
