#!/usr/bin/env python3
"""Dev-only: a llama.cpp file of the synthetic TinyLlama-1.1B shape (octet convert --synthetic
tinyllama-1.1b), so llama-bench measures the same shape as octet bench in one run (README,
"Speed"). Random Q8_0 weights (a speed-only file: the values mean nothing), f32 norms, and a
placeholder SentencePiece vocabulary of 32000 tokens (<unk>, <s>, </s>, the 256 byte tokens,
then filler pieces) so llama.cpp loads it.

usage: .venv-ref/bin/python tools/ref/make_synthetic_gguf.py OUTPUT.gguf
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf import quants

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CTX = 2048, 5632, 22, 32, 4, 32000, 2048


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    rng = np.random.default_rng(1)
    g = GGUFWriter(sys.argv[1], "llama")
    g.add_name("synthetic-tinyllama-1.1b")
    g.add_context_length(CTX)
    g.add_embedding_length(DIM)
    g.add_block_count(LAYERS)
    g.add_feed_forward_length(HIDDEN)
    g.add_head_count(HEADS)
    g.add_head_count_kv(KV_HEADS)
    g.add_rope_dimension_count(DIM // HEADS)
    g.add_rope_freq_base(10000.0)
    g.add_layer_norm_rms_eps(1e-5)
    g.add_file_type(7)  # MOSTLY_Q8_0

    tokens = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % i for i in range(256)]
    tokens += [("\u2581t%d" % i).encode() for i in range(VOCAB - len(tokens))]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    types += [TokenType.NORMAL] * (VOCAB - len(types))
    g.add_tokenizer_model("llama")
    g.add_token_list(tokens)
    g.add_token_scores([-float(i) for i in range(VOCAB)])
    g.add_token_types(types)
    g.add_bos_token_id(1)
    g.add_eos_token_id(2)
    g.add_unk_token_id(0)

    def matrix(name, rows, cols):
        w = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float32)
        g.add_tensor(name, quants.quantize(w, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)

    def norm(name):
        g.add_tensor(name, np.ones(DIM, dtype=np.float32))

    hd = DIM // HEADS
    matrix("token_embd.weight", VOCAB, DIM)
    norm("output_norm.weight")
    matrix("output.weight", VOCAB, DIM)
    for l in range(LAYERS):
        p = "blk.%d." % l
        norm(p + "attn_norm.weight")
        matrix(p + "attn_q.weight", DIM, DIM)
        matrix(p + "attn_k.weight", KV_HEADS * hd, DIM)
        matrix(p + "attn_v.weight", KV_HEADS * hd, DIM)
        matrix(p + "attn_output.weight", DIM, DIM)
        norm(p + "ffn_norm.weight")
        matrix(p + "ffn_gate.weight", HIDDEN, DIM)
        matrix(p + "ffn_up.weight", HIDDEN, DIM)
        matrix(p + "ffn_down.weight", DIM, HIDDEN)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()


if __name__ == "__main__":
    main()
