// octet serve: an OpenAI-compatible HTTP server. One thread per connection (at most
// MAX_CONNECTIONS); --parallel N sessions ("slots"), each with its own KV cache, so N requests
// generate at once (on the CPU in shared forward steps: serve/batcher.c) and the rest wait for a
// free slot. SIGINT/SIGTERM stop accepting, end the
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
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

// Connections served at once; from one client address at most MAX_PER_CLIENT. When either limit
// is reached a new connection takes the place of an idle one (a keep-alive connection waiting
// for its next request), or of one that has been trickling in a request for over a second; only
// when every connection is busy generating is the newcomer refused. RESERVE more connections
// answer GET /health even then (and 503 to everything else), so a health check always gets in.
#define MAX_CONNECTIONS 64
#define MAX_PER_CLIENT 16
#define RESERVE 8

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static void help(void) {
    printf("usage: octet serve -m FILE [options]\n"
           "  --host ADDR          address to listen on (default 127.0.0.1)\n"
           "  --port N             port (default 8080; 0 picks a free one, printed on stderr)\n"
           "  --parallel N, -np N  requests generated at once, each with its own KV cache, in shared\n"
           "                       forward steps on the CPU (continuous batching; default 1)\n"
           "  --api-key KEY        require Authorization: Bearer KEY on /v1/* (default: none)\n"
           "  --chat-template NAME override the model's chat template (%s)\n"
           "  --max-body BYTES     largest request body accepted (default 1048576)\n"
           "  --timeout S          seconds a connection may stay idle, and the most a request may take to\n"
           "                       arrive in full, headers and body (default 30); also the send timeout\n"
           "  -n, --n-predict N    most tokens a reply may have, whatever the request asks (default -1: the context)\n"
           "  --gen-timeout S      a reply stops (finish_reason \"length\") after S seconds of generation (default 600)\n"
           "  -c N is the context of each slot; -t N the threads of the shared steps (default: the physical cores;\n"
           "  with --device cuda each slot's own); -b N the rows of one step (prompts are cut into chunks of it);\n"
           "  sampling flags set the defaults for requests that do not give them.\n"
           "  Limits: %d connections (%d per client address; idle ones make room for new ones), /health always answers.\n",
           octet_chat_template_names(), MAX_CONNECTIONS, MAX_PER_CLIENT);
    cli_gen_help();
}

enum { C_FREE, C_IDLE, C_READING, C_BUSY };
typedef struct {
    int state, fd, reserve;
    int evicted;             // shut down to make room; its slot frees when its thread leaves
    double since;            // when the state began
    unsigned char addr[16];  // the client's address (IPv4 as ::ffff:a.b.c.d)
} conn_slot;

typedef struct {
    serve_state *sv;
    int slot, timeout;
} conn_arg;

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_done = PTHREAD_COND_INITIALIZER;
static conn_slot conns[MAX_CONNECTIONS + RESERVE];
static int n_conn;

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_state(int slot, int state) {
    pthread_mutex_lock(&conn_lock);
    conns[slot].state = state;
    conns[slot].since = mono_s();
    pthread_mutex_unlock(&conn_lock);
}
static void on_request_start(void *ud) { set_state((int)(intptr_t)ud, C_READING); }

