// octet chat end to end with SmolLM2: a two-turn conversation through a pseudo-terminal whose
// second answer depends on the first turn, Ctrl-C stopping a reply, Ctrl-D quitting; the same
// driven through a pipe with /save, /reset and /load; bad flags and bad commands.
#define _XOPEN_SOURCE 700
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

// The f32 file: the test is about the chat command, and to this question the INT8 files' first
// token sits on a near-tie ("The" / "L'": the default file answered "L'Étoile, ..." already, and
// q8 flipped to it when attention's f32 dots became fused multiply-adds).
#define SMOL_F32 "models/smollm2-135m-instruct.f32.octet"
#define CHAT "./octet chat -m " SMOL_F32 " --temp 0 -t 1 -n 48"
// Asked alone, SmolLM2 names some other city; after the first turn it answers about Paris.
#define Q1 "What is the capital of France?"
#define Q2 "Tell me one famous landmark in that city."

typedef struct { int fd; pid_t pid; char buf[65536]; size_t len; } term;

// Reads from the terminal until `want` appears after byte `from` (or the timeout); returns the
// offset just past it, or 0.
static size_t wait_for(term *t, size_t from, const char *want, int seconds) {
    time_t end = time(NULL) + seconds;
    for (;;) {
        t->buf[t->len] = 0;
        char *hit = from <= t->len ? strstr(t->buf + from, want) : NULL;
        if (hit) return (size_t)(hit - t->buf) + strlen(want);
        if (time(NULL) > end || t->len + 1 >= sizeof t->buf) return 0;
        struct pollfd p = {t->fd, POLLIN, 0};
        if (poll(&p, 1, 500) > 0) {
            ssize_t k = read(t->fd, t->buf + t->len, sizeof t->buf - 1 - t->len);
            if (k <= 0) return 0;
            t->len += (size_t)k;
        }
    }
}

static int term_start(term *t, const char *cmd) {
    memset(t, 0, sizeof *t);
    t->fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (t->fd < 0 || grantpt(t->fd) || unlockpt(t->fd)) return -1;
    const char *name = ptsname(t->fd);
    if (!name) return -1;
    t->pid = fork();
    if (t->pid < 0) return -1;
    if (t->pid == 0) {
        setsid();
        int s = open(name, O_RDWR);  // becomes the controlling terminal
        if (s < 0) _exit(127);
        dup2(s, 0); dup2(s, 1); dup2(s, 2);
        if (s > 2) close(s);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return 0;
}

static int term_wait(term *t, int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        int st;
        char sink[4096];
        while (poll(&(struct pollfd){t->fd, POLLIN, 0}, 1, 0) > 0 && read(t->fd, sink, sizeof sink) > 0) {}
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) { close(t->fd); return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }
        usleep(100000);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->fd);
    return -1;
}

static void send_line(term *t, const char *s) {
    if (write(t->fd, s, strlen(s)) < 0 || write(t->fd, "\n", 1) < 0) CHECK(0, "write to the terminal");
}

static void two_turns_through_a_terminal(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    term t;
    CHECK(term_start(&t, "exec " CHAT) == 0, "pty");
    size_t at = wait_for(&t, 0, "> ", 60);
    CHECK(at, "no prompt; got: %s", t.buf);
    send_line(&t, Q1);
    size_t a1 = wait_for(&t, at, Q1, 10);
    size_t end1 = a1 ? wait_for(&t, a1, "> ", 120) : 0;
    CHECK(end1, "first reply did not end; got: %s", t.buf + at);
    t.buf[t.len] = 0;
    CHECK(strstr(t.buf + a1, "Paris") != NULL, "first answer: %.*s", (int)(end1 - a1), t.buf + a1);
    send_line(&t, Q2);
    size_t a2 = wait_for(&t, end1, Q2, 10);
    size_t end2 = a2 ? wait_for(&t, a2, "> ", 120) : 0;
    CHECK(end2, "second reply did not end; got: %s", t.buf + end1);
    char answer[2048];
    snprintf(answer, sizeof answer, "%.*s", (int)(end2 > a2 ? end2 - a2 : 0), t.buf + a2);
    printf("  second answer: %s\n", answer);
    CHECK(strstr(answer, "Paris") || strstr(answer, "Eiffel"), "the second answer does not use the first turn: %s", answer);
    // A long reply, stopped by Ctrl-C: the prompt comes back and the session goes on.
    send_line(&t, "Write a very long story about a dragon who learns to bake bread.");
    size_t a3 = wait_for(&t, end2, "bread.", 10);
    size_t some = a3 ? wait_for(&t, a3, " ", 60) : 0;
    CHECK(some, "the third reply did not start");
    if (write(t.fd, "\003", 1) != 1) CHECK(0, "write ^C");
    size_t end3 = wait_for(&t, some, "> ", 60);
    CHECK(end3, "Ctrl-C did not bring the prompt back; got: %s", t.buf + end2);
    // Ctrl-D at the prompt quits cleanly.
    if (write(t.fd, "\004", 1) != 1) CHECK(0, "write ^D");
    int rc = term_wait(&t, 30);
    CHECK(rc == 0, "exit status %d", rc);
}

static void alone_the_second_question_is_not_about_paris(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    char *out = NULL;
    int rc = run_cmd(&out, "printf '%%s\\n' '" Q2 "' | " CHAT " 2>/dev/null");
    CHECK(rc == 0, "exit %d", rc);
    CHECK(out && !strstr(out, "Paris") && !strstr(out, "Eiffel"), "without the first turn: %s", out ? out : "");
    free(out);
}

