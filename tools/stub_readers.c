#include "convert.h"
#include "util.h"
int hf_read(conv_model *m, const char *dir) { (void)m; octet_set_error("%s: not yet", dir); return -1; }
int llama2c_read(conv_model *m, const char *path, const char *tok) { (void)m; (void)tok; octet_set_error("%s: not yet", path); return -1; }
