// A llama2.c checkpoint and its tokenizer.bin (the input: checkpoint, separator, tokenizer).
#include "fuzz_util.h"
#include "fuzz_model.h"
#include "convert.h"
#include "octet.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char out[128];
    if (!out[0]) { snprintf(out, sizeof out, "/dev/shm/octet-fuzz-l2c-%d.octet", (int)getpid()); }
    const uint8_t *part[2];
    size_t len[2];
    if (fuzz_split(data, size, part, len, 2) != 2) return 0;
    char ck[64], tk[64];
    int f1 = fuzz_memfd(part[0], len[0], ck), f2 = fuzz_memfd(part[1], len[1], tk);
    convert_options o;
    convert_options_default(&o);
    o.input = ck; o.tokenizer = tk; o.output = out; o.quiet = 1; o.calib = NULL;
    if (octet_convert(&o) == 0) {
        fuzz_run_model(out, OCTET_LOAD_MMAP);
    }
    o.input = NULL; o.vocab_only = 1;  // the tokenizer alone
    octet_convert(&o);
    unlink(out);
    close(f1); close(f2);
    return 0;
}
