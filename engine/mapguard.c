#include "mapguard.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

// The handler reads the table without locking: a slot's start is published last (release) and
// cleared first, so a handler never sees a half-written slot.
typedef struct { _Atomic uintptr_t start; size_t len; char msg[320]; size_t msg_len; } slot;
static slot slots[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void octet_mapguard_add(const void *p, size_t n, const char *path) {
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < sizeof slots / sizeof *slots; i++) {
        slot *s = &slots[i];
        if (atomic_load_explicit(&s->start, memory_order_relaxed)) continue;
        s->len = n;
        static const char tail[] = ": the file shrank while it was mapped (truncated or rewritten in place during use)\n";
        size_t pl = strlen(path), room = sizeof s->msg - 7 - sizeof tail;
        if (pl > room) pl = room;
        memcpy(s->msg, "octet: ", 7);
        memcpy(s->msg + 7, path, pl);
        memcpy(s->msg + 7 + pl, tail, sizeof tail - 1);
        s->msg_len = 7 + pl + sizeof tail - 1;
        atomic_store_explicit(&s->start, (uintptr_t)p, memory_order_release);
        break;
    }
    pthread_mutex_unlock(&lock);
}

void octet_mapguard_remove(const void *p) {
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < sizeof slots / sizeof *slots; i++)
        if (atomic_load_explicit(&slots[i].start, memory_order_relaxed) == (uintptr_t)p) atomic_store_explicit(&slots[i].start, 0, memory_order_release);
    pthread_mutex_unlock(&lock);
}

static void on_sigbus(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    uintptr_t a = (uintptr_t)info->si_addr;
    for (unsigned i = 0; i < sizeof slots / sizeof *slots; i++) {
        uintptr_t st = atomic_load_explicit(&slots[i].start, memory_order_acquire);
        if (st && a >= st && a - st < slots[i].len) {
            ssize_t w = write(2, slots[i].msg, slots[i].msg_len);
            (void)w;
            _exit(1);
        }
    }
    signal(sig, SIG_DFL);  // not ours: the default action, on return the fault repeats
}

void octet_mapguard_install(void) {
    static atomic_int done;
    if (atomic_exchange(&done, 1)) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}
