#include "cli.h"
#include "calibrate.h"
#include "convert.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    convert_options d;
    convert_options_default(&d);
    printf("usage: octet convert INPUT -o OUTPUT.octet [--type q8g32h|q8|q8g32|f16|bf16|f32] [--clip mse|max|pXX] [--tokenizer tokenizer.bin]\n"
           "                     [--calib TEXT|none] [--calib-tokens N] [--smooth A] [--keep-f16 N | --max-kl X] [--f16-budget PCT] [--f32-act N] [--gptq] [--act-quant mixed|sym|asym] [--asym-act ROLES] [--vocab-only] [--quiet]\n"
           "       octet convert --synthetic SHAPE -o OUTPUT.octet [--type ...]\n"
           "  INPUT: a .gguf file, a Hugging Face directory (config.json, tokenizer.json, *.safetensors),\n"
           "         or a llama2.c .bin checkpoint (needs --tokenizer); with --vocab-only and no INPUT,\n"
           "         --tokenizer tokenizer.bin alone gives a vocabulary-only file\n"
           "  --type   matrices as INT8 with one f16 scale per 32 weights (q8g32h, default: 8.5 bits per\n"
           "           weight, llama.cpp Q8_0's size), one f32 scale per 32 (q8g32) or per row (q8); rows\n"
           "           not a multiple of 32 stay q8; or unquantized f16/bf16/f32; norms stay f32\n"
           "  --clip   INT8 scales: mse (default) clips each row (grouped types: each group) where the squared\n"
           "           error is least; max uses max|row|/127; pXX the XX-th percentile of |row| (e.g. p99.9)\n"
           "  --calib  text the unquantized model runs on to calibrate (default %s: the text built into\n"
           "           the converter, disjoint from every evaluation text; none: off)\n"
           "  --calib-tokens N  tokens of it to run (default 512)\n"
           "  --smooth A  SmoothQuant alpha in [0, 1]: moves activation outliers into the weights, folded\n"
           "           into norm gains and v/up rows (default %g for q8g32h and q8g32, 0 (off) for q8)\n"
           "  --keep-f16 N  keep the N matrices whose quantization alone changes the output most (KL on\n"
           "           the first 128 calibration tokens) in f16; --max-kl X: keep the most sensitive\n"
           "           until the summed KL of the rest is at most X; --f16-budget PCT: only tensors that fit\n"
           "           in PCT%% more tensor data (alone: the most sensitive that fit)\n"
           "  --f32-act N  of the int8 matrices, mark the N whose KL drops most when their activations\n"
           "           stay f32 (measured too): they always run weight-only (no bytes; slower matmul)\n"
           "  --gptq   round INT8 matrices with GPTQ: each rounding error pushed onto the inputs not yet\n"
           "           rounded through the calibration inputs' X^T X (--gptq-damp D: dampening, default 0.01)\n"
           "  --act-quant MODE  how the file's runs (its --act int8) quantize activations: mixed\n"
           "           (default for q8g32h, q8g32): asymmetric (a scale and an offset per 32 inputs) for the\n"
           "           matrices of --asym-act, symmetric (a scale only) for the rest; asym: asymmetric for\n"
           "           all (least error, ~12%% slower decode); sym (default for q8): symmetric for all\n"
           "           (docs/QUALITY.md). The GPU runs all symmetric\n"
           "  --asym-act ROLES  the matrices mixed makes asymmetric: a comma list of head, ffn_down,\n"
           "           ffn_gate, ffn_up, attn_q, attn_k, attn_v, attn_output, or none (default %s)\n"
           "  --synthetic SHAPE  random weights of a real shape (%s), for speed tests only;\n"
           "           marked synthetic in the file (octet run warns)\n", d.calib ? d.calib : "none", (double)d.smooth, CONVERT_ASYM_ROLES, synthetic_shape_names());
}

// The integer value of flag argv[*i], at least lo (and at most 2^20); non-zero after an error.
static int int_flag(int argc, char **argv, int *i, long lo, int *out) {
    const char *flag = argv[*i], *v = cli_value(argc, argv, i);
    long t;
    if (!v || cli_int(flag, v, lo, 1 << 20, &t)) return 1;
    *out = (int)t;
    return 0;
}

