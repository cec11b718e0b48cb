#include "chat_template.h"
#include <string.h>

static int has(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, k)) return 1;
    return 0;
}

const char *octet_chat_template_detect(const char *s, size_t n) {
    // Order matters: the more specific markers are tested first.
    if (has(s, n, "<|im_start|>")) return "chatml";
    if (has(s, n, "<|start_header_id|>")) return "llama3";
    if (has(s, n, "<start_of_turn>")) return "gemma";
    if (has(s, n, "<|user|>") && has(s, n, "<|end|>")) return "phi3";
    if (has(s, n, "<|user|>")) return "zephyr";
    if (has(s, n, "[INST]") && has(s, n, "<<SYS>>")) return "llama2";
    if (has(s, n, "[INST]")) return "mistral";
    return "unknown";
}
