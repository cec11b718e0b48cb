// Just enough HTTP/1.1 for the API server: requests with a Content-Length body (keep-alive and
// pipelining), limits on header and body size, timeouts, and responses written in full or as
// server-sent events. Sockets only; no library.
#ifndef OCTET_HTTP_H
#define OCTET_HTTP_H
#include <stddef.h>
#include <signal.h>

#define HTTP_HEADER_MAX 16384

typedef struct {
    char method[16], path[512], auth[512];
    int keep_alive;
    char *body;           // malloc'd, NUL-terminated
    size_t body_len;
} http_request;

typedef struct {
    int fd;
    char buf[HTTP_HEADER_MAX];  // bytes read past the previous request
    size_t len;
    void (*on_start)(void *ud); // called when a request's first byte is in (may be NULL)
    void *ud;
} http_conn;

// Reads the next request. Waits at most idle_s seconds for its first byte, then gives the whole
// request (headers and body) request_s seconds from that byte: a deadline that more bytes do
// not extend, so a client trickling a byte at a time is cut off. Returns 1 with *r filled (free
// r->body), 0 when the client closed the connection, stayed idle or *stop became set, or an HTTP
// status (400, 408, 411, 413, 431) for a request that must be refused (then close).
int  http_read_request(http_conn *c, http_request *r, size_t max_body, int idle_s, int request_s, volatile sig_atomic_t *stop);
// Writes all bytes; -1 when the peer is gone (never raises SIGPIPE).
int  http_write(int fd, const void *p, size_t n);
// A complete response with Content-Length.
int  http_respond(int fd, int status, const char *content_type, const char *body, size_t n, int keep_alive);
// Starts a text/event-stream response (the connection closes after it); then one event per call.
int  http_sse_start(int fd);
int  http_sse_event(int fd, const char *data, size_t n);
// True when the peer has closed its end (checked without blocking).
int  http_peer_gone(int fd);
const char *http_status_text(int status);
#endif
