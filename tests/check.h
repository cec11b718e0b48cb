// A tiny test harness: each TEST prints "PASS: name" or "FAIL: name"; tests/run.sh counts them.
#ifndef OCTET_CHECK_H
#define OCTET_CHECK_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>

static int check_failures, check_passed, check_failed, check_skipped;
static const char *check_skip_reason;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            if (check_failures++ < 20) {                                          \
                fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
                fprintf(stderr, __VA_ARGS__);                                     \
                fputc('\n', stderr);                                              \
            }                                                                     \
        }                                                                         \
    } while (0)

#define SKIP(why) do { check_skip_reason = (why); return; } while (0)

// Each case's wall time follows its verdict (CI's 30-minute budget: which case grew).
static inline void check_run(const char *name, void (*fn)(void)) {
    check_failures = 0;
    check_skip_reason = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (check_skip_reason && !check_failures) { printf("SKIP: %s (%s)\n", name, check_skip_reason); check_skipped++; }
    else if (check_failures) { printf("FAIL: %s (%d checks failed) [%.1f s]\n", name, check_failures, secs); check_failed++; }
    else { printf("PASS: %s [%.1f s]\n", name, secs); check_passed++; }
    fflush(stdout);
}
#define RUN(fn) check_run(#fn, fn)
#define CHECK_DONE() return check_failed ? 1 : 0

// ../shared (or $OCTET_SHARED) joined with a relative path.
static inline const char *shared_path(const char *rel) {
    static char buf[8][1024];
    static int k;
    const char *root = getenv("OCTET_SHARED");
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root ? root : "../shared", rel);
    return b;
}
static inline int file_exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

// NULL when ../shared holds rel; else why a test skips, naming the missing path (README, "Tests").
static inline const char *shared_missing(const char *rel) {
    static char why[1200];
    if (file_exists(shared_path(rel))) return NULL;
    snprintf(why, sizeof why, "needs %s, which is not there: ../shared (or $OCTET_SHARED) is missing or lacks it", shared_path(rel));
    return why;
}
#define SKIP_WITHOUT_SHARED(rel) do { const char *why_ = shared_missing(rel); if (why_) SKIP(why_); } while (0)

// Runs a shell command, capturing stdout and stderr (2>&1 unless the command redirects them).
// Returns the exit status (or -1); *out receives a malloc'd copy of the output if out != NULL.
static inline int run_cmd(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap) { char *nb = realloc(buf, cap *= 2); if (!nb) break; buf = nb; }
    }
    if (buf) buf[n] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif
