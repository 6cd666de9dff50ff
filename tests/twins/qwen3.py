"""A random-weight twin of `Qwen/Qwen3-0.6B` (the default model of notebook 10: tool calling, structured output and
reasoning).

Real: `Qwen3ForCausalLM` with every value of the hub's config.json (width 1024, intermediate 3072, 16 heads and 8 KV
heads of head_dim 128, q/k RMS norms, vocabulary 151936, rope theta 1e6, tied embeddings, RMS eps 1e-6, 40960
positions, bos 151643 and eos 151645), the Qwen2 byte-level BPE tokenizer kind (NFC, Qwen2's split regex, byte
level) with Qwen3's 26 added tokens at their real ids and special flags (<tool_call>, <tool_response>, <think> and
their closing tags are added but not special, so decoding with skip_special_tokens keeps them), the hub's
tokenizer_config.json byte for byte (its chat template renders tools as JSON inside <tools></tools>, assistant
tool_calls as `<tool_call>` JSON, tool messages inside <tool_response>, reasoning_content, and `enable_thinking`),
and generation_config.json's values (stop at <|im_end|> 151645 or <|endoftext|> 151643; sampling at temperature
0.6, top_p 0.95, top_k 20). Shrunk: two decoder layers. The base vocabulary is a 151643-token BPE trained on
`synthetic_corpus` with the byte tokens first in GPT-2's order, as the other Qwen twin's (tests/twins/vlm.py); its
merges are not Qwen's, so the ids of ordinary text differ from the real model's, the special ids do not.

Sources (stored public copies found by exact-string search; the hub itself is not reachable here):
- config.json: the values as `curl https://huggingface.co/Qwen/Qwen3-0.6B/raw/main/config.json` prints them in a
  public guide, and the same 26 fields in a public Rust test (`QWEN3_06B_CONFIG`). `real_config_json()` (indent 2,
  no trailing newline, as the hub file) is 726 bytes with CRC32C "BLHgXg==": the size and checksum that a test
  fixture of trymirai/uzu (two stored versions of its test storage) records for
  huggingface.co/Qwen/Qwen3-0.6B/resolve/main/config.json. Every value is confirmed, byte for byte.
- tokenizer_config.json: rebuilt from Qwen3's added_tokens_decoder (a public copy of a Qwen3-4B tokenizer_config.json,
  akougkas/warpio-cli, same tokens and flags) and the chat template of Qwen3-1.7B as GenAI's own tests keep it
  (openvino.genai tests/python_tests/data/tokenizer_configs.py, the version with `message.content is string`);
  `real_tokenizer_config()` is 9732 bytes with CRC32C "PUp7Mg==", the size and checksum the same fixture records for
  Qwen3-0.6B's file. The template, the added tokens at 151643-151668 with their special flags, `model_max_length`
  131072 and `eos_token` <|im_end|> are confirmed byte for byte. (optimum-intel 2.2's COMPLEX_CHAT_TEMPLATES holds
  the older Qwen3 template, without `message.content is string`: not this one.)
- generation_config.json: two agreeing public copies of models/Qwen3-0.6B/generation_config.json (a tutorial's
  doctest that prints it and a transformers training log that loads it); Qwen3's model card (several public copies
  of the README) calls temperature 0.6, top_p 0.95, top_k 20 and min_p 0 "the default setting in
  generation_config.json".
  Not confirmed from an official file: this file's bytes (no checksum found), so `REAL_GENERATION_CONFIG`.
- Not real: the BPE merges (see above), tokenizer.json's bytes, and the weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.twins import repo_dir
from tests.twins.whisper import gpt2_bpe

if TYPE_CHECKING:
    from transformers import Qwen2Tokenizer

NAME = "Qwen/Qwen3-0.6B"

# config.json of Qwen/Qwen3-0.6B, in the hub file's order (sources above).
REAL_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
    "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
    "vocab_size": 151936,
}
SHRUNK = {"num_hidden_layers": 2}
# The real initializer range is 0.02; wider, so that the random twin's next token depends on its input (as the other
# LLM twins, tests/twins/llm.py).
INIT_STD = 0.2

# generation_config.json of Qwen/Qwen3-0.6B (sources above).
REAL_GENERATION_CONFIG: dict[str, Any] = {
    "bos_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
    "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0",
}

BASE_VOCAB = 151643  # Qwen2's byte-level BPE; the added tokens follow it
# tokenizer_config.json's added_tokens_decoder, from id 151643 on: the first 14 are special, the rest are not.
ADDED_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
                "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>",
                "</tool_response>", "<think>", "</think>"]
SPECIAL_COUNT = 14
TOKEN_IDS = {token: BASE_VOCAB + i for i, token in enumerate(ADDED_TOKENS)}

# The chat template of tokenizer_config.json, verbatim, one template line per entry (long lines split in pieces).
QWEN3_TEMPLATE_LINES = (
    '{%- if tools %}',
    "    {{- '<|im_start|>system\\n' }}",
    "    {%- if messages[0].role == 'system' %}",
    "        {{- messages[0].content + '\\n\\n' }}",
    '    {%- endif %}',
    '    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user'
    ' query.\\n\\nYou are provided with function signatures within <tools></tools> XML'
    ' tags:\\n<tools>" }}',
    '    {%- for tool in tools %}',
    '        {{- "\\n" }}',
    '        {{- tool | tojson }}',
    '    {%- endfor %}',
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name'
    ' and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\":'
    ' <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}',
    '{%- else %}',
    "    {%- if messages[0].role == 'system' %}",
    "        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}",
    '    {%- endif %}',
    '{%- endif %}',
    '{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}',
    '{%- for message in messages[::-1] %}',
    '    {%- set index = (messages|length - 1) - loop.index0 %}',
    '    {%- if ns.multi_step_tool and message.role == "user" and message.content is string'
    " and not(message.content.startswith('<tool_response>') and"
    " message.content.endswith('</tool_response>')) %}",
    '        {%- set ns.multi_step_tool = false %}',
    '        {%- set ns.last_query_index = index %}',
    '    {%- endif %}',
    '{%- endfor %}',
    '{%- for message in messages %}',
    '    {%- if message.content is string %}',
    '        {%- set content = message.content %}',
    '    {%- else %}',
    "        {%- set content = '' %}",
    '    {%- endif %}',
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}',
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}",
    '    {%- elif message.role == "assistant" %}',
    "        {%- set reasoning_content = '' %}",
    '        {%- if message.reasoning_content is string %}',
    '            {%- set reasoning_content = message.reasoning_content %}',
    '        {%- else %}',
    "            {%- if '</think>' in content %}",
    '                {%- set reasoning_content ='
    " content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}",
    "                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}",
    '            {%- endif %}',
    '        {%- endif %}',
    '        {%- if loop.index0 > ns.last_query_index %}',
    '            {%- if loop.last or (not loop.last and reasoning_content) %}',
    "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' +"
    " reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}",
    '            {%- else %}',
    "                {{- '<|im_start|>' + message.role + '\\n' + content }}",
    '            {%- endif %}',
    '        {%- else %}',
    "            {{- '<|im_start|>' + message.role + '\\n' + content }}",
    '        {%- endif %}',
    '        {%- if message.tool_calls %}',
    '            {%- for tool_call in message.tool_calls %}',
    '                {%- if (loop.first and content) or (not loop.first) %}',
    "                    {{- '\\n' }}",
    '                {%- endif %}',
    '                {%- if tool_call.function %}',
    '                    {%- set tool_call = tool_call.function %}',
    '                {%- endif %}',
    '                {{- \'<tool_call>\\n{"name": "\' }}',
    '                {{- tool_call.name }}',
    '                {{- \'", "arguments": \' }}',
    '                {%- if tool_call.arguments is string %}',
    '                    {{- tool_call.arguments }}',
    '                {%- else %}',
    '                    {{- tool_call.arguments | tojson }}',
    '                {%- endif %}',
    "                {{- '}\\n</tool_call>' }}",
    '            {%- endfor %}',
    '        {%- endif %}',
    "        {{- '<|im_end|>\\n' }}",
    '    {%- elif message.role == "tool" %}',
    '        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}',
    "            {{- '<|im_start|>user' }}",
    '        {%- endif %}',
    "        {{- '\\n<tool_response>\\n' }}",
    '        {{- content }}',
    "        {{- '\\n</tool_response>' }}",
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}',
    "            {{- '<|im_end|>\\n' }}",
    '        {%- endif %}',
    '    {%- endif %}',
    '{%- endfor %}',
    '{%- if add_generation_prompt %}',
    "    {{- '<|im_start|>assistant\\n' }}",
    '    {%- if enable_thinking is defined and enable_thinking is false %}',
    "        {{- '<think>\\n\\n</think>\\n\\n' }}",
    '    {%- endif %}',
    '{%- endif %}',
)

CHAT_TEMPLATE = "\n".join(QWEN3_TEMPLATE_LINES)

# The hub files' recorded sizes and CRC32C checksums (base64 of the big-endian value), from the storage test above.
HUB_FILES = {"config.json": (726, "BLHgXg=="), "tokenizer_config.json": (9732, "PUp7Mg==")}


def crc32c(data: bytes) -> str:
    """Return the CRC32C (Castagnoli) checksum of `data` as the hub storage test writes it: base64 of 4 big-endian
    bytes."""
    import base64

    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def real_config_json() -> bytes:
    """Return Qwen3-0.6B's config.json as the hub serves it (indent 2, no trailing newline)."""
    return json.dumps(REAL_CONFIG, indent=2).encode()


