// octet chat: a conversation in the terminal. The conversation stays in the KV cache; each turn
// evaluates only the tokens its prompt does not share with the cache. Without a terminal on
// stdin every line is one user turn, so scripts and tests can drive it.
#include "chat_conv.h"
#include "cli.h"
#include "cmd_options.h"
#include "generate.h"
#include "octet.h"
#include "util.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    printf("usage: octet chat -m FILE [options]\n"
           "  -sys, --system TEXT    system prompt\n"
           "  --chat-template NAME   override the model's template (%s)\n"
           "  -n N                   most tokens per reply (default -1: until the end of the turn)\n"
           "  --verbose              print prompt and generation speed after each reply\n",
           octet_chat_template_names());
    cli_gen_help();
    printf("In the conversation: /reset, /system TEXT, /save FILE, /load FILE, /exit; a line ending in\n"
           "a backslash continues on the next line; Ctrl-C stops a reply, a second Ctrl-C or Ctrl-D quits.\n");
}

static volatile sig_atomic_t interrupted, generating, quit;
static void on_sigint(int sig) {
    (void)sig;
    if (generating && !interrupted) interrupted = 1;
    else quit = 1;
}

// Reads one user input: lines ending in a backslash continue. Returns NULL at end of input
// or on an interrupt.
static char *read_input(int tty) {
    octet_str in = {0};
    char line[4096];
    for (;;) {
        if (tty) { printf(in.len ? ". " : "> "); fflush(stdout); }
        errno = 0;
        if (!fgets(line, sizeof line, stdin)) {
            if (errno == EINTR && !quit) { clearerr(stdin); printf("\n"); octet_str_free(&in); continue; }
            octet_str_free(&in);
            return NULL;
        }
        size_t n = strlen(line);
        int full = n && line[n - 1] == '\n';
        if (full) line[--n] = 0;
        if (n && line[n - 1] == '\r') line[--n] = 0;
        if (full && n && line[n - 1] == '\\') { line[n - 1] = '\n'; octet_str_add(&in, line, n); continue; }
        octet_str_add(&in, line, n);
        if (full || feof(stdin)) break;
    }
    if (in.oom) { octet_str_free(&in); return NULL; }
    return in.p ? in.p : strdup("");
}

typedef struct { octet_str reply; } turn_out;
static int on_token(void *ud, int32_t id, const char *text, size_t n) {
    (void)id;
    turn_out *t = ud;
    fwrite(text, 1, n, stdout);
    fflush(stdout);
    octet_str_add(&t->reply, text, n);
    return interrupted || quit;
}

typedef struct {
    const octet_model *m;
    octet_session *s;
    const cli_gen *g;
    const char *tmpl;
    long n_predict;
    int verbose, turn;
} chat_state;

// Renders and tokenizes the conversation, dropping the oldest turns (not the system prompt)
// while the prompt and room for a reply do not fit the context.
static int build_prompt(chat_state *cs, conversation *c, int32_t **ids, size_t *n) {
    int ctx = octet_session_n_ctx(cs->s), room = cs->n_predict > 0 ? (int)cs->n_predict : ctx / 4 < 256 ? ctx / 4 : 256, dropped = 0;
    for (;;) {
        if (octet_chat_prompt(cs->m, cs->tmpl, c->msg, c->n, 1, NULL, ids, n) != 0) return -1;
        if ((long)*n + room <= ctx) break;
        int first = c->n && !strcmp(c->msg[0].role, "system") ? 1 : 0;
        if (c->n - first <= 1) {  // only the new user turn is left
            if ((long)*n < ctx) break;
            free(*ids); *ids = NULL;
            octet_set_error("this message has %zu tokens but the context holds %d (raise -c)", *n, ctx);
            return -1;
        }
        free(*ids); *ids = NULL;
        int k = c->n - first >= 2 && !strcmp(c->msg[first].role, "user") && !strcmp(c->msg[first + 1].role, "assistant") ? 2 : 1;
        conv_drop(c, first, k);
        dropped += k;
    }
    if (dropped) fprintf(stderr, "octet: the context is full: dropped the %d oldest message%s (the system prompt stays)\n", dropped, dropped > 1 ? "s" : "");
    return 0;
}

