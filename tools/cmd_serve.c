// octet serve: an OpenAI-compatible HTTP server. One thread per connection (at most
// MAX_CONNECTIONS); --parallel N sessions ("slots"), each with its own KV cache, so N requests
// generate at once and the rest wait for a free slot. SIGINT/SIGTERM stop accepting, end the
// running generations and exit once every connection is closed.
#include "cli.h"
#include "cmd_options.h"
#include "serve.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static void help(void) {
    printf("usage: octet serve -m FILE [options]\n"
           "  --host ADDR          address to listen on (default 127.0.0.1)\n"
           "  --port N             port (default 8080; 0 picks a free one, printed on stderr)\n"
           "  --parallel N, -np N  requests generated at once, each with its own KV cache (default 1)\n"
           "  --api-key KEY        require Authorization: Bearer KEY on /v1/* (default: none)\n"
           "  --chat-template NAME override the model's chat template (%s)\n"
           "  --max-body BYTES     largest request body accepted (default 1048576)\n"
           "  --timeout S          seconds an idle or stalled connection is kept (default 30)\n"
           "  -c N is the context of each slot; -t N the threads of each slot (default: physical cores / parallel);\n"
           "  sampling flags set the defaults for requests that do not give them.\n",
           octet_chat_template_names());
    cli_gen_help();
}

typedef struct {
    serve_state *sv;
    int fd, timeout;
} conn_arg;

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_done = PTHREAD_COND_INITIALIZER;
static int n_conn;

static void *connection(void *p) {
    conn_arg *a = p;
    http_conn *c = malloc(sizeof *c);
    if (c) {
        c->fd = a->fd; c->len = 0;
        for (int keep = 1; keep && !stopping;) {
            http_request r;
            int got = http_read_request(c, &r, a->sv->max_body, a->timeout, &stopping);
            if (got == 0) break;
            if (got != 1) {
                char msg[160];
                snprintf(msg, sizeof msg, got == 413 ? "the request body is larger than %zu bytes" : got == 411 ? "send the body with a Content-Length (chunked bodies are not supported)"
                         : got == 431 ? "the request headers are larger than %zu bytes" : got == 408 ? "the request did not arrive in time" : "malformed HTTP request",
                         got == 413 ? a->sv->max_body : (size_t)HTTP_HEADER_MAX);
                serve_error(a->fd, got, "invalid_request_error", NULL, NULL, msg, 0);
                break;
            }
            keep = r.keep_alive;
            serve_handle(a->sv, a->fd, &r, &keep);
            free(r.body);
        }
        free(c);
    }
    shutdown(a->fd, SHUT_RDWR);
    close(a->fd);
    free(a);
    pthread_mutex_lock(&conn_lock);
    n_conn--;
    pthread_cond_broadcast(&conn_done);
    pthread_mutex_unlock(&conn_lock);
    return NULL;
}

static int listen_on(const char *host, long port) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%ld", port);
    int e = getaddrinfo(host, ps, &hints, &res);
    if (e) { cli_fail("--host %s: %s", host, gai_strerror(e)); return -1; }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            int err = errno;
            close(fd);
            fd = -1;
            errno = err;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) cli_fail("--host %s --port %ld: cannot listen: %s", host, port, strerror(errno));
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t n = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &n) != 0) return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