def real_tokenizer_config() -> bytes:
    """Return Qwen3-0.6B's tokenizer_config.json as the hub serves it (transformers' layout: indent 2, keys sorted,
    a trailing newline)."""
    added = {str(token_id): {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                             "single_word": False, "special": token_id - BASE_VOCAB < SPECIAL_COUNT}
             for token, token_id in TOKEN_IDS.items()}
    config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added,
              "additional_special_tokens": ADDED_TOKENS[1:SPECIAL_COUNT], "bos_token": None,
              "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
              "errors": "replace", "model_max_length": 131072, "pad_token": "<|endoftext|>",
              "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode()


def build_tokenizer() -> Qwen2Tokenizer:
    """Return a `Qwen2Tokenizer` (Qwen2's split regex, NFC, byte level) over a trained 151643-token BPE with Qwen3's
    26 added tokens at 151643-151668, special or not as in the real tokenizer (length 151669)."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab, merges = gpt2_bpe(BASE_VOCAB)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges)  # adds <|endoftext|>, 151643
    tokenizer.add_tokens([AddedToken(token, special=i < SPECIAL_COUNT, normalized=False)
                          for i, token in enumerate(ADDED_TOKENS) if i > 0])
    return tokenizer


def build(root: Path, seed: int = 0, tokenizer: Qwen2Tokenizer | None = None, name: str = NAME,
          real_config: dict[str, Any] = REAL_CONFIG, shrunk: dict[str, Any] = SHRUNK) -> Path:
    """Save the twin as a hub snapshot in `root`/`name` (bf16 weights, as the real snapshot; the real
    tokenizer_config.json and generation_config.json values) and return the folder. Another Qwen3 of the same
    tokenizer (Qwen3-1.7B: tests/twins/eagle3.py) passes its own `name`, `real_config` and `shrunk`. Raises
    AssertionError if the tokenizer does not have the real ids once loaded back."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    out = repo_dir(root, name)
    fields = {k: v for k, v in real_config.items() if k not in ("architectures", "model_type", "torch_dtype",
                                                                "transformers_version")}
    config = Qwen3Config(**{**fields, **shrunk, "initializer_range": INIT_STD})
    config.architectures = real_config["architectures"]
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(**{k: v for k, v in REAL_GENERATION_CONFIG.items()
                                                  if k != "transformers_version"})
    model.to(torch.bfloat16).save_pretrained(out)
    (tokenizer or build_tokenizer()).save_pretrained(out)
    for extra in ("chat_template.jinja", "special_tokens_map.json"):
        (out / extra).unlink(missing_ok=True)
    (out / "tokenizer_config.json").write_bytes(real_tokenizer_config())
    loaded = AutoTokenizer.from_pretrained(out)
    ids = {token: loaded.convert_tokens_to_ids(token) for token in ADDED_TOKENS}
    assert ids == TOKEN_IDS and len(loaded) == BASE_VOCAB + len(ADDED_TOKENS), (ids, len(loaded))
    return out
