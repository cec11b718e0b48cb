// octet bench: llama-bench-style throughput table. pp N = one prompt of N tokens from an empty
// context; tg N = N single-token steps (greedy, each feeding the next); tg N plB (-pl) = B
// sequences decoding together, N steps of B tokens after a 64-token prompt each, aggregate tok/s
// (llama-batched-bench's S_TG). Random token ids.
#include "cli.h"
#include "cmd_options.h"
#include "kernels.h"
#include "model.h"
#include "octet.h"
#include "sampler.h"
#include "threadpool.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef OCTET_CUDA
#include "octet_cuda.h"
#endif

#define MAX_LIST 16

static void help(void) {
    printf("usage: octet bench -m FILE [options]\n"
           "  -p LIST      prompt sizes, comma-separated (default 128,512; 0 = none)\n"
           "  -n LIST      generation lengths (default 128; 0 = none)\n"
           "  -t LIST      thread counts for the CPU (default 1,2)\n"
           "  -pl LIST     batched decode: each B decodes B sequences together (after a 64-token prompt\n"
           "               each) for every -n, aggregate tok/s (default none; CPU)\n"
           "  -r N         repetitions (default 5), after one warm-up run of each test\n"
           "  -o FMT       md (default), json or csv\n"
           "  --act LIST   activation modes: int8, int8-sym, int8-asym, int8-row, f32 (default int8)\n"
           "  --device D   cpu (default) or cuda\n"
           "  -b N         prompt batch size (default: the largest -p)\n"
           "  --mmap, -mmp 1   map the model file instead of reading it into memory (default: read, -mmp 0)\n");
}

static int parse_list(const char *flag, const char *v, long lo, long hi, long *out, int *n) {
    *n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_LIST) return cli_fail("%s: at most %d values", flag, MAX_LIST), -1;
        if (cli_int(flag, tok, lo, hi, &out[(*n)++])) return -1;
    }
    if (!*n) return cli_fail("%s: empty list", flag), -1;
    return 0;
}

typedef struct { const char *test; int threads, act; double mean, sd; int par; } result;

// One measurement: tokens per second of a pp or tg test on a fresh (reset) session.
static double run_once(octet_session *s, int vocab, int pp, int tg, uint64_t *seed) {
    octet_session_reset(s);
    int n = pp ? pp : 1;
    int32_t *ids = malloc((size_t)n * sizeof *ids), next = 0;
    for (int i = 0; i < n; i++) { *seed = *seed * 6364136223846793005ull + 1442695040888963407ull; ids[i] = (int32_t)((*seed >> 33) % (uint64_t)vocab); }
    double t0 = octet_time_ms(), t = -1;
    if (pp) {
        if (octet_eval_greedy(s, ids, pp, &next) == 0) t = octet_time_ms() - t0;
    } else {
        int32_t tok = ids[0];
        int ok = 1;
        for (int i = 0; i < tg && ok; i++) ok = octet_eval_greedy(s, &tok, 1, &tok) == 0;
        if (ok) t = octet_time_ms() - t0;
    }
    free(ids);
    return t > 0 ? (pp ? pp : tg) * 1000.0 / t : -1;
}

