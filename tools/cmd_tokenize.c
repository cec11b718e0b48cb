// octet tokenize: show how a model's tokenizer splits text.
#include "cli.h"
#include "octet_file.h"
#include "tokenizer.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: octet tokenize -m FILE [-p TEXT | -f FILE | --stdin] [--ids] [--no-bos] [--parse-special]\n"
           "  --ids            print only the ids, separated by single spaces, on one line\n"
           "  --no-bos         do not add BOS even if the model asks for it\n"
           "  --parse-special  turn control tokens written in the text (<|im_start|> ...) into their ids\n");
}

static char *read_stdin(size_t *n) {
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (len == cap) { char *b = realloc(buf, cap *= 2); if (!b) { free(buf); return NULL; } buf = b; }
        size_t k = fread(buf + len, 1, cap - len, stdin);
        if (!k) break;
        len += k;
    }
    *n = len;
    return buf;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *v;
    int use_stdin = 0, only_ids = 0, no_bos = 0, parse_special = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(v = cli_value(argc, argv, &i))) return 1; model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { if (!(v = cli_value(argc, argv, &i))) return 1; prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { if (!(v = cli_value(argc, argv, &i))) return 1; file = v; }
        else if (!strcmp(a, "--stdin")) use_stdin = 1;
        else if (!strcmp(a, "--ids")) only_ids = 1;
        else if (!strcmp(a, "--no-bos")) no_bos = 1;
        else if (!strcmp(a, "--parse-special")) parse_special = 1;
        else return cli_fail("tokenize: unknown argument '%s'", a);
    }
    if (!model) return cli_fail("tokenize: missing -m FILE");
    if (!!prompt + !!file + use_stdin != 1) return cli_fail("tokenize: give exactly one of -p TEXT, -f FILE, --stdin");
    size_t len = 0;
    char *text = NULL;
    if (prompt) { len = strlen(prompt); text = strdup(prompt); }
    else if (file) { if (!(text = octet_read_file(file, &len))) return cli_fail("-f %s", octet_last_error()); }
    else if (!(text = read_stdin(&len))) return cli_fail("tokenize: cannot read standard input");
    octet_file f;
    if (octet_file_open(&f, model) != 0) { free(text); return cli_fail("%s", octet_last_error()); }
    octet_tokenizer tok;
    if (octet_tokenizer_load(&tok, &f) != 0) { free(text); octet_file_close(&f); return cli_fail("%s", octet_last_error()); }
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = octet_tokenize(&tok, text, len, no_bos ? 0 : -1, parse_special, &ids, &n);
    if (rc != 0) rc = cli_fail("%s", octet_last_error());
    else if (only_ids) {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    } else {
        char piece[1100];
        for (size_t i = 0; i < n; i++) {
            size_t pl = octet_token_bytes(&tok, ids[i], piece, sizeof piece - 1, 1);
            piece[pl] = 0;
            printf("%6d -> '%s'\n", ids[i], piece);
        }
    }
    free(ids);
    free(text);
    octet_tokenizer_free(&tok);
    octet_file_close(&f);
    return rc;
}
