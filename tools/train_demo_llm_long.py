"""Fine-tune the demo target into the long-context demo (`nbhelpers/demo-llm-long`) and write it as a hub snapshot.

    python -m tools.train_demo_llm_long --out nbhelpers/demos/data/demo-llm-long

It starts from the committed demo target (`nbhelpers/demo-llm`, left untouched: 00-10's figures rely on it) and
learns the task of `nbhelpers.demos.long_corpus`: facts ("Mia keeps a golden coin.") hidden among stories, then a
question about one of them, answered by repeating the fact. Prompts grow over the first 60 % of the steps from 128
to MAX_TOKENS tokens; each step holds about BATCH_TOKENS tokens. The loss covers the answer only, weighted
COPY_WEIGHT times on the object's tokens: the rest of the answer is predictable from the question, so without the
weight the one hard part is a small share of the loss (a first run of 800 steps unweighted, from 256 tokens, stayed
at the loss of guessing the object: 0.29).

The grade (the report's figures) is greedy PyTorch f32 on prompts drawn with another seed: accuracy by prompt length
(up to 2048, the model's position limit, beyond the lengths trained on) and by the depth of the fact asked about.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import committed_dir, model_card
from nbhelpers.demos.llm import EOS
from nbhelpers.demos.long_corpus import LongExample, haystack, is_right
from tools.training import lr_at, optimizer_step, publish, weighted_loss

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

STEPS = 3000
BATCH_TOKENS = 4096
LR = 1e-3
COPY_WEIGHT = 5.0
SHORTEST = 128  # the longest prompt of the first steps
MAX_TOKENS = 1536  # the longest prompt trained on
GRADE_LENGTHS = (256, 512, 1024, 1536, 2048)
GRADE_DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
GRADE_PER_CELL = 8


def counter(tokenizer: PreTrainedTokenizerFast) -> Any:
    """Return a function counting the tokens of a text (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode(tokenizer: PreTrainedTokenizerFast, ex: LongExample) -> tuple[list[int], list[int], list[float]]:
    """Tokenise one example; return (input_ids, labels, weights): labels -100 on the prompt, weights COPY_WEIGHT on
    the tokens of the object (the fact's own words after the name and verb), 1 elsewhere in the answer."""
    prompt = tokenizer.apply_chat_template(ex.as_messages(), tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = tokenizer(ex.answer + EOS, add_special_tokens=False, return_offsets_mapping=True)
    start = ex.answer.index(ex.thing)
    weights = [COPY_WEIGHT if a < start + len(ex.thing) and b > start else 1.0 for a, b in answer["offset_mapping"]]
    answer_ids = answer["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids, [0.0] * len(prompt_ids) + weights


def draw(rng: random.Random, tokenizer: PreTrainedTokenizerFast, longest: int
         ) -> list[tuple[list[int], list[int], list[float]]]:
    """Return one batch: prompts of one random length up to `longest`, as many as fit in BATCH_TOKENS."""
    length = rng.randint(48, longest)
    count = counter(tokenizer)
    return [encode(tokenizer, haystack(rng, count, length, rng.random(), rng.randint(1, 4)))
            for _ in range(max(1, BATCH_TOKENS // length))]


def fine_tune(model: Any, tokenizer: PreTrainedTokenizerFast, steps: int, seed: int) -> float:
    """Train `model` on the task; return the last loss."""
    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value, started = float("nan"), time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, LR)
        longest = int(SHORTEST + (MAX_TOKENS - SHORTEST) * min(1.0, step / (0.6 * steps)))
        rows = draw(rng, tokenizer, longest)
        loss = weighted_loss(model, rows, tokenizer.pad_token_id)
        loss_value = optimizer_step(opt, loss, model)
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{steps} loss {loss_value:.3f} (prompts up to {longest} tokens, "
                  f"{time.perf_counter() - started:.0f} s)", flush=True)
    model.eval()
    return loss_value


def answer(model: Any, tokenizer: PreTrainedTokenizerFast, ex: LongExample, max_new_tokens: int = 12) -> str:
    """Return the model's greedy answer to `ex`."""
    import torch

    prompt = tokenizer.apply_chat_template(ex.as_messages(), tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def grade(model: Any, tokenizer: PreTrainedTokenizerFast, seed: int) -> dict[str, dict[str, float]]:
    """Accuracy by prompt length and by depth (held-out draws: another seed), PyTorch f32 greedy."""
    rng, count = random.Random(f"grade-{seed}"), counter(tokenizer)
    table: dict[str, dict[str, float]] = {}
    for length in GRADE_LENGTHS:
        row = {}
        for depth in GRADE_DEPTHS:
            examples = [haystack(rng, count, length, depth) for _ in range(GRADE_PER_CELL)]
            row[f"{depth:g}"] = sum(is_right(ex, answer(model, tokenizer, ex)) for ex in examples) / len(examples)
        table[str(length)] = row
    return table


def build(out: Path, steps: int = STEPS, seed: int = 0) -> dict[str, Any]:
    """Fine-tune, grade, and save the snapshot into `out` (written beside it, then renamed); return the report."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    source = committed_dir("nbhelpers/demo-llm")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    before = grade(model, tokenizer, seed)
    started = time.perf_counter()
    final_loss = fine_tune(model, tokenizer, steps, seed)
    minutes = (time.perf_counter() - started) / 60
    after = grade(model, tokenizer, seed)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    report = {"source": "nbhelpers/demo-llm", "steps": steps, "batch_tokens": BATCH_TOKENS, "lr": LR,
              "max_tokens_trained": MAX_TOKENS, "copy_weight": COPY_WEIGHT, "seed": seed, "minutes": round(minutes, 1),
              "final_loss": round(final_loss, 4), "parameters_m": round(sum(p.numel() for p in model.parameters())
                                                                        / 1e6, 2),
              "per_cell": GRADE_PER_CELL, "grade_before": before, "grade_f32": after}
    publish(partial, out, report, card(report))
    return report


def card(report: dict[str, Any]) -> str:
    """Return the model card for `report`: how it was made and its accuracy table."""
    depths = list(next(iter(report["grade_f32"].values())))
    rows = "\n".join(f"| {length} | " + " | ".join(f"{v:.0%}" for v in row.values()) + " |"
                     for length, row in report["grade_f32"].items())
    return model_card("nbhelpers/demo-llm-long", f"""
The demo target (`nbhelpers/demo-llm`, {report['parameters_m']} M parameters, 3 layers, same tokenizer, positions up
to 2048) fine-tuned by `tools.train_demo_llm_long` ({report['steps']} steps of about {report['batch_tokens']} tokens,
seed {report['seed']}, {report['minutes']} minutes on two CPU cores) to find a fact hidden in long text: stories from
the demo corpus with a few facts between their sentences ("Mia keeps a golden coin."), then a question about one
("What does Mia keep?"), answered by repeating the fact. Prompts trained on: up to {report['max_tokens_trained']}
tokens.

Accuracy (greedy, PyTorch f32, {report['per_cell']} prompts a cell drawn with another seed) by prompt length in tokens
(rows) and by where the fact sits (columns: 0 = first sentence, 1 = just before the question):

| tokens | {' | '.join(depths)} |
|---|{'---|' * len(depths)}
{rows}
""", tags=["llama", "long-context"], pipeline_tag="text-generation")


def main(argv: Sequence[str] | None = None) -> int:
    """Fine-tune the long-context demo and save it (the committed one: `--out nbhelpers/demos/data/demo-llm-long`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_llm_long", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.out, args.steps, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
