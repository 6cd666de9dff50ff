"""A Gemma 4 vision-language model with random weights and a realistic picture cost, for 06's timings.

Gemma 4 reads a picture at its own aspect ratio within a token budget: its processor resizes the picture so that its
16-pixel patches number at most `max_soft_tokens` x 9, with both sides multiples of 48, and the vision tower pools
every 3 x 3 patches into one soft token. The budget (70, 140, 280, 560 or 1120 soft tokens) is the knob; the
picture's size hardly matters. The cost model has the vision tower of `google/gemma-4-E2B-it` at its real size
(16 layers of width 768, 12 heads, the same patch and pooling sizes) and, as `nbhelpers/demo-vlm-cost` (the LLaVA
it is compared with), a language model of width 768 and 12 layers: the language model of the real E2B (35 layers of
width 1536) is far larger, so its prompt tokens cost more there. The tokenizer is the demo family's with Gemma 4's
picture, video, audio and turn markers added; its answers are noise.

The processor files are written by hand, as the hub snapshot has them (`processor_config.json` with the image and
video processors nested): transformers' Gemma 4 video processor needs torchvision, which this project leaves out,
so `Gemma4Processor` cannot be built here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import committed_dir, model_card

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

# The markers of Gemma 4's tokenizer (named as its tokenizer_config.json names them).
MARKERS = {"boi_token": "<|image>", "eoi_token": "<image|>", "image_token": "<|image|>", "video_token": "<|video|>",
           "boa_token": "<|audio>", "eoa_token": "<audio|>", "audio_token": "<|audio|>"}
TURN_START, TURN_END = "<|turn>", "<turn|>"
# Gemma 4's turn format, reduced to text and pictures (the real template also renders tools and thinking).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|image|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)
BUDGETS = (70, 140, 280, 560, 1120)  # the soft-token budgets Gemma 4's processors accept
VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 16, "num_attention_heads": 12,
          "num_key_value_heads": 12, "head_dim": 64, "patch_size": 16, "pooling_kernel_size": 3}
TEXT = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
        "num_key_value_heads": 4, "head_dim": 64, "global_head_dim": 64, "hidden_size_per_layer_input": 64,
        "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 2, "sliding_window": 512}


# The trained demo (`nbhelpers/demo-gemma4`, `tools.train_demo_gemma4`): Gemma 4's patch and pooling sizes, so the
# budgets mean what they mean on the real model, with a small vision tower and language model.
DEMO_VISION = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 4, "head_dim": 16, "patch_size": 16, "pooling_kernel_size": 3,
               "position_embedding_size": 256}  # E2B: 10240 (patch positions per side; 256 allow 4096 pixels)
DEMO_TEXT = {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 3, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 32, "global_head_dim": 32, "hidden_size_per_layer_input": 16,
             "layer_types": ["sliding_attention", "sliding_attention", "full_attention"], "sliding_window": 512}


def make_model(tokenizer: PreTrainedTokenizerFast, vision: dict[str, Any], text: dict[str, Any], seed: int = 0) -> Any:
    """Return a `Gemma4ForConditionalGeneration` with random weights (seed `seed`), no audio tower, the tokenizer's
    markers as its token ids, and the `vision` and `text` settings."""
    import torch
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration
    from transformers.models.gemma4.configuration_gemma4 import Gemma4TextConfig, Gemma4VisionConfig

    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in MARKERS.items()}
    text_config = Gemma4TextConfig(**text, vocab_size=len(tokenizer), vocab_size_per_layer_input=len(tokenizer),
                                   pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                   eos_token_id=tokenizer.eos_token_id)
    config = Gemma4Config(text_config=text_config, vision_config=Gemma4VisionConfig(**vision), audio_config=None,
                          **{name.replace("_token", "_token_id"): i for name, i in ids.items()})
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(config).eval()
    model.generation_config.do_sample = False
    return model


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Return the demo family's tokenizer with Gemma 4's markers added as special tokens and its turn template."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    base = PreTrainedTokenizerFast.from_pretrained(committed_dir("nbhelpers/demo-llm"))
    raw = base.backend_tokenizer
    raw.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in (*MARKERS.values(), TURN_START, TURN_END)])
    return PreTrainedTokenizerFast(tokenizer_object=raw, extra_special_tokens=MARKERS, eos_token=TURN_END,
                                   bos_token=base.bos_token, pad_token=base.pad_token, chat_template=CHAT_TEMPLATE)


def processor_config(budget: int = 280) -> dict[str, Any]:
    """Return Gemma 4's `processor_config.json` (image processor, video processor, audio feature extractor) with
    `budget` soft tokens per picture. Raises ValueError for a budget Gemma 4 does not accept."""
    from transformers.models.gemma4.feature_extraction_gemma4 import Gemma4AudioFeatureExtractor
    from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil

    if budget not in BUDGETS:
        raise ValueError(f"Gemma 4 takes a budget of {', '.join(map(str, BUDGETS))} soft tokens, not {budget}")
    image = Gemma4ImageProcessorPil(max_soft_tokens=budget).to_dict()
    image["image_processor_type"] = "Gemma4ImageProcessor"
    video = {"video_processor_type": "Gemma4VideoProcessor", "resample": 3, "image_mean": [0.0] * 3,
             "image_std": [1.0] * 3, "do_convert_rgb": True, "do_resize": True, "do_rescale": True,
             "rescale_factor": 1 / 255, "do_normalize": True, "num_frames": 32, "do_sample_frames": True,
             "patch_size": 16, "max_soft_tokens": 70, "pooling_kernel_size": 3}  # Gemma4VideoProcessor's defaults
    audio = json.loads(Gemma4AudioFeatureExtractor().to_json_string())
    return {"processor_class": "Gemma4Processor", "image_seq_length": budget, "audio_seq_length": 750,
            "audio_ms_per_token": 40, "image_processor": image, "video_processor": video, "feature_extractor": audio}


COST_CARD = """A {params:.0f} M-parameter Gemma 4 vision-language model with random weights, built by
`nbhelpers.demos.gemma4`: the vision tower of `google/gemma-4-E2B-it` at its real size (16 layers of width 768, 16 px
patches pooled 3 x 3, a budget of 280 soft tokens per picture) and a language model of width 768 and 12 layers (the
real E2B's has 35 layers of width 1536). Its text is noise; it exists so that timings reflect what a picture costs.
"""


def build_cost_model(out: Path, seed: int = 0) -> int:
    """Save the random-weight Gemma 4 cost model as a hub snapshot in `out`; return its parameter count."""
    import torch

    out = Path(out)
    tokenizer = build_tokenizer()
    model = make_model(tokenizer, VISION, TEXT, seed)
    n_params = sum(p.numel() for p in model.parameters())
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "processor_config.json").write_text(json.dumps(processor_config(), indent=2) + "\n", encoding="utf-8")
    card = model_card("nbhelpers/demo-gemma4-cost", COST_CARD.format(params=n_params / 1e6),
                      tags=("gemma4",), pipeline_tag="image-text-to-text")
    (out / "README.md").write_text(card, encoding="utf-8")
    return n_params