static int reply(chat_state *cs, conversation *c) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (build_prompt(cs, c, &ids, &n) != 0) { fprintf(stderr, "octet: %s\n", octet_last_error()); conv_drop(c, c->n - 1, 1); return 0; }
    int keep = octet_session_reuse(cs->s, ids, (int)n);
    octet_sampler_params sp = cs->g->sp;
    sp.seed += (uint64_t)cs->turn++;  // each turn its own stream; same seed, same conversation
    octet_sampler smp;
    if (octet_sampler_init(&smp, &sp, octet_vocab_size(cs->m)) != 0) { free(ids); fprintf(stderr, "octet: out of memory\n"); return -1; }
    for (int i = 0; i < keep; i++) octet_sampler_accept(&smp, ids[i]);
    turn_out t = {{0}};
    octet_gen_stats st;
    interrupted = 0;
    generating = 1;
    int rc = octet_generate(cs->s, cs->m, &smp, ids + keep, (int)n - keep, (int)cs->n_predict, on_token, &t, NULL, &st);
    generating = 0;
    printf("\n");
    fflush(stdout);
    octet_sampler_free(&smp);
    free(ids);
    if (rc != 0) { fprintf(stderr, "octet: %s\n", octet_last_error()); octet_str_free(&t.reply); return -1; }
    // Even a stopped reply stays in the conversation, as it was shown.
    conv_add(c, "assistant", t.reply.p ? t.reply.p : "", t.reply.len);
    octet_str_free(&t.reply);
    if (!strcmp(st.stop, "context")) fprintf(stderr, "octet: the reply filled the context; the oldest turns will be dropped\n");
    if (cs->verbose)
        fprintf(stderr, "octet: prompt %d new tokens (%d reused), %.1f tok/s | reply %d tokens, %.1f tok/s | stop: %s\n", st.n_prompt, keep,
                st.prompt_ms > 0 ? st.n_prompt * 1000.0 / st.prompt_ms : 0, st.n_gen, st.gen_ms > 0 ? st.n_gen * 1000.0 / st.gen_ms : 0,
                interrupted ? "interrupted" : st.stop);
    return 0;
}

// A /command; returns 1 to quit.
static int command(chat_state *cs, conversation *c, const char *line) {
    const char *arg = strchr(line, ' ');
    size_t k = arg ? (size_t)(arg - line) : strlen(line);
    while (arg && *arg == ' ') arg++;
#define IS(name) (k == strlen(name) && !strncmp(line, name, k))
    if (IS("/exit") || IS("/quit")) return 1;
    if (IS("/reset")) { conv_clear(c, 1); octet_session_reset(cs->s); fprintf(stderr, "octet: conversation cleared\n"); }
    else if (IS("/system")) { conv_set_system(c, arg ? arg : ""); fprintf(stderr, arg && *arg ? "octet: system prompt set\n" : "octet: system prompt removed\n"); }
    else if (IS("/save") || IS("/load")) {
        if (!arg || !*arg) fprintf(stderr, "octet: %.*s needs a FILE\n", (int)k, line);
        else if (IS("/save") ? conv_save(c, arg) == 0 : conv_load(c, arg) == 0)
            fprintf(stderr, "octet: %s %d messages %s %s\n", IS("/save") ? "saved" : "loaded", c->n, IS("/save") ? "to" : "from", arg);
    }
    else if (IS("/help")) fprintf(stderr, "/reset, /system TEXT, /save FILE, /load FILE, /exit; end a line with \\ to continue it\n");
    else fprintf(stderr, "octet: unknown command '%.*s' (/help)\n", (int)k, line);
#undef IS
    return 0;
}

int cmd_chat(int argc, char **argv) {
    const char *system = NULL, *tmpl = NULL, *v;
    long n_predict = -1;
    int verbose = 0, r;
    cli_gen g;
    cli_gen_defaults(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        if ((r = cli_gen_flag(&g, argc, argv, &i)) < 0) return 1;
        if (r) continue;
        if (!strcmp(a, "-sys") || !strcmp(a, "--system")) { if (!(v = cli_value(argc, argv, &i))) return 1; system = v; }
        else if (!strcmp(a, "--chat-template")) { if (!(v = cli_value(argc, argv, &i)) || cli_chat_template(v, &tmpl)) return 1; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { if (!(v = cli_value(argc, argv, &i)) || cli_int(a, v, -1, 1L << 30, &n_predict)) return 1; }
        else if (!strcmp(a, "--verbose")) verbose = 1;
        else return cli_fail("chat: unknown argument '%s' (octet chat --help)", a);
    }
    if (!g.model) return cli_fail("chat: missing -m FILE");
    octet_model *m = cli_gen_load(&g);
    if (!m) return 1;
    if (!tmpl && !strcmp(octet_chat_template_name(m), "unknown")) {
        octet_free(m);
        return cli_fail("%s: has no chat template octet knows; pick one with --chat-template (%s)", g.model, octet_chat_template_names());
    }
    octet_session *s = cli_gen_session(&g, m);
    if (!s) { octet_free(m); return 1; }
    int tty = isatty(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;  // no SA_RESTART: a Ctrl-C at the prompt interrupts the read
    sigaction(SIGINT, &sa, NULL);
    if (tty) fprintf(stderr, "octet chat: %s (%s template, %ld-token context). /help for commands, Ctrl-C stops a reply, Ctrl-D quits.\n",
                     g.model, tmpl ? tmpl : octet_chat_template_name(m), g.n_ctx);
    conversation c = {0};
    if (system && *system) conv_add(&c, "system", system, strlen(system));
    chat_state cs = {m, s, &g, tmpl, n_predict, verbose, 0};
    int rc = 0;
    while (!quit) {
        char *line = read_input(tty);
        if (!line) break;
        if (line[0] == '/') { int stop = command(&cs, &c, line); free(line); if (stop) break; continue; }
        if (!line[0]) { free(line); continue; }
        int bad = conv_add(&c, "user", line, strlen(line));
        free(line);
        if (bad || reply(&cs, &c) != 0) { rc = 1; break; }
    }
    if (tty) printf("\n");
    conv_clear(&c, 0);
    free(c.msg);
    octet_session_free(s);
    octet_free(m);
    return rc;
}
