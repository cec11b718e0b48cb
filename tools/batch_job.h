// One line of an `octet batch` job file (JSONL): the request it holds, checked field by field.
// An unknown field, a wrong type or a value out of range is refused by name (never ignored).
#ifndef OCTET_BATCH_JOB_H
#define OCTET_BATCH_JOB_H
#include "octet.h"
#include <stddef.h>

#define BATCH_MAX_STOP 4

typedef struct {
    char *id;                // the line's "id" as JSON (a string literal or a number), or NULL
    char *prompt;            // "prompt": text to continue, or NULL
    octet_chat_msg *msgs;    // "messages": a conversation to answer (chat template), or NULL
    int n_msgs;
    long max_tokens;         // -1: the command's -n
    int has_temp, has_top_p, has_top_k, has_min_p, has_seed;
    float temperature, top_p, min_p;
    int top_k;
    long long seed;
    char *stop[BATCH_MAX_STOP];
    int n_stop;
} batch_req;

// Parses one line (len bytes, no newline). 0, or -1 with err holding "FIELD: problem"; r is
// always left freeable, and r->id is kept when it could be read (for the error record).
int  batch_req_parse(const char *line, size_t len, batch_req *r, char *err, size_t errcap);
void batch_req_free(batch_req *r);
#endif
