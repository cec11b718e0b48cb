#!/usr/bin/env python3
"""Dev-only: perplexity of SmolLM2 (transformers, f32) on the start of fortunes-dev.txt, computed
independently of octet with octet's (and llama.cpp's) windowing: non-overlapping windows of CTX
tokens, the second half of each scored. tests/test_perplexity.c compares octet perplexity on the
f32 file with it (within 0.1%).

usage: .venv-ref/bin/python tools/ref/make_perplexity_fixture.py models/SmolLM2-135M-Instruct.Q4_1.gguf ../shared/data/fortunes-dev.txt
"""
import json
import math
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

CTX, WINDOWS, PREFIX_BYTES = 256, 4, 6000


def main():
    gguf, text_path = sys.argv[1], sys.argv[2]
    d, f = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
    raw = open(text_path, "rb").read()
    n_bytes = raw.rindex(b"\n", 0, PREFIX_BYTES) + 1  # whole lines
    text = raw[:n_bytes].decode("utf-8")
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) >= CTX * WINDOWS, len(ids)
    nll, count = 0.0, 0
    for w in range(WINDOWS):
        window = ids[w * CTX:(w + 1) * CTX]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([window])).logits[0].double(), dim=-1)
        for j in range(CTX // 2, CTX - 1):
            nll -= logp[j, window[j + 1]].item()
            count += 1
    out = {"text": os.path.basename(text_path), "prefix_bytes": n_bytes, "ctx": CTX, "windows": WINDOWS,
           "n_tokens": len(ids), "tokens_scored": count, "mean_nll": nll / count, "perplexity": math.exp(nll / count),
           "first_ids": ids[:16]}
    print(out, file=sys.stderr)
    with open("tests/fixtures/smollm2-perplexity.json", "w") as fp:
        json.dump(out, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