// Batched decode: B sessions each given a 64-token prompt (not timed), then tg steps that
// evaluate one token of each together (octet_eval_batch), each sequence's next token its greedy
// choice. Tokens per second of all B; -1 on failure.
#define PL_PROMPT 64
static double run_batched(octet_session *const *s, int B, int vocab, int tg, uint64_t *seed) {
    int32_t *ids = malloc((size_t)B * PL_PROMPT * sizeof *ids), *tok = malloc((size_t)B * sizeof *tok);
    const int32_t **tp = malloc((size_t)B * sizeof *tp);
    int *n = malloc((size_t)B * sizeof *n);
    float **lp = malloc((size_t)B * sizeof *lp), *logits = malloc((size_t)B * vocab * sizeof *logits);
    double t = -1;
    if (ids && tok && tp && n && lp && logits) {
        for (int i = 0; i < B * PL_PROMPT; i++) { *seed = *seed * 6364136223846793005ull + 1442695040888963407ull; ids[i] = (int32_t)((*seed >> 33) % (uint64_t)vocab); }
        for (int b = 0; b < B; b++) { octet_session_reset(s[b]); tp[b] = ids + (size_t)b * PL_PROMPT; n[b] = PL_PROMPT; lp[b] = logits + (size_t)b * vocab; }
        int ok = octet_eval_batch(NULL, s, B, tp, n, lp) == 0;
        double t0 = octet_time_ms();
        for (int k = 0; k < tg && ok; k++) {
            for (int b = 0; b < B; b++) { tok[b] = octet_argmax(lp[b], vocab); tp[b] = &tok[b]; n[b] = 1; }
            ok = octet_eval_batch(NULL, s, B, tp, n, lp) == 0;
        }
        if (ok) t = octet_time_ms() - t0;
    }
    free(ids); free(tok); free(tp); free(n); free(lp); free(logits);
    return t > 0 ? (double)B * tg * 1000.0 / t : -1;
}

// The CPU's memory read bandwidth with n threads: each reads its share of 256 MiB (8x a large
// L3) either with memchr for a byte that is not there (libc's widest loads, one stream) or with
// the kernel set's int8 dot of the share's two halves (two streams, as the GEMV reads several
// rows); the best pass of either. (On the 2-core Xeon of 2026-12-03 the two streams read 31.8
// GB/s where memchr read 22.9, and decode itself read more than memchr's figure.)
typedef struct { const char *p; size_t n; int two; const void *found[256]; int32_t dot[256]; } bw_job;

static void bw_worker(void *p, int ith, int nth) {
    bw_job *j = p;
    size_t i0 = j->n * ith / nth, i1 = j->n * (ith + 1) / nth, half = (i1 - i0) / 2;
    if (!j->two) j->found[ith] = memchr(j->p + i0, 2, i1 - i0);
    else j->dot[ith] = octet_kernels()->dot_i8((const int8_t *)j->p + i0, (const int8_t *)j->p + i0 + half, (int)half);
}

static double cpu_bandwidth(int threads) {
    size_t bytes = (size_t)256 << 20;
    bw_job *j = calloc(1, sizeof *j);
    char *buf = malloc(bytes);
    octet_threadpool *tp = threads <= 256 ? octet_threadpool_new(threads) : NULL;
    double best = 0;
    if (j && buf && tp) {
        memset(buf, 1, bytes);
        j->p = buf;
        j->n = bytes;
        for (int pass = 0; pass < 8; pass++) {  // the first of each kind warms up
            j->two = pass % 2;   // (two streams leave an odd share's last byte unread: nothing to count)
            double t = octet_time_ms();
            octet_threadpool_run(tp, bw_worker, j);
            t = octet_time_ms() - t;
            if (pass > 1 && t > 0 && bytes / t / 1e6 > best) best = bytes / t / 1e6;
        }
    }
    if (tp) octet_threadpool_free(tp);
    free(buf); free(j);
    return best;
}

// The CPU's INT8 multiply-add rate with n threads: each runs the kernel set's register-only probe
// (its matmuls' dot instruction in 8 independent chains) for about 0.1 s; best of 3, G MAC/s.
typedef struct { long steps; uint64_t macs[256]; } mac_job;

static void mac_worker(void *p, int ith, int nth) {
    (void)nth;
    mac_job *j = p;
    int8_t v[OCTET_PROBE_BYTES];
    for (int i = 0; i < OCTET_PROBE_BYTES; i++) v[i] = (int8_t)(i % 7 - 3);
    int32_t check;
    j->macs[ith] = octet_kernels()->mac_probe(v, j->steps, &check);
}

