// The HTTP request parser and the OpenAI endpoints, on a tiny real model (stories260K, a
// SentencePiece vocabulary) with the ChatML template: the input is what a client sends on one
// connection (any number of pipelined requests).
#include "fuzz_util.h"
#include "serve.h"
#include "octet.h"
#include "util.h"
#include <fcntl.h>
#include <sys/socket.h>

static serve_state sv;
static volatile sig_atomic_t never;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    octet_model *m = octet_load(fuzz_data("stories260K.q8.octet"));
    if (!m) { fprintf(stderr, "fuzz_http: %s (run tests/fuzz/seeds.sh)\n", octet_last_error()); exit(1); }
    static serve_slot slot;
    octet_session_params sp = {128, 16, 1, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    if (!(slot.s = octet_session_new(m, &sp))) exit(1);
    sv.m = m;
    snprintf(sv.model_id, sizeof sv.model_id, "tiny");
    sv.model_path = "tiny.octet";
    sv.api_key = NULL;
    sv.chat_template = "chatml";
    octet_sampler_defaults(&sv.defaults);
    sv.slots = &slot;
    sv.n_slots = 1;
    sv.n_ctx = 128;
    sv.stopping = &never;
    sv.max_body = 1 << 16;
    sv.n_predict = 6;
    sv.gen_timeout_s = 5;
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.slot_free, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) abort();
    int big = 1 << 21;
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    // The client's bytes, then its end of writing; the server's replies are drained as we go.
    for (size_t o = 0; o < size;) {
        ssize_t k = send(sp[1], data + o, size - o, MSG_NOSIGNAL);
        if (k <= 0) break;
        o += (size_t)k;
    }
    shutdown(sp[1], SHUT_WR);
    fcntl(sp[1], F_SETFL, O_NONBLOCK);
    static http_conn c;
    c.fd = sp[0]; c.len = 0; c.on_start = NULL; c.ud = NULL;
    char drain[65536];
    for (int keep = 1, i = 0; keep && i < 16; i++) {
        http_request r;
        int got = http_read_request(&c, &r, sv.max_body, 1, 1, &never);
        if (got == 0) break;
        if (got != 1) { serve_error(sp[0], got, "invalid_request_error", NULL, NULL, "bad request", 0); break; }
        keep = r.keep_alive;
        serve_handle(&sv, sp[0], &r, &keep);
        free(r.body);
        while (recv(sp[1], drain, sizeof drain, 0) > 0) {}
    }
    close(sp[0]);
    close(sp[1]);
    return 0;
}
