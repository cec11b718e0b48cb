// octet run: generate text from a prompt, streamed to stdout, timings on stderr.
#include "cli.h"
#include "cmd_options.h"
#include "json.h"
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
           "  -n N               tokens to generate (default -1: until an end token or the context is full)\n");
    cli_gen_help();
    printf("  --no-bos           do not add BOS even if the model asks for it\n"
           "  --no-special       treat control-token text in the prompt (<|im_start|>) as plain text\n"
           "  --json             print one JSON object (text, token ids, counts, timings) instead of streaming\n");
}

typedef struct { int json; octet_str text; } run_out;

static int on_token(void *ud, int32_t id, const char *text, size_t n) {
    (void)id;
    run_out *o = ud;
    if (!o->json) { fwrite(text, 1, n, stdout); fflush(stdout); return 0; }
    octet_str_add(&o->text, text, n);
    return o->text.oom;
}

int cmd_run(int argc, char **argv) {
    const char *prompt = NULL, *file = NULL, *v;
    long n_predict = -1;
    int no_bos = 0, special = 1, json = 0, r;
    cli_gen g;
    cli_gen_defaults(&g);
    g.use_mmap = 1;   // one-shot: no load time (the pages load during the prompt); --no-mmap for the faster decode
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        if ((r = cli_gen_flag(&g, argc, argv, &i)) < 0) return 1;
        if (r) continue;
#define VAL() if (!(v = cli_value(argc, argv, &i))) return 1
        if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VAL(); prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VAL(); file = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (cli_int(a, v, -1, 1L << 30, &n_predict)) return 1; }
        else if (!strcmp(a, "--no-bos")) no_bos = 1;
        else if (!strcmp(a, "--no-special")) special = 0;
        else if (!strcmp(a, "--json")) json = 1;
        else return cli_fail("run: unknown argument '%s' (octet run --help)", a);
#undef VAL
    }
    if (!g.model) return cli_fail("run: missing -m FILE");
    if (!!prompt + !!file != 1) return cli_fail("run: give exactly one of -p TEXT or -f FILE");
    size_t plen;
    char *ptext = file ? octet_read_file(file, &plen) : strdup(prompt);
    if (!ptext) return cli_fail("-f %s", octet_last_error());
    if (!file) plen = strlen(ptext);
    octet_model *m = cli_gen_load(&g);
    if (!m) { free(ptext); return 1; }
    long n_ctx = g.n_ctx, seed = g.seed;
    int32_t *ids = NULL, *gen = NULL;
    size_t n_ids = 0;
    octet_session *s = NULL;
    octet_sampler smp = {0};
    run_out out = {json, {0}};
    int rc = 1;
    if (octet_tokenize_text(m, ptext, plen, no_bos ? 0 : -1, special, &ids, &n_ids) != 0) { cli_fail("%s", octet_last_error()); goto done; }
    if ((long)n_ids > n_ctx) { cli_fail("the prompt has %zu tokens but the context holds %ld (raise -c)", n_ids, n_ctx); goto done; }
    if (!(s = cli_gen_session(&g, m))) goto done;
    gen = malloc((size_t)n_ctx * sizeof *gen);
    if (!gen || octet_sampler_init(&smp, &g.sp, octet_vocab_size(m)) != 0) { cli_fail("out of memory"); goto done; }
    octet_gen_stats st;
    if (octet_generate(s, m, &smp, ids, (int)n_ids, (int)n_predict, on_token, &out, gen, &st) != 0) { if (!json) printf("\n"); cli_fail("%s", octet_last_error()); goto done; }
    double pt = st.prompt_ms > 0 ? st.n_prompt * 1000.0 / st.prompt_ms : 0, gt = st.gen_ms > 0 ? st.n_gen * 1000.0 / st.gen_ms : 0;
    if (json) {
        octet_str js = {0};
        json_write_string(&js, out.text.p ? out.text.p : "", out.text.len);
        printf("{\"text\":%s", js.p);
        octet_str_free(&js);
        printf(",\"prompt_tokens\":%d,\"generated_tokens\":%d,\"stop\":\"%s\",\"seed\":%ld,\"tokens\":[", st.n_prompt, st.n_gen, st.stop, seed);
        for (int i = 0; i < st.n_gen; i++) printf(i ? ",%d" : "%d", gen[i]);
        printf("],\"timings\":{\"load_ms\":%.2f,\"prompt_ms\":%.2f,\"prompt_tok_s\":%.2f,\"gen_ms\":%.2f,\"gen_tok_s\":%.2f}}\n",
               octet_load_ms(m), st.prompt_ms, pt, st.gen_ms, gt);
    } else printf("\n");
    char where[32];
    if (g.device == OCTET_DEVICE_CUDA) snprintf(where, sizeof where, "cuda");
    else snprintf(where, sizeof where, "%ld threads", g.n_threads);
    fprintf(stderr, "octet: load %.1f ms | prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s | %s, seed %ld, stop: %s\n",
            octet_load_ms(m), st.n_prompt, pt, st.n_gen, gt, where, seed, st.stop);
    rc = 0;
done:
    free(ids); free(gen); octet_str_free(&out.text); free(ptext);
    octet_sampler_free(&smp);
    octet_session_free(s);
    octet_free(m);
    return rc;
}
