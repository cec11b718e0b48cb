#define _GNU_SOURCE  // POLLRDHUP
#include "http.h"
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *http_status_text(int s) {
    switch (s) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

// Waits for readable data in 250 ms steps; 1 readable, 0 past the deadline or stop.
static int wait_readable(int fd, double deadline, volatile sig_atomic_t *stop) {
    while (!(stop && *stop)) {
        struct pollfd p = {fd, POLLIN, 0};
        int k = poll(&p, 1, 250);
        if (k > 0) return 1;
        if (k < 0 && errno != EINTR) return 0;
        if (now_s() >= deadline) return 0;
    }
    return 0;
}

// Fills c->buf until it holds a blank line; returns the header length (through the blank
// line), 0 for closed/idle, or -status. *deadline becomes the request's once it has started.
static long read_head(http_conn *c, int idle_s, int request_s, double *deadline, volatile sig_atomic_t *stop) {
    double start = now_s();
    *deadline = c->len ? start + request_s : start + idle_s;
    if (c->len && c->on_start) c->on_start(c->ud);  // a pipelined request is already here
    for (;;) {
        for (size_t i = 3; i < c->len; i++)
            if (!memcmp(c->buf + i - 3, "\r\n\r\n", 4)) return (long)i + 1;
        if (c->len == sizeof c->buf) return -431;
        if (!wait_readable(c->fd, *deadline, stop)) return c->len ? -408 : 0;
        ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (k == 0) return 0;
        if (k < 0) { if (errno == EINTR || errno == EAGAIN) continue; return 0; }
        if (!c->len) {  // the first byte: from now on the request's own deadline
            *deadline = now_s() + request_s;
            if (c->on_start) c->on_start(c->ud);
        }
        c->len += (size_t)k;
    }
}

static int header_is(const char *line, size_t n, const char *name, const char **value) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) || line[k] != ':') return 0;
    const char *v = line + k + 1;
    while (*v == ' ' || *v == '\t') v++;
    *value = v;
    return 1;
}

int http_read_request(http_conn *c, http_request *r, size_t max_body, int idle_s, int request_s, volatile sig_atomic_t *stop) {
    memset(r, 0, sizeof *r);
    double deadline;
    long head = read_head(c, idle_s, request_s, &deadline, stop);
    if (head <= 0) return (int)-head;
    // Request line: METHOD SP PATH SP HTTP/1.x
    char *h = c->buf, *eol = memchr(h, '\r', (size_t)head);
    char version[16] = "";
    char line[1100];
    size_t ln = (size_t)(eol - h);
    if (ln >= sizeof line) return 431;
    memcpy(line, h, ln);
    line[ln] = 0;
    if (sscanf(line, "%15s %511s %15s", r->method, r->path, version) != 3 || strncmp(version, "HTTP/1.", 7)) return 400;
    r->keep_alive = !strcmp(version, "HTTP/1.1");
    long content_length = -1;
    for (char *p = eol + 2; p < h + head - 2;) {
        char *e = memchr(p, '\r', (size_t)(h + head - p));
        if (!e) return 400;
        size_t n = (size_t)(e - p);
        char save = *e;
        *e = 0;
        const char *v;
        if (header_is(p, n, "Content-Length", &v)) {
            char *end;
            errno = 0;
            long x = strtol(v, &end, 10);
            if (errno || end == v || *end || x < 0) { *e = save; return 400; }
            content_length = x;
        } else if (header_is(p, n, "Transfer-Encoding", &v)) {
            *e = save;
            return 411;  // chunked request bodies are not supported: send Content-Length
        } else if (header_is(p, n, "Connection", &v)) {
            if (!strcasecmp(v, "close")) r->keep_alive = 0;
            else if (!strcasecmp(v, "keep-alive")) r->keep_alive = 1;
        } else if (header_is(p, n, "Authorization", &v)) {
            snprintf(r->auth, sizeof r->auth, "%s", v);
        }
        *e = save;
        p = e + 2;
    }
    if (content_length > (long)max_body) return 413;
    size_t body = content_length > 0 ? (size_t)content_length : 0;
    if (!(r->body = malloc(body + 1))) return 413;
    // The body: first what is already buffered, then the socket.
    size_t have = c->len - (size_t)head, take = have < body ? have : body;
    memcpy(r->body, c->buf + head, take);
    memmove(c->buf, c->buf + head + take, c->len - (size_t)head - take);
    c->len -= (size_t)head + take;
    while (take < body) {
        if (!wait_readable(c->fd, deadline, stop)) { free(r->body); r->body = NULL; return 408; }
        ssize_t k = recv(c->fd, r->body + take, body - take, 0);
        if (k == 0) { free(r->body); r->body = NULL; return 0; }
        if (k < 0) { if (errno == EINTR || errno == EAGAIN) continue; free(r->body); r->body = NULL; return 0; }
        take += (size_t)k;
    }
    r->body[body] = 0;
    r->body_len = body;
    return 1;
}

int http_write(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        b += k; n -= (size_t)k;
    }
    return 0;
}

int http_respond(int fd, int status, const char *type, const char *body, size_t n, int keep_alive) {
    char head[512];
    int k = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                     status, http_status_text(status), type, n, keep_alive ? "keep-alive" : "close");
    if (http_write(fd, head, (size_t)k) != 0) return -1;
    return http_write(fd, body, n);
}

int http_sse_start(int fd) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    return http_write(fd, head, sizeof head - 1);
}

int http_sse_event(int fd, const char *data, size_t n) {
    if (http_write(fd, "data: ", 6) != 0 || http_write(fd, data, n) != 0) return -1;
    return http_write(fd, "\n\n", 2);
}

int http_peer_gone(int fd) {
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return 1;
    char b;
    // Readable: either a pipelined request (still here) or end of stream (gone).
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}