static void *connection(void *p) {
    conn_arg *a = p;
    int fd = conns[a->slot].fd, reserve = conns[a->slot].reserve;
    http_conn *c = malloc(sizeof *c);
    if (c) {
        c->fd = fd; c->len = 0; c->on_start = on_request_start; c->ud = (void *)(intptr_t)a->slot;
        for (int keep = 1; keep && !stopping;) {
            http_request r;
            set_state(a->slot, C_IDLE);
            // A reserve connection gets one quick request: /health, or a 503.
            int got = http_read_request(c, &r, reserve ? 0 : a->sv->max_body, reserve ? 2 : a->timeout, reserve ? 2 : a->timeout, &stopping);
            if (got == 0) break;
            set_state(a->slot, C_BUSY);
            if (got != 1) {
                char msg[160];
                snprintf(msg, sizeof msg, got == 413 ? "the request body is larger than %zu bytes" : got == 411 ? "send the body with a Content-Length (chunked bodies are not supported)"
                         : got == 431 ? "the request headers are larger than %zu bytes" : got == 408 ? "the request did not arrive in time" : "malformed HTTP request",
                         got == 413 ? a->sv->max_body : (size_t)HTTP_HEADER_MAX);
                if (reserve && got == 413) serve_error(fd, 503, "server_error", NULL, NULL, "too many connections; try again", 0);
                else serve_error(fd, got, "invalid_request_error", NULL, NULL, msg, 0);
                break;
            }
            keep = r.keep_alive && !reserve;
            if (reserve && strncmp(r.path, "/health", 7)) serve_error(fd, 503, "server_error", NULL, NULL, "too many connections; try again", 0);
            else serve_handle(a->sv, fd, &r, &keep);
            free(r.body);
        }
        free(c);
    }
    // The slot is freed before the descriptor is closed, so the acceptor never shuts down a
    // descriptor number that a new connection has already reused.
    pthread_mutex_lock(&conn_lock);
    conns[a->slot].state = C_FREE;
    n_conn--;
    pthread_cond_broadcast(&conn_done);
    pthread_mutex_unlock(&conn_lock);
    shutdown(fd, SHUT_RDWR);
    close(fd);
    free(a);
    return NULL;
}

// The connection that makes room: the longest-idle one, else the one longest trickling in its
// request (more than a second), among all or among one address's; -1 when every one is busy.
static int victim(const unsigned char *addr, double now) {
    int best = -1, best_reading = -1;
    for (int i = 0; i < MAX_CONNECTIONS + RESERVE; i++) {
        const conn_slot *c = &conns[i];
        if (c->state == C_FREE || c->reserve || (addr && memcmp(c->addr, addr, 16))) continue;
        if (c->state == C_IDLE && (best < 0 || c->since < conns[best].since)) best = i;
        if (c->state == C_READING && now - c->since > 1 && (best_reading < 0 || c->since < conns[best_reading].since)) best_reading = i;
    }
    return best >= 0 ? best : best_reading;
}

static void client_addr(const struct sockaddr_storage *ss, unsigned char out[16]) {
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET6) memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    else if (ss->ss_family == AF_INET) { out[10] = out[11] = 0xff; memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4); }
}

// Takes a table slot for a new connection from addr, evicting as the limits say (an evicted
// connection's slot frees when its thread leaves; the table has RESERVE spare slots meanwhile).
// A newcomer for which nothing can be evicted becomes a reserve connection. -1: refuse it.
static int admit(int fd, const unsigned char *addr) {
    pthread_mutex_lock(&conn_lock);
    double now = mono_s();
    int same, used, slot, leaving;
    // When every spare slot is held by an evicted connection still on its way out (a burst of
    // newcomers, a slow machine), wait for them: they leave at once, and refusing instead would
    // turn away /health too. The wait is bounded, as is everything the acceptor does.
    for (;;) {
        same = used = leaving = 0, slot = -1;
        for (int i = 0; i < MAX_CONNECTIONS + RESERVE; i++) {
            if (conns[i].state == C_FREE) { if (slot < 0) slot = i; continue; }
            leaving += conns[i].evicted;
            if (conns[i].reserve) continue;
            used++;
            same += !memcmp(conns[i].addr, addr, 16);
        }
        if (slot >= 0 || !leaving || mono_s() - now > 2) break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000;
        if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&conn_done, &conn_lock, &until);
    }
    now = mono_s();
    int reserve = 0;
    if (slot >= 0 && (same >= MAX_PER_CLIENT || used >= MAX_CONNECTIONS)) {
        int v = victim(same >= MAX_PER_CLIENT ? addr : NULL, now);
        if (v >= 0) {
            shutdown(conns[v].fd, SHUT_RDWR);  // its thread wakes, reads the end and leaves
            conns[v].reserve = 1;              // no longer counted, never chosen twice
            conns[v].evicted = 1;
        } else reserve = 1;
    }
    if (slot >= 0) {
        conns[slot] = (conn_slot){C_IDLE, fd, reserve, 0, now, {0}};
        memcpy(conns[slot].addr, addr, 16);
        n_conn++;
    }
    pthread_mutex_unlock(&conn_lock);
    return slot;
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
    long port = 8080, parallel = 1, max_body = 1 << 20, timeout = 30, n_predict = -1, gen_timeout = 600;
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
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (cli_int(a, v, -1, 1L << 30, &n_predict)) return 1; }
        else if (!strcmp(a, "--gen-timeout")) { VAL(); if (cli_int(a, v, 1, 1L << 20, &gen_timeout)) return 1; }
        else if (!strcmp(a, "--chat-template")) { VAL(); if (cli_chat_template(v, &tmpl)) return 1; }
        else return cli_fail("serve: unknown argument '%s' (octet serve --help)", a);
