#!/usr/bin/env bash
# Builds the fuzz harnesses' data (tiny models, vocabularies) and seed corpora under build/fuzz
# from the synthetic seeds (make_seeds) and real files in ../shared and tests/fixtures, cut
# small. usage: tests/fuzz/seeds.sh OCTET MAKE_SEEDS
set -euo pipefail
cd "$(dirname "$0")/../.."
OCTET=$1 MAKE_SEEDS=$2
SH=${OCTET_SHARED:-../shared}
D=build/fuzz/data S=build/fuzz/seeds
rm -rf "$S" && mkdir -p "$D" "$S"
"$MAKE_SEEDS" "$D" "$S" "$SH/models/stories260K/tok512.bin"
# The harnesses' fixed files. Those made from ../shared are left out without it (issue 40):
# the harnesses that need them (tests/fuzz/needs) are then skipped by name.
has() { [ -e "$SH/$1" ]; }
"$OCTET" convert "$D/tiny.gguf" -o "$D/tiny-bpe.octet" --quiet --calib none
if has models/stories260K/stories260K.bin; then
    "$OCTET" convert "$SH/models/stories260K/stories260K.bin" --tokenizer "$SH/models/stories260K/tok512.bin" -o "$D/stories260K.q8.octet" --quiet --calib none
fi
for v in llama-spm gpt-2; do has data/tokenizer/ggml-vocab-$v.gguf && "$OCTET" convert --vocab-only "$SH/data/tokenizer/ggml-vocab-$v.gguf" -o "$D/vocab-$v.octet" --quiet; done
if has data/tokenizer-extra/ggml-vocab-deepseek-coder.gguf; then
    "$OCTET" convert --vocab-only "$SH/data/tokenizer-extra/ggml-vocab-deepseek-coder.gguf" -o "$D/vocab-deepseek-coder.octet" --quiet
fi
# fuzz_hparams' valid descriptions: the family fixtures, in several types.
"$OCTET" convert tests/fixtures/arch/gemma3 -o "$D/hp-gemma3.octet" --type q8g32h --quiet --calib none
"$OCTET" convert tests/fixtures/arch/gemma2 -o "$D/hp-gemma2.octet" --type q8 --quiet --calib none
"$OCTET" convert tests/fixtures/arch/phi3 -o "$D/hp-phi3.octet" --type f32 --quiet --calib none
"$OCTET" convert tests/fixtures/arch/qwen3 -o "$D/hp-qwen3.octet" --type q8g32 --quiet --calib none
"$OCTET" convert tests/fixtures/arch/mistral-sliding -o "$D/hp-mistral.octet" --type f16 --quiet --calib none
# Its seeds: each base as it is, and each of its first 48 model.* values set to 2^31 and to 3e9
# (the audit's window; record: slot with the model-keys bit, operation 1 = table value, index).
mkdir -p "$S/hparams"
for b in 0 1 2 3 4; do
    printf "\\x$(printf %02x $b)" > "$S/hparams/base-$b"
    for k in $(seq 0 47); do
        for v in 30 31; do
            printf "\\x$(printf %02x $b)\\x$(printf %02x $k)\\x80\\x01\\x$(printf %02x $v)\\x00\\x00\\x00" > "$S/hparams/b$b-k$k-v$v"
        done
    done
done
# octet batch's job lines.
mkdir -p "$S/batch_line"
printf '%s\n' '{"id":"a","prompt":"Hello","max_tokens":8,"temperature":0.7,"seed":3,"stop":["\n","."]}' \
    '{"id":7,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi \u00e9"}],"top_k":40,"top_p":0.9,"min_p":0.05}' \
    '{"prompt":"x","bogus":1}' 'not json' '' '{"prompt":null,"messages":null}' > "$S/batch_line/lines"
# .octet files: the tiny model in every type, a real one, and a vocabulary cut short.
mkdir -p "$S/octet_file"
for t in q8 q8g32 f16 bf16 f32; do "$OCTET" convert "$D/tiny.gguf" -o "$S/octet_file/tiny-$t.octet" --type $t --quiet --calib none; done
cp "$D"/hp-*.octet "$S/octet_file/"
[ -e "$D/stories260K.q8.octet" ] && cp "$D/stories260K.q8.octet" "$S/octet_file/"
[ -e "$D/vocab-llama-spm.octet" ] && head -c 65536 "$D/vocab-llama-spm.octet" > "$S/octet_file/vocab-cut.octet"
# GGUF: the fixture with every quant type, and real vocabularies cut short.
cp tests/fixtures/quant-types.gguf "$S/gguf/"
for v in llama-spm gpt-2 phi-3; do has data/tokenizer/ggml-vocab-$v.gguf && head -c 32768 "$SH/data/tokenizer/ggml-vocab-$v.gguf" > "$S/gguf/vocab-$v-cut.gguf"; done
cp tests/fixtures/arch/phi3.gguf tests/fixtures/arch/qwen3.gguf "$S/gguf/"   # fused tensors, rope factors, q/k norms
# Hugging Face: the model-family fixtures (gemma3, qwen3, phi3), the four parts joined.
for f in gemma3 qwen3 phi3; do
    a=tests/fixtures/arch/$f sep=$'\n--octet-part--\n'
    { cat "$a/config.json"; printf '%s' "$sep"; cat "$a/tokenizer.json"; printf '%s' "$sep"; cat "$a/tokenizer_config.json"; printf '%s' "$sep"; cat "$a/model.safetensors"; } > "$S/hf/arch-$f"
done
# JSON: the chat-template fixture cut short, and real requests from the tokenizer tests' texts.
head -c 8192 tests/fixtures/chat-templates.json > "$S/json/chat-templates-cut.json"
# Tokenizer: the reference test inputs (a selector byte picks the vocabulary and the mode).
mkdir -p "$S/tokenizer" "$S/chat_load"
i=0
for f in $(ls "$SH"/data/tokenizer/*.inp 2>/dev/null); do
    awk -v RS='\n__ggml_vocab_test__\n' -v dir="$S/tokenizer" -v base=$i 'length($0) < 400 { f = sprintf("%s/case-%d-%d", dir, base, NR); printf "%c%s", 64 + NR % 16, $0 > f; close(f) }' "$f"
    i=$((i + 1))
done
has data/fortunes-dev.txt && head -c 2000 "$SH/data/fortunes-dev.txt" | { printf '\x01'; cat; } > "$S/tokenizer/fortunes"
printf '\x00a\xc3 b' > "$S/tokenizer/truncated-utf8"
