// The model description's numbers, mutated as numbers rather than bytes: a tiny valid .octet file
// of each family (seeds.sh: gemma3, gemma2, phi3, qwen3, mistral from tests/fixtures/arch) has each
// scalar value and array element of its metadata edited by the input, then the file is loaded
// and run (fuzz_run_model). Bytes-level fuzzing rarely turns a whole u32 into 2^31 with the rest
// intact; this does it in one step (issue 35: a window of 2^31 crashed the forward pass).
// Input: a byte picking the base file, then records of 7 bytes: slot (2, little-endian; top bit:
// among the model.* keys only), operation (1), value (4).
#include "fuzz_util.h"
#include "fuzz_model.h"
#include "octet_file.h"
#include "util.h"
#include <float.h>
#include <math.h>

static const char *const BASES[] = {"hp-gemma3.octet", "hp-gemma2.octet", "hp-phi3.octet", "hp-qwen3.octet", "hp-mistral.octet"};
#define N_BASES (sizeof BASES / sizeof *BASES)
#define MAX_SLOTS 4096

// A place to edit: a scalar value or one array element (type: its element type), and its key.
typedef struct { size_t at, key_at, type_at; uint32_t type; } slot;
typedef struct { uint8_t *bytes; size_t n; slot slots[MAX_SLOTS]; int n_slots, n_model; } base;

static const uint32_t U32S[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 4095, 4096, 65535, 65536, 65537,
                                1u << 20, (1u << 20) + 1, 1u << 24, 1u << 30, (1u << 30) + 1, 0x7fffffffu, 0x80000000u, 3000000000u,
                                0xfffffffeu, 0xffffffffu};
static const float F32S[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-30f, 1e-6f, 1e6f, 999999.0f, 1e30f, 1e38f, FLT_MAX, INFINITY, -INFINITY,
                             NAN, 1e-45f, 100.0f, 0.99f, 1.0001f, 10000.0f, 32.0f};

// Finds every u32/i32/f32/bool value and array element (the first 64 of each array) of the file:
// the model.* keys' first (slots 0 .. n_model - 1), then the rest (the tokenizer's).
static int load_base(base *b, const char *path) {
    b->bytes = (uint8_t *)octet_read_file(path, &b->n);
    if (!b->bytes) return -1;
    octet_file f;
    if (octet_file_open(&f, path) != 0) return -1;
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < f.n_kv && b->n_slots < MAX_SLOTS; i++) {
            const octet_kv *kv = &f.kv[i];
            if ((strncmp(kv->key, "model.", 6) == 0) != (pass == 0)) continue;
            size_t val = (size_t)(kv->val - f.map), key, type_at;
            // The record: key length, key, type, [element type, count,] value.
            type_at = kv->type == OCTET_KV_ARR ? val - 16 : kv->type == OCTET_KV_STR ? val - 12 : val - 4;
            key = type_at - strlen(kv->key);
            uint32_t t = kv->type == OCTET_KV_ARR ? kv->arr_type : kv->type;
            if (t == OCTET_KV_STR || t == OCTET_KV_U64) continue;
            uint64_t count = kv->type == OCTET_KV_ARR ? (kv->count < 64 ? kv->count : 64) : 1;
            size_t esz = t == OCTET_KV_BOOL ? 1 : 4;
            for (uint64_t e = 0; e < count && b->n_slots < MAX_SLOTS; e++) b->slots[b->n_slots++] = (slot){val + e * esz, key, type_at, t};
        }
        if (pass == 0) b->n_model = b->n_slots;
    }
    octet_file_close(&f);
    if (!b->n_model) return -1;
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_f32(uint8_t *p, float v) { memcpy(p, &v, 4); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static base bases[N_BASES];
    static int ready = -1;
    if (ready < 0) {
        ready = 1;
        for (unsigned i = 0; i < N_BASES; i++)
            if (load_base(&bases[i], fuzz_data(BASES[i])) != 0) { fprintf(stderr, "fuzz_hparams: cannot read %s (run make fuzz-build)\n", fuzz_data(BASES[i])); abort(); }
    }
    if (size < 1) return 0;
    base *b = &bases[data[0] % N_BASES];
    uint8_t *f = malloc(b->n);
    if (!f) return 0;
    memcpy(f, b->bytes, b->n);
    for (size_t r = 1; r + 7 <= size; r += 7) {
        // A slot index with its top bit set picks among the model.* keys' slots.
        unsigned k = data[r] | (data[r + 1] & 0x7f) << 8;
        const slot *s = &b->slots[data[r + 1] & 0x80 ? k % b->n_model : k % b->n_slots];
        uint8_t op = data[r + 2] % 6;
        const uint8_t *v = data + r + 3;
        uint8_t *p = f + s->at;
        if (s->type == OCTET_KV_BOOL) { *p = v[0] & 1; continue; }
        uint32_t u;
        float x;
        memcpy(&u, p, 4);
        memcpy(&x, p, 4);
        switch (op) {
        case 0: memcpy(p, v, 4); break;   // any bits
        case 1:                           // an edge value of the slot's type
            if (s->type == OCTET_KV_F32) put_f32(p, F32S[v[0] % (sizeof F32S / sizeof *F32S)]);
            else put_u32(p, U32S[v[0] % (sizeof U32S / sizeof *U32S)]);
            break;
        case 2:                           // a step from the current value
            if (s->type == OCTET_KV_F32) put_f32(p, x * ldexpf(1.0f, (int8_t)v[0] / 8));
            else put_u32(p, u + (uint32_t)(int32_t)(int8_t)v[0]);
            break;
        case 3: f[s->key_at] ^= 0x20; break;   // the key renamed: as if it were missing
        case 4:                                 // the same bits under the other 4-byte type (scalars only)
            if (s->type_at + 4 == s->at) put_u32(f + s->type_at, s->type == OCTET_KV_F32 ? OCTET_KV_U32 : OCTET_KV_F32);
            break;
        case 5: memcpy(p, f + b->slots[(v[0] | v[1] << 8) % b->n_slots].at, 4); break;   // another slot's value
        }
    }
    char path[64];
    int fd = fuzz_memfd(f, b->n, path);
    fuzz_run_model(path, OCTET_LOAD_MMAP);
    close(fd);
    free(f);
    return 0;
}