static double cpu_int8_macs(int threads) {
    octet_threadpool *tp = threads <= 256 ? octet_threadpool_new(threads) : NULL;
    mac_job *j = calloc(1, sizeof *j);
    double best = 0;
    if (tp && j) {
        j->steps = 1 << 12;
        for (double t = 0; t < 30 && j->steps < (1L << 40);) {  // steps for ~0.1 s
            j->steps *= 2;
            t = octet_time_ms();
            octet_threadpool_run(tp, mac_worker, j);
            t = octet_time_ms() - t;
            if (t >= 30) j->steps = (long)(j->steps * (100.0 / t));
        }
        for (int pass = 0; pass < 3; pass++) {
            double t = octet_time_ms();
            octet_threadpool_run(tp, mac_worker, j);
            t = octet_time_ms() - t;
            uint64_t macs = 0;
            for (int i = 0; i < threads; i++) macs += j->macs[i];
            if (t > 0 && macs / t / 1e6 > best) best = macs / t / 1e6;
        }
    }
    if (tp) octet_threadpool_free(tp);
    free(j);
    return best;
}

// The machine's roofs at one thread count, measured once.
typedef struct { int threads; double gbps, gmacs; } roof;

// The roofs of every thread count the results used (compute only for files with int8 matrices).
static int cpu_roofs(const result *res, int n_res, int int8, roof *out) {
    int n = 0;
    for (int i = 0; i < n_res; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= out[k].threads == res[i].threads;
        if (seen || n == MAX_LIST) continue;
        out[n] = (roof){res[i].threads, cpu_bandwidth(res[i].threads), int8 ? cpu_int8_macs(res[i].threads) : 0};
        n++;
    }
    return n;
}
static const roof *roof_of(const roof *r, int n, int threads) {
    for (int i = 0; i < n; i++) if (r[i].threads == threads) return &r[i];
    return NULL;
}

// A test's share of its roof, in percent: decode's weight bytes per token against the read
// bandwidth, prefill's weight multiply-adds per token against the compute probe (attention's
// are not counted); < 0: no roof measured.
static double share(const result *t, const roof *r, uint64_t bytes, uint64_t macs) {
    if (!r) return -1;
    if (t->test[0] == 't') return r->gbps > 0 ? 100.0 * t->mean / t->par * bytes / 1e9 / r->gbps : -1;   // (a batched step reads the weights once for par tokens)
    return r->gmacs > 0 ? 100.0 * t->mean * macs / 1e9 / r->gmacs : -1;
}

// After a CPU run (markdown): each thread count's roofs and each test's share of them.
static void print_roofs(const roof *r, int n_roofs, const result *res, int n_res, uint64_t bytes, uint64_t macs) {
    for (int i = 0; i < n_roofs; i++) {
        const char *s = r[i].threads > 1 ? "s" : "";
        printf("\nCPU memory read bandwidth, %d thread%s (256 MiB: memchr or two int8 dot streams, best of 6): %.1f GB/s\n", r[i].threads, s, r[i].gbps);
        if (r[i].gmacs > 0)
            printf("CPU INT8 compute, %d thread%s (the %s set's multiply-add loop on registers, best of 3): %.1f G MAC/s\n", r[i].threads, s, octet_kernels()->name, r[i].gmacs);
        for (int k = 0; k < n_res; k++) {
            if (res[k].threads != r[i].threads) continue;
            double sh = share(&res[k], &r[i], bytes, macs);
            if (sh < 0) continue;
            if (res[k].test[0] == 't')
                printf("%s, %d thread%s: %.1f GB/s of weights read = %.0f%% of it (limit %.1f tok/s)\n", res[k].test, r[i].threads, s, res[k].mean / res[k].par * bytes / 1e9, sh,
                       r[i].gbps * 1e9 / bytes * res[k].par);
            else
                printf("%s, %d thread%s: %.1f G MAC/s in the matmuls (%.1f M per token) = %.0f%% of it (limit %.0f tok/s)\n", res[k].test, r[i].threads, s,
                       res[k].mean * macs / 1e9, macs / 1e6, sh, r[i].gmacs * 1e9 / macs);
        }
    }
}

