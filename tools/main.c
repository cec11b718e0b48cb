// octet: one binary, one subcommand per file in tools/.
#include "cli.h"
#include "octet.h"
#include "util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int cli_fail(const char *fmt, ...) {
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++) if (*p == '\n') *p = ' ';
    fprintf(stderr, "octet: %s\n", buf);
    return 1;
}

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) { cli_fail("flag %s needs a value", argv[*i]); return NULL; }
    return argv[++*i];
}

// Strict number parsing: the whole argument must be a number in range.
int cli_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || e == v || *e || x < lo || x > hi) { cli_fail("%s: '%s' is not a whole number in %ld..%ld", flag, v, lo, hi); return -1; }
    *out = x;
    return 0;
}
int cli_float(const char *flag, const char *v, double lo, double hi, double *out) {
    char *e;
    errno = 0;
    double x = strtod(v, &e);
    if (errno || e == v || *e || !(x >= lo && x <= hi)) { cli_fail("%s: '%s' is not a number in %g..%g", flag, v, lo, hi); return -1; }
    *out = x;
    return 0;
}

int cli_device(const char *v, int *device) {
    if (!strcmp(v, "cpu")) *device = OCTET_DEVICE_CPU;
    else if (!strcmp(v, "cuda") || !strcmp(v, "gpu")) *device = OCTET_DEVICE_CUDA;
    else { cli_fail("--device: unknown device '%s' (cpu, cuda)", v); return -1; }
    return 0;
}

static const struct { const char *name; int (*fn)(int, char **); const char *help; } cmds[] = {
    {"convert", cmd_convert, "convert a GGUF file, Hugging Face directory or llama2.c checkpoint to .octet"},
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with a chat model in the terminal (or one turn per line of stdin)"},
    {"serve", cmd_serve, "serve an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions)"},
    {"perplexity", cmd_perplexity, "perplexity of a model on a text; with --ref, KL divergence and top-1 agreement vs another"},
    {"batch", cmd_batch, "generate for every line of a JSONL job file, many lines together (resumable)"},
    {"bench", cmd_bench, "measure prompt (pp) and generation (tg) speed, llama-bench style"},
    {"info", cmd_info, "show a model's hyperparameters, tensors and the CPU kernels that would run"},
    {"tokenize", cmd_tokenize, "tokenize text with a model's tokenizer"},
};

static void usage(FILE *fp) {
    fprintf(fp, "usage: octet COMMAND [options]   (octet COMMAND --help for its options)\n\ncommands:\n");
    for (unsigned i = 0; i < sizeof cmds / sizeof *cmds; i++) fprintf(fp, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv) {
    octet_guard_mappings();
    if (argc < 2) { usage(stderr); return 1; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    for (unsigned i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    return cli_fail("unknown command '%s' (try: octet --help)", argv[1]);
}
