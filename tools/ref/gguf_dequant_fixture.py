#!/usr/bin/env python3
"""Dev-only: writes tests/fixtures/smollm2-dequant.txt, the reference dequantization of every
tensor of the SmolLM2 GGUF by gguf-py (the code Hugging Face transformers uses to load GGUF).

Each line: name numel xor sum wsum, over the tensor's float32 values viewed as uint32 words w[i]
in row-major order: xor of all words, sum of words, and sum of w[i]*(i+1), both mod 2^64.
tests/test_convert.c recomputes them from `octet convert --type f32` output: equal means every
value is bit-identical.

usage: python3 -m venv .venv-ref && .venv-ref/bin/pip install gguf numpy
       .venv-ref/bin/python tools/ref/gguf_dequant_fixture.py models/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/smollm2-dequant.txt"
    r = GGUFReader(path)
    with open(out, "w") as f:
        f.write("# gguf-py %s dequantization of %s\n" % ("reference", path.split("/")[-1]))
        for t in r.tensors:
            x = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            w = x.view(np.uint32).astype(np.uint64)
            idx = np.arange(1, len(w) + 1, dtype=np.uint64)
            with np.errstate(over="ignore"):
                s = int(w.sum(dtype=np.uint64))
                ws = int((w * idx).sum(dtype=np.uint64))
            xo = int(np.bitwise_xor.reduce(x.view(np.uint32)))
            f.write("%s %d %08x %016x %016x\n" % (t.name, len(w), xo, s, ws))


if __name__ == "__main__":
    main()
