#!/usr/bin/env python3
"""Dev-only: writes tests/fixtures/quant-types.gguf (one small tensor per GGML type octet reads,
random blocks with sane scales) and tests/fixtures/quant-types.txt, their dequantization by
gguf-py in the same `name numel xor sum wsum` form as gguf_dequant_fixture.py.

usage: .venv-ref/bin/python tools/ref/gguf_quant_types_fixture.py
"""
import numpy as np
from gguf import GGUFWriter, GGUFReader, GGMLQuantizationType as T
from gguf.quants import dequantize

# type -> (bytes per 32/256 block, elements per block, byte ranges holding f16 scales)
TYPES = {
    T.Q4_0: (18, 32, [(0, 2)]), T.Q4_1: (20, 32, [(0, 2), (2, 4)]), T.Q5_0: (22, 32, [(0, 2)]),
    T.Q5_1: (24, 32, [(0, 2), (2, 4)]), T.Q8_0: (34, 32, [(0, 2)]), T.Q4_K: (144, 256, [(0, 2), (2, 4)]),
    T.Q5_K: (176, 256, [(0, 2), (2, 4)]), T.Q6_K: (210, 256, [(208, 210)]),
}
ROWS, COLS = 3, 512


def digest(x):
    w = x.reshape(-1).view(np.uint32).astype(np.uint64)
    idx = np.arange(1, len(w) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return len(w), int(np.bitwise_xor.reduce(x.reshape(-1).view(np.uint32))), int(w.sum(dtype=np.uint64)), int((w * idx).sum(dtype=np.uint64))


def main():
    rng = np.random.default_rng(1234)
    w = GGUFWriter("tests/fixtures/quant-types.gguf", "llama")
    w.add_block_count(1)
    vals = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    vals[0, :4] = [0.0, -0.0, 65504.0, 1e-7]  # edge values (max f16, f16 subnormal range)
    w.add_tensor("t.f32", vals)
    w.add_tensor("t.f16", vals.astype(np.float16))
    bf = (vals.view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("t.bf16", bf.view(np.uint8).reshape(ROWS, COLS * 2), raw_dtype=T.BF16)
    for t, (bsize, belems, scales) in TYPES.items():
        nb = COLS // belems
        raw = rng.integers(0, 256, size=(ROWS, nb, bsize), dtype=np.uint8)
        for a, b in scales:
            s = (rng.standard_normal((ROWS, nb)) * 0.05).astype(np.float16)
            raw[:, :, a:b] = s.view(np.uint8).reshape(ROWS, nb, 2)
        w.add_tensor("t." + t.name.lower(), raw.reshape(ROWS, nb * bsize), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = GGUFReader("tests/fixtures/quant-types.gguf")
    with open("tests/fixtures/quant-types.txt", "w") as f:
        f.write("# gguf-py dequantization of quant-types.gguf\n")
        for t in r.tensors:
            x = dequantize(t.data, t.tensor_type).astype(np.float32)
            f.write("%s %d %08x %016x %016x\n" % ((t.name,) + digest(x)))


if __name__ == "__main__":
    main()