int cmd_convert(int argc, char **argv) {
    convert_options o;
    convert_options_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { if (!(v = cli_value(argc, argv, &i))) return 1; o.output = v; }
        else if (!strcmp(a, "--tokenizer")) { if (!(v = cli_value(argc, argv, &i))) return 1; o.tokenizer = v; }
        else if (!strcmp(a, "--type")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (!strcmp(v, "q8")) o.type = OCTET_Q8;
            else if (!strcmp(v, "q8g32")) o.type = OCTET_Q8G32;
            else if (!strcmp(v, "q8g32h")) o.type = OCTET_Q8G32H;
            else if (!strcmp(v, "f16")) o.type = OCTET_F16;
            else if (!strcmp(v, "bf16")) o.type = OCTET_BF16;
            else if (!strcmp(v, "f32")) o.type = OCTET_F32;
            else return cli_fail("--type: unknown type '%s' (q8, q8g32, q8g32h, f16, bf16, f32)", v);
        }
        else if (!strcmp(a, "--clip")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (!strcmp(v, "mse")) o.clip = CLIP_MSE;
            else if (!strcmp(v, "max")) o.clip = CLIP_MAX;
            else if (v[0] == 'p') {
                char *end;
                double pct = strtod(v + 1, &end);
                if (end == v + 1 || *end || !(pct >= 50 && pct < 100)) return cli_fail("--clip: '%s' is not a percentile pXX with 50 <= XX < 100 (e.g. p99.9)", v);
                o.clip = CLIP_PCT; o.clip_pct = pct;
            }
            else return cli_fail("--clip: unknown method '%s' (mse, max, pXX)", v);
        }
        else if (!strcmp(a, "--calib")) { if (!(v = cli_value(argc, argv, &i))) return 1; o.calib = !strcmp(v, "none") ? NULL : v; }
        else if (!strcmp(a, "--calib-tokens")) { if (int_flag(argc, argv, &i, 16, &o.calib_tokens)) return 1; }
        else if (!strcmp(a, "--smooth")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            double al;
            if (cli_float(a, v, 0, 1, &al)) return 1;
            o.smooth = (float)al; o.smooth_set = 1;
        }
        else if (!strcmp(a, "--keep-f16")) { if (int_flag(argc, argv, &i, 0, &o.keep_f16)) return 1; }
        else if (!strcmp(a, "--act-quant")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (!strcmp(v, "asym")) o.act_asym = ACT_ASYM;
            else if (!strcmp(v, "sym")) o.act_asym = ACT_SYM;
            else if (!strcmp(v, "mixed")) o.act_asym = ACT_MIXED;
            else return cli_fail("--act-quant: unknown mode '%s' (sym, asym, mixed)", v);
        }
        else if (!strcmp(a, "--asym-act")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (convert_asym_roles(v, &o.asym_roles) != 0) return cli_fail("%s", octet_last_error());
        }
        else if (!strcmp(a, "--f32-act")) { if (int_flag(argc, argv, &i, 0, &o.f32_act)) return 1; }
        else if (!strcmp(a, "--gptq")) o.gptq = 1;
        else if (!strcmp(a, "--gptq-damp")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (cli_float(a, v, 1e-6, 10, &o.gptq_damp)) return 1;
            o.gptq = 1;
        }
        else if (!strcmp(a, "--max-kl")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            if (cli_float(a, v, 0, 1e9, &o.max_kl)) return 1;
        }
        else if (!strcmp(a, "--f16-budget")) {
            if (!(v = cli_value(argc, argv, &i))) return 1;
            char *end;
            o.f16_budget = strtod(v, &end);
            if (end > v && *end == '%') end++;
            if (end == v || *end || !(o.f16_budget >= 0 && o.f16_budget <= 1000)) return cli_fail("--f16-budget: '%s' is not a percentage from 0 to 1000", v);
        }
        else if (!strcmp(a, "--synthetic")) { if (!(v = cli_value(argc, argv, &i))) return 1; o.synthetic = v; }
        else if (!strcmp(a, "--vocab-only")) o.vocab_only = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) o.quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_fail("convert: unknown flag '%s'", a);
        else if (!o.input) o.input = a;
        else return cli_fail("convert: unexpected argument '%s' (one INPUT only)", a);
    }
    if (o.synthetic && (o.input || o.vocab_only || o.tokenizer)) return cli_fail("convert: --synthetic takes no INPUT, --tokenizer or --vocab-only");
    if (!o.input && !o.synthetic && !(o.vocab_only && o.tokenizer)) return cli_fail("convert: missing INPUT (octet convert INPUT -o OUTPUT.octet)");
    if (!o.output) return cli_fail("convert: missing -o OUTPUT.octet");
    int mixed = o.keep_f16 > 0 || o.max_kl >= 0 || o.f16_budget >= 0 || o.f32_act > 0;
    if (mixed && !o.calib) return cli_fail("convert: --keep-f16/--max-kl/--f16-budget/--f32-act measure sensitivity on calibration text: give --calib TEXT");
    if (o.gptq && !o.calib) return cli_fail("convert: --gptq rounds against calibration inputs: give --calib TEXT");
    if (o.gptq && !octet_is_q8(o.type)) return cli_fail("convert: --gptq is for the INT8 types (q8, q8g32, q8g32h)");
    if (o.calib && strcmp(o.calib, OCTET_CALIB_BUILTIN) && access(o.calib, R_OK) != 0 && (o.smooth > 0 || mixed || o.gptq)) return cli_fail("--calib %s: cannot read the calibration text", o.calib);
    if (octet_convert(&o) != 0) return cli_fail("%s", octet_last_error());
    return 0;
}
