// octet info: what a model file holds, and what this CPU would run it with.
#include "cli.h"
#include "cpu_features.h"
#include "kernels.h"
#include "octet_file.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#ifdef OCTET_CUDA
#include "octet_cuda.h"
#endif
#include <string.h>

static void help(void) { printf("usage: octet info -m FILE [--verify] [--no-tensors]\n"); }

static void print_str(const octet_file *f, const char *label, const char *key, const char *def) {
    uint64_t n;
    const char *s = octet_kv_str(f, key, &n);
    if (s) printf("%-15s %.*s\n", label, (int)(n > 200 ? 200 : n), s);
    else if (def) printf("%-15s %s\n", label, def);
}

static void shape_str(const octet_tensor *t, char *buf, size_t cap) {
    size_t n = 0;
    for (uint32_t d = 0; d < t->n_dims; d++) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%llu", d ? " x " : "", (unsigned long long)t->dims[d]);
}

// One indented line per name of a string array.
static void print_names(const octet_kv *kv) {
    if (!kv->count || kv->count > 4096) return;
    const char **p = malloc(kv->count * sizeof *p);
    uint32_t *l = malloc(kv->count * sizeof *l);
    if (p && l && octet_kv_str_array(kv, p, l) == 0)
        for (uint64_t i = 0; i < kv->count; i++) printf("%-15s %.*s\n", "", (int)l[i], p[i]);
    free(p); free(l);
}

