// Recognises a chat template family from a model's Jinja text (octet has no Jinja interpreter:
// the templates themselves are written natively).
#ifndef OCTET_CHAT_TEMPLATE_H
#define OCTET_CHAT_TEMPLATE_H
#include <stddef.h>
// "chatml", "llama2", "llama3", "mistral", "zephyr", "phi3", "gemma", or "unknown".
const char *octet_chat_template_detect(const char *jinja, size_t len);
#endif
