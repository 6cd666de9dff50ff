"""A random-weight twin of `google/gemma-4-E2B-it` (notebook 06's real default for what a picture's size costs).

Real: `Gemma4ForConditionalGeneration` with a Gemma 4 text model (width 1536, 8 heads and 1 KV head of 256, global
layers' heads of 512, sliding window 512 in four of each five layers, key/value sharing in the last layers, per-layer
input embeddings of 256, double-wide MLPs, a 262144-token vocabulary, tied embeddings, logit soft-capping at 30),
its vision tower (width 768, 16 px patches pooled 3 x 3, 2-D positions up to 10240) and its audio tower, the picture,
video and audio markers at their real ids, and the processor's budget of 280 soft tokens per picture.
Shrunk: six text layers (four sliding, one global, and a last global one that shares the keys and values of the one
before), one vision and one audio layer. At the real initializer range the twin only repeats the prompt's last token
(its embedding, scaled by the square root of the width, outweighs the random layers), whatever the picture, so a
comparison of answers could not fail: the norms after attention and MLP are set to `POST_NORM_SCALE` instead of 1.
Weights random, saved in fp16 so the notebook's fp16 export holds exactly PyTorch's weights.

Sources, and what could not be checked here (no hub access): the config's fields as three public parsers of this
file quote them in their test fixtures (they agree); the processor's settings as transformers 5.5.4's Gemma 4
processors default them (image_seq_length 280, audio_seq_length 750 and 40 ms per audio token, as a public card of
a conversion of this model lists them). The tokenizer is not Gemma's: a small byte-level BPE with the specials at
Gemma 4's ids (pad 0, eos 1, bos 2; the markers as in the config) and filler tokens up to 262144; the ids of
`<|turn>` (105) and `<turn|>` (106, the second end-of-sequence id) are assumed. The chat template is reduced to
text and pictures in Gemma 4's turn format (the real one also renders tools and thinking).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import gemma4
from tests.twins import byte_level_bpe, repo_dir

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

NAME = "google/gemma-4-E2B-it"
LAYER_TYPES = (["sliding_attention"] * 4 + ["full_attention"]) * 7
REAL_CONFIG: dict[str, Any] = {
    "architectures": ["Gemma4ForConditionalGeneration"], "model_type": "gemma4",
    "image_token_id": 258880, "audio_token_id": 258881, "video_token_id": 258884, "boi_token_id": 255999,
    "eoi_token_id": 258882, "boa_token_id": 256000, "eoa_token_id": 258883,
    "text_config": {
        "hidden_size": 1536, "num_hidden_layers": 35, "num_attention_heads": 8, "num_key_value_heads": 1,
        "head_dim": 256, "global_head_dim": 512, "attention_k_eq_v": False, "sliding_window": 512,
        "vocab_size": 262144, "vocab_size_per_layer_input": 262144, "hidden_size_per_layer_input": 256,
        "num_kv_shared_layers": 20, "use_double_wide_mlp": True, "intermediate_size": 6144,
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh",
        "final_logit_softcapping": 30.0, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 1,
        "tie_word_embeddings": True, "layer_types": LAYER_TYPES,
        "rope_parameters": {
            "full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0, "rope_type": "proportional"},
            "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
        },
    },
    "vision_config": {
        "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 16, "num_attention_heads": 12,
        "num_key_value_heads": 12, "head_dim": 64, "global_head_dim": 64, "patch_size": 16, "pooling_kernel_size": 3,
        "position_embedding_size": 10240, "use_clipped_linears": True, "standardize": False,
    },
    "audio_config": {
        "hidden_size": 1024, "num_hidden_layers": 12, "num_attention_heads": 8, "subsampling_conv_channels": [128, 32],
        "conv_kernel_size": 5, "attention_chunk_size": 12, "attention_context_left": 13, "attention_context_right": 0,
        "output_proj_dims": 1536, "residual_weight": 0.5, "use_clipped_linears": True,
    },
}
# Six text layers: the real pattern's first five (four sliding, one global), then a global one that shares the keys
# and values of the global layer before it (transformers makes the last layer global; sharing needs one before it)
SHRUNK = {"text_config": {"num_hidden_layers": 6, "layer_types": [*LAYER_TYPES[:5], "full_attention"],
                          "num_kv_shared_layers": 1},
          "vision_config": {"num_hidden_layers": 1}, "audio_config": {"num_hidden_layers": 1}}
SPECIALS = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<|turn>": 105, "<turn|>": 106, "<|image>": 255999,
            "<|audio>": 256000, "<|image|>": 258880, "<|audio|>": 258881, "<image|>": 258882, "<audio|>": 258883,
            "<|video|>": 258884}
POST_NORM_SCALE = 8.0  # with it, three random pictures give three different first tokens (measured)
VOCAB = 262144
BPE_SIZE = 4000  # the byte-level BPE's own tokens, from id 0 up (the specials' ids are kept free)
CHAT_TEMPLATE = "{{ bos_token }}" + gemma4.CHAT_TEMPLATE  # the cost model's reduced template, after <bos>


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Return a fast tokenizer of exactly `VOCAB` tokens: a small byte-level BPE, the specials at Gemma 4's ids and
    `<unusedN>` fillers in the rest (never produced), with Gemma 4's marker names and the reduced chat template."""
    import json

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(byte_level_bpe(BPE_SIZE, []).to_str())
    taken = set(SPECIALS.values())
    free = (i for i in range(VOCAB) if i not in taken)
    bpe = {token: next(free) for token, _ in sorted(spec["model"]["vocab"].items(), key=lambda item: item[1])}
    vocab = {**bpe, **{f"<unused{i}>": i for i in free}, **SPECIALS}
    assert sorted(vocab.values()) == list(range(VOCAB)), "every id once"
    spec["model"]["vocab"] = vocab
    spec["added_tokens"] = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for t, i in SPECIALS.items()]
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), bos_token="<bos>",
                                   eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
                                   extra_special_tokens=gemma4.MARKERS, chat_template=CHAT_TEMPLATE)


