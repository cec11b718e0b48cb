// Subcommands of the octet CLI and the small helpers they share.
#ifndef OCTET_CLI_H
#define OCTET_CLI_H
int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_batch(int argc, char **argv);

// Prints "octet: <message>" on one line to stderr and returns 1 (the exit status).
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Returns argv[++*i] or NULL after printing an error that the flag needs a value.
const char *cli_value(int argc, char **argv, int *i);
// Parse a flag's value strictly (the whole string, within [lo, hi]); print an error and return -1 otherwise.
int cli_int(const char *flag, const char *v, long lo, long hi, long *out);
int cli_float(const char *flag, const char *v, double lo, double hi, double *out);
// --device cpu|cuda into OCTET_DEVICE_*; prints an error and returns -1 otherwise.
int cli_device(const char *v, int *device);
#endif