static void piped_turns_with_save_reset_load(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    unlink("tests/out/chat-conv.json");
    char *out = NULL;
    int rc = run_cmd(&out, "printf '%%s\\n' '" Q1 "' '/save tests/out/chat-conv.json' '/reset' '/load tests/out/chat-conv.json' '" Q2 "' | " CHAT " --verbose 2>&1");
    CHECK(rc == 0, "exit %d: %s", rc, out ? out : "");
    CHECK(out && strstr(out, "saved 2 messages") && strstr(out, "conversation cleared") && strstr(out, "loaded 2 messages"), "commands: %s", out ? out : "");
    const char *second = out ? strstr(out, "loaded 2 messages") : NULL;
    CHECK(second && (strstr(second, "Paris") || strstr(second, "Eiffel")), "answer after /load: %s", second ? second : "");
    free(out);
    char *saved = NULL;
    run_cmd(&saved, "cat tests/out/chat-conv.json");
    CHECK(saved && strstr(saved, "\"role\":\"user\",\"content\":\"" Q1 "\"") && strstr(saved, "\"role\":\"assistant\""), "saved file: %s", saved ? saved : "");
    free(saved);
    // A multi-line turn (trailing backslash) is one message.
    rc = run_cmd(&out, "printf '%%s\\n' 'What is the capital \\' 'of France?' | " CHAT " --verbose 2>&1");
    CHECK(rc == 0 && out && strstr(out, "Paris") && strstr(out, "(0 reused)"), "continued line: %s", out ? out : "");
    const char *first = out ? strstr(out, "reused)") : NULL;
    CHECK(first && !strstr(first + 1, "reused)"), "one turn only: %s", out ? out : "");
    free(out);
}

// A small context: old turns go, the system prompt stays, the chat goes on.
static void full_context_drops_oldest_turns(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    char *out = NULL;
    int rc = run_cmd(&out, "printf '%%s\\n' '" Q1 "' 'What is the capital of Italy?' 'What is the capital of Spain?' 'What is the capital of Germany?' | "
                           "./octet chat -m " SMOL_F32 " --temp 0 -t 1 -n 16 -c 100 -sys 'Answer in one short sentence.' 2>&1");
    CHECK(rc == 0, "exit %d", rc);
    CHECK(out && strstr(out, "dropped the 2 oldest messages (the system prompt stays)"), "no drop reported: %s", out ? out : "");
    CHECK(out && strstr(out, "Berlin"), "last answer: %s", out ? out : "");
    free(out);
}

static void bad_flags_and_commands(void) {
    if (!file_exists(SMOL_F32)) SKIP("models/ missing (make models)");
    char *out = NULL;
    int rc = run_cmd(&out, "./octet chat -m " SMOL_F32 " --chat-template vicuna </dev/null 2>&1");
    CHECK(rc == 1 && out && strstr(out, "vicuna") && strstr(out, "chatml, qwen3, llama2"), "bad template: %d %s", rc, out ? out : "");
    free(out);
    rc = run_cmd(&out, "./octet chat </dev/null 2>&1");
    CHECK(rc == 1 && out && strstr(out, "missing -m"), "no model: %s", out ? out : "");
    free(out);
    rc = run_cmd(&out, "printf '/load tests/out/no-such.json\\n/frobnicate\\n/save\\n' | " CHAT " 2>&1");
    CHECK(rc == 0 && out && strstr(out, "no-such.json") && strstr(out, "unknown command '/frobnicate'") && strstr(out, "/save needs a FILE"), "commands: %s", out ? out : "");
    free(out);
    run_cmd(NULL, "printf '{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}' > tests/out/chat-bad.json");
    rc = run_cmd(&out, "printf '/load tests/out/chat-bad.json\\n' | " CHAT " 2>&1");
    CHECK(rc == 0 && out && strstr(out, "message 1 needs a role"), "bad saved file: %s", out ? out : "");
    free(out);
    // A system message after the first would make every later turn fail: /load refuses it and
    // the conversation goes on.
    run_cmd(NULL, "printf '{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"system\",\"content\":\"Be terse.\"}]}' > tests/out/chat-late-system.json");
    rc = run_cmd(&out, "printf '/load tests/out/chat-late-system.json\n" Q1 "\n' | " CHAT " 2>&1");
    CHECK(rc == 0 && out && strstr(out, "message 2 is a system message") && strstr(out, "Paris"), "late system message: %s", out ? out : "");
    free(out);
    // /reset and exit on an empty conversation (UBSan reported a memmove on a NULL array).
    rc = run_cmd(&out, "printf '/reset\n/reset\n' | " CHAT " 2>&1");
    CHECK(rc == 0 && out && strstr(out, "conversation cleared") && !strstr(out, "runtime error"), "reset of nothing: %s", out ? out : "");
    free(out);
    // A model without a chat template needs --chat-template (the Qwen3 fixture has none).
    run_cmd(NULL, "./octet convert tests/fixtures/arch/qwen3 -o tests/out/chat-cli-notemplate.octet --type q8 --calib none --quiet");
    rc = run_cmd(&out, "./octet chat -m tests/out/chat-cli-notemplate.octet </dev/null 2>&1");
    CHECK(rc == 1 && out && strstr(out, "--chat-template"), "no template: %s", out ? out : "");
    free(out);
}

int main(void) {
    RUN(two_turns_through_a_terminal);
    RUN(alone_the_second_question_is_not_about_paris);
    RUN(piped_turns_with_save_reset_load);
    RUN(full_context_drops_oldest_turns);
    RUN(bad_flags_and_commands);
    CHECK_DONE();
}
