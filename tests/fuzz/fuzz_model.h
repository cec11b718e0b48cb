// Shared by the harnesses whose inputs become models: load the file and run the forward pass
// over the description's numbers, as octet run would (issue 35: loading alone never reached the
// math). Prefill in chunks, then single decode steps, past a small sliding window.
#ifndef OCTET_FUZZ_MODEL_H
#define OCTET_FUZZ_MODEL_H
#include "octet.h"
#include <stdlib.h>

static inline void fuzz_run_model(const char *path, int how) {
    octet_model *m = octet_load_mode(path, how);
    if (!m) return;
    octet_session_params sp = {16, 4, 1, OCTET_ACT_INT8, 0, OCTET_DEVICE_CPU};
    octet_session *s = octet_session_new(m, &sp);
    int vocab = octet_vocab_size(m);
    float *logits = malloc((size_t)vocab * sizeof *logits);
    if (s && logits && vocab >= 2) {
        int32_t toks[10];
        for (int i = 0; i < 10; i++) toks[i] = (int32_t)((i * 7919 + vocab - 1) % vocab);
        int rc = octet_eval(s, toks, 10, logits, 0);
        for (int i = 0; rc == 0 && i < 3; i++) rc = octet_eval(s, &toks[i], 1, logits, 0);
    }
    free(logits);
    octet_session_free(s);
    octet_free(m);
}
#endif
