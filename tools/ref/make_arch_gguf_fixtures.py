#!/usr/bin/env python3
"""Dev-only: tiny checkpoints of tests/fixtures/arch as GGUF files laid out the way llama.cpp's
convert_hf_to_gguf.py writes those architectures, for tests/test_families.c, which converts
them and requires the logits transformers gave for the Hugging Face directories.

- phi3 (Phi3MiniModel): fused blk.N.attn_qkv and a fused blk.N.ffn_up (gate rows, then up rows),
  LongRoPE as the rope_factors_long/short tensors with phi3.rope.scaling.attn_factor and
  original_context_length, the sliding window.
- qwen3 (Qwen3Model): attention.key_length/value_length for the head width, per-head
  attn_q_norm/attn_k_norm, rotate-half RoPE (no Q/K permutation).

Matrices are BF16 as in the checkpoints (exactly), norms and rope factors F32.

usage: .venv-ref/bin/python tools/ref/make_arch_gguf_fixtures.py
"""
import json
import math
import struct

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType



def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        if info["dtype"] == "BF16":
            x = (np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F32":
            x = np.frombuffer(buf, dtype=np.float32)
        else:
            raise SystemExit("unexpected dtype " + info["dtype"])
        out[name] = x.reshape(info["shape"]).copy()
    return out


def bf16(x):
    """The exact bf16 bits of values that came from bf16."""
    b = x.astype(np.float32).view(np.uint32)
    assert not (b & 0xFFFF).any()
    return (b >> 16).astype(np.uint16)


def add_matrix(g, name, x):
    g.add_tensor(name, bf16(x), raw_shape=x.shape, raw_dtype=GGMLQuantizationType.BF16)


def add_vocab(g, src, cfg):
    """The fixtures' byte-level BPE vocabulary, as a gpt2 tokenizer."""
    tok = json.load(open(src + "/tokenizer.json"))
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    types = [TokenType.NORMAL] * len(tokens)
    for added in tok.get("added_tokens", []):
        while added["id"] >= len(tokens):
            tokens.append("")
            types.append(TokenType.NORMAL)
        tokens[added["id"]] = added["content"]
        types[added["id"]] = TokenType.CONTROL if added.get("special") else TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    g.add_tokenizer_model("gpt2")
    g.add_tokenizer_pre("default")
    g.add_token_list(tokens)
    g.add_token_types(types)
    g.add_token_merges(merges)
    g.add_eos_token_id(cfg["eos_token_id"])


def common(g, cfg, rope_dims):
    g.add_name("octet tiny %s fixture" % cfg["model_type"])
    g.add_context_length(cfg["max_position_embeddings"])
    g.add_embedding_length(cfg["hidden_size"])
    g.add_feed_forward_length(cfg["intermediate_size"])
    g.add_block_count(cfg["num_hidden_layers"])
    g.add_head_count(cfg["num_attention_heads"])
    g.add_head_count_kv(cfg["num_key_value_heads"])
    g.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    g.add_rope_dimension_count(rope_dims)
    g.add_rope_freq_base(cfg["rope_parameters"]["rope_theta"])


def phi3():
    src = "tests/fixtures/arch/phi3"
    cfg = json.load(open(src + "/config.json"))
    rp = cfg["rope_parameters"]
    w = read_safetensors(src + "/model.safetensors")
    g = GGUFWriter("tests/fixtures/arch/phi3.gguf", "phi3")
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    common(g, cfg, int(head_dim * rp.get("partial_rotary_factor", 1.0)))
    g.add_rope_scaling_orig_ctx_len(rp["original_max_position_embeddings"])
    g.add_sliding_window(cfg["sliding_window"])
    scale = cfg["max_position_embeddings"] / rp["original_max_position_embeddings"]
    g.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(rp["original_max_position_embeddings"])))
    add_vocab(g, src, cfg)
    add_matrix(g, "token_embd.weight", w["model.embed_tokens.weight"])
    g.add_tensor("output_norm.weight", w["model.norm.weight"])
    add_matrix(g, "output.weight", w["lm_head.weight"])
    g.add_tensor("rope_factors_long.weight", np.array(rp["long_factor"], dtype=np.float32))
    g.add_tensor("rope_factors_short.weight", np.array(rp["short_factor"], dtype=np.float32))
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        g.add_tensor("blk.%d.attn_norm.weight" % l, w[p + "input_layernorm.weight"])
        add_matrix(g, "blk.%d.attn_qkv.weight" % l, w[p + "self_attn.qkv_proj.weight"])
        add_matrix(g, "blk.%d.attn_output.weight" % l, w[p + "self_attn.o_proj.weight"])
        g.add_tensor("blk.%d.ffn_norm.weight" % l, w[p + "post_attention_layernorm.weight"])
        add_matrix(g, "blk.%d.ffn_up.weight" % l, w[p + "mlp.gate_up_proj.weight"])
        add_matrix(g, "blk.%d.ffn_down.weight" % l, w[p + "mlp.down_proj.weight"])
    finish(g)


def qwen3():
    src = "tests/fixtures/arch/qwen3"
    cfg = json.load(open(src + "/config.json"))
    w = read_safetensors(src + "/model.safetensors")
    g = GGUFWriter("tests/fixtures/arch/qwen3.gguf", "qwen3")
    common(g, cfg, cfg["head_dim"])
    g.add_key_length(cfg["head_dim"])
    g.add_value_length(cfg["head_dim"])
    add_vocab(g, src, cfg)
    add_matrix(g, "token_embd.weight", w["model.embed_tokens.weight"])
    g.add_tensor("output_norm.weight", w["model.norm.weight"])
    add_matrix(g, "output.weight", w["lm_head.weight"])
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for l in range(cfg["num_hidden_layers"]):
        for hf, gg in names.items():
            x = w["model.layers.%d.%s.weight" % (l, hf)]
            if x.ndim == 2:
                add_matrix(g, "blk.%d.%s.weight" % (l, gg), x)
            else:
                g.add_tensor("blk.%d.%s.weight" % (l, gg), x)
    finish(g)


def finish(g):
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    print("wrote", g.path if hasattr(g, "path") else "a fixture")


def main():
    phi3()
    qwen3()


if __name__ == "__main__":
    main()
