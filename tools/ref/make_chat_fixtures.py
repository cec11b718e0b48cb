#!/usr/bin/env python3
"""Dev-only: reference chat-template strings for octet's native templates (engine/chat.c).

Each model's own Jinja template (as published in its tokenizer_config.json / GGUF metadata) is
rendered by transformers' chat-template renderer (the code behind apply_chat_template: a
sandboxed Jinja environment with trim_blocks and lstrip_blocks), with that model's BOS/EOS
text, for three conversations. tests/test_chat.c checks that octet produces the same bytes and
that octet detects each template's family from its Jinja text.

Templates that reject a system message (Mistral, Gemma) are rendered with the system text
merged into the first user turn ("SYSTEM\\n\\nUSER"), which is what octet does for them.

usage: .venv-ref/bin/python tools/ref/make_chat_fixtures.py [models/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import json
import sys

from transformers.utils.chat_template_utils import render_jinja_template

TEMPLATES = [
    # (octet family, source model, bos, eos, merges system into the first user turn, Jinja)
    ("chatml", "Qwen/Qwen2-7B-Instruct", "", "<|im_end|>", False,
     "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    ("chatml", "teknium/OpenHermes-2.5-Mistral-7B", "<s>", "<|im_end|>", False,
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    ("llama2", "meta-llama/Llama-2-13b-chat-hf", "<s>", "</s>", False,
     "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"),
    ("llama3", "meta-llama/Meta-Llama-3-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>", False,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"),
    ("zephyr", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "<s>", "</s>", False,
     "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"),
    ("mistral", "mistralai/Mixtral-8x7B-Instruct-v0.1", "<s>", "</s>", True,
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"),
    ("phi3", "microsoft/Phi-3.5-mini-instruct", "<s>", "<|endoftext|>", False,
     "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"),
    ("gemma", "google/gemma-7b-it", "<bos>", "<eos>", True,
     "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"),
]

SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in one line."}
TURNS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "  Paris.\n"},
    {"role": "user", "content": "And of Japan? Answer with\ntwo lines."},
    {"role": "assistant", "content": "Tokyo,\nsince 1868 (東京)."},
    {"role": "user", "content": " Thanks! Which one is larger? "},
]
CONVERSATIONS = [  # (messages, add_generation_prompt)
    ([SYSTEM] + TURNS, True),
    (TURNS, True),
    ([SYSTEM] + TURNS[:4], False),
]


def merged(messages):
    if not messages or messages[0]["role"] != "system":
        return messages
    first = dict(messages[1])
    first["content"] = messages[0]["content"] + "\n\n" + first["content"]
    return [first] + messages[2:]


def render(jinja, messages, add_gen, bos, eos):
    out = render_jinja_template(conversations=[messages], chat_template=jinja, add_generation_prompt=add_gen,
                                bos_token=bos, eos_token=eos)
    return out[0][0] if isinstance(out, tuple) else out[0]


def main():
    templates = list(TEMPLATES)
    if len(sys.argv) > 1:  # SmolLM2's own template, read from the GGUF octet converts
        from gguf import GGUFReader
        f = GGUFReader(sys.argv[1]).fields["tokenizer.chat_template"]
        templates.insert(0, ("chatml", "HuggingFaceTB/SmolLM2-135M-Instruct", "<|im_start|>", "<|im_end|>", False,
                             bytes(f.parts[f.data[0]]).decode()))
    out = []
    for family, source, bos, eos, merge, jinja in templates:
        cases = []
        for messages, add_gen in CONVERSATIONS:
            rendered_from = merged(messages) if merge else messages
            cases.append({"messages": messages, "add_generation_prompt": add_gen,
                          "expected": render(jinja, rendered_from, add_gen, bos, eos)})
        out.append({"family": family, "source": source, "bos": bos, "eos": eos,
                    "system_merged_into_first_user": merge, "jinja": jinja, "cases": cases})
        print(family, source, repr(cases[0]["expected"][:70]), file=sys.stderr)
    with open("tests/fixtures/chat-templates.json", "w") as fp:
        json.dump({"renderer": "transformers " + __import__("transformers").__version__, "templates": out}, fp,
                  ensure_ascii=False, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
