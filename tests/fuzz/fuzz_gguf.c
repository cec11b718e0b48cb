// GGUF -> .octet: the GGUF reader, ggml dequantization, the vocabulary and the writer; a file
// that converts is loaded back and run (fuzz_run_model).
#include "fuzz_util.h"
#include "fuzz_model.h"
#include "convert.h"
#include "octet.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char out[128];
    if (!out[0]) { snprintf(out, sizeof out, "/dev/shm/octet-fuzz-gguf-%d.octet", (int)getpid()); }
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    convert_options o;
    convert_options_default(&o);
    o.input = path; o.output = out; o.quiet = 1; o.calib = NULL;
    if (octet_convert(&o) == 0) {
        fuzz_run_model(out, OCTET_LOAD_MMAP);
    } else {
        o.vocab_only = 1;  // vocabulary-only files (and the vocabulary of broken models)
        octet_convert(&o);
    }
    unlink(out);
    close(fd);
    return 0;
}
