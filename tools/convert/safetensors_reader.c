#include "safetensors.h"
#include "json.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_F32, ST_F16, ST_BF16 };

static int load_st(const conv_model *m, const conv_tensor *t, float *out) {
    (void)m;
    uint64_t n = conv_tensor_numel(t);
    const uint8_t *p = t->src;
    if (t->src_type == ST_F32) { memcpy(out, p, n * 4); return 0; }
    for (uint64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = t->src_type == ST_F16 ? octet_f16_to_f32(h) : octet_bf16_to_f32(h);
    }
    return 0;
}

int safetensors_read(conv_model *m, const char *path,
                     int (*map_name)(const char *, char *, size_t, void *), void *ctx) {
    size_t size;
    const uint8_t *map = conv_map_file(m, path, &size);
    if (!map) return -1;
    uint64_t hlen;
    if (size < 8) { octet_set_error("%s: too small for a safetensors file", path); return -1; }
    memcpy(&hlen, map, 8);
    if (hlen < 2 || hlen > size - 8 || hlen > (100u << 20)) { octet_set_error("%s: header length %llu is impossible for a %zu-byte file", path, (unsigned long long)hlen, size); return -1; }
    char err[160];
    json *h = json_parse((const char *)map + 8, hlen, err, sizeof err);
    if (!h) { octet_set_error("%s: bad safetensors header: %s", path, err); return -1; }
    int rc = -1;
    if (h->type != JSON_OBJECT) { octet_set_error("%s: safetensors header is not a JSON object", path); goto out; }
    const uint8_t *data = map + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    for (size_t i = 0; i < h->len; i++) {
        const char *name = h->keys[i];
        const json *t = h->items[i];
        if (!strcmp(name, "__metadata__")) continue;
        const char *dt = json_str(t, "dtype");
        const json *shape = json_get(t, "shape"), *offs = json_get(t, "data_offsets");
        if (!dt || !shape || shape->type != JSON_ARRAY || !offs || offs->type != JSON_ARRAY || offs->len != 2) {
            octet_set_error("%s: tensor '%s' lacks dtype, shape or data_offsets", path, name); goto out;
        }
        int type = !strcmp(dt, "F32") ? ST_F32 : !strcmp(dt, "F16") ? ST_F16 : !strcmp(dt, "BF16") ? ST_BF16 : -1;
        if (shape->len < 1 || shape->len > 4) { octet_set_error("%s: tensor '%s' has %zu dims (1 to 4 supported)", path, name, shape->len); goto out; }
        uint64_t dims[4], numel = 1;
        for (size_t d = 0; d < shape->len; d++) {
            double v = shape->items[d]->type == JSON_NUMBER ? shape->items[d]->num : -1;
            if (v < 1 || v > (double)(1ull << 40) || v != (double)(uint64_t)v || !octet_mul_u64(numel, (uint64_t)v, &numel)) {
                octet_set_error("%s: tensor '%s' has a bad shape", path, name); goto out;
            }
            dims[d] = (uint64_t)v;
        }
        double b = offs->items[0]->num, e = offs->items[1]->num;
        if (offs->items[0]->type != JSON_NUMBER || offs->items[1]->type != JSON_NUMBER || b < 0 || e < b || e > (double)data_size) {
            octet_set_error("%s: tensor '%s' data_offsets lie outside the file (truncated?)", path, name); goto out;
        }
        char out_name[128];
        int mr = map_name(name, out_name, sizeof out_name, ctx);
        if (mr < 0) goto out;
        if (mr > 0) continue;
        if (type < 0) { octet_set_error("%s: tensor '%s' has dtype %s (F32, F16, BF16 supported)", path, name, dt); goto out; }
        uint64_t bytes = numel * (type == ST_F32 ? 4 : 2);
        if ((uint64_t)(e - b) != bytes) { octet_set_error("%s: tensor '%s' holds %.0f bytes but its shape needs %llu", path, name, e - b, (unsigned long long)bytes); goto out; }
        if (conv_find_tensor(m, out_name)) { octet_set_error("%s: tensor '%s' appears twice", path, out_name); goto out; }
        conv_tensor *ct = conv_add_tensor(m, out_name, (uint32_t)shape->len, dims);
        if (!ct) goto out;
        ct->src = data + (uint64_t)b;
        ct->src_type = (uint32_t)type;
        ct->load = load_st;
    }
    rc = 0;
out:
    json_free(h);
    return rc;
}
