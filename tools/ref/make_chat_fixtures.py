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

Gemma 3's own template handles a system message itself (its text and a blank line open the first
user turn); it is rendered from the original messages, with one more conversation whose system
and user text carry spaces, since that template trims only the user's.
"""
import json
import sys

from transformers.utils.chat_template_utils import render_jinja_template

# Qwen3's published template (Qwen/Qwen3-8B tokenizer_config.json), the form with reasoning.
QWEN3 = r'''{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for index in range(ns.last_query_index, -1, -1) %}
    {%- set message = messages[index] %}
    {%- if ns.multi_step_tool and message.role == "user" and not('<tool_response>' in message.content and '</tool_response>' in message.content) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}'''

# Gemma 3's published template (google/gemma-3-*-it; the Gemma 3 270M GGUF octet fetches has
# none, so `--chat-template gemma` picks it).
GEMMA3 = r'''{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}'''

TEMPLATES = [
    # (octet family, source model, bos, eos, merges system into the first user turn, Jinja)
    ("chatml", "Qwen/Qwen2-7B-Instruct", "", "<|im_end|>", False,
     "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    ("chatml", "teknium/OpenHermes-2.5-Mistral-7B", "<s>", "<|im_end|>", False,
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    ("qwen3", "Qwen/Qwen3-8B", "", "<|im_end|>", False, QWEN3),
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
    ("gemma", "google/gemma-3-270m-it", "<bos>", "<eos>", False, GEMMA3),
]

SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in one line."}
TURNS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "  Paris.\n"},
    {"role": "user", "content": "And of Japan? Answer with\ntwo lines."},
    {"role": "assistant", "content": "Tokyo,\nsince 1868 (東京)."},
    {"role": "user", "content": " Thanks! Which one is larger? "},
]
# Replies that carry reasoning: Qwen3 keeps it only after the last user message.
THINKING = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "<think>\nSmall sum.\n</think>\n\n4."},
    {"role": "user", "content": "And 3 + 3?"},
    {"role": "assistant", "content": "<think>\n\nAdd again.\n\n</think>\n\n\n6."},
]
CONVERSATIONS = [  # (messages, add_generation_prompt)
    ([SYSTEM] + TURNS, True),
    (TURNS, True),
    ([SYSTEM] + TURNS[:4], False),
    (THINKING, False),
    (THINKING[:3], True),
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
    from gguf import GGUFReader
    if len(sys.argv) > 1:  # SmolLM2's own template, read from the GGUF octet converts
        f = GGUFReader(sys.argv[1]).fields["tokenizer.chat_template"]
        templates.insert(0, ("chatml", "HuggingFaceTB/SmolLM2-135M-Instruct", "<|im_start|>", "<|im_end|>", False,
                             bytes(f.parts[f.data[0]]).decode()))
    extra = {"google/gemma-3-270m-it": [([{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "  Hi there  "},
                                             {"role": "assistant", "content": " Hello! "}, {"role": "user", "content": "Bye"}], True)]}
    out = []
    for family, source, bos, eos, merge, jinja in templates:
        cases = []
        for messages, add_gen in CONVERSATIONS + extra.get(source, []):
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
