// Shared by the libFuzzer harnesses: inputs become files (memfd, so nothing touches the disk)
// or small directories under /dev/shm, and a few fixed files the harnesses load once.
#ifndef OCTET_FUZZ_UTIL_H
#define OCTET_FUZZ_UTIL_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// An anonymous file holding data; *path receives a name open() accepts. Close the fd after.
static inline int fuzz_memfd(const uint8_t *data, size_t n, char path[64]) {
    int fd = memfd_create("octet-fuzz", MFD_CLOEXEC);
    if (fd < 0) abort();
    for (size_t o = 0; o < n;) {
        ssize_t k = write(fd, data + o, n - o);
        if (k <= 0) abort();
        o += (size_t)k;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (n && fwrite(data, 1, n, fp) != n) abort();
    fclose(fp);
}

// Splits an input into up to `max` parts at the separator line "\n--octet-part--\n".
#define FUZZ_SEP "\n--octet-part--\n"
static inline int fuzz_split(const uint8_t *data, size_t n, const uint8_t **part, size_t *len, int max) {
    size_t sl = strlen(FUZZ_SEP), start = 0;
    int k = 0;
    for (size_t i = 0; i + sl <= n && k < max - 1; i++)
        if (!memcmp(data + i, FUZZ_SEP, sl)) { part[k] = data + start; len[k++] = i - start; start = i + sl; i += sl - 1; }
    part[k] = data + start;
    len[k++] = n - start;
    return k;
}

// Files the harnesses need, made by tests/fuzz/seeds.sh under $OCTET_FUZZ_DATA (default
// build/fuzz/data): tiny models and vocabularies.
static inline const char *fuzz_data(const char *name) {
    static char buf[4][512];
    static int k;
    const char *root = getenv("OCTET_FUZZ_DATA");
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", root ? root : "build/fuzz/data", name);
    return b;
}
#endif
