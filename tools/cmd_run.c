// octet run: generate text from a prompt, streamed to stdout, timings on stderr.
#include "cli.h"
#include "generate.h"
#include "octet.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void help(void) {
    printf("usage: octet run -m FILE (-p TEXT | -f FILE) [options]\n"
           "  -n N               tokens to generate (default -1: until an end token or the context is full)\n"
           "  -c N               context size in tokens (default: the model's, at most 4096)\n"
           "  -t N               threads (default: the CPU count, at most 8)\n"
           "  -b N               prompt batch size (default 64)\n"
           "  -s SEED            random seed (default: from the clock, printed on stderr)\n"
           "  --temp T           temperature, 0 = greedy (default 0.8)\n"
           "  --top-k K          (default 40, 0 = off)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
           "  --repeat-penalty R (default 1.0, off)      --repeat-last-n N (default 64)\n"
           "  --presence-penalty P, --frequency-penalty P (default 0)\n"
           "  --no-bos           do not add BOS even if the model asks for it\n"
           "  --no-special       treat control-token text in the prompt (<|im_start|>) as plain text\n"
           "  --act MODE         int8 (default: int8 activations, one scale per 32 inputs), int8-row (one\n"
           "                     scale per token), f32 (weight-only INT8: f32 activations)\n"
           "  --cache-type T     KV cache in f32 (default) or f16 (half the memory)\n"
           "  --device D         cpu (default) or cuda (the whole model on the GPU; needs make CUDA=1)\n"
           "  -ngl N             llama.cpp's GPU layers: N > 0 means --device cuda (all layers), 0 the CPU\n"
           "  --json             print one JSON object (text, token ids, counts, timings) instead of streaming\n");
}

typedef struct { int json; char *buf; size_t len, cap; } run_out;

static int on_token(void *ud, int32_t id, const char *text, size_t n) {
    (void)id;
    run_out *o = ud;
    if (!o->json) { fwrite(text, 1, n, stdout); fflush(stdout); return 0; }
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *b = realloc(o->buf, cap);
        if (!b) return 1;
        o->buf = b; o->cap = cap;
    }
    memcpy(o->buf + o->len, text, n);
    o->len += n;
    return 0;
}

static void json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c == '\r') printf("\\r");
        else if (c == '\t') printf("\\t");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *v;
    long n_predict = -1, n_ctx = 0, n_threads = 0, n_batch = 64, seed = -1, top_k = 40, last_n = 64;
    double temp = 0.8, top_p = 0.95, min_p = 0.05, rep = 1.0, pres = 0, freq = 0;
    int no_bos = 0, special = 1, json = 0, act = OCTET_ACT_INT8, kv_f16 = 0, device = OCTET_DEVICE_CPU, batch_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
#define VAL() if (!(v = cli_value(argc, argv, &i))) return 1
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VAL(); prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VAL(); file = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (cli_int(a, v, -1, 1L << 30, &n_predict)) return 1; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VAL(); if (cli_int(a, v, 1, 1L << 24, &n_ctx)) return 1; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (cli_int(a, v, 1, 256, &n_threads)) return 1; }
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) { VAL(); if (cli_int(a, v, 1, 4096, &n_batch)) return 1; batch_set = 1; }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { VAL(); if (cli_int(a, v, -1, 0x7fffffffL, &seed)) return 1; }
        else if (!strcmp(a, "--temp")) { VAL(); if (cli_float(a, v, 0, 100, &temp)) return 1; }
        else if (!strcmp(a, "--top-k")) { VAL(); if (cli_int(a, v, 0, 1L << 24, &top_k)) return 1; }
        else if (!strcmp(a, "--top-p")) { VAL(); if (cli_float(a, v, 0, 1, &top_p)) return 1; }
        else if (!strcmp(a, "--min-p")) { VAL(); if (cli_float(a, v, 0, 1, &min_p)) return 1; }
        else if (!strcmp(a, "--repeat-penalty")) { VAL(); if (cli_float(a, v, 0.01, 100, &rep)) return 1; }
        else if (!strcmp(a, "--repeat-last-n")) { VAL(); if (cli_int(a, v, 0, 1L << 20, &last_n)) return 1; }
        else if (!strcmp(a, "--presence-penalty")) { VAL(); if (cli_float(a, v, -100, 100, &pres)) return 1; }
        else if (!strcmp(a, "--frequency-penalty")) { VAL(); if (cli_float(a, v, -100, 100, &freq)) return 1; }
        else if (!strcmp(a, "--act")) { VAL(); if ((act = octet_act_mode(v)) < 0) return cli_fail("--act: unknown mode '%s' (int8, int8-row, f32)", v); }
        else if (!strcmp(a, "--cache-type")) {
            VAL();
            if (strcmp(v, "f32") && strcmp(v, "f16")) return cli_fail("--cache-type: '%s' is not f32 or f16", v);
            kv_f16 = !strcmp(v, "f16");
        }
        else if (!strcmp(a, "--device")) { VAL(); if (cli_device(v, &device)) return 1; }
        else if (!strcmp(a, "-ngl") || !strcmp(a, "--n-gpu-layers")) { long ngl; VAL(); if (cli_int(a, v, 0, 1L << 20, &ngl)) return 1; device = ngl > 0 ? OCTET_DEVICE_CUDA : OCTET_DEVICE_CPU; }
        else if (!strcmp(a, "--no-bos")) no_bos = 1;
        else if (!strcmp(a, "--no-special")) special = 0;
        else if (!strcmp(a, "--json")) json = 1;
        else return cli_fail("run: unknown argument '%s' (octet run --help)", a);