#ifdef OCTET_CUDA
// After a GPU run: the card's copy bandwidth, the share of it each decode test reached (weight
// bytes per token), and cuBLASLt's INT8 GEMM against octet's on the model's matmul shapes.
static void gpu_references(const octet_model *m, const result *res, int n_res, uint64_t bytes, int m_tokens) {
    if (m->tok_embd != m->output) bytes -= m->tok_embd->nbytes;  // decode reads one embedding row
    double bw = octet_cuda_bandwidth();
    if (bw <= 0) { fprintf(stderr, "bench: %s\n", octet_last_error()); return; }
    printf("\nGPU memory bandwidth (1 GiB device-to-device copy, bytes read + written): %.0f GB/s\n", bw);
    for (int i = 0; i < n_res; i++)
        if (res[i].test[0] == 't')
            printf("%s: %.0f GB/s of weights read = %.0f%% of it\n", res[i].test, res[i].mean * bytes / 1e9, 100.0 * res[i].mean * bytes / 1e9 / bw);
    const octet_hparams *hp = &m->hp;
    int dim = (int)hp->dim, kvd = (int)hp->kv_dim, hid = (int)hp->hidden_dim;
    if (m_tokens < 16) m_tokens = 512;
    int shapes[4][3] = {{m_tokens, dim + 2 * kvd, dim}, {m_tokens, dim, dim}, {m_tokens, 2 * hid, dim}, {m_tokens, dim, hid}};
    static const char *names[4] = {"q|k|v", "o", "gate|up", "down"};
    printf("\n| matmul | m x n x k | cuBLASLt INT8 (int32 out) | octet IMMA, int8 (scale per 32) | / cuBLASLt | octet IMMA, int8-row (scale per token) | / cuBLASLt |\n"
           "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < 4; i++) {
        double lt = 0, im = 0, ir = 0;
        if (octet_cuda_gemm_reference(shapes[i][0], shapes[i][1], shapes[i][2], &lt, &im, &ir) != 0) { fprintf(stderr, "bench: %s\n", octet_last_error()); return; }
        double ops = 2.0 * shapes[i][0] * shapes[i][1] * shapes[i][2];
        printf("| %s | %d x %d x %d | %.1f TOPS (%.1f us) | %.1f TOPS (%.1f us) | %.0f%% | %.1f TOPS (%.1f us) | %.0f%% |\n", names[i], shapes[i][0], shapes[i][1],
               shapes[i][2], ops / lt / 1e9, lt * 1e3, ops / im / 1e9, im * 1e3, 100.0 * lt / im, ops / ir / 1e9, ir * 1e3, 100.0 * lt / ir);
    }
}
#endif

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *fmt = "md", *v;
    long pps[MAX_LIST] = {128, 512}, tgs[MAX_LIST] = {128}, threads[MAX_LIST] = {1, 2}, reps = 5, batch = 0, pls[MAX_LIST] = {0};
    int n_pp = 2, n_tg = 1, n_th = 2, n_pl = 0, acts[4] = {OCTET_ACT_INT8}, n_act = 1, device = OCTET_DEVICE_CPU, use_mmap = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
#define VAL() if (!(v = cli_value(argc, argv, &i))) return 1
        else if (!strcmp(a, "-m")) { VAL(); model = v; }
        else if (!strcmp(a, "-p")) { VAL(); if (parse_list(a, v, 0, 16384, pps, &n_pp)) return 1; }
        else if (!strcmp(a, "-n")) { VAL(); if (parse_list(a, v, 0, 16384, tgs, &n_tg)) return 1; }
        else if (!strcmp(a, "-t")) { VAL(); if (parse_list(a, v, 1, 256, threads, &n_th)) return 1; }
        else if (!strcmp(a, "-pl") || !strcmp(a, "-npl")) { VAL(); if (parse_list(a, v, 1, 256, pls, &n_pl)) return 1; }
        else if (!strcmp(a, "-r")) { VAL(); if (cli_int(a, v, 1, 1000, &reps)) return 1; }
        else if (!strcmp(a, "-b")) { VAL(); if (cli_int(a, v, 1, 16384, &batch)) return 1; }
        else if (!strcmp(a, "-o")) {
            VAL();
            if (strcmp(v, "md") && strcmp(v, "json") && strcmp(v, "csv")) return cli_fail("-o: unknown format '%s' (md, json, csv)", v);
            fmt = v;
        }
        else if (!strcmp(a, "--act")) {
            VAL();
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            n_act = 0;
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (n_act == 4) return cli_fail("--act: too many modes");
                if ((acts[n_act++] = octet_act_mode(t)) < 0) return cli_fail("--act: unknown mode '%s' (int8, int8-sym, int8-asym, int8-row, f32)", t);
            }
            if (!n_act) return cli_fail("--act: empty list");
        }
        else if (!strcmp(a, "--device")) { VAL(); if (cli_device(v, &device)) return 1; }
        else if (!strcmp(a, "--mmap")) use_mmap = 1;
        else if (!strcmp(a, "--no-mmap")) use_mmap = 0;
        else if (!strcmp(a, "-mmp") || !strcmp(a, "--mmap-mode")) { long l; VAL(); if (cli_int(a, v, 0, 1, &l)) return 1; use_mmap = (int)l; }
        else return cli_fail("bench: unknown argument '%s' (octet bench --help)", a);
