#!/usr/bin/env python3
"""Dev-only: tiny random-weight checkpoints of each model family octet runs, with transformers'
logits as the oracle (tests/test_families.c).

For each family: a Hugging Face directory (config.json, model.safetensors in bf16,
tokenizer.json, tokenizer_config.json) under tests/fixtures/arch/NAME/, and transformers' f32
logits for every position of a fixed 80-token sequence (logits.f32, little-endian, [80][vocab])
with the ids (ids.json). The weights are rounded to bf16 before the forward pass, so the saved
file holds exactly the weights the logits came from. The vocabulary is a byte-level BPE of 320
tokens trained on fortunes-dev. Sliding windows (16) are shorter than the sequence; RoPE scaling
original contexts (32) too, so every option changes the logits.

usage: .venv-ref/bin/python tools/ref/make_arch_fixtures.py [../shared/data/fortunes-dev.txt]
"""
import json
import os
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForCausalLM, Gemma2Config, Gemma3TextConfig, LlamaConfig, MistralConfig,
                          Phi3Config, PreTrainedTokenizerFast, Qwen2Config, Qwen3Config)

OUT = "tests/fixtures/arch"
TEXT = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/fortunes-dev.txt"
N_TOKENS = 80
VOCAB = 320

COMMON = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
              vocab_size=VOCAB, max_position_embeddings=128, rms_norm_eps=1e-5, tie_word_embeddings=False,
              bos_token_id=None, eos_token_id=VOCAB - 1, pad_token_id=None)


def families():
    rope_llama3 = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
    yield "llama-old", LlamaConfig(**COMMON), {"old_layout": {"rope_theta": 50000.0, "rope_scaling": {"type": "linear", "factor": 2.0}}}
    yield "llama-rope-parameters", LlamaConfig(**COMMON, rope_parameters=rope_llama3), {}
    yield "mistral-sliding", MistralConfig(**COMMON, sliding_window=16, head_dim=16), {}
    yield "qwen2", Qwen2Config(**COMMON), {}
    yield "qwen3", Qwen3Config(**COMMON, head_dim=32), {}
    yield "gemma2", Gemma2Config(**{**COMMON, "tie_word_embeddings": True}, head_dim=16, query_pre_attn_scalar=24, sliding_window=16,
                                 attn_logit_softcapping=5.0, final_logit_softcapping=10.0), {}
    g3 = {**COMMON, "num_hidden_layers": 4, "tie_word_embeddings": True}
    yield "gemma3", Gemma3TextConfig(**g3, head_dim=32, query_pre_attn_scalar=32, sliding_window=16,
                                     layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
                                     rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                                      "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0}}), {}
    half = 8 // 2  # rotated pairs of a 16-wide head at partial_rotary_factor 0.5
    yield "phi3", Phi3Config(**COMMON, sliding_window=16, original_max_position_embeddings=32,
                             rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                                              "short_factor": [1.0 + 0.1 * i for i in range(half)],
                                              "long_factor": [1.5 + 0.5 * i for i in range(half)],
                                              "original_max_position_embeddings": 32}), {}


def tokenizer(text):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 1, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator([text], trainer)
    tok.add_special_tokens(["<|end|>"])
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>")


def main():
    text = open(TEXT, encoding="utf-8").read()
    tok = tokenizer(text[:200000])
    ids = tok(text[300000:301000], add_special_tokens=False)["input_ids"][:N_TOKENS]
    assert len(ids) == N_TOKENS
    for name, cfg, extra in families():
        torch.manual_seed(7)
        cfg._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
        with torch.no_grad():
            # Other matrices N(0, 0.15^2) keep activations near unit scale at dim 64; vectors (norm gains,
            # biases) their initial value plus N(0, 0.1^2): 1 + noise for Llama-style gains, noise
            # for Gemma's (stored as w for 1 + w).
            # The embeddings and LM head N(0, 0.6^2): logits spread enough that top-1 is decided
            # by the model, not by ties of a near-uniform random output. The blocks' output
            # projections N(0, 0.05^2), as GPT-2 scales them: a random network is otherwise
            # chaotic (int8's 0.6% weight error became a 7% logit error) as no trained one is.
            for pname, p in model.named_parameters():
                std = 0.6 if "embed_tokens" in pname or "lm_head" in pname else 0.05 if "o_proj" in pname or "down_proj" in pname else 0.08 if "q_proj" in pname or "k_proj" in pname or "qkv" in pname else 0.15
                v = torch.randn_like(p) * std if p.dim() > 1 else p + torch.randn_like(p) * 0.1
                p.copy_(v.to(torch.bfloat16).to(torch.float32))
            logits = model(torch.tensor([ids])).logits[0].float().numpy()
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
        tok.save_pretrained(d)
        for f in ("generation_config.json", "special_tokens_map.json", "chat_template.jinja"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        if "old_layout" in extra:  # the same math in the layout transformers 4.x wrote
            with open(os.path.join(d, "config.json")) as f:
                c = json.load(f)
            c.pop("rope_parameters", None)
            c.update(extra["old_layout"])
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(c, f, indent=2)
            # transformers 5 reads the old layout too: the logits must come from the file as saved
            m2 = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
            with torch.no_grad():
                logits = m2(torch.tensor([ids])).logits[0].float().numpy()
        logits.astype("<f4").tofile(os.path.join(d, "logits.f32"))
        with open(os.path.join(d, "ids.json"), "w") as f:
            json.dump(ids, f)
        print("%-22s %s max|logit| %.3f" % (name, d, abs(logits).max()))


if __name__ == "__main__":
    main()
