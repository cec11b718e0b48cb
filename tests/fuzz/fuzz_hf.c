// A Hugging Face directory: config.json, tokenizer.json, tokenizer_config.json and
// model.safetensors, the input's four parts (separated by FUZZ_SEP); written to a directory.
#include "fuzz_util.h"
#include "fuzz_model.h"
#include "convert.h"
#include "octet.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[128], out[160];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/octet-fuzz-hf-%d", (int)getpid());
        snprintf(out, sizeof out, "%s.octet", dir);
        mkdir(dir, 0700);
    }
    static const char *names[4] = {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"};
    const uint8_t *part[4];
    size_t len[4];
    int k = fuzz_split(data, size, part, len, 4);
    char p[256];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (i < k) fuzz_write(p, part[i], len[i]);
        else unlink(p);
    }
    convert_options o;
    convert_options_default(&o);
    o.input = dir; o.output = out; o.quiet = 1; o.calib = NULL;
    if (octet_convert(&o) == 0) {
        fuzz_run_model(out, OCTET_LOAD_MMAP);
    }
    unlink(out);
    return 0;
}
