#!/bin/bash
# GPU session script (run on the device machine from the repo root): builds the CUDA octet and
# then, for each argument in turn:
#   stash   keep .dev/gguf.part00 in /tmp (the GGUF travels in two calls: 64 MiB per call)
#   smol    join /tmp/gguf.part00 + .dev/gguf.part01 and convert SmolLM2 into models/
#   test    the CUDA tests (../shared copies from .dev/shared when present)
#   bench   octet bench on the synthetic SmolLM2, 1.1B and 7B shapes (and decode variants, see backend.cu)
#   gemm    prefill (int8, int8-row) and the cuBLASLt table, tile width chosen and forced
#   profile per-kernel times of the 1.1B decode step with ncu
#   profile7  the same for the 7B shape, streaming GEMV and plain DP4A GEMV
# Logs go to $OUT (or /tmp/out).
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[ -d .dev/shared ] && export OCTET_SHARED=$PWD/.dev/shared
make -j"$(nproc)" CUDA=1 octet build/tests/test_cuda >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
SM=/tmp/sm.octet; TL=/tmp/tl.octet; L7=/tmp/l7.octet
need() { [ -f "$2" ] || ./octet convert --synthetic "$1" -o "$2" --quiet; }
for what in "$@"; do
case $what in
stash) cp .dev/gguf.part00 /tmp/ ;;
smol)
  mkdir -p models
  cat /tmp/gguf.part00 .dev/gguf.part01 > models/SmolLM2-135M-Instruct.Q4_1.gguf
  ./octet convert models/SmolLM2-135M-Instruct.Q4_1.gguf -o models/smollm2-135m-instruct.q8.octet --type q8 --quiet ;;
test) mkdir -p tests/out; ./build/tests/test_cuda 2>&1 | tee "$OUT/test_cuda.log" | grep -v "^  prompt" | tail -25 ;;
bench)
  need smollm2-135m $SM; need tinyllama-1.1b $TL; need llama-7b $L7
  for f in $SM $TL $L7; do
    ./octet bench -m $f --device cuda -p 512 -n 128 -r 3 2>/dev/null | tee -a "$OUT/bench.md"
    for mode in OCTET_CUDA_PDL=1 OCTET_CUDA_STREAM=0 "OCTET_CUDA_MERGE=0 OCTET_CUDA_STREAM=0" OCTET_CUDA_PDL=0; do
      echo "$f $mode: $(env $mode ./octet bench -m $f --device cuda -p 0 -n 128 -r 2 -o csv 2>/dev/null | tail -1 | awk -F, '{print $(NF-1)}')" | tee -a "$OUT/bench.md"
    done
  done ;;
smolbench)
  for mode in OCTET_CUDA_PDL=1 OCTET_CUDA_STREAM=0 "OCTET_CUDA_MERGE=0 OCTET_CUDA_STREAM=0" OCTET_CUDA_PDL=0; do
    echo "smollm2 $mode: $(env $mode ./octet bench -m models/smollm2-135m-instruct.q8.octet --device cuda -p 512 -n 128 -r 3 -o csv 2>/dev/null | tail -2 | awk -F, '{printf "%s ", $(NF-1)}')" | tee -a "$OUT/bench.md"
  done ;;
gemm)
  need tinyllama-1.1b $TL; need llama-7b $L7
  for bn in "" 64 128; do
    for f in $TL $L7; do
      echo "== $f OCTET_CUDA_BN=$bn" | tee -a "$OUT/gemm.md"
      OCTET_CUDA_BN=$bn ./octet bench -m $f --device cuda -p 512 -n 0 -r 3 --act int8,int8-row 2>/dev/null | grep -E "pp512|^\| (q|o|gate|down)" | tee -a "$OUT/gemm.md"
    done
  done ;;
profile7)
  need llama-7b $L7
  for mode in OCTET_CUDA_STREAM=1 OCTET_CUDA_STREAM=0; do
    echo "== $mode" | tee -a "$OUT/ncu7.txt"
    env $mode ncu --clock-control none --graph-profiling node --print-summary per-kernel --metrics gpu__time_duration.sum,dram__bytes_read.sum \
      ./octet bench -m $L7 --device cuda -p 0 -n 2 -r 1 -o csv >"$OUT/ncu7.log" 2>&1
    grep -E "^  [a-z]|gpu__time_duration" "$OUT/ncu7.log" | sed -E 's/\(dmat[^)]*\)|\(const[^)]*\)|\(float[^)]*\)//' | cut -c1-140 | head -60 | tee -a "$OUT/ncu7.txt"
  done ;;
profile)
  need tinyllama-1.1b $TL
  ncu --clock-control none --graph-profiling node --print-summary per-kernel --metrics gpu__time_duration.sum,dram__bytes_read.sum \
      ./octet bench -m $TL --device cuda -p 0 -n 4 -r 1 -o csv >"$OUT/ncu.log" 2>&1
  grep -E "^  [a-z]|gpu__time_duration" "$OUT/ncu.log" | sed -E 's/\(dmat[^)]*\)|\(const[^)]*\)|\(float[^)]*\)//' | cut -c1-140 | head -60 ;;
esac
done
