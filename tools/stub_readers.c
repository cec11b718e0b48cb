#include "convert.h"
#include "util.h"
int hf_read(conv_model *m, const char *dir) { (void)m; octet_set_error("%s: not yet", dir); return -1; }
