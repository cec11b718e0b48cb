// The flags run, chat and serve share: the model, the session (context, threads, batch,
// activations, KV cache, device) and sampling; and how they become a session and a sampler.
#ifndef OCTET_CMD_OPTIONS_H
#define OCTET_CMD_OPTIONS_H
#include "octet.h"

typedef struct {
    const char *model;
    long n_ctx, n_threads, n_batch, seed;
    long sessions;       // sessions that run at once, each with n_threads (serve --parallel; else 1)
    int act, kv_f16, device, batch_set;
    int use_mmap;        // --mmap: map the file (octet_load_mode) instead of reading it into memory (run's default)
    octet_sampler_params sp;
} cli_gen;

void cli_gen_defaults(cli_gen *g);
// Handles argv[*i] if it is one of these flags: 1 handled, 0 not one of them, -1 bad value
// (already reported).
int  cli_gen_flag(cli_gen *g, int argc, char **argv, int *i);
// The help lines for these flags.
void cli_gen_help(void);
void cli_warn_threads(long n_threads, long sessions);
// --chat-template NAME: *out = NAME when octet knows it; else prints an error and returns -1.
int  cli_chat_template(const char *v, const char **out);
// Loads the model (read into memory, or mapped with --mmap; warning on synthetic ones) and fills what depends on it or on the machine:
// context (the model's, at most 4096), threads (the physical cores / sessions, at most 8; a
// warning when more threads than CPUs were asked for), seed (the clock).
octet_model *cli_gen_load(cli_gen *g);
octet_session *cli_gen_session(const cli_gen *g, const octet_model *m);
#endif