#undef VAL
    }
    if (!model) return cli_fail("bench: missing -m FILE");
    if (device == OCTET_DEVICE_CUDA && !octet_has_cuda()) return cli_fail("--device cuda: this octet was built without CUDA (rebuild with make CUDA=1)");
    if (device == OCTET_DEVICE_CUDA && n_pl) return cli_fail("-pl: batched decode runs on the CPU only for now");
    long max_pp = 1;
    for (int i = 0; i < n_pp; i++) if (pps[i] > max_pp) max_pp = pps[i];
    long max_tg = 1;
    for (int i = 0; i < n_tg; i++) if (tgs[i] > max_tg) max_tg = tgs[i];
    octet_model *m = octet_load_mode(model, use_mmap ? OCTET_LOAD_MMAP : OCTET_LOAD_MEMORY);
    if (!m) return cli_fail("%s", octet_last_error());
    if (max_pp > octet_context_length(m) || max_tg + (n_pl ? PL_PROMPT : 0) > octet_context_length(m)) {
        octet_free(m);
        return cli_fail("bench: a test of %ld tokens exceeds the model's context (%d)", max_pp > max_tg ? max_pp : max_tg, octet_context_length(m));
    }
    // Name the mode that runs: a file converted with --act-quant asym runs int8 as int8-asym.
    for (int i = 0; i < n_act && device == OCTET_DEVICE_CPU; i++)
        if (octet_act_resolve(m, acts[i]) == OCTET_ACT_INT8_ASYM) acts[i] = OCTET_ACT_INT8_ASYM;
    uint64_t bytes = 0, params = 0, macs = 0;
    int int8 = 0;  // any int8 matrix: otherwise every product runs in f32, whatever --act says
    for (uint64_t i = 0; i < m->file.n_tensors; i++) {
        const octet_tensor *t = &m->file.tensors[i];
        bytes += t->nbytes; params += t->rows * t->cols;
        if (t->n_dims == 2 && t != m->tok_embd) macs += t->rows * t->cols;
        int8 |= octet_is_q8(t->dtype) && t->n_dims == 2;
    }
    if (m->tok_embd == m->output) macs += m->tok_embd->rows * m->tok_embd->cols;  // the tied LM head
    for (int i = 0; i < n_act && device == OCTET_DEVICE_CPU && !int8; i++) acts[i] = OCTET_ACT_F32;
    char backend[160];
    snprintf(backend, sizeof backend, "cpu %s", octet_kernels()->name);
#ifdef OCTET_CUDA
    if (device == OCTET_DEVICE_CUDA) { char g[128]; octet_cuda_describe(g, sizeof g); snprintf(backend, sizeof backend, "cuda %.*s", (int)(strcspn(g, ",")), g); }
