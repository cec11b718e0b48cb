#include "cmd_options.h"
#include "cli.h"
#include "threadpool.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_gen_defaults(cli_gen *g) {
    memset(g, 0, sizeof *g);
    g->n_batch = 512; g->seed = -1; g->act = OCTET_ACT_INT8; g->device = OCTET_DEVICE_CPU;
    octet_sampler_defaults(&g->sp);
}

void cli_warn_threads(long n_threads, long sessions) {
    int cpus = octet_cpu_count();
    if (n_threads * sessions > cpus)
        fprintf(stderr, "octet: warning: %ld threads%s on %d CPUs: threads will share cores and run slower than with -t %d\n", n_threads * sessions,
                sessions > 1 ? " in all" : "", cpus, cpus / (int)sessions > 0 ? cpus / (int)sessions : 1);
}

int cli_chat_template(const char *v, const char **out) {
    if (!octet_chat_template_known(v)) { cli_fail("--chat-template: unknown template '%s' (known: %s)", v, octet_chat_template_names()); return -1; }
    *out = v;
    return 0;
}

void cli_gen_help(void) {
    printf("  -c N               context size in tokens (default: the model's, at most 4096)\n"
           "  -t N               threads (default: the physical core count, at most 8)\n"
           "  -b N               prompt batch size (default 512)\n"
           "  -s SEED            random seed (default: from the clock, printed on stderr)\n"
           "  --temp T           temperature, 0 = greedy (default 0.8)\n"
           "  --top-k K          (default 40, 0 = off)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
           "  --repeat-penalty R (default 1.0, off)      --repeat-last-n N (default 64)\n"
           "  --presence-penalty P, --frequency-penalty P (default 0)\n"
           "  --act MODE         int8 (default: int8 activations, one scale per 32 inputs; asymmetric when\n"
           "                     the file was converted with --act-quant asym), int8-sym, int8-asym (scale\n"
           "                     and offset per 32 inputs, CPU), int8-row (one scale per token),\n"
           "                     f32 (weight-only INT8: f32 activations)\n"
           "  --cache-type T     KV cache in f32 (default) or f16 (half the memory)\n"
           "  --device D         cpu (default) or cuda (the whole model on the GPU; needs make CUDA=1)\n"
           "  -ngl N             llama.cpp's GPU layers: N > 0 means --device cuda (all layers), 0 the CPU\n"
           "  --mmap             map the model file (run's default): no load time, pages shared with other\n"
           "                     processes, but decode runs slower on 4 KiB pages\n"
           "  --no-mmap          read the model into memory, on huge pages where the kernel allows (the\n"
           "                     default of chat, serve and perplexity): faster decode after a longer load\n");
}

int cli_gen_flag(cli_gen *g, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    double d;
    long l;
    octet_sampler_params *p = &g->sp;
#define VAL() if (!(v = cli_value(argc, argv, i))) return -1
#define INT(lo, hi, dst) do { VAL(); if (cli_int(a, v, lo, hi, &l)) return -1; dst = l; } while (0)
#define FLT(lo, hi, dst) do { VAL(); if (cli_float(a, v, lo, hi, &d)) return -1; dst = (float)d; } while (0)
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); g->model = v; }
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) INT(1, 1L << 24, g->n_ctx);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) INT(1, 256, g->n_threads);
    else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) { INT(1, 4096, g->n_batch); g->batch_set = 1; }
    else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) INT(-1, 0x7fffffffL, g->seed);
    else if (!strcmp(a, "--temp")) FLT(0, 100, p->temp);
    else if (!strcmp(a, "--top-k")) INT(0, 1L << 24, p->top_k);
    else if (!strcmp(a, "--top-p")) FLT(0, 1, p->top_p);
    else if (!strcmp(a, "--min-p")) FLT(0, 1, p->min_p);
    else if (!strcmp(a, "--repeat-penalty")) FLT(0.01, 100, p->repeat_penalty);
    else if (!strcmp(a, "--repeat-last-n")) INT(0, 1L << 20, p->repeat_last_n);
    else if (!strcmp(a, "--presence-penalty")) FLT(-100, 100, p->presence_penalty);
    else if (!strcmp(a, "--frequency-penalty")) FLT(-100, 100, p->frequency_penalty);
    else if (!strcmp(a, "--act")) { VAL(); if ((g->act = octet_act_mode(v)) < 0) { cli_fail("--act: unknown mode '%s' (int8, int8-sym, int8-asym, int8-row, f32)", v); return -1; } }
    else if (!strcmp(a, "--cache-type")) {
        VAL();
        if (strcmp(v, "f32") && strcmp(v, "f16")) { cli_fail("--cache-type: '%s' is not f32 or f16", v); return -1; }
        g->kv_f16 = !strcmp(v, "f16");
    }
    else if (!strcmp(a, "--device")) { VAL(); if (cli_device(v, &g->device)) return -1; }
    else if (!strcmp(a, "--mmap")) g->use_mmap = 1;
    else if (!strcmp(a, "--no-mmap")) g->use_mmap = 0;
    else if (!strcmp(a, "-ngl") || !strcmp(a, "--n-gpu-layers")) { VAL(); if (cli_int(a, v, 0, 1L << 20, &l)) return -1; g->device = l > 0 ? OCTET_DEVICE_CUDA : OCTET_DEVICE_CPU; }
    else return 0;
#undef VAL
#undef INT
#undef FLT
    return 1;
}

octet_model *cli_gen_load(cli_gen *g) {
    long sessions = g->sessions > 0 ? g->sessions : 1;
    if (!g->n_threads) { long nc = octet_core_count() / sessions; g->n_threads = nc < 1 ? 1 : nc > 8 ? 8 : nc; }
    else cli_warn_threads(g->n_threads, sessions);
    if (g->seed < 0) g->seed = (long)(time(NULL) & 0x7fffffff);
    g->sp.seed = (uint64_t)g->seed;
    octet_model *m = octet_load_mode(g->model, g->use_mmap ? OCTET_LOAD_MMAP : OCTET_LOAD_MEMORY);
    if (!m) { cli_fail("%s", octet_last_error()); return NULL; }
    if (octet_model_is_synthetic(m)) fprintf(stderr, "octet: warning: %s has random weights (a speed-test model); its text means nothing\n", g->model);
    if (g->device == OCTET_DEVICE_CUDA && g->act == OCTET_ACT_INT8 && octet_act_resolve(m, OCTET_ACT_INT8) != OCTET_ACT_INT8_SYM)
        fprintf(stderr, "octet: warning: %s was converted for asymmetric int8 activations (in some or all matrices); --device cuda quantizes them "
                        "symmetrically, as --act int8-sym\n", g->model);
    if (!g->n_ctx) g->n_ctx = octet_context_length(m) < 4096 ? octet_context_length(m) : 4096;
    return m;
}

octet_session *cli_gen_session(const cli_gen *g, const octet_model *m) {
    octet_session_params sp = {(int)g->n_ctx, (int)g->n_batch, (int)g->n_threads, g->act, g->kv_f16, g->device};
    octet_session *s = octet_session_new(m, &sp);
    if (!s) cli_fail("%s", octet_last_error());
    return s;
}
