// octet serve: the shared state of the HTTP server (cmd_serve.c: sockets, threads, slots) and
// the OpenAI-compatible endpoints (serve_api.c).
#ifndef OCTET_SERVE_H
#define OCTET_SERVE_H
#include "batcher.h"
#include "http.h"
#include "octet.h"
#include <pthread.h>

typedef struct {
    octet_session *s;
    int busy;
} serve_slot;

typedef struct {
    const octet_model *m;
    char model_id[256];
    const char *model_path, *api_key, *chat_template;
    octet_sampler_params defaults;
    serve_slot *slots;
    int n_slots, n_ctx;
    long created;
    volatile sig_atomic_t *stopping;
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    unsigned long next_id;
    size_t max_body;
    long n_predict;        // the most tokens of any reply (-1: up to the context)
    double gen_timeout_s;  // the most seconds of generation of any reply
    serve_batcher *batcher;  // CPU: every slot's evaluations in shared steps; NULL: each slot alone (GPU)
} serve_state;

// Serves one request on fd; *keep_alive is cleared when the connection must close.
void serve_handle(serve_state *sv, int fd, const http_request *r, int *keep_alive);
// Sends an OpenAI-style error object with this status.
void serve_error(int fd, int status, const char *type, const char *code, const char *param, const char *msg, int keep_alive);
#endif