#endif
    int n_dev_threads = device == OCTET_DEVICE_CUDA ? 1 : n_th;
    for (int ti = 0; ti < n_dev_threads; ti++) cli_warn_threads(threads[ti], 1);
    result *res = calloc((size_t)n_dev_threads * n_act * (n_pp + n_tg + n_pl * n_tg), sizeof *res);
    int n_res = 0, rc = 1;
    char (*names)[32] = calloc((size_t)(n_pp + n_tg + n_pl * n_tg), sizeof *names);
    if (!res || !names) { cli_fail("out of memory"); goto done; }
    uint64_t seed = 42;
    for (int ti = 0; ti < n_dev_threads; ti++)
        for (int ai = 0; ai < n_act; ai++) {
            long ctx = (max_pp > max_tg ? max_pp : max_tg) + 1;
            octet_session_params sp = {(int)ctx, (int)(batch ? batch : max_pp), (int)threads[ti], acts[ai], 0, device};
            octet_session *s = octet_session_new(m, &sp);
            if (!s) { cli_fail("%s", octet_last_error()); goto done; }
            for (int k = 0; k < n_pp + n_tg; k++) {
                int pp = k < n_pp ? (int)pps[k] : 0, tg = k < n_pp ? 0 : (int)tgs[k - n_pp];
                if ((k < n_pp && !pp) || (k >= n_pp && !tg)) continue;
                snprintf(names[k], sizeof names[k], pp ? "pp%d" : "tg%d", pp ? pp : tg);
                fprintf(stderr, "bench: %s, %s, %ld threads, %s: warm-up", names[k], device == OCTET_DEVICE_CUDA ? "cuda" : "cpu", threads[ti], octet_act_name(acts[ai]));
                double w = run_once(s, octet_vocab_size(m), pp, tg, &seed), sum = 0, sq = 0;
                if (w < 0) { fputc('\n', stderr); cli_fail("%s", octet_last_error()); octet_session_free(s); goto done; }
                for (long r = 0; r < reps; r++) {
                    double x = run_once(s, octet_vocab_size(m), pp, tg, &seed);
                    if (x < 0) { fputc('\n', stderr); cli_fail("%s", octet_last_error()); octet_session_free(s); goto done; }
                    sum += x; sq += x * x;
                    fprintf(stderr, " %.1f", x);
                }
                fputc('\n', stderr);
                double mean = sum / reps, var = reps > 1 ? (sq - sum * sum / reps) / (reps - 1) : 0;
                res[n_res++] = (result){names[k], (int)threads[ti], acts[ai], mean, var > 0 ? sqrt(var) : 0, 1};
            }
            octet_session_free(s);
            // Batched decode: session 0 runs every step on this thread count (its batch holds
            // all B tokens); the others hold their KV caches.
            for (int pi = 0; pi < n_pl; pi++)
                for (int gi = 0; gi < n_tg; gi++) {
                    int B = (int)pls[pi], tg = (int)tgs[gi], k = n_pp + n_tg + pi * n_tg + gi;
                    if (!tg) continue;
                    octet_session **ss = calloc((size_t)B, sizeof *ss);
                    if (!ss) { cli_fail("out of memory"); goto done; }
                    int ok = 1;
                    for (int b = 0; b < B && ok; b++) {
                        octet_session_params bp = {PL_PROMPT + tg + 1, b ? 1 : (B > PL_PROMPT ? B : PL_PROMPT), b ? 1 : (int)threads[ti], acts[ai], 0, device};
                        ok = (ss[b] = octet_session_new(m, &bp)) != NULL;
                    }
                    snprintf(names[k], sizeof names[k], "tg%d pl%d", tg, B);
                    fprintf(stderr, "bench: %s, cpu, %ld threads, %s: warm-up", names[k], threads[ti], octet_act_name(acts[ai]));
                    double sum = 0, sq = 0;
                    ok = ok && run_batched(ss, B, octet_vocab_size(m), tg, &seed) > 0;
                    for (long r = 0; r < reps && ok; r++) {
                        double x = run_batched(ss, B, octet_vocab_size(m), tg, &seed);
                        ok = x > 0;
                        sum += x; sq += x * x;
                        fprintf(stderr, " %.1f", x);
                    }
                    fputc('\n', stderr);
                    for (int b = 0; b < B; b++) octet_session_free(ss[b]);
                    free(ss);
                    if (!ok) { cli_fail("%s", octet_last_error()); goto done; }
                    double mean = sum / reps, var = reps > 1 ? (sq - sum * sum / reps) / (reps - 1) : 0;
                    res[n_res++] = (result){names[k], (int)threads[ti], acts[ai], mean, var > 0 ? sqrt(var) : 0, B};
                }
        }
    uint64_t nlen = 0;
    const char *mname = octet_kv_str(&m->file, "general.name", &nlen);
    char label[128];
    snprintf(label, sizeof label, "%.*s%s", mname ? (int)nlen : 0, mname ? mname : "", octet_model_is_synthetic(m) ? " (synthetic)" : "");
    uint64_t dec_bytes = bytes - (m->tok_embd != m->output ? m->tok_embd->nbytes : 0);  // decode reads one embedding row
    roof roofs[MAX_LIST];
    int n_roofs = device == OCTET_DEVICE_CPU && strcmp(fmt, "csv") ? cpu_roofs(res, n_res, int8, roofs) : 0;
    if (!strcmp(fmt, "md")) {
        printf("| model | size | params | backend | threads | act | test | t/s |\n|---|---|---|---|---|---|---|---|\n");
        for (int i = 0; i < n_res; i++)
            printf("| %s | %.1f MiB | %.1f M | %s | %d | %s | %s | %.1f ± %.1f |\n", label, bytes / 1048576.0, params / 1e6, backend,
                   device == OCTET_DEVICE_CUDA ? 0 : res[i].threads, octet_act_name(res[i].act), res[i].test, res[i].mean, res[i].sd);
    } else if (!strcmp(fmt, "csv")) {
        printf("model,size_bytes,params,backend,threads,act,test,tok_s,stddev\n");
        for (int i = 0; i < n_res; i++)
            printf("\"%s\",%llu,%llu,\"%s\",%d,%s,%s,%.2f,%.2f\n", label, (unsigned long long)bytes, (unsigned long long)params, backend,
                   device == OCTET_DEVICE_CUDA ? 0 : res[i].threads, octet_act_name(res[i].act), res[i].test, res[i].mean, res[i].sd);
    } else {
        printf("[");
        for (int i = 0; i < n_res; i++) {
            printf("%s\n  {\"model\":\"%s\",\"size_bytes\":%llu,\"params\":%llu,\"backend\":\"%s\",\"threads\":%d,\"act\":\"%s\",\"test\":\"%s\",\"tok_s\":%.2f,\"stddev\":%.2f",
                   i ? "," : "", label, (unsigned long long)bytes, (unsigned long long)params, backend, device == OCTET_DEVICE_CUDA ? 0 : res[i].threads,
                   octet_act_name(res[i].act), res[i].test, res[i].mean, res[i].sd);
            if (res[i].par > 1 || strstr(res[i].test, " pl")) printf(",\"n_parallel\":%d", res[i].par);
            const roof *r = roof_of(roofs, n_roofs, res[i].threads);
            if (r) {  // the roofs of this thread count and the test's share of its own (decode: bandwidth, prefill: compute)
                printf(",\"weight_bytes_per_token\":%llu,\"weight_macs_per_token\":%llu,\"probe_read_gbps\":%.2f", (unsigned long long)dec_bytes, (unsigned long long)macs, r->gbps);
                if (r->gmacs > 0) printf(",\"probe_int8_gmacs\":%.2f", r->gmacs);
                double sh = share(&res[i], r, dec_bytes, macs);
                if (sh >= 0) printf(",\"roof_share_pct\":%.1f", sh);
            }
            printf("}");
        }
        printf("\n]\n");
    }
    if (!strcmp(fmt, "md")) print_roofs(roofs, n_roofs, res, n_res, dec_bytes, macs);
#ifdef OCTET_CUDA
    if (device == OCTET_DEVICE_CUDA && !strcmp(fmt, "md")) gpu_references(m, res, n_res, bytes, (int)max_pp);
#endif
    rc = 0;
done:
    free(res); free(names);
    octet_free(m);
    return rc;
}
