// The .octet reader, the model loader and a 2-token evaluation on whatever loads; odd-sized
// inputs are read into memory (OCTET_LOAD_MEMORY), even-sized ones mapped.
#include "fuzz_util.h"
#include "octet.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    octet_model *m = octet_load_mode(path, size & 1 ? OCTET_LOAD_MEMORY : OCTET_LOAD_MMAP);
    if (m) {
        octet_session_params sp = {8, 4, 1, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
        octet_session *s = octet_session_new(m, &sp);
        int vocab = octet_vocab_size(m);
        if (s && vocab >= 2) {
            int32_t toks[2] = {vocab - 1, 1};
            float *logits = malloc((size_t)vocab * sizeof *logits);
            if (logits) octet_eval(s, toks, 2, logits, 0);
            free(logits);
            char *out = NULL;  // and its tokenizer and chat template, when it has them
            octet_chat_msg msg = {"user", "Hi <|im_start|> there"};
            int32_t *ids = NULL;
            size_t n = 0;
            if (octet_chat_prompt(m, "chatml", &msg, 1, 1, &out, &ids, &n) == 0) { free(out); free(ids); }
        }
        octet_session_free(s);
        octet_free(m);
    }
    close(fd);
    return 0;
}