#undef VAL
    }
    if (!g.model) return cli_fail("serve: missing -m FILE");
    // On the CPU the slots share one pool (continuous batching): the threads are the machine's.
    g.sessions = g.device == OCTET_DEVICE_CPU ? 1 : parallel;
    octet_model *m = cli_gen_load(&g);
    if (!m) return 1;
    serve_state sv = {0};
    serve_batcher batcher;
    sv.m = m; sv.model_path = g.model; sv.api_key = api_key; sv.chat_template = tmpl; sv.defaults = g.sp;
    sv.n_ctx = (int)g.n_ctx; sv.created = (long)time(NULL); sv.stopping = &stopping; sv.max_body = (size_t)max_body;
    sv.n_predict = n_predict; sv.gen_timeout_s = (double)gen_timeout;
    const char *base = strrchr(g.model, '/');
    snprintf(sv.model_id, sizeof sv.model_id, "%s", base ? base + 1 : g.model);
    size_t idl = strlen(sv.model_id);
    if (idl > 6 && !strcmp(sv.model_id + idl - 6, ".octet")) sv.model_id[idl - 6] = 0;
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.slot_free, NULL);
    int rc = 1, lfd = -1;
    if (!(sv.slots = calloc((size_t)parallel, sizeof *sv.slots))) { cli_fail("out of memory"); goto done; }
    // CPU: slot 0's session runs every batched step (its threads, its batch of -b rows); the
    // other slots only hold their KV caches (1 thread, 1 row of buffers).
    for (sv.n_slots = 0; sv.n_slots < parallel; sv.n_slots++) {
        cli_gen one = g;
        if (sv.n_slots && g.device == OCTET_DEVICE_CPU) one.n_threads = one.n_batch = 1;
        if (!(sv.slots[sv.n_slots].s = cli_gen_session(&one, m))) goto done;
    }
    if (g.device == OCTET_DEVICE_CPU) {
        if (batcher_init(&batcher, sv.slots[0].s, (int)(g.n_batch < g.n_ctx ? g.n_batch : g.n_ctx)) != 0) { cli_fail("cannot start the batcher"); goto done; }
        sv.batcher = &batcher;
    }
    if ((lfd = listen_on(host, port)) < 0) goto done;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "octet serve: %s on http://%s:%d (%ld slot%s of %ld tokens, %ld thread%s %s)\n", sv.model_id, host, bound_port(lfd),
            parallel, parallel > 1 ? "s" : "", g.n_ctx, g.n_threads, g.n_threads > 1 ? "s" : "", sv.batcher ? "in shared batched steps" : "each");
    while (!stopping) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 250) <= 0) continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) continue;
        // A client that stops reading cannot hold a reply (and its slot) forever.
        struct timeval tv = {timeout, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        unsigned char addr[16];
        client_addr(&ss, addr);
        int slot = admit(fd, addr);
        if (slot < 0) { serve_error(fd, 503, "server_error", NULL, NULL, "too many connections; try again", 0); close(fd); continue; }
        conn_arg *a = malloc(sizeof *a);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        if (!a || (a->sv = &sv, a->slot = slot, a->timeout = (int)timeout, pthread_create(&t, &attr, connection, a) != 0)) {
            free(a);
            pthread_mutex_lock(&conn_lock);
            conns[slot].state = C_FREE;
            n_conn--;
            pthread_mutex_unlock(&conn_lock);
            close(fd);
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
    if (sv.batcher) {
        fprintf(stderr, "octet serve: %ld batched steps, %.1f rows each on average\n", batcher.steps, batcher.steps ? (double)batcher.rows / batcher.steps : 0.0);
        batcher_free(&batcher);
    }
    for (int i = 0; sv.slots && i < sv.n_slots; i++) octet_session_free(sv.slots[i].s);
    free(sv.slots);
    octet_free(m);
    return rc;
}
