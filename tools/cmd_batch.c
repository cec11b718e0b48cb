// octet batch: scripted generation over a JSONL job file. Up to --parallel lines generate
// together in shared forward steps (octet_eval_batch: each line's tokens are those it gets
// alone); the records are written in input order, one line each, flushed as they complete, so a
// job cut short resumes: lines whose id (or line number) has a record without "error" in the
// output file are skipped.
#include "batch_job.h"
#include "cli.h"
#include "cmd_options.h"
#include "json.h"
#include "sampler.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    printf("usage: octet batch -m FILE -f IN.jsonl -o OUT.jsonl [options]\n"
           "  Each input line is a JSON object: \"prompt\" (text to continue) or \"messages\" ([{role, content}]:\n"
           "  answered through the model's chat template), and optionally \"id\" (carried into the record),\n"
           "  \"max_tokens\", \"temperature\", \"top_p\", \"top_k\", \"min_p\", \"seed\", \"stop\" (up to 4 strings).\n"
           "  Each output line: {\"id\", \"line\", \"text\", \"finish_reason\" (stop|length), \"usage\", \"seconds\"},\n"
           "  or {\"id\", \"line\", \"error\"} for a line that cannot run; in input order. An existing OUT.jsonl is\n"
           "  resumed: lines already done (by id, else by line number) are skipped, the rest appended.\n"
           "  --parallel N, -np N  lines generated together in shared steps (default 8)\n"
           "  -n N                 tokens per reply when a line gives no max_tokens (default 256)\n"
           "  --chat-template NAME the template for \"messages\" (default: the model's)\n"
           "  A line without a seed gets -s SEED + its line number (different lines, different samples).\n");
    cli_gen_help();
}

typedef struct {
    int line;                 // 1-based line number in the input
    batch_req r;
    char *error;              // the line's refusal, or NULL
    char *key;                // what resuming compares: the id, else "#LINE"
    char *record;             // its output line once done (NULL: pending)
} job;

// One sequence being generated.
typedef struct {
    octet_session *s;
    job *j;                   // NULL: free
    octet_sampler smp;
    octet_text_stream *ts;
    int32_t *prompt, next;
    int n_prompt, n_gen, max, in_prompt;
    octet_str text;
    double t0;
    float *logits;
} seq;

static char *key_of(const job *j) {
    if (j->r.id) return strdup(j->r.id);
    char b[32];
    snprintf(b, sizeof b, "#%d", j->line);
    return strdup(b);
}

// The keys of the records in an earlier output that are done (no "error").
static char **done_keys(const char *path, int *n) {
    *n = 0;
    size_t len;
    char *t = access(path, F_OK) == 0 ? octet_read_file(path, &len) : NULL;
    if (!t) return NULL;
    char **keys = NULL;
    int cap = 0;
    for (char *p = t, *e; p < t + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(t + len - p));
        if (!e) e = t + len;
        char err[64];
        json *r = json_parse(p, (size_t)(e - p), err, sizeof err);
        const json *id = json_get(r, "id"), *line = json_get(r, "line");
        if (r && !json_get(r, "error") && ((id && id->type != JSON_NULL) || (line && line->type == JSON_NUMBER))) {
            octet_str k = {0};
            if (id && id->type == JSON_STRING) json_write_string(&k, id->str, id->len);
            else if (id && id->type == JSON_NUMBER) octet_str_fmt(&k, "%.0f", id->num);
            else octet_str_fmt(&k, "#%.0f", line->num);
            if (*n == cap) { cap = cap ? 2 * cap : 64; char **nk = realloc(keys, (size_t)cap * sizeof *nk); if (!nk) { octet_str_free(&k); json_free(r); break; } keys = nk; }
            keys[(*n)++] = k.p;
        }
        json_free(r);
    }
    free(t);
    return keys;
}

