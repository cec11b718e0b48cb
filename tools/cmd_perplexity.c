// octet perplexity: perplexity of a model on a text, over non-overlapping windows of -c tokens
// whose second half is scored (each scored token sees at least half a window of context, as
// llama.cpp does). With --ref, the same windows through a reference model (the f32 file) give
// the KL divergence of the two next-token distributions, top-1 agreement and the relative
// perplexity change: what quantization costs.
#include "cli.h"
#include "cmd_options.h"
#include "json.h"
#include "metrics.h"
#include "octet.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    printf("usage: octet perplexity -m FILE -f TEXT [options]\n"
           "  -c N           window (context) in tokens (default 512); the second half of each is scored\n"
           "  --chunks N     at most N windows (default: as many as the text holds)\n"
           "  --ref FILE     a reference model with the same vocabulary (e.g. the f32 file): adds KL\n"
           "                 divergence, top-1 agreement and the relative perplexity change\n"
           "  --json         one JSON object instead of the table\n"
           "  -b N           tokens per batch (default: the window)\n"
           "  -t N, --act MODE, --cache-type T, --device D, --mmap as for octet run\n");
}

typedef struct {
    octet_model *m;
    octet_session *s;
    float *logits;
    octet_stats nll;
} scored_model;

static void progress(int done, int total, double ppl) {
    if (!isatty(2)) return;
    int w = 30, k = total ? done * w / total : w;
    fprintf(stderr, "\r[%.*s%*s] %d/%d windows, perplexity %.4f", k, "==============================", w - k, "", done, total, ppl);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_perplexity(int argc, char **argv) {
    const char *file = NULL, *ref_path = NULL, *v;
    long chunks = -1;
    int json_out = 0, r;
    cli_gen g;
    cli_gen_defaults(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        if ((r = cli_gen_flag(&g, argc, argv, &i)) < 0) return 1;
        if (r) continue;
        if (!strcmp(a, "-f") || !strcmp(a, "--file")) { if (!(v = cli_value(argc, argv, &i))) return 1; file = v; }
        else if (!strcmp(a, "--ref")) { if (!(v = cli_value(argc, argv, &i))) return 1; ref_path = v; }
        else if (!strcmp(a, "--chunks")) { if (!(v = cli_value(argc, argv, &i)) || cli_int(a, v, 1, 1L << 30, &chunks)) return 1; }
        else if (!strcmp(a, "--json")) json_out = 1;
        else return cli_fail("perplexity: unknown argument '%s' (octet perplexity --help)", a);
    }
    if (!g.model) return cli_fail("perplexity: missing -m FILE");
    if (!file) return cli_fail("perplexity: missing -f TEXT");
    if (!g.n_ctx) g.n_ctx = 512;
    if (g.n_ctx < 8) return cli_fail("-c %ld: a window needs at least 8 tokens", g.n_ctx);
    // A window's logits are all kept anyway, so it runs as one batch unless -b says otherwise: the
    // prefill's register tiles then pack each weight panel once per window (wikitext-2, 6 windows of
    // 512 with --ref: 14.7 s at -b 64, 11.4 s at -b 512).
    if (!g.batch_set) g.n_batch = g.n_ctx;
    size_t len;
    char *text = octet_read_file(file, &len);
    if (!text) return cli_fail("-f %s", octet_last_error());
    if (len == 0) { free(text); return cli_fail("-f %s: the file is empty", file); }
    scored_model sm[2] = {{0}};
    int n_models = ref_path ? 2 : 1, rc = 1;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    double *scratch = NULL;
    octet_stats kl = {0};
    long agree = 0;
    const char *paths[2] = {g.model, ref_path};  // the model goes through cli_gen_load (threads, batch)
    for (int k = 0; k < n_models; k++) {
        if (!(sm[k].m = k ? octet_load_mode(paths[k], g.use_mmap ? OCTET_LOAD_MMAP : OCTET_LOAD_MEMORY) : cli_gen_load(&g))) { if (k) cli_fail("--ref %s", octet_last_error()); goto done; }
        if (g.n_ctx > octet_context_length(sm[k].m)) { cli_fail("-c %ld: larger than the context %s was trained for (%d)", g.n_ctx, paths[k], octet_context_length(sm[k].m)); goto done; }
    }
    int V = octet_vocab_size(sm[0].m);
    if (ref_path && octet_vocab_size(sm[1].m) != V) { cli_fail("--ref %s: its vocabulary has %d tokens, %s has %d", ref_path, octet_vocab_size(sm[1].m), g.model, V); goto done; }
    if (octet_tokenize_text(sm[0].m, text, len, -1, 0, &ids, &n_ids) != 0) { cli_fail("%s", octet_last_error()); goto done; }
    if (ref_path) {  // the same tokens must mean the same text to both models
        int32_t *rids = NULL;
        size_t rn = 0;
        int same = octet_tokenize_text(sm[1].m, text, len, -1, 0, &rids, &rn) == 0 && rn == n_ids && !memcmp(rids, ids, n_ids * sizeof *ids);
        free(rids);
        if (!same) { cli_fail("--ref %s: its tokenizer splits the text differently from %s's", ref_path, g.model); goto done; }
    }
    long n_chunks = (long)n_ids / g.n_ctx;
    if (n_chunks < 1) { cli_fail("-f %s: the text has %zu tokens; a window of %ld needs at least that many (lower -c)", file, n_ids, g.n_ctx); goto done; }
    if (chunks > 0 && chunks < n_chunks) n_chunks = chunks;
    for (int k = 0; k < n_models; k++) {
        if (!(sm[k].s = cli_gen_session(&g, sm[k].m))) goto done;
        if (!(sm[k].logits = malloc((size_t)g.n_ctx * (size_t)V * sizeof(float)))) { cli_fail("out of memory"); goto done; }
    }
    if (!(scratch = malloc(2 * (size_t)V * sizeof *scratch))) { cli_fail("out of memory"); goto done; }
    int32_t bos = octet_bos_added(sm[0].m);
    int n = (int)g.n_ctx, first = n / 2;
    double t0 = octet_time_ms();
    for (long c = 0; c < n_chunks; c++) {
        int32_t *w = ids + c * n;
        int32_t saved = w[0];
        if (bos >= 0) w[0] = bos;  // every window starts like a text does
        for (int k = 0; k < n_models; k++) {
            octet_session_reset(sm[k].s);
            if (octet_eval(sm[k].s, w, n, sm[k].logits, 1) != 0) { w[0] = saved; cli_fail("%s", octet_last_error()); goto done; }
        }
        w[0] = saved;
        for (int j = first; j < n - 1; j++) {
            for (int k = 0; k < n_models; k++)
                if (octet_stats_add(&sm[k].nll, octet_nll(sm[k].logits + (size_t)j * V, V, w[j + 1]))) { cli_fail("out of memory"); goto done; }
            if (ref_path) {
                const float *q = sm[0].logits + (size_t)j * V, *p = sm[1].logits + (size_t)j * V;
                if (octet_stats_add(&kl, octet_kl(p, q, V, scratch))) { cli_fail("out of memory"); goto done; }
                agree += octet_argmax(p, V) == octet_argmax(q, V);
            }
        }
        progress((int)c + 1, (int)n_chunks, exp(octet_stats_mean(&sm[0].nll)));
    }
    double secs = (octet_time_ms() - t0) / 1000;
    long scored = sm[0].nll.n;
    double ppl = exp(octet_stats_mean(&sm[0].nll)), ppl_err = ppl * octet_stats_stderr(&sm[0].nll);
    double rppl = 0, rppl_err = 0, dppl = 0, kl_mean = 0, kl_err = 0, kl_p99 = 0, top1 = 0;
    if (ref_path) {
        rppl = exp(octet_stats_mean(&sm[1].nll));
        rppl_err = rppl * octet_stats_stderr(&sm[1].nll);
        dppl = 100.0 * (ppl / rppl - 1);
        kl_mean = octet_stats_mean(&kl); kl_err = octet_stats_stderr(&kl); kl_p99 = octet_stats_percentile(&kl, 99);
        top1 = 100.0 * (double)agree / (double)scored;
    }
    if (json_out) {
        octet_str o = {0};
        octet_str_addz(&o, "{\"model\":");
        json_write_string(&o, g.model, strlen(g.model));
        octet_str_addz(&o, ",\"text\":");
        json_write_string(&o, file, strlen(file));
        octet_str_fmt(&o, ",\"ctx\":%ld,\"windows\":%ld,\"tokens_scored\":%ld,\"perplexity\":%.6f,\"perplexity_err\":%.6f,\"mean_nll\":%.8f,\"seconds\":%.2f",
                      g.n_ctx, n_chunks, scored, ppl, ppl_err, octet_stats_mean(&sm[0].nll), secs);
        if (ref_path) {
            octet_str_addz(&o, ",\"ref\":{\"model\":");
            json_write_string(&o, ref_path, strlen(ref_path));
            octet_str_fmt(&o, ",\"perplexity\":%.6f,\"perplexity_err\":%.6f,\"perplexity_change_pct\":%.4f,\"kl_mean\":%.8f,\"kl_mean_err\":%.8f,\"kl_p99\":%.8f,\"top1_agreement_pct\":%.3f}",
                          rppl, rppl_err, dppl, kl_mean, kl_err, kl_p99, top1);
        }
        octet_str_addz(&o, "}\n");
        fputs(o.p ? o.p : "", stdout);
        octet_str_free(&o);
    } else {
        printf("| model | ctx | windows | tokens scored | perplexity |\n|---|---|---|---|---|\n");
        printf("| %s | %ld | %ld | %ld | %.4f ± %.4f |\n", g.model, g.n_ctx, n_chunks, scored, ppl, ppl_err);
        if (ref_path) {
            printf("| %s (ref) | %ld | %ld | %ld | %.4f ± %.4f |\n\n", ref_path, g.n_ctx, n_chunks, scored, rppl, rppl_err);
            printf("| vs ref | perplexity change | mean KL | 99th pct KL | top-1 agreement |\n|---|---|---|---|---|\n");
            printf("| %s | %+.3f%% | %.6f ± %.6f | %.6f | %.2f%% |\n", g.model, dppl, kl_mean, kl_err, kl_p99, top1);
        }
        fprintf(stderr, "octet: %ld windows of %ld tokens in %.1f s\n", n_chunks, g.n_ctx, secs);
    }
    rc = 0;
done:
    for (int k = 0; k < 2; k++) {
        octet_session_free(sm[k].s);
        octet_free(sm[k].m);
        free(sm[k].logits);
        octet_stats_free(&sm[k].nll);
    }
    octet_stats_free(&kl);
    free(scratch); free(ids); free(text);
    return rc;
}