#undef VAL
    }
    if (!model) return cli_fail("run: missing -m FILE");
    if (!!prompt + !!file != 1) return cli_fail("run: give exactly one of -p TEXT or -f FILE");
    size_t plen;
    char *ptext = file ? octet_read_file(file, &plen) : strdup(prompt);
    if (!ptext) return cli_fail("-f %s", octet_last_error());
    if (!file) plen = strlen(ptext);
    if (!n_threads) { long nc = sysconf(_SC_NPROCESSORS_ONLN); n_threads = nc < 1 ? 1 : nc > 8 ? 8 : nc; }
    if (seed < 0) seed = (long)(time(NULL) & 0x7fffffff);

    octet_model *m = octet_load(model);
    if (!m) { free(ptext); return cli_fail("%s", octet_last_error()); }
    if (octet_model_is_synthetic(m)) fprintf(stderr, "octet: warning: %s has random weights (a speed-test model); its text means nothing\n", model);
    if (!n_ctx) n_ctx = octet_context_length(m) < 4096 ? octet_context_length(m) : 4096;
    int32_t *ids = NULL, *gen = NULL;
    size_t n_ids = 0;
    octet_session *s = NULL;
    octet_sampler smp = {0};
    run_out out = {json, NULL, 0, 0};
    int rc = 1;
    if (octet_tokenize_text(m, ptext, plen, no_bos ? 0 : -1, special, &ids, &n_ids) != 0) { cli_fail("%s", octet_last_error()); goto done; }
    if ((long)n_ids > n_ctx) { cli_fail("the prompt has %zu tokens but the context holds %ld (raise -c)", n_ids, n_ctx); goto done; }
    if (device == OCTET_DEVICE_CUDA && !batch_set) n_batch = 512;  // the GPU wants wide prompt batches
    octet_session_params sp = {(int)n_ctx, (int)n_batch, (int)n_threads, act, kv_f16, device};
    if (!(s = octet_session_new(m, &sp))) { cli_fail("%s", octet_last_error()); goto done; }
    octet_sampler_params p;
    octet_sampler_defaults(&p);
    p.temp = (float)temp; p.top_k = (int)top_k; p.top_p = (float)top_p; p.min_p = (float)min_p;
    p.repeat_penalty = (float)rep; p.repeat_last_n = (int)last_n; p.presence_penalty = (float)pres; p.frequency_penalty = (float)freq;
    p.seed = (uint64_t)seed;
    gen = malloc((size_t)n_ctx * sizeof *gen);
    if (!gen || octet_sampler_init(&smp, &p, octet_vocab_size(m)) != 0) { cli_fail("out of memory"); goto done; }
    octet_gen_stats st;
    if (octet_generate(s, m, &smp, ids, (int)n_ids, (int)n_predict, on_token, &out, gen, &st) != 0) { if (!json) printf("\n"); cli_fail("%s", octet_last_error()); goto done; }
    double pt = st.prompt_ms > 0 ? st.n_prompt * 1000.0 / st.prompt_ms : 0, gt = st.gen_ms > 0 ? st.n_gen * 1000.0 / st.gen_ms : 0;
    if (json) {
        printf("{\"text\":");
        json_string(out.buf ? out.buf : "", out.len);
        printf(",\"prompt_tokens\":%d,\"generated_tokens\":%d,\"stop\":\"%s\",\"seed\":%ld,\"tokens\":[", st.n_prompt, st.n_gen, st.stop, seed);
        for (int i = 0; i < st.n_gen; i++) printf(i ? ",%d" : "%d", gen[i]);
        printf("],\"timings\":{\"load_ms\":%.2f,\"prompt_ms\":%.2f,\"prompt_tok_s\":%.2f,\"gen_ms\":%.2f,\"gen_tok_s\":%.2f}}\n",
               octet_load_ms(m), st.prompt_ms, pt, st.gen_ms, gt);
    } else printf("\n");
    char where[32];
    if (device == OCTET_DEVICE_CUDA) snprintf(where, sizeof where, "cuda");
    else snprintf(where, sizeof where, "%ld threads", n_threads);
    fprintf(stderr, "octet: load %.1f ms | prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s | %s, seed %ld, stop: %s\n",
            octet_load_ms(m), st.n_prompt, pt, st.n_gen, gt, where, seed, st.stop);
    rc = 0;
done:
    free(ids); free(gen); free(out.buf); free(ptext);
    octet_sampler_free(&smp);
    octet_session_free(s);
    octet_free(m);
    return rc;
}
