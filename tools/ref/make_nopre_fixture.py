#!/usr/bin/env python3
"""Dev-only: llama.cpp's token ids for GGUF vocabularies that lack tokenizer.ggml.pre.

Older conversions have no tokenizer.ggml.pre; llama.cpp then tokenizes with its "default"
pre-tokenizer (punctuation runs apart, GPT-2's pattern, digit runs cut in threes) and warns.
For each vocabulary of ../shared/data/tokenizer named below, this renames the key in a copy of
the GGUF (tokenizer.ggml.pre -> tokenizer.ggml.prX, so the file is otherwise identical: the
test does the same), runs llama.cpp's llama-tokenize on the shared reference texts and on the
texts below (tabs, runs of spaces, punctuation runs, apostrophes, numbers), and writes the ids
to tests/fixtures/tokenizer-nopre.json. The shared texts are referred to by their index only.

usage: python3 tools/ref/make_nopre_fixture.py LLAMA_TOKENIZE LLAMA_CPP_COMMIT
  (llama-tokenize from a llama.cpp built outside the repo: cmake --build b --target llama-tokenize)
"""
import json
import os
import subprocess
import sys
import tempfile

VOCABS = ["gpt-2", "starcoder"]
TEXTS = [
    "Hello, world!! It's 12345 dogs'\ttabs   spaces...;",
    "\t\tindent\tcolumns\t\n\tnext",
    "a  b   c    d     e      ",
    "don't you'll we've I'm he'd they're IT'S o'clock 'quoted'",
    "?!?!... ---- ((()))) [x] {y} <a href=\"z\">#tag @user 50% a_b",
    "$5 + 3 = 8; ~tilde ^caret |pipe| `back`tick <=> ==",
    "1234567890 12.5 3,000,000 0x1F 007",
    "   leading and trailing   ",
    "\u00dcn\u00efc\u00f6d\u00e9 \u2014 \u201cquotes\u201d \u00abguillemets\u00bb \u2026ellipsis \u65e5\u672c\u8a9e\u3001\u30c6\u30b9\u30c8\u3002 \u0661\u0662\u0663",
    "line1\n\nline2\r\nline3\n\n\n",
]
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "tokenizer")


def no_pre_copy(src, dst):
    b = bytearray(open(src, "rb").read())
    i = b.find(b"tokenizer.ggml.pre")
    assert i >= 0 and b.find(b"tokenizer.ggml.pre", i + 1) < 0
    b[i:i + 18] = b"tokenizer.ggml.prX"
    open(dst, "wb").write(b)


def llama_ids(tool, gguf, text, tmp):
    path = os.path.join(tmp, "text.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    out = subprocess.run([tool, "-m", gguf, "-f", path, "--ids", "--no-bos", "--no-escape", "--no-parse-special", "--log-disable"],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main():
    tool, commit = sys.argv[1], sys.argv[2]
    result = {"llama.cpp": commit, "texts": TEXTS, "vocabs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in VOCABS:
            src = os.path.join(SHARED, "ggml-vocab-%s.gguf" % name)
            gguf = os.path.join(tmp, name + ".gguf")
            no_pre_copy(src, gguf)
            shared_texts = open(src + ".inp", encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")[:-1]
            result["vocabs"][name] = {
                "shared": [llama_ids(tool, gguf, t, tmp) for t in shared_texts],
                "texts": [llama_ids(tool, gguf, t, tmp) for t in TEXTS],
            }
            print(name, len(shared_texts), "shared cases", file=sys.stderr)
    with open("tests/fixtures/tokenizer-nopre.json", "w") as fp:
        json.dump(result, fp, ensure_ascii=False)
        fp.write("\n")


if __name__ == "__main__":
    main()
