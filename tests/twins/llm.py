"""Twins of the real default LLMs: SmolLM2 (00-04, 03's pair) and TinyLlama (07).

Real: architecture, hidden size, heads, KV heads, head_dim, vocabulary and special token ids, rope_theta, tied or
untied embeddings, the tokenizer kind, whether it adds <s> (TinyLlama's does) and the chat template. Shrunk: two
decoder layers. Sources: the hub files of each model as copied in public repositories (config.json,
generation_config.json, tokenizer_config.json):
- SmolLM2-360M-Instruct: huggingface.co/eduardoworrel/SmolLM2-360M-Instruct (config.json, `_name_or_path` = the
  model); generation_config from the official repo; special tokens and chat template from the official
  SmolLM2-1.7B-Instruct tokenizer_config.json (the same tokenizer).
- SmolLM2-135M-Instruct: the official config.json (commit e682e54) and copies with `_name_or_path` = the model.
- SmolLM2-1.7B-Instruct: huggingface.co/puettmann/SmolMaestra-1.7b-Translation (config.json, `_name_or_path`).
- TinyLlama-1.1B-Chat-v1.0: huggingface.co/Deathsquad10/TinyLlama-repeat and unsloth/tinyllama (config.json);
  tokenizer_config.json and chat template from two identical copies (blockblockblock/...-exl2, reach-vb/...-mlx).
Not confirmed from an official file: SmolLM2's `model_max_length` (2048 in copies), TinyLlama's generation_config
`bos_token_id` (assumed 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import processors

from tests.twins import byte_level_bpe, repo_dir, sentencepiece_bpe

SMOLLM2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>",
                    "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
                    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<jupyter_script>",
                    "<empty_output>"]
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SMOLLM2_COMMON = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "head_dim": 64, "vocab_size": 49152,
                  "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "hidden_act": "silu",
                  "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
                  "rope_scaling": None, "attention_bias": False, "mlp_bias": False}
TINYLLAMA_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
LLMS: dict[str, dict[str, Any]] = {
    "HuggingFaceTB/SmolLM2-360M-Instruct": {**SMOLLM2_COMMON, "hidden_size": 960, "intermediate_size": 2560,
                                            "num_hidden_layers": 32, "num_attention_heads": 15,
                                            "num_key_value_heads": 5, "rope_theta": 100000},
    "HuggingFaceTB/SmolLM2-135M-Instruct": {**SMOLLM2_COMMON, "hidden_size": 576, "intermediate_size": 1536,
                                            "num_hidden_layers": 30, "num_attention_heads": 9,
                                            "num_key_value_heads": 3, "rope_theta": 100000},
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": {**SMOLLM2_COMMON, "hidden_size": 2048, "intermediate_size": 8192,
                                            "num_hidden_layers": 24, "num_attention_heads": 32,
                                            "num_key_value_heads": 32, "rope_theta": 130000},
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                           "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
                                           "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
                                           "rope_theta": 10000.0, "rope_scaling": None,
                                           "max_position_embeddings": 2048, "rms_norm_eps": 1e-05,
                                           "hidden_act": "silu", "attention_bias": False, "tie_word_embeddings": False,
                                           "bos_token_id": 1, "eos_token_id": 2},
}
# microsoft/Phi-3-mini-4k-instruct (03's IR pair is its int4 export): config.json from a duplicate of the official
# repository (huggingface.co/Alignment-Lab-AI/idfkphi4kiguess, "Duplicate from microsoft/Phi-3-mini-4k-instruct").
# Not confirmed from an official file: the tokenizer's added tokens and the chat template (the common Phi-3 form);
# that it adds no <s> ("add_bos_token": false) is from a copy of Phi-3.5-mini's tokenizer_config.json, same family.
# generation_config.json ends a reply at any of <|endoftext|> 32000, <|assistant|> 32001 and <|end|> 32007 (the
# template closes every turn with <|end|>); config.json's eos_token_id is 32000 alone.
PHI3 = "microsoft/Phi-3-mini-4k-instruct"
PHI3_CONFIG = {"hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 32, "vocab_size": 32064, "sliding_window": 2047, "rope_theta": 10000.0,
               "rope_scaling": None, "max_position_embeddings": 4096, "original_max_position_embeddings": 4096,
               "rms_norm_eps": 1e-05, "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
               "eos_token_id": 32000, "pad_token_id": 32000}
PHI3_ADDED = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
              "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]
PHI3_STOP_IDS = [32000, 32001, 32007]
PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
LAYERS = 2  # shrunk: the cost, not the code path
# Also shrunk where no group-size rule applies: 03 runs the 1.7B target uncompressed (8192 = 64 x 128 anyway).
SHRINK: dict[str, dict[str, Any]] = {"HuggingFaceTB/SmolLM2-1.7B-Instruct": {"intermediate_size": 2048}}
INIT_STD = 0.2  # larger than the real 0.02, so a random twin's next token depends on its input


def _tokenizer(name: str) -> Any:
    from transformers import PreTrainedTokenizerFast

    if name.startswith("TinyLlama/"):
        core = sentencepiece_bpe(32000)
        # TinyLlama's tokenizer.json adds <s> (id 1) in front of every text, as Llama 2's does: a chat server that
        # encodes a templated prompt with special tokens would feed it a <s> the template does not write
        core.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                            special_tokens=[("<s>", 1)])
        fast = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                       unk_token="<unk>", pad_token="</s>", model_max_length=2048,
                                       padding_side="right", legacy=False)
        fast.chat_template = TINYLLAMA_TEMPLATE
        return fast
    fast = PreTrainedTokenizerFast(tokenizer_object=byte_level_bpe(49152, SMOLLM2_SPECIALS), bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", pad_token="<|im_end|>", unk_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"], model_max_length=2048)
    fast.chat_template = SMOLLM2_TEMPLATE
    return fast


def build_llm_twin(root: Path, name: str, seed: int = 0) -> Path:
    """Save a random-weight twin of `name` (one of LLMS) as a hub snapshot in `root/<name>`; return the folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    real = {k: v for k, v in LLMS[name].items() if k not in ("architectures", "model_type")}
    config = LlamaConfig(**{**real, "num_hidden_layers": LAYERS, "initializer_range": INIT_STD, **SHRINK.get(name, {})})
    config.architectures = ["LlamaForCausalLM"]
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    folder = repo_dir(root, name)
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                                               pad_token_id=getattr(config, "pad_token_id", None))
    model.save_pretrained(folder)
    _tokenizer(name).save_pretrained(folder)
    return folder


def build_phi3_twin(root: Path, seed: int = 0) -> Path:
    """Save a random-weight twin of Phi-3-mini-4k-instruct (two layers, intermediate 1024) in `root/<name>`, with
    the real generation config's three stop ids; return the folder."""
    import torch
    from transformers import GenerationConfig, Phi3Config, Phi3ForCausalLM, PreTrainedTokenizerFast

    config = Phi3Config(**{**PHI3_CONFIG, "num_hidden_layers": LAYERS, "intermediate_size": 1024,
                           "initializer_range": INIT_STD})
    config.architectures = ["Phi3ForCausalLM"]
    torch.manual_seed(seed)
    folder = repo_dir(root, PHI3)
    model = Phi3ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=PHI3_STOP_IDS, pad_token_id=32000)
    model.save_pretrained(folder)
    core = sentencepiece_bpe(32000)
    core.add_special_tokens(PHI3_ADDED)  # 32000..32010, as Phi-3's tokenizer adds them
    fast = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="<|endoftext|>",
                                   unk_token="<unk>", pad_token="<|endoftext|>", model_max_length=4096)
    fast.chat_template = PHI3_TEMPLATE
    fast.save_pretrained(folder)
    return folder