// The converter's calibration summary (quant.* keys); returns the per-tensor sensitivities
// (one f32 per tensor, unaligned) when the file has them.
static const float *print_calibration(const octet_file *f) {
    uint64_t n;
    const char *text = octet_kv_str(f, "quant.calib_text", &n);
    if (!text) return NULL;
    printf("%-15s %.*s, %u tokens, SmoothQuant alpha %g\n", "calibration", (int)n, text, octet_kv_u32(f, "quant.calib_tokens", 0),
           (double)octet_kv_f32(f, "quant.smooth_alpha", 0));
    const octet_kv *kept = octet_file_kv(f, "quant.kept_f16"), *sens = octet_file_kv(f, "quant.sensitivity");
    if (!kept || kept->arr_type != OCTET_KV_STR) return NULL;
    printf("%-15s %llu tensors kept in f16 by sensitivity (KL over %u tokens); estimated KL of the rest %.6f\n", "mixed precision",
           (unsigned long long)kept->count, octet_kv_u32(f, "quant.sensitivity_tokens", 0), (double)octet_kv_f32(f, "quant.estimated_kl", 0));
    print_names(kept);
    const octet_kv *act = octet_file_kv(f, "quant.f32_act");
    if (act) {
        printf("%-15s %llu int8 tensors run with f32 activations (largest measured KL drop)\n", "f32 activations", (unsigned long long)act->count);
        print_names(act);
    }
    return sens && sens->type == OCTET_KV_ARR && sens->arr_type == OCTET_KV_F32 && sens->count == f->n_tensors ? (const float *)sens->val : NULL;
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int verify = 0, tensors = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { help(); return 0; }
        else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) { if (!(model = cli_value(argc, argv, &i))) return 1; }
        else if (!strcmp(argv[i], "--verify")) verify = 1;
        else if (!strcmp(argv[i], "--no-tensors")) tensors = 0;
        else return cli_fail("info: unknown argument '%s'", argv[i]);
    }
    if (!model) return cli_fail("info: missing -m FILE");
    octet_file f;
    if (octet_file_open(&f, model) != 0) return cli_fail("%s", octet_last_error());

    printf("%-15s %s (%llu bytes, .octet v%u)\n", "file", model, (unsigned long long)f.size, f.version);
    print_str(&f, "name", "general.name", NULL);
    if (octet_kv_bool(&f, "general.synthetic", 0)) printf("%-15s %s\n", "synthetic", "yes: random weights of a real shape, for speed tests only");
    print_str(&f, "architecture", "model.arch", "none");
    print_str(&f, "file type", "general.file_type", "?");
    uint32_t dim = octet_kv_u32(&f, "model.dim", 0), heads = octet_kv_u32(&f, "model.n_heads", 0);
    if (dim) {
        printf("%-15s dim %u, layers %u, heads %u, kv heads %u, head dim %u, ffn %u, context %u\n", "dimensions", dim,
               octet_kv_u32(&f, "model.n_layers", 0), heads, octet_kv_u32(&f, "model.n_kv_heads", heads),
               heads ? dim / heads : 0, octet_kv_u32(&f, "model.hidden_dim", 0), octet_kv_u32(&f, "model.context_length", 0));
        uint64_t n;
        const char *style = octet_kv_str(&f, "model.rope_style", &n), *sc = NULL;
        uint64_t scn = 0;
        sc = octet_kv_str(&f, "model.rope_scaling_type", &scn);
        printf("%-15s %.*s, theta %g, dims %u", "rope", style ? (int)n : 1, style ? style : "?",
               (double)octet_kv_f32(&f, "model.rope_theta", 10000), octet_kv_u32(&f, "model.rope_dim", heads ? dim / heads : 0));
        if (sc) printf(", scaling %.*s x%g", (int)scn, sc, (double)octet_kv_f32(&f, "model.rope_scaling_factor", 1));
        printf("\n%-15s %g\n", "norm eps", (double)octet_kv_f32(&f, "model.norm_eps", 1e-5f));
        printf("%-15s %s\n", "embeddings", octet_kv_bool(&f, "model.tied_embeddings", 0) ? "tied (output = token_embd)" : "separate output");
    }
    const octet_kv *tok = octet_file_kv(&f, "tokenizer.tokens");
    if (tok) {
        uint64_t n, pn = 0;
        const char *kind = octet_kv_str(&f, "tokenizer.model", &n), *pre = octet_kv_str(&f, "tokenizer.pre", &pn);
        printf("%-15s %llu tokens, %.*s", "vocabulary", (unsigned long long)tok->count, kind ? (int)n : 1, kind ? kind : "?");
        if (pre && kind && n == 3 && !memcmp(kind, "bpe", 3)) printf(" (pre-tokenizer %.*s)", (int)pn, pre);
        printf(", bos %d, eos %d, add bos %s\n", octet_kv_i32(&f, "tokenizer.bos_id", -1), octet_kv_i32(&f, "tokenizer.eos_id", -1),
               octet_kv_bool(&f, "tokenizer.add_bos", 0) ? "yes" : "no");
    } else printf("%-15s none\n", "vocabulary");
    print_str(&f, "chat template", "tokenizer.chat_template_name", "none");
    print_str(&f, "converter", "converter.version", "?");
    print_str(&f, "source", "converter.source", NULL);
    print_str(&f, "quantization", "converter.quantization", NULL);
    const float *sens = print_calibration(&f);
    const octet_kv *asym = octet_file_kv(&f, "quant.asym_act");
    uint64_t aq = 0;
    const char *actq = octet_kv_str(&f, "quant.act_quant", &aq);
    if (actq && aq == 4 && !memcmp(actq, "asym", 4)) printf("%-15s int8, asymmetric (scale and offset per 32 inputs) for every matrix\n", "activations");
    else if (asym) printf("%-15s int8, asymmetric for %llu matrices (quant.asym_act, marked below), symmetric for the rest\n", "activations", (unsigned long long)asym->count);

    uint64_t params = 0, bytes = 0, by_type[OCTET_DTYPE_COUNT] = {0};
    if (tensors && f.n_tensors) printf("\n%-34s %-6s %-16s %12s%s\n", "tensor", "dtype", "shape", "bytes", sens ? "   KL alone" : "");
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const octet_tensor *t = &f.tensors[i];
        char shape[96];
        shape_str(t, shape, sizeof shape);
        if (tensors) {
            printf("%-34s %-6s %-16s %12llu", t->name, octet_dtype_name(t->dtype), shape, (unsigned long long)t->nbytes);
            float v;
            if (sens) memcpy(&v, sens + i, 4);
            if (sens && v >= 0) printf("   %.6f", (double)v);
            printf("%s\n", t->act_f32 ? "   f32 activations" : t->act_asym ? "   asymmetric activations" : "");
        }
        params += t->rows * t->cols;
        bytes += t->nbytes;
        by_type[t->dtype] += t->nbytes;
    }
    printf("\n%-15s %llu tensors, %.2fM parameters, %.2f MiB", "total", (unsigned long long)f.n_tensors, params / 1e6, bytes / 1048576.0);
    if (params) printf(", %.2f bits per weight", 8.0 * bytes / params);
    printf("\n");
    for (int d = 0; d < OCTET_DTYPE_COUNT; d++)
        if (by_type[d]) printf("%-15s %.2f MiB in %s\n", "", by_type[d] / 1048576.0, octet_dtype_name(d));

    octet_cpu_features cf;
    char feats[256];
    octet_cpu_detect(&cf);
    octet_cpu_features_string(&cf, feats, sizeof feats);
    printf("%-15s %s\n%-15s %s\n", "cpu features", feats, "kernels", octet_kernels()->name);
#ifdef OCTET_CUDA
    char gpu[256];
    octet_cuda_describe(gpu, sizeof gpu);
    printf("%-15s %s\n", "gpu", gpu);
#endif
    int rc = 0;
    if (verify) {
        if (octet_file_verify(&f) == 0) printf("%-15s checksum ok (%016llx)\n", "verify", (unsigned long long)f.checksum);
        else rc = cli_fail("%s", octet_last_error());
    }
    octet_file_close(&f);
    return rc;
}
