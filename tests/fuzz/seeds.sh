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
# The harnesses' fixed files.
"$OCTET" convert "$D/tiny.gguf" -o "$D/tiny-bpe.octet" --quiet --calib none
"$OCTET" convert "$SH/models/stories260K/stories260K.bin" --tokenizer "$SH/models/stories260K/tok512.bin" -o "$D/stories260K.q8.octet" --quiet --calib none
for v in llama-spm gpt-2; do "$OCTET" convert --vocab-only "$SH/data/tokenizer/ggml-vocab-$v.gguf" -o "$D/vocab-$v.octet" --quiet; done
"$OCTET" convert --vocab-only "$SH/data/tokenizer-extra/ggml-vocab-deepseek-coder.gguf" -o "$D/vocab-deepseek-coder.octet" --quiet
# .octet files: the tiny model in every type, a real one, and a vocabulary cut short.
mkdir -p "$S/octet_file"
for t in q8 q8g32 f16 bf16 f32; do "$OCTET" convert "$D/tiny.gguf" -o "$S/octet_file/tiny-$t.octet" --type $t --quiet --calib none; done
cp "$D/stories260K.q8.octet" "$S/octet_file/"
head -c 65536 "$D/vocab-llama-spm.octet" > "$S/octet_file/vocab-cut.octet"
# GGUF: the fixture with every quant type, and real vocabularies cut short.
cp tests/fixtures/quant-types.gguf "$S/gguf/"
for v in llama-spm gpt-2 phi-3; do head -c 32768 "$SH/data/tokenizer/ggml-vocab-$v.gguf" > "$S/gguf/vocab-$v-cut.gguf"; done
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
for f in "$SH"/data/tokenizer/*.inp; do
    awk -v RS='\n__ggml_vocab_test__\n' -v dir="$S/tokenizer" -v base=$i 'length($0) < 400 { f = sprintf("%s/case-%d-%d", dir, base, NR); printf "%c%s", 64 + NR % 16, $0 > f; close(f) }' "$f"
    i=$((i + 1))
done
head -c 2000 "$SH/data/fortunes-dev.txt" | { printf '\x01'; cat; } > "$S/tokenizer/fortunes"
printf '\x00a\xc3 b' > "$S/tokenizer/truncated-utf8"
