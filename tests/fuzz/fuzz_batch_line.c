// octet batch's job lines (tools/batch_job.c): each line of the input parsed as a request; a
// refusal must leave the request freeable and a message, an accepted one fields in range.
#include "fuzz_util.h"
#include "batch_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *t = (const char *)data;
    for (size_t p = 0; p <= size;) {
        const char *e = memchr(t + p, '\n', size - p);
        size_t n = e ? (size_t)(e - (t + p)) : size - p;
        batch_req r;
        char err[256] = "";
        int rc = batch_req_parse(t + p, n, &r, err, sizeof err);
        if (rc != 0 && !err[0]) abort();   // a refusal always says why
        if (rc == 0) {
            if (!r.prompt == !r.msgs || r.n_stop > BATCH_MAX_STOP || r.max_tokens < -1) abort();
            if (r.has_temp && !(r.temperature >= 0 && r.temperature <= 2)) abort();
        }
        batch_req_free(&r);
        p += n + 1;
    }
    return 0;
}
