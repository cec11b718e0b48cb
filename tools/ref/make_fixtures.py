#!/usr/bin/env python3
"""Dev-only: the Hugging Face transformers oracle for octet's forward pass.

Loads the same SmolLM2 GGUF octet converts (transformers dequantizes it to f32), and writes
tests/fixtures/smollm2-ref.json: for each prompt (plain and chat-formatted) the text, the token
ids transformers' tokenizer gives, at every position the top-20 logits (ids and values), and the
greedy continuation of 64 tokens.

usage: python3 -m venv .venv-ref && .venv-ref/bin/pip install torch transformers gguf numpy accelerate
       .venv-ref/bin/python tools/ref/make_fixtures.py models/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PLAIN = [
    "Paris is the capital and largest city of France, and the",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Water boils at 100 degrees Celsius at sea level. At the top of Mount Everest, however,",
    "1, 2, 3, 5, 8, 13, 21,",
    "The history of the printing press begins long before Gutenberg. In China, woodblock printing was used "
    "to reproduce texts and images on paper as early as the seventh century, and by the eleventh century the "
    "artisan Bi Sheng had invented movable type made of baked clay. Korean printers later cast movable type in "
    "bronze, producing books that still survive today. In Europe, the combination of a screw press adapted from "
    "wine and olive presses, oil-based inks, and metal type cast in a hand mould made printing fast and cheap "
    "enough to change how knowledge spread. Within fifty years of the first printed Bible, presses were running "
    "in more than two hundred cities, and millions of books had been produced. Scholars argue about which of "
    "these changes mattered most, but nearly all agree that",
]
CHAT = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
     {"role": "user", "content": "Why is the sky blue?"}],
    [{"role": "user", "content": "Write a haiku about the ocean."},
     {"role": "assistant", "content": "Waves fold into foam,\nsalt wind carries gull voices,\nthe tide keeps its time."},
     {"role": "user", "content": "Now write one about mountains, and explain the syllable count of each line in detail, "
                                 "then compare the two poems' imagery, rhythm and mood in a short paragraph."}],
]


def main():
    gguf = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/smollm2-ref.json"
    d, f = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.eval()
    cases = []
    prompts = [(p, False) for p in PLAIN] + [(tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True), True) for m in CHAT]
    for text, chat in prompts:
        ids = tok(text, add_special_tokens=not chat).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
            top = torch.topk(logits, 20, dim=-1)
            gen = model.generate(torch.tensor([ids]), max_new_tokens=64, do_sample=False, num_beams=1)[0][len(ids):]
        cases.append({
            "text": text, "chat": chat, "ids": ids,
            "top_ids": top.indices.tolist(),
            "top_logits": [[round(v, 4) for v in row] for row in top.values.tolist()],
            "greedy": gen.tolist(),
        })
        print(len(ids), "tokens:", repr(text[:50]), "->", repr(tok.decode(gen)[:60]), file=sys.stderr)
    with open(out, "w") as fp:
        json.dump({"model": f, "transformers": __import__("transformers").__version__, "cases": cases}, fp, separators=(",", ":"))
        fp.write("\n")


if __name__ == "__main__":
    main()
