// Chat templates, written natively (octet has no Jinja interpreter): a conversation becomes
// the exact prompt text the model was trained on. The family is recognised from the model's
// stored Jinja text at conversion; the few model-specific details a family leaves open (the
// BOS/EOS text, ChatML's default system prompt) come from the model.
#ifndef OCTET_CHAT_H
#define OCTET_CHAT_H
#include "util.h"
#include <stddef.h>

typedef struct { const char *role, *content; } octet_chat_msg;
typedef struct {
    const char *name;            // a family from octet_chat_template_names
    const char *bos, *eos;       // the model's BOS/EOS token text ("" when it has none)
    const char *default_system;  // ChatML models that insert one when none is given, else NULL
} octet_chat_template;

// "chatml", "qwen3", "llama2", "llama3", "mistral", "zephyr", "phi3", "gemma", or "unknown".
const char *octet_chat_template_detect(const char *jinja, size_t len);
// The families, for error messages: "chatml, llama2, ...".
const char *octet_chat_template_names(void);
int         octet_chat_template_known(const char *name);
// The literal system prompt a ChatML template inserts when the conversation has none
// (malloc'd), or NULL.
char       *octet_chat_default_system(const char *jinja, size_t len);

// Where message text landed in a rendered prompt, as [start, end) byte pairs (at[2k], at[2k+1]).
// The tokenizer reads text there as plain text: control-token text a user typed into a message
// never becomes a control token; only the template's own markers do.
typedef struct { size_t *at; size_t n, cap; int oom; } octet_chat_spans;

// Appends the prompt for msgs (roles "system", "user", "assistant") to out; add_gen appends the
// start of the assistant's reply. Families without a system role (Mistral, Gemma) get the
// system text prepended to the first user turn. plain (may be NULL) receives the spans of
// message text. Returns 0, or -1 with the error set.
int octet_chat_render(const octet_chat_template *t, const octet_chat_msg *msgs, int n, int add_gen, octet_str *out, octet_chat_spans *plain);
#endif
