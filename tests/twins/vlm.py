"""A random-weight twin of `llava-hf/llava-interleave-qwen-0.5b-hf` (the default model of notebook 06).

Real: `LlavaForConditionalGeneration` with a Qwen2 text model (width 1024, 16 heads and 16 KV heads, intermediate
2816, vocabulary 152000, rope theta 1e6, tied embeddings) and a SigLIP vision tower (width 1152, 16 heads, 384 px in
14 px patches: 729 image tokens, no head, last layer, "full" strategy), image token 151646, the Qwen2 byte-level
BPE tokenizer kind with the specials at their real ids, the chat template, and the processor files as the hub
snapshot has them (a flat SigLIP `preprocessor_config.json`, a flat `processor_config.json`, `chat_template.json`).
Shrunk: two text layers and one vision layer. The weights are random, drawn wider than the real initializer range
(`INIT_STD`) so that the answer depends on the image, and saved in fp16 as the hub's are: the notebook's fp16 export
then holds exactly PyTorch's weights, and the two compare at f32 compute without any weight rounding between them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.twins import repo_dir
from tests.twins.whisper import gpt2_bpe

if TYPE_CHECKING:
    from transformers import LlavaConfig, Qwen2Tokenizer

NAME = "llava-hf/llava-interleave-qwen-0.5b-hf"

# Source: huggingface.co/llava-hf/llava-interleave-qwen-0.5b-hf config.json (the fields that shape the code path).
REAL_CONFIG: dict[str, Any] = {
    "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "image_token_index": 151646,
    "projector_hidden_act": "gelu", "vision_feature_layer": -1, "vision_feature_select_strategy": "full",
    "text_config": {
        "model_type": "qwen2", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 24,
        "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 152000, "rope_theta": 1000000.0,
        "max_position_embeddings": 32768, "tie_word_embeddings": True, "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
    "vision_config": {
        "model_type": "siglip_vision_model", "hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 26,
        "num_attention_heads": 16, "patch_size": 14, "image_size": 384, "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-06, "vision_use_head": False,
    },
}
SHRUNK = {"text_config": {"num_hidden_layers": 2}, "vision_config": {"num_hidden_layers": 1}}

# Source: the same repository's preprocessor_config.json, processor_config.json and chat_template.json, verbatim.
REAL_PREPROCESSOR: dict[str, Any] = {
    "image_processor_type": "SiglipImageProcessor", "processor_class": "LlavaProcessor", "do_resize": True,
    "size": {"height": 384, "width": 384}, "resample": 3, "do_rescale": True, "rescale_factor": 0.00392156862745098,
    "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
}
REAL_PROCESSOR: dict[str, Any] = {"image_token": "<image>", "num_additional_image_tokens": 0, "patch_size": 14,
                                  "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "full"}
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ '\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

BASE_VOCAB = 151643  # Qwen2's byte-level BPE; the specials follow it
SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "<image>": 151646}
IMAGE_TOKENS = (384 // 14) ** 2  # 729: SigLIP has no CLS token, "full" keeps every patch
# The real initializer range is 0.02. At that scale each of the random twin's answers repeated one token, and two of
# four pictures got the same answer; at 0.2 (text model and projector) every answer differs from its first token on.
INIT_STD = 0.2


def build_tokenizer() -> Qwen2Tokenizer:
    """Return a `Qwen2Tokenizer` (Qwen2's pre-tokenizer split, NFC, byte-level) over a trained 151643-token BPE, with
    <|endoftext|>, <|im_start|>, <|im_end|> and <image> at their real ids (length 151647)."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab, merges = gpt2_bpe(BASE_VOCAB)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, model_max_length=32768)  # <|endoftext|> comes next
    tokenizer.add_special_tokens({"extra_special_tokens": [AddedToken(t, special=True, normalized=False)
                                                           for t in ("<|im_start|>", "<|im_end|>", "<image>")]})
    tokenizer.eos_token = "<|im_end|>"  # the chat model's end of turn (text_config.eos_token_id 151645)
    return tokenizer


def build_config() -> LlavaConfig:
    """Return the twin's `LlavaConfig`: the real one with `SHRUNK` layer counts and `INIT_STD`."""
    from transformers import LlavaConfig, Qwen2Config, SiglipVisionConfig

    real = {k: v for k, v in REAL_CONFIG.items() if k not in ("architectures", "model_type")}
    parts = {part: {k: v for k, v in {**real[part], **SHRUNK[part]}.items() if k != "model_type"}
             for part in ("text_config", "vision_config")}
    text = Qwen2Config(**parts["text_config"], initializer_range=INIT_STD)  # the projector draws with it too
    vision = SiglipVisionConfig(**parts["vision_config"])
    config = LlavaConfig(**{**real, "text_config": text, "vision_config": vision},
                         tie_word_embeddings=REAL_CONFIG["text_config"]["tie_word_embeddings"])
    config.architectures = REAL_CONFIG["architectures"]
    return config


def build(root: Path, seed: int = 0, tokenizer: Qwen2Tokenizer | None = None) -> Path:
    """Save the twin as a hub snapshot in `root`/llava-hf/llava-interleave-qwen-0.5b-hf (fp16 weights, as the real
    snapshot) with `tokenizer` (default: `build_tokenizer()`) and return the folder. Raises AssertionError if the
    tokenizer does not have the real ids."""
    import torch
    from transformers import LlavaForConditionalGeneration

    out = repo_dir(root, NAME)
    tokenizer = tokenizer or build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIALS}
    assert ids == SPECIALS and len(tokenizer) == BASE_VOCAB + len(SPECIALS), (ids, len(tokenizer))
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(build_config()).eval()
    model.to(torch.float16).save_pretrained(out)
    # The config.json quoted in the issue names no image_seq_length; transformers 5 writes LlavaConfig's default
    # (576: LLaVA-1.5's 336 px / 14 px), not this model's 729. Keep the file as quoted: loading fills the same default.
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    saved.pop("image_seq_length", None)
    (out / "config.json").write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(out)
    for name, content in (("preprocessor_config.json", REAL_PREPROCESSOR), ("processor_config.json", REAL_PROCESSOR),
                          ("chat_template.json", {"chat_template": CHAT_TEMPLATE})):
        (out / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return out


def last_position_only(model: Any) -> Any:
    """`model` with the LM head applied to the last position only (as GenAI does): a 750-token prompt then costs no
    750 x 152000 logits."""
    import numpy as np
    from openvino import opset13 as ops

    node = model.output("logits").get_node()
    while node.get_type_name() != "MatMul":  # back from the Result through any Convert to the LM head
        node = node.input_value(0).get_node()
    hidden = node.input_value(0)
    last = ops.slice(hidden, np.array([-1]), np.array([np.iinfo(np.int64).max]), np.array([1]), np.array([1]))
    node.input(0).replace_source_output(last.output(0))
    model.validate_nodes_and_infer_types()
    return model
