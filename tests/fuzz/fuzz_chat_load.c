// octet chat's /load: any file either loads or is refused with the conversation unchanged; a
// loaded conversation always renders (a late system message used to load, then fail every
// turn), and its message text never becomes control tokens. Then /save and /load again give
// the same messages.
#include "fuzz_util.h"
#include "chat_conv.h"
#include "octet.h"
#include "util.h"
#include <fcntl.h>

static octet_model *M;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    M = octet_load(fuzz_data("tiny-bpe.octet"));
    if (!M) { fprintf(stderr, "fuzz_chat_load: %s (run tests/fuzz/seeds.sh)\n", octet_last_error()); exit(1); }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char saved[128];
    if (!saved[0]) snprintf(saved, sizeof saved, "/dev/shm/octet-fuzz-chat-%d.json", (int)getpid());
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    conversation c = {0};
    conv_add(&c, "user", "before", 6);
    int saved_stderr = dup(2), devnull = open("/dev/null", O_WRONLY);  // its one-line errors are expected
    dup2(devnull, 2);
    int rc = conv_load(&c, path);
    if (rc != 0 && (c.n != 1 || strcmp(c.msg[0].content, "before"))) abort();  // a refused file changes nothing
    if (rc == 0) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (octet_chat_prompt(M, "chatml", c.msg, c.n, 1, NULL, &ids, &n) != 0) { dup2(saved_stderr, 2); fprintf(stderr, "a loaded conversation does not render: %s\n", octet_last_error()); abort(); }
        free(ids);
        if (conv_save(&c, saved) == 0) {
            conversation d = {0};
            if (conv_load(&d, saved) != 0 || d.n != c.n) abort();
            for (int i = 0; i < c.n; i++)
                if (strcmp(c.msg[i].role, d.msg[i].role) || strcmp(c.msg[i].content, d.msg[i].content)) abort();
            conv_clear(&d, 0);
            free(d.msg);
        }
    }
    dup2(saved_stderr, 2);
    close(saved_stderr); close(devnull);
    conv_clear(&c, 0);
    free(c.msg);
    close(fd);
    return 0;
}
