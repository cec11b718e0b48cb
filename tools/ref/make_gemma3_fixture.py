#!/usr/bin/env python3
"""Dev-only: transformers as the oracle for the real Gemma 3 270M (tests/test_families.c).

Loads the GGUF octet converts (models/fetch-gemma3.sh; transformers dequantizes it to f32 with
the `gguf` package) and writes tests/fixtures/gemma3-ref.json: for each prompt its text, the ids
transformers' tokenizer gives (with BOS), the top-20 logits at every position, and 32 greedy
tokens. The GGUF is the base model and carries no chat template: the turn prompts are written
in Gemma's format by hand (the same text octet's gemma template renders).

usage: .venv-ref/bin/python tools/ref/make_gemma3_fixture.py models/gemma-3-270m-q4_k_m.gguf
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import PLAIN  # noqa: E402

TURNS = [
    "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn>user\nWrite a haiku about the ocean.<end_of_turn>\n<start_of_turn>model\n",
]


def main():
    gguf = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/gemma3-ref.json"
    d, f = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    cases = []
    for text, chat in [(p, False) for p in PLAIN[:5]] + [(t, True) for t in TURNS]:
        ids = tok(text).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
            top = torch.topk(logits, 20, dim=-1)
            gen = model.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False, num_beams=1)[0][len(ids):]
        cases.append({"text": text, "chat": chat, "ids": ids, "top_ids": top.indices.tolist(),
                      "top_logits": [[round(v, 4) for v in row] for row in top.values.tolist()], "greedy": gen.tolist()})
        print(len(ids), "tokens:", repr(text[:50]), "->", repr(tok.decode(gen)[:60]), file=sys.stderr)
    with open(out, "w") as fp:
        json.dump({"model": f, "transformers": __import__("transformers").__version__, "cases": cases}, fp, separators=(",", ":"))
        fp.write("\n")


if __name__ == "__main__":
    main()