static int cmp_key(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void record_error(job *j) {
    octet_str o = {0};
    octet_str_fmt(&o, "{\"id\":%s,\"line\":%d,\"error\":", j->r.id ? j->r.id : "null", j->line);
    json_write_string(&o, j->error, strlen(j->error));
    octet_str_addz(&o, "}");
    j->record = o.p;
}

// Starts job j on sequence q: its prompt's tokens, its sampler; 0, or -1 with j->error set.
static int start(seq *q, job *j, const octet_model *m, const cli_gen *g, const char *tmpl, long n_default, int n_ctx) {
    char msg[512];
    size_t n = 0;
    int rc = j->r.prompt ? octet_tokenize_text(m, j->r.prompt, strlen(j->r.prompt), -1, 1, &q->prompt, &n)
                         : octet_chat_prompt(m, tmpl, j->r.msgs, j->r.n_msgs, 1, NULL, &q->prompt, &n);
    if (rc != 0) snprintf(msg, sizeof msg, "%s: %s", j->r.prompt ? "prompt" : "messages", octet_last_error());
    else if (n == 0) snprintf(msg, sizeof msg, "prompt: no tokens");
    else if ((long)n >= n_ctx) snprintf(msg, sizeof msg, "prompt: %zu tokens, but the context holds %d (raise -c)", n, n_ctx);
    if (rc != 0 || n == 0 || (long)n >= n_ctx) { free(q->prompt); q->prompt = NULL; j->error = strdup(msg); return -1; }
    octet_sampler_params sp = g->sp;
    sp.seed = (uint64_t)g->seed + (uint64_t)j->line;
    if (j->r.has_temp) sp.temp = j->r.temperature;
    if (j->r.has_top_p) sp.top_p = j->r.top_p;
    if (j->r.has_top_k) sp.top_k = j->r.top_k;
    if (j->r.has_min_p) sp.min_p = j->r.min_p;
    if (j->r.has_seed) sp.seed = (uint64_t)j->r.seed;
    if (octet_sampler_init(&q->smp, &sp, octet_vocab_size(m)) != 0 || !(q->ts = octet_text_stream_new(m))) {
        free(q->prompt); q->prompt = NULL;
        j->error = strdup("out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) octet_sampler_accept(&q->smp, q->prompt[i]);
    octet_session_reset(q->s);
    long max = j->r.max_tokens >= 0 ? j->r.max_tokens : n_default;
    if (max > n_ctx - (long)n) max = n_ctx - (long)n;
    q->j = j; q->n_prompt = (int)n; q->n_gen = 0; q->max = (int)max; q->in_prompt = 1; q->t0 = octet_time_ms();
    memset(&q->text, 0, sizeof q->text);
    return 0;
}

static void finish(seq *q, const char *reason) {
    char tail[256];
    size_t k = octet_text_stream_flush(q->ts, tail, sizeof tail);
    if (k && strcmp(reason, "stop")) octet_str_add(&q->text, tail, k);   // (after a stop string, nothing more)
    job *j = q->j;
    octet_str o = {0};
    octet_str_fmt(&o, "{\"id\":%s,\"line\":%d,\"text\":", j->r.id ? j->r.id : "null", j->line);
    json_write_string(&o, q->text.p ? q->text.p : "", q->text.len);
    octet_str_fmt(&o, ",\"finish_reason\":\"%s\",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d},\"seconds\":%.3f}", reason,
                  q->n_prompt, q->n_gen, q->n_prompt + q->n_gen, (octet_time_ms() - q->t0) / 1000);
    j->record = o.oom ? strdup("{\"error\":\"out of memory\"}") : o.p;
    octet_sampler_free(&q->smp);
    octet_text_stream_free(q->ts);
    q->ts = NULL;
    octet_str_free(&q->text);
    free(q->prompt);
    q->prompt = NULL;
    q->j = NULL;
}

// After a step: the sequence's next token from its logits, as octet_generate handles it. 1 when
// the sequence is done.
static int advance(seq *q, const octet_model *m, int n_ctx) {
    q->in_prompt = 0;
    int32_t id = octet_sample(&q->smp, q->logits);
    if (q->max == 0) { finish(q, "length"); return 1; }
    if (octet_is_end_token(m, id)) { finish(q, "stop"); return 1; }
    octet_sampler_accept(&q->smp, id);
    q->n_gen++;
    char piece[4096];
    size_t before = q->text.len, k = octet_text_stream_push(q->ts, id, piece, sizeof piece);
    octet_str_add(&q->text, piece, k);
    for (int i = 0; i < q->j->r.n_stop && q->text.p; i++) {
        size_t sl = strlen(q->j->r.stop[i]), from = before >= sl ? before - sl + 1 : 0;
        const char *hit = strstr(q->text.p + from, q->j->r.stop[i]);
        if (hit) {
            q->text.len = (size_t)(hit - q->text.p);
            q->text.p[q->text.len] = 0;
            finish(q, "stop");
            return 1;
        }
    }
    if (q->n_gen >= q->max || octet_session_pos(q->s) >= n_ctx) { finish(q, "length"); return 1; }
    q->next = id;
    return 0;
}

int cmd_batch(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *tmpl = NULL, *v;
    long parallel = 8, n_default = 256;
    int r;
    cli_gen g;
    cli_gen_defaults(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        if ((r = cli_gen_flag(&g, argc, argv, &i)) < 0) return 1;
        if (r) continue;
#define VAL() if (!(v = cli_value(argc, argv, &i))) return 1
        if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VAL(); in = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { VAL(); out = v; }
        else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) { VAL(); if (cli_int(a, v, 1, 256, &parallel)) return 1; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VAL(); if (cli_int(a, v, 0, 1L << 30, &n_default)) return 1; }
        else if (!strcmp(a, "--chat-template")) { VAL(); if (cli_chat_template(v, &tmpl)) return 1; }
        else return cli_fail("batch: unknown argument '%s' (octet batch --help)", a);
#undef VAL
    }
    if (!g.model) return cli_fail("batch: missing -m FILE");
    if (!in) return cli_fail("batch: missing -f IN.jsonl");
    if (!out) return cli_fail("batch: missing -o OUT.jsonl");
    if (g.device != OCTET_DEVICE_CPU) return cli_fail("batch: --device cuda is not supported yet (batched steps run on the CPU)");
    size_t len;
    char *text = octet_read_file(in, &len);
    if (!text) return cli_fail("-f %s", octet_last_error());
    g.sessions = 1;
    octet_model *m = cli_gen_load(&g);
    if (!m) { free(text); return 1; }
    int rc = 1, n_jobs = 0, n_done = 0, cap = 0;
    job *jobs = NULL;
    seq *seqs = calloc((size_t)parallel, sizeof *seqs);
    octet_session **ss = calloc((size_t)parallel, sizeof *ss);
    const int32_t **tok = calloc((size_t)parallel, sizeof *tok);
    int *nt = calloc((size_t)parallel, sizeof *nt), *who = calloc((size_t)parallel, sizeof *who);
    float **lg = calloc((size_t)parallel, sizeof *lg);
    char **done = done_keys(out, &n_done);
    FILE *fo = NULL;
    if (!seqs || !ss || !tok || !nt || !who || !lg) { cli_fail("out of memory"); goto end; }
    // The lines: blank ones are skipped; each other one is a job (or a refusal to record).
    int line = 0;
    for (char *p = text, *e; p < text + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        line++;
        size_t n = (size_t)(e - p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        size_t lead = 0;
        while (lead < n && (p[lead] == ' ' || p[lead] == '\t')) lead++;
        if (lead == n) continue;
        if (n_jobs == cap) { cap = cap ? 2 * cap : 64; job *nj = realloc(jobs, (size_t)cap * sizeof *nj); if (!nj) { cli_fail("out of memory"); goto end; } jobs = nj; }
        job *j = &jobs[n_jobs++];
        memset(j, 0, sizeof *j);
        j->line = line;
        char err[512];
        if (batch_req_parse(p + lead, n - lead, &j->r, err, sizeof err) != 0) j->error = strdup(err);
        j->key = key_of(j);
        if (!j->key) { cli_fail("out of memory"); goto end; }
    }
    // Resuming: the lines already done are left out (the done keys sorted once, each line's
    // looked up: a job of many thousand lines resumes at once).
    int skipped = 0;
    if (n_done) qsort(done, (size_t)n_done, sizeof *done, cmp_key);
    for (int i = 0; i < n_jobs; i++)
        if (n_done && bsearch(&jobs[i].key, done, (size_t)n_done, sizeof *done, cmp_key)) { jobs[i].record = strdup(""); skipped++; }
    // Appending to an earlier output: a last line cut short is ended first.
    int ends_mid_line = 0;
    FILE *prev = fopen(out, "rb");
    if (prev) { if (fseek(prev, -1, SEEK_END) == 0 && fgetc(prev) != '\n') ends_mid_line = 1; fclose(prev); }
    if (!(fo = fopen(out, n_done || skipped ? "ab" : "wb"))) { cli_fail("-o %s: cannot open for writing", out); goto end; }
    if (ends_mid_line && (n_done || skipped)) fputc('\n', fo);
    int n_ctx = (int)g.n_ctx;
    for (int i = 0; i < parallel; i++) {
        cli_gen one = g;
        if (i) one.n_threads = one.n_batch = 1;   // session 0 runs the steps; the others hold KV caches
        if (!(seqs[i].s = cli_gen_session(&one, m)) || !(seqs[i].logits = malloc((size_t)octet_vocab_size(m) * sizeof(float)))) goto end;
    }
    fprintf(stderr, "octet batch: %d lines (%d done before), %ld at a time on %ld thread%s\n", n_jobs, skipped, parallel, g.n_threads, g.n_threads > 1 ? "s" : "");
    int next_job = 0, written = 0, finished = skipped, tty = isatty(2);
    long gen_tokens = 0;
    double t_start = octet_time_ms();
    for (;;) {
        // Free sequences take the next lines; refusals become records at once.
        for (int i = 0; i < parallel; i++)
            while (!seqs[i].j && next_job < n_jobs) {
                job *j = &jobs[next_job++];
                if (j->record) continue;
                if (j->error || start(&seqs[i], j, m, &g, tmpl, n_default, n_ctx) != 0) { record_error(j); finished++; }
            }
        int c = 0;
        for (int i = 0; i < parallel; i++) {
            seq *q = &seqs[i];
            if (!q->j) continue;
            ss[c] = q->s; tok[c] = q->in_prompt ? q->prompt : &q->next; nt[c] = q->in_prompt ? q->n_prompt : 1; lg[c] = q->logits; who[c++] = i;
        }
        // Records go out in input order as soon as every earlier line has one.
        for (; written < n_jobs && jobs[written].record; written++)
            if (jobs[written].record[0] && (fprintf(fo, "%s\n", jobs[written].record) < 0 || fflush(fo) != 0)) { cli_fail("-o %s: write failed", out); goto end; }
        if (!c) break;
        if (octet_eval_batch(seqs[0].s, ss, c, tok, nt, lg) != 0) { cli_fail("%s", octet_last_error()); goto end; }
        for (int k = 0; k < c; k++) {
            seq *q = &seqs[who[k]];
            int before = q->n_gen;
            if (advance(q, m, n_ctx)) finished++;
            gen_tokens += q->n_gen - before;
        }
        if (tty) {
            double secs = (octet_time_ms() - t_start) / 1000;
            int w = 30, bar = n_jobs ? w * finished / n_jobs : w;
            fprintf(stderr, "\r[%.*s%*s] %d/%d lines, %.1f tok/s ", bar, "##############################", w - bar, "", finished, n_jobs, secs > 0 ? gen_tokens / secs : 0.0);
        }
    }
    if (tty) fputc('\n', stderr);
    double secs = (octet_time_ms() - t_start) / 1000;
    fprintf(stderr, "octet batch: %d lines written to %s, %ld tokens generated in %.1f s (%.1f tok/s)\n", n_jobs - skipped, out, gen_tokens, secs, secs > 0 ? gen_tokens / secs : 0.0);
    rc = 0;
end:
    if (fo && fclose(fo) != 0 && rc == 0) rc = cli_fail("-o %s: write failed", out);
    for (int i = 0; seqs && i < parallel; i++) {
        if (seqs[i].j) finish(&seqs[i], "length");
        octet_session_free(seqs[i].s);
        free(seqs[i].logits);
    }
    for (int i = 0; i < n_jobs; i++) { batch_req_free(&jobs[i].r); free(jobs[i].error); free(jobs[i].key); free(jobs[i].record); }
    for (int k = 0; k < n_done; k++) free(done[k]);
    free(done); free(jobs); free(seqs); free(ss); free(tok); free(nt); free(who); free(lg); free(text);
    octet_free(m);
    return rc;
}
