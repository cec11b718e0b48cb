// The .octet reader, the model loader and the forward pass (fuzz_run_model) on whatever loads,
// then its tokenizer and chat template; odd-sized inputs are read into memory
// (OCTET_LOAD_MEMORY), even-sized ones mapped.
#include "fuzz_util.h"
#include "fuzz_model.h"
#include "octet.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    int how = size & 1 ? OCTET_LOAD_MEMORY : OCTET_LOAD_MMAP;
    fuzz_run_model(path, how);
    octet_model *m = octet_load_mode(path, how);
    if (m) {
        char *out = NULL;
        octet_chat_msg msg = {"user", "Hi <|im_start|> there"};
        int32_t *ids = NULL;
        size_t n = 0;
        if (octet_chat_prompt(m, "chatml", &msg, 1, 1, &out, &ids, &n) == 0) { free(out); free(ids); }
        octet_free(m);
    }
    close(fd);
    return 0;
}