int cmd_serve(int argc, char **argv) {
    const char *host = "127.0.0.1", *api_key = NULL, *tmpl = NULL, *v;
    long port = 8080, parallel = 1, max_body = 1 << 20, timeout = 30;
    int r;
    cli_gen g;
    cli_gen_defaults(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        if ((r = cli_gen_flag(&g, argc, argv, &i)) < 0) return 1;
        if (r) continue;
#define VAL() if (!(v = cli_value(argc, argv, &i))) return 1
        if (!strcmp(a, "--host")) { VAL(); host = v; }
        else if (!strcmp(a, "--port")) { VAL(); if (cli_int(a, v, 0, 65535, &port)) return 1; }
        else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) { VAL(); if (cli_int(a, v, 1, 64, &parallel)) return 1; }
        else if (!strcmp(a, "--api-key")) { VAL(); if (!*v) return cli_fail("--api-key: the key is empty"); api_key = v; }
        else if (!strcmp(a, "--max-body")) { VAL(); if (cli_int(a, v, 1024, 1L << 30, &max_body)) return 1; }
        else if (!strcmp(a, "--timeout")) { VAL(); if (cli_int(a, v, 1, 3600, &timeout)) return 1; }
        else if (!strcmp(a, "--chat-template")) {
            VAL();
            if (!octet_chat_template_known(v)) return cli_fail("--chat-template: unknown template '%s' (known: %s)", v, octet_chat_template_names());
            tmpl = v;
        }
        else return cli_fail("serve: unknown argument '%s' (octet serve --help)", a);
#undef VAL
    }
    if (!g.model) return cli_fail("serve: missing -m FILE");
    g.sessions = parallel;
    octet_model *m = cli_gen_load(&g);
    if (!m) return 1;
    serve_state sv = {0};
    sv.m = m; sv.model_path = g.model; sv.api_key = api_key; sv.chat_template = tmpl; sv.defaults = g.sp;
    sv.n_ctx = (int)g.n_ctx; sv.created = (long)time(NULL); sv.stopping = &stopping; sv.max_body = (size_t)max_body;
    const char *base = strrchr(g.model, '/');
    snprintf(sv.model_id, sizeof sv.model_id, "%s", base ? base + 1 : g.model);
    size_t idl = strlen(sv.model_id);
    if (idl > 6 && !strcmp(sv.model_id + idl - 6, ".octet")) sv.model_id[idl - 6] = 0;
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.slot_free, NULL);
    int rc = 1, lfd = -1;
    if (!(sv.slots = calloc((size_t)parallel, sizeof *sv.slots))) { cli_fail("out of memory"); goto done; }
    for (sv.n_slots = 0; sv.n_slots < parallel; sv.n_slots++)
        if (!(sv.slots[sv.n_slots].s = cli_gen_session(&g, m))) goto done;
    if ((lfd = listen_on(host, port)) < 0) goto done;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "octet serve: %s on http://%s:%d (%ld slot%s of %ld tokens, %ld thread%s each)\n", sv.model_id, host, bound_port(lfd),
            parallel, parallel > 1 ? "s" : "", g.n_ctx, g.n_threads, g.n_threads > 1 ? "s" : "");
    while (!stopping) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 250) <= 0) continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&conn_lock);
        int full = n_conn >= MAX_CONNECTIONS;
        if (!full) n_conn++;
        pthread_mutex_unlock(&conn_lock);
        if (full) { serve_error(fd, 503, "server_error", NULL, NULL, "too many connections; try again", 0); close(fd); continue; }
        conn_arg *a = malloc(sizeof *a);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (!a || (a->sv = &sv, a->fd = fd, a->timeout = (int)timeout, pthread_create(&t, &attr, connection, a) != 0)) {
            free(a);
            close(fd);
            pthread_mutex_lock(&conn_lock);
            n_conn--;
            pthread_mutex_unlock(&conn_lock);
        }
        pthread_attr_destroy(&attr);
    }
    fprintf(stderr, "octet serve: shutting down\n");
    close(lfd);
    lfd = -1;
    // Running generations see `stopping` at their next token; waiting ones give up.
    pthread_mutex_lock(&conn_lock);
    while (n_conn > 0) pthread_cond_wait(&conn_done, &conn_lock);
    pthread_mutex_unlock(&conn_lock);
    rc = 0;
done:
    if (lfd >= 0) close(lfd);
    for (int i = 0; sv.slots && i < sv.n_slots; i++) octet_session_free(sv.slots[i].s);
    free(sv.slots);
    octet_free(m);
    return rc;
}