def build_config() -> Any:
    """Return the twin's `Gemma4Config`: the real one with `SHRUNK` layer counts."""
    from transformers import Gemma4Config
    from transformers.models.gemma4.configuration_gemma4 import (
        Gemma4AudioConfig,
        Gemma4TextConfig,
        Gemma4VisionConfig,
    )

    parts = {part: {**REAL_CONFIG[part], **SHRUNK[part]} for part in ("text_config", "vision_config", "audio_config")}
    top = {k: v for k, v in REAL_CONFIG.items() if k.endswith("_token_id")}
    config = Gemma4Config(text_config=Gemma4TextConfig(**parts["text_config"]),
                          vision_config=Gemma4VisionConfig(**parts["vision_config"]),
                          audio_config=Gemma4AudioConfig(**parts["audio_config"]), **top)
    config.architectures = REAL_CONFIG["architectures"]
    return config


def build(root: Path, seed: int = 0) -> Path:
    """Save the twin as a hub snapshot in `root`/google/gemma-4-E2B-it (fp16 weights) with its tokenizer and
    `processor_config.json`, and return the folder. Raises AssertionError if the tokenizer lacks the real ids."""
    import json

    import torch
    from transformers import Gemma4ForConditionalGeneration

    out = repo_dir(root, NAME)
    tokenizer = build_tokenizer()
    assert {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS} == SPECIALS and len(tokenizer) == VOCAB
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(build_config()).eval()
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "post_attention_layernorm" in name or "post_feedforward_layernorm" in name:
                weight.fill_(POST_NORM_SCALE)
    model.generation_config.do_sample = False
    model.to(torch.float16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    settings = json.dumps(gemma4.processor_config(280), indent=2) + "\n"
    (out / "processor_config.json").write_text(settings, encoding="utf-8")
    return out
