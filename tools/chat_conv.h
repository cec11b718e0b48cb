// octet chat's conversation: the messages (contents owned), and /save and /load as JSON
// ({"messages":[{"role":...,"content":...}]}). Loading validates what the templates need.
#ifndef OCTET_CHAT_CONV_H
#define OCTET_CHAT_CONV_H
#include "octet.h"

typedef struct {
    octet_chat_msg *msg;   // contents and roles owned (roles are string literals)
    int n, cap;
} conversation;

int  conv_add(conversation *c, const char *role, const char *content, size_t len);
void conv_drop(conversation *c, int at, int count);
void conv_clear(conversation *c, int keep_system);
// Sets (or with "" removes) the leading system message.
int  conv_set_system(conversation *c, const char *text);
// Write or read FILE; on failure one line on stderr, the conversation unchanged, -1.
int  conv_save(const conversation *c, const char *path);
int  conv_load(conversation *c, const char *path);
#endif
